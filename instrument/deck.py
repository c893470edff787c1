"""One deck: a loaded model, its render thread, and the loops it hands to the mixer.

Rendering a loop (``render_loop``) is a pure function of the bundle, the deck's controls
and the session tempo: styles (``latent.styles_for``) -> onnxruntime synthesis -> sample
rate conversion to the device rate -> tempo adaptation to exactly the loop's length at
the session tempo -> the output channel layout. Live rendering, offline bounces and
journal replays all call it, which is what makes a replay bit-identical.

A ``DeckWorker`` owns the render thread. Controllers wake it; it takes the *newest*
control snapshot (whatever happened in between is skipped), renders it, and leaves the
result in a one-slot mailbox that the mixer empties; a newer result replaces an older one
the mixer has not taken yet. A render that raises is counted and reported and the mixer
keeps the loop it has. Model loads (``request_load``) run on their own loader thread:
the new bundle is opened and its first loop rendered there, and only then does the deck
switch, so the old model plays on until the new one has something to play.

Rendering yields to playback (``RenderLimits``): each deck's sessions run on a bounded
number of CPU threads, the render and loader threads lower their own OS priority (Linux
``nice``), and a deck starts renders at most once per ``min_interval_seconds``. Knob moves
arriving in between are coalesced, and the newest state always renders once the interval
is over, so on a small machine the mixer thread and the audio server keep a core and the
knob still answers within one render plus one interval.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque

import numpy as np

from instrument import dsp
from instrument.bundle import Bundle, BundleBinding, load_bundle
from instrument.controls import ControlBoard, DeckControls
from instrument.latent import styles_for


@dataclass(frozen=True)
class RenderSettings:
    """What the render pipeline needs from the engine configuration."""

    sample_rate_hz: int
    channels: int
    tempo_mode: str


CORRELATION_PROBE_FRAMES = 16384  # loop_correlation compares at most about this many frames


@dataclass(frozen=True)
class RenderLimits:
    """How much of the machine a deck's live renders may take (see ``EngineConfig``).

    ``threads``: CPU threads per onnxruntime run (None: onnxruntime's default, one per core).
    ``nice``: the Linux nice value the render and loader threads raise themselves to (0:
    left as they are; a thread already nicer stays so; ignored where unsupported).
    ``min_interval_seconds``: the least time between the starts of two renders of a deck.
    """

    threads: int | None = None
    nice: int = 0
    min_interval_seconds: float = 0.0


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's nice value to at least `nice` (Linux: per thread); True if it is now.

    A no-op returning False where the OS has no per-thread priorities or refuses; never raises.
    """
    if nice <= 0 or not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return False
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return os.getpriority(os.PRIO_PROCESS, tid) >= nice
    except OSError:
        return False


def realtime_thread_priority(priority: int) -> str:
    """Put the calling thread under SCHED_RR at `priority` (Linux: per thread); what it now runs as.

    For the mixer thread, which must refill the ring before the audio callback reads it:
    above every normal thread (renders, OSC, MIDI, other programs), below the audio
    server's own realtime threads (jackd -R runs at 70 and its clients' process threads
    just below). Needs the rights a stage machine gives an audio user (the ``audio``
    group's rtprio limit) or root; without them the thread stays as it was. Returns
    "SCHED_RR <priority>" or "normal (<reason>)"; never raises.
    """
    if priority <= 0:
        return "normal (realtime priority not asked for)"
    if not hasattr(os, "sched_setscheduler") or not hasattr(os, "SCHED_RR"):
        return "normal (no per-thread realtime scheduling on this OS)"
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(priority))  # 0: the calling thread
    except OSError as e:
        return f"normal (SCHED_RR refused: {e.strerror or e})"
    return f"SCHED_RR {priority}"


@dataclass
class RenderedLoop:
    """A finished loop, owned by whoever holds it, plus what it was rendered from (for the journal)."""

    deck: int
    frames: np.ndarray  # [loop_frames, channels] float32 at the device rate and session tempo
    loop_beats: float  # the loop's length in beats (bars * beats_per_bar of its model)
    bundle_path: str
    controls: DeckControls
    tempo_bpm: float
    generation: int  # which model load of this deck it belongs to (older ones are dropped)
    render_ms: float = 0.0
    start_frame: int | None = None  # set by journal replay: start the crossfade exactly here
    _probe: tuple[np.ndarray, np.float64] | None = field(default=None, repr=False, compare=False)

    def correlation_probe(self) -> tuple[np.ndarray, np.float64]:
        """(subsample, its energy) that ``mixer.loop_correlation`` compares, computed once per loop.

        The render thread computes it before posting the loop, so a swap costs the mixer
        thread one dot product instead of converting two whole loops; a loop made elsewhere
        (journal replay) computes it on first use, with the same arithmetic and result.
        """
        probe = self._probe
        if probe is None:
            x = self.frames
            step = max(1, x.shape[0] // CORRELATION_PROBE_FRAMES)
            xs = x[::step].astype(np.float64).ravel()
            probe = self._probe = (xs, (xs * xs).sum())
        return probe

    def swap_event(self) -> dict[str, Any]:
        """The journal arguments that let a replay render this loop again."""
        return {"deck": self.deck, "bundle": self.bundle_path, "state": self.controls.render_state(),
                "tempo_bpm": self.tempo_bpm}


def fit_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """[model_channels, n] -> [n, channels]: mono is duplicated, extra model channels are dropped."""
    model_channels = audio.shape[0]
    if model_channels == channels:
        picked = audio
    elif model_channels == 1:
        picked = np.repeat(audio, channels, axis=0)
    elif model_channels > channels:
        picked = audio[:channels] if channels > 1 else audio.mean(axis=0, keepdims=True)
    else:
        picked = audio[np.arange(channels) % model_channels]
    return np.ascontiguousarray(picked.T, dtype=np.float32)


def synthesize_raw(bundle: Bundle, controls: DeckControls, binding: BundleBinding | None = None) -> np.ndarray:
    """The model's own loop for `controls`: [model_channels, loop_samples] at the model's rate and tempo.

    Without `binding` the result is a new array. With one (``bundle.bind()``, made by the
    calling thread) mapping and synthesis run into its preallocated buffers and the result
    is a view of its synthesis output buffer: the same numbers, valid only until that
    binding's next ``synthesize``.
    """
    if binding is None:
        ws = styles_for(bundle.manifest, bundle.map, controls)
        return np.asarray(bundle.synthesize(ws)[0], dtype=np.float32)
    if binding.bundle is not bundle:
        raise ValueError("synthesize_raw: the binding belongs to another bundle")
    ws = styles_for(bundle.manifest, binding.map, controls)
    return binding.synthesize(ws)[0]


def adapt_raw(raw: np.ndarray, bundle: Bundle, tempo_bpm: float, settings: RenderSettings) -> np.ndarray:
    """A model loop [ch, n] -> the playable loop [frames, channels] at the device rate and `tempo_bpm`."""
    m = bundle.manifest
    loop = raw
    if m.sample_rate_hz != settings.sample_rate_hz:
        loop = dsp.resample(loop, m.sample_rate_hz, settings.sample_rate_hz)
    if abs(m.bpm - tempo_bpm) > 1e-9:
        loop = dsp.adapt_tempo(loop, m.bpm, tempo_bpm, settings.sample_rate_hz, mode=settings.tempo_mode)
    return fit_channels(np.asarray(loop, dtype=np.float32), settings.channels)


def render_loop(bundle: Bundle, controls: DeckControls, tempo_bpm: float, settings: RenderSettings) -> np.ndarray:
    """The loop to play for `controls` at `tempo_bpm`: [frames, channels] float32."""
    return adapt_raw(synthesize_raw(bundle, controls), bundle, tempo_bpm, settings)


class DeckWorker:
    """A deck's model and render thread. Decks count from 1."""

    def __init__(self, deck: int, board: ControlBoard, settings: RenderSettings, provider: str,
                 tempo_fn: Callable[[], float], report: Callable[[int, str, str], None],
                 on_loaded: Callable[[int, Bundle], None], limits: RenderLimits | None = None) -> None:
        self.deck = deck
        self.limits = limits if limits is not None else RenderLimits()
        self.board = board
        self.settings = settings
        self.provider = provider
        self._tempo_fn = tempo_fn
        self._report = report  # (deck, kind "render"|"load", one-line message)
        self._on_loaded = on_loaded
        self.bundle: Bundle | None = None
        self.generation = 0
        self.renders = 0
        self.render_errors = 0
        self.load_errors = 0
        self.render_ms: Deque[float] = collections.deque(maxlen=256)
        self.last_error: str | None = None
        self._rendered_key: Any = None
        self._raw_cache: tuple[Any, np.ndarray] | None = None
        self._binding: BundleBinding | None = None  # the render thread's (see _binding_for)
        self._mailbox: RenderedLoop | None = None
        self._mailbox_lock = threading.Lock()
        self._switch: tuple[Bundle, RenderedLoop | None, Any] | None = None
        self._switch_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._loaders: list[threading.Thread] = []
        self._load_lock = threading.Lock()
        self._load_sequence = 0
        self._last_render_start = -float("inf")  # time.monotonic() when the last render started
        self.render_thread_id: int | None = None  # the render thread's native id, once it runs

    # ----- render thread ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._run, name=f"ganloops-render-{self.deck}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def wake(self) -> None:
        """Tell the render thread that controls or tempo changed (cheap, any thread)."""
        self._wake.set()

    def _run(self) -> None:
        self.render_thread_id = threading.get_native_id()
        lower_thread_priority(self.limits.nice)
        while not self._stop:
            self._wake.wait()
            # pacing: wait out the interval since the last render started; wakes in the
            # meantime coalesce, and the snapshot is read only after the wait (the newest)
            wait = self._last_render_start + self.limits.min_interval_seconds - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._wake.clear()
            if self._stop:
                break
            self.render_if_stale()

    def render_if_stale(self) -> None:
        """Install a finished load, then render the newest controls unless they are already rendered."""
        self._apply_switch()
        bundle = self.bundle
        if bundle is None:
            return
        controls, _ = self.board.snapshot(self.deck)
        tempo_bpm = self._tempo_fn()
        key = (self.generation, controls.render_key(), tempo_bpm)
        if key == self._rendered_key:
            return
        self._rendered_key = key  # a failing state is reported once, not retried in a loop
        self._last_render_start = time.monotonic()
        loop = self._render(bundle, controls, tempo_bpm, self.generation, bound=True)
        if loop is not None:
            self._post(loop)

    def _binding_for(self, bundle: Bundle) -> BundleBinding:
        """This thread's IO binding of `bundle`, made on its first render with it.

        A binding belongs to one thread: normally the render thread; ``render_offline``
        renders in the caller's thread, which gets its own. The loader thread's one
        render of a new model goes through the plain path and binds nothing.
        """
        binding = self._binding
        if binding is None or binding.bundle is not bundle or binding.owner_thread != threading.get_ident():
            binding = self._binding = bundle.bind()
        return binding

    def _render(self, bundle: Bundle, controls: DeckControls, tempo_bpm: float, generation: int,
                bound: bool = False) -> RenderedLoop | None:
        """Render one loop; with `bound`, mapping and synthesis run through this thread's IO binding.

        The raw model loop is cached for tempo-only changes. With a binding, the cached raw
        loop is the binding's output buffer itself (no copy): the cache is dropped before
        every synthesis, which overwrites that buffer, and the playable frames never alias
        it (adapt_raw copies, or the copy is made here), because the mixer keeps playing
        the previous loop while the next one renders.
        """
        started = time.perf_counter()
        try:
            raw_key = (id(bundle), controls.render_key())
            cache = self._raw_cache
            if cache is not None and cache[0] == raw_key:
                raw = cache[1]
            else:
                self._raw_cache = None  # a bound synthesis overwrites the cached raw loop in place
                raw = synthesize_raw(bundle, controls, self._binding_for(bundle) if bound else None)
                self._raw_cache = (raw_key, raw)
            frames = adapt_raw(raw, bundle, tempo_bpm, self.settings)
            if np.may_share_memory(frames, raw):
                frames = frames.copy()  # a mono loop played as it is: its own memory, not the binding's
            if not np.isfinite(frames).all():
                raise ValueError("the model rendered NaN or infinite samples")
        except Exception as e:  # anything a model or the dsp may raise: the old loop keeps playing
            self.render_errors += 1
            self.last_error = f"deck {self.deck}: render failed: {_one_line(e)}"
            self._report(self.deck, "render", self.last_error)
            return None
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        self.renders += 1
        self.render_ms.append(elapsed_ms)
        m = bundle.manifest
        loop = RenderedLoop(deck=self.deck, frames=frames, loop_beats=float(m.bars * m.beats_per_bar),
                            bundle_path=str(Path(bundle.path).resolve()), controls=controls, tempo_bpm=tempo_bpm,
                            generation=generation, render_ms=elapsed_ms)
        loop.correlation_probe()  # here rather than in the mixer thread at the swap
        return loop

    def _post(self, loop: RenderedLoop) -> None:
        with self._mailbox_lock:
            self._mailbox = loop

    def take(self) -> RenderedLoop | None:
        """The newest finished loop not yet taken (mixer side), or None."""
        with self._mailbox_lock:
            loop, self._mailbox = self._mailbox, None
        if loop is not None and loop.generation != self.generation:
            return None  # rendered by a model this deck has since replaced
        return loop

    # ----- model loading ------------------------------------------------------------------

    def request_load(self, path: str | Path, wait: bool) -> None:
        """Load `path` on a loader thread; the current model plays until the new one has a loop."""
        with self._load_lock:
            self._load_sequence += 1
            sequence = self._load_sequence
            thread = threading.Thread(target=self._load, args=(Path(path), sequence),
                                      name=f"ganloops-load-{self.deck}", daemon=True)
            self._loaders = [t for t in self._loaders if t.is_alive()] + [thread]
        thread.start()
        if wait:
            thread.join()

    def join_loads(self) -> None:
        for thread in list(self._loaders):
            thread.join()

    def _load(self, path: Path, sequence: int) -> None:
        lower_thread_priority(self.limits.nice)  # before the sessions exist: their pool threads inherit it
        try:
            bundle = load_bundle(path, provider=self.provider, threads=self.limits.threads)
        except Exception as e:  # BundleError and anything onnxruntime raises
            self.load_errors += 1
            self.last_error = f"deck {self.deck}: {_one_line(e)}"
            self._report(self.deck, "load", self.last_error)
            return
        self._on_loaded(self.deck, bundle)  # may set the session tempo from the first model
        controls, _ = self.board.snapshot(self.deck)
        tempo_bpm = self._tempo_fn()
        first = self._render(bundle, controls, tempo_bpm, generation=-1)
        if first is None:
            return  # a model that cannot render does not replace one that can
        with self._load_lock:
            if sequence != self._load_sequence:
                return  # a later load request superseded this one
        with self._switch_lock:
            self._switch = (bundle, first, (controls.render_key(), tempo_bpm))
        if self._thread is not None:
            self._wake.set()
        else:
            self._apply_switch()

    def _apply_switch(self) -> None:
        with self._switch_lock:
            switch, self._switch = self._switch, None
        if switch is None:
            return
        bundle, first, (render_key, tempo_bpm) = switch
        self.generation += 1
        self.bundle = bundle
        self._raw_cache = None
        self._binding = None  # the next render binds the new model (and lets the old one's buffers go)
        self._rendered_key = (self.generation, render_key, tempo_bpm)
        if first is not None:
            first.generation = self.generation
            self._post(first)

    def info(self) -> dict[str, Any]:
        b = self.bundle
        m = b.manifest if b is not None else None
        binding = self._binding  # read once: the render thread may replace it meanwhile
        return {"deck": self.deck, "model": None if b is None else str(b.path), "name": None if m is None else m.name,
                "family": None if m is None else m.family, "provider": None if b is None else b.provider,
                "io_binding": None if binding is None else binding.mode,
                "directions": [] if m is None else [d.name for d in m.directions],
                "renders": self.renders, "render_errors": self.render_errors, "load_errors": self.load_errors,
                "last_error": self.last_error}


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
