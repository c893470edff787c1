"""Ready-made chains, one per kind of generator output, and the config that picks one.

=================  =================================  ==============================  =========
chain              model output (mono)                inverse                         exact?
=================  =================================  ==============================  =========
waveform_chain     audio [B, 1, samples]              identity                        yes
stft_logmag_chain  [B, 1, n_fft/2+1, frames]          denormalise, exp, Griffin–Lim   no
stft_if_chain      [B, 2, n_fft/2+1, frames]          denormalise, exp, cumsum, iSTFT yes*
mel_if_chain       [B, 2, n_mels, frames]             as above + mel pseudo-inverse   no
=================  =================================  ==============================  =========

(*) exact up to the ±k·σ clip of ``Normalize``; with ``normalize=False`` exact outright.
With C audio channels the channel axis holds C log-magnitude planes, then C IF planes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from training.representations.base import Chain, Parallel, Transform
from training.representations.phase import InstantaneousFrequency
from training.representations.scaling import LogMagnitude, MelScale, Normalize
from training.representations.spectral import STFT, DropNyquist, GriffinLim, Polar
from training.representations.waveform import Waveform


def waveform_chain() -> Chain:
    """Raw audio in and out (WaveGAN and its style-based variants)."""
    return Chain([Waveform()])


def _magnitude_tail(freq_bins: int, eps: float, normalize: bool, clip_sigmas: float,
                    per_frequency: bool) -> list[Transform]:
    blocks: list[Transform] = [LogMagnitude(eps)]
    if normalize:
        blocks.append(Normalize(freq_bins if per_frequency else None, clip_sigmas))
    return blocks


def stft_logmag_chain(n_fft: int, hop_samples: int, length_samples: int | None = None, *,
                      griffin_lim_iters: int = 32, griffin_lim_momentum: float = 0.99, eps: float = 1e-6,
                      normalize: bool = True, clip_sigmas: float = 3.0, per_frequency: bool = True,
                      drop_nyquist: bool = False, pad_mode: str = "reflect") -> Chain:
    """ElectroGAN's representation: STFT log-magnitude, normalised by dataset statistics.

    Output ``[B, C, n_fft//2+1, frames]`` in [-1, 1] (``n_fft//2`` rows with
    ``drop_nyquist``); the phase is discarded and recovered by Griffin–Lim (ElectroGAN used
    10 plain iterations; fast Griffin–Lim with momentum gets further in the same time).
    Call ``fit`` on dataset audio before use when ``normalize`` is on.
    """
    stft = STFT(n_fft, hop_samples, length_samples=length_samples, pad_mode=pad_mode)
    rows = stft.freq_bins - 1 if drop_nyquist else stft.freq_bins
    return Chain([GriffinLim(stft, n_iter=griffin_lim_iters, momentum=griffin_lim_momentum),
                  *([DropNyquist()] if drop_nyquist else []),
                  *_magnitude_tail(rows, eps, normalize, clip_sigmas, per_frequency)])


def stft_if_chain(n_fft: int, hop_samples: int, length_samples: int | None = None, *, eps: float = 1e-6,
                  normalize: bool = True, clip_sigmas: float = 3.0, per_frequency: bool = True,
                  drop_nyquist: bool = False, pad_mode: str = "reflect") -> Chain:
    """GANSynth's magnitude + IF pair on a linear frequency axis: the exact path.

    Output ``[B, 2C, n_fft//2+1, frames]`` (``n_fft//2`` rows with ``drop_nyquist``):
    normalised log magnitudes, then IF in [-1, 1]. The inverse integrates IF back to
    phase and takes the iSTFT, so real audio comes back to float rounding (up to the
    magnitude clip of ``Normalize``, and the Nyquist row if dropped).
    """
    stft = STFT(n_fft, hop_samples, length_samples=length_samples, pad_mode=pad_mode)
    rows = stft.freq_bins - 1 if drop_nyquist else stft.freq_bins
    magnitude = Chain(_magnitude_tail(rows, eps, normalize, clip_sigmas, per_frequency))
    return Chain([stft, Polar(), *([DropNyquist()] if drop_nyquist else []),
                  Parallel([magnitude, InstantaneousFrequency()])])


def mel_if_chain(n_fft: int, hop_samples: int, n_mels: int, sample_rate_hz: int,
                 length_samples: int | None = None, *, fmin_hz: float = 0.0, fmax_hz: float | None = None,
                 eps: float = 1e-6, normalize: bool = True, clip_sigmas: float = 3.0, per_frequency: bool = True,
                 pad_mode: str = "reflect") -> Chain:
    """GANSynth's representation: log-mel magnitude and mel-scaled IF (approximate).

    Output ``[B, 2C, n_mels, frames]``. Magnitudes are mel-summed then logged and
    normalised; IF is mel-averaged (so it stays in [-1, 1]). The inverse goes back through
    the mel pseudo-inverse on both planes, so it is approximate: magnitudes are smoothed
    within each high mel band, and errors in the un-mel-ed IF accumulate as phase drift
    when integrated. Use ``stft_if_chain`` when an exact inverse matters more than a
    compact frequency axis.
    """
    stft = STFT(n_fft, hop_samples, length_samples=length_samples, pad_mode=pad_mode)
    mel_magnitude = MelScale(sample_rate_hz, n_fft, n_mels, fmin_hz, fmax_hz, weighting="sum", clamp_min=0.0)
    mel_if = MelScale(sample_rate_hz, n_fft, n_mels, fmin_hz, fmax_hz, weighting="mean",
                      clamp_min=-1.0, clamp_max=1.0)
    magnitude = Chain([mel_magnitude, *_magnitude_tail(n_mels, eps, normalize, clip_sigmas, per_frequency)])
    phase = Chain([InstantaneousFrequency(), mel_if])
    return Chain([stft, Polar(), Parallel([magnitude, phase])])


KINDS = ("waveform", "stft_logmag", "stft_if", "mel_if")


@dataclass(frozen=True)
class RepresentationConfig:
    """Which representation a model uses, as data (the ``[representation]`` table of a config).

    Only the fields that matter for ``kind`` are read: ``waveform`` reads none,
    ``stft_logmag`` adds the Griffin–Lim fields, ``mel_if`` adds the mel fields and
    ignores ``drop_nyquist`` (its rows are ``n_mels``).
    """

    kind: str = "waveform"
    n_fft: int = 1024
    hop_samples: int = 256
    n_mels: int = 256
    fmin_hz: float = 0.0
    fmax_hz: float | None = None
    griffin_lim_iters: int = 32
    griffin_lim_momentum: float = 0.99
    log_eps: float = 1e-6
    normalize: bool = True
    clip_sigmas: float = 3.0
    per_frequency: bool = True
    drop_nyquist: bool = False
    pad_mode: str = "reflect"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"representation kind={self.kind!r} is not one of {', '.join(KINDS)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RepresentationConfig":
        """Build from a parsed TOML/JSON table; an unknown key is an error naming it."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ValueError(f"unknown representation key {key!r} (known: {', '.join(sorted(known))})")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_chain(config: RepresentationConfig, sample_rate_hz: int, length_samples: int) -> Chain:
    """The chain ``config`` describes, for loops of ``length_samples`` at ``sample_rate_hz``."""
    c = config
    if c.kind == "waveform":
        return waveform_chain()
    if c.kind == "stft_logmag":
        return stft_logmag_chain(c.n_fft, c.hop_samples, length_samples, griffin_lim_iters=c.griffin_lim_iters,
                                 griffin_lim_momentum=c.griffin_lim_momentum, eps=c.log_eps,
                                 normalize=c.normalize, clip_sigmas=c.clip_sigmas,
                                 per_frequency=c.per_frequency, drop_nyquist=c.drop_nyquist,
                                 pad_mode=c.pad_mode)
    if c.kind == "stft_if":
        return stft_if_chain(c.n_fft, c.hop_samples, length_samples, eps=c.log_eps, normalize=c.normalize,
                             clip_sigmas=c.clip_sigmas, per_frequency=c.per_frequency,
                             drop_nyquist=c.drop_nyquist, pad_mode=c.pad_mode)
    return mel_if_chain(c.n_fft, c.hop_samples, c.n_mels, sample_rate_hz, length_samples, fmin_hz=c.fmin_hz,
                        fmax_hz=c.fmax_hz, eps=c.log_eps, normalize=c.normalize, clip_sigmas=c.clip_sigmas,
                        per_frequency=c.per_frequency, pad_mode=c.pad_mode)
