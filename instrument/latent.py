"""From a deck's controls to the style inputs ``ws`` of a model's synthesis graph.

All of it is numpy on [num_ws, w_dim] arrays, deterministic, and the same for the live
renderer, offline bounces and journal replays:

1. z from a seed: ``np.random.default_rng(seed).standard_normal(z_dim)`` (the same rule the
   bundle's parity reference uses, so seed k here is seed k everywhere);
2. w = mapping(z), pulled toward ``w_avg`` by truncation ``psi``;
3. ws = w at every style input; the B style (``bseed``) is made the same way;
4. style mixing: each style row moves toward B by the mix of its layer group
   (``ws_row = (1 - t) * A_row + t * B_row``). With fewer than three style inputs the groups
   share rows; a shared row takes the largest mix of the groups that hold it, so any one
   group's fader at 1 turns that row fully to B;
5. knobs: knob k adds ``Direction.offset(value_k)`` to the rows in the direction's layers
   (all rows when it has none). Knobs beyond the model's directions are ignored.

Knobs are added after mixing, so a knob moves the sound the same way whichever blend of A
and B is playing.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from instrument.bundle import Manifest
from instrument.controls import GROUP_NAMES, DeckControls


def z_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """The latent z [z_dim] float32 that `seed` stands for."""
    return np.random.default_rng(seed).standard_normal(z_dim).astype(np.float32)


def row_mix(manifest: Manifest, mix: tuple[float, float, float]) -> np.ndarray:
    """Per style row, how far it moves toward the B style [num_ws] (largest mix of its groups)."""
    t = np.zeros(manifest.num_ws, dtype=np.float32)
    for name, value in zip(GROUP_NAMES, mix):
        rows = list(manifest.layer_groups.get(name, ()))
        if rows:
            t[rows] = np.maximum(t[rows], np.float32(value))
    return t


def styles_for(manifest: Manifest, map_fn: Callable[[np.ndarray], np.ndarray], controls: DeckControls) -> np.ndarray:
    """ws [1, num_ws, w_dim] float32 for `controls`, using `map_fn` (z [B, z_dim] -> w [B, w_dim])."""
    m = manifest
    t = row_mix(m, controls.mix)
    seeds = [controls.seed] + ([controls.bseed] if np.any(t > 0) else [])
    z = np.stack([z_from_seed(s, m.z_dim) for s in seeds])
    w = np.asarray(map_fn(z), dtype=np.float32)
    w = m.w_avg + np.float32(controls.psi) * (w - m.w_avg)
    ws = np.repeat(w[0][None, :], m.num_ws, axis=0)
    if len(seeds) == 2:
        ws_b = np.repeat(w[1][None, :], m.num_ws, axis=0)
        ws = (1.0 - t)[:, None] * ws + t[:, None] * ws_b
    for value, direction in zip(controls.knobs, m.directions):
        if value == 0.0:
            continue
        offset = direction.offset(value)
        if direction.layers is None:
            ws = ws + offset[None, :]
        else:
            rows = list(direction.layers)
            ws[rows] = ws[rows] + offset[None, :]
    return np.ascontiguousarray(ws[None].astype(np.float32))
