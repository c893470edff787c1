"""A single-producer / single-consumer ring buffer of audio frames.

The mixer thread writes finished master blocks; the audio callback reads them. Neither
side ever waits for the other: there is no lock. Correctness rests on two rules:

- only the producer moves ``_written`` and only the consumer moves ``_read`` (each is a
  monotonically increasing frame count, so "full" and "empty" are never ambiguous);
- the producer copies the frames in *before* publishing the new ``_written``, and the
  consumer copies them out *before* publishing the new ``_read``.

Under CPython a single attribute store is atomic and the interpreter does not reorder
stores across bytecodes, so a reader that sees the new count also sees the frames.

The storage is allocated once. ``read_into`` copies into the caller's array with
``np.copyto`` on slices (views), so the consumer side allocates nothing that outlives the
call.
"""

from __future__ import annotations

import numpy as np


class FrameRing:
    """`capacity_frames` frames of `channels` float32 samples, frames-major ([frame, channel])."""

    def __init__(self, capacity_frames: int, channels: int) -> None:
        if capacity_frames <= 0:
            raise ValueError(f"capacity_frames: expected a positive integer, got {capacity_frames!r}")
        if channels <= 0:
            raise ValueError(f"channels: expected a positive integer, got {channels!r}")
        self.capacity_frames = int(capacity_frames)
        self.channels = int(channels)
        self._buffer = np.zeros((self.capacity_frames, self.channels), dtype=np.float32)
        self._written = 0  # frames ever written; moved by the producer only
        self._read = 0  # frames ever read; moved by the consumer only

    # Both sides ---------------------------------------------------------------------------

    def available_frames(self) -> int:
        """Frames written and not yet read."""
        return self._written - self._read

    def space_frames(self) -> int:
        """Frames the producer may write now without overwriting unread ones."""
        return self.capacity_frames - (self._written - self._read)

    @property
    def frames_written(self) -> int:
        return self._written

    @property
    def frames_read(self) -> int:
        return self._read

    # Producer ----------------------------------------------------------------------------

    def write(self, block: np.ndarray) -> bool:
        """Append `block` [frames, channels]; False (and nothing written) when it does not fit."""
        frames = block.shape[0]
        written = self._written
        if frames > self.capacity_frames - (written - self._read):
            return False
        start = written % self.capacity_frames
        first = min(frames, self.capacity_frames - start)
        self._buffer[start:start + first] = block[:first]
        if first < frames:
            self._buffer[:frames - first] = block[first:]
        self._written = written + frames  # publish after the copy
        return True

    # Consumer ----------------------------------------------------------------------------

    def read_into(self, out: np.ndarray, frames: int) -> bool:
        """Copy the next `frames` frames into ``out[:frames]``; False (nothing read) when fewer are ready.

        Real-time safe: no lock, no allocation beyond transient slice views.
        """
        read = self._read
        if self._written - read < frames:
            return False
        start = read % self.capacity_frames
        first = self.capacity_frames - start
        if first >= frames:
            np.copyto(out[:frames], self._buffer[start:start + frames])
        else:
            np.copyto(out[:first], self._buffer[start:])
            np.copyto(out[first:frames], self._buffer[:frames - first])
        self._read = read + frames  # publish after the copy
        return True

    def discard(self, frames: int) -> int:
        """Drop up to `frames` unread frames (consumer side); returns how many were dropped."""
        frames = min(frames, self._written - self._read)
        self._read += frames
        return frames
