"""Blocks that rescale spectral values: log compression, dataset normalisation, mel warping.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch

from training.representations.base import Fittable, Transform


class LogMagnitude(Transform):
    """Magnitude ``m >= 0`` <-> ``log(m + eps)``.

    Loudness is heard roughly logarithmically, and a log squeezes the huge dynamic range
    of a spectrogram (a kick's fundamental vs. the hiss above 10 kHz) into a range a
    network can model. ``eps`` sets the floor: silence maps to ``log(eps)`` (about
    -13.8 for the default 1e-6, GANSynth's value, i.e. -120 dB re full scale).

    Exactness: exact (float rounding) for ``m >= 0``. ``inverse`` clamps its output at 0,
    so a generated value below ``log(eps)`` gives silence rather than a negative magnitude.
    """

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        if not eps > 0:
            raise ValueError(f"LogMagnitude eps must be positive, got {eps}")
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x + self.eps)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return (torch.exp(y) - self.eps).clamp(min=0)


class Normalize(Fittable):
    """Standardise by a dataset's mean and std, clip at ``±clip_sigmas`` std, scale to [-1, 1].

    ``y = clamp((x - mean) / std, -k, k) / k`` with ``k = clip_sigmas`` (3 by default, as in
    ElectroGAN). The statistics come from ``fit(batches)`` (or ``Chain.fit`` on audio) and
    live in buffers, so they travel with a checkpoint's state dict. With
    ``freq_bins=None`` there is one scalar mean/std; with ``freq_bins=F`` each frequency
    row has its own, which matters because low bins are tens of dB louder than high ones.

    Exactness: exact (float rounding) for values within ``mean ± k·std``; values beyond
    are clipped to that edge. For log magnitudes that mostly touches near-silent bins
    (the lower tail). ``inverse`` also clamps its input to [-1, 1], so a generator that
    overshoots cannot ask for more than ``mean + k·std``.

    ``min_std`` floors the std so that a frequency row that is constant over the dataset
    (e.g. always silent) does not divide by zero.
    """

    exact = False

    def __init__(self, freq_bins: int | None = None, clip_sigmas: float = 3.0, min_std: float = 1e-5) -> None:
        super().__init__()
        if not clip_sigmas > 0:
            raise ValueError(f"Normalize clip_sigmas must be positive, got {clip_sigmas}")
        if freq_bins is not None and freq_bins <= 0:
            raise ValueError(f"Normalize freq_bins must be positive or None, got {freq_bins}")
        if not min_std > 0:
            raise ValueError(f"Normalize min_std must be positive, got {min_std}")
        self.freq_bins = freq_bins
        self.clip_sigmas = clip_sigmas
        self.min_std = min_std
        size = 1 if freq_bins is None else freq_bins
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("std", torch.ones(size))
        self.register_buffer("fitted", torch.tensor(False))
        # A Python mirror of the buffer, so that checking it in forward does not force a
        # GPU sync on every step; kept in step by set_statistics and by loading a state dict.
        self._is_fitted = False
        self.register_load_state_dict_post_hook(_sync_fitted_flag)
        self._count = 0
        self._running_mean: torch.Tensor | None = None
        self._running_m2: torch.Tensor | None = None

    # --- fitting -----------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor, who: str) -> None:
        if x.dim() != 4 or x.is_complex():
            raise ValueError(f"Normalize.{who} expects real [batch, channels, freq, frames], got shape "
                             f"{tuple(x.shape)} dtype {x.dtype}")
        if self.freq_bins is not None and x.shape[2] != self.freq_bins:
            raise ValueError(f"Normalize.{who} was built for freq_bins={self.freq_bins}, got {x.shape[2]} "
                             f"(shape {tuple(x.shape)})")

    def begin_fit(self) -> None:
        self._count = 0
        self._running_mean = None
        self._running_m2 = None

    def accumulate(self, x: torch.Tensor) -> None:
        """Merge one batch into the running mean / sum of squared deviations.

        Chan et al.'s pairwise update in float64: stable for any number of batches, with
        no need to keep the data around.
        """
        self._check_input(x, "accumulate")
        if not torch.isfinite(x).all():
            raise ValueError(f"Normalize.accumulate got non-finite values (shape {tuple(x.shape)})")
        x64 = x.detach().to(torch.float64)
        dims = (0, 1, 3) if self.freq_bins is not None else (0, 1, 2, 3)
        count = x64.numel() // (self.freq_bins or 1)
        batch_mean = x64.mean(dim=dims).reshape(-1)
        batch_m2 = ((x64 - self._shaped(batch_mean)) ** 2).sum(dim=dims).reshape(-1)
        if self._running_mean is None or self._running_m2 is None:
            self._count, self._running_mean, self._running_m2 = count, batch_mean, batch_m2
            return
        total = self._count + count
        delta = batch_mean - self._running_mean
        self._running_mean = self._running_mean + delta * (count / total)
        self._running_m2 = self._running_m2 + batch_m2 + delta**2 * (self._count * count / total)
        self._count = total

    def end_fit(self) -> None:
        if self._running_mean is None or self._running_m2 is None or self._count == 0:
            raise ValueError("Normalize.fit got no batches to fit on")
        std = torch.sqrt(self._running_m2 / self._count).clamp(min=self.min_std)
        self.set_statistics(self._running_mean, std)

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Use known statistics (e.g. from a dataset's cache) instead of fitting."""
        size = self.mean.numel()
        mean = torch.as_tensor(mean).reshape(-1)
        std = torch.as_tensor(std).reshape(-1)
        if mean.numel() != size or std.numel() != size:
            raise ValueError(f"Normalize statistics need {size} values, got mean {mean.numel()} std {std.numel()}")
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            raise ValueError("Normalize statistics must be finite with std > 0")
        self.mean.copy_(mean.to(self.mean.dtype))
        self.std.copy_(std.clamp(min=self.min_std).to(self.std.dtype))
        self.fitted.fill_(True)
        self._is_fitted = True

    # --- transform ---------------------------------------------------------------------
    def _shaped(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(1, 1, -1, 1)

    def _require_fitted(self) -> None:
        # A plain Python flag: cheap on a GPU, and it also stops an unfitted chain from
        # being exported (the statistics would be 0 and 1).
        if not self._is_fitted:
            raise RuntimeError("Normalize has no statistics: call fit(...) / Chain.fit(...) or load a state dict")

    def forward_unchecked(self, x: torch.Tensor) -> torch.Tensor:
        """``forward`` without the fitted check (used while fitting, for shapes only)."""
        k = self.clip_sigmas
        return ((x - self._shaped(self.mean)) / self._shaped(self.std)).clamp(-k, k) / k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "forward")
        self._require_fitted()
        return self.forward_unchecked(x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        self._check_input(y, "inverse")
        self._require_fitted()
        return y.clamp(-1.0, 1.0) * (self.clip_sigmas * self._shaped(self.std)) + self._shaped(self.mean)


def _sync_fitted_flag(module: torch.nn.Module, incompatible_keys: object) -> None:
    """After ``load_state_dict``: take the fitted flag from the loaded buffer."""
    assert isinstance(module, Normalize)
    module._is_fitted = bool(module.fitted)


class MelScale(Transform):
    """Linear-frequency rows ``[B, C, n_fft//2+1, T]`` <-> mel rows ``[B, C, n_mels, T]``.

    The weights are ``librosa.filters.mel`` (Slaney mel scale, triangles), held in a
    buffer. A mel axis spends its rows where pitch is heard: as many rows on 0–1 kHz as on
    several octaves above, which is how GANSynth shapes its spectrograms.

    ``weighting="sum"`` keeps librosa's area-normalised triangles, the usual choice for
    magnitudes (pass ``librosa_norm=None`` for unit-height triangles). ``weighting="mean"``
    rescales each triangle to sum to 1, so a mel row is a weighted *average* of its linear
    rows: the right choice for instantaneous frequency, which must stay within [-1, 1].

    ``inverse`` multiplies by the Moore–Penrose pseudo-inverse of the weights (computed in
    float64 once) and clamps the result to ``[clamp_min, clamp_max]``: 0 and no ceiling
    for magnitudes, [-1, 1] for IF.

    Exactness: lossy whenever ``n_mels`` is smaller than the number of linear rows (which is
    the point): the pseudo-inverse gives the least-squares spectrum, smooth within each
    high-frequency band. Low frequencies, where mel rows are narrower than linear bins,
    come back nearly exactly.
    """

    exact = False

    def __init__(self, sample_rate_hz: int, n_fft: int, n_mels: int, fmin_hz: float = 0.0,
                 fmax_hz: float | None = None, weighting: str = "sum", librosa_norm: str | None = "slaney",
                 clamp_min: float | None = 0.0, clamp_max: float | None = None) -> None:
        super().__init__()
        if weighting not in ("sum", "mean"):
            raise ValueError(f"MelScale weighting={weighting!r} is not 'sum' or 'mean'")
        if sample_rate_hz <= 0 or n_fft <= 0 or n_mels <= 0:
            raise ValueError(f"MelScale needs positive sample_rate_hz, n_fft, n_mels, got "
                             f"{sample_rate_hz}, {n_fft}, {n_mels}")
        fmax_hz = sample_rate_hz / 2 if fmax_hz is None else fmax_hz
        if not (0 <= fmin_hz < fmax_hz <= sample_rate_hz / 2):
            raise ValueError(f"MelScale needs 0 <= fmin_hz < fmax_hz <= {sample_rate_hz / 2}, got "
                             f"fmin_hz={fmin_hz}, fmax_hz={fmax_hz}")
        weights = librosa.filters.mel(sr=sample_rate_hz, n_fft=n_fft, n_mels=n_mels, fmin=fmin_hz, fmax=fmax_hz,
                                      norm=librosa_norm, dtype=np.float64)
        if weighting == "mean":
            sums = weights.sum(axis=1, keepdims=True)
            weights = np.divide(weights, sums, out=np.zeros_like(weights), where=sums > 0)
        self.sample_rate_hz = sample_rate_hz
        self.n_fft = n_fft
        self.n_mels = n_mels
        self.weighting = weighting
        self.clamp_min = clamp_min
        self.clamp_max = clamp_max
        weights_t = torch.from_numpy(weights)
        self.register_buffer("weights", weights_t.to(torch.float32), persistent=False)
        self.register_buffer("pseudo_inverse", torch.linalg.pinv(weights_t).to(torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[2] != self.weights.shape[1]:
            raise ValueError(f"MelScale.forward expects [batch, channels, {self.weights.shape[1]}, frames], "
                             f"got shape {tuple(x.shape)}")
        return torch.matmul(self.weights.to(x.dtype), x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() != 4 or y.shape[2] != self.n_mels:
            raise ValueError(f"MelScale.inverse expects [batch, channels, {self.n_mels}, frames], "
                             f"got shape {tuple(y.shape)}")
        x = torch.matmul(self.pseudo_inverse.to(y.dtype), y)
        if self.clamp_min is not None or self.clamp_max is not None:
            x = x.clamp(min=self.clamp_min, max=self.clamp_max)
        return x
