"""MIDI ports: the platform's MIDI system and JACK MIDI through python-rtmidi, and ports in memory.

A backend lists input and output ports by name and opens them. Two real ones exist:

- the platform's (ALSA sequencer on Linux, CoreMIDI on macOS, Windows MM), used when it
  can be opened. On Linux that needs ``/dev/snd/seq``; without it (a container) the
  backend reports itself unavailable without asking ALSA, which would print an error on
  stderr at every port scan;
- JACK MIDI, while a JACK server runs, through a helper process
  (``instrument.midi.jack_bridge`` explains why). Whether a server runs is asked of its socket
  (``/dev/shm/jack_<server>_<uid>_0``, JACK2) with a plain connect, which neither libjack
  nor the server logs; a JACK client opened to ask would print three lines on stderr every
  second while no server runs. Where no socket is found (PipeWire's JACK, JACK1) libjack is
  asked once, at the first scan.

Inputs are read by polling (``read``), not with rtmidi's callback: under JACK that
callback runs on the JACK process thread, and a Python callback there would wait for the
interpreter lock while the whole JACK graph (the instrument's audio included) waits for it.
Polled, the JACK thread only queues the bytes (rtmidi's queue, 1024 messages) and the
MIDI thread picks them up with their timestamps (the delta to the previous message, from
JACK's clock), so polling adds latency (at most the poll period) but no timing jitter.

rtmidi filters nothing (``ignore_types`` all off): system exclusive, active sensing and
clock reach the instrument's tokenizer (``instrument.midi.wire``), which counts them
(sysex and active sensing as ``ignored``) and never keeps a sysex's contents. When rtmidi
filtered sysex itself, a sysex flood (and everything sent in the same events until its F7)
vanished before it could be counted. rtmidi still gathers a sysex split over several
events into one message until its F7. ``MemoryBackend`` is the same interface in memory, for tests
and for driving the instrument from code.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

OWN_CLIENT_PREFIXES = ("ganloops-midi", "ganloops-clock")  # ports of this program: never listened to
INPUT_CLIENT_NAME = "ganloops-midi"
OUTPUT_CLIENT_NAME = "ganloops-clock"
RTMIDI_QUEUE_MESSAGES = 1024
JACK_BRIDGE_PREFIXES = ("a2j:", "system:midi_capture")  # JACK copies of ALSA ports


class InputPort(Protocol):
    name: str

    def read(self, max_messages: int) -> list[tuple[Sequence[int], float | None]]:
        """Up to `max_messages` (bytes, seconds since the port's previous message or None)."""
        ...

    def close(self) -> None: ...


class OutputPort(Protocol):
    name: str

    def send(self, data: Sequence[int]) -> None: ...

    def close(self) -> None: ...


class Backend(Protocol):
    label: str

    def available(self) -> bool: ...

    def input_names(self) -> list[str]: ...

    def output_names(self) -> list[str]: ...

    def open_input(self, name: str) -> InputPort: ...

    def open_output(self, name: str) -> OutputPort: ...

    def describe(self) -> str:
        """One line on why the backend is unavailable, or what it is."""
        ...


def is_own_port(name: str) -> bool:
    return name.startswith(OWN_CLIENT_PREFIXES)


def name_matches(pattern: str, name: str) -> bool:
    """True when every word of `pattern` appears in `name` (case-insensitive), as for audio devices."""
    words = pattern.lower().split()
    return bool(words) and all(word in name.lower() for word in words)


# ---------------------------------------------------------------------------------------
# JACK: is a server running?
# ---------------------------------------------------------------------------------------


def jack_server_name() -> str:
    return os.environ.get("JACK_DEFAULT_SERVER") or "default"


def jack_socket_paths(server: str | None = None) -> list[Path]:
    """Where JACK2 puts the server's request socket (Linux: /dev/shm; elsewhere /tmp)."""
    name = server or jack_server_name()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return [Path(folder) / f"jack_{name}_{uid}_0" for folder in ("/dev/shm", "/tmp")]


def jack_socket_state(server: str | None = None) -> bool | None:
    """True: a server listens on its socket; False: a socket file is there but nobody listens
    (a crashed server); None: no socket file (no JACK2 server, or a JACK without one)."""
    found = False
    for path in jack_socket_paths(server):
        if not path.exists():
            continue
        found = True
        if not hasattr(socket, "AF_UNIX"):
            return None
        with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as s:
            s.settimeout(0.2)
            try:
                s.connect(str(path))
                return True
            except OSError:
                continue
    return False if found else None


class JackWatch:
    """Whether JACK MIDI can be used now, asked without noise (see the module docstring)."""

    def __init__(self, socket_state: Callable[[], bool | None] = jack_socket_state,
                 probe: Callable[[], bool] | None = None) -> None:
        self._socket_state = socket_state
        self._probe = probe
        self._probed: bool | None = None

    def running(self) -> bool:
        state = self._socket_state()
        if state is not None:
            return state
        if self._probed is None:  # no socket to look at: ask libjack, once
            self._probed = bool(self._probe()) if self._probe is not None else _probe_libjack()
        return self._probed


def _probe_libjack() -> bool:
    try:
        from instrument.portaudio_host import JackProbe

        probe = JackProbe()
        return probe.available and probe.server_alive()
    except Exception:
        return False


# ---------------------------------------------------------------------------------------
# python-rtmidi
# ---------------------------------------------------------------------------------------


class RtmidiInput:
    """One rtmidi input (under JACK: a client of its own) connected to one source port."""

    def __init__(self, rtmidi: Any, api: int, name: str) -> None:
        self.name = name
        midi_in = rtmidi.MidiIn(api, name=INPUT_CLIENT_NAME, queue_size_limit=RTMIDI_QUEUE_MESSAGES)
        try:
            midi_in.ignore_types(sysex=False, timing=False, active_sense=False)  # the tokenizer counts them
            ports = midi_in.get_ports()
            if name not in ports:
                raise OSError(f"MIDI input {name!r} is gone")
            midi_in.open_port(ports.index(name), "in")
        except BaseException:
            midi_in.delete()
            raise
        self._in = midi_in

    def read(self, max_messages: int) -> list[tuple[Sequence[int], float | None]]:
        out: list[tuple[Sequence[int], float | None]] = []
        get = self._in.get_message
        for _ in range(max_messages):
            item = get()
            if item is None:
                break
            out.append((item[0], item[1]))
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._in.close_port()
        with contextlib.suppress(Exception):
            self._in.delete()


class RtmidiOutput:
    """One rtmidi output connected to one destination port."""

    def __init__(self, rtmidi: Any, api: int, name: str) -> None:
        self.name = name
        midi_out = rtmidi.MidiOut(api, name=OUTPUT_CLIENT_NAME)
        try:
            ports = midi_out.get_ports()
            if name not in ports:
                raise OSError(f"MIDI output {name!r} is gone")
            midi_out.open_port(ports.index(name), "out")
        except BaseException:
            midi_out.delete()
            raise
        self._out = midi_out
        self._lock = threading.Lock()

    def send(self, data: Sequence[int]) -> None:
        with self._lock:
            self._out.send_message(list(data))

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(Exception):
                self._out.close_port()
            with contextlib.suppress(Exception):
                self._out.delete()


class RtmidiBackend:
    """Ports of one rtmidi API. `usable()` says whether to touch the API at all right now."""

    def __init__(self, label: str, api_name: str, usable: Callable[[], bool], why_not: str) -> None:
        self.label = label
        self._api_name = api_name
        self._usable = usable
        self._why_not = why_not
        self._rtmidi: Any = None
        self._api: int | None = None
        self._lister_in: Any = None
        self._lister_out: Any = None
        self.last_error: str | None = None

    def _load(self) -> bool:
        if self._api is not None:
            return True
        try:
            import rtmidi
        except ImportError as e:
            self.last_error = f"python-rtmidi is not installed ({e})"
            return False
        api = getattr(rtmidi, self._api_name, None)
        if api is None or api not in rtmidi.get_compiled_api():
            self.last_error = f"this python-rtmidi has no {self.label} support"
            return False
        self._rtmidi, self._api = rtmidi, api
        return True

    def available(self) -> bool:
        if not self._usable():
            self.forget()
            self.last_error = self._why_not
            return False
        if not self._load():
            return False
        if self._lister_in is None:
            try:
                self._lister_in = self._rtmidi.MidiIn(self._api, name=INPUT_CLIENT_NAME)
            except Exception as e:  # rtmidi raises SystemError/RuntimeError without a MIDI system
                self.forget()
                self.last_error = " ".join(str(e).split())
                return False
        self.last_error = None
        return True

    def forget(self) -> None:
        """Drop the listing clients (the MIDI system went away; a new one gets new clients)."""
        for lister in (self._lister_in, self._lister_out):
            if lister is not None:
                with contextlib.suppress(Exception):
                    lister.delete()
        self._lister_in = self._lister_out = None

    def input_names(self) -> list[str]:
        return [str(n) for n in self._lister_in.get_ports()] if self._lister_in is not None else []

    def output_names(self) -> list[str]:
        """Output ports (the listing client is made on first use: only clock out needs it)."""
        if self._lister_in is None:
            return []
        if self._lister_out is None:
            self._lister_out = self._rtmidi.MidiOut(self._api, name=OUTPUT_CLIENT_NAME)
        return [str(n) for n in self._lister_out.get_ports()]

    def open_input(self, name: str) -> InputPort:
        assert self._api is not None
        return RtmidiInput(self._rtmidi, self._api, name)

    def open_output(self, name: str) -> OutputPort:
        assert self._api is not None
        return RtmidiOutput(self._rtmidi, self._api, name)

    def describe(self) -> str:
        return self.last_error or "ready"


def _alsa_sequencer_present() -> bool:
    return os.path.exists("/dev/snd/seq")


def default_backends() -> list[Backend]:
    """The platform's MIDI system, and JACK MIDI on Linux."""
    if sys.platform.startswith("linux"):
        from instrument.midi.jack_bridge import JackBridgeBackend  # JACK MIDI lives in a helper process

        return [RtmidiBackend("ALSA", "API_LINUX_ALSA", _alsa_sequencer_present,
                              "no ALSA sequencer (/dev/snd/seq; the snd-seq module is not loaded)"),
                JackBridgeBackend()]
    if sys.platform == "darwin":
        return [RtmidiBackend("CoreMIDI", "API_MACOSX_CORE", lambda: True, "")]
    if sys.platform.startswith("win"):
        return [RtmidiBackend("Windows MM", "API_WINDOWS_MM", lambda: True, "")]
    return [RtmidiBackend("MIDI", "API_UNSPECIFIED", lambda: True, "")]


# ---------------------------------------------------------------------------------------
# In memory
# ---------------------------------------------------------------------------------------


@dataclass
class MemoryInput:
    """An input port fed from code: ``send(bytes, delta_seconds)``."""

    name: str
    queue: list[tuple[Sequence[int], float | None]] = field(default_factory=list)
    closed: bool = False
    fail_reads: bool = False

    def send(self, data: Sequence[int], delta_seconds: float | None = None) -> None:
        self.queue.append((list(data), delta_seconds))

    def read(self, max_messages: int) -> list[tuple[Sequence[int], float | None]]:
        if self.fail_reads:
            raise OSError(f"{self.name}: device error")
        out, self.queue = self.queue[:max_messages], self.queue[max_messages:]
        return out

    def close(self) -> None:
        self.closed = True


@dataclass
class MemoryOutput:
    name: str
    sent: list[list[int]] = field(default_factory=list)
    closed: bool = False

    def send(self, data: Sequence[int]) -> None:
        self.sent.append(list(data))

    def close(self) -> None:
        self.closed = True


class MemoryBackend:
    """Ports that exist while the test says so (hot-plugging without hardware)."""

    def __init__(self, label: str = "memory") -> None:
        self.label = label
        self.up = True
        self.inputs: dict[str, MemoryInput] = {}
        self.outputs: dict[str, MemoryOutput] = {}
        self.opened: list[str] = []
        self.refuse: set[str] = set()

    def plug(self, name: str) -> MemoryInput:
        port = self.inputs[name] = MemoryInput(name)
        return port

    def plug_output(self, name: str) -> MemoryOutput:
        port = self.outputs[name] = MemoryOutput(name)
        return port

    def unplug(self, name: str) -> None:
        self.inputs.pop(name, None)
        self.outputs.pop(name, None)

    def available(self) -> bool:
        return self.up

    def input_names(self) -> list[str]:
        return list(self.inputs)

    def output_names(self) -> list[str]:
        return list(self.outputs)

    def open_input(self, name: str) -> InputPort:
        if name in self.refuse or name not in self.inputs:
            raise OSError(f"{name}: cannot open")
        self.opened.append(name)
        return self.inputs[name]

    def open_output(self, name: str) -> OutputPort:
        if name not in self.outputs:
            raise OSError(f"{name}: cannot open")
        return self.outputs[name]

    def describe(self) -> str:
        return "ready" if self.up else "down"
