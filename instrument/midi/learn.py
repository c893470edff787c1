"""MIDI learn: arm a parameter, move a control, and the mapping has (and keeps) a new binding.

Arming names the parameter by its OSC address, from wherever is handy:

- the API: ``controller.learn("/ganloops/deck/1/knob/3")`` (what OSC ``/ganloops/learn``
  and the control stdin's ``learn`` call);
- a learn button in the mapping (a note or CC button on ``/ganloops/learn``): with a value,
  it arms that address; without one, it arms the control that was last changed from
  somewhere else (turn a knob on the OSC surface, press learn, turn the hardware knob).

The next control moved makes the binding, and the mapping is saved at once, atomically
(temporary file, then rename: a crash leaves the old file whole), to the user's mapping
file (``instrument.midi.mapping.user_mapping_path``). What is made of what:

| moved | parameter | binding |
|---|---|---|
| a CC | a number (knob, gain, psi, ...) | CC in the mode asked for (absolute unless told), the target's whole range |
| a CC | mute | a CC button that toggles |
| a CC | a scene, a model, a seed with a value | a CC button that sets the value |
| a note | mute | toggle |
| a note | seed or bseed | a random seed (or the value, if one was given) |
| a note | anything, with a value | set the value |
| a program change | anything, with a value | that program sets the value |

A binding replaces any earlier one of the same control and channel. A note or program
change that cannot play the armed parameter (a note for a continuous knob without a
value) is ignored and learn stays armed; learn disarms after ``timeout_seconds`` so that a
forgotten arm does not capture a touch minutes later.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from instrument.midi.mapping import (
    CC_MODES,
    CcBinding,
    MidiMapping,
    NoteBinding,
    ProgramBinding,
    save_mapping,
)
from instrument.midi.stats import MidiStats
from instrument.midi.targets import Target, resolve_target

log = logging.getLogger("ganloops.midi")

LEARN_TIMEOUT_SECONDS = 30.0
SAVED_HEADER = ("ganloops MIDI mapping (docs/midi.md). Saved by MIDI learn; edit freely:\n"
                "learn rewrites this file, without comments.")


class LearnError(ValueError):
    """A learn request that cannot be armed (one line)."""


@dataclass(frozen=True)
class _Armed:
    target: Target
    mode: str
    value: Any
    since_seconds: float


class MidiLearn:
    """Arms a parameter; the next control moved becomes its binding, saved to `path`."""

    def __init__(self, current: Callable[[], MidiMapping], install: Callable[[MidiMapping], None],
                 path: Path | None, *, stats: MidiStats | None = None,
                 last_external: Callable[[], str | None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic,
                 timeout_seconds: float = LEARN_TIMEOUT_SECONDS) -> None:
        self._current = current
        self._install = install
        self.path = path
        self.stats = stats or MidiStats()
        self._last_external = last_external
        self._clock = clock
        self.timeout_seconds = timeout_seconds
        self._armed: _Armed | None = None
        self._lock = threading.Lock()
        self.last_binding: Any = None
        self.last_error: str | None = None

    @property
    def armed(self) -> bool:
        return self._armed is not None

    @property
    def armed_address(self) -> str | None:
        armed = self._armed
        return armed.target.address if armed is not None else None

    def arm(self, address: str, mode: str = "absolute", value: Any = None) -> Target:
        """Wait for a control for `address`; LearnError (one line) when it cannot be learned."""
        try:
            target = resolve_target(address)
        except ValueError as e:
            raise LearnError(f"learn: {e}") from None
        if target.kind == "learn":
            raise LearnError("learn: a learn button is made in the mapping file, not learned")
        if mode not in CC_MODES:
            raise LearnError(f"learn: mode must be one of {', '.join(CC_MODES)}, got {mode!r}")
        if value is not None:
            try:
                target.coerce_args(tuple(value) if isinstance(value, (list, tuple)) else (value,))
            except ValueError as e:
                raise LearnError(f"learn: {e}") from None
        elif not target.numeric:
            raise LearnError(f"learn: {address} needs a value (e.g. the scene name or bundle path)")
        with self._lock:
            self._armed = _Armed(target, mode, value, self._clock())
        log.info("MIDI learn: move a control for %s", address)
        return target

    def arm_last(self) -> Target:
        """Arm the control changed last from elsewhere (OSC, the terminal, a scene)."""
        address = self._last_external()
        if address is None:
            raise LearnError("learn: nothing has been changed yet to learn; name the address")
        return self.arm(address)

    def request(self, args: Sequence[Any]) -> None:
        """Arm from OSC-style arguments: ``[address [, mode | value]]``; nothing: the last control changed."""
        if not args or args[0] in ("", None):
            self.arm_last()
            return
        address = args[0]
        if not isinstance(address, str):
            raise LearnError(f"learn: expected an address, got {address!r}")
        rest = list(args[1:])
        if len(rest) == 1 and isinstance(rest[0], str) and rest[0] in CC_MODES:
            self.arm(address, mode=rest[0])
        elif rest:
            self.arm(address, value=rest[0] if len(rest) == 1 else tuple(rest))
        else:
            self.arm(address)

    def cancel(self) -> None:
        with self._lock:
            was, self._armed = self._armed, None
        if was is not None:
            log.info("MIDI learn: cancelled (%s)", was.target.address)

    # -- capturing -----------------------------------------------------------------------

    def capture(self, kind: str, channel: int, number: int, value: int, now: float) -> bool:
        """A control moved (channel 0..15 as on the wire): make the binding if it fits; True if taken."""
        with self._lock:
            armed = self._armed
            if armed is None:
                return False
            if self._clock() - armed.since_seconds > self.timeout_seconds:
                self._armed = None
                log.info("MIDI learn: nothing moved for %.0f s; %s not learned", self.timeout_seconds,
                         armed.target.address)
                return False
            binding = self._binding_for(armed, kind, channel + 1, number)
            if binding is None:
                return False
            self._armed = None
        self._store(binding, describe(kind, channel + 1, number), armed.target.address)
        return True

    def _binding_for(self, armed: _Armed, kind: str, channel: int, number: int) -> Any:
        target, value = armed.target, armed.value
        if kind == "cc":
            if armed.mode == "14bit" and number > 31:
                self._refuse(f"CC {number} cannot be the MSB of a 14-bit pair (0..31 are); move another control")
                return None
            if target.numeric and not target.flag and value is None:
                return CcBinding(control=number, address=target.address, channel=channel, mode=armed.mode)
            if target.flag and value is None:
                return CcBinding(control=number, address=target.address, channel=channel, mode="button",
                                 action="toggle")
            return CcBinding(control=number, address=target.address, channel=channel, mode="button",
                             action="set", value=value)
        if kind == "note":
            if value is not None:
                return NoteBinding(note=number, address=target.address, channel=channel, action="set", value=value)
            if target.flag:
                return NoteBinding(note=number, address=target.address, channel=channel, action="toggle")
            if target.kind in ("seed", "bseed"):
                return NoteBinding(note=number, address=target.address, channel=channel, action="random")
            self._refuse(f"a note cannot play {target.address} (a continuous control): move a knob or fader")
            return None
        if kind == "program":
            if value is None:
                self._refuse(f"a program change needs a value to set {target.address}: arm with one")
                return None
            return ProgramBinding(address=target.address, channel=channel, program=number, value=value)
        return None

    def _refuse(self, message: str) -> None:
        self.last_error = message
        log.info("MIDI learn: %s", message)

    def _store(self, binding: Any, source: str, address: str) -> None:
        mapping = self._current()
        if isinstance(binding, CcBinding):
            mapping = mapping.with_cc(binding)
        elif isinstance(binding, NoteBinding):
            mapping = mapping.with_note(binding)
        else:
            mapping = mapping.with_program(binding)
        self._install(mapping)
        self.last_binding = binding
        self.stats.add("learned")
        if self.path is None:
            log.info("MIDI learn: %s -> %s (not saved: no mapping file)", source, address)
            return
        try:
            saved = save_mapping(mapping, self.path, SAVED_HEADER)
        except (OSError, ValueError) as e:
            self.stats.reject("learn_error")
            self.last_error = f"{self.path}: cannot save ({e})"
            log.warning("MIDI learn: %s -> %s, but %s", source, address, self.last_error)
            return
        log.info("MIDI learn: %s -> %s (saved to %s)", source, address, saved)


def describe(kind: str, channel: int, number: int) -> str:
    """'CC 21 on channel 1', 'note 36 on channel 10', 'program 3 on channel 1'."""
    label = {"cc": "CC", "note": "note", "program": "program"}.get(kind, kind)
    return f"{label} {number} on channel {channel}"


__all__ = ["MidiLearn", "LearnError", "LEARN_TIMEOUT_SECONDS", "describe"]
