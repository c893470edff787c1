"""The bundled default model's knobs do what their names say, on loops they were not named on.

Export names a direction after a descriptor it moved strictly monotonically over the knob
positions on its measurement seeds (export.directions). Here every named knob is turned
through -1, -0.5, 0, 0.5, 1 on 16 other latents, rendered through the bundle exactly as the
instrument applies a knob (w + offset at every style input), and its named descriptor's
mean over those loops must rise (name ending "+") or fall ("-") at every step.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from export.descriptors import describe
from export.directions import KNOB_POSITIONS
from instrument.bundle import Bundle, load_bundle
from instrument.play import default_bundles

FRESH_SEED = 20261121
LOOPS = 16


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    found = default_bundles()
    assert found, "no bundled default model"
    return load_bundle(found[0], provider="cpu")


def named(bundle: Bundle) -> list:
    return [d for d in bundle.manifest.directions if d.name.split()[0][-1] in "+-"]


def test_the_default_model_has_named_knobs(bundle: Bundle) -> None:
    assert len(bundle.manifest.directions) >= 8
    assert len(named(bundle)) >= 4


def test_every_named_knob_moves_its_descriptor_one_way_over_its_whole_travel(bundle: Bundle) -> None:
    m = bundle.manifest
    z = np.random.default_rng(FRESH_SEED).standard_normal((LOOPS, m.z_dim)).astype(np.float32)
    w = bundle.map(z)
    recorded = {r["name"]: r["measurement"]["strongest"]
                for r in json.loads((default_bundles()[0] / "manifest.json").read_text())["directions"]}
    failures = []
    for d in named(bundle):
        strongest = recorded[d.name]
        rising = d.name.split()[0].endswith("+")
        means = []
        for k in KNOB_POSITIONS:
            moved = (w + d.offset(k)[None, :]).astype(np.float32)
            ws = np.repeat(moved[:, None, :], m.num_ws, axis=1)
            audio = bundle.synthesize(ws)
            means.append(np.mean([getattr(describe(loop, m.sample_rate_hz), strongest) for loop in audio]))
        steps = np.diff(means)
        if not (np.all(steps > 0) if rising else np.all(steps < 0)):
            failures.append(f"{d.name} ({strongest}): {[round(float(v), 4) for v in means]}")
    assert not failures, failures
