"""Signal processing for loops and the master bus, in numpy (and soxr for resampling).

Everything a loop goes through between the model and the speakers that is not a gain:

- ``resample``: model rate -> device rate, circularly, so a loop stays a seamless loop;
- ``adapt_tempo``: model tempo -> session tempo, keeping pitch ("stretch", a circular
  WSOLA whose transients are pinned to the scaled grid) or not ("varispeed");
- ``equal_power``: the crossfade gains used whenever one loop replaces another;
- ``Limiter``: the master limiter, so the output never exceeds its ceiling;
- ``integrated_loudness_lufs``: ITU-R BS.1770-4 loudness for ``ganloops bounce --lufs``.

Layouts: a *loop* is ``[channels, samples]`` (as ``Bundle.synthesize`` returns it), a
*block* or a *recording* is ``[frames, channels]`` (as sound cards and soundfile use it).

Why circular everywhere: a loop's last sample is followed by its first. Any filter or
overlap-add that treats the ends as edges (zero padding, one-sided windows) leaves a click
at the seam on every repeat, so every transform here wraps the loop around itself before
processing and trims afterwards.

Nothing here runs inside the audio callback except what the engine chooses to call there;
``Limiter.process`` is allocation-free for blocks up to its preallocated size for that reason.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import soxr

__all__ = [
    "resample",
    "adapt_tempo",
    "equal_power",
    "Limiter",
    "integrated_loudness_lufs",
    "momentary_loudness_lufs",
    "k_weighting_coefficients",
    "TEMPO_MODES",
]

TEMPO_MODES: tuple[str, ...] = ("stretch", "varispeed")

# soxr's "VHQ" filter reaches about 180 output samples either side at 1.5x; wrapping this
# many input samples (at least) around each end leaves the middle bit-identical to
# resampling an endless repetition of the loop.
_RESAMPLE_MIN_PAD_SAMPLES = 2048

# WSOLA: frames of 40 ms (two periods of a 50 Hz bass), 50 % overlap, and a search of
# +-10 ms, enough to line up any period down to 50 Hz.
_WSOLA_FRAME_SECONDS = 0.040
_WSOLA_TOLERANCE_SECONDS = 0.010
# Onsets: envelope hop, how far back the "before" level is measured, how much louder the
# onset must be, and the least distance between two onsets.
_ONSET_HOP_SECONDS = 0.001
_ONSET_HISTORY_SECONDS = 0.020
_ONSET_RISE_DB = 9.0
_ONSET_MIN_GAP_SECONDS = 0.030

# BS.1770-4
_LUFS_OFFSET_DB = -0.691
_LUFS_BLOCK_SECONDS = 0.4
_LUFS_STEP_SECONDS = 0.1
_LUFS_ABSOLUTE_GATE = -70.0
_LUFS_RELATIVE_GATE_DB = -10.0


def _check_loop(loop: np.ndarray, name: str = "loop") -> np.ndarray:
    array = np.asarray(loop)
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"{name}: expected shape [channels, samples], got {list(array.shape)}")
    return array


def _wrap(loop: np.ndarray, pad_samples: int) -> np.ndarray:
    """The loop with `pad_samples` of its end before it and of its start after it (any length)."""
    n = loop.shape[1]
    index = np.arange(-pad_samples, n + pad_samples) % n
    return loop[:, index]


# ---------------------------------------------------------------------------------------
# Resampling
# ---------------------------------------------------------------------------------------


def _resample_to_length(loop: np.ndarray, out_samples: int) -> np.ndarray:
    """Resample one period of a periodic signal to exactly `out_samples` samples (ratio m/n).

    The ratio used is exactly out/in, so the result is one period of the resampled endless
    signal: seamless. The loop is wrapped by a multiple of n/gcd(n, m) input samples, which
    maps to a whole number of output samples, so trimming cuts exactly one period.
    """
    n = loop.shape[1]
    m = int(out_samples)
    if m < 1:
        raise ValueError(f"resample: a loop of {n} samples would become {m} samples")
    if m == n:
        return np.array(loop, dtype=np.float32, copy=True)
    step_in = n // math.gcd(n, m)
    need = max(_RESAMPLE_MIN_PAD_SAMPLES, int(math.ceil(_RESAMPLE_MIN_PAD_SAMPLES * n / m)))
    pad_in = step_in * int(math.ceil(need / step_in))
    pad_out = pad_in * m // n
    padded = np.ascontiguousarray(_wrap(loop, pad_in).T, dtype=np.float32)  # [frames, ch]
    out = soxr.resample(padded, n, m, quality="VHQ")
    if out.ndim == 1:
        out = out[:, None]
    return np.ascontiguousarray(out[pad_out:pad_out + m].T, dtype=np.float32)


def resample(loop: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """A loop [channels, n] at `from_hz` as a seamless loop of round(n * to_hz / from_hz) samples at `to_hz`.

    soxr "VHQ", applied circularly. When n * to_hz / from_hz is not a whole number the loop
    is resampled by the ratio of the two lengths instead (off by under half a sample per
    loop, a few ppm), because a loop must be a whole number of samples to repeat seamlessly.
    """
    array = _check_loop(loop)
    if from_hz <= 0 or to_hz <= 0:
        raise ValueError(f"resample: sample rates must be positive, got {from_hz} Hz -> {to_hz} Hz")
    n = array.shape[1]
    return _resample_to_length(array, int(round(n * to_hz / from_hz)))


# ---------------------------------------------------------------------------------------
# Tempo
# ---------------------------------------------------------------------------------------


def adapt_tempo(loop: np.ndarray, from_bpm: float, to_bpm: float, sample_rate_hz: int,
                mode: str = "stretch") -> np.ndarray:
    """A loop [channels, n] at `from_bpm` as a seamless loop of round(n * from_bpm / to_bpm) samples.

    "stretch" keeps the pitch: circular WSOLA (waveform-similarity overlap-add) whose
    frames are pinned wherever an onset falls, so every transient lands on the scaled grid
    (its position times the tempo ratio) instead of drifting by the search tolerance.
    "varispeed" resamples: pitch follows tempo, like a turntable's pitch fader.
    """
    array = _check_loop(loop)
    if mode not in TEMPO_MODES:
        raise ValueError(f"tempo mode: expected one of {', '.join(TEMPO_MODES)}, got {mode!r}")
    if not (math.isfinite(from_bpm) and math.isfinite(to_bpm) and from_bpm > 0 and to_bpm > 0):
        raise ValueError(f"tempo: BPM must be positive and finite, got {from_bpm} -> {to_bpm}")
    n = array.shape[1]
    m = int(round(n * from_bpm / to_bpm))
    if m < 1:
        raise ValueError(f"tempo: a loop of {n} samples at {from_bpm} BPM -> {to_bpm} BPM would be empty")
    if m == n:
        return np.array(array, dtype=np.float32, copy=True)
    if mode == "varispeed":
        return _resample_to_length(array, m)
    return _wsola_circular(array.astype(np.float32, copy=False), m, int(sample_rate_hz))


def detect_onsets(loop: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """Onsets of a loop [channels, n], circularly: (positions in samples, strengths in dB).

    A sharp rise of high-passed energy (first difference, so bass swells do not count) over
    the level of the preceding 20 ms; the position is refined to the first sample in the
    rising hop that reaches half of that hop's peak, so a click is located to the sample.
    """
    n = loop.shape[1]
    hop = max(1, int(round(_ONSET_HOP_SECONDS * sample_rate_hz)))
    env = np.abs(np.diff(loop, axis=1, prepend=loop[:, -1:])).sum(axis=0)  # circular: x[i] - x[i-1]
    hops = n // hop
    if hops < 4:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    power = (env[:hops * hop].reshape(hops, hop) ** 2).mean(axis=1) + 1e-12
    level_db = 10.0 * np.log10(power)
    history = max(1, int(round(_ONSET_HISTORY_SECONDS / _ONSET_HOP_SECONDS)))
    # mean power of the previous `history` hops, circularly
    cumsum = np.concatenate([[0.0], np.cumsum(np.concatenate([power[-history:], power]))])
    before = (cumsum[history:history + hops] - cumsum[:hops]) / history
    rise_db = level_db - 10.0 * np.log10(before)
    peak_floor = level_db.max() - 40.0  # ignore rises in near-silence (noise floor flicker)
    candidates = np.nonzero((rise_db >= _ONSET_RISE_DB) & (level_db >= peak_floor))[0]
    if candidates.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    # keep the strongest within each min-gap cluster
    min_gap_hops = max(1, int(round(_ONSET_MIN_GAP_SECONDS / _ONSET_HOP_SECONDS)))
    order = candidates[np.argsort(-rise_db[candidates], kind="stable")]
    taken: list[int] = []
    for h in order:
        if all(min(abs(h - t), hops - abs(h - t)) >= min_gap_hops for t in taken):
            taken.append(int(h))
    taken.sort()
    positions, strengths = [], []
    for h in taken:
        # the onset may begin in the hop before the one that crossed the threshold
        start = (h - 1) * hop
        segment_index = np.arange(start, start + 2 * hop) % n
        segment = env[segment_index]
        first = int(np.argmax(segment >= 0.5 * segment.max()))
        positions.append(int(segment_index[first]))
        strengths.append(float(rise_db[h]))
    return np.asarray(positions, dtype=np.int64), np.asarray(strengths)


def _wsola_circular(loop: np.ndarray, out_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Time-scale one period of a periodic signal to `out_samples` samples, pitch kept.

    Output frames (Hann, 50 % overlap) sit at K evenly spread centres around the circle of
    out_samples; frame k reads the input around centre_k * n / m, moved by up to the search
    tolerance to continue the previous frame's waveform (normalised cross-correlation) and,
    when the next frame is already fixed (an onset frame, or frame 0 at the seam), to lead
    into it as well. A frame that covers an onset is instead placed so the onset lands
    exactly at its scaled position (two onsets closer than a frame share one placement: the
    weaker lands within |1 - n/m| times their distance of its target). Overlap-add wraps around the circle and is divided by
    the summed windows, so the seam is overlap-added like every other junction.
    """
    channels, n = loop.shape
    m = out_samples
    alpha = n / m  # input samples per output sample
    frame = max(16, 2 * int(round(_WSOLA_FRAME_SECONDS * sample_rate_hz / 2)))
    half = frame // 2
    tolerance = max(1, int(round(_WSOLA_TOLERANCE_SECONDS * sample_rate_hz)))
    count = max(2, int(round(m / half)))
    centres_out = np.round(np.arange(count) * m / count).astype(np.int64)
    nominal_in = centres_out * alpha
    mono = loop.mean(axis=0).astype(np.float64)
    window = np.hanning(frame + 2)[1:-1]  # no zero end points

    onsets, strengths = detect_onsets(loop, sample_rate_hz)
    onsets_out = onsets * (m / n)
    reach = (half + tolerance) / alpha + 1.0

    # Frame centres in input samples (not wrapped; reading is modulo n). None = not chosen yet.
    chosen: list[float | None] = [None] * count
    for k in range(count):
        if onsets.size == 0:
            break
        # circular distance from the frame centre to each onset's target, in output samples
        offset = (onsets_out - centres_out[k] + m / 2) % m - m / 2
        # Any frame that could read the onset (its output span, widened by what the search
        # may shift it) is pinned to it: pinned, the onset lands on its target or, when the
        # target lies outside this frame, is not read at all; a free frame could copy it
        # a search tolerance early or late (an echo).
        inside = np.abs(offset) < reach
        if inside.any():
            # the strongest onset, weighted by how close it is to this frame's centre
            weight = strengths[inside] * np.cos(0.5 * np.pi * offset[inside] / reach) ** 2
            pick = int(np.argmax(weight))
            t_in = float(onsets[inside][pick])
            target = centres_out[k] + float(offset[inside][pick])  # output position (unwrapped)
            centre = t_in - (target - centres_out[k])
            # express near the nominal position (same winding of the circle)
            centre += n * round((nominal_in[k] - centre) / n)
            chosen[k] = centre
    if chosen[0] is None:
        chosen[0] = float(nominal_in[0])

    def segment(centre: float, length: int) -> np.ndarray:
        start = int(round(centre)) - length // 2
        return mono[np.arange(start, start + length) % n]

    span = frame + 2 * tolerance
    for k in range(1, count):
        if chosen[k] is not None:
            continue
        hop_out = int(centres_out[k] - centres_out[k - 1])
        candidates = segment(nominal_in[k], span)  # candidate frame j starts at j in 0..2*tol
        score = np.zeros(2 * tolerance + 1)
        previous = chosen[k - 1]
        assert previous is not None
        references = [segment(previous + hop_out, frame)]
        nxt = (k + 1) % count
        if chosen[nxt] is not None:
            hop_next = int((centres_out[nxt] - centres_out[k]) % m)
            references.append(segment(chosen[nxt] - hop_next, frame))
        running = np.concatenate([[0.0], np.cumsum(candidates ** 2)])
        energy = running[frame:] - running[:-frame]  # sum of squares of each candidate frame, 2*tol+1 of them
        norm = np.sqrt(np.maximum(energy, 1e-12))
        for reference in references:
            corr = _correlate_valid(candidates, reference * window)
            score += corr / norm
        chosen[k] = float(nominal_in[k]) - tolerance + float(np.argmax(score))

    # Overlap-add into a buffer one frame longer than the loop, then fold the overhang around.
    out = np.zeros((channels, m + frame), dtype=np.float64)
    weights = np.zeros(m + frame, dtype=np.float64)
    read_offsets = np.arange(frame) - half
    for k in range(count):
        centre = chosen[k]
        assert centre is not None
        read = (int(round(centre)) + read_offsets) % n
        start = (int(centres_out[k]) - half) % m
        out[:, start:start + frame] += loop[:, read] * window
        weights[start:start + frame] += window
    for extra in range(m, m + frame, m):  # once, unless the loop is shorter than a frame
        width = min(m, m + frame - extra)
        out[:, :width] += out[:, extra:extra + width]
        weights[:width] += weights[extra:extra + width]
    return (out[:, :m] / np.maximum(weights[:m], 1e-6)).astype(np.float32)


def _correlate_valid(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """sum_i signal[j + i] * kernel[i] for every j where the kernel fits (FFT based)."""
    size = len(signal) + len(kernel) - 1
    nfft = 1 << (size - 1).bit_length()
    spectrum = np.fft.rfft(signal, nfft) * np.conj(np.fft.rfft(kernel, nfft))
    full = np.fft.irfft(spectrum, nfft)
    return full[:len(signal) - len(kernel) + 1]


# ---------------------------------------------------------------------------------------
# Gains
# ---------------------------------------------------------------------------------------


def equal_power(t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in) = (cos, sin) of t * pi/2, t clipped to [0, 1].

    The two gains' squares sum to 1, so two uncorrelated loops crossfade at constant power
    (no dip in the middle, as a linear crossfade has).
    """
    phase = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0) * (np.pi / 2)
    return np.cos(phase), np.sin(phase)


class Limiter:
    """The master limiter: |output| never exceeds the ceiling; instant attack, smooth release.

    The gain reduction d = 1 - gain jumps at once to what the loudest sample of a frame
    (across channels) needs, and decays exponentially with `release_seconds` after it.
    That recursion, d[i] = max(need[i], a * d[i-1]), is a running maximum in the log domain,
    log d[i] = i log a + max_{j<=i}(log need[j] - j log a), so a whole block is processed with
    numpy's accumulate instead of a Python loop over samples. No look-ahead, so no latency:
    the price is that a sudden peak is clamped within its own sample (a hard knee), which is
    right for a safety limiter that should rarely act.

    `process` works in place and allocates nothing for blocks of up to `max_block_frames`
    frames (larger blocks are processed in chunks of that size). NaN and infinite samples
    become silence, so a broken render cannot wedge the limiter or the sound card.
    """

    def __init__(self, ceiling_db: float, sample_rate_hz: int, release_seconds: float = 0.1,
                 max_block_frames: int = 4096) -> None:
        if not math.isfinite(ceiling_db) or ceiling_db > 0.0:
            raise ValueError(f"limiter ceiling: expected a finite level <= 0 dBFS, got {ceiling_db} dB")
        if sample_rate_hz <= 0 or release_seconds <= 0 or max_block_frames <= 0:
            raise ValueError(f"limiter: sample rate, release and block size must be positive, got "
                             f"{sample_rate_hz} Hz, {release_seconds} s, {max_block_frames} frames")
        self.ceiling_db = float(ceiling_db)
        self.ceiling = float(10.0 ** (ceiling_db / 20.0))
        self.sample_rate_hz = int(sample_rate_hz)
        self.release_seconds = float(release_seconds)
        self._log_decay = -1.0 / (release_seconds * sample_rate_hz)  # log a, per sample
        self._reduction = 0.0  # d after the last processed frame
        self._capacity = int(max_block_frames)
        self._ramp = np.arange(1, self._capacity + 1, dtype=np.float64) * self._log_decay  # (i+1) log a
        self._work = np.empty(self._capacity, dtype=np.float64)
        self._work2 = np.empty(self._capacity, dtype=np.float64)
        self._magnitude = np.empty((self._capacity, 2), dtype=np.float64)

    def _magnitude_buffer(self, channels: int) -> np.ndarray:
        """|block| scratch space; reallocated only when the channel count changes."""
        if self._magnitude.shape[1] != channels:
            self._magnitude = np.empty((self._capacity, channels), dtype=np.float64)
        return self._magnitude

    @property
    def gain_reduction_db(self) -> float:
        """Current gain reduction in dB (0 when idle, negative while limiting), for meters."""
        return 20.0 * math.log10(max(1.0 - self._reduction, 1e-12))

    def reset(self) -> None:
        self._reduction = 0.0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit a block [frames, channels] (float) in place, and return it."""
        if block.ndim != 2:
            raise ValueError(f"limiter: expected a block [frames, channels], got shape {list(block.shape)}")
        frames = block.shape[0]
        for start in range(0, frames, self._capacity):
            self._process_chunk(block[start:start + self._capacity])
        return block

    def _process_chunk(self, block: np.ndarray) -> None:
        frames = block.shape[0]
        if frames == 0:
            return
        np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        peak = self._work[:frames]
        log_need = self._work2[:frames]
        ramp = self._ramp[:frames]
        magnitude = self._magnitude_buffer(block.shape[1])[:frames]
        np.abs(block, out=magnitude)
        np.max(magnitude, axis=1, out=peak)
        # need = 1 - ceiling / peak where peak > ceiling, else 0; kept as log(need) - (i+1) log a
        np.maximum(peak, self.ceiling, out=peak)
        np.divide(self.ceiling, peak, out=peak)
        np.subtract(1.0, peak, out=peak)
        with np.errstate(divide="ignore"):
            np.log(peak, out=log_need)
        np.subtract(log_need, ramp, out=log_need)
        # the state carried in: d_prev decays by a each frame -> log d_prev is the value at i = -1
        carried = math.log(self._reduction) if self._reduction > 0.0 else -math.inf
        if log_need[0] < carried:
            log_need[0] = carried
        np.maximum.accumulate(log_need, out=log_need)
        np.add(log_need, ramp, out=log_need)
        np.exp(log_need, out=log_need)  # d[i]
        self._reduction = float(log_need[-1])
        np.subtract(1.0, log_need, out=log_need)  # gain
        block *= log_need[:, None]
        # rounding can leave a sample a hair above the ceiling: the guarantee is absolute
        np.clip(block, -self.ceiling, self.ceiling, out=block)


# ---------------------------------------------------------------------------------------
# Loudness (ITU-R BS.1770-4)
# ---------------------------------------------------------------------------------------


def k_weighting_coefficients(sample_rate_hz: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The two K-weighting biquads ((b, a) shelf, (b, a) high-pass) for any sample rate.

    BS.1770 gives coefficients for 48 kHz only; these are the analogue prototypes behind
    them (as libebur128 derives them), bilinear-transformed, which reproduce the 48 kHz
    table to 1e-8 and extend it to other rates.
    """
    fs = float(sample_rate_hz)
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1.0 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return (shelf_b, shelf_a), (hp_b, hp_a)


@lru_cache(maxsize=8)
def _k_weighting_impulse(sample_rate_hz: int) -> np.ndarray:
    """The K-weighting filter's impulse response, long enough to have decayed below 1e-9.

    Taken from its frequency response on a fine grid (irfft), so no sample-by-sample
    recursion is needed. The slowest part is the 38 Hz high-pass (a double pole at radius
    0.995 at 48 kHz: below 1e-9 after about 0.1 s); 2 s of response on a grid four times
    longer leaves truncation and time aliasing far below anything a loudness reading shows.
    """
    (b1, a1), (b2, a2) = k_weighting_coefficients(sample_rate_hz)
    length = 1 << int(math.ceil(math.log2(2.0 * sample_rate_hz)))  # ~2 s
    nfft = 4 * length
    z = np.exp(-1j * np.pi * np.arange(nfft // 2 + 1) / (nfft // 2))  # e^{-jw}
    response = (np.polyval(b1[::-1], z) / np.polyval(a1[::-1], z)) * (np.polyval(b2[::-1], z) / np.polyval(a2[::-1], z))
    return np.fft.irfft(response, nfft)[:length]


def _k_weight(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """K-weighted [frames, channels] (float64), by overlap-add FFT convolution in chunks."""
    h = _k_weighting_impulse(sample_rate_hz)
    frames = audio.shape[0]
    chunk = 1 << 18
    nfft = 1 << int(math.ceil(math.log2(chunk + len(h) - 1)))
    h_spectrum = np.fft.rfft(h, nfft)[:, None]
    out = np.zeros((frames + len(h) - 1, audio.shape[1]), dtype=np.float64)
    for start in range(0, frames, chunk):
        part = audio[start:start + chunk].astype(np.float64)
        conv = np.fft.irfft(np.fft.rfft(part, nfft, axis=0) * h_spectrum, nfft, axis=0)
        length = len(part) + len(h) - 1
        out[start:start + length] += conv[:length]
    return out[:frames]


def _channel_weights(channels: int) -> np.ndarray:
    """BS.1770 channel weights: 1 for L, R, C; 1.41 for the surrounds; 0 for LFE (5.1 order)."""
    if channels == 5:
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


def integrated_loudness_lufs(audio: np.ndarray, sample_rate_hz: int) -> float:
    """Integrated loudness of `audio` [frames, channels] (or mono [frames]) in LUFS, BS.1770-4.

    K-weighting, mean square per channel over 400 ms blocks every 100 ms, channel weights,
    an absolute gate at -70 LUFS and a relative gate 10 LU below the loudness of the blocks
    above it. Audio shorter than one block is measured as a single block. Silence (or
    everything gated away) is -inf.
    """
    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"loudness: expected audio [frames, channels], got shape {list(np.shape(audio))}")
    if sample_rate_hz <= 0:
        raise ValueError(f"loudness: sample rate must be positive, got {sample_rate_hz} Hz")
    if not np.all(np.isfinite(array)):
        raise ValueError("loudness: audio holds NaN or infinite samples")
    weighted = _k_weight(array, sample_rate_hz) ** 2
    block = int(round(_LUFS_BLOCK_SECONDS * sample_rate_hz))
    step = int(round(_LUFS_STEP_SECONDS * sample_rate_hz))
    frames = weighted.shape[0]
    cumsum = np.concatenate([np.zeros((1, weighted.shape[1])), np.cumsum(weighted, axis=0)])
    if frames < block:
        power = (cumsum[-1] / frames)[None, :]
    else:
        starts = np.arange(0, frames - block + 1, step)
        power = (cumsum[starts + block] - cumsum[starts]) / block  # [blocks, channels]
    summed = power @ _channel_weights(array.shape[1])
    with np.errstate(divide="ignore"):
        loudness = _LUFS_OFFSET_DB + 10.0 * np.log10(summed)
    kept = summed[loudness > _LUFS_ABSOLUTE_GATE]
    if kept.size == 0:
        return -math.inf
    relative_gate = _LUFS_OFFSET_DB + 10.0 * math.log10(kept.mean()) + _LUFS_RELATIVE_GATE_DB
    with np.errstate(divide="ignore"):
        kept = kept[_LUFS_OFFSET_DB + 10.0 * np.log10(kept) > relative_gate]
    if kept.size == 0:
        return -math.inf
    return float(_LUFS_OFFSET_DB + 10.0 * math.log10(kept.mean()))


def momentary_loudness_lufs(audio: np.ndarray, sample_rate_hz: int, hop_seconds: float = 0.1) -> np.ndarray:
    """Momentary loudness (BS.1770 weighting, 400 ms windows, ungated) every `hop_seconds`, in LUFS.

    Window k covers [k * hop, k * hop + 400 ms); silent windows read -inf. Audio shorter than
    one window gives one value for all of it. For plots of loudness over time (a latent walk).
    """
    array = np.asarray(audio)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"loudness: expected audio [frames, channels], got shape {list(np.shape(audio))}")
    weighted = _k_weight(array, sample_rate_hz) ** 2
    block = min(int(round(_LUFS_BLOCK_SECONDS * sample_rate_hz)), weighted.shape[0])
    step = max(1, int(round(hop_seconds * sample_rate_hz)))
    cumsum = np.concatenate([np.zeros((1, weighted.shape[1])), np.cumsum(weighted, axis=0)])
    starts = np.arange(0, weighted.shape[0] - block + 1, step)
    power = ((cumsum[starts + block] - cumsum[starts]) / block) @ _channel_weights(array.shape[1])
    with np.errstate(divide="ignore"):
        return _LUFS_OFFSET_DB + 10.0 * np.log10(power)
