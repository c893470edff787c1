"""Recording the master output to a WAV file that survives a crash.

The engine's mixer thread hands each master block to ``StreamRecorder.write_block``; the
block is copied into a bounded queue and a writer thread puts it on disk. The audio
callback never touches the recorder, and ``write_block`` never blocks or raises: when the
disk stalls and the queue is full, the lost frames are counted and written as silence
later, so the recording stays aligned with the performance (and its journal) frame for
frame. A failing disk stops the recording with one line in ``error``; the music goes on.

Why the header is patched by hand: a WAV file states its length in two header fields
(the RIFF size and the ``data`` chunk size). libsndfile writes them only when the file is
closed; ``SoundFile.flush()`` pushes the samples to disk but leaves both fields at zero
(checked with libsndfile 1.2), and many programs read such a file as empty. So every half
second the writer flushes and then writes the true sizes into the header with
``os.pwrite`` (and the ``fact`` chunk's frame count for float files). After a crash, a
SIGKILL or a power cut, the file is a valid WAV holding everything up to the last patch:
at most about a second is lost. On a clean close libsndfile writes the final header.

A WAV file cannot exceed 4 GiB (about 7.7 hours of 48 kHz stereo 24-bit); a longer
recording continues in ``NAME-2.wav``, ``NAME-3.wav``, ... without a gap.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["StreamRecorder", "RecorderError", "RecordingSummary", "BYTES_PER_SAMPLE"]

BYTES_PER_SAMPLE: dict[str, int] = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}
# Header fields are 32-bit; leave room for the header itself.
_WAV_MAX_DATA_BYTES = 0xFFFFFFFF - (1 << 20)
_HEADER_SCAN_BYTES = 1 << 16


class RecorderError(ValueError):
    """A recording that cannot start (bad path, format or settings); one line naming the culprit."""


@dataclass(frozen=True)
class RecordingSummary:
    """What a finished recording holds."""

    paths: tuple[Path, ...]
    frames: int
    dropped_frames: int  # frames the queue could not take, written as silence
    sample_rate_hz: int
    error: str | None

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate_hz


@dataclass(frozen=True)
class _DataChunk:
    """Where a WAV file's length fields are: byte offsets of the data chunk and the fact count."""

    data_size_offset: int
    data_start: int
    fact_count_offset: int | None


def _find_data_chunk(path: Path) -> _DataChunk:
    """Walk the RIFF chunks of a just-opened WAV header to the ``data`` chunk."""
    with open(path, "rb") as f:
        head = f.read(_HEADER_SCAN_BYTES)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise RecorderError(f"{path}: libsndfile did not write a RIFF/WAVE header")
    pos = 12
    fact: int | None = None
    while pos + 8 <= len(head):
        chunk_id = head[pos:pos + 4]
        (size,) = struct.unpack_from("<I", head, pos + 4)
        if chunk_id == b"data":
            return _DataChunk(pos + 4, pos + 8, fact)
        if chunk_id == b"fact":
            fact = pos + 8
        pos += 8 + size + (size & 1)
    raise RecorderError(f"{path}: no data chunk in the WAV header")


class _WavPart:
    """One open WAV file and the bookkeeping to keep its header true on disk."""

    def __init__(self, path: Path, sample_rate_hz: int, channels: int, subtype: str) -> None:
        self.path = path
        self.frame_bytes = channels * BYTES_PER_SAMPLE[subtype]
        self.sound = sf.SoundFile(str(path), "w", samplerate=sample_rate_hz, channels=channels,
                                  subtype=subtype, format="WAV")
        self.sound.flush()
        self.chunk = _find_data_chunk(path)
        self.fd = os.open(path, os.O_WRONLY)
        self.frames = 0
        self.patched_frames = -1
        self.commit()  # libsndfile's provisional header says RIFF size 8, which strict readers refuse

    def write(self, block: np.ndarray) -> None:
        self.sound.write(block)
        self.frames += block.shape[0]
        if self.patched_frames == 0 and self.frames:
            # libsndfile rewrites its provisional header (RIFF size 8) on the first write:
            # put the true sizes back at once, not half a second later.
            self.commit()

    def commit(self) -> None:
        """Flush the samples to disk, then make the header state exactly how many there are."""
        if self.frames == self.patched_frames:
            return
        self.sound.flush()
        data_bytes = self.frames * self.frame_bytes
        os.pwrite(self.fd, struct.pack("<I", self.chunk.data_start - 8 + data_bytes), 4)
        os.pwrite(self.fd, struct.pack("<I", data_bytes), self.chunk.data_size_offset)
        if self.chunk.fact_count_offset is not None:
            os.pwrite(self.fd, struct.pack("<I", self.frames), self.chunk.fact_count_offset)
        os.fsync(self.fd)
        self.patched_frames = self.frames

    def close(self) -> None:
        try:
            self.commit()
        finally:
            os.close(self.fd)
            self.sound.close()  # libsndfile writes its own final header


def part_path(path: Path, index: int) -> Path:
    """The file of part `index` (1-based) of a recording: NAME.wav, NAME-2.wav, NAME-3.wav, ..."""
    return path if index == 1 else path.with_name(f"{path.stem}-{index}{path.suffix}")


class StreamRecorder:
    """Streams master blocks [frames, channels] to a crash-safe WAV file from a writer thread.

    Use ``start()``, then ``write_block`` from one producer thread (the engine's mixer),
    then ``close()``. ``frames``/``dropped_frames``/``error`` may be read at any time.
    """

    def __init__(self, path: str | Path, sample_rate_hz: int, channels: int, subtype: str = "PCM_24",
                 queue_blocks: int = 1024, commit_interval_seconds: float = 0.5,
                 overwrite: bool = False, max_data_bytes: int = _WAV_MAX_DATA_BYTES) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".wav":
            raise RecorderError(f"{self.path}: recordings are WAV files (name ends in .wav)")
        if subtype not in BYTES_PER_SAMPLE:
            raise RecorderError(f"{self.path}: subtype must be one of {', '.join(BYTES_PER_SAMPLE)}, got {subtype!r}")
        if sample_rate_hz <= 0 or channels <= 0 or queue_blocks <= 0 or commit_interval_seconds <= 0:
            raise RecorderError(f"{self.path}: sample rate, channels, queue size and commit interval must be "
                                f"positive, got {sample_rate_hz} Hz, {channels}, {queue_blocks}, "
                                f"{commit_interval_seconds} s")
        if not self.path.parent.is_dir():
            raise RecorderError(f"{self.path}: folder {self.path.parent} does not exist")
        if self.path.exists() and not overwrite:
            raise RecorderError(f"{self.path}: exists already (choose another name)")
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = int(channels)
        self.subtype = subtype
        self.commit_interval_seconds = float(commit_interval_seconds)
        frame_bytes = channels * BYTES_PER_SAMPLE[subtype]
        self._max_part_frames = max(1, int(max_data_bytes) // frame_bytes)
        self._queue: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(maxsize=queue_blocks)
        self._thread: threading.Thread | None = None
        self._parts: list[Path] = []
        self._lost_frames = 0  # producer side: frames not queued since the last successful put
        self.dropped_frames = 0
        self.frames = 0  # frames on disk (written by the writer thread)
        self.error: str | None = None
        self._closed = False

    # -- producer side (the mixer thread) --------------------------------------------

    def write_block(self, block: np.ndarray) -> None:
        """Queue a copy of `block` [frames, channels]; never blocks, never raises."""
        if self._closed or self.error is not None or self._thread is None:
            return
        if block.ndim != 2 or block.shape[1] != self.channels:
            self.error = (f"{self.path}: got a block of shape {list(block.shape)}, expected "
                          f"[frames, {self.channels}]; recording stopped")
            return
        try:
            self._queue.put_nowait((self._lost_frames, np.array(block, dtype=np.float32)))
            self._lost_frames = 0
        except queue.Full:
            self._lost_frames += block.shape[0]
            self.dropped_frames += block.shape[0]

    def write(self, block: np.ndarray) -> None:
        """The same as ``write_block``: the engine's ``set_recorder`` sinks are called as ``sink.write(block)``."""
        self.write_block(block)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> "StreamRecorder":
        """Create the file (its header is valid from the first moment) and start the writer."""
        if self._thread is not None:
            return self
        try:
            first = _WavPart(self.path, self.sample_rate_hz, self.channels, self.subtype)
        except (OSError, RuntimeError, sf.LibsndfileError) as e:
            raise RecorderError(f"{self.path}: cannot create ({_one_line(e)})") from None
        self._parts.append(self.path)
        self._thread = threading.Thread(target=self._writer, args=(first,), name="ganloops-recorder", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout_seconds: float = 30.0) -> RecordingSummary:
        """Write what is queued, finish the file(s), and say what they hold."""
        if not self._closed:
            self._closed = True
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout_seconds)
        return RecordingSummary(tuple(self._parts), self.frames, self.dropped_frames, self.sample_rate_hz, self.error)

    def __enter__(self) -> "StreamRecorder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writer thread ----------------------------------------------------------------

    def _writer(self, part: _WavPart) -> None:
        last_commit = time.monotonic()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=self.commit_interval_seconds)
                except queue.Empty:
                    item = ()  # nothing new: still commit below if due
                if item is None:
                    break
                if item:
                    silence_frames, block = item  # type: ignore[misc]
                    if silence_frames:
                        part = self._write(part, np.zeros((silence_frames, self.channels), dtype=np.float32))
                    part = self._write(part, block)
                now = time.monotonic()
                if now - last_commit >= self.commit_interval_seconds:
                    part.commit()
                    last_commit = now
            if self._lost_frames:
                part = self._write(part, np.zeros((self._lost_frames, self.channels), dtype=np.float32))
        except Exception as e:  # disk full, device gone: stop recording, keep the music
            self.error = f"{part.path}: recording stopped ({_one_line(e)})"
            self._drain()
        finally:
            try:
                part.close()
            except Exception as e:
                self.error = self.error or f"{part.path}: could not finish the file ({_one_line(e)})"

    def _write(self, part: _WavPart, block: np.ndarray) -> _WavPart:
        """Write `block`, continuing in the next part file where this one is full."""
        while block.shape[0]:
            room = self._max_part_frames - part.frames
            if room <= 0:
                part.close()
                path = part_path(self.path, len(self._parts) + 1)
                part = _WavPart(path, self.sample_rate_hz, self.channels, self.subtype)
                self._parts.append(path)
                continue
            piece, block = block[:room], block[room:]
            part.write(piece)
            self.frames += piece.shape[0]
        return part

    def _drain(self) -> None:
        """Empty the queue after a failure so a producer never sees it full for good."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return


def _one_line(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
