"""Keeping the engine's bars on an outside clock's bars (Ableton Link, a MIDI clock).

An outside clock says "at host time t you are at beat b". The engine counts output
frames. To put bar 1 beat 1 of the engine where the clock's bar starts, three questions
have to be answered, each away from the audio callback:

1. **Which frame is being heard now?** The engine only tells how many frames the sound
   card has taken (``Engine.transport_frames``); that count moves in steps of one device
   block at each callback. ``FrameClock`` samples it at random moments (a poller at
   ~10 ms, jittered so it never locks onto the callback period) and takes the median of
   ``frames - rate * t`` over a window: the middle of the staircase, i.e. the frame in the
   middle of the block the device is playing. Subtracting half a block and the device's
   output latency gives the frame at the speaker. Medians shrug off the odd sample taken
   while the mixer was between two writes, and a clock that stopped or jumped (device
   lost, engine restarted) empties the window instead of dragging the estimate.
2. **How far apart are the two grids?** The engine's position at that frame
   (``transport.beats_at``) against the clock's, modulo the bar (the quantum), folded into
   half a bar either way.
3. **How to close the gap without a click?** A large gap (the first lock, a tempo jump on
   the other side, more than ``jump_threshold_seconds`` for several updates in a row) is
   closed at once: the transport jumps. Small gaps (clock drift between the sound card's
   crystal and the host clock, tens of ppm) are slewed: each update moves the transport
   by a fraction of the gap, never faster than ``max_slew_ratio`` of real time (0.2 %,
   far below what an ear notices), so the grid glides back instead of skipping.

The engine-facing part is three small functions (``quantum_beats``, ``beats_at_frame``,
``shift_transport``). ``shift_transport`` calls ``Engine.shift_transport(delta_beats)``,
which queues the shift for the mixer thread like a control: it is applied at a block
start, journaled and replayed, so a performance synced to Link replays bit for bit. The
mixer thread is the only one that moves the transport; ``beats_at_frame`` reads it from
this thread without a lock because the transport replaces its anchor in one assignment
(``instrument.transport``). A shift queued here reaches the transport when the mixer makes
its next block (usually a few milliseconds; a whole large device block at worst), so an
update that finds a shift still queued (``Engine.shifts_pending``) only samples the frame
clock: measuring then would count the same correction twice (with long blocks, a double
jump, then another, never settling).
"""

from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, Deque


# ---------------------------------------------------------------------------------------
# The engine-facing functions
# ---------------------------------------------------------------------------------------


def quantum_beats(engine: Any) -> int:
    """Beats per bar of the engine's transport: the quantum bars are aligned on."""
    return int(engine.transport.beats_per_bar)


def beats_at_frame(engine: Any, frame: float) -> float:
    """The engine's position in beats at output frame `frame` (fractional frames allowed)."""
    return float(engine.transport.beats_at(frame))


def shift_transport(engine: Any, delta_beats: float) -> None:
    """Move the engine's position by `delta_beats` (positive: ahead) from the next block on.

    ``Engine.shift_transport`` queues it for the mixer thread (applied at a block start,
    journaled, replayed).
    """
    engine.shift_transport(float(delta_beats))


# ---------------------------------------------------------------------------------------
# Which frame is heard now
# ---------------------------------------------------------------------------------------


class FrameClock:
    """Estimates the frame at the speaker at a host time from samples of the frames taken so far."""

    def __init__(self, sample_rate_hz: int, block_frames: int, window_samples: int = 64,
                 min_samples: int = 16) -> None:
        self.sample_rate_hz = float(sample_rate_hz)
        self.block_frames = float(block_frames)
        self.min_samples = int(min_samples)
        self._offsets: Deque[float] = collections.deque(maxlen=int(window_samples))
        self._last_frames: float | None = None
        self._last_advance_seconds: float | None = None
        self._outliers = 0
        self.resets = 0

    @property
    def stall_seconds(self) -> float:
        """No new frames for this long: the engine's clock is not running (or the device hangs)."""
        return max(0.1, 4.0 * self.block_frames / self.sample_rate_hz)

    @property
    def outlier_frames(self) -> float:
        """An offset this far from the median is not staircase jitter (two blocks, at least 20 ms)."""
        return max(2.0 * self.block_frames, 0.02 * self.sample_rate_hz)

    def clear(self) -> None:
        self._offsets.clear()
        self._outliers = 0
        self.resets += 1

    def add(self, host_seconds: float, frames: float) -> None:
        """One sample: `frames` had been taken by the device at `host_seconds`."""
        if self._last_frames is None or frames != self._last_frames:
            self._last_frames = float(frames)
            self._last_advance_seconds = host_seconds
        offset = float(frames) - self.sample_rate_hz * host_seconds
        if len(self._offsets) >= self.min_samples:
            if abs(offset - _median(self._offsets)) > self.outlier_frames:
                self._outliers += 1
                if self._outliers < 5:
                    return  # a stray sample; five in a row mean the clock itself moved
                self.clear()  # start again from this sample
            else:
                self._outliers = 0
        self._offsets.append(offset)

    def running(self, host_seconds: float) -> bool:
        return (self._last_advance_seconds is not None
                and host_seconds - self._last_advance_seconds <= self.stall_seconds)

    def heard_frame(self, host_seconds: float, output_latency_seconds: float = 0.0) -> float | None:
        """The frame at the speaker at `host_seconds`, or None while there are too few samples."""
        if len(self._offsets) < self.min_samples or not self.running(host_seconds):
            return None
        taken = self.sample_rate_hz * host_seconds + _median(self._offsets)
        return taken - self.block_frames / 2.0 - output_latency_seconds * self.sample_rate_hz


def _median(values: Deque[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    middle = n // 2
    return ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])


# ---------------------------------------------------------------------------------------
# Closing the gap
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseLockSettings:
    """How hard the lock pulls. The defaults keep a ±5 ms promise with room to spare."""

    jump_threshold_seconds: float = 0.010  # larger gaps jump at once (after the confirmations)
    jump_confirmations: int = 3  # consecutive updates over the threshold before a jump, once locked
    slew_per_second: float = 2.0  # fraction of a small gap closed per second (steady error = drift / this)
    max_slew_ratio: float = 0.005  # slewing runs the grid at most 0.5 % fast or slow
    window_samples: int = 64  # frame-clock samples in the median (~0.64 s at 10 ms updates)
    min_samples: int = 16  # samples before the first lock


@dataclass(frozen=True)
class PhaseReport:
    """What one update saw and did."""

    action: str  # "wait" (not enough samples / clock stopped), "jump", "slew", "hold" (confirming a jump),
    # "pending" (the last correction is not in the transport yet: nothing measured, nothing done)
    error_seconds: float | None  # clock ahead of the engine (+) or behind (-), before this update's correction
    # (for "pending": the last measurement's)
    quantum_beats: int


class PhaseLock:
    """Keeps the engine's bar phase on a clock's: ``update(now, clock_beats_now)`` about every 10 ms."""

    def __init__(self, engine: Any, settings: PhaseLockSettings | None = None,
                 output_latency_seconds: Callable[[], float] = lambda: 0.0) -> None:
        self.engine = engine
        self.settings = settings or PhaseLockSettings()
        self.output_latency_seconds = output_latency_seconds
        config = engine.config
        self.frame_clock = FrameClock(config.sample_rate_hz, config.block_frames,
                                      self.settings.window_samples, self.settings.min_samples)
        self._lock = threading.Lock()
        self._locked = False
        self._over = 0
        self._last_update_seconds: float | None = None
        self.jumps = 0
        self.last_report = PhaseReport("wait", None, quantum_beats(engine))

    @property
    def locked(self) -> bool:
        return self._locked

    def reset(self) -> None:
        """Forget the lock: the next update with enough samples aligns at once (a new source)."""
        with self._lock:
            self._locked = False
            self._over = 0

    def update(self, host_seconds: float, target_beats: float) -> PhaseReport:
        """The clock is at `target_beats` now (`host_seconds` is now); sample, compare, correct."""
        with self._lock:
            report = self._update(float(host_seconds), float(target_beats))
            self.last_report = report
            return report

    def _update(self, now: float, target_beats: float) -> PhaseReport:
        s = self.settings
        engine = self.engine
        q = quantum_beats(engine)
        self.frame_clock.add(now, engine.transport_frames)
        if engine.shifts_pending:
            return PhaseReport("pending", self.last_report.error_seconds, q)
        dt = 0.0 if self._last_update_seconds is None else min(max(now - self._last_update_seconds, 0.0), 0.1)
        self._last_update_seconds = now
        try:
            latency = max(0.0, float(self.output_latency_seconds()))
        except Exception:  # a device that went away reports no latency; keep going without it
            latency = 0.0
        frame = self.frame_clock.heard_frame(now, latency)
        if frame is None:
            return PhaseReport("wait", None, q)
        error_beats = _fold(target_beats - beats_at_frame(engine, frame), float(q))
        beats_per_second = float(engine.transport.tempo_bpm) / 60.0
        error_seconds = error_beats / beats_per_second
        if not self._locked or abs(error_seconds) > s.jump_threshold_seconds:
            self._over += 1
            if self._locked and self._over < s.jump_confirmations:
                return PhaseReport("hold", error_seconds, q)
            shift_transport(engine, error_beats)
            self._locked, self._over = True, 0
            self.jumps += 1
            return PhaseReport("jump", error_seconds, q)
        self._over = 0
        limit = s.max_slew_ratio * dt * beats_per_second
        step = min(max(error_beats * s.slew_per_second * dt, -limit), limit)
        if step != 0.0:
            shift_transport(engine, step)
        return PhaseReport("slew", error_seconds, q)


def _fold(beats: float, quantum: float) -> float:
    """`beats` modulo `quantum`, folded into [-quantum/2, quantum/2)."""
    return (beats + quantum / 2.0) % quantum - quantum / 2.0 if math.isfinite(beats) else 0.0
