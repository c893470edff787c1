"""Tempo, beat grid and downbeat of a stretch of music, for slicing it into bar-aligned loops.

A loop dataset needs every loop to start on the first beat of a bar ("the one") and to
last a whole number of bars at one tempo. Electronic music is made on a clock, so one
steady grid per stretch of audio is the model; what has no such grid is refused, with a
one-line reason (`UnusableAudio`). For a mono signal, `analyse_beat_grid`:

1. **onsets**: computes onset-strength envelopes at a 5 ms hop: log-mel spectral flux over
   all bands (every hit counts), the flux of the linear power below 150 Hz (kick, bass) and
   in 2-6 kHz (snare, clap), and a chromagram (chords);
2. **tempo**: folds the onset envelope at every candidate beat period, in 0.05 BPM steps
   across the tempo window widened by 6 % (then 0.005 BPM around the best), and keeps the
   period whose folded profile has the tallest peak (`periodicity`, a beat-synchronous
   comb). A period 0.1 % off smears 30 beats by 3 % of a beat, so the scan is precise
   where an autocorrelation estimate is quantised to whole frames (1 % at 130 BPM and a
   5 ms hop), and syncopated kicks or swung sixteenths, which land off the beat every
   time, cannot drag it. The widened window lets music just outside it be measured (and
   refused) rather than smeared onto the window's edge. Half or double the window's
   tempo is the same grid; the window decides which level is "the beat";
3. **cross-rhythms**: music outside the window still has pulses inside it (at 90-109 BPM,
   a pulse every 3 sixteenths lands at 120-145). When a rival tempo (`RIVAL_TEMPI`)
   explains the onsets better than the window's pulse, and is itself a clear pulse, the
   audio is refused as off tempo, with the rival's tempo;
4. **pulse and steadiness**: the pulse clarity is the onset strength at the strongest
   phase of the beat over that at the median phase, with the whole stretch folded at its
   tempo; noise, drones, speech and garbage data stay below `min_pulse_clarity`. Every
   8 beats the tempo is scanned again: segment tempi that disagree by more than
   `max_tempo_change` mean a tempo ramp or a DJ transition. A ramp smears the fold of the
   whole stretch, so it is told from noise by its segments, each of which is clear;
5. **grid**: in windows of 4 beats, the beat is located as the offset (within a fifth of a
   beat of the grid) where the window's onsets pile up; a straight line through those
   offsets corrects phase and period, and the RMS of what it leaves is the jitter
   (`max_jitter_beats`: a tempo that wobbles by 1 %, rubato). Summing over a window's
   beats makes this indifferent to what happens between the beats;
6. **beat, then downbeat** (`choose_downbeat`), from the bar's eight eighth-note
   positions. The beat or the off-beat: the position where the kick lands and from which
   beats 2 and 4 carry the snare or clap (the broad flux alone often prefers loud off-beat
   hats). Which beat is the one: a kick present (hits within a factor 2 of the loudest all
   count, so only a real accent or a missing kick tells), the backbeat, and the chord
   change across the position (chroma of the half bar before against the half bar after:
   chords, bass notes and new sections change at the bar line, even when a house stab
   comes half a beat late). `BeatGrid.downbeat_contrast` says how clear the choice was;
7. **attacks** (`fit_attacks`): the flux places the grid some milliseconds after the hits,
   by an amount that depends on the sounds. The attack is found in the signal itself, as
   the offset where the power of the 8 ms after a point most exceeds that of the 8 ms
   before it (a ratio ignores how loud hit and background are, and it marks where the hit
   begins, not where a slow kick peaks), window by window, and a line through those
   offsets moves the grid onto them.

Refusals are checked in this order: too little audio or no onsets ("no beats"), a
cross-rhythm of a clear beat outside the window ("off tempo"), segment tempi that
disagree ("unsteady tempo"), no clear pulse ("no clear beat"), beats that stray from the
grid ("unsteady tempo"), a fitted tempo outside the window ("off tempo").

Measured (22.05 kHz; realistic tracks are 4 concatenated `synth.render_loop` renders of
2-bar loops, each with its own recorded Hydrogen kit, bass and chords, 13.7-15.7 s; the
render starts on a downbeat, so the bar starts are known):

=========================================  ========  ===========================================
material                                   tracks    result
=========================================  ========  ===========================================
techno, house, electro, breakbeat at        288      all accepted; tempo error <= 0.045 %
122-140 BPM, 12 compositions each                    (median 0.003 %); downbeats within 10 ms of
                                                     every bar start in 282 (97.9 %), median
                                                     0.4 ms, worst 5.4 ms
same, synthesized drum kit, 3 renders        24      all accepted and correct
white noise, random 8/16-bit PCM data         9      no clear beat (clarity 1.1-1.2)
drones (sine, sine fading in, chord)          3      no clear beat (clarity 1.3-4.5)
speech-like noise (syllable envelopes),      22      no clear beat (clarity 2.4-3.7)
12 and 15 s
ramps over 4 renders, -5 % to +7 %           12      unsteady tempo (segment tempi 4.8-7.4 %
                                                     apart)
tempo wobbling 127-129 BPM                    4      unsteady tempo (jitter 0.015-0.017 beats)
renders at 90-110 and 150-190 BPM            32      off tempo, with the beat's tempo (or its
                                                     double or half)
=========================================  ========  ===========================================

On the accepted realistic tracks: pulse clarity 17-61 (synthesized kit: 12.2 and up, limit
8); segment tempi within 0.75 % of each other (limit 2 %); jitter at most 0.007 beats
(limit 0.012). Rival tempi on genuine beats reach 0.51 (x3/4), 0.87 (x4/3), 0.47 (x3/2)
and 0.31 (x5/4) of the pulse's periodicity; on music outside the window at least 0.95,
1.78, 0.85 and 1.22, hence the limits in RIVAL_TEMPI. About 0.8 s per minute of audio.

Known limits: when a rolling off-beat bass outweighs the kick and no snare or clap marks
beats 2 and 4 (the 6 misses above are one such techno composition), or when the drums sit
6 dB or more below their usual level against the bass, the grid can land half a beat off.
Four-on-the-floor bars with no chord change and no accent on the one leave beats 1 and 3
apart only by chance (`downbeat_contrast` near 0). Only one tempo per stretch of audio
and binary (4/4-like) subdivisions are modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import librosa
import numpy as np
from scipy.ndimage import uniform_filter1d


class UnusableAudio(Exception):
    """This audio cannot give loops; `reason` is one line for the report, "category: detail".

    `tempo_bpm` carries the tempo estimate when one was made (a track at 90 BPM is
    skipped, but the report still says what it was).
    """

    def __init__(self, reason: str, tempo_bpm: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tempo_bpm = tempo_bpm


# Rival tempi, as (ratio to a pulse found inside the tempo window, limit). Music outside the
# window still has pulses inside it that are cross-rhythms of its beat: at 90-109 BPM a pulse
# every 3 sixteenths lands at 120-145 BPM (the beat is x3/4 of that pulse); at 160-181 BPM,
# every 5 sixteenths (x5/4); at 180-217 BPM, every 3 eighths (x3/2); at 160-193 BPM (or 90
# with a pulse every 2 eighth-note triplets), every 4 triplet eighths (x4/3). The pulse is
# refused when the rival's periodicity reaches `limit` times its own. The limit for x4/3 is
# higher because a carpet of sixteenths (techno hats, a rolling bass) lines up with a pulse
# every 3 sixteenths almost as well as with the beat. Ratio 2/3 is not a rival: eighth-note
# hats line up with a dotted quarter as well as with the beat. Ratios of 2 and 1/2 are not
# rivals either: half or double the beat is the same grid, and the window picks the level.
RIVAL_TEMPI: tuple[tuple[float, float], ...] = ((3 / 4, 0.8), (4 / 3, 1.2), (3 / 2, 0.8), (5 / 4, 0.8))


START_TOLERANCE_SECONDS = 0.005
"""A downbeat this close before the start of the audio is taken to be at the start."""


@dataclass(frozen=True)
class BeatAnalysisConfig:
    """Knobs of the beat analysis. The defaults suit drum-driven electronic music."""

    analysis_hop_seconds: float = 0.005
    """Hop between onset-strength frames."""
    analysis_window_seconds: float = 0.046
    """STFT window of the onset analysis (to the nearest power of two in samples)."""
    n_mels: int = 64
    low_band_max_hz: float = 150.0
    """Mel bands centred below this carry the kick (and the bass)."""
    snare_band_hz: tuple[float, float] = (2000.0, 6000.0)
    """Mel bands centred in this range carry the snare and the clap."""
    tempo_step_bpm: float = 0.05
    """Step of the tempo scan; the best step is then refined ten times finer."""
    tempo_search_margin: float = 0.06
    """The scan reaches this fraction beyond the tempo window, so that music just outside it
    is measured (and refused as off tempo) rather than smeared onto the window's edge."""
    min_beats: int = 8
    """Less audio than this many beats cannot support a grid."""
    segment_beats: int = 8
    """Length of the segments whose tempo and pulse are measured one by one."""
    min_pulse_clarity: float = 8.0
    """Least (onset strength at the strongest phase of the beat) / (median over its phases),
    with the onsets of the whole stretch folded at its tempo. Measured: noise and garbage
    data 1.1-1.2, drones up to 4.5, speech-like noise up to 3.7; dance music 12-61."""
    ramp_clarity_factor: float = 2.0
    """Audio whose pulse is unclear over the whole stretch is called unsteady (a tempo ramp)
    rather than pulseless when its segments' median clarity reaches this many times
    `min_pulse_clarity` and their tempi disagree. Measured segment clarity: ramps 27 and
    up; speech-like noise, whose onsets line up with some tempo by chance, up to 8.6."""
    max_tempo_change: float = 0.02
    """Largest difference between the fastest and the slowest segment tempo, relative to the
    median segment tempo (segments with a clear pulse only)."""
    window_beats: int = 4
    """Length of the windows in which the beat's position is measured against the grid."""
    max_jitter_beats: float = 0.012
    """Largest RMS distance, in beats, between the beat measured window by window and the
    fitted grid (0.012 beats is 5.6 ms at 128 BPM). Measured: steady music up to 0.007; a
    tempo wobbling by +-0.8 % 0.015 and more (its loops would drift by 30 ms)."""
    slot_radius_beats: float = 0.1
    """Onsets within this fraction of a beat of a bar position count for that position."""
    backbeat_weight: float = 1.0
    """Weight of the snare and clap on beats 2 and 4 in finding the beat and the downbeat."""
    kick_presence_fraction: float = 0.5
    """A kick at least this fraction (in power) of the loudest counts as fully present."""
    chord_change_weight: float = 1.0
    """Weight of the chord change across a bar position in choosing the downbeat."""
    chord_change_floor: float = 0.02
    """Chord changes (1 - cosine similarity of half-bar chroma) are counted relative to their
    mean over the bar plus this floor; changes far below it count for nothing."""
    attack_search_seconds: float = 0.04
    """How far the grid may move to meet the attack of the hits."""
    attack_window_seconds: float = 0.008
    """Length of the windows before and after a point whose power ratio marks an attack."""
    max_attack_slope: float = 0.002
    """Largest tempo correction (relative) that the attacks may make to the grid."""

    def __post_init__(self) -> None:
        for name in ("analysis_hop_seconds", "analysis_window_seconds", "low_band_max_hz", "tempo_step_bpm",
                     "tempo_search_margin", "min_pulse_clarity", "ramp_clarity_factor", "max_tempo_change",
                     "max_jitter_beats", "attack_search_seconds", "attack_window_seconds", "max_attack_slope"):
            if not getattr(self, name) > 0:
                raise ValueError(f"BeatAnalysisConfig.{name} must be positive, got {getattr(self, name)}")
        if self.n_mels < 8 or self.min_beats < 2 or self.segment_beats < 2 or self.window_beats < 1:
            raise ValueError(f"BeatAnalysisConfig: n_mels must be >= 8, min_beats and segment_beats >= 2 and "
                             f"window_beats >= 1, got {self.n_mels}, {self.min_beats}, {self.segment_beats} "
                             f"and {self.window_beats}")
        lo_hz, hi_hz = self.snare_band_hz
        if not 0 < lo_hz < hi_hz:
            raise ValueError(f"BeatAnalysisConfig.snare_band_hz must satisfy 0 < low < high, got {self.snare_band_hz}")


@dataclass(frozen=True)
class BeatGrid:
    """A steady beat grid: beat n (n may be negative) lies at `first_downbeat_seconds + n * beat_seconds`,
    and every `beats_per_bar`-th beat from `first_downbeat_seconds` is a downbeat."""

    tempo_bpm: float
    first_downbeat_seconds: float
    """The earliest downbeat at or after the start of the analysed audio."""
    beats_per_bar: int
    estimated_tempo_bpm: float
    """The tempo scan's estimate, before the grid was fitted to the beats window by window."""
    jitter_beats: float
    """RMS distance between the beat measured window by window and the grid, in beats."""
    pulse_clarity: float
    """Onset strength at the beat over that at the median phase of the beat (see
    BeatAnalysisConfig.min_pulse_clarity)."""
    tempo_change: float = 0.0
    """(fastest - slowest segment tempo) / median segment tempo."""
    downbeat_contrast: float = 0.0
    """1 - (score of the runner-up bar position) / (score of the chosen one): near 0 the bar had
    no distinct first beat and the downbeat is a guess."""

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.tempo_bpm

    @property
    def bar_seconds(self) -> float:
        return self.beats_per_bar * self.beat_seconds


def fold_tempo_bpm(tempo_bpm: float, bpm_range: tuple[float, float]) -> float | None:
    """Bring a tempo estimate into `bpm_range` by doubling or halving it once, or None.

    Tempo estimators often report half or double the felt tempo (they lock onto the kick
    every other beat, or onto the hats). A folded value is used only when it lands inside
    the range, so a genuinely slow track (90 BPM against 120-145) is still rejected.
    """
    lo, hi = bpm_range
    if not tempo_bpm > 0:
        return None
    for candidate in (tempo_bpm, tempo_bpm * 2.0, tempo_bpm / 2.0):
        if lo <= candidate <= hi:
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# Onset envelopes


@dataclass(frozen=True)
class OnsetEnvelopes:
    """Onset strength over time, one value per analysis frame, in several views of the spectrum."""

    frames_per_second: float
    broad: np.ndarray
    """Log-mel spectral flux over all bands: every hit counts, loud or soft, low or high."""
    kick: np.ndarray
    """Spectral flux of the linear power below `low_band_max_hz`: the kick (and the bass)."""
    snare: np.ndarray
    """Spectral flux of the linear power in `snare_band_hz`: snares and claps."""
    chroma: np.ndarray
    """[12, chroma frames] pitch-class energy, for chord changes."""
    chroma_frames_per_second: float


def onset_envelopes(y: np.ndarray, sr: int, config: BeatAnalysisConfig) -> OnsetEnvelopes:
    """The onset envelopes of mono audio `y` at `sr` Hz (see OnsetEnvelopes)."""
    hop = max(1, int(round(sr * config.analysis_hop_seconds)))
    n_fft = int(2 ** round(math.log2(sr * config.analysis_window_seconds)))
    power = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2
    mel_power = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=config.n_mels, fmax=sr / 2.0)
    broad = librosa.onset.onset_strength(S=librosa.power_to_db(mel_power, ref=np.max), sr=sr, n_fft=n_fft,
                                         hop_length=hop)
    centres_hz = librosa.mel_frequencies(n_mels=config.n_mels + 2, fmax=sr / 2.0)[1:-1]

    def band_flux(bins: np.ndarray) -> np.ndarray:
        # Linear power, not decibels: an accent of +3 dB doubles the flux, and quiet bands
        # (a hat's spill into the low end) count for little.
        return librosa.onset.onset_strength(S=mel_power[bins], sr=sr, n_fft=n_fft, hop_length=hop)

    low_bins = np.flatnonzero(centres_hz <= config.low_band_max_hz)
    if len(low_bins) < 2:
        low_bins = np.arange(2)
    lo_hz, hi_hz = config.snare_band_hz
    snare_bins = np.flatnonzero((centres_hz >= lo_hz) & (centres_hz <= hi_hz))
    if len(snare_bins) == 0:
        snare_bins = np.array([int(np.argmin(np.abs(centres_hz - math.sqrt(lo_hz * hi_hz))))])
    # Chords need a finer frequency resolution than onsets and no finer time resolution than a beat.
    chroma_hop = 4 * int(2 ** round(math.log2(sr * 0.023 / 4)))
    chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=4 * chroma_hop, hop_length=chroma_hop, tuning=0.0)
    return OnsetEnvelopes(frames_per_second=sr / hop, broad=broad, kick=band_flux(low_bins),
                          snare=band_flux(snare_bins), chroma=chroma, chroma_frames_per_second=sr / chroma_hop)


# ---------------------------------------------------------------------------------------------
# Period: folding the onset envelope at candidate periods


def folded_profile(envelope: np.ndarray, period_frames: float, start: int = 0, stop: int | None = None,
                   smooth_frames: int = 3) -> np.ndarray:
    """The mean of `envelope[start:stop]` at each phase of a period, in bins one frame wide.

    Bin 0 is the phase of frame 0 (not of `start`), so profiles of different stretches of the
    same audio line up. A little smoothing (3 frames, 15 ms) tolerates the odd late hit.
    """
    stop = len(envelope) if stop is None else stop
    frames = np.arange(start, stop)
    n_bins = max(1, int(round(period_frames)))
    bins = np.minimum(((frames % period_frames) * (n_bins / period_frames)).astype(np.int64), n_bins - 1)
    sums = np.bincount(bins, weights=envelope[start:stop], minlength=n_bins)
    counts = np.bincount(bins, minlength=n_bins)
    profile = sums / np.maximum(counts, 1)
    return uniform_filter1d(profile, smooth_frames, mode="wrap") if smooth_frames > 1 else profile


def periodicity(envelope: np.ndarray, period_frames: float, start: int = 0, stop: int | None = None) -> float:
    """How strongly the onsets repeat with this period: the folded profile's peak over its mean, minus 1.

    This is a beat-synchronous comb: onsets that fall on one phase of the period, every
    period, pile up into a tall peak; a period a fraction of a percent off smears them over
    the bins (over 30 beats, 0.1 % of tempo moves the last beat by 3 % of a beat).
    """
    mean = float(np.mean(envelope[start:stop]))
    if not mean > 0:
        return 0.0
    return float(folded_profile(envelope, period_frames, start, stop).max() / mean - 1.0)


def pulse_clarity(envelope: np.ndarray, period_frames: float, start: int = 0, stop: int | None = None) -> float:
    """Onset strength at the strongest phase of the period over its median over all phases."""
    profile = folded_profile(envelope, period_frames, start, stop)
    typical = float(np.median(profile))
    if not typical > 0:
        return math.inf if profile.max() > 0 else 0.0
    return float(profile.max() / typical)


def best_period_frames(envelope: np.ndarray, frames_per_second: float, lo_bpm: float, hi_bpm: float,
                       step_bpm: float, start: int = 0, stop: int | None = None) -> tuple[float, float]:
    """The period (frames) between `lo_bpm` and `hi_bpm` that maximises `periodicity`, and its score.

    A scan in steps of `step_bpm`, then a scan ten times finer around the best step.
    """
    def scan(bpms: np.ndarray) -> np.ndarray:
        return np.array([periodicity(envelope, 60.0 * frames_per_second / b, start, stop) for b in bpms])

    coarse = np.arange(lo_bpm, hi_bpm + step_bpm / 2.0, step_bpm)
    scores = scan(coarse)
    best = int(np.argmax(scores))
    fine = np.linspace(coarse[best] - step_bpm, coarse[best] + step_bpm, 21)
    fine_scores = scan(fine)
    best_fine = int(np.argmax(fine_scores))
    return 60.0 * frames_per_second / float(fine[best_fine]), float(fine_scores[best_fine])


def rival_period_frames(envelope: np.ndarray, period_frames: float) -> tuple[float, float]:
    """The rival period (frames) of RIVAL_TEMPI that beats its limit by the widest margin, and
    its periodicity relative to that of `period_frames` divided by its limit (above 1: the
    rival wins)."""
    own = periodicity(envelope, period_frames)
    best_period, best_margin = period_frames, 0.0
    for tempo_ratio, limit in RIVAL_TEMPI:
        # A little around the exact ratio, since the period itself carries a small error.
        candidates = period_frames / tempo_ratio * (1.0 + np.linspace(-0.002, 0.002, 5))
        scores = [periodicity(envelope, p) for p in candidates]
        k = int(np.argmax(scores))
        margin = scores[k] / own / limit if own > 0 else 0.0
        if margin > best_margin:
            best_period, best_margin = float(candidates[k]), float(margin)
    return best_period, best_margin


def _refuse_cross_rhythm(envelope: np.ndarray, frames_per_second: float, period_frames: float,
                         bpm_range: tuple[float, float], config: BeatAnalysisConfig) -> None:
    """Raise "off tempo" when the pulse found in the window is a cross-rhythm of a clear beat
    outside it (see RIVAL_TEMPI). The rival must itself be a clear pulse, so that noise,
    whose rivals win or lose by chance, is still called pulseless."""
    rival_period, margin = rival_period_frames(envelope, period_frames)
    if margin <= 1.0:
        return
    if pulse_clarity(envelope, rival_period) < config.min_pulse_clarity:
        return
    lo_bpm, hi_bpm = bpm_range
    rival_bpm = 60.0 * frames_per_second / rival_period
    pulse_bpm = 60.0 * frames_per_second / period_frames
    raise UnusableAudio(f"off tempo: the beat is {rival_bpm:.1f} BPM; the {pulse_bpm:.1f} BPM pulse in "
                        f"{lo_bpm:g}-{hi_bpm:g} BPM is a cross-rhythm of it", rival_bpm)


# ---------------------------------------------------------------------------------------------
# Steadiness: segment tempi and window-by-window beat positions


@dataclass(frozen=True)
class SegmentTempi:
    """Tempo and pulse clarity of consecutive segments of `segment_beats` beats."""

    tempo_bpm: np.ndarray
    clarity: np.ndarray


def segment_tempi(envelope: np.ndarray, frames_per_second: float, period_frames: float,
                  config: BeatAnalysisConfig) -> SegmentTempi:
    """Measure tempo and pulse in equal segments of about `segment_beats` beats, each segment's
    tempo scanned within the search margin of the whole's."""
    length = int(round(config.segment_beats * period_frames))
    n_segments = max(1, int(round(len(envelope) / length)))
    bounds = np.linspace(0, len(envelope), n_segments + 1).round().astype(np.int64)
    bpm = 60.0 * frames_per_second / period_frames
    margin = 1.0 + config.tempo_search_margin
    tempi, clarities = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        p, _ = best_period_frames(envelope, frames_per_second, bpm / margin, bpm * margin, config.tempo_step_bpm,
                                  int(a), int(b))
        tempi.append(60.0 * frames_per_second / p)
        clarities.append(pulse_clarity(envelope, p, int(a), int(b)))
    return SegmentTempi(tempo_bpm=np.array(tempi), clarity=np.array(clarities))


def _refuse_moving_or_unclear(envelope: np.ndarray, frames_per_second: float, period_frames: float,
                              clarity: float, config: BeatAnalysisConfig) -> float:
    """Raise "unsteady tempo" when the segments' tempi disagree, "no clear beat" when the
    pulse is unclear; otherwise return the tempo change between segments (for BeatGrid).

    A beat whose tempo moves is clear segment by segment but smeared over the whole
    stretch, so a stretch with an unclear pulse is still called unsteady when its segments
    are clear (`ramp_clarity_factor`); noise that lines up with some tempo by chance is
    clear neither way.
    """
    segments = segment_tempi(envelope, frames_per_second, period_frames, config)
    clear = segments.tempo_bpm[segments.clarity >= config.min_pulse_clarity]
    change = float((clear.max() - clear.min()) / np.median(clear)) if len(clear) else 0.0
    locally_clear = float(np.median(segments.clarity)) >= config.ramp_clarity_factor * config.min_pulse_clarity
    if change > config.max_tempo_change and (clarity >= config.min_pulse_clarity or locally_clear):
        raise UnusableAudio(f"unsteady tempo: the beat moves between {clear.min():.1f} and {clear.max():.1f} BPM "
                            f"(limit {100 * config.max_tempo_change:g} %)", float(np.median(clear)))
    if clarity < config.min_pulse_clarity:
        raise UnusableAudio(f"no clear beat: pulse clarity {clarity:.2f} < {config.min_pulse_clarity:g}",
                            60.0 * frames_per_second / period_frames)
    return change


def _parabolic_peak(values: np.ndarray, i: int) -> float:
    """Sub-bin position of the peak at index i of `values`, from a parabola through 3 points."""
    if i <= 0 or i >= len(values) - 1:
        return float(i)
    a, b, c = values[i - 1], values[i], values[i + 1]
    denominator = a - 2.0 * b + c
    return float(i) if denominator >= 0 else float(i + 0.5 * (a - c) / denominator)


def strongest_phase_frames(envelope: np.ndarray, period_frames: float) -> float:
    """The phase (frames after frame 0, in [0, period)) where the folded onsets peak."""
    profile = folded_profile(envelope, period_frames, smooth_frames=3)
    i = int(np.argmax(profile))
    padded = np.concatenate([profile[-1:], profile, profile[:1]])
    return (_parabolic_peak(padded, i + 1) - 1.0 + 0.5) * period_frames / len(profile) % period_frames


@dataclass(frozen=True)
class GridFit:
    """A grid fitted to the beat positions measured window by window."""

    period_frames: float
    phase_frames: float
    jitter_beats: float


def fit_grid(envelope: np.ndarray, period_frames: float, phase_frames: float,
             config: BeatAnalysisConfig) -> GridFit:
    """Refine a grid by measuring where the beat lies in each window of `window_beats` beats.

    In each window the onsets are summed at every offset within a fifth of a beat of the
    grid's beats; the best offset is where that window's beat lies. Summing over the
    window's beats makes this indifferent to what happens between them (syncopated kicks,
    swung sixteenths, off-beat hats), and a window with hardly any onsets gets little
    weight. A straight line through the offsets corrects the period and phase (a 0.05 %
    tempo error shows as a slope); the RMS of what the line leaves is the jitter.
    """
    radius = max(2, int(round(0.2 * period_frames)))
    offsets = np.arange(-radius, radius + 1)
    first = math.ceil(-phase_frames / period_frames)
    last = math.floor((len(envelope) - 1 - phase_frames) / period_frames)
    beats = np.arange(first, last + 1)
    centres, found, weights = [], [], []
    step = max(1, config.window_beats // 2)
    for k in range(0, max(1, len(beats) - config.window_beats + 1), step):
        window = beats[k:k + config.window_beats]
        idx = np.round(phase_frames + window[:, None] * period_frames + offsets[None, :]).astype(np.int64)
        valid = (idx >= 0) & (idx < len(envelope))
        values = np.where(valid, envelope[np.clip(idx, 0, len(envelope) - 1)], 0.0).sum(axis=0)
        values = uniform_filter1d(values, 3, mode="nearest")
        i = int(np.argmax(values))
        centres.append(float(window.mean()))
        found.append(_parabolic_peak(values, i) - radius)
        weights.append(max(0.0, float(values[i] - np.median(values))))
    centres_arr, found_arr, w = np.array(centres), np.array(found), np.array(weights)
    keep = w >= 0.25 * np.median(w[w > 0]) if np.any(w > 0) else w > 0
    if keep.sum() >= 3:
        # Windows with hardly any onsets on the beat (a breakdown) say little about the grid.
        slope, intercept = np.polyfit(centres_arr[keep], found_arr[keep], 1, w=np.sqrt(w[keep]))
        residual = found_arr[keep] - (intercept + slope * centres_arr[keep])
        jitter = float(np.sqrt(np.average(residual ** 2, weights=w[keep])) / period_frames)
    else:
        slope, intercept = 0.0, float(np.average(found_arr, weights=w)) if w.sum() > 0 else 0.0
        jitter = 0.0
    return GridFit(period_frames=period_frames + slope, phase_frames=phase_frames + intercept, jitter_beats=jitter)


# ---------------------------------------------------------------------------------------------
# Downbeat: which of the eighth-note positions of the bar is the one


def _slot_strengths(envelope: np.ndarray, bar_frames: float, phase_frames: float, n_slots: int,
                    radius_frames: int) -> np.ndarray:
    """For each of `n_slots` evenly spaced positions of the bar (from `phase_frames`), the mean over
    bars of the envelope's peak within `radius_frames` of that position."""
    n_bars = math.floor((len(envelope) - phase_frames) / bar_frames) + 1
    positions = phase_frames + np.arange(-1, n_bars + 1)[:, None] * bar_frames \
        + np.arange(n_slots)[None, :] * (bar_frames / n_slots)
    offsets = np.arange(-radius_frames, radius_frames + 1)
    idx = np.round(positions[:, :, None] + offsets[None, None, :]).astype(np.int64)
    inside = (idx.min(axis=2) >= 0) & (idx.max(axis=2) < len(envelope))
    peaks = envelope[np.clip(idx, 0, len(envelope) - 1)].max(axis=2)
    counts = inside.sum(axis=0)
    return np.where(counts > 0, (peaks * inside).sum(axis=0) / np.maximum(counts, 1), 0.0)


def _chord_change_strengths(chroma: np.ndarray, period_frames: float, phase_frames: float,
                            beats_per_bar: int, slots_per_beat: int) -> np.ndarray:
    """For each slot of the bar, how much the pitch classes change across it: 1 - cosine
    similarity of the mean chroma over the half bar before and the half bar after, averaged
    over bars. Chords, bass notes and whole new sections change at the bar line; half-bar
    windows still see a change that comes half a beat early or late (a house stab on the
    "and" of one), while the middle of a bar, inside one chord, sees none.
    """
    n_slots = beats_per_bar * slots_per_beat
    bar_frames = beats_per_bar * period_frames
    span = max(1, int(round(bar_frames / 2.0)))
    n_frames = chroma.shape[1]
    cumulative = np.concatenate([np.zeros((chroma.shape[0], 1)), np.cumsum(chroma, axis=1)], axis=1)
    out = np.zeros(n_slots)
    for slot in range(n_slots):
        first = phase_frames + slot * period_frames / slots_per_beat
        first -= math.floor(first / bar_frames) * bar_frames
        middles = np.round(np.arange(first, n_frames, bar_frames)).astype(np.int64)
        middles = middles[(middles - span >= 0) & (middles + span <= n_frames)]
        if len(middles) == 0:
            continue
        before = cumulative[:, middles] - cumulative[:, middles - span]
        after = cumulative[:, middles + span] - cumulative[:, middles]
        cosine = np.sum(before * after, axis=0) / (np.linalg.norm(before, axis=0) * np.linalg.norm(after, axis=0)
                                                   + 1e-12)
        out[slot] = float(np.mean(1.0 - cosine))
    return out


def choose_downbeat(envelopes: OnsetEnvelopes, period_frames: float, phase_frames: float,
                    beats_per_bar: int, config: BeatAnalysisConfig) -> tuple[float, float]:
    """Which eighth-note position of the bar, counted from `phase_frames`, is the one.

    Returns (its offset from `phase_frames` in beats, contrast). Two steps, see the module
    docstring: first beat or off-beat from where kick and backbeat land, then which beat
    from kick, backbeat and chord changes.
    """
    slots_per_beat = 2
    n_slots = beats_per_bar * slots_per_beat
    bar_frames = beats_per_bar * period_frames
    radius = max(1, int(round(config.slot_radius_beats * period_frames)))

    def normalised(values: np.ndarray) -> np.ndarray:
        return values / values.max() if values.max() > 0 else values

    kick = normalised(_slot_strengths(envelopes.kick, bar_frames, phase_frames, n_slots, radius))
    snare = normalised(_slot_strengths(envelopes.snare, bar_frames, phase_frames, n_slots, radius))
    to_chroma = envelopes.chroma_frames_per_second / envelopes.frames_per_second
    changes = _chord_change_strengths(envelopes.chroma, period_frames * to_chroma, phase_frames * to_chroma,
                                      beats_per_bar, slots_per_beat)
    # Relative to the bar's average change, with a floor: music without chord changes (a
    # steady bass under drums) has tiny, random changes that must not decide anything.
    chords = (changes - changes.mean()) / (changes.mean() + config.chord_change_floor)
    backbeat_beats = np.arange(1, beats_per_bar, 2)  # beats 2 and 4 of a 4/4 bar
    backbeat = np.array([snare[(d + backbeat_beats * slots_per_beat) % n_slots].mean() for d in range(n_slots)])
    rhythm = kick + config.backbeat_weight * backbeat
    beat_phase = int(np.argmax(rhythm)) % slots_per_beat
    # Which beat: a kick counts as present or absent (up to half the loudest kick, every kick
    # is "there"), so that small level differences between four-on-the-floor kicks do not
    # outvote the harmony; a real accent (+6 dB) still shows.
    kick_present = np.minimum(1.0, kick / config.kick_presence_fraction)
    candidates = np.arange(beat_phase, n_slots, slots_per_beat)
    scores = kick_present[candidates] + config.backbeat_weight * backbeat[candidates] \
        + config.chord_change_weight * chords[candidates]
    order = np.argsort(scores)[::-1]
    best = float(scores[order[0]])
    contrast = float(1.0 - scores[order[1]] / best) if len(order) > 1 and best > 0 else 0.0
    return float(candidates[order[0]]) / slots_per_beat, contrast


# ---------------------------------------------------------------------------------------------
# Attack


def _grid_times(offset_seconds: float, period_seconds: float, duration_seconds: float) -> np.ndarray:
    """All grid beats inside [0, duration)."""
    first = math.ceil(-offset_seconds / period_seconds)
    last = math.floor((duration_seconds - offset_seconds) / period_seconds)
    n = np.arange(first, last + 1)
    times = offset_seconds + n * period_seconds
    return times[(times >= 0) & (times < duration_seconds)]


def attack_offset_seconds(power_cumsum: np.ndarray, sr: int, beat_times_seconds: np.ndarray,
                          search_seconds: float, window_seconds: float) -> tuple[float, float]:
    """Where the hits begin relative to the given beat times, and how sharply.

    At every offset within +-`search_seconds` of the beats, the signal power in a short
    window after that point is compared with the power in the window before it, as a log
    ratio, averaged over the beats; the attack is the offset where the power jumps most.
    A ratio does not care how loud the hit or the background is, and it peaks where the
    hit begins, not where it is loudest (recorded kicks often click first and swell 10-20 ms
    later). `power_cumsum` is the running sum of the squared signal, starting with 0.
    Returns (offset in seconds, mean log ratio there); (0, 0) when no beat is usable.
    """
    search = int(round(search_seconds * sr))
    window = max(1, int(round(window_seconds * sr)))
    centres = np.round(beat_times_seconds * sr).astype(np.int64)
    n = len(power_cumsum) - 1
    centres = centres[(centres - search - window >= 0) & (centres + search + window <= n)]
    if len(centres) == 0:
        return 0.0, 0.0
    offsets = np.arange(-search, search + 1)
    at = centres[:, None] + offsets[None, :]
    after = (power_cumsum[at + window] - power_cumsum[at]) / window
    before = (power_cumsum[at] - power_cumsum[at - window]) / window
    floor = 1e-6 * power_cumsum[-1] / max(1, n) + 1e-20
    jump = (np.log(after + floor) - np.log(before + floor)).mean(axis=0)
    best = int(np.argmax(jump))
    return float(offsets[best]) / sr, float(jump[best])


def fit_attacks(y: np.ndarray, sr: int, downbeat_seconds: float, period_seconds: float,
                config: BeatAnalysisConfig) -> tuple[float, float]:
    """Move the grid onto the attacks of the hits: returns (downbeat, period) in seconds.

    The onset envelope places the grid some milliseconds after the attacks, by an amount
    that depends on the sounds (a soft kick's flux peaks later than a clicky one). Here the
    attack is measured in the signal itself, window by window (`window_beats` beats each),
    and a straight line through those offsets corrects the grid's phase and, slightly, its
    period, so that a loop cut anywhere in the audio starts on its hit. Windows whose attack
    lies far from the others' (a fill, a breakdown) are left out of the line.
    """
    power_cumsum = np.concatenate([[0.0], np.cumsum(y.astype(np.float64) ** 2)])
    beats = _grid_times(downbeat_seconds, period_seconds, len(y) / sr)
    centres, found = [], []
    for k in range(0, len(beats), config.window_beats):
        window = beats[k:k + config.window_beats]
        offset, jump = attack_offset_seconds(power_cumsum, sr, window, config.attack_search_seconds,
                                             config.attack_window_seconds)
        if jump > 0:
            centres.append(float(window.mean()))
            found.append(offset)
    if not found:
        return downbeat_seconds, period_seconds
    t, d = np.array(centres), np.array(found)
    median = float(np.median(d))
    keep = np.abs(d - median) <= config.attack_window_seconds
    t, d = t[keep], d[keep]
    slope, intercept = 0.0, median
    if len(d) >= 3 and np.ptp(t) > 0:
        fitted_slope, fitted_intercept = np.polyfit(t, d, 1)
        if abs(fitted_slope) <= config.max_attack_slope:
            slope, intercept = float(fitted_slope), float(fitted_intercept)
    # Offsets d(t) = intercept + slope * t, so a grid time t moves to intercept + t * (1 + slope).
    return intercept + downbeat_seconds * (1.0 + slope), period_seconds * (1.0 + slope)


# ---------------------------------------------------------------------------------------------


def analyse_beat_grid(y: np.ndarray, sr: int, bpm_range: tuple[float, float], beats_per_bar: int,
                      config: BeatAnalysisConfig = BeatAnalysisConfig()) -> BeatGrid:
    """Find the steady beat grid and the downbeat of mono audio `y` at `sr` Hz.

    Raises UnusableAudio with a one-line reason when the audio has no usable beat, in the
    order given in the module docstring.
    """
    lo_bpm, hi_bpm = bpm_range
    duration_seconds = len(y) / sr
    envelopes = onset_envelopes(y, sr, config)
    fps = envelopes.frames_per_second
    broad = envelopes.broad
    if not np.any(broad > 0):
        raise UnusableAudio("no beats: no onsets at all")
    margin = 1.0 + config.tempo_search_margin
    beats_in_audio = duration_seconds * hi_bpm * margin / 60.0
    if beats_in_audio < config.min_beats:
        raise UnusableAudio(f"no beats: {duration_seconds:.1f} s hold fewer than {config.min_beats} beats")

    period, _ = best_period_frames(broad, fps, lo_bpm / margin, hi_bpm * margin, config.tempo_step_bpm)
    estimated_bpm = 60.0 * fps / period
    clarity = pulse_clarity(broad, period)
    _refuse_cross_rhythm(broad, fps, period, bpm_range, config)
    change = _refuse_moving_or_unclear(broad, fps, period, clarity, config)
    fit = fit_grid(broad, period, strongest_phase_frames(broad, period), config)
    if fit.jitter_beats > config.max_jitter_beats:
        fitted_bpm = 60.0 * fps / fit.period_frames
        raise UnusableAudio(f"unsteady tempo: beats stray {fit.jitter_beats:.3f} beats from a steady "
                            f"{fitted_bpm:.1f} BPM grid (limit {config.max_jitter_beats:g})", fitted_bpm)

    offset_beats, contrast = choose_downbeat(envelopes, fit.period_frames, fit.phase_frames, beats_per_bar, config)
    downbeat_seconds, period_seconds = fit_attacks(y, sr, (fit.phase_frames + offset_beats * fit.period_frames) / fps,
                                                   fit.period_frames / fps, config)
    tempo_bpm = 60.0 / period_seconds
    if not lo_bpm <= tempo_bpm <= hi_bpm:
        raise UnusableAudio(f"off tempo: {tempo_bpm:.1f} BPM outside {lo_bpm:g}-{hi_bpm:g} BPM", tempo_bpm)
    bar_seconds = beats_per_bar * period_seconds
    # A downbeat a hair before the start (its attack was cut off by the edit) counts as at the start.
    first_downbeat = (downbeat_seconds + START_TOLERANCE_SECONDS) % bar_seconds - START_TOLERANCE_SECONDS
    first_downbeat = max(0.0, first_downbeat)
    return BeatGrid(tempo_bpm=tempo_bpm, first_downbeat_seconds=float(first_downbeat), beats_per_bar=beats_per_bar,
                    estimated_tempo_bpm=estimated_bpm, jitter_beats=fit.jitter_beats, pulse_clarity=clarity,
                    tempo_change=change, downbeat_contrast=contrast)


__all__ = ["BeatAnalysisConfig", "BeatGrid", "OnsetEnvelopes", "RIVAL_TEMPI", "UnusableAudio",
           "analyse_beat_grid", "fold_tempo_bpm", "onset_envelopes"]
