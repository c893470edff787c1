"""Generators and discriminator: shapes, exact loop lengths, seamless loops, the mapping /
synthesis interface, truncation, style mixing, noise modes, gradients, ONNX export and
config errors. Models are tiny (a few channels) so the whole file runs in well under a
minute on two cores."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from training.models import (
    FAMILIES,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    build_discriminator,
    build_generator,
)
from training.models.layers import (
    CircularConv1d,
    CircularConvTranspose1d,
    LoopResampler,
    circular_pad_1d,
    phase_shuffle,
    upsample_nearest_1d,
)

STYLE_MODES = ("modulated", "adain")
WAVEFORM_FAMILIES = ("wavegan", "style_wavegan")  # upsampling stacks over the whole loop (not the grid family)


def tiny(family: str, **overrides: object) -> GeneratorConfig:
    """A generator config small enough for unit tests (kernel 25 is kept: it matters for seams)."""
    base: dict[str, object] = dict(family=family, z_dim=8, w_dim=8, channels=16, min_channels=8,
                                   upsample_layers=2, mapping_layers=2)
    base.update(overrides)
    return GeneratorConfig(**base)  # type: ignore[arg-type]


def all_generator_configs() -> list[GeneratorConfig]:
    configs = []
    for upsample in ("transposed", "nearest"):
        for seamless in (True, False):
            configs.append(tiny("wavegan", upsample=upsample, seamless=seamless))
            for style_mode in STYLE_MODES:
                for noise_inputs in (True, False):
                    configs.append(tiny("style_wavegan", upsample=upsample, seamless=seamless,
                                        style_mode=style_mode, noise_inputs=noise_inputs))
                    configs.append(tiny("style_grid", upsample=upsample, seamless=seamless,
                                        style_mode=style_mode, noise_inputs=noise_inputs, grid_steps=8, voices=3))
    return configs


def config_id(cfg: GeneratorConfig) -> str:
    parts = [cfg.family, cfg.upsample, "seamless" if cfg.seamless else "zero-pad"]
    if cfg.family.startswith("style_"):
        parts += [cfg.style_mode, "noise" if cfg.noise_inputs else "no-noise"]
    return "-".join(parts)


def set_noise_strength(gen: Generator, value: float) -> None:
    """Noise strengths start at zero; make them matter so noise behaviour is observable."""
    with torch.no_grad():
        for name, param in gen.named_parameters():
            if name.endswith("noise_strength"):
                param.fill_(value)


# ---------------------------------------------------------------------------------------
# Circular layers and the resampler
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel_size,length", [(25, 40), (5, 16), (25, 7), (4, 9)])
def test_circular_conv1d_commutes_with_a_one_sample_roll(kernel_size: int, length: int) -> None:
    torch.manual_seed(0)
    conv = CircularConv1d(3, 4, kernel_size)
    x = torch.randn(2, 3, length)
    out = conv(x)
    assert out.shape == (2, 4, length)
    torch.testing.assert_close(conv(torch.roll(x, 1, dims=-1)), torch.roll(out, 1, dims=-1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel_size,stride,length", [(25, 4, 16), (25, 4, 2), (3, 4, 5), (8, 2, 11)])
def test_circular_conv_transpose_maps_a_roll_by_one_to_a_roll_by_stride(kernel_size: int, stride: int,
                                                                        length: int) -> None:
    torch.manual_seed(0)
    up = CircularConvTranspose1d(3, 4, kernel_size, stride)
    x = torch.randn(2, 3, length)
    out = up(x)
    assert out.shape == (2, 4, length * stride)
    torch.testing.assert_close(up(torch.roll(x, 1, dims=-1)), torch.roll(out, stride, dims=-1),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kernel_size,stride,length", [(25, 4, 6), (25, 4, 2), (3, 4, 5)],
                         ids=["one-fold", "several-folds", "kernel-shorter-than-stride"])
def test_circular_conv_transpose_equals_transposed_conv_of_the_repeated_signal(kernel_size: int, stride: int,
                                                                               length: int) -> None:
    """Folding is what a transposed conv does to a periodic input: compare against the
    middle period of the zero-padded layer applied to the signal repeated many times."""
    torch.manual_seed(1)
    repeats = 2 * math.ceil(kernel_size / (length * stride)) + 3
    circular = CircularConvTranspose1d(2, 3, kernel_size, stride)
    zero_padded = CircularConvTranspose1d(2, 3, kernel_size, stride, circular=False)
    zero_padded.load_state_dict(circular.state_dict())
    x = torch.randn(1, 2, length)
    long = zero_padded(x.repeat(1, 1, repeats))
    middle = repeats // 2
    period = length * stride
    torch.testing.assert_close(circular(x), long[..., middle * period:(middle + 1) * period], atol=1e-5, rtol=1e-5)


def test_zero_padded_transposed_layer_is_wavegans_layer() -> None:
    torch.manual_seed(2)
    ours = CircularConvTranspose1d(3, 5, 25, 4, circular=False)
    wavegan = nn.ConvTranspose1d(3, 5, 25, stride=4, padding=11, output_padding=1)
    wavegan.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 16)
    torch.testing.assert_close(ours(x), wavegan(x), atol=1e-5, rtol=1e-5)


def test_circular_pad_wraps_pads_longer_than_the_signal() -> None:
    x = torch.arange(3.0).view(1, 1, 3)
    padded = circular_pad_1d(x, 5, 4)
    expected = torch.tensor([1.0, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]).view(1, 1, -1)
    torch.testing.assert_close(padded, expected)


@pytest.mark.parametrize("in_samples,out_samples", [(1024, 1000), (82944, 82688)])
def test_resampler_maps_a_periodic_sinusoid_to_the_same_periodic_sinusoid(in_samples: int,
                                                                          out_samples: int) -> None:
    """k cycles over the generator's period become k cycles over the loop, seam included."""
    resampler = LoopResampler(in_samples, out_samples)
    nyquist_cycles = out_samples // 2
    n_in = torch.arange(in_samples, dtype=torch.float64)
    n_out = torch.arange(out_samples, dtype=torch.float64)
    for cycles in (1, 7, int(0.4 * nyquist_cycles)):
        phase = 0.3
        x = torch.sin(2 * math.pi * cycles * n_in / in_samples + phase).float().view(1, 1, -1)
        expected = torch.sin(2 * math.pi * cycles * n_out / out_samples + phase).float()
        y = resampler(x)[0, 0]
        assert y.shape == (out_samples,)
        assert (y - expected).abs().max() < 2e-3, f"cycles={cycles}"


def test_resampler_passes_a_constant_unchanged_and_zero_pads_when_not_circular() -> None:
    circular = LoopResampler(256, 250)
    open_ended = LoopResampler(256, 250, circular=False)
    ones = torch.ones(1, 1, 256)
    torch.testing.assert_close(circular(ones), torch.ones(1, 1, 250))
    # An impulse on the last input sample reaches the first output sample only across the seam.
    last = torch.zeros(1, 1, 256)
    last[..., -1] = 1.0
    assert circular(last)[0, 0, 0].abs() > 1e-3
    assert open_ended(last)[0, 0, 0] == 0.0


# ---------------------------------------------------------------------------------------
# Generators: shapes, lengths, interface
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", all_generator_configs(), ids=config_id)
@pytest.mark.parametrize("loop_samples", [256, 300])
def test_generator_shape_and_range(cfg: GeneratorConfig, loop_samples: int) -> None:
    torch.manual_seed(0)
    gen = build_generator(cfg, loop_samples, channels=2)
    with torch.no_grad():
        audio = gen(torch.randn(3, gen.z_dim))
    assert audio.shape == (3, 2, loop_samples)
    assert torch.isfinite(audio).all()
    assert audio.abs().max() <= 1.0
    assert audio.std() > 1e-4, "a silent generator cannot learn"


@pytest.mark.parametrize("family", WAVEFORM_FAMILIES)
@pytest.mark.parametrize("loop_samples,layers,resampled", [(16384, 5, False), (65536, 6, False), (82688, 5, True)])
def test_generator_produces_the_exact_loop_length(family: str, loop_samples: int, layers: int,
                                                  resampled: bool) -> None:
    cfg = tiny(family, channels=8, min_channels=8, upsample_layers=layers, kernel_size=9)
    gen = build_generator(cfg, loop_samples)
    expected_base = math.ceil(loop_samples / 4 ** layers)
    assert gen.base_samples == expected_base  # type: ignore[attr-defined]
    if not resampled:
        assert expected_base == 16
    assert isinstance(gen.resampler, LoopResampler) == resampled  # type: ignore[attr-defined]
    with torch.no_grad():
        audio = gen.synthesis(gen.broadcast_ws(gen.mapping(torch.randn(1, gen.z_dim))))
    assert audio.shape == (1, 1, loop_samples)


def test_wavegan_mapping_is_the_identity_with_one_style_input() -> None:
    gen = build_generator(tiny("wavegan", w_dim=32), 256)
    assert gen.w_dim == gen.z_dim == 8  # w is z: w_dim follows z_dim whatever the config says
    assert gen.num_ws == 1
    assert gen.layer_groups == {"coarse": [0], "middle": [0], "fine": [0]}
    z = torch.randn(4, 8)
    gen.eval()
    torch.testing.assert_close(gen.mapping(z), z)
    torch.testing.assert_close(gen(z), gen.synthesis(z.unsqueeze(1)))


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_style_generator_layer_groups_split_every_style_input_into_thirds(layers: int) -> None:
    gen = build_generator(tiny("style_wavegan", upsample_layers=layers), 4 ** layers * 4)
    assert gen.num_ws == layers + 2
    groups = gen.layer_groups
    assert list(groups) == ["coarse", "middle", "fine"]
    flat = groups["coarse"] + groups["middle"] + groups["fine"]
    assert flat == list(range(gen.num_ws))
    sizes = [len(g) for g in groups.values()]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("family", FAMILIES)
def test_w_avg_tracks_w_while_training_and_psi_zero_returns_it(family: str) -> None:
    torch.manual_seed(0)
    gen = build_generator(tiny(family), 256)
    assert torch.count_nonzero(gen.w_avg) == 0
    z = torch.randn(16, gen.z_dim) + 0.5
    gen.train()
    w = gen.mapping(z)
    torch.testing.assert_close(gen.w_avg, (1 - 0.995) * w.detach().mean(dim=0))
    gen.eval()
    before = gen.w_avg.clone()
    truncated = gen.mapping(torch.randn(5, gen.z_dim), truncation_psi=0.0)
    torch.testing.assert_close(gen.w_avg, before)  # eval mode leaves w_avg alone
    torch.testing.assert_close(truncated, before.expand(5, -1))
    half = gen.mapping(z[:5], truncation_psi=0.5)
    torch.testing.assert_close(half, before + 0.5 * (gen.mapping(z[:5]) - before))


def test_style_mixing_replaces_ws_from_a_cutoff_on_only_when_asked() -> None:
    torch.manual_seed(0)
    gen = build_generator(tiny("style_wavegan", upsample_layers=3), 256)
    gen.noise_mode = "const"
    captured: list[torch.Tensor] = []
    synthesis = gen.synthesis

    def capture(ws: torch.Tensor) -> torch.Tensor:
        captured.append(ws.detach().clone())
        return synthesis(ws)

    gen.synthesis = capture  # type: ignore[method-assign]
    z = torch.randn(4, gen.z_dim)
    gen.train()
    with torch.no_grad():
        plain = gen(z, style_mix_prob=0.0)
        w = gen.mapping(z)
    torch.testing.assert_close(captured[-1], w.unsqueeze(1).expand(-1, gen.num_ws, -1))
    for _ in range(5):
        with torch.no_grad():
            mixed = gen(z, style_mix_prob=1.0)
        ws = captured[-1]
        same = (ws == w.unsqueeze(1)).all(dim=-1).all(dim=0)      # [num_ws]: layer still uses z's w
        cutoff = int((~same).float().argmax())
        assert 1 <= cutoff < gen.num_ws and not same[cutoff:].any() and same[:cutoff].all()
        assert (ws[:, cutoff:] == ws[:, cutoff:cutoff + 1]).all()  # one other w from the cutoff on
        assert not torch.allclose(mixed, plain)
    gen.eval()
    with torch.no_grad():
        torch.testing.assert_close(gen(z, style_mix_prob=1.0), plain)  # no mixing outside training
    with pytest.raises(ValueError, match="style_mix_prob"):
        gen(z, style_mix_prob=1.5)


@pytest.mark.parametrize("style_mode", STYLE_MODES)
def test_noise_modes(style_mode: str) -> None:
    torch.manual_seed(0)
    gen = build_generator(tiny("style_wavegan", style_mode=style_mode), 256).eval()
    set_noise_strength(gen, 0.5)
    ws = gen.broadcast_ws(gen.mapping(torch.randn(2, gen.z_dim)))
    with torch.no_grad():
        gen.noise_mode = "const"
        const_a, const_b = gen.synthesis(ws), gen.synthesis(ws)
        gen.noise_mode = "random"
        random_a, random_b = gen.synthesis(ws), gen.synthesis(ws)
        gen.noise_mode = "none"
        silent = gen.synthesis(ws)
        set_noise_strength(gen, 0.0)
        gen.noise_mode = "random"
        zero_strength = gen.synthesis(ws)
    torch.testing.assert_close(const_a, const_b, atol=0, rtol=0)
    assert not torch.allclose(random_a, random_b)
    assert not torch.allclose(const_a, silent)
    torch.testing.assert_close(silent, zero_strength)
    with pytest.raises(ValueError, match="noise_mode"):
        gen.noise_mode = "fixed"


@pytest.mark.parametrize("family", FAMILIES)
def test_synthesis_names_a_wrong_ws_shape(family: str) -> None:
    gen = build_generator(tiny(family), 256)
    with pytest.raises(ValueError, match=r"ws: expected shape \[batch, "):
        gen.synthesis(torch.randn(2, gen.num_ws + 1, gen.w_dim))
    with pytest.raises(ValueError, match="z: expected shape"):
        gen.mapping(torch.randn(2, gen.z_dim + 1))


@pytest.mark.parametrize("cfg", [tiny("wavegan"), tiny("wavegan", upsample="nearest"),
                                 tiny("style_wavegan"), tiny("style_wavegan", style_mode="adain"),
                                 tiny("style_wavegan", upsample="nearest")], ids=config_id)
def test_gradient_reaches_every_generator_parameter(cfg: GeneratorConfig) -> None:
    torch.manual_seed(0)
    gen = build_generator(cfg, 300).train()
    audio = gen(torch.randn(3, gen.z_dim), style_mix_prob=0.5)
    (audio * torch.randn_like(audio)).sum().backward()
    for name, param in gen.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


# ---------------------------------------------------------------------------------------
# Seamless loops
# ---------------------------------------------------------------------------------------

def roll_first_layer(gen: Generator, steps: int) -> None:
    """Rotate the first layer's output (WaveGAN's dense rows, the style generator's constant)
    by `steps` positions along time."""
    with torch.no_grad():
        if gen.config.family == "wavegan":  # type: ignore[attr-defined]
            dense = gen.dense  # type: ignore[attr-defined]
            shape = (gen.base_channels, gen.base_samples)  # type: ignore[attr-defined]
            dense.weight.copy_(dense.weight.unflatten(0, shape).roll(steps, dims=1).flatten(0, 1))
            dense.bias.copy_(dense.bias.unflatten(0, shape).roll(steps, dims=1).flatten())
        else:
            gen.const.copy_(gen.const.roll(steps, dims=-1))  # type: ignore[attr-defined]


@pytest.mark.parametrize("family", WAVEFORM_FAMILIES)
@pytest.mark.parametrize("upsample", ["transposed", "nearest"])
def test_generator_is_circularly_equivariant_after_its_first_layer(family: str, upsample: str) -> None:
    """Rolling the first layer's output by one step rolls the loop by stride**layers samples,
    so the loop's seam is computed exactly like an interior sample pair. Zero padding breaks it."""
    for seamless in (True, False):
        torch.manual_seed(0)
        gen = build_generator(tiny(family, upsample=upsample, seamless=seamless, upsample_layers=3), 1024).eval()
        gen.noise_mode = "none"
        ws = gen.broadcast_ws(gen.mapping(torch.randn(2, gen.z_dim)))
        with torch.no_grad():
            before = gen.synthesis(ws)
            roll_first_layer(gen, 1)
            after = gen.synthesis(ws)
        rolled = torch.roll(before, 4 ** 3, dims=-1)
        assert torch.allclose(after, rolled, atol=1e-5) == seamless


def seam_statistics(family: str, upsample: str, seamless: bool, *, models: int = 24,
                    per_model: int = 8) -> float:
    """Fraction of loops whose seam jump |x[0] - x[-1]| is at most the 99th percentile of that
    loop's interior jumps |x[t+1] - x[t]|, over several freshly initialised models (a single
    model's fixed first layer makes particular positions special, whatever the padding)."""
    within = []
    for seed in range(models):
        torch.manual_seed(seed)
        gen = build_generator(tiny(family, upsample=upsample, seamless=seamless, upsample_layers=3), 1000).eval()
        with torch.no_grad():
            x = gen(torch.randn(per_model, gen.z_dim))[:, 0]
        interior = (x[:, 1:] - x[:, :-1]).abs()
        seam = (x[:, 0] - x[:, -1]).abs()
        within.append(seam <= interior.quantile(0.99, dim=1))
    return torch.cat(within).float().mean().item()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("upsample", ["transposed", "nearest"])
def test_seam_jump_is_distributed_like_interior_jumps(family: str, upsample: str,
                                                      record_property: pytest.FixtureRequest) -> None:
    """Through the whole model, resampler included (1000 samples from a 1024-sample period)."""
    seamless_fraction = seam_statistics(family, upsample, True)
    assert seamless_fraction >= 0.95
    # Zero padding is reported, not asserted: whether it produces a click depends on the
    # upsampling (transposed layers fade both ends towards the bias, hiding the seam).
    zero_padded_fraction = seam_statistics(family, upsample, False, models=8)
    record_property("seam_within_p99_seamless", seamless_fraction)  # type: ignore[operator]
    record_property("seam_within_p99_zero_padded", zero_padded_fraction)  # type: ignore[operator]
    print(f"{family}/{upsample}: seam within interior p99 for {seamless_fraction:.1%} of loops "
          f"(seamless) vs {zero_padded_fraction:.1%} (zero-padded)")


# ---------------------------------------------------------------------------------------
# Discriminator
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("loop_samples", [16384, 1000, 82688])
@pytest.mark.parametrize("spectral", [False, True])
def test_discriminator_scores_each_loop(loop_samples: int, spectral: bool) -> None:
    cfg = DiscriminatorConfig(channels=4, max_channels=8, kernel_size=9, spectral_norm=spectral)
    disc = build_discriminator(cfg, loop_samples, channels=2)
    length = loop_samples
    for _ in range(cfg.layers):
        length = (length + 2 * (9 // 2) - 9) // 4 + 1
    assert disc.flat_features == 8 * length  # type: ignore[attr-defined]
    scores = disc(torch.randn(3, 2, loop_samples))
    assert scores.shape == (3, 1)
    with pytest.raises(ValueError, match=r"x: expected shape \[batch, 2, "):
        disc(torch.randn(3, 2, loop_samples + 1))


def test_discriminator_spectral_norm_wraps_every_conv_and_dense_layer() -> None:
    disc = build_discriminator(DiscriminatorConfig(channels=4, max_channels=8, spectral_norm=True), 1024)
    layers = [m for m in disc.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    assert len(layers) == 6
    assert all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    plain = build_discriminator(DiscriminatorConfig(channels=4, max_channels=8), 1024)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in plain.modules())


@pytest.mark.parametrize("spectral", [False, True])
def test_discriminator_supports_gradient_penalties(spectral: bool) -> None:
    """R1 and WGAN-GP differentiate the gradient of D with respect to its input."""
    torch.manual_seed(0)
    disc = build_discriminator(DiscriminatorConfig(channels=4, max_channels=8, spectral_norm=spectral), 1024).train()
    x = torch.randn(2, 1, 1024, requires_grad=True)
    (grad,) = torch.autograd.grad(disc(x).sum(), x, create_graph=True)
    penalty = grad.square().sum()
    penalty.backward()
    for name, param in disc.named_parameters():
        if "bias" in name:
            continue  # LeakyReLU is piecewise linear: the input gradient does not depend on biases
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, name


def test_phase_shuffle_shifts_each_example_within_the_radius() -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 3, 50)
    y = phase_shuffle(x, 2)
    shifts_seen = set()
    for b in range(32):
        matches = [s for s in range(-2, 3) if torch.equal(y[b, :, 2:-2], x[b, :, 2 - s:50 - 2 - s])]
        assert len(matches) == 1
        shift = matches[0]
        shifts_seen.add(shift)
        if shift > 0:  # the gap at the start is filled by reflection
            torch.testing.assert_close(y[b, :, :shift], x[b, :, 1:shift + 1].flip(-1))
    assert len(shifts_seen) > 1
    torch.testing.assert_close(phase_shuffle(x, 0), x)


def test_phase_shuffle_only_while_training() -> None:
    torch.manual_seed(0)
    disc = build_discriminator(DiscriminatorConfig(channels=4, max_channels=8), 1024)
    x = torch.randn(8, 1, 1024)
    disc.train()
    with torch.no_grad():
        assert not torch.allclose(disc(x), disc(x))
        disc.eval()
        torch.testing.assert_close(disc(x), disc(x), atol=0, rtol=0)


# ---------------------------------------------------------------------------------------
# ONNX export
# ---------------------------------------------------------------------------------------

class _Synthesis(nn.Module):
    def __init__(self, gen: Generator) -> None:
        super().__init__()
        self.gen = gen

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return self.gen.synthesis(ws)


class _Mapping(nn.Module):
    def __init__(self, gen: Generator) -> None:
        super().__init__()
        self.gen = gen

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.gen.mapping(z)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # raised inside torch.export, not by the models
@pytest.mark.parametrize("family", FAMILIES)
def test_mapping_and_synthesis_export_to_onnx_with_a_dynamic_batch(family: str, tmp_path: object) -> None:
    ort = pytest.importorskip("onnxruntime")
    ort.set_default_logger_severity(3)
    torch.manual_seed(0)
    gen = build_generator(tiny(family, upsample_layers=2, kernel_size=9), 300).eval()
    gen.noise_mode = "const"
    set_noise_strength(gen, 0.3)
    graphs = {"mapping": (_Mapping(gen).eval(), (gen.z_dim,)),
              "synthesis": (_Synthesis(gen).eval(), (gen.num_ws, gen.w_dim))}
    for name, (module, feature_shape) in graphs.items():
        path = f"{tmp_path}/{name}.onnx"
        example = torch.randn(2, *feature_shape)
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(module, (example,), path, dynamo=True, opset_version=18,
                          dynamic_shapes=({0: batch},), input_names=["x"], output_names=["y"], verbose=False)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for batch_size in (1, 3):
            x = torch.randn(batch_size, *feature_shape)
            with torch.no_grad():
                expected = module(x).numpy()
            (got,) = session.run(None, {"x": x.numpy()})
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0, err_msg=f"{family} {name} batch {batch_size}")


# ---------------------------------------------------------------------------------------
# Config errors
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,message", [
    ("family", "stylegan", "model.generator.family: expected 'wavegan', 'style_wavegan' or 'style_grid', got 'stylegan'"),
    ("style_mode", "foo", "model.generator.style_mode: expected 'modulated' or 'adain', got 'foo'"),
    ("upsample", "linear", "model.generator.upsample: expected 'transposed' or 'nearest', got 'linear'"),
    ("z_dim", 0, "model.generator.z_dim: expected a positive integer, got 0"),
    ("channels", -4, "model.generator.channels: expected a positive integer, got -4"),
    ("kernel_size", 2.5, "model.generator.kernel_size: expected a positive integer, got 2.5"),
    ("upsample_layers", 0, "model.generator.upsample_layers: expected a positive integer, got 0"),
    ("stride", 1, "model.generator.stride: expected an integer >= 2, got 1"),
    ("mapping_layers", 0, "model.generator.mapping_layers: expected a positive integer, got 0"),
    ("mapping_lr_multiplier", 0.0, "model.generator.mapping_lr_multiplier: expected a number in (0, 1], got 0.0"),
    ("min_channels", 512, "model.generator.min_channels: expected <= channels (256), got 512"),
    ("seamless", "yes", "model.generator.seamless: expected true or false, got 'yes'"),
])
def test_generator_config_errors_name_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        GeneratorConfig(**{field: value})  # type: ignore[arg-type]
    assert str(excinfo.value) == message


@pytest.mark.parametrize("field,value", [("channels", 0), ("layers", -1), ("kernel_size", 0), ("stride", 0),
                                         ("phase_shuffle", -1), ("max_channels", 8), ("spectral_norm", 1)])
def test_discriminator_config_errors_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^model\.discriminator\.{field}: expected .*, got {value!r}$"):
        DiscriminatorConfig(**{field: value})  # type: ignore[arg-type]


def test_builders_recheck_configs_and_name_a_bad_loop_length() -> None:
    cfg = GeneratorConfig()
    cfg.style_mode = "foo"  # changed after construction
    with pytest.raises(ValueError, match="^model.generator.style_mode: "):
        build_generator(cfg, 1024)
    with pytest.raises(ValueError, match="^loop_samples: expected a positive integer, got 0$"):
        build_generator(GeneratorConfig(), 0)
    with pytest.raises(ValueError, match="^channels: expected a positive integer, got 0$"):
        build_discriminator(DiscriminatorConfig(), 1024, channels=0)
    default = dataclasses.replace(DiscriminatorConfig(), layers=3)
    assert len(build_discriminator(default, 1024).convs) == 3  # type: ignore[attr-defined]


def _dense_resample(x: torch.Tensor, n_in: int, n_out: int, circular: bool) -> torch.Tensor:
    """The textbook form: one row of windowed-sinc weights per output sample."""
    from training.models.layers import _kaiser

    cutoff = 0.97 * min(1.0, n_out / n_in)
    half = int(math.ceil(8 / cutoff))
    pos = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    src = torch.floor(pos)[:, None] + torch.arange(-half + 1, half + 1, dtype=torch.float64)[None, :]
    d = pos[:, None] - src
    w = cutoff * torch.special.sinc(cutoff * d) * _kaiser(d / half, 8.0)
    w = w / w.sum(1, keepdim=True)
    idx = torch.remainder(src, n_in) if circular else torch.clamp(src, 0, n_in - 1)
    return (x[..., idx.long()] * w.float()).sum(-1)


@pytest.mark.parametrize("n_in, n_out", [(1024, 1000), (86016, 82688), (4096, 4410)])
def test_polyphase_resampler_equals_the_per_sample_windowed_sinc(n_in: int, n_out: int) -> None:
    x = torch.randn(2, 3, n_in, generator=torch.Generator().manual_seed(0))
    resampler = LoopResampler(n_in, n_out)
    torch.testing.assert_close(resampler(x), _dense_resample(x, n_in, n_out, circular=True), atol=1e-6, rtol=0)
    edge = LoopResampler(n_in, n_out, circular=False)(x)
    torch.testing.assert_close(edge[..., 32:-32], _dense_resample(x, n_in, n_out, circular=False)[..., 32:-32],
                               atol=1e-6, rtol=0)
    # the stored table is per phase, not per output sample: 2 bars at 128 BPM, 22050 Hz needs 323 phases
    assert resampler.offset.shape[0] == n_out // math.gcd(n_in, n_out) < n_out


def test_nearest_upsampling_repeats_every_sample() -> None:
    x = torch.randn(3, 5, 7)
    torch.testing.assert_close(upsample_nearest_1d(x, 4), x.repeat_interleave(4, dim=-1), atol=0, rtol=0)
