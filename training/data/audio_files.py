"""Finding the audio files of a folder tree and decoding them to mono sections at one rate.

Whether a file is audio is decided by libsndfile (through soundfile) trying to open it,
not by its extension: sample packs are full of loops saved as `.aif` that are WAV, takes
without an extension, and `.wav` files that are something else. Hidden files and folders
(names starting with a dot: `.DS_Store`, macOS `._loop.wav` resource forks, `.git`) are
not material and are not looked at.

Long files (DJ sets, whole tracks) are decoded in sections of about a minute, as the
ElectroGAN dataset was built: each section gets its own tempo analysis, so a set whose
tempo moves is followed, and memory stays bounded however long the file is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import librosa
import numpy as np
import soundfile as sf


class UnreadableAudio(Exception):
    """The file cannot be decoded; `reason` is one line for the dataset report, "category: detail"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AudioSection:
    """A stretch of a file, mixed to mono and resampled."""

    start_seconds: float
    """Where the section starts in the source file."""
    samples: np.ndarray
    """float32 mono samples at the rate asked for."""


def find_candidate_files(root: Path, exclude: Path | None = None) -> list[Path]:
    """Every regular, non-hidden file under `root`, recursively, in a stable (sorted) order.

    `exclude` (a folder, typically the dataset being written when it lies inside `root`)
    is not descended into, so a rebuild does not read its own previous output.
    """
    root = Path(root)
    exclude_resolved = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and (exclude_resolved is None or (here / d).resolve() != exclude_resolved))
        for name in sorted(filenames):
            path = here / name
            if not name.startswith(".") and path.is_file():
                found.append(path)
    return found


_TRUNCATION = re.compile(r"^(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def damage_note(info_log: str) -> str | None:
    """A note when libsndfile's header log says the audio chunk is shorter than declared.

    libsndfile quietly reads what is there; the dataset report should still say that the
    file was cut short (an interrupted copy or download).
    """
    match = _TRUNCATION.search(info_log)
    if not match:
        return None
    declared, present = int(match.group(2)), int(match.group(3))
    if present >= declared:
        return None
    return f"truncated: the header declares {declared} bytes of audio, the file holds {present}"


@dataclass(frozen=True)
class AudioFileInfo:
    """What the header says, checked before any decoding."""

    sample_rate_hz: int
    channels: int
    frames: int
    damage: str | None

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate_hz


def probe(path: Path) -> AudioFileInfo:
    """Open `path` with libsndfile and read its header; UnreadableAudio says why it cannot be used."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UnreadableAudio(f"unreadable: cannot open ({e.strerror})") from None
    if size == 0:
        raise UnreadableAudio("empty: 0 bytes")
    try:
        with sf.SoundFile(path) as f:
            info = AudioFileInfo(sample_rate_hz=int(f.samplerate), channels=int(f.channels),
                                 frames=int(f.frames), damage=damage_note(f.extra_info))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        detail = getattr(e, "error_string", None) or str(e)
        raise UnreadableAudio(f"unreadable: not audio that libsndfile can read ({detail})") from None
    if info.sample_rate_hz <= 0:
        raise UnreadableAudio(f"unreadable: invalid sample rate {info.sample_rate_hz} Hz in the header")
    if info.frames <= 0:
        raise UnreadableAudio(info.damage or "no audio: the file holds no frames")
    return info


def read_mono_sections(path: Path, sample_rate_hz: int, section_seconds: float) -> Iterator[AudioSection]:
    """Decode `path` in sections of about `section_seconds`, mixed to mono and resampled.

    The file is split into equal sections (between 0.67 and 1.5 times `section_seconds`,
    one section when shorter than that), read one after another; the last one reads to
    the end of the stream, since compressed formats may report an approximate length.
    Resampling uses soxr (librosa's 'soxr_hq'). A decoding error part-way raises
    UnreadableAudio after the sections before it were delivered.
    """
    try:
        with sf.SoundFile(path) as f:
            native_hz = int(f.samplerate)
            total = int(f.frames)
            section_frames = max(1, int(round(section_seconds * native_hz)))
            n_sections = max(1, int(round(total / section_frames)))
            bounds = np.linspace(0, total, n_sections + 1).round().astype(np.int64)
            for k in range(n_sections):
                count = int(bounds[k + 1] - bounds[k]) if k < n_sections - 1 else -1
                try:
                    block = f.read(count, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as e:
                    detail = getattr(e, "error_string", None) or str(e)
                    at_seconds = bounds[k] / native_hz
                    raise UnreadableAudio(f"unreadable: decoding failed at {at_seconds:.1f} s ({detail})") from None
                if block.shape[0] == 0:
                    return
                mono = block.mean(axis=1)
                if native_hz != sample_rate_hz:
                    mono = librosa.resample(mono, orig_sr=native_hz, target_sr=sample_rate_hz, res_type="soxr_hq")
                yield AudioSection(start_seconds=float(bounds[k]) / native_hz,
                                   samples=np.ascontiguousarray(mono, dtype=np.float32))
    except (sf.LibsndfileError, RuntimeError) as e:
        detail = getattr(e, "error_string", None) or str(e)
        raise UnreadableAudio(f"unreadable: not audio that libsndfile can read ({detail})") from None


__all__ = ["AudioFileInfo", "AudioSection", "UnreadableAudio", "damage_note", "find_candidate_files",
           "probe", "read_mono_sections"]
