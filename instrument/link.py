"""Ableton Link: ganloops joins a Link session and plays on its tempo and bars.

``LinkFollower`` is a controller (``start()``/``stop()``, like the OSC server) for
``ganloops play --link``. A poller thread (every ~10 ms, never the audio callback) reads
the session and:

- **tempo**: while the session has other peers, proposes Link's tempo to the
  ``TempoArbiter`` as the ``link`` source, the highest priority there is. A tempo set in
  ganloops meanwhile (OSC, stdin, a scene) is forwarded to the session, which is how Live
  behaves: everybody's tempo moves, ganloops' with it. Alone in a session ganloops leads:
  Link is released to the MIDI clock or the performer, and each change of the engine's
  tempo is given to the session, so that peers who join find it. Only changes are given:
  on joining an existing session, its tempo arrives a moment before its peers are
  counted, and must not be overwritten by ours;
- **bars**: with the tempo goes the session's position in the bar (quantum = the engine's
  beats per bar), which the arbiter's ``PhaseLock`` follows so that the engine's bar 1
  beat 1 is heard when Link's phase is 0 (see ``instrument.phase_lock`` for how the heard
  frame is estimated and how small drifts are slewed rather than jumped);
- **start/stop** (``start_stop_sync=True``): when the session stops, the decks that were
  playing are muted (the mutes ramp, no click); when it starts they are unmuted. Alone in a
  session, ganloops plays.

The tolerance this keeps, measured between two peers in a loopback-only network namespace
(tests/e2e/test_link_netns.py, docs/link.md): the engine's tempo within 0.01 BPM of the
session's, a session tempo change followed within a second, the bar phase within 5 ms.

The ``link`` module comes from the optional extra (``pip install 'ganloops[link]'``,
LinkPython-extern); without it ``start()`` raises ``LinkUnavailable`` naming the extra,
and ``play`` goes on without Link. Link sends multicast on every network interface; it is
only enabled by ``start()``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from instrument.phase_lock import quantum_beats
from instrument.tempo_sources import LINK, TempoArbiter

log = logging.getLogger("ganloops.link")

DEFAULT_POLL_SECONDS = 0.01
POLL_JITTER = 0.3  # each wait is poll_seconds * (1 ± this): polls never lock onto the callback period
LEAD_TEMPO_TOLERANCE_BPM = 0.001  # alone, an engine tempo change smaller than this is not given to the session


class LinkUnavailable(RuntimeError):
    """The ``link`` module (LinkPython-extern) is not installed."""


def create_link(bpm: float) -> Any:
    """A disabled ``link.Link`` at `bpm` (LinkUnavailable without the extra)."""
    try:
        import link  # type: ignore[import-not-found]
    except ImportError:
        raise LinkUnavailable("Ableton Link needs the 'link' extra: pip install 'ganloops[link]' "
                              "(LinkPython-extern)") from None
    return link.Link(float(bpm))


@dataclass(frozen=True)
class LinkStatus:
    """What the follower last saw, for status lines and tests."""

    enabled: bool
    peers: int
    link_tempo_bpm: float | None
    playing: bool
    leading: bool  # alone in the session: ganloops' tempo is the session's
    phase_error_seconds: float | None  # the phase lock's last measurement
    polls: int
    errors: int


class LinkFollower:
    """Keeps the engine on a Link session's tempo, bars and (optionally) start/stop."""

    def __init__(self, engine: Any, arbiter: TempoArbiter, *, start_stop_sync: bool = False,
                 poll_seconds: float | None = DEFAULT_POLL_SECONDS,
                 link_factory: Callable[[float], Any] = create_link) -> None:
        """`poll_seconds` None: no poller thread; the host calls ``poll_once()`` on its own timer."""
        if arbiter.phase_lock is None:
            raise ValueError("arbiter: a LinkFollower needs an arbiter with a phase_lock")
        self.engine = engine
        self.arbiter = arbiter
        self.start_stop_sync = bool(start_stop_sync)
        self.poll_seconds = None if poll_seconds is None else float(poll_seconds)
        self._link_factory = link_factory
        self.link: Any = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._stop = threading.Event()
        self._playing = True
        self._muted_by_link: list[int] = []
        self._led_bpm: float | None = None  # the engine tempo last given to the session while alone
        self._last_error_log = 0.0
        self.polls = 0
        self.errors = 0
        self._status = LinkStatus(False, 0, None, True, False, None, 0, 0)

    # ----- controller ------------------------------------------------------------------

    def start(self) -> None:
        """Join the session (enable Link) and start polling."""
        if self._started:
            return
        self._led_bpm = self._engine_tempo_bpm()
        link = self._link_factory(self._led_bpm)
        link.startStopSyncEnabled = self.start_stop_sync
        link.enabled = True
        self.link = link
        self.arbiter.set_forwarder(LINK, self._set_session_tempo)
        self._started = True
        if self.poll_seconds is not None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ganloops-link", daemon=True)
            self._thread.start()
        log.info("Link: enabled (%s)", "with start/stop sync" if self.start_stop_sync else "tempo and bars")

    def stop(self) -> None:
        """Leave the session; decks muted by a Link stop are unmuted, the tempo stays."""
        if not self._started:
            return
        self._started = False
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        self.arbiter.set_forwarder(LINK, None)
        self.arbiter.release(LINK)
        self._set_playing(True)
        if self.link is not None:
            self.link.enabled = False

    def __enter__(self) -> "LinkFollower":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def status(self) -> LinkStatus:
        return self._status

    # ----- one poll ----------------------------------------------------------------------

    def poll_once(self) -> LinkStatus:
        """Read the session and act on it (the poller thread calls this; tests call it directly)."""
        link = self.link
        if link is None:
            raise RuntimeError("poll_once: start() first")
        peers = int(link.numPeers())
        state = link.captureAppSessionState()
        now_micros = int(link.clock().micros())
        tempo = float(state.tempo())
        q = quantum_beats(self.engine)
        leading = peers == 0
        if leading:
            self.arbiter.release(LINK)
            self._lead()
            playing = True
        else:
            phase = float(state.phaseAtTime(now_micros, q))
            self.arbiter.propose(LINK, tempo, beat_phase=phase)
            self._led_bpm = None  # following now; when alone again, lead from the tempo we then have
            playing = bool(state.isPlaying()) if self.start_stop_sync else True
        self._set_playing(playing)
        self.polls += 1
        report = self.arbiter.phase_lock.last_report if self.arbiter.phase_lock is not None else None
        self._status = LinkStatus(enabled=True, peers=peers, link_tempo_bpm=tempo, playing=playing,
                                  leading=leading,
                                  phase_error_seconds=None if leading or report is None else report.error_seconds,
                                  polls=self.polls, errors=self.errors)
        return self._status

    def _lead(self) -> None:
        """Alone: give the session each change of the engine's tempo, so that a peer joining finds ours."""
        engine_tempo = self._engine_tempo_bpm()
        if self._led_bpm is None:
            self._led_bpm = engine_tempo
        elif abs(engine_tempo - self._led_bpm) > LEAD_TEMPO_TOLERANCE_BPM:
            self._led_bpm = engine_tempo
            self._set_session_tempo(engine_tempo)

    def _set_session_tempo(self, bpm: float) -> None:
        """Change the session's tempo now (a manual tempo change, forwarded by the arbiter)."""
        link = self.link
        if link is None:
            return
        state = link.captureAppSessionState()
        state.setTempo(float(bpm), int(link.clock().micros()))
        link.commitAppSessionState(state)

    def _set_playing(self, playing: bool) -> None:
        """Start/stop sync: mute the playing decks on stop, unmute the same ones on start."""
        if playing == self._playing:
            return
        self._playing = playing
        if not playing:
            state = self.engine.state()
            self._muted_by_link = [d for d, deck in enumerate(state["decks"], start=1) if not deck["mute"]]
            for d in self._muted_by_link:
                self.engine.set_mute(d, True)
        else:
            for d in self._muted_by_link:
                self.engine.set_mute(d, False)
            self._muted_by_link = []

    def _engine_tempo_bpm(self) -> float:
        return float(self.engine.transport.tempo_bpm)

    # ----- the poller ----------------------------------------------------------------------

    def _run(self) -> None:
        assert self.poll_seconds is not None
        rng = random.Random()
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as e:  # a bad moment in the session must not end the sync
                self.errors += 1
                now = time.monotonic()
                if now - self._last_error_log >= 1.0:
                    self._last_error_log = now
                    log.warning("Link: poll failed: %s", e)
            self._stop.wait(self.poll_seconds * (1.0 + POLL_JITTER * (2.0 * rng.random() - 1.0)))
