"""The on-disk format of a loop dataset, shared by every dataset builder and the trainer.

A dataset is a folder::

    DATASET/
      manifest.json   what the loops are (sample rate, tempo, bars, count, per-item origin)
      loops.f32       raw little-endian float32, C order, shape [count, channels, loop_samples]

The array is read memory-mapped, so a dataset larger than memory trains fine. Builds are
atomic: a writer fills a hidden sibling folder and renames it into place only when the
manifest is complete, so an interrupted build never leaves a folder that looks finished.

This module needs numpy only (no torch, no librosa).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

FORMAT_NAME = "ganloops-loops"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
ARRAY_NAME = "loops.f32"


class DatasetError(ValueError):
    """A dataset folder that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class LoopSpec:
    """What every loop of a dataset shares: its rate, tempo and length in bars."""

    sample_rate: int
    bpm: float
    bars: int
    beats_per_bar: int = 4
    channels: int = 1

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if not (0 < self.bpm < 1000):
            raise ValueError(f"bpm must be in (0, 1000), got {self.bpm}")
        if self.bars <= 0 or self.beats_per_bar <= 0 or self.channels <= 0:
            raise ValueError("bars, beats_per_bar and channels must be positive")

    @property
    def beats(self) -> int:
        return self.bars * self.beats_per_bar

    @property
    def beat_samples(self) -> float:
        """Length of one beat in samples (not necessarily an integer)."""
        return 60.0 * self.sample_rate / self.bpm

    @property
    def loop_samples(self) -> int:
        """Length of one loop in samples, rounded to the nearest whole sample."""
        return int(round(self.beats * self.beat_samples))

    @property
    def loop_seconds(self) -> float:
        return self.loop_samples / self.sample_rate


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class LoopStoreWriter:
    """Writes a dataset atomically. Use as a context manager; call `commit()` at the end.

    >>> with LoopStoreWriter(out, spec, source={"kind": "synth"}) as w:
    ...     w.append(loop, origin={"style": "techno"})
    ...     w.commit()

    Leaving the block without `commit()` (an exception, Ctrl-C) removes the partial folder.
    """

    def __init__(self, out_dir: str | os.PathLike, spec: LoopSpec, source: dict[str, Any],
                 overwrite: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.spec = spec
        self.source = dict(source)
        self.overwrite = overwrite
        if self.out_dir.exists() and not overwrite:
            raise FileExistsError(f"{self.out_dir}: already exists (pass --force to replace it)")
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._tmp_dir = self.out_dir.with_name(f".{self.out_dir.name}.partial-{os.getpid()}")
        if self._tmp_dir.exists():
            shutil.rmtree(self._tmp_dir)
        self._tmp_dir.mkdir()
        self._array_file = open(self._tmp_dir / ARRAY_NAME, "wb")
        self._items: list[dict[str, Any]] = []
        self._committed = False

    def __enter__(self) -> "LoopStoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._committed:
            self.abort()

    @property
    def count(self) -> int:
        return len(self._items)

    def append(self, loop: np.ndarray, origin: dict[str, Any]) -> None:
        """Add one loop, shaped [samples] (mono) or [channels, samples]."""
        arr = np.asarray(loop, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        expected = (self.spec.channels, self.spec.loop_samples)
        if arr.shape != expected:
            raise ValueError(f"loop shape {arr.shape} does not match the dataset's {expected}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"loop from {origin} contains NaN or inf")
        self._array_file.write(np.ascontiguousarray(arr, dtype="<f4").tobytes())
        self._items.append(dict(origin))

    def write_extra(self, name: str, text: str) -> None:
        """Add a small text file (a report, say) that lands in the dataset folder with it."""
        if "/" in name or name in (MANIFEST_NAME, ARRAY_NAME):
            raise ValueError(f"invalid extra file name {name!r}")
        _atomic_write_text(self._tmp_dir / name, text)

    def commit(self) -> Path:
        """Write the manifest and move the finished dataset into place."""
        if self.count == 0:
            self.abort()
            raise DatasetError(f"{self.out_dir}: no loops were produced, nothing written")
        self._array_file.flush()
        os.fsync(self._array_file.fileno())
        self._array_file.close()
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            **asdict(self.spec),
            "loop_samples": self.spec.loop_samples,
            "count": self.count,
            "dtype": "float32",
            "array": ARRAY_NAME,
            "created_unix": time.time(),
            "source": self.source,
            "items": self._items,
        }
        _atomic_write_text(self._tmp_dir / MANIFEST_NAME, json.dumps(manifest, indent=1))
        if self.out_dir.exists():
            old = self.out_dir.with_name(f".{self.out_dir.name}.old-{os.getpid()}")
            os.replace(self.out_dir, old)
            os.replace(self._tmp_dir, self.out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self._tmp_dir, self.out_dir)
        self._committed = True
        return self.out_dir

    def abort(self) -> None:
        if not self._array_file.closed:
            self._array_file.close()
        shutil.rmtree(self._tmp_dir, ignore_errors=True)


class LoopStore:
    """A finished dataset, read memory-mapped. `store[i]` is a float32 [channels, samples] view."""

    def __init__(self, path: Path, manifest: dict[str, Any], loops: np.ndarray) -> None:
        self.path = path
        self.manifest = manifest
        self.loops = loops
        self.spec = LoopSpec(
            sample_rate=int(manifest["sample_rate"]), bpm=float(manifest["bpm"]),
            bars=int(manifest["bars"]), beats_per_bar=int(manifest["beats_per_bar"]),
            channels=int(manifest["channels"]),
        )

    @classmethod
    def open(cls, path: str | os.PathLike) -> "LoopStore":
        path = Path(path)
        mpath = path / MANIFEST_NAME
        if not path.is_dir():
            raise DatasetError(f"{path}: not a dataset folder")
        if not mpath.is_file():
            raise DatasetError(f"{mpath}: missing (is the build finished?)")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DatasetError(f"{mpath}: unreadable manifest ({e})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise DatasetError(f"{mpath}: not a ganloops loop dataset manifest")
        if manifest.get("version") != FORMAT_VERSION:
            raise DatasetError(f"{mpath}: unsupported dataset format version {manifest.get('version')!r}")
        for key in ("sample_rate", "bpm", "bars", "beats_per_bar", "channels", "loop_samples", "count"):
            if not isinstance(manifest.get(key), (int, float)) or isinstance(manifest.get(key), bool):
                raise DatasetError(f"{mpath}: key {key!r} is missing or not a number")
        count, ch, n = int(manifest["count"]), int(manifest["channels"]), int(manifest["loop_samples"])
        apath = path / manifest.get("array", ARRAY_NAME)
        expected_bytes = count * ch * n * 4
        if not apath.is_file() or apath.stat().st_size != expected_bytes:
            size = apath.stat().st_size if apath.is_file() else "missing"
            raise DatasetError(f"{apath}: expected {expected_bytes} bytes for [{count}, {ch}, {n}] float32, found {size}")
        loops = np.memmap(apath, dtype="<f4", mode="r", shape=(count, ch, n))
        store = cls(path, manifest, loops)
        if store.spec.loop_samples != n:
            raise DatasetError(f"{mpath}: loop_samples {n} contradicts {store.spec.bars} bars at {store.spec.bpm} BPM, {store.spec.sample_rate} Hz")
        return store

    def __len__(self) -> int:
        return self.loops.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        return self.loops[index]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.loops[i]

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.manifest.get("items", [])


def loop_samples_for(bars: int, bpm: float, sample_rate: int, beats_per_bar: int = 4) -> int:
    """Length in samples of `bars` bars at `bpm` (see LoopSpec.loop_samples)."""
    return LoopSpec(sample_rate=sample_rate, bpm=bpm, bars=bars, beats_per_bar=beats_per_bar).loop_samples


__all__ = ["DatasetError", "LoopSpec", "LoopStore", "LoopStoreWriter", "loop_samples_for",
           "FORMAT_NAME", "FORMAT_VERSION", "MANIFEST_NAME", "ARRAY_NAME"]
