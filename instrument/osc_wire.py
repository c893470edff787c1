"""OSC 1.0 datagrams to Python values and back, strictly and without logging.

The server reads every datagram that reaches its port, including garbage, so decoding
must be total: any byte string either decodes or raises `OscDecodeError`, never anything
else, never logs, and never recurses without bound. python-osc's own decoder logs a
warning for every unknown type tag (a fuzzer or a misconfigured controller would flood the
log) and accepts unbounded bundle nesting, so the instrument decodes here and uses
python-osc for the socket server only.

Decoded packets are flat: a bundle becomes its messages, each with the time tag of the
innermost bundle that carries one (an "immediately" tag inherits its parent's tag).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Union

# Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
NTP_TO_UNIX_SECONDS = 2_208_988_800
# The reserved time tag "apply immediately" (all zeros but the last bit).
IMMEDIATELY_RAW = 1
BUNDLE_PREFIX = b"#bundle\x00"
# Nested bundles deeper than this are refused: real controllers nest one or two levels.
MAX_BUNDLE_DEPTH = 8
MAX_ARRAY_DEPTH = 4

OscValue = Union[int, float, str, bytes, bool, None, tuple]
"""An argument value: int (i, h, c), float (f, d), str (s, S), bytes (b, r, m), bool (T, F),
None (N, I), tuple (an array [..], or a time tag argument t as (seconds, fraction))."""


class OscDecodeError(ValueError):
    """The datagram is not a well-formed OSC packet (the reason says where it broke)."""


@dataclass(frozen=True)
class OscMessage:
    """One decoded message: its address, its arguments, and when to apply it.

    `time_tag_unix_seconds` is None for "immediately" (a plain message, or a bundle whose tag
    is the reserved value 1), else the bundle's time tag converted to Unix seconds.
    """

    address: str
    args: tuple[OscValue, ...]
    time_tag_unix_seconds: float | None = None


def ntp_to_unix_seconds(raw: int) -> float | None:
    """A 64-bit NTP time tag in Unix seconds; None for the reserved "immediately" tag."""
    if raw == IMMEDIATELY_RAW:
        return None
    return (raw >> 32) - NTP_TO_UNIX_SECONDS + (raw & 0xFFFFFFFF) / 2**32


def unix_seconds_to_ntp(seconds: float | None) -> int:
    """The 64-bit NTP time tag for Unix time `seconds` (None: "immediately")."""
    if seconds is None:
        return IMMEDIATELY_RAW
    total = seconds + NTP_TO_UNIX_SECONDS
    whole = math.floor(total)
    fraction = min(int((total - whole) * 2**32), 2**32 - 1)
    return (int(whole) << 32) | fraction


def _read_string(data: bytes, start: int) -> tuple[str, int]:
    end = data.find(b"\x00", start)
    if end < 0:
        raise OscDecodeError(f"unterminated string at byte {start}")
    padded_end = (end + 4) & ~3
    if padded_end > len(data):
        raise OscDecodeError(f"string at byte {start} is not padded to 4 bytes")
    try:
        return data[start:end].decode("utf-8"), padded_end
    except UnicodeDecodeError:
        raise OscDecodeError(f"string at byte {start} is not UTF-8") from None


def _read(data: bytes, start: int, size: int) -> tuple[bytes, int]:
    if start + size > len(data):
        raise OscDecodeError(f"argument at byte {start} runs past the end of the datagram")
    return data[start:start + size], start + size


def _read_args(data: bytes, tags: str, index: int) -> tuple[tuple[OscValue, ...], int]:
    stack: list[list[OscValue]] = [[]]
    for tag in tags:
        value: OscValue
        if tag == "i":
            raw, index = _read(data, index, 4)
            value = struct.unpack(">i", raw)[0]
        elif tag == "h":
            raw, index = _read(data, index, 8)
            value = struct.unpack(">q", raw)[0]
        elif tag == "f":
            raw, index = _read(data, index, 4)
            value = struct.unpack(">f", raw)[0]
        elif tag == "d":
            raw, index = _read(data, index, 8)
            value = struct.unpack(">d", raw)[0]
        elif tag in "sS":
            value, index = _read_string(data, index)
        elif tag == "b":
            raw, index = _read(data, index, 4)
            size = struct.unpack(">i", raw)[0]
            if size < 0:
                raise OscDecodeError(f"negative blob size at byte {index - 4}")
            value, index = _read(data, index, size)
            index = (index + 3) & ~3
            if index > len(data):
                raise OscDecodeError("blob is not padded to 4 bytes")
        elif tag == "c":
            raw, index = _read(data, index, 4)
            value = struct.unpack(">I", raw)[0]
        elif tag in "rm":
            value, index = _read(data, index, 4)
        elif tag == "t":
            raw, index = _read(data, index, 8)
            value = struct.unpack(">II", raw)
        elif tag == "T":
            value = True
        elif tag == "F":
            value = False
        elif tag in "NI":
            value = None
        elif tag == "[":
            if len(stack) > MAX_ARRAY_DEPTH:
                raise OscDecodeError("arrays nested too deeply")
            stack.append([])
            continue
        elif tag == "]":
            if len(stack) < 2:
                raise OscDecodeError("']' without '[' in the type tags")
            inner = tuple(stack.pop())
            stack[-1].append(inner)
            continue
        else:
            raise OscDecodeError(f"unknown type tag {tag!r}")
        stack[-1].append(value)
    if len(stack) != 1:
        raise OscDecodeError("'[' without ']' in the type tags")
    return tuple(stack[0]), index


def _decode_message(data: bytes, time_tag: float | None) -> OscMessage:
    address, index = _read_string(data, 0)
    if not address.startswith("/"):
        raise OscDecodeError("address does not start with '/'")
    if index == len(data):  # OSC 1.0 allows a message without a type tag string: no arguments
        return OscMessage(address, (), time_tag)
    tags, index = _read_string(data, index)
    if not tags.startswith(","):
        raise OscDecodeError("type tag string does not start with ','")
    args, index = _read_args(data, tags[1:], index)
    if index != len(data):
        raise OscDecodeError(f"{len(data) - index} bytes left over after the arguments")
    return OscMessage(address, args, time_tag)


def _decode_bundle(data: bytes, parent_tag: float | None, depth: int, out: list[OscMessage]) -> None:
    if depth > MAX_BUNDLE_DEPTH:
        raise OscDecodeError("bundles nested too deeply")
    raw_tag, index = _read(data, len(BUNDLE_PREFIX), 8)
    tag = ntp_to_unix_seconds(struct.unpack(">Q", raw_tag)[0])
    if tag is None:
        tag = parent_tag
    while index < len(data):
        raw_size, index = _read(data, index, 4)
        size = struct.unpack(">i", raw_size)[0]
        if size <= 0 or size % 4:
            raise OscDecodeError(f"bundle element size {size} is not a positive multiple of 4")
        element, index = _read(data, index, size)
        _decode_packet(element, tag, depth + 1, out)


def _decode_packet(data: bytes, time_tag: float | None, depth: int, out: list[OscMessage]) -> None:
    if data.startswith(BUNDLE_PREFIX):
        _decode_bundle(data, time_tag, depth, out)
    elif data.startswith(b"/"):
        out.append(_decode_message(data, time_tag))
    else:
        raise OscDecodeError("neither a message (starts with '/') nor a bundle (starts with '#bundle')")


def decode_packet(data: bytes) -> list[OscMessage]:
    """Every message in one datagram, in the order they appear.

    Raises `OscDecodeError` (and nothing else) for anything that is not a well-formed OSC
    message or bundle, including sizes that are not multiples of 4. An empty bundle decodes
    to no messages.
    """
    if len(data) % 4:
        raise OscDecodeError(f"datagram size {len(data)} is not a multiple of 4")
    out: list[OscMessage] = []
    try:
        _decode_packet(bytes(data), None, 0, out)
    except struct.error as e:  # defensive: every read is length-checked first
        raise OscDecodeError(str(e)) from None
    return out


def _pad(raw: bytes) -> bytes:
    return raw + b"\x00" * (4 - len(raw) % 4)


def _encode_arg(value: OscValue) -> tuple[str, bytes]:
    if isinstance(value, bool):  # before int: bool is an int in Python; Pd reads i 0/1 everywhere
        return "i", struct.pack(">i", int(value))
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return "i", struct.pack(">i", value)
        return "h", struct.pack(">q", value)
    if isinstance(value, float):
        return "f", struct.pack(">f", value)
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("an OSC string cannot hold NUL")
        return "s", _pad(value.encode("utf-8"))
    raise TypeError(f"cannot send {type(value).__name__} over OSC")


def encode_message(address: str, args: tuple[OscValue, ...] | list[OscValue] = ()) -> bytes:
    """One OSC message datagram. Arguments: bool and int (i, or h beyond 32 bits), float (f), str (s).

    Booleans go out as i 0/1 because Pure Data has no boolean type; a str must not hold NUL.
    """
    tags = ","
    payload = b""
    for value in args:
        tag, raw = _encode_arg(value)
        tags += tag
        payload += raw
    return _pad(address.encode("utf-8")) + _pad(tags.encode("ascii")) + payload


def encode_bundle(messages: list[bytes], time_tag_unix_seconds: float | None) -> bytes:
    """A bundle of already encoded messages (or bundles) with one time tag (None: immediately)."""
    out = BUNDLE_PREFIX + struct.pack(">Q", unix_seconds_to_ntp(time_tag_unix_seconds))
    for element in messages:
        out += struct.pack(">i", len(element)) + element
    return out
