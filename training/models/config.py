"""Configuration of the generators and the discriminator, as plain data.

A run's TOML preset fills these dataclasses; nothing here builds a network. Every value is
checked when the dataclass is created (and again by the builders, in case a field was
changed afterwards), and a bad value fails with one line naming the field as it appears in
a preset, e.g. ``model.generator.style_mode: expected 'modulated' or 'adain', got 'foo'``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

GENERATOR_PREFIX = "model.generator"
DISCRIMINATOR_PREFIX = "model.discriminator"

GENERATOR_FAMILIES: tuple[str, ...] = ("wavegan", "style_wavegan", "style_grid")
UPSAMPLE_MODES: tuple[str, ...] = ("transposed", "nearest")
STYLE_MODES: tuple[str, ...] = ("modulated", "adain")


def _choices(options: tuple[str, ...]) -> str:
    quoted = [repr(o) for o in options]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def check_positive_int(name: str, value: Any, minimum: int = 1) -> None:
    """Raise ValueError naming `name` unless `value` is an int >= `minimum` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name}: expected {what}, got {value!r}")


def _check_choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"{name}: expected {_choices(options)}, got {value!r}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected true or false, got {value!r}")


@dataclass
class GeneratorConfig:
    """Shape of a generator. Lengths are derived from the dataset's loop length at build time.

    ``channels`` is the width right after the first layer (the dense layer of WaveGAN, the
    learned constant of the style generator); each upsampling layer halves it, never below
    ``min_channels``. ``upsample_layers`` layers each stretch time by ``stride``.
    """

    family: str = "style_wavegan"        # "wavegan" | "style_wavegan" | "style_grid"
    z_dim: int = 128
    w_dim: int = 128                     # wavegan: w == z, so w_dim is forced to z_dim
    channels: int = 256
    min_channels: int = 16
    upsample_layers: int = 5
    stride: int = 4
    kernel_size: int = 25
    upsample: str = "transposed"         # "transposed" | "nearest" (nearest-neighbour + conv)
    mapping_layers: int = 4              # style only
    mapping_lr_multiplier: float = 0.01  # style only (equalised learning rate, as StyleGAN)
    style_mode: str = "modulated"        # "modulated" (StyleGAN2 mod/demod) | "adain"
    noise_inputs: bool = True            # style only: per-layer noise with learned strength
    seamless: bool = True                # circular ops so the loop's end joins its start
    grid_steps: int = 32                 # style_grid: steps per loop (2 bars of 16ths = 32)
    voices: int = 8                      # style_grid: one-shot sounds the pattern plays
    voice_steps: int = 4                 # style_grid: length of a one-shot, in steps
    pattern_layers: int = 2              # style_grid: modulated layers of the pattern network
    level_db: float = -18.0              # style_grid: centre of the loops' RMS level (w moves it +-8 dB)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        p = GENERATOR_PREFIX
        _check_choice(f"{p}.family", self.family, GENERATOR_FAMILIES)
        for name in ("z_dim", "w_dim", "channels", "min_channels", "upsample_layers", "kernel_size",
                     "mapping_layers", "grid_steps", "voices", "voice_steps", "pattern_layers"):
            check_positive_int(f"{p}.{name}", getattr(self, name))
        check_positive_int(f"{p}.stride", self.stride, minimum=2)
        if self.min_channels > self.channels:
            raise ValueError(f"{p}.min_channels: expected <= channels ({self.channels}), got {self.min_channels}")
        _check_choice(f"{p}.upsample", self.upsample, UPSAMPLE_MODES)
        _check_choice(f"{p}.style_mode", self.style_mode, STYLE_MODES)
        lr = self.mapping_lr_multiplier
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0.0 < lr <= 1.0):
            raise ValueError(f"{p}.mapping_lr_multiplier: expected a number in (0, 1], got {lr!r}")
        level = self.level_db
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not (-60.0 <= level <= 0.0):
            raise ValueError(f"{p}.level_db: expected a number of dB in [-60, 0], got {level!r}")
        _check_bool(f"{p}.noise_inputs", self.noise_inputs)
        _check_bool(f"{p}.seamless", self.seamless)


@dataclass
class DiscriminatorConfig:
    """WaveGAN's discriminator: strided convolutions, then one dense score."""

    channels: int = 16                   # first layer; doubled per layer up to max_channels
    max_channels: int = 512
    kernel_size: int = 25
    stride: int = 4
    layers: int = 5
    phase_shuffle: int = 2               # radius in samples; 0 disables
    spectral_norm: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        p = DISCRIMINATOR_PREFIX
        for name in ("channels", "max_channels", "kernel_size", "stride", "layers"):
            check_positive_int(f"{p}.{name}", getattr(self, name))
        if self.max_channels < self.channels:
            raise ValueError(f"{p}.max_channels: expected >= channels ({self.channels}), got {self.max_channels}")
        check_positive_int(f"{p}.phase_shuffle", self.phase_shuffle, minimum=0)
        _check_bool(f"{p}.spectral_norm", self.spectral_norm)


def config_field_names(cls: type) -> tuple[str, ...]:
    """The field names of a config dataclass (handy when checking a preset for unknown keys)."""
    return tuple(f.name for f in fields(cls))
