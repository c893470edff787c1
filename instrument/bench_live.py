"""Live figures for ``ganloops bench``: control-to-audio latency, callback time, underruns.

Everything runs as ``ganloops play`` runs it, in this process: the ``Engine`` with two decks,
``AudioOutput`` on a JACK server, ``OscServer`` on a loopback port. The JACK server is a
private ``jackd -d dummy`` (``instrument.bench_jack``): a real audio clock with no sound card.

Latency, one knob move at a time. A UDP client in this process sends
``/ganloops/deck/1/knob/1 f v`` (a value no earlier move used) and notes the send time. It
then waits until deck 1 plays the loop rendered for ``v`` and pauses a random 20-80 ms, so
sends fall anywhere in the audio period, and moves on. What is measured, per move:

- ``osc``: send -> the engine accepted the value (an engine listener notes the time);
- ``render``: the deck's render of ``v`` (the render thread's own timing of it);
- ``total``: send -> the audio callback that hands JACK the first frame of the new loop.
  The engine's journal says at which output frame the new loop's crossfade started (its
  ``swap`` events carry the frame and the controls the loop was rendered from); the
  ``FrameClock`` wrapped around the engine's callback says when each callback ran and which
  frames it played. Both clocks are ``time.monotonic_ns``;
- ``ring``: the frames the mixer keeps ready ahead of the callback (``engine.latency_frames``),
  a constant of the configuration, the upper bound of how long a finished block waits;
- ``other``: total - osc - render - ring: thread wake-ups, waiting for the interpreter lock,
  the mixer picking the loop up at its next block.

JACK's own buffer (PortAudio's reported output latency) comes after the callback; it is
reported beside the total, not added to it.

Soak: both decks play; a sender thread moves a knob on each deck 50 times a second, so
renders never stop and coalesce as they do under a performer's hand. Before it, a "still"
phase plays the same two decks with nothing moving (no renders): the baseline that tells
the dropouts the renders cause from those the machine causes anyway. Counted over the soak:
engine underruns (the callback found the ring short), the xruns jackd reports in its log
(cycles ganloops did not finish in time, and cycles jackd itself woke up late), and
PortAudio's underflow flags (which echo jackd's xruns). How busy the machine was: this
process's CPU time, and every other process's (from /proc/stat, less this process and
jackd), over the soak's wall time; the engine's callback durations are collected from its
history once a second, so the percentiles cover every callback of the soak.
"""

from __future__ import annotations

import math
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from instrument.bench_jack import BenchError, DummyJack
from instrument.bench_stats import Summary, summarize
from instrument.engine import Engine, EngineConfig
from instrument.journal import read_journal
from instrument.osc_wire import encode_message

MOVE_GAP_SECONDS = (0.02, 0.08)  # random pause after a move is heard, before the next one
MOVE_TIMEOUT_SECONDS = 10.0  # a move not heard by then is counted as lost
POLL_SECONDS = 0.002  # how often the client looks whether its move is playing
SOAK_MOVE_HZ = 50.0
SOAK_POLL_SECONDS = 1.0
WARMUP_SECONDS = 1.0

Progress = Callable[[str], None]


# ---------------------------------------------------------------------------------------
# The frame clock: which frames each callback played, and when
# ---------------------------------------------------------------------------------------


class FrameClock:
    """Wraps a source callback; notes per call the first ring frame it played and the time it ran.

    Runs in the audio callback, so it only stores two integers into preallocated arrays
    (calls beyond `capacity` are counted, not stored). Frame numbers are the ring's read
    count, which is the mixer's output frame number (the journal's frames): frames the
    callback plays as silence during an underrun are not numbered.
    """

    def __init__(self, source: Callable[[np.ndarray, int], None], frames_read: Callable[[], int],
                 capacity: int) -> None:
        self._source = source
        self._frames_read = frames_read
        self.capacity = int(capacity)
        self.first_frame = np.zeros(self.capacity, dtype=np.int64)
        self.time_ns = np.zeros(self.capacity, dtype=np.int64)
        self.calls = 0

    def __call__(self, outdata: np.ndarray, frames: int) -> None:
        started_ns = time.monotonic_ns()
        first = self._frames_read()
        self._source(outdata, frames)
        i = self.calls
        if i < self.capacity:
            self.first_frame[i] = first
            self.time_ns[i] = started_ns
        self.calls = i + 1

    def stored(self) -> int:
        return min(self.calls, self.capacity)

    def played_at_ns(self, frame: int) -> int | None:
        """When the callback that played output frame `frame` ran; None if no stored callback has played it."""
        n = self.stored()
        if n < 2:
            return None
        firsts = self.first_frame[:n]
        # callback i played [firsts[i], firsts[i + 1]); the last call's end is not known, so it is not used
        i = int(np.searchsorted(firsts, frame, side="right")) - 1
        if i < 0 or i >= n - 1 or not firsts[i] <= frame < firsts[i + 1]:
            return None
        return int(self.time_ns[i])

    def spacing_ms(self, since_call: int = 0) -> list[float]:
        """Milliseconds between the starts of consecutive stored calls from `since_call` on."""
        n = self.stored()
        if n - since_call < 2:
            return []
        return list(np.diff(self.time_ns[since_call:n]) / 1e6)


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


@dataclass
class MoveRecord:
    """One knob move of the latency phase; times are ``time.monotonic_ns``."""

    value: float
    sent_ns: int
    accepted_ns: int | None = None
    render_ms: float | None = None
    heard: bool = False  # the deck played the loop rendered for this value before the timeout
    swap_frame: int | None = None
    played_ns: int | None = None

    @property
    def total_ms(self) -> float | None:
        return None if self.played_ns is None else (self.played_ns - self.sent_ns) / 1e6

    @property
    def osc_ms(self) -> float | None:
        return None if self.accepted_ns is None else (self.accepted_ns - self.sent_ns) / 1e6

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "sent_ns": self.sent_ns, "accepted_ns": self.accepted_ns,
                "render_ms": self.render_ms, "heard": self.heard, "swap_frame": self.swap_frame,
                "played_ns": self.played_ns, "total_ms": self.total_ms, "osc_ms": self.osc_ms}


@dataclass
class LatencyFigures:
    """Control-to-audio latency over the moves (milliseconds)."""

    moves: int
    measured: int  # moves with a total (sent, heard, swap found in the journal, callback found)
    total_ms: Summary | None
    osc_ms: Summary | None
    render_ms: Summary | None
    other_ms: Summary | None
    ring_ms: float
    block_ms: float
    device_latency_ms: float  # PortAudio's reported output latency under JACK, after the callback
    records: list[MoveRecord] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def s(x: Summary | None) -> dict[str, Any] | None:
            return None if x is None else x.to_json()

        return {"moves": self.moves, "measured": self.measured, "total_ms": s(self.total_ms),
                "osc_ms": s(self.osc_ms), "render_ms": s(self.render_ms), "other_ms": s(self.other_ms),
                "ring_ms": self.ring_ms, "block_ms": self.block_ms, "device_latency_ms": self.device_latency_ms,
                "records": [r.to_json() for r in self.records]}


@dataclass
class SoakFigures:
    """Two decks playing, with knob moves at 50 Hz or still: underruns, callback and render durations, load."""

    moving: bool  # knobs moved at SOAK_MOVE_HZ; False: the baseline, decks playing and nothing moving
    seconds: float
    decks: int
    moves_sent: int
    renders: int
    render_errors: int
    render_ms: Summary | None
    callbacks: int
    callback_us: Summary | None
    callbacks_not_timed: int  # callbacks that left the engine's history before they were read
    callback_spacing_ms: Summary | None
    block_period_us: float
    engine_underruns: int
    portaudio_underflows: int
    jack_client_xruns: int
    jack_server_xruns: int
    reconnects: int
    callback_errors: int
    process_cpu_percent: float  # of one core
    others_cpu_percent: float | None  # every other process but jackd, of one core (None: no /proc/stat)
    load_average_start: float
    load_average_end: float

    @property
    def dropouts(self) -> int:
        """Audible gaps: the ring empty, ganloops late for a cycle, jackd late (PortAudio's flags echo the last two)."""
        return self.engine_underruns + self.jack_client_xruns + self.jack_server_xruns

    def per_minute(self, count: int) -> float:
        return count * 60.0 / max(self.seconds, 1e-9)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dropouts": self.dropouts}
        for key, value in self.__dict__.items():
            out[key] = value.to_json() if isinstance(value, Summary) else value
        return out


@dataclass
class LiveFigures:
    """What one live run measured, with the setup it ran on."""

    jack_server: str
    jack_pid: int | None
    jackd_version: str
    realtime: bool  # jackd (and so the audio callback) ran with SCHED_FIFO
    device: str
    sample_rate_hz: int
    block_frames: int
    provider: str
    latency: LatencyFigures
    still: SoakFigures  # the baseline: both decks playing, no knob moving, so no renders
    soak: SoakFigures  # knob moves at SOAK_MOVE_HZ on both decks

    def to_json(self) -> dict[str, Any]:
        return {"jack_server": self.jack_server, "jack_pid": self.jack_pid, "jackd_version": self.jackd_version,
                "realtime": self.realtime, "device": self.device, "sample_rate_hz": self.sample_rate_hz, "block_frames": self.block_frames,
                "provider": self.provider, "latency": self.latency.to_json(), "still": self.still.to_json(),
                "soak": self.soak.to_json()}


# ---------------------------------------------------------------------------------------
# The phases
# ---------------------------------------------------------------------------------------


def move_values(count: int, rng: np.random.Generator) -> list[float]:
    """`count` distinct non-zero knob values in -1..1, exact in float32 (OSC's `f`), so the value the
    engine took can be found again in the journal by equality."""
    if not 1 <= count <= 2 * 65536:
        raise ValueError(f"moves: expected 1..{2 * 65536}, got {count}")
    steps = rng.choice(np.concatenate([np.arange(-65536, 0), np.arange(1, 65537)]), size=count, replace=False)
    return [float(np.float32(k / 65536.0)) for k in steps]


def first_swaps(journal_path: Path, deck: int, knob: int) -> dict[float, int]:
    """For each value of `knob` on `deck`, the output frame of the first swap to a loop rendered with it."""
    first: dict[float, int] = {}
    for event in read_journal(journal_path).events:
        if event.kind != "swap" or int(event.args.get("deck", 0)) != deck:
            continue
        knobs = event.args.get("state", {}).get("knobs", [])
        if len(knobs) >= knob:
            value = float(knobs[knob - 1])
            if value not in first or event.frame < first[value]:
                first[value] = int(event.frame)
    return first


def _copy_recent(values: Any) -> list[float]:
    """A copy of a deque another thread appends to (a copy racing an append is retried)."""
    for _ in range(100):
        try:
            return list(values)
        except RuntimeError:
            continue
    return []


def _latency_phase(engine: Engine, port: int, moves: int, rng: np.random.Generator, progress: Progress,
                   deck: int = 1, knob: int = 1) -> list[MoveRecord]:
    address = f"/ganloops/deck/{deck}/knob/{knob}"
    accepted: dict[float, int] = {}

    def on_change(changed: str, args: tuple) -> None:
        if changed == address and args:
            accepted.setdefault(float(args[0]), time.monotonic_ns())

    engine.add_listener(on_change)
    playback = engine.mixer.decks[deck - 1]
    records: list[MoveRecord] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        report_every = max(1, moves // 4)
        for n, value in enumerate(move_values(moves, rng), start=1):
            time.sleep(float(rng.uniform(*MOVE_GAP_SECONDS)))
            datagram = encode_message(address, (value,))
            record = MoveRecord(value=value, sent_ns=time.monotonic_ns())
            sock.sendto(datagram, ("127.0.0.1", port))
            deadline = time.monotonic() + MOVE_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                loop = playback.current
                if loop is not None and loop.controls.knobs[knob - 1] == value:
                    record.heard, record.render_ms = True, float(loop.render_ms)
                    break
                time.sleep(POLL_SECONDS)
            record.accepted_ns = accepted.get(value)
            records.append(record)
            if n % report_every == 0:
                progress(f"latency: {n}/{moves} moves")
        time.sleep(0.25)  # the last swap reaches the journal and the callback
    finally:
        sock.close()
        engine.remove_listener(on_change)
    return records


def _resolve_latency(records: list[MoveRecord], journal_path: Path, clock: FrameClock, deck: int = 1,
                     knob: int = 1) -> None:
    swaps = first_swaps(journal_path, deck, knob)
    for record in records:
        frame = swaps.get(record.value)
        record.swap_frame = frame
        if frame is not None and record.heard:
            record.played_ns = clock.played_at_ns(frame)


def latency_figures(records: list[MoveRecord], ring_ms: float, block_ms: float,
                    device_latency_ms: float) -> LatencyFigures:
    measured = [r for r in records if r.total_ms is not None]
    other = [r.total_ms - r.osc_ms - r.render_ms - ring_ms for r in measured  # type: ignore[operator]
             if r.osc_ms is not None and r.render_ms is not None]
    return LatencyFigures(
        moves=len(records), measured=len(measured), total_ms=summarize(r.total_ms for r in measured),
        osc_ms=summarize(r.osc_ms for r in records if r.osc_ms is not None),
        render_ms=summarize(r.render_ms for r in records if r.render_ms is not None),
        other_ms=summarize(other), ring_ms=ring_ms, block_ms=block_ms, device_latency_ms=device_latency_ms,
        records=records)


def machine_busy_seconds(stat_path: Path = Path("/proc/stat")) -> float | None:
    """CPU seconds all cores have spent busy since boot (Linux), or None where /proc/stat is missing."""
    try:
        fields = stat_path.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    guest = sum(ticks[8:10])  # guest time is already counted in user/nice
    return (sum(ticks) - idle - guest) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process `pid` (Linux), or None."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _soak_sender(port: int, decks: int, stop: threading.Event, sent: list[int]) -> None:
    """Knob 2 of every deck swept at SOAK_MOVE_HZ messages per second per deck, on an absolute schedule."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        period = 1.0 / SOAK_MOVE_HZ
        started = time.monotonic()
        tick = 0
        while not stop.is_set():
            t = tick * period
            for d in range(1, decks + 1):
                value = float(np.float32(0.8 * math.sin(2 * math.pi * 0.25 * t + d)))
                sock.sendto(encode_message(f"/ganloops/deck/{d}/knob/2", (value,)), ("127.0.0.1", port))
                sent[0] += 1
            tick += 1
            stop.wait(max(0.0, started + tick * period - time.monotonic()))
    finally:
        sock.close()


def _soak_phase(engine: Engine, output: Any, jack: DummyJack, clock: FrameClock, port: int, seconds: float,
                progress: Progress, moving: bool = True) -> SoakFigures:
    config = engine.config
    stats = engine.stats
    underruns0, callbacks0 = stats.underruns, stats.callbacks
    audio0 = output.status()
    xruns0 = jack.xruns()
    renders0 = [w.renders for w in engine.workers]
    errors0 = sum(w.render_errors for w in engine.workers)
    call0 = clock.stored()
    load0 = os.getloadavg()[0]
    cpu0, wall0 = time.process_time(), time.monotonic()
    busy0, jack_cpu0 = machine_busy_seconds(), process_cpu_seconds(jack.pid)

    callback_us: list[float] = []
    render_ms: list[float] = []
    last_callbacks = callbacks0
    last_renders = list(renders0)
    not_timed = 0

    def collect() -> None:
        nonlocal last_callbacks, not_timed
        s = engine.stats
        new = s.callbacks - last_callbacks
        history = s.callback_us
        if new > 0:
            take = min(new, history.shape[0])
            callback_us.extend(history[history.shape[0] - take:].tolist())
            not_timed += new - take
        last_callbacks = s.callbacks
        for i, worker in enumerate(engine.workers):
            count = worker.renders
            fresh = count - last_renders[i]
            if fresh > 0:
                recent = _copy_recent(worker.render_ms)
                render_ms.extend(recent[-min(fresh, len(recent)):] if recent else [])
            last_renders[i] = count

    stop = threading.Event()
    sent = [0]
    sender = threading.Thread(target=_soak_sender, args=(port, config.decks, stop, sent), name="bench-soak-sender",
                              daemon=True)
    if moving:
        sender.start()
    next_report = wall0 + 60.0
    try:
        while True:
            elapsed = time.monotonic() - wall0
            if elapsed >= seconds:
                break
            time.sleep(min(SOAK_POLL_SECONDS, seconds - elapsed))
            collect()
            if time.monotonic() >= next_report:
                next_report += 60.0
                client, server = jack.xruns()
                progress(f"{'soak' if moving else 'still'}: {time.monotonic() - wall0:.0f}/{seconds:g} s, underruns "
                         f"{engine.stats.underruns - underruns0}, jackd xruns {client - xruns0[0]} (ganloops late) + "
                         f"{server - xruns0[1]} (jackd late)")
    finally:
        stop.set()
        if moving:
            sender.join(timeout=5)
    collect()
    cpu1, wall1 = time.process_time(), time.monotonic()
    busy1, jack_cpu1 = machine_busy_seconds(), process_cpu_seconds(jack.pid)
    others = None
    if None not in (busy0, busy1, jack_cpu0, jack_cpu1):
        others = (busy1 - busy0 - (cpu1 - cpu0) - (jack_cpu1 - jack_cpu0)) / max(wall1 - wall0, 1e-9) * 100.0
    audio1 = output.status()
    stats = engine.stats
    return SoakFigures(
        moving=moving, seconds=wall1 - wall0, decks=config.decks, moves_sent=sent[0],
        renders=sum(w.renders for w in engine.workers) - sum(renders0),
        render_errors=sum(w.render_errors for w in engine.workers) - errors0,
        render_ms=summarize(render_ms), callbacks=stats.callbacks - callbacks0, callback_us=summarize(callback_us),
        callbacks_not_timed=not_timed, callback_spacing_ms=summarize(clock.spacing_ms(call0)),
        block_period_us=config.block_frames / config.sample_rate_hz * 1e6,
        engine_underruns=stats.underruns - underruns0, portaudio_underflows=audio1.underflows - audio0.underflows,
        jack_client_xruns=jack.xruns()[0] - xruns0[0], jack_server_xruns=jack.xruns()[1] - xruns0[1],
        reconnects=audio1.reconnects - audio0.reconnects,
        callback_errors=audio1.callback_errors - audio0.callback_errors,
        process_cpu_percent=100.0 * (cpu1 - cpu0) / max(wall1 - wall0, 1e-9),
        others_cpu_percent=None if others is None else max(others, 0.0),
        load_average_start=load0, load_average_end=os.getloadavg()[0])


def _wait_until_playing(engine: Engine, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if all(pb.current is not None for pb in engine.mixer.decks):
            return
        time.sleep(0.05)
    raise BenchError(f"the decks did not start playing within {timeout_seconds:g} s "
                     f"({engine.stats.last_error or 'no error reported'})")


def run_live(bundle: Path, provider: str, moves: int, soak_seconds: float, still_seconds: float = 60.0,
             sample_rate_hz: int = 48000, block_frames: int = 256, seed: int = 0, realtime: bool = False,
             progress: Progress = lambda line: None) -> LiveFigures:
    """Start a private JACK server, play `bundle` on two decks through it, and measure (module doc)."""
    from instrument.audio import AudioOutput
    from instrument.osc import OscServer

    if soak_seconds <= 0 or still_seconds <= 0:
        raise ValueError(f"soak_seconds, still_seconds: expected positive numbers, got {soak_seconds}, "
                         f"{still_seconds}")
    rng = np.random.default_rng(seed)
    callbacks_per_second = sample_rate_hz / block_frames
    capacity = int((soak_seconds + still_seconds + moves * 1.5 + 120.0) * callbacks_per_second) + 1024
    with DummyJack(sample_rate_hz, block_frames, realtime=realtime) as jack, jack.as_default_server(), \
            tempfile.TemporaryDirectory(prefix="ganloops-bench-") as scratch:
        progress(f"JACK dummy server '{jack.name}' at {sample_rate_hz} Hz, {block_frames} frames per period"
                 + (", realtime" if realtime else ""))
        engine = Engine(EngineConfig(sample_rate_hz=sample_rate_hz, block_frames=block_frames, channels=2, decks=2),
                        provider=provider)
        engine.set_seed(2, 1)  # deck 2 plays another loop of the same model
        for deck in (1, 2):
            engine.load_deck(deck, bundle, wait=True)
        clock = FrameClock(engine.callback, lambda: engine.ring.frames_read, capacity)
        output = AudioOutput(clock, device=None, sample_rate_hz=sample_rate_hz, block_frames=block_frames, channels=2)
        osc = OscServer(engine, host="127.0.0.1", port=0)
        journal_path = Path(scratch) / "latency.journal.jsonl"
        engine.start()
        try:
            output.start()
            if output.device is None or not output.device.is_jack:
                raise BenchError(f"PortAudio did not play on the JACK server (it chose "
                                 f"{output.device.label() if output.device else 'no device'}); is PortAudio built "
                                 f"with JACK support?")
            osc.start()
            _wait_until_playing(engine, timeout_seconds=30.0)
            time.sleep(WARMUP_SECONDS)
            engine.record_journal(journal_path)
            records = _latency_phase(engine, osc.port, moves, rng, progress)
            engine.stop_journal()
            progress(f"still: {still_seconds:g} s, 2 decks playing, no knob moves (the baseline)")
            still = _soak_phase(engine, output, jack, clock, osc.port, still_seconds, progress, moving=False)
            progress(f"soak: {soak_seconds:g} s, 2 decks, knob moves at {SOAK_MOVE_HZ:g} Hz per deck")
            soak = _soak_phase(engine, output, jack, clock, osc.port, soak_seconds, progress)
            device = output.device.label()
            device_latency_ms = output.status().latency_seconds * 1000.0
        finally:
            osc.stop()
            output.stop()
            engine.stop()
        _resolve_latency(records, journal_path, clock)
        latency = latency_figures(records, ring_ms=engine.latency_frames / sample_rate_hz * 1000.0,
                                  block_ms=block_frames / sample_rate_hz * 1000.0,
                                  device_latency_ms=device_latency_ms)
        provider_used = engine.stats.provider
        return LiveFigures(jack_server=jack.name, jack_pid=jack.pid, jackd_version=jack.version, realtime=realtime,
                           device=device,
                           sample_rate_hz=sample_rate_hz, block_frames=block_frames, provider=provider_used,
                           latency=latency, still=still, soak=soak)
