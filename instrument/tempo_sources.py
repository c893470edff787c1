"""Who sets the session tempo: Ableton Link, then a MIDI clock, then the performer.

Several things can claim the tempo at once: a Link session on the network, a MIDI clock
from a drum machine or DAW, and the performer (OSC ``/ganloops/tempo``, the stdin
``tempo`` command, a scene that carries a tempo). Without a rule they would fight, and
every fight is a re-render of every deck. The rule is a fixed priority::

    link  >  midi_clock  >  manual

A source is *present* from its first proposal until it is released, or, for a source
that proposes continuously (Link, every poll), until it has been silent for its
``stale_seconds`` (a poller that died). The highest present source is the *active* one;
only its proposals reach the engine. ``manual`` is always present, so when the clocks go
away the performer has the tempo again, and the tempo stays where the clock left it
(nothing jumps back).

Manual changes arrive at the engine by many roads (OSC, stdin, scenes, morphs), so the
arbiter does not ask every controller to go through it: it listens to the engine's
``/ganloops/tempo`` echoes. A change it did not make itself is a manual proposal:

- when ``manual`` is active it simply stands;
- when the active source has a *forwarder* (Link: the session tempo is everybody's, as in
  Ableton Live), it is handed on, and the source confirms it on its next proposal;
- otherwise (a MIDI clock drives) the next proposal of the active source puts its tempo
  back, even if that tempo did not change.

Proposals that differ from the tempo already applied by no more than
``tempo_resolution_bpm`` do not touch the engine, so a clock that proposes its estimate
on every tick costs nothing until the tempo really moves (each change re-renders the
decks). A proposal may carry the source's position in the bar (``beat_phase``); the
active source's phase goes to a ``PhaseLock``, which keeps the engine's bars on it.

The API for a tempo source (Link uses it; so can the MIDI clock of ``instrument.midi``)::

    arbiter.propose("midi_clock", bpm, beat_phase=None)  # True when it is the active source
    arbiter.align("midi_clock", beat_phase)              # the bar phase alone, e.g. on every tick
    arbiter.release("midi_clock")                        # the clock stopped or timed out
    arbiter.allows("midi_clock")                         # no higher source present (may it set the tempo?)
    arbiter.active_source                                # "link" | "midi_clock" | "manual"

``beat_phase`` is the source's position in the bar *at the moment of the call*, in beats
(0 <= beat_phase < beats per bar; values outside are taken modulo the bar), e.g. for a
MIDI clock the song position in beats at the tick's arrival. ``propose`` may be called on
every estimate or only when the estimate moved; the arbiter is thread-safe and never
blocks on the engine's renders.
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from instrument.controls import TEMPO_RANGE_BPM

log = logging.getLogger("ganloops.tempo")

LINK = "link"
MIDI_CLOCK = "midi_clock"
MANUAL = "manual"
SOURCES: tuple[str, ...] = (LINK, MIDI_CLOCK, MANUAL)
"""Every tempo source, highest priority first."""

TEMPO_ADDRESS = "/ganloops/tempo"
DEFAULT_STALE_SECONDS: dict[str, float] = {LINK: 1.0}
"""Sources that propose continuously and count as gone after this much silence."""
DEFAULT_TEMPO_RESOLUTION_BPM = 0.001

Forwarder = Callable[[float], None]


class TempoEngine(Protocol):
    """What the arbiter needs from ``instrument.engine.Engine``."""

    def set_tempo(self, bpm: float) -> None: ...
    def add_listener(self, fn: Callable[[str, tuple], None]) -> None: ...
    def remove_listener(self, fn: Callable[[str, tuple], None]) -> None: ...


class PhaseTarget(Protocol):
    """Where the active source's bar phase goes (``instrument.phase_lock.PhaseLock``)."""

    def update(self, host_seconds: float, target_beats: float) -> Any: ...
    def reset(self) -> None: ...


@dataclass
class _Source:
    bpm: float | None = None
    seen_seconds: float | None = None  # clock time of the last proposal; None: never, or released


@dataclass(frozen=True)
class ArbiterStatus:
    """A snapshot for status lines and tests."""

    active_source: str
    applied_bpm: float | None
    proposals: dict[str, float | None]  # the last tempo each present source proposed
    refused: int  # proposals that were not finite numbers in the engine's range


class TempoArbiter:
    """The one place the engine's tempo is set from when clocks are involved (see the module docstring)."""

    def __init__(self, engine: TempoEngine, *, phase_lock: PhaseTarget | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 stale_seconds: dict[str, float] | None = None,
                 tempo_resolution_bpm: float = DEFAULT_TEMPO_RESOLUTION_BPM) -> None:
        self.engine = engine
        self.phase_lock = phase_lock
        self._clock = clock
        self.stale_seconds = dict(DEFAULT_STALE_SECONDS if stale_seconds is None else stale_seconds)
        self.tempo_resolution_bpm = float(tempo_resolution_bpm)
        self._lock = threading.Lock()
        self._sources = {name: _Source() for name in SOURCES}
        self._forwarders: dict[str, Forwarder] = {}
        self._applied_bpm: float | None = None
        self._overridden = False  # someone else changed the engine's tempo since we applied ours
        self._last_active = MANUAL
        self._local = threading.local()  # .applying: this thread is inside our own set_tempo
        self.refused = 0
        engine.add_listener(self._on_engine_event)

    def close(self) -> None:
        """Stop listening to the engine (the arbiter is then inert)."""
        self.engine.remove_listener(self._on_engine_event)

    # ----- the source API ------------------------------------------------------------------

    def propose(self, source: str, bpm: float, beat_phase: float | None = None) -> bool:
        """`source` says the tempo is `bpm` (and, optionally, where it is in the bar now).

        Returns True when the proposal counts: the source is the active one (or a manual
        proposal was forwarded to it). Bad values are refused (False), never raised.
        """
        _check_source(source)
        if not _valid_bpm(bpm) or (beat_phase is not None and not _finite(beat_phase)):
            with self._lock:
                self.refused += 1
            log.debug("tempo: %s proposed %r (phase %r): refused", source, bpm, beat_phase)
            return False
        bpm = float(bpm)
        forward: Forwarder | None = None
        apply = switched = False
        with self._lock:
            now = self._clock()
            state = self._sources[source]
            state.bpm, state.seen_seconds = bpm, now
            active = self._active(now)
            switched = active != self._last_active
            self._last_active = active
            if source != active:
                forward = self._forwarders.get(active) if source == MANUAL else None
                if forward is None:
                    return False
            else:
                apply = (self._applied_bpm is None or self._overridden
                         or abs(bpm - self._applied_bpm) > self.tempo_resolution_bpm)
                if apply:
                    self._applied_bpm, self._overridden = bpm, False
        if switched and self.phase_lock is not None:
            self.phase_lock.reset()  # the new source's bar grid is unrelated to the old one's
        if forward is not None:
            forward(bpm)
            return True
        if apply:
            self._apply(bpm)
        if beat_phase is not None and self.phase_lock is not None:
            self.phase_lock.update(self._clock(), float(beat_phase))
        return True

    def align(self, source: str, beat_phase: float) -> bool:
        """`source` is at `beat_phase` in its bar now; the engine's bars follow while it is active."""
        _check_source(source)
        if not _finite(beat_phase):
            with self._lock:
                self.refused += 1
            return False
        if self.active_source != source or self.phase_lock is None:
            return False
        self.phase_lock.update(self._clock(), float(beat_phase))
        return True

    def allows(self, source: str) -> bool:
        """True when no source above `source` is present: its tempo would be applied."""
        _check_source(source)
        with self._lock:
            now = self._clock()
            for name in SOURCES:
                if name == source:
                    return True
                if self._present(name, self._sources[name], now):
                    return False
        return True

    def release(self, source: str) -> None:
        """`source` is gone (Link lost its peers, the MIDI clock stopped); the next one takes over."""
        _check_source(source)
        if source == MANUAL:
            return  # the performer is always there
        with self._lock:
            self._sources[source].seen_seconds = None
            active = self._active(self._clock())
            switched = active != self._last_active
            self._last_active = active
        if switched and self.phase_lock is not None:
            self.phase_lock.reset()

    def set_forwarder(self, source: str, forward: Forwarder | None) -> None:
        """While `source` is active, manual tempo changes go to `forward(bpm)` instead of being undone."""
        with self._lock:
            if forward is None:
                self._forwarders.pop(source, None)
            else:
                self._forwarders[source] = forward

    @property
    def active_source(self) -> str:
        with self._lock:
            return self._active(self._clock())

    def status(self) -> ArbiterStatus:
        with self._lock:
            now = self._clock()
            present = {name: s.bpm for name, s in self._sources.items() if self._present(name, s, now)}
            return ArbiterStatus(active_source=self._active(now), applied_bpm=self._applied_bpm,
                                 proposals=present, refused=self.refused)

    # ----- inside ------------------------------------------------------------------------

    def _present(self, name: str, state: _Source, now: float) -> bool:
        if name == MANUAL:
            return True
        if state.seen_seconds is None:
            return False
        stale = self.stale_seconds.get(name)
        return stale is None or now - state.seen_seconds <= stale

    def _active(self, now: float) -> str:
        for name in SOURCES:
            if self._present(name, self._sources[name], now):
                return name
        return MANUAL

    def _apply(self, bpm: float) -> None:
        """engine.set_tempo, marked so that our own echo is not taken for a manual change."""
        self._local.applying = True
        try:
            self.engine.set_tempo(bpm)
        except ValueError as e:  # outside the engine's range: keep playing at the old tempo
            with self._lock:
                self.refused += 1
            log.warning("tempo: %s", e)
        finally:
            self._local.applying = False

    def _on_engine_event(self, address: str, args: tuple) -> None:
        """Engine listener: a tempo change we did not make is a manual proposal."""
        if address != TEMPO_ADDRESS or getattr(self._local, "applying", False) or len(args) != 1:
            return
        if not _valid_bpm(args[0]):
            return
        bpm = float(args[0])
        with self._lock:
            now = self._clock()
            manual = self._sources[MANUAL]
            manual.bpm, manual.seen_seconds = bpm, now
            active = self._active(now)
            forward = self._forwarders.get(active) if active != MANUAL else None
            if active == MANUAL or forward is not None:
                self._applied_bpm = bpm  # it stands (a forwarded one is confirmed by the source)
            else:
                self._overridden = True  # the active clock puts its tempo back on its next proposal
        if forward is not None:
            try:
                forward(bpm)
            except Exception as e:  # a broken forwarder must not break the controller that set the tempo
                log.warning("tempo: forwarding %.3f BPM to %s failed: %s", bpm, active, e)


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source: expected one of {', '.join(SOURCES)}, got {source!r}")


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(float(value))


def _valid_bpm(value: Any) -> bool:
    return _finite(value) and TEMPO_RANGE_BPM[0] <= float(value) <= TEMPO_RANGE_BPM[1]


def create_arbiter(engine: Any, output_latency_seconds: Callable[[], float] = lambda: 0.0) -> TempoArbiter:
    """An arbiter for `engine` with a ``PhaseLock`` (what ``play`` wires Link and the MIDI clock to).

    `output_latency_seconds` is the sound card's output latency (``AudioOutput.status()
    .latency_seconds``): the phase lock lines up what is *heard* with the clock's bars.
    """
    from instrument.phase_lock import PhaseLock

    return TempoArbiter(engine, phase_lock=PhaseLock(engine, output_latency_seconds=output_latency_seconds))
