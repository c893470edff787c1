"""A private JACK server for a test: ``jackd -d dummy`` (a real clock, no sound card).

Each server gets a unique name, so tests (and engineers running tests side by side on
one machine) never see each other's clients; clients reach it through
``JACK_DEFAULT_SERVER=<name>`` (``server.env()`` for subprocesses, ``server.activate()``
for this process). Servers are stopped by their own process id, never by name.

A killed jackd leaves its slot in JACK's shared server registry taken (jackd2 allows 8
servers per machine and reclaims a dead one's slot only when a server of the same name
starts), so ``stop()`` after ``kill()`` starts the name once more and shuts it down
cleanly, and removes the semaphore files the dead server's clients left in /dev/shm.

    with JackServer() as jack:          # started, and stopped at the end
        jack.activate(monkeypatch)      # this process's JACK clients use it
        ...
        jack.kill()                     # a crash, as a performer would meet it
        jack.start()                    # the same name again

``require_jackd()`` skips a test, naming the reason, on a machine without jackd.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

_counter = itertools.count()
_running: set["JackServer"] = set()


def jackd_path() -> str | None:
    return shutil.which("jackd")


def require_jackd() -> None:
    """Skip the calling test when jackd is missing (the reason names it)."""
    if jackd_path() is None:
        pytest.skip("jackd not installed (Debian: apt install jackd2)")


def require_tool(name: str) -> str:
    """Path of a JACK example client (jack_lsp, jack_connect...), or skip naming it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (JACK example clients; Debian: apt install jackd2)")
    return path


def _stop_leftovers() -> None:
    for server in list(_running):
        server.stop()


atexit.register(_stop_leftovers)


class JackServer:
    """One ``jackd -d dummy`` process under a unique server name."""

    def __init__(self, sample_rate_hz: int = 48000, period_frames: int = 256, name: str | None = None,
                 client_timeout_ms: int = 5000, synchronous: bool = False, realtime: bool = False) -> None:
        self.name = name or f"gltest-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"
        self.sample_rate_hz = sample_rate_hz
        self.period_frames = period_frames
        self.client_timeout_ms = client_timeout_ms
        self.synchronous = synchronous
        self.realtime = realtime
        self.log_path = Path(tempfile.gettempdir()) / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None
        self._killed = False  # its registry slot needs reclaiming

    # -- lifetime ------------------------------------------------------------------------

    def start(self, timeout_seconds: float = 15.0) -> "JackServer":
        """Start jackd and wait until clients can connect."""
        require_jackd()
        assert self.proc is None or self.proc.poll() is not None, "already running"
        # --no-realtime: no realtime scheduling rights needed; -t: clients are not dropped
        # for a slow cycle on a busy test machine. --sync (synchronous=True): each cycle waits
        # for every client instead of going on without a late one. In the default
        # (asynchronous) mode a client that misses a cycle on a loaded machine loses the MIDI
        # events of that cycle, or its readers see its last buffer again: a test that counts
        # MIDI bytes needs --sync (a late cycle is then an xrun of the driver, in the log).
        # realtime=True: -R -P 70, jackd and its clients' process threads under SCHED_FIFO,
        # as on stage (needs root or an rtprio limit; the CI machine runs as root).
        scheduling = ["-R", "-P", "70"] if self.realtime else ["--no-realtime"]
        cmd = [str(jackd_path()), *scheduling, *(["--sync"] if self.synchronous else []),
               "-n", self.name, "-t", str(self.client_timeout_ms),
               "-d", "dummy", "-r", str(self.sample_rate_hz), "-p", str(self.period_frames)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _running.add(self)
        self._killed = False
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jackd exited with {self.proc.returncode}: {self.log_tail()}")
            if self.ports() is not None:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"jackd '{self.name}' did not come up in {timeout_seconds} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the server vanishes without telling its clients (a crash)."""
        self._end(signal.SIGKILL)
        self._killed = True

    def stop(self) -> None:
        """SIGTERM: a normal shutdown (after a kill: reclaim the registry slot first)."""
        if self._killed and not self.running:
            try:
                self.start()
            except RuntimeError:
                pass
        self._end(signal.SIGTERM)
        self._killed = False
        _running.discard(self)
        for leftover in Path("/dev/shm").glob(f"jack_sem.*_{self.name}_*"):
            leftover.unlink(missing_ok=True)
        self.log_path.unlink(missing_ok=True)

    def _end(self, sig: int) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "JackServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------------

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose JACK clients connect to this server."""
        env = dict(os.environ if base is None else base)
        env["JACK_DEFAULT_SERVER"] = self.name
        env["JACK_NO_START_SERVER"] = "1"
        return env

    def activate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make this process's JACK clients (PortAudio's included) connect to this server."""
        monkeypatch.setenv("JACK_DEFAULT_SERVER", self.name)
        monkeypatch.setenv("JACK_NO_START_SERVER", "1")

    def ports(self, connections: bool = False) -> list[str] | None:
        """``jack_lsp`` output lines (port names, with ``-c`` their connections indented), or
        None when the server cannot be reached."""
        jack_lsp = shutil.which("jack_lsp")
        if jack_lsp is None:
            raise RuntimeError("jack_lsp not installed")
        args = [jack_lsp, "-s", self.name] + (["-c"] if connections else [])
        proc = subprocess.run(args, capture_output=True, text=True, timeout=10, env=self.env())
        if proc.returncode != 0 or "not running" in proc.stderr:
            return None
        return [line.rstrip() for line in proc.stdout.splitlines() if line.strip()]

    def connect(self, source: str, destination: str) -> None:
        """``jack_connect SOURCE DESTINATION`` on this server."""
        jack_connect = require_tool("jack_connect")
        proc = subprocess.run([jack_connect, "-s", self.name, source, destination], capture_output=True,
                              text=True, timeout=10, env=self.env())
        if proc.returncode != 0:
            raise RuntimeError(f"jack_connect {source} {destination}: {proc.stderr.strip() or proc.stdout.strip()}")

    def disconnect(self, source: str, destination: str) -> None:
        jack_disconnect = require_tool("jack_disconnect")
        subprocess.run([jack_disconnect, "-s", self.name, source, destination], capture_output=True, text=True,
                       timeout=10, env=self.env())

    def xruns(self) -> int:
        """XRun lines in jackd's log so far: the driver woke up late, or (asynchronous mode) a
        client did not finish its cycle in time."""
        try:
            return self.log_path.read_text(errors="replace").count("XRun")
        except OSError:
            return 0

    def log_tail(self, lines: int = 8) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_for(predicate: Any, timeout_seconds: float, interval_seconds: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout_seconds` pass; return its last value."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return bool(value)
        time.sleep(interval_seconds)


class JackCapture:
    """Records, in this process, what other JACK clients send to it: a PortAudio input
    stream under its own client name, wired with ``jack_connect`` to the given ports.

        capture = JackCapture(server)            # server.activate(monkeypatch) first
        capture.start(["ganloops:out_0", "ganloops:out_1"])
        capture.wait_frames(48000, timeout_seconds=10)
        audio = capture.take(0, 48000)           # [frames, channels] float32
        capture.stop()

    When the server dies under it, call ``abandon()`` (closing a dead JACK stream hangs
    PortAudio; see instrument/portaudio_host.py).
    """

    def __init__(self, server: JackServer, client_name: str = "gltest-capture", channels: int = 2,
                 max_seconds: float = 120.0) -> None:
        import numpy as np

        self.server = server
        self.client_name = client_name
        self.channels = channels
        self._buffer = np.zeros((int(max_seconds * server.sample_rate_hz), channels), dtype=np.float32)
        self.frames = 0
        self._stream: Any = None
        self._previous_name: str | None = None

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        end = min(self.frames + frames, self._buffer.shape[0])
        self._buffer[self.frames:end] = indata[: end - self.frames]
        self.frames = end

    def start(self, sources: list[str]) -> None:
        """Open the input on the server's 'system' device and connect `sources` to it instead."""
        from instrument.portaudio_host import DEFAULT_JACK_CLIENT_NAME, JACK_HOST_API, portaudio_host

        host = portaudio_host()
        with host.lock:
            self._previous_name = DEFAULT_JACK_CLIENT_NAME
            host.set_jack_client_name(self.client_name)
            host.rescan()
            sd = host.sounddevice()
            apis = sd.query_hostapis()
            index = next(d["index"] for d in sd.query_devices()
                         if apis[d["hostapi"]]["name"] == JACK_HOST_API and d["name"] == "system")
            self._stream = sd.InputStream(device=index, channels=self.channels,
                                          samplerate=self.server.sample_rate_hz, blocksize=256, dtype="float32",
                                          callback=self._callback)
            self._stream.start()
            name = host.jack_client_name or self.client_name
        for i, source in enumerate(sources):
            self.server.disconnect(f"system:capture_{i + 1}", f"{name}:in_{i}")
            self.server.connect(source, f"{name}:in_{i}")

    def wait_frames(self, frames: int, timeout_seconds: float) -> bool:
        return wait_for(lambda: self.frames >= frames, timeout_seconds)

    def take(self, start: int, stop: int) -> Any:
        return self._buffer[start:stop].copy()

    def abandon(self) -> None:
        """Leave a stream whose server died (never touch it again)."""
        from instrument.portaudio_host import portaudio_host

        if self._stream is not None:
            portaudio_host().abandon(self._stream, self._callback)
            self._stream = None

    def stop(self) -> None:
        from instrument.portaudio_host import portaudio_host

        host = portaudio_host()
        with host.lock:
            if self._stream is not None:
                if self._stream.active:  # a dead JACK stream must not be stopped: it would hang
                    self._stream.stop()
                    self._stream.close()
                else:
                    host.abandon(self._stream, self._callback)
                self._stream = None
            if self._previous_name is not None:
                host.set_jack_client_name(self._previous_name)
