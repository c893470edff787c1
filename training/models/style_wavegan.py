"""Style-based WaveGAN: WaveGAN's upsampling stack driven StyleGAN's way.

Malde ("Generating Electronic Music with Adversarial Networks") found that feeding a
mapping network's output into every layer of WaveGAN, with a noise input per layer, gave
cleaner, more varied EDM than plain WaveGAN. This module is that idea with StyleGAN /
StyleGAN2's parts:

- **Mapping network**: z is normalised to unit RMS ("pixel norm"), then ``mapping_layers``
  dense layers with LeakyReLU give w. Its learning rate is scaled down (0.01) so it moves
  slowly relative to the synthesis network, as in StyleGAN.
- **Synthesis** starts from a learned constant ``[channels, L0]`` instead of from z: what
  the loop sounds like is decided entirely by the styles. Then a layer at L0 and
  ``upsample_layers`` upsampling layers (transposed-circular or nearest-neighbour), each
  with its own w: the w is turned into per-channel scales ("styles") that either modulate
  the convolution weights (StyleGAN2, ``style_mode="modulated"``) or rescale the
  instance-normalised activations (StyleGAN's AdaIN, ``style_mode="adain"``). Then noise
  with a learned strength (the random detail: hats, grit), a bias and LeakyReLU.
- A final 1x1 modulated convolution turns features into audio, then tanh.

``num_ws = upsample_layers + 2`` (the L0 layer, every upsampling layer, the to-audio
layer). Mixing styles by layer group lets a performer keep a loop's groove (coarse) while
borrowing another loop's timbre (fine).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from training.models.base import Generator, base_samples
from training.models.config import GeneratorConfig
from training.models.layers import (
    EqualizedConv1d,
    EqualizedLinear,
    LoopResampler,
    ModulatedConv1d,
    instance_norm_1d,
    pixel_norm,
    scaled_leaky_relu,
    upsample_nearest_1d,
)
from training.models.wavegan import layer_channels

# Fixed seed of the "const" noise buffers, so a freshly built model is reproducible too.
_CONST_NOISE_SEED = 0x1005


class MappingNetwork(nn.Module):
    """z [B, z_dim] -> w [B, w_dim]: pixel norm, then dense + LeakyReLU layers."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_multiplier: float) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.ModuleList(
            EqualizedLinear(dims[i], dims[i + 1], lr_multiplier=lr_multiplier) for i in range(layers)
        )

    def forward(self, z: Tensor) -> Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = scaled_leaky_relu(layer(x))
        return x


class StyleLayer(nn.Module):
    """One synthesis layer.

    - modulated: [nearest upsample] -> modulated conv (transposed when upsampling) -> noise
      -> bias -> LeakyReLU (StyleGAN2);
    - adain: [nearest upsample] -> conv -> noise -> bias -> LeakyReLU -> instance norm ->
      per-channel scale and shift from w (StyleGAN).

    ``up`` is 1 for the layer at L0, else the stride. ``out_samples`` is this layer's output
    length, needed for the fixed noise buffer.
    """

    noise_const: Tensor

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, out_samples: int, up: int,
                 cfg: GeneratorConfig, noise_generator: torch.Generator) -> None:
        super().__init__()
        self.style_mode = cfg.style_mode
        self.nearest_up = up if (up > 1 and cfg.upsample == "nearest") else 1
        conv_stride = up if (up > 1 and cfg.upsample == "transposed") else 1
        if cfg.style_mode == "modulated":
            self.conv: nn.Module = ModulatedConv1d(in_channels, out_channels, cfg.kernel_size, w_dim,
                                                   stride=conv_stride, demodulate=True, circular=cfg.seamless)
        else:
            self.conv = EqualizedConv1d(in_channels, out_channels, cfg.kernel_size,
                                        stride=conv_stride, circular=cfg.seamless)
            # AdaIN: per-channel scale (starts at 1) and shift (starts at 0) from w.
            self.style_scale = EqualizedLinear(w_dim, out_channels, bias_init=1.0)
            self.style_shift = EqualizedLinear(w_dim, out_channels, bias_init=0.0)
        self.use_noise = cfg.noise_inputs
        if self.use_noise:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(1, 1, out_samples, generator=noise_generator))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str) -> Tensor:
        if self.nearest_up > 1:
            x = upsample_nearest_1d(x, self.nearest_up)
        x = self.conv(x, w) if self.style_mode == "modulated" else self.conv(x)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "const":
                noise = self.noise_const
            else:
                noise = torch.randn(x.shape[0], 1, x.shape[-1], device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength
        x = scaled_leaky_relu(x + self.bias.view(1, -1, 1))
        if self.style_mode == "adain":
            x = instance_norm_1d(x)
            x = x * self.style_scale(w).unsqueeze(-1) + self.style_shift(w).unsqueeze(-1)
        return x


class ToAudio(nn.Module):
    """Features -> audio channels: a 1x1 modulated conv without demodulation (StyleGAN2's toRGB).

    Its output would start with a standard deviation above 1, deep in tanh's flat region
    where gradients vanish; a constant ``output_gain`` starts training at a moderate level
    instead (a constant rather than a smaller init, so the equalised learning rate holds).
    """

    output_gain: float = 0.25

    def __init__(self, in_channels: int, out_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv1d(in_channels, out_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) * self.output_gain + self.bias.view(1, -1, 1)


class StyleWaveGANGenerator(Generator):
    """z [B, z_dim] -> w -> ws [B, num_ws, w_dim] -> audio [B, channels, loop_samples] in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig, loop_samples: int, channels: int = 1) -> None:
        num_ws = cfg.upsample_layers + 2
        super().__init__(z_dim=cfg.z_dim, w_dim=cfg.w_dim, num_ws=num_ws, loop_samples=loop_samples,
                         channels=channels)
        self.config = cfg
        self.base_samples = base_samples(loop_samples, cfg.stride, cfg.upsample_layers)
        self.upsampled_samples = self.base_samples * cfg.stride ** cfg.upsample_layers
        self.mapping_network = MappingNetwork(cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_multiplier)
        self.const = nn.Parameter(torch.randn(cfg.channels, self.base_samples))

        noise_generator = torch.Generator().manual_seed(_CONST_NOISE_SEED)
        layers = [StyleLayer(cfg.channels, cfg.channels, w_dim=cfg.w_dim, out_samples=self.base_samples, up=1,
                             cfg=cfg, noise_generator=noise_generator)]
        in_channels, length = cfg.channels, self.base_samples
        for layer in range(1, cfg.upsample_layers + 1):
            out_channels = layer_channels(cfg, layer)
            length *= cfg.stride
            layers.append(StyleLayer(in_channels, out_channels, w_dim=cfg.w_dim, out_samples=length, up=cfg.stride,
                                     cfg=cfg, noise_generator=noise_generator))
            in_channels = out_channels
        self.layers = nn.ModuleList(layers)
        self.to_audio = ToAudio(in_channels, channels, cfg.w_dim)
        self.resampler: nn.Module = (
            LoopResampler(self.upsampled_samples, loop_samples, circular=cfg.seamless)
            if self.upsampled_samples != loop_samples else nn.Identity()
        )

    def _map(self, z: Tensor) -> Tensor:
        return self.mapping_network(z)

    def synthesis(self, ws: Tensor) -> Tensor:
        self._check_ws(ws)
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], self.noise_mode)
        x = self.to_audio(x, ws[:, len(self.layers)])
        # Resample before tanh: a sinc interpolator can overshoot, tanh keeps audio in [-1, 1].
        return torch.tanh(self.resampler(x))
