"""The SPSC frame ring between the mixer thread and the audio callback."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from instrument.ringbuffer import FrameRing


def _frames(start: int, count: int, channels: int = 2) -> np.ndarray:
    """Frames whose samples are their own sequence numbers (channel c holds -number for c = 1)."""
    seq = np.arange(start, start + count, dtype=np.float32)
    return np.stack([seq, -seq][:channels], axis=1)


def test_write_then_read_across_the_wrap_point() -> None:
    ring = FrameRing(8, 2)
    out = np.zeros((8, 2), dtype=np.float32)
    assert ring.write(_frames(0, 6))
    assert ring.read_into(out, 5) and np.array_equal(out[:5], _frames(0, 5))
    assert ring.write(_frames(6, 6))  # wraps: 3 frames at the end, 3 at the start
    assert ring.available_frames() == 7 and ring.space_frames() == 1
    assert ring.read_into(out, 7) and np.array_equal(out[:7], _frames(5, 7))
    assert ring.available_frames() == 0


def test_a_block_that_does_not_fit_is_refused_whole() -> None:
    ring = FrameRing(4, 1)
    assert ring.write(_frames(0, 3, channels=1))
    assert not ring.write(_frames(3, 2, channels=1))
    assert ring.frames_written == 3  # nothing of the refused block went in
    out = np.zeros((4, 1), dtype=np.float32)
    assert not ring.read_into(out, 4)  # only 3 ready: nothing read
    assert ring.frames_read == 0
    assert ring.read_into(out, 3) and np.array_equal(out[:3, 0], [0, 1, 2])


def test_discard_drops_unread_frames_only() -> None:
    ring = FrameRing(4, 1)
    ring.write(_frames(0, 3, channels=1))
    assert ring.discard(10) == 3
    assert ring.available_frames() == 0 and ring.space_frames() == 4


@pytest.mark.parametrize("capacity, channels", [(0, 2), (4, 0)])
def test_bad_sizes_name_the_parameter(capacity: int, channels: int) -> None:
    with pytest.raises(ValueError, match="capacity_frames" if capacity == 0 else "channels"):
        FrameRing(capacity, channels)


def test_producer_and_consumer_threads_pass_every_frame_once_in_order() -> None:
    """A producer thread writes numbered frames in random block sizes while a consumer thread
    reads random sizes; the consumer must see exactly 0, 1, 2, ... with no gap, repeat or tear."""
    total = 200_000
    ring = FrameRing(1000, 2)
    received = np.full(total, -1.0, dtype=np.float32)
    torn = []

    def produce() -> None:
        rng = np.random.default_rng(1)
        sent = 0
        while sent < total:
            count = min(int(rng.integers(1, 300)), total - sent)
            block = _frames(sent, count)
            while not ring.write(block):
                time.sleep(0)
            sent += count

    def consume() -> None:
        rng = np.random.default_rng(2)
        out = np.zeros((300, 2), dtype=np.float32)
        got = 0
        while got < total:
            want = min(int(rng.integers(1, 300)), total - got)
            if not ring.read_into(out, want):
                time.sleep(0)
                continue
            if not np.array_equal(out[:want, 1], -out[:want, 0]):
                torn.append(got)
            received[got:got + want] = out[:want, 0]
            got += want

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)
    assert not any(t.is_alive() for t in threads), "producer/consumer deadlocked"
    assert not torn
    assert np.array_equal(received, np.arange(total, dtype=np.float32))
