"""Every generator family exports to a bundle that loads, matches torch and is deterministic.

The bundles come from the session fixture in conftest.py (`ganloops export` on a real
checkpoint, once per family).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from export.bundle_writer import FLOAT16_BOUND, FLOAT32_BOUND, replace_directions
from instrument.bundle import BundleError, load_bundle, read_manifest
from instrument.cli import main as ganloops
from tests.export.conftest import FAMILIES, SPEC, STEP, Exported

BUNDLE_FILES = {"manifest.json", "mapping.onnx", "synthesis.onnx", "synthesis_fp16.onnx", "parity_reference.npz"}


@pytest.fixture(params=FAMILIES)
def ex(request: pytest.FixtureRequest, exported: dict[str, Exported]) -> Exported:
    return exported[request.param]


@torch.no_grad()
def torch_render(g: torch.nn.Module, z: np.ndarray, psi: float = 1.0) -> np.ndarray:
    return g(torch.from_numpy(z), truncation_psi=psi).numpy()


def latents(count: int, seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, 8)).astype(np.float32)


def test_export_writes_the_bundle_files_and_nothing_else(ex: Exported) -> None:
    assert {p.name for p in ex.bundle.iterdir()} == BUNDLE_FILES
    assert not [p for p in ex.bundle.parent.iterdir() if p.name.startswith(".")]  # no temporaries left
    assert "wrote" in ex.stdout and "max abs error vs torch" in ex.stdout


def test_manifest_describes_the_generator(ex: Exported) -> None:
    m = read_manifest(ex.bundle)
    g = ex.g_ema
    assert (m.name, m.family) == (f"tiny-{ex.family}", ex.family)
    assert (m.sample_rate_hz, m.bpm, m.beats_per_bar, m.bars) == (SPEC.sample_rate, SPEC.bpm, SPEC.beats_per_bar,
                                                                  SPEC.bars)
    assert (m.channels, m.loop_samples) == (SPEC.channels, SPEC.loop_samples) == (g.channels, g.loop_samples)
    assert (m.z_dim, m.w_dim, m.num_ws) == (g.z_dim, g.w_dim, g.num_ws)
    assert m.layer_groups == {k: tuple(v) for k, v in g.layer_groups.items()}
    np.testing.assert_array_equal(m.w_avg, g.w_avg.numpy())
    # export measures latent directions by default: at least min(8, w_dim) named knobs, unit vectors
    assert len(m.directions) >= min(8, m.w_dim)
    assert len({d.name for d in m.directions}) == len(m.directions)
    assert all(abs(np.linalg.norm(d.vector) - 1.0) < 1e-4 and d.sigma > 0 for d in m.directions)
    assert all(spec.opset >= 17 for spec in m.graphs.values())
    prov = m.provenance
    assert prov["training_step"] == STEP and prov["checkpoint"] == str(ex.checkpoint.resolve())
    assert prov["dataset"]["count"] == 3 and prov["code_version"]["describe"] == "test-describe"
    assert prov["training_config"]["model"]["generator"]["family"] == ex.family
    assert prov["export"]["opset"] >= 17 and "dynamo=True" in prov["export"]["exporter"]


def test_recorded_parity_is_within_the_stated_bounds(ex: Exported) -> None:
    p = read_manifest(ex.bundle).parity
    assert p.provider == "CPUExecutionProvider" and p.deterministic and p.seeds == (0, 1)
    assert set(p.graphs) == {"mapping", "synthesis", "synthesis_fp16"}
    for key in ("mapping", "synthesis"):
        assert p.graphs[key].bound == FLOAT32_BOUND == 1e-4
        assert 0.0 <= p.graphs[key].max_abs_error <= FLOAT32_BOUND
    assert p.graphs["synthesis_fp16"].bound == FLOAT16_BOUND
    assert 0.0 < p.graphs["synthesis_fp16"].max_abs_error <= FLOAT16_BOUND


def test_graphs_pass_the_checker_with_weights_inside_and_a_dynamic_batch(ex: Exported) -> None:
    for name in ("mapping.onnx", "synthesis.onnx", "synthesis_fp16.onnx"):
        model = onnx.load(str(ex.bundle / name))
        onnx.checker.check_model(model, full_check=True)
        assert {o.domain for o in model.opset_import} <= {"", "ai.onnx"}
        assert all(t.data_location == onnx.TensorProto.DEFAULT for t in model.graph.initializer)
        for value in [*model.graph.input, *model.graph.output]:
            assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
            assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 at the edges, fp16 too
    half = onnx.load(str(ex.bundle / "synthesis_fp16.onnx"))
    weights = [t for t in half.graph.initializer if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)


def test_bundle_renders_the_ema_generator_with_truncation(ex: Exported) -> None:
    bundle = load_bundle(ex.bundle, provider="cpu")
    z = latents(3)
    for psi in (1.0, 0.6):
        audio = bundle.render(z, psi=psi)
        assert audio.shape == (3, SPEC.channels, SPEC.loop_samples)
        assert np.max(np.abs(audio - torch_render(ex.g_ema, z, psi))) <= 1e-4
    # The exported weights are the EMA copy's, not the trained G's.
    assert np.max(np.abs(bundle.render(z) - torch_render(ex.g, z))) > 1e-3


def test_any_batch_size_renders_each_loop_as_alone(ex: Exported) -> None:
    bundle = load_bundle(ex.bundle, provider="cpu")
    ws = bundle.broadcast(bundle.map(latents(5)))
    together = bundle.synthesize(ws)
    alone = np.concatenate([bundle.synthesize(ws[i:i + 1]) for i in range(5)])
    assert together.shape == (5, SPEC.channels, SPEC.loop_samples)
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_fixed_inputs_render_bit_identical_across_runs_and_loads(ex: Exported) -> None:
    ws = np.load(ex.bundle / "parity_reference.npz")["ws"]
    first = load_bundle(ex.bundle, provider="cpu")
    second = load_bundle(ex.bundle, provider="cpu")
    a, b, c = first.synthesize(ws), first.synthesize(ws), second.synthesize(ws)
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_float16_graph_tracks_torch_within_its_bound(ex: Exported) -> None:
    half = load_bundle(ex.bundle, provider="cpu", precision="float16")
    z = latents(2)
    audio = half.render(z)
    assert audio.dtype == np.float32 and audio.shape == (2, SPEC.channels, SPEC.loop_samples)
    assert np.max(np.abs(audio - torch_render(ex.g_ema, z))) <= FLOAT16_BOUND


def test_parity_reference_mixes_styles_by_layer_group(ex: Exported) -> None:
    ref = np.load(ex.bundle / "parity_reference.npz")
    m = read_manifest(ex.bundle)
    z0 = np.random.default_rng(0).standard_normal(m.z_dim).astype(np.float32)
    np.testing.assert_array_equal(ref["z"][0], z0)
    coarse = list(m.layer_groups["coarse"])
    rest = [i for i in range(m.num_ws) if i not in coarse]
    assert np.array_equal(ref["ws"][1, coarse], np.repeat(ref["w"][None, 0], len(coarse), 0))
    assert np.array_equal(ref["ws"][1, rest], np.repeat(ref["w"][None, 1], len(rest), 0))


def test_info_shows_the_key_figures(ex: Exported, capsys: pytest.CaptureFixture[str]) -> None:
    assert ganloops(["info", str(ex.bundle), "--parity", "--provider", "cpu"]) == 0
    out = capsys.readouterr().out
    m = read_manifest(ex.bundle)
    expected = [f"tiny-{ex.family} (family {ex.family})", f"{SPEC.loop_samples} samples", "120 BPM", "1050 Hz",
                f"z_dim {m.z_dim}, w_dim {m.w_dim}, num_ws {m.num_ws}", f"directions  {len(m.directions)} ", f"step {STEP}",
                *(d.name for d in m.directions),
                *(f"{k} {f.max_abs_error:.2e} (bound {f.bound:.0e})" for k, f in m.parity.graphs.items()),
                "synthesis_fp16  synthesis_fp16.onnx"]
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out}"
    lines = out.splitlines()
    assert lines[-2].startswith("parity ") and lines[-2].endswith(": PASS")
    assert lines[-1].startswith("parity now") and lines[-1].endswith(": PASS")


def test_directions_can_be_stored_later_and_bad_ones_change_nothing(ex: Exported, tmp_path: Path) -> None:
    bundle = Path(shutil.copytree(ex.bundle, tmp_path / "b"))
    w_dim = read_manifest(bundle).w_dim
    vector = np.zeros(w_dim)
    vector[0] = 1.0
    good = {"name": "tilt", "method": "sefa", "vector": vector.tolist(), "sigma": 0.5,
            "descriptors": {"rms_db": 1.5}}
    replace_directions(bundle, [good])
    (d,) = load_bundle(bundle, provider="cpu").manifest.directions
    assert (d.name, d.method, d.sigma, d.knob_sigmas, d.layers) == ("tilt", "sefa", 0.5, 2.0, None)
    before = (bundle / "manifest.json").read_text()
    with pytest.raises(BundleError, match=r"'directions\[1\]\.vector' must be a list of"):
        replace_directions(bundle, [good, {**good, "name": "short", "vector": [1.0]}])
    assert (bundle / "manifest.json").read_text() == before
    assert json.loads(before)["directions"][0]["name"] == "tilt"
