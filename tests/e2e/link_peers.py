"""The two Link peers of tests/e2e/test_link_netns.py, each run as its own process.

Run only inside a private network namespace (Link sends multicast on every interface)::

    ip netns exec NS python -m tests.e2e.link_peers plain 128
    ip netns exec NS python -m tests.e2e.link_peers follower --ppm 200
    ip netns exec NS python -m tests.e2e.link_peers follower --ppm 200 --through-play

Each reads one command per line on stdin and answers with one line of JSON on stdout.

``plain`` is an ordinary Link peer, like Live: ``status``, ``tempo BPM`` (set the session
tempo now), ``phases T1 T2 ...`` (the session's phase in a 4-beat bar at those host times,
in Link's microseconds), ``quit``.

``follower`` is ganloops: an ``Engine`` with its render and mixer threads running, the
``LinkFollower`` and ``TempoArbiter``, and a simulated sound card (``FakeDevice``) that
calls the engine's audio callback on the host clock: one block every block duration, a
``latency`` ahead of the moment the block is heard, its crystal off by ``--ppm``. A
recorder sink on the mixer thread notes the engine's position at the first frame of each
block as it is rendered; ``samples SECONDS`` returns (heard time, beats) of the blocks
heard in the last SECONDS, which the test compares with the plain peer's phases at the
same host times. When the engine's ring runs short (an underrun: the device plays silence
and the engine's clock waits), every later engine frame is heard that much later; the
device keeps count of these slips from the ring's read counter, so heard times stay
exact. ``status`` also reports the underruns and the callbacks the device itself made
late, so that the test can tell a disturbed measurement from a wrong one. Commands:
``status``, ``samples SECONDS``, ``quit``.

With ``--through-play`` the follower is wired as ``ganloops play --link`` wires it: a
``PlaySession`` with Link on (OSC and MIDI off) starts the arbiter and the
``LinkFollower`` itself, on the same engine and simulated sound card (standing in for the
session's audio output); ``status`` then also carries play's status line.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

import numpy as np

QUANTUM_BEATS = 4
RATE_HZ = 48000
BLOCK_FRAMES = 256
AHEAD_BLOCKS = 12  # the engine's ring: 64 ms, headroom for a machine shared with other work
LATENCY_SECONDS = 4 * BLOCK_FRAMES / RATE_HZ  # the simulated device buffer
SINK_BLOCKS = 1 << 14  # about 87 s of blocks at 48 kHz / 256


def host_seconds() -> float:
    """Link's host clock (CLOCK_MONOTONIC_RAW on Linux), in seconds."""
    return time.clock_gettime(time.CLOCK_MONOTONIC_RAW)


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def serve(handle: Any) -> None:
    reply({"ready": True})
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            reply({"bye": True})
            return
        try:
            reply(handle(words))
        except Exception as e:  # the test reads the error and fails with it
            reply({"error": f"{type(e).__name__}: {e}"})


# ---------------------------------------------------------------------------------------
# plain
# ---------------------------------------------------------------------------------------


def plain(bpm: float) -> None:
    import link

    session = link.Link(bpm)
    session.enabled = True

    def handle(words: list[str]) -> dict[str, Any]:
        state = session.captureAppSessionState()
        if words[0] == "status":
            return {"peers": session.numPeers(), "tempo": state.tempo()}
        if words[0] == "tempo":
            state.setTempo(float(words[1]), session.clock().micros())
            session.commitAppSessionState(state)
            return {"tempo": session.captureAppSessionState().tempo()}
        if words[0] == "phases":
            return {"phases": [state.phaseAtTime(int(t), QUANTUM_BEATS) for t in words[1:]],
                    "tempo": state.tempo()}
        raise ValueError(f"unknown command {words[0]!r}")

    try:
        serve(handle)
    finally:
        session.enabled = False


# ---------------------------------------------------------------------------------------
# follower
# ---------------------------------------------------------------------------------------


class BlockSink:
    """Engine recorder sink (mixer thread): the position at each block's first frame, as rendered."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.beats = np.zeros(SINK_BLOCKS)
        self.count = 0

    def write(self, block: np.ndarray) -> None:
        j = self.count
        self.beats[j % SINK_BLOCKS] = self.engine.transport.beats_at(j * BLOCK_FRAMES)
        self.count = j + 1


class FakeDevice:
    """Calls ``engine.callback`` as a sound card would, on the host clock, with a crystal off by `ppm`."""

    def __init__(self, engine: Any, ppm: float) -> None:
        self.engine = engine
        self.rate_hz = RATE_HZ * (1.0 + ppm * 1e-6)
        self.start_seconds = host_seconds() + 0.2
        self.callbacks = 0
        self.late_callbacks = 0  # called after their block should already have been heard
        # (first engine frame, device frames minus engine frames from there on): grows at each underrun
        self._slips: list[tuple[int, int]] = [(0, 0)]
        self.error: str | None = None  # why the device thread ended early (the test reports it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-device", daemon=True)

    def device_seconds(self, device_frame: int) -> float:
        return self.start_seconds + device_frame / self.rate_hz

    def heard_seconds(self, engine_frame: int) -> float:
        """When engine frame `engine_frame` reaches the speaker (after the underruns before it)."""
        slips = self._slips
        lo, hi = 0, len(slips)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if slips[mid][0] <= engine_frame:
                lo = mid
            else:
                hi = mid
        return self.device_seconds(engine_frame + slips[lo][1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            self._play()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"

    def _play(self) -> None:
        out = np.zeros((BLOCK_FRAMES, self.engine.config.channels), dtype=np.float32)
        ring = self.engine.ring
        while not self._stop.is_set():
            first = self.callbacks * BLOCK_FRAMES
            due = self.device_seconds(first) - LATENCY_SECONDS
            wait = due - host_seconds()
            if wait > 0:
                time.sleep(wait)
            if host_seconds() > self.device_seconds(first):
                self.late_callbacks += 1
            self.engine.callback(out, BLOCK_FRAMES)
            self.callbacks += 1
            read = ring.frames_read  # moved by this thread only: exact
            slip = self.callbacks * BLOCK_FRAMES - read
            if slip != self._slips[-1][1]:  # the ring ran short: silence, the engine's clock waited
                self._slips.append((read, slip))


class FakeOutput:
    """The simulated sound card as ``PlaySession`` sees an ``AudioOutput``: start, stop, status."""

    def __init__(self, device: FakeDevice) -> None:
        self.device = device

    def start(self) -> None:
        self.device.start()

    def stop(self) -> None:
        self.device.stop()

    def status(self) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(state="playing", last_error=self.device.error or "", underflows=0,
                               latency_seconds=LATENCY_SECONDS)


def follower(ppm: float, start_stop_sync: bool, through_play: bool) -> None:
    from instrument.engine import Engine, EngineConfig
    from instrument.link import LinkFollower
    from instrument.tempo_sources import create_arbiter

    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES, tempo_bpm=120.0,
                                 ahead_blocks=AHEAD_BLOCKS), provider="cpu")
    sink = BlockSink(engine)
    engine.set_recorder(sink)
    device = FakeDevice(engine, ppm)
    session: Any = None
    if through_play:
        from instrument.play import PlayOptions, PlaySession
        from instrument.status import format_status

        session = PlaySession(PlayOptions(bundles=[], osc=False, midi=False, link=True,
                                          link_start_stop=start_stop_sync))
        session.engine = engine
        session.output = FakeOutput(device)
        session.start()  # engine, sound card, arbiter, LinkFollower: as `ganloops play --link` does
        sync, arbiter = session.link, session.tempo
        assert sync is not None, "PlaySession did not start Link"
    else:
        arbiter = create_arbiter(engine, output_latency_seconds=lambda: LATENCY_SECONDS)
        engine.start()
        device.start()
        sync = LinkFollower(engine, arbiter, start_stop_sync=start_stop_sync)
        sync.start()

    def handle(words: list[str]) -> dict[str, Any]:
        if words[0] == "status":
            status = sync.status()
            lock = arbiter.phase_lock
            line = None if session is None else format_status(session.snapshot())
            return {"status_line": line, "peers": status.peers, "link_tempo": status.link_tempo_bpm,
                    "engine_tempo": engine.transport.tempo_bpm, "session_tempo": engine.state()["tempo_bpm"],
                    "active": arbiter.active_source, "phase_error_ms": None if status.phase_error_seconds is None
                    else 1000.0 * status.phase_error_seconds,
                    "jumps": lock.jumps if lock is not None else 0, "polls": status.polls, "errors": status.errors,
                    "underruns": engine.stats.underruns, "late_callbacks": device.late_callbacks,
                    "callbacks": device.callbacks, "device_error": device.error}
        if words[0] == "samples":
            now = host_seconds()
            since = now - float(words[1])
            count = sink.count
            times, beats = [], []
            for j in range(max(0, count - SINK_BLOCKS + 1), count):
                heard = device.heard_seconds(j * BLOCK_FRAMES)
                if since <= heard <= now:
                    times.append(int(round(heard * 1e6)))
                    beats.append(float(sink.beats[j % SINK_BLOCKS]))
            return {"times_us": times, "beats": beats, "tempo": engine.transport.tempo_bpm}
        raise ValueError(f"unknown command {words[0]!r}")

    try:
        serve(handle)
    finally:
        if session is not None:
            session.shutdown()
        else:
            sync.stop()
            device.stop()
            engine.stop()


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="link_peers")
    sub = p.add_subparsers(dest="role", required=True)
    a = sub.add_parser("plain")
    a.add_argument("bpm", type=float)
    b = sub.add_parser("follower")
    b.add_argument("--ppm", type=float, default=0.0, help="the simulated sound card's clock error")
    b.add_argument("--start-stop-sync", action="store_true")
    b.add_argument("--through-play", action="store_true", help="start Link through PlaySession, as `play --link`")
    args = p.parse_args(argv)
    if args.role == "plain":
        plain(args.bpm)
    else:
        follower(args.ppm, args.start_stop_sync, args.through_play)


if __name__ == "__main__":
    main(sys.argv[1:])
