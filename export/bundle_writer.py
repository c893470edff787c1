"""Write a model bundle from a generator, and prove it works before it lands.

``write_bundle`` exports the graphs into a hidden sibling folder of the destination,
verifies them, writes the manifest and the parity reference, loads the result with the
instrument's own loader, and only then renames the folder into place. A failed or
interrupted export therefore never leaves something that looks like a bundle.

Verification (any failure is an ExportError naming the check and the figures):

1. ``onnx.checker`` (full check, with shape inference) passes on every graph;
2. onnxruntime (CPU) matches torch on fixed inputs: max abs error <= ``FLOAT32_BOUND``
   for ``mapping`` and ``synthesis``, <= ``FLOAT16_BOUND`` for ``synthesis_fp16``;
3. the same inputs give bit-identical outputs on two runs and on a second session;
4. the rendered loop is exactly ``loop_samples`` long (and ``channels`` wide);
5. the written folder loads with ``instrument.bundle.load_bundle`` and re-renders the
   stored reference within the bounds (what ``ganloops info --parity`` does later).

The reference inputs: for each seed in ``PARITY_SEEDS``, z is
``numpy.random.default_rng(seed).standard_normal(z_dim)`` (float32). Row 0 of ws is
the first w at every style input; later rows take the coarse styles from the previous
seed's w and the rest from their own, so style mixing is checked too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import onnx
import torch
from torch import nn

import instrument
from export.onnx_export import (
    EXPORT_OPSET,
    EXPORTER_DESCRIPTION,
    ExportedGraph,
    ExportError,
    convert_to_float16,
    export_mapping,
    export_synthesis,
    prepare_for_export,
)
from instrument.atomic import atomic_write_text
from instrument.bundle import (
    FORMAT_NAME,
    FORMAT_VERSION,
    LOOP_LENGTH_TOLERANCE_SAMPLES,
    MANIFEST_NAME,
    MAPPING_NAME,
    PARITY_REFERENCE_NAME,
    SYNTHESIS_FP16_NAME,
    SYNTHESIS_NAME,
    BundleError,
    expected_loop_samples,
    parse_manifest,
    recheck_parity,
)
from instrument.onnx_session import create_session

FLOAT32_BOUND = 1e-4
"""Max abs error allowed between onnxruntime and torch, float32 graphs (audio is in [-1, 1])."""
FLOAT16_BOUND = 1e-2
"""Max abs error allowed for the float16 synthesis graph against torch float32 (-40 dBFS)."""
PARITY_SEEDS: tuple[int, ...] = (0, 1)
PARITY_PROVIDER = "CPUExecutionProvider"


@dataclass(frozen=True)
class LoopTiming:
    """The musical frame of the loops a generator was trained on."""

    sample_rate_hz: int
    bpm: float
    beats_per_bar: int
    bars: int


@dataclass
class BundleReport:
    """What ``write_bundle`` wrote and measured."""

    path: Path
    manifest: dict[str, Any]
    errors: dict[str, float] = field(default_factory=dict)   # graph -> max abs error vs torch
    seconds: float = 0.0

    def summary(self) -> str:
        parity = ", ".join(f"{g} {e:.2e}" for g, e in self.errors.items())
        m = self.manifest
        return (f"wrote {self.path} ({m['family']}, {m['loop_samples']} samples at {m['sample_rate_hz']} Hz, "
                f"num_ws {m['num_ws']}) in {self.seconds:.1f} s; max abs error vs torch: {parity}")


# ---------------------------------------------------------------------------------------
# Reference inputs and outputs
# ---------------------------------------------------------------------------------------


def reference_latents(z_dim: int, seeds: tuple[int, ...] = PARITY_SEEDS) -> np.ndarray:
    """z [len(seeds), z_dim] float32, one row per seed (numpy's default generator)."""
    return np.stack([np.random.default_rng(s).standard_normal(z_dim).astype(np.float32) for s in seeds])


def reference_styles(w: np.ndarray, num_ws: int, coarse: list[int]) -> np.ndarray:
    """ws [K, num_ws, w_dim]: row 0 is w[0] everywhere; row k > 0 takes its coarse styles from w[k-1]."""
    ws = np.repeat(w[:, None, :], num_ws, axis=1).copy()
    for k in range(1, len(w)):
        ws[k, coarse] = w[k - 1]
    return ws


@torch.no_grad()
def torch_reference(generator: nn.Module, seeds: tuple[int, ...] = PARITY_SEEDS) -> dict[str, np.ndarray]:
    """z, w, ws and audio computed by torch (the generator must be prepared for export)."""
    z = reference_latents(generator.z_dim, seeds)
    w = generator.mapping(torch.from_numpy(z), truncation_psi=1.0).numpy().astype(np.float32)
    ws = reference_styles(w, generator.num_ws, list(generator.layer_groups["coarse"]))
    audio = generator.synthesis(torch.from_numpy(ws)).numpy().astype(np.float32)
    return {"z": z, "w": w, "ws": ws, "audio": audio}


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------


def check_onnx(graph: ExportedGraph, name: str) -> None:
    """onnx.checker with full_check (shape inference included)."""
    try:
        onnx.checker.check_model(str(graph.path), full_check=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"{name}: onnx.checker rejects the graph ({first})") from e


def run_graph(graph: ExportedGraph, x: np.ndarray, name: str) -> np.ndarray:
    """Run `graph` on the CPU twice and on a second session; fail unless all three agree exactly."""
    feed = {graph.inputs[0].name: x}
    session, _ = create_session(str(graph.path), "cpu")
    first = session.run(None, feed)[0]
    second = session.run(None, feed)[0]
    fresh, _ = create_session(str(graph.path), "cpu")
    third = fresh.run(None, feed)[0]
    if not (np.array_equal(first, second) and np.array_equal(first, third)):
        raise ExportError(f"{name}: the same inputs gave different outputs on repeated runs "
                          f"(max difference {np.max(np.abs(first - second)):.3g}); the graph is not deterministic")
    return first


def compare(name: str, got: np.ndarray, expected: np.ndarray, bound: float) -> float:
    """Max abs error of `got` against `expected`; ExportError when the shapes differ or it exceeds `bound`."""
    if got.shape != expected.shape:
        raise ExportError(f"{name}: onnxruntime gives shape {list(got.shape)}, torch {list(expected.shape)}")
    error = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
    if not math.isfinite(error) or error > bound:
        raise ExportError(f"{name}: onnxruntime differs from torch by up to {error:.3g} (bound {bound:g})")
    return error


def check_loop_length(audio: np.ndarray, channels: int, loop_samples: int) -> None:
    if audio.shape[1:] != (channels, loop_samples):
        raise ExportError(f"synthesis: renders [{', '.join(map(str, audio.shape[1:]))}] per loop, the manifest "
                          f"says channels {channels}, loop_samples {loop_samples}")


# ---------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def graph_entry(graph: ExportedGraph) -> dict[str, Any]:
    return {"file": graph.path.name, "opset": graph.opset, "precision": graph.precision,
            "sha256": sha256_file(graph.path),
            "inputs": [t.to_json() for t in graph.inputs], "outputs": [t.to_json() for t in graph.outputs]}


def _git_describe() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def build_manifest(generator: nn.Module, *, name: str, family: str, timing: LoopTiming,
                   graphs: Mapping[str, ExportedGraph], errors: Mapping[str, float], bounds: Mapping[str, float],
                   provenance: Mapping[str, Any], seeds: tuple[int, ...]) -> dict[str, Any]:
    """The manifest of a bundle holding `graphs` (see docs/bundle.md for every field)."""
    import onnxruntime

    g = generator
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": name,
        "family": family,
        "sample_rate_hz": timing.sample_rate_hz,
        "channels": g.channels,
        "bpm": float(timing.bpm),
        "beats_per_bar": timing.beats_per_bar,
        "bars": timing.bars,
        "loop_samples": g.loop_samples,
        "z_dim": g.z_dim,
        "w_dim": g.w_dim,
        "num_ws": g.num_ws,
        "layer_groups": {k: list(v) for k, v in g.layer_groups.items()},
        "w_avg": [float(x) for x in g.w_avg.detach().cpu().float().numpy()],
        "directions": [],
        "graphs": {key: graph_entry(graph) for key, graph in graphs.items()},
        "provenance": {
            **provenance,
            "export": {"exporter": EXPORTER_DESCRIPTION, "opset": EXPORT_OPSET,
                       "ganloops_version": instrument.__version__, "code_version": _git_describe(),
                       "onnxruntime_version": onnxruntime.__version__, "exported_unix": time.time()},
        },
        "parity": {
            "reference": PARITY_REFERENCE_NAME,
            "seeds": list(seeds),
            "provider": PARITY_PROVIDER,
            "deterministic": True,
            "graphs": {key: {"max_abs_error": errors[key], "bound": bounds[key]} for key in graphs},
        },
    }


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def _check_timing(generator: nn.Module, timing: LoopTiming) -> None:
    exact = expected_loop_samples(timing.sample_rate_hz, timing.bpm, timing.bars, timing.beats_per_bar)
    if abs(generator.loop_samples - exact) > LOOP_LENGTH_TOLERANCE_SAMPLES:
        raise ExportError(f"the generator renders {generator.loop_samples} samples, but {timing.bars} bars of "
                          f"{timing.beats_per_bar} beats at {timing.bpm:g} BPM and {timing.sample_rate_hz} Hz "
                          f"last {exact:.2f} samples")


def _export_and_verify(g: nn.Module, folder: Path, fp16: bool,
                       seeds: tuple[int, ...]) -> tuple[dict[str, ExportedGraph], dict[str, float], dict[str, float],
                                                        dict[str, np.ndarray]]:
    graphs = {"mapping": export_mapping(g, folder / MAPPING_NAME),
              "synthesis": export_synthesis(g, folder / SYNTHESIS_NAME)}
    if fp16:
        graphs["synthesis_fp16"] = convert_to_float16(graphs["synthesis"].path, folder / SYNTHESIS_FP16_NAME)
    for key, graph in graphs.items():
        check_onnx(graph, key)

    ref = torch_reference(g, seeds)
    check_loop_length(ref["audio"], g.channels, g.loop_samples)
    bounds = {"mapping": FLOAT32_BOUND, "synthesis": FLOAT32_BOUND, "synthesis_fp16": FLOAT16_BOUND}
    errors = {"mapping": compare("mapping", run_graph(graphs["mapping"], ref["z"], "mapping"), ref["w"],
                                 bounds["mapping"])}
    for key in [k for k in graphs if k != "mapping"]:
        audio = run_graph(graphs[key], ref["ws"], key)
        check_loop_length(audio, g.channels, g.loop_samples)
        try:
            errors[key] = compare(key, audio, ref["audio"], bounds[key])
        except ExportError as e:
            hint = "; export without --fp16 to skip the float16 graph" if key == "synthesis_fp16" else ""
            raise ExportError(f"{e}{hint}") from None
    return graphs, errors, {k: bounds[k] for k in graphs}, ref


def write_bundle(generator: nn.Module, out_dir: str | Path, *, name: str, timing: LoopTiming,
                 family: str | None = None, provenance: Mapping[str, Any] | None = None, fp16: bool = False,
                 overwrite: bool = False, seeds: tuple[int, ...] = PARITY_SEEDS) -> BundleReport:
    """Export `generator` (pass the EMA weights) as a verified bundle in folder `out_dir`.

    ``family`` defaults to ``generator.config.family``; ``provenance`` is stored as given
    (dataset summary, training config, code version, training step, checkpoint path)
    plus a description of this export. Raises ExportError (one line) when a check fails
    or `out_dir` exists and `overwrite` is false.
    """
    started = time.monotonic()
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ExportError(f"{out_dir}: already exists (use --force to replace it)")
    if not name:
        raise ExportError("name: a bundle needs a non-empty name")
    family = family or getattr(getattr(generator, "config", None), "family", None)
    if not family:
        raise ExportError("family: not given and the generator has no config.family")
    _check_timing(generator, timing)

    g = prepare_for_export(generator)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        graphs, errors, bounds, ref = _export_and_verify(g, tmp, fp16, seeds)
        np.savez_compressed(tmp / PARITY_REFERENCE_NAME, **ref)
        manifest = build_manifest(g, name=name, family=family, timing=timing, graphs=graphs, errors=errors,
                                  bounds=bounds, provenance=dict(provenance or {}), seeds=seeds)
        parse_manifest(json.loads(json.dumps(manifest)), where=f"{out_dir}/{MANIFEST_NAME}")
        _write_json(tmp / MANIFEST_NAME, manifest)
        try:
            rechecks = recheck_parity(tmp, provider="cpu")
        except BundleError as e:
            raise ExportError(f"the written bundle does not load: {e}") from None
        failed = [c for c in rechecks if not c.passed]
        if failed:
            c = failed[0]
            raise ExportError(f"{c.graph}: re-rendering the stored reference gives error {c.measured_max_abs_error:.3g} "
                              f"(bound {c.bound:g})")
        _replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return BundleReport(path=out_dir, manifest=manifest, errors=errors, seconds=time.monotonic() - started)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder `src` to `dst`; an older `dst` is moved aside first, then deleted."""
    if not dst.exists():
        os.replace(src, dst)
        return
    old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)


def replace_directions(bundle_dir: str | Path, directions: list[Mapping[str, Any]]) -> None:
    """Store `directions` (schema in docs/bundle.md) in a bundle's manifest, atomically.

    The new manifest is checked with the instrument's parser before it replaces the old
    one, so a bad direction (wrong length, not unit-norm, duplicate name) leaves the
    bundle as it was.
    """
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    data["directions"] = [dict(d) for d in directions]
    parse_manifest(json.loads(json.dumps(data, allow_nan=False)), where=str(path))
    atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
