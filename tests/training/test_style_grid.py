"""The style-based grid generator: sounds start on the grid, tails wrap round the loop, and
the coarse styles own the groove while the later ones own the sounds."""

from __future__ import annotations

import pytest
import torch

from training.models import GeneratorConfig, StyleGridGenerator, build_generator
from training.models.layers import LoopResampler
from training.models.style_grid import ATTACK_SAMPLES, grid_shape


def grid_config(**overrides: object) -> GeneratorConfig:
    base: dict[str, object] = dict(family="style_grid", z_dim=8, w_dim=8, channels=16, min_channels=8,
                                   upsample_layers=2, kernel_size=9, mapping_layers=2, grid_steps=8, voices=3,
                                   voice_steps=3)
    base.update(overrides)
    return GeneratorConfig(**base)  # type: ignore[arg-type]


def build(loop_samples: int = 1024, **overrides: object) -> StyleGridGenerator:
    torch.manual_seed(0)
    gen = build_generator(grid_config(**overrides), loop_samples).eval()
    assert isinstance(gen, StyleGridGenerator)
    gen.noise_mode = "const"
    return gen


def one_hit(gen: StyleGridGenerator, voice: int, step: int) -> torch.Tensor:
    velocities = torch.zeros(1, gen.voices, gen.grid_steps)
    velocities[0, voice, step] = 1.0
    return velocities


@pytest.mark.parametrize("seamless", [True, False])
def test_a_hit_plays_its_one_shot_from_the_start_of_its_step(seamless: bool) -> None:
    gen = build(seamless=seamless)
    hop, length = gen.step_samples, gen.voice_samples
    shots = torch.randn(1, gen.voices, 1, length)
    inside = gen.sequence(one_hit(gen, 1, 2), shots)[0, 0]
    expected = torch.zeros(gen.grid_samples)
    expected[2 * hop:2 * hop + length] = shots[0, 1, 0]
    torch.testing.assert_close(inside, expected)

    # A hit near the end: its tail runs past the loop's end onto the start, or is cut off.
    last = gen.grid_steps - 1
    edge = gen.sequence(one_hit(gen, 0, last), shots)[0, 0]
    head = torch.zeros(gen.grid_samples)
    head[last * hop:] = shots[0, 0, 0, :hop]
    if seamless:
        head[:length - hop] = shots[0, 0, 0, hop:]
    torch.testing.assert_close(edge, head)


def test_velocities_scale_and_add_hits() -> None:
    gen = build()
    shots = torch.randn(1, gen.voices, 1, gen.voice_samples)
    a, b = one_hit(gen, 0, 1), one_hit(gen, 2, 5)
    both = gen.sequence(0.5 * a + 0.25 * b, shots)
    torch.testing.assert_close(both, 0.5 * gen.sequence(a, shots) + 0.25 * gen.sequence(b, shots))


def test_every_one_shot_starts_silent_rises_at_once_then_only_decays_to_silence() -> None:
    gen = build(voice_steps=4)
    envelopes = gen.envelope(torch.randn(5, gen.w_dim))
    assert envelopes.shape == (5, gen.voices, gen.voice_samples)
    assert torch.all(envelopes[..., 0] == 0) and torch.all(envelopes[..., -1] == 0)
    attack = min(ATTACK_SAMPLES, gen.voice_samples // 8)
    assert torch.all(envelopes[..., attack] > 0.5 * envelopes.amax(dim=-1))
    after_attack = envelopes[..., attack:]
    assert torch.all(after_attack[..., 1:] <= after_attack[..., :-1] + 1e-7)


def test_rolling_the_pattern_by_a_step_rolls_the_loop_by_a_step_only_when_seamless() -> None:
    for seamless in (True, False):
        gen = build(seamless=seamless)
        gen.noise_mode = "none"
        ws = gen.broadcast_ws(gen.mapping(torch.randn(2, gen.z_dim)))
        with torch.no_grad():
            before = gen.synthesis(ws)
            gen.pattern_const.copy_(torch.roll(gen.pattern_const, 1, dims=-1))
            after = gen.synthesis(ws)
        rolled = torch.roll(before, gen.step_samples, dims=-1)
        assert torch.allclose(after, rolled, atol=1e-5) == seamless


def test_a_loop_the_grid_does_not_divide_is_resampled_onto_exactly_its_length() -> None:
    gen = build(loop_samples=1000)
    assert grid_shape(1000, 8) == (125, 1000)
    assert isinstance(build(loop_samples=1003).resampler, LoopResampler)
    odd = build(loop_samples=1003)
    assert (odd.step_samples, odd.grid_samples) == (126, 1008)
    with torch.no_grad():
        assert gen(torch.randn(2, gen.z_dim)).shape == (2, 1, 1000)
        assert odd(torch.randn(2, odd.z_dim)).shape == (2, 1, 1003)


def test_coarse_styles_own_the_groove_and_the_others_own_the_sounds() -> None:
    gen = build(pattern_layers=2, upsample_layers=3)
    assert gen.num_ws == 2 + 3 + 2
    assert gen.layer_groups["coarse"][:2] == [0, 1]
    wa, wb = gen.mapping(torch.randn(2, gen.z_dim)).chunk(2)
    mixed = gen.broadcast_ws(wb).clone()
    mixed[:, :2] = wa
    with torch.no_grad():
        torch.testing.assert_close(gen.velocities(mixed), gen.velocities(gen.broadcast_ws(wa)))
        torch.testing.assert_close(gen.one_shots(mixed), gen.one_shots(gen.broadcast_ws(wb)))
        assert not torch.allclose(gen.velocities(gen.broadcast_ws(wa)), gen.velocities(gen.broadcast_ws(wb)))


def test_grid_settings_are_checked_by_name() -> None:
    for field in ("grid_steps", "voices", "voice_steps", "pattern_layers"):
        with pytest.raises(ValueError, match=rf"model\.generator\.{field}: expected a positive integer"):
            grid_config(**{field: 0})


def test_every_loop_plays_at_a_level_inside_the_range_w_sets() -> None:
    gen = build(level_db=-20.0)
    with torch.no_grad():
        audio = gen(torch.randn(16, gen.z_dim))
    rms_db = 10 * torch.log10(audio.square().mean(dim=(1, 2)))
    # tanh (the final soft clip) only lowers a level; the range is level_db +- 8 dB
    assert torch.all(rms_db <= -20.0 + 8.0 + 1e-3) and torch.all(rms_db >= -20.0 - 8.0 - 1.0)
    with torch.no_grad():
        ws = gen.broadcast_ws(gen.mapping(torch.randn(4, gen.z_dim)))
        raw = gen.sequence(gen.velocities(ws), gen.one_shots(ws))
        levelled = raw * gen.level_gain(raw, ws[:, -1])
        target_db = -20.0 + 8.0 * torch.tanh(gen.level(ws[:, -1]))[:, 0]
    torch.testing.assert_close(10 * torch.log10(levelled.square().mean(dim=(1, 2))), target_db, atol=1e-3, rtol=0)


def test_the_level_setting_is_checked_by_name() -> None:
    with pytest.raises(ValueError, match=r"model\.generator\.level_db: expected a number of dB in \[-60, 0\]"):
        grid_config(level_db=6.0)
