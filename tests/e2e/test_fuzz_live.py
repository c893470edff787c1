"""Garbage against a playing instrument: 100 000 random OSC datagrams and 1 MiB of random
MIDI bytes sent to ``ganloops play`` while it plays through a private ``jackd -d dummy``.

The instrument is the real command, a subprocess (its own interpreter: the test's sender
never holds its interpreter lock), playing a tiny exported bundle on deck 1 (deck 2 stays
empty), with OSC on a free port, MIDI from the test's JACK MIDI output port only
(``--midi-in gltest-fuzz``, the mapping ``FUZZ_MAPPING``) and ``--control-stdin``, whose
``stats`` line gives the counters: the engine's ring underruns, the OSC server's counters
and the MIDI controller's. jackd runs in synchronous mode (``--sync``): in its default mode
a client that misses a cycle on a loaded machine loses that cycle's MIDI events, or its
readers get its previous events again, and the bytes could not be counted exactly.

The garbage, deterministic (a seeded generator):

- OSC: random bytes that cannot be OSC; OSC-shaped random bytes and valid datagrams with
  bits flipped, cut short or padded (outcome unknown in advance); messages of every
  rejection class of tests/instrument/test_osc.py (wrong types, NaN and infinities,
  out-of-range values, unknown addresses); valid messages. 100 000 datagrams at
  ``OSC_RATE_HZ`` in bursts, the sender waiting whenever the server socket's receive
  queue (/proc/net/udp) passes ``OSC_MAX_QUEUED_BYTES``, so that the kernel drops nothing
  and every datagram can be counted.
- MIDI: 1 048 576 bytes in JACK MIDI events through a python-rtmidi output port: random
  events of 1 to 3 bytes (stray data, running status, undefined status bytes, stray F7,
  clock, Start/Stop), random bytes after an F0 (rtmidi sends longer events only as sysex),
  sysex floods of up to 8 KiB with and without their F7, running-status runs of mapped
  controls, lone realtime bytes. At most ``MIDI_IN_FLIGHT_EVENTS`` events are in flight at
  once (rtmidi's input queue in the JACK MIDI helper holds 1024 messages).

The valid messages and mapped MIDI controls move deck 2, deck 1's gain and mute and the
crossfader: nothing that makes deck 1 render again. A stream of knob moves keeps the
renderer busy, and on a shared 2-core machine renders cause dropouts by themselves, with
or without garbage (docs/benchmarks.md measures that); here they would hide what the
garbage does. A datagram mutated into a valid deck 1 knob or seed is possible and rare.

Windows: the garbage goes out in 1-second slots, each after a 1-second idle slot (nothing
sent), so that both see the same background load of the machine; the counters are read at
each slot's ends. The rule:

- engine ring underruns (the callback found the ring short: the instrument's own fault)
  are 0 from the first idle slot to the end, strictly; no mixer, render or callback error;
  the status says PLAY and the output, captured after the garbage (its mutes and gains
  undone), is not silent;
- JACK xruns (XRun lines in jackd's log: a cycle that ended late) in the garbage slots are
  no more than in the idle slots plus ``XRUN_ALLOWANCE`` (3) plus ``XRUNS_PER_SECOND``
  (1.5) for every second of garbage: 18 for the 10 s of OSC, 8 for the MIDI. jackd runs
  realtime (``-R``, as on stage; the CI machine runs as root), so its clients' process
  threads are SCHED_FIFO, and the engine's mixer thread is SCHED_RR. On the 2-core test
  machine with a training run keeping both cores at 100 %, the idle slots had 0 late
  cycles and the garbage slots 5 to 6 (the instrument at 50-60 % of a core instead of
  13 %), with no ring underrun: the audio callback is Python and needs the interpreter
  lock, which a normal-priority thread parsing garbage can hold while the busy machine
  preempts it. Without realtime jackd and with a normal mixer thread the same runs had 2
  to 29 late cycles and, in a third of the runs, 1 or 2 ring underruns; before play's
  1 ms switch interval, 23 to 63 with 8 to 17 ring underruns. This bound catches those,
  not the loaded machine's noise; the ring underruns are the strict test.
- every datagram is counted: the server's ``datagrams`` equals the number sent, the
  kernel dropped none, every decoded message has exactly one outcome (accepted, scheduled
  or rejected for one reason: ``messages == accepted + scheduled + rejected - malformed -
  not_allowed``), the rejections per reason add up to ``rejected``, and each reason has
  at least the messages of its class sent; no ``internal_error``;
- every MIDI byte is counted: ``bytes`` plus ``overflow`` equals the bytes sent, and
  ``messages`` and ``malformed`` are exactly what ``MidiTokenizer`` makes of the same
  byte stream; no ``internal_error``.

docs/osc.md and docs/midi.md give the figures measured.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from instrument.midi.wire import MidiTokenizer
from instrument.osc_wire import encode_bundle, encode_message
from tests.instrument.jack import JackCapture, JackServer, require_jackd, require_tool, wait_for
from tests.instrument.osc_helpers import encode_with_booleans
from tests.instrument.test_osc import REJECTIONS, _fuzz_datagram

rtmidi = pytest.importorskip("rtmidi")

ROOT = Path(__file__).resolve().parents[2]
RATE_HZ = 48000
PERIOD_FRAMES = 256
SLOT_SECONDS = 1.0
OSC_DATAGRAMS = 100_000
OSC_RATE_HZ = 10_000  # datagrams a second, within a garbage slot
OSC_BURST = 50  # datagrams sent back to back
OSC_MAX_QUEUED_BYTES = 256 * 1024
MIDI_BYTES = 1 << 20
MIDI_EVENTS_PER_SECOND = 20_000  # within a garbage slot
MIDI_IN_FLIGHT_EVENTS = 600
XRUN_ALLOWANCE = 3  # JACK xruns the garbage slots may have beyond the idle ones, plus XRUNS_PER_SECOND...
XRUNS_PER_SECOND = 1.5  # ... for every second of garbage (see the module docstring)
MIDI_PORT = "gltest-fuzz"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FUZZ_MAPPING = """
[clock]
follow = false    # a clock follower would set the tempo, and a new tempo renders deck 1 again

[[cc]]
control = 0
address = "/ganloops/deck/1/gain"

[[cc]]
control = 2
address = "/ganloops/crossfade"

[[cc]]
control = 5
address = "/ganloops/deck/2/seed"

[[cc]]
control = 6
address = "/ganloops/deck/2/psi"

[[cc]]
control = 16
address = "/ganloops/deck/2/knob/1"

[[cc]]
control = 17
address = "/ganloops/deck/2/knob/2"
mode = "relative_twos_complement"

[[note]]
note = 36
address = "/ganloops/deck/1/mute"
action = "toggle"

[[note]]
note = 37
address = "/ganloops/deck/2/seed"
action = "random"

[[note]]
note = 38
address = "/ganloops/deck/2/knob/3"
action = "momentary"

[[program]]
address = "/ganloops/scene/recall"
values = ["1", "2"]
"""
MAPPED_CC = [0, 2, 5, 6, 16, 17]
MAPPED_NOTES = [36, 37, 38]


# ---------------------------------------------------------------------------------------
# The instrument, as a subprocess
# ---------------------------------------------------------------------------------------


class Player:
    """``ganloops play --control-stdin``: lines in, replies on stdout, log lines on stderr."""

    def __init__(self, jack: JackServer, bundle: Path, home: Path) -> None:
        env = jack.env()
        env["GANLOOPS_HOME"] = str(home)  # scenes: none of the user's
        mapping = home / "fuzz-midi.toml"
        mapping.write_text(FUZZ_MAPPING)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "instrument.cli", "play", str(bundle), "--osc-port", "0", "--control-stdin",
             "--midi-in", MIDI_PORT, "--midi-map", str(mapping)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.log: list[str] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def log_text(self) -> str:
        return "".join(self.log)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()

    def ask(self, line: str) -> str:
        """A command whose answer is one line on stdout."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return self.proc.stdout.readline()

    def stats(self) -> dict[str, Any]:
        return json.loads(self.ask("stats"))

    def osc_port(self) -> int | None:
        match = re.search(r"OSC on 127\.0\.0\.1:(\d+)", self.log_text())
        return int(match.group(1)) if match else None

    def finish(self) -> int:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                return self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        return self.proc.wait()


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.instrument.conftest import _export_tiny

    return _export_tiny(tmp_path_factory.mktemp("fuzz_bundle"), "style_wavegan", channels=2)


@pytest.fixture
def jack(monkeypatch: pytest.MonkeyPatch) -> Iterator[JackServer]:
    require_jackd()
    require_tool("jack_lsp")
    require_tool("jack_connect")
    server = JackServer(sample_rate_hz=RATE_HZ, period_frames=PERIOD_FRAMES, synchronous=True, realtime=True).start()
    server.activate(monkeypatch)
    yield server
    server.stop()


# ---------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------


def _udp_row(port: int) -> list[str]:
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local:
            return fields
    raise AssertionError(f"no UDP socket on 127.0.0.1:{port}")


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped for the socket on 127.0.0.1:`port` (its receive buffer was full)."""
    return int(_udp_row(port)[12])


def udp_queued_bytes(port: int) -> int:
    """Bytes waiting in that socket's receive queue."""
    return int(_udp_row(port)[4].split(":")[1], 16)


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent busy (all processes), in seconds."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class Slots:
    """Idle and garbage slots, one after the other; the audio counters and JACK xruns of each kind, summed,
    and the CPU the instrument and the whole machine used."""

    AUDIO = ("underruns", "underflows", "callbacks", "callback_errors", "mixer_errors", "render_errors", "renders")

    def __init__(self, player: Player, jack: JackServer) -> None:
        self.player, self.jack = player, jack
        self.totals = {kind: Counter() for kind in ("idle", "garbage")}
        self.seconds = Counter()

    def _read(self) -> tuple[dict[str, int], int, float]:
        audio = dict(self.player.stats()["audio"])
        audio["cpu_player"] = process_cpu_seconds(self.player.proc.pid)
        audio["cpu_machine"] = machine_busy_seconds()
        return audio, self.jack.xruns(), time.monotonic()

    def run(self, send: Callable[[float], bool]) -> None:
        """Idle slot, then `send(deadline)` until it returns True (done), each call after an idle slot."""
        done = False
        while not done:
            for kind in ("idle", "garbage"):
                audio, xruns, started = self._read()
                if kind == "idle":
                    time.sleep(SLOT_SECONDS)
                else:
                    done = send(started + SLOT_SECONDS)
                end_audio, end_xruns, ended = self._read()
                totals = self.totals[kind]
                for key in self.AUDIO + ("cpu_player", "cpu_machine"):
                    totals[key] += end_audio[key] - audio[key]
                totals["xruns"] += end_xruns - xruns
                self.seconds[kind] += ended - started

    def describe(self, kind: str) -> str:
        t, seconds = self.totals[kind], self.seconds[kind]
        return (f"{kind} {seconds:.1f} s: underruns {t['underruns']}, JACK xruns {t['xruns']}, "
                f"underflows {t['underflows']}, renders {t['renders']}, callbacks {t['callbacks']}, "
                f"CPU: instrument {100 * t['cpu_player'] / seconds:.0f} %, "
                f"machine {100 * t['cpu_machine'] / seconds:.0f} %")


# ---------------------------------------------------------------------------------------
# The garbage
# ---------------------------------------------------------------------------------------


def _valid_message(rng: random.Random) -> tuple[str, tuple]:
    """A valid message that makes no deck render again (deck 2 is empty; deck 1's gain, mute; the crossfader)."""
    choice = rng.randrange(10)
    if choice == 0:
        return f"/ganloops/deck/2/knob/{rng.randint(1, 16)}", (rng.uniform(-1.0, 1.0),)
    if choice == 1:
        return rng.choice(["/ganloops/deck/2/seed", "/ganloops/deck/2/bseed"]), (rng.randrange(1 << 31),)
    if choice == 2:
        return f"/ganloops/deck/2/mix/{rng.choice(['coarse', 'middle', 'fine'])}", (rng.random(),)
    if choice == 3:
        return rng.choice(["/ganloops/deck/2/psi", "/ganloops/deck/2/noise"]), (rng.random(),)
    if choice in (4, 5):
        return f"/ganloops/deck/{rng.randint(1, 2)}/gain", (rng.random(),)
    if choice == 6:
        return f"/ganloops/deck/{rng.randint(1, 2)}/mute", (rng.randint(0, 1),)
    return "/ganloops/crossfade", (rng.random(),)


def osc_garbage(rng: random.Random, count: int) -> tuple[list[bytes], Counter]:
    """`count` datagrams, and what is known of their outcome: {reason: n, "accepted": n, "unknown": n}."""
    rejections = [(address, args, reason) for _, address, args, reason in REJECTIONS]
    not_finite = [("/ganloops/deck/1/knob/2", (math.nan,)), ("/ganloops/deck/2/psi", (math.inf,)),
                  ("/ganloops/tempo", (-math.inf,)), ("/ganloops/crossfade", (math.nan,)),
                  ("/ganloops/deck/1/seed", (math.inf,))]
    seeds = [encode_message(*_valid_message(rng)) for _ in range(40)]
    seeds += [encode_with_booleans(address, args) for address, args, _ in rejections
              if not address.startswith("/ganloops/deck/1/")]  # a flipped bit makes no deck 1 knob valid
    seeds += [encode_bundle(seeds[:3], None), encode_bundle([encode_bundle(seeds[3:5], 1.0)], None)]
    datagrams: list[bytes] = []
    known: Counter = Counter()
    for _ in range(count):
        kind = rng.random()
        if kind < 0.20:  # random bytes that cannot be OSC (no leading / or #)
            data = bytearray(rng.randbytes(rng.randrange(1, 96)))
            if data[0] in b"/#":
                data[0] = 0
            datagrams.append(bytes(data))
            known["malformed"] += 1
        elif kind < 0.55:  # OSC-shaped random bytes, valid datagrams mutated: outcome unknown
            datagrams.append(_fuzz_datagram(rng, seeds))
            known["unknown"] += 1
        elif kind < 0.75:  # every rejection class, as the unit tests send them
            address, args, reason = rng.choice(rejections)
            datagrams.append(encode_with_booleans(address, args))
            known[reason] += 1
        elif kind < 0.80:
            datagrams.append(encode_message(*rng.choice(not_finite)))
            known["not_finite"] += 1
        elif kind < 0.85:  # addresses nobody has
            word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(1, 12)))
            datagrams.append(encode_message(rng.choice(["/ganloops/", "/ganloops/deck/1/", "/x/"]) + word,
                                            (rng.random(),)))
            known["unknown_address"] += 1
        else:
            datagrams.append(encode_message(*_valid_message(rng)))
            known["accepted"] += 1
    return datagrams, known


def midi_garbage(rng: random.Random, total: int) -> list[bytes]:
    """JACK MIDI events (python-rtmidi sends 1 to 3 bytes of anything, or an F0 and then anything)
    adding up to exactly `total` bytes; the last one ends a sysex, so rtmidi hands over all it gathered.

    By bytes (the test's seed): 52 % random bytes after an F0, 37 % sysex floods, 11 % short
    events (random ones of 1 to 3 bytes, running-status runs of mapped controls, lone
    realtime and system common bytes); by events (75 000), nearly all the short ones.
    """
    events: list[bytes] = []
    size = 0
    while True:
        kind = rng.random()
        if kind < 0.40:  # 1 to 3 random bytes: stray data, running status, undefined status, realtime...
            batch = [rng.randbytes(rng.randint(1, 3))]
        elif kind < 0.418:  # random bytes after an F0 (a status byte inside ends the sysex early)
            event = b"\xf0" + rng.randbytes(rng.randint(3, 1024))
            batch = [event[:-1] + b"\xf7" if rng.random() < 0.5 else event]
        elif kind < 0.4195:  # a sysex flood: data bytes only, with or without its F7
            flood = b"\xf0" + bytes(rng.randrange(128) for _ in range(rng.randint(64, 8192)))
            batch = [flood + b"\xf7" if rng.random() < 0.5 else flood]
        elif kind < 0.48:  # running status: a status, then data pairs in events of their own
            status = rng.choice([0xB0, 0x90, 0x80, 0xC0]) | rng.randrange(2)

            def first() -> int:
                return rng.choice(MAPPED_CC) if status & 0xF0 == 0xB0 else rng.choice(MAPPED_NOTES)

            if status & 0xF0 == 0xC0:  # program changes: one data byte each
                batch = [bytes([status, rng.randrange(4)])] + [bytes([rng.randrange(4)])
                                                                for _ in range(rng.randint(1, 4))]
            else:
                batch = [bytes([status, first(), rng.randrange(128)])]
                batch += [bytes([first(), rng.randrange(128)]) for _ in range(rng.randint(1, 6))]
        else:  # realtime and system common bytes, alone
            batch = [bytes([rng.choice([0xF8, 0xF8, 0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF, 0xF6, 0xF1, 0xF4, 0xF9,
                                        0xF7])])]
        length = sum(len(e) for e in batch)
        if size + length > total - 2:
            break
        events += batch
        size += length
    events.append(b"\xf0" + bytes(total - size - 2) + b"\xf7")
    return events


def rtmidi_deliveries(events: list[bytes]) -> list[int]:
    """For each event, the bytes rtmidi's JACK input has handed over once that event arrived.

    rtmidi gathers an F0 event that does not end with F7, and the events after it, into one
    message until an event ends with F7 (events starting with F1, F8 or FE neither end nor
    start one); other events are messages of their own.
    """
    delivered, pending, total, continuing = [], 0, 0, False
    for event in events:
        pending += len(event)
        if event[0] == 0xF0:
            continuing = event[-1] != 0xF7
        elif event[0] not in (0xF1, 0xF8, 0xFE) and continuing:
            continuing = event[-1] != 0xF7
        if not continuing:
            total, pending = total + pending, 0
        delivered.append(total)
    return delivered


# ---------------------------------------------------------------------------------------
# Senders: each sends until its slot's deadline, and says when it is done
# ---------------------------------------------------------------------------------------


class OscSender:
    def __init__(self, port: int, datagrams: list[bytes]) -> None:
        self.port, self.datagrams = port, datagrams
        self.sent = 0
        self.waits = 0  # times the receive queue was full enough to wait for
        self.seconds = 0.0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def __call__(self, deadline: float) -> bool:
        start = time.monotonic()
        first = self.sent
        while self.sent < len(self.datagrams) and time.monotonic() < deadline:
            delay = start + (self.sent - first) / OSC_RATE_HZ - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if self.sent % (10 * OSC_BURST) == 0 and udp_queued_bytes(self.port) > OSC_MAX_QUEUED_BYTES:
                self.waits += 1
                assert wait_for(lambda: udp_queued_bytes(self.port) <= OSC_MAX_QUEUED_BYTES // 2, 30.0, 0.002)
            for data in self.datagrams[self.sent:self.sent + OSC_BURST]:
                self.sock.sendto(data, ("127.0.0.1", self.port))
            self.sent = min(self.sent + OSC_BURST, len(self.datagrams))
        self.seconds += time.monotonic() - start
        return self.sent == len(self.datagrams)


class MidiSender:
    def __init__(self, out: Any, player: Player, events: list[bytes]) -> None:
        self.out, self.player, self.events = out, player, events
        self.delivered = rtmidi_deliveries(events)
        self.sent = 0
        self.acked = 0  # events whose bytes the instrument has counted
        self.seconds = 0.0

    def _counted(self) -> int:
        midi = self.player.stats()["midi"]
        return midi["bytes"] + midi["rejected/overflow"]

    def __call__(self, deadline: float) -> bool:
        start = time.monotonic()
        first = self.sent
        stalled = start + 30.0
        while self.sent < len(self.events) and time.monotonic() < deadline:
            delay = start + (self.sent - first) / MIDI_EVENTS_PER_SECOND - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if self.sent - self.acked >= MIDI_IN_FLIGHT_EVENTS:
                counted = self._counted()
                while self.acked < self.sent and self.delivered[self.acked] <= counted:
                    self.acked += 1
                if self.sent - self.acked >= MIDI_IN_FLIGHT_EVENTS // 2:
                    assert time.monotonic() < stalled, f"MIDI stalled at {counted} bytes counted"
                    time.sleep(0.002)
                    continue
                stalled = time.monotonic() + 30.0
            end = min(self.sent + MIDI_IN_FLIGHT_EVENTS // 2, len(self.events))
            for event in self.events[self.sent:end]:
                self.out.send_message(list(event))
            self.sent = end
        self.seconds += time.monotonic() - start
        return self.sent == len(self.events)


# ---------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------


def test_random_osc_and_midi_leave_a_playing_instrument_playing_and_every_byte_counted(
        jack: JackServer, tiny_bundle: Path, tmp_path: Path) -> None:
    rng = random.Random(20240611)
    datagrams, known = osc_garbage(rng, OSC_DATAGRAMS)
    events = midi_garbage(rng, MIDI_BYTES)
    oracle, parsed = MidiTokenizer(), []
    oracle.feed(b"".join(events), parsed)

    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=MIDI_PORT)
    out.open_virtual_port("out")
    player = Player(jack, tiny_bundle, tmp_path)
    capture = JackCapture(jack)
    try:
        assert wait_for(lambda: (f"MIDI: listening to {MIDI_PORT}:out" in player.log_text()
                                 and player.osc_port() is not None) or player.proc.poll() is not None, 60.0), \
            player.log_text()
        assert player.proc.poll() is None, player.log_text()
        port = player.osc_port()
        assert port is not None, player.log_text()
        assert wait_for(lambda: player.stats()["audio"]["swaps"] > 0, 30.0)  # deck 1's first loop plays
        time.sleep(SLOT_SECONDS)
        drops_before = udp_drops(port)
        before = player.stats()["audio"]

        osc_slots, midi_slots = Slots(player, jack), Slots(player, jack)
        osc_sender = OscSender(port, datagrams)
        osc_slots.run(osc_sender)
        assert wait_for(lambda: player.stats()["osc"]["datagrams"] >= OSC_DATAGRAMS, 30.0), player.stats()["osc"]
        osc = player.stats()["osc"]
        drops = udp_drops(port) - drops_before

        midi_sender = MidiSender(out, player, events)
        midi_slots.run(midi_sender)
        assert wait_for(lambda: midi_sender._counted() >= MIDI_BYTES, 30.0), player.stats()["midi"]
        midi = player.stats()["midi"]
        after_garbage = player.stats()["audio"]

        # still playing, and audibly so once the garbage's mutes, gains and crossfade are undone
        for line in ("mute 1 0", "gain 1 1", "crossfade 0"):
            player.send(line)
        capture.start(["ganloops:out_0", "ganloops:out_1"])
        assert capture.wait_frames(RATE_HZ * 3 // 2, 20)
        heard = capture.take(RATE_HZ // 2, RATE_HZ * 3 // 2)
        status = player.ask("status")
    finally:
        capture.stop()
        code = player.finish()
        out.delete()

    report = (f"\nOSC: {OSC_DATAGRAMS} datagrams, {osc_sender.seconds:.1f} s of sending "
              f"({OSC_DATAGRAMS / osc_sender.seconds:.0f}/s), waited for the queue {osc_sender.waits}x, "
              f"kernel drops {drops}; {osc}\n"
              f"MIDI: {MIDI_BYTES} bytes in {len(events)} events, {midi_sender.seconds:.1f} s of sending; {midi}\n"
              f"OSC slots: {osc_slots.describe('idle')}; {osc_slots.describe('garbage')}\n"
              f"MIDI slots: {midi_slots.describe('idle')}; {midi_slots.describe('garbage')}\n"
              f"load average {Path('/proc/loadavg').read_text()}")
    print(report)
    assert code == 0, player.log_text()[-3000:]
    assert "Traceback" not in player.log_text(), player.log_text()[-3000:]

    # every datagram counted, each decoded message once
    assert drops == 0, report
    assert osc["datagrams"] == OSC_DATAGRAMS, report
    reasons = {k.removeprefix("rejected/"): v for k, v in osc.items() if k.startswith("rejected/")}
    assert sum(reasons.values()) == osc["rejected"], report
    per_datagram = reasons["malformed"] + reasons["not_allowed"]
    assert osc["messages"] == osc["accepted"] + osc["scheduled"] + osc["rejected"] - per_datagram, report
    assert reasons["internal_error"] == 0, report
    for outcome, count in known.items():
        if outcome == "accepted":
            assert osc["accepted"] >= count, report
        elif outcome != "unknown":
            assert reasons[outcome] >= count, (outcome, report)

    # every MIDI byte counted; the messages and malformed bytes are those the bytes make
    assert midi["bytes"] + midi["rejected/overflow"] == MIDI_BYTES, report
    assert midi["messages"] == len(parsed), report
    assert midi["rejected/malformed"] == oracle.rejected_bytes, report
    assert midi["rejected/internal_error"] == 0 and midi["applied"] > 0, report

    # the music never stopped because of it
    assert after_garbage["underruns"] - before["underruns"] == 0, report
    for key in ("mixer_errors", "callback_errors", "render_errors"):
        assert after_garbage[key] - before[key] == 0, (key, report)
    for slots in (osc_slots, midi_slots):
        allowed = slots.totals["idle"]["xruns"] + XRUN_ALLOWANCE + int(XRUNS_PER_SECOND * slots.seconds["garbage"])
        assert slots.totals["garbage"]["xruns"] <= allowed, report
    print(report)  # the figures docs/osc.md quotes: `pytest -s tests/e2e/test_fuzz_live.py`
    assert status.startswith("PLAY"), status
    assert float(np.sqrt(np.mean(heard.astype(np.float64) ** 2))) > 1e-3, report
