"""Turn a generator's two halves into ONNX graphs: ``mapping`` (z -> w) and ``synthesis``
(ws -> audio), each one self-contained .onnx file with a dynamic batch axis.

Which exporter, and why. torch 2.13 still ships the legacy TorchScript exporter
(``torch.onnx.export(..., dynamo=False)``) but marks it deprecated and due for removal,
and it traces Python: on these generators it warns about tensors converted to Python
bools/floats (the circular padding arithmetic) and leaves ~240 nodes for a tiny WaveGAN,
most of them Shape/Gather/Constant bookkeeping. The ``torch.export``-based exporter
(``dynamo=True``, the default since torch 2.9; needs onnxscript) captures the program
symbolically, declares the batch axis dynamic through ``dynamic_shapes`` and, after its
optimisation pass, gives ~40 nodes for the same model with the same numbers. So this
module uses the torch.export exporter only, opset ``EXPORT_OPSET``, weights embedded
(``external_data=False``).

What is exported:

- ``mapping`` at ``truncation_psi=1``: truncation needs only ``w_avg``, which the
  manifest carries, so the instrument applies it in numpy and the graph stays simple.
- ``synthesis`` with ``noise_mode="const"``: the per-layer noise is the model's fixed
  buffers, so a given ws always renders the same loop (a performer expects a seed to
  sound the same every time), and the graph has no random ops.
- the generator as given; the caller passes the EMA weights (``G_ema``), which are the
  ones that sound best.

The optional float16 synthesis graph is the float32 graph converted by onnxruntime's
float16 tool (the onnxconverter-common algorithm: weights and intermediate tensors to
float16, Cast nodes at the edges) with ``keep_io_types=True``, so it still takes and
gives float32 and the instrument feeds both graphs the same arrays.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import onnx
import torch
from torch import Tensor, nn

from instrument.bundle import TensorSpec

EXPORT_OPSET = 18
BATCH_AXIS_NAME = "batch"
# The batch sizes the exported graphs promise to accept (the instrument renders 1..a few).
MAX_EXPORT_BATCH = 4096
# Batch size of the example inputs: 2, so that the exporter cannot specialise the axis to 1.
EXAMPLE_BATCH = 2
EXPORTER_DESCRIPTION = f"torch.onnx.export(dynamo=True) torch {torch.__version__}, onnx {onnx.__version__}"

_ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
                onnx.TensorProto.DOUBLE: "float64", onnx.TensorProto.INT64: "int64"}


class ExportError(RuntimeError):
    """An export that did not produce a usable graph; the message names the graph and the cause."""


@dataclass(frozen=True)
class ExportedGraph:
    """An ONNX file written by this module and what its inputs and outputs look like."""

    path: Path
    opset: int
    precision: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


class MappingGraph(nn.Module):
    """z [B, z_dim] -> w [B, w_dim], untruncated (psi = 1)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: Tensor) -> Tensor:
        # + 0 keeps identity mappings (WaveGAN) a real node, so the graph's output is not its input.
        return self.generator.mapping(z, truncation_psi=1.0) + 0.0


class SynthesisGraph(nn.Module):
    """ws [B, num_ws, w_dim] -> audio [B, channels, loop_samples]."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, ws: Tensor) -> Tensor:
        return self.generator.synthesis(ws)


def prepare_for_export(generator: nn.Module) -> nn.Module:
    """A CPU float32 copy in eval mode with constant noise; the caller's model is untouched."""
    g = copy.deepcopy(generator).cpu().float().eval().requires_grad_(False)
    g.noise_mode = "const"
    return g


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's chatter (optional torchvision ops, deprecation notes)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def tensor_specs(values: list[onnx.ValueInfoProto]) -> tuple[TensorSpec, ...]:
    """Name, shape (dynamic axes by name) and dtype of graph inputs or outputs."""
    specs = []
    for v in values:
        t = v.type.tensor_type
        shape = tuple(d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim)
        specs.append(TensorSpec(name=v.name, shape=shape, dtype=_ONNX_DTYPES.get(t.elem_type, str(t.elem_type))))
    return tuple(specs)


def describe_graph(path: Path, precision: str) -> ExportedGraph:
    model = onnx.load(str(path), load_external_data=False)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    return ExportedGraph(path=path, opset=opset, precision=precision,
                         inputs=tensor_specs(list(model.graph.input)), outputs=tensor_specs(list(model.graph.output)))


def _export(module: nn.Module, example: Tensor, path: Path, input_name: str, output_name: str,
            what: str) -> ExportedGraph:
    batch = torch.export.Dim(BATCH_AXIS_NAME, min=1, max=MAX_EXPORT_BATCH)
    try:
        with _quiet_exporter():
            torch.onnx.export(module, (example,), str(path), input_names=[input_name], output_names=[output_name],
                              opset_version=EXPORT_OPSET, dynamo=True, external_data=False, optimize=True,
                              dynamic_shapes=({0: batch},), verbose=False)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"{what}: torch.onnx.export failed ({type(e).__name__}: {first})") from e
    if not path.is_file():
        raise ExportError(f"{what}: the exporter wrote no file at {path}")
    graph = describe_graph(path, "float32")
    if isinstance(graph.inputs[0].shape[0], int):
        raise ExportError(f"{what}: the batch axis was exported as fixed size {graph.inputs[0].shape[0]}")
    return graph


def export_mapping(generator: nn.Module, path: Path) -> ExportedGraph:
    """Write the mapping graph of a generator prepared by ``prepare_for_export`` to `path`."""
    z = torch.randn(EXAMPLE_BATCH, generator.z_dim, generator=torch.Generator().manual_seed(0))
    return _export(MappingGraph(generator).eval(), z, Path(path), "z", "w", "mapping")


def export_synthesis(generator: nn.Module, path: Path) -> ExportedGraph:
    """Write the synthesis graph of a generator prepared by ``prepare_for_export`` to `path`."""
    ws = torch.randn(EXAMPLE_BATCH, generator.num_ws, generator.w_dim,
                     generator=torch.Generator().manual_seed(1))
    return _export(SynthesisGraph(generator).eval(), ws, Path(path), "ws", "audio", "synthesis")


def topological_sort(graph: onnx.GraphProto) -> None:
    """Reorder `graph`'s nodes so that every node comes after the nodes it reads from.

    The float16 converter appends its input Cast nodes at the end of the graph; ONNX
    requires producers before consumers.
    """
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            names = ", ".join(n.name or n.op_type for n in pending[:3])
            raise ExportError(f"graph has a cycle or reads undefined tensors (at {names})")
        for n in ready:
            ordered.append(n)
            available.update(n.output)
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    del graph.node[:]
    graph.node.extend(ordered)


def convert_to_float16(src: Path, dst: Path) -> ExportedGraph:
    """Write a float16 copy of the float32 graph `src` to `dst`, keeping float32 inputs/outputs."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    try:
        with _quiet_exporter():
            half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    except Exception as e:
        raise ExportError(f"synthesis_fp16: float16 conversion failed ({type(e).__name__}: {e})") from e
    topological_sort(half.graph)
    onnx.save(half, str(dst))
    return describe_graph(Path(dst), "float16")
