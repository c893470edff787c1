"""The OSC address space as data: every address, its arguments, their types and ranges.

This table is the contract with patches and users (DESIGN.md, "OSC address space"; the
full reference is docs/osc.md, which a test checks against this table). Addresses are
never renamed; new ones are added here and in the docs.

`parse_command` turns a decoded message into a `Command` with arguments already coerced
and range-checked, or raises `Rejected` with one of `REASONS`. Coercion is lenient where
real controllers need it and strict elsewhere:

- a float argument accepts an int (liblo's `oscsend ... i 3`);
- an int argument accepts a float that is a whole number (Pure Data sends every number as
  a float), but not 2.5;
- a 0/1 flag accepts i, f (0.0/1.0) and OSC's T/F;
- booleans are never numbers: `T` sent to a knob is a wrong type, not 1.0;
- NaN and infinities are rejected before any range check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence, Union

from instrument.controls import GROUP_NAMES, MAX_KNOBS, NOISE_RANGE, PSI_RANGE, SEED_MAX, TEMPO_RANGE_BPM

PREFIX = "/ganloops"
GROUPS: tuple[str, ...] = GROUP_NAMES
MAX_DECKS = 16
"""The most decks an engine can have (EngineConfig.decks); the engine's own count is checked too."""
MAX_TEXT_CHARS = 4096
MAX_MORPH_BEATS = 4096.0
REPLY_PORT_RANGE = (1024, 65535)
"""A reply port given to /query or /stats; smaller numbers are button presses (0/1), not ports."""

REASONS: tuple[str, ...] = (
    "malformed",        # the datagram is not well-formed OSC
    "not_allowed",      # the sender is not on the allow-list
    "unknown_address",  # no such address (or a deck/knob segment that is not a number)
    "wrong_type",       # wrong number or types of arguments, or a fractional number for an int
    "not_finite",       # NaN or an infinity
    "out_of_range",     # a value (or deck, knob, port) outside its range, or refused by the engine
    "model_error",      # /model: the bundle could not be found or loaded
    "scene_error",      # /scene/...: scenes unavailable, unknown scene, or a scene that cannot be saved
    "too_far_ahead",    # a bundle time tag further ahead than the server schedules
    "queue_full",       # too many scheduled messages waiting, or too many subscribers
    "unavailable",      # the part of the instrument the address needs is not running (learn without MIDI)
    "internal_error",   # a bug: logged with its traceback, counted, and the server goes on
)

Number = Union[int, float]
Value = Union[int, float, str, bool]


class Rejected(Exception):
    """A message refused for `reason` (one of REASONS); `detail` is a short human explanation."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ArgSpec(Protocol):
    name: str
    osc_type: str

    def coerce(self, value: object) -> Value: ...

    def describe(self) -> str: ...


def _finite_number(name: str, value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Rejected("wrong_type", f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise Rejected("not_finite", f"{name} is {value}")
    return value


def _in_range(name: str, value: Number, low: Number | None, high: Number | None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        raise Rejected("out_of_range", f"{name}={value} is outside {_range_text(low, high)}")


def _range_text(low: Number | None, high: Number | None) -> str:
    if low is None and high is None:
        return "any"
    if high is None:
        return f">= {low}"
    if low is None:
        return f"<= {high}"
    return f"{low}..{high}"


@dataclass(frozen=True)
class FloatArg:
    """A float in [low, high] (None: unbounded on that side); ints are accepted."""

    name: str
    low: float | None = None
    high: float | None = None
    osc_type: str = "f"

    def coerce(self, value: object) -> float:
        number = float(_finite_number(self.name, value))
        _in_range(self.name, number, self.low, self.high)
        return number

    def describe(self) -> str:
        return f"f {self.name} ({_range_text(self.low, self.high)})"


@dataclass(frozen=True)
class IntArg:
    """An int in [low, high]; a float is accepted when it is a whole number."""

    name: str
    low: int | None = None
    high: int | None = None
    osc_type: str = "i"

    def coerce(self, value: object) -> int:
        number = _finite_number(self.name, value)
        if isinstance(number, float):
            if not number.is_integer():
                raise Rejected("wrong_type", f"{self.name} must be a whole number, got {number}")
            number = int(number)
        _in_range(self.name, number, self.low, self.high)
        return number

    def describe(self) -> str:
        return f"i {self.name} ({_range_text(self.low, self.high)})"


@dataclass(frozen=True)
class FlagArg:
    """0 or 1 (as i, f or T/F), coerced to bool."""

    name: str
    osc_type: str = "i"

    def coerce(self, value: object) -> bool:
        if isinstance(value, bool):
            return value
        number = _finite_number(self.name, value)
        if number not in (0, 1):
            raise Rejected("out_of_range", f"{self.name}={number} is not 0 or 1")
        return bool(number)

    def describe(self) -> str:
        return f"i {self.name} (0/1)"


@dataclass(frozen=True)
class TextArg:
    """A non-empty string of at most `max_chars` characters."""

    name: str
    max_chars: int = MAX_TEXT_CHARS
    osc_type: str = "s"

    def coerce(self, value: object) -> str:
        if not isinstance(value, str):
            raise Rejected("wrong_type", f"{self.name} must be a string, got {type(value).__name__}")
        if not value or len(value) > self.max_chars:
            raise Rejected("out_of_range", f"{self.name} must have 1..{self.max_chars} characters")
        return value

    def describe(self) -> str:
        return f"s {self.name}"


@dataclass(frozen=True)
class ValueArg:
    """A non-empty string, a finite number or a 0/1 flag (T/F), passed on as it came."""

    name: str
    max_chars: int = MAX_TEXT_CHARS
    osc_type: str = "s|f|i"

    def coerce(self, value: object) -> Value:
        if isinstance(value, str):
            return TextArg(self.name, self.max_chars).coerce(value)
        if isinstance(value, bool):
            return value
        return _finite_number(self.name, value)

    def describe(self) -> str:
        return f"s|f|i {self.name}"


@dataclass(frozen=True)
class Address:
    """One row of the address table.

    `template` uses `{d}` (deck), `{k}` (knob) and `{group}` (coarse/middle/fine) for the
    variable segments. `ignores_args` marks requests (query, stats) that accept any
    arguments, because buttons on TouchOSC and similar surfaces always send a value: a
    single whole number in REPLY_PORT_RANGE is kept as the port to reply to (Pure Data's
    [netsend] cannot receive a reply on the port it sends from), anything else is ignored.
    """

    kind: str
    template: str
    args: tuple[ArgSpec, ...]
    meaning: str
    ignores_args: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.split("/")[1:])


ADDRESSES: tuple[Address, ...] = (
    Address("knob", PREFIX + "/deck/{d}/knob/{k}", (FloatArg("value", -1.0, 1.0),),
            "move along latent direction k"),
    Address("seed", PREFIX + "/deck/{d}/seed", (IntArg("seed", 0, SEED_MAX),), "base latent from a seed"),
    Address("bseed", PREFIX + "/deck/{d}/bseed", (IntArg("seed", 0, SEED_MAX),),
            "the deck's B style (for style mixing)"),
    Address("mix", PREFIX + "/deck/{d}/mix/{group}", (FloatArg("amount", 0.0, 1.0),),
            "blend the group's styles toward B"),
    Address("psi", PREFIX + "/deck/{d}/psi", (FloatArg("psi", *PSI_RANGE),), "truncation"),
    Address("noise", PREFIX + "/deck/{d}/noise", (FloatArg("strength", *NOISE_RANGE),),
            "noise input strength (models with noise inputs)"),
    Address("gain", PREFIX + "/deck/{d}/gain", (FloatArg("gain", 0.0, 1.0),), "deck gain"),
    Address("mute", PREFIX + "/deck/{d}/mute", (FlagArg("mute"),), "mute"),
    Address("model", PREFIX + "/deck/{d}/model", (TextArg("bundle"),), "load a bundle (path or name)"),
    Address("crossfade", PREFIX + "/crossfade", (FloatArg("position", 0.0, 1.0),), "deck 1 <-> deck 2"),
    Address("tempo", PREFIX + "/tempo", (FloatArg("bpm", *TEMPO_RANGE_BPM),), "session tempo"),
    Address("scene_save", PREFIX + "/scene/save", (TextArg("name"),), "save the whole state as a scene"),
    Address("scene_recall", PREFIX + "/scene/recall", (TextArg("name"),), "recall a scene"),
    Address("scene_morph", PREFIX + "/scene/morph", (TextArg("name"), FloatArg("beats", 0.0, MAX_MORPH_BEATS)),
            "morph to a scene over f beats"),
    Address("subscribe", PREFIX + "/subscribe", (IntArg("port", 1, 65535),),
            "send state feedback to the sender's host:port"),
    Address("unsubscribe", PREFIX + "/unsubscribe", (IntArg("port", 1, 65535),),
            "stop feedback to the sender's host:port"),
    Address("learn", PREFIX + "/learn", (TextArg("address"),),
            "MIDI learn: the next MIDI control moved plays this address"),
    Address("learn_with", PREFIX + "/learn/with", (TextArg("address"), ValueArg("mode_or_value")),
            "MIDI learn with a CC mode (absolute, 14bit, relative_...) or the value a button sets"),
    Address("learn_cancel", PREFIX + "/learn/cancel", (), "disarm MIDI learn", ignores_args=True),
    Address("query", PREFIX + "/query", (), "reply with the whole state, then /ganloops/query/end "
            "(optional i port: reply to that port of the sender's host)", ignores_args=True),
    Address("stats", PREFIX + "/stats", (), "reply with the server's counters, then /ganloops/stats/end "
            "(optional i port, as for /query)", ignores_args=True),
)

QUERY_END = PREFIX + "/query/end"
STATS_PREFIX = PREFIX + "/stats/"
STATS_END = PREFIX + "/stats/end"


@dataclass(frozen=True)
class Command:
    """A validated message: which control, on which deck/knob/group, with coerced arguments."""

    kind: str
    address: str
    args: tuple[Value, ...]
    deck: int | None = None
    knob: int | None = None
    group: str | None = None


_INDEX_LIMITS = {"{d}": ("deck", MAX_DECKS), "{k}": ("knob", MAX_KNOBS)}


def _index(placeholder: str, segment: str) -> int:
    what, limit = _INDEX_LIMITS[placeholder]
    value = int(segment)
    if not 1 <= value <= limit:
        raise Rejected("out_of_range", f"{what} {value} is outside 1..{limit} ({what}s count from 1)")
    return value


def _match(entry: Address, parts: Sequence[str]) -> dict[str, str] | None:
    """The placeholder values when `parts` fits `entry`'s template, else None."""
    template = entry.segments
    if len(template) != len(parts):
        return None
    found: dict[str, str] = {}
    for want, got in zip(template, parts):
        if want in ("{d}", "{k}"):
            if not (got.isascii() and got.isdigit()) or len(got) > 6:
                return None
            found[want] = got
        elif want == "{group}":
            if got not in GROUPS:
                return None
            found[want] = got
        elif want != got:
            return None
    return found


def _reply_port(args: Sequence[object]) -> tuple[Value, ...]:
    """(port,) when `args` is one whole number in REPLY_PORT_RANGE, else () (see Address)."""
    if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], (int, float)):
        return ()
    value = args[0]
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return ()
    port = int(value)
    return (port,) if REPLY_PORT_RANGE[0] <= port <= REPLY_PORT_RANGE[1] else ()


def parse_command(address: str, args: Sequence[object]) -> Command:
    """The validated command for one message, or `Rejected` naming why not."""
    parts = address.split("/")[1:] if address.startswith("/") else []
    for entry in ADDRESSES:
        found = _match(entry, parts)
        if found is None:
            continue
        deck = _index("{d}", found["{d}"]) if "{d}" in found else None
        knob = _index("{k}", found["{k}"]) if "{k}" in found else None
        if entry.ignores_args:
            values: tuple[Value, ...] = _reply_port(args)
        else:
            if len(args) != len(entry.args):
                raise Rejected("wrong_type", f"{entry.template} takes {len(entry.args)} argument(s), "
                                             f"got {len(args)}")
            values = tuple(spec.coerce(value) for spec, value in zip(entry.args, args))
        return Command(entry.kind, address, values, deck, knob, found.get("{group}"))
    raise Rejected("unknown_address", f"no such address {address[:80]!r}")


def address_for(kind: str, deck: int | None = None, knob: int | None = None, group: str | None = None) -> str:
    """The concrete address of a control, e.g. address_for("knob", 1, 2) == "/ganloops/deck/1/knob/2"."""
    for entry in ADDRESSES:
        if entry.kind == kind:
            text = entry.template
            for placeholder, value in (("{d}", deck), ("{k}", knob), ("{group}", group)):
                if placeholder in text:
                    if value is None:
                        raise ValueError(f"{kind} needs {placeholder}")
                    text = text.replace(placeholder, str(value))
            return text
    raise ValueError(f"unknown control kind {kind!r}")


def _deck_messages(d: int, deck: Mapping[str, Any]) -> list[tuple[str, tuple[Value, ...]]]:
    out: list[tuple[str, tuple[Value, ...]]] = []
    model = deck.get("model")
    out.append((address_for("model", d), (model if isinstance(model, str) else "",)))
    for key in ("seed", "bseed"):
        if key in deck:
            out.append((address_for(key, d), (int(deck[key]),)))
    for k, value in enumerate(deck.get("knobs", ()), start=1):
        out.append((address_for("knob", d, knob=k), (float(value),)))
    mix = deck.get("mix", {})
    for group in GROUPS:
        if group in mix:
            out.append((address_for("mix", d, group=group), (float(mix[group]),)))
    for key in ("psi", "noise", "gain"):
        if key in deck:
            out.append((address_for(key, d), (float(deck[key]),)))
    if "mute" in deck:
        out.append((address_for("mute", d), (int(bool(deck["mute"])),)))
    return out


def state_messages(state: Mapping[str, Any]) -> list[tuple[str, tuple[Value, ...]]]:
    """The whole state (as ``Engine.state()`` returns it) as (address, args), one per control.

    The addresses are the input addresses, so a patch can route a /query reply with the same
    [route] objects that send: decks in order (model first, "" when none is loaded, then
    seed, bseed, knobs 1..16, mix coarse/middle/fine, psi, noise, gain, mute), then the
    crossfade and the tempo. The tempo is left out while it is undecided (no tempo set and
    no model loaded yet). Keys this table does not know are skipped.
    """
    out: list[tuple[str, tuple[Value, ...]]] = []
    for d, deck in enumerate(state.get("decks", ()), start=1):
        if isinstance(deck, Mapping):
            out.extend(_deck_messages(d, deck))
    if state.get("crossfade") is not None:
        out.append((address_for("crossfade"), (float(state["crossfade"]),)))
    if state.get("tempo_bpm") is not None:
        out.append((address_for("tempo"), (float(state["tempo_bpm"]),)))
    return out
