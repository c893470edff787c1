"""Is it still the same loop? Audio comparisons for the end-to-end tests.

The instrument plays a loop that repeats exactly while nothing changes, so a control
change is heard as audio that no longer matches the loop before it. ``loop_similarity``
compares a stretch of output with one period of a loop at every circular lag: its best
normalised correlation is ~1 when the stretch comes from the same loop, whatever the
phase, and far lower for another loop (about 0.4 for another seed of the tiny test bundle,
0.75 for a knob at -1 on the bundled default model). The stretch is cut into segments and
the median segment counts, so a block dropped by a busy machine (in the player or in a
capture) spoils one segment, not the verdict.
"""

from __future__ import annotations

import numpy as np

SAME_LOOP_MIN = 0.9  # two stretches of one loop, through a capture that may drop a block
OTHER_LOOP_MAX = 0.8  # a loop after a change that is heard


def loop_similarity(loop: np.ndarray, stretch: np.ndarray, segments: int = 8) -> float:
    """Median over `segments` pieces of `stretch` of each piece's best normalised correlation
    with the periodic signal `loop` at any circular lag (1 = taken from the same loop)."""
    length = len(loop)
    loop_spectrum = np.fft.rfft(loop)
    doubled = np.concatenate([loop, loop])
    energy = np.concatenate([[0.0], np.cumsum(doubled ** 2)])
    scores = []
    for piece in np.array_split(stretch, segments):
        m = len(piece)
        padded = np.zeros(length)
        padded[:m] = piece
        correlation = np.fft.irfft(loop_spectrum * np.conj(np.fft.rfft(padded)), n=length)
        window_energy = energy[np.arange(length) + m] - energy[np.arange(length)]
        norm = np.sqrt(np.maximum(window_energy, 1e-20)) * (np.linalg.norm(piece) + 1e-12)
        scores.append(float((correlation / norm).max()))
    return float(np.median(scores))


def mono(block: np.ndarray) -> np.ndarray:
    """[frames, channels] (or [frames]) as one float64 channel, the channels summed."""
    block = np.asarray(block, dtype=np.float64)
    return block.sum(axis=1) if block.ndim == 2 else block


def rms(block: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(block, dtype=np.float64) ** 2)))
