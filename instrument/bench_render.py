"""Render speed for ``ganloops bench``: onnxruntime against torch eager, for the same generator.

Three ways to make one loop are timed side by side, at batch 1, from the same style inputs
``ws`` (the engine's own, for seed 0 with every control at rest):

- ``onnx``: the bundle's synthesis graph on onnxruntime (``Bundle.synthesize``: plain
  ``session.run``, a new output array per run);
- ``onnx_bound``: the same graph through an IO binding (``Bundle.bind().synthesize``:
  preallocated input and output, see ``instrument.bound_session``), what a deck's render
  thread runs;
- ``torch``: the generator the bundle was exported from, rebuilt from the checkpoint its
  provenance names, run eagerly (``generator.synthesis`` under ``torch.inference_mode``),
  its output converted to numpy as onnxruntime's is;
- ``engine``: the engine's whole render of a deck (``deck.render_loop``): styles, mapping,
  synthesis, resampling to the device rate, channel layout. This is what a knob move waits
  for, so it is the figure the real-time goal is judged on.

Why interleaved: the machine may be shared, and the load of other processes changes from
second to second. Each round runs every contender once, in a random order, with a pause
of ``SETTLE_SECONDS`` between runs: onnxruntime's and torch's thread pools keep spinning
for a while after a run, and on a loaded 2-core machine a torch run that started 20 ms
after an onnxruntime run took several times its undisturbed time. The medians of many
rounds then compare the contenders under the same conditions, and the best runs show each
one undisturbed. Two untimed rounds first warm the caches and the thread pools.

The real-time factor is the loop's length in seconds over the time it took to render:
RTF 50 means a 4-second loop renders in 80 ms.

torch is imported here only, inside ``load_torch_synthesis``, so the instrument runs without
it; without torch, the training code or the checkpoint, the torch figure is left out with a
one-line reason. The rebuilt generator must render what the bundle renders (max abs error
at most ``TORCH_PARITY_LIMIT``), otherwise it is not the same generator and is left out too.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from instrument.bench_stats import Summary, summarize
from instrument.bundle import Bundle
from instrument.controls import DeckControls
from instrument.deck import RenderSettings, render_loop
from instrument.latent import styles_for

TORCH_PARITY_LIMIT = 1e-3  # max abs error between torch and onnxruntime for "the same generator"
WARMUP_ROUNDS = 2
SETTLE_SECONDS = 0.1  # pause after each timed run (20 ms was not enough for torch on a loaded machine)


@dataclass(frozen=True)
class ContenderFigures:
    """How fast one contender renders a loop: durations in milliseconds and the real-time factors."""

    name: str
    what: str
    milliseconds: Summary

    def rtf(self, loop_seconds: float, which: str = "p50") -> float:
        """Loop seconds per render second, from the median (`which`="p50") or the best run ("best")."""
        return loop_seconds / (getattr(self.milliseconds, which) / 1000.0)


@dataclass(frozen=True)
class RenderFigures:
    """Render speed of one bundle: onnxruntime, torch eager (or why not), the engine's whole render."""

    loop_seconds: float
    rounds: int
    provider: str
    device_rate_hz: int
    onnx: ContenderFigures
    engine: ContenderFigures
    torch: ContenderFigures | None
    torch_skipped: str | None  # the one-line reason when `torch` is None
    torch_max_abs_error: float | None
    torch_threads: int | None
    torch_version: str | None
    onnx_bound: ContenderFigures | None = None  # the synthesis graph through an IO binding

    @property
    def onnx_rtf(self) -> float:
        return self.onnx.rtf(self.loop_seconds)

    @property
    def engine_rtf(self) -> float:
        return self.engine.rtf(self.loop_seconds)

    @property
    def torch_rtf(self) -> float | None:
        return None if self.torch is None else self.torch.rtf(self.loop_seconds)

    @property
    def onnx_over_torch(self) -> float | None:
        """onnxruntime's RTF divided by torch eager's (medians): above 1, onnxruntime is faster."""
        torch_rtf = self.torch_rtf
        return None if torch_rtf is None else self.onnx_rtf / torch_rtf

    @property
    def onnx_over_torch_best(self) -> float | None:
        """The same ratio from each contender's best run (what each does when nothing disturbs it)."""
        if self.torch is None:
            return None
        return self.onnx.rtf(self.loop_seconds, "best") / self.torch.rtf(self.loop_seconds, "best")

    def to_json(self) -> dict[str, Any]:
        def contender(c: ContenderFigures | None) -> dict[str, Any] | None:
            if c is None:
                return None
            return {"what": c.what, "milliseconds": c.milliseconds.to_json(), "rtf_p50": c.rtf(self.loop_seconds),
                    "rtf_best": c.rtf(self.loop_seconds, "best")}

        return {"loop_seconds": self.loop_seconds, "rounds": self.rounds, "provider": self.provider,
                "device_rate_hz": self.device_rate_hz, "onnx": contender(self.onnx),
                "onnx_bound": contender(self.onnx_bound),
                "engine": contender(self.engine), "torch": contender(self.torch),
                "torch_skipped": self.torch_skipped, "torch_max_abs_error": self.torch_max_abs_error,
                "torch_threads": self.torch_threads, "torch_version": self.torch_version,
                "onnx_rtf": self.onnx_rtf, "engine_rtf": self.engine_rtf, "torch_rtf": self.torch_rtf,
                "onnx_over_torch": self.onnx_over_torch, "onnx_over_torch_best": self.onnx_over_torch_best}


@dataclass
class TorchSynthesis:
    """The bundle's generator in torch, ready to render ws [1, num_ws, w_dim] -> audio (numpy)."""

    render: Callable[[np.ndarray], np.ndarray]
    threads: int
    version: str


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(error).__name__


@contextlib.contextmanager
def checkpoint_snapshot(bundle: Bundle) -> Iterator[Path | None]:
    """A private copy of the checkpoint the bundle's provenance names, for as long as the bench runs.

    A training run keeps only its last few checkpoints and deletes older ones as it goes;
    the torch figure is taken at the end of a long bench, so the file is copied at the start
    (no torch needed for that). None when there is no such checkpoint.
    """
    named = bundle.manifest.provenance.get("checkpoint")
    if not isinstance(named, str) or not named or not Path(named).is_file():
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="ganloops-bench-ckpt-") as folder:
        copy = Path(folder) / Path(named).name
        try:
            shutil.copyfile(named, copy)
        except OSError:
            yield None
            return
        yield copy


def load_torch_synthesis(bundle: Bundle, checkpoint_copy: Path | None = None) -> TorchSynthesis | str:
    """The generator named by the bundle's provenance, rebuilt in torch; or a one-line reason why not.

    `checkpoint_copy` is a copy of that checkpoint (``checkpoint_snapshot``) to read instead.
    """
    checkpoint = bundle.manifest.provenance.get("checkpoint")
    if not isinstance(checkpoint, str) or not checkpoint:
        return "the bundle's provenance names no checkpoint to rebuild the generator from"
    if checkpoint_copy is not None and Path(checkpoint_copy).is_file():
        checkpoint = str(checkpoint_copy)
    elif not Path(checkpoint).is_file():
        return f"the checkpoint the bundle was exported from ({checkpoint}) is not on this machine"
    try:
        import torch
    except ModuleNotFoundError:
        return "torch is not installed (pip install 'ganloops[train]')"
    try:
        from training.config import config_from_dict
        from training.models import build_generator
    except ModuleNotFoundError as e:
        return f"the training code cannot be imported (missing module '{e.name}'; pip install 'ganloops[train]')"
    try:
        # checkpoints hold tensors and plain values: the safe loader reads them (see export/checkpoint.py)
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        cfg = config_from_dict(state["config"])
        spec = state["loop_spec"]
        generator = build_generator(cfg.model.generator, int(spec["loop_samples"]), int(spec["channels"]))
        generator.load_state_dict(state["G_ema"])
    except Exception as e:
        return f"{checkpoint}: cannot rebuild the generator ({type(e).__name__}: {_first_line(e)})"
    # as the exporter prepares it: float32, eval mode, constant noise
    generator = generator.cpu().float().eval().requires_grad_(False)
    generator.noise_mode = "const"

    def render(ws: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return generator.synthesis(torch.from_numpy(ws)).numpy()

    return TorchSynthesis(render=render, threads=int(torch.get_num_threads()), version=str(torch.__version__))


def _time_rounds(contenders: dict[str, Callable[[], Any]], rounds: int, seed: int = 0) -> dict[str, list[float]]:
    """Milliseconds per run of each contender, `rounds` interleaved rounds in random orders."""
    rng = np.random.default_rng(seed)
    names = list(contenders)
    for _ in range(WARMUP_ROUNDS):
        for name in names:
            contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for index in rng.permutation(len(names)):
            name = names[int(index)]
            started = time.perf_counter()
            contenders[name]()
            times[name].append((time.perf_counter() - started) * 1000.0)
            time.sleep(SETTLE_SECONDS)
    return times


def measure_render(bundle: Bundle, rounds: int, device_rate_hz: int = 48000, channels: int = 2,
                   with_torch: bool = True, checkpoint_copy: Path | None = None) -> RenderFigures:
    """Time onnxruntime, torch eager and the engine's render of `bundle`'s default loop (see the module doc)."""
    if rounds < 1:
        raise ValueError(f"rounds: expected at least 1, got {rounds}")
    m = bundle.manifest
    controls = DeckControls()
    ws = styles_for(m, bundle.map, controls)
    settings = RenderSettings(device_rate_hz, channels, "stretch")
    binding = bundle.bind()  # this thread's: the rounds run here
    contenders: dict[str, Callable[[], Any]] = {
        "onnx": lambda: bundle.synthesize(ws),
        "onnx_bound": lambda: binding.synthesize(ws),
        "engine": lambda: render_loop(bundle, controls, float(m.bpm), settings),
    }
    torch_figures: TorchSynthesis | str = ("left out by request (--no-torch)" if not with_torch
                                           else load_torch_synthesis(bundle, checkpoint_copy))
    max_error: float | None = None
    if isinstance(torch_figures, TorchSynthesis):
        reference = np.asarray(bundle.synthesize(ws), dtype=np.float32)
        max_error = float(np.max(np.abs(torch_figures.render(ws) - reference)))
        if not max_error <= TORCH_PARITY_LIMIT:
            torch_figures = (f"the checkpoint does not render what the bundle renders (max abs error "
                             f"{max_error:.3g} > {TORCH_PARITY_LIMIT:g}): not the same generator")
        else:
            contenders["torch"] = lambda: torch_figures.render(ws)  # type: ignore[union-attr]
    times = _time_rounds(contenders, rounds)

    def figures(name: str, what: str) -> ContenderFigures:
        summary = summarize(times[name])
        assert summary is not None
        return ContenderFigures(name=name, what=what, milliseconds=summary)

    torch_ok = isinstance(torch_figures, TorchSynthesis)
    return RenderFigures(
        loop_seconds=m.loop_samples / m.sample_rate_hz, rounds=rounds, provider=bundle.provider,
        device_rate_hz=device_rate_hz,
        onnx=figures("onnx", f"synthesis graph on onnxruntime ({bundle.provider})"),
        onnx_bound=figures("onnx_bound", f"the same, IO binding ({binding.mode}: preallocated input and output)"),
        engine=figures("engine", f"engine render: styles, mapping, synthesis, resampling to {device_rate_hz} Hz"),
        torch=figures("torch", "generator.synthesis in torch eager (CPU, inference mode)") if torch_ok else None,
        torch_skipped=None if torch_ok else str(torch_figures),
        torch_max_abs_error=max_error,
        torch_threads=torch_figures.threads if isinstance(torch_figures, TorchSynthesis) else None,
        torch_version=torch_figures.version if isinstance(torch_figures, TorchSynthesis) else None)
