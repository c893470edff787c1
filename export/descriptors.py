"""Audio descriptors of one loop: what a listener would say about it, as numbers.

Used twice: to name latent directions (which descriptor a knob moves) and to compare
generated loops with real ones (``ganloops eval``). Needs numpy and librosa only (no
torch), and works at any sample rate from about 1 kHz up.

A loop is periodic: it plays over and over, so its end runs into its start. Every
analysis here treats it as a circle: frames that cross the loop point take their samples
from both ends, so the first downbeat is an onset (it follows the loop's tail, not
silence) and no edge effect pretends the loop starts or ends quietly.

The five musical descriptors (``DESCRIPTOR_NAMES``, each name carrying its unit):

- ``rms_db``: loudness, the RMS level in dBFS (a full-scale sine is -3.01 dB; silence is
  floored at ``SILENCE_DB``);
- ``spectral_centroid_hz``: brightness, the centre of mass of the loop's average
  magnitude spectrum;
- ``onset_rate_hz``: density, detected onsets per second;
- ``low_band_share_db``: low end, the share of the power below ``LOW_BAND_EDGE_HZ``
  (kick and bass), in dB (0 dB: all of it; floored at ``LOW_BAND_FLOOR_DB``);
- ``spectral_flatness``: noise vs tone, 0 (pure tones) .. 1 (white noise), the mean over
  the loop's non-silent frames of the geometric over the arithmetic mean of the power
  spectrum (white noise reads about 0.56 with these frames).

And two loop-specific ones (``loop_report``):

- **grid adherence**: the share of detected onsets within ``GRID_TOLERANCE_SECONDS`` of
  the 16th-note grid at the loop's tempo, the grid anchored at the loop start;
- **seam continuity**: the jump at the loop point |x[0] - x[-1]| over the mean
  sample-to-sample change inside the loop, and the spectral change between the frame
  that ends the loop and the one that starts it over the mean change between adjacent
  frames inside it. A loop whose seam is like any other point reads about 1.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import librosa
import numpy as np

DESCRIPTOR_NAMES: tuple[str, ...] = (
    "rms_db", "spectral_centroid_hz", "onset_rate_hz", "low_band_share_db", "spectral_flatness")
"""The musical descriptors, in the order of ``Descriptors.vector()``."""

DESCRIPTOR_LABELS: dict[str, str] = {
    "rms_db": "loudness",
    "spectral_centroid_hz": "brightness",
    "onset_rate_hz": "density",
    "low_band_share_db": "low-end",
    "spectral_flatness": "noise",
}
"""What each descriptor is called on a knob."""

DESCRIPTOR_FLOORS: dict[str, float] = {
    "rms_db": 0.5,
    "spectral_centroid_hz": 25.0,
    "onset_rate_hz": 0.25,
    "low_band_share_db": 0.5,
    "spectral_flatness": 0.01,
}
"""Smallest spread a descriptor is divided by when descriptors are compared on one scale
(direction effects, diversity): changes well below these are not heard."""

SILENCE_DB = -120.0
"""Floor of ``rms_db`` (digital silence reads this, not minus infinity)."""
LOW_BAND_EDGE_HZ = 150.0
"""Upper edge of the "low end" (kick fundamentals, sub and bass)."""
LOW_BAND_FLOOR_DB = -80.0
"""Floor of ``low_band_share_db`` (a loop with no low end at all)."""
FRAME_SECONDS = 0.023
"""Analysis frame, rounded to a power of two in samples (512 at 22050 Hz)."""
MIN_FRAME_SAMPLES = 16
FLATNESS_GATE_DB = 60.0
"""Frames more than this below the loudest frame are silence: left out of the flatness."""
SPECTRUM_RANGE_DB = 80.0
"""Log spectra are floored this far below the loop's loudest bin (seam measure)."""
GRID_STEPS_PER_BEAT = 4
"""The grid is the 16th-note grid: four steps per beat."""
GRID_TOLERANCE_SECONDS = 0.020
"""An onset within this distance of a grid step counts as on the grid."""
ATTACK_WINDOW_SECONDS = 0.001
"""Energy window after a candidate attack sample (1 ms, at least MIN_ATTACK_WINDOW_SAMPLES)."""
MIN_ATTACK_WINDOW_SAMPLES = 4
ATTACK_BASELINE_SECONDS = 0.010
"""Energy window before a candidate attack sample: long enough that a bass tone's zero
crossings do not look like silence before an attack."""
ONSET_WAIT_SECONDS = 0.030
"""Two onsets closer than this count as one."""
ONSET_THRESHOLD_DB = 1.5
"""A flux peak is an onset when it rises this much (dB, mean over bins) above the flux's local mean."""


class DescriptorError(ValueError):
    """Audio that cannot be described (wrong shape, empty, NaN); one line naming the culprit."""


@dataclass(frozen=True)
class Descriptors:
    """The five musical descriptors of one loop (see the module docstring)."""

    rms_db: float
    spectral_centroid_hz: float
    onset_rate_hz: float
    low_band_share_db: float
    spectral_flatness: float

    def vector(self) -> np.ndarray:
        """The descriptors as float64 [5], in ``DESCRIPTOR_NAMES`` order."""
        return np.array([getattr(self, name) for name in DESCRIPTOR_NAMES], dtype=np.float64)


@dataclass(frozen=True)
class LoopReport:
    """Everything ``ganloops eval`` measures on one loop."""

    descriptors: Descriptors
    onset_count: int
    on_grid_count: int
    seam_jump_ratio: float
    seam_spectral_ratio: float

    @property
    def grid_adherence(self) -> float:
        """Share of onsets on the 16th grid, NaN for a loop without onsets."""
        return self.on_grid_count / self.onset_count if self.onset_count else math.nan

    def to_json(self) -> dict[str, float | int]:
        return {**asdict(self.descriptors), "onset_count": self.onset_count, "on_grid_count": self.on_grid_count,
                "seam_jump_ratio": self.seam_jump_ratio, "seam_spectral_ratio": self.seam_spectral_ratio}


# ---------------------------------------------------------------------------------------
# Input and framing
# ---------------------------------------------------------------------------------------


def to_mono(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """[samples] or [channels, samples] -> float64 [samples] (the channels' mean)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1:
        raise DescriptorError(f"{name}: expected [samples] or [channels, samples], got shape {list(np.shape(audio))}")
    if x.size < 4 * MIN_FRAME_SAMPLES:
        raise DescriptorError(f"{name}: {x.size} samples is too short to describe (need {4 * MIN_FRAME_SAMPLES})")
    if not np.isfinite(x).all():
        raise DescriptorError(f"{name}: holds NaN or infinite samples")
    return x


def _check_rate(sample_rate_hz: float) -> None:
    if not (isinstance(sample_rate_hz, (int, float)) and math.isfinite(sample_rate_hz) and sample_rate_hz > 0):
        raise DescriptorError(f"sample_rate_hz: expected a positive number, got {sample_rate_hz!r}")


def frame_samples(sample_rate_hz: float) -> int:
    """The analysis frame in samples: ``FRAME_SECONDS`` rounded to a power of two."""
    _check_rate(sample_rate_hz)
    exact = FRAME_SECONDS * sample_rate_hz
    return max(MIN_FRAME_SAMPLES, 2 ** int(round(math.log2(max(exact, 1.0)))))


def circular_frames(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """[count, frame] Hann-windowed frames centred on 0, hop, 2*hop, ... < len(x), wrapping at the ends."""
    count = math.ceil(x.size / hop)
    half = frame // 2
    needed = (count - 1) * hop + frame
    padded = np.take(x, np.arange(-half, needed - half), mode="wrap")
    frames = librosa.util.frame(padded, frame_length=frame, hop_length=hop, axis=0)[:count]
    return frames * np.hanning(frame + 1)[:frame]   # periodic Hann


def power_spectrogram(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """Power spectra [frames, frame // 2 + 1] of the circular frames."""
    return np.abs(np.fft.rfft(circular_frames(x, frame, hop), axis=1)) ** 2


# ---------------------------------------------------------------------------------------
# The musical descriptors
# ---------------------------------------------------------------------------------------


def rms_db(x: np.ndarray) -> float:
    """RMS level in dBFS (20 log10 of the RMS; 1.0 is full scale), floored at SILENCE_DB."""
    rms = float(np.sqrt(np.mean(np.square(x))))
    return max(SILENCE_DB, 20.0 * math.log10(rms)) if rms > 0 else SILENCE_DB


def spectral_centroid_hz(power: np.ndarray, sample_rate_hz: float) -> float:
    """Centre of mass of the summed magnitude spectrum (0 Hz for silence).

    Summing magnitudes over frames first is the same as averaging each frame's centroid
    weighted by the frame's magnitude, so quiet frames do not count as much as loud ones.
    """
    magnitude = np.sqrt(power).sum(axis=0)
    total = float(magnitude.sum())
    if total <= 0:
        return 0.0
    freqs_hz = np.fft.rfftfreq(2 * (power.shape[1] - 1), d=1.0 / sample_rate_hz)
    return float(np.dot(freqs_hz, magnitude) / total)


def low_band_share_db(x: np.ndarray, sample_rate_hz: float, edge_hz: float = LOW_BAND_EDGE_HZ) -> float:
    """10 log10(power below `edge_hz` / all power), from the whole loop's spectrum.

    The loop is periodic, so one FFT over all of it is exact (no window) and resolves
    1 / loop_seconds in frequency. DC is left out: an offset is not bass.
    """
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs_hz = np.fft.rfftfreq(x.size, d=1.0 / sample_rate_hz)
    total = float(power[1:].sum())
    low = float(power[1:][freqs_hz[1:] < edge_hz].sum())
    if total <= 0 or low <= 0:
        return LOW_BAND_FLOOR_DB
    return max(LOW_BAND_FLOOR_DB, 10.0 * math.log10(low / total))


def spectral_flatness(power: np.ndarray, gate_db: float = FLATNESS_GATE_DB) -> float:
    """Mean over non-silent frames of geometric / arithmetic mean of the power spectrum (DC left out).

    A silent loop reads 1.0, as librosa's flatness does for silence.
    """
    p = power[:, 1:]
    energy = p.sum(axis=1)
    loudest = float(energy.max())
    if loudest <= 0:
        return 1.0
    keep = energy >= loudest * 10.0 ** (-gate_db / 10.0)
    p = np.maximum(p[keep], loudest * 1e-20)
    flatness = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)
    return float(np.mean(flatness))


# ---------------------------------------------------------------------------------------
# Onsets
# ---------------------------------------------------------------------------------------


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Circular mean of x over [n, n + width) for every n."""
    c = np.concatenate([[0.0], np.cumsum(np.concatenate([x, x[:width]]))])
    return (c[width:width + x.size] - c[:x.size]) / width


def onset_times_seconds(x: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Onset times in [0, loop_seconds), sorted, each placed on its attack.

    1. Spectral flux: frames of ``frame_samples`` every frame/8 samples, power spectra
       in dB (floored ``SPECTRUM_RANGE_DB`` below the loop's loudest bin), the rise from
       the previous frame averaged over the bins (dB).
    2. Peaks of the flux, picked with librosa's ``peak_pick`` and the time constants of
       its ``onset_detect`` (local maximum over 30 ms, ``ONSET_WAIT_SECONDS`` apart),
       that rise ``ONSET_THRESHOLD_DB`` above the flux's mean over the surrounding
       0.1 s. The threshold is absolute, not relative to the loudest peak, so a steady
       tone or steady noise has no onsets. The envelope is extended circularly, so an
       onset at the loop start is found, and found once.
    3. A flux peak says an attack entered the frame somewhere; the attack itself is the
       sample where the 1 ms energy rises most steeply in dB, searched over the frame
       that peaked and the hop before it. Frame-level peaks alone are early by up to half
       a frame (12 ms at 22050 Hz) on sharp attacks, which matters at a 20 ms tolerance;
       placed on the attack, a click is found on its sample.
    """
    _check_rate(sample_rate_hz)
    frame = frame_samples(sample_rate_hz)
    hop = max(1, frame // 8)
    power = power_spectrogram(x, frame, hop)
    peak = float(power.max())
    if peak <= 0:
        return np.zeros(0)
    log_db = 10.0 * np.log10(np.maximum(power / peak, 10.0 ** (-SPECTRUM_RANGE_DB / 10.0)))
    flux = np.maximum(0.0, log_db - np.roll(log_db, 1, axis=0)).mean(axis=1)   # circular: frame 0 follows the last
    frames_count = flux.size

    frame_rate = sample_rate_hz / hop
    wait = max(1, int(round(ONSET_WAIT_SECONDS * frame_rate)))
    pre_avg = max(1, int(round(0.10 * frame_rate)))
    margin = min(frames_count, 2 * (pre_avg + wait))
    extended = np.concatenate([flux[-margin:], flux, flux[:margin]])
    peaks = librosa.util.peak_pick(extended, pre_max=max(1, int(round(0.03 * frame_rate))), post_max=1,
                                   pre_avg=pre_avg, post_avg=max(1, int(round(0.10 * frame_rate))) + 1,
                                   delta=ONSET_THRESHOLD_DB, wait=wait)
    peaks = peaks - margin
    peaks = np.unique(peaks[(peaks >= 0) & (peaks < frames_count)])
    if peaks.size == 0:
        return np.zeros(0)

    after = max(MIN_ATTACK_WINDOW_SAMPLES, int(round(ATTACK_WINDOW_SECONDS * sample_rate_hz)))
    before = max(2 * after, int(round(ATTACK_BASELINE_SECONDS * sample_rate_hz)))
    slope_energy = np.square(x - np.roll(x, 1))                        # first difference: attacks, not bass
    energy_after = _moving_mean(slope_energy, after)                   # over [n, n + after)
    energy_before = np.roll(_moving_mean(slope_energy, before), before)  # over [n - before, n)
    floor = max(float(energy_after.max()) * 1e-12, 1e-30)
    rise_db = 10.0 * np.log10((energy_after + floor) / (energy_before + floor))
    attacks = []
    for p in peaks:
        centre = p * hop
        search = np.arange(centre - frame // 2 - hop, centre + frame // 2 + 1)
        rise = rise_db[search % x.size]
        first = int(np.argmax(rise))
        last = first   # after a silence the rise is flat for `width` samples up to the attack: take its end
        while last + 1 < rise.size and rise[last + 1] >= rise[first] - 0.01:
            last += 1
        attacks.append(search[last] % x.size)
    times = np.unique(np.array(attacks)) / sample_rate_hz
    return _merge_close(np.sort(times), ONSET_WAIT_SECONDS, x.size / sample_rate_hz)


def _merge_close(times: np.ndarray, gap_seconds: float, loop_seconds: float) -> np.ndarray:
    """Drop onsets closer than `gap_seconds` to the previous one (around the loop point too)."""
    kept: list[float] = []
    for t in times:
        if not kept or t - kept[-1] >= gap_seconds:
            kept.append(float(t))
    if len(kept) > 1 and kept[0] + loop_seconds - kept[-1] < gap_seconds:
        kept.pop()
    return np.array(kept)


def grid_distance_seconds(times_seconds: np.ndarray, bpm: float,
                          steps_per_beat: int = GRID_STEPS_PER_BEAT) -> np.ndarray:
    """Distance of each time to the nearest step of the grid anchored at 0 (16th notes by default)."""
    if not (math.isfinite(bpm) and bpm > 0):
        raise DescriptorError(f"bpm: expected a positive tempo, got {bpm!r}")
    step = 60.0 / bpm / steps_per_beat
    t = np.asarray(times_seconds, dtype=np.float64)
    return np.abs(t - np.round(t / step) * step)


def grid_chance_share(bpm: float, tolerance_seconds: float = GRID_TOLERANCE_SECONDS,
                      steps_per_beat: int = GRID_STEPS_PER_BEAT) -> float:
    """Share of randomly placed onsets that would land on the grid: 2 * tolerance / step."""
    step = 60.0 / bpm / steps_per_beat
    return min(1.0, 2.0 * tolerance_seconds / step)


# ---------------------------------------------------------------------------------------
# The seam
# ---------------------------------------------------------------------------------------


def seam_jump_ratio(x: np.ndarray) -> float:
    """|x[0] - x[-1]| over the mean |x[n+1] - x[n]| inside the loop.

    For a seamless loop the seam is one more sample step drawn from the same
    distribution, so the ratio averages 1 over many loops; a click at the loop point
    makes it large. Silence and DC read 1.
    """
    jump = abs(float(x[0] - x[-1]))
    typical = float(np.mean(np.abs(np.diff(x))))
    eps = 1e-12
    return (jump + eps) / (typical + eps)


def seam_spectral_ratio(x: np.ndarray, sample_rate_hz: float) -> float:
    """Spectral change across the loop point over the mean change between adjacent frames inside.

    The loop is cut into back-to-back frames on a grid anchored at the loop point; the
    change between two adjacent frames is the mean absolute difference of their log
    spectra (dB, floored ``SPECTRUM_RANGE_DB`` below the loop's loudest bin). The seam
    pair is the last frame and the first; the others are the pairs inside the loop.
    Many real loops start on a downbeat, which makes their own ratio above 1: compare
    with real loops rather than with 1.
    """
    frame = frame_samples(sample_rate_hz)
    count = x.size // frame
    if count < 3:
        raise DescriptorError(f"audio: {x.size} samples hold fewer than 3 frames of {frame}; "
                              f"too short for the seam measure")
    window = np.hanning(frame + 1)[:frame]
    frames = [x[-frame:]] + [x[i * frame:(i + 1) * frame] for i in range(count)]
    power = np.abs(np.fft.rfft(np.stack(frames) * window, axis=1)) ** 2
    peak = float(power.max())
    if peak <= 0:
        return 1.0
    log_db = 10.0 * np.log10(np.maximum(power / peak, 10.0 ** (-SPECTRUM_RANGE_DB / 10.0)))
    changes = np.mean(np.abs(np.diff(log_db, axis=0)), axis=1)   # changes[0]: last frame -> first
    seam, inside = float(changes[0]), float(np.mean(changes[1:]))
    eps = 1e-6
    return (seam + eps) / (inside + eps)


# ---------------------------------------------------------------------------------------
# Everything about one loop
# ---------------------------------------------------------------------------------------


def describe(audio: np.ndarray, sample_rate_hz: float, *, name: str = "audio") -> Descriptors:
    """The five musical descriptors of one loop ([samples] or [channels, samples])."""
    x = to_mono(audio, name)
    return _describe_mono(x, sample_rate_hz, onset_times_seconds(x, sample_rate_hz))


def _describe_mono(x: np.ndarray, sample_rate_hz: float, onsets: np.ndarray) -> Descriptors:
    frame = frame_samples(sample_rate_hz)
    power = power_spectrogram(x, frame, frame // 2)
    return Descriptors(
        rms_db=rms_db(x),
        spectral_centroid_hz=spectral_centroid_hz(power, sample_rate_hz),
        onset_rate_hz=onsets.size / (x.size / sample_rate_hz),
        low_band_share_db=low_band_share_db(x, sample_rate_hz),
        spectral_flatness=spectral_flatness(power),
    )


def loop_report(audio: np.ndarray, sample_rate_hz: float, bpm: float, *, name: str = "audio",
                tolerance_seconds: float = GRID_TOLERANCE_SECONDS) -> LoopReport:
    """Descriptors, grid adherence and seam continuity of one loop."""
    x = to_mono(audio, name)
    onsets = onset_times_seconds(x, sample_rate_hz)
    on_grid = int(np.sum(grid_distance_seconds(onsets, bpm) <= tolerance_seconds))
    return LoopReport(descriptors=_describe_mono(x, sample_rate_hz, onsets), onset_count=int(onsets.size),
                      on_grid_count=on_grid, seam_jump_ratio=seam_jump_ratio(x),
                      seam_spectral_ratio=seam_spectral_ratio(x, sample_rate_hz))
