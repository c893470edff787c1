"""Rhythm and harmony of the procedural loops: the 16th-note grid, drum patterns, bass and stab lines.

Everything here is symbolic (steps, velocities, MIDI pitches); nothing makes sound. The synth
renderer (`training.data.synth`) turns these into audio, and the style tables
(`training.data.styles`) say which patterns each style favours.

The grid. A loop of `bars` bars at `beats_per_bar` beats has 4 steps per beat (16th notes).
Step `k` starts at `k * step_samples`; with swing, every odd step (the second 16th of each 8th)
is pushed late by `swing * step_samples`. `swing` is therefore a fraction of one 16th note:
0 is straight, 1/3 is a full triplet shuffle (an MPC "66 %").

Style templates are written for one 4/4 bar as 16-character strings, one character per step,
read as the probability that the step plays: `x` = always, `.` = never, `1`..`9` = 0.1..0.9.
A bar of another length reuses the template cyclically (step `s` of a 3/4 bar uses template
character `s % 16`), so every meter gets a sensible, if generic, pattern.

Loops should sound like loops, so the first bar is drawn from the template and later bars copy
it, re-drawing each step with probability `variation` (a fill, a dropped hat). Velocities are
drawn per hit, which is what keeps repeated bars from being sample-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

STEPS_PER_BEAT = 4
TEMPLATE_STEPS = 16
DRUM_ROLES: tuple[str, ...] = ("kick", "snare", "clap", "closed_hat", "open_hat", "tom", "perc")
NOTE_NAMES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SCALES: dict[str, tuple[int, ...]] = {
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}


def step_template(text: str) -> tuple[float, ...]:
    """Parse a 16-step template string ("x...x..5") into per-step hit probabilities."""
    if len(text) != TEMPLATE_STEPS:
        raise ValueError(f"step template {text!r} has {len(text)} steps, expected {TEMPLATE_STEPS}")
    probs: list[float] = []
    for ch in text:
        if ch == "x":
            probs.append(1.0)
        elif ch == ".":
            probs.append(0.0)
        elif ch in "123456789":
            probs.append(int(ch) / 10.0)
        else:
            raise ValueError(f"step template {text!r}: unknown character {ch!r} (use x . or 1-9)")
    return tuple(probs)


@dataclass(frozen=True)
class Key:
    """A tonal centre: root pitch class (0 = C) and a scale from SCALES."""

    root: int
    scale: str

    @property
    def name(self) -> str:
        return NOTE_NAMES[self.root % 12]

    def degree_semitones(self, degree: int) -> int:
        """Semitones above the root of scale degree `degree` (0-based; may exceed one octave)."""
        intervals = SCALES[self.scale]
        octave, index = divmod(degree, len(intervals))
        return 12 * octave + intervals[index]


def draw_key(rng: np.random.Generator, scales: tuple[str, ...]) -> Key:
    """A random root and one of the style's scales."""
    root = int(rng.integers(12))
    scale = str(scales[int(rng.integers(len(scales)))])
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; known: {', '.join(SCALES)}")
    return Key(root=root, scale=scale)


def steps_per_bar(beats_per_bar: int) -> int:
    return beats_per_bar * STEPS_PER_BEAT


def step_onset_samples(step: int, step_samples: float, swing: float, loop_samples: int) -> int:
    """Sample index where grid step `step` starts, with odd steps delayed by the swing."""
    late = swing * step_samples if step % 2 == 1 else 0.0
    return int(round(step * step_samples + late)) % loop_samples


def draw_bar_rhythm(template: tuple[float, ...], bars: int, beats_per_bar: int, variation: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Which steps play, as a bool array [bars * steps_per_bar]. See the module docstring."""
    n_steps = steps_per_bar(beats_per_bar)
    probs = np.array([template[s % TEMPLATE_STEPS] for s in range(n_steps)], dtype=np.float64)
    first = rng.random(n_steps) < probs
    bars_out = [first]
    for _ in range(1, bars):
        redraw = rng.random(n_steps) < variation
        fresh = rng.random(n_steps) < probs
        bars_out.append(np.where(redraw, fresh, first))
    return np.concatenate(bars_out)


def _ensure_one_hit(hits: np.ndarray, template: tuple[float, ...], beats_per_bar: int) -> np.ndarray:
    """A melodic line with no notes at all is not a line; force its likeliest step on."""
    if hits.any():
        return hits
    n_steps = steps_per_bar(beats_per_bar)
    probs = [template[s % TEMPLATE_STEPS] for s in range(n_steps)]
    hits = hits.copy()
    hits[int(np.argmax(probs))] = True
    return hits


# ---------------------------------------------------------------------------------------------
# Drums


@dataclass(frozen=True)
class DrumPart:
    """How one drum role plays in a style.

    `template`: 16-step hit probabilities (see `step_template`). `velocity`: range drawn per hit.
    `odd_step_velocity_scale`: odd 16ths are played softer by this factor, which gives hats
    their 8th-note pulse and breakbeat snares their ghost notes.
    """

    template: tuple[float, ...]
    velocity: tuple[float, float] = (0.75, 1.0)
    odd_step_velocity_scale: float = 1.0


@dataclass(frozen=True)
class DrumPattern:
    """The drums of one loop: per role, a velocity per grid step (0 = silent)."""

    velocities: Mapping[str, np.ndarray]
    total_steps: int

    def hit_steps(self, role: str) -> np.ndarray:
        """Indices of the steps on which `role` plays."""
        v = self.velocities.get(role)
        return np.zeros(0, dtype=np.int64) if v is None else np.flatnonzero(v > 0)


def draw_velocities(hits: np.ndarray, velocity: tuple[float, float], odd_scale: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Per-step velocity for the steps in `hits` (0 elsewhere). Always draws len(hits) numbers,
    so later draws do not depend on how many hits there were."""
    lo, hi = velocity
    v = rng.uniform(lo, hi, size=hits.shape[0])
    v[1::2] *= odd_scale
    return np.where(hits, np.clip(v, 0.05, 1.0), 0.0).astype(np.float32)


def make_drum_pattern(parts: Mapping[str, DrumPart], bars: int, beats_per_bar: int, variation: float,
                      rng: np.random.Generator) -> DrumPattern:
    """Draw every role's hits and velocities, in DRUM_ROLES order (for determinism)."""
    total = bars * steps_per_bar(beats_per_bar)
    velocities: dict[str, np.ndarray] = {}
    for role in DRUM_ROLES:
        part = parts.get(role)
        if part is None:
            continue
        hits = draw_bar_rhythm(part.template, bars, beats_per_bar, variation, rng)
        velocities[role] = draw_velocities(hits, part.velocity, part.odd_step_velocity_scale, rng)
    return DrumPattern(velocities=velocities, total_steps=total)


# ---------------------------------------------------------------------------------------------
# Bass and stabs


@dataclass(frozen=True)
class NoteEvent:
    """One note or chord of a tonal line: starts at grid `step`, holds `length_steps` 16ths."""

    step: int
    length_steps: float
    pitches_midi: tuple[int, ...]
    velocity: float


@dataclass(frozen=True)
class BassLine:
    """How a style's bass plays: rhythm template, note lengths, and how it leaves the root."""

    template: tuple[float, ...]
    length_steps: tuple[float, float] = (0.5, 1.0)
    velocity: tuple[float, float] = (0.7, 1.0)
    octave_up_probability: float = 0.15
    fifth_probability: float = 0.1
    scale_tone_probability: float = 0.1


@dataclass(frozen=True)
class StabLine:
    """How a style's chord stabs play: rhythm template, lengths, and chord shape."""

    template: tuple[float, ...]
    length_steps: tuple[float, float] = (0.5, 1.5)
    velocity: tuple[float, float] = (0.6, 0.9)
    seventh_probability: float = 0.4


BASS_LOWEST_MIDI = 33  # A1, 55 Hz: the bass root lies in A1..G#2
STAB_LOWEST_MIDI = 55  # G3: chord tones are folded into G3..F#4


def chord_for_bar(bar: int, progression: tuple[int, ...]) -> int:
    """Scale degree of the chord root in `bar` (the progression repeats)."""
    return progression[bar % len(progression)]


def make_bass_line(line: BassLine, key: Key, progression: tuple[int, ...], bars: int, beats_per_bar: int,
                   variation: float, rng: np.random.Generator) -> list[NoteEvent]:
    """Notes on the chord root of each bar, sometimes an octave up, a fifth, or another scale tone."""
    hits = _ensure_one_hit(draw_bar_rhythm(line.template, bars, beats_per_bar, variation, rng),
                           line.template, beats_per_bar)
    n_bar = steps_per_bar(beats_per_bar)
    root_midi = BASS_LOWEST_MIDI + (key.root - BASS_LOWEST_MIDI) % 12
    # Draw per-step choices for every step, hit or not, so the stream of draws has a fixed length.
    choice = rng.random(hits.shape[0])
    other_degree = rng.integers(1, 7, size=hits.shape[0])
    lengths = rng.uniform(*line.length_steps, size=hits.shape[0])
    velocities = rng.uniform(*line.velocity, size=hits.shape[0])
    p_oct, p_fifth, p_tone = line.octave_up_probability, line.fifth_probability, line.scale_tone_probability
    events: list[NoteEvent] = []
    for step in np.flatnonzero(hits):
        degree = chord_for_bar(int(step) // n_bar, progression)
        c = choice[step]
        octave = 0
        if c < p_oct:
            octave = 12
        elif c < p_oct + p_fifth:
            degree += 4
        elif c < p_oct + p_fifth + p_tone:
            degree += int(other_degree[step])
        pitch = root_midi + key.degree_semitones(degree) % 12 + octave
        events.append(NoteEvent(step=int(step), length_steps=float(lengths[step]), pitches_midi=(pitch,),
                                velocity=float(velocities[step])))
    return events


def make_stab_line(line: StabLine, key: Key, progression: tuple[int, ...], bars: int, beats_per_bar: int,
                   variation: float, rng: np.random.Generator) -> list[NoteEvent]:
    """Diatonic triads (sometimes sevenths) on each bar's chord, voiced within about an octave."""
    hits = _ensure_one_hit(draw_bar_rhythm(line.template, bars, beats_per_bar, variation, rng),
                           line.template, beats_per_bar)
    n_bar = steps_per_bar(beats_per_bar)
    sevenths = rng.random(bars) < line.seventh_probability
    lengths = rng.uniform(*line.length_steps, size=hits.shape[0])
    velocities = rng.uniform(*line.velocity, size=hits.shape[0])
    events: list[NoteEvent] = []
    for step in np.flatnonzero(hits):
        bar = int(step) // n_bar
        degree = chord_for_bar(bar, progression)
        chord_degrees = (degree, degree + 2, degree + 4) + ((degree + 6,) if sevenths[bar] else ())
        pitches = tuple(sorted(STAB_LOWEST_MIDI + (key.root + key.degree_semitones(d) - STAB_LOWEST_MIDI) % 12
                               for d in chord_degrees))
        events.append(NoteEvent(step=int(step), length_steps=float(lengths[step]), pitches_midi=pitches,
                                velocity=float(velocities[step])))
    return events


__all__ = ["STEPS_PER_BEAT", "TEMPLATE_STEPS", "DRUM_ROLES", "NOTE_NAMES", "SCALES", "Key", "draw_key",
           "step_template", "steps_per_bar", "step_onset_samples", "draw_bar_rhythm", "DrumPart",
           "DrumPattern", "make_drum_pattern", "NoteEvent", "BassLine", "StabLine", "make_bass_line",
           "make_stab_line", "chord_for_bar"]
