"""LinkFollower against a fake Link session on simulated time (no network: the real thing is
tests/e2e/test_link_netns.py, inside a private network namespace)."""

from __future__ import annotations

import sys
import time

import pytest

from instrument.link import LinkFollower, LinkUnavailable, create_link
from instrument.phase_lock import PhaseLock
from instrument.tempo_sources import LINK, MANUAL, MIDI_CLOCK, TempoArbiter
from tests.instrument.link_sim import FakeClock, FakeLink, SimRig, phase_errors_seconds
from tests.instrument.link_sim import run as run_sim

TOLERANCE_SECONDS = 0.002


class Rig:
    """A real engine on a simulated sound card, an arbiter on simulated time, a fake session."""

    def __init__(self, session_bpm: float = 128.0, peers: int = 1, start_stop_sync: bool = False,
                 engine_bpm: float = 120.0) -> None:
        self.clock = FakeClock()
        self.sim = SimRig.create(self.clock, latency_seconds=0.01, device_ppm=50.0, tempo_bpm=engine_bpm)
        self.engine = self.sim.engine
        lock = PhaseLock(self.engine, output_latency_seconds=lambda: self.sim.latency_seconds)
        self.arbiter = TempoArbiter(self.engine, phase_lock=lock, clock=self.clock)
        self.link = FakeLink(self.clock, session_bpm, peers=peers)
        self.follower = LinkFollower(self.engine, self.arbiter, start_stop_sync=start_stop_sync,
                                     poll_seconds=None, link_factory=self._make_link)
        self.made_with_bpm: float | None = None

    def _make_link(self, bpm: float) -> FakeLink:
        self.made_with_bpm = bpm
        return self.link

    def join(self) -> None:
        self.follower.start()  # no poller thread (poll_seconds=None): the test polls on simulated time

    def run(self, seconds: float) -> None:
        run_sim(self.sim, self.clock.now + seconds, self.follower.poll_once)

    @property
    def session_tempo(self) -> float | None:
        return self.engine.state()["tempo_bpm"]


def test_joining_enables_link_and_takes_the_session_tempo() -> None:
    rig = Rig(session_bpm=128.0)
    rig.join()
    assert rig.link.enabled and rig.made_with_bpm == 120.0  # offered our tempo on joining
    rig.run(0.05)
    assert rig.session_tempo == 128.0 and rig.engine.transport.tempo_bpm == 128.0
    assert rig.arbiter.active_source == LINK


def test_bars_line_up_with_the_session_phase() -> None:
    rig = Rig()
    rig.join()
    rig.run(2.0)
    errors = phase_errors_seconds(rig.sim, rig.link.timeline, rig.clock.now - 1.0)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS
    status = rig.follower.status()
    assert status.peers == 1 and not status.leading and abs(status.phase_error_seconds) <= TOLERANCE_SECONDS


def test_a_peer_changing_tempo_is_followed_at_the_next_poll_and_bars_stay_aligned() -> None:
    rig = Rig()
    rig.join()
    rig.run(1.0)
    rig.link.peer_sets_tempo(136.0)
    rig.follower.poll_once()
    assert rig.session_tempo == 136.0
    rig.run(2.0)
    errors = phase_errors_seconds(rig.sim, rig.link.timeline, rig.clock.now - 1.0)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS


def test_a_manual_tempo_change_moves_the_whole_session() -> None:
    rig = Rig()
    rig.join()
    rig.run(0.5)
    rig.engine.set_tempo(140.0)  # e.g. /ganloops/tempo from a surface
    assert rig.link.timeline.tempo_bpm == 140.0
    rig.run(1.0)
    assert rig.session_tempo == 140.0
    errors = phase_errors_seconds(rig.sim, rig.link.timeline, rig.clock.now - 0.5)
    assert max(abs(e) for e in errors) <= TOLERANCE_SECONDS


def test_alone_ganloops_leads_the_session_and_a_midi_clock_may_drive() -> None:
    rig = Rig(session_bpm=120.0, peers=0)  # a session of our own, made at the engine's tempo
    rig.join()
    rig.run(0.1)
    assert rig.arbiter.active_source == MANUAL and rig.follower.status().leading
    rig.engine.set_tempo(125.0)  # by hand: the session follows us
    rig.run(0.1)
    assert rig.link.timeline.tempo_bpm == 125.0
    assert rig.arbiter.propose(MIDI_CLOCK, 133.0)  # so does a MIDI clock, while nobody else is there
    rig.run(0.1)
    assert rig.link.timeline.tempo_bpm == 133.0
    rig.link.peers = 1  # a peer joins: Link has the tempo again
    rig.link.peer_sets_tempo(128.0)
    rig.run(0.1)
    assert rig.arbiter.active_source == LINK and rig.session_tempo == 128.0
    assert not rig.arbiter.propose(MIDI_CLOCK, 133.0)


def test_joining_an_older_session_never_overwrites_its_tempo() -> None:
    """Link hands over the session's timeline a moment before it counts the session's peers."""
    rig = Rig(session_bpm=120.0, peers=0)
    rig.join()
    rig.run(0.1)
    rig.link.peer_sets_tempo(128.0)  # merged into an older session at 128; peers still read 0
    rig.run(0.1)
    assert rig.link.timeline.tempo_bpm == 128.0
    rig.link.peers = 1
    rig.run(0.1)
    assert rig.link.timeline.tempo_bpm == 128.0 and rig.session_tempo == 128.0


def test_start_stop_sync_mutes_the_playing_decks_and_unmutes_the_same_ones() -> None:
    rig = Rig(start_stop_sync=True)
    rig.engine.set_mute(2, True)  # muted by the performer: stays muted throughout
    rig.join()
    assert rig.link.startStopSyncEnabled
    rig.run(0.1)
    assert [d["mute"] for d in rig.engine.state()["decks"]] == [False, True]
    rig.link.peer_sets_playing(False)
    rig.run(0.05)
    assert [d["mute"] for d in rig.engine.state()["decks"]] == [True, True]
    assert not rig.follower.status().playing
    rig.link.peer_sets_playing(True)
    rig.run(0.05)
    assert [d["mute"] for d in rig.engine.state()["decks"]] == [False, True]


def test_without_start_stop_sync_a_stopped_session_plays_on() -> None:
    rig = Rig(start_stop_sync=False)
    rig.join()
    rig.link.peer_sets_playing(False)
    rig.run(0.1)
    assert not any(d["mute"] for d in rig.engine.state()["decks"])


def test_leaving_unmutes_and_releases_link() -> None:
    rig = Rig(start_stop_sync=True)
    rig.join()
    rig.link.peer_sets_playing(False)
    rig.run(0.05)
    rig.follower.stop()
    assert not rig.link.enabled
    assert not any(d["mute"] for d in rig.engine.state()["decks"])
    assert rig.arbiter.active_source == MANUAL
    rig.engine.set_tempo(99.0)
    assert rig.link.timeline.tempo_bpm == 128.0  # no longer forwarded


def test_a_failing_session_is_counted_and_the_poller_keeps_going() -> None:
    rig = Rig()
    rig.link.fail = True
    rig.follower.poll_seconds = 0.001  # with a poller thread this time
    rig.follower.start()
    try:
        deadline = time.monotonic() + 10.0
        while rig.follower.errors < 3:  # a deadlock guard, not a speed check
            assert time.monotonic() < deadline, "the poller stopped"
            time.sleep(0.005)
        rig.link.fail = False
        polls = rig.follower.polls
        while rig.follower.polls <= polls:
            assert time.monotonic() < deadline, "the poller did not recover"
            time.sleep(0.005)
    finally:
        rig.follower.stop()


def test_a_missing_link_module_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "link", None)  # import link -> ImportError
    with pytest.raises(LinkUnavailable, match=r"ganloops\[link\]"):
        create_link(120.0)


def test_polling_before_start_is_an_error() -> None:
    rig = Rig()
    with pytest.raises(RuntimeError, match="start"):
        rig.follower.poll_once()
