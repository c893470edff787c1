"""The `ganloops` command.

Each subcommand lives with the package that does the work. Training subcommands are
imported only when asked for, so `ganloops play` works on a stage laptop that has the
runtime alone, and a missing training extra gives one line naming what to install.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Sequence

from instrument import __version__

# name -> (module, function, one-line help). The function takes argv (list[str]) -> int.
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "dataset": ("training.cli", "dataset_main", "build a loop dataset (synth or from a folder of audio)"),
    "train": ("training.cli", "train_main", "train a generator from a config/preset"),
    "export": ("export.cli", "export_main", "export a trained run or checkpoint as a verified model bundle"),
    "play": ("instrument.play", "play_main", "play model bundles live (audio device or JACK, OSC, MIDI, status line)"),
    "devices": ("instrument.devices", "devices_main", "list audio devices and MIDI ports"),
    "info": ("instrument.info", "info_main", "describe a model bundle; --parity re-checks its rendering"),
    "bounce": ("instrument.bounce", "bounce_main", "render loops, latent walks, scene morphs or journals to WAV/FLAC"),
    "eval": ("export.evaluate", "eval_main", "compare a model's loops with a dataset's: descriptors, grid, seams, "
                                             "diversity, a latent walk; PASS/FAIL verdict"),
    "bench": ("instrument.bench", "bench_main", "measure render speed (onnxruntime vs torch), control-to-audio "
                                                "latency, callback time and underruns under JACK"),
}

_TRAIN_EXTRA_MODULES = {"torch", "librosa", "scipy", "soxr", "matplotlib", "onnx", "onnxscript"}


def _usage() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    lines = [f"usage: ganloops <command> [options]   (ganloops {__version__})", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, help_) in SUBCOMMANDS.items()]
    lines += ["", "`ganloops <command> --help` describes each command."]
    return "\n".join(lines)


def _missing_extra(name: str, error: ModuleNotFoundError) -> SystemExit | None:
    """One line naming the extra to install, when `error` is a training module that is absent."""
    missing = (error.name or "").split(".")[0]
    if missing in _TRAIN_EXTRA_MODULES:
        return SystemExit(f"ganloops {name}: needs the training extra (missing module '{missing}'): "
                          f"pip install 'ganloops[train]'")
    return None


def _run(name: str, argv: list[str]) -> int:
    module_name, func_name, _ = SUBCOMMANDS[name]
    try:
        command: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), func_name)
        return int(command(argv) or 0)
    except ModuleNotFoundError as e:
        raise _missing_extra(name, e) or e from None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"ganloops {__version__}")
        return 0
    name = args[0]
    if name not in SUBCOMMANDS:
        print(f"ganloops: unknown command '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return _run(name, args[1:])
    except KeyboardInterrupt:
        print(f"ganloops {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
