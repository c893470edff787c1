"""The MIDI mapping file: which control drives which OSC address, as TOML data.

The reference is docs/midi.md; the commented default (a generic controller with 8 knobs,
8 faders and pads) is ``instrument/midi/default_mapping.toml``. In short::

    [input]
    ports = []                 # every input; or names: every word must appear in the port's name
    pickup_tolerance = 0.03    # soft takeover: a knob takes over within 3 % of its range

    [clock]
    follow = true              # follow MIDI clock in (tempo, and bar 1 at Start with a phase lock)
    start_stop = true          # its Stop mutes the playing decks, Start/Continue unmutes them
    port = ""                  # only this input's clock ("" = the first that sends one)
    send_to = ""               # send MIDI clock to this output ("" = none)

    [[cc]]                     # a knob, fader or encoder
    control = 16               # CC number 0..127 (the MSB's for 14-bit)
    channel = 1                # 1..16; leave out for any channel
    address = "/ganloops/deck/1/knob/1"
    range = [-1.0, 1.0]        # CC 0 -> -1, CC 127 -> 1 (reversed ranges invert)
    mode = "absolute"          # | "14bit" | "relative_twos_complement" | "relative_binary_offset"
                               # | "relative_sign_magnitude" | "button"

    [[note]]                   # a pad or key
    note = 36
    address = "/ganloops/deck/1/mute"
    action = "toggle"          # | "set" | "momentary" | "random" | "step"

    [[program]]                # program change n -> values[n]
    address = "/ganloops/scene/recall"
    values = ["1", "2", "3"]

Everything is checked when the file is read, against the OSC address table and the
engine's ranges, so a mistake is found before the performance, not during it: a problem
is a ``MappingError`` of one line naming the file and the key
(``midi.toml: cc[3].control: expected an integer 0..127, got 130``).

``mapping_to_toml`` writes a mapping back (MIDI learn saves with it); the structure is
flat enough that no TOML library is needed to write it, and ``tomllib`` reads it back to
the same mapping.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (pyproject installs tomli there)
    import tomli as tomllib  # type: ignore[no-redef]

from instrument.midi.targets import RANDOM_SEED_MAX, Target, resolve_target

MAPPING_FORMAT = "ganloops-midi-mapping"
MAPPING_FORMAT_VERSION = 1
DEFAULT_MAPPING_RESOURCE = "default_mapping.toml"
DEFAULT_PICKUP_TOLERANCE = 0.03  # of a binding's range: within this, a knob takes over at once
DEFAULT_SWEEP_TICKS = 128  # encoder ticks that sweep a whole range (what an absolute knob has)
DEFAULT_SEED_CC_RANGE = (0.0, 127.0)  # a CC on a seed picks one of 128 seeds unless told otherwise

CC_MODES: tuple[str, ...] = ("absolute", "14bit", "relative_twos_complement", "relative_binary_offset",
                             "relative_sign_magnitude", "button")
RELATIVE_MODES: frozenset[str] = frozenset(m for m in CC_MODES if m.startswith("relative_"))
ACTIONS: tuple[str, ...] = ("set", "toggle", "momentary", "random", "step")


class MappingError(ValueError):
    """A mapping file that cannot be used: one line naming the file and the key."""


# ---------------------------------------------------------------------------------------
# The mapping as data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CcBinding:
    """A control change: absolute (7-bit or 14-bit), relative (endless encoder) or a button."""

    control: int
    address: str
    channel: int | None = None  # 1..16, None: any
    mode: str = "absolute"
    range: tuple[float, float] | None = None  # None: the target's whole range
    pickup: bool = True  # soft takeover (absolute and 14bit)
    sweep_ticks: int = DEFAULT_SWEEP_TICKS  # relative modes: ticks across the range
    lsb: int | None = None  # 14bit: the LSB's controller (None: control + 32)
    action: str = "set"  # button mode: what a press does (as for notes)
    value: Any = None
    off: Any = None

    @property
    def lsb_control(self) -> int:
        return self.lsb if self.lsb is not None else self.control + 32


@dataclass(frozen=True)
class NoteBinding:
    """A note (pad, key): note-on fires the action; note-off ends a momentary one."""

    note: int
    address: str
    channel: int | None = None
    action: str = "set"
    value: Any = None
    off: Any = None


@dataclass(frozen=True)
class ProgramBinding:
    """A program change: one program and a value, or ``values`` indexed by the program number."""

    address: str
    channel: int | None = None
    program: int | None = None
    value: Any = None
    values: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class MidiMapping:
    """A whole mapping file, checked."""

    cc: tuple[CcBinding, ...] = ()
    notes: tuple[NoteBinding, ...] = ()
    programs: tuple[ProgramBinding, ...] = ()
    ports: tuple[str, ...] = ()  # () = every input
    pickup_tolerance: float = DEFAULT_PICKUP_TOLERANCE
    clock_follow: bool = True
    clock_start_stop: bool = True  # a followed clock's Stop mutes the playing decks, Start unmutes them
    clock_port: str = ""
    clock_send_to: str = ""
    source: str = field(default="<mapping>", compare=False)  # where it came from, for messages

    def with_cc(self, binding: CcBinding) -> "MidiMapping":
        """This mapping with `binding`, replacing the CC bindings the same message would play."""
        kept = tuple(b for b in self.cc if not (b.control == binding.control and _overlap(b.channel, binding.channel)))
        return replace(self, cc=kept + (binding,))

    def with_note(self, binding: NoteBinding) -> "MidiMapping":
        kept = tuple(b for b in self.notes if not (b.note == binding.note and _overlap(b.channel, binding.channel)))
        return replace(self, notes=kept + (binding,))

    def with_program(self, binding: ProgramBinding) -> "MidiMapping":
        kept = tuple(b for b in self.programs
                     if not (b.program == binding.program and _overlap(b.channel, binding.channel)))
        return replace(self, programs=kept + (binding,))


def _overlap(a: int | None, b: int | None) -> bool:
    """Two bindings' channels share a channel (None is every channel)."""
    return a is None or b is None or a == b


# ---------------------------------------------------------------------------------------
# Checking values (each failure names its key)
# ---------------------------------------------------------------------------------------


class _Where:
    """Builds 'file: key' prefixes for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, message: str) -> MappingError:
        return MappingError(f"{self.source}: {key}: {message}" if key else f"{self.source}: {message}")


def _int(where: _Where, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise where.error(key, f"expected an integer {low}..{high}, got {value!r}")
    return value


def _bool(where: _Where, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise where.error(key, f"expected true or false, got {value!r}")
    return value


def _text(where: _Where, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise where.error(key, f"expected a string, got {value!r}")
    return value


def _number(where: _Where, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise where.error(key, f"expected a finite number, got {value!r}")
    return float(value)


def _channel(where: _Where, key: str, table: Mapping[str, Any]) -> int | None:
    if "channel" not in table:
        return None
    return _int(where, f"{key}.channel", table["channel"], 1, 16)


def _target(where: _Where, key: str, table: Mapping[str, Any]) -> Target:
    if "address" not in table:
        raise where.error(key, "missing 'address' (the OSC address to drive, e.g. /ganloops/deck/1/knob/1)")
    try:
        return resolve_target(table["address"])
    except ValueError as e:
        raise where.error(f"{key}.address", str(e)) from None


def _check_keys(where: _Where, key: str, table: Any, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise where.error(key, f"expected a table, got {type(table).__name__}")
    for name in table:
        if name not in allowed:
            raise where.error(key, f"unknown key {name!r} (expected: {', '.join(allowed)})")
    return table


def _freeze(value: Any) -> Any:
    """Lists from TOML as tuples, so bindings stay immutable (and hashable)."""
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _args(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def trigger_args(target: Target, value: Any) -> tuple[Any, ...]:
    """A button's value as the target's argument tuple (already checked when the mapping was read)."""
    if value is None:
        return ()
    return target.coerce_args(_args(value))


def _check_trigger(where: _Where, key: str, target: Target, action: str, value: Any, off: Any) -> None:
    """What a button may do to `target`; raises naming the key."""
    if action not in ACTIONS:
        raise where.error(f"{key}.action", f"expected one of {', '.join(ACTIONS)}, got {action!r}")

    def coerce(name: str, raw: Any) -> None:
        try:
            target.coerce_args(_args(raw))
        except ValueError as e:
            raise where.error(f"{key}.{name}", str(e)) from None

    if action in ("toggle", "random", "momentary", "step") and not target.numeric:
        raise where.error(f"{key}.action", f"{action!r} needs a numeric control, and {target.address} is not one")
    if action == "set":
        if value is None and target.kind != "learn":
            raise where.error(key, f"action 'set' needs a 'value' for {target.address}")
        if value is not None:
            coerce("value", value)
    elif action == "toggle":
        if not target.flag:
            raise where.error(f"{key}.action", f"'toggle' is for on/off controls (mute), not {target.address}")
    elif action == "momentary":
        for name, raw in (("value", value), ("off", off)):
            if raw is not None:
                coerce(name, raw)
    elif action == "step":
        if value is not None:
            step = _number(where, f"{key}.value", value)
            if step == 0.0:
                raise where.error(f"{key}.value", "a step of 0 does nothing")
    elif action == "random":
        low, high = target.bounds
        if not (math.isfinite(low) and math.isfinite(high)) and target.kind not in ("seed", "bseed"):
            raise where.error(f"{key}.action", f"'random' needs a bounded range, and {target.address} has none")
    if off is not None and action != "momentary":
        raise where.error(f"{key}.off", "only a 'momentary' action has an 'off' value")
    if value is not None and action in ("toggle", "random"):
        raise where.error(f"{key}.value", f"a {action!r} action takes no value")


# ---------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------

_CC_KEYS = ("control", "address", "channel", "mode", "range", "pickup", "sweep_ticks", "lsb", "action", "value",
            "off")
_NOTE_KEYS = ("note", "address", "channel", "action", "value", "off")
_PROGRAM_KEYS = ("address", "channel", "program", "value", "values")
_TOP_KEYS = ("format", "format_version", "input", "clock", "cc", "note", "program")


def _parse_range(where: _Where, key: str, raw: Any, target: Target) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise where.error(key, f"expected [low, high], got {raw!r}")
    low, high = (_number(where, key, v) for v in raw)
    if low == high:
        raise where.error(key, "low and high are equal: the control would do nothing")
    lo, hi = target.bounds
    for v in (low, high):
        if not lo <= v <= hi:
            raise where.error(key, f"{v:g} is outside {target.address}'s range {lo:g}..{hi:g}")
    return (low, high)


def default_cc_range(target: Target) -> tuple[float, float]:
    """The range a CC sweeps when the mapping gives none: the target's whole range (128 seeds for seeds)."""
    if target.kind in ("seed", "bseed"):
        return DEFAULT_SEED_CC_RANGE
    return target.bounds


def _parse_cc(where: _Where, key: str, table: Any) -> CcBinding:
    t = _check_keys(where, key, table, _CC_KEYS)
    if "control" not in t:
        raise where.error(key, "missing 'control' (the CC number, 0..127)")
    control = _int(where, f"{key}.control", t["control"], 0, 127)
    target = _target(where, key, t)
    mode = t.get("mode", "absolute")
    if mode not in CC_MODES:
        raise where.error(f"{key}.mode", f"expected one of {', '.join(CC_MODES)}, got {mode!r}")
    binding = CcBinding(control=control, address=target.address, channel=_channel(where, key, t), mode=mode)
    if mode == "button":
        for name in ("range", "pickup", "sweep_ticks", "lsb"):
            if name in t:
                raise where.error(f"{key}.{name}", "not used by a 'button' (it fires an action)")
        action = t.get("action", "set")
        _check_trigger(where, key, target, action, t.get("value"), t.get("off"))
        return replace(binding, action=action, value=_freeze(t.get("value")), off=_freeze(t.get("off")))
    for name in ("action", "value", "off"):
        if name in t:
            raise where.error(f"{key}.{name}", "only a 'button' CC has an action (mode = \"button\")")
    if not target.numeric:
        raise where.error(f"{key}.address", f"{target.address} takes no number; use mode = \"button\" "
                                            f"with a value, or a [[note]] or [[program]]")
    if "range" in t:
        binding = replace(binding, range=_parse_range(where, f"{key}.range", t["range"], target))
    elif not all(math.isfinite(b) for b in default_cc_range(target)):
        raise where.error(key, f"{target.address} has no upper bound: give a 'range'")
    if "pickup" in t:
        binding = replace(binding, pickup=_bool(where, f"{key}.pickup", t["pickup"]))
    if "sweep_ticks" in t:
        if mode not in RELATIVE_MODES:
            raise where.error(f"{key}.sweep_ticks", "only relative modes count ticks")
        binding = replace(binding, sweep_ticks=_int(where, f"{key}.sweep_ticks", t["sweep_ticks"], 1, 1 << 20))
    if mode == "14bit":
        lsb = _int(where, f"{key}.lsb", t["lsb"], 0, 127) if "lsb" in t else control + 32
        if lsb > 127:
            raise where.error(f"{key}.lsb", f"control {control} has no LSB controller at {lsb}; give 'lsb'")
        if lsb == control:
            raise where.error(f"{key}.lsb", "the LSB's controller must differ from the MSB's")
        binding = replace(binding, lsb=t.get("lsb"))
    elif "lsb" in t:
        raise where.error(f"{key}.lsb", "only mode = \"14bit\" has an LSB")
    return binding


def _parse_note(where: _Where, key: str, table: Any) -> NoteBinding:
    t = _check_keys(where, key, table, _NOTE_KEYS)
    if "note" not in t:
        raise where.error(key, "missing 'note' (the note number, 0..127; 36 is C1, the usual first pad)")
    note = _int(where, f"{key}.note", t["note"], 0, 127)
    target = _target(where, key, t)
    action = t.get("action", "set")
    _check_trigger(where, key, target, action, t.get("value"), t.get("off"))
    return NoteBinding(note=note, address=target.address, channel=_channel(where, key, t), action=action,
                       value=_freeze(t.get("value")), off=_freeze(t.get("off")))


def _parse_program(where: _Where, key: str, table: Any) -> ProgramBinding:
    t = _check_keys(where, key, table, _PROGRAM_KEYS)
    target = _target(where, key, t)
    channel = _channel(where, key, t)
    if "values" in t:
        if "program" in t or "value" in t:
            raise where.error(key, "give either 'values' (program n -> values[n]) or 'program' and 'value'")
        values = t["values"]
        if not isinstance(values, list) or not 1 <= len(values) <= 128:
            raise where.error(f"{key}.values", "expected a list of 1..128 values (program 0 takes the first)")
        for i, v in enumerate(values):
            try:
                target.coerce_args(_args(v))
            except ValueError as e:
                raise where.error(f"{key}.values[{i}]", str(e)) from None
        return ProgramBinding(address=target.address, channel=channel, values=_freeze(values))
    if "program" not in t or "value" not in t:
        raise where.error(key, "give 'program' (0..127) and 'value', or 'values' (one per program number)")
    program = _int(where, f"{key}.program", t["program"], 0, 127)
    try:
        target.coerce_args(_args(t["value"]))
    except ValueError as e:
        raise where.error(f"{key}.value", str(e)) from None
    return ProgramBinding(address=target.address, channel=channel, program=program, value=_freeze(t["value"]))


def parse_mapping(document: Mapping[str, Any], source: str = "<mapping>") -> MidiMapping:
    """A checked `MidiMapping` from a parsed TOML document; MappingError (one line) otherwise."""
    where = _Where(source)
    doc = _check_keys(where, "", document, _TOP_KEYS)
    if "format" in doc and doc["format"] != MAPPING_FORMAT:
        raise where.error("format", f"expected {MAPPING_FORMAT!r}, got {doc['format']!r}")
    if "format_version" in doc and doc["format_version"] != MAPPING_FORMAT_VERSION:
        raise where.error("format_version", f"this version reads {MAPPING_FORMAT_VERSION}, "
                                            f"got {doc['format_version']!r}")
    mapping = MidiMapping(source=source)
    if "input" in doc:
        table = _check_keys(where, "input", doc["input"], ("ports", "pickup_tolerance"))
        if "ports" in table:
            ports = table["ports"]
            if not isinstance(ports, list) or not all(isinstance(p, str) and p.strip() for p in ports):
                raise where.error("input.ports", f"expected a list of port names, got {ports!r}")
            mapping = replace(mapping, ports=tuple(ports))
        if "pickup_tolerance" in table:
            tolerance = _number(where, "input.pickup_tolerance", table["pickup_tolerance"])
            if not 0.0 <= tolerance <= 0.5:
                raise where.error("input.pickup_tolerance", f"expected 0..0.5 (a fraction of the range), "
                                                            f"got {tolerance:g}")
            mapping = replace(mapping, pickup_tolerance=tolerance)
    if "clock" in doc:
        table = _check_keys(where, "clock", doc["clock"], ("follow", "start_stop", "port", "send_to"))
        if "follow" in table:
            mapping = replace(mapping, clock_follow=_bool(where, "clock.follow", table["follow"]))
        if "start_stop" in table:
            mapping = replace(mapping, clock_start_stop=_bool(where, "clock.start_stop", table["start_stop"]))
        if "port" in table:
            mapping = replace(mapping, clock_port=_text(where, "clock.port", table["port"]))
        if "send_to" in table:
            mapping = replace(mapping, clock_send_to=_text(where, "clock.send_to", table["send_to"]))
    lists: dict[str, list[Any]] = {}
    for name in ("cc", "note", "program"):
        raw = doc.get(name, [])
        if not isinstance(raw, list):
            raise where.error(name, f"expected [[{name}]] tables, got {type(raw).__name__}")
        lists[name] = raw
    return replace(mapping,
                   cc=tuple(_parse_cc(where, f"cc[{i + 1}]", t) for i, t in enumerate(lists["cc"])),
                   notes=tuple(_parse_note(where, f"note[{i + 1}]", t) for i, t in enumerate(lists["note"])),
                   programs=tuple(_parse_program(where, f"program[{i + 1}]", t)
                                  for i, t in enumerate(lists["program"])))


def parse_mapping_text(text: str, source: str = "<mapping>") -> MidiMapping:
    """Parse TOML text; MappingError naming `source` when it is not TOML or not a mapping."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MappingError(f"{source}: not valid TOML ({' '.join(str(e).split())})") from None
    return parse_mapping(document, source)


def load_mapping(path: str | Path) -> MidiMapping:
    """Read a mapping file; MappingError (one line naming the file) when it cannot be used."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"{p}: no such mapping file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError(f"{p}: cannot read ({' '.join(str(e).split())})") from None
    return parse_mapping_text(text, str(p))


def default_mapping_text() -> str:
    """The commented default mapping shipped with the package (MappingError if the install lacks it)."""
    try:
        return resources.files("instrument.midi").joinpath(DEFAULT_MAPPING_RESOURCE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MappingError(f"instrument/midi/{DEFAULT_MAPPING_RESOURCE}: missing from this install, so there is "
                           f"no default MIDI mapping ({' '.join(str(e).split())}); give a mapping file") from None


def default_mapping() -> MidiMapping:
    return parse_mapping_text(default_mapping_text(), f"(default) {DEFAULT_MAPPING_RESOURCE}")


def user_mapping_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where MIDI learn saves: $GANLOOPS_HOME/midi.toml, else $XDG_CONFIG_HOME (~/.config)/ganloops/midi.toml."""
    env = os.environ if environ is None else environ
    home = env.get("GANLOOPS_HOME")
    if home:
        return Path(home).expanduser() / "midi.toml"
    config = env.get("XDG_CONFIG_HOME")
    base = Path(config).expanduser() if config else Path.home() / ".config"
    return base / "ganloops" / "midi.toml"


def active_mapping(path: str | Path | None = None,
                   environ: Mapping[str, str] | None = None) -> tuple[MidiMapping, Path]:
    """The mapping to play with, and the file MIDI learn saves to.

    An explicit `path` is read (it must exist) and learn saves there; otherwise the user's
    file when it exists, else the packaged default (learn then creates the user's file).
    """
    if path is not None:
        p = Path(path).expanduser()
        return load_mapping(p), p
    user = user_mapping_path(environ)
    if user.is_file():
        return load_mapping(user), user
    return default_mapping(), user


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A TOML literal for a string, bool, int, finite float or list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML has no literal for {value!r} here")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {type(value).__name__} {value!r} as TOML")


def _binding_lines(binding: Any, defaults: Any, order: tuple[str, ...]) -> list[str]:
    lines = []
    names = {f.name for f in fields(binding)}
    for name in order:
        if name not in names:
            continue
        value = getattr(binding, name)
        if value is None or (name not in ("control", "note", "address") and value == getattr(defaults, name)):
            continue
        if name == "range":
            value = [float(value[0]), float(value[1])]
        lines.append(f"{name} = {toml_value(value)}")
    return lines


def mapping_to_toml(mapping: MidiMapping, header: str = "") -> str:
    """The mapping as TOML text that ``parse_mapping_text`` reads back to an equal mapping."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    if lines:
        lines.append("")
    lines += [f"format = {toml_value(MAPPING_FORMAT)}", f"format_version = {MAPPING_FORMAT_VERSION}", "",
              "[input]", f"ports = {toml_value(list(mapping.ports))}",
              f"pickup_tolerance = {toml_value(float(mapping.pickup_tolerance))}", "",
              "[clock]", f"follow = {toml_value(mapping.clock_follow)}",
              f"start_stop = {toml_value(mapping.clock_start_stop)}", f"port = {toml_value(mapping.clock_port)}",
              f"send_to = {toml_value(mapping.clock_send_to)}"]
    for binding in mapping.cc:
        defaults = CcBinding(control=binding.control, address=binding.address)
        lines += ["", "[[cc]]"] + _binding_lines(binding, defaults, _CC_KEYS)
    for note in mapping.notes:
        defaults_n = NoteBinding(note=note.note, address=note.address)
        lines += ["", "[[note]]"] + _binding_lines(note, defaults_n, _NOTE_KEYS)
    for program in mapping.programs:
        defaults_p = ProgramBinding(address=program.address)
        lines += ["", "[[program]]"] + _binding_lines(program, defaults_p, _PROGRAM_KEYS)
    return "\n".join(lines) + "\n"


def save_mapping(mapping: MidiMapping, path: str | Path, header: str = "") -> Path:
    """Write `mapping` to `path` atomically (the old file stays whole if anything fails)."""
    from instrument.atomic import atomic_write_text

    p = Path(path).expanduser()
    text = mapping_to_toml(mapping, header)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(p, text)
    return p


__all__ = [
    "ACTIONS", "CC_MODES", "RELATIVE_MODES", "CcBinding", "NoteBinding", "ProgramBinding", "MidiMapping",
    "MappingError", "parse_mapping", "parse_mapping_text", "load_mapping", "default_mapping",
    "default_mapping_text", "user_mapping_path", "active_mapping", "mapping_to_toml", "save_mapping",
    "trigger_args", "default_cc_range", "RANDOM_SEED_MAX",
]
