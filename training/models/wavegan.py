"""WaveGAN (Donahue, McAuley, Puckette 2019): the raw-audio DCGAN, and its discriminator.

Generator: a dense layer turns z into ``channels`` rows of ``L0`` samples, then
``upsample_layers`` transposed convolutions (kernel 25, stride 4) each stretch time by 4
and halve the width, ReLU between them, tanh at the end. 16 * 4**5 = 16384 samples (about
one second at 16 kHz); Malde's EDM experiments add a sixth layer for 65536.

Changes for loops:
- ``seamless``: the transposed convolutions fold circularly (see ``layers``), so after the
  dense layer the network treats the loop as a circle and its seam is like any interior
  sample pair.
- Any loop length: ``L0 = ceil(loop_samples / 4**layers)`` and a fixed band-limited
  resampler (``LoopResampler``) maps ``L0 * 4**layers`` onto exactly ``loop_samples``.
- ``upsample="nearest"``: nearest-neighbour upsampling then a convolution, which avoids the
  checkerboard (periodic) artefacts of transposed convolutions.

WaveGAN has no mapping network: its mapping is the identity, w is z and ``num_ws == 1``.

Discriminator: strided convolutions (kernel 25, stride 4), LeakyReLU 0.2, phase shuffle
after every layer but the last, then one dense score (no sigmoid: the losses decide).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from training.models.base import Generator, base_samples
from training.models.config import DiscriminatorConfig, GeneratorConfig
from training.models.layers import (
    LEAKY_SLOPE,
    CircularConv1d,
    CircularConvTranspose1d,
    LoopResampler,
    conv_out_samples,
    phase_shuffle,
    upsample_nearest_1d,
)


def layer_channels(cfg: GeneratorConfig, layer: int) -> int:
    """Width after upsampling layer ``layer`` (1-based): halved each layer, floored at min_channels."""
    return max(cfg.min_channels, cfg.channels // 2 ** layer)


class UpsampleBlock(nn.Module):
    """One WaveGAN upsampling step: transposed conv, or nearest-neighbour repeat + conv."""

    def __init__(self, in_channels: int, out_channels: int, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.mode = cfg.upsample
        self.stride = cfg.stride
        if cfg.upsample == "transposed":
            self.conv: nn.Module = CircularConvTranspose1d(in_channels, out_channels, cfg.kernel_size, cfg.stride,
                                                           circular=cfg.seamless)
        else:
            self.conv = CircularConv1d(in_channels, out_channels, cfg.kernel_size, circular=cfg.seamless)

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "nearest":
            x = upsample_nearest_1d(x, self.stride)
        return self.conv(x)


class WaveGANGenerator(Generator):
    """z [B, z_dim] -> audio [B, channels, loop_samples] in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig, loop_samples: int, channels: int = 1) -> None:
        super().__init__(z_dim=cfg.z_dim, w_dim=cfg.z_dim, num_ws=1, loop_samples=loop_samples, channels=channels)
        self.config = cfg
        self.base_samples = base_samples(loop_samples, cfg.stride, cfg.upsample_layers)
        self.upsampled_samples = self.base_samples * cfg.stride ** cfg.upsample_layers
        self.base_channels = cfg.channels
        self.dense = nn.Linear(cfg.z_dim, cfg.channels * self.base_samples)
        blocks = []
        in_channels = cfg.channels
        for layer in range(1, cfg.upsample_layers + 1):
            last = layer == cfg.upsample_layers
            out_channels = channels if last else layer_channels(cfg, layer)
            blocks.append(UpsampleBlock(in_channels, out_channels, cfg))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.resampler: nn.Module = (
            LoopResampler(self.upsampled_samples, loop_samples, circular=cfg.seamless)
            if self.upsampled_samples != loop_samples else nn.Identity()
        )

    def _map(self, z: Tensor) -> Tensor:
        return z

    def synthesis(self, ws: Tensor) -> Tensor:
        self._check_ws(ws)
        x = self.dense(ws[:, 0]).unflatten(-1, (self.base_channels, self.base_samples))
        x = F.relu(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = F.relu(x)
        # Resample before tanh: a sinc interpolator can overshoot, tanh keeps audio in [-1, 1].
        return torch.tanh(self.resampler(x))


class WaveGANDiscriminator(nn.Module):
    """audio [B, channels, loop_samples] -> raw scores [B, 1].

    Convolutions are zero-padded (``padding = kernel // 2``): the discriminator may look at
    where a loop starts, just as a listener hears the downbeat. Phase shuffle is active
    only in training mode. With ``spectral_norm`` every convolution and the dense layer are
    spectrally normalised (Malde found this helps against mode collapse).
    """

    def __init__(self, cfg: DiscriminatorConfig, loop_samples: int, channels: int = 1) -> None:
        super().__init__()
        self.config = cfg
        self.loop_samples = loop_samples
        self.channels = channels
        self.phase_shuffle_radius = cfg.phase_shuffle
        padding = cfg.kernel_size // 2
        convs = []
        in_channels, length = channels, loop_samples
        for layer in range(cfg.layers):
            out_channels = min(cfg.max_channels, cfg.channels * 2 ** layer)
            conv: nn.Module = nn.Conv1d(in_channels, out_channels, cfg.kernel_size, stride=cfg.stride, padding=padding)
            if cfg.spectral_norm:
                conv = spectral_norm(conv)
            convs.append(conv)
            in_channels = out_channels
            length = conv_out_samples(length, cfg.kernel_size, cfg.stride, padding)
        self.convs = nn.ModuleList(convs)
        self.flat_features = in_channels * length
        dense: nn.Module = nn.Linear(self.flat_features, 1)
        self.dense = spectral_norm(dense) if cfg.spectral_norm else dense

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1] != self.channels or x.shape[2] != self.loop_samples:
            raise ValueError(f"x: expected shape [batch, {self.channels}, {self.loop_samples}], got {list(x.shape)}")
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            x = F.leaky_relu(conv(x), LEAKY_SLOPE)
            if i < last and self.training and self.phase_shuffle_radius > 0:
                x = phase_shuffle(x, self.phase_shuffle_radius)
        return self.dense(x.flatten(1))
