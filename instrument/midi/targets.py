"""What a MIDI control can drive: the OSC addresses of DESIGN.md, resolved and executed.

A mapping names its targets by OSC address (``/ganloops/deck/1/knob/3``), so MIDI, OSC,
scenes and journals share one vocabulary, and every change goes through the engine's own
validated setters and is echoed to OSC subscribers like any other.

``resolve_target`` checks an address against the OSC address table
(``instrument.osc_schema``; the ranges are the engine's own) and says what kind of value it
takes. ``TargetExecutor`` carries a change out: engine controls through
``Engine.apply_address``, ``/model`` through ``Engine.load_deck``, ``/scene/...`` through a
scene store. Errors are the caller's to count: ``ValueError`` (the engine refused), and
``TargetError`` with a reason (``model_error``, ``scene_error``).

``/ganloops/learn`` (a learn button) takes an optional text argument, the address to learn
(see ``instrument.midi.learn``); over OSC the same address, with /learn/with and
/learn/cancel, goes to ``MidiController.learn`` through the OSC server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from instrument.osc_schema import ADDRESSES, PREFIX, FlagArg, FloatArg, IntArg, Rejected, TextArg, parse_command

LEARN_ADDRESS = PREFIX + "/learn"
# kinds a continuous control (CC, fader, encoder) can drive: one number each
NUMERIC_KINDS: frozenset[str] = frozenset({"knob", "seed", "bseed", "mix", "psi", "noise", "gain", "mute",
                                           "crossfade", "tempo"})
# kinds a button (note, program change, CC button) can fire with a fixed value
TRIGGER_KINDS: frozenset[str] = NUMERIC_KINDS | {"model", "scene_save", "scene_recall", "scene_morph", "learn"}
ENGINE_KINDS: frozenset[str] = NUMERIC_KINDS  # handled by Engine.apply_address
RANDOM_SEED_MAX = 2**31 - 1  # random seeds stay below 2^31 so 32-bit OSC surfaces show them exactly


class TargetError(Exception):
    """A change that could not be made, with the counter `reason` it belongs to."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    """An address resolved against the OSC table: its kind, deck and argument types."""

    address: str
    kind: str
    deck: int | None
    args: tuple[Any, ...]  # the osc_schema ArgSpecs of the address

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    @property
    def integer(self) -> bool:
        """Whole-number targets (seeds, mute): continuous values are rounded."""
        return self.numeric and not isinstance(self.args[0], FloatArg)

    @property
    def flag(self) -> bool:
        return self.numeric and isinstance(self.args[0], FlagArg)

    @property
    def bounds(self) -> tuple[float, float]:
        """The value range of a numeric target (the engine's)."""
        spec = self.args[0]
        if isinstance(spec, FlagArg):
            return (0.0, 1.0)
        low = spec.low if spec.low is not None else -math.inf
        high = spec.high if spec.high is not None else math.inf
        return (float(low), float(high))

    def coerce_args(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """`values` checked and converted for this address; ValueError naming what is wrong."""
        if len(values) != len(self.args):
            raise ValueError(f"{self.address} takes {len(self.args)} value(s) "
                             f"({', '.join(spec.describe() for spec in self.args) or 'none'}), got {len(values)}")
        try:
            out = tuple(spec.coerce(v) for spec, v in zip(self.args, values))
        except Rejected as r:
            raise ValueError(f"{self.address}: {r.detail}") from None
        if self.flag:
            out = (int(bool(out[0])),)
        return out


def _probe(spec: Any) -> Any:
    if isinstance(spec, TextArg):
        return "x"
    if isinstance(spec, FlagArg):
        return 0
    low = getattr(spec, "low", None)
    if isinstance(spec, IntArg):
        return int(low) if low is not None else 0
    return float(low) if low is not None else 0.0


def _row(address: str) -> Any:
    """The address table row whose template `address` fits (placeholders are checked later)."""
    parts = address.split("/")[1:] if address.startswith("/") else []
    for entry in ADDRESSES:
        template = entry.segments
        if len(template) == len(parts) and all(
                want == got or want in ("{d}", "{k}", "{group}") for want, got in zip(template, parts)):
            return entry
    return None


def resolve_target(address: Any) -> Target:
    """The `Target` of an OSC address, or ValueError (one line) when MIDI cannot drive it."""
    if not isinstance(address, str):
        raise ValueError(f"expected an OSC address such as '{PREFIX}/deck/1/knob/1', got {address!r}")
    if address == LEARN_ADDRESS:
        return Target(address, "learn", None, (TextArg("address"),))
    entry = _row(address)
    if entry is None:
        raise ValueError(f"no such address {address[:80]!r}")
    try:  # the table's own parser checks the deck, knob and group segments
        command = parse_command(address, [_probe(spec) for spec in entry.args])
    except Rejected as r:
        raise ValueError(r.detail) from None
    if entry.kind not in TRIGGER_KINDS:
        raise ValueError(f"{address} is a request, not a control MIDI can play")
    return Target(address, entry.kind, command.deck, tuple(entry.args))


class _Engine(Protocol):
    def apply_address(self, address: str, args: tuple | list) -> None: ...
    def load_deck(self, deck: int, bundle: str | Path, wait: bool = False) -> None: ...


class _Scenes(Protocol):
    def save_engine(self, engine: Any, name: str) -> Any: ...
    def recall(self, engine: Any, name_or_path: str) -> Any: ...
    def morph(self, engine: Any, name_or_path: str, beats: float) -> Any: ...


class TargetExecutor:
    """Carries out a change to a target: engine controls, models, scenes, learn."""

    def __init__(self, engine: _Engine, scenes: _Scenes | None = None,
                 learn: Callable[[tuple[Any, ...]], None] | None = None) -> None:
        self.engine = engine
        self._scenes = scenes
        self._learn = learn

    def _scene_store(self) -> _Scenes:
        if self._scenes is None:
            from instrument.scenes import SceneStore

            self._scenes = SceneStore()
        return self._scenes

    def execute(self, target: Target, args: tuple[Any, ...]) -> None:
        """Make the change; ValueError when the engine refuses it, TargetError for models and scenes."""
        kind = target.kind
        if kind in ENGINE_KINDS:
            self.engine.apply_address(target.address, args)
        elif kind == "model":
            assert target.deck is not None
            path = Path(str(args[0])).expanduser()
            if not path.exists():
                raise TargetError("model_error", f"deck {target.deck}: no bundle at {path}")
            try:
                self.engine.load_deck(target.deck, path, wait=False)
            except (ValueError, OSError) as e:
                raise TargetError("model_error", f"deck {target.deck}: {e}") from None
        elif kind.startswith("scene_"):
            try:
                store = self._scene_store()
                if kind == "scene_save":
                    store.save_engine(self.engine, str(args[0]))
                elif kind == "scene_recall":
                    store.recall(self.engine, str(args[0]))
                else:
                    store.morph(self.engine, str(args[0]), float(args[1]))
            except (ValueError, OSError) as e:  # SceneError is a ValueError
                raise TargetError("scene_error", str(e)) from None
        elif kind == "learn":
            if self._learn is None:
                raise TargetError("learn_error", "MIDI learn is not available here")
            self._learn(args)
        else:  # resolve_target lets nothing else through
            raise TargetError("internal_error", f"{target.address}: no way to execute {kind!r}")
