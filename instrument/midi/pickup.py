"""Soft takeover ("pickup"): a knob that disagrees with the sound does not make it jump.

After a scene recall, an OSC message or a morph, a physical knob's position and the value
it controls disagree. Applying the knob's value at its first touch would jump the sound.
Instead the knob is *waiting* until it comes within ``tolerance`` of the current value or
crosses it (one reading on each side, or on it), and only then takes over (*engaged*);
from then on every movement applies. Any change to the value that did not come from this
knob (OSC, a scene, another MIDI control, a morph) makes it wait again.

Values are compared in the target's units (a knob's -1..1, a gain's 0..1), with the
tolerance a fraction of the binding's range, so a 7-bit knob (128 steps) and a 14-bit one
behave alike. Crossing also catches a knob moved faster than the tolerance: a flick from
0.1 to 0.9 past a value of 0.5 takes over on the reading at 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Pickup:
    """One binding's soft-takeover state."""

    tolerance: float  # in target units
    engaged: bool = False
    last_hardware: float | None = None  # the knob's previous reading, target units

    def offer(self, hardware: float, current: float | None) -> bool:
        """True when the knob's reading `hardware` may set the value now at `current`."""
        previous, self.last_hardware = self.last_hardware, hardware
        if self.engaged or current is None:
            self.engaged = True
            return True
        if abs(hardware - current) <= self.tolerance:
            self.engaged = True
        elif previous is not None and (previous - current) * (hardware - current) <= 0.0:
            self.engaged = True  # crossed the value between two readings
        return self.engaged

    def release(self) -> None:
        """The value changed elsewhere: wait for the knob to catch it again."""
        self.engaged = False
