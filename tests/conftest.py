"""Shared fixtures: a tiny loop dataset made from numpy audio, cheap enough for every test.

The loops are one bar of 4/4 at 120 BPM and 8192 Hz (exactly 16384 samples): a decaying
sine "kick" on every beat and a burst of noise "hat" on every off-beat, with the kick's
pitch, the hat level and a small detune varying from loop to loop. That is enough
structure for a training step to have something to learn, and the whole set of 16 loops
is one megabyte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.data.store import LoopSpec, LoopStoreWriter

TINY_SPEC = LoopSpec(sample_rate=8192, bpm=120.0, bars=1, beats_per_bar=4, channels=1)
TINY_LOOP_COUNT = 16


def synth_beat_loop(spec: LoopSpec, rng: np.random.Generator) -> np.ndarray:
    """One loop [samples]: kicks on the beats, noise hats on the off-beats, within [-1, 1]."""
    n = spec.loop_samples
    t = np.arange(n) / spec.sample_rate
    loop = np.zeros(n, dtype=np.float64)
    kick_hz = rng.uniform(45.0, 70.0)
    hat_gain = rng.uniform(0.05, 0.2)
    for beat in range(spec.beats):
        start = int(round(beat * spec.beat_samples))
        dt = t[: n - start]
        loop[start:] += 0.8 * np.sin(2 * np.pi * kick_hz * dt * (1 + 2 * np.exp(-dt * 30))) * np.exp(-dt * 8)
        off = int(round((beat + 0.5) * spec.beat_samples))
        burst = min(n - off, int(0.03 * spec.sample_rate))
        loop[off: off + burst] += hat_gain * rng.standard_normal(burst) * np.exp(-np.arange(burst) / (0.008 * spec.sample_rate))
    return np.clip(loop, -1.0, 1.0).astype(np.float32)


def make_tiny_dataset(path: Path, spec: LoopSpec = TINY_SPEC, count: int = TINY_LOOP_COUNT, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with LoopStoreWriter(path, spec, source={"kind": "test-fixture", "seed": seed}) as writer:
        for i in range(count):
            writer.append(synth_beat_loop(spec, rng), origin={"index": i})
        writer.commit()
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished dataset folder of 16 one-bar loops (read-only: tests must not modify it)."""
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny_loops")
