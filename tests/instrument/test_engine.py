"""The engine: controls, coalescing, bar-locked crossfades, quantise, gains, limiter, failures,
hot swap, tempo, scenes and the real-time rules of the audio callback.

Most tests drive the engine offline (``render_offline``: the mixer step in the test's
thread, renders finishing at the block they are asked for), at the tiny bundles' own rate
(4000 Hz, 120 BPM, one bar = 8000 frames), so the expected output can be written down from
the rendered loop itself: with the crossfader at deck 1 and the deck's gain at 0.5, the
master at frame f is exactly ``0.5 * loop[f mod 8000]`` (the tiny style model renders
nearly full scale; at half gain even a crossfade between two of its loops stays under the
0 dBFS limiter ceiling these tests use, so the limiter leaves every sample alone).
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import time
import tracemalloc
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import instrument.deck as deck_module
from instrument.bundle import BundleError
from instrument.deck import realtime_thread_priority
from instrument.engine import Engine, EngineConfig
from instrument.journal import read_journal
from tests.instrument.osc_helpers import wait_until

RATE_HZ = 4000
LOOP_FRAMES = 8000  # one bar of 4/4 at 120 BPM
BEAT_FRAMES = 2000
BLOCK_FRAMES = 100
XFADE_FRAMES = 120  # 0.03 s at 4000 Hz
GAIN = 0.5


def make_engine(**overrides: Any) -> Engine:
    cfg: dict[str, Any] = dict(sample_rate_hz=RATE_HZ, block_frames=BLOCK_FRAMES, limiter_ceiling_db=0.0)
    cfg.update(overrides)
    return Engine(EngineConfig(**cfg), provider="cpu")


def deck1_only(bundle: Path, **overrides: Any) -> Engine:
    """An offline engine with `bundle` on deck 1, the crossfader fully on deck 1, gain 0.5."""
    engine = make_engine(**overrides)
    engine.set_crossfade(0.0)
    engine.set_gain(1, GAIN)
    engine.load_deck(1, bundle, wait=True)
    return engine


def current_loop(engine: Engine, deck: int = 1) -> np.ndarray:
    loop = engine.mixer.decks[deck - 1].current
    assert loop is not None
    return loop.frames


def max_step(signal: np.ndarray, circular: bool = False) -> float:
    """Largest sample-to-sample jump of [frames, channels] (wrapping around when `circular`)."""
    x = np.concatenate([signal, signal[:1]]) if circular else signal
    return float(np.abs(np.diff(x, axis=0)).max())


class Recorder:
    """A listener that keeps every (address, args) it is called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __call__(self, address: str, args: tuple) -> None:
        self.calls.append((address, args))

    def addresses(self) -> list[str]:
        return [a for a, _ in self.calls]


class Feeder:
    """Plays the audio callback from a thread as fast as the mixer fills the ring (faster than real time)."""

    def __init__(self, engine: Engine, frames: int = BLOCK_FRAMES) -> None:
        self.engine = engine
        self.frames = frames
        self.blocks: list[np.ndarray] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        out = np.zeros((self.frames, self.engine.config.channels), dtype=np.float32)
        while not self._stop:
            if self.engine.frames_ready() < self.frames:
                time.sleep(0.0005)
                continue
            self.engine.callback(out, self.frames)
            self.blocks.append(out.copy())

    def __enter__(self) -> "Feeder":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop = True
        self._thread.join(timeout=10)


# Waiting for a background thread to get somewhere: a deadlock guard, not a speed check.
wait_for = partial(wait_until, timeout=30.0)


# ---------------------------------------------------------------------------------------
# Controls
# ---------------------------------------------------------------------------------------

INVALID: list[tuple[str, Callable[[Engine], Any], str]] = [
    ("knob NaN", lambda e: e.set_knob(1, 1, float("nan")), "knob value"),
    ("knob past 1", lambda e: e.set_knob(1, 1, 1.5), "knob value"),
    ("knob 0", lambda e: e.set_knob(1, 0, 0.5), "knob"),
    ("knob 17", lambda e: e.set_knob(1, 17, 0.5), "knob"),
    ("deck 3", lambda e: e.set_knob(3, 1, 0.5), "deck"),
    ("deck 0", lambda e: e.set_gain(0, 0.5), "deck"),
    ("group", lambda e: e.set_mix(1, "bass", 0.5), "group"),
    ("mix below 0", lambda e: e.set_mix(1, "coarse", -0.1), "mix"),
    ("psi inf", lambda e: e.set_psi(1, float("inf")), "psi"),
    ("seed negative", lambda e: e.set_seed(1, -1), "seed"),
    ("seed float", lambda e: e.set_seed(1, 1.5), "seed"),
    ("bseed text", lambda e: e.set_bseed(1, "7"), "bseed"),
    ("noise", lambda e: e.set_noise(1, -0.5), "noise"),
    ("gain", lambda e: e.set_gain(1, 2.0), "gain"),
    ("mute 2", lambda e: e.set_mute(1, 2), "mute"),
    ("crossfade NaN", lambda e: e.set_crossfade(float("nan")), "crossfade"),
    ("tempo 0", lambda e: e.set_tempo(0.0), "tempo"),
    ("tempo text", lambda e: e.set_tempo("fast"), "tempo"),
    ("shift NaN", lambda e: e.shift_transport(float("nan")), "delta_beats"),
    ("shift past 1e6", lambda e: e.shift_transport(-2e6), "delta_beats"),
    ("shift bool", lambda e: e.shift_transport(True), "delta_beats"),
    ("shift text", lambda e: e.shift_transport("0.5"), "delta_beats"),
]


@pytest.mark.parametrize("case, call, parameter", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_control_values_raise_naming_the_parameter_and_change_nothing(
        case: str, call: Callable[[Engine], Any], parameter: str) -> None:
    engine = make_engine()
    listener = Recorder()
    engine.add_listener(listener)
    before = engine.state()
    with pytest.raises(ValueError) as raised:
        call(engine)
    message = str(raised.value)
    assert message.startswith(parameter + ":") and "\n" not in message
    assert engine.state() == before
    assert listener.calls == [] and not engine._events


@pytest.mark.parametrize("field, value", [("quantize", "half"), ("tempo_mode", "warp"), ("block_frames", 0),
                                          ("sample_rate_hz", 44100.0), ("limiter_ceiling_db", 3.0),
                                          ("crossfade_seconds", -1.0), ("tempo_bpm", float("nan"))])
def test_invalid_config_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        Engine(EngineConfig(**{field: value}))


def test_accepted_changes_are_echoed_with_osc_addresses() -> None:
    engine = make_engine()
    listener = Recorder()
    engine.add_listener(listener)
    engine.set_knob(2, 3, 0.5)
    engine.set_seed(1, 42)
    engine.set_bseed(1, 7)
    engine.set_mix(2, "fine", 0.25)
    engine.set_psi(1, 0.7)
    engine.set_gain(2, 0.8)
    engine.set_mute(1, True)
    engine.set_crossfade(0.9)
    engine.set_tempo(128.0)
    assert listener.calls == [
        ("/ganloops/deck/2/knob/3", (0.5,)), ("/ganloops/deck/1/seed", (42,)), ("/ganloops/deck/1/bseed", (7,)),
        ("/ganloops/deck/2/mix/fine", (0.25,)), ("/ganloops/deck/1/psi", (0.7,)), ("/ganloops/deck/2/gain", (0.8,)),
        ("/ganloops/deck/1/mute", (1,)), ("/ganloops/crossfade", (0.9,)), ("/ganloops/tempo", (128.0,))]
    # every echoed address is one the engine accepts back (OSC round trip)
    other = make_engine()
    for address, args in listener.calls:
        other.apply_address(address, args)
    assert other.state() == engine.state()


def test_state_round_trips_and_a_bad_state_changes_nothing() -> None:
    engine = make_engine()
    engine.set_knob(1, 2, -0.4)
    engine.set_mix(2, "middle", 0.6)
    engine.set_seed(2, 11)
    engine.set_gain(1, 0.3)
    engine.set_crossfade(0.1)
    engine.set_tempo(99.0)
    other = make_engine()
    other.apply_state(engine.state())
    assert other.state() == engine.state()
    bad = engine.state()
    bad["decks"][1]["knobs"][0] = 2.0
    bad["crossfade"] = 0.7
    before = other.state()
    with pytest.raises(ValueError, match=r"^state\.decks\[2\]\.knobs\[1\]:"):
        other.apply_state(bad)
    assert other.state() == before


# ---------------------------------------------------------------------------------------
# Rendering: coalescing, crossfades on the bar grid, quantise
# ---------------------------------------------------------------------------------------


def test_knob_moves_during_a_slow_render_coalesce_to_the_newest_state(style_bundle: Path) -> None:
    engine = deck1_only(style_bundle)
    bundle = engine.workers[0].bundle
    assert bundle is not None
    real_bind = bundle.bind
    calls: list[np.ndarray] = []

    def slow_bind(mode: str | None = None) -> Any:  # the render thread synthesizes through its IO binding
        binding = real_bind(mode)
        real_synthesize = binding.synthesize

        def slow_synthesize(ws: np.ndarray) -> np.ndarray:
            calls.append(np.array(ws))
            time.sleep(0.2)
            return real_synthesize(ws)

        binding.synthesize = slow_synthesize  # type: ignore[method-assign]
        return binding

    bundle.bind = slow_bind  # type: ignore[method-assign]
    moves = np.linspace(-1.0, 0.37, 60)
    with engine, Feeder(engine):
        for value in moves:
            engine.set_knob(1, 1, float(value))
            time.sleep(0.002)
        wait_for(lambda: engine.mixer.decks[0].current.controls.knobs[0] == 0.37,  # type: ignore[union-attr]
                 "the last knob position to play")
    assert 1 <= len(calls) <= 4, f"{len(calls)} renders for {len(moves)} knob moves"
    assert engine.stats.renders == 1 + len(calls)  # the load's first render, then the coalesced ones


def test_a_new_render_crossfades_in_click_free_at_the_same_bar_phase(style_bundle: Path) -> None:
    engine = deck1_only(style_bundle)
    before = engine.render_offline(3000)
    old = current_loop(engine)
    frames = np.arange(1000, 3000)
    assert np.array_equal(before[1000:], old[frames % LOOP_FRAMES] * GAIN)  # phase-locked from frame 0
    engine.set_seed(1, 7)
    after = engine.render_offline(6000)  # the swap starts at frame 3000 (quantize "none": this block)
    new = current_loop(engine)
    assert not np.array_equal(new, old)
    # after the crossfade: the new loop at the same position in the bar as the old one was
    tail = np.arange(3000 + XFADE_FRAMES, 9000)
    assert np.array_equal(after[tail - 3000], new[tail % LOOP_FRAMES] * GAIN)
    # during it: equal-power blend of the two, both read at the transport's bar phase, with the
    # power kept constant for however alike the two loops are
    fade = np.arange(3000, 3000 + XFADE_FRAMES)
    t = (fade - 3000) / XFADE_FRAMES
    g_in, g_out = np.sin(t * math.pi / 2), np.cos(t * math.pi / 2)
    r = float((old.astype(np.float64) * new).sum() / np.sqrt((old.astype(np.float64) ** 2).sum() * (new ** 2).sum()))
    expected = ((new[fade % LOOP_FRAMES] * g_in[:, None] + old[fade % LOOP_FRAMES] * g_out[:, None])
                / np.sqrt(1 + 2 * max(r, 0.0) * g_in * g_out)[:, None])
    np.testing.assert_allclose(after[:XFADE_FRAMES], expected * GAIN, atol=1e-5)
    # click-free: no jump around the swap bigger than the loops have inside themselves
    around = np.concatenate([before[-200:], after[:XFADE_FRAMES + 200]])
    assert max_step(around) <= max(max_step(old, circular=True), max_step(new, circular=True)) + 1e-6


def test_a_render_of_the_same_sound_crossfades_without_a_bulge(style_bundle: Path) -> None:
    """Knob 16 is beyond the model's directions: the new render is the same loop, and swapping
    it in must leave the output as it was (plain equal power would bulge by 3 dB mid-fade)."""
    engine, reference = deck1_only(style_bundle), deck1_only(style_bundle)
    engine.render_offline(3000)
    reference.render_offline(3000)
    engine.set_knob(1, 16, 0.9)
    out = engine.render_offline(1000)
    assert engine.stats.swaps == 2 and engine.mixer.decks[0].fade_correlation == 1.0
    np.testing.assert_allclose(out, reference.render_offline(1000), atol=1e-6)


@pytest.mark.parametrize("quantize, unit_frames", [("beat", BEAT_FRAMES), ("bar", LOOP_FRAMES)])
def test_quantised_swaps_wait_for_the_next_beat_or_bar(style_bundle: Path, tmp_path: Path,
                                                       quantize: str, unit_frames: int) -> None:
    engine = deck1_only(style_bundle, quantize=quantize)
    engine.render_offline(2500)
    old = current_loop(engine)
    engine.record_journal(tmp_path / "j.jsonl")
    engine.set_seed(1, 3)
    out = engine.render_offline(unit_frames * 2)
    engine.stop_journal()
    swaps = [e.frame for e in read_journal(tmp_path / "j.jsonl").events if e.kind == "swap"]
    boundary = math.ceil(2500 / unit_frames) * unit_frames
    assert swaps == [boundary]
    waited = np.arange(2500, boundary)
    assert np.array_equal(out[waited - 2500], old[waited % LOOP_FRAMES] * GAIN)  # the old loop plays on until then


# ---------------------------------------------------------------------------------------
# Gains, mute, crossfader, limiter, channels
# ---------------------------------------------------------------------------------------


def test_gain_and_mute_are_smoothed_and_exact_once_settled(style_bundle: Path) -> None:
    engine = deck1_only(style_bundle)
    engine.render_offline(2000)
    loop = current_loop(engine)
    engine.set_gain(1, 0.25)
    out = engine.render_offline(2000)
    frames = np.arange(2000, 4000)
    np.testing.assert_allclose(out[100:], loop[frames[100:] % LOOP_FRAMES] * 0.25, atol=1e-7)
    assert max_step(out[:100]) <= max_step(loop, circular=True)  # the ramp does not click
    engine.set_mute(1, True)
    muted = engine.render_offline(2000)
    assert np.all(muted[100:] == 0.0)
    assert max_step(muted[:100]) <= max_step(loop, circular=True)
    engine.set_mute(1, False)
    back = engine.render_offline(2000)
    frames = np.arange(6000, 8000)
    np.testing.assert_allclose(back[100:], loop[frames[100:] % LOOP_FRAMES] * 0.25, atol=1e-7)


@pytest.mark.parametrize("position", [0.0, 0.3, 0.5, 1.0])
def test_crossfader_is_equal_power(style_bundle: Path, position: float) -> None:
    engine = make_engine()
    engine.set_mute(2, True)  # deck 2 alone would sum with deck 1 past the ceiling
    engine.load_deck(1, style_bundle, wait=True)
    engine.load_deck(2, style_bundle, wait=True)
    engine.set_crossfade(position)
    engine.render_offline(2000)
    g1, g2 = engine.mixer.crossfader_gain(1), engine.mixer.crossfader_gain(2)
    assert g1 ** 2 + g2 ** 2 == pytest.approx(1.0, abs=1e-12)
    assert g1 == pytest.approx(math.cos(position * math.pi / 2), abs=1e-12)
    out = engine.render_offline(1000)
    loop = current_loop(engine)
    frames = np.arange(2000, 3000)
    np.testing.assert_allclose(out, loop[frames % LOOP_FRAMES] * g1, atol=1e-6)


def test_limiter_keeps_the_master_under_its_ceiling(style_bundle: Path) -> None:
    engine = make_engine(limiter_ceiling_db=-6.0)
    engine.load_deck(1, style_bundle, wait=True)
    engine.load_deck(2, style_bundle, wait=True)
    engine.set_crossfade(0.5)
    out = engine.render_offline(3 * LOOP_FRAMES)
    ceiling = 10 ** (-6.0 / 20)
    unlimited_peak = float(np.abs(current_loop(engine)).max()) * 2 * math.cos(math.pi / 4)
    assert unlimited_peak > ceiling * 1.2  # the test only means something if the limiter has work
    assert float(np.abs(out).max()) <= ceiling


def test_the_recorder_sink_gets_every_master_block(style_bundle: Path) -> None:
    engine = deck1_only(style_bundle)
    written: list[np.ndarray] = []

    class Sink:
        def write(self, block: np.ndarray) -> None:
            written.append(np.array(block))

    engine.set_recorder(Sink())
    out = engine.render_offline(1050)
    recorded = np.concatenate(written)
    assert recorded.shape[0] == 1100  # whole blocks, as the mixer makes them
    assert np.array_equal(recorded[:1050], out)
    engine.set_recorder(None)
    engine.render_offline(500)
    assert sum(b.shape[0] for b in written) == 1100


def test_a_mono_model_plays_on_every_output_channel(wavegan_bundle: Path) -> None:
    engine = deck1_only(wavegan_bundle)
    out = engine.render_offline(4000)
    assert np.abs(out).max() > 0.01
    assert np.array_equal(out[:, 0], out[:, 1])


def test_a_model_at_another_rate_and_tempo_is_adapted_to_the_session(style_bundle: Path) -> None:
    engine = Engine(EngineConfig(sample_rate_hz=48000, tempo_bpm=150.0, block_frames=256), provider="cpu")
    engine.load_deck(1, style_bundle, wait=True)
    engine.render_offline(256)
    assert current_loop(engine).shape == (int(round(2.0 * 48000 * 120 / 150)), 2)  # one bar at 150 BPM
    assert engine.transport.tempo_bpm == 150.0


# ---------------------------------------------------------------------------------------
# Failures and hot swap
# ---------------------------------------------------------------------------------------


def test_a_render_that_raises_is_counted_and_the_old_loop_plays_on(style_bundle: Path) -> None:
    engine = deck1_only(style_bundle)
    listener = Recorder()
    engine.add_listener(listener)
    engine.render_offline(2000)
    old = current_loop(engine)
    bundle = engine.workers[0].bundle
    assert bundle is not None

    def broken(ws: np.ndarray) -> np.ndarray:
        raise RuntimeError("onnxruntime exploded")

    real_bind = bundle.bind

    def broken_bind(mode: str | None = None) -> Any:  # the deck renders through an IO binding
        binding = real_bind(mode)
        binding.synthesize = broken  # type: ignore[method-assign]
        return binding

    bundle.synthesize = broken  # type: ignore[method-assign]
    bundle.bind = broken_bind  # type: ignore[method-assign]
    engine.workers[0]._binding = None
    engine.set_seed(1, 5)
    out = engine.render_offline(6000)
    frames = np.arange(2000, 8000)
    assert np.array_equal(out, old[frames % LOOP_FRAMES] * GAIN)
    assert engine.stats.render_errors == 1
    errors = [args for address, args in listener.calls if address == "/ganloops/deck/1/error"]
    assert len(errors) == 1 and "onnxruntime exploded" in errors[0][0]


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_hot_swap_to_a_broken_bundle_changes_nothing(style_bundle: Path, wavegan_bundle: Path,
                                                     tmp_path: Path, damage: str) -> None:
    broken = tmp_path / "broken"
    if damage == "truncated":
        shutil.copytree(style_bundle, broken)
        data = (broken / "synthesis.onnx").read_bytes()
        (broken / "synthesis.onnx").write_bytes(data[: len(data) // 2])
    reference, engine = deck1_only(wavegan_bundle), deck1_only(wavegan_bundle)
    listener = Recorder()
    engine.add_listener(listener)
    reference.render_offline(1000)
    engine.render_offline(1000)
    engine.load_deck(1, broken)  # on the loader thread; render_offline waits for it
    assert np.array_equal(engine.render_offline(4000), reference.render_offline(4000))
    stats = engine.stats
    assert stats.load_errors == 1 and stats.decks[0]["model"] == str(wavegan_bundle)
    errors = [args[0] for address, args in listener.calls if address == "/ganloops/deck/1/error"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert ("synthesis.onnx" if damage == "truncated" else "broken") in errors[0]
    with pytest.raises(BundleError, match="broken"):
        engine.load_deck(1, broken, wait=True)


def test_hot_swap_keeps_the_old_model_until_the_new_one_has_rendered(
        style_bundle: Path, wavegan_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = deck1_only(wavegan_bundle)
    listener = Recorder()
    engine.add_listener(listener)
    released = threading.Event()
    real_load = deck_module.load_bundle

    def slow_load(path: Any, provider: str = "auto", **options: Any) -> Any:
        released.wait(30)
        return real_load(path, provider=provider, **options)

    monkeypatch.setattr(deck_module, "load_bundle", slow_load)
    with engine, Feeder(engine) as feeder:
        engine.load_deck(1, style_bundle)
        wait_for(lambda: len(feeder.blocks) > 50, "the old model to keep playing")
        assert Path(engine.mixer.decks[0].current.bundle_path) == wavegan_bundle.resolve()  # type: ignore[union-attr]
        released.set()
        wait_for(lambda: Path(engine.mixer.decks[0].current.bundle_path) == style_bundle.resolve(),  # type: ignore[union-attr]
                 "the new model to play")
    assert ("/ganloops/deck/1/model", (str(style_bundle.resolve()),)) in listener.calls
    assert engine.stats.underruns == 0


# ---------------------------------------------------------------------------------------
# Tempo
# ---------------------------------------------------------------------------------------


def test_a_tempo_change_keeps_the_bar_grid_and_swaps_in_the_readapted_loop_in_phase(style_bundle: Path) -> None:
    engine = deck1_only(style_bundle, tempo_mode="varispeed")
    engine.render_offline(3000)  # 1.5 beats
    assert engine.transport.beats_at(3000) == pytest.approx(1.5)
    old = current_loop(engine)
    engine.set_tempo(150.0)
    out = engine.render_offline(9000)
    t = engine.transport
    assert (t.anchor_frame, t.anchor_beats, t.tempo_bpm) == (3000, pytest.approx(1.5), 150.0)
    # the position in beats is continuous: 2.5 beats after the change at 150 BPM is frame 3000 + 2.5 * 1600
    assert t.next_boundary_frame(3001, 4.0) == 7000
    assert engine.transport.position(7000).bar == 1 and engine.transport.position(7000).beat == 0
    new = current_loop(engine)
    assert new.shape[0] == 6400  # one bar at 150 BPM
    frames = np.arange(3000 + XFADE_FRAMES, 12000)
    index = (2400 + (frames - 3000)) % 6400  # 1.5 beats of 1600 frames: the bar phase carried across the change
    assert np.array_equal(out[frames - 3000], new[index] * GAIN)
    # until the re-adapted loop is in, the old one is read faster along the grid, without clicks
    old_step = max_step(old, circular=True)
    assert max_step(out[:XFADE_FRAMES + 100]) <= max(old_step, max_step(new, circular=True)) * GAIN + 1e-6


def test_a_transport_shift_moves_the_bar_phase_by_exactly_delta_at_the_next_block_boundary(
        style_bundle: Path) -> None:
    engine = deck1_only(style_bundle)
    first = engine.render_offline(3050)  # 30.5 blocks: the block [3000, 3100) is half handed out
    loop = current_loop(engine)
    listener = Recorder()
    engine.add_listener(listener)
    renders = sum(w.renders for w in engine.workers)
    engine.shift_transport(0.25)  # a quarter beat: 500 frames at 120 BPM and 4000 Hz
    assert engine.shifts_pending == 1
    assert engine.transport.beats_at(3000) == 1.5  # queued, not applied yet
    out = engine.render_offline(4950)  # frames 3050 .. 8000
    t = engine.transport
    assert engine.shifts_pending == 0
    assert (t.anchor_frame, t.anchor_beats, t.tempo_bpm) == (3100, pytest.approx(1.8), 120.0)
    assert t.beats_at(3100) - 3100 * t.beats_per_frame == 0.25  # exactly delta, from the block start on
    # before the block boundary the loop plays where it was; from it on, 500 frames further along
    assert np.array_equal(first[3000:], loop[3000:3050] * GAIN)
    assert np.array_equal(out[:50], loop[3050:3100] * GAIN)
    frames = np.arange(3100, 8000)
    assert np.array_equal(out[frames - 3050], loop[(frames + 500) % LOOP_FRAMES] * GAIN)
    assert t.position(7500).bar == 1 and t.position(7500).beat == 0  # the bar line moved 500 frames earlier
    # not a control: nobody is told, nothing re-renders
    assert listener.calls == [] and sum(w.renders for w in engine.workers) == renders


# ---------------------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------------------


def test_morph_glides_continuous_controls_and_switches_seeds_at_the_end() -> None:
    engine = make_engine()
    target = engine.state()
    target["decks"][0]["knobs"][0] = 1.0
    target["decks"][0]["seed"] = 9
    target["decks"][1]["gain"] = 0.5
    target["crossfade"] = 1.0
    engine.morph_to(target, beats=4)  # 4 beats = 8000 frames at 120 BPM
    engine.render_offline(4000)
    halfway = engine.state()
    assert 0.4 < halfway["decks"][0]["knobs"][0] < 0.6
    assert 0.7 < halfway["decks"][1]["gain"] < 0.8
    assert halfway["decks"][0]["seed"] == 0
    engine.render_offline(4200)
    assert engine.state() == target


# ---------------------------------------------------------------------------------------
# The audio callback
# ---------------------------------------------------------------------------------------


def test_the_callback_allocates_nothing(style_bundle: Path) -> None:
    engine = make_engine(block_frames=64)
    engine.load_deck(1, style_bundle, wait=True)
    block = engine.render_offline(64)
    out = np.zeros((64, 2), dtype=np.float32)
    engine.ring.write(block)
    engine.callback(out, 64)  # warm up
    engine_files = [tracemalloc.Filter(True, "*instrument/engine.py"),
                    tracemalloc.Filter(True, "*instrument/ringbuffer.py")]

    def traced_bytes() -> int:
        snapshot = tracemalloc.take_snapshot().filter_traces(engine_files)
        return sum(stat.size for stat in snapshot.statistics("filename"))

    tracemalloc.start()
    try:
        start = traced_bytes()
        for _ in range(3000):
            engine.ring.write(block)
            engine.callback(out, 64)
        for _ in range(1000):
            engine.callback(out, 64)  # underruns take the other path
        growth = traced_bytes() - start
    finally:
        tracemalloc.stop()
    assert engine.stats.underruns == 1000
    assert growth < 512, f"the callback left {growth} bytes allocated after 4000 calls"


def test_a_device_asking_for_more_than_ahead_blocks_is_served(style_bundle: Path) -> None:
    """Some hosts call back with variable, larger chunks: the mixer keeps that much ready."""
    engine = make_engine(block_frames=64, ahead_blocks=2)
    engine.load_deck(1, style_bundle, wait=True)
    out = np.zeros((1000, 2), dtype=np.float32)
    with engine:
        wait_for(lambda: engine.frames_ready() >= 128, "two blocks ready")
        engine.callback(out, 1000)  # the first big request finds two blocks: an underrun
        for _ in range(10):
            wait_for(lambda: engine.frames_ready() >= 1000, "1000 frames ready")
            engine.callback(out, 1000)
        time.sleep(0.05)
        assert engine.frames_ready() < 1024 + 64  # ready, not hoarding: the latency stays what the device needs
    assert engine.latency_frames == 1024
    assert engine.stats.underruns == 1


def test_the_callback_never_blocks_when_the_mixer_thread_stalls(style_bundle: Path) -> None:
    engine = make_engine(block_frames=64)
    engine.load_deck(1, style_bundle, wait=True)
    gate = threading.Event()
    real_produce = engine._produce_block

    def stalled(offers: Any) -> np.ndarray:
        gate.wait(30)
        return real_produce(offers)

    engine._produce_block = stalled  # type: ignore[method-assign]
    engine.start()
    out = np.ones((64, 2), dtype=np.float32)
    caller = threading.Thread(target=lambda: [engine.callback(out, 64) for _ in range(500)], daemon=True)
    try:
        caller.start()
        caller.join(timeout=20)
        assert not caller.is_alive(), "the callback blocked on the stalled mixer"
        assert engine.stats.underruns == 500 and not out.any()
    finally:
        gate.set()
        engine.stop()


def test_the_mixer_thread_runs_realtime_where_allowed_and_says_how_it_runs(style_bundle: Path) -> None:
    """SCHED_RR for the thread that refills the ring (root on the CI machine may; elsewhere it says why not)."""
    engine = Engine(EngineConfig(sample_rate_hz=8000, block_frames=64, channels=2, decks=1))
    engine.load_deck(1, style_bundle, wait=True)
    engine.start()
    try:
        deadline = time.monotonic() + 10
        while engine.stats.mixer_scheduling == "not started" and time.monotonic() < deadline:
            time.sleep(0.01)
        scheduling = engine.stats.mixer_scheduling
        mixer = engine._mixer_thread
        assert mixer is not None
        policy = os.sched_getscheduler(mixer.native_id)
    finally:
        engine.stop()
    if scheduling.startswith("normal"):
        assert "refused" in scheduling and policy == os.SCHED_OTHER
    else:
        assert scheduling == "SCHED_RR 10" and policy == os.SCHED_RR
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # only that thread, not the process


def test_a_mixer_left_normal_says_so() -> None:
    assert realtime_thread_priority(0) == "normal (realtime priority not asked for)"
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
