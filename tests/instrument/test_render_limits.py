"""Renders yield to playback: bounded onnxruntime threads, lowered render-thread priority, paced render starts.

The pacing test uses a fake slow deck (``synthesize_raw`` replaced by a function that
records when it starts and sleeps a little), so it checks the render thread's schedule
without depending on how fast the machine renders.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import instrument.deck as deck_module
from instrument.controls import ControlBoard, DeckControls
from instrument.deck import DeckWorker, RenderLimits, RenderSettings, lower_thread_priority
from instrument.engine import Engine, EngineConfig
from instrument.onnx_session import session_options
from tests.instrument.osc_helpers import wait_until

RATE_HZ = 4000


# Waiting for a background thread to get somewhere: a deadlock guard, not a speed check.
wait_for = partial(wait_until, timeout=30.0)


def test_engine_config_rejects_bad_render_limits() -> None:
    for field, value in (("render_threads", -1), ("render_nice", 20), ("min_render_interval_seconds", -0.1)):
        with pytest.raises(ValueError, match=field):
            EngineConfig(**{field: value}).check()


def test_session_options_bound_the_threads() -> None:
    options = session_options(2)
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1
    assert session_options(None).intra_op_num_threads == 0  # onnxruntime's default
    with pytest.raises(ValueError, match="threads"):
        session_options(0)


@pytest.mark.parametrize("threads", [1, 2])
def test_sessions_created_by_the_engine_have_the_configured_thread_count(style_bundle: Path, threads: int) -> None:
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=100, render_threads=threads), provider="cpu")
    engine.load_deck(1, style_bundle, wait=True)
    bundle = engine.workers[0].bundle
    assert bundle is not None
    for session in (bundle.synthesis_session, bundle.mapping_session):
        options = session.get_session_options()
        assert options.intra_op_num_threads == threads
        assert options.inter_op_num_threads == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_render_threads_run_at_lowered_priority(style_bundle: Path) -> None:
    start_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    wanted = max(start_nice, 10)
    engine = Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=100, render_nice=10), provider="cpu")
    engine.load_deck(1, style_bundle, wait=True)
    with engine:
        wait_for(lambda: all(w.render_thread_id is not None for w in engine.workers), "the render threads to start")
        # the priority is set first thing in the thread; a render done since proves it ran past that
        engine.set_knob(1, 1, 0.5)
        wait_for(lambda: engine.workers[0].renders >= 2, "a render on the render thread")
        for worker in engine.workers:
            tid = worker.render_thread_id
            assert tid is not None
            if worker.deck == 1:
                assert os.getpriority(os.PRIO_PROCESS, tid) == wanted
    # the caller's own priority is left alone
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == start_nice


def test_lower_thread_priority_only_lowers_the_calling_thread() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if hasattr(os, "getpriority") else 0
    result: dict[str, Any] = {}

    def body() -> None:
        result["ok"] = lower_thread_priority(max(before, 5))
        if hasattr(os, "getpriority"):
            result["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    if sys.platform.startswith("linux"):
        assert result["ok"] is True and result["nice"] == max(before, 5)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    assert lower_thread_priority(0) is False


def test_pacing_spaces_render_starts_and_renders_the_last_state(monkeypatch: pytest.MonkeyPatch) -> None:
    interval = 0.03
    starts: list[tuple[float, DeckControls]] = []

    def slow_synthesize(bundle: Any, controls: DeckControls, binding: Any = None) -> np.ndarray:
        starts.append((time.monotonic(), controls))
        time.sleep(0.005)
        return np.zeros((1, 8000), dtype=np.float32)

    monkeypatch.setattr(deck_module, "synthesize_raw", slow_synthesize)
    board = ControlBoard(1)
    manifest = SimpleNamespace(sample_rate_hz=RATE_HZ, bpm=120.0, bars=1, beats_per_bar=4)
    worker = DeckWorker(1, board, RenderSettings(RATE_HZ, 1, "stretch"), "cpu", lambda: 120.0,
                        lambda *_: None, lambda *_: None,
                        RenderLimits(threads=1, nice=0, min_interval_seconds=interval))
    worker.bundle = SimpleNamespace(manifest=manifest, path="/fake/bundle",  # type: ignore[assignment]
                                    bind=lambda: None)  # no IO binding: the stand-in synthesis ignores it
    worker.start()
    try:
        moves = 200
        for i in range(moves):
            board.set_knob(1, 1, i / moves)
            worker.wake()
            time.sleep(0.001)
        last = board.snapshot(1)[0]
        wait_for(lambda: bool(starts) and starts[-1][1].render_key() == last.render_key(), "the last state to render")
    finally:
        worker.stop()
    times = [t for t, _ in starts]
    assert len(times) < moves  # coalesced
    gaps = np.diff(times)
    assert gaps.min() >= interval
    assert starts[-1][1].knobs[0] == pytest.approx((moves - 1) / moves)
    loop = worker.take()
    assert loop is not None and loop.controls.render_key() == last.render_key()


def test_loop_correlation_uses_each_loops_cached_probe_with_the_same_result() -> None:
    from instrument.mixer import loop_correlation
    from instrument.deck import RenderedLoop

    rng = np.random.default_rng(3)
    x = rng.standard_normal((40000, 2)).astype(np.float32)
    y = (0.6 * x + 0.4 * rng.standard_normal((40000, 2))).astype(np.float32)

    def loop(frames: np.ndarray) -> RenderedLoop:
        return RenderedLoop(deck=1, frames=frames, loop_beats=4.0, bundle_path="b", controls=DeckControls(),
                            tempo_bpm=120.0, generation=0)

    a, b = loop(x), loop(y)
    step = max(1, x.shape[0] // 16384)
    xs, ys = x[::step].astype(np.float64).ravel(), y[::step].astype(np.float64).ravel()
    expected = float(min(max((xs * ys).sum() / float(np.sqrt((xs * xs).sum() * (ys * ys).sum())), 0.0), 1.0))
    assert loop_correlation(a, b) == expected  # bit for bit: journal replays depend on it
    probe = a.correlation_probe()
    assert a.correlation_probe() is probe  # computed once per loop
    assert loop_correlation(a, loop(x[:1000])) == 0.0
