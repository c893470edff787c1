"""Open ONNX graphs with onnxruntime on the best execution provider that actually works.

onnxruntime lists a provider as *available* when its library is installed, not when it
can run: ``onnxruntime-gpu`` on a laptop without an NVIDIA GPU lists CUDA and TensorRT, and
loading them fails (printing a screenful of library errors). So a provider is only chosen
after a session has really been created with it and ``session.get_providers()`` confirms
that it is in use.

Choice with ``provider="auto"``:

- Linux / Windows: CUDA when it loads, else CPU;
- macOS: CoreML when it loads, else CPU.

TensorRT is never picked automatically: it compiles an engine the first time a graph runs
(and again for each new batch size), which can take minutes, far too long for a model
swapped in during a set. Ask for it by name (``provider="tensorrt"``) when you can afford
the warm-up. A provider asked for by name that does not load is an error, not a silent
fall-back to the CPU.

This module also reads just enough of an ONNX file's protobuf encoding (without the
``onnx`` package, which the stage runtime does not install) to tell a truncated or foreign
file, and operators from custom domains, apart before onnxruntime sees them: see
``scan_onnx_model``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterator

import onnxruntime as ort

# Short names accepted by --provider, and the onnxruntime names they stand for.
PROVIDER_NAMES: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
}
PROVIDER_CHOICES: tuple[str, ...] = ("auto", *PROVIDER_NAMES)

# onnxruntime log severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. Failing to
# load an optional GPU provider is logged at "error" level, so only "fatal" keeps it quiet;
# real failures still reach us as Python exceptions.
_QUIET_SEVERITY = 4


class ProviderError(RuntimeError):
    """An execution provider that was asked for by name and cannot be used."""


def quiet_onnxruntime() -> None:
    """Stop onnxruntime from printing provider load errors (call before creating sessions)."""
    ort.set_default_logger_severity(_QUIET_SEVERITY)


def auto_candidates(platform: str = sys.platform) -> list[str]:
    """Providers that ``auto`` tries, best first, on `platform` (CPU always comes last)."""
    if platform == "darwin":
        preferred = ["CoreMLExecutionProvider"]
    else:
        preferred = ["CUDAExecutionProvider"]
    return [p for p in preferred if p in ort.get_available_providers()] + ["CPUExecutionProvider"]


def resolve_provider_name(provider: str) -> str:
    """'cuda' -> 'CUDAExecutionProvider'; full onnxruntime names pass through unchanged."""
    if provider in PROVIDER_NAMES:
        return PROVIDER_NAMES[provider]
    if provider in PROVIDER_NAMES.values():
        return provider
    raise ProviderError(f"unknown provider '{provider}': expected one of {', '.join(PROVIDER_CHOICES)}")


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Options for a new session: quiet, and with `threads` set, a bounded CPU footprint.

    ``threads=None`` keeps onnxruntime's defaults (one intra-op thread per physical core).
    ``threads=n`` runs a graph on at most `n` threads: ``n - 1`` pool threads plus the
    caller (so with 1 the whole run happens on the calling thread, at its priority), no
    inter-op parallelism (nodes run one after another), and pool threads that sleep
    instead of spinning between runs, so a render never holds more cores than it was given.
    """
    options = ort.SessionOptions()
    options.log_severity_level = _QUIET_SEVERITY
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads: expected a positive integer or None, got {threads!r}")
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def _try_session(model: bytes | str, provider: str, threads: int | None = None) -> ort.InferenceSession | None:
    """A session whose first provider really is `provider`, or None when it does not load."""
    providers = [provider] if provider == "CPUExecutionProvider" else [provider, "CPUExecutionProvider"]
    try:
        # enable_fallback=0: raise instead of printing "EP Error" and retrying on the CPU.
        session = ort.InferenceSession(model, sess_options=session_options(threads), providers=providers,
                                       enable_fallback=0)
    except Exception:
        if provider == "CPUExecutionProvider":
            raise  # the model itself is at fault; the caller reports it
        return None
    return session if session.get_providers()[0] == provider else None


def create_session(model: bytes | str, provider: str = "auto",
                   threads: int | None = None) -> tuple[ort.InferenceSession, str]:
    """Open `model` (file path or serialized bytes) on `provider`; return (session, provider used).

    ``provider`` is "auto", a short name from PROVIDER_NAMES or a full onnxruntime name.
    ``threads``: the most CPU threads one run may use (see ``session_options``); None keeps
    onnxruntime's default of one per core.
    Raises ProviderError when a provider named explicitly is not installed or does not
    load, and onnxruntime's own exception when the model cannot be loaded at all.
    """
    quiet_onnxruntime()
    if provider == "auto":
        candidates = auto_candidates()
    else:
        name = resolve_provider_name(provider)
        if name not in ort.get_available_providers():
            raise ProviderError(f"provider '{provider}' ({name}) is not part of this onnxruntime install; "
                                f"installed: {', '.join(ort.get_available_providers())}")
        candidates = [name]
    for candidate in candidates:
        session = _try_session(model, candidate, threads)
        if session is not None:
            return session, candidate
    raise ProviderError(f"provider '{provider}' is installed but did not load (no suitable device or "
                        f"driver libraries missing); try --provider cpu")


# ---------------------------------------------------------------------------------------
# Reading the structure of an ONNX file without the onnx package
# ---------------------------------------------------------------------------------------

# Operator domains of the ONNX standard. Anything else is a custom operator that needs a
# library the instrument does not ship.
STANDARD_DOMAINS: frozenset[str] = frozenset({"", "ai.onnx", "ai.onnx.ml"})


class OnnxFileError(ValueError):
    """Bytes that are not a complete ONNX model."""


@dataclass(frozen=True)
class OnnxScan:
    """What ``scan_onnx_model`` found: declared opsets, node operators and local functions."""

    ir_version: int
    opsets: dict[str, int]                 # domain -> version ("" is the default ONNX domain)
    node_ops: list[tuple[str, str, str]]   # (domain, op_type, node name), nested graphs included
    local_functions: set[tuple[str, str]]  # (domain, name) of functions defined in the model

    def custom_ops(self) -> list[tuple[str, str, str]]:
        """Nodes whose domain is neither standard ONNX nor a function defined in the model."""
        return [(d, op, name) for d, op, name in self.node_ops
                if d not in STANDARD_DOMAINS and (d, op) not in self.local_functions]


# Protobuf field numbers (onnx/onnx.proto).
_MODEL_IR_VERSION, _MODEL_OPSET, _MODEL_GRAPH, _MODEL_FUNCTIONS = 1, 8, 7, 25
_OPSET_DOMAIN, _OPSET_VERSION = 1, 2
_GRAPH_NODE = 1
_NODE_NAME, _NODE_OP_TYPE, _NODE_ATTRIBUTE, _NODE_DOMAIN = 3, 4, 5, 7
_ATTR_GRAPH, _ATTR_GRAPHS = 6, 11
_FUNCTION_NAME, _FUNCTION_NODE, _FUNCTION_DOMAIN = 1, 7, 10


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise OnnxFileError(f"ends in the middle of a number at byte {pos}")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise OnnxFileError(f"malformed number at byte {pos}")


def _fields(data: memoryview, offset: int = 0) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of each field of one protobuf message.

    Length-delimited values come back as memoryviews (not copied); `offset` only makes
    error messages point at the right byte of the file.
    """
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise OnnxFileError(f"malformed field at byte {offset + pos}")
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise OnnxFileError(f"a field at byte {offset + pos} runs {pos + length - len(data)} bytes "
                                    f"past the end")
            yield number, wire, data[pos:pos + length]
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise OnnxFileError(f"ends in the middle of a field at byte {offset + pos}")
            pos += size
        else:
            raise OnnxFileError(f"unknown protobuf wire type {wire} at byte {offset + pos}")


def _text(value: int | memoryview) -> str:
    if not isinstance(value, memoryview):
        raise OnnxFileError("a text field holds a number")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise OnnxFileError("a text field is not UTF-8") from None


def _scan_graph(graph: memoryview, ops: list[tuple[str, str, str]]) -> None:
    for number, wire, value in _fields(graph):
        if number != _GRAPH_NODE or not isinstance(value, memoryview):
            continue
        _scan_node(value, ops)


def _scan_node(node: memoryview, ops: list[tuple[str, str, str]]) -> None:
    name = op_type = domain = ""
    for number, wire, value in _fields(node):
        if number == _NODE_NAME:
            name = _text(value)
        elif number == _NODE_OP_TYPE:
            op_type = _text(value)
        elif number == _NODE_DOMAIN:
            domain = _text(value)
        elif number == _NODE_ATTRIBUTE and isinstance(value, memoryview):
            for a_number, _, a_value in _fields(value):  # subgraphs of If / Loop / Scan
                if a_number in (_ATTR_GRAPH, _ATTR_GRAPHS) and isinstance(a_value, memoryview):
                    _scan_graph(a_value, ops)
    ops.append((domain, op_type, name))


def scan_onnx_model(data: bytes) -> OnnxScan:
    """Walk the protobuf encoding of an ONNX ModelProto: its opsets and every node's operator.

    Weights are skipped by length, never decoded, so this is quick even for large models.
    Raises OnnxFileError when the bytes are not a complete model (truncated, random bytes,
    another kind of file, a model without a graph).
    """
    view = memoryview(data)
    if not view:
        raise OnnxFileError("the file is empty")
    ir_version = 0
    opsets: dict[str, int] = {}
    ops: list[tuple[str, str, str]] = []
    functions: set[tuple[str, str]] = set()
    graphs = 0
    for number, wire, value in _fields(view):
        if number == _MODEL_IR_VERSION and wire == 0:
            ir_version = int(value)  # type: ignore[arg-type]
        elif number == _MODEL_OPSET and isinstance(value, memoryview):
            domain, version = "", 0
            for o_number, _, o_value in _fields(value):
                if o_number == _OPSET_DOMAIN:
                    domain = _text(o_value)
                elif o_number == _OPSET_VERSION and isinstance(o_value, int):
                    version = o_value
            opsets[domain] = version
        elif number == _MODEL_GRAPH and isinstance(value, memoryview):
            graphs += 1
            _scan_graph(value, ops)
        elif number == _MODEL_FUNCTIONS and isinstance(value, memoryview):
            f_name = f_domain = ""
            for f_number, _, f_value in _fields(value):
                if f_number == _FUNCTION_NAME:
                    f_name = _text(f_value)
                elif f_number == _FUNCTION_DOMAIN:
                    f_domain = _text(f_value)
                elif f_number == _FUNCTION_NODE and isinstance(f_value, memoryview):
                    _scan_node(f_value, ops)
            functions.add((f_domain, f_name))
    if ir_version <= 0 or graphs != 1 or not opsets:
        raise OnnxFileError("is not an ONNX model (no IR version, graph or opset found)")
    return OnnxScan(ir_version=ir_version, opsets=opsets, node_ops=ops, local_functions=functions)

