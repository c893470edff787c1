"""`ganloops export`: a training run (or one checkpoint) -> a verified model bundle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

PROG = "ganloops export"


def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export a trained generator (its EMA weights) as a model bundle: manifest.json, "
                    "mapping.onnx, synthesis.onnx, verified against torch before it is written.")
    parser.add_argument("source", type=Path, metavar="RUN_DIR_OR_CHECKPOINT",
                        help="a run folder (its newest checkpoint is used) or one checkpoint file")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="OUT_BUNDLE", help="bundle folder to write")
    parser.add_argument("--name", default=None, help="the model's name in the manifest (default: OUT_BUNDLE's name)")
    parser.add_argument("--fp16", action="store_true",
                        help="also write synthesis_fp16.onnx (half precision, for GPUs; looser parity bound)")
    parser.add_argument("--force", action="store_true", help="replace OUT_BUNDLE if it exists")
    return parser


def export_main(argv: Sequence[str]) -> int:
    ns = export_parser().parse_args(list(argv))
    from export.bundle_writer import write_bundle
    from export.checkpoint import load_trained_generator
    from export.onnx_export import ExportError

    try:
        trained = load_trained_generator(ns.source)
        print(f"{PROG}: {trained.checkpoint} (step {trained.step}, {trained.family})", file=sys.stderr)
        report = write_bundle(trained.generator, ns.out, name=ns.name or ns.out.resolve().name,
                              timing=trained.timing, family=trained.family, provenance=trained.provenance,
                              fp16=ns.fp16, overwrite=ns.force)
    except ExportError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0
