"""From MIDI messages to engine changes: the mapping, soft takeover, encoders, buttons, clock.

``MidiDispatcher.receive(source, data, t)`` takes raw bytes from one input (a port name is
the source), tokenizes them (``instrument.midi.wire``, one tokenizer per source, so running
status and split messages stay with their stream) and acts on each message:

- control change: absolute (7-bit), 14-bit (MSB/LSB pair), relative (three encoder
  conventions) or button; the value is scaled into the binding's range, held back by soft
  takeover until the knob catches the sound (``instrument.midi.pickup``), and queued;
- note on/off and program change: the binding's action (set, toggle, momentary, random,
  step) runs at once, after the queued values (so the order of a performance is kept);
- clock, start, continue, stop, song position: the clock follower;
- anything else well-formed is counted as ``ignored``; bytes that make no message are
  ``malformed`` rejections.

``flush()`` hands the queued values to the engine, the newest per address only: a knob
swept while the engine is busy costs one change per poll, not one per message
(``coalesced`` counts the values skipped). The engine call goes through
``Engine.apply_address``, so its ranges and echo to OSC subscribers apply as for OSC.

The dispatcher keeps a mirror of the current value of every numeric control, filled from
``engine.state()`` and kept current by an engine listener (``on_engine_change``). Encoders
add to it, toggles flip it, pickup compares with it; and a change the listener sees that
did not come from a knob's own binding re-arms that knob's pickup.

Threads: ``receive``/``flush`` run on the MIDI poll thread; the listener runs on whichever
thread changed the engine (OSC, stdin, the engine's notifier). They share the mirror and
the pickup flags under a lock that is never held while calling the engine.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from instrument.midi.clock import ClockFollower
from instrument.midi.mapping import (
    RELATIVE_MODES,
    CcBinding,
    MidiMapping,
    NoteBinding,
    ProgramBinding,
    default_cc_range,
    trigger_args,
)
from instrument.midi.pickup import Pickup
from instrument.midi.stats import MidiStats
from instrument.midi.targets import RANDOM_SEED_MAX, Target, TargetError, TargetExecutor, resolve_target
from instrument.midi.wire import (
    CLOCK,
    CONTINUE,
    CONTROL_CHANGE,
    NOTE_OFF,
    NOTE_ON,
    PROGRAM_CHANGE,
    SONG_POSITION,
    START,
    STOP,
    MidiMessage,
    MidiTokenizer,
)
from instrument.controller_stats import RateLimitedLog
from instrument.osc_schema import state_messages

log = logging.getLogger("ganloops.midi")

MAX_BYTES_PER_RECEIVE = 65536  # one read of one port; more is dropped and counted (overflow)


# ---------------------------------------------------------------------------------------
# Value conversions
# ---------------------------------------------------------------------------------------


def relative_delta(mode: str, value: int) -> int:
    """Encoder ticks in one relative CC value (0..127), by the encoder's convention.

    - two's complement: 1..63 up, 127..64 down (127 = -1), 0 nothing;
    - binary offset: 64 nothing, 65.. up, ..63 down (63 = -1);
    - sign magnitude: bit 6 is the sign: 1..63 up, 65..127 down (65 = -1), 0 and 64 nothing.
    """
    if mode == "relative_twos_complement":
        return value if value < 64 else value - 128
    if mode == "relative_binary_offset":
        return value - 64
    if mode == "relative_sign_magnitude":
        return -(value & 0x3F) if value & 0x40 else value & 0x3F
    raise ValueError(f"not a relative mode: {mode!r}")


def scale(fraction: float, low: float, high: float) -> float:
    """`fraction` (0..1) of the way from `low` to `high`."""
    return low + (high - low) * fraction


# ---------------------------------------------------------------------------------------
# Per-binding state
# ---------------------------------------------------------------------------------------


@dataclass
class _Trigger:
    """A button: a note, a CC in button mode, a program change."""

    target: Target
    action: str
    args: tuple[Any, ...]  # set / momentary press
    off_args: tuple[Any, ...]  # momentary release
    step: float = 1.0
    pressed: bool = False


@dataclass
class _CcState:
    binding: CcBinding
    target: Target
    low: float
    high: float
    pickup: Pickup | None
    msb: int = 0
    lsb: int = 0
    trigger: _Trigger | None = None  # mode = "button"


@dataclass
class _NoteState:
    binding: NoteBinding
    trigger: _Trigger


@dataclass
class _ProgramState:
    binding: ProgramBinding
    target: Target
    args_by_program: dict[int, tuple[Any, ...]] = field(default_factory=dict)


def _make_trigger(target: Target, action: str, value: Any, off: Any) -> _Trigger:
    if action == "momentary":
        low, high = target.bounds
        press = trigger_args(target, value) if value is not None else target.coerce_args(
            (int(high) if target.integer else high,))
        release = trigger_args(target, off) if off is not None else target.coerce_args(
            (int(low) if target.integer else low,))
        return _Trigger(target, action, press, release)
    if action == "step":
        return _Trigger(target, action, (), (), step=float(value) if value is not None else 1.0)
    if action == "set":
        if value is None and target.flag:
            return _Trigger(target, action, (1,), ())
        return _Trigger(target, action, trigger_args(target, value), ())
    return _Trigger(target, action, (), ())


# ---------------------------------------------------------------------------------------
# The dispatcher
# ---------------------------------------------------------------------------------------


class LearnHook(Protocol):
    """What the dispatcher asks of MIDI learn (``instrument.midi.learn.MidiLearn``)."""

    @property
    def armed(self) -> bool: ...

    def capture(self, kind: str, channel: int, number: int, value: int, now: float) -> bool:
        """True when the message was taken to make a binding (then it does nothing else)."""
        ...


class MidiDispatcher:
    """Turns MIDI from any number of inputs into engine changes, per a `MidiMapping`."""

    def __init__(self, engine: Any, mapping: MidiMapping, *, stats: MidiStats | None = None,
                 scenes: Any = None, clock: ClockFollower | None = None, learn: LearnHook | None = None,
                 rng: random.Random | None = None, now: Callable[[], float] = time.monotonic,
                 log_interval_seconds: float = 1.0) -> None:
        self.engine = engine
        self.stats = stats or MidiStats()
        self.clock = clock
        self.learn = learn
        self._rng = rng or random.Random()
        self._now = now
        self._log = RateLimitedLog(log, log_interval_seconds)
        self._executor = TargetExecutor(engine, scenes, learn=self._learn_target)
        self.on_learn_request: Callable[[tuple[Any, ...]], None] | None = None
        self.clock_accepts: Callable[[str], bool] = lambda source: True  # [clock] port of the mapping
        self._lock = threading.Lock()
        self._local = threading.local()  # .applying: the address a CC binding is setting right now
        self._mirror: dict[str, float] = {}
        self._tokenizers: dict[str, MidiTokenizer] = {}
        self._pending: dict[str, tuple[Target, tuple[Any, ...]]] = {}
        self.last_external_address: str | None = None  # the last control changed elsewhere (learn)
        self.mapping = mapping
        self._cc: dict[tuple[int, int], list[tuple[_CcState, str]]] = {}
        self._notes: dict[tuple[int, int], list[_NoteState]] = {}
        self._programs: dict[int, list[_ProgramState]] = {}
        self._by_address: dict[str, list[_CcState]] = {}
        self.install(mapping)
        self.sync_from_engine()

    # -- mapping -------------------------------------------------------------------------

    def install(self, mapping: MidiMapping) -> None:
        """Use `mapping` from now on (bindings start waiting for pickup)."""
        cc: dict[tuple[int, int], list[tuple[_CcState, str]]] = {}
        notes: dict[tuple[int, int], list[_NoteState]] = {}
        programs: dict[int, list[_ProgramState]] = {}
        by_address: dict[str, list[_CcState]] = {}

        def channels(channel: int | None) -> range:
            return range(16) if channel is None else range(channel - 1, channel)

        for b in mapping.cc:
            target = resolve_target(b.address)
            if b.mode == "button":
                state = _CcState(b, target, 0.0, 1.0, None,
                                 trigger=_make_trigger(target, b.action, b.value, b.off))
            else:
                low, high = b.range if b.range is not None else default_cc_range(target)
                pickup = None
                if b.pickup and b.mode in ("absolute", "14bit") and not target.integer:
                    pickup = Pickup(tolerance=mapping.pickup_tolerance * abs(high - low))
                state = _CcState(b, target, low, high, pickup)
                by_address.setdefault(target.address, []).append(state)
            for ch in channels(b.channel):
                cc.setdefault((ch, b.control), []).append((state, "msb" if b.mode == "14bit" else "value"))
                if b.mode == "14bit":
                    cc.setdefault((ch, b.lsb_control), []).append((state, "lsb"))
        for n in mapping.notes:
            target = resolve_target(n.address)
            note_state = _NoteState(n, _make_trigger(target, n.action, n.value, n.off))
            for ch in channels(n.channel):
                notes.setdefault((ch, n.note), []).append(note_state)
        for p in mapping.programs:
            target = resolve_target(p.address)
            program_state = _ProgramState(p, target)
            if p.values is not None:
                for number, value in enumerate(p.values):
                    program_state.args_by_program[number] = trigger_args(target, value)
            else:
                assert p.program is not None
                program_state.args_by_program[p.program] = trigger_args(target, p.value)
            for ch in channels(p.channel):
                programs.setdefault(ch, []).append(program_state)
        with self._lock:
            self.mapping = mapping
            self._cc, self._notes, self._programs, self._by_address = cc, notes, programs, by_address

    def sync_from_engine(self) -> None:
        """Fill the mirror from the engine's whole state (at start; listeners keep it current)."""
        try:
            messages = state_messages(self.engine.state())
        except Exception:
            self._internal_error("reading the engine state")
            return
        with self._lock:
            for address, args in messages:
                if len(args) == 1 and isinstance(args[0], (int, float)) and not isinstance(args[0], bool):
                    self._mirror[address] = float(args[0])

    def current(self, address: str) -> float | None:
        """The mirrored value of a numeric control (None when unknown)."""
        with self._lock:
            return self._mirror.get(address)

    # -- engine listener -------------------------------------------------------------------

    def on_engine_change(self, address: str, args: tuple) -> None:
        """Engine listener: keep the mirror current; a change not made by a knob re-arms its pickup."""
        if len(args) != 1 or isinstance(args[0], (bool, str)) or not isinstance(args[0], (int, float)):
            return
        own = getattr(self._local, "applying", None) == address
        with self._lock:
            self._mirror[address] = float(args[0])
            if own:
                return
            for state in self._by_address.get(address, ()):
                if state.pickup is not None:
                    state.pickup.release()
            if not getattr(self._local, "receiving", False):  # not MIDI's own doing (a button, the clock)
                self.last_external_address = address

    # -- input -------------------------------------------------------------------------------

    def forget_source(self, source: str) -> None:
        """An input went away: drop its half-received message and running status."""
        self._tokenizers.pop(source, None)

    def receive(self, source: str, data: Sequence[int] | bytes, t_seconds: float) -> None:
        """Bytes from input `source`, received at `t_seconds` (monotonic). Never raises."""
        self._local.receiving = True
        try:
            self._receive(source, data, t_seconds)
        except Exception:
            self._internal_error(f"input {source!r}")
        finally:
            self._local.receiving = False

    def _receive(self, source: str, data: Sequence[int] | bytes, t_seconds: float) -> None:
        if len(data) > MAX_BYTES_PER_RECEIVE:
            dropped = len(data) - MAX_BYTES_PER_RECEIVE
            self.stats.reject("overflow", dropped)
            self._log("overflow", f"MIDI from {source}: {dropped} bytes over the {MAX_BYTES_PER_RECEIVE}-byte "
                                  f"limit of one read were dropped")
            data = data[:MAX_BYTES_PER_RECEIVE]
        tokenizer = self._tokenizers.get(source)
        if tokenizer is None:
            tokenizer = self._tokenizers[source] = MidiTokenizer()
        before = tokenizer.rejected_bytes
        messages: list[MidiMessage] = []
        tokenizer.feed(data, messages)
        self.stats.add("bytes", len(data))
        bad = tokenizer.rejected_bytes - before
        if bad:
            self.stats.reject("malformed", bad)
            self._log("malformed", f"MIDI from {source}: {bad} byte(s) that make no MIDI message "
                                   f"(stray data, cut-short messages or undefined status bytes)")
        if messages:
            self.stats.add("messages", len(messages))
        for message in messages:
            try:
                self._message(message, source, t_seconds)
            except Exception:
                self._internal_error(f"a message from {source!r}")

    def _message(self, message: MidiMessage, source: str, t: float) -> None:
        status, d1, d2 = message
        if status >= 0xF0:
            self._system(status, d1, d2, source, t)
            return
        kind, channel = status & 0xF0, status & 0x0F
        if kind == CONTROL_CHANGE:
            if self.learn is not None and self.learn.armed and self.learn.capture("cc", channel, d1, d2, t):
                return
            self._control_change(channel, d1, d2)
        elif kind == NOTE_ON and d2 > 0:
            if self.learn is not None and self.learn.armed and self.learn.capture("note", channel, d1, d2, t):
                return
            self._note(channel, d1, pressed=True)
        elif kind == NOTE_OFF or kind == NOTE_ON:
            self._note(channel, d1, pressed=False)
        elif kind == PROGRAM_CHANGE:
            if self.learn is not None and self.learn.armed and self.learn.capture("program", channel, d1, 0, t):
                return
            self._program(channel, d1)
        else:  # aftertouch, pitch bend: nothing in the instrument listens to them (yet)
            self.stats.add("ignored")

    def _system(self, status: int, d1: int, d2: int, source: str, t: float) -> None:
        clock = self.clock
        if status == CLOCK:
            self.stats.add("clock_ticks")
        if clock is None or status not in (CLOCK, START, CONTINUE, STOP, SONG_POSITION):
            if status != CLOCK:
                self.stats.add("ignored")
            return
        if not self.clock_accepts(source):
            self.stats.add("clock_ignored")
            return
        if status == CLOCK:
            taken = clock.tick(t, source)
        elif status == START:
            taken = clock.start(t, source)
        elif status == CONTINUE:
            taken = clock.continue_(t, source)
        elif status == STOP:
            taken = clock.stop(t, source)
        else:
            taken = clock.song_position(t, d1 | (d2 << 7), source)
        if not taken:
            self.stats.add("clock_ignored")

    # -- controls ------------------------------------------------------------------------------

    def _value_now(self, address: str) -> float | None:
        pending = self._pending.get(address)
        if pending is not None:
            return float(pending[1][0])
        return self._mirror.get(address)

    def _queue(self, target: Target, value: float) -> None:
        if target.flag:
            args: tuple[Any, ...] = (1 if value >= 0.5 else 0,)
        elif target.integer:
            args = (int(round(value)),)
        else:
            args = (float(value),)
        if target.address in self._pending:
            self.stats.add("coalesced")
        self._pending[target.address] = (target, args)

    def _control_change(self, channel: int, control: int, value: int) -> None:
        entries = self._cc.get((channel, control))
        if not entries:
            self.stats.add("ignored")
            return
        for state, role in entries:
            b = state.binding
            if state.trigger is not None:
                pressed = value >= 64
                if pressed != state.trigger.pressed:
                    self._fire(state.trigger, pressed)
                continue
            if b.mode in RELATIVE_MODES:
                self._relative(state, relative_delta(b.mode, value))
                continue
            if role == "msb":
                state.msb, state.lsb = value, 0  # an MSB resets the LSB (MIDI 1.0)
                fraction = (state.msb << 7) / 16383.0
            elif role == "lsb":
                state.lsb = value
                fraction = ((state.msb << 7) | state.lsb) / 16383.0
            else:
                fraction = value / 127.0
            self._absolute(state, scale(fraction, state.low, state.high))

    def _absolute(self, state: _CcState, value: float) -> None:
        target = state.target
        if state.pickup is not None:
            with self._lock:
                allowed = state.pickup.offer(value, self._value_now(target.address))
            if not allowed:
                self.stats.add("pickup_held")
                return
        self._queue(target, value)

    def _relative(self, state: _CcState, ticks: int) -> None:
        if ticks == 0:
            return
        target = state.target
        with self._lock:
            current = self._value_now(target.address)
        low, high = sorted((state.low, state.high))
        if current is None:
            current = low
        step = (state.high - state.low) / state.binding.sweep_ticks
        if target.integer:  # seeds: at least one whole step per tick
            change = math.copysign(max(1.0, round(abs(ticks * step))), ticks * step)
        else:
            change = ticks * step
        self._queue(target, min(max(current + change, low), high))

    # -- buttons ---------------------------------------------------------------------------------

    def _note(self, channel: int, note: int, pressed: bool) -> None:
        states = self._notes.get((channel, note))
        if not states:
            self.stats.add("ignored")
            return
        for state in states:
            self._fire(state.trigger, pressed)

    def _program(self, channel: int, program: int) -> None:
        done = False
        for state in self._programs.get(channel, ()):
            args = state.args_by_program.get(program)
            if args is not None:
                self._run(state.target, args)
                done = True
        if not done:
            self.stats.add("ignored")

    def _fire(self, trigger: _Trigger, pressed: bool) -> None:
        trigger.pressed = pressed
        target = trigger.target
        if not pressed:
            if trigger.action == "momentary":
                self._run(target, trigger.off_args)
            return
        action = trigger.action
        if action in ("set", "momentary"):
            self._run(target, trigger.args)
            return
        with self._lock:
            current = self._value_now(target.address)
        low, high = target.bounds
        if action == "toggle":
            self._run(target, (0 if (current or 0.0) >= 0.5 else 1,))
        elif action == "random":
            if target.kind in ("seed", "bseed"):
                self._run(target, (self._rng.randint(0, RANDOM_SEED_MAX),))
            elif target.integer:
                self._run(target, (self._rng.randint(int(low), int(high)),))
            else:
                self._run(target, (self._rng.uniform(low, high),))
        elif action == "step":
            value = (current if current is not None else max(low, 0.0)) + trigger.step
            value = min(max(value, low), high)
            self._run(target, (int(round(value)),) if target.integer else (float(value),))

    def _run(self, target: Target, args: tuple[Any, ...]) -> None:
        """A button's change: after what is queued (the order of the performance is kept)."""
        self.flush()
        self._execute(target, args)

    # -- to the engine -----------------------------------------------------------------------------

    def flush(self) -> int:
        """Hand the queued values to the engine, newest per address; returns how many went."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        applied = 0
        receiving = getattr(self._local, "receiving", False)
        self._local.receiving = True
        try:
            for address, (target, args) in pending.items():
                self._local.applying = address
                try:
                    applied += self._execute(target, args)
                finally:
                    self._local.applying = None
        finally:
            self._local.receiving = receiving
        return applied

    def _execute(self, target: Target, args: tuple[Any, ...]) -> int:
        try:
            self._executor.execute(target, args)
        except ValueError as e:
            self._reject("out_of_range", f"MIDI: {target.address} {list(args)}: {e}")
            return 0
        except TargetError as e:
            self._reject(e.reason if e.reason in self.stats.rejected else "internal_error", f"MIDI: {e}")
            return 0
        except Exception:
            self._internal_error(target.address)
            return 0
        self.stats.add("applied")
        return 1

    def _learn_target(self, args: tuple[Any, ...]) -> None:
        if self.on_learn_request is None:
            raise TargetError("learn_error", "MIDI learn is not available here")
        self.on_learn_request(args)

    def _reject(self, reason: str, message: str) -> None:
        self.stats.reject(reason)
        self._log(reason, message)

    def _internal_error(self, where: str) -> None:
        self.stats.reject("internal_error")
        self._log("internal_error", f"MIDI: unexpected error in {where}", logging.ERROR, exc_info=True)

    def poll_clock(self, now: float | None = None) -> None:
        """Let the clock follower notice a clock that stopped."""
        if self.clock is not None:
            self.clock.check(self._now() if now is None else now)
