"""Performance journals: everything that changed the sound, stamped with its output frame.

A journal is a JSON-lines file. The first line is a header: the engine configuration, the
provider, the frame recording started at, the transport, and what the mixer was playing
then (so recording can start mid-performance). Every further line is one event::

    {"frame": 96000, "kind": "control", "args": ["/ganloops/deck/1/knob/3", [0.5]]}
    {"frame": 96256, "kind": "swap", "args": {"deck": 1, "bundle": "...", "state": {...}, "tempo_bpm": 128.0}}
    {"frame": 97024, "kind": "shift", "args": 0.0125}
    {"frame": 480000, "kind": "end", "args": {}}

``control`` events are the accepted control changes, applied by the mixer at the first
frame of a block; ``swap`` events are the moments a newly rendered loop started to replace
the playing one, with everything needed to render it again; ``meter`` sets the bar length
in beats; ``shift`` moves the transport's position by that many beats at a block's first
frame (an outside clock such as Ableton Link lining up bars, ``Engine.shift_transport``).
Lines are written by a writer thread and flushed at least once a second (and at every
``end``), so a crash loses at most the last second.

``replay`` runs the engine's mixer offline over the journal: control events at their
frames, swaps rendered synchronously and started at exactly their frames. Rendering and
mixing are deterministic, so the replay reproduces the live master output bit for bit
(given the same bundles and provider).
"""

from __future__ import annotations

import collections
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Deque, Iterator, Protocol, TextIO

import numpy as np

JOURNAL_FORMAT = "ganloops-journal"
JOURNAL_VERSION = 1
EVENT_KINDS: tuple[str, ...] = ("control", "swap", "meter", "shift", "end")
FLUSH_INTERVAL_SECONDS = 1.0


class JournalError(ValueError):
    """A journal that cannot be read or replayed; one line naming the file (and line)."""


class BlockWriter(Protocol):
    def write(self, block: np.ndarray) -> Any: ...


@dataclass(frozen=True)
class Event:
    frame: int
    kind: str
    args: Any

    def to_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "kind": self.kind, "args": self.args}


def open_journal_file(path: str | Path) -> TextIO:
    """Create (or truncate) a journal file now, so a bad path fails in the caller with one line."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8")
    except OSError as e:
        raise JournalError(f"{path}: cannot write a journal there ({e.strerror or e})") from None


class JournalWriter:
    """Appends events to an open journal file from a background thread.

    The mixer thread only builds the header and queues events; the header and every event
    are written and flushed by the writer thread, so the mixer never waits on the disk.
    """

    def __init__(self, path: str | Path, file: TextIO, header: dict[str, Any]) -> None:
        self.path = Path(path)
        self._file = file
        self._header = {"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, **header}
        self._header_written = False
        self._queue: Deque[Event] = collections.deque()
        self._wake = threading.Event()
        self._closed = False
        self.events_written = 0
        self._thread = threading.Thread(target=self._run, name="ganloops-journal", daemon=True)
        self._thread.start()

    def record(self, frame: int, kind: str, args: Any) -> None:
        """Queue one event (cheap; called from the mixer thread)."""
        self._queue.append(Event(int(frame), kind, args))
        self._wake.set()

    def _drain(self) -> None:
        wrote = False
        if not self._header_written:
            self._file.write(json.dumps(self._header, allow_nan=False) + "\n")
            self._header_written = True
            wrote = True
        while self._queue:
            event = self._queue.popleft()
            self._file.write(json.dumps(event.to_json(), allow_nan=False) + "\n")
            self.events_written += 1
            wrote = True
        if wrote:
            self._file.flush()

    def _run(self) -> None:
        self._drain()  # the header, at once
        while not self._closed:
            self._wake.wait(FLUSH_INTERVAL_SECONDS)
            self._wake.clear()
            self._drain()

    def close(self, end_frame: int) -> None:
        """Write the end event, flush everything to disk and close the file."""
        if self._closed:
            return
        self.record(end_frame, "end", {})
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        self._drain()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


@dataclass
class Journal:
    """A journal read back: its header and its events in file order."""

    path: Path
    header: dict[str, Any]
    events: list[Event]

    @property
    def start_frame(self) -> int:
        return int(self.header.get("start_frame", 0))

    @property
    def end_frame(self) -> int:
        """The frame of the ``end`` event, or the last event's frame when the recording was cut short."""
        for event in reversed(self.events):
            if event.kind == "end":
                return event.frame
        return self.events[-1].frame if self.events else self.start_frame


def read_journal(path: str | Path) -> Journal:
    """Read a journal; a torn last line (crash while writing) is ignored, anything else wrong raises JournalError."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise JournalError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise JournalError(f"{path}: not a text file") from None
    if not lines:
        raise JournalError(f"{path}: empty, not a ganloops journal")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        raise JournalError(f"{path}: line 1 is not JSON, not a ganloops journal") from None
    if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
        raise JournalError(f"{path}: not a ganloops journal (no '{JOURNAL_FORMAT}' header)")
    if header.get("version") != JOURNAL_VERSION:
        raise JournalError(f"{path}: journal version {header.get('version')!r} is not one this version reads "
                           f"({JOURNAL_VERSION})")
    events: list[Event] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break  # the line being written when the process died
            raise JournalError(f"{path}: line {number} is not JSON") from None
        if (not isinstance(data, dict) or not isinstance(data.get("frame"), int)
                or data.get("kind") not in EVENT_KINDS or "args" not in data):
            raise JournalError(f"{path}: line {number} is not an event (frame, kind, args)")
        events.append(Event(data["frame"], data["kind"], data["args"]))
    return Journal(path, header, events)


def iter_replay(journal_path: str | Path, provider: str | None = None,
                frames: int | None = None) -> Iterator[np.ndarray]:
    """Replay a journal offline, yielding master blocks [block_frames, channels] (the last may be shorter).

    ``provider`` defaults to the one recorded live; ``frames`` (from the journal's start)
    defaults to the recording's length.
    """
    from instrument.engine import Engine

    journal = read_journal(journal_path)
    engine = Engine.for_replay(journal, provider=provider)
    total = journal.end_frame - journal.start_frame if frames is None else int(frames)
    yield from engine.replay_blocks(journal, total)


def replay(journal_path: str | Path, writer: BlockWriter | None = None, provider: str | None = None,
           frames: int | None = None, progress: Callable[[int], None] | None = None) -> np.ndarray | None:
    """Replay a journal: the master output as one array [frames, channels], or streamed into `writer`.

    With a `writer` (anything with ``write(block)``, e.g. a ``soundfile.SoundFile``) the
    blocks go there as they are made and None is returned, so hours of performance replay
    in constant memory. `progress` is called with the frames done so far.
    """
    blocks: list[np.ndarray] = []
    done = 0
    for block in iter_replay(journal_path, provider=provider, frames=frames):
        if writer is not None:
            writer.write(block)
        else:
            blocks.append(block)
        done += block.shape[0]
        if progress is not None:
            progress(done)
    if writer is not None:
        return None
    if not blocks:
        journal = read_journal(journal_path)
        channels = int(journal.header.get("config", {}).get("channels", 2))
        return np.zeros((0, channels), dtype=np.float32)
    return np.concatenate(blocks, axis=0)
