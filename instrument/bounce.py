"""`ganloops bounce`: loops, latent walks, scene morphs and recorded performances to WAV/FLAC.

::

    ganloops bounce [BUNDLE] --seeds 0,1,5-7 [--concat] [--bars N]
    ganloops bounce [BUNDLE] --walk BARS [--points P] [--seed S]
    ganloops bounce [BUNDLE] --morph SCENE_A SCENE_B --beats N [--bars N]
    ganloops bounce --replay JOURNAL
      common: -o OUT.wav|OUT.flac  --bit-depth 16|24|float  --sample-rate HZ  --tempo BPM
              --tempo-mode stretch|varispeed  --lufs TARGET  --ceiling DB  --force  --quiet

Where the audio comes from:

- ``--seeds`` renders each seed's loop with the live decks' own pipeline
  (``deck.render_loop``: styles -> synthesis -> resample -> tempo), so a bounced seed is the
  loop the instrument plays for it.
- ``--walk`` moves through w space: a closed Catmull-Rom spline through random w's (one per
  ``--points``), one render per bar, joined at the bar lines. Each bar plays its own render
  at that bar's position in the loop, so the groove runs on across the bar lines. The
  engine's controls (seeds, knobs, style mixes) cannot express an arbitrary w, so the walk
  renders through the bundle directly, with the same resampling and tempo code as the decks.
- ``--morph`` and ``--replay`` run the engine offline (``Engine.render_offline`` and the
  journal replay), the code path of live playback.

Length and seams: a loop, a seed list or a walk of N bars is exactly
``round(N * beats_per_bar * 60 * sample_rate / tempo)`` frames, and it loops seamlessly: the
last bar crossfades into the first as every other bar line does, and the limiter runs
circularly (its state at the end carries into the start). A morph or a replay is a
performance with a beginning and an end, so it is not made to loop.

Loudness: ``--lufs`` sets the integrated loudness (ITU-R BS.1770-4); gain is applied before
a limiter at ``--ceiling`` (default -1 dBFS), and the gain is corrected until the result is
within 0.1 LU of the target (or as loud as the ceiling allows, said in one line). Without
``--lufs`` the limiter still guards the ceiling, so nothing ever clips.

Every file is written to a hidden temporary file beside the target and renamed into place
when complete, so an interrupted bounce leaves no partial file and an existing file is
replaced only whole (and only with ``--force``).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import soundfile as sf
from tqdm import tqdm

from instrument import dsp
from instrument.atomic import atomic_path
from instrument.bundle import Bundle, BundleError, load_bundle, read_manifest
from instrument.controls import TEMPO_RANGE_BPM, DeckControls
from instrument.deck import RenderSettings, adapt_raw, render_loop
from instrument.latent import z_from_seed
from instrument.onnx_session import PROVIDER_CHOICES, ProviderError

PROG = "ganloops bounce"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "default"
BIT_DEPTHS: dict[str, str] = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
FILE_FORMATS: dict[str, str] = {".wav": "WAV", ".flac": "FLAC"}
DEFAULT_CEILING_DB = -1.0
JOIN_CROSSFADE_SECONDS = 0.03  # at bar lines of a walk and between seeds of --concat
LUFS_TOLERANCE_LU = 0.1
LUFS_MAX_PASSES = 6
SAMPLE_RATE_RANGE_HZ = (1000, 768000)
WALK_BATCH = 8  # walk bars rendered per synthesis call
WRITE_CHUNK_FRAMES = 1 << 16


class BounceError(ValueError):
    """A bounce that cannot be done as asked; one line naming the culprit."""


@dataclass(frozen=True)
class LoopSettings:
    """How loops are rendered: device rate, session tempo, tempo mode, channels, truncation."""

    sample_rate_hz: int
    tempo_bpm: float
    tempo_mode: str
    channels: int
    psi: float = 1.0

    def render(self) -> RenderSettings:
        return RenderSettings(self.sample_rate_hz, self.channels, self.tempo_mode)


@dataclass(frozen=True)
class OutputSettings:
    """How a bounce is finished and written."""

    bit_depth: str = "24"
    lufs: float | None = None
    ceiling_db: float = DEFAULT_CEILING_DB
    force: bool = False
    progress: bool | None = None  # None: bars only when stderr is a terminal


@dataclass(frozen=True)
class Written:
    """One finished file."""

    path: Path
    frames: int
    sample_rate_hz: int
    loudness_lufs: float
    peak_dbfs: float


# ---------------------------------------------------------------------------------------
# Bars and frames
# ---------------------------------------------------------------------------------------


def bar_frames(sample_rate_hz: int, tempo_bpm: float, beats_per_bar: int) -> float:
    """One bar in frames (not necessarily whole)."""
    return beats_per_bar * 60.0 * sample_rate_hz / tempo_bpm


def bars_to_frames(bars: float, sample_rate_hz: int, tempo_bpm: float, beats_per_bar: int) -> int:
    """The length of `bars` bars in whole frames: round(bars * bar_frames)."""
    return int(round(bars * bar_frames(sample_rate_hz, tempo_bpm, beats_per_bar)))


def fit_length(loop: np.ndarray, frames: int) -> np.ndarray:
    """A loop [n, channels] made exactly `frames` long by circular resampling (a no-op when it is).

    Rounding each render to whole samples can leave a loop a sample or two away from the
    exact bar length; stretching it by those few samples (parts per million: inaudible)
    keeps it seamless, where padding or cutting would put a step at the seam.
    """
    if loop.shape[0] == frames:
        return loop
    return np.ascontiguousarray(dsp.resample(loop.T, loop.shape[0], frames).T)


# ---------------------------------------------------------------------------------------
# Joining loops end to end, around a circle
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """Frames [start, end) of the output play `loop` [m, channels] from position `offset` on (circularly)."""

    loop: np.ndarray
    start: int
    end: int
    offset: int = 0

    def read(self, frames: np.ndarray) -> np.ndarray:
        """The loop at output frames `frames` (which may lie outside [start, end), around the circle)."""
        m = self.loop.shape[0]
        return self.loop[(self.offset + frames - self.start) % m]


def join_crossfade(outgoing: np.ndarray, incoming: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gains (out, in) [x] for a crossfade that keeps the power constant whatever the correlation.

    Equal-power gains (cos/sin) suit unrelated material but swell by 3 dB halfway when the
    two sides are alike (two bars of a slow walk are); equal-gain (linear) fades suit alike
    material but dip 3 dB on unrelated material. Measuring the correlation rho of the two
    sides over the fade and normalising linear fades by sqrt(a^2 + b^2 + 2 rho a b) is
    right for both, and everything between. Negative correlation is treated as none.
    """
    x = outgoing.shape[0]
    t = (np.arange(x) + 0.5) / max(x, 1)
    a, b = 1.0 - t, t
    num = float(np.sum(outgoing.astype(np.float64) * incoming))
    den = math.sqrt(float(np.sum(outgoing.astype(np.float64) ** 2)) * float(np.sum(incoming.astype(np.float64) ** 2)))
    rho = min(1.0, max(0.0, num / den)) if den > 0 else 0.0
    norm = np.sqrt(a * a + b * b + 2.0 * rho * a * b)
    return a / norm, b / norm


def assemble(segments: Sequence[Segment], total_frames: int, channels: int, crossfade_frames: int,
             progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Join segments that tile [0, total_frames) into one seamless loop [total_frames, channels].

    Each boundary (the last segment's end included, which meets the first's start around
    the circle) is a crossfade centred on the boundary, between the two segments' loops,
    each continuing past its own end, so there is no step anywhere. One segment alone is
    simply its loop, with no fade against itself.
    """
    out = np.zeros((total_frames, channels), dtype=np.float32)
    if len(segments) == 1:
        s = segments[0]
        out[:] = s.read(np.arange(total_frames))
        return out
    shortest = min(s.end - s.start for s in segments)
    half = max(0, min(crossfade_frames // 2, shortest // 2))
    for i, s in enumerate(segments):
        out[s.start:s.end] = s.read(np.arange(s.start, s.end))
        if progress is not None:
            progress(i + 1)
    if half == 0:
        return out
    for i, s in enumerate(segments):
        nxt = segments[(i + 1) % len(segments)]
        boundary = s.end if i + 1 < len(segments) else total_frames
        frames = np.arange(boundary - half, boundary + half)
        a = s.read(frames)
        b = nxt.read(frames if i + 1 < len(segments) else frames - total_frames + nxt.start)
        g_out, g_in = join_crossfade(a, b)
        out[frames % total_frames] = a * g_out[:, None] + b * g_in[:, None]
    return out


# ---------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------


def parse_seeds(text: str) -> list[int]:
    """'0,1,5-7' -> [0, 1, 5, 6, 7]."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                low, high = part.split("-", 1)
                first, last = int(low), int(high)
                if last < first or last - first > 100000:
                    raise ValueError
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise BounceError(f"--seeds: {part!r} is not a seed or a range like 5-7") from None
    if not seeds or min(seeds) < 0:
        raise BounceError(f"--seeds: expected non-negative seeds like 0,1,5-7, got {text!r}")
    return seeds


def render_seed(bundle: Bundle, seed: int, settings: LoopSettings) -> np.ndarray:
    """One seed's loop [frames, channels] at the session rate and tempo (the decks' own renderer)."""
    return render_loop(bundle, DeckControls(seed=seed, psi=settings.psi), settings.tempo_bpm, settings.render())


def bounce_seed(bundle: Bundle, seed: int, bars: int, settings: LoopSettings) -> np.ndarray:
    """`bars` bars of one seed's loop, seamless: the loop repeated, fitted to the exact length."""
    m = bundle.manifest
    loop = render_seed(bundle, seed, settings)
    total = bars_to_frames(bars, settings.sample_rate_hz, settings.tempo_bpm, m.beats_per_bar)
    return fit_length(np.tile(loop, (bars // m.bars, 1)), total)


def bounce_seed_list(bundle: Bundle, seeds: Sequence[int], bars: int, settings: LoopSettings,
                     progress: bool | None) -> np.ndarray:
    """The seeds' loops one after another, `bars` bars each, joined seamlessly (and back to the first)."""
    m = bundle.manifest
    bar = bar_frames(settings.sample_rate_hz, settings.tempo_bpm, m.beats_per_bar)
    total = int(round(len(seeds) * bars * bar))
    segments = []
    for i, seed in enumerate(tqdm(seeds, desc="render", unit="loop", disable=_quiet(progress), leave=False)):
        segments.append(Segment(render_seed(bundle, seed, settings), int(round(i * bars * bar)),
                                int(round((i + 1) * bars * bar))))
    return assemble(segments, total, settings.channels, _crossfade_frames(settings))


def _crossfade_frames(settings: LoopSettings) -> int:
    return int(round(JOIN_CROSSFADE_SECONDS * settings.sample_rate_hz))


# ---------------------------------------------------------------------------------------
# Latent walk
# ---------------------------------------------------------------------------------------


def catmull_rom_closed(points: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Points on the closed uniform Catmull-Rom spline through `points` [P, d] at parameters `u` (P = once round)."""
    count = points.shape[0]
    j = np.floor(u).astype(np.int64)
    f = (u - j)[:, None]
    p0, p1, p2, p3 = (points[(j + k) % count] for k in (-1, 0, 1, 2))
    return 0.5 * ((2.0 * p1) + (-p0 + p2) * f + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * f ** 2
                  + (-p0 + 3.0 * p1 - 3.0 * p2 + p3) * f ** 3)


def walk_styles(bundle: Bundle, bars: int, points: int, seed: int, psi: float) -> np.ndarray:
    """w [bars, w_dim] for each bar of a closed walk through `points` w's (seeds seed, seed+1, ...)."""
    m = bundle.manifest
    z = np.stack([z_from_seed(seed + k, m.z_dim) for k in range(points)])
    w = bundle.truncate(bundle.map(z), psi).astype(np.float64)
    u = np.arange(bars) * points / bars
    return catmull_rom_closed(w, u).astype(np.float32)


def bounce_walk(bundle: Bundle, bars: int, points: int, seed: int, settings: LoopSettings,
                progress: bool | None) -> np.ndarray:
    """A seamless latent walk of `bars` bars [frames, channels]: one render per bar, joined at the bar lines."""
    m = bundle.manifest
    w = walk_styles(bundle, bars, points, seed, settings.psi)
    bar = bar_frames(settings.sample_rate_hz, settings.tempo_bpm, m.beats_per_bar)
    total = int(round(bars * bar))
    segments: list[Segment] = []
    with tqdm(total=bars, desc="walk", unit="bar", disable=_quiet(progress), leave=False) as bar_progress:
        for first in range(0, bars, WALK_BATCH):
            batch = w[first:first + WALK_BATCH]
            raw = np.asarray(bundle.synthesize(bundle.broadcast(batch)), dtype=np.float32)
            for k in range(batch.shape[0]):
                i = first + k
                loop = adapt_raw(raw[k], bundle, settings.tempo_bpm, settings.render())
                loop_bar = i % m.bars
                offset = int(round(loop_bar * loop.shape[0] / m.bars))
                segments.append(Segment(loop, int(round(i * bar)), int(round((i + 1) * bar)), offset))
                bar_progress.update(1)
    return assemble(segments, total, settings.channels, _crossfade_frames(settings))


def spectral_centroid_hz(audio: np.ndarray, sample_rate_hz: int, hop_seconds: float = 0.1,
                         window_seconds: float = 0.05) -> np.ndarray:
    """Spectral centroid of `audio` [frames, channels] every `hop_seconds` (NaN where silent)."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    size = max(16, int(round(window_seconds * sample_rate_hz)))
    hop = max(1, int(round(hop_seconds * sample_rate_hz)))
    if mono.shape[0] < size:
        mono = np.pad(mono, (0, size - mono.shape[0]))
    starts = np.arange(0, mono.shape[0] - size + 1, hop)
    frames = mono[starts[:, None] + np.arange(size)[None, :]] * np.hanning(size)
    magnitude = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate_hz)
    total = magnitude.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 1e-9, (magnitude * freqs).sum(axis=1) / total, np.nan)


def write_walk_plot(png: Path, audio: np.ndarray, sample_rate_hz: int, bar: float) -> str:
    """Plot loudness and spectral centroid along a walk into `png`; returns the line to print."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"{PROG}: the walk plot ({png.name}) needs matplotlib: pip install 'ganloops[train]'"
    hop = 0.1
    loudness = dsp.momentary_loudness_lufs(audio, sample_rate_hz, hop_seconds=hop)
    centroid = spectral_centroid_hz(audio, sample_rate_hz, hop_seconds=hop)
    bars_l = (np.arange(len(loudness)) * hop * sample_rate_hz + 0.2 * sample_rate_hz) / bar
    bars_c = (np.arange(len(centroid)) * hop * sample_rate_hz + 0.025 * sample_rate_hz) / bar
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 5))
    ax1.plot(bars_l, np.where(np.isfinite(loudness), loudness, np.nan), color="tab:blue")
    ax1.set_ylabel("momentary loudness (LUFS)")
    ax2.plot(bars_c, centroid, color="tab:orange")
    ax2.set_ylabel("spectral centroid (Hz)")
    ax2.set_xlabel("bar")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(f"latent walk, {audio.shape[0] / bar:.0f} bars")
    fig.tight_layout()
    try:
        with atomic_path(png) as temp:
            fig.savefig(temp, format="png", dpi=100)
    finally:
        plt.close(fig)
        temp.unlink(missing_ok=True)
    finite = loudness[np.isfinite(loudness)]
    span = f"loudness {finite.min():.1f}..{finite.max():.1f} LUFS, " if finite.size else ""
    return f"wrote {png}: {span}centroid {np.nanmin(centroid):.0f}..{np.nanmax(centroid):.0f} Hz"


# ---------------------------------------------------------------------------------------
# Morph (engine)
# ---------------------------------------------------------------------------------------


def bounce_morph(state_a: dict[str, Any], state_b: dict[str, Any], beats: float, bundle_path: Path | None,
                 bars: int | None, sample_rate_hz: int | None, tempo_bpm: float | None, tempo_mode: str,
                 channels: int, provider: str, progress: bool | None) -> tuple[np.ndarray, int, float]:
    """Render scene A, then the engine's morph to scene B over `beats` beats: (audio, sample rate, tempo).

    One bar of A plays first and is dropped (the engine fades the first loop in from
    silence), so the file starts on a bar line with A at full level. The morph keeps one
    tempo: --tempo, else scene A's, else the first model's; scene B's tempo is not applied.
    The length is `bars` bars, by default the morph rounded up to whole bars plus one bar of B.
    """
    from instrument.engine import Engine, EngineConfig

    a, b = _with_model(state_a, bundle_path), _with_model(state_b, bundle_path)
    models = [d.get("model") for s in (a, b) for d in s.get("decks", []) if isinstance(d, dict)]
    first_model = next((m for m in models if isinstance(m, str)), None)
    if first_model is None:
        raise BounceError("--morph: neither scene names a model; give a BUNDLE to play them on")
    for model in models:
        if isinstance(model, str):
            read_manifest(model)  # a missing or broken bundle fails here, with its name
    manifest = read_manifest(first_model)
    tempo = tempo_bpm if tempo_bpm is not None else (a.get("tempo_bpm") or manifest.bpm)
    rate = sample_rate_hz or manifest.sample_rate_hz
    a["tempo_bpm"] = b["tempo_bpm"] = None
    decks = max(1, len(a.get("decks", [])), len(b.get("decks", [])))
    engine = Engine(EngineConfig(sample_rate_hz=rate, channels=channels, decks=decks, tempo_bpm=float(tempo),
                                 tempo_mode=tempo_mode), provider=provider)
    engine.apply_state(a)
    bar = bar_frames(rate, float(tempo), manifest.beats_per_bar)
    engine.render_offline(int(round(bar)))  # pre-roll: A fades in from silence here
    if engine.stats.load_errors or engine.stats.render_errors:
        raise BounceError(f"--morph: {engine.last_error}")
    engine.morph_to(b, beats)
    total_bars = bars if bars is not None else int(math.ceil(beats / manifest.beats_per_bar - 1e-9)) + 1
    total = int(round(total_bars * bar))
    out = np.empty((total, channels), dtype=np.float32)
    step = max(1, int(round(0.5 * rate)))
    with tqdm(total=total, desc="morph", unit="frame", unit_scale=True, disable=_quiet(progress), leave=False) as bar_:
        for start in range(0, total, step):
            n = min(step, total - start)
            out[start:start + n] = engine.render_offline(n)
            bar_.update(n)
    if engine.stats.load_errors or engine.stats.render_errors:
        raise BounceError(f"--morph: {engine.last_error}")
    return out, rate, float(tempo)


def _with_model(state: dict[str, Any], bundle_path: Path | None) -> dict[str, Any]:
    """A copy of a scene state whose deck 1 plays `bundle_path` when the scene names no model there."""
    import copy

    state = copy.deepcopy(state)
    decks = state.setdefault("decks", [])
    if bundle_path is not None:
        if not decks:
            decks.append({})
        if isinstance(decks[0], dict) and not decks[0].get("model"):
            decks[0]["model"] = str(bundle_path)
    return state


# ---------------------------------------------------------------------------------------
# Finishing and writing
# ---------------------------------------------------------------------------------------


def limit(audio: np.ndarray, ceiling_db: float, sample_rate_hz: int, circular: bool) -> np.ndarray:
    """`audio` through the master limiter. Circular: a first pass sets the state the second starts with,
    so the gain at the end of the loop and at its start agree (no step at the seam)."""
    limiter = dsp.Limiter(ceiling_db, sample_rate_hz, max_block_frames=1 << 16)
    if circular:
        limiter.process(np.array(audio, dtype=np.float32))
    return limiter.process(np.array(audio, dtype=np.float32))


def finish(audio: np.ndarray, sample_rate_hz: int, output: OutputSettings, circular: bool) -> tuple[np.ndarray, str | None]:
    """Loudness normalisation (when asked) and the limiter: (audio, a note to print or None)."""
    if output.lufs is None:
        return limit(audio, output.ceiling_db, sample_rate_hz, circular), None
    measured = dsp.integrated_loudness_lufs(audio, sample_rate_hz)
    if not math.isfinite(measured):
        return limit(audio, output.ceiling_db, sample_rate_hz, circular), \
            f"{PROG}: the audio is silent; --lufs {output.lufs:g} not applied"
    gain_db = output.lufs - measured
    result = audio
    reached = measured
    for _ in range(LUFS_MAX_PASSES):
        result = limit(audio * np.float32(10.0 ** (gain_db / 20.0)), output.ceiling_db, sample_rate_hz, circular)
        reached = dsp.integrated_loudness_lufs(result, sample_rate_hz)
        if abs(reached - output.lufs) <= LUFS_TOLERANCE_LU:
            return result, None
        gain_db += output.lufs - reached
    return result, (f"{PROG}: reached {reached:.1f} LUFS, not {output.lufs:g}: the {output.ceiling_db:g} dBFS "
                    f"ceiling limits it")


def output_format(path: Path, bit_depth: str) -> tuple[str, str]:
    """(soundfile format, subtype) for `path`'s extension and the bit depth, or BounceError."""
    file_format = FILE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise BounceError(f"{path}: the output must end in .wav or .flac")
    if bit_depth not in BIT_DEPTHS:
        raise BounceError(f"--bit-depth: expected one of {', '.join(BIT_DEPTHS)}, got {bit_depth!r}")
    if file_format == "FLAC" and bit_depth == "float":
        raise BounceError(f"{path}: FLAC holds 16 or 24 bit, not float (write a .wav for float)")
    return file_format, BIT_DEPTHS[bit_depth]


def check_output(path: Path, output: OutputSettings) -> None:
    """Refuse, before any rendering, an output that cannot be written."""
    output_format(path, output.bit_depth)
    if not path.parent.is_dir():
        raise BounceError(f"{path}: folder {path.parent} does not exist")
    if path.exists() and not output.force:
        raise BounceError(f"{path}: exists already (--force replaces it)")


def _dithered(blocks: Iterable[np.ndarray], subtype: str) -> Iterator[np.ndarray]:
    """16-bit: triangular (TPDF) dither of one LSB, so quiet tails fade into noise, not into steps."""
    if subtype != "PCM_16":
        yield from blocks
        return
    rng = np.random.default_rng(0)  # the same input always gives the same file
    lsb = np.float32(2.0 ** -15)
    for block in blocks:
        noise = (rng.random(block.shape, dtype=np.float32) - rng.random(block.shape, dtype=np.float32)) * lsb
        yield np.clip(block + noise, -1.0, 1.0 - lsb)


def write_audio(path: Path, blocks: Iterable[np.ndarray], sample_rate_hz: int, channels: int,
                output: OutputSettings, total_frames: int | None = None) -> int:
    """Write blocks [frames, channels] to `path` atomically (temporary file, then rename); frames written."""
    file_format, subtype = output_format(path, output.bit_depth)
    frames = 0
    with atomic_path(path) as temp:
        with sf.SoundFile(str(temp), "w", samplerate=sample_rate_hz, channels=channels, subtype=subtype,
                          format=file_format) as f, \
                tqdm(total=total_frames, desc=f"write {path.name}", unit="frame", unit_scale=True,
                     disable=_quiet(output.progress), leave=False) as bar:
            for block in _dithered(blocks, subtype):
                f.write(block)
                frames += block.shape[0]
                bar.update(block.shape[0])
    return frames


def _chunks(audio: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, audio.shape[0], WRITE_CHUNK_FRAMES):
        yield audio[start:start + WRITE_CHUNK_FRAMES]


def save(path: Path, audio: np.ndarray, sample_rate_hz: int, output: OutputSettings, circular: bool) -> tuple[Written, str | None]:
    """Finish `audio` [frames, channels] (loudness, limiter) and write it atomically."""
    finished, note = finish(audio, sample_rate_hz, output, circular)
    write_audio(path, _chunks(finished), sample_rate_hz, finished.shape[1], output, finished.shape[0])
    loudness = dsp.integrated_loudness_lufs(finished, sample_rate_hz) if finished.shape[0] else -math.inf
    peak = float(np.abs(finished).max()) if finished.size else 0.0
    return Written(path, finished.shape[0], sample_rate_hz, loudness,
                   20.0 * math.log10(peak) if peak > 0 else -math.inf), note


def _quiet(progress: bool | None) -> bool | None:
    """tqdm's `disable`: None hides the bars when stderr is not a terminal."""
    return None if progress is None else not progress


def _describe(w: Written, bar: float | None, bit_depth: str) -> str:
    bars = f"{w.frames / bar:.2f} bars, " if bar else ""
    depth = "float" if bit_depth == "float" else f"{bit_depth}-bit"
    loud = f"{w.loudness_lufs:.1f} LUFS" if math.isfinite(w.loudness_lufs) else "silent"
    peak = f"{w.peak_dbfs:.1f} dBFS peak" if math.isfinite(w.peak_dbfs) else "no peak"
    return (f"wrote {w.path}: {bars}{w.frames / w.sample_rate_hz:.2f} s, {w.sample_rate_hz} Hz, {depth}, "
            f"{loud}, {peak}")


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def bounce_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Render loops, latent walks, scene morphs or recorded performances to WAV/FLAC.",
        epilog="Loops and walks are exactly N bars at the session tempo and loop seamlessly. See docs/bounce.md.")
    parser.add_argument("bundle", nargs="?", type=Path, metavar="BUNDLE",
                        help="model bundle folder (default: the bundled default model)")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--seeds", metavar="LIST", help="seeds to render, e.g. 0,1,5-7: one file each (or --concat)")
    mode.add_argument("--walk", type=int, metavar="BARS", help="a seamless latent walk of BARS bars")
    mode.add_argument("--morph", nargs=2, metavar=("SCENE_A", "SCENE_B"),
                      help="render scene A morphing into scene B (names in the scenes folder, or .json paths)")
    mode.add_argument("--replay", type=Path, metavar="JOURNAL", help="re-render a recorded performance journal")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT", help="output .wav or .flac (default: named after the mode)")
    parser.add_argument("--bit-depth", default="24", choices=list(BIT_DEPTHS), help="sample format (default 24)")
    parser.add_argument("--sample-rate", type=int, metavar="HZ", help="output rate (default: the model's)")
    parser.add_argument("--tempo", type=float, metavar="BPM", help="session tempo (default: the model's)")
    parser.add_argument("--tempo-mode", default="stretch", choices=list(dsp.TEMPO_MODES),
                        help="how loops follow --tempo: stretch keeps pitch, varispeed does not (default stretch)")
    parser.add_argument("--bars", type=int, metavar="N",
                        help="seeds: bars per seed (a multiple of the loop's bars; default one loop); "
                             "morph: total length (default: the morph plus one bar)")
    parser.add_argument("--concat", action="store_true", help="seeds: one file, the loops one after another")
    parser.add_argument("--points", type=int, metavar="P", help="walk: random w's the walk passes through "
                                                                 "(default: one per 4 bars, at least 2)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="walk: the first w's seed (default 0)")
    parser.add_argument("--psi", type=float, default=1.0, help="truncation for seeds and walk (default 1.0)")
    parser.add_argument("--beats", type=float, metavar="N", help="morph: length of the morph in beats")
    parser.add_argument("--channels", type=int, metavar="N",
                        help="output channels (default: the model's for seeds/walk, 2 for morphs)")
    parser.add_argument("--lufs", type=float, metavar="TARGET", help="normalise to this integrated loudness (LUFS)")
    parser.add_argument("--ceiling", type=float, default=DEFAULT_CEILING_DB, metavar="DB",
                        help=f"limiter ceiling in dBFS (default {DEFAULT_CEILING_DB:g})")
    parser.add_argument("--provider", default="auto", choices=PROVIDER_CHOICES, help="onnxruntime provider")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _check_number(name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not (math.isfinite(value) and low <= value <= high):
        raise BounceError(f"{name}: expected {low:g}..{high:g}, got {value:g}")


def _check_args(args: argparse.Namespace) -> None:
    _check_number("--tempo", args.tempo, *TEMPO_RANGE_BPM)
    _check_number("--sample-rate", args.sample_rate, *SAMPLE_RATE_RANGE_HZ)
    _check_number("--ceiling", args.ceiling, -60.0, 0.0)
    _check_number("--lufs", args.lufs, -70.0, 0.0)
    _check_number("--psi", args.psi, 0.0, 2.0)
    _check_number("--channels", args.channels, 1, 64)
    _check_number("--bars", args.bars, 1, 100000)
    _check_number("--walk", args.walk, 1, 100000)
    _check_number("--points", args.points, 2, 100000)
    if args.beats is not None and args.morph is None:
        raise BounceError("--beats goes with --morph")
    if args.morph is not None:
        if args.beats is None:
            raise BounceError("--morph needs --beats N (the length of the morph)")
        _check_number("--beats", args.beats, 0.0, 4096.0)
    if args.concat and args.seeds is None:
        raise BounceError("--concat goes with --seeds")


def _bundle_path(args: argparse.Namespace) -> Path:
    if args.bundle is not None:
        return args.bundle
    if DEFAULT_MODEL_DIR.is_dir():
        return DEFAULT_MODEL_DIR
    raise BounceError(f"no model given and no default model installed ({DEFAULT_MODEL_DIR}): "
                      f"pass a bundle folder, e.g. {PROG} bundles/techno --seeds 0")


def _loop_settings(args: argparse.Namespace, bundle: Bundle) -> LoopSettings:
    m = bundle.manifest
    return LoopSettings(sample_rate_hz=args.sample_rate or m.sample_rate_hz,
                        tempo_bpm=float(args.tempo if args.tempo is not None else m.bpm),
                        tempo_mode=args.tempo_mode, channels=args.channels or m.channels, psi=float(args.psi))


def _seed_path(base: Path, seed: int, many: bool) -> Path:
    return base.with_name(f"{base.stem}-seed{seed}{base.suffix}") if many else base


def run_seeds(args: argparse.Namespace, output: OutputSettings) -> list[str]:
    bundle = load_bundle(_bundle_path(args), provider=args.provider)
    m = bundle.manifest
    settings = _loop_settings(args, bundle)
    seeds = parse_seeds(args.seeds)
    bars = args.bars or m.bars
    bar = bar_frames(settings.sample_rate_hz, settings.tempo_bpm, m.beats_per_bar)
    if not args.concat and bars % m.bars:
        raise BounceError(f"--bars {bars}: a loop of this model is {m.bars} bar(s); use a multiple of {m.bars} "
                          f"so the file loops seamlessly (or --concat / --walk)")
    lines: list[str] = []
    if args.concat:
        path = args.output or Path(f"{m.name}-seeds-{seeds[0]}-{seeds[-1]}.wav")
        check_output(path, output)
        audio = bounce_seed_list(bundle, seeds, bars, settings, output.progress)
        written, note = save(path, audio, settings.sample_rate_hz, output, circular=True)
        return [line for line in (note, _describe(written, bar, output.bit_depth)) if line]
    base = args.output or Path(f"{m.name}.wav")
    paths = [_seed_path(base, s, many=len(seeds) > 1 or args.output is None) for s in seeds]
    for path in paths:
        check_output(path, output)
    for seed, path in zip(tqdm(seeds, desc="seeds", unit="loop", disable=_quiet(output.progress), leave=False), paths):
        written, note = save(path, bounce_seed(bundle, seed, bars, settings), settings.sample_rate_hz, output,
                             circular=True)
        lines += [line for line in (note, _describe(written, bar, output.bit_depth)) if line]
    return lines


def run_walk(args: argparse.Namespace, output: OutputSettings) -> list[str]:
    bundle = load_bundle(_bundle_path(args), provider=args.provider)
    m = bundle.manifest
    settings = _loop_settings(args, bundle)
    bars = int(args.walk)
    points = args.points or max(2, int(math.ceil(bars / 4)))
    path = args.output or Path(f"{m.name}-walk-{bars}bars.wav")
    check_output(path, output)
    audio = bounce_walk(bundle, bars, points, int(args.seed), settings, output.progress)
    written, note = save(path, audio, settings.sample_rate_hz, output, circular=True)
    bar = bar_frames(settings.sample_rate_hz, settings.tempo_bpm, m.beats_per_bar)
    finished, _ = sf.read(str(path), dtype="float32", always_2d=True)
    plot = write_walk_plot(path.with_suffix(".png"), finished, settings.sample_rate_hz, bar)
    return [line for line in (note, _describe(written, bar, output.bit_depth), plot) if line]


def run_morph(args: argparse.Namespace, output: OutputSettings) -> list[str]:
    from instrument.scenes import SceneStore

    store = SceneStore()
    scene_a, scene_b = store.load(args.morph[0]), store.load(args.morph[1])
    bundle_path = args.bundle if args.bundle is not None else (DEFAULT_MODEL_DIR if DEFAULT_MODEL_DIR.is_dir() else None)
    path = args.output or Path(f"{scene_a.name}-to-{scene_b.name}.wav")
    check_output(path, output)
    audio, rate, tempo = bounce_morph(scene_a.state, scene_b.state, float(args.beats), bundle_path, args.bars,
                                      args.sample_rate, args.tempo, args.tempo_mode, args.channels or 2,
                                      args.provider, output.progress)
    written, note = save(path, audio, rate, output, circular=False)
    beats_per_bar = read_manifest(_first_model(scene_a.state, scene_b.state, bundle_path)).beats_per_bar
    return [line for line in (note, _describe(written, bar_frames(rate, tempo, beats_per_bar), output.bit_depth))
            if line]


def _first_model(a: dict[str, Any], b: dict[str, Any], bundle_path: Path | None) -> str:
    for state in (_with_model(a, bundle_path), _with_model(b, bundle_path)):
        for deck in state.get("decks", []):
            if isinstance(deck, dict) and isinstance(deck.get("model"), str):
                return deck["model"]
    raise BounceError("--morph: neither scene names a model; give a BUNDLE to play them on")


def run_replay(args: argparse.Namespace, output: OutputSettings) -> list[str]:
    from instrument import journal as journal_module

    if args.tempo is not None or args.sample_rate is not None or args.channels is not None:
        raise BounceError("--replay renders at the journal's own rate, tempo and channels "
                          "(--tempo, --sample-rate and --channels do not apply)")
    journal = journal_module.read_journal(args.replay)
    config = journal.header.get("config", {})
    rate, channels = int(config.get("sample_rate_hz", 48000)), int(config.get("channels", 2))
    total = journal.end_frame - journal.start_frame
    path = args.output or Path(f"{args.replay.stem}.wav")
    check_output(path, output)
    provider = None if args.provider == "auto" else args.provider
    blocks = journal_module.iter_replay(args.replay, provider=provider)
    if output.lufs is None:  # the engine's limiter already guarded the master: stream, in constant memory
        frames = write_audio(path, blocks, rate, channels, output, total)
        depth = "float" if output.bit_depth == "float" else f"{output.bit_depth}-bit"
        return [f"wrote {path}: {frames / rate:.2f} s, {rate} Hz, {depth} (replay of {args.replay})"]
    blocks_list = list(tqdm(blocks, desc="replay", unit="block", disable=_quiet(output.progress), leave=False))
    audio = np.concatenate(blocks_list) if blocks_list else np.zeros((0, channels), dtype=np.float32)
    written, note = save(path, audio, rate, output, circular=False)
    return [line for line in (note, _describe(written, None, output.bit_depth)) if line]


def bounce_main(argv: Sequence[str]) -> int:
    args = bounce_parser().parse_args(list(argv))
    output = OutputSettings(bit_depth=args.bit_depth, lufs=args.lufs, ceiling_db=args.ceiling, force=args.force,
                            progress=False if args.quiet else None)
    try:
        _check_args(args)
        if args.output is not None:
            output_format(args.output, output.bit_depth)
        if args.seeds is not None:
            lines = run_seeds(args, output)
        elif args.walk is not None:
            lines = run_walk(args, output)
        elif args.morph is not None:
            lines = run_morph(args, output)
        else:
            lines = run_replay(args, output)
    except (BounceError, BundleError, ProviderError, ValueError, OSError) as e:
        print(f"{PROG}: {_one_line(e)}", file=sys.stderr)
        return 1
    for line in lines:  # notes (a target not reached, a plot that needs matplotlib) go to stderr
        print(line, file=sys.stderr if line.startswith(f"{PROG}:") else sys.stdout)
    return 0


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


__all__ = ["bounce_main", "bounce_parser", "BounceError", "LoopSettings", "OutputSettings", "Segment", "assemble",
           "bounce_seed", "bounce_seed_list", "bounce_walk", "bounce_morph", "finish", "write_audio", "fit_length",
           "join_crossfade", "catmull_rom_closed", "bars_to_frames", "bar_frames"]
