"""Instantaneous frequency: the phase representation GANSynth generates instead of phase.

Raw STFT phase looks like noise to a network: it wraps around every 2π and a tiny time
shift scrambles it. How fast the phase *advances* from one frame to the next (the
instantaneous frequency, IF) is smooth and stable for a steady partial, so a generator can
learn it; integrating the IF over time gives the phase back exactly.
"""

from __future__ import annotations

import math

import torch

from training.representations.base import Transform


def wrap_phase(phase: torch.Tensor) -> torch.Tensor:
    """Map angles in radians onto [-π, π) (the principal value)."""
    return torch.remainder(phase + math.pi, 2 * math.pi) - math.pi


class InstantaneousFrequency(Transform):
    """Phase ``[B, C, F, T]`` (radians) <-> instantaneous frequency in [-1, 1].

    ``forward``: ``IF[t] = wrap(φ[t] - φ[t-1]) / π`` along the frame axis, the derivative
    of the phase unwrapped in time; the first frame keeps its absolute phase,
    ``IF[0] = wrap(φ[0]) / π``, so no information is lost. ``inverse``: ``φ = π · cumsum(IF)``
    along frames (accumulated in float64 so the rounding error does not grow with the
    number of frames), wrapped back to [-π, π).

    Exactness: exact: the recovered phase equals the original modulo 2π, to about 1e-6 rad
    in float32. A generated IF outside [-1, 1] is clamped first.

    This is the plain GANSynth IF, not demodulated: a steady partial in bin ``k`` advances
    by ``2π·k·hop/n_fft`` per frame, so its IF is a constant that depends on ``k``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.is_complex():
            raise ValueError(f"InstantaneousFrequency.forward expects real phases [batch, channels, freq, frames], "
                             f"got shape {tuple(x.shape)} dtype {x.dtype}")
        first = x[..., :1]
        steps = x[..., 1:] - x[..., :-1]
        return wrap_phase(torch.cat([first, steps], dim=-1)) / math.pi

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() != 4 or y.is_complex():
            raise ValueError(f"InstantaneousFrequency.inverse expects real [batch, channels, freq, frames], "
                             f"got shape {tuple(y.shape)} dtype {y.dtype}")
        phase = torch.cumsum(y.clamp(-1.0, 1.0).to(torch.float64) * math.pi, dim=-1)
        return wrap_phase(phase).to(y.dtype)
