"""MIDI for the instrument: controllers, MIDI learn, soft takeover, MIDI clock in and out.

``ganloops play`` calls ``create_controller(engine)`` and starts it with the other
controllers (OSC, stdin). The pieces, each in its own module:

- ``mapping``: the TOML mapping file (CC, notes, program changes -> OSC addresses), checked
  on load, written back by learn; ``default_mapping.toml`` is the commented default;
- ``wire``: bytes -> messages (running status, realtime anywhere, garbage counted);
- ``dispatch``: messages -> engine changes (ranges, encoders, 14-bit, buttons, coalescing);
- ``pickup``: soft takeover; ``learn``: MIDI learn; ``clock``: clock follow and clock out;
- ``ports``: rtmidi (ALSA/CoreMIDI/WinMM and JACK MIDI) and in-memory ports;
- ``controller``: threads, hot-plugging, and the object ``play`` starts and stops.

docs/midi.md is the user's reference.
"""

from __future__ import annotations

from instrument.midi.clock import ClockFollower, ClockSender, ClockSettings
from instrument.midi.controller import MidiController, create_controller
from instrument.midi.dispatch import MidiDispatcher
from instrument.midi.learn import LearnError, MidiLearn
from instrument.midi.mapping import (
    MappingError,
    MidiMapping,
    default_mapping,
    load_mapping,
    mapping_to_toml,
    parse_mapping_text,
    user_mapping_path,
)
from instrument.midi.ports import MemoryBackend

__all__ = [
    "ClockFollower", "ClockSender", "ClockSettings", "MidiController", "create_controller", "MidiDispatcher",
    "LearnError", "MidiLearn", "MappingError", "MidiMapping", "default_mapping", "load_mapping",
    "mapping_to_toml", "parse_mapping_text", "user_mapping_path", "MemoryBackend",
]
