"""The identity representation: the generator's output is the audio itself."""

from __future__ import annotations

import torch

from training.representations.base import Transform


class Waveform(Transform):
    """Audio ``[B, C, samples]`` unchanged, both ways.

    It exists so that a waveform model (WaveGAN and relatives) goes through the same
    ``chain.forward`` / ``chain.inverse`` calls as a spectral one. Exactness: exact (bit for bit).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.is_complex():
            raise ValueError(f"Waveform expects real audio [batch, channels, samples], got shape {tuple(x.shape)}")
        return x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y
