"""`ganloops export`: a training run (or one checkpoint) -> a verified model bundle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import torch

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
    directions = parser.add_argument_group(
        "latent directions", "GANSpace and SeFa directions, measured on rendered audio and named after what "
                             "they change (docs/evaluation.md); computed by default")
    directions.add_argument("--no-directions", action="store_true",
                            help="write the bundle without directions (they can be added later with "
                                 "export.bundle_writer.replace_directions)")
    directions.add_argument("--directions-per-method", type=int, default=8, metavar="N",
                            help="directions kept per method, GANSpace and SeFa (default 8; at most w_dim)")
    directions.add_argument("--direction-seeds", type=int, default=16, metavar="N",
                            help="loops rendered per knob position to measure each direction (default 16)")
    directions.add_argument("--knob-sigmas", type=float, default=2.0, metavar="S",
                            help="how many standard deviations a knob at +-1 moves (default 2)")
    return parser


def export_main(argv: Sequence[str]) -> int:
    parser = export_parser()
    ns = parser.parse_args(list(argv))
    if ns.directions_per_method < 1:
        parser.error(f"--directions-per-method: expected a positive number, got {ns.directions_per_method}")
    if ns.direction_seeds < 2:
        parser.error(f"--direction-seeds: expected at least 2, got {ns.direction_seeds}")
    if not ns.knob_sigmas > 0:
        parser.error(f"--knob-sigmas: expected a positive number, got {ns.knob_sigmas}")
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
    if ns.no_directions:
        return 0
    return _add_directions(ns, trained.generator, report.path)


def _add_directions(ns: argparse.Namespace, generator: "torch.nn.Module", bundle: Path) -> int:
    """Compute, measure and store the bundle's latent directions; print one line per direction."""
    import time

    from export.bundle_writer import replace_directions
    from export.descriptors import DescriptorError
    from export.directions import DirectionError, compute_directions, describe_directions
    from instrument.bundle import BundleError

    started = time.monotonic()
    try:
        directions = compute_directions(generator, bundle, per_method=ns.directions_per_method,
                                        seeds=ns.direction_seeds, knob_sigmas=ns.knob_sigmas)
        replace_directions(bundle, directions)
    except (DirectionError, DescriptorError, BundleError) as e:
        print(f"{PROG}: directions: {e} (the bundle was written without them; --no-directions skips this step)",
              file=sys.stderr)
        return 1
    print(f"{len(directions)} latent directions measured on {ns.direction_seeds} seeds "
          f"in {time.monotonic() - started:.1f} s:")
    print("\n".join(describe_directions(directions)))
    return 0
