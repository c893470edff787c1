"""A simulated rig for the tempo-source tests: a fake Link session, a fake sound card, simulated time.

Nothing here touches the network or a clock on the wall, so the tests are exact and fast:

- ``FakeLink`` has the parts of ``link.Link`` the follower uses. Its session is a timeline
  (a beat at a host time, a tempo) that the test moves like a peer would.
- ``SimRig`` drives a real ``Engine`` (not started) the way a sound card would: the device
  takes one block per callback, ``latency_seconds`` before the block is heard, with a
  crystal off by ``device_ppm``; each callback renders the block with ``render_offline``.
  For every block it records the engine's position at the block's first frame *as it was
  rendered* and the host time that frame reaches the speaker: the ground truth the phase
  tests compare with the session, independent of the follower's own estimate.
- Polls happen every ~10 ms with seeded jitter, like the real poller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from instrument.engine import Engine, EngineConfig

SIM_RATE_HZ = 16000
SIM_BLOCK_FRAMES = 128
POLL_SECONDS = 0.01


class FakeClock:
    """Simulated host time in seconds (the arbiter's clock; Link's micros are derived from it)."""

    def __init__(self, start_seconds: float = 100.0) -> None:
        self.now = start_seconds

    def __call__(self) -> float:
        return self.now


@dataclass
class Timeline:
    """A Link session's timeline: `beat` at `origin_seconds`, then `tempo_bpm` beats a minute."""

    tempo_bpm: float
    beat: float = 0.0
    origin_seconds: float = 0.0
    playing: bool = True

    def beat_at(self, seconds: float) -> float:
        return self.beat + (seconds - self.origin_seconds) * self.tempo_bpm / 60.0


class FakeSessionState:
    """What ``captureAppSessionState`` returns: a copy of the timeline (times in microseconds)."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = Timeline(timeline.tempo_bpm, timeline.beat, timeline.origin_seconds, timeline.playing)

    def tempo(self) -> float:
        return self.timeline.tempo_bpm

    def beatAtTime(self, micros: int, quantum: float) -> float:  # noqa: N802 (Link's names)
        return self.timeline.beat_at(micros * 1e-6)

    def phaseAtTime(self, micros: int, quantum: float) -> float:  # noqa: N802
        return self.timeline.beat_at(micros * 1e-6) % quantum

    def isPlaying(self) -> bool:  # noqa: N802
        return self.timeline.playing

    def setTempo(self, bpm: float, micros: int) -> None:  # noqa: N802
        at = micros * 1e-6
        self.timeline = Timeline(float(bpm), self.timeline.beat_at(at), at, self.timeline.playing)


class _FakeLinkClock:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def micros(self) -> int:
        return int(round(self._clock.now * 1e6))


class FakeLink:
    """The parts of ``link.Link`` the follower uses, on simulated time."""

    def __init__(self, clock: FakeClock, bpm: float, peers: int = 1) -> None:
        self._clock = clock
        self.timeline = Timeline(bpm, 0.0, clock.now)
        self.peers = peers
        self.enabled = False
        self.startStopSyncEnabled = False
        self.history: list[Timeline] = [self.timeline]
        self.fail = False  # True: every call raises (a broken session)

    def numPeers(self) -> int:  # noqa: N802
        if self.fail:
            raise RuntimeError("session gone")
        return self.peers

    def clock(self) -> _FakeLinkClock:
        return _FakeLinkClock(self._clock)

    def captureAppSessionState(self) -> FakeSessionState:  # noqa: N802
        if self.fail:
            raise RuntimeError("session gone")
        return FakeSessionState(self.timeline)

    def commitAppSessionState(self, state: FakeSessionState) -> None:  # noqa: N802
        self.timeline = state.timeline
        self.history.append(self.timeline)

    # what a peer does
    def peer_sets_tempo(self, bpm: float) -> None:
        state = self.captureAppSessionState()
        state.setTempo(bpm, int(round(self._clock.now * 1e6)))
        self.commitAppSessionState(state)

    def peer_moves_beat(self, delta_beats: float) -> None:
        now = self._clock.now
        self.timeline = Timeline(self.timeline.tempo_bpm, self.timeline.beat_at(now) + delta_beats, now,
                                 self.timeline.playing)
        self.history.append(self.timeline)

    def peer_sets_playing(self, playing: bool) -> None:
        now = self._clock.now
        self.timeline = Timeline(self.timeline.tempo_bpm, self.timeline.beat_at(now), now, playing)
        self.history.append(self.timeline)


@dataclass
class BlockRecord:
    heard_seconds: float  # when the block's first frame reaches the speaker
    beats: float  # the engine's position at that frame, as rendered


@dataclass
class SimRig:
    """A real Engine played by a simulated sound card on simulated time."""

    clock: FakeClock
    engine: Engine
    latency_seconds: float = 0.01
    device_ppm: float = 0.0
    start_seconds: float = field(default=0.0)
    blocks: list[BlockRecord] = field(default_factory=list)
    slipped_frames: int = 0  # device frames played as silence (underruns): later frames are heard later

    @classmethod
    def create(cls, clock: FakeClock, latency_seconds: float = 0.01, device_ppm: float = 0.0,
               tempo_bpm: float | None = None) -> "SimRig":
        engine = Engine(EngineConfig(sample_rate_hz=SIM_RATE_HZ, block_frames=SIM_BLOCK_FRAMES,
                                     tempo_bpm=tempo_bpm), provider="cpu")
        return cls(clock, engine, latency_seconds, device_ppm, clock.now + latency_seconds)

    @property
    def device_rate_hz(self) -> float:
        return SIM_RATE_HZ * (1.0 + self.device_ppm * 1e-6)

    def heard_seconds(self, frame: int) -> float:
        return self.start_seconds + (frame + self.slipped_frames) / self.device_rate_hz

    def underrun(self, blocks: int = 1) -> None:
        """The device plays `blocks` blocks of silence; the engine's clock waits (what a real underrun does)."""
        self.slipped_frames += blocks * SIM_BLOCK_FRAMES

    def advance_to(self, seconds: float) -> None:
        """Run every device callback due by `seconds`."""
        while True:
            j = len(self.blocks)
            first = j * SIM_BLOCK_FRAMES
            if self.heard_seconds(first) - self.latency_seconds > seconds:
                return
            self.engine.render_offline(SIM_BLOCK_FRAMES)
            self.blocks.append(BlockRecord(self.heard_seconds(first), self.engine.transport.beats_at(first)))


def run(rig: SimRig, until_seconds: float, poll: Callable[[], object], seed: int = 1,
        between: Callable[[float], None] | None = None) -> None:
    """Advance simulated time to `until_seconds`, polling every ~10 ms (jittered ±30 %)."""
    rng = random.Random(seed)
    while rig.clock.now < until_seconds:
        rig.clock.now += POLL_SECONDS * (1.0 + 0.3 * (2.0 * rng.random() - 1.0))
        rig.advance_to(rig.clock.now)
        if between is not None:
            between(rig.clock.now)
        poll()


def phase_errors_seconds(rig: SimRig, timeline: Timeline, since_seconds: float, quantum: int = 4) -> list[float]:
    """Session beat minus engine beat (folded into ±half a bar) for blocks heard from `since_seconds` on, in s."""
    out = []
    for block in rig.blocks:
        if block.heard_seconds < since_seconds:
            continue
        diff = timeline.beat_at(block.heard_seconds) - block.beats
        folded = (diff + quantum / 2) % quantum - quantum / 2
        out.append(folded * 60.0 / timeline.tempo_bpm)
    return out
