"""Audio descriptors on signals with known answers, and `ganloops eval` on a tiny exported bundle.

The bundles come from the session fixture in conftest.py (1 bar of 4/4 at 120 BPM and
1050 Hz, 2 channels); the real loops here are made at the same timing, mono.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from export.descriptors import (
    DESCRIPTOR_NAMES,
    LOW_BAND_FLOOR_DB,
    SILENCE_DB,
    DescriptorError,
    Descriptors,
    LoopReport,
    describe,
    grid_chance_share,
    loop_report,
    onset_times_seconds,
    seam_jump_ratio,
    seam_spectral_ratio,
)
from export.evaluate import THRESHOLDS, diversity, verdict
from instrument.cli import main as ganloops
from tests.conftest import make_tiny_dataset
from tests.export.conftest import SPEC, Exported
from tests.instrument.test_runtime_without_torch import BLOCK_TORCH, ROOT
from training.data.store import LoopSpec

SR_HZ = 22050
BPM = 120.0
LOOP_SECONDS = 4.0                       # 2 bars of 4/4 at 120 BPM
N = int(SR_HZ * LOOP_SECONDS)
T_SECONDS = np.arange(N) / SR_HZ
SIXTEENTH_SECONDS = 60.0 / BPM / 4


def clicks(times_seconds: np.ndarray, n: int = N, sr_hz: int = SR_HZ) -> np.ndarray:
    """Single-sample clicks (0.9) at the given times, wrapped into the loop."""
    x = np.zeros(n)
    x[np.round(np.asarray(times_seconds) * sr_hz).astype(int) % n] = 0.9
    return x


def sixteenths(bpm: float, loop_seconds: float, offset_steps: float = 0.0) -> np.ndarray:
    step = 60.0 / bpm / 4
    return (np.arange(int(round(loop_seconds / step))) + offset_steps) * step


def periodic_noise(n: int, rng: np.random.Generator, band: float = 0.3) -> np.ndarray:
    """Band-limited noise that is exactly periodic over n samples (built in the frequency domain)."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    spectrum[0] = 0
    spectrum[int(band * (n // 2)):] = 0
    x = np.fft.irfft(spectrum, n)
    return 0.3 * x / np.abs(x).max()


# ---------------------------------------------------------------------------------------
# Descriptors with known answers
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("freq_hz", [440.0, 1000.0, 3000.0])
def test_a_sines_centroid_is_its_frequency(freq_hz: float) -> None:
    d = describe(0.5 * np.sin(2 * np.pi * freq_hz * T_SECONDS), SR_HZ)
    assert d.spectral_centroid_hz == pytest.approx(freq_hz, rel=0.02)


def test_white_noise_is_flat_and_a_sine_is_not() -> None:
    noise = describe(0.3 * np.random.default_rng(0).standard_normal(N), SR_HZ).spectral_flatness
    sine = describe(0.5 * np.sin(2 * np.pi * 1000 * T_SECONDS), SR_HZ).spectral_flatness
    assert noise > 0.4 and sine < 0.01


def test_rms_db_of_a_full_scale_sine_and_of_silence() -> None:
    assert describe(np.sin(2 * np.pi * 1000 * T_SECONDS), SR_HZ).rms_db == pytest.approx(-3.01, abs=0.01)
    assert describe(np.zeros(N), SR_HZ).rms_db == SILENCE_DB


def test_low_band_share_of_equal_low_and_high_sines_is_half() -> None:
    low, high = np.sin(2 * np.pi * 60 * T_SECONDS), np.sin(2 * np.pi * 2000 * T_SECONDS)
    assert describe(0.4 * (low + high), SR_HZ).low_band_share_db == pytest.approx(-3.01, abs=0.05)
    assert describe(0.4 * high, SR_HZ).low_band_share_db == LOW_BAND_FLOOR_DB
    assert describe(0.4 * low, SR_HZ).low_band_share_db == pytest.approx(0.0, abs=0.01)


def test_multichannel_audio_is_described_as_its_mix() -> None:
    left, right = np.sin(2 * np.pi * 500 * T_SECONDS), np.sin(2 * np.pi * 1500 * T_SECONDS)
    stereo = describe(np.stack([left, right]) * 0.4, SR_HZ).vector()
    np.testing.assert_allclose(stereo, describe((left + right) * 0.2, SR_HZ).vector(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("count", [8, 32])
def test_onset_rate_counts_clicks(count: int) -> None:
    times = np.arange(count) * LOOP_SECONDS / count + 0.01
    assert describe(clicks(times), SR_HZ).onset_rate_hz == pytest.approx(count / LOOP_SECONDS)


def test_steady_tone_and_steady_noise_have_no_onsets() -> None:
    assert onset_times_seconds(0.5 * np.sin(2 * np.pi * 1000 * T_SECONDS), SR_HZ).size == 0
    assert onset_times_seconds(0.3 * np.random.default_rng(1).standard_normal(N), SR_HZ).size == 0


def test_onsets_land_on_the_click_including_one_at_the_loop_start() -> None:
    times = np.array([0.0, 0.731, 2.0, 3.3])
    found = onset_times_seconds(clicks(times), SR_HZ)
    assert found.size == times.size                              # the click at 0 is found once, not twice
    np.testing.assert_allclose(found, times, atol=1.0 / SR_HZ)


@pytest.mark.parametrize("bpm", [120.0, 128.0])
def test_clicks_on_the_16th_grid_adhere_and_clicks_between_do_not(bpm: float) -> None:
    loop_seconds = 8 * 60.0 / bpm
    n = int(round(loop_seconds * SR_HZ))
    on = loop_report(clicks(sixteenths(bpm, loop_seconds), n), SR_HZ, bpm)
    off = loop_report(clicks(sixteenths(bpm, loop_seconds, offset_steps=0.5), n), SR_HZ, bpm)   # by a 32nd note
    assert on.onset_count == off.onset_count == 32
    assert on.grid_adherence == 1.0 and off.grid_adherence == 0.0


def test_grid_adherence_uses_the_loops_tempo() -> None:
    """Clicks on the 16ths of 120 BPM are mostly off the 16ths of 100 BPM."""
    report = loop_report(clicks(sixteenths(BPM, LOOP_SECONDS)), SR_HZ, 100.0)
    assert report.grid_adherence < 0.5


def test_grid_chance_share_is_the_tolerance_window_over_the_step() -> None:
    assert grid_chance_share(120.0) == pytest.approx(0.040 / SIXTEENTH_SECONDS)


def test_a_seamless_loop_jumps_like_its_interior_and_a_cut_one_does_not() -> None:
    rng = np.random.default_rng(2)
    seamless = [seam_jump_ratio(periodic_noise(4096, rng)) for _ in range(200)]
    assert np.mean(seamless) == pytest.approx(1.0, abs=0.2)      # the seam is one more interior step
    ramp = np.linspace(-0.5, 0.5, 4096)                          # a saw cut at its reset
    assert seam_jump_ratio(ramp) > 100


def test_a_stationary_loop_changes_across_its_seam_like_inside_and_a_glide_does_not() -> None:
    rng = np.random.default_rng(3)
    tones = sum(np.sin(2 * np.pi * f * T_SECONDS + p) for f, p in [(110, 0.3), (220, 1.0), (330, 2.0), (1650, 0.5)])
    stationary = 0.2 * tones + 0.1 * periodic_noise(N, rng)
    assert 0.5 < seam_spectral_ratio(stationary, SR_HZ) < 2.0
    freq_hz = 200.0 * 10.0 ** (T_SECONDS / T_SECONDS[-1])       # 200 Hz up to 2 kHz, back to 200 Hz at the seam
    glide = 0.5 * np.sin(2 * np.pi * np.cumsum(freq_hz) / SR_HZ)
    assert seam_spectral_ratio(glide, SR_HZ) > 5.0


@pytest.mark.parametrize("audio, sr_hz, culprit", [
    (np.zeros((2, 2, 1000)), SR_HZ, "shape"),
    (np.full(4096, np.nan), SR_HZ, "NaN"),
    (np.zeros(10), SR_HZ, "too short"),
    (np.zeros(4096), 0, "sample_rate_hz"),
])
def test_descriptors_refuse_bad_audio_in_one_line(audio: np.ndarray, sr_hz: float, culprit: str) -> None:
    with pytest.raises(DescriptorError, match=culprit) as err:
        describe(audio, sr_hz)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------
# Diversity and the verdict
# ---------------------------------------------------------------------------------------


def _report(flatness: float, seam: float, on_grid: int, rng: np.random.Generator) -> LoopReport:
    d = Descriptors(rms_db=-12 + 3 * rng.standard_normal(), spectral_centroid_hz=1500 + 400 * rng.standard_normal(),
                    onset_rate_hz=6 + rng.standard_normal(), low_band_share_db=-3 + rng.standard_normal(),
                    spectral_flatness=flatness)
    return LoopReport(d, onset_count=10, on_grid_count=on_grid, seam_jump_ratio=seam, seam_spectral_ratio=seam)


def test_identical_loops_have_no_diversity_and_varied_ones_do() -> None:
    rng = np.random.default_rng(4)
    real = np.stack([_report(0.05, 1.0, 9, rng).descriptors.vector() for _ in range(20)])
    collapsed = np.repeat(real[:1], 20, axis=0)
    assert diversity(collapsed, real) == 0.0
    assert diversity(real, real) > 1.0


def test_real_loops_pass_against_themselves_and_a_bad_model_fails_each_check() -> None:
    rng = np.random.default_rng(5)
    real = [_report(0.04 + 0.02 * rng.random(), 1.0 + 0.3 * rng.random(), 9, rng) for _ in range(30)]
    real_vectors = np.stack([r.descriptors.vector() for r in real])
    div_real = diversity(real_vectors, real_vectors)
    good = verdict(real, real, div_real, div_real)
    assert [c.passed for c in good] == [True] * 5

    bad = [_report(0.5, 20.0, 3, rng) for _ in range(30)]   # off grid, clicking seams, noisy
    checks = verdict(bad, real, 0.2 * div_real, div_real)
    assert [c.name for c in checks] == ["grid adherence", "seam jump ratio (median)", "seam spectral ratio (median)",
                                        "spectral flatness (median)", "diversity"]
    assert [c.passed for c in checks] == [False] * 5
    assert checks[0].generated == pytest.approx(0.3) and checks[0].real == pytest.approx(0.9)
    assert f"{THRESHOLDS.grid_adherence_share_of_real:.0%}" in checks[0].rule


# ---------------------------------------------------------------------------------------
# `ganloops eval` on a tiny exported bundle
# ---------------------------------------------------------------------------------------


def _spec(**changes: object) -> LoopSpec:
    values = dict(sample_rate=SPEC.sample_rate, bpm=SPEC.bpm, bars=SPEC.bars, beats_per_bar=SPEC.beats_per_bar,
                  channels=1)
    values.update(changes)
    return LoopSpec(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def real_loops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mono loops at the exported bundles' timing (the bundles are stereo: eval compares the mixes)."""
    return make_tiny_dataset(tmp_path_factory.mktemp("eval_data") / "loops_1050", spec=_spec(), count=10)


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = ganloops(args)
    return code, out.getvalue(), err.getvalue()


VERDICT_NAMES = ["grid adherence", "seam jump ratio (median)", "seam spectral ratio (median)",
                 "spectral flatness (median)", "diversity"]


def test_eval_writes_figures_plot_walk_and_prints_the_verdict(exported: dict[str, Exported], real_loops: Path,
                                                             tmp_path: Path) -> None:
    out_dir = tmp_path / "eval"
    code, stdout, stderr = run_cli(["eval", str(exported["style_wavegan"].bundle), "--data", str(real_loops),
                                    "-n", "6", "-o", str(out_dir), "--walk-bars", "4", "--psi", "0.8"])
    assert code == 0, stderr
    data = json.loads((out_dir / "eval.json").read_text())
    assert (out_dir / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    walk, walk_rate_hz = soundfile.read(str(out_dir / "walk.wav"))
    assert walk_rate_hz == SPEC.sample_rate and walk.shape == (4 * SPEC.loop_samples, SPEC.channels)

    assert data["settings"]["count"] == 6 and data["settings"]["psi"] == 0.8
    assert len(data["loops"]["generated"]) == 6 and len(data["loops"]["real"]) == 6
    assert set(data["descriptors"]) == set(DESCRIPTOR_NAMES)
    for name in DESCRIPTOR_NAMES:
        for side in ("generated", "real"):
            s = data["descriptors"][name][side]
            values = [loop[name] for loop in data["loops"][side]]
            assert s["count"] == 6 and s["mean"] == pytest.approx(np.mean(values))
            assert s["p5"] <= s["p50"] <= s["p95"]
    real_grid = data["grid_adherence"]["real"]
    assert real_grid["share"] == pytest.approx(real_grid["on_grid"] / real_grid["onsets"])
    assert data["diversity"]["generated"] > 0 and data["diversity"]["real"] > 0
    assert data["walk"]["bars"] == 4

    verdict_lines = [line for line in stdout.splitlines() if line.split()[-1:] in (["PASS"], ["FAIL"])]
    assert [v["check"] for v in data["verdict"]] == VERDICT_NAMES
    assert len(verdict_lines) == len(VERDICT_NAMES)
    for line, v in zip(verdict_lines, data["verdict"]):
        assert line.startswith(v["check"]) and line.endswith("PASS" if v["passed"] else "FAIL")
    assert data["passed"] == all(v["passed"] for v in data["verdict"])


def test_eval_strict_exit_status_follows_the_verdict(exported: dict[str, Exported], real_loops: Path,
                                                     tmp_path: Path) -> None:
    code, _, stderr = run_cli(["eval", str(exported["wavegan"].bundle), "--data", str(real_loops), "-n", "4",
                               "-o", str(tmp_path), "--walk-bars", "2", "--strict"])
    passed = json.loads((tmp_path / "eval.json").read_text())["passed"]
    assert code == (0 if passed else 1), stderr


def test_eval_exports_a_run_folder_on_the_fly(exported: dict[str, Exported], real_loops: Path,
                                              tmp_path: Path) -> None:
    ex = exported["wavegan"]
    code, _, stderr = run_cli(["eval", str(ex.run_dir), "--data", str(real_loops), "-n", "4", "-o", str(tmp_path),
                               "--walk-bars", "2"])
    assert code == 0, stderr
    from_run = json.loads((tmp_path / "eval.json").read_text())
    generated = [loop["rms_db"] for loop in from_run["loops"]["generated"]]
    code, _, _ = run_cli(["eval", str(ex.bundle), "--data", str(real_loops), "-n", "4", "-o", str(tmp_path / "b"),
                          "--walk-bars", "2"])
    from_bundle = json.loads((tmp_path / "b" / "eval.json").read_text())
    assert code == 0
    np.testing.assert_allclose(generated, [loop["rms_db"] for loop in from_bundle["loops"]["generated"]], atol=1e-3)


@pytest.mark.parametrize("case, culprit", [
    ("missing dataset", "not a dataset folder"),
    ("sample rate", "sample rate 8192 Hz, but the bundle renders 1050 Hz"),
    ("tempo", "tempo 125 BPM, but the bundle's loops are at 120 BPM"),
    ("missing model", "no such bundle, run folder or checkpoint"),
    ("too few loops", "-n: need at least 2"),
])
def test_eval_bad_inputs_fail_in_one_line(case: str, culprit: str, exported: dict[str, Exported], real_loops: Path,
                                          tiny_dataset: Path, tmp_path: Path) -> None:
    model, data, count = exported["wavegan"].bundle, real_loops, "4"
    if case == "missing dataset":
        data = tmp_path / "nowhere"
    elif case == "sample rate":
        data = tiny_dataset                                          # 8192 Hz
    elif case == "tempo":
        data = make_tiny_dataset(tmp_path / "at_125", spec=_spec(bpm=125.0), count=3)
    elif case == "missing model":
        model = tmp_path / "no_bundle"
    else:
        count = "1"
    code, stdout, stderr = run_cli(["eval", str(model), "--data", str(data), "-n", count, "-o", str(tmp_path / "o")])
    assert code == 1 and stdout == ""
    assert culprit in stderr and stderr.count("\n") == 1 and stderr.startswith("ganloops eval: ")
    assert not (tmp_path / "o" / "eval.json").exists()


def test_eval_of_a_bundle_runs_without_torch(exported: dict[str, Exported], real_loops: Path, tmp_path: Path) -> None:
    """A bundle is evaluated with the runtime, librosa and matplotlib: no torch needed."""
    args = ["eval", str(exported["wavegan"].bundle), "--data", str(real_loops), "-n", "3", "-o", str(tmp_path),
            "--walk-bars", "2"]
    code = BLOCK_TORCH + f"import sys\nfrom instrument.cli import main\nsys.exit(main({args!r}))\n"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "No module named 'torch'" not in proc.stderr and (tmp_path / "eval.json").is_file()
