"""`ganloops dataset` and `ganloops train`: argument parsing only; the work lives in
training.data.* and training.loop."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data.store import DatasetError, LoopSpec


def _spec_args(p: argparse.ArgumentParser, sample_rate_default: int) -> None:
    p.add_argument("--bpm", type=float, default=128.0, help="tempo of every loop (default 128)")
    p.add_argument("--bars", type=int, default=2, help="loop length in bars (default 2)")
    p.add_argument("--beats-per-bar", type=int, default=4, help="beats per bar (default 4)")
    p.add_argument("--sample-rate", type=int, default=sample_rate_default,
                   help=f"sample rate in Hz (default {sample_rate_default})")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _spec(ns: argparse.Namespace) -> LoopSpec:
    return LoopSpec(sample_rate=ns.sample_rate, bpm=ns.bpm, bars=ns.bars,
                    beats_per_bar=ns.beats_per_bar, channels=1)


def dataset_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganloops dataset", description="Build a dataset of bar-aligned loops.")
    sub = parser.add_subparsers(dest="kind", required=True)

    s = sub.add_parser("synth", help="procedural electronic loops (techno, house, electro, breakbeat)")
    s.add_argument("out", type=Path, help="dataset folder to write")
    s.add_argument("--count", type=int, default=64, help="number of loops (default 64)")
    s.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same dataset")
    s.add_argument("--styles", default=None,
                   help="comma-separated styles to draw from (default: all of them)")
    s.add_argument("--drumkits", type=Path, default=None,
                   help="folder of Hydrogen drumkits (default: /usr/share/hydrogen/data/drumkits when present)")
    s.add_argument("--synth-drums", action="store_true",
                   help="use synthesized 808/909-style drums even when recorded kits are installed")
    _spec_args(s, sample_rate_default=22050)

    f = sub.add_parser("folder", help="slice a folder tree of audio files into tempo-aligned loops")
    f.add_argument("input", type=Path, help="folder to scan (WAV/FLAC/OGG/AIFF/MP3, recursively)")
    f.add_argument("out", type=Path, help="dataset folder to write")
    f.add_argument("--stride-beats", type=float, default=None,
                   help="hop between loop starts in beats (default: one bar)")
    f.add_argument("--min-bpm", type=float, default=120.0, help="skip material slower than this (default 120)")
    f.add_argument("--max-bpm", type=float, default=145.0, help="skip material faster than this (default 145)")
    f.add_argument("--silence-db", type=float, default=-50.0,
                   help="drop slices whose RMS is below this level in dBFS (default -50)")
    _spec_args(f, sample_rate_default=22050)
    return parser


def dataset_main(argv: list[str]) -> int:
    ns = dataset_parser().parse_args(argv)
    try:
        spec = _spec(ns)
    except ValueError as e:
        print(f"ganloops dataset: {e}", file=sys.stderr)
        return 2
    try:
        if ns.kind == "synth":
            from training.data.synth import build_synth_dataset

            styles = [s.strip() for s in ns.styles.split(",")] if ns.styles else None
            out = build_synth_dataset(ns.out, count=ns.count, spec=spec, seed=ns.seed, styles=styles,
                                      drumkit_root=ns.drumkits, use_recorded_kits=not ns.synth_drums,
                                      overwrite=ns.force, progress=not ns.no_progress)
            print(f"wrote {ns.count} loops to {out}")
            return 0
        from training.data.folder import build_folder_dataset

        stride = ns.stride_beats if ns.stride_beats is not None else float(spec.beats_per_bar)
        report = build_folder_dataset(ns.input, ns.out, spec=spec, stride_beats=stride,
                                      bpm_range=(ns.min_bpm, ns.max_bpm), silence_db=ns.silence_db,
                                      overwrite=ns.force, progress=not ns.no_progress)
        print(report.summary())
        return 0 if report.loops_written > 0 else 1
    except (DatasetError, FileExistsError, FileNotFoundError, ValueError) as e:
        print(f"ganloops dataset: {e}", file=sys.stderr)
        return 1


def train_main(argv: list[str]) -> int:
    from training.loop import train_main as _train_main

    return _train_main(argv)
