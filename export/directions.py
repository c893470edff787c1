"""Latent directions: the knobs of a bundle, found in w space and named by what they do to the audio.

Two ways to find directions, both stored (the ``method`` field of each direction):

- **GANSpace** (Härkönen et al. 2020): sample many z (``SAMPLES``), map them to w, and take
  the principal components of w. Component i is the i-th direction of largest variance;
  its ``sigma`` is the square root of its eigenvalue (the standard deviation of w along
  it). This finds where the mapping network actually spreads the loops out.
- **SeFa** (Shen & Zhou 2021, closed form): the layers that first consume w turn it into
  per-channel styles through a weight matrix; stacking those matrices into A, the unit
  vectors v that change the styles most (largest ``|A v|``) are the top eigenvectors of
  ``AᵀA``. For the style generator A stacks every style affine layer (the modulated
  convolutions' affine layers, or AdaIN's scale and shift, and the to-audio layer); for
  WaveGAN (identity mapping) it is the first dense layer's weight. ``sigma`` is the
  standard deviation of sampled w projected on the vector.

Each direction is a unit vector with its spread: a knob at +-1 moves w by
``+-knob_sigmas * sigma`` along it (``knob_sigmas`` defaults to 2, as in the bundle format).

Then each direction is measured on rendered audio: ``MEASURE_SEEDS`` loops (seeds 0..N-1,
z drawn as the bundle's parity reference draws it) at knob positions ``KNOB_POSITIONS``,
the five descriptors of ``export.descriptors`` on every render. Per descriptor:

- the **slope**: mean change per +1 sigma along the direction (least squares over the
  knob positions, on the mean over seeds); stored in the bundle as ``descriptors``;
- the **monotonicity**: Spearman's rank correlation between knob position and the mean
  descriptor (+1: rises all the way, -1: falls all the way);
- the **normalised slope**: the slope over the spread of that descriptor between the
  seeds at the knob's centre (floored at ``DESCRIPTOR_FLOORS``, about the smallest change
  one hears), so that Hz and dB can be compared.

A direction is named after its strongest effect, ``|normalised slope| * |monotonicity|``:
``"brightness+"`` when turning the knob up brightens the loop, ``"loudness-"`` when it makes
it quieter; a second direction with the same effect becomes ``"brightness+ 2"``. A
direction whose strongest effect is below ``MIN_NAMED_EFFECT`` is named by its method and
rank (``"sefa 5"``): it changes the sound in ways none of the descriptors follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from export.descriptors import DESCRIPTOR_FLOORS, DESCRIPTOR_LABELS, DESCRIPTOR_NAMES, describe
from export.evaluate import seed_latents
from instrument.bundle import DEFAULT_KNOB_SIGMAS, load_bundle

METHODS: tuple[str, ...] = ("ganspace", "sefa")
SAMPLES = 4096
"""z samples drawn for the PCA and for the spread of SeFa directions."""
SAMPLE_SEED = 0
PER_METHOD = 8
"""Directions kept per method (fewer when w_dim is smaller)."""
MEASURE_SEEDS = 16
KNOB_POSITIONS: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)
MIN_NAMED_EFFECT = 0.1
"""Below this |normalised slope * monotonicity| no descriptor explains the direction."""
STRICTLY_MONOTONIC = 1.0 - 1e-9
"""|Spearman| over the knob positions at or above which a descriptor moves strictly monotonically."""

Renderer = Callable[[np.ndarray], np.ndarray]
"""w [batch, w_dim] float32 -> audio [batch, channels, samples] (the same w at every style input)."""


class DirectionError(ValueError):
    """Directions that cannot be computed; one line naming the culprit."""


@dataclass(frozen=True)
class Candidate:
    """A direction found in w space, before it is measured on audio."""

    method: str
    rank: int                # 1 = the method's strongest
    vector: np.ndarray       # [w_dim], unit length
    sigma: float             # standard deviation of w along `vector`, w units
    eigenvalue: float        # ganspace: variance along it; sefa: eigenvalue of AᵀA
    eigenvalue_share: float  # eigenvalue / sum of all eigenvalues


@dataclass(frozen=True)
class Effect:
    """What one direction does to the five descriptors (see the module docstring)."""

    slope_per_sigma: dict[str, float]
    monotonicity: dict[str, float]
    normalised_slope: dict[str, float]
    descriptor_means: dict[str, list[float]] = field(default_factory=dict)   # per knob position

    def scores(self) -> dict[str, float]:
        """|normalised slope| * |monotonicity| per descriptor: how clearly the knob drives it."""
        return {k: abs(self.normalised_slope[k]) * abs(self.monotonicity[k]) for k in DESCRIPTOR_NAMES}

    def strongest(self) -> tuple[str, float]:
        """(descriptor, score) of the strongest effect among the descriptors the knob moves
        strictly monotonically over its positions: a knob's name promises what it does over
        its whole range. When it moves none that way: the strongest overall, with score 0
        (so the direction keeps its unnamed "method rank" name)."""
        scores = self.scores()
        monotone = [k for k in DESCRIPTOR_NAMES if abs(self.monotonicity[k]) >= STRICTLY_MONOTONIC]
        if not monotone:
            return max(DESCRIPTOR_NAMES, key=lambda k: scores[k]), 0.0
        name = max(monotone, key=lambda k: scores[k])
        return name, scores[name]


# ---------------------------------------------------------------------------------------
# Finding directions
# ---------------------------------------------------------------------------------------


def sample_latents(z_dim: int, count: int, seed: int = SAMPLE_SEED) -> np.ndarray:
    """z [count, z_dim] float32 from numpy's default generator seeded with `seed`."""
    return np.random.default_rng(seed).standard_normal((count, z_dim)).astype(np.float32)


@torch.no_grad()
def sample_w(generator: nn.Module, count: int = SAMPLES, seed: int = SAMPLE_SEED) -> np.ndarray:
    """w [count, w_dim] float64 of `count` random z through the generator's mapping (eval mode, psi 1)."""
    was_training = generator.training
    generator.eval()
    try:
        z = torch.from_numpy(sample_latents(generator.z_dim, count, seed))
        w = torch.cat([generator.mapping(chunk, truncation_psi=1.0) for chunk in z.split(1024)])
    finally:
        generator.train(was_training)
    return w.double().cpu().numpy()


def _fix_sign(vector: np.ndarray) -> np.ndarray:
    """The same direction with its largest-magnitude component positive (eigenvector signs are arbitrary)."""
    return vector if vector[int(np.argmax(np.abs(vector)))] >= 0 else -vector


def _top_eigenvectors(matrix: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues [count] descending, eigenvectors [count, n] as rows) of a symmetric matrix."""
    values, vectors = np.linalg.eigh(matrix)
    order = np.argsort(values)[::-1][:count]
    return np.maximum(values[order], 0.0), vectors[:, order].T


def ganspace(w: np.ndarray, count: int) -> list[Candidate]:
    """Principal components of sampled w [samples, w_dim], by explained variance; sigma = sqrt(eigenvalue)."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] < 2:
        raise DirectionError(f"ganspace: expected w samples [samples >= 2, w_dim], got shape {list(w.shape)}")
    count = min(count, w.shape[1])
    centred = w - w.mean(axis=0)
    covariance = centred.T @ centred / (w.shape[0] - 1)
    values, vectors = _top_eigenvectors(covariance, count)
    total = float(np.trace(covariance)) or 1.0
    return [Candidate("ganspace", i + 1, _fix_sign(v), float(math.sqrt(lam)), float(lam), float(lam / total))
            for i, (lam, v) in enumerate(zip(values, vectors))]


def sefa(weight: np.ndarray, w: np.ndarray, count: int) -> list[Candidate]:
    """Top eigenvectors of AᵀA for A = `weight` [rows, w_dim]; sigma = spread of `w` [samples, w_dim] along each."""
    a = np.asarray(weight, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[1]:
        raise DirectionError(f"sefa: weight {list(a.shape)} and w samples {list(w.shape)} must share w_dim")
    count = min(count, a.shape[1])
    gram = a.T @ a
    values, vectors = _top_eigenvectors(gram, count)
    total = float(np.trace(gram)) or 1.0
    candidates = []
    for i, (lam, v) in enumerate(zip(values, vectors)):
        v = _fix_sign(v)
        sigma = float(np.std(w @ v, ddof=1))
        if not sigma > 0:
            raise DirectionError(f"sefa: sampled w do not vary along direction {i + 1}; cannot set its spread")
        candidates.append(Candidate("sefa", i + 1, v, sigma, float(lam), float(lam / total)))
    return candidates


def _effective_weight(layer: nn.Module) -> torch.Tensor:
    """The [out, in] matrix a dense layer applies (equalised layers scale their stored weight at run time)."""
    return layer.weight * getattr(layer, "weight_gain", 1.0)


def _style_layer_weights(layers: Iterable[nn.Module]) -> list[torch.Tensor]:
    """The affine maps from w of style layers: ``conv.affine`` (modulated) or ``style_scale``/``style_shift`` (AdaIN)."""
    mats = []
    for layer in layers:
        if layer.style_mode == "modulated":
            mats.append(_effective_weight(layer.conv.affine))
        else:
            mats += [_effective_weight(layer.style_scale), _effective_weight(layer.style_shift)]
    return mats


def sefa_weight_matrix(generator: nn.Module) -> np.ndarray:
    """A [rows, w_dim]: the weights of the layers that first consume w, stacked.

    Style generator: every style layer's affine map (``conv.affine`` of a modulated
    layer, ``style_scale`` and ``style_shift`` of an AdaIN layer) and the to-audio layer's
    affine map. Grid generator: the same for its pattern and voice layers, plus the affine
    maps to the velocities, to the envelopes' decay and to the level. WaveGAN: the dense layer that turns
    z (= w) into the first feature map.
    """
    from training.models.style_grid import StyleGridGenerator
    from training.models.style_wavegan import StyleWaveGANGenerator
    from training.models.wavegan import WaveGANGenerator

    with torch.no_grad():
        if isinstance(generator, StyleWaveGANGenerator):
            mats = _style_layer_weights(generator.layers)
            mats.append(_effective_weight(generator.to_audio.conv.affine))
            a = torch.cat(mats)
        elif isinstance(generator, StyleGridGenerator):
            mats = _style_layer_weights(generator.pattern_layers)
            mats.append(_effective_weight(generator.to_velocity.affine))
            mats += _style_layer_weights(generator.voice_layers)
            mats += [_effective_weight(generator.to_audio.conv.affine), _effective_weight(generator.envelope.decay),
                     _effective_weight(generator.level)]
            a = torch.cat(mats)
        elif isinstance(generator, WaveGANGenerator):
            a = generator.dense.weight
        else:
            raise DirectionError(f"sefa: no rule for the layers that consume w in {type(generator).__name__}")
    return a.detach().double().cpu().numpy()


def find_candidates(generator: nn.Module, per_method: int = PER_METHOD, samples: int = SAMPLES,
                    seed: int = SAMPLE_SEED) -> list[Candidate]:
    """GANSpace and SeFa directions of `generator`, interleaved by rank (ganspace 1, sefa 1, ganspace 2, ...)."""
    if per_method < 1:
        raise DirectionError(f"per_method: expected a positive number of directions, got {per_method}")
    if samples < 2:
        raise DirectionError(f"samples: expected at least 2 z samples, got {samples}")
    w = sample_w(generator, samples, seed)
    by_method = [ganspace(w, per_method), sefa(sefa_weight_matrix(generator), w, per_method)]
    out: list[Candidate] = []
    for rank in range(max(len(m) for m in by_method)):
        out += [m[rank] for m in by_method if rank < len(m)]
    return out


# ---------------------------------------------------------------------------------------
# Measuring them on audio
# ---------------------------------------------------------------------------------------


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation; 0 when either side is constant."""
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt(np.sum(rx ** 2) * np.sum(ry ** 2)))
    return float(np.sum(rx * ry) / denominator) if denominator > 0 else 0.0


def describe_batch(audio: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Descriptor vectors [batch, 5] of audio [batch, channels, samples]."""
    return np.stack([describe(loop, sample_rate_hz, name=f"render {i}").vector() for i, loop in enumerate(audio)])


def measure_effect(render: Renderer, base_w: np.ndarray, vector: np.ndarray, sigma: float, sample_rate_hz: float,
                   *, knob_sigmas: float = DEFAULT_KNOB_SIGMAS, knob_positions: Sequence[float] = KNOB_POSITIONS,
                   base_descriptors: np.ndarray | None = None) -> Effect:
    """Render `base_w` [seeds, w_dim] moved along `vector` to each knob position; what changes, per +1 sigma.

    `base_descriptors` [seeds, 5] saves rendering knob position 0 again when several
    directions share the same seeds.
    """
    positions = [float(k) for k in knob_positions]
    if len(set(positions)) < 3 or 0.0 not in positions:
        raise DirectionError(f"knob_positions: need at least 3 distinct positions including 0, got {positions}")
    seeds = base_w.shape[0]
    per_position = []
    for k in positions:
        if k == 0.0 and base_descriptors is not None:
            per_position.append(base_descriptors)
            continue
        w = (base_w + np.float32(k * knob_sigmas * sigma) * vector[None, :]).astype(np.float32)
        per_position.append(describe_batch(render(w), sample_rate_hz))
    values = np.stack(per_position)                       # [positions, seeds, 5]
    means = values.mean(axis=1)                           # [positions, 5]
    sigmas_moved = np.array(positions) * knob_sigmas
    centre = values[positions.index(0.0)]                # [seeds, 5] at the knob's centre
    spread = np.std(centre, axis=0, ddof=1) if seeds > 1 else np.zeros(len(DESCRIPTOR_NAMES))
    slope, mono, normalised, track = {}, {}, {}, {}
    for j, name in enumerate(DESCRIPTOR_NAMES):
        s = float(np.polyfit(sigmas_moved, means[:, j], 1)[0])
        slope[name] = s
        mono[name] = spearman(positions, means[:, j])
        normalised[name] = s / max(float(spread[j]), DESCRIPTOR_FLOORS[name])
        track[name] = [float(v) for v in means[:, j]]
    return Effect(slope, mono, normalised, track)


def direction_names(effects: Sequence[Effect], fallback: Sequence[str]) -> list[str]:
    """Unique names from each direction's strongest effect ("brightness+", "brightness+ 2", ...).

    `fallback[i]` names direction i when none of its effects reaches MIN_NAMED_EFFECT.
    """
    if len(fallback) != len(effects):
        raise DirectionError(f"fallback: expected {len(effects)} names, got {len(fallback)}")
    names: list[str] = []
    for effect, other in zip(effects, fallback):
        descriptor, score = effect.strongest()
        if score < MIN_NAMED_EFFECT:
            base = other
        else:
            base = DESCRIPTOR_LABELS[descriptor] + ("+" if effect.slope_per_sigma[descriptor] > 0 else "-")
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base} {n}"
        names.append(name)
    return names


def measure_directions(render: Renderer, base_w: np.ndarray, candidates: Sequence[Candidate],
                       sample_rate_hz: float, *, knob_sigmas: float = DEFAULT_KNOB_SIGMAS,
                       knob_positions: Sequence[float] = KNOB_POSITIONS, psi: float = 1.0) -> list[dict[str, Any]]:
    """Measure and name `candidates`; return them as manifest directions (docs/bundle.md, docs/evaluation.md)."""
    if not (math.isfinite(knob_sigmas) and knob_sigmas > 0):
        raise DirectionError(f"knob_sigmas: expected a positive number, got {knob_sigmas!r}")
    base_w = np.asarray(base_w, dtype=np.float32)
    base = describe_batch(render(base_w), sample_rate_hz)
    effects = [measure_effect(render, base_w, c.vector.astype(np.float32), c.sigma, sample_rate_hz,
                              knob_sigmas=knob_sigmas, knob_positions=knob_positions, base_descriptors=base)
               for c in candidates]
    names = direction_names(effects, [f"{c.method} {c.rank}" for c in candidates])
    out = []
    for c, effect, name in zip(candidates, effects, names):
        strongest, score = effect.strongest()
        out.append({
            "name": name,
            "method": c.method,
            "vector": [float(x) for x in c.vector],
            "sigma": c.sigma,
            "knob_sigmas": float(knob_sigmas),
            "descriptors": {k: _finite(v) for k, v in effect.slope_per_sigma.items()},
            "layers": None,
            "measurement": {
                "rank": c.rank,
                "eigenvalue": c.eigenvalue,
                "eigenvalue_share": c.eigenvalue_share,
                "seeds": int(base_w.shape[0]),
                "psi": float(psi),
                "knob_positions": [float(k) for k in knob_positions],
                "monotonicity": {k: _finite(v) for k, v in effect.monotonicity.items()},
                "normalised_slope": {k: _finite(v) for k, v in effect.normalised_slope.items()},
                "descriptor_means": effect.descriptor_means,
                "strongest": strongest,
                "strength": _finite(score),
            },
        })
    return out


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


# ---------------------------------------------------------------------------------------
# For a bundle
# ---------------------------------------------------------------------------------------


def compute_directions(generator: nn.Module, bundle_dir: str | Path, *, per_method: int = PER_METHOD,
                       seeds: int = MEASURE_SEEDS, psi: float = 1.0, knob_sigmas: float = DEFAULT_KNOB_SIGMAS,
                       samples: int = SAMPLES) -> list[dict[str, Any]]:
    """Directions of `generator`, measured on the audio its exported bundle renders (onnxruntime, CPU).

    The bundle at `bundle_dir` must be the export of `generator`: the directions are
    found from the generator's weights and mapping, and measured through the bundle's
    graphs, i.e. on exactly what the instrument will play.
    """
    if seeds < 2:
        raise DirectionError(f"seeds: expected at least 2 seeds to measure directions on, got {seeds}")
    bundle = load_bundle(bundle_dir, provider="cpu")
    m = bundle.manifest
    if (m.z_dim, m.w_dim) != (generator.z_dim, generator.w_dim):
        raise DirectionError(f"{bundle_dir}: bundle has z_dim {m.z_dim}, w_dim {m.w_dim}; the generator "
                             f"{generator.z_dim}, {generator.w_dim} (not its export)")
    candidates = find_candidates(generator, per_method, samples)
    base_w = bundle.truncate(bundle.map(seed_latents(m.z_dim, range(seeds))), psi)

    def render(w: np.ndarray) -> np.ndarray:
        return np.concatenate([bundle.synthesize(bundle.broadcast(chunk)) for chunk in np.array_split(
            w, max(1, math.ceil(len(w) / 32)))])

    return measure_directions(render, base_w, candidates, m.sample_rate_hz, knob_sigmas=knob_sigmas, psi=psi)


def describe_directions(directions: Sequence[dict[str, Any]]) -> list[str]:
    """One line per direction: name, method, rank, and its slope on the descriptor it is named after."""
    lines = []
    for d in directions:
        meas = d.get("measurement", {})
        strongest = meas.get("strongest", DESCRIPTOR_NAMES[0])
        lines.append(f"  {d['name']:<14} {d['method']:<8} #{meas.get('rank', '?'):<2} "
                     f"{strongest} {d['descriptors'].get(strongest, 0.0):+.3g}/sigma "
                     f"(monotonicity {meas.get('monotonicity', {}).get(strongest, 0.0):+.2f})")
    return lines
