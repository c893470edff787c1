"""A private JACK server for ``ganloops bench``: ``jackd -d dummy``, a real clock with no sound card.

The dummy driver asks its clients for a block every period, on time, like a sound card,
but plays nothing: the bench's figures do not depend on a particular card, and running it
disturbs nobody's audio. The server gets a unique name and this process's JACK clients
are pointed at it (``as_default_server``), so it never meets another JACK server on the
machine; it is stopped by its process id.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from instrument.portaudio_host import portaudio_host

_XRUN = re.compile(r"xrun", re.IGNORECASE)


class BenchError(RuntimeError):
    """The bench cannot run (one line naming what is missing)."""


class DummyJack:
    """``jackd -d dummy`` under a unique server name, started and stopped by its process id.

    ``--no-realtime`` by default, because the bench must not need realtime scheduling rights;
    ``realtime=True`` runs it as a stage setup does (``-R -P 70``: jackd's driver thread and
    every client's process thread, ganloops' audio callback included, get SCHED_FIFO), which
    needs the rights (root, or the ``audio`` group's rtprio limit). ``-t`` gives a client
    two seconds before jackd drops it, so a hiccup on a loaded machine shows as xruns rather
    than as a lost device.
    """

    REALTIME_PRIORITY = 70

    def __init__(self, sample_rate_hz: int = 48000, period_frames: int = 256, client_timeout_ms: int = 2000,
                 realtime: bool = False) -> None:
        self.name = f"ganloops-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.sample_rate_hz = sample_rate_hz
        self.period_frames = period_frames
        self.client_timeout_ms = client_timeout_ms
        self.realtime = realtime
        self.log_path = Path(tempfile.gettempdir()) / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None
        self.version = ""

    def start(self, timeout_seconds: float = 15.0) -> "DummyJack":
        jackd = shutil.which("jackd")
        if jackd is None:
            raise BenchError("jackd not found: the live figures need JACK's dummy driver (Debian: apt install jackd2)")
        probe = portaudio_host().jack
        if not probe.available:
            raise BenchError("libjack not found: the live figures need JACK (Debian: apt install jackd2)")
        self.version = _jackd_version(jackd)
        scheduling = ["-R", "-P", str(self.REALTIME_PRIORITY)] if self.realtime else ["--no-realtime"]
        cmd = [jackd, *scheduling, "-n", self.name, "-t", str(self.client_timeout_ms),
               "-d", "dummy", "-r", str(self.sample_rate_hz), "-p", str(self.period_frames)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        deadline = started + timeout_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"jackd exited with status {self.proc.returncode}: {self.log_tail()}")
            # libjack prints a few lines each time a probe finds no server: probe once jackd's
            # "system" client exists (Linux), or after a while elsewhere
            if (self._system_client_exists() or time.monotonic() - started > 3.0) and probe.server_alive(self.name):
                return self
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"jackd did not come up within {timeout_seconds:g} s: {self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL after 10 s; the server's leftover files are removed."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for leftover in Path("/dev/shm").glob(f"jack_sem.*_{self.name}_*"):
            leftover.unlink(missing_ok=True)
        self.log_path.unlink(missing_ok=True)

    def _system_client_exists(self) -> bool:
        return any(Path("/dev/shm").glob(f"jack_sem.*_{self.name}_system"))

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def xruns(self) -> tuple[int, int]:
        """(client, server) xruns jackd's log reports so far.

        client: lines "JackEngine::XRun: client = ... was not finished", about one per cycle
        in which a client (here: ganloops) did not hand its block back in time;
        server: lines "JackTimedDriver::Process XRun = N usec", cycles in which jackd itself
        woke up late (on a loaded machine without realtime scheduling). PortAudio's underflow
        flags echo both kinds, so they are reported but not added to these.
        """
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return 0, 0
        client = sum(1 for line in lines if _XRUN.search(line) and "not finished" in line)
        server = sum(1 for line in lines if _XRUN.search(line) and "not finished" not in line)
        return client, server

    def log_tail(self, lines: int = 6) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) or "(empty log)"
        except OSError:
            return "(no log)"

    @contextlib.contextmanager
    def as_default_server(self) -> Iterator[None]:
        """This process's JACK clients (PortAudio's) connect to this server while inside."""
        saved = {key: os.environ.get(key) for key in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def __enter__(self) -> "DummyJack":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _jackd_version(jackd: str) -> str:
    try:
        proc = subprocess.run([jackd, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in (proc.stdout + proc.stderr).splitlines():
        if "version" in line.lower():
            return " ".join(line.split())
    return ""
