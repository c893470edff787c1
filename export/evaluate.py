"""`ganloops eval`: do a model's loops look like the real ones? Figures, plots and a verdict.

::

    ganloops eval BUNDLE_OR_RUN --data DATASET -n 64 -o OUT_DIR [--psi 1.0] [--walk-bars 32]

1. Render N loops through the bundle (onnxruntime), seeds 0..N-1 (z as the bundle's
   parity reference draws it), truncation ``--psi``; take N real loops from the dataset,
   evenly spread over it. A run folder or a checkpoint is exported to a temporary bundle
   first (that needs torch; a bundle needs only the runtime, librosa and matplotlib).
2. Describe every loop (``export.descriptors``): loudness, brightness, onset rate, low end,
   flatness, grid adherence, seam continuity.
3. Diversity: the mean pairwise distance between loops' descriptor vectors, each
   descriptor standardised by the real loops' mean and spread. A model that renders the
   same loop for every seed (mode collapse) scores near 0.
4. A latent walk: a smooth path through z over ``--walk-bars`` bars (great-circle arcs
   between random points, one every ``WALK_BARS_PER_KEY`` bars), one bar rendered per
   step, as the ATIAM brief asks, with loudness and brightness along it.
5. ``OUT_DIR/eval.json`` (every figure), ``OUT_DIR/eval.png`` (distributions side by side
   and the walk), ``OUT_DIR/walk.wav`` (the walk, to listen to), and a verdict table on
   stdout against the project's thresholds (``THRESHOLDS``, docs/evaluation.md).

The exit status is 0 when the evaluation ran, whatever the verdict (1 with ``--strict``
when a check fails); 1 with one line on stderr when it could not run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from export.descriptors import (
    DESCRIPTOR_FLOORS,
    DESCRIPTOR_NAMES,
    GRID_TOLERANCE_SECONDS,
    DescriptorError,
    LoopReport,
    frame_samples,
    grid_chance_share,
    loop_report,
    power_spectrogram,
    rms_db,
    spectral_centroid_hz,
    to_mono,
)
from instrument.atomic import atomic_path, atomic_write_text
from instrument.bundle import MANIFEST_NAME, Bundle, BundleError, load_bundle
from instrument.onnx_session import PROVIDER_CHOICES

PROG = "ganloops eval"
EVAL_FORMAT = "ganloops-eval"
EVAL_VERSION = 1
JSON_NAME = "eval.json"
PLOT_NAME = "eval.png"
WALK_NAME = "walk.wav"
DEFAULT_COUNT = 64
DEFAULT_WALK_BARS = 32
WALK_BARS_PER_KEY = 8
WALK_SEED = 1_000_003
"""Seed of the walk's key points (apart from the evaluation seeds 0..N-1)."""
RENDER_BATCH = 16
PERCENTILES: tuple[int, ...] = (5, 50, 95)


@dataclass(frozen=True)
class Thresholds:
    """The project's pass marks for the default model (docs/evaluation.md says why)."""

    grid_adherence_share_of_real: float = 0.8   # generated on-grid share >= this x real's
    seam_real_percentile: float = 75.0          # generated median seam ratio <= real's this percentile
    flatness_real_range: tuple[float, float] = (5.0, 95.0)   # generated median flatness within these real percentiles
    diversity_share_of_real: float = 0.5        # generated diversity >= this x real's


THRESHOLDS = Thresholds()


class EvalError(ValueError):
    """An evaluation that cannot run; the message is one line naming the culprit."""


@dataclass(frozen=True)
class Check:
    """One line of the verdict."""

    name: str
    generated: float
    real: float
    rule: str
    passed: bool

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "generated": _json_number(self.generated), "real": _json_number(self.real),
                "rule": self.rule, "passed": self.passed}


# ---------------------------------------------------------------------------------------
# Inputs: the bundle and the real loops
# ---------------------------------------------------------------------------------------


def _bundle_from_run(source: Path, folder: Path) -> Path:
    """Export run folder or checkpoint `source` into `folder` (no directions); needs torch."""
    from export.bundle_writer import write_bundle
    from export.checkpoint import load_trained_generator
    from export.onnx_export import ExportError

    try:
        trained = load_trained_generator(source)
        out = folder / "bundle"
        write_bundle(trained.generator, out, name=source.resolve().name, timing=trained.timing,
                     family=trained.family, provenance=trained.provenance)
    except ExportError as e:
        raise EvalError(str(e)) from None
    return out


def open_model(source: Path, scratch: Path, provider: str = "auto") -> Bundle:
    """The bundle at `source`, or a temporary export of the run folder / checkpoint `source`."""
    if not source.exists():
        raise EvalError(f"{source}: no such bundle, run folder or checkpoint")
    path = source if (source / MANIFEST_NAME).is_file() else _bundle_from_run(source, scratch)
    try:
        return load_bundle(path, provider=provider)
    except BundleError as e:
        raise EvalError(str(e)) from None


def load_real_loops(dataset: Path, bundle: Bundle, count: int) -> tuple[np.ndarray, list[int]]:
    """`count` loops [n, channels, samples] spread evenly over the dataset, and their indices.

    The dataset must share the bundle's sample rate, tempo, metre and bars (channels may
    differ: every descriptor is taken on the channels' mean).
    """
    from training.data.store import DatasetError, LoopStore

    try:
        store = LoopStore.open(dataset)
    except DatasetError as e:
        raise EvalError(str(e)) from None
    m, spec = bundle.manifest, store.spec
    if spec.sample_rate != m.sample_rate_hz:
        raise EvalError(f"{dataset}: sample rate {spec.sample_rate} Hz, but the bundle renders {m.sample_rate_hz} Hz "
                        f"(evaluate against a dataset built at the bundle's rate)")
    if abs(spec.bpm - m.bpm) > 1e-3:
        raise EvalError(f"{dataset}: tempo {spec.bpm:g} BPM, but the bundle's loops are at {m.bpm:g} BPM")
    if (spec.bars, spec.beats_per_bar) != (m.bars, m.beats_per_bar):
        raise EvalError(f"{dataset}: loops of {spec.bars} bars of {spec.beats_per_bar} beats, the bundle's "
                        f"{m.bars} bars of {m.beats_per_bar}")
    if len(store) < 2:
        raise EvalError(f"{dataset}: holds {len(store)} loop(s); need at least 2 to compare distributions")
    indices = sorted(set(np.linspace(0, len(store) - 1, min(count, len(store))).round().astype(int).tolist()))
    return np.stack([np.asarray(store[i], dtype=np.float32) for i in indices]), indices


def seed_latents(z_dim: int, seeds: Sequence[int]) -> np.ndarray:
    """z [len(seeds), z_dim]: row i is ``default_rng(seeds[i]).standard_normal(z_dim)``."""
    return np.stack([np.random.default_rng(s).standard_normal(z_dim).astype(np.float32) for s in seeds])


def render_seeds(bundle: Bundle, seeds: Sequence[int], psi: float) -> np.ndarray:
    """Audio [len(seeds), channels, samples] of the given seeds at truncation `psi`."""
    z = seed_latents(bundle.manifest.z_dim, seeds)
    return np.concatenate([bundle.render(z[i:i + RENDER_BATCH], psi) for i in range(0, len(z), RENDER_BATCH)])


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def summarise(values: Sequence[float]) -> dict[str, Any]:
    """count, mean, std, p5, p50, p95 of the finite values (None where there are none)."""
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    out: dict[str, Any] = {"count": int(v.size)}
    if v.size == 0:
        return {**out, "mean": None, "std": None, **{f"p{p}": None for p in PERCENTILES}}
    out["mean"] = float(v.mean())
    out["std"] = float(v.std(ddof=1)) if v.size > 1 else 0.0
    for p, value in zip(PERCENTILES, np.percentile(v, PERCENTILES)):
        out[f"p{p}"] = float(value)
    return out


def descriptor_matrix(reports: Sequence[LoopReport]) -> np.ndarray:
    """[loops, 5] descriptor vectors."""
    return np.stack([r.descriptors.vector() for r in reports])


def diversity(vectors: np.ndarray, reference: np.ndarray) -> float:
    """Mean pairwise Euclidean distance of `vectors` [n, d], standardised by `reference`'s mean and spread.

    Each descriptor's spread is floored at ``DESCRIPTOR_FLOORS`` so that a descriptor the
    reference hardly varies on does not blow up every distance.
    """
    if len(vectors) < 2:
        raise EvalError("diversity: needs at least 2 loops")
    floors = np.array([DESCRIPTOR_FLOORS[k] for k in DESCRIPTOR_NAMES])
    scale = np.maximum(reference.std(axis=0, ddof=1), floors)
    x = (vectors - reference.mean(axis=0)) / scale
    distances = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    n = len(x)
    return float(distances.sum() / (n * (n - 1)))


def grid_figures(reports: Sequence[LoopReport]) -> dict[str, Any]:
    """Pooled share of onsets on the grid, per-loop summary, loops without onsets."""
    onsets = sum(r.onset_count for r in reports)
    on_grid = sum(r.on_grid_count for r in reports)
    return {"share": on_grid / onsets if onsets else None, "onsets": onsets, "on_grid": on_grid,
            "per_loop": summarise([r.grid_adherence for r in reports]),
            "loops_without_onsets": sum(1 for r in reports if r.onset_count == 0)}


def _json_number(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def verdict(generated: Sequence[LoopReport], real: Sequence[LoopReport], diversity_generated: float,
            diversity_real: float, thresholds: Thresholds = THRESHOLDS) -> list[Check]:
    """The checks of docs/evaluation.md, each PASS or FAIL."""
    t = thresholds
    checks = []
    g_grid, r_grid = grid_figures(generated)["share"], grid_figures(real)["share"]
    g_grid = math.nan if g_grid is None else g_grid
    r_grid = math.nan if r_grid is None else r_grid
    need = t.grid_adherence_share_of_real * r_grid
    checks.append(Check("grid adherence", g_grid, r_grid, f">= {t.grid_adherence_share_of_real:.0%} of real "
                        f"({need:.3f})", bool(g_grid >= need)))
    for name, attr in (("seam jump ratio", "seam_jump_ratio"), ("seam spectral ratio", "seam_spectral_ratio")):
        g = float(np.median([getattr(r, attr) for r in generated]))
        r_values = [getattr(r, attr) for r in real]
        limit = float(np.percentile(r_values, t.seam_real_percentile))
        checks.append(Check(f"{name} (median)", g, float(np.median(r_values)),
                            f"<= real's p{t.seam_real_percentile:g} ({limit:.3g})", bool(g <= limit)))
    g_flat = float(np.median([r.descriptors.spectral_flatness for r in generated]))
    r_flat = [r.descriptors.spectral_flatness for r in real]
    low, high = (float(v) for v in np.percentile(r_flat, t.flatness_real_range))
    checks.append(Check("spectral flatness (median)", g_flat, float(np.median(r_flat)),
                        f"in real's p{t.flatness_real_range[0]:g}-p{t.flatness_real_range[1]:g} "
                        f"({low:.3g}-{high:.3g})", bool(low <= g_flat <= high)))
    need = t.diversity_share_of_real * diversity_real
    checks.append(Check("diversity", diversity_generated, diversity_real,
                        f">= {t.diversity_share_of_real:.0%} of real ({need:.3f})", bool(diversity_generated >= need)))
    return checks


# ---------------------------------------------------------------------------------------
# The latent walk
# ---------------------------------------------------------------------------------------


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Great-circle interpolation from a to b (t in [0, 1]); linear when they are (anti)parallel."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    cos = float(np.dot(a, b) / (na * nb)) if na > 0 and nb > 0 else 1.0
    omega = math.acos(max(-1.0, min(1.0, cos)))
    if omega < 1e-6 or abs(math.pi - omega) < 1e-6:
        return (1 - t) * a + t * b
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def walk_latents(z_dim: int, bars: int, bars_per_key: int = WALK_BARS_PER_KEY, seed: int = WALK_SEED) -> np.ndarray:
    """z [bars, z_dim]: one point per bar along great-circle arcs between random key points."""
    keys = np.random.default_rng(seed).standard_normal((bars // bars_per_key + 2, z_dim))
    rows = [slerp(keys[b // bars_per_key], keys[b // bars_per_key + 1], (b % bars_per_key) / bars_per_key)
            for b in range(bars)]
    return np.stack(rows).astype(np.float32)


@dataclass(frozen=True)
class Walk:
    """A rendered walk: audio, loudness and brightness per beat, and how smoothly they move."""

    audio: np.ndarray             # [channels, bars * bar_samples]
    beats_per_bar: int
    rms_db: np.ndarray            # [beats]
    centroid_hz: np.ndarray       # [beats]
    smoothness: dict[str, Any]


def render_walk(bundle: Bundle, bars: int, psi: float, random_pairs: np.ndarray) -> Walk:
    """Render the walk, one bar per step (step b plays bar b mod `bars` of its loop).

    `random_pairs` [n, 5]: descriptors of independent loops; the mean change between
    consecutive ones is what "not smooth at all" looks like, next to the walk's change
    from bar to bar.
    """
    if bars < 2:
        raise EvalError(f"--walk-bars: need at least 2 bars, got {bars}")
    m = bundle.manifest
    z = walk_latents(m.z_dim, bars)
    loops = np.concatenate([bundle.render(z[i:i + RENDER_BATCH], psi) for i in range(0, bars, RENDER_BATCH)])
    edges = np.round(np.linspace(0, m.loop_samples, m.bars + 1)).astype(int)
    audio = np.concatenate([loops[b][:, edges[b % m.bars]:edges[b % m.bars + 1]] for b in range(bars)], axis=1)
    mono = to_mono(audio, "walk")
    beat_edges = np.round(np.linspace(0, mono.size, bars * m.beats_per_bar + 1)).astype(int)
    frame = frame_samples(m.sample_rate_hz)
    rms, centroid = [], []
    for start, end in zip(beat_edges[:-1], beat_edges[1:]):
        beat = mono[start:end]
        rms.append(rms_db(beat))
        centroid.append(spectral_centroid_hz(power_spectrogram(beat, frame, frame // 2), m.sample_rate_hz)
                        if beat.size >= frame else math.nan)
    rms_a, cen_a = np.array(rms), np.array(centroid)
    per_bar_rms = rms_a.reshape(bars, m.beats_per_bar).mean(axis=1)
    per_bar_cen = np.nanmean(cen_a.reshape(bars, m.beats_per_bar), axis=1)
    random_rms = random_pairs[:, DESCRIPTOR_NAMES.index("rms_db")]
    random_cen = random_pairs[:, DESCRIPTOR_NAMES.index("spectral_centroid_hz")]
    smooth = {
        "bars": bars, "bars_per_key": WALK_BARS_PER_KEY, "psi": psi,
        "rms_db_change_per_bar": _json_number(float(np.mean(np.abs(np.diff(per_bar_rms))))),
        "centroid_hz_change_per_bar": _json_number(float(np.nanmean(np.abs(np.diff(per_bar_cen))))),
        "rms_db_change_between_random_loops": _json_number(float(np.mean(np.abs(np.diff(random_rms))))),
        "centroid_hz_change_between_random_loops": _json_number(float(np.mean(np.abs(np.diff(random_cen))))),
    }
    return Walk(audio=audio, beats_per_bar=m.beats_per_bar, rms_db=rms_a, centroid_hz=cen_a, smoothness=smooth)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """JSON (no NaN) into a hidden sibling file, then renamed over `path`."""
    atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")


def write_wav_atomic(path: Path, audio: np.ndarray, sample_rate_hz: int) -> None:
    """audio [channels, samples] as 16-bit WAV, written beside `path` then renamed over it."""
    import soundfile

    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), np.clip(audio.T, -1.0, 1.0), sample_rate_hz, subtype="PCM_16", format="WAV")


_AXIS_LABELS: dict[str, str] = {
    "rms_db": "loudness, RMS (dBFS)",
    "spectral_centroid_hz": "brightness, spectral centroid (Hz)",
    "onset_rate_hz": "density, onsets per second (Hz)",
    "low_band_share_db": "low end, power share < 150 Hz (dB)",
    "spectral_flatness": "spectral flatness (0 tone .. 1 noise)",
    "grid_adherence": "onsets on the 16th grid (share per loop)",
    "seam_jump_ratio": "seam jump / mean sample step",
    "seam_spectral_ratio": "seam / mean spectral change",
}


def _panel_values(reports: Sequence[LoopReport], key: str) -> np.ndarray:
    if key in DESCRIPTOR_NAMES:
        values = [getattr(r.descriptors, key) for r in reports]
    elif key == "grid_adherence":
        values = [r.grid_adherence for r in reports]
    else:
        values = [getattr(r, key) for r in reports]
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


def write_plot(path: Path, generated: Sequence[LoopReport], real: Sequence[LoopReport], walk: Walk,
               title: str) -> None:
    """Histograms of every figure, generated over real, and the latent walk; PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 11), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, 4)
    for i, key in enumerate(_AXIS_LABELS):
        ax = fig.add_subplot(grid[i // 4, i % 4])
        g, r = _panel_values(generated, key), _panel_values(real, key)
        medians = [_fmt(float(np.median(v))) if v.size else "n/a" for v in (g, r)]
        if key.startswith("seam"):   # ratios spread over decades: bin their logarithms
            g, r = np.log10(np.maximum(g, 1e-3)), np.log10(np.maximum(r, 1e-3))
        both = np.concatenate([g, r])
        low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
        bins = np.linspace(low, high if high > low else low + 1e-6, 21)
        ax.hist(r, bins=bins, alpha=0.5, color="tab:blue", label=f"real (median {medians[1]})")
        ax.hist(g, bins=bins, histtype="step", linewidth=2, color="tab:red", label=f"generated (median {medians[0]})")
        ax.set_xlabel(("log10 " if key.startswith("seam") else "") + _AXIS_LABELS[key])
        ax.set_ylabel("loops")
        ax.legend(fontsize=8)
    beats = np.arange(walk.rms_db.size) / walk.beats_per_bar
    for col, (values, label, color) in enumerate(((walk.rms_db, "loudness, RMS per beat (dBFS)", "tab:green"),
                                                  (walk.centroid_hz, "brightness, centroid per beat (Hz)",
                                                   "tab:purple"))):
        ax = fig.add_subplot(grid[2, 2 * col:2 * col + 2])
        ax.plot(beats, values, color=color, linewidth=1.2)
        for key_bar in range(0, int(math.ceil(beats[-1] + 1e-9)) + 1, WALK_BARS_PER_KEY):
            ax.axvline(key_bar, color="0.7", linewidth=0.8, linestyle="--")
        ax.set_xlabel(f"bar of the latent walk (key points every {WALK_BARS_PER_KEY} bars, dashed)")
        ax.set_ylabel(label)
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)


# ---------------------------------------------------------------------------------------
# The whole evaluation
# ---------------------------------------------------------------------------------------


@dataclass
class EvalResult:
    """What ``evaluate`` measured and wrote."""

    data: dict[str, Any]
    checks: list[Check]
    out_dir: Path


def evaluate(bundle: Bundle, dataset: Path, out_dir: Path, *, count: int = DEFAULT_COUNT, psi: float = 1.0,
             walk_bars: int = DEFAULT_WALK_BARS, source: Path | None = None) -> EvalResult:
    """Render, describe and compare; write eval.json, eval.png and walk.wav into `out_dir`."""
    started = time.monotonic()
    if count < 2:
        raise EvalError(f"-n: need at least 2 loops to compare distributions, got {count}")
    if walk_bars < 2:
        raise EvalError(f"--walk-bars: need at least 2 bars, got {walk_bars}")
    if not math.isfinite(psi):
        raise EvalError(f"--psi: expected a finite number, got {psi}")
    m = bundle.manifest
    real_audio, indices = load_real_loops(dataset, bundle, count)
    generated_audio = render_seeds(bundle, range(count), psi)
    try:
        generated = [loop_report(a, m.sample_rate_hz, m.bpm, name=f"generated seed {i}")
                     for i, a in enumerate(generated_audio)]
        real = [loop_report(a, m.sample_rate_hz, m.bpm, name=f"{dataset} loop {i}") for i, a in zip(indices, real_audio)]
    except DescriptorError as e:
        raise EvalError(str(e)) from None
    g_vec, r_vec = descriptor_matrix(generated), descriptor_matrix(real)
    div_g, div_r = diversity(g_vec, r_vec), diversity(r_vec, r_vec)
    walk = render_walk(bundle, walk_bars, psi, g_vec)
    checks = verdict(generated, real, div_g, div_r)

    figures: dict[str, Any] = {name: {"generated": summarise(g_vec[:, j]), "real": summarise(r_vec[:, j])}
                               for j, name in enumerate(DESCRIPTOR_NAMES)}
    data: dict[str, Any] = {
        "format": EVAL_FORMAT,
        "version": EVAL_VERSION,
        "model": {"source": str(source or bundle.path), "name": m.name, "family": m.family,
                  "sample_rate_hz": m.sample_rate_hz, "bpm": m.bpm, "bars": m.bars,
                  "beats_per_bar": m.beats_per_bar, "provider": bundle.provider},
        "dataset": {"path": str(dataset), "indices": indices},
        "settings": {"count": count, "generated_seeds": f"0..{count - 1}", "psi": psi,
                     "grid_tolerance_seconds": GRID_TOLERANCE_SECONDS,
                     "grid_chance_share": grid_chance_share(m.bpm), "walk_bars": walk_bars},
        "descriptors": figures,
        "grid_adherence": {"generated": grid_figures(generated), "real": grid_figures(real)},
        "seam": {key: {"generated": summarise([getattr(r, key) for r in generated]),
                       "real": summarise([getattr(r, key) for r in real])}
                 for key in ("seam_jump_ratio", "seam_spectral_ratio")},
        "diversity": {"generated": div_g, "real": div_r, "descriptors": list(DESCRIPTOR_NAMES)},
        "walk": walk.smoothness,
        "verdict": [c.to_json() for c in checks],
        "passed": all(c.passed for c in checks),
        "loops": {"generated": [r.to_json() for r in generated], "real": [r.to_json() for r in real]},
        "seconds": None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_wav_atomic(out_dir / WALK_NAME, walk.audio, m.sample_rate_hz)
    write_plot(out_dir / PLOT_NAME, generated, real, walk,
               f"{m.name}: {count} generated loops (psi {psi:g}) vs {len(real)} real loops from {dataset.name}")
    data["seconds"] = time.monotonic() - started
    write_json_atomic(out_dir / JSON_NAME, _clean(data))
    return EvalResult(data=data, checks=checks, out_dir=out_dir)


def _clean(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.3g}"


def report_lines(result: EvalResult) -> list[str]:
    """The figures (median, generated vs real) and the verdict, as printed by ``ganloops eval``."""
    d = result.data
    lines = [f"{'figure':<28} {'generated':>10} {'real':>10}"]
    for name in DESCRIPTOR_NAMES:
        fig = d["descriptors"][name]
        lines.append(f"{name + ' (median)':<28} {_fmt(fig['generated']['p50']):>10} {_fmt(fig['real']['p50']):>10}")
    grid = d["grid_adherence"]
    lines.append(f"{'onsets on the 16th grid':<28} {_fmt(grid['generated']['share']):>10} "
                 f"{_fmt(grid['real']['share']):>10}   (chance {d['settings']['grid_chance_share']:.2f})")
    walk = d["walk"]
    lines.append(f"{'walk: loudness change/bar':<28} {_fmt(walk['rms_db_change_per_bar']):>10} dB   "
                 f"(between random loops {_fmt(walk['rms_db_change_between_random_loops'])} dB)")
    lines.append("")
    lines.append(f"{'check':<28} {'generated':>10} {'real':>10}   {'threshold':<36} verdict")
    for c in result.checks:
        lines.append(f"{c.name:<28} {_fmt(c.generated):>10} {_fmt(c.real):>10}   {c.rule:<36} "
                     f"{'PASS' if c.passed else 'FAIL'}")
    return lines


def eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Compare a model's loops with a dataset's: descriptor distributions, 16th-grid "
                               "adherence, seam continuity, diversity, a latent walk; verdict against the "
                               "project's thresholds (docs/evaluation.md).")
    parser.add_argument("source", type=Path, metavar="BUNDLE_OR_RUN",
                        help="a bundle folder, a training run folder or a checkpoint file (exported on the fly)")
    parser.add_argument("--data", type=Path, required=True, metavar="DATASET", help="loop dataset folder (real loops)")
    parser.add_argument("-n", "--count", type=int, default=DEFAULT_COUNT, metavar="N",
                        help=f"loops to render and to take from the dataset (default {DEFAULT_COUNT})")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="OUT_DIR",
                        help=f"folder for {JSON_NAME}, {PLOT_NAME} and {WALK_NAME}")
    parser.add_argument("--psi", type=float, default=1.0, help="truncation of the generated loops (default 1)")
    parser.add_argument("--walk-bars", type=int, default=DEFAULT_WALK_BARS, metavar="BARS",
                        help=f"length of the latent walk in bars (default {DEFAULT_WALK_BARS})")
    parser.add_argument("--provider", default="auto", choices=PROVIDER_CHOICES,
                        help="onnxruntime execution provider (default: auto)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a check fails")
    return parser


def eval_main(argv: Sequence[str]) -> int:
    ns = eval_parser().parse_args(list(argv))
    try:
        with tempfile.TemporaryDirectory(prefix="ganloops-eval-") as scratch:
            bundle = open_model(ns.source, Path(scratch), ns.provider)
            result = evaluate(bundle, ns.data, ns.out, count=ns.count, psi=ns.psi, walk_bars=ns.walk_bars,
                              source=ns.source)
    except (EvalError, BundleError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    print("\n".join(report_lines(result)))
    print(f"wrote {result.out_dir / JSON_NAME}, {result.out_dir / PLOT_NAME}, {result.out_dir / WALK_NAME} "
          f"in {result.data['seconds']:.1f} s")
    return 1 if ns.strict and not all(c.passed for c in result.checks) else 0
