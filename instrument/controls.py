"""The instrument's control state: what every knob, seed and fader is set to right now.

Each deck's controls are one immutable snapshot (``DeckControls``) plus a version counter.
A controller thread (OSC, MIDI, a scene morph) validates a value, builds the next
snapshot and bumps the version under a small lock; the deck's render thread takes the
newest snapshot under the same lock and renders it. Because a snapshot is immutable and
replaced whole, the renderer never sees a half-applied change, and when controls move
faster than renders finish the intermediate snapshots are simply never rendered
(coalescing). The audio callback never touches any of this.

Validation lives here so every entry point (OSC, MIDI, scenes, journals) rejects the same
values with the same one-line ``ValueError`` naming the parameter.
"""

from __future__ import annotations

import math
import numbers
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

MAX_KNOBS = 16  # knobs 1..16 exist on every deck; those beyond a model's directions are stored and ignored
GROUP_NAMES: tuple[str, ...] = ("coarse", "middle", "fine")
PSI_RANGE: tuple[float, float] = (0.0, 2.0)
NOISE_RANGE: tuple[float, float] = (0.0, 1.0)
TEMPO_RANGE_BPM: tuple[float, float] = (20.0, 400.0)
SEED_MAX = 2**63 - 1


# ---------------------------------------------------------------------------------------
# Validation: one line naming the parameter
# ---------------------------------------------------------------------------------------


def check_number(name: str, value: Any, low: float, high: float) -> float:
    """`value` as a float in [low, high], or ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name}: expected a finite number, got {result!r}")
    if not low <= result <= high:
        raise ValueError(f"{name}: expected {low:g}..{high:g}, got {result:g}")
    return result


def check_seed(name: str, value: Any) -> int:
    """`value` as a non-negative integer seed, or ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    result = int(value)
    if not 0 <= result <= SEED_MAX:
        raise ValueError(f"{name}: expected 0..{SEED_MAX}, got {result}")
    return result


def check_index(name: str, value: Any, count: int) -> int:
    """A 1-based index (deck, knob) in 1..count, or ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if not 1 <= int(value) <= count:
        raise ValueError(f"{name}: expected 1..{count}, got {int(value)}")
    return int(value)


def check_group(name: str, value: Any) -> str:
    if value not in GROUP_NAMES:
        raise ValueError(f"{name}: expected one of {', '.join(GROUP_NAMES)}, got {value!r}")
    return str(value)


def check_flag(name: str, value: Any) -> bool:
    """True/False, or 0/1 as OSC and MIDI send them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise ValueError(f"{name}: expected 0 or 1, got {value!r}")


# ---------------------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeckControls:
    """Everything one deck's sound depends on, as set by the performer.

    Seeds, knobs, mixes and psi decide what is rendered (`render_key`); gain and mute are
    applied by the mixer to whatever loop is playing and never cause a render. ``noise`` is
    kept (scenes, journals) for models with noise inputs; today's bundles have none (their
    noise is fixed at export), so it renders nothing and is not part of the render key.
    """

    seed: int = 0
    bseed: int = 1
    knobs: tuple[float, ...] = (0.0,) * MAX_KNOBS
    mix: tuple[float, float, float] = (0.0, 0.0, 0.0)  # coarse, middle, fine: 0 = A style, 1 = B style
    psi: float = 1.0
    noise: float = 1.0
    gain: float = 1.0
    mute: bool = False

    def render_key(self) -> tuple[Any, ...]:
        """The fields a render depends on: equal keys render equal loops."""
        return (self.seed, self.bseed, self.knobs, self.mix, self.psi)

    def render_state(self) -> dict[str, Any]:
        """The render-relevant fields as JSON (journal swap events carry this)."""
        return {"seed": self.seed, "bseed": self.bseed, "knobs": list(self.knobs),
                "mix": dict(zip(GROUP_NAMES, self.mix)), "psi": self.psi, "noise": self.noise}

    def to_json(self) -> dict[str, Any]:
        return {**self.render_state(), "gain": self.gain, "mute": self.mute}

    @staticmethod
    def from_json(data: Mapping[str, Any], where: str = "deck") -> "DeckControls":
        """Parse (and validate) a deck's controls; keys absent keep their defaults."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        d = DeckControls()
        seed = check_seed(f"{where}.seed", data.get("seed", d.seed))
        bseed = check_seed(f"{where}.bseed", data.get("bseed", d.bseed))
        raw_knobs = data.get("knobs", list(d.knobs))
        if not isinstance(raw_knobs, (list, tuple)) or len(raw_knobs) > MAX_KNOBS:
            raise ValueError(f"{where}.knobs: expected a list of at most {MAX_KNOBS} numbers")
        knobs = [check_number(f"{where}.knobs[{i + 1}]", v, -1.0, 1.0) for i, v in enumerate(raw_knobs)]
        knobs += [0.0] * (MAX_KNOBS - len(knobs))
        raw_mix = data.get("mix", {})
        if not isinstance(raw_mix, Mapping):
            raise ValueError(f"{where}.mix: expected an object with coarse/middle/fine")
        for key in raw_mix:
            check_group(f"{where}.mix", key)
        mix = tuple(check_number(f"{where}.mix.{g}", raw_mix.get(g, 0.0), 0.0, 1.0) for g in GROUP_NAMES)
        return DeckControls(
            seed=seed, bseed=bseed, knobs=tuple(knobs), mix=mix,  # type: ignore[arg-type]
            psi=check_number(f"{where}.psi", data.get("psi", d.psi), *PSI_RANGE),
            noise=check_number(f"{where}.noise", data.get("noise", d.noise), *NOISE_RANGE),
            gain=check_number(f"{where}.gain", data.get("gain", d.gain), 0.0, 1.0),
            mute=check_flag(f"{where}.mute", data.get("mute", d.mute)))


@dataclass
class _DeckSlot:
    controls: DeckControls = field(default_factory=DeckControls)
    version: int = 0


class ControlBoard:
    """The decks' control snapshots and the global controls (crossfade, tempo), thread-safe.

    Writers call ``update(deck, **fields)``; the render threads call ``snapshot(deck)``.
    The lock is held for a dataclass ``replace`` at most: never across a render, and never
    by the audio callback.
    """

    def __init__(self, decks: int) -> None:
        self.decks = decks
        self._lock = threading.Lock()
        self._slots = [_DeckSlot() for _ in range(decks)]
        self.crossfade = 0.5
        self.tempo_bpm: float | None = None

    def snapshot(self, deck: int) -> tuple[DeckControls, int]:
        """The newest controls of `deck` (1-based) and their version."""
        with self._lock:
            slot = self._slots[deck - 1]
            return slot.controls, slot.version

    def update(self, deck: int, **changes: Any) -> tuple[DeckControls, int]:
        """Replace fields of `deck`'s snapshot (values already validated); returns the new snapshot."""
        with self._lock:
            slot = self._slots[deck - 1]
            slot.controls = replace(slot.controls, **changes)
            slot.version += 1
            return slot.controls, slot.version

    def set_knob(self, deck: int, knob: int, value: float) -> tuple[DeckControls, int]:
        with self._lock:
            slot = self._slots[deck - 1]
            knobs = list(slot.controls.knobs)
            knobs[knob - 1] = value
            slot.controls = replace(slot.controls, knobs=tuple(knobs))
            slot.version += 1
            return slot.controls, slot.version

    def set_mix(self, deck: int, group: str, value: float) -> tuple[DeckControls, int]:
        with self._lock:
            slot = self._slots[deck - 1]
            mix = list(slot.controls.mix)
            mix[GROUP_NAMES.index(group)] = value
            slot.controls = replace(slot.controls, mix=tuple(mix))  # type: ignore[arg-type]
            slot.version += 1
            return slot.controls, slot.version

    def replace_deck(self, deck: int, controls: DeckControls) -> tuple[DeckControls, int]:
        with self._lock:
            slot = self._slots[deck - 1]
            slot.controls = controls
            slot.version += 1
            return slot.controls, slot.version
