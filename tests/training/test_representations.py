"""Round trips of the invertible audio representations, with the error bounds the docs state.

Bounds were measured on this test's signals first and set with a margin; the measured
value is written next to each bound.
"""

from __future__ import annotations

import math

import numpy as np
import onnxruntime
import pytest
import torch

from training.data.store import LoopSpec
from training.representations import (
    STFT,
    Chain,
    DropNyquist,
    GriffinLim,
    InstantaneousFrequency,
    LogMagnitude,
    Magnitude,
    MelScale,
    Normalize,
    Parallel,
    Polar,
    RepresentationConfig,
    Waveform,
    build_chain,
    mel_if_chain,
    spectral_convergence,
    stft_if_chain,
    stft_logmag_chain,
    use_exportable_inverse,
    waveform_chain,
    wrap_phase,
)

SAMPLE_RATE_HZ = 22050
# Two bars of 4/4 at 128 BPM: 8 beats * 60 / 128 * 22050 = 82687.5 -> 82688 samples.
LOOP_SAMPLES = LoopSpec(sample_rate=SAMPLE_RATE_HZ, bpm=128.0, bars=2).loop_samples
N_FFT = 1024
HOP_SAMPLES = 256


def drum_loop(batch: int, seed: int = 0) -> torch.Tensor:
    """A 2-bar kick + hi-hat pattern [batch, 1, LOOP_SAMPLES]: pitched sweeps and noise bursts."""
    rng = np.random.default_rng(seed)
    t_seconds = np.arange(LOOP_SAMPLES) / SAMPLE_RATE_HZ
    beat_samples = int(round(60 / 128 * SAMPLE_RATE_HZ))
    out = np.zeros((batch, 1, LOOP_SAMPLES), dtype=np.float32)
    for b in range(batch):
        for beat in range(8):
            start = beat * beat_samples
            tail = t_seconds[: LOOP_SAMPLES - start]
            freq_hz = 50 + 120 * np.exp(-tail * 30)
            kick = 0.8 * np.sin(2 * np.pi * np.cumsum(freq_hz) / SAMPLE_RATE_HZ) * np.exp(-tail * 8)
            out[b, 0, start:] += kick
            hat_start = start + beat_samples // 2
            hat_tail = t_seconds[: LOOP_SAMPLES - hat_start]
            noise = np.diff(rng.standard_normal(len(hat_tail) + 1))  # high-passed noise
            out[b, 0, hat_start:] += 0.2 * noise * np.exp(-hat_tail * 40)
    return torch.from_numpy(out)


@pytest.fixture(scope="module")
def drums() -> torch.Tensor:
    return drum_loop(batch=2)


@pytest.fixture(scope="module")
def noise_audio() -> torch.Tensor:
    """Full-scale random audio, batch 3, stereo, 2-bar length."""
    generator = torch.Generator().manual_seed(1)
    return torch.rand(3, 2, LOOP_SAMPLES, generator=generator) * 2 - 1


# --- Waveform and STFT ---------------------------------------------------------------------

def test_waveform_is_exact_identity(noise_audio: torch.Tensor) -> None:
    chain = waveform_chain()
    assert torch.equal(chain.inverse(chain(noise_audio)), noise_audio)
    assert chain.exact
    with pytest.raises(ValueError, match="samples"):
        Waveform()(noise_audio[0])


def test_stft_round_trip_on_a_two_bar_loop_with_batch_and_channels(noise_audio: torch.Tensor) -> None:
    stft = STFT(N_FFT, HOP_SAMPLES, length_samples=LOOP_SAMPLES)
    spec = stft(noise_audio)
    assert spec.is_complex()
    assert spec.shape == (3, 2, N_FFT // 2 + 1, stft.frames(LOOP_SAMPLES)) == (3, 2, 513, 324)
    back = stft.inverse(spec)
    assert back.shape == noise_audio.shape
    assert (back - noise_audio).abs().max() < 1e-5  # measured 3.6e-7


def test_stft_inverse_without_length_gives_whole_hops() -> None:
    audio = torch.randn(1, 1, 64 * 40)
    stft = STFT(256, 64)
    back = stft.inverse(stft(audio))
    assert back.shape == audio.shape
    assert (back - audio).abs().max() < 1e-5


@pytest.mark.parametrize("win_samples", [1024, 768])
def test_exportable_inverse_matches_torch_istft(noise_audio: torch.Tensor, win_samples: int) -> None:
    torch_stft = STFT(N_FFT, HOP_SAMPLES, win_samples=win_samples, length_samples=LOOP_SAMPLES)
    matmul_stft = STFT(N_FFT, HOP_SAMPLES, win_samples=win_samples, length_samples=LOOP_SAMPLES,
                       inverse_method="matmul")
    spec = torch_stft(noise_audio)
    by_torch = torch_stft.inverse(spec)
    by_matmul = matmul_stft.inverse(spec)
    assert (by_matmul - by_torch).abs().max() < 1e-5  # measured 1.4e-6
    assert (by_matmul - noise_audio).abs().max() < 1e-5


def test_stft_refuses_bad_settings_and_shapes(noise_audio: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="hop_samples=600"):
        STFT(1024, 600)
    with pytest.raises(ValueError, match="pad_mode"):
        STFT(1024, 256, pad_mode="mirror")
    stft = STFT(N_FFT, HOP_SAMPLES, length_samples=LOOP_SAMPLES)
    with pytest.raises(ValueError, match="1000 samples"):
        stft(torch.zeros(1, 1, 1000))
    with pytest.raises(ValueError, match="frames"):
        stft.inverse(stft(noise_audio)[..., :-1])
    with pytest.raises(ValueError, match="complex"):
        stft.inverse(stft(noise_audio).abs())


def test_circular_padding_is_also_exact(noise_audio: torch.Tensor) -> None:
    stft = STFT(N_FFT, HOP_SAMPLES, length_samples=LOOP_SAMPLES, pad_mode="circular")
    assert (stft.inverse(stft(noise_audio[:1])) - noise_audio[:1]).abs().max() < 1e-5


def test_polar_round_trip_is_exact_and_stacks_magnitudes_then_phases(noise_audio: torch.Tensor) -> None:
    spec = STFT(N_FFT, HOP_SAMPLES)(noise_audio)
    polar = Polar()(spec)
    assert polar.shape == (3, 4, 513, 324)
    assert torch.allclose(polar[:, :2], spec.abs())
    assert torch.allclose(polar[:, 2:], spec.angle())
    back = Polar().inverse(polar)
    assert ((back - spec).abs().max() / spec.abs().max()) < 1e-6


def test_magnitude_is_declared_lossy_and_keeps_the_magnitude(noise_audio: torch.Tensor) -> None:
    spec = STFT(N_FFT, HOP_SAMPLES)(noise_audio[:1])
    magnitude = Magnitude()
    assert not magnitude.exact
    assert torch.allclose(magnitude.inverse(magnitude(spec)).abs(), spec.abs())


def test_drop_nyquist_loses_exactly_the_nyquist_row(drums: torch.Tensor) -> None:
    stft = STFT(N_FFT, HOP_SAMPLES, length_samples=LOOP_SAMPLES)
    chain = stft_if_chain(N_FFT, HOP_SAMPLES, LOOP_SAMPLES, normalize=False, drop_nyquist=True)
    y = chain(drums)
    assert y.shape == (2, 2, 512, 324)
    spec = stft(drums)
    spec[:, :, -1] = 0
    assert (chain.inverse(y) - stft.inverse(spec)).abs().max() < 1e-4
    assert not DropNyquist().exact


# --- log magnitude and normalisation --------------------------------------------------------

def test_log_magnitude_round_trip_and_silence_floor() -> None:
    magnitude = torch.rand(2, 1, 33, 10) * 50
    block = LogMagnitude(eps=1e-6)
    assert (block.inverse(block(magnitude)) - magnitude).abs().max() < 1e-5 * 50
    assert block(torch.zeros(1, 1, 1, 1)).item() == pytest.approx(math.log(1e-6))
    assert block.inverse(torch.full((1, 1, 1, 1), -40.0)).item() == 0.0  # below the floor: silence, not < 0


def test_normalize_streamed_fit_matches_whole_dataset_statistics(drums: torch.Tensor) -> None:
    logmag = LogMagnitude()(STFT(N_FFT, HOP_SAMPLES)(drum_loop(4, seed=3)).abs())
    normalize = Normalize(freq_bins=513).fit(logmag.split(1))  # four batches of one
    expected_mean = logmag.double().mean(dim=(0, 1, 3))
    expected_std = logmag.double().std(dim=(0, 1, 3), unbiased=False)
    assert torch.allclose(normalize.mean.double(), expected_mean, atol=1e-5)
    assert torch.allclose(normalize.std.double(), expected_std.clamp(min=1e-5), rtol=1e-5, atol=1e-6)
    scalar = Normalize(freq_bins=None).fit([logmag[:2], logmag[2:]])
    assert scalar.mean.item() == pytest.approx(logmag.double().mean().item(), abs=1e-5)
    assert scalar.std.item() == pytest.approx(logmag.double().std(unbiased=False).item(), rel=1e-5)


@pytest.mark.parametrize("freq_bins", [513, None])
def test_log_normalize_round_trip_is_exact_inside_three_sigma_and_clips_outside(
        drums: torch.Tensor, freq_bins: int | None) -> None:
    magnitude = STFT(N_FFT, HOP_SAMPLES)(drums).abs()
    chain = Chain([LogMagnitude(), Normalize(freq_bins=freq_bins, clip_sigmas=3.0)])
    normalize = chain.blocks[1]
    chain.fit([magnitude])
    y = chain(magnitude)
    assert y.shape == magnitude.shape
    assert y.min() >= -1.0 and y.max() <= 1.0
    logmag = torch.log(magnitude + 1e-6)
    mean, std = normalize.mean.reshape(1, 1, -1, 1), normalize.std.reshape(1, 1, -1, 1)
    inside = ((logmag - mean) / std).abs() < 3.0
    assert inside.float().mean() > 0.9  # most of the spectrogram lies inside the clip range
    back_log = torch.log(chain.inverse(y) + 1e-6)
    assert (back_log - logmag)[inside].abs().max() < 1e-5  # measured about 1e-6
    # a spectrogram 5 std above the mean comes back at mean + 3 std
    loud = torch.exp(mean + 5 * std).expand_as(magnitude)
    back_loud = torch.log(chain.inverse(chain(loud)) + 1e-6)
    assert torch.allclose(back_loud, (mean + 3 * std).expand_as(magnitude), atol=1e-4)
    # a generator overshooting [-1, 1] cannot ask for more than mean + 3 std
    assert torch.allclose(normalize.inverse(torch.full_like(y, 5.0)), (mean + 3 * std).expand_as(y))


def test_normalize_refuses_use_before_fit_and_bad_input() -> None:
    normalize = Normalize(freq_bins=8)
    with pytest.raises(RuntimeError, match="no statistics"):
        normalize(torch.zeros(1, 1, 8, 4))
    with pytest.raises(ValueError, match="no batches"):
        normalize.fit([])
    with pytest.raises(ValueError, match="freq_bins=8, got 9"):
        normalize.fit([torch.zeros(1, 1, 9, 4)])
    with pytest.raises(ValueError, match="non-finite"):
        normalize.fit([torch.full((1, 1, 8, 4), float("nan"))])


def test_normalize_statistics_travel_in_the_state_dict(drums: torch.Tensor) -> None:
    chain = stft_logmag_chain(N_FFT, HOP_SAMPLES, LOOP_SAMPLES).fit([drums])
    fresh = stft_logmag_chain(N_FFT, HOP_SAMPLES, LOOP_SAMPLES)
    fresh.load_state_dict(chain.state_dict())
    assert torch.equal(fresh(drums), chain(drums))


def test_chain_fit_refuses_two_normalizers_in_series(drums: torch.Tensor) -> None:
    chain = Chain([GriffinLim(STFT(N_FFT, HOP_SAMPLES)), Normalize(513), Normalize(513)])
    with pytest.raises(ValueError, match="after another fittable"):
        chain.fit([drums])


# --- instantaneous frequency --------------------------------------------------------------

def test_instantaneous_frequency_to_phase_is_exact(noise_audio: torch.Tensor) -> None:
    phase = STFT(N_FFT, HOP_SAMPLES)(noise_audio).angle()
    block = InstantaneousFrequency()
    inst_freq = block(phase)
    assert inst_freq.min() >= -1.0 and inst_freq.max() <= 1.0
    error_rad = wrap_phase(block.inverse(inst_freq) - phase).abs().max()
    assert error_rad < 1e-4  # measured 1.6e-5 over 324 frames


def test_instantaneous_frequency_of_a_steady_partial_is_constant() -> None:
    """A sine exactly on bin 20 advances 2π·20·hop/n_fft per frame: constant IF after frame 0."""
    t = torch.arange(LOOP_SAMPLES, dtype=torch.float64)
    sine = torch.sin(2 * math.pi * 20 * t / N_FFT).float().reshape(1, 1, -1)
    inst_freq = InstantaneousFrequency()(STFT(N_FFT, HOP_SAMPLES)(sine).angle())[0, 0, 20, 3:-2]
    expected = wrap_phase(torch.tensor(2 * math.pi * 20 * HOP_SAMPLES / N_FFT)) / math.pi
    assert (inst_freq - expected).abs().max() < 1e-5  # measured 7e-7 (frames clear of the padded ends)


def test_stft_if_chain_audio_round_trip_is_exact(noise_audio: torch.Tensor, drums: torch.Tensor) -> None:
    chain = stft_if_chain(N_FFT, HOP_SAMPLES, LOOP_SAMPLES, normalize=False)
    assert chain.exact
    y = chain(noise_audio)
    assert y.shape == (3, 4, 513, 324)  # 2 log-magnitude planes, then 2 IF planes
    assert (chain.inverse(y) - noise_audio).abs().max() < 1e-4  # measured 6.4e-6
    assert (chain.inverse(chain(drums)) - drums).abs().max() < 1e-4  # measured 2.5e-6


def test_normalized_stft_if_chain_fits_only_the_magnitude_planes(drums: torch.Tensor) -> None:
    chain = stft_if_chain(N_FFT, HOP_SAMPLES, LOOP_SAMPLES).fit([drums])
    assert not chain.exact  # the ±3σ clip
    y = chain(drums)
    assert y.shape == (2, 2, 513, 324)
    assert y.min() >= -1.0 and y.max() <= 1.0
    # the IF planes pass through un-normalised
    assert torch.equal(y[:, 1:], InstantaneousFrequency()(STFT(N_FFT, HOP_SAMPLES)(drums).angle()))


# --- Griffin–Lim ------------------------------------------------------------------------------

def test_griffin_lim_converges_on_a_drum_loop(drums: torch.Tensor) -> None:
    stft = STFT(N_FFT, HOP_SAMPLES, length_samples=LOOP_SAMPLES)
    target = stft(drums[:1]).abs()
    convergence = {}
    for n_iter in (8, 16, 32):
        audio = GriffinLim(stft, n_iter=n_iter, momentum=0.99).inverse(target)
        assert audio.shape == (1, 1, LOOP_SAMPLES)
        convergence[n_iter] = spectral_convergence(target, stft(audio).abs())
    assert (convergence[32] < 0.1).all()  # measured 0.061
    assert (convergence[32] < convergence[16]).all() and (convergence[16] < convergence[8]).all()
    plain = GriffinLim(stft, n_iter=32, momentum=0.0).inverse(target)
    assert (convergence[32] < spectral_convergence(target, stft(plain).abs())).all()  # fast GL: 0.061 vs 0.15


def test_griffin_lim_zero_init_is_deterministic_and_random_init_is_seeded(drums: torch.Tensor) -> None:
    stft = STFT(N_FFT, HOP_SAMPLES, length_samples=LOOP_SAMPLES)
    target = stft(drums[:1]).abs()
    assert torch.equal(GriffinLim(stft, n_iter=2).inverse(target), GriffinLim(stft, n_iter=2).inverse(target))
    first = GriffinLim(stft, n_iter=2, init="random", seed=5).inverse(target)
    assert torch.equal(first, GriffinLim(stft, n_iter=2, init="random", seed=5).inverse(target))
    assert not torch.equal(first, GriffinLim(stft, n_iter=2, init="random", seed=6).inverse(target))


def test_stft_logmag_chain_shapes_and_reconstruction(drums: torch.Tensor) -> None:
    chain = stft_logmag_chain(N_FFT, HOP_SAMPLES, LOOP_SAMPLES, griffin_lim_iters=32).fit([drums])
    y = chain(drums)
    assert y.shape == (2, 1, 513, 324)
    audio = chain.inverse(y)
    assert audio.shape == drums.shape
    stft = STFT(N_FFT, HOP_SAMPLES)
    assert (spectral_convergence(stft(drums).abs(), stft(audio).abs()) < 0.15).all()  # measured 0.065


# --- mel ----------------------------------------------------------------------------------------

def test_mel_magnitude_round_trip_error_bound(drums: torch.Tensor) -> None:
    magnitude = STFT(N_FFT, HOP_SAMPLES)(drums).abs()
    mel = MelScale(SAMPLE_RATE_HZ, N_FFT, n_mels=128)
    mel_magnitude = mel(magnitude)
    assert mel_magnitude.shape == (2, 1, 128, 324)
    back = mel.inverse(mel_magnitude)
    assert back.min() >= 0.0
    relative = torch.linalg.vector_norm(back - magnitude) / torch.linalg.vector_norm(magnitude)
    assert relative < 0.2  # measured 0.12: detail within high mel bands is lost
    # ... but nothing a mel spectrogram can see is lost: re-analysis gives the same mel rows
    mel_relative = torch.linalg.vector_norm(mel(back) - mel_magnitude) / torch.linalg.vector_norm(mel_magnitude)
    assert mel_relative < 1e-3  # measured 3e-5


def test_mean_weighted_mel_keeps_instantaneous_frequency_in_range() -> None:
    mel = MelScale(SAMPLE_RATE_HZ, N_FFT, n_mels=64, weighting="mean", clamp_min=-1.0, clamp_max=1.0)
    assert torch.allclose(mel.weights.sum(dim=1), torch.ones(64))
    inst_freq = torch.rand(1, 1, 513, 5) * 2 - 1
    assert mel(inst_freq).abs().max() <= 1.0
    assert mel.inverse(mel(inst_freq) * 3).abs().max() <= 1.0


def test_mel_if_chain_shapes_and_approximate_reconstruction(drums: torch.Tensor) -> None:
    chain = mel_if_chain(N_FFT, HOP_SAMPLES, 256, SAMPLE_RATE_HZ, LOOP_SAMPLES).fit([drums])
    assert not chain.exact
    y = chain(drums)
    assert y.shape == (2, 2, 256, 324)
    assert y.min() >= -1.0 and y.max() <= 1.0
    audio = chain.inverse(y)
    assert audio.shape == drums.shape
    stft = STFT(N_FFT, HOP_SAMPLES)
    convergence = spectral_convergence(stft(drums).abs(), stft(audio).abs())
    assert (convergence < 0.3).all()  # measured 0.16 with 256 mels on 513 bins


# --- composition, config, export --------------------------------------------------------------

def test_parallel_needs_divisible_channels() -> None:
    with pytest.raises(ValueError, match="divisible by 2"):
        Parallel([LogMagnitude(), InstantaneousFrequency()])(torch.zeros(1, 3, 4, 4))


@pytest.mark.parametrize("kind, drop_nyquist, planes, rows", [
    ("waveform", False, 1, None), ("stft_logmag", False, 1, 513), ("stft_logmag", True, 1, 512),
    ("stft_if", False, 2, 513), ("stft_if", True, 2, 512), ("mel_if", False, 2, 256)])
def test_build_chain_gives_each_kind_its_shape(drums: torch.Tensor, kind: str, drop_nyquist: bool, planes: int,
                                               rows: int | None) -> None:
    config = RepresentationConfig.from_dict({"kind": kind, "n_fft": N_FFT, "hop_samples": HOP_SAMPLES,
                                             "griffin_lim_iters": 1, "drop_nyquist": drop_nyquist})
    chain = build_chain(config, SAMPLE_RATE_HZ, LOOP_SAMPLES).fit([drums])
    y = chain(drums)
    assert y.shape == ((2, 1, LOOP_SAMPLES) if rows is None else (2, planes, rows, 324))
    assert chain.inverse(y).shape == drums.shape
    assert RepresentationConfig.from_dict(config.to_dict()) == config


def test_representation_config_names_bad_keys_and_kinds() -> None:
    with pytest.raises(ValueError, match="'n_ffts'"):
        RepresentationConfig.from_dict({"n_ffts": 1024})
    with pytest.raises(ValueError, match="'gansynth'"):
        RepresentationConfig(kind="gansynth")


def test_spectral_inverses_export_to_onnx_and_run_in_onnxruntime(tmp_path) -> None:
    """The exact IF path and Griffin–Lim, as a synthesis graph would carry them (one export, both)."""
    length_samples = 2048
    audio = torch.randn(1, 1, length_samples, generator=torch.Generator().manual_seed(0)) * 0.3
    chains = [use_exportable_inverse(build_chain(RepresentationConfig(kind=kind, n_fft=256, hop_samples=64,
                                                                      griffin_lim_iters=2),
                                                 SAMPLE_RATE_HZ, length_samples)).fit([audio])
              for kind in ("stft_if", "stft_logmag")]

    class Synthesis(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.chains = torch.nn.ModuleList(chains)

        def forward(self, if_planes: torch.Tensor, logmag_planes: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return self.chains[0].inverse(if_planes), self.chains[1].inverse(logmag_planes)

    inputs = tuple(chain(audio) for chain in chains)
    path = tmp_path / "synthesis.onnx"
    torch.onnx.export(Synthesis().eval(), inputs, dynamo=True, opset_version=18, optimize=False,
                      verbose=False).save(str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {arg.name: x.numpy() for arg, x in zip(session.get_inputs(), inputs)})
    for chain, x, out in zip(chains, inputs, outputs):
        assert np.abs(out - chain.inverse(x).numpy()).max() < 1e-4  # measured about 1e-6
