"""Latent directions: GANSpace and SeFa on known cases, naming from measured effects, and export.

The exported bundles come from the session fixture in conftest.py, where `ganloops export`
computes directions by default.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from export.descriptors import DESCRIPTOR_NAMES, describe
from export.directions import (
    MIN_NAMED_EFFECT,
    Candidate,
    DirectionError,
    Effect,
    ganspace,
    measure_directions,
    sample_w,
    sefa,
    sefa_weight_matrix,
)
from export.evaluate import seed_latents
from instrument.bundle import load_bundle, read_manifest
from instrument.cli import main as ganloops
from tests.export.conftest import Exported
from training.models import GeneratorConfig, build_generator

# ---------------------------------------------------------------------------------------
# GANSpace
# ---------------------------------------------------------------------------------------


class PlantedMapping(nn.Module):
    """w = z @ M, with M stretching z by `stretch` along one unit direction: the dominant component."""

    def __init__(self, direction: np.ndarray, stretch: float) -> None:
        super().__init__()
        self.z_dim = self.w_dim = direction.size
        u = torch.from_numpy(direction / np.linalg.norm(direction)).float()
        self.register_buffer("m", torch.eye(self.z_dim) + (stretch - 1.0) * torch.outer(u, u))

    def mapping(self, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        return z @ self.m


def test_ganspace_recovers_a_planted_dominant_direction() -> None:
    planted = np.random.default_rng(0).standard_normal(12)
    planted /= np.linalg.norm(planted)
    w = sample_w(PlantedMapping(planted, stretch=10.0), count=4096)
    found = ganspace(w, count=5)
    assert [c.rank for c in found] == [1, 2, 3, 4, 5] and all(c.method == "ganspace" for c in found)
    assert abs(float(found[0].vector @ planted)) > 0.999
    assert found[0].sigma == pytest.approx(10.0, rel=0.05)             # sqrt of the variance along it
    assert all(c.sigma == pytest.approx(1.0, rel=0.1) for c in found[1:])
    eigenvalues = [c.eigenvalue for c in found]
    assert eigenvalues == sorted(eigenvalues, reverse=True)
    assert found[0].eigenvalue_share == pytest.approx(100.0 / (100.0 + 11.0), rel=0.05)
    for c in found:
        assert np.linalg.norm(c.vector) == pytest.approx(1.0)
        assert c.vector[np.argmax(np.abs(c.vector))] > 0                # sign fixed, so exports are reproducible


# ---------------------------------------------------------------------------------------
# SeFa
# ---------------------------------------------------------------------------------------


def test_sefa_gives_the_eigenvectors_of_a_transpose_a() -> None:
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.standard_normal((20, 6)))
    v, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    singular = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5])
    a = u @ np.diag(singular) @ v.T                                     # AᵀA = V diag(s²) Vᵀ
    w = rng.standard_normal((500, 6)) * np.array([1, 2, 3, 1, 2, 3])
    found = sefa(a, w, count=4)
    assert [c.method for c in found] == ["sefa"] * 4 and [c.rank for c in found] == [1, 2, 3, 4]
    for i, c in enumerate(found):
        assert abs(float(c.vector @ v[:, i])) == pytest.approx(1.0, abs=1e-9)
        assert c.eigenvalue == pytest.approx(singular[i] ** 2)
        assert c.sigma == pytest.approx(float(np.std(w @ c.vector, ddof=1)))
    assert found[0].eigenvalue_share == pytest.approx(25.0 / float(np.sum(singular ** 2)))


@pytest.mark.parametrize("style_mode", ["modulated", "adain"])
def test_sefa_stacks_the_style_affine_layers_of_the_style_generator(style_mode: str) -> None:
    cfg = GeneratorConfig(family="style_wavegan", z_dim=8, w_dim=6, channels=16, min_channels=8, upsample_layers=2,
                          stride=4, kernel_size=5, mapping_layers=2, style_mode=style_mode)
    g = build_generator(cfg, loop_samples=512)
    a = sefa_weight_matrix(g)
    expected = []
    for layer in g.layers:
        affines = [layer.conv.affine] if style_mode == "modulated" else [layer.style_scale, layer.style_shift]
        expected += [(f.weight * f.weight_gain).detach().numpy() for f in affines]
    expected.append((g.to_audio.conv.affine.weight * g.to_audio.conv.affine.weight_gain).detach().numpy())
    np.testing.assert_allclose(a, np.concatenate(expected), rtol=1e-6)
    assert a.shape[1] == g.w_dim


def test_sefa_for_the_grid_generator_stacks_every_map_from_w() -> None:
    cfg = GeneratorConfig(family="style_grid", z_dim=8, w_dim=6, channels=16, min_channels=8, upsample_layers=2,
                          stride=4, kernel_size=5, mapping_layers=2, grid_steps=8, voices=3, voice_steps=2)
    g = build_generator(cfg, loop_samples=512)
    affines = ([layer.conv.affine for layer in g.pattern_layers] + [g.to_velocity.affine]
               + [layer.conv.affine for layer in g.voice_layers] + [g.to_audio.conv.affine, g.envelope.decay, g.level])
    expected = np.concatenate([(f.weight * f.weight_gain).detach().numpy() for f in affines])
    np.testing.assert_allclose(sefa_weight_matrix(g), expected, rtol=1e-6)
    assert expected.shape == (2 * 16 + 16 + (16 + 16 + 8) + 8 + 3 + 1, 6)  # rows: the input width of each


def test_sefa_for_wavegan_is_the_first_dense_layer() -> None:
    cfg = GeneratorConfig(family="wavegan", z_dim=8, w_dim=8, channels=16, min_channels=8, upsample_layers=2,
                          stride=4, kernel_size=5)
    g = build_generator(cfg, loop_samples=512)
    np.testing.assert_array_equal(sefa_weight_matrix(g), g.dense.weight.detach().double().numpy())


def test_sefa_refuses_a_generator_it_has_no_rule_for() -> None:
    with pytest.raises(DirectionError, match="no rule .* PlantedMapping"):
        sefa_weight_matrix(PlantedMapping(np.ones(4), 2.0))


# ---------------------------------------------------------------------------------------
# Naming from measured effects
# ---------------------------------------------------------------------------------------

FAKE_SR_HZ = 8000
FAKE_SAMPLES = 8000


def fake_render(w: np.ndarray) -> np.ndarray:
    """w [B, 3] -> a sine per row: w[0] sets its pitch (brightness), w[1] its level (loudness), w[2] nothing."""
    t = np.arange(FAKE_SAMPLES) / FAKE_SR_HZ
    freq_hz = 1000.0 + 200.0 * w[:, 0:1]
    level = 0.3 * 10.0 ** (2.0 * w[:, 1:2] / 20.0)                     # +2 dB per unit of w[1]
    return (level * np.sin(2 * np.pi * freq_hz * t))[:, None, :].astype(np.float32)


def _candidate(vector: list[float], rank: int) -> Candidate:
    v = np.asarray(vector, dtype=np.float64)
    return Candidate("ganspace", rank, v / np.linalg.norm(v), sigma=1.0, eigenvalue=1.0, eigenvalue_share=0.25)


def test_each_direction_is_named_after_the_descriptor_it_drives() -> None:
    base_w = 0.5 * np.random.default_rng(2).standard_normal((16, 3))
    candidates = [_candidate([1, 0, 0], 1), _candidate([0, -1, 0], 2), _candidate([0, 0, 1], 3),
                  _candidate([-1, 0.1, 0], 4), _candidate([1, 0, 0], 5)]
    directions = measure_directions(fake_render, base_w, candidates, FAKE_SR_HZ, knob_sigmas=1.5)
    names = [d["name"] for d in directions]
    # brightness up; loudness down; a knob that does nothing keeps its method and rank; a mostly-pitch
    # knob with a little level is named after pitch; a second brightness knob gets a number.
    assert names == ["brightness+", "loudness-", "ganspace 3", "brightness-", "brightness+ 2"]

    bright, quiet, inert = directions[0], directions[1], directions[2]
    assert bright["descriptors"]["spectral_centroid_hz"] == pytest.approx(200.0, rel=0.05)   # Hz per +1 sigma
    assert abs(bright["descriptors"]["rms_db"]) < 0.05
    assert quiet["descriptors"]["rms_db"] == pytest.approx(-2.0, rel=0.05)                   # dB per +1 sigma
    assert bright["measurement"]["monotonicity"]["spectral_centroid_hz"] == pytest.approx(1.0)
    assert quiet["measurement"]["monotonicity"]["rms_db"] == pytest.approx(-1.0)
    assert inert["measurement"]["strength"] < MIN_NAMED_EFFECT
    for d in directions:
        assert set(d["descriptors"]) == set(DESCRIPTOR_NAMES) and d["knob_sigmas"] == 1.5
        assert d["measurement"]["knob_positions"] == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_a_name_only_promises_what_the_knob_moves_all_the_way() -> None:
    """A big effect that turns back somewhere along the knob loses to a smaller steady one."""
    def effect(monotonicity: dict[str, float], normalised: dict[str, float]) -> Effect:
        return Effect({k: normalised.get(k, 0.0) for k in DESCRIPTOR_NAMES},
                      {k: monotonicity.get(k, 0.0) for k in DESCRIPTOR_NAMES},
                      {k: normalised.get(k, 0.0) for k in DESCRIPTOR_NAMES})

    wobbly_but_steady = effect({"spectral_centroid_hz": 0.9, "rms_db": -1.0},
                               {"spectral_centroid_hz": 3.0, "rms_db": -0.5})
    assert wobbly_but_steady.strongest() == ("rms_db", 0.5)
    only_wobbly = effect({"spectral_centroid_hz": 0.9}, {"spectral_centroid_hz": 3.0})
    assert only_wobbly.strongest() == ("spectral_centroid_hz", 0.0)


def test_measurement_follows_the_knob_travel() -> None:
    """At knob +1 the loop is rendered knob_sigmas * sigma along the vector from its base w."""
    base_w = np.zeros((2, 3))
    candidate = Candidate("sefa", 1, np.array([1.0, 0.0, 0.0]), sigma=0.5, eigenvalue=1.0, eigenvalue_share=1.0)
    d = measure_directions(fake_render, base_w, [candidate], FAKE_SR_HZ, knob_sigmas=2.0)[0]
    top = d["measurement"]["descriptor_means"]["spectral_centroid_hz"][-1]
    w = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)                  # w0 = knob_sigmas * sigma = 2 * 0.5
    expected = describe(fake_render(w)[0], FAKE_SR_HZ).spectral_centroid_hz
    assert top == pytest.approx(expected)


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


@pytest.fixture(params=["wavegan", "style_wavegan", "style_grid"])
def ex(request: pytest.FixtureRequest, exported: dict[str, Exported]) -> Exported:
    return exported[request.param]


def test_export_writes_named_measured_directions(ex: Exported) -> None:
    m = read_manifest(ex.bundle)
    raw = json.loads((ex.bundle / "manifest.json").read_text())["directions"]
    assert len(m.directions) >= min(8, m.w_dim)
    assert len({d.name for d in m.directions}) == len(m.directions)
    assert {d.method for d in m.directions} == {"ganspace", "sefa"}
    for method in ("ganspace", "sefa"):
        ranked = [d for d in raw if d["method"] == method]
        assert [d["measurement"]["rank"] for d in ranked] == list(range(1, len(ranked) + 1))
        eigenvalues = [d["measurement"]["eigenvalue"] for d in ranked]
        assert eigenvalues == sorted(eigenvalues, reverse=True)
    for d, r in zip(m.directions, raw):
        assert set(d.descriptors) == set(DESCRIPTOR_NAMES) and d.knob_sigmas == 2.0 and d.sigma > 0
        strongest = r["measurement"]["strongest"]
        if r["measurement"]["strength"] >= MIN_NAMED_EFFECT:
            assert d.name.split()[0].endswith("+" if d.descriptors[strongest] > 0 else "-")
        else:
            assert d.name == f"{d.method} {r['measurement']['rank']}"
        assert d.name in ex.stdout


def test_recorded_effects_replay_through_the_instruments_knob(ex: Exported) -> None:
    """Rendering seeds 0..N-1 at knob +1 with Direction.offset gives the descriptor means recorded at export."""
    bundle = load_bundle(ex.bundle, provider="cpu")
    raw = json.loads((ex.bundle / "manifest.json").read_text())["directions"]
    direction, record = bundle.manifest.directions[0], raw[0]["measurement"]
    w = bundle.map(seed_latents(bundle.manifest.z_dim, range(record["seeds"]))) + direction.offset(1.0)
    audio = bundle.synthesize(bundle.broadcast(w))
    mean = np.mean([describe(a, bundle.manifest.sample_rate_hz).vector() for a in audio], axis=0)
    recorded = [record["descriptor_means"][k][-1] for k in DESCRIPTOR_NAMES]
    np.testing.assert_allclose(mean, recorded, rtol=1e-3, atol=1e-3)


def test_export_without_directions_and_bad_direction_options(exported: dict[str, Exported], tmp_path: Path) -> None:
    run_dir = exported["wavegan"].run_dir
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = ganloops(["export", str(run_dir), "-o", str(tmp_path / "plain"), "--no-directions"])
    assert code == 0 and read_manifest(tmp_path / "plain").directions == ()
    assert "latent directions" not in out.getvalue()
    for option, value in (("--direction-seeds", "1"), ("--directions-per-method", "0"), ("--knob-sigmas", "0")):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stop:
            ganloops(["export", str(run_dir), "-o", str(tmp_path / "x"), option, value])
        assert stop.value.code == 2 and option in err.getvalue()
        assert not (tmp_path / "x").exists()
