"""Blocks between audio and the short-time Fourier transform: STFT, polar split, magnitude,
and Griffin–Lim phase recovery for when the phase is gone.
"""

from __future__ import annotations

import math

import torch

from training.representations.base import Transform


def _check_audio(x: torch.Tensor, who: str) -> None:
    if x.dim() != 3 or x.is_complex():
        raise ValueError(f"{who} expects real audio [batch, channels, samples], got "
                         f"{'complex ' if x.is_complex() else ''}shape {tuple(x.shape)}")


def _check_spectral(y: torch.Tensor, who: str, freq_bins: int, want_complex: bool) -> None:
    kind = "complex" if want_complex else "real"
    if y.dim() != 4 or y.is_complex() != want_complex or y.shape[2] != freq_bins:
        raise ValueError(f"{who} expects {kind} [batch, channels, {freq_bins}, frames], got "
                         f"{'complex' if y.is_complex() else 'real'} shape {tuple(y.shape)}")


class STFT(Transform):
    """Audio ``[B, C, samples]`` <-> complex spectrogram ``[B, C, n_fft // 2 + 1, frames]``.

    A centred STFT with a periodic Hann window (``torch.stft`` / ``torch.istft``).
    Centring pads ``n_fft // 2`` samples at each end, so frame ``t`` is centred on sample
    ``t * hop_samples`` and ``frames = 1 + samples // hop_samples``.

    Exactness: exact (float rounding, about 1e-6 on full-scale float32 audio) as long as
    ``hop_samples <= win_samples // 2`` keeps the windows overlapping enough (the
    constructor refuses less overlap). ``istft`` cannot know how many samples the audio had,
    so give ``length_samples`` (the loop length); without it, the output has
    ``hop_samples * (frames - 1)`` samples, which is the loop length only when the loop is a
    whole number of hops.

    ``pad_mode`` is how the ends are padded before the first / after the last frame:
    ``"reflect"`` is the common choice; ``"circular"`` treats the audio as a loop, which
    suits bar-aligned loops that are meant to repeat. The inverse is exact either way.

    ``inverse_method`` picks how ``inverse`` is computed. ``"torch"`` (default) is
    ``torch.istft``: fast, but the ONNX exporter of torch 2.13 cannot convert it.
    ``"matmul"`` computes the same thing from plain ops an ONNX graph can hold (an
    inverse real DFT as two matrix products with a windowed cosine/sine basis, then
    overlap-add with ``fold``, i.e. ONNX ``Col2Im``, opset 18); it agrees with
    ``torch.istft`` to float rounding and costs about 5x more on a CPU. Switch a whole
    chain with ``use_exportable_inverse(chain)`` before exporting it.
    """

    def __init__(self, n_fft: int, hop_samples: int, win_samples: int | None = None,
                 length_samples: int | None = None, pad_mode: str = "reflect",
                 inverse_method: str = "torch") -> None:
        super().__init__()
        win_samples = n_fft if win_samples is None else win_samples
        if n_fft <= 0 or not (0 < win_samples <= n_fft):
            raise ValueError(f"STFT needs 0 < win_samples <= n_fft, got n_fft={n_fft}, win_samples={win_samples}")
        if not (0 < hop_samples <= win_samples // 2):
            raise ValueError(f"STFT hop_samples={hop_samples} must be in 1..win_samples//2={win_samples // 2} "
                             "for an exact inverse with a Hann window")
        if length_samples is not None and length_samples <= 0:
            raise ValueError(f"STFT length_samples must be positive, got {length_samples}")
        if pad_mode not in ("reflect", "circular", "constant", "replicate"):
            raise ValueError(f"STFT pad_mode={pad_mode!r} is not one of reflect, circular, constant, replicate")
        self.n_fft = n_fft
        self.hop_samples = hop_samples
        self.win_samples = win_samples
        self.length_samples = length_samples
        self.pad_mode = pad_mode
        self.register_buffer("window", torch.hann_window(win_samples, periodic=True), persistent=False)
        self.register_buffer("synthesis_cos", None, persistent=False)
        self.register_buffer("synthesis_sin", None, persistent=False)
        self.inverse_method = "torch"
        self.set_inverse_method(inverse_method)

    def set_inverse_method(self, method: str) -> None:
        """Choose ``"torch"`` (``torch.istft``) or ``"matmul"`` (ONNX-exportable) for ``inverse``."""
        if method not in ("torch", "matmul"):
            raise ValueError(f"STFT inverse_method={method!r} is not 'torch' or 'matmul'")
        self.inverse_method = method
        if method == "matmul" and self.synthesis_cos is None:
            cos_basis, sin_basis = self._synthesis_basis()
            self.synthesis_cos = cos_basis.to(self.window.device)
            self.synthesis_sin = sin_basis.to(self.window.device)

    def _padded_window(self) -> torch.Tensor:
        """The analysis window zero-padded (centred) to ``n_fft``, as ``torch.stft`` uses it."""
        left = (self.n_fft - self.win_samples) // 2
        return torch.nn.functional.pad(self.window, (left, self.n_fft - self.win_samples - left))

    def _synthesis_basis(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Windowed inverse real-DFT matrices ``[n_fft, freq_bins]`` for the real and imaginary parts.

        ``frame = cos_basis @ X.real + sin_basis @ X.imag`` is ``window * irfft(X)``: bins
        other than DC and Nyquist count twice (they stand for their negative-frequency
        mirror), and the imaginary parts of DC and Nyquist drop out, as in ``irfft``.
        """
        n = torch.arange(self.n_fft, dtype=torch.float64)[:, None]
        k = torch.arange(self.freq_bins, dtype=torch.float64)[None, :]
        weight = torch.full((self.freq_bins,), 2.0, dtype=torch.float64)
        weight[0] = 1.0
        if self.n_fft % 2 == 0:
            weight[-1] = 1.0
        angle = 2 * math.pi * n * k / self.n_fft
        scale = self._padded_window().to(torch.float64).cpu()[:, None] * weight / self.n_fft
        return (scale * torch.cos(angle)).float(), (-scale * torch.sin(angle)).float()

    @property
    def freq_bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, length_samples: int) -> int:
        """How many frames ``forward`` makes from ``length_samples`` samples."""
        return 1 + length_samples // self.hop_samples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_audio(x, "STFT.forward")
        batch, channels, samples = x.shape
        if self.length_samples is not None and samples != self.length_samples:
            raise ValueError(f"STFT.forward got {samples} samples, but this STFT is set up for "
                             f"length_samples={self.length_samples}")
        spec = torch.stft(x.reshape(batch * channels, samples), n_fft=self.n_fft, hop_length=self.hop_samples,
                          win_length=self.win_samples, window=self.window.to(x.dtype), center=True,
                          pad_mode=self.pad_mode, normalized=False, onesided=True, return_complex=True)
        return spec.reshape(batch, channels, spec.shape[-2], spec.shape[-1])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        _check_spectral(y, "STFT.inverse", self.freq_bins, want_complex=True)
        batch, channels, freq, frames = y.shape
        if self.length_samples is not None and frames != self.frames(self.length_samples):
            raise ValueError(f"STFT.inverse got {frames} frames, but length_samples={self.length_samples} "
                             f"makes {self.frames(self.length_samples)}")
        length = self.length_samples if self.length_samples is not None else self.hop_samples * (frames - 1)
        if self.inverse_method == "matmul":
            return self._inverse_matmul(y.reshape(batch * channels, freq, frames), length).reshape(
                batch, channels, length)
        real_dtype = y.real.dtype
        audio = torch.istft(y.reshape(batch * channels, freq, frames), n_fft=self.n_fft,
                            hop_length=self.hop_samples, win_length=self.win_samples,
                            window=self.window.to(real_dtype), center=True, normalized=False, onesided=True,
                            length=length, return_complex=False)
        return audio.reshape(batch, channels, length)

    def _inverse_matmul(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """``torch.istft`` from exportable ops: ``spec`` is complex ``[N, freq, frames]``."""
        assert self.synthesis_cos is not None and self.synthesis_sin is not None
        real_dtype = spec.real.dtype
        frames = spec.shape[-1]
        windowed = (torch.matmul(self.synthesis_cos.to(real_dtype), spec.real)
                    + torch.matmul(self.synthesis_sin.to(real_dtype), spec.imag))  # [N, n_fft, frames]
        out_samples = (frames - 1) * self.hop_samples + self.n_fft
        fold = dict(output_size=(1, out_samples), kernel_size=(1, self.n_fft), stride=(1, self.hop_samples))
        summed = torch.nn.functional.fold(windowed, **fold).reshape(spec.shape[0], out_samples)
        # The squared-window overlap, which the overlap-add must be divided by; it is
        # bounded away from zero wherever the constructor's hop check holds.
        window_sq = (self._padded_window().to(real_dtype) ** 2)[None, :, None].expand(1, self.n_fft, frames)
        envelope = torch.nn.functional.fold(window_sq, **fold).reshape(out_samples)
        audio = summed / envelope.clamp(min=1e-11)
        start = self.n_fft // 2
        return audio[:, start:start + length]


class Polar(Transform):
    """Complex ``[B, C, F, T]`` <-> real ``[B, 2C, F, T]``: magnitudes, then phases in radians.

    The split lets the magnitude and the phase each take their own path afterwards (see
    ``Parallel``). Exactness: exact (float rounding). The inverse is written with ``cos``,
    ``sin`` and ``torch.complex`` rather than ``torch.polar`` to stay close to ops an
    exporter knows.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or not x.is_complex():
            raise ValueError(f"Polar.forward expects complex [batch, channels, freq, frames], got shape "
                             f"{tuple(x.shape)} dtype {x.dtype}")
        return torch.cat([x.abs(), x.angle()], dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() != 4 or y.is_complex() or y.shape[1] % 2 != 0:
            raise ValueError(f"Polar.inverse expects real [batch, 2*channels, freq, frames], got shape "
                             f"{tuple(y.shape)} dtype {y.dtype}")
        magnitude, phase = torch.chunk(y, 2, dim=1)
        return torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))


class Magnitude(Transform):
    """Complex spectrogram -> its magnitude ``|X|``; the phase is thrown away.

    Exactness: lossy. ``inverse`` attaches zero phase, which is only good for looking at
    a spectrogram, not for listening; to get audio back from a magnitude alone use
    ``GriffinLim`` (which is audio <-> magnitude in one block), or keep the phase with
    ``Polar``.
    """

    exact = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_complex():
            raise ValueError(f"Magnitude.forward expects a complex spectrogram, got dtype {x.dtype}")
        return x.abs()

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.complex(y, torch.zeros_like(y))


class DropNyquist(Transform):
    """Drop the last frequency row (Nyquist), so ``n_fft // 2 + 1`` rows become ``n_fft // 2``.

    Image-style generators (StyleGAN2, progressive GANs) want a power-of-two frequency
    axis; ElectroGAN's 1024-row images and GANSynth's 1024 bins are STFTs of 2048 points
    with this row dropped. ``inverse`` puts back a row of zeros.

    Exactness: lossy only for content exactly at half the sample rate, which a
    band-limited recording hardly has; works on complex or real spectra alike.
    """

    exact = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"DropNyquist expects [batch, channels, freq, frames], got shape {tuple(x.shape)}")
        return x[:, :, :-1]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() != 4:
            raise ValueError(f"DropNyquist expects [batch, channels, freq, frames], got shape {tuple(y.shape)}")
        return torch.cat([y, torch.zeros_like(y[:, :, :1])], dim=2)


class GriffinLim(Transform):
    """Audio <-> magnitude spectrogram, with Griffin–Lim phase recovery as the inverse.

    ``forward`` is ``|STFT(x)|``. ``inverse`` looks for audio whose STFT magnitude matches
    the given one: start from a phase guess, then ``n_iter`` times take the iSTFT, the STFT
    of that, and keep its phase with the wanted magnitude. ``momentum`` > 0 is the "fast
    Griffin–Lim" of Perraudin, Balazs and Søndergaard (2013), which reaches a given
    spectral convergence in far fewer iterations (0.99 is the usual value; 0 gives the
    original 1984 algorithm).

    ``init`` is the first phase guess: ``"zeros"`` is deterministic (the same spectrogram
    always renders the same audio, which matters on stage), ``"random"`` draws uniform
    phases from a generator seeded with ``seed``, which is what librosa and torchaudio do
    by default and can sound less "phasey" on noisy material.

    Exactness: lossy. Phase recovery is an estimate; the recovered audio can differ from
    the original in sign, in small time shifts and in the relative phase of partials, all
    of which are inaudible or nearly so. Measure it with ``spectral_convergence``.
    Every operation is differentiable, so a loss on the inverted audio can train through it.
    """

    exact = False

    def __init__(self, stft: STFT, n_iter: int = 32, momentum: float = 0.99, init: str = "zeros",
                 seed: int = 0) -> None:
        super().__init__()
        if n_iter < 0:
            raise ValueError(f"GriffinLim n_iter must be >= 0, got {n_iter}")
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"GriffinLim momentum must be in [0, 1), got {momentum}")
        if init not in ("zeros", "random"):
            raise ValueError(f"GriffinLim init={init!r} is not 'zeros' or 'random'")
        self.stft = stft
        self.n_iter = n_iter
        self.momentum = momentum
        self.init = init
        self.seed = seed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stft(x).abs()

    def _initial_angles(self, magnitude: torch.Tensor) -> torch.Tensor:
        if self.init == "zeros":
            return torch.complex(torch.ones_like(magnitude), torch.zeros_like(magnitude))
        generator = torch.Generator(device=magnitude.device).manual_seed(self.seed)
        phase = (2 * torch.rand(magnitude.shape, generator=generator, device=magnitude.device,
                                dtype=magnitude.dtype) - 1) * torch.pi
        return torch.complex(torch.cos(phase), torch.sin(phase))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        _check_spectral(y, "GriffinLim.inverse", self.stft.freq_bins, want_complex=False)
        magnitude = y.clamp(min=0)
        angles = self._initial_angles(magnitude)
        previous: torch.Tensor | None = None  # the last STFT, for the momentum term
        weight = self.momentum / (1.0 + self.momentum)
        for _ in range(self.n_iter):
            rebuilt = self.stft(self.stft.inverse(magnitude * angles))
            angles = rebuilt if previous is None or weight == 0.0 else rebuilt - weight * previous
            angles = angles / (angles.abs() + 1e-16)
            previous = rebuilt
        return self.stft.inverse(magnitude * angles)


def spectral_convergence(target_magnitude: torch.Tensor, estimate_magnitude: torch.Tensor) -> torch.Tensor:
    """``||S - S_hat||_F / ||S||_F`` per batch item: 0 is a perfect magnitude match.

    The standard figure of merit for phase recovery, because it compares what is heard
    (the magnitudes) and ignores what is not (a global sign or phase offset).
    """
    dims = tuple(range(1, target_magnitude.dim()))
    return (torch.linalg.vector_norm(target_magnitude - estimate_magnitude, dim=dims)
            / torch.linalg.vector_norm(target_magnitude, dim=dims).clamp(min=1e-12))


def use_exportable_inverse(module: torch.nn.Module) -> torch.nn.Module:
    """Switch every ``STFT`` inside ``module`` to the ONNX-exportable inverse; returns ``module``.

    Call it on a chain (or a generator holding one) just before ``torch.onnx.export``; the
    audio it produces is the same to float rounding.
    """
    for block in module.modules():
        if isinstance(block, STFT):
            block.set_inverse_method("matmul")
    return module
