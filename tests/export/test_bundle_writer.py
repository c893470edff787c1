"""The exporter's own checks fail when they should, and failures leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import export.bundle_writer as writer
from export.bundle_writer import LoopTiming, compare, run_graph, write_bundle
from export.checkpoint import load_trained_generator
from export.onnx_export import ExportedGraph, ExportError, topological_sort
from instrument.bundle import TensorSpec
from instrument.cli import main as ganloops
from tests.export.conftest import FAMILY_CONFIGS, SPEC, make_run
from training.models import build_generator

TIMING = LoopTiming(sample_rate_hz=SPEC.sample_rate, bpm=SPEC.bpm, beats_per_bar=SPEC.beats_per_bar, bars=SPEC.bars)


@pytest.fixture(scope="module")
def generator() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_generator(FAMILY_CONFIGS["wavegan"], SPEC.loop_samples, SPEC.channels)


def _save(tmp_path: Path, nodes: list, name: str = "g.onnx") -> ExportedGraph:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, str(path))
    spec = (TensorSpec("x", ("batch", 4), "float32"),)
    return ExportedGraph(path, 17, "float32", spec, (TensorSpec("y", ("batch", 4), "float32"),))


def test_a_graph_that_draws_random_numbers_fails_the_determinism_check(tmp_path: Path) -> None:
    graph = _save(tmp_path, [helper.make_node("RandomNormalLike", ["x"], ["r"]),
                             helper.make_node("Add", ["x", "r"], ["y"])])
    with pytest.raises(ExportError, match="synthesis: the same inputs gave different outputs"):
        run_graph(graph, np.ones((2, 4), np.float32), "synthesis")
    plain = _save(tmp_path, [helper.make_node("Neg", ["x"], ["y"])], "plain.onnx")
    np.testing.assert_array_equal(run_graph(plain, np.ones((2, 4), np.float32), "mapping"), -np.ones((2, 4)))


def test_compare_enforces_the_bound_and_the_shape() -> None:
    a = np.zeros((2, 1, 8), np.float32)
    assert compare("synthesis", a + 5e-5, a, 1e-4) == pytest.approx(5e-5)
    with pytest.raises(ExportError, match=r"synthesis: onnxruntime differs from torch by up to 0.0002 \(bound 0.0001\)"):
        compare("synthesis", a + 2e-4, a, 1e-4)
    with pytest.raises(ExportError, match="differs from torch by up to nan"):
        compare("synthesis", a * np.nan, a, 1e-4)
    with pytest.raises(ExportError, match=r"shape \[2, 1, 7\], torch \[2, 1, 8\]"):
        compare("synthesis", a[..., :7], a, 1e-4)


def test_topological_sort_puts_producers_first() -> None:
    nodes = [helper.make_node("Neg", ["b"], ["y"], name="second"), helper.make_node("Abs", ["x"], ["b"], name="first")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    topological_sort(graph)
    assert [n.name for n in graph.node] == ["first", "second"]
    loop = helper.make_graph([helper.make_node("Neg", ["y"], ["b"]), helper.make_node("Abs", ["b"], ["y"])], "g",
                             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    with pytest.raises(ExportError, match="cycle"):
        topological_sort(loop)


def test_failed_export_leaves_no_folder(generator: torch.nn.Module, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ExportError("synthesis: onnxruntime differs from torch by up to 0.5 (bound 0.0001)")

    monkeypatch.setattr(writer, "_export_and_verify", broken)
    with pytest.raises(ExportError, match="differs from torch"):
        write_bundle(generator, tmp_path / "out", name="x", timing=TIMING)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_and_wrong_timing_are_refused_before_any_work(generator: torch.nn.Module,
                                                                     tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(ExportError, match="taken: already exists"):
        write_bundle(generator, tmp_path / "taken", name="x", timing=TIMING)
    wrong = LoopTiming(sample_rate_hz=SPEC.sample_rate, bpm=130.0, beats_per_bar=4, bars=1)
    with pytest.raises(ExportError, match=r"renders 2100 samples, but 1 bars of 4 beats at 130 BPM"):
        write_bundle(generator, tmp_path / "out", name="x", timing=wrong)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_run_folder_source_uses_its_newest_checkpoint(tmp_path: Path) -> None:
    make_run(tmp_path / "run", FAMILY_CONFIGS["wavegan"], step=3)
    make_run(tmp_path / "run", FAMILY_CONFIGS["wavegan"], step=9, seed=1)
    trained = load_trained_generator(tmp_path / "run")
    assert trained.step == 9 and trained.checkpoint.name == "ckpt_0000009.pt"
    assert trained.timing == TIMING and trained.family == "wavegan"
    assert trained.provenance["run_folder"] == str((tmp_path / "run").resolve())


def _bad_source(tmp_path: Path, kind: str) -> Path:
    if kind == "empty run folder":
        (tmp_path / "run").mkdir()
        return tmp_path / "run"
    if kind == "junk file":
        (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
        return tmp_path / "junk.pt"
    if kind == "foreign checkpoint":
        torch.save({"step": 1}, tmp_path / "other.pt")
        return tmp_path / "other.pt"
    return tmp_path / "nowhere"


@pytest.mark.parametrize("kind, message", [
    ("missing", "nowhere: no such run folder or checkpoint file"),
    ("empty run folder", "no checkpoint in"),
    ("junk file", "junk.pt: cannot be read as a checkpoint"),
    ("foreign checkpoint", "other.pt: not a ganloops training checkpoint"),
])
def test_export_cli_names_a_bad_source_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   kind: str, message: str) -> None:
    source = _bad_source(tmp_path, kind)
    assert ganloops(["export", str(source), "-o", str(tmp_path / "bundle")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("ganloops export: ") and message in err, err
    assert not (tmp_path / "bundle").exists()


def test_export_cli_refuses_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_run(tmp_path / "run", FAMILY_CONFIGS["wavegan"])
    (tmp_path / "bundle").mkdir()
    assert ganloops(["export", str(tmp_path / "run"), "-o", str(tmp_path / "bundle")]) == 1
    assert "already exists (use --force to replace it)" in capsys.readouterr().err
