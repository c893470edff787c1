"""TempoArbiter: Link > MIDI clock > manual, against the real engine's tempo (no threads started)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instrument.engine import Engine, EngineConfig
from instrument.tempo_sources import LINK, MANUAL, MIDI_CLOCK, TempoArbiter
from tests.instrument.link_sim import FakeClock


class RecordingPhase:
    """A phase target that remembers what it was given."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, float]] = []
        self.resets = 0

    def update(self, host_seconds: float, target_beats: float) -> Any:
        self.updates.append((host_seconds, target_beats))

    def reset(self) -> None:
        self.resets += 1


class Rig:
    def __init__(self) -> None:
        self.engine = Engine(EngineConfig(sample_rate_hz=8000, block_frames=64), provider="cpu")
        self.clock = FakeClock()
        self.phase = RecordingPhase()
        self.arbiter = TempoArbiter(self.engine, phase_lock=self.phase, clock=self.clock)
        self.echoes: list[float] = []
        self.engine.add_listener(lambda a, args: self.echoes.append(args[0]) if a == "/ganloops/tempo" else None)

    @property
    def tempo(self) -> float | None:
        return self.engine.state()["tempo_bpm"]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_manual_is_active_when_no_clock_is_present(rig: Rig) -> None:
    assert rig.arbiter.active_source == MANUAL
    assert rig.arbiter.propose(MANUAL, 100.0)
    assert rig.tempo == 100.0
    rig.engine.set_tempo(110.0)  # any controller, straight to the engine
    assert rig.tempo == 110.0 and rig.arbiter.status().applied_bpm == 110.0


def test_a_midi_clock_overrides_manual_and_link_overrides_the_clock(rig: Rig) -> None:
    assert rig.arbiter.propose(MIDI_CLOCK, 124.0)
    assert rig.arbiter.active_source == MIDI_CLOCK and rig.tempo == 124.0
    assert not rig.arbiter.allows(MANUAL) and rig.arbiter.allows(MIDI_CLOCK)
    assert rig.arbiter.propose(LINK, 128.0)
    assert rig.arbiter.active_source == LINK and rig.tempo == 128.0
    assert not rig.arbiter.propose(MIDI_CLOCK, 130.0)  # refused while Link is there
    assert not rig.arbiter.allows(MIDI_CLOCK)
    assert rig.tempo == 128.0
    rig.arbiter.release(LINK)
    assert rig.arbiter.active_source == MIDI_CLOCK
    assert rig.tempo == 128.0  # nothing jumps when Link goes; the clock's next proposal counts
    assert rig.arbiter.propose(MIDI_CLOCK, 130.0)
    assert rig.tempo == 130.0
    rig.arbiter.release(MIDI_CLOCK)
    assert rig.arbiter.active_source == MANUAL and rig.tempo == 130.0


def test_a_manual_change_under_a_midi_clock_is_undone_at_its_next_proposal(rig: Rig) -> None:
    rig.arbiter.propose(MIDI_CLOCK, 124.0)
    rig.engine.set_tempo(90.0)  # e.g. /ganloops/tempo from a surface
    assert rig.tempo == 90.0
    assert rig.arbiter.propose(MIDI_CLOCK, 124.0)  # the same estimate as before, yet applied again
    assert rig.tempo == 124.0


def test_a_manual_change_under_link_goes_to_the_session(rig: Rig) -> None:
    forwarded: list[float] = []
    rig.arbiter.set_forwarder(LINK, forwarded.append)
    rig.arbiter.propose(LINK, 128.0)
    rig.engine.set_tempo(140.0)
    assert forwarded == [140.0]
    assert rig.tempo == 140.0  # it stands: the session confirms it on the next poll
    assert rig.arbiter.propose(LINK, 140.0)
    assert rig.echoes == [128.0, 140.0]  # the confirmation did not set the tempo again
    assert rig.arbiter.propose(MANUAL, 150.0)  # an explicit manual proposal is forwarded too
    assert forwarded == [140.0, 150.0]


def test_small_differences_do_not_touch_the_engine(rig: Rig) -> None:
    rig.arbiter.propose(LINK, 128.0)
    for bpm in (128.0004, 127.9996, 128.0009):
        rig.arbiter.propose(LINK, bpm)
    assert rig.echoes == [128.0]
    rig.arbiter.propose(LINK, 128.01)
    assert rig.echoes == [128.0, 128.01]


def test_a_silent_link_poller_counts_as_gone(rig: Rig) -> None:
    rig.arbiter.propose(MIDI_CLOCK, 124.0)
    rig.arbiter.propose(LINK, 128.0)
    rig.clock.now += 0.9
    assert rig.arbiter.active_source == LINK
    rig.clock.now += 0.2  # 1.1 s without a Link proposal
    assert rig.arbiter.active_source == MIDI_CLOCK
    rig.clock.now += 3600  # a MIDI clock that proposes only when its tempo moves stays present
    assert rig.arbiter.active_source == MIDI_CLOCK


@pytest.mark.parametrize("bpm", [math.nan, math.inf, -math.inf, 10.0, 401.0, True, "128", None])
def test_bad_proposals_are_refused_and_counted(rig: Rig, bpm: Any) -> None:
    assert not rig.arbiter.propose(MIDI_CLOCK, bpm)
    assert rig.arbiter.status().refused == 1
    assert rig.arbiter.active_source == MANUAL and rig.tempo is None


def test_bad_phases_are_refused_and_unknown_sources_are_errors(rig: Rig) -> None:
    assert not rig.arbiter.propose(LINK, 128.0, beat_phase=math.nan)
    assert not rig.arbiter.align(LINK, math.inf)
    assert rig.arbiter.status().refused == 2
    with pytest.raises(ValueError, match="source"):
        rig.arbiter.propose("midi", 120.0)
    with pytest.raises(ValueError, match="source"):
        rig.arbiter.release("ableton")


def test_only_the_active_source_moves_the_bars(rig: Rig) -> None:
    rig.arbiter.propose(LINK, 128.0, beat_phase=1.5)
    assert rig.phase.updates == [(rig.clock.now, 1.5)]
    assert not rig.arbiter.align(MIDI_CLOCK, 0.25)
    assert not rig.arbiter.propose(MIDI_CLOCK, 120.0, beat_phase=0.25)
    assert rig.arbiter.align(LINK, 2.0)
    assert [p for _, p in rig.phase.updates] == [1.5, 2.0]


def test_a_new_active_source_starts_a_new_lock(rig: Rig) -> None:
    rig.arbiter.propose(MIDI_CLOCK, 120.0, beat_phase=0.0)
    resets = rig.phase.resets
    rig.arbiter.propose(MIDI_CLOCK, 120.0, beat_phase=0.1)
    assert rig.phase.resets == resets  # same source: the lock keeps its state
    rig.arbiter.propose(LINK, 128.0, beat_phase=3.0)
    assert rig.phase.resets == resets + 1
    rig.arbiter.release(LINK)
    assert rig.phase.resets == resets + 2


def test_a_tempo_the_engine_refuses_leaves_the_old_one_playing(rig: Rig) -> None:
    rig.arbiter.propose(MANUAL, 120.0)

    def refuse(bpm: float) -> None:
        raise ValueError("tempo: expected 20..400, got 999")

    rig.engine.set_tempo = refuse  # type: ignore[method-assign]
    assert rig.arbiter.propose(MANUAL, 130.0)  # counted as a proposal, refused by the engine
    assert rig.tempo == 120.0 and rig.arbiter.status().refused == 1
