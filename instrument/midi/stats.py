"""Counters for the MIDI side: traffic, what it did, and what was rejected and why.

Like the OSC server's, so a performer (or a test) can tell "my controller sends nothing"
from "it sends, and the mapping has no use for it" from "it sends garbage". Rejections
are also logged, at most once a second per reason (``instrument.controller_stats.RateLimitedLog``), so a
faulty cable that sprays bytes cannot bury the one line that matters.
"""

from __future__ import annotations

from instrument.controller_stats import ReasonCounters

REASONS: tuple[str, ...] = (
    "malformed",       # bytes that made no message: stray data, cut-short messages, undefined status bytes
    "overflow",        # more arrived in one poll than is handled in one (the rest waits, or is dropped)
    "out_of_range",    # the engine refused a value (a deck it does not have, ...)
    "model_error",     # a program change or button asked for a bundle that is not there
    "scene_error",     # ... or for a scene that is not there or cannot be saved
    "learn_error",     # a learn request for an address MIDI cannot drive
    "internal_error",  # a bug: logged with its traceback; the next message still gets its turn
)

COUNTERS: tuple[str, ...] = (
    "bytes",           # bytes read from the inputs
    "messages",        # MIDI messages parsed from them
    "applied",         # changes handed to the engine (after coalescing)
    "coalesced",       # values superseded by a newer one for the same address within one poll
    "ignored",         # well-formed MIDI that the mapping has no use for (unmapped CC, aftertouch, sysex...)
    "pickup_held",     # values held back by soft takeover (the knob has not caught the sound yet)
    "clock_ticks",     # MIDI clock ticks received (24 a beat)
    "clock_ignored",   # realtime messages from an input other than the followed clock source
    "learned",         # bindings made by MIDI learn
    "ports_opened",
    "ports_closed",
    "port_errors",     # ports that could not be opened or read
)


class MidiStats(ReasonCounters):
    """Thread-safe counters of the MIDI side; ``snapshot()`` adds "rejected" and "rejected/<reason>"."""

    def __init__(self) -> None:
        super().__init__(COUNTERS, REASONS)
