"""`ganloops bounce`: exact lengths, seamless loops, loudness, bit depths, atomic writes, and the
engine-backed morph and replay.

The bundle here is a hand-made one (onnx.helper) whose loops are sums of sines with whole
cycles per loop, shaped by w: smooth and periodic, so a step at a seam or a bar line shows
up plainly (on a GAN's noise-like output it would hide in the noise). The engine-backed
modes also run on the tiny exported GAN bundle from conftest.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from onnx import TensorProto, helper, numpy_helper

from instrument import bounce, dsp
from instrument.bounce import Segment, assemble, bounce_main
from instrument.bundle import load_bundle
from instrument.cli import main as ganloops
from instrument.controls import DeckControls
from instrument.deck import RenderSettings, render_loop

SR, BPM, CHANNELS, BEATS_PER_BAR = 4000, 120.0, 2, 4
LOOP_SAMPLES = 8000  # 1 bar of 4/4 at 120 BPM and 4000 Hz
Z_DIM, W_DIM = 4, 3
CYCLES = [(200, 270), (330, 150), (444, 390)]  # per w component: cycles per loop, left and right


def _graph(nodes: list, inputs: list, outputs: list, inits: list) -> bytes:
    model = helper.make_model(helper.make_graph(nodes, "sines", inputs, outputs, initializer=inits),
                              opset_imports=[helper.make_opsetid("", 17)], producer_name="ganloops-tests")
    model.ir_version = 8
    return model.SerializeToString()


def _io(name: str, shape: list[Any]) -> dict[str, Any]:
    return {"name": name, "shape": shape, "dtype": "float32"}


def write_sine_bundle(path: Path) -> Path:
    """A valid bundle: w = z @ A; audio = tanh(w @ B), B's rows whole-cycle sines (smooth, periodic)."""
    rng = np.random.default_rng(5)
    a = (0.5 * rng.standard_normal((Z_DIM, W_DIM))).astype(np.float32)
    t = np.arange(LOOP_SAMPLES) / LOOP_SAMPLES
    b = np.stack([np.concatenate([0.3 * np.sin(2 * np.pi * left * t + j), 0.3 * np.sin(2 * np.pi * right * t + 2 * j)])
                  for j, (left, right) in enumerate(CYCLES)]).astype(np.float32)
    path.mkdir(parents=True)
    (path / "mapping.onnx").write_bytes(_graph(
        [helper.make_node("MatMul", ["z", "A"], ["w"])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", Z_DIM])],
        [helper.make_tensor_value_info("w", TensorProto.FLOAT, ["batch", W_DIM])],
        [numpy_helper.from_array(a, "A")]))
    (path / "synthesis.onnx").write_bytes(_graph(
        [helper.make_node("ReduceMean", ["ws"], ["w"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["w", "B"], ["flat"]),
         helper.make_node("Reshape", ["flat", "shape"], ["shaped"]),
         helper.make_node("Tanh", ["shaped"], ["audio"])],
        [helper.make_tensor_value_info("ws", TensorProto.FLOAT, ["batch", 1, W_DIM])],
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", CHANNELS, LOOP_SAMPLES])],
        [numpy_helper.from_array(b, "B"),
         numpy_helper.from_array(np.array([-1, CHANNELS, LOOP_SAMPLES], dtype=np.int64), "shape")]))
    z = np.stack([np.random.default_rng(s).standard_normal(Z_DIM).astype(np.float32) for s in (0, 1)])
    w = (z @ a).astype(np.float32)
    ws = w[:, None, :]
    audio = np.tanh(ws.mean(axis=1) @ b).reshape(-1, CHANNELS, LOOP_SAMPLES).astype(np.float32)
    np.savez(path / "parity_reference.npz", z=z, w=w, ws=ws, audio=audio)
    graphs = {
        "mapping": {"file": "mapping.onnx", "opset": 17, "precision": "float32",
                    "inputs": [_io("z", ["batch", Z_DIM])], "outputs": [_io("w", ["batch", W_DIM])]},
        "synthesis": {"file": "synthesis.onnx", "opset": 17, "precision": "float32",
                      "inputs": [_io("ws", ["batch", 1, W_DIM])],
                      "outputs": [_io("audio", ["batch", CHANNELS, LOOP_SAMPLES])]},
    }
    for entry in graphs.values():
        entry["sha256"] = hashlib.sha256((path / str(entry["file"])).read_bytes()).hexdigest()
    manifest = {
        "format": "ganloops-bundle", "format_version": 1, "name": "sines", "family": "test",
        "sample_rate_hz": SR, "channels": CHANNELS, "bpm": BPM, "beats_per_bar": BEATS_PER_BAR, "bars": 1,
        "loop_samples": LOOP_SAMPLES, "z_dim": Z_DIM, "w_dim": W_DIM, "num_ws": 1,
        "layer_groups": {"coarse": [0], "middle": [0], "fine": [0]}, "w_avg": [0.0, 0.0, 0.0], "directions": [],
        "graphs": graphs, "provenance": {},
        "parity": {"reference": "parity_reference.npz", "seeds": [0, 1], "provider": "CPUExecutionProvider",
                   "deterministic": True, "graphs": {"mapping": {"max_abs_error": 0.0, "bound": 1e-4},
                                                     "synthesis": {"max_abs_error": 0.0, "bound": 1e-4}}},
    }
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return path


@pytest.fixture(scope="module")
def sines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sine_bundle(tmp_path_factory.mktemp("bounce") / "sines")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = bounce_main(argv + ["--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read(path: Path) -> np.ndarray:
    audio, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return audio


def bars_frames(bars: float, sample_rate_hz: int = SR, tempo_bpm: float = BPM) -> int:
    return int(round(bars * BEATS_PER_BAR * 60 * sample_rate_hz / tempo_bpm))


def seam_jump(audio: np.ndarray) -> float:
    return float(np.abs(audio[0] - audio[-1]).max())


def interior_jump(audio: np.ndarray) -> float:
    return float(np.abs(np.diff(audio, axis=0)).max())


# ---------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate, tempo, mode", [(None, None, "stretch"), (8000, 100.0, "stretch"),
                                               (8000, 137.0, "varispeed"), (11025, 93.0, "stretch")])
def test_seed_files_are_exactly_n_bars_and_loop_seamlessly(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            rate: int | None, tempo: float | None, mode: str) -> None:
    out = tmp_path / "loop.wav"
    argv = [str(sines), "--seeds", "0,3", "--bars", "2", "-o", str(out), "--bit-depth", "float", "--tempo-mode", mode]
    argv += ["--sample-rate", str(rate)] if rate else []
    argv += ["--tempo", str(tempo)] if tempo else []
    code, stdout, stderr = run(argv, capsys)
    assert code == 0, stderr
    for seed in (0, 3):
        path = tmp_path / f"loop-seed{seed}.wav"
        assert str(path) in stdout
        audio = read(path)
        assert audio.shape == (bars_frames(2, rate or SR, tempo or BPM), CHANNELS)
        assert sf.info(str(path)).samplerate == (rate or SR)
        assert seam_jump(audio) <= 1.05 * interior_jump(audio)


def test_a_bounced_seed_is_the_loop_the_decks_play(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "one.wav"
    code, _, stderr = run([str(sines), "--seeds", "7", "-o", str(out), "--bit-depth", "float", "--ceiling", "0"], capsys)
    assert code == 0, stderr
    live = render_loop(load_bundle(sines), DeckControls(seed=7), BPM, RenderSettings(SR, CHANNELS, "stretch"))
    np.testing.assert_allclose(read(out), live, atol=1e-6)


def test_seed_bars_must_be_whole_loops(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle_dir = tmp_path / "two-bar"
    write_sine_bundle(bundle_dir)
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest.update(bars=2, bpm=240.0)  # the same 8000 samples read as 2 bars at 240 BPM
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))
    code, _, stderr = run([str(bundle_dir), "--seeds", "0", "--bars", "3", "-o", str(tmp_path / "x.wav")], capsys)
    assert code == 1 and "--bars 3" in stderr and "multiple of 2" in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def test_concatenated_seeds_are_exact_seamless_and_click_free(sines: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set.flac"
    code, _, stderr = run([str(sines), "--seeds", "0-2", "--concat", "--bars", "1", "-o", str(out), "--tempo", "110"],
                          capsys)
    assert code == 0, stderr
    audio = read(out)
    assert audio.shape == (bars_frames(3, SR, 110.0), CHANNELS)
    bundle = load_bundle(sines)
    loops = [render_loop(bundle, DeckControls(seed=s), 110.0, RenderSettings(SR, CHANNELS, "stretch")) for s in range(3)]
    steepest = max(interior_jump(np.concatenate([loop, loop[:1]])) for loop in loops)
    assert interior_jump(audio) <= 1.1 * steepest  # no step where one seed meets the next
    assert seam_jump(audio) <= 1.1 * steepest


# ---------------------------------------------------------------------------------------
# Walk
# ---------------------------------------------------------------------------------------


def test_walk_is_exactly_n_bars_smooth_seamless_and_moves(sines: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "walk.wav"
    code, stdout, stderr = run([str(sines), "--walk", "8", "--points", "3", "-o", str(out), "--bit-depth", "float",
                                "--tempo", "125"], capsys)
    assert code == 0, stderr
    audio = read(out)
    bar = BEATS_PER_BAR * 60 * SR / 125.0
    assert audio.shape == (bars_frames(8, SR, 125.0), CHANNELS)
    steepest_bar = max(interior_jump(audio[int(i * bar) + 200:int((i + 1) * bar) - 200]) for i in range(8))
    assert interior_jump(audio) <= 1.2 * steepest_bar  # bar lines are no steeper than inside bars
    assert seam_jump(audio) <= 1.2 * steepest_bar
    first, fifth = audio[:int(bar)], audio[int(4 * bar):int(5 * bar)]
    assert np.sqrt(np.mean((first - fifth) ** 2)) > 0.1 * np.sqrt(np.mean(first ** 2))  # it goes somewhere
    png = tmp_path / "walk.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in stdout


def test_walk_without_matplotlib_still_writes_the_audio_and_says_why_no_plot(
        sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    out = tmp_path / "walk.wav"
    code, stdout, stderr = run([str(sines), "--walk", "4", "-o", str(out)], capsys)
    assert code == 0
    assert read(out).shape == (bars_frames(4), CHANNELS)
    assert not (tmp_path / "walk.png").exists()
    notes = stderr.strip().splitlines()
    assert len(notes) == 1 and "ganloops[train]" in notes[0] and "walk.png" in notes[0]


# ---------------------------------------------------------------------------------------
# Joining, loudness, formats, atomic writes
# ---------------------------------------------------------------------------------------


def test_joining_a_loop_with_itself_gives_the_loop_and_unrelated_loops_keep_their_power() -> None:
    n = 1000
    loop = np.stack([np.sin(2 * np.pi * 7 * np.arange(n) / n)] * 2, axis=1).astype(np.float32)
    same = assemble([Segment(loop, 0, 1500, 0), Segment(loop, 1500, 3000, 500)], 3000, 2, 200)
    np.testing.assert_allclose(same, np.tile(loop, (3, 1)), atol=1e-5)  # no swell at the joins
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((4000, 1)).astype(np.float32) for _ in range(2))
    joined = assemble([Segment(a, 0, 2000), Segment(b, 2000, 4000)], 4000, 1, 400)
    power_db = 10 * np.log10(np.mean(joined[1800:2200] ** 2))
    assert abs(power_db) < 1.0  # no dip (linear fade) and no swell across the fade


def test_loudness_target_is_met_without_clipping(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for target in (-30.0, -12.0):
        out = tmp_path / f"loud{int(-target)}.wav"
        code, _, stderr = run([str(sines), "--seeds", "1", "--bars", "4", "-o", str(out), "--lufs", str(target),
                               "--bit-depth", "float"], capsys)
        assert code == 0 and stderr == ""
        audio = read(out)
        assert dsp.integrated_loudness_lufs(audio, SR) == pytest.approx(target, abs=0.5)
        assert np.abs(audio).max() <= 10 ** (-1.0 / 20) + 1e-6
        assert seam_jump(audio) <= 1.05 * interior_jump(audio)  # the circular limiter leaves no seam


def test_an_unreachable_loudness_is_limited_and_said(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hot.wav"
    code, _, stderr = run([str(sines), "--seeds", "1", "-o", str(out), "--lufs", "-1", "--ceiling", "-9",
                           "--bit-depth", "float"], capsys)
    assert code == 0 and "ceiling limits it" in stderr and len(stderr.strip().splitlines()) == 1
    audio = read(out)
    assert np.abs(audio).max() <= 10 ** (-9 / 20) + 1e-6
    assert seam_jump(audio) <= 1.05 * interior_jump(audio)  # limiting hard, and circularly: no seam


def test_circular_limiting_equals_limiting_the_endless_repetition() -> None:
    # What looping the file plays: the loop repeated forever, through the limiter. One period
    # of that (after the first) is what the circular limiter must write.
    n = 3000
    t = np.arange(n) / n
    loop = np.stack([1.5 * np.sin(2 * np.pi * 3 * t) ** 9 + 0.3 * np.sin(2 * np.pi * 40 * t)] * 2, axis=1)
    loop[2990] = 2.5  # a peak just before the seam: its release carries over into the start
    circular = bounce.limit(loop, -3.0, SR, circular=True)
    endless = bounce.limit(np.tile(loop, (3, 1)), -3.0, SR, circular=False)[n:2 * n]
    np.testing.assert_allclose(circular, endless, atol=1e-5)
    assert np.abs(circular).max() <= 10 ** (-3 / 20) + 1e-7


@pytest.mark.parametrize("name, depth, subtype", [("a.wav", "16", "PCM_16"), ("b.wav", "24", "PCM_24"),
                                                  ("c.wav", "float", "FLOAT"), ("d.flac", "16", "PCM_16"),
                                                  ("e.flac", "24", "PCM_24")])
def test_bit_depths_and_formats(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, depth: str,
                                subtype: str) -> None:
    out = tmp_path / name
    code, _, stderr = run([str(sines), "--seeds", "2", "-o", str(out), "--bit-depth", depth], capsys)
    assert code == 0, stderr
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.frames) == (Path(name).suffix[1:].upper(), subtype, LOOP_SAMPLES)
    quantum = {"16": 2 ** -14, "24": 2 ** -22, "float": 1e-7}[depth]
    reference = bounce.finish(render_loop(load_bundle(sines), DeckControls(seed=2), BPM,
                                          RenderSettings(SR, CHANNELS, "stretch")), SR, bounce.OutputSettings(), True)[0]
    np.testing.assert_allclose(read(out), reference, atol=quantum)


@pytest.mark.parametrize("argv_tail, message", [
    (["-o", "x.flac", "--bit-depth", "float"], "FLAC holds 16 or 24 bit"),
    (["-o", "x.mp3"], "must end in .wav or .flac"),
    (["-o", "missing/x.wav"], "does not exist"),
    (["-o", "x.wav", "--tempo", "1000"], "--tempo: expected 20..400"),
    (["-o", "x.wav", "--lufs", "3"], "--lufs"),
])
def test_bad_options_fail_with_one_line(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch, argv_tail: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run([str(sines), "--seeds", "0"] + argv_tail, capsys)
    assert code == 1 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not [p for p in tmp_path.iterdir()]


def test_missing_bundles_fail_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounce, "DEFAULT_MODEL_DIR", tmp_path / "no-default")
    code, _, stderr = run(["--seeds", "0", "-o", str(tmp_path / "x.wav")], capsys)
    assert code == 1 and "no model given" in stderr and len(stderr.strip().splitlines()) == 1
    code, _, stderr = run([str(tmp_path / "nope"), "--seeds", "0", "-o", str(tmp_path / "x.wav")], capsys)
    assert code == 1 and "nope" in stderr and len(stderr.strip().splitlines()) == 1


def test_the_default_model_is_used_when_no_bundle_is_given(sines: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounce, "DEFAULT_MODEL_DIR", sines)
    code, _, stderr = run(["--seeds", "4", "-o", str(tmp_path / "x.wav")], capsys)
    assert code == 0, stderr
    assert sf.info(str(tmp_path / "x.wav")).frames == LOOP_SAMPLES


def test_an_existing_file_is_kept_unless_forced(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.wav"
    out.write_bytes(b"mine")
    code, _, stderr = run([str(sines), "--seeds", "0", "-o", str(out)], capsys)
    assert code == 1 and "exists already" in stderr and out.read_bytes() == b"mine"
    code, _, stderr = run([str(sines), "--seeds", "0", "-o", str(out), "--force"], capsys)
    assert code == 0 and sf.info(str(out)).frames == LOOP_SAMPLES


def test_an_interrupted_write_leaves_no_partial_file(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    original = sf.SoundFile.write
    calls = {"n": 0}

    def interrupted(self: sf.SoundFile, data: np.ndarray) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the file
        original(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", interrupted)
    kept = tmp_path / "kept.wav"
    kept.write_bytes(b"the previous bounce")
    for out, extra in ((tmp_path / "new.wav", []), (kept, ["--force"])):
        calls["n"] = 0
        with pytest.raises(KeyboardInterrupt):  # `ganloops` turns it into "interrupted", exit 130
            bounce_main([str(sines), "--seeds", "0", "--bars", "2", "--sample-rate", "48000", "-o", str(out),
                         "--quiet"] + extra)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.wav"]
    assert kept.read_bytes() == b"the previous bounce"


def test_bounce_is_a_ganloops_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert ganloops(["--help"]) == 0
    assert "bounce" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        ganloops(["bounce", "--help"])
    assert exit_.value.code == 0 and "--walk BARS" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# Engine-backed: morph and replay
# ---------------------------------------------------------------------------------------


def _engine_state(bundle: Path, **deck: Any) -> dict[str, Any]:
    from instrument.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(sample_rate_hz=SR, decks=1))
    engine.load_deck(1, bundle, wait=True)
    state = engine.state()
    state["decks"][0].update(deck)
    return state


def test_morph_glides_from_scene_a_to_scene_b_over_the_beats(sines: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from instrument.scenes import SceneStore

    monkeypatch.setenv("GANLOOPS_HOME", str(tmp_path / "home"))
    store = SceneStore()
    store.save("full", _engine_state(sines, seed=3, gain=1.0))
    store.save("quiet", _engine_state(sines, seed=3, gain=0.25))
    out = tmp_path / "morph.wav"
    code, _, stderr = run(["--morph", "full", "quiet", "--beats", "4", "--bars", "2", "-o", str(out),
                           "--bit-depth", "float", "--ceiling", "0"], capsys)
    assert code == 0, stderr
    audio = read(out)
    beat = int(60 * SR / BPM)
    assert audio.shape == (bars_frames(2), 2)
    rms = [float(np.sqrt(np.mean(audio[i * beat:(i + 1) * beat] ** 2))) for i in range(8)]
    assert all(a > b for a, b in zip(rms[:4], rms[1:5]))  # falling through the morph's bar
    assert rms[7] / rms[0] == pytest.approx(0.25, rel=0.1)  # at scene B's gain after it
    assert rms[5] == pytest.approx(rms[7], rel=0.05)


def test_morph_on_the_exported_gan_bundle(style_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from instrument.scenes import SceneStore

    monkeypatch.setenv("GANLOOPS_HOME", str(tmp_path / "home"))
    store = SceneStore()
    store.save("a", _engine_state(style_bundle, seed=1, psi=0.5))
    store.save("b", _engine_state(style_bundle, seed=1, psi=1.0, knobs=[0.8]))
    out = tmp_path / "gan-morph.wav"
    code, _, stderr = run(["--morph", "a", "b", "--beats", "2", "-o", str(out), "--sample-rate", "8000"], capsys)
    assert code == 0, stderr
    assert read(out).shape == (bars_frames(2, 8000), 2)  # the 2-beat morph rounds up to 1 bar, plus a bar of B


def test_morph_errors_name_the_scene_or_the_option(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANLOOPS_HOME", str(tmp_path / "home"))
    code, _, stderr = run(["--morph", "nowhere", "also", "--beats", "4", "-o", str(tmp_path / "m.wav")], capsys)
    assert code == 1 and "nowhere.json: no such scene" in stderr and len(stderr.strip().splitlines()) == 1
    code, _, stderr = run(["--morph", "a", "b", "-o", str(tmp_path / "m.wav")], capsys)
    assert code == 1 and "--morph needs --beats" in stderr


def test_replay_bounces_the_journal_bit_for_bit(sines: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from instrument.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(sample_rate_hz=SR, decks=1, tempo_bpm=100.0))
    engine.load_deck(1, sines, wait=True)
    journal = tmp_path / "set.jsonl"
    engine.record_journal(journal)
    live = [engine.render_offline(3000)]
    engine.set_seed(1, 5)
    live.append(engine.render_offline(5000))
    engine.set_knob(1, 1, 0.5)  # no direction: stored, renders the same; still journaled
    engine.set_gain(1, 0.5)
    live.append(engine.render_offline(4000))
    engine.stop_journal()
    expected = np.concatenate(live)
    out = tmp_path / "replay.wav"
    code, stdout, stderr = run(["--replay", str(journal), "-o", str(out), "--bit-depth", "float"], capsys)
    assert code == 0, stderr
    replayed = read(out)
    from instrument.journal import read_journal

    recorded = read_journal(journal)
    # the journal ends where the engine's mixer stopped (a block boundary at or after the last frame played)
    assert replayed.shape[0] == recorded.end_frame - recorded.start_frame >= expected.shape[0]
    np.testing.assert_array_equal(replayed[:expected.shape[0]], expected)
    out2 = tmp_path / "replay-loud.wav"
    code, _, stderr = run(["--replay", str(journal), "-o", str(out2), "--lufs", "-20", "--bit-depth", "float"], capsys)
    assert code == 0, stderr
    assert dsp.integrated_loudness_lufs(read(out2), SR) == pytest.approx(-20.0, abs=0.5)
    code, _, stderr = run(["--replay", str(journal), "-o", str(tmp_path / "r3.wav"), "--tempo", "90"], capsys)
    assert code == 1 and "journal's own rate, tempo" in stderr


def test_replay_of_a_broken_journal_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "broken.jsonl"
    journal.write_text("not json\n")
    code, _, stderr = run(["--replay", str(journal), "-o", str(tmp_path / "r.wav")], capsys)
    assert code == 1 and "broken.jsonl" in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.wav").exists()


def test_seamless_check_can_fail() -> None:
    # The seam measure used above does see a step: the sine loop cut short of a whole cycle.
    t = np.arange(1000) / 1000
    cut = np.stack([np.sin(2 * np.pi * 7.25 * t)] * 2, axis=1)
    assert seam_jump(cut) > 2 * interior_jump(cut)
    assert math.isfinite(seam_jump(cut))
