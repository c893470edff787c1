"""Atomic file writes: readers see the old file or the new one, never part of one.

Everything the instrument and the exporter write (bundles' manifests, scenes, MIDI
mappings, bounces, reports, plots) goes through a hidden temporary sibling that is
renamed over the target only once it is complete; on any failure the temporary file
is removed and the target is untouched.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; on success it replaces `path`.

    The writer chooses the format itself (a temporary name has no meaningful suffix), e.g.
    ``soundfile.write(tmp, ..., format="WAV")`` or ``fig.savefig(tmp, format="png")``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
