"""instrument.dsp on signals whose right answer is known: loops, sines, click trains, reference loudness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from instrument import dsp

SR = 48000


def periodic_loop(n: int, channels: int = 2) -> np.ndarray:
    """A loop [channels, n] of harmonics with whole cycles per loop: seamless by construction."""
    t = np.arange(n) / n
    rows = [0.4 * np.sin(2 * np.pi * 5 * t) + 0.3 * np.sin(2 * np.pi * 17 * t + 1.0) + 0.2 * np.cos(2 * np.pi * 41 * t),
            0.5 * np.cos(2 * np.pi * 3 * t) + 0.25 * np.sin(2 * np.pi * 29 * t + 0.3)]
    return np.stack(rows[:channels]).astype(np.float32)


def seam_jump(loop: np.ndarray) -> float:
    """The step from the last sample to the first, as the loop repeats (largest over channels)."""
    return float(np.abs(loop[:, 0] - loop[:, -1]).max())


def interior_jump(loop: np.ndarray) -> float:
    return float(np.abs(np.diff(loop, axis=1)).max())


def dominant_hz(signal: np.ndarray, sample_rate_hz: int) -> float:
    """Frequency of the strongest bin, refined by parabolic interpolation on the log spectrum."""
    windowed = signal * np.hanning(len(signal))
    spectrum = np.abs(np.fft.rfft(windowed, 4 * len(signal))) + 1e-12
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1:k + 2])
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + shift) * sample_rate_hz / (4 * len(signal))


def click_positions(signal: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Sample positions of the clicks: local maxima of |signal| above `threshold`."""
    magnitude = np.abs(signal)
    above = np.nonzero(magnitude > threshold)[0]
    groups = np.split(above, np.nonzero(np.diff(above) > 100)[0] + 1)
    return np.array([g[np.argmax(magnitude[g])] for g in groups if g.size])


# ---------------------------------------------------------------------------------------
# resample
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, from_hz, to_hz", [(2100, 1050, 48000), (8000, 4000, 48000), (44100, 44100, 48000),
                                               (48000, 48000, 44100), (1001, 48000, 44100), (9000, 22050, 22050)])
def test_resample_has_exactly_the_scaled_length(n: int, from_hz: int, to_hz: int) -> None:
    out = dsp.resample(periodic_loop(n), from_hz, to_hz)
    assert out.shape == (2, round(n * to_hz / from_hz))
    assert out.dtype == np.float32


@pytest.mark.parametrize("n, from_hz, to_hz", [(2100, 1050, 48000), (44100, 44100, 48000), (1001, 48000, 44100)])
def test_resampled_loop_is_the_same_periodic_signal_and_seamless(n: int, from_hz: int, to_hz: int) -> None:
    out = dsp.resample(periodic_loop(n), from_hz, to_hz)
    m = out.shape[1]
    # The harmonics have whole cycles per loop, so resampling must give the same harmonics over m samples.
    np.testing.assert_allclose(out, periodic_loop(m), atol=1e-4)
    assert seam_jump(out) <= 1.05 * interior_jump(out)


def test_resample_wraps_around_the_seam_instead_of_padding_with_silence() -> None:
    # A loop that is loud at both ends: a zero-padded resampler would ring/droop there.
    n = 4410
    loop = np.ones((1, n), dtype=np.float32) * 0.8
    out = dsp.resample(loop, 44100, 48000)
    np.testing.assert_allclose(out, 0.8, atol=1e-4)


def test_resample_rejects_bad_shapes_and_rates() -> None:
    with pytest.raises(ValueError, match=r"loop: expected shape \[channels, samples\]"):
        dsp.resample(np.zeros(100), 100, 200)
    with pytest.raises(ValueError, match="sample rates must be positive"):
        dsp.resample(np.zeros((1, 100)), 0, 200)


# ---------------------------------------------------------------------------------------
# adapt_tempo
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", dsp.TEMPO_MODES)
@pytest.mark.parametrize("from_bpm, to_bpm", [(120.0, 100.0), (120.0, 140.0), (120.0, 121.0), (128.0, 87.5)])
def test_adapt_tempo_has_exactly_the_scaled_length(mode: str, from_bpm: float, to_bpm: float) -> None:
    n = 24000
    out = dsp.adapt_tempo(periodic_loop(n), from_bpm, to_bpm, SR, mode=mode)
    assert out.shape == (2, round(n * from_bpm / to_bpm))


@pytest.mark.parametrize("mode", dsp.TEMPO_MODES)
@pytest.mark.parametrize("to_bpm", [100.0, 140.0])
def test_adapt_tempo_result_is_seamless(mode: str, to_bpm: float) -> None:
    n = 2 * SR  # 1 bar at 120 BPM
    loop = sine_loop(n, 221.0) + 0.5 * sine_loop(n, 331.0)
    out = dsp.adapt_tempo(loop, 120.0, to_bpm, SR, mode=mode)
    assert seam_jump(out) <= 1.05 * interior_jump(out)
    # the check can fail: the loop repeated and cut to the new length (no wrapping) jumps at the seam
    naive = np.tile(loop, 2)[:, :out.shape[1]]
    assert seam_jump(naive) > 2 * interior_jump(naive)


def sine_loop(n: int, hz: float, channels: int = 2) -> np.ndarray:
    """A sine of `hz` with a whole number of cycles in n samples (so the loop itself is seamless)."""
    cycles = round(hz * n / SR)
    t = np.arange(n) / n
    return np.stack([0.5 * np.sin(2 * np.pi * cycles * t)] * channels).astype(np.float32)


@pytest.mark.parametrize("to_bpm", [100.0, 150.0])
def test_stretch_keeps_pitch_and_varispeed_moves_it(to_bpm: float) -> None:
    n = 2 * SR
    for hz in (110.0, 440.0):
        loop = sine_loop(n, hz)
        source_hz = dominant_hz(loop[0], SR)
        stretched = dsp.adapt_tempo(loop, 120.0, to_bpm, SR, mode="stretch")
        assert dominant_hz(stretched[0], SR) == pytest.approx(source_hz, rel=0.01)
        varispeed = dsp.adapt_tempo(loop, 120.0, to_bpm, SR, mode="varispeed")
        assert dominant_hz(varispeed[0], SR) == pytest.approx(source_hz * to_bpm / 120.0, rel=0.01)


@pytest.mark.parametrize("to_bpm", [97.0, 120.5, 150.0])
def test_stretch_keeps_transients_on_the_scaled_grid(to_bpm: float) -> None:
    n = 2 * SR  # 1 bar at 120 BPM: clicks on every 16th note, slightly off the sample grid
    rng = np.random.default_rng(0)
    loop = 0.1 * sine_loop(n, 55.0) + 0.02 * rng.standard_normal((2, n)).astype(np.float32)
    clicks = np.round(np.arange(16) * n / 16 + 37).astype(int)
    loop[:, clicks] += 0.9
    out = dsp.adapt_tempo(loop, 120.0, to_bpm, SR, mode="stretch")
    found = click_positions(out[0])
    expected = clicks * out.shape[1] / n
    assert len(found) == len(clicks), found  # each click once: no echoes, none lost
    assert np.abs(found - expected).max() <= 0.002 * SR


def test_adapt_tempo_rejects_unknown_modes_and_bad_tempos() -> None:
    loop = periodic_loop(1000)
    with pytest.raises(ValueError, match="tempo mode: expected one of stretch, varispeed"):
        dsp.adapt_tempo(loop, 120.0, 100.0, SR, mode="warp")
    with pytest.raises(ValueError, match="BPM must be positive"):
        dsp.adapt_tempo(loop, 120.0, float("nan"), SR)


def test_same_tempo_returns_the_loop_unchanged() -> None:
    loop = periodic_loop(1000)
    np.testing.assert_array_equal(dsp.adapt_tempo(loop, 120.0, 120.0, SR), loop)


# ---------------------------------------------------------------------------------------
# equal_power
# ---------------------------------------------------------------------------------------


def test_equal_power_gains_keep_constant_power_and_end_points() -> None:
    t = np.linspace(-0.5, 1.5, 201)
    fade_out, fade_in = dsp.equal_power(t)
    np.testing.assert_allclose(fade_out ** 2 + fade_in ** 2, 1.0, atol=1e-12)
    assert fade_out[t <= 0].min() == 1.0 and fade_in[t <= 0].max() == 0.0
    assert fade_out[t >= 1].max() == pytest.approx(0.0, abs=1e-12) and fade_in[t >= 1].min() == 1.0
    half_out, half_in = dsp.equal_power(0.5)
    assert float(half_out) == pytest.approx(math.sqrt(0.5)) and float(half_in) == pytest.approx(math.sqrt(0.5))


# ---------------------------------------------------------------------------------------
# Limiter
# ---------------------------------------------------------------------------------------


def test_limiter_holds_the_ceiling_on_hot_signals() -> None:
    rng = np.random.default_rng(1)
    limiter = dsp.Limiter(-0.3, SR)
    hot = (10.0 * rng.standard_normal((SR, 2))).astype(np.float32)  # peaks near +30 dBFS
    hot[1000, 0] = 1e6
    out = np.concatenate([limiter.process(hot[i:i + 256].copy()) for i in range(0, SR, 256)])
    assert np.abs(out).max() <= 10 ** (-0.3 / 20)
    assert np.abs(out).max() > 0.9 * 10 ** (-0.3 / 20)  # it limits, it does not mute


def test_limiter_leaves_quiet_audio_alone_and_releases_smoothly() -> None:
    limiter = dsp.Limiter(-1.0, SR, release_seconds=0.05)
    quiet = np.full((SR // 2, 2), 0.5, dtype=np.float32)
    np.testing.assert_array_equal(limiter.process(quiet.copy()), quiet)
    burst = np.full((256, 2), 4.0, dtype=np.float32)
    limiter.process(burst)
    assert limiter.gain_reduction_db < -10.0
    after = limiter.process(quiet.copy())[:, 0]
    gain = after / 0.5
    assert np.all(np.diff(gain) >= -1e-7)  # recovers monotonically, no pumping back down
    assert gain[0] < 0.5 and gain[-1] > 0.999  # recovered after ten release times


def test_limiter_blocks_equal_one_pass_and_nan_is_silenced() -> None:
    rng = np.random.default_rng(2)
    audio = (3.0 * rng.standard_normal((10000, 2))).astype(np.float32)
    whole = dsp.Limiter(-0.3, SR).process(audio.copy())
    limiter = dsp.Limiter(-0.3, SR, max_block_frames=128)
    pieces = np.concatenate([limiter.process(audio[i:i + 300].copy()) for i in range(0, len(audio), 300)])
    np.testing.assert_allclose(pieces, whole, atol=1e-6)
    broken = np.array([[np.nan, np.inf], [0.1, -np.inf]], dtype=np.float32)
    out = dsp.Limiter(-0.3, SR).process(broken)
    np.testing.assert_array_equal(out, np.array([[0.0, 0.0], [0.1, 0.0]], dtype=np.float32))


def test_limiter_rejects_a_ceiling_above_full_scale() -> None:
    with pytest.raises(ValueError, match="limiter ceiling"):
        dsp.Limiter(3.0, SR)


# ---------------------------------------------------------------------------------------
# Loudness (BS.1770-4; EBU Tech 3341 test signals)
# ---------------------------------------------------------------------------------------


def test_k_weighting_matches_the_bs1770_table_at_48k() -> None:
    (b1, a1), (b2, a2) = dsp.k_weighting_coefficients(48000)
    np.testing.assert_allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    np.testing.assert_allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(b2, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-8)


def tone(dbfs: float, seconds: float, hz: float = 1000.0, sample_rate_hz: int = SR) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate_hz))) / sample_rate_hz
    return 10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t)


@pytest.mark.parametrize("sample_rate_hz", [48000, 44100])
def test_full_scale_997hz_sine_on_one_channel_reads_minus_3_01(sample_rate_hz: int) -> None:
    mono = tone(0.0, 5.0, 997.0, sample_rate_hz)
    assert dsp.integrated_loudness_lufs(mono, sample_rate_hz) == pytest.approx(-3.01, abs=0.02)
    left_only = np.stack([mono, np.zeros_like(mono)], axis=1)
    assert dsp.integrated_loudness_lufs(left_only, sample_rate_hz) == pytest.approx(-3.01, abs=0.02)


def test_ebu_3341_stereo_sine_at_minus_23_dbfs_reads_minus_23() -> None:
    x = tone(-23.0, 20.0)
    assert dsp.integrated_loudness_lufs(np.stack([x, x], axis=1), SR) == pytest.approx(-23.0, abs=0.1)


def test_ebu_3341_gating_ignores_quiet_and_silent_passages() -> None:
    # EBU Tech 3341 case 4: -72, -36, -23, -36, -72 dBFS (10, 10, 60, 10, 10 s) reads -23.0 +- 0.1.
    x = np.concatenate([tone(-72, 10), tone(-36, 10), tone(-23, 60), tone(-36, 10), tone(-72, 10)])
    stereo = np.stack([x, x], axis=1).astype(np.float32)
    assert dsp.integrated_loudness_lufs(stereo, SR) == pytest.approx(-23.0, abs=0.1)


def test_silence_is_minus_infinity_and_bad_audio_is_refused() -> None:
    assert dsp.integrated_loudness_lufs(np.zeros((SR, 2)), SR) == -math.inf
    with pytest.raises(ValueError, match="NaN"):
        dsp.integrated_loudness_lufs(np.full((SR, 1), np.nan), SR)
