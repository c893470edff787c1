"""IO binding: one graph of an onnxruntime session run into preallocated buffers.

``session.run(...)`` hands back a new output array on every call (and on a GPU also
allocates the device copies of the input and output for the run). A ``BoundSession``
instead binds the graph's one input and one output to buffers made once, at a fixed
input shape (batch 1 for the deck's synthesis), so a steady-state render reuses the same
memory every time:

- **CPU** (``CPUExecutionProvider``): the input and output are host numpy arrays bound by
  pointer (``IOBinding.bind_input`` / ``bind_output`` with ``"cpu"``). ``run`` copies the
  caller's array into the input buffer (a few hundred floats for ``ws``), onnxruntime reads
  it in place and writes the result straight into the output buffer. No output array is
  made per run, neither by this module nor by onnxruntime (intermediate tensors come from
  onnxruntime's arena, as in a plain run).
- **CUDA** (``CUDAExecutionProvider``, and ``TensorrtExecutionProvider``, which uses CUDA
  memory): the input is a device ``OrtValue`` made once
  (``OrtValue.ortvalue_from_shape_and_type(shape, float32, "cuda", device_id)``) and
  refreshed each run with ``update_inplace`` from the host input buffer (one small
  host-to-device copy, no allocation). The output is bound to the preallocated *host*
  buffer by pointer: onnxruntime computes it in its device arena and copies it into that
  buffer at the end of the run. The other choice, a device output ``OrtValue``, would need
  ``OrtValue.numpy()`` (a new host array every run) or ``IOBinding.copy_outputs_to_cpu()``
  (the same) to bring the audio back, because the audio has to end up on the host for the
  mixer anyway; binding the host buffer directly is the one way that allocates nothing on
  the host per run. (Device memory for intermediate tensors comes from onnxruntime's arena,
  which is warm after the first run.)
- **Anything else** (CoreML, DirectML, a provider this module does not know, or a binding
  that could not be set up, e.g. a CUDA device that refuses the allocation): plain
  ``session.run``, whose result is copied into the same output buffer. The caller sees the
  same contract; only onnxruntime allocates its result per run. ``mode`` says which path
  is in use and ``fallback_reason`` why it is the plain one.

Contract of ``run``: it returns the binding's output buffer, the *same* array every call.
Its contents are valid until the next ``run`` of this binding, which overwrites them in
place; a caller that keeps a result across renders copies it out first (or owns a ring
of buffers). When a run raises, the buffer's contents are undefined.

Thread rule: a ``BoundSession`` belongs to the thread that made it (for the instrument,
one deck's render thread) and refuses to run on any other: its buffers and the
onnxruntime ``IOBinding`` are not safe to share. The *session* may be shared: several
threads may each hold their own ``BoundSession`` over one ``InferenceSession`` (onnxruntime
allows concurrent runs of one session), so every render thread makes its own binding.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np
import onnxruntime as ort

# Providers whose memory is CUDA device memory (TensorRT runs on CUDA buffers too).
CUDA_PROVIDERS: frozenset[str] = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})
MODES: tuple[str, ...] = ("cpu", "cuda", "plain")


def binding_mode(provider: str) -> str:
    """'cpu', 'cuda' or 'plain': how a session whose first provider is `provider` is bound."""
    if provider == "CPUExecutionProvider":
        return "cpu"
    if provider in CUDA_PROVIDERS:
        return "cuda"
    return "plain"


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def _cuda_device_id(session: Any, provider: str) -> int:
    """The device the session's CUDA provider runs on (its ``device_id`` option, 0 when unset)."""
    try:
        options = session.get_provider_options().get(provider, {})
        return int(options.get("device_id", 0))
    except (AttributeError, TypeError, ValueError):
        return 0


class BoundSession:
    """One input and one output of `session`, bound to buffers made once (see the module doc).

    ``input_shape`` and ``output_shape`` are fixed (the batch axis included); ``where``
    names the graph in error messages (the bundle's ONNX file). ``mode`` forces a path
    ('plain' to switch binding off); None picks it from the session's provider.
    """

    def __init__(self, session: Any, input_name: str, output_name: str, input_shape: Sequence[int],
                 output_shape: Sequence[int], where: str, mode: str | None = None) -> None:
        self.session = session
        self.input_name = input_name
        self.output_name = output_name
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in input_shape)
        self.output_shape: tuple[int, ...] = tuple(int(d) for d in output_shape)
        self.where = where
        self.provider: str = session.get_providers()[0]
        self.owner_thread: int = threading.get_ident()
        self.runs = 0
        self.fallback_reason: str | None = None
        self._input = np.zeros(self.input_shape, dtype=np.float32)
        self._output = np.zeros(self.output_shape, dtype=np.float32)
        self._device_input: Any = None
        self._binding: Any = None
        wanted = binding_mode(self.provider) if mode is None else mode
        if wanted not in MODES:
            raise ValueError(f"mode: expected one of {', '.join(MODES)} or None, got {mode!r}")
        if wanted == "plain":
            self.fallback_reason = (f"{self.provider} is not bound by this module" if mode is None
                                    else "binding switched off (mode='plain')")
        self.mode = wanted
        if wanted != "plain":
            try:
                self._bind(wanted)
            except Exception as e:  # onnxruntime's exception types vary; the plain path still works
                self.mode = "plain"
                self._binding = self._device_input = None
                self.fallback_reason = f"binding failed on {self.provider}: {_one_line(e)}"

    def _bind(self, mode: str) -> None:
        binding = self.session.io_binding()
        if mode == "cpu":
            binding.bind_input(self.input_name, "cpu", 0, np.float32, self.input_shape, self._input.ctypes.data)
        else:
            device_id = _cuda_device_id(self.session, self.provider)
            self._device_input = ort.OrtValue.ortvalue_from_shape_and_type(self.input_shape, np.float32, "cuda",
                                                                          device_id)
            binding.bind_ortvalue_input(self.input_name, self._device_input)
        binding.bind_output(self.output_name, "cpu", 0, np.float32, self.output_shape, self._output.ctypes.data)
        self._binding = binding

    @property
    def output(self) -> np.ndarray:
        """The output buffer ``run`` fills and returns (valid until the next run)."""
        return self._output

    @property
    def input(self) -> np.ndarray:
        """The host input buffer (``run`` copies the caller's array into it)."""
        return self._input

    def run(self, x: Any, finite_as: str | None = None) -> np.ndarray:
        """Run the graph on `x` (exactly ``input_shape``); return the output buffer, overwritten in place.

        Raises ValueError (one line, naming the graph) for an input of another shape or a
        non-numeric one, and RuntimeError when called from a thread other than the owner.
        With `finite_as`, an input holding NaN or infinity (after conversion to float32) is
        refused as ``"{finite_as}: holds NaN or infinite values"`` before anything runs.
        """
        if threading.get_ident() != self.owner_thread:
            raise RuntimeError(f"{self.where}: IO binding used from a thread that does not own it; "
                               f"each render thread makes its own binding (the session can be shared)")
        shape = getattr(x, "shape", None)
        if shape is None:
            x = np.asarray(x)
            shape = x.shape
        if tuple(shape) != self.input_shape:
            raise ValueError(f"{self.where}: input '{self.input_name}' of this binding takes shape "
                             f"{_shape_text(self.input_shape)}, got {_shape_text(shape)}")
        try:
            np.copyto(self._input, x, casting="same_kind")
        except TypeError:
            raise ValueError(f"{self.where}: input '{self.input_name}' must be float32 numbers, got "
                             f"{getattr(x, 'dtype', type(x).__name__)}") from None
        if finite_as is not None and not np.isfinite(self._input).all():
            raise ValueError(f"{finite_as}: holds NaN or infinite values")
        if self.mode == "plain":
            result = self.session.run([self.output_name], {self.input_name: self._input})[0]
            if result.shape != self.output_shape:
                raise ValueError(f"{self.where}: output '{self.output_name}' has shape {_shape_text(result.shape)}, "
                                 f"the binding expects {_shape_text(self.output_shape)}")
            np.copyto(self._output, result, casting="same_kind")
        else:
            if self._device_input is not None:
                self._device_input.update_inplace(self._input)
            self.session.run_with_iobinding(self._binding)
            if self.mode == "cuda":
                self._binding.synchronize_outputs()
        self.runs += 1
        return self._output

    def bound_output_address(self) -> int | None:
        """Where onnxruntime's output of the last run lives (host address), None in plain mode (for tests)."""
        if self._binding is None:
            return None
        return int(self._binding.get_outputs()[0].data_ptr())


def _one_line(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
