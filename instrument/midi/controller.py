"""The MIDI controller of ``ganloops play``: ports, hot-plugging, the poll loop, clock out.

::

    scan thread (every second): list ports ──► open new wanted ones, close vanished ones
    poll thread (every 2 ms):  each open input ──read──► MidiDispatcher.receive ──► engine
                               then flush (newest value per address), clock timeout check
    clock-out thread:          ClockSender ──► the chosen output (when configured)
    engine listener:           every accepted change ──► the dispatcher's mirror / pickup

Nothing here runs on the audio thread or makes it wait: the engine's setters return at
once, ports are opened and closed on the scan thread, never under the poll's feet (the
poll holds the port list's lock for one pass; the scan swaps the list under it and closes
what it removed afterwards), and JACK MIDI clients live in a helper process
(``instrument.midi.jack_bridge`` says why).

Which inputs: every input, or those named (``inputs``, or ``[input] ports`` in the
mapping: every word of a name must appear in the port's name, case-insensitively). Never
this program's own ports. With the ALSA sequencer present and no names given, JACK's
copies of ALSA ports (``a2j:...``, ``system:midi_capture_N``) are skipped, so a controller
seen through both is not heard twice.

MIDI clock in and the other tempo sources: with a ``TempoArbiter``
(``instrument.tempo_sources``, shared with Ableton Link), the clock proposes its tempo and
its bar phase there (Link > MIDI clock > manual; the arbiter's phase lock puts the
engine's bar 1 on the clock's Start), and releases it when the clock is lost. Without one,
the clock sets the engine's tempo itself, when ``may_set_tempo()`` allows.

Start and stop: ``engine.transport_start(beats)`` / ``engine.transport_stop()`` when the
engine has them. This engine's transport always runs, so, as Link's start/stop sync does,
a Stop mutes the decks that are playing and Start/Continue unmutes those same decks (a deck
muted by hand stays muted); ``[clock] start_stop = false`` turns that off. When the clock
is lost or MIDI stops, decks it muted are unmuted: the music never stays silent because a
cable was pulled.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from instrument.midi.clock import ClockFollower, ClockSender, ClockSettings
from instrument.midi.dispatch import MidiDispatcher
from instrument.midi.learn import LearnError, MidiLearn
from instrument.midi.mapping import MappingError, MidiMapping, active_mapping
from instrument.midi.ports import (
    JACK_BRIDGE_PREFIXES,
    Backend,
    InputPort,
    OutputPort,
    default_backends,
    is_own_port,
    name_matches,
)
from instrument.midi.stats import MidiStats
from instrument.midi.targets import resolve_target
from instrument.controller_stats import RateLimitedLog

log = logging.getLogger("ganloops.midi")

MIDI_CLOCK_SOURCE = "midi_clock"  # the MIDI clock's name in instrument.tempo_sources

POLL_SECONDS = 0.002
SCAN_SECONDS = 1.0
MAX_MESSAGES_PER_POLL = 512  # per input and poll; more waits for the next poll (rtmidi queues 1024)
RESYNC_SECONDS = 1.0  # an input's accumulated timestamps that drift this far from the clock are re-anchored


@dataclass
class _Input:
    backend: Backend
    name: str
    port: InputPort
    source: str  # "JACK gltest:out": the dispatcher's and the clock follower's key
    time_seconds: float | None = None  # the last message's time (the port's deltas, anchored to `clock`)
    dropped_bytes_seen: int = 0  # the port's own count of bytes it dropped (JACK bridge), as last counted


class MidiController:
    """MIDI in (mapping, learn, pickup, clock follow) and clock out, for one engine."""

    def __init__(self, engine: Any, mapping: MidiMapping | None = None, *,
                 mapping_path: str | Path | None = None, learn_path: str | Path | None = None,
                 inputs: Sequence[str] | None = None, clock_out: str | None = None,
                 backends: Sequence[Backend] | None = None, scenes: Any = None,
                 may_set_tempo: Callable[[], bool] | None = None, tempo_arbiter: Any = None,
                 clock_settings: ClockSettings | None = None,
                 poll_seconds: float = POLL_SECONDS, scan_seconds: float = SCAN_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.mapping_error: MappingError | None = None
        if mapping is None:
            try:
                mapping, default_learn_path = active_mapping(mapping_path)
            except MappingError as e:  # raised by start(): play reports it and plays on without MIDI
                self.mapping_error = e
                mapping, default_learn_path = MidiMapping(), None
        else:
            default_learn_path = Path(mapping_path) if mapping_path is not None else None
        self.engine = engine
        self.learn_path = Path(learn_path) if learn_path is not None else default_learn_path
        self.input_patterns = tuple(inputs) if inputs is not None else mapping.ports
        self.clock_out_pattern = clock_out if clock_out is not None else mapping.clock_send_to
        self.backends: list[Backend] = list(backends) if backends is not None else default_backends()
        for backend in self.backends:
            if hasattr(backend, "want_outputs"):  # list outputs only when clock out needs them
                backend.want_outputs = bool(self.clock_out_pattern)
        self.stats = MidiStats()
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._scan_seconds = scan_seconds
        self._log = RateLimitedLog(log)
        self.tempo_arbiter = tempo_arbiter
        self._start_stop = mapping.clock_start_stop
        self._muted_by_clock: list[int] = []
        if may_set_tempo is None:
            may_set_tempo = ((lambda: bool(tempo_arbiter.allows(MIDI_CLOCK_SOURCE)))
                             if tempo_arbiter is not None else (lambda: True))
        follow = mapping.clock_follow and not self.clock_out_pattern  # never follow our own clock
        self.clock = ClockFollower(apply_tempo=self._apply_tempo, current_tempo=self._current_tempo,
                                   may_set_tempo=may_set_tempo,
                                   on_start=self._transport_start, on_stop=self._transport_stop,
                                   on_lost=self._clock_lost, on_tick=self._clock_tick,
                                   settings=clock_settings)
        self.dispatcher = MidiDispatcher(engine, mapping, stats=self.stats, scenes=scenes,
                                         clock=self.clock if follow else None, now=clock)
        self.learner = MidiLearn(current=lambda: self.dispatcher.mapping, install=self.dispatcher.install,
                                 path=self.learn_path, stats=self.stats,
                                 last_external=lambda: self.dispatcher.last_external_address, clock=clock)
        self.dispatcher.learn = self.learner
        self.dispatcher.on_learn_request = self._learn_request
        if mapping.clock_port:
            pattern = mapping.clock_port
            self.dispatcher.clock_accepts = lambda source: name_matches(pattern, source)
        self._inputs: dict[tuple[str, str], _Input] = {}
        self._ports_lock = threading.Lock()
        self._output: tuple[Backend, OutputPort] | None = None
        self._sender: ClockSender | None = None
        self._running = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- life cycle ------------------------------------------------------------------------

    @property
    def mapping(self) -> MidiMapping:
        return self.dispatcher.mapping

    def attach(self) -> None:
        """Listen to the engine and open the inputs there are now (``start`` does this, then the threads).

        A mapping file that could not be read is raised here (``MappingError``, one line).
        """
        if self.mapping_error is not None:
            raise self.mapping_error
        self.engine.add_listener(self.dispatcher.on_engine_change)
        self.dispatcher.sync_from_engine()
        self._check_decks()
        log.info("MIDI: mapping %s; MIDI learn saves to %s", self.mapping.source, self.learn_path or "nowhere")
        self.scan_once()
        if not self._inputs:
            states = "; ".join(f"{b.label}: {b.describe()}" for b in self.backends)
            log.info("MIDI: no inputs yet (%s); a controller plugged in later is picked up", states)

    def start(self) -> None:
        """Open the inputs there are now, then keep polling and scanning on threads."""
        if self._running:
            return
        self.attach()
        self._running = True
        self._stop.clear()
        self._threads = [threading.Thread(target=self._poll_loop, name="ganloops-midi", daemon=True),
                         threading.Thread(target=self._scan_loop, name="ganloops-midi-ports", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop the threads, send clock Stop, close every port."""
        self._running = False
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        self.detach()

    def detach(self) -> None:
        """Stop listening to the engine; close every port and the clock output; give back the tempo."""
        self._clock_lost()
        remove = getattr(self.engine, "remove_listener", None)
        if callable(remove):
            remove(self.dispatcher.on_engine_change)
        self._close_output()
        with self._ports_lock:
            inputs, self._inputs = list(self._inputs.values()), {}
        for item in inputs:
            item.port.close()
        for backend in self.backends:
            forget = getattr(backend, "forget", None)
            if callable(forget):
                forget()

    def __enter__(self) -> "MidiController":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _check_decks(self) -> None:
        decks = getattr(getattr(self.engine, "config", None), "decks", None)
        if not isinstance(decks, int):
            return
        m = self.mapping
        beyond = sorted({a for a in [b.address for b in m.cc] + [b.address for b in m.notes]
                         + [b.address for b in m.programs] if (resolve_target(a).deck or 0) > decks})
        if beyond:
            log.info("MIDI: %d mapped control(s) are for decks this engine does not have (%d deck(s)): %s",
                     len(beyond), decks, ", ".join(beyond[:4]) + (" ..." if len(beyond) > 4 else ""))

    # -- ports ---------------------------------------------------------------------------------

    @property
    def inputs(self) -> list[str]:
        """The open inputs, as "BACKEND name"."""
        with self._ports_lock:
            return [item.source for item in self._inputs.values()]

    @property
    def clock_output(self) -> str | None:
        output = self._output
        return None if output is None else f"{output[0].label} {output[1].name}"

    def _wanted(self, backend: Backend, name: str, platform_present: bool) -> bool:
        if is_own_port(name):
            return False
        if self.input_patterns:
            return any(name_matches(p, name) for p in self.input_patterns)
        if platform_present and backend.label == "JACK" and name.startswith(JACK_BRIDGE_PREFIXES):
            return False
        return True

    def scan_once(self) -> None:
        """Open wanted inputs that appeared, close those that vanished; the same for the clock output."""
        listed: dict[str, tuple[Backend, list[str], list[str]]] = {}
        for backend in self.backends:
            names: list[str] = []
            outputs: list[str] = []
            try:
                if backend.available():
                    names = backend.input_names()
                    outputs = backend.output_names() if self.clock_out_pattern else []
            except Exception as e:
                self.stats.add("port_errors")
                self._log(f"list-{backend.label}", f"MIDI ({backend.label}): cannot list ports ({e})")
            listed[backend.label] = (backend, names, outputs)
        platform_present = any(b.label != "JACK" and names for b, names, _ in listed.values())
        self._update_inputs(listed, platform_present)
        self._update_output(listed)

    def _update_inputs(self, listed: dict[str, tuple[Backend, list[str], list[str]]],
                       platform_present: bool) -> None:
        with self._ports_lock:
            current = dict(self._inputs)
        present = {(label, name) for label, (_, names, _) in listed.items() for name in names}
        gone = [key for key in current if key not in present]
        opened: dict[tuple[str, str], _Input] = {}
        for label, (backend, names, _) in listed.items():
            for name in names:
                key = (label, name)
                if key in current or not self._wanted(backend, name, platform_present):
                    continue
                try:
                    port = backend.open_input(name)
                except Exception as e:
                    self.stats.add("port_errors")
                    self._log(f"open-{label}-{name}", f"MIDI: cannot open input {name} ({label}): {e}")
                    continue
                opened[key] = _Input(backend, name, port, f"{label} {name}")
        if not gone and not opened:
            return
        with self._ports_lock:
            removed = [self._inputs.pop(key) for key in gone if key in self._inputs]
            self._inputs.update(opened)
        for item in removed:
            item.port.close()
            self.dispatcher.forget_source(item.source)
            self.stats.add("ports_closed")
            log.info("MIDI: input %s (%s) went away", item.name, item.backend.label)
        for item in opened.values():
            self.stats.add("ports_opened")
            log.info("MIDI: listening to %s (%s)", item.name, item.backend.label)

    def _drop_input(self, key: tuple[str, str]) -> None:
        """A port that fails to read is closed; the next scan reopens it if it is still listed."""
        item = self._inputs.pop(key, None)  # the caller holds _ports_lock
        if item is not None:
            item.port.close()
            self.dispatcher.forget_source(item.source)
            self.stats.add("ports_closed")

    def _update_output(self, listed: dict[str, tuple[Backend, list[str], list[str]]]) -> None:
        pattern = self.clock_out_pattern
        if not pattern:
            return
        if self._output is not None:
            backend, port = self._output
            if port.name not in listed.get(backend.label, (None, [], []))[2]:
                log.info("MIDI clock out: %s (%s) went away", port.name, backend.label)
                self._close_output()
            return
        for label, (backend, _, outputs) in listed.items():
            for name in outputs:
                if is_own_port(name) or not name_matches(pattern, name):
                    continue
                try:
                    port = backend.open_output(name)
                except Exception as e:
                    self.stats.add("port_errors")
                    self._log(f"open-out-{label}-{name}", f"MIDI: cannot open output {name} ({label}): {e}")
                    continue
                self._output = (backend, port)
                self._sender = self._make_sender(port)
                self._sender.start()
                log.info("MIDI clock out: sending to %s (%s), starting at the next bar", name, label)
                return

    def _make_sender(self, port: OutputPort) -> ClockSender:
        engine = self.engine
        return ClockSender(port.send, tempo_bpm=lambda: engine.transport.tempo_bpm,
                           beats=lambda: engine.position.beats,
                           beats_per_bar=lambda: engine.transport.beats_per_bar)

    def _close_output(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.stop()
        output, self._output = self._output, None
        if output is not None:
            output[1].close()

    # -- threads ---------------------------------------------------------------------------------

    def poll_once(self, now: float | None = None) -> None:
        """Read every open input once, act on what came, hand the changes to the engine."""
        now = self._clock() if now is None else now
        with self._ports_lock:
            for key, item in list(self._inputs.items()):
                try:
                    batch = item.port.read(MAX_MESSAGES_PER_POLL)
                except Exception as e:
                    self.stats.add("port_errors")
                    self._log(f"read-{item.source}", f"MIDI: reading {item.source} failed ({e}); closing it")
                    self._drop_input(key)
                    continue
                self._count_port_drops(item)
                if not batch:
                    continue
                for (data, _), t in zip(batch, self._batch_times(item, [d for _, d in batch], now)):
                    self.dispatcher.receive(item.source, data, t)
        self.dispatcher.flush()
        self.dispatcher.poll_clock(now)

    def _count_port_drops(self, item: _Input) -> None:
        """Bytes a port dropped before we read them (the JACK bridge's full queue): "overflow"."""
        dropped = getattr(item.port, "dropped_bytes", 0)
        if isinstance(dropped, int) and dropped > item.dropped_bytes_seen:
            lost, item.dropped_bytes_seen = dropped - item.dropped_bytes_seen, dropped
            self.stats.reject("overflow", lost)
            self._log("overflow", f"MIDI from {item.source}: {lost} bytes dropped, more than the input's "
                                  f"queue holds arrived before they could be read")

    @staticmethod
    def _batch_times(item: _Input, deltas: list[float | None], now: float) -> list[float]:
        """The messages' times: the port's own deltas (exact under JACK), anchored to our clock.

        The deltas go on from the port's previous message. Where that is unknown (the first
        read, a port without deltas), the batch is placed so that its last message is now.
        Times can only be in the past: a batch that would end after `now`, or more than
        RESYNC_SECONDS before it, is moved to end now.
        """
        times: list[float] = []
        t = item.time_seconds
        if t is not None and all(d is not None for d in deltas):
            for d in deltas:
                t += d  # type: ignore[operator]
                times.append(t)
        else:
            offsets = [0.0]
            for d in deltas[1:]:
                offsets.append(offsets[-1] + (d or 0.0))
            times = [now - (offsets[-1] - o) for o in offsets]
        shift = now - times[-1]
        if shift < 0.0 or shift > RESYNC_SECONDS:
            times = [x + shift for x in times]
        item.time_seconds = times[-1]
        return times

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                self.stats.reject("internal_error")
                self._log("internal_error", "MIDI: unexpected error in the poll loop", logging.ERROR, exc_info=True)
            self._stop.wait(self._poll_seconds)

    def _scan_loop(self) -> None:
        while not self._stop.wait(self._scan_seconds):
            try:
                self.scan_once()
            except Exception:
                self.stats.reject("internal_error")
                self._log("internal_error", "MIDI: unexpected error in the port scan", logging.ERROR, exc_info=True)

    # -- clock in -> engine ------------------------------------------------------------------------

    def _apply_tempo(self, bpm: float) -> None:
        arbiter = self.tempo_arbiter
        if arbiter is not None:
            now = self._clock()
            arbiter.propose(MIDI_CLOCK_SOURCE, bpm, self.clock.position_at(now))
            return
        try:
            self.engine.set_tempo(bpm)
        except ValueError as e:
            self.stats.reject("out_of_range")
            self._log("out_of_range", f"MIDI clock: tempo {bpm}: {e}")

    def _current_tempo(self) -> float | None:
        return self.dispatcher.current("/ganloops/tempo")

    def _clock_tick(self, t_seconds: float) -> None:
        """Each tick of a running clock tells the arbiter's phase lock where the bar is."""
        arbiter = self.tempo_arbiter
        if arbiter is None:
            return
        now = self._clock()
        position = self.clock.position_at(now)
        if position is not None:
            arbiter.align(MIDI_CLOCK_SOURCE, position)

    def _clock_lost(self) -> None:
        """The clock went quiet (or MIDI stops): the tempo goes back to the next source, decks play."""
        if self.tempo_arbiter is not None:
            self.tempo_arbiter.release(MIDI_CLOCK_SOURCE)
        self._unmute_clock_mutes()

    def _transport_start(self, beats: float) -> None:
        start = getattr(self.engine, "transport_start", None)
        if callable(start):
            start(beats)
        elif self._start_stop:
            self._unmute_clock_mutes()

    def _transport_stop(self) -> None:
        stop = getattr(self.engine, "transport_stop", None)
        if callable(stop):
            stop()
        elif self._start_stop and not self._muted_by_clock:
            state = self.engine.state()
            self._muted_by_clock = [d for d, deck in enumerate(state["decks"], start=1) if not deck["mute"]]
            for d in self._muted_by_clock:
                self._set_mute(d, True)
            log.info("MIDI clock: stop (deck%s %s muted until it starts again)",
                     "s" if len(self._muted_by_clock) != 1 else "", ", ".join(map(str, self._muted_by_clock)))

    def _unmute_clock_mutes(self) -> None:
        decks, self._muted_by_clock = self._muted_by_clock, []
        for d in decks:
            self._set_mute(d, False)

    def _set_mute(self, deck: int, mute: bool) -> None:
        try:
            self.engine.set_mute(deck, mute)
        except ValueError as e:
            self.stats.reject("out_of_range")
            self._log("out_of_range", f"MIDI clock: mute deck {deck}: {e}")

    # -- learn -------------------------------------------------------------------------------------

    def learn(self, address: str = "", *args: Any) -> None:
        """Arm MIDI learn (OSC ``/ganloops/learn s address [s mode | value]``); LearnError if it cannot."""
        try:
            self.learner.request((address, *args))
        except LearnError:
            self.stats.reject("learn_error")
            raise

    def learn_cancel(self) -> None:
        self.learner.cancel()

    def _learn_request(self, args: tuple[Any, ...]) -> None:
        try:
            self.learner.request(args)
        except LearnError as e:
            from instrument.midi.targets import TargetError

            raise TargetError("learn_error", str(e)) from None

    # -- reporting -------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counters, open ports, the clock follower and learn, for a status line or /stats."""
        fit = self.clock.fit
        return {"inputs": self.inputs, "clock_out": self.clock_output, **self.stats.snapshot(),
                "clock": {"source": self.clock.source, "bpm": None if fit is None else round(fit.bpm, 2),
                          "running": self.clock.running, "following": self.dispatcher.clock is not None,
                          "muted_decks": list(self._muted_by_clock)},
                "learn": self.learner.armed_address}


def create_controller(engine: Any, **options: Any) -> MidiController:
    """The MIDI controller ``ganloops play`` starts (see MidiController for the options)."""
    return MidiController(engine, **options)
