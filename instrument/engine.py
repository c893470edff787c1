"""The real-time engine: decks, render threads, the mixer thread and the audio callback.

::

    controllers ──set_*──► ControlBoard (snapshots) ──wake──► render thread per deck
         │                                                       │ latent -> onnxruntime -> dsp
         └──► event queue ──┐                                    ▼
                            ▼                              mailbox (newest loop)
                     mixer thread: drain events at a block start, take new loops,
                     crossfade at the bar phase, gains, limiter ──► FrameRing ──► callback
                            │
                            └──► journal (events stamped with frames), recorder sink

Threads and who may block whom:

- control threads (OSC, MIDI, scenes) validate, update a snapshot under a tiny lock, append
  to a lock-free queue, wake the deck's renderer, and call listeners. They never wait on a
  render.
- each deck's render thread renders the newest snapshot; intermediate ones are skipped.
- the mixer thread keeps ``ahead_blocks`` blocks in the ring; it applies control events at
  block starts (so each is stamped with the frame it took effect) and starts swaps.
- the audio callback copies from the ring, and that is all: no lock, no allocation that
  survives the call, no logging, no onnxruntime. When the ring is short it plays silence for
  the missing frames and counts an underrun.

``render_offline`` runs the mixer step in the caller's thread and renders synchronously
when a deck's controls changed, so offline bounces need no threads; ``replay_blocks`` does
the same from a journal. All three share ``_produce_block``.

Scenes: ``state``/``apply_state`` round-trip every control; ``morph_to`` glides continuous
controls (knobs, style mixes, psi, noise, gains, crossfader) linearly over a number of beats
on the transport clock, in steps of about 20 ms; seeds, B seeds, mutes, models and tempo
switch when the morph ends. Seeds switch at the end rather than mid-way because two seeds'
loops have nothing in common half way between them: a glide would only be a render storm
of unrelated loops. To morph between seeds smoothly, put the target seed in ``bseed`` and
morph the style mixes to 1.

Transport shifts (``shift_transport``): an outside clock (Ableton Link, through
``instrument.phase_lock``) moves the position in beats to line up bars. A shift travels the
same event queue as the controls, so it lands on a block start, is journaled (``shift``
events) and replays at the same frame; it is not a control: no listener hears it and no
deck re-renders (the loops are read at the new position of the same grid).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque, Iterator, TextIO

import numpy as np

from instrument import dsp
from instrument.bundle import Bundle, BundleError, load_bundle
from instrument.controls import (
    GROUP_NAMES,
    MAX_KNOBS,
    NOISE_RANGE,
    PSI_RANGE,
    TEMPO_RANGE_BPM,
    ControlBoard,
    DeckControls,
    check_flag,
    check_group,
    check_index,
    check_number,
    check_seed,
)
from instrument.deck import (
    DeckWorker,
    RenderedLoop,
    RenderLimits,
    RenderSettings,
    realtime_thread_priority,
    render_loop,
)
from instrument.journal import Journal, JournalError, JournalWriter, open_journal_file
from instrument.mixer import QUANTIZE_MODES, Mixer, MixerSettings, SwapRecord
from instrument.ringbuffer import FrameRing
from instrument.transport import Position, Transport

DEFAULT_TEMPO_BPM = 120.0  # the clock's tempo until the first model (or set_tempo) decides it
DEFAULT_BEATS_PER_BAR = 4
CALLBACK_HISTORY = 4096  # callback durations kept (a ring of the most recent)
RING_SPARE_FRAMES = 16384  # ring room beyond ahead_blocks, for devices that ask for big chunks
GAIN_SMOOTHING_SECONDS = 0.01  # a full-scale gain change takes this long
MORPH_STEP_SECONDS = 0.02
MAX_SHIFT_BEATS = 1e6  # a transport shift larger than this is a bug in the caller, not a bar to line up
ADDRESS_PREFIX = "/ganloops"

Listener = Callable[[str, tuple], None]


@dataclass
class EngineConfig:
    """How the engine runs. Values are checked by ``Engine`` (ValueError naming the field)."""

    sample_rate_hz: int = 48000  # device rate; models at other rates are resampled (soxr, high quality)
    block_frames: int = 256
    channels: int = 2  # output channels; mono models are duplicated
    decks: int = 2
    tempo_bpm: float | None = None  # None: the first loaded model's tempo
    tempo_mode: str = "stretch"  # "stretch" (pitch kept) | "varispeed"
    crossfade_seconds: float = 0.03  # equal-power crossfade when a new render replaces the loop
    quantize: str = "none"  # "none" (phase-locked, immediate) | "beat" | "bar"
    ahead_blocks: int = 3  # blocks the mixer thread renders ahead of the callback
    limiter_ceiling_db: float = -0.3
    # Rendering yields to playback (instrument.deck.RenderLimits): on a 2-core laptop two decks
    # rendering with onnxruntime's default threads (one per core) took both cores and starved
    # the mixer thread and the audio server. One thread per deck's render, renders at a lower
    # OS priority, and at most one render start per deck every 50 ms (20 renders a second,
    # about one render's length on such a machine) keep a core and the scheduler's favour for
    # playback; the newest knob state still renders as soon as the interval is over.
    render_threads: int = 1  # CPU threads per onnxruntime run of a deck; 0: onnxruntime's default (one per core)
    render_nice: int = 10  # Linux nice value of render and loader threads (0..19; 0 leaves them as they are)
    min_render_interval_seconds: float = 0.05  # least time between two render starts of one deck
    # The mixer thread refills the ring the callback reads; on a loaded machine a normal
    # thread waited for a core long enough to let the ring run dry (1-2 underruns in 10 s of
    # OSC flood with a training run on both cores). SCHED_RR at this priority where allowed
    # (0: leave it a normal thread); see instrument.deck.realtime_thread_priority.
    mixer_realtime_priority: int = 10

    def check(self) -> None:
        def positive_int(name: str, value: Any, low: int = 1, high: int = 1 << 30) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name}: expected an integer {low}..{high}, got {value!r}")

        positive_int("sample_rate_hz", self.sample_rate_hz, 1000, 768000)
        positive_int("block_frames", self.block_frames, 16, 16384)
        positive_int("channels", self.channels, 1, 64)
        positive_int("decks", self.decks, 1, 16)
        positive_int("ahead_blocks", self.ahead_blocks, 1, 256)
        if self.tempo_bpm is not None:
            check_number("tempo_bpm", self.tempo_bpm, *TEMPO_RANGE_BPM)
        if self.tempo_mode not in dsp.TEMPO_MODES:
            raise ValueError(f"tempo_mode: expected one of {', '.join(dsp.TEMPO_MODES)}, got {self.tempo_mode!r}")
        check_number("crossfade_seconds", self.crossfade_seconds, 0.0, 10.0)
        if self.quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize: expected one of {', '.join(QUANTIZE_MODES)}, got {self.quantize!r}")
        check_number("limiter_ceiling_db", self.limiter_ceiling_db, -60.0, 0.0)
        positive_int("render_threads", self.render_threads, 0, 256)
        positive_int("render_nice", self.render_nice, 0, 19)
        positive_int("mixer_realtime_priority", self.mixer_realtime_priority, 0, 49)
        check_number("min_render_interval_seconds", self.min_render_interval_seconds, 0.0, 10.0)

    def render_limits(self) -> RenderLimits:
        """The decks' render limits from this configuration."""
        return RenderLimits(threads=self.render_threads or None, nice=self.render_nice,
                            min_interval_seconds=float(self.min_render_interval_seconds))


@dataclass
class EngineStats:
    """A snapshot of how the engine is doing (for `ganloops play`'s status line, /query, bench)."""

    underruns: int
    callbacks: int
    callback_us: np.ndarray  # the most recent callback durations, microseconds, oldest first
    render_ms: list[float]  # recent render durations (all decks), milliseconds
    renders: int
    render_errors: int
    load_errors: int
    mixer_errors: int
    swaps: int
    position: Position
    transport_frames: int
    produced_frames: int
    ring_fill_frames: int
    latency_frames: int
    limiter_reduction_db: float
    provider: str
    tempo_bpm: float
    decks: list[dict[str, Any]] = field(default_factory=list)
    last_error: str | None = None
    mixer_scheduling: str = "not started"  # "SCHED_RR n", or "normal (why)"


@dataclass
class _Morph:
    target: dict[str, Any]  # a parsed state (see Engine._parse_state)
    origin: dict[str, Any]
    length_beats: float
    start_beats: float | None = None
    last_step_frame: int = -(1 << 62)


class Engine:
    """Decks of models, mixed on a bar-locked clock into a ring buffer the audio callback reads."""

    def __init__(self, config: EngineConfig | None = None, provider: str = "auto") -> None:
        self.config = config = config if config is not None else EngineConfig()
        config.check()
        self.provider = provider
        self.board = ControlBoard(config.decks)
        self.board.tempo_bpm = config.tempo_bpm
        self.transport = Transport(config.sample_rate_hz, config.tempo_bpm or DEFAULT_TEMPO_BPM,
                                   DEFAULT_BEATS_PER_BAR)
        # the mixer keeps `ahead_blocks` blocks ready; the ring has room for much more so that a
        # device asking for bigger chunks than that (variable block sizes) is still served
        self.ring = FrameRing(config.ahead_blocks * config.block_frames + RING_SPARE_FRAMES, config.channels)
        self._largest_request_frames = 0  # biggest `frames` the callback was asked for
        self.mixer = Mixer(MixerSettings(
            sample_rate_hz=config.sample_rate_hz, channels=config.channels, block_frames=config.block_frames,
            crossfade_frames=int(round(config.crossfade_seconds * config.sample_rate_hz)),
            quantize=config.quantize, limiter_ceiling_db=config.limiter_ceiling_db,
            gain_smoothing_frames=int(round(GAIN_SMOOTHING_SECONDS * config.sample_rate_hz))),
            config.decks, self.transport)
        self.mixer.on_swap = self._on_swap
        self.render_settings = RenderSettings(config.sample_rate_hz, config.channels, config.tempo_mode)
        self.workers = [DeckWorker(d, self.board, self.render_settings, provider, self._session_tempo,
                                   self._report_error, self._on_loaded, config.render_limits())
                        for d in range(1, config.decks + 1)]
        self._listeners: list[Listener] = []
        self._events: Deque[tuple[str, Any, Any]] = collections.deque()  # (kind, address, args)
        self._session_lock = threading.Lock()
        self._shift_lock = threading.Lock()  # callers of shift_transport only (never the mixer or the callback)
        self._shifts_queued = 0  # written under _shift_lock, before the event is queued
        self._shifts_applied = 0  # written by the mixer step only
        self._meter_set = False
        self._produced = 0
        self._offline_left: np.ndarray | None = None
        self._journal: JournalWriter | None = None
        self._journal_request: tuple[Path, TextIO] | None = None
        self._recorder: Any = None
        self._morph: _Morph | None = None
        self._running = False
        self._mixer_thread: threading.Thread | None = None
        self._notify_queue: Deque[tuple[str, tuple]] = collections.deque()
        self._notify_wake = threading.Event()
        self._notify_thread: threading.Thread | None = None
        self._replaying = False
        self.mixer_errors = 0
        self.mixer_scheduling = "not started"  # how the mixer thread runs (SCHED_RR n, or normal and why)
        self.listener_errors = 0
        self.last_error: str | None = None
        self.swaps = 0
        # written by the audio callback: preallocated, plain int counters
        self._underruns = 0
        self._callbacks = 0
        self._callback_us = np.zeros(CALLBACK_HISTORY, dtype=np.float64)
        self._out_scratch = np.zeros((max(config.block_frames, 1), config.channels), dtype=np.float32)

    # ===================================================================================
    # Models
    # ===================================================================================

    def load_deck(self, deck: int, bundle: str | Path, wait: bool = False) -> None:
        """Load a bundle onto `deck` (hot swap): the old model plays until the new one has rendered.

        Problems are reported (``stats.last_error``, listeners get
        ``/ganloops/deck/{d}/error``) and change nothing. With ``wait=True`` the call returns
        once the load is finished and raises the one-line ``BundleError`` if it failed
        (scripts and bounces want to know; live controllers use ``wait=False``).
        """
        d = check_index("deck", deck, self.config.decks)
        worker = self.workers[d - 1]
        errors_before = worker.load_errors + worker.render_errors
        worker.request_load(bundle, wait=wait)
        if wait and worker.load_errors + worker.render_errors > errors_before:
            raise BundleError(worker.last_error or f"deck {d}: loading {bundle} failed")

    def _on_loaded(self, deck: int, bundle: Bundle) -> None:
        """Loader thread: the first model decides the session tempo and meter unless they are set."""
        m = bundle.manifest
        with self._session_lock:
            first_meter = not self._meter_set
            self._meter_set = True
            set_tempo = self.board.tempo_bpm is None
        if first_meter:
            self._events.append(("meter", None, int(m.beats_per_bar)))
        if set_tempo:
            self.set_tempo(float(m.bpm))

    def _session_tempo(self) -> float:
        tempo = self.board.tempo_bpm
        return float(tempo) if tempo is not None else DEFAULT_TEMPO_BPM

    # ===================================================================================
    # Controls (any thread; validated; each accepted change is queued, echoed, and wakes a renderer)
    # ===================================================================================

    def _deck(self, deck: Any) -> int:
        return check_index("deck", deck, self.config.decks)

    def _accepted(self, address: str, args: tuple, render_deck: int | None = None) -> None:
        self._events.append(("control", address, args))
        if render_deck is not None:
            self.workers[render_deck - 1].wake()
        self._notify(address, args)

    def set_knob(self, deck: int, knob: int, value: float) -> None:
        d = self._deck(deck)
        k = check_index("knob", knob, MAX_KNOBS)
        v = check_number("knob value", value, -1.0, 1.0)
        self.board.set_knob(d, k, v)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/knob/{k}", (v,), d)

    def set_seed(self, deck: int, seed: int) -> None:
        d = self._deck(deck)
        s = check_seed("seed", seed)
        self.board.update(d, seed=s)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/seed", (s,), d)

    def set_bseed(self, deck: int, seed: int) -> None:
        d = self._deck(deck)
        s = check_seed("bseed", seed)
        self.board.update(d, bseed=s)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/bseed", (s,), d)

    def set_mix(self, deck: int, group: str, value: float) -> None:
        d = self._deck(deck)
        g = check_group("group", group)
        v = check_number("mix", value, 0.0, 1.0)
        self.board.set_mix(d, g, v)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/mix/{g}", (v,), d)

    def set_psi(self, deck: int, psi: float) -> None:
        d = self._deck(deck)
        v = check_number("psi", psi, *PSI_RANGE)
        self.board.update(d, psi=v)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/psi", (v,), d)

    def set_noise(self, deck: int, strength: float) -> None:
        """Noise strength; the bundles of today have no noise inputs, so it is stored and ignored."""
        d = self._deck(deck)
        v = check_number("noise", strength, *NOISE_RANGE)
        self.board.update(d, noise=v)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/noise", (v,), d)

    def set_gain(self, deck: int, gain: float) -> None:
        d = self._deck(deck)
        v = check_number("gain", gain, 0.0, 1.0)
        self.board.update(d, gain=v)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/gain", (v,))

    def set_mute(self, deck: int, mute: bool) -> None:
        d = self._deck(deck)
        v = check_flag("mute", mute)
        self.board.update(d, mute=v)
        self._accepted(f"{ADDRESS_PREFIX}/deck/{d}/mute", (int(v),))

    def set_crossfade(self, value: float) -> None:
        v = check_number("crossfade", value, 0.0, 1.0)
        self.board.crossfade = v
        self._accepted(f"{ADDRESS_PREFIX}/crossfade", (v,))

    def set_tempo(self, bpm: float) -> None:
        """Session tempo; the bar grid stays aligned and every deck re-adapts its loop."""
        v = check_number("tempo", bpm, *TEMPO_RANGE_BPM)
        self.board.tempo_bpm = v
        self._events.append(("control", f"{ADDRESS_PREFIX}/tempo", (v,)))
        for worker in self.workers:
            worker.wake()
        self._notify(f"{ADDRESS_PREFIX}/tempo", (v,))

    def shift_transport(self, delta_beats: float) -> None:
        """Move the transport's position by `delta_beats` (positive: ahead) at the next block start (any thread).

        For outside clocks lining up bars (``instrument.phase_lock``). Queued for the mixer
        thread like a control, so the shift takes effect at the first frame of a block and
        is journaled there; unlike a control it is not echoed to listeners and wakes no
        renderer. ValueError unless `delta_beats` is a finite number within ±1e6.
        """
        v = check_number("delta_beats", delta_beats, -MAX_SHIFT_BEATS, MAX_SHIFT_BEATS)
        self._queue_shift(v)

    def _queue_shift(self, delta_beats: float) -> None:
        with self._shift_lock:
            self._shifts_queued += 1
            self._events.append(("shift", None, delta_beats))

    @property
    def shifts_pending(self) -> int:
        """Transport shifts queued and not yet applied by the mixer (0 once all are in the transport).

        A clock follower measures its bar phase against ``transport.beats_at``; while a
        correction it asked for is still queued, a new measurement would count it again.
        """
        return max(0, self._shifts_queued - self._shifts_applied)

    def apply_address(self, address: str, args: tuple | list) -> None:
        """Apply a control change given as an OSC address and arguments (journal replay, scripts)."""
        parts = address.strip("/").split("/")
        a = list(args)
        if parts[:1] != ["ganloops"]:
            raise ValueError(f"address: {address!r} is not a /ganloops address")
        if parts[1:] == ["crossfade"] and len(a) == 1:
            return self.set_crossfade(a[0])
        if parts[1:] == ["tempo"] and len(a) == 1:
            return self.set_tempo(a[0])
        if len(parts) >= 4 and parts[1] == "deck" and parts[2].isdigit():
            deck, what = int(parts[2]), parts[3:]
            if what[0] == "knob" and len(what) == 2 and what[1].isdigit() and len(a) == 1:
                return self.set_knob(deck, int(what[1]), a[0])
            if what[0] == "mix" and len(what) == 2 and len(a) == 1:
                return self.set_mix(deck, what[1], a[0])
            setters: dict[str, Callable[[int, Any], None]] = {
                "seed": self.set_seed, "bseed": self.set_bseed, "psi": self.set_psi, "noise": self.set_noise,
                "gain": self.set_gain, "mute": self.set_mute}
            if len(what) == 1 and what[0] in setters and len(a) == 1:
                return setters[what[0]](deck, a[0])
        raise ValueError(f"address: {address!r} with {len(a)} argument(s) is not an engine control")

    # ----- listeners ---------------------------------------------------------------------

    def add_listener(self, fn: Listener) -> None:
        """`fn(address, args)` for every accepted change, swap to a new model and error (any thread)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _notify(self, address: str, args: tuple) -> None:
        """Call listeners now, except from the mixer thread, which hands them to the notifier thread."""
        if self._mixer_thread is not None and threading.current_thread() is self._mixer_thread:
            self._notify_queue.append((address, args))
            self._notify_wake.set()
            return
        self._call_listeners(address, args)

    def _call_listeners(self, address: str, args: tuple) -> None:
        for fn in list(self._listeners):
            try:
                fn(address, args)
            except Exception as e:  # a broken listener must not break the engine
                self.listener_errors += 1
                self.last_error = f"listener {getattr(fn, '__name__', fn)!s}: {e}"

    def _notifier_loop(self) -> None:
        while self._running or self._notify_queue:
            self._notify_wake.wait(0.1)
            self._notify_wake.clear()
            while self._notify_queue:
                address, args = self._notify_queue.popleft()
                self._call_listeners(address, args)

    def _report_error(self, deck: int, kind: str, message: str) -> None:
        self.last_error = message
        self._notify(f"{ADDRESS_PREFIX}/deck/{deck}/error", (message,))

    # ===================================================================================
    # Scenes
    # ===================================================================================

    def state(self) -> dict[str, Any]:
        """The whole control state, JSON-serialisable (scenes, /query)."""
        decks = []
        for d in range(1, self.config.decks + 1):
            controls, _ = self.board.snapshot(d)
            bundle = self.workers[d - 1].bundle
            decks.append({**controls.to_json(), "model": None if bundle is None else str(Path(bundle.path).resolve())})
        return {"decks": decks, "crossfade": self.board.crossfade, "tempo_bpm": self.board.tempo_bpm}

    def _parse_state(self, state: Any) -> dict[str, Any]:
        """Check a whole state before any of it is applied: {"decks": [(DeckControls, model)], ...}."""
        if not isinstance(state, dict):
            raise ValueError(f"state: expected an object, got {type(state).__name__}")
        raw_decks = state.get("decks", [])
        if not isinstance(raw_decks, list) or len(raw_decks) > self.config.decks:
            raise ValueError(f"state.decks: expected a list of at most {self.config.decks} decks")
        decks = []
        for i, raw in enumerate(raw_decks):
            controls = DeckControls.from_json(raw, where=f"state.decks[{i + 1}]")
            model = raw.get("model")
            if model is not None and not isinstance(model, str):
                raise ValueError(f"state.decks[{i + 1}].model: expected a path or null, got {model!r}")
            decks.append((controls, model))
        crossfade = check_number("state.crossfade", state.get("crossfade", self.board.crossfade), 0.0, 1.0)
        tempo = state.get("tempo_bpm", self.board.tempo_bpm)
        if tempo is not None:
            tempo = check_number("state.tempo_bpm", tempo, *TEMPO_RANGE_BPM)
        return {"decks": decks, "crossfade": crossfade, "tempo_bpm": tempo}

    def apply_state(self, state: dict) -> None:
        """Set every control of `state` (as ``state()`` returns it); nothing changes if any value is invalid."""
        self._apply_parsed(self._parse_state(state), load_models=True)

    def _apply_parsed(self, parsed: dict[str, Any], load_models: bool, switches: bool = True,
                      continuous: bool = True) -> None:
        for i, (controls, model) in enumerate(parsed["decks"]):
            d = i + 1
            current, _ = self.board.snapshot(d)
            if continuous:
                for k, (old, new) in enumerate(zip(current.knobs, controls.knobs)):
                    if old != new:
                        self.set_knob(d, k + 1, new)
                for g, old, new in zip(GROUP_NAMES, current.mix, controls.mix):
                    if old != new:
                        self.set_mix(d, g, new)
                if current.psi != controls.psi:
                    self.set_psi(d, controls.psi)
                if current.noise != controls.noise:
                    self.set_noise(d, controls.noise)
                if current.gain != controls.gain:
                    self.set_gain(d, controls.gain)
            if switches:
                if current.seed != controls.seed:
                    self.set_seed(d, controls.seed)
                if current.bseed != controls.bseed:
                    self.set_bseed(d, controls.bseed)
                if current.mute != controls.mute:
                    self.set_mute(d, controls.mute)
                bundle = self.workers[i].bundle
                if load_models and model is not None and (
                        bundle is None or Path(bundle.path).resolve() != Path(model).resolve()):
                    self.load_deck(d, model)
        if continuous and parsed["crossfade"] != self.board.crossfade:
            self.set_crossfade(parsed["crossfade"])
        if switches and parsed["tempo_bpm"] is not None and parsed["tempo_bpm"] != self.board.tempo_bpm:
            self.set_tempo(parsed["tempo_bpm"])

    def morph_to(self, state: dict, beats: float) -> None:
        """Glide to `state` over `beats` beats of the transport (see the module docstring for what glides)."""
        length = check_number("beats", beats, 0.0, 4096.0)
        target = self._parse_state(state)
        if length == 0.0:
            self._morph = None
            self._apply_parsed(target, load_models=True)
            return
        self._morph = _Morph(target=target, origin=self._parse_state(self.state()), length_beats=length)

    def _advance_morph(self, frame: int) -> None:
        morph = self._morph
        if morph is None:
            return
        beats = self.transport.beats_at(frame)
        if morph.start_beats is None:
            morph.start_beats = beats
        progress = min(1.0, (beats - morph.start_beats) / morph.length_beats)
        if progress >= 1.0:
            self._morph = None
            self._apply_parsed(morph.target, load_models=True)
            return
        step_frames = int(MORPH_STEP_SECONDS * self.config.sample_rate_hz)
        if frame - morph.last_step_frame < step_frames:
            return
        morph.last_step_frame = frame
        self._apply_parsed(_interpolate(morph.origin, morph.target, progress), load_models=False,
                           switches=False)

    # ===================================================================================
    # Recording
    # ===================================================================================

    def set_recorder(self, sink: Any) -> None:
        """`sink.write(block)` gets every master block [frames, channels] from the mixer thread (None stops)."""
        self._recorder = sink

    def record_journal(self, path: str | Path) -> None:
        """Start writing a journal at the next block (bit-exact replay from there).

        The file is created here, so a path that cannot be written raises ``JournalError``
        (one line naming it) in the caller; the mixer thread only stamps the starting frame.
        """
        if self._journal is not None or self._journal_request is not None:
            raise ValueError("journal: already recording; stop_journal() first")
        self._journal_request = (Path(path), open_journal_file(path))
        if not self._running:
            self._open_journal(self._produced)

    def stop_journal(self) -> Path | None:
        """Finish the journal (end event at the mixer's current frame) and return its path."""
        request, self._journal_request = self._journal_request, None
        if request is not None:  # asked for, but no block was made since: an empty journal is useless
            request[1].close()
        journal, self._journal = self._journal, None
        if journal is None:
            return None
        journal.close(self._produced)
        return journal.path

    def _open_journal(self, frame: int) -> None:
        request, self._journal_request = self._journal_request, None
        if request is None:
            return
        path, file = request
        decks = []
        for pb in self.mixer.decks:
            decks.append({"current": None if pb.current is None else pb.current.swap_event(),
                          "previous": None if pb.previous is None else pb.previous.swap_event(),
                          "fade_start_frame": pb.fade_start_frame, "fade_correlation": pb.fade_correlation,
                          "gain_now": pb.gain_now,
                          "gain_target": pb.gain_target, "mute": pb.mute})
        header = {"config": asdict(self.config), "provider": self.provider, "start_frame": frame,
                  "transport": self.transport.to_json(), "state": self.state(),
                  "mixer": {"crossfade": self.mixer.crossfade, "decks": decks,
                            "limiter_reduction": self.mixer.limiter._reduction}}
        self._journal = JournalWriter(path, file, header)

    # ===================================================================================
    # The mixer step (mixer thread, render_offline, replay)
    # ===================================================================================

    def _drain_events(self, frame: int) -> None:
        """Apply queued control events at `frame` (a block start) and journal them."""
        journal = self._journal
        while self._events:
            kind, address, args = self._events.popleft()
            if kind == "meter":
                self.transport.beats_per_bar = int(args)
                if journal is not None:
                    journal.record(frame, "meter", int(args))
                continue
            if kind == "shift":
                self.transport.shift(float(args), frame)
                self._shifts_applied += 1
                if journal is not None:
                    journal.record(frame, "shift", float(args))
                continue
            self._apply_to_mixer(address, args, frame)
            if journal is not None:
                journal.record(frame, "control", [address, list(args)])

    def _apply_to_mixer(self, address: str, args: tuple, frame: int) -> None:
        parts = address.split("/")
        if address == f"{ADDRESS_PREFIX}/tempo":
            self.transport.set_tempo(float(args[0]), frame)
        elif address == f"{ADDRESS_PREFIX}/crossfade":
            self.mixer.crossfade = float(args[0])
        elif len(parts) == 5 and parts[4] in ("gain", "mute"):
            pb = self.mixer.decks[int(parts[3]) - 1]
            if parts[4] == "gain":
                pb.gain_target = float(args[0])
            else:
                pb.mute = bool(args[0])

    def _on_swap(self, record: SwapRecord) -> None:
        self.swaps += 1
        if self._journal is not None:
            self._journal.record(record.frame, "swap", record.loop.swap_event())
        if record.first_of_model:
            self._notify(f"{ADDRESS_PREFIX}/deck/{record.loop.deck}/model", (record.loop.bundle_path,))

    def _produce_block(self, offers: Callable[[int, int], None] | None) -> np.ndarray:
        """One master block at the mixer's frame; `offers(start, end)` hands the mixer new loops."""
        start = self._produced
        n = self.config.block_frames
        if self._journal_request is not None:
            self._open_journal(start)
        self._advance_morph(start)
        self._drain_events(start)
        if offers is not None:
            offers(start, start + n)
        block = self.mixer.mix_block(start, n)
        self._produced = start + n
        recorder = self._recorder
        if recorder is not None:
            try:
                recorder.write(block)
            except Exception as e:
                self.last_error = f"recorder: {e}"
                self._recorder = None
        return block

    def _offer_live(self, start: int, end: int) -> None:
        for worker in self.workers:
            loop = worker.take()
            if loop is not None:
                self.mixer.offer(loop)

    def _offer_sync(self, start: int, end: int) -> None:
        for worker in self.workers:
            worker.render_if_stale()
            loop = worker.take()
            if loop is not None:
                self.mixer.offer(loop)

    def _mixer_loop(self) -> None:
        self.mixer_scheduling = realtime_thread_priority(self.config.mixer_realtime_priority)
        block_frames = self.config.block_frames
        idle_seconds = block_frames / self.config.sample_rate_hz / 4
        silence = np.zeros((block_frames, self.config.channels), dtype=np.float32)
        while self._running:
            if (self.ring.available_frames() >= self.latency_frames
                    or self.ring.space_frames() < block_frames):
                time.sleep(idle_seconds)
                continue
            try:
                block = self._produce_block(self._offer_live)
            except Exception as e:  # keep the clock running: silence beats a dead stream
                self.mixer_errors += 1
                self.last_error = f"mixer: {e}"
                self._produced += block_frames
                block = silence
            self.ring.write(block)

    # ===================================================================================
    # Threads and the audio callback
    # ===================================================================================

    def start(self) -> None:
        """Start the render threads, the mixer thread and the listener notifier."""
        if self._running:
            return
        self._running = True
        for worker in self.workers:
            worker.start()
            worker.wake()
        self._notify_thread = threading.Thread(target=self._notifier_loop, name="ganloops-notify", daemon=True)
        self._notify_thread.start()
        self._mixer_thread = threading.Thread(target=self._mixer_loop, name="ganloops-mixer", daemon=True)
        self._mixer_thread.start()

    def stop(self) -> None:
        """Stop every thread; the journal, if any, is finished."""
        if not self._running:
            self.stop_journal()
            return
        self._running = False
        if self._mixer_thread is not None:
            self._mixer_thread.join(timeout=10)
        for worker in self.workers:
            worker.stop()
        self._notify_wake.set()
        if self._notify_thread is not None:
            self._notify_thread.join(timeout=10)
        self._mixer_thread = None
        self._notify_thread = None
        self.stop_journal()

    def __enter__(self) -> "Engine":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def callback(self, outdata: np.ndarray, frames: int) -> None:
        """The audio callback's body: copy `frames` frames from the ring into ``outdata`` [frames, channels].

        Real-time safe: no locks, nothing allocated that outlives the call, no logging. When
        the ring holds fewer frames, what there is plays and the rest is silence (an underrun).
        """
        started = time.perf_counter_ns()
        if frames > self._largest_request_frames:
            self._largest_request_frames = frames
        ring = self.ring
        ready = ring.available_frames()
        if ready >= frames:
            ring.read_into(outdata, frames)
        else:
            if ready > 0:
                ring.read_into(outdata, ready)
            outdata[ready:frames] = 0.0
            self._underruns += 1
        i = self._callbacks % CALLBACK_HISTORY
        self._callback_us[i] = (time.perf_counter_ns() - started) * 1e-3
        self._callbacks += 1

    def frames_ready(self) -> int:
        """Frames waiting in the ring for the callback."""
        return self.ring.available_frames()

    # ===================================================================================
    # Offline
    # ===================================================================================

    def render_offline(self, frames: int) -> np.ndarray:
        """The next `frames` frames of master output [frames, channels], rendered in this thread.

        Control changes made between calls take effect at the next block; a deck whose
        controls changed renders synchronously there (as if renders took no time), so the
        same calls always give the same audio. Pending model loads are finished first.
        """
        if self._running:
            raise RuntimeError("render_offline: the engine is running live; stop() it first")
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 0:
            raise ValueError(f"frames: expected a non-negative integer, got {frames!r}")
        for worker in self.workers:
            worker.join_loads()
        out = np.empty((frames, self.config.channels), dtype=np.float32)
        filled = 0
        left = self._offline_left
        if left is not None and left.shape[0] > 0:
            take = min(frames, left.shape[0])
            out[:take] = left[:take]
            self._offline_left = left[take:]
            filled = take
        while filled < frames:
            block = self._produce_block(self._offer_sync)
            take = min(frames - filled, block.shape[0])
            out[filled:filled + take] = block[:take]
            self._offline_left = block[take:]
            filled += take
        return out

    @classmethod
    def for_replay(cls, journal: Journal, provider: str | None = None) -> "Engine":
        """An engine configured as the journal's was, positioned at its start."""
        raw = dict(journal.header.get("config", {}))
        try:
            config = EngineConfig(**raw)
        except TypeError as e:
            raise JournalError(f"{journal.path}: header config does not fit this version ({e})") from None
        engine = cls(config, provider=provider or str(journal.header.get("provider", "auto")))
        engine._replaying = True
        return engine

    def replay_blocks(self, journal: Journal, total_frames: int) -> Iterator[np.ndarray]:
        """Master blocks of `journal` from its start, `total_frames` frames in all (journal.replay drives this)."""
        header = journal.header
        cache: dict[str, Bundle] = {}

        def bundle_for(path: str) -> Bundle:
            if path not in cache:
                cache[path] = load_bundle(path, provider=self.provider)
            return cache[path]

        def loop_for(event: dict[str, Any], start_frame: int | None) -> RenderedLoop:
            bundle = bundle_for(event["bundle"])
            controls = DeckControls.from_json(event["state"], where="journal swap")
            m = bundle.manifest
            frames = render_loop(bundle, controls, float(event["tempo_bpm"]), self.render_settings)
            return RenderedLoop(deck=int(event["deck"]), frames=frames, loop_beats=float(m.bars * m.beats_per_bar),
                                bundle_path=event["bundle"], controls=controls,
                                tempo_bpm=float(event["tempo_bpm"]), generation=0, start_frame=start_frame)

        start = journal.start_frame
        self._produced = start
        t = header.get("transport", {})
        self.transport.restore(float(t.get("tempo_bpm", self.transport.tempo_bpm)), int(t.get("anchor_frame", 0)),
                               float(t.get("anchor_beats", 0.0)))
        self.transport.beats_per_bar = int(t.get("beats_per_bar", DEFAULT_BEATS_PER_BAR))
        mixer_state = header.get("mixer", {})
        self.mixer.crossfade = float(mixer_state.get("crossfade", 0.5))
        self.mixer.limiter._reduction = float(mixer_state.get("limiter_reduction", 0.0))
        for pb, saved in zip(self.mixer.decks, mixer_state.get("decks", [])):
            pb.current = None if saved.get("current") is None else loop_for(saved["current"], None)
            pb.previous = None if saved.get("previous") is None else loop_for(saved["previous"], None)
            pb.fade_start_frame = saved.get("fade_start_frame")
            pb.fade_correlation = float(saved.get("fade_correlation", 0.0))
            pb.gain_now = float(saved.get("gain_now", 0.0))
            pb.gain_target = float(saved.get("gain_target", 1.0))
            pb.mute = bool(saved.get("mute", False))
        saved_state = header.get("state")
        if isinstance(saved_state, dict):
            parsed = self._parse_state(saved_state)
            for i, (controls, _) in enumerate(parsed["decks"]):
                self.board.replace_deck(i + 1, controls)
            self.board.crossfade = parsed["crossfade"]
            self.board.tempo_bpm = parsed["tempo_bpm"]
        self._events.clear()

        events = [e for e in journal.events if e.kind != "end"]
        position = 0
        block_frames = self.config.block_frames
        done = 0
        while done < total_frames:
            block_end = self._produced + block_frames
            # controls, meter and shifts are stamped at block starts: queue them for
            # _drain_events; swaps start anywhere in the block, exactly where they started live
            while position < len(events) and events[position].frame < block_end:
                event = events[position]
                if event.kind == "control":
                    address, args = event.args
                    self._events.append(("control", address, tuple(args)))
                elif event.kind == "meter":
                    self._events.append(("meter", None, int(event.args)))
                elif event.kind == "shift":
                    self._queue_shift(float(event.args))
                elif event.kind == "swap":
                    self.mixer.offer(loop_for(event.args, event.frame))
                position += 1
            block = self._produce_block(None)
            take = min(block_frames, total_frames - done)
            done += take
            yield block[:take]

    # ===================================================================================
    # Reporting
    # ===================================================================================

    @property
    def transport_frames(self) -> int:
        """Frames played so far (handed to the sound card, or returned by render_offline)."""
        left = self._offline_left.shape[0] if self._offline_left is not None else 0
        return self._produced - self.ring.available_frames() - left

    @property
    def position(self) -> Position:
        """Bar, beat and frame of the playhead at the session tempo."""
        return self.transport.position(self.transport_frames)

    @property
    def latency_frames(self) -> int:
        """Frames the mixer keeps ready: ``ahead_blocks`` blocks, or more when the device asks for
        larger chunks than that (the time from a change taking effect to it being heard)."""
        ahead = self.config.ahead_blocks * self.config.block_frames
        requested = self._largest_request_frames
        if requested <= ahead:
            return ahead
        block = self.config.block_frames
        return min(-(-requested // block) * block, self.ring.capacity_frames)

    @property
    def stats(self) -> EngineStats:
        count = self._callbacks
        history = self._callback_us
        if count <= CALLBACK_HISTORY:
            recent = history[:count].copy()
        else:
            i = count % CALLBACK_HISTORY
            recent = np.concatenate([history[i:], history[:i]])
        render_ms: list[float] = []
        for worker in self.workers:
            render_ms.extend(worker.render_ms)
        providers = sorted({w.bundle.provider for w in self.workers if w.bundle is not None})
        return EngineStats(
            underruns=self._underruns, callbacks=count, callback_us=recent, render_ms=render_ms,
            renders=sum(w.renders for w in self.workers),
            render_errors=sum(w.render_errors for w in self.workers),
            load_errors=sum(w.load_errors for w in self.workers), mixer_errors=self.mixer_errors,
            swaps=self.swaps, position=self.position, transport_frames=self.transport_frames,
            produced_frames=self._produced, ring_fill_frames=self.ring.available_frames(),
            latency_frames=self.latency_frames, limiter_reduction_db=self.mixer.limiter.gain_reduction_db,
            provider=", ".join(providers) or self.provider, tempo_bpm=self.transport.tempo_bpm,
            decks=[w.info() for w in self.workers], last_error=self.last_error,
            mixer_scheduling=self.mixer_scheduling)


def _interpolate(origin: dict[str, Any], target: dict[str, Any], t: float) -> dict[str, Any]:
    """The continuous controls of a parsed state, `t` of the way from `origin` to `target`."""

    def lerp(a: float, b: float) -> float:
        return a + (b - a) * t

    decks = []
    for (a, _), (b, model) in zip(origin["decks"], target["decks"]):
        decks.append((DeckControls(
            seed=a.seed, bseed=a.bseed, mute=a.mute,
            knobs=tuple(lerp(x, y) for x, y in zip(a.knobs, b.knobs)),
            mix=tuple(lerp(x, y) for x, y in zip(a.mix, b.mix)),  # type: ignore[arg-type]
            psi=lerp(a.psi, b.psi), noise=lerp(a.noise, b.noise), gain=lerp(a.gain, b.gain)), model))
    return {"decks": decks, "crossfade": lerp(origin["crossfade"], target["crossfade"]),
            "tempo_bpm": origin["tempo_bpm"]}
