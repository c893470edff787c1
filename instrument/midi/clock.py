"""MIDI clock: following a sequencer's tempo and start/stop (in), and sending ours (out).

Clock in
--------
A MIDI clock is 24 ticks (``F8``) per beat. Tick timestamps carry jitter (USB polling,
the sender's scheduler, JACK's period: ±2.7 ms at 256 frames and 48 kHz), so the tempo is
not taken from one interval but from a least-squares line through the last
``window_ticks`` timestamps against the tick count: the slope is the tick period. Its
standard error (from the residuals) says how sure the estimate is; the session tempo is
changed only when the estimate differs from it by more than ``max(min_deadband_bpm, 3
standard errors)``, and at most once a beat, because every tempo change makes each deck
re-render its loop for the new tempo (a jittery clock must not cause a render storm).

Ticks are counted, never inferred from timing, so timestamps bunched by a coarse driver
period still fit. A tick further than ``outlier_periods`` periods off the fitted line is
left out of the fit (a late USB packet); ``resync_outliers`` of them in a row mean the
tempo jumped or the clock restarted, and the fit starts over from there. No tick for
``timeout_seconds`` means the clock is gone: the follower lets go (the tempo stays where
it was) and another input's clock may take over.

Measured on synthesized clocks (tests/instrument/test_midi.py, docs/midi.md): with 1 ms
RMS of timestamp jitter, the tempo is within 0.2 BPM after one beat and within 0.1 BPM
from the second beat on; a clean clock (a DAW's) within 0.01 BPM.

Priority: Ableton Link > MIDI clock > manual tempo. The follower changes the session
tempo only while it is the active tempo source: it is receiving ticks, and
``may_set_tempo()`` says no higher-priority source (Link with peers) is active. A manual
tempo change while a clock is followed is overridden at the next beat if the clock's
tempo differs.

Start (``FA``) puts the song position at 0, Continue (``FB``) resumes at the position a
Song Position Pointer (``F2``) gave, Stop (``FC``) stops. The first tick after Start or
Continue is at that position (MIDI 1.0: Start is followed by the downbeat's tick), and each
tick after it moves on by 1/24 beat. ``on_start(beats)`` and ``on_stop()`` tell the
instrument; ``position_at(t)`` is the song position at any moment, read off the fitted
line (so without the ticks' jitter), for lining bars up. Only the followed input's
messages count. A clock that goes quiet is *lost* (``on_lost()``), not stopped: a pulled
cable must not stop the music.

Clock out
---------
``ClockSender`` sends 24 ticks a beat in step with the engine's transport, on its own
thread (never the audio callback). It follows the transport's beat position with a
local line at the session tempo, nudged toward the engine's position by a small fraction
each tick (the engine's position moves in steps of one audio block, which would otherwise
come out as tick jitter), and snaps to it when they disagree by more than a quarter beat.
It sends Start at the next bar line, so a receiver's bar 1 is ours, and Stop when it stops.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Deque, Sequence

from instrument.controls import TEMPO_RANGE_BPM
from instrument.midi.wire import CLOCK, START, STOP

TICKS_PER_BEAT = 24


@dataclass(frozen=True)
class ClockSettings:
    """How the follower smooths and when it changes the tempo."""

    window_ticks: int = 96  # the fit spans 4 beats
    lock_ticks: int = 24  # a first tempo after one beat of ticks
    update_ticks: int = 24  # then re-checked at most once a beat
    timeout_seconds: float = 0.5  # no tick this long: the clock is gone (> 4 ticks at 20 BPM)
    min_deadband_bpm: float = 0.05
    outlier_periods: float = 0.5
    resync_outliers: int = 4
    min_fit_ticks: int = 8  # outliers are judged once the fit has this many ticks


@dataclass(frozen=True)
class ClockFit:
    """A tempo estimate from the fit: BPM and its standard error."""

    bpm: float
    standard_error_bpm: float
    ticks: int


class ClockFollower:
    """Tempo and start/stop from MIDI clock messages with timestamps (seconds, any origin).

    Not thread-safe on its own: one thread (the MIDI poll thread) feeds it.
    """

    def __init__(self, apply_tempo: Callable[[float], None], current_tempo: Callable[[], float | None],
                 may_set_tempo: Callable[[], bool] = lambda: True,
                 on_start: Callable[[float], None] | None = None, on_stop: Callable[[], None] | None = None,
                 on_lost: Callable[[], None] | None = None, on_tick: Callable[[float], None] | None = None,
                 settings: ClockSettings | None = None) -> None:
        self.settings = settings or ClockSettings()
        self._apply_tempo = apply_tempo
        self._current_tempo = current_tempo
        self._may_set_tempo = may_set_tempo
        self._on_start = on_start
        self._on_stop = on_stop
        self._on_lost = on_lost
        self._on_tick = on_tick
        self._hold_next_tick = False  # the tick after Start/Continue is at the position itself
        self._points: Deque[tuple[int, float]] = collections.deque(maxlen=self.settings.window_ticks)
        self._index = 0
        self._fit_period: float | None = None  # seconds per tick
        self._fit_intercept = 0.0  # time of tick 0 on the fitted line
        self._outliers_in_row = 0
        self._since_update = 0
        self._announced = False
        self.source: str | None = None
        self._last_seen_seconds = 0.0
        self.last_tick_seconds: float | None = None
        self.fit: ClockFit | None = None
        self.running = False
        self.beats = 0.0  # song position while running
        self.outliers = 0
        self.resyncs = 0
        self.tempo_changes = 0
        self.tempo_refused = 0  # estimates outside the engine's tempo range

    # -- who is followed -----------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while a clock is being followed (its ticks arrive)."""
        return self.source is not None and self.last_tick_seconds is not None

    def _claim(self, source: str, t_seconds: float) -> bool:
        """Whether messages from `source` count: the followed one, or any while none is."""
        if self.source is None:
            self.source = source
        elif self.source != source:
            return False
        self._last_seen_seconds = t_seconds
        return True

    def check(self, now_seconds: float) -> None:
        """Let go of a source that went quiet (call regularly, e.g. every poll).

        After ``timeout_seconds`` without a message from it, the fit is dropped (the tempo
        stays where it is), another input may take over, and ``on_lost()`` is called.
        """
        if self.source is None or now_seconds - self._last_seen_seconds <= self.settings.timeout_seconds:
            return
        self._reset_fit()
        self.last_tick_seconds = None
        self.source = None
        self.running = False
        if self._on_lost is not None:
            self._on_lost()

    # -- messages --------------------------------------------------------------------------

    def tick(self, t_seconds: float, source: str = "") -> bool:
        """One clock tick at `t_seconds`; False when it came from a source not followed."""
        if not self._claim(source, t_seconds):
            return False
        s = self.settings
        if self.last_tick_seconds is not None and t_seconds - self.last_tick_seconds > s.timeout_seconds:
            self._reset_fit()  # a gap: what came before says nothing about the tempo now
        self.last_tick_seconds = t_seconds
        if self.running:
            if self._hold_next_tick:
                self._hold_next_tick = False
            else:
                self.beats += 1.0 / TICKS_PER_BEAT
        self._index += 1
        self._since_update += 1
        period = self._fit_period
        if period is not None and len(self._points) >= s.min_fit_ticks:
            residual = t_seconds - (self._fit_intercept + period * self._index)
            if abs(residual) > s.outlier_periods * period:
                self.outliers += 1
                self._outliers_in_row += 1
                if self._outliers_in_row < s.resync_outliers:
                    return True
                self.resyncs += 1
                self._reset_fit()
            else:
                self._outliers_in_row = 0
        self._points.append((self._index, t_seconds))
        self._refit()
        self._maybe_apply()
        if self._on_tick is not None:
            self._on_tick(t_seconds)
        return True

    def start(self, t_seconds: float, source: str = "") -> bool:
        """Start (FA): from the top."""
        if not self._claim(source, t_seconds):
            return False
        self.beats = 0.0
        self._go()
        return True

    def continue_(self, t_seconds: float, source: str = "") -> bool:
        """Continue (FB): from the song position."""
        if not self._claim(source, t_seconds):
            return False
        self._go()
        return True

    def stop(self, t_seconds: float, source: str = "") -> bool:
        """Stop (FC)."""
        if not self._claim(source, t_seconds):
            return False
        if self.running:
            self.running = False
            if self._on_stop is not None:
                self._on_stop()
        return True

    def song_position(self, t_seconds: float, sixteenths: int, source: str = "") -> bool:
        """Song Position Pointer (F2): where Continue resumes, in 16th notes."""
        if not self._claim(source, t_seconds):
            return False
        if not self.running:  # the specification allows it only while stopped
            self.beats = sixteenths / 4.0
        return True

    def _go(self) -> None:
        self.running = True
        self._hold_next_tick = True
        if self._on_start is not None:
            self._on_start(self.beats)

    def position_at(self, t_seconds: float) -> float | None:
        """The song position in beats at `t_seconds`, from the fitted line; None while stopped,
        before the first tick after Start, or before there is a fit."""
        period = self._fit_period
        if not self.running or self._hold_next_tick or period is None or len(self._points) < 3:
            return None
        last_tick_on_line = self._fit_intercept + period * self._index
        return self.beats + (t_seconds - last_tick_on_line) / (TICKS_PER_BEAT * period)

    # -- the fit -----------------------------------------------------------------------------

    def _reset_fit(self) -> None:
        self._points.clear()
        self._fit_period = None
        self._outliers_in_row = 0
        self._announced = False
        self._since_update = 0
        self.fit = None

    def _refit(self) -> None:
        n = len(self._points)
        if n < 3:
            self._fit_period = None
            return
        i0, t0 = self._points[0]
        mean_i = sum(i - i0 for i, _ in self._points) / n
        mean_t = sum(t - t0 for _, t in self._points) / n
        s_ii = s_it = s_tt = 0.0
        for i, t in self._points:
            di = (i - i0) - mean_i
            dt = (t - t0) - mean_t
            s_ii += di * di
            s_it += di * dt
            s_tt += dt * dt
        if s_ii <= 0.0:
            return
        period = s_it / s_ii
        if period <= 0.0:  # every tick at the same instant: no tempo in it yet
            self._fit_period = None
            return
        self._fit_period = period
        self._fit_intercept = (t0 + mean_t) - period * (i0 + mean_i)
        residual_ss = max(s_tt - period * s_it, 0.0)
        se_period = math.sqrt(residual_ss / (n - 2) / s_ii)
        bpm = 60.0 / (TICKS_PER_BEAT * period)
        self.fit = ClockFit(bpm=bpm, standard_error_bpm=bpm * se_period / period, ticks=n)

    def _maybe_apply(self) -> None:
        s = self.settings
        fit = self.fit
        if fit is None or fit.ticks < s.lock_ticks:
            return
        if self._announced and self._since_update < s.update_ticks:
            return
        self._since_update = 0
        self._announced = True
        if not TEMPO_RANGE_BPM[0] <= fit.bpm <= TEMPO_RANGE_BPM[1]:
            self.tempo_refused += 1
            return
        if not self._may_set_tempo():
            return
        current = self._current_tempo()
        if current is None or abs(fit.bpm - current) > max(s.min_deadband_bpm, 3.0 * fit.standard_error_bpm):
            self.tempo_changes += 1
            self._apply_tempo(round(fit.bpm, 2))

    @property
    def bpm(self) -> float | None:
        """The current estimate (None before a few ticks)."""
        return self.fit.bpm if self.fit is not None else None


# ---------------------------------------------------------------------------------------
# Clock out
# ---------------------------------------------------------------------------------------


class ClockSender:
    """Sends 24 ticks a beat, Start at a bar line, Stop at the end, phase-locked to a transport.

    `beats()` is the transport's position in beats (``engine.position.beats``), `tempo_bpm()`
    the session tempo, `beats_per_bar()` the meter. `step(now)` does what is due at `now`
    and returns when it wants to run next; ``start()`` runs it on a thread.
    """

    PHASE_GAIN = 0.05  # fraction of the phase error corrected per observation
    SNAP_BEATS = 0.25  # a larger disagreement is a jump of the transport: follow at once
    MAX_CATCH_UP_TICKS = 6  # a stall shorter than a quarter beat is caught up (receivers count ticks);
    # a longer one is skipped, as a jump of the transport would be
    MAX_WAIT_SECONDS = 0.05  # look at the transport at least this often

    def __init__(self, send: Callable[[Sequence[int]], None], tempo_bpm: Callable[[], float],
                 beats: Callable[[], float], beats_per_bar: Callable[[], int] = lambda: 4,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._tempo_bpm = tempo_bpm
        self._beats = beats
        self._beats_per_bar = beats_per_bar
        self._clock = clock
        self._anchor_seconds: float | None = None
        self._anchor_beats = 0.0
        self._tempo = 120.0
        self._start_beat: float | None = None
        self._next_tick: int | None = None  # index (beats * 24) of the next tick to send
        self.started = False
        self.ticks_sent = 0
        self.ticks_skipped = 0
        self.send_errors = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _phase(self, now: float) -> float:
        assert self._anchor_seconds is not None
        return self._anchor_beats + (now - self._anchor_seconds) * self._tempo / 60.0

    def _time_at(self, beats: float) -> float:
        assert self._anchor_seconds is not None
        return self._anchor_seconds + (beats - self._anchor_beats) * 60.0 / self._tempo

    def _observe(self, now: float) -> None:
        observed = float(self._beats())
        tempo = float(self._tempo_bpm())
        if not (math.isfinite(observed) and math.isfinite(tempo) and tempo > 0):
            return
        if self._anchor_seconds is None:
            self._anchor_seconds, self._anchor_beats, self._tempo = now, observed, tempo
            return
        if tempo != self._tempo:  # keep the phase continuous across the change
            self._anchor_beats, self._anchor_seconds, self._tempo = self._phase(now), now, tempo
        error = observed - self._phase(now)
        if abs(error) > self.SNAP_BEATS:
            self._anchor_seconds, self._anchor_beats = now, observed
        else:
            self._anchor_beats += self.PHASE_GAIN * error

    def _emit(self, data: Sequence[int]) -> None:
        try:
            self._send(data)
        except Exception:  # a vanished port: count it, keep time
            self.send_errors += 1

    def step(self, now: float) -> float:
        """Send what is due at `now`; the time to call again."""
        self._observe(now)
        if self._anchor_seconds is None:
            return now + self.MAX_WAIT_SECONDS
        phase = self._phase(now)
        if not self.started:
            if self._start_beat is None:
                bar = max(int(self._beats_per_bar()), 1)
                self._start_beat = math.ceil(phase / bar - 1e-9) * bar
            if phase < self._start_beat:
                return min(self._time_at(self._start_beat), now + self.MAX_WAIT_SECONDS)
            self._emit([START])
            self.started = True
            self._next_tick = int(round(self._start_beat * TICKS_PER_BEAT))
        assert self._next_tick is not None
        due = math.floor(phase * TICKS_PER_BEAT + 1e-9)
        if due < self._next_tick - TICKS_PER_BEAT:  # the transport jumped back: go on from there
            self._next_tick = due + 1
        if due >= self._next_tick:
            missed = due - self._next_tick + 1
            if missed > self.MAX_CATCH_UP_TICKS:
                self.ticks_skipped += missed - self.MAX_CATCH_UP_TICKS
                self._next_tick = due - self.MAX_CATCH_UP_TICKS + 1
            while self._next_tick <= due:
                self._emit([CLOCK])
                self.ticks_sent += 1
                self._next_tick += 1
        return min(self._time_at(self._next_tick / TICKS_PER_BEAT), now + self.MAX_WAIT_SECONDS)

    def finish(self) -> None:
        """Send Stop if Start was sent."""
        if self.started:
            self._emit([STOP])
            self.started = False
        self._start_beat = None

    # -- thread ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ganloops-midi-clock-out", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self._thread = None
        self.finish()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wake = self.step(self._clock())
            except Exception:  # the transport's reader failed: try again shortly
                self.send_errors += 1
                wake = self._clock() + self.MAX_WAIT_SECONDS
            self._stop.wait(max(wake - self._clock(), 0.0005))
