"""JACK MIDI in a helper process, so that opening a JACK client never stalls the audio.

Why a second process: python-rtmidi holds the interpreter lock (GIL) for the whole of every
call into RtMidi. Opening or closing a JACK client makes the JACK server wait until every
client has run a cycle with the new graph, and the instrument's own audio client runs a
Python callback, which needs the GIL that the opening thread holds. The audio callback
then waits for the server's client timeout (0.5 s to 10 s), measured here as a gap of the
whole timeout in the audio, and a plugged-in controller would cut the sound. In a helper
process the GIL is another one, and the audio never waits.

The helper (``python -m instrument.midi.jack_bridge``) opens rtmidi JACK ports on request,
polls its inputs every 2 ms and writes what arrives to its stdout; it exits when its
stdin closes (the instrument quit or died). Its stderr, where libjack complains, goes
nowhere.

Protocol, one line each way:

- instrument -> helper: a JSON list ``[request_id, verb, *args]``; verbs: ``list``,
  ``open_in id name``, ``open_out id name``, ``close id``, ``send id hex`` (no reply),
  ``quit``;
- helper -> instrument: ``["r", request_id, true, payload]`` or ``["r", request_id, false,
  "message"]``; ``m id delta_seconds hex`` for each MIDI message from input ``id`` (delta
  as rtmidi gives it: since that port's previous message); ``["gone", id, "message"]`` when
  an input fails.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Deque, Sequence

from instrument.midi.ports import JackWatch, OutputPort, RtmidiInput, RtmidiOutput

POLL_SECONDS = 0.002  # the helper reads its inputs this often (about 2 % of a core)
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_MESSAGES_PER_POLL = 512
QUEUE_MESSAGES = 8192  # per input, in the instrument; beyond it the oldest are dropped (counted as "overflow")


# ---------------------------------------------------------------------------------------
# The helper process
# ---------------------------------------------------------------------------------------


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class _Helper:
    """What runs in the helper process."""

    def __init__(self, write: Callable[[str], None]) -> None:
        import rtmidi

        self._rtmidi = rtmidi
        self._api = rtmidi.API_UNIX_JACK
        self._write = write
        self._lister_in: Any = None
        self._lister_out: Any = None
        self.inputs: dict[int, RtmidiInput] = {}
        self.outputs: dict[int, RtmidiOutput] = {}

    def handle(self, request: list[Any]) -> bool:
        """Carry out one request; False for quit."""
        rid, verb, args = request[0], request[1], request[2:]
        if verb == "quit":
            return False
        try:
            payload = self._do(verb, args)
        except Exception as e:
            if verb != "send":
                self._write(json.dumps(["r", rid, False, _one_line(e)]) + "\n")
            return True
        if verb != "send":
            self._write(json.dumps(["r", rid, True, payload]) + "\n")
        return True

    def _do(self, verb: str, args: list[Any]) -> Any:
        if verb == "list":
            if self._lister_in is None:
                self._lister_in = self._rtmidi.MidiIn(self._api, name="ganloops-midi")
            if self._lister_out is None and args and args[0]:
                self._lister_out = self._rtmidi.MidiOut(self._api, name="ganloops-clock")
            outputs = [str(n) for n in self._lister_out.get_ports()] if self._lister_out is not None else []
            return {"inputs": [str(n) for n in self._lister_in.get_ports()], "outputs": outputs}
        if verb == "open_in":
            self.inputs[int(args[0])] = RtmidiInput(self._rtmidi, self._api, str(args[1]))
            return None
        if verb == "open_out":
            self.outputs[int(args[0])] = RtmidiOutput(self._rtmidi, self._api, str(args[1]))
            return None
        if verb == "close":
            port_id = int(args[0])
            for ports in (self.inputs, self.outputs):
                port = ports.pop(port_id, None)
                if port is not None:
                    port.close()
            return None
        if verb == "send":
            self.outputs[int(args[0])].send(bytes.fromhex(str(args[1])))
            return None
        raise ValueError(f"unknown request {verb!r}")

    def poll(self) -> bool:
        """Forward what the inputs received; True when anything was written."""
        wrote = False
        for port_id, port in list(self.inputs.items()):
            try:
                batch = port.read(MAX_MESSAGES_PER_POLL)
            except Exception as e:
                self.inputs.pop(port_id, None)
                self._write(json.dumps(["gone", port_id, _one_line(e)]) + "\n")
                wrote = True
                continue
            for data, delta in batch:
                self._write(f"m {port_id} {float(delta or 0.0)!r} {bytes(data).hex()}\n")
                wrote = True
        return wrote

    def close(self) -> None:
        for port in list(self.inputs.values()) + list(self.outputs.values()):
            port.close()
        for lister in (self._lister_in, self._lister_out):
            if lister is not None:
                with contextlib.suppress(Exception):
                    lister.delete()


def main() -> int:
    """The helper's loop: requests from stdin, MIDI to stdout, until stdin closes."""
    requests: queue.Queue[list[Any] | None] = queue.Queue()

    def read_requests() -> None:
        for line in sys.stdin:
            try:
                request = json.loads(line)
                if isinstance(request, list) and len(request) >= 2:
                    requests.put(request)
            except ValueError:
                continue
        requests.put(None)

    threading.Thread(target=read_requests, daemon=True).start()
    out = sys.stdout
    helper = _Helper(out.write)
    try:
        while True:
            while True:
                try:
                    request = requests.get_nowait()
                except queue.Empty:
                    break
                if request is None or not helper.handle(request):
                    return 0
                out.flush()
            if helper.poll():
                out.flush()
            time.sleep(POLL_SECONDS)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0
    finally:
        helper.close()


# ---------------------------------------------------------------------------------------
# The instrument's side
# ---------------------------------------------------------------------------------------


class BridgeError(OSError):
    """The helper did not answer, refused, or is gone."""


class _BridgeInput:
    def __init__(self, bridge: "JackBridge", port_id: int, name: str) -> None:
        self.name = name
        self._bridge = bridge
        self.port_id = port_id
        self.queue: Deque[tuple[bytes, float]] = collections.deque()
        self.dropped = 0  # messages dropped because the queue was full (only the reader thread writes these)
        self.dropped_bytes = 0  # ... and their bytes: the controller counts them as rejected "overflow"
        self.error: str | None = None

    def read(self, max_messages: int) -> list[tuple[Sequence[int], float | None]]:
        if self.error is not None:
            raise BridgeError(self.error)
        out: list[tuple[Sequence[int], float | None]] = []
        q = self.queue
        while q and len(out) < max_messages:
            out.append(q.popleft())
        return out

    def close(self) -> None:
        self._bridge.forget_input(self.port_id)
        self._bridge.post("close", self.port_id)


class _BridgeOutput:
    def __init__(self, bridge: "JackBridge", port_id: int, name: str) -> None:
        self.name = name
        self._bridge = bridge
        self.port_id = port_id

    def send(self, data: Sequence[int]) -> None:
        self._bridge.post("send", self.port_id, bytes(data).hex())

    def close(self) -> None:
        self._bridge.post("close", self.port_id)


class JackBridge:
    """Starts the helper and talks to it (requests with replies, MIDI to the inputs' queues)."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self._command = list(command) if command is not None else [sys.executable, "-m",
                                                                   "instrument.midi.jack_bridge"]
        self._proc: subprocess.Popen | None = None
        self._write_lock = threading.Lock()
        self._replies: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._replies_lock = threading.Lock()
        self._inputs: dict[int, _BridgeInput] = {}
        self._request_ids = itertools.count(1)
        self._port_ids = itertools.count(1)
        self._reader: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.stop()
        env = dict(os.environ)
        env.setdefault("JACK_NO_START_SERVER", "1")
        # the helper imports this package from where this process found it (a source checkout too)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        self._proc = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=env)
        self._reader = threading.Thread(target=self._read_loop, args=(self._proc,), name="ganloops-midi-jack",
                                        daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """Ask the helper to quit (it closes its JACK clients), and make sure it is gone."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            with self._write_lock:
                assert proc.stdin is not None
                proc.stdin.write(b'[0, "quit"]\n')
                proc.stdin.flush()
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        self._fail_all("the JACK MIDI helper stopped")

    def _fail_all(self, message: str) -> None:
        for port in list(self._inputs.values()):
            port.error = message
        self._inputs.clear()
        with self._replies_lock:
            for event, box in self._replies.values():
                box.append((False, message))
                event.set()
            self._replies.clear()

    def _read_loop(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if line.startswith("m "):
                parts = line.split()
                if len(parts) != 4:
                    continue
                port = self._inputs.get(int(parts[1]))
                if port is None:
                    continue
                if len(port.queue) >= QUEUE_MESSAGES:
                    lost, _ = port.queue.popleft()
                    port.dropped += 1
                    port.dropped_bytes += len(lost)
                port.queue.append((bytes.fromhex(parts[3]), float(parts[2])))
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message[0] == "r":
                with self._replies_lock:
                    waiting = self._replies.pop(int(message[1]), None)
                if waiting is not None:
                    waiting[1].append((bool(message[2]), message[3]))
                    waiting[0].set()
            elif message[0] == "gone":
                port = self._inputs.pop(int(message[1]), None)
                if port is not None:
                    port.error = str(message[2])
        if self._proc is proc:  # the helper died by itself
            self._fail_all("the JACK MIDI helper exited")

    def _send_line(self, request: list[Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise BridgeError("the JACK MIDI helper is not running")
        try:
            with self._write_lock:
                proc.stdin.write((json.dumps(request) + "\n").encode())
                proc.stdin.flush()
        except (OSError, ValueError) as e:
            if proc.poll() is not None and self._proc is proc:  # its ports fail now, not when the reader sees EOF
                self._fail_all("the JACK MIDI helper exited")
            raise BridgeError(f"the JACK MIDI helper is gone ({e})") from None

    def post(self, verb: str, *args: Any) -> None:
        """A request without a reply (send, close); a gone helper is ignored."""
        with contextlib.suppress(BridgeError):
            self._send_line([0, verb, *args])

    def request(self, verb: str, *args: Any, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Any:
        rid = next(self._request_ids)
        event = threading.Event()
        box: list[Any] = []
        with self._replies_lock:
            self._replies[rid] = (event, box)
        self._send_line([rid, verb, *args])
        if not event.wait(timeout):
            with self._replies_lock:
                self._replies.pop(rid, None)
            self.stop()  # a helper that does not answer is stuck: the next scan starts a fresh one
            raise BridgeError(f"the JACK MIDI helper did not answer {verb!r} within {timeout:g} s")
        ok, payload = box[0]
        if not ok:
            raise BridgeError(str(payload))
        return payload

    def open_input(self, name: str) -> _BridgeInput:
        port = _BridgeInput(self, next(self._port_ids), name)
        self._inputs[port.port_id] = port  # before the request: the first messages may come at once
        try:
            self.request("open_in", port.port_id, name)
        except BridgeError:
            self._inputs.pop(port.port_id, None)
            raise
        return port

    def open_output(self, name: str) -> _BridgeOutput:
        port_id = next(self._port_ids)
        self.request("open_out", port_id, name)
        return _BridgeOutput(self, port_id, name)

    def forget_input(self, port_id: int) -> None:
        self._inputs.pop(port_id, None)


class JackBridgeBackend:
    """JACK MIDI ports, through the helper process, while a JACK server runs."""

    label = "JACK"

    def __init__(self, watch: JackWatch | None = None, bridge: JackBridge | None = None) -> None:
        self._watch = watch or JackWatch()
        self.bridge = bridge or JackBridge()
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        self.want_outputs = False
        self.last_error: str | None = None

    def available(self) -> bool:
        if not self._watch.running():
            self.forget()
            self.last_error = "no JACK server running"
            return False
        try:
            self.bridge.start()
            listed = self.bridge.request("list", self.want_outputs)
        except (BridgeError, OSError) as e:
            self.last_error = f"JACK MIDI: {e}"
            self._inputs, self._outputs = [], []
            return False
        self._inputs = [str(n) for n in listed.get("inputs", [])]
        self._outputs = [str(n) for n in listed.get("outputs", [])]
        self.last_error = None
        return True

    def forget(self) -> None:
        self.bridge.stop()
        self._inputs, self._outputs = [], []

    def input_names(self) -> list[str]:
        return list(self._inputs)

    def output_names(self) -> list[str]:
        return list(self._outputs)

    def open_input(self, name: str) -> _BridgeInput:
        return self.bridge.open_input(name)

    def open_output(self, name: str) -> OutputPort:
        return self.bridge.open_output(name)

    def describe(self) -> str:
        return self.last_error or "ready (through the JACK MIDI helper process)"


if __name__ == "__main__":
    raise SystemExit(main())
