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
}

_TRAIN_EXTRA_MODULES = {"torch", "librosa", "scipy", "soxr", "matplotlib", "onnx", "onnxscript"}


def _usage() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    lines = [f"usage: ganloops <command> [options]   (ganloops {__version__})", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, help_) in SUBCOMMANDS.items()]
    lines += ["", "`ganloops <command> --help` describes each command."]
    return "\n".join(lines)


def _load(name: str) -> Callable[[list[str]], int]:
    module_name, func_name, _ = SUBCOMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = (e.name or "").split(".")[0]
        if missing in _TRAIN_EXTRA_MODULES:
            raise SystemExit(
                f"ganloops {name}: needs the training extra (missing module '{missing}'): "
                f"pip install 'ganloops[train]'"
            ) from None
        raise
    return getattr(module, func_name)


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
        return int(_load(name)(args[1:]) or 0)
    except KeyboardInterrupt:
        print(f"ganloops {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
