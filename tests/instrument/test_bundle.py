"""The bundle loader, provider choice and `ganloops info`, on small hand-made bundles.

The bundles here are built with onnx.helper (two tiny linear graphs) rather than
exported from a generator, so every damaged variant costs milliseconds. Real exports
are covered in tests/export.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from instrument import onnx_session
from instrument.bundle import (
    FORMAT_NAME,
    BundleError,
    Direction,
    load_bundle,
    read_manifest,
    recheck_parity,
)
from instrument.info import info_main
from instrument.onnx_session import ProviderError, create_session, scan_onnx_model

ROOT = Path(__file__).resolve().parents[2]

Z_DIM, W_DIM, NUM_WS, CHANNELS = 4, 3, 3, 2
SAMPLE_RATE_HZ, BPM, BARS, BEATS_PER_BAR = 100, 120.0, 1, 4
LOOP_SAMPLES = 200  # 1 bar of 4 beats at 120 BPM and 100 Hz


# ---------------------------------------------------------------------------------------
# A toy bundle: mapping = z @ A, synthesis = tanh(mean over styles of ws @ B)
# ---------------------------------------------------------------------------------------


def _model(nodes: list, inputs: list, outputs: list, inits: list, domains: tuple[tuple[str, int], ...] = ()) -> bytes:
    graph = helper.make_graph(nodes, "toy", inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, v) for d, v in domains]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="ganloops-tests")
    model.ir_version = 8
    return model.SerializeToString()


def mapping_model(a: np.ndarray, batch: str | int = "batch", z_dim: int = Z_DIM) -> bytes:
    return _model([helper.make_node("MatMul", ["z", "A"], ["w"], name="map")],
                  [helper.make_tensor_value_info("z", TensorProto.FLOAT, [batch, z_dim])],
                  [helper.make_tensor_value_info("w", TensorProto.FLOAT, [batch, W_DIM])],
                  [numpy_helper.from_array(a, "A")])


def custom_op_mapping_model() -> bytes:
    return _model([helper.make_node("FancyMap", ["z"], ["w"], name="fancy", domain="com.example.ops")],
                  [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", Z_DIM])],
                  [helper.make_tensor_value_info("w", TensorProto.FLOAT, ["batch", W_DIM])],
                  [], domains=(("com.example.ops", 1),))


def synthesis_model(b: np.ndarray) -> bytes:
    nodes = [helper.make_node("ReduceMean", ["ws"], ["w"], axes=[1], keepdims=0, name="mean"),
             helper.make_node("MatMul", ["w", "B"], ["flat"], name="dense"),
             helper.make_node("Reshape", ["flat", "shape"], ["shaped"], name="reshape"),
             helper.make_node("Tanh", ["shaped"], ["audio"], name="tanh")]
    return _model(nodes,
                  [helper.make_tensor_value_info("ws", TensorProto.FLOAT, ["batch", NUM_WS, W_DIM])],
                  [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", CHANNELS, LOOP_SAMPLES])],
                  [numpy_helper.from_array(b, "B"),
                   numpy_helper.from_array(np.array([-1, CHANNELS, LOOP_SAMPLES], dtype=np.int64), "shape")])


def toy_weights() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(123)
    return (rng.standard_normal((Z_DIM, W_DIM)).astype(np.float32),
            (0.3 * rng.standard_normal((W_DIM, CHANNELS * LOOP_SAMPLES))).astype(np.float32))


def toy_render(ws: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.tanh(ws.astype(np.float64).mean(axis=1) @ b).reshape(-1, CHANNELS, LOOP_SAMPLES).astype(np.float32)


def _io(name: str, shape: list[Any]) -> dict[str, Any]:
    return {"name": name, "shape": shape, "dtype": "float32"}


def unit(v: list[float]) -> list[float]:
    a = np.asarray(v, dtype=np.float64)
    return (a / np.linalg.norm(a)).tolist()


def write_toy_bundle(path: Path) -> Path:
    """A complete, valid bundle in folder `path` (one direction, parity reference included)."""
    a, b = toy_weights()
    path.mkdir(parents=True)
    (path / "mapping.onnx").write_bytes(mapping_model(a))
    (path / "synthesis.onnx").write_bytes(synthesis_model(b))
    z = np.stack([np.random.default_rng(s).standard_normal(Z_DIM).astype(np.float32) for s in (0, 1)])
    w = (z.astype(np.float64) @ a).astype(np.float32)
    ws = np.repeat(w[:, None, :], NUM_WS, axis=1)
    audio = toy_render(ws, b)
    np.savez(path / "parity_reference.npz", z=z, w=w, ws=ws, audio=audio)
    manifest = {
        "format": FORMAT_NAME, "format_version": 1, "name": "toy", "family": "toy",
        "sample_rate_hz": SAMPLE_RATE_HZ, "channels": CHANNELS, "bpm": BPM, "beats_per_bar": BEATS_PER_BAR,
        "bars": BARS, "loop_samples": LOOP_SAMPLES, "z_dim": Z_DIM, "w_dim": W_DIM, "num_ws": NUM_WS,
        "layer_groups": {"coarse": [0], "middle": [1], "fine": [2]},
        "w_avg": [0.5, -0.25, 0.0],
        "directions": [{"name": "brightness", "method": "ganspace", "vector": unit([1.0, 2.0, 2.0]),
                        "sigma": 0.75, "knob_sigmas": 2.0, "descriptors": {"spectral_centroid_hz": 120.0},
                        "layers": [1, 2]}],
        "graphs": {
            "mapping": {"file": "mapping.onnx", "opset": 17, "precision": "float32", "sha256": "",
                        "inputs": [_io("z", ["batch", Z_DIM])], "outputs": [_io("w", ["batch", W_DIM])]},
            "synthesis": {"file": "synthesis.onnx", "opset": 17, "precision": "float32", "sha256": "",
                          "inputs": [_io("ws", ["batch", NUM_WS, W_DIM])],
                          "outputs": [_io("audio", ["batch", CHANNELS, LOOP_SAMPLES])]},
        },
        "provenance": {"training_step": 1234, "dataset": {"count": 16, "path": "/data/loops"}},
        "parity": {"reference": "parity_reference.npz", "seeds": [0, 1], "provider": "CPUExecutionProvider",
                   "deterministic": True,
                   "graphs": {"mapping": {"max_abs_error": 1e-7, "bound": 1e-4},
                              "synthesis": {"max_abs_error": 2e-7, "bound": 1e-4}}},
    }
    write_manifest(path, manifest)
    return path


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write `manifest`, filling in the sha256 of each graph file as it is on disk now."""
    for entry in manifest["graphs"].values():
        file = path / entry["file"]
        if file.is_file():
            entry["sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1))


def edit_manifest(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    write_manifest(path, manifest)


@pytest.fixture(scope="module")
def toy_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_bundle(tmp_path_factory.mktemp("toy") / "bundle")


@pytest.fixture
def toy(toy_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of the toy bundle that a test may damage."""
    return Path(shutil.copytree(toy_master, tmp_path / "bundle"))


# ---------------------------------------------------------------------------------------
# A good bundle
# ---------------------------------------------------------------------------------------


def test_toy_bundle_loads_and_renders_what_its_graphs_compute(toy: Path) -> None:
    bundle = load_bundle(toy, provider="cpu")
    a, b = toy_weights()
    z = np.random.default_rng(5).standard_normal((3, Z_DIM)).astype(np.float32)
    w = bundle.map(z)
    np.testing.assert_allclose(w, z @ a, atol=1e-5)
    ws = bundle.broadcast(w)
    assert ws.shape == (3, NUM_WS, W_DIM) and np.array_equal(ws[:, 2], w)
    audio = bundle.synthesize(ws)
    assert audio.shape == (3, CHANNELS, LOOP_SAMPLES) and audio.dtype == np.float32
    np.testing.assert_allclose(audio, toy_render(ws, b), atol=1e-5)
    assert bundle.provider == "CPUExecutionProvider"


def test_manifest_fields_come_back_typed(toy: Path) -> None:
    m = read_manifest(toy)
    assert (m.sample_rate_hz, m.channels, m.bpm, m.bars, m.loop_samples) == (100, 2, 120.0, 1, 200)
    assert m.loop_seconds == pytest.approx(2.0)
    assert m.layer_groups == {"coarse": (0,), "middle": (1,), "fine": (2,)}
    assert m.w_avg.dtype == np.float32 and m.w_avg.tolist() == [0.5, -0.25, 0.0]
    (d,) = m.directions
    assert isinstance(d, Direction) and d.name == "brightness" and d.layers == (1, 2)
    # knob +1 moves 2 sigma along the unit vector
    np.testing.assert_allclose(d.offset(1.0), 2.0 * 0.75 * np.array([1, 2, 2]) / 3.0, rtol=1e-6)
    assert m.parity.graphs["synthesis"].passed


def test_keys_from_later_versions_of_the_format_are_ignored(toy: Path) -> None:
    def add(m: dict[str, Any]) -> None:
        m["tempo_map"] = {"kind": "swing"}
        m["graphs"]["synthesis_int8"] = {"file": "synthesis_int8.onnx"}
    edit_manifest(toy, add)
    assert set(load_bundle(toy, provider="cpu").manifest.graphs) == {"mapping", "synthesis"}


def test_truncation_pulls_towards_w_avg(toy: Path) -> None:
    bundle = load_bundle(toy, provider="cpu")
    w = np.array([[2.5, 1.75, -4.0]], dtype=np.float32)
    np.testing.assert_allclose(bundle.truncate(w, 0.5), [[1.5, 0.75, -2.0]])
    np.testing.assert_allclose(bundle.truncate(w, 0.0), [bundle.manifest.w_avg])
    np.testing.assert_allclose(bundle.truncate(w, 1.0), w)


@pytest.mark.parametrize("bad, culprit", [
    (np.zeros((2, Z_DIM + 1), np.float32), "z: expected shape [batch, 4], got [2, 5]"),
    (np.zeros(Z_DIM, np.float32), "z: expected shape [batch, 4], got [4]"),
    (np.full((1, Z_DIM), np.nan, np.float32), "z: holds NaN"),
    ("loud", "z: expected an array of numbers, got str"),
])
def test_bad_render_input_names_the_culprit(toy: Path, bad: np.ndarray, culprit: str) -> None:
    bundle = load_bundle(toy, provider="cpu")
    with pytest.raises(ValueError) as err:
        bundle.map(bad)
    assert str(err.value).startswith(culprit)


def test_recheck_parity_passes_then_catches_a_changed_reference(toy: Path) -> None:
    checks = recheck_parity(toy, provider="cpu")
    assert [c.graph for c in checks] == ["mapping", "synthesis"]
    assert all(c.passed and c.measured_max_abs_error < 1e-5 for c in checks)
    with np.load(toy / "parity_reference.npz") as npz:
        ref = dict(npz)
    ref["audio"] = ref["audio"] + 0.01
    np.savez(toy / "parity_reference.npz", **ref)
    checks = recheck_parity(toy, provider="cpu")
    assert checks[0].passed and not checks[1].passed
    assert checks[1].measured_max_abs_error == pytest.approx(0.01, rel=1e-3)


# ---------------------------------------------------------------------------------------
# Damaged bundles: each gives one line naming the file and the problem
# ---------------------------------------------------------------------------------------


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(m: dict[str, Any]) -> None:
        m[key] = value
    return edit


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda m: m.pop(key)


def _double_loop(m: dict[str, Any]) -> None:
    # Twice the bars and twice the samples: consistent tempo, but not what the graph renders.
    m["bars"], m["loop_samples"] = 2, 2 * LOOP_SAMPLES


def _bad_direction(m: dict[str, Any]) -> None:
    m["directions"][0]["vector"] = [1.0, 1.0, 1.0]


def _write(name: str, data: bytes | Callable[[bytes], bytes], update_sha: bool = False) -> Callable[[Path], None]:
    def damage(bundle: Path) -> None:
        target = bundle / name
        target.write_bytes(data(target.read_bytes()) if callable(data) else data)
        if update_sha:
            edit_manifest(bundle, lambda m: None)
    return damage


def _manifest_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return lambda bundle: edit_manifest(bundle, edit)


DAMAGES: dict[str, tuple[Callable[[Path], None], str, list[str]]] = {
    # name: (damage, file named in the message, words the message must contain)
    "deleted manifest": (lambda b: (b / "manifest.json").unlink(), "manifest.json", ["missing"]),
    "bad JSON": (_write("manifest.json", b'{"format": "ganloops-bundle", '), "manifest.json", ["not valid JSON"]),
    "NaN in JSON": (_write("manifest.json", lambda d: d.replace(b'"bpm": 120.0', b'"bpm": NaN')),
                    "manifest.json", ["not valid JSON", "NaN"]),
    "not an object": (_write("manifest.json", b"[1, 2]"), "manifest.json", ["JSON object"]),
    "other format": (_manifest_edit(_set("format", "something-else")), "manifest.json", ["'format'"]),
    "format_version 99": (_manifest_edit(_set("format_version", 99)), "manifest.json",
                          ["format_version 99 is not supported"]),
    "missing key": (_manifest_edit(_drop("w_dim")), "manifest.json", ["'w_dim' is missing"]),
    "wrong type": (_manifest_edit(_set("z_dim", "4")), "manifest.json", ["'z_dim' must be a positive integer"]),
    "w_avg length": (_manifest_edit(_set("w_avg", [0.0, 1.0])), "manifest.json", ["'w_avg' must be a list of 3"]),
    "tempo vs length": (_manifest_edit(_set("bpm", 125.0)), "manifest.json", ["'loop_samples'", "125 BPM"]),
    "layer index": (_manifest_edit(lambda m: m["layer_groups"].update(fine=[3])), "manifest.json",
                    ["'layer_groups.fine'"]),
    "direction not unit": (_manifest_edit(_bad_direction), "manifest.json",
                           ["'directions[0].vector' must have unit length"]),
    "graph file outside": (_manifest_edit(lambda m: m["graphs"]["mapping"].update(file="../x.onnx")),
                           "manifest.json", ["'graphs.mapping.file'"]),
    "missing synthesis.onnx": (lambda b: (b / "synthesis.onnx").unlink(), "synthesis.onnx", ["missing"]),
    "truncated synthesis.onnx": (_write("synthesis.onnx", lambda d: d[: len(d) // 2]), "synthesis.onnx",
                                 ["truncated or not an ONNX model"]),
    "random-bytes mapping.onnx": (_write("mapping.onnx", np.random.default_rng(0).bytes(3000)), "mapping.onnx",
                                  ["truncated or not an ONNX model"]),
    "empty mapping.onnx": (_write("mapping.onnx", b""), "mapping.onnx", ["truncated or not an ONNX model"]),
    "replaced graph": (_write("mapping.onnx", mapping_model(toy_weights()[0] * 2)), "mapping.onnx", ["sha256"]),
    "custom operator": (_write("mapping.onnx", custom_op_mapping_model(), update_sha=True), "mapping.onnx",
                        ["com.example.ops", "FancyMap"]),
    "loop_samples vs graph": (_manifest_edit(_double_loop), "synthesis.onnx",
                              ["[batch, 2, 200]", "loop_samples", "[batch, 2, 400]"]),
    "z_dim vs graph": (_write("mapping.onnx", mapping_model(np.ones((5, W_DIM), np.float32), z_dim=5),
                              update_sha=True), "mapping.onnx", ["[batch, 5]", "z_dim"]),
    "fixed batch": (_write("mapping.onnx", mapping_model(toy_weights()[0], batch=1), update_sha=True),
                    "mapping.onnx", ["dynamic batch"]),
    "graph names vs manifest": (_manifest_edit(lambda m: m["graphs"]["synthesis"]["outputs"][0].update(name="y")),
                                "synthesis.onnx", ["'audio'", "lists y"]),
}


@pytest.mark.parametrize("case", list(DAMAGES))
def test_damaged_bundle_fails_with_one_line_naming_the_problem(toy: Path, case: str) -> None:
    damage, file_name, words = DAMAGES[case]
    damage(toy)
    with pytest.raises(BundleError) as err:
        load_bundle(toy, provider="cpu")
    message = str(err.value)
    assert "\n" not in message, message
    assert file_name in message, message
    for word in words:
        assert word in message, message


def test_a_path_that_is_no_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"nowhere: does not exist"):
        load_bundle(tmp_path / "nowhere")


def test_missing_float16_graph_is_named(toy: Path) -> None:
    with pytest.raises(BundleError, match="no float16 synthesis graph"):
        load_bundle(toy, provider="cpu", precision="float16")


def test_info_prints_one_line_for_a_damaged_bundle(toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (toy / "synthesis.onnx").write_bytes(b"\x08\x07garbage")
    assert info_main([str(toy)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "synthesis.onnx" in err and err.startswith("ganloops info: ")


# ---------------------------------------------------------------------------------------
# Reading ONNX structure without the onnx package
# ---------------------------------------------------------------------------------------


def test_scan_lists_opsets_and_operators() -> None:
    scan = scan_onnx_model(synthesis_model(toy_weights()[1]))
    assert scan.opsets == {"": 17} and scan.ir_version == 8
    assert [op for _, op, _ in scan.node_ops] == ["ReduceMean", "MatMul", "Reshape", "Tanh"]
    assert scan.custom_ops() == []
    custom = scan_onnx_model(custom_op_mapping_model())
    assert custom.custom_ops() == [("com.example.ops", "FancyMap", "fancy")]


def test_scan_finds_custom_operators_inside_subgraphs() -> None:
    inner = helper.make_graph([helper.make_node("Secret", ["x"], ["y"], domain="org.hidden")], "then", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=inner, else_branch=inner)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    domains = {d for d, _, _ in scan_onnx_model(model.SerializeToString()).custom_ops()}
    assert domains == {"org.hidden"}


# ---------------------------------------------------------------------------------------
# Provider choice
# ---------------------------------------------------------------------------------------


class _FakeSession:
    """Stands in for ort.InferenceSession: GPU providers 'load' only when `working` says so."""

    working: set[str] = set()

    def __init__(self, model: Any, sess_options: Any = None, providers: list[str] = (), **kwargs: Any) -> None:
        self._providers = [p for p in providers if p in self.working or p == "CPUExecutionProvider"]

    def get_providers(self) -> list[str]:
        return self._providers


@pytest.fixture
def fake_gpu_install(monkeypatch: pytest.MonkeyPatch) -> type[_FakeSession]:
    monkeypatch.setattr(onnx_session.ort, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(onnx_session.ort, "InferenceSession", _FakeSession)
    monkeypatch.setattr(_FakeSession, "working", set())
    return _FakeSession


def test_auto_uses_cuda_only_when_it_really_loads(fake_gpu_install: type[_FakeSession]) -> None:
    assert create_session(b"model", "auto")[1] == "CPUExecutionProvider"  # installed, but no GPU
    fake_gpu_install.working = {"CUDAExecutionProvider", "TensorrtExecutionProvider"}
    assert create_session(b"model", "auto")[1] == "CUDAExecutionProvider"  # never TensorRT unasked
    assert create_session(b"model", "tensorrt")[1] == "TensorrtExecutionProvider"


def test_a_provider_named_explicitly_must_load(fake_gpu_install: type[_FakeSession]) -> None:
    with pytest.raises(ProviderError, match="'cuda' is installed but did not load"):
        create_session(b"model", "cuda")
    with pytest.raises(ProviderError, match="'coreml' .* is not part of this onnxruntime install"):
        create_session(b"model", "coreml")
    with pytest.raises(ProviderError, match="unknown provider 'gpu'"):
        create_session(b"model", "gpu")


def test_auto_candidates_per_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_session.ort, "get_available_providers",
                        lambda: ["CoreMLExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnx_session.auto_candidates("darwin") == ["CoreMLExecutionProvider", "CPUExecutionProvider"]
    assert onnx_session.auto_candidates("linux") == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_real_auto_choice_is_the_provider_in_use_and_prints_nothing(toy_master: Path) -> None:
    code = f"""
        from instrument.onnx_session import create_session
        session, used = create_session({str(toy_master / 'synthesis.onnx')!r}, "auto")
        assert session.get_providers()[0] == used, (session.get_providers(), used)
        print(used)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in ort.get_available_providers()
    assert proc.stderr == ""  # no "Failed to load library ..." screenfuls when a GPU provider is absent


# ---------------------------------------------------------------------------------------
# The loader and `info` run with neither torch nor onnx installed
# ---------------------------------------------------------------------------------------

BLOCK_TORCH_AND_ONNX = textwrap.dedent(
    """
    import importlib.abc, sys
    class _Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "onnx", "onnxscript"):
                raise ModuleNotFoundError(f"No module named '{name}'", name=name)
            return None
    sys.meta_path.insert(0, _Absent())
    """
)


def test_loader_and_info_work_without_torch_or_onnx(toy_master: Path) -> None:
    code = f"""
        import sys
        import numpy as np
        from instrument.bundle import load_bundle
        from instrument.info import info_main
        bundle = load_bundle({str(toy_master)!r}, provider="cpu")
        audio = bundle.render(np.zeros((1, {Z_DIM}), np.float32), psi=0.7)
        assert audio.shape == (1, {CHANNELS}, {LOOP_SAMPLES})
        assert info_main([{str(toy_master)!r}, "--parity", "--provider", "cpu"]) == 0
        leaked = [m for m in sys.modules if m.split(".")[0] in ("torch", "onnx")]
        assert not leaked, leaked
    """
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH_AND_ONNX + textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "parity now" in proc.stdout and "PASS" in proc.stdout


def test_blocker_really_blocks_onnx() -> None:
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH_AND_ONNX + "import onnx"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "No module named 'onnx'" in proc.stderr


# ---------------------------------------------------------------------------------------
# ganloops info
# ---------------------------------------------------------------------------------------


def test_info_lists_manifest_graphs_directions_and_parity(toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert info_main([str(toy), "--provider", "cpu"]) == 0
    out = capsys.readouterr().out
    for text in ["name        toy", "120 BPM", "100 Hz", "200 samples (2.000 s)", "z_dim 4, w_dim 3, num_ws 3",
                 "coarse 0, middle 1, fine 2", "z [batch, 4] -> w [batch, 3]",
                 "ws [batch, 3, 3] -> audio [batch, 2, 200]", "brightness", "sigma 0.75", "+-2 sigma",
                 "layers 1-2", "spectral_centroid_hz +120/sigma", "step 1234", "16 loops",
                 "mapping 1.00e-07 (bound 1e-04)", "synthesis 2.00e-07 (bound 1e-04): PASS"]:
        assert text in out, f"{text!r} not in:\n{out}"
    assert "parity now" not in out


def test_info_parity_exit_status_follows_the_verdict(toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert info_main([str(toy), "--parity", "--provider", "cpu"]) == 0
    assert "parity now" in capsys.readouterr().out
    with np.load(toy / "parity_reference.npz") as npz:
        ref = dict(npz)
    ref["w"] = ref["w"] * 1.5
    np.savez(toy / "parity_reference.npz", **ref)
    assert info_main([str(toy), "--parity", "--provider", "cpu"]) == 1
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("parity now")][0]
    assert line.endswith("FAIL") and "CPUExecutionProvider" in line
