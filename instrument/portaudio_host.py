"""The process's PortAudio library: loading it, naming its JACK client, rescanning devices.

PortAudio (through ``sounddevice``) finds devices once, when it is initialised; to see a
sound card plugged in later or a JACK server started later, it has to be terminated and
initialised again. That is simple except after a JACK server went away under a running
stream. PortAudio's JACK backend (19.6 and 19.7) then

- waits ten minutes in ``Pa_AbortStream`` / ``Pa_CloseStream`` for the JACK process
  thread to acknowledge the stop (the thread is gone with the server), and
- fails an assertion (``abort()``, the whole process dies) in ``Pa_Terminate`` because
  deactivating a client of a dead server returns an error.

So a library instance whose JACK server died is never touched again: it is *abandoned*
(kept in memory with its dead streams, never closed) and a fresh instance of PortAudio is
loaded from a private copy of the shared library (the dynamic loader treats a copy as a
different library, with its own global state), and ``sounddevice`` is pointed at it. This
is what lets ``ganloops play`` survive ``jackd`` being restarted without restarting the
process. The same trick covers a stream whose close hangs for any other reason.

Whether a JACK server is alive is asked of libjack directly (a short-lived probe client),
because PortAudio offers no way to ask.

This reaches into ``sounddevice``'s private names (``_lib``, ``_ffi``, ``_libname``,
``_initialize``, ``_terminate``, ``_initialized``); ``tests/instrument/test_audio.py``
checks they still exist, so an upgrade that renames them fails in the tests, not on stage.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import shutil
import tempfile
import threading
import time
from types import ModuleType
from typing import Any

JACK_HOST_API = "JACK Audio Connection Kit"
DEFAULT_JACK_CLIENT_NAME = "ganloops"
PORTAUDIO_HINT = ("install the PortAudio library libportaudio2 (Debian/Ubuntu: apt install libportaudio2; "
                  "Fedora: dnf install portaudio; macOS: brew install portaudio)")
# libjack's jack_client_open options: never start a server as a side effect of probing
# (JackNoStartServer), and connect to the server named in the call (JackServerName).
_JACK_NO_START_SERVER = 0x01
_JACK_SERVER_NAME = 0x04
_PROBE_CLIENT_NAME = b"ganloops-probe"


class AudioError(RuntimeError):
    """An audio problem stated in one line that names the culprit (device, rate, library)."""


def one_line(error: BaseException | str, limit: int = 240) -> str:
    """`error` as a single line of at most `limit` characters (PortAudio messages span lines)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def jack_server_name() -> str:
    """The JACK server a new client connects to now (libjack reads the same variable)."""
    return os.environ.get("JACK_DEFAULT_SERVER") or "default"


class JackProbe:
    """Asks libjack whether a JACK server is running, by connecting a client and leaving."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("jack")
        self._lib: Any = None
        if name:
            try:
                lib = ctypes.CDLL(name)
                lib.jack_client_open.restype = ctypes.c_void_p
                # variadic in C: the server name is the one extra argument JackServerName reads
                lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                                 ctypes.c_char_p]
                lib.jack_client_close.argtypes = [ctypes.c_void_p]
                lib.jack_get_uuid_for_client_name.restype = ctypes.c_void_p
                lib.jack_get_uuid_for_client_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
                lib.jack_free.argtypes = [ctypes.c_void_p]
                self._lib = lib
            except (OSError, AttributeError):
                self._lib = None

    @property
    def available(self) -> bool:
        """True when libjack is installed (a server may still not be running)."""
        return self._lib is not None

    def server_alive(self, server_name: str | None = None) -> bool:
        """True when a client can connect to `server_name` (default: ``jack_server_name()``) now."""
        return self.client_exists(server_name, None)

    def client_exists(self, server_name: str | None, client_name: str | None) -> bool:
        """True when `server_name` runs and (unless None) has a client called `client_name`.

        A client's name is what tells a live server apart from one that was restarted
        under the same name: the restarted server does not know the old clients.
        """
        if self._lib is None:
            return False
        status = ctypes.c_int(0)
        name = (server_name or jack_server_name()).encode()
        client = self._lib.jack_client_open(_PROBE_CLIENT_NAME, _JACK_NO_START_SERVER | _JACK_SERVER_NAME,
                                            ctypes.byref(status), name)
        if not client:
            return False
        try:
            if client_name is None:
                return True
            uuid = self._lib.jack_get_uuid_for_client_name(client, client_name.encode())
            if uuid:
                self._lib.jack_free(uuid)
            return bool(uuid)
        finally:
            self._lib.jack_client_close(client)


def _library_path(libname: str, symbol: str = "Pa_Initialize") -> str | None:
    """The file the dynamic loader loaded for `libname` (a soname such as 'libportaudio.so.2')."""
    if os.path.isabs(libname):
        return libname

    class _DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    try:
        address = ctypes.cast(getattr(ctypes.CDLL(libname), symbol), ctypes.c_void_p)
        dladdr = ctypes.CDLL(None).dladdr
        info = _DlInfo()
        if dladdr(address, ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError):
        pass
    return None


class PortAudioHost:
    """The one PortAudio instance this process uses, and the abandoned ones it keeps alive.

    Every PortAudio call that opens, closes or rescans goes through ``lock`` (PortAudio is
    not thread-safe, and the output's watchdog works from its own thread). Nothing here
    runs in the audio callback.
    """

    def __init__(self, jack_client_name: str = DEFAULT_JACK_CLIENT_NAME) -> None:
        self.lock = threading.RLock()
        self.jack = JackProbe()
        self._jack_client_name = jack_client_name
        self._sd: ModuleType | None = None
        self._libpath: str | None = None
        self._pa_ctypes: Any = None  # ctypes handle on the current instance (PaJack_* calls)
        # The JACK server the current instance's client belongs to (None: it has no client),
        # and when the current scan was made, unless an output already used it (see
        # ensure_fresh_scan).
        self._jack_server: str | None = None
        self._jack_client: str | None = None  # the name the server gave that client
        self._scanned_at: float | None = None
        self._scanned_for_server = ""  # JACK_DEFAULT_SERVER when the scan was made
        # Objects that must outlive everything: name buffers PortAudio points at, abandoned
        # library instances and the dead streams (with their callbacks) that belong to them.
        self._keep_alive: list[Any] = []
        self.instances_abandoned = 0

    # -- loading ---------------------------------------------------------------------------

    def sounddevice(self) -> ModuleType:
        """The ``sounddevice`` module, initialised with our JACK client name.

        Raises AudioError naming libportaudio2 when PortAudio is not installed (sounddevice
        raises OSError at import then).
        """
        with self.lock:
            if self._sd is not None:
                return self._sd
            try:
                import sounddevice as sd
            except OSError as e:
                raise AudioError(f"PortAudio library not found ({one_line(e)}): {PORTAUDIO_HINT}") from None
            self._sd = sd
            self._libpath = _library_path(sd._libname)
            try:
                self._pa_ctypes = ctypes.CDLL(sd._libname)
            except OSError:
                self._pa_ctypes = None
            # sounddevice initialised PortAudio at import, before the name could be set: a
            # JACK client made then is called "PortAudio". Name it and connect again.
            if self._set_client_name() and self.has_jack():
                sd._terminate()
                sd._initialize()
            self._scanned()
            atexit.register(self._at_exit)  # runs before sounddevice's own exit handler
            return sd

    def set_jack_client_name(self, name: str) -> None:
        """Name the JACK client of the next (re)initialisation (ports appear as NAME:out_0 ...)."""
        with self.lock:
            self._jack_client_name = name
            if self._sd is not None:
                self._set_client_name()

    def _set_client_name(self) -> bool:
        """Tell the current PortAudio instance our JACK client name; False without JACK support."""
        set_name = getattr(self._pa_ctypes, "PaJack_SetClientName", None)
        if set_name is None:
            return False
        buffer = ctypes.create_string_buffer(self._jack_client_name.encode())
        self._keep_alive.append(buffer)  # PortAudio keeps the pointer, not a copy
        return set_name(buffer) == 0

    # -- state of the current instance ------------------------------------------------------

    def has_jack(self) -> bool:
        """True when the current instance holds a JACK client (it found a server at init)."""
        sd = self.sounddevice()
        return any(api["name"] == JACK_HOST_API for api in sd.query_hostapis())

    def _scanned(self) -> None:
        """Note what the (re)initialisation just done found."""
        self._scanned_for_server = jack_server_name()
        self._jack_server = self._scanned_for_server if self.has_jack() else None
        self._jack_client = self._instance_client_name() if self._jack_server is not None else None
        self._scanned_at = time.monotonic()

    def _instance_client_name(self) -> str | None:
        """The JACK client name of the current instance (JACK may have added a suffix)."""
        get_name = getattr(self._pa_ctypes, "PaJack_GetClientName", None)
        if get_name is None:
            return None
        name = ctypes.c_char_p()
        if get_name(ctypes.byref(name)) != 0 or not name.value:
            return None
        return name.value.decode(errors="replace")

    @property
    def jack_client_name(self) -> str | None:
        """The current instance's JACK client name (e.g. "ganloops"), None without JACK."""
        return self._jack_client

    def _jack_client_dead(self) -> bool:
        """True when the current instance holds a JACK client that its server no longer knows.

        The server asked is the one the client connected to (not necessarily the one
        JACK_DEFAULT_SERVER names now), and a server restarted under the same name does
        not know the client either.
        """
        if self._jack_server is None:
            return False
        return not self.jack.client_exists(self._jack_server, self._jack_client)

    def ensure_fresh_scan(self, max_age_seconds: float = 1.0) -> None:
        """Rescan unless the current scan is younger than `max_age_seconds`, unused, and made
        for the JACK server that JACK_DEFAULT_SERVER names now.

        An output opened now must not trust a device list from minutes ago, nor one an
        earlier output saw (its server may have gone since); but ``play`` should not
        initialise PortAudio twice in a row at startup.
        """
        with self.lock:
            self.sounddevice()
            if (self._scanned_at is None or time.monotonic() - self._scanned_at > max_age_seconds
                    or self._scanned_for_server != jack_server_name()):
                self.rescan()
            self._scanned_at = None

    def keep_scan(self) -> None:
        """Let the next ``ensure_fresh_scan`` (within its age limit) reuse the current scan:
        a device chosen from it is about to be opened."""
        with self.lock:
            self._scanned_at = time.monotonic()

    # -- rescanning and abandoning ------------------------------------------------------------

    def rescan(self) -> None:
        """Find devices again (servers started, cards plugged in since the last scan)."""
        with self.lock:
            sd = self.sounddevice()
            if self._jack_client_dead():
                self.abandon()
                return
            sd._terminate()
            sd._initialize()
            self._scanned()

    def abandon(self, *leftovers: Any) -> None:
        """Leave the current instance (and `leftovers`, e.g. its dead streams) and load a fresh one.

        Raises AudioError when no fresh copy can be made; the old instance is left alone
        either way (touching it could hang or abort the process).
        """
        with self.lock:
            sd = self.sounddevice()
            self._keep_alive.extend((sd._lib, *leftovers))
            if self._libpath is None or not os.path.exists(self._libpath):
                sd._initialized = 0  # never terminate the dead instance, not even at exit
                raise AudioError("cannot reload PortAudio after the audio server went away "
                                 "(library file not found): restart ganloops")
            folder = tempfile.mkdtemp(prefix="ganloops-portaudio-")
            copy = os.path.join(folder, os.path.basename(self._libpath))
            try:
                shutil.copyfile(self._libpath, copy)
                self._pa_ctypes = ctypes.CDLL(copy)  # the cffi dlopen below gets this same handle
                sd._lib = sd._ffi.dlopen(copy)
                self._set_client_name()
            except OSError as e:
                sd._initialized = 0
                raise AudioError(f"cannot reload PortAudio after the audio server went away ({one_line(e)}): "
                                 f"restart ganloops") from None
            finally:
                shutil.rmtree(folder, ignore_errors=True)  # the mapping outlives the file
            self.instances_abandoned += 1
            sd._initialized = 0
            sd._initialize()
            self._scanned()

    def _at_exit(self) -> None:
        """Keep sounddevice's exit handler away from an instance whose JACK server died."""
        if not self.lock.acquire(timeout=2.0):
            if self._sd is not None:
                self._sd._initialized = 0
            return
        try:
            if self._sd is not None and self._jack_client_dead():
                self._sd._initialized = 0
        finally:
            self.lock.release()


_HOST: PortAudioHost | None = None
_HOST_LOCK = threading.Lock()


def portaudio_host() -> PortAudioHost:
    """The process-wide PortAudioHost (created on first use; PortAudio itself loads lazily)."""
    global _HOST
    with _HOST_LOCK:
        if _HOST is None:
            _HOST = PortAudioHost()
        return _HOST
