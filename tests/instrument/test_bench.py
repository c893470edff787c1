"""``ganloops bench``: a short run produces every figure, and the pieces it is built from.

The end-to-end test runs the real command on the tiny style bundle (20 knob moves, a 3 s
soak) through a JACK dummy server the bench starts and stops itself. It checks that each
figure exists and is consistent (finite, p99 >= p50, every move's total longer than its
OSC and render parts, the ratio is the ratio of the RTFs), never how fast anything is:
the machine running the tests may be loaded.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from instrument import bench, bench_jack, bench_live, bench_render
from instrument.bench_live import FrameClock, first_swaps, move_values
from instrument.bench_render import ContenderFigures, RenderFigures, load_torch_synthesis
from instrument.bench_stats import Summary, summarize
from instrument.cli import main as ganloops
from tests.instrument.jack import require_jackd

# ---------------------------------------------------------------------------------------
# The whole command, briefly
# ---------------------------------------------------------------------------------------


def _finite_summary(s: dict) -> None:
    assert s["count"] > 0
    for key in ("p50", "p99", "best", "worst", "mean"):
        assert math.isfinite(s[key]), (key, s)
    assert s["best"] <= s["p50"] <= s["p99"] <= s["worst"], s


def test_short_bench_writes_every_figure(style_bundle: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    require_jackd()
    out, js = tmp_path / "docs" / "benchmarks.md", tmp_path / "bench.json"
    code = ganloops(["bench", str(style_bundle), "--moves", "20", "--soak-seconds", "3", "--still-seconds", "2",
                     "--rounds", "3",
                     "--out", str(out), "--json", str(js)])
    assert code == 0
    report = json.loads(js.read_text())

    # 1. render speed: onnxruntime, torch eager (the checkpoint of the tiny bundle is at hand), the engine
    render = report["render"]
    for name in ("onnx", "onnx_bound", "torch", "engine"):
        _finite_summary(render[name]["milliseconds"])
        assert render[name]["rtf_p50"] > 0 and render[name]["rtf_best"] >= render[name]["rtf_p50"]
    assert render["torch_skipped"] is None
    assert render["torch_max_abs_error"] <= bench_render.TORCH_PARITY_LIMIT
    assert render["onnx_over_torch"] == pytest.approx(render["onnx_rtf"] / render["torch_rtf"])
    assert render["onnx_rtf"] == pytest.approx(render["loop_seconds"] / (render["onnx"]["milliseconds"]["p50"] / 1e3))

    # 2. latency: every move measured, each one's total longer than the parts that precede the audio
    live = report["live"]
    assert report["live_skipped"] is None
    latency = live["latency"]
    assert latency["moves"] == 20 and latency["measured"] == 20
    for part in ("total_ms", "osc_ms", "render_ms", "other_ms"):
        s = latency[part]
        assert s["count"] == 20 and all(math.isfinite(s[k]) for k in ("p50", "p99", "worst")), part
        assert s["p99"] >= s["p50"], part
    for record in latency["records"]:
        assert record["heard"] and record["swap_frame"] is not None
        assert record["total_ms"] > record["osc_ms"] + record["render_ms"] > 0, record
    assert len({r["value"] for r in latency["records"]}) == 20
    assert latency["ring_ms"] == pytest.approx(3 * 256 / 48000 * 1000)

    # 3. callback durations, every callback of the soak; 4. the soak's counters
    soak = live["soak"]
    assert soak["seconds"] >= 3.0 and soak["decks"] == 2
    _finite_summary(soak["callback_us"])
    assert soak["callback_us"]["count"] + soak["callbacks_not_timed"] == soak["callbacks"] > 0
    assert soak["block_period_us"] == pytest.approx(256 / 48000 * 1e6)
    assert soak["moves_sent"] > 0 and soak["renders"] > 0 and soak["render_errors"] == 0
    for counter in ("engine_underruns", "portaudio_underflows", "jack_client_xruns", "jack_server_xruns"):
        assert isinstance(soak[counter], int) and soak[counter] >= 0
    assert soak["process_cpu_percent"] > 0 and soak["others_cpu_percent"] >= 0
    assert soak["dropouts"] == soak["engine_underruns"] + soak["jack_client_xruns"] + soak["jack_server_xruns"]
    still = live["still"]  # the baseline: the same decks, nothing moving, so nothing renders
    assert still["moving"] is False and soak["moving"] is True
    assert still["seconds"] >= 2.0 and still["moves_sent"] == 0 and still["renders"] == 0
    assert still["callbacks"] > 0

    # the machine, the goals, and the JACK server gone
    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["cpu"] and machine["os"] and machine["onnxruntime"] and machine["date_utc"]
    assert [g["met"] is None for g in report["goals"]] == [False] * 5
    pid = live["jack_pid"]
    assert pid is not None and not _alive(pid)
    assert not list(Path("/dev/shm").glob(f"jack_*{live['jack_server']}*"))

    text = out.read_text()
    for heading in ("## Machine", "## Goals", "## 1. Render speed", "## 2. Control-to-audio latency",
                    "## 3. Audio callback", "## 4. Soak", bench.NOTES_HEADING):
        assert heading in text, heading
    assert "ganloops bench " + str(style_bundle) in text and "nn~" in text
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
    printed = capsys.readouterr().out
    assert "control-to-audio latency p99" in printed and "underruns over the soak" in printed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not running
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def test_without_bundle_or_default_model_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("instrument.play.DEFAULT_MODEL_DIR", tmp_path / "no-default")
    with pytest.raises(SystemExit) as e:
        bench.run_bench(["--soak-seconds", "1"])
    message = str(e.value.code)
    assert message.startswith("ganloops bench: no bundle given") and "\n" not in message


@pytest.mark.parametrize("argv, wrong", [(["--soak-seconds", "0"], "--soak-seconds"), (["--moves", "0"], "--moves"),
                                         (["--rounds", "0"], "--rounds"),
                                         (["--still-seconds", "-1"], "--still-seconds")])
def test_invalid_options_name_the_option(argv: list[str], wrong: str) -> None:
    with pytest.raises(SystemExit) as e:
        bench.run_bench(["some-bundle", *argv])
    assert str(e.value.code).startswith(f"ganloops bench: {wrong}")


# ---------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------


def test_summary_orders_percentiles_and_ignores_non_finite() -> None:
    s = summarize([5.0, 1.0, float("nan"), 3.0, float("inf"), 2.0, 4.0])
    assert s is not None and s.count == 5
    assert (s.best, s.p50, s.worst, s.mean) == (1.0, 3.0, 5.0, 3.0)
    assert s.p50 <= s.p99 <= s.worst
    assert summarize([float("nan")]) is None and summarize([]) is None


def test_frame_clock_maps_frames_to_the_callback_that_played_them() -> None:
    ring = SimpleNamespace(read=0)
    plays = [256, 256, 0, 100, 256]  # the third call found the ring empty, the fourth nearly so

    def source(outdata: np.ndarray, frames: int) -> None:
        ring.read += plays.pop(0)

    clock = FrameClock(source, lambda: ring.read, capacity=8)
    out = np.zeros((256, 2), dtype=np.float32)
    for _ in range(5):
        clock(out, 256)
    assert list(clock.first_frame[:5]) == [0, 256, 512, 512, 612]
    times = clock.time_ns[:5]
    assert all(np.diff(times) >= 0)
    assert clock.played_at_ns(0) == times[0] and clock.played_at_ns(255) == times[0]
    assert clock.played_at_ns(256) == times[1]
    assert clock.played_at_ns(512) == times[3]  # not the empty call: the one that read it
    assert clock.played_at_ns(611) == times[3]
    assert clock.played_at_ns(612) is None  # the last call's end is unknown
    assert clock.played_at_ns(-1) is None


def test_frame_clock_counts_calls_beyond_its_capacity() -> None:
    ring = SimpleNamespace(read=0)

    def source(outdata: np.ndarray, frames: int) -> None:
        ring.read += frames

    clock = FrameClock(source, lambda: ring.read, capacity=3)
    out = np.zeros((64, 1), dtype=np.float32)
    for _ in range(5):
        clock(out, 64)
    assert clock.calls == 5 and clock.stored() == 3
    assert clock.played_at_ns(64) == clock.time_ns[1] and clock.played_at_ns(200) is None
    assert len(clock.spacing_ms()) == 2


def test_jackd_xruns_are_told_apart_by_who_was_late() -> None:
    jack = bench_jack.DummyJack()
    try:
        jack.log_path.write_text("JACK server starting in non-realtime mode\n"
                                 "JackEngine::XRun: client = ganloops was not finished, state = Triggered\n"
                                 "JackAudioDriver::ProcessGraphAsyncMaster: Process error\n"
                                 "JackEngine::XRun: client = ganloops was not finished, state = Running\n"
                                 "JackTimedDriver::Process XRun = 18 usec\n")
        assert jack.xruns() == (2, 1)
    finally:
        jack.stop()  # never started: only removes the log
    assert not jack.log_path.exists() and jack.xruns() == (0, 0)


@pytest.mark.parametrize("realtime", [False, True])
def test_the_bench_server_runs_realtime_only_when_asked(realtime: bool) -> None:
    """A stage setup runs jackd with SCHED_FIFO; the CI machine's root has the right to."""
    require_jackd()
    with bench_jack.DummyJack(realtime=realtime) as jack:
        log = jack.log_path.read_text()
    mode = "realtime mode with priority 70" if realtime else "non-realtime mode"
    assert f"JACK server starting in {mode}" in log


def test_without_jackd_the_live_figures_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_jack.shutil, "which", lambda name: None)
    with pytest.raises(bench_jack.BenchError, match=r"^jackd not found: .*apt install jackd2"):
        bench_jack.DummyJack().start()


def test_machine_busy_seconds_leave_out_idle_iowait_and_guest_time(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text(f"cpu  {3 * tick} {tick} {2 * tick} {50 * tick} {7 * tick} 0 {tick} 0 {2 * tick} 0\ncpu0 1 2 3\n")
    assert bench_live.machine_busy_seconds(stat) == pytest.approx(7.0)
    assert bench_live.machine_busy_seconds(tmp_path / "missing") is None
    assert bench_live.process_cpu_seconds(os.getpid()) > 0.0
    assert bench_live.process_cpu_seconds(None) is None


def test_move_values_are_distinct_nonzero_and_exact_in_float32() -> None:
    values = move_values(500, np.random.default_rng(3))
    assert len(set(values)) == 500
    assert all(v != 0.0 and -1.0 <= v <= 1.0 and float(np.float32(v)) == v for v in values)
    with pytest.raises(ValueError):
        move_values(0, np.random.default_rng(0))


def test_first_swaps_takes_each_values_earliest_swap_of_the_deck(tmp_path: Path) -> None:
    def swap(frame: int, deck: int, knob1: float) -> dict:
        return {"frame": frame, "kind": "swap",
                "args": {"deck": deck, "bundle": "b", "tempo_bpm": 120.0, "state": {"knobs": [knob1, 0.0]}}}

    lines = [{"format": "ganloops-journal", "version": 1, "start_frame": 0},
             {"frame": 256, "kind": "control", "args": ["/ganloops/deck/1/knob/1", [0.5]]},
             swap(1024, 1, 0.5), swap(768, 2, 0.25), swap(2048, 1, 0.25), swap(4096, 1, 0.5),
             {"frame": 5000, "kind": "end", "args": {}}]
    path = tmp_path / "j.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert first_swaps(path, deck=1, knob=1) == {0.5: 1024, 0.25: 2048}
    assert first_swaps(path, deck=2, knob=1) == {0.25: 768}


def test_latency_parts_come_from_each_move() -> None:
    moves = [bench_live.MoveRecord(value=0.5, sent_ns=0, accepted_ns=300_000, render_ms=20.0, heard=True,
                                   swap_frame=1, played_ns=40_000_000),
             bench_live.MoveRecord(value=0.25, sent_ns=0, accepted_ns=None, render_ms=None, heard=False)]
    figures = bench_live.latency_figures(moves, ring_ms=16.0, block_ms=5.33, device_latency_ms=5.33)
    assert figures.moves == 2 and figures.measured == 1
    assert figures.total_ms is not None and figures.total_ms.p50 == pytest.approx(40.0)
    assert figures.osc_ms is not None and figures.osc_ms.p50 == pytest.approx(0.3)
    assert figures.other_ms is not None and figures.other_ms.p50 == pytest.approx(40.0 - 0.3 - 20.0 - 16.0)


def _render_figures(loop_seconds: float, onnx_ms: float, torch_ms: float | None, engine_ms: float) -> RenderFigures:
    def contender(name: str, ms: float) -> ContenderFigures:
        return ContenderFigures(name, name, Summary(count=3, p50=ms, p99=ms * 1.5, best=ms / 2, worst=ms * 2, mean=ms))

    return RenderFigures(loop_seconds=loop_seconds, rounds=3, provider="CPUExecutionProvider", device_rate_hz=48000,
                         onnx=contender("onnx", onnx_ms), engine=contender("engine", engine_ms),
                         torch=None if torch_ms is None else contender("torch", torch_ms),
                         torch_skipped=None if torch_ms is not None else "torch is not installed",
                         torch_max_abs_error=None if torch_ms is None else 1e-7,
                         torch_threads=None if torch_ms is None else 2, torch_version=None)


def test_goals_follow_the_figures() -> None:
    fast = _render_figures(4.0, onnx_ms=20.0, torch_ms=40.0, engine_ms=50.0)  # RTF 80, ratio 2
    assert fast.engine_rtf == pytest.approx(80.0) and fast.onnx_over_torch == pytest.approx(2.0)
    goals = {g.name.split(" (")[0]: g for g in bench.evaluate_goals(fast, None)}
    assert goals["render speed"].met is True and goals["onnxruntime vs torch eager"].met is True
    assert goals["control-to-audio latency p99"].met is None and goals["underruns over the soak"].met is None

    slow = _render_figures(4.0, onnx_ms=60.0, torch_ms=None, engine_ms=100.0)  # RTF 40, no torch
    goals = {g.name.split(" (")[0]: g for g in bench.evaluate_goals(slow, None)}
    assert goals["render speed"].met is False and goals["onnxruntime vs torch eager"].met is None


def test_markdown_is_written_atomically_and_keeps_the_hand_written_notes(tmp_path: Path) -> None:
    render = _render_figures(4.0, onnx_ms=60.0, torch_ms=None, engine_ms=100.0)
    report = bench.BenchReport(command="ganloops bench b --soak-seconds 600", machine=bench.machine_info(),
                               bundle={"name": "m", "family": "style_wavegan", "sample_rate_hz": 22050, "channels": 1,
                                       "bars": 2, "bpm": 128.0, "loop_seconds": 4.0, "num_ws": 7, "w_dim": 64,
                                       "synthesis_bytes": 1000, "training_step": 5},
                               render=render, live=None, live_skipped="jackd not found")
    report.goals = bench.evaluate_goals(render, None)
    path = tmp_path / "benchmarks.md"
    bench.write_atomically(path, bench.render_markdown(report, bench.existing_notes(path)))
    first = path.read_text()
    assert "Not measured: jackd not found." in first and "torch is not installed" in first
    assert "**not met**" in first and first.count(bench.NOTES_HEADING) == 1

    notes = f"{bench.NOTES_HEADING}\n\nThe training run shared the CPU.\n\n- keep this line\n"
    path.write_text(first.split(bench.NOTES_HEADING)[0] + notes)
    bench.write_atomically(path, bench.render_markdown(report, bench.existing_notes(path)))
    second = path.read_text()
    assert second.endswith(notes) and second.count(bench.NOTES_HEADING) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmarks.md"]


def test_machine_info_reads_the_cpu_model(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9654\n")
    info = bench.machine_info(cpuinfo)
    assert info["cpu"] == "AMD EPYC 9654 (family 25, model 17)"
    assert info["cores"] == os.cpu_count() and info["date_utc"].endswith("UTC")


# ---------------------------------------------------------------------------------------
# torch eager: only when it can be the same generator
# ---------------------------------------------------------------------------------------


def _fake_bundle(provenance: dict) -> SimpleNamespace:
    return SimpleNamespace(manifest=SimpleNamespace(provenance=provenance))


def test_torch_is_left_out_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "names no checkpoint" in str(load_torch_synthesis(_fake_bundle({})))
    gone = tmp_path / "ckpt_0000100.pt"
    assert "not on this machine" in str(load_torch_synthesis(_fake_bundle({"checkpoint": str(gone)})))
    gone.write_bytes(b"not a checkpoint")
    reason = load_torch_synthesis(_fake_bundle({"checkpoint": str(gone)}))
    assert isinstance(reason, str) and "cannot rebuild the generator" in reason and "\n" not in reason
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails as if it were not installed
    reason = load_torch_synthesis(_fake_bundle({"checkpoint": str(gone)}))
    assert reason == "torch is not installed (pip install 'ganloops[train]')"


def test_checkpoint_snapshot_outlives_the_training_runs_rotation(tmp_path: Path) -> None:
    checkpoint = tmp_path / "ckpt_0000500.pt"
    checkpoint.write_bytes(b"weights")
    with bench_render.checkpoint_snapshot(_fake_bundle({"checkpoint": str(checkpoint)})) as copy:
        checkpoint.unlink()  # the training run keeps its last few checkpoints only
        assert copy is not None and copy.read_bytes() == b"weights"
        reason = load_torch_synthesis(_fake_bundle({"checkpoint": str(checkpoint)}), copy)
        assert "cannot rebuild the generator" in str(reason)  # read from the copy, not "not on this machine"
    assert not copy.exists()
    with bench_render.checkpoint_snapshot(_fake_bundle({"checkpoint": str(checkpoint)})) as copy:
        assert copy is None


def test_torch_generator_renders_what_the_bundle_renders(style_bundle: Path) -> None:
    from instrument.bundle import load_bundle
    from instrument.controls import DeckControls
    from instrument.latent import styles_for

    bundle = load_bundle(style_bundle, provider="cpu")
    loaded = load_torch_synthesis(bundle)
    assert isinstance(loaded, bench_render.TorchSynthesis), loaded
    ws = styles_for(bundle.manifest, bundle.map, DeckControls(seed=3))
    np.testing.assert_allclose(loaded.render(ws), bundle.synthesize(ws), atol=bench_render.TORCH_PARITY_LIMIT)


def test_render_figures_time_the_io_bound_synthesis_beside_the_plain_one(style_bundle: Path) -> None:
    from instrument.bundle import load_bundle

    figures = bench_render.measure_render(load_bundle(style_bundle, provider="cpu", threads=1), rounds=2,
                                          with_torch=False)
    assert figures.onnx_bound is not None and "IO binding (cpu" in figures.onnx_bound.what
    _finite_summary(figures.to_json()["onnx_bound"]["milliseconds"])
    assert figures.onnx_bound.milliseconds.count == 2
    markdown = bench._render_section(figures)
    assert any("IO binding (cpu" in line for line in markdown)
