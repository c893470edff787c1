"""Helpers for the OSC tests: a UDP client that speaks to the server, and a recording engine.

``OscTestClient`` binds its own loopback socket (a free port), so replies to ``/query``
and feedback after ``/subscribe`` come back to it. Waiting is bounded by a timeout that
only fails a test when something never arrives; nothing asserts how fast it arrives.

``RecordingEngine`` implements the engine interface the server uses, with the real
engine's validation (``instrument.controls``) and the same ``state()`` layout, and records
every call so a test can assert exactly what the server asked for.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

from instrument.controls import (
    GROUP_NAMES,
    MAX_KNOBS,
    NOISE_RANGE,
    PSI_RANGE,
    TEMPO_RANGE_BPM,
    check_flag,
    check_group,
    check_index,
    check_number,
    check_seed,
)
from instrument.osc_schema import QUERY_END, STATS_END
from instrument.osc_wire import OscMessage, OscValue, decode_packet, encode_bundle, encode_message

WAIT_SECONDS = 10.0  # generous: a reply that takes this long on loopback is a bug, not a slow machine


def encode_with_booleans(address: str, args: tuple) -> bytes:
    """encode_message, except that True/False become OSC's argument-less type tags T/F."""
    tags, payload = ",", b""
    for value in args:
        if isinstance(value, bool):
            tags += "T" if value else "F"
        else:  # the tag and bytes encode_message gives this one value
            single = encode_message("/", (value,))
            tags += single[5:6].decode()
            payload += single[8:]
    pad = tags.encode() + b"\x00" * (4 - len(tags) % 4)
    return encode_message(address)[:-4] + pad + payload


class OscTestClient:
    """A loopback OSC client with its own receiving socket."""

    def __init__(self, server_port: int) -> None:
        self.server = ("127.0.0.1", server_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(WAIT_SECONDS)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "OscTestClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    def send(self, address: str, *args: OscValue) -> None:
        """One message; a bool goes out as OSC's T/F (encode_message would send Pd's i 0/1)."""
        self.send_raw(encode_with_booleans(address, args))

    def send_bundle(self, time_tag_unix_seconds: float | None, *messages: tuple) -> None:
        """A bundle of (address, *args) messages with one time tag (None: immediately)."""
        self.send_raw(encode_bundle([encode_message(m[0], m[1:]) for m in messages], time_tag_unix_seconds))

    def receive(self) -> OscMessage:
        """The next message (TimeoutError after WAIT_SECONDS)."""
        data, _ = self.sock.recvfrom(65536)
        messages = decode_packet(data)
        assert len(messages) == 1, messages
        return messages[0]

    def receive_until(self, end_address: str) -> list[OscMessage]:
        """Messages up to (not including) one at `end_address`."""
        out = []
        while True:
            message = self.receive()
            if message.address == end_address:
                return out
            out.append(message)

    def receive_matching(self, predicate: Callable[[OscMessage], bool]) -> OscMessage:
        """The first message for which `predicate` holds (others are skipped)."""
        while True:
            message = self.receive()
            if predicate(message):
                return message

    def query(self) -> dict[str, tuple]:
        """The whole state by /ganloops/query: {address: args}."""
        self.send("/ganloops/query")
        return {m.address: m.args for m in self.receive_until(QUERY_END)}

    def stats(self) -> dict[str, int]:
        """The server's counters by /ganloops/stats: {name: count}."""
        self.send("/ganloops/stats")
        prefix = "/ganloops/stats/"
        return {m.address[len(prefix):]: int(m.args[0]) for m in self.receive_until(STATS_END)}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    """Return once `condition()` holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


class RecordingEngine:
    """The engine interface with the real engine's validation and state layout, recording calls."""

    def __init__(self, decks: int = 2) -> None:
        self.decks = decks
        self.calls: list[tuple[str, tuple]] = []
        self.listeners: list[Callable[[str, tuple], None]] = []
        self._lock = threading.Lock()
        self._decks = [{"seed": 0, "bseed": 1, "knobs": [0.0] * MAX_KNOBS,
                        "mix": dict.fromkeys(GROUP_NAMES, 0.0), "psi": 1.0, "noise": 1.0, "gain": 1.0,
                        "mute": False, "model": None} for _ in range(decks)]
        self._crossfade = 0.5
        self._tempo: float | None = None

    # -- the interface --------------------------------------------------------------------

    def add_listener(self, fn: Callable[[str, tuple], None]) -> None:
        self.listeners.append(fn)

    def remove_listener(self, fn: Callable[[str, tuple], None]) -> None:
        if fn in self.listeners:
            self.listeners.remove(fn)

    def _changed(self, name: str, call_args: tuple, address: str, args: tuple) -> None:
        with self._lock:
            self.calls.append((name, call_args))
        for fn in list(self.listeners):
            fn(address, args)

    def _deck(self, deck: int) -> dict[str, Any]:
        return self._decks[check_index("deck", deck, self.decks) - 1]

    def set_knob(self, deck: int, knob: int, value: float) -> None:
        d = self._deck(deck)
        k = check_index("knob", knob, MAX_KNOBS)
        d["knobs"][k - 1] = v = check_number("knob value", value, -1.0, 1.0)
        self._changed("set_knob", (deck, knob, value), f"/ganloops/deck/{deck}/knob/{k}", (v,))

    def _set(self, name: str, deck: int, key: str, value: Any) -> None:
        self._deck(deck)[key] = value
        self._changed(name, (deck, value), f"/ganloops/deck/{deck}/{key}",
                      (int(value) if isinstance(value, bool) else value,))

    def set_seed(self, deck: int, seed: int) -> None:
        self._deck(deck)
        self._set("set_seed", deck, "seed", check_seed("seed", seed))

    def set_bseed(self, deck: int, seed: int) -> None:
        self._deck(deck)
        self._set("set_bseed", deck, "bseed", check_seed("bseed", seed))

    def set_mix(self, deck: int, group: str, value: float) -> None:
        d = self._deck(deck)
        g = check_group("group", group)
        d["mix"][g] = v = check_number("mix", value, 0.0, 1.0)
        self._changed("set_mix", (deck, group, value), f"/ganloops/deck/{deck}/mix/{g}", (v,))

    def set_psi(self, deck: int, psi: float) -> None:
        self._deck(deck)
        self._set("set_psi", deck, "psi", check_number("psi", psi, *PSI_RANGE))

    def set_noise(self, deck: int, strength: float) -> None:
        self._deck(deck)
        self._set("set_noise", deck, "noise", check_number("noise", strength, *NOISE_RANGE))

    def set_gain(self, deck: int, gain: float) -> None:
        self._deck(deck)
        self._set("set_gain", deck, "gain", check_number("gain", gain, 0.0, 1.0))

    def set_mute(self, deck: int, mute: bool) -> None:
        self._deck(deck)
        self._set("set_mute", deck, "mute", check_flag("mute", mute))

    def set_crossfade(self, value: float) -> None:
        self._crossfade = v = check_number("crossfade", value, 0.0, 1.0)
        self._changed("set_crossfade", (value,), "/ganloops/crossfade", (v,))

    def set_tempo(self, bpm: float) -> None:
        self._tempo = v = check_number("tempo", bpm, *TEMPO_RANGE_BPM)
        self._changed("set_tempo", (bpm,), "/ganloops/tempo", (v,))

    def load_deck(self, deck: int, bundle: str | Path, wait: bool = False) -> None:
        self._deck(deck)["model"] = str(bundle)
        self._changed("load_deck", (deck, bundle, wait), f"/ganloops/deck/{deck}/model", (str(bundle),))

    def state(self) -> dict[str, Any]:
        with self._lock:
            decks = [{**d, "knobs": list(d["knobs"]), "mix": dict(d["mix"])} for d in self._decks]
        return {"decks": decks, "crossfade": self._crossfade, "tempo_bpm": self._tempo}

    def apply_state(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append(("apply_state", (state,)))

    def morph_to(self, state: dict[str, Any], beats: float) -> None:
        with self._lock:
            self.calls.append(("morph_to", (state, beats)))

    # -- for the tests ----------------------------------------------------------------------

    def calls_named(self, name: str) -> list[tuple]:
        with self._lock:
            return [args for n, args in self.calls if n == name]


class ManualClock:
    """A Unix-seconds clock that moves only when the test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
