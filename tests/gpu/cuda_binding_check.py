"""IO binding on a CUDA GPU: a check for a machine that has one.

The CI machine has no GPU, so this file is not named ``test_*`` and is not collected by
the suite; run it where ``CUDAExecutionProvider`` loads (onnxruntime-gpu and a CUDA
device):

    .venv/bin/python -m pytest tests/gpu/cuda_binding_check.py

It fails, rather than skips, when CUDA does not load: asked for by hand, it must run.
"""

from __future__ import annotations

import numpy as np

from instrument.bundle import Bundle, load_bundle
from tests.instrument.test_bound_session import DEFAULT_MODEL, _synthesis_binding, _ws


def _cuda_bundle() -> Bundle:
    return load_bundle(DEFAULT_MODEL, provider="cuda", threads=1)  # ProviderError (one line) without CUDA


def test_cuda_binding_uses_a_device_input_and_fills_the_host_buffer() -> None:
    bundle = _cuda_bundle()
    assert bundle.provider == "CUDAExecutionProvider"
    bound = _synthesis_binding(bundle)
    assert bound.mode == "cuda", bound.fallback_reason
    g = bundle._synthesis
    first = bound.run(_ws(bundle, 0))
    for seed in (1, 2, 3):
        ws = _ws(bundle, seed)
        out = bound.run(ws)
        assert out is first and bound.bound_output_address() == out.__array_interface__["data"][0]
        expected = g.session.run([g.output_name], {g.input_name: ws})[0]
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)  # same session and kernels; GPU maths
