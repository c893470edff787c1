"""`ganloops info BUNDLE [--parity]`: what a model bundle is, and whether it still renders right.

Works on the stage runtime alone (no torch): the bundle is loaded and checked exactly as
``ganloops play`` would load it, then described. ``--parity`` renders the reference
inputs stored in the bundle again and compares them with torch's output stored at export
time; the exit status is 1 when a graph exceeds its bound.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from instrument.bundle import Bundle, BundleError, Manifest, ParityCheck, load_bundle, recheck_parity
from instrument.onnx_session import PROVIDER_CHOICES, ProviderError

PROG = "ganloops info"
_LABEL_WIDTH = 11


def info_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Describe a model bundle and check it loads.")
    parser.add_argument("bundle", type=Path, help="bundle folder")
    parser.add_argument("--parity", action="store_true",
                        help="re-render the stored reference inputs and compare with the export's torch output")
    parser.add_argument("--provider", default="auto", choices=PROVIDER_CHOICES,
                        help="onnxruntime execution provider (default: auto)")
    return parser


def _line(label: str, text: str) -> str:
    return f"{label.ljust(_LABEL_WIDTH)} {text}"


def _ranges(indices: Iterable[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    values = sorted(set(indices))
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(parts)


def _shape(shape: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def describe_manifest(m: Manifest) -> list[str]:
    """The manifest summary: format, model, loop timing, latent sizes."""
    groups = ", ".join(f"{k} {_ranges(v)}" for k, v in m.layer_groups.items())
    return [
        _line("format", f"ganloops-bundle v{m.format_version}"),
        _line("name", f"{m.name} (family {m.family})"),
        _line("loop", f"{m.bars} bar(s) of {m.beats_per_bar} beats at {m.bpm:g} BPM, {m.sample_rate_hz} Hz, "
                      f"{m.channels} channel(s): {m.loop_samples} samples ({m.loop_seconds:.3f} s)"),
        _line("latent", f"z_dim {m.z_dim}, w_dim {m.w_dim}, num_ws {m.num_ws}; layer groups {groups}"),
    ]


def describe_graphs(bundle: Bundle, half: Bundle | None) -> list[str]:
    """One line per graph, from the loaded sessions (what onnxruntime really sees)."""
    m = bundle.manifest
    sessions = [("mapping", bundle.mapping_session), ("synthesis", bundle.synthesis_session)]
    if half is not None:
        sessions.append(("synthesis_fp16", half.synthesis_session))
    lines = [_line("graphs", f"run on {bundle.provider}")]
    for key, session in sessions:
        spec = m.graphs[key]
        i, o = session.get_inputs()[0], session.get_outputs()[0]
        lines.append(f"  {key:<15} {spec.file:<20} opset {spec.opset}  {spec.precision}  "
                     f"{i.name} {_shape(i.shape)} -> {o.name} {_shape(o.shape)}")
    return lines


def describe_directions(m: Manifest) -> list[str]:
    if not m.directions:
        return [_line("directions", "none")]
    lines = [_line("directions", f"{len(m.directions)} (knob k moves w by k x knob_sigmas x sigma along the vector)")]
    for n, d in enumerate(m.directions, start=1):
        layers = "all layers" if d.layers is None else f"layers {_ranges(d.layers)}"
        descriptors = ", ".join(f"{k} {v:+.3g}/sigma" for k, v in d.descriptors.items()) or "no descriptors"
        lines.append(f"  {n:>2} {d.name:<16} {d.method:<8} sigma {d.sigma:.4g}  knob +-1 = +-{d.knob_sigmas:g} sigma  "
                     f"{layers}  {descriptors}")
    return lines


def describe_provenance(provenance: Mapping[str, Any]) -> list[str]:
    parts = []
    if "training_step" in provenance:
        parts.append(f"step {provenance['training_step']}")
    dataset = provenance.get("dataset")
    if isinstance(dataset, dict):
        source = dataset.get("source")
        kind = source.get("kind") if isinstance(source, dict) else None
        parts.append(f"dataset {dataset.get('count', '?')} loops" + (f" ({kind})" if kind else "")
                     + (f" from {dataset['path']}" if dataset.get("path") else ""))
    code = provenance.get("code_version")
    if isinstance(code, dict) and code.get("describe"):
        parts.append(f"code {code['describe']}")
    if provenance.get("checkpoint"):
        parts.append(f"checkpoint {provenance['checkpoint']}")
    return [_line("training", "; ".join(parts) if parts else "no provenance recorded")]


def recorded_parity_line(m: Manifest) -> str:
    p = m.parity
    figures = ", ".join(f"{k} {f.max_abs_error:.2e} (bound {f.bound:.0e})" for k, f in p.graphs.items())
    verdict = "PASS" if all(f.passed for f in p.graphs.values()) and p.deterministic else "FAIL"
    return _line("parity", f"at export on {p.provider}, max abs error vs torch: {figures}: {verdict}")


def parity_check_line(checks: Sequence[ParityCheck]) -> str:
    figures = ", ".join(f"{c.graph} {c.measured_max_abs_error:.2e} (bound {c.bound:.0e}, "
                        f"recorded {c.recorded_max_abs_error:.2e})" for c in checks)
    verdict = "PASS" if all(c.passed for c in checks) else "FAIL"
    provider = checks[0].provider if checks else "?"
    return _line("parity now", f"re-rendered on {provider}, max abs error vs torch: {figures}: {verdict}")


def info_main(argv: Sequence[str]) -> int:
    ns = info_parser().parse_args(list(argv))
    try:
        bundle = load_bundle(ns.bundle, provider=ns.provider)
        m = bundle.manifest
        half = load_bundle(ns.bundle, provider=bundle.provider, precision="float16") \
            if "synthesis_fp16" in m.graphs else None
        lines = [_line("bundle", str(ns.bundle))]
        lines += describe_manifest(m) + describe_graphs(bundle, half) + describe_directions(m)
        lines += describe_provenance(m.provenance) + [recorded_parity_line(m)]
        print("\n".join(lines))
        if not ns.parity:
            return 0
        checks = recheck_parity(ns.bundle, provider=bundle.provider)
    except (BundleError, ProviderError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    print(parity_check_line(checks))
    return 0 if all(c.passed for c in checks) else 1
