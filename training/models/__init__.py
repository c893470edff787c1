"""Generators and discriminators of raw-audio loops, built from their configs.

Use the builders rather than the classes: they check the config and the loop length and
pick the family.

    gen = build_generator(GeneratorConfig(family="wavegan"), loop_samples=82688)
    disc = build_discriminator(DiscriminatorConfig(), loop_samples=82688)
    audio = gen(torch.randn(4, gen.z_dim))          # [4, 1, 82688] in [-1, 1]
    score = disc(audio)                             # [4, 1], raw (no sigmoid)

Every generator presents ``mapping`` (z -> w) and ``synthesis`` (ws -> audio); see
``training.models.base.Generator``.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from training.models.base import NOISE_MODES, Generator, split_layer_groups
from training.models.config import DiscriminatorConfig, GeneratorConfig, check_positive_int
from training.models.style_grid import StyleGridGenerator
from training.models.style_wavegan import StyleWaveGANGenerator
from training.models.wavegan import WaveGANDiscriminator, WaveGANGenerator

_GENERATORS: dict[str, Callable[[GeneratorConfig, int, int], Generator]] = {
    "wavegan": WaveGANGenerator,
    "style_wavegan": StyleWaveGANGenerator,
    "style_grid": StyleGridGenerator,
}

FAMILIES: tuple[str, ...] = tuple(_GENERATORS)


def _check_loop(loop_samples: int, channels: int) -> None:
    check_positive_int("loop_samples", loop_samples)
    check_positive_int("channels", channels)


def build_generator(cfg: GeneratorConfig, loop_samples: int, channels: int = 1) -> Generator:
    """The generator of ``cfg.family`` producing ``[B, channels, loop_samples]`` audio."""
    cfg.validate()
    _check_loop(loop_samples, channels)
    return _GENERATORS[cfg.family](cfg, loop_samples, channels)


def build_discriminator(cfg: DiscriminatorConfig, loop_samples: int, channels: int = 1) -> nn.Module:
    """WaveGAN's discriminator for ``[B, channels, loop_samples]`` audio, scoring ``[B, 1]``."""
    cfg.validate()
    _check_loop(loop_samples, channels)
    return WaveGANDiscriminator(cfg, loop_samples, channels)


__all__ = [
    "FAMILIES",
    "NOISE_MODES",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "StyleGridGenerator",
    "StyleWaveGANGenerator",
    "WaveGANDiscriminator",
    "WaveGANGenerator",
    "build_discriminator",
    "build_generator",
    "split_layer_groups",
]
