"""MIDI bytes to messages: running status, realtime bytes anywhere, sysex skipped, garbage counted.

Why not ``mido.Parser``: mido 1.3's tokenizer drops data bytes that arrive without a
status byte of their own, so a controller (or a DIN-to-USB bridge) that uses *running
status* (``B0 07 64 07 65``: the second CC reuses the first one's status) loses every
message after the first; and it keeps every byte of a system exclusive message until the
closing ``F7``, so one unterminated sysex grows without bound. Neither is acceptable on
stage, so this small tokenizer does the byte-level work and counts what it throws away.

What it guarantees, whatever bytes arrive (random noise included):

- it never raises and never stores more than one message's bytes (sysex content is
  counted and dropped, never kept);
- running status: data bytes after a complete channel message start another message of
  the same status; system common messages (``F0``-``F7``) cancel running status, realtime
  messages (``F8``-``FF``) do not, as the MIDI 1.0 specification says;
- realtime bytes (clock, start, stop) are delivered at once even in the middle of another
  message, which then continues;
- every byte that does not end up in a message is counted in ``errors`` under one of
  ``stray`` (a data byte with no status to belong to), ``truncated`` (a message cut short
  by the next status byte), ``undefined`` (``F4``, ``F5``, ``F9``, ``FD``) or ``eox`` (an
  ``F7`` outside a sysex).

Messages come out as ``(status, data1, data2)`` tuples of ints: cheap to make and to
dispatch on. Messages with one data byte have ``data2 = 0``; realtime and ``F6`` have both
0. A complete or interrupted sysex is reported as ``(0xF0, length, 0)``.
"""

from __future__ import annotations

from typing import Iterable

MidiMessage = tuple[int, int, int]

SYSEX = 0xF0
EOX = 0xF7
MTC_QUARTER_FRAME = 0xF1
SONG_POSITION = 0xF2
SONG_SELECT = 0xF3
TUNE_REQUEST = 0xF6
CLOCK = 0xF8
START = 0xFA
CONTINUE = 0xFB
STOP = 0xFC
ACTIVE_SENSING = 0xFE
SYSTEM_RESET = 0xFF

NOTE_OFF = 0x80
NOTE_ON = 0x90
POLY_AFTERTOUCH = 0xA0
CONTROL_CHANGE = 0xB0
PROGRAM_CHANGE = 0xC0
CHANNEL_AFTERTOUCH = 0xD0
PITCH_BEND = 0xE0

ERROR_KINDS: tuple[str, ...] = ("stray", "truncated", "undefined", "eox")

# data bytes each status takes (channel messages by their high nibble)
_CHANNEL_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_DATA_BYTES = {MTC_QUARTER_FRAME: 1, SONG_POSITION: 2, SONG_SELECT: 1, TUNE_REQUEST: 0}
_REALTIME_DEFINED = frozenset({CLOCK, START, CONTINUE, STOP, ACTIVE_SENSING, SYSTEM_RESET})


def data_bytes(status: int) -> int:
    """How many data bytes follow `status` (channel or system common); -1 for sysex/undefined."""
    if status < 0xF0:
        return _CHANNEL_DATA_BYTES[status & 0xF0]
    return _COMMON_DATA_BYTES.get(status, -1)


class MidiTokenizer:
    """Turns a stream of MIDI bytes (in pieces of any size) into ``(status, d1, d2)`` messages.

    One tokenizer per input port: running status and a message split across two reads
    belong to the stream they came from.
    """

    def __init__(self) -> None:
        self._status = 0          # status of the message being assembled (0: none)
        self._running = 0         # channel status that data bytes continue (0: none)
        self._need = 0            # data bytes the current message still needs
        self._data: list[int] = []
        self._in_sysex = False
        self._sysex_length = 0
        self.errors: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
        self.bytes_seen = 0
        self.sysex_messages = 0

    @property
    def rejected_bytes(self) -> int:
        """Bytes (or cut-short messages) that did not make a message, all kinds together."""
        return sum(self.errors.values())

    def feed(self, data: Iterable[int], out: list[MidiMessage]) -> None:
        """Append the messages completed by `data` (ints 0..255; others count as ``undefined``) to `out`."""
        errors = self.errors
        count = 0
        for byte in data:
            count += 1
            if byte.__class__ is not int:  # bytes and lists of ints from rtmidi are ints
                try:
                    byte = int(byte)
                except (TypeError, ValueError):
                    errors["undefined"] += 1
                    continue
            if byte >= 0xF8:
                if byte > 0xFF:
                    errors["undefined"] += 1
                elif byte in _REALTIME_DEFINED:
                    out.append((byte, 0, 0))  # anywhere, without disturbing the message in progress
                else:
                    errors["undefined"] += 1
            elif byte >= 0x80:
                self._status_byte(byte, out)
            elif byte >= 0:
                self._data_byte(byte, out)
            else:
                errors["undefined"] += 1
        self.bytes_seen += count

    def _end_sysex(self, out: list[MidiMessage]) -> None:
        out.append((SYSEX, min(self._sysex_length, 0x7FFFFFFF), 0))
        self.sysex_messages += 1
        self._in_sysex = False
        self._sysex_length = 0

    def _status_byte(self, byte: int, out: list[MidiMessage]) -> None:
        if self._in_sysex:
            self._end_sysex(out)  # F7 ends it; any other status byte ends it early (MIDI 1.0)
            if byte == EOX:
                return
        elif byte == EOX:
            self.errors["eox"] += 1
            self._running = 0
            return
        if self._need:  # the message in progress is cut short
            self.errors["truncated"] += 1
        self._need = 0
        self._data = []
        if byte < 0xF0:
            self._status = byte
            self._running = byte
            self._need = _CHANNEL_DATA_BYTES[byte & 0xF0]
            return
        self._running = 0  # system common messages cancel running status
        self._status = 0
        if byte == SYSEX:
            self._in_sysex = True
            self._sysex_length = 1
            return
        need = _COMMON_DATA_BYTES.get(byte)
        if need is None:
            self.errors["undefined"] += 1
        elif need == 0:
            out.append((byte, 0, 0))
        else:
            self._status = byte
            self._need = need

    def _data_byte(self, byte: int, out: list[MidiMessage]) -> None:
        if self._in_sysex:
            self._sysex_length += 1
            return
        if not self._need:
            if not self._running:
                self.errors["stray"] += 1
                return
            self._status = self._running  # running status: the same kind of message again
            self._need = _CHANNEL_DATA_BYTES[self._running & 0xF0]
            self._data = []
        self._data.append(byte)
        self._need -= 1
        if self._need == 0:
            d = self._data
            out.append((self._status, d[0], d[1] if len(d) > 1 else 0))
            self._data = []
