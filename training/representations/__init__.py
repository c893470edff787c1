"""Invertible audio representations: blocks with ``forward`` (audio -> model space) and
``inverse`` (model space -> audio), chained as in GANSynth and ElectroGAN.

See ``docs/representations.md`` for which blocks are exact and how large the error of the
others is.
"""

from training.representations.base import Chain, Fittable, Parallel, Transform
from training.representations.chains import (
    KINDS,
    RepresentationConfig,
    build_chain,
    mel_if_chain,
    stft_if_chain,
    stft_logmag_chain,
    waveform_chain,
)
from training.representations.phase import InstantaneousFrequency, wrap_phase
from training.representations.scaling import LogMagnitude, MelScale, Normalize
from training.representations.spectral import (
    STFT,
    DropNyquist,
    GriffinLim,
    Magnitude,
    Polar,
    spectral_convergence,
    use_exportable_inverse,
)
from training.representations.waveform import Waveform

__all__ = [
    "Chain", "Fittable", "Parallel", "Transform",
    "KINDS", "RepresentationConfig", "build_chain",
    "mel_if_chain", "stft_if_chain", "stft_logmag_chain", "waveform_chain",
    "InstantaneousFrequency", "wrap_phase",
    "LogMagnitude", "MelScale", "Normalize",
    "STFT", "DropNyquist", "GriffinLim", "Magnitude", "Polar", "spectral_convergence", "use_exportable_inverse",
    "Waveform",
]
