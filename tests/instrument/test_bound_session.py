"""IO binding (instrument/bound_session.py, Bundle.bind, the deck's render path).

What is checked, on the CPU provider (this machine has no GPU):

- a bound run gives exactly what ``session.run`` gives, for several inputs, both graphs;
- the result is the same buffer every run, and onnxruntime's output of the run *is* that
  buffer (the bound output's address), so onnxruntime made no output array of its own;
- steady-state bound runs make no array of the output's size on the Python side
  (tracemalloc). What tracemalloc can and cannot see: it traces Python objects and numpy's
  data buffers (numpy reports them to it); onnxruntime allocates through its own C++
  arena, which tracemalloc does not trace at all (a plain ``session.run`` returns a numpy
  view of onnxruntime's tensor and shows no output-sized block either; the test shows
  that too). So tracemalloc guards this
  module's own copies and conversions; the address check is the evidence for
  onnxruntime's side;
- wrong shapes give a one-line error naming the graph; other threads are refused;
- providers without binding support, and bindings that fail to set up, run plainly;
- the deck renders through its binding, and a loop handed to the mixer is never
  overwritten by the next render.

The CUDA path has its own check, tests/gpu/cuda_binding_check.py, run by hand on a machine
with a GPU (the CI machine has none).
"""

from __future__ import annotations

import threading
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from instrument.bound_session import BoundSession, binding_mode
from instrument.bundle import Bundle, load_bundle
from instrument.controls import ControlBoard, DeckControls
from instrument.deck import DeckWorker, RenderSettings, synthesize_raw

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "instrument" / "models" / "default"
TINY_RATE_HZ = 4000


@pytest.fixture(scope="module")
def default_bundle() -> Bundle:
    return load_bundle(DEFAULT_MODEL, provider="cpu", threads=1)


def _synthesis_binding(bundle: Bundle, **kwargs: Any) -> BoundSession:
    m = bundle.manifest
    g = bundle._synthesis
    return BoundSession(g.session, g.input_name, g.output_name, (1, m.num_ws, m.w_dim),
                        (1, m.channels, m.loop_samples), g.where, **kwargs)


def _ws(bundle: Bundle, seed: int) -> np.ndarray:
    m = bundle.manifest
    return np.random.default_rng(seed).standard_normal((1, m.num_ws, m.w_dim)).astype(np.float32)


def test_bound_synthesis_equals_session_run_exactly(default_bundle: Bundle) -> None:
    bound = _synthesis_binding(default_bundle)
    assert bound.mode == "cpu" and bound.fallback_reason is None
    g = default_bundle._synthesis
    for seed in range(4):
        ws = _ws(default_bundle, seed)
        expected = g.session.run([g.output_name], {g.input_name: ws})[0]
        np.testing.assert_array_equal(bound.run(ws), expected)


def test_bound_mapping_equals_bundle_map_for_batches_1_and_2(default_bundle: Bundle) -> None:
    binding = default_bundle.bind()
    rng = np.random.default_rng(3)
    for batch in (1, 2, 1, 2, 3):  # 3 has no binding: it goes through Bundle.map
        z = rng.standard_normal((batch, default_bundle.manifest.z_dim)).astype(np.float32)
        np.testing.assert_array_equal(binding.map(z), default_bundle.map(z))
    assert sorted(binding._mapping) == [1, 2]


def test_bound_render_path_equals_the_plain_one_for_several_controls(default_bundle: Bundle) -> None:
    binding = default_bundle.bind()
    for controls in (DeckControls(), DeckControls(seed=5, psi=0.7),
                     DeckControls(seed=2, bseed=9, mix=(1.0, 0.5, 0.0), knobs=(0.8, -0.3) + (0.0,) * 6)):
        np.testing.assert_array_equal(synthesize_raw(default_bundle, controls, binding),
                                      synthesize_raw(default_bundle, controls))


def test_renders_reuse_one_output_buffer_that_onnxruntime_writes_into(default_bundle: Bundle) -> None:
    bound = _synthesis_binding(default_bundle)
    first = bound.run(_ws(default_bundle, 0))
    address = first.__array_interface__["data"][0]
    for seed in (1, 2, 3):
        out = bound.run(_ws(default_bundle, seed))
        assert out is first and out.__array_interface__["data"][0] == address
        assert bound.bound_output_address() == address  # onnxruntime's output of the run is our buffer
    assert bound.runs == 4


def test_steady_state_renders_allocate_no_output_sized_arrays(default_bundle: Bundle) -> None:
    bound = _synthesis_binding(default_bundle)
    inputs = [_ws(default_bundle, seed) for seed in range(8)]
    bound.run(inputs[0])  # warm-up: onnxruntime's first run sets up its arena
    size = bound.output.nbytes

    def peak_during(render: Any) -> int:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            for ws in inputs:
                render(ws)
            return tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()

    assert peak_during(bound.run) < size // 10  # a few small Python objects, no audio-sized array
    # the measurement can fail: a copy of the output per render is seen
    assert peak_during(lambda ws: bound.run(ws).copy()) >= size
    # and what it cannot see: plain session.run's results come from onnxruntime's own arena
    g = default_bundle._synthesis
    assert peak_during(lambda ws: g.session.run([g.output_name], {g.input_name: ws})) < size // 10


def test_wrong_shapes_and_bad_values_give_one_line_errors_naming_the_graph(default_bundle: Bundle) -> None:
    binding = default_bundle.bind()
    m = default_bundle.manifest
    for shape in ((2, m.num_ws, m.w_dim), (m.num_ws, m.w_dim), (1, m.num_ws, m.w_dim + 1)):
        with pytest.raises(ValueError) as caught:
            binding.synthesize(np.zeros(shape, dtype=np.float32))
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(str(DEFAULT_MODEL / "synthesis.onnx") + ": input 'ws'")
        assert f"takes shape [1, {m.num_ws}, {m.w_dim}], got [{', '.join(map(str, shape))}]" in message
    bad = np.zeros((1, m.num_ws, m.w_dim), dtype=np.float32)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^ws: holds NaN or infinite values$"):
        binding.synthesize(bad)
    with pytest.raises(ValueError, match=r"^ws: holds NaN or infinite values$"):
        default_bundle.synthesize(bad)  # the same message as the plain path
    with pytest.raises(ValueError, match="must be float32 numbers"):
        binding.synthesize(np.full((1, m.num_ws, m.w_dim), "x"))


class _OtherProviderSession:
    """A real session that reports another first provider (or cannot bind), to reach the plain path."""

    def __init__(self, session: Any, provider: str, binding_fails: bool = False) -> None:
        self._session = session
        self._provider = provider
        self._binding_fails = binding_fails
        self.plain_runs = 0

    def get_providers(self) -> list[str]:
        return [self._provider, "CPUExecutionProvider"]

    def get_provider_options(self) -> dict[str, Any]:
        return {}

    def io_binding(self) -> Any:
        if self._binding_fails:
            raise RuntimeError("this device refuses\nthe binding")
        return self._session.io_binding()

    def run_with_iobinding(self, binding: Any) -> None:
        raise AssertionError("a plain-path binding must not run with IO binding")

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.plain_runs += 1
        return self._session.run(names, feeds)


@pytest.mark.parametrize("provider", ["DmlExecutionProvider", "CoreMLExecutionProvider"])
def test_a_provider_without_binding_support_runs_plainly(default_bundle: Bundle, provider: str) -> None:
    g = default_bundle._synthesis
    m = default_bundle.manifest
    session = _OtherProviderSession(g.session, provider)
    assert binding_mode(provider) == "plain"
    bound = BoundSession(session, g.input_name, g.output_name, (1, m.num_ws, m.w_dim),
                         (1, m.channels, m.loop_samples), g.where)
    assert bound.mode == "plain" and provider in str(bound.fallback_reason)
    first = bound.run(_ws(default_bundle, 0))
    for seed in (1, 2):
        ws = _ws(default_bundle, seed)
        out = bound.run(ws)
        assert out is first  # the same contract: one buffer, overwritten
        np.testing.assert_array_equal(out, g.session.run([g.output_name], {g.input_name: ws})[0])
    assert session.plain_runs == 3 and bound.bound_output_address() is None


def test_a_binding_that_cannot_be_set_up_falls_back_to_plain_runs(default_bundle: Bundle) -> None:
    g = default_bundle._synthesis
    m = default_bundle.manifest
    session = _OtherProviderSession(g.session, "CPUExecutionProvider", binding_fails=True)
    bound = BoundSession(session, g.input_name, g.output_name, (1, m.num_ws, m.w_dim),
                         (1, m.channels, m.loop_samples), g.where)
    assert bound.mode == "plain"
    assert bound.fallback_reason == "binding failed on CPUExecutionProvider: this device refuses the binding"
    ws = _ws(default_bundle, 4)
    np.testing.assert_array_equal(bound.run(ws), g.session.run([g.output_name], {g.input_name: ws})[0])
    forced = _synthesis_binding(default_bundle, mode="plain")
    assert forced.mode == "plain" and "switched off" in str(forced.fallback_reason)
    np.testing.assert_array_equal(forced.run(ws), bound.output)


def test_a_binding_belongs_to_its_thread_and_threads_share_the_session(default_bundle: Bundle) -> None:
    bound = _synthesis_binding(default_bundle)
    errors: list[BaseException] = []
    results: dict[int, np.ndarray] = {}

    def use_foreign() -> None:
        try:
            bound.run(_ws(default_bundle, 0))
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=use_foreign)
    t.start()
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "each render thread makes its own binding" in str(errors[0])

    def own(seed: int) -> None:  # two threads, one shared session, a binding each
        mine = _synthesis_binding(default_bundle)
        for _ in range(3):
            results[seed] = mine.run(_ws(default_bundle, seed)).copy()

    threads = [threading.Thread(target=own, args=(seed,)) for seed in (5, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (5, 6):
        np.testing.assert_array_equal(results[seed], default_bundle.synthesize(_ws(default_bundle, seed)))


# ----- the deck's render path ------------------------------------------------------------


def test_the_deck_renders_through_its_binding_without_overwriting_a_loop_it_handed_out(
        tiny_bundles: dict[str, Path]) -> None:
    # mono model played mono at the model's rate: adapt_raw leaves the loop as it is, the
    # one case where the playable frames could alias the binding's output buffer
    board = ControlBoard(1)
    worker = DeckWorker(1, board, RenderSettings(TINY_RATE_HZ, 1, "stretch"), "cpu", lambda: 120.0,
                        lambda deck, kind, message: pytest.fail(message), lambda *_: None)
    worker.request_load(tiny_bundles["wavegan"], wait=True)
    first = worker.take()  # rendered by the loader thread, plainly
    assert first is not None and worker._binding is None
    bundle = worker.bundle
    assert bundle is not None

    loops = []
    for seed in (11, 12, 13):
        board.update(1, seed=seed)
        worker.render_if_stale()
        loop = worker.take()
        assert loop is not None
        loops.append((seed, loop, loop.frames.copy()))
    binding = worker._binding
    assert binding is not None and binding.mode == "cpu" and binding.synthesis.runs == 3
    assert worker.info()["io_binding"] == "cpu"
    raw = worker._raw_cache[1] if worker._raw_cache is not None else None
    assert raw is not None and np.shares_memory(raw, binding.synthesis.output)  # cached without a copy
    for seed, loop, frames_then in loops:
        assert not np.shares_memory(loop.frames, binding.synthesis.output)
        np.testing.assert_array_equal(loop.frames, frames_then)  # untouched by the later renders
        expected = synthesize_raw(bundle, DeckControls(seed=seed))
        np.testing.assert_array_equal(loop.frames[:, 0], expected[0])

    # another thread rendering for the deck (the render thread, once started) binds for itself
    board.update(1, seed=14)
    renderer = threading.Thread(target=worker.render_if_stale)
    renderer.start()
    renderer.join()
    assert worker._binding is not binding and worker._binding is not None
    assert worker._binding.owner_thread != threading.get_ident()
    loop = worker.take()
    assert loop is not None
    np.testing.assert_array_equal(loop.frames[:, 0], synthesize_raw(bundle, DeckControls(seed=14))[0])
