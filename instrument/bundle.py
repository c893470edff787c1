"""Model bundles: the folder a trained generator travels in, from export to the stage.

::

    BUNDLE/
      manifest.json           what the model is (format below, docs/bundle.md field by field)
      mapping.onnx            z [batch, z_dim] -> w [batch, w_dim]
      synthesis.onnx          ws [batch, num_ws, w_dim] -> audio [batch, channels, loop_samples]
      synthesis_fp16.onnx     optional: the same in float16 (float32 inputs and outputs)
      parity_reference.npz    fixed inputs and the audio torch made from them at export

``load_bundle`` reads and checks all of it, and opens the graphs with onnxruntime; it
needs numpy and onnxruntime only (no torch, no onnx). Anything wrong with a bundle is a
``BundleError`` whose message is one line naming the file and the problem, e.g.
``bundles/techno/manifest.json: 'z_dim' must be a positive integer, got "8"``.

Truncation and style mixing happen here in numpy, not in the graphs: ``truncate`` pulls a
w towards the manifest's ``w_avg`` and ``broadcast`` repeats one w for every style input.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from instrument.bound_session import BoundSession
from instrument.onnx_session import OnnxFileError, ProviderError, create_session, scan_onnx_model

FORMAT_NAME = "ganloops-bundle"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MAPPING_NAME = "mapping.onnx"
SYNTHESIS_NAME = "synthesis.onnx"
SYNTHESIS_FP16_NAME = "synthesis_fp16.onnx"
PARITY_REFERENCE_NAME = "parity_reference.npz"

GRAPH_KEYS: tuple[str, ...] = ("mapping", "synthesis", "synthesis_fp16")
LAYER_GROUP_NAMES: tuple[str, ...] = ("coarse", "middle", "fine")
PRECISIONS: tuple[str, ...] = ("float32", "float16")
DEFAULT_KNOB_SIGMAS = 2.0
# |loop_samples - bars * beats_per_bar * 60 * sample_rate_hz / bpm| may be at most this.
LOOP_LENGTH_TOLERANCE_SAMPLES = 1.0
# A direction's vector must have unit length within this tolerance.
UNIT_NORM_TOLERANCE = 1e-3


class BundleError(ValueError):
    """A bundle that cannot be used. The message is one line naming the file and the problem."""


# ---------------------------------------------------------------------------------------
# The manifest, as typed data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: its name, shape (a string for a dynamic axis) and dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class GraphSpec:
    """One ONNX file of the bundle, as the manifest describes it."""

    file: str
    opset: int
    precision: str
    sha256: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class Direction:
    """A latent direction in w space that one knob moves along.

    Knob position k in [-1, 1] adds ``k * knob_sigmas * sigma * vector`` to w (at the
    style inputs in ``layers``, all of them when None). ``vector`` has unit length;
    ``sigma`` is the standard deviation of w along it (so a knob at 1 goes
    ``knob_sigmas`` standard deviations out). ``descriptors`` maps an audio descriptor
    (its name carries its unit, e.g. ``spectral_centroid_hz``) to the mean change of
    that descriptor per +1 sigma along the direction.
    """

    name: str
    method: str
    vector: np.ndarray
    sigma: float
    knob_sigmas: float = DEFAULT_KNOB_SIGMAS
    descriptors: Mapping[str, float] = field(default_factory=dict)
    layers: tuple[int, ...] | None = None

    def offset(self, knob: float) -> np.ndarray:
        """The change of w [w_dim] for a knob at `knob` (-1..1 is the knob's travel)."""
        return (knob * self.knob_sigmas * self.sigma * self.vector).astype(np.float32)


@dataclass(frozen=True)
class ParityFigure:
    """How far onnxruntime's output was from torch's on the reference inputs, and the limit."""

    max_abs_error: float
    bound: float

    @property
    def passed(self) -> bool:
        return self.max_abs_error <= self.bound


@dataclass(frozen=True)
class Parity:
    """The export's parity check: reference inputs and the figure for each graph."""

    reference: str
    seeds: tuple[int, ...]
    provider: str
    deterministic: bool
    graphs: Mapping[str, ParityFigure]


@dataclass(frozen=True)
class Manifest:
    """Everything the instrument knows about a model, read from ``manifest.json``."""

    format_version: int
    name: str
    family: str
    sample_rate_hz: int
    channels: int
    bpm: float
    beats_per_bar: int
    bars: int
    loop_samples: int
    z_dim: int
    w_dim: int
    num_ws: int
    layer_groups: Mapping[str, tuple[int, ...]]
    w_avg: np.ndarray
    directions: tuple[Direction, ...]
    graphs: Mapping[str, GraphSpec]
    provenance: Mapping[str, Any]
    parity: Parity
    raw: Mapping[str, Any]

    @property
    def loop_seconds(self) -> float:
        return self.loop_samples / self.sample_rate_hz

    @property
    def beats(self) -> int:
        return self.bars * self.beats_per_bar


def expected_loop_samples(sample_rate_hz: int, bpm: float, bars: int, beats_per_bar: int) -> float:
    """The exact (fractional) length of `bars` bars at `bpm` in samples."""
    return bars * beats_per_bar * 60.0 * sample_rate_hz / bpm


# ---------------------------------------------------------------------------------------
# Checking the manifest, field by field
# ---------------------------------------------------------------------------------------


def _show(value: Any, limit: int = 60) -> str:
    """A value as it appears in JSON, shortened so that an error stays on one line."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Reader:
    """Typed access to a JSON object; every failure is a BundleError naming `where` and the key."""

    def __init__(self, data: Mapping[str, Any], where: str, prefix: str = "") -> None:
        self.data, self.where, self.prefix = data, where, prefix

    def fail(self, key: str, what: str) -> BundleError:
        return BundleError(f"{self.where}: '{self.prefix}{key}' {what}")

    def get(self, key: str) -> Any:
        if key not in self.data:
            raise self.fail(key, "is missing")
        return self.data[key]

    def _typed(self, key: str, expected: str, ok: Callable[[Any], bool], default: Any = ...) -> Any:
        if default is not ... and key not in self.data:
            return default
        value = self.get(key)
        if not ok(value):
            raise self.fail(key, f"must be {expected}, got {_show(value)}")
        return value

    def int(self, key: str, minimum: int = 1) -> int:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        return self._typed(key, what, lambda v: type(v) is int and v >= minimum)

    def number(self, key: str, positive: bool = False, default: Any = ...) -> float:
        what = "a positive number" if positive else "a number"
        return float(self._typed(key, what, lambda v: _is_number(v) and (v > 0 or not positive), default))

    def str(self, key: str) -> str:
        return self._typed(key, "a non-empty string", lambda v: isinstance(v, str) and v != "")

    def bool(self, key: str) -> bool:
        return self._typed(key, "true or false", lambda v: isinstance(v, bool))

    def object(self, key: str, default: Any = ...) -> dict[str, Any]:
        return self._typed(key, "an object", lambda v: isinstance(v, dict), default)

    def list(self, key: str) -> list[Any]:
        return self._typed(key, "a list", lambda v: isinstance(v, list))

    def vector(self, key: str, length: int) -> np.ndarray:
        value = self._typed(key, f"a list of {length} numbers",
                            lambda v: isinstance(v, list) and len(v) == length and all(_is_number(x) for x in v))
        return np.asarray(value, dtype=np.float32)

    def child(self, key: str, value: Mapping[str, Any]) -> "_Reader":
        return _Reader(value, self.where, f"{self.prefix}{key}.")


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _is_index_list(value: Any, size: int) -> bool:
    return (isinstance(value, list) and len(value) > 0
            and all(type(i) is int and 0 <= i < size for i in value))


def _read_tensor_specs(r: _Reader, key: str) -> tuple[TensorSpec, ...]:
    specs = []
    for i, item in enumerate(r.list(key)):
        if not isinstance(item, dict):
            raise r.fail(f"{key}[{i}]", f"must be an object, got {_show(item)}")
        t = r.child(f"{key}[{i}]", item)
        shape = t._typed("shape", "a list of sizes and axis names",
                         lambda v: isinstance(v, list) and all((type(d) is int and d > 0) or isinstance(d, str)
                                                               for d in v))
        specs.append(TensorSpec(name=t.str("name"), shape=tuple(shape), dtype=t.str("dtype")))
    return tuple(specs)


def _read_graph(r: _Reader) -> GraphSpec:
    file = r.str("file")
    if Path(file).name != file or file in (".", ".."):
        raise r.fail("file", f"must be a file name inside the bundle, got {_show(file)}")
    precision = r.str("precision")
    if precision not in PRECISIONS:
        raise r.fail("precision", f"must be 'float32' or 'float16', got {_show(precision)}")
    sha256 = r._typed("sha256", "64 hexadecimal digits",
                      lambda v: isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v))
    return GraphSpec(file=file, opset=r.int("opset"), precision=precision, sha256=sha256,
                     inputs=_read_tensor_specs(r, "inputs"), outputs=_read_tensor_specs(r, "outputs"))


def _read_direction(r: _Reader, w_dim: int, num_ws: int) -> Direction:
    vector = r.vector("vector", w_dim)
    norm = float(np.linalg.norm(vector))
    if abs(norm - 1.0) > UNIT_NORM_TOLERANCE:
        raise r.fail("vector", f"must have unit length, has length {norm:.4g}")
    descriptors = r.object("descriptors", default={})
    for name, value in descriptors.items():
        if not _is_number(value):
            raise r.fail(f"descriptors.{name}", f"must be a number, got {_show(value)}")
    layers = r.data.get("layers")
    if layers is not None and not _is_index_list(layers, num_ws):
        raise r.fail("layers", f"must be null or a list of style indices 0..{num_ws - 1}, got {_show(layers)}")
    return Direction(name=r.str("name"), method=r.str("method"), vector=vector,
                     sigma=r.number("sigma", positive=True),
                     knob_sigmas=r.number("knob_sigmas", positive=True, default=DEFAULT_KNOB_SIGMAS),
                     descriptors={k: float(v) for k, v in descriptors.items()},
                     layers=None if layers is None else tuple(layers))


def _read_parity(r: _Reader) -> Parity:
    reference = r.str("reference")
    if Path(reference).name != reference:
        raise r.fail("reference", f"must be a file name inside the bundle, got {_show(reference)}")
    seeds = r._typed("seeds", "a list of integers", lambda v: isinstance(v, list) and all(type(s) is int for s in v))
    graphs = r.object("graphs")
    figures = {}
    for key, value in graphs.items():
        if not isinstance(value, dict):
            raise r.fail(f"graphs.{key}", f"must be an object, got {_show(value)}")
        g = r.child(f"graphs.{key}", value)
        figures[key] = ParityFigure(max_abs_error=g.number("max_abs_error"), bound=g.number("bound", positive=True))
    return Parity(reference=reference, seeds=tuple(seeds), provider=r.str("provider"),
                  deterministic=r.bool("deterministic"), graphs=figures)


def parse_manifest(data: Any, where: str = MANIFEST_NAME) -> Manifest:
    """Check a manifest (already parsed from JSON) and return it as a Manifest.

    `where` names the file in error messages. Raises BundleError on the first problem.
    """
    if not isinstance(data, dict):
        raise BundleError(f"{where}: must hold a JSON object, got {type(data).__name__}")
    r = _Reader(data, where)
    fmt = r.get("format")
    if fmt != FORMAT_NAME:
        raise r.fail("format", f"must be {_show(FORMAT_NAME)} (is this a ganloops bundle?), got {_show(fmt)}")
    version = r.get("format_version")
    if version != FORMAT_VERSION or type(version) is not int:
        raise BundleError(f"{where}: format_version {_show(version)} is not supported "
                          f"(this ganloops reads version {FORMAT_VERSION}; update ganloops or re-export)")
    sample_rate_hz, bpm = r.int("sample_rate_hz"), r.number("bpm", positive=True)
    beats_per_bar, bars, loop_samples = r.int("beats_per_bar"), r.int("bars"), r.int("loop_samples")
    exact = expected_loop_samples(sample_rate_hz, bpm, bars, beats_per_bar)
    if abs(loop_samples - exact) > LOOP_LENGTH_TOLERANCE_SAMPLES:
        raise r.fail("loop_samples", f"is {loop_samples}, but {bars} bars of {beats_per_bar} beats at {bpm:g} BPM "
                                     f"and {sample_rate_hz} Hz last {exact:.2f} samples")
    z_dim, w_dim, num_ws = r.int("z_dim"), r.int("w_dim"), r.int("num_ws")

    groups = r.object("layer_groups")
    layer_groups = {}
    for group in LAYER_GROUP_NAMES:
        indices = r.child("layer_groups", groups)._typed(
            group, f"a non-empty list of style indices 0..{num_ws - 1}", lambda v: _is_index_list(v, num_ws))
        layer_groups[group] = tuple(indices)

    directions = []
    for i, item in enumerate(r.list("directions")):
        if not isinstance(item, dict):
            raise r.fail(f"directions[{i}]", f"must be an object, got {_show(item)}")
        directions.append(_read_direction(r.child(f"directions[{i}]", item), w_dim, num_ws))
    names = [d.name for d in directions]
    if len(set(names)) != len(names):
        raise r.fail("directions", f"must have distinct names, got {_show(names)}")

    graphs_obj = r.object("graphs")
    graphs = {}
    for key, value in graphs_obj.items():
        if key not in GRAPH_KEYS:
            continue  # a graph added by a later exporter that this reader has no use for
        if not isinstance(value, dict):
            raise r.fail(f"graphs.{key}", f"must be an object, got {_show(value)}")
        graphs[key] = _read_graph(r.child(f"graphs.{key}", value))
    for key in ("mapping", "synthesis"):
        if key not in graphs:
            raise r.fail(f"graphs.{key}", "is missing")

    return Manifest(
        format_version=version, name=r.str("name"), family=r.str("family"),
        sample_rate_hz=sample_rate_hz, channels=r.int("channels"), bpm=bpm, beats_per_bar=beats_per_bar,
        bars=bars, loop_samples=loop_samples, z_dim=z_dim, w_dim=w_dim, num_ws=num_ws,
        layer_groups=layer_groups, w_avg=r.vector("w_avg", w_dim), directions=tuple(directions),
        graphs=graphs, provenance=r.object("provenance"),
        parity=_read_parity(r.child("parity", r.object("parity"))), raw=data,
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def read_manifest(bundle_dir: str | Path) -> Manifest:
    """Read and check ``BUNDLE/manifest.json`` (the graphs are not opened)."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        what = "does not exist" if not bundle_dir.exists() else "is not a folder"
        raise BundleError(f"{bundle_dir}: {what} (a bundle is a folder holding {MANIFEST_NAME} and ONNX graphs)")
    path = bundle_dir / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"{path}: missing (not a ganloops bundle, or an unfinished export)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BundleError(f"{path}: cannot be read ({_one_line(e)})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise BundleError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except ValueError as e:
        raise BundleError(f"{path}: not valid JSON ({e})") from None
    return parse_manifest(data, where=str(path))


# ---------------------------------------------------------------------------------------
# Opening the graphs
# ---------------------------------------------------------------------------------------


def _one_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, without terminal colour codes, shortened."""
    text = str(error).replace("\x1b[1;31m", "").replace("\x1b[m", "").strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _shape_text(shape: Any) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"


def _dtype_name(ort_type: str) -> str:
    """'tensor(float)' -> 'float32' (the names the manifest uses)."""
    return {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
            "tensor(int64)": "int64"}.get(ort_type, ort_type)


def expected_io(manifest: Manifest, key: str) -> tuple[tuple[Any, ...], tuple[Any, ...], str]:
    """(input shape, output shape, manifest fields) a graph must have; None marks the batch axis."""
    if key == "mapping":
        return (None, manifest.z_dim), (None, manifest.w_dim), "z_dim, w_dim"
    return ((None, manifest.num_ws, manifest.w_dim), (None, manifest.channels, manifest.loop_samples),
            "num_ws, w_dim, channels, loop_samples")


def _check_io(where: str, what: str, args: Any, expected: tuple[Any, ...], fields: str,
              spec: tuple[TensorSpec, ...]) -> str:
    """Check a session's inputs or outputs against the manifest; return the tensor's name."""
    if len(args) != 1:
        raise BundleError(f"{where}: has {len(args)} {what}s, a bundle graph has exactly one")
    arg = args[0]
    shape = list(arg.shape)
    wanted = _shape_text("batch" if d is None else d for d in expected)
    if len(shape) != len(expected) or any(e is not None and s != e for s, e in zip(shape, expected)):
        raise BundleError(f"{where}: {what} '{arg.name}' has shape {_shape_text(shape)}, but the manifest "
                          f"({fields}) says {wanted}")
    if isinstance(shape[0], int):
        raise BundleError(f"{where}: {what} '{arg.name}' has a fixed batch size {shape[0]}; "
                          f"bundle graphs need a dynamic batch axis")
    if arg.type != "tensor(float)":
        raise BundleError(f"{where}: {what} '{arg.name}' is {arg.type}; bundle graphs take and give float32")
    if len(spec) != 1 or spec[0].name != arg.name:
        listed = ", ".join(s.name for s in spec) or "none"
        raise BundleError(f"{where}: {what} is named '{arg.name}' but the manifest lists {listed}")
    return arg.name


@dataclass
class _Graph:
    session: Any
    input_name: str
    output_name: str
    provider: str
    where: str = ""  # the ONNX file, for error messages


def open_graph(bundle_dir: Path, manifest: Manifest, key: str, provider: str, threads: int | None = None) -> _Graph:
    """Check one ONNX file of the bundle and open it (at most `threads` CPU threads per run, None:
    onnxruntime's default); raise BundleError naming the file."""
    spec = manifest.graphs.get(key)
    if spec is None:
        raise BundleError(f"{bundle_dir / MANIFEST_NAME}: the bundle has no '{key}' graph")
    path = bundle_dir / spec.file
    where = str(path)
    if not path.is_file():
        raise BundleError(f"{where}: missing (listed in the manifest as graphs.{key})")
    data = path.read_bytes()
    try:
        scan = scan_onnx_model(data)
    except OnnxFileError as e:
        raise BundleError(f"{where}: truncated or not an ONNX model ({e})") from None
    custom = scan.custom_ops()
    if custom:
        domain, op, node = custom[0]
        raise BundleError(f"{where}: node '{node}' uses operator '{op}' from the custom domain '{domain}' "
                          f"({len(custom)} such node(s)); bundles may use standard ONNX operators only")
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise BundleError(f"{where}: contents differ from the file the manifest describes (sha256 mismatch: "
                          f"damaged, or replaced without re-export)")
    try:
        session, used = create_session(data, provider, threads=threads)
    except ProviderError as e:
        raise BundleError(f"{where}: {e}") from None
    except Exception as e:  # onnxruntime's own exception types vary between versions
        raise BundleError(f"{where}: onnxruntime cannot load it ({_one_line(e)})") from None
    in_shape, out_shape, fields = expected_io(manifest, key)
    input_name = _check_io(where, "input", session.get_inputs(), in_shape, fields, spec.inputs)
    output_name = _check_io(where, "output", session.get_outputs(), out_shape, fields, spec.outputs)
    return _Graph(session=session, input_name=input_name, output_name=output_name, provider=used, where=where)


# ---------------------------------------------------------------------------------------
# The loaded bundle
# ---------------------------------------------------------------------------------------


def _as_batch(array: Any, name: str, trailing: tuple[int, ...]) -> np.ndarray:
    """`array` as float32 [batch, *trailing], or a ValueError naming `name` and the shapes."""
    try:
        x = np.asarray(array, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an array of numbers, got {type(array).__name__}") from None
    if x.ndim != 1 + len(trailing) or x.shape[1:] != trailing or x.shape[0] < 1:
        raise ValueError(f"{name}: expected shape [batch, {', '.join(map(str, trailing))}], got {list(x.shape)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return np.ascontiguousarray(x)


class Bundle:
    """A loaded model bundle: its manifest and its two graphs, ready to render.

    ``map`` and ``synthesize`` may be called from one thread at a time per Bundle (the
    instrument's render thread); they never touch the audio callback.
    """

    def __init__(self, path: Path, manifest: Manifest, mapping: _Graph, synthesis: _Graph, precision: str) -> None:
        self.path = path
        self.manifest = manifest
        self.precision = precision
        self.mapping_session = mapping.session
        self.synthesis_session = synthesis.session
        self.provider = synthesis.provider
        self._mapping = mapping
        self._synthesis = synthesis

    def map(self, z: Any) -> np.ndarray:
        """z [batch, z_dim] -> w [batch, w_dim] (float32, no truncation)."""
        x = _as_batch(z, "z", (self.manifest.z_dim,))
        g = self._mapping
        return g.session.run([g.output_name], {g.input_name: x})[0]

    def synthesize(self, ws: Any) -> np.ndarray:
        """ws [batch, num_ws, w_dim] -> audio [batch, channels, loop_samples], float32 in [-1, 1]."""
        m = self.manifest
        x = _as_batch(ws, "ws", (m.num_ws, m.w_dim))
        g = self._synthesis
        return g.session.run([g.output_name], {g.input_name: x})[0]

    def truncate(self, w: Any, psi: float) -> np.ndarray:
        """Pull w [batch, w_dim] towards the average: ``w_avg + psi * (w - w_avg)``."""
        x = _as_batch(w, "w", (self.manifest.w_dim,))
        if not math.isfinite(psi):
            raise ValueError(f"psi: expected a finite number, got {psi!r}")
        return (self.manifest.w_avg + np.float32(psi) * (x - self.manifest.w_avg)).astype(np.float32)

    def broadcast(self, w: Any) -> np.ndarray:
        """w [batch, w_dim] -> ws [batch, num_ws, w_dim]: the same w at every style input."""
        x = _as_batch(w, "w", (self.manifest.w_dim,))
        return np.repeat(x[:, None, :], self.manifest.num_ws, axis=1)

    def render(self, z: Any, psi: float = 1.0) -> np.ndarray:
        """z [batch, z_dim] -> audio, through mapping, truncation and synthesis."""
        return self.synthesize(self.broadcast(self.truncate(self.map(z), psi)))

    def parity_reference(self) -> dict[str, np.ndarray]:
        """The arrays stored at export: z, w, ws (inputs) and audio (torch's output)."""
        return load_parity_reference(self.path, self.manifest)

    def bind(self, mode: str | None = None) -> "BundleBinding":
        """Preallocated batch-1 renders of this bundle for the calling thread (see ``BundleBinding``)."""
        return BundleBinding(self, mode)


# Mapping batches that get a binding: the engine maps seed A alone, or A and B for style mixing.
BOUND_MAPPING_BATCHES: tuple[int, ...] = (1, 2)


class BundleBinding:
    """A bundle's two graphs run into buffers made once, for one render thread (``Bundle.bind``).

    ``synthesize`` takes ws [1, num_ws, w_dim] (batch 1 only) and returns the binding's
    output buffer [1, channels, loop_samples]: the *same* array every call, overwritten in
    place by the next call, so a caller that keeps a loop past its next render copies it
    out first. ``map`` takes z [B, z_dim]; B in ``BOUND_MAPPING_BATCHES`` runs through a
    binding of that batch size (made on first use) and returns its buffer, overwritten by
    the next ``map`` of the same batch; any other batch goes through ``Bundle.map``.

    The numbers are those of ``Bundle.map`` / ``Bundle.synthesize`` (the same kernels on
    the same inputs, bit for bit on the CPU), and so are the checks: non-finite inputs are
    refused with the same message; a synthesis input of another shape is a one-line
    ValueError naming the ONNX file. The binding belongs to the thread that made it (it
    refuses others); the bundle and its sessions can be shared. How each provider is bound,
    and when it falls back to plain ``session.run``, is in ``instrument.bound_session``.
    """

    def __init__(self, bundle: Bundle, mode: str | None = None) -> None:
        self.bundle = bundle
        self._mode = mode
        m = bundle.manifest
        g = bundle._synthesis
        self.synthesis = BoundSession(g.session, g.input_name, g.output_name, (1, m.num_ws, m.w_dim),
                                      (1, m.channels, m.loop_samples), g.where or str(bundle.path), mode)
        self._mapping: dict[int, BoundSession] = {}

    @property
    def mode(self) -> str:
        """'cpu', 'cuda' or 'plain' (the synthesis graph's path; see instrument.bound_session)."""
        return self.synthesis.mode

    @property
    def owner_thread(self) -> int:
        return self.synthesis.owner_thread

    def map(self, z: Any) -> np.ndarray:
        """z [B, z_dim] -> w [B, w_dim], into the batch's buffer (valid until its next map)."""
        z_dim = self.bundle.manifest.z_dim
        shape = getattr(z, "shape", None)
        if shape is None or len(shape) != 2 or shape[1] != z_dim or shape[0] not in BOUND_MAPPING_BATCHES:
            return self.bundle.map(z)  # its own checks and messages
        bound = self._mapping.get(shape[0])
        if bound is None:
            g = self.bundle._mapping
            bound = self._mapping[shape[0]] = BoundSession(
                g.session, g.input_name, g.output_name, (shape[0], z_dim), (shape[0], self.bundle.manifest.w_dim),
                g.where or str(self.bundle.path), self._mode)
        return bound.run(z, finite_as="z")

    def synthesize(self, ws: Any) -> np.ndarray:
        """ws [1, num_ws, w_dim] -> audio [1, channels, loop_samples]: the output buffer, overwritten by the next call."""
        return self.synthesis.run(ws, finite_as="ws")


def load_parity_reference(bundle_dir: Path, manifest: Manifest) -> dict[str, np.ndarray]:
    """Read ``parity_reference.npz`` and check its arrays against the manifest's sizes."""
    path = Path(bundle_dir) / manifest.parity.reference
    if not path.is_file():
        raise BundleError(f"{path}: missing (listed in the manifest as parity.reference)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except Exception as e:
        raise BundleError(f"{path}: not a readable .npz file ({_one_line(e)})") from None
    m = manifest
    count = len(m.parity.seeds)
    wanted = {"z": (count, m.z_dim), "w": (count, m.w_dim), "ws": (count, m.num_ws, m.w_dim),
              "audio": (count, m.channels, m.loop_samples)}
    for key, shape in wanted.items():
        if key not in arrays:
            raise BundleError(f"{path}: has no array '{key}'")
        if arrays[key].shape != shape:
            raise BundleError(f"{path}: array '{key}' has shape {list(arrays[key].shape)}, expected {list(shape)}")
    return arrays


def load_bundle(path: str | Path, provider: str = "auto", precision: str = "float32",
                threads: int | None = None) -> Bundle:
    """Read, check and open the bundle in folder `path`.

    ``provider``: "auto" or a name from ``instrument.onnx_session.PROVIDER_NAMES``.
    ``precision``: "float32", or "float16" for the bundle's optional half-precision
    synthesis graph (mostly useful on GPUs). ``threads``: the most CPU threads one run of a
    graph may use (None: onnxruntime's default, one per core; the live engine passes its
    ``render_threads`` so renders leave cores to the mixer and the audio server). Raises
    BundleError (one line) on any problem.
    """
    if precision not in PRECISIONS:
        raise BundleError(f"precision: expected 'float32' or 'float16', got {precision!r}")
    bundle_dir = Path(path)
    manifest = read_manifest(bundle_dir)
    key = "synthesis" if precision == "float32" else "synthesis_fp16"
    if key not in manifest.graphs:
        raise BundleError(f"{bundle_dir}: has no float16 synthesis graph (export it with --fp16)")
    synthesis = open_graph(bundle_dir, manifest, key, provider, threads)
    mapping = open_graph(bundle_dir, manifest, "mapping", synthesis.provider, threads)
    return Bundle(bundle_dir, manifest, mapping, synthesis, precision)


# ---------------------------------------------------------------------------------------
# Re-checking parity without torch
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParityCheck:
    """One graph's parity now, next to the figure recorded at export."""

    graph: str
    recorded_max_abs_error: float
    measured_max_abs_error: float
    bound: float
    provider: str

    @property
    def passed(self) -> bool:
        return self.measured_max_abs_error <= self.bound


def _max_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return math.inf
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def recheck_parity(path: str | Path, provider: str = "auto") -> list[ParityCheck]:
    """Render the stored reference inputs again and compare with torch's stored outputs.

    The mapping graph is checked on the reference z, each synthesis graph on the
    reference ws (so one graph's error never feeds into another's). Needs no torch.
    """
    bundle_dir = Path(path)
    bundle = load_bundle(bundle_dir, provider)
    ref = bundle.parity_reference()
    recorded = bundle.manifest.parity.graphs

    def check(graph: str, measured: float) -> ParityCheck:
        figure = recorded.get(graph)
        if figure is None:
            raise BundleError(f"{bundle_dir / MANIFEST_NAME}: 'parity.graphs.{graph}' is missing")
        return ParityCheck(graph, figure.max_abs_error, measured, figure.bound, bundle.provider)

    checks = [check("mapping", _max_abs_error(bundle.map(ref["z"]), ref["w"])),
              check("synthesis", _max_abs_error(bundle.synthesize(ref["ws"]), ref["audio"]))]
    if "synthesis_fp16" in bundle.manifest.graphs:
        half = load_bundle(bundle_dir, bundle.provider, precision="float16")
        checks.append(check("synthesis_fp16", _max_abs_error(half.synthesize(ref["ws"]), ref["audio"])))
    return checks
