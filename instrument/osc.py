"""The OSC server: Max, Pure Data, TouchOSC or a script play the instrument over UDP.

::

    UDP datagram ──► server thread: allow-list, decode (osc_wire), validate (osc_schema)
                        │ time tag due ───────────────► engine.set_* / scenes / replies
                        └ time tag ahead ─► scheduler thread (heap) ──► the same, when due
    engine listener (every accepted change, from any controller) ──► feedback thread ──► subscribers

What it promises (docs/osc.md is the user's reference):

- Every address of DESIGN.md's table, exactly as named, plus a few additions (noise,
  unsubscribe, stats, MIDI learn, the query/stats end markers). Arguments are coerced and checked by
  ``osc_schema`` with the engine's own ranges, so a value the server accepts is one the
  engine accepts too; the engine still has the last word (its ValueError counts as
  ``out_of_range``).
- Nothing a client sends can stop the server: each datagram is handled inside a guard;
  bad input is rejected, counted per reason (``stats``, ``/ganloops/stats``) and logged at
  most once a second per reason, with the count of the lines held back.
- The audio never waits on OSC: the server only calls the engine's thread-safe setters,
  which update a snapshot and return. Replies and feedback go out over UDP (never blocks
  for long); feedback has its own thread, so a flood of changes coalesces per address
  instead of queueing without bound.
- Bundle time tags are honoured on a scheduler thread (see ``TimeTagScheduler``).
- A burst is held by a large socket receive buffer (``RECEIVE_BUFFER_BYTES``, 4 MiB, asked
  for with SO_RCVBUF; the kernel may give less, capped at net.core.rmem_max, which is logged
  once at start, never an error): datagrams the kernel drops because the buffer is full
  never reach the server and cannot be counted.

The socket thread is python-osc's ``socketserver``-based UDP server; decoding is
``osc_wire``'s strict decoder (see there for why not python-osc's).
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import logging
import numbers
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import OSCUDPServer

from instrument.osc_schema import (
    QUERY_END,
    REASONS,
    STATS_END,
    STATS_PREFIX,
    Command,
    Rejected,
    Value,
    parse_command,
    state_messages,
)
from instrument.controller_stats import RateLimitedLog, ReasonCounters
from instrument.osc_wire import OscDecodeError, decode_packet, encode_message

log = logging.getLogger("ganloops.osc")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
POLL_SECONDS = 0.1  # how fast stop() is noticed by the socket, scheduler and feedback threads
# The socket's receive buffer holds what arrives while the server thread is busy. Linux's
# default (net.core.rmem_default, 208 KiB, about 300 small datagrams) overflowed in a burst:
# at 71 000 datagrams/s, 38 % were dropped by the kernel before the server saw them (and
# so went uncounted). The kernel caps a request at net.core.rmem_max.
RECEIVE_BUFFER_BYTES = 4 << 20

Client = tuple[str, int]
Listener = Callable[[str, tuple], None]


class ControlledEngine(Protocol):
    """What the server needs from ``instrument.engine.Engine``."""

    def load_deck(self, deck: int, bundle: str | Path, wait: bool = False) -> None: ...
    def set_knob(self, deck: int, knob: int, value: float) -> None: ...
    def set_seed(self, deck: int, seed: int) -> None: ...
    def set_bseed(self, deck: int, seed: int) -> None: ...
    def set_mix(self, deck: int, group: str, value: float) -> None: ...
    def set_psi(self, deck: int, psi: float) -> None: ...
    def set_noise(self, deck: int, strength: float) -> None: ...
    def set_gain(self, deck: int, gain: float) -> None: ...
    def set_mute(self, deck: int, mute: bool) -> None: ...
    def set_crossfade(self, value: float) -> None: ...
    def set_tempo(self, bpm: float) -> None: ...
    def state(self) -> dict[str, Any]: ...
    def apply_state(self, state: dict[str, Any]) -> None: ...
    def morph_to(self, state: dict[str, Any], beats: float) -> None: ...
    def add_listener(self, fn: Listener) -> None: ...


class SceneBackend(Protocol):
    """What the server needs from ``instrument.scenes.SceneStore`` (errors are ValueErrors)."""

    def save_engine(self, engine: Any, name: str) -> Any: ...
    def recall(self, engine: Any, name_or_path: str) -> Any: ...
    def morph(self, engine: Any, name_or_path: str, beats: float) -> Any: ...


# ---------------------------------------------------------------------------------------
# Counting and logging
# ---------------------------------------------------------------------------------------


class OscStats(ReasonCounters):
    """Thread-safe counters of the OSC server: traffic, acceptances, and rejections per reason."""

    COUNTERS: tuple[str, ...] = (
        "datagrams",           # datagrams received
        "messages",            # messages decoded from them (a bundle holds several)
        "accepted",            # messages that changed something or were answered
        "scheduled",           # messages held for a future time tag
        "replies",             # datagrams sent in reply to /query, /stats, /subscribe
        "feedback_sent",       # datagrams sent to subscribers
        "feedback_coalesced",  # changes superseded by a newer value before they were sent
        "send_errors",         # datagrams that could not be sent (unreachable host, ...)
    )

    def __init__(self) -> None:
        super().__init__(self.COUNTERS, REASONS)


# ---------------------------------------------------------------------------------------
# Time tags
# ---------------------------------------------------------------------------------------


class TimeTagScheduler:
    """Runs callbacks at OSC time tags, on its own thread, in time-tag order.

    The mapping onto the engine's clock: an OSC time tag is an absolute wall-clock time
    (NTP; converted to Unix seconds when decoded), which is the clock the sender reads. A
    change made at wall time t is applied by the engine's mixer at its next block, which
    the listener hears ``lead_seconds`` later (the engine's ring: ``latency_frames`` /
    ``sample_rate_hz``). So a message tagged T is handed to the engine at wall time
    T - lead_seconds and is heard at T, i.e. at transport frame
    ``transport_frames_now + (T - now) * sample_rate_hz``, give or take one block and the
    sound card's own output latency. Tags at or before ``now + lead_seconds`` (and the
    reserved "immediately" tag) apply at once.

    A wall clock (not the transport) is what waits: the transport stands still when the
    engine is stopped or rendering offline, and the sender's time tags are wall times. Over
    the at most ``max_ahead_seconds`` a tag may lie ahead, the two clocks drift apart by far
    less than a block.
    """

    def __init__(self, run: Callable[[Callable[[], None]], None], clock: Callable[[], float] = time.time,
                 capacity: int = 4096) -> None:
        self._run = run
        self._clock = clock
        self._capacity = capacity
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._cond = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def add(self, due_unix_seconds: float, action: Callable[[], None]) -> bool:
        """Queue `action` for `due_unix_seconds`; False (nothing queued) when the queue is full."""
        with self._cond:
            if len(self._heap) >= self._capacity:
                return False
            heapq.heappush(self._heap, (due_unix_seconds, next(self._sequence), action))
            self._cond.notify()
        return True

    def wake(self) -> None:
        """Re-check the clock now (a test that moves its clock calls this)."""
        with self._cond:
            self._cond.notify()

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="ganloops-osc-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Stop the thread; returns how many queued actions were dropped."""
        with self._cond:
            self._running = False
            dropped = len(self._heap)
            self._heap.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        return dropped

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._running:
                    return
                due: list[Callable[[], None]] = []
                now = self._clock()
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    # wait for the next tag, but look again at least every POLL_SECONDS: a wall
                    # clock that is stepped (NTP, a test's clock) moves the deadline too
                    wait = POLL_SECONDS if not self._heap else min(POLL_SECONDS, self._heap[0][0] - now)
                    self._cond.wait(max(wait, 0.0))
                    continue
            for action in due:
                self._run(action)


# ---------------------------------------------------------------------------------------
# The socket thread (python-osc)
# ---------------------------------------------------------------------------------------


class _PacketDispatcher(Dispatcher):
    """Hands every datagram, whole, to the OscServer; python-osc's handler routing is not used."""

    def __init__(self, receive: Callable[[bytes, Client], None]) -> None:
        super().__init__()
        self._receive = receive

    def call_handlers_for_packet(self, data: bytes, client_address: Any) -> list:  # type: ignore[override]
        self._receive(data, client_address)
        return []


class _UdpServer(OSCUDPServer):
    """python-osc's UDP server, with every datagram let through to be counted, and no stderr tracebacks."""

    max_packet_size = 65536  # socketserver reads 8192 bytes by default; a big bundle would be cut

    def __init__(self, address: tuple[str, int], receive: Callable[[bytes, Client], None],
                 on_error: Callable[[Any], None], receive_buffer_bytes: int = RECEIVE_BUFFER_BYTES) -> None:
        self._on_error = on_error
        self._receive_buffer_request = receive_buffer_bytes
        self.receive_buffer_bytes: int | None = None  # what the kernel reports after the request
        super().__init__(address, _PacketDispatcher(receive))

    def server_bind(self) -> None:
        self.receive_buffer_bytes = request_receive_buffer(self.socket, self._receive_buffer_request)
        super().server_bind()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return True  # the server counts what python-osc would silently drop

    def handle_error(self, request: Any, client_address: Any) -> None:
        self._on_error(client_address)


def request_receive_buffer(sock: socket.socket, size_bytes: int) -> int | None:
    """Ask for a `size_bytes` receive buffer (SO_RCVBUF); the size the kernel then reports, or
    None when it cannot even say. Never raises: a refusal leaves the default buffer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size_bytes)
    except (OSError, OverflowError, ValueError, TypeError):  # TypeError: a size beyond a C int
        pass
    try:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    except (OSError, ValueError):
        return None


def receive_buffer_capped(requested_bytes: int, reported_bytes: int | None) -> bool:
    """Whether the kernel gave less than asked (Linux reports twice the size it granted: the
    other half is its bookkeeping)."""
    if reported_bytes is None:
        return True
    granted = reported_bytes // 2 if sys.platform.startswith("linux") else reported_bytes
    return granted < requested_bytes


def _plain(value: Any) -> Value:
    """An engine value as something osc_wire can send (numpy scalars become int/float)."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def _parse_allow(allow: Iterable[str] | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    if allow is None:
        return None
    if isinstance(allow, str):
        allow = [allow]
    networks = []
    for entry in allow:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"allow: {entry!r} is not an IP address or network (e.g. 192.168.1.20 "
                             f"or 192.168.1.0/24)") from None
    return networks


# ---------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------


class OscServer:
    """The instrument's OSC endpoint (see the module docstring and docs/osc.md).

    `host` defaults to the loopback interface: only programs on this computer can play the
    instrument until it is asked to listen elsewhere (``host="0.0.0.0"`` or an interface's
    address). `allow` then limits who may send: IP addresses or networks ("192.168.1.0/24");
    loopback clients are always allowed, everyone else is rejected as ``not_allowed``. With
    `allow` None, every sender that reaches the port is accepted. `port` 0 picks a free port
    (read it back from ``port`` after ``start()``).

    `scenes` is the scene folder the /scene addresses use (an ``instrument.scenes.SceneStore``
    in the user's scene folder when None). `resolve_model` turns a /model argument into a
    bundle path (a name from a model library, say); by default it is used as a path.
    `clock` returns Unix seconds (a test passes a clock it moves by hand).

    `learn` and `learn_cancel` are the MIDI controller's (``MidiController.learn`` and
    ``learn_cancel``): /ganloops/learn, /ganloops/learn/with and /ganloops/learn/cancel call
    them. Without them (no MIDI running) those addresses are rejected as ``unavailable``.

    `receive_buffer_bytes` is the socket receive buffer asked for (SO_RCVBUF); what the kernel
    gave is ``receive_buffer_bytes`` after ``start()``, as the kernel reports it (Linux
    reports twice the size granted).
    """

    def __init__(self, engine: ControlledEngine, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 allow: Iterable[str] | None = None, *, scenes: SceneBackend | None = None,
                 resolve_model: Callable[[str], str | Path] | None = None,
                 clock: Callable[[], float] = time.time, max_subscribers: int = 16,
                 max_scheduled: int = 4096, max_ahead_seconds: float = 3600.0,
                 log_interval_seconds: float = 1.0,
                 learn: Callable[..., None] | None = None,
                 learn_cancel: Callable[[], None] | None = None,
                 receive_buffer_bytes: int = RECEIVE_BUFFER_BYTES) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port: expected 0..65535, got {port!r}")
        self.engine = engine
        self.host = host
        self._requested_port = port
        self._allow = _parse_allow(allow)
        self._scenes = scenes
        self._resolve_model = resolve_model
        self._learn = learn
        self._learn_cancel = learn_cancel
        self._clock = clock
        self._receive_buffer_request = receive_buffer_bytes
        self._max_subscribers = max_subscribers
        self._max_ahead_seconds = max_ahead_seconds
        self._lead_seconds = self._engine_lead_seconds(engine)
        self._counters = OscStats()
        self._log = RateLimitedLog(log, log_interval_seconds)
        self._scheduler = TimeTagScheduler(self._guarded, clock, max_scheduled)
        self._subscribers: dict[Client, None] = {}  # insertion-ordered set
        self._subscribers_lock = threading.Lock()
        self._pending: dict[str, tuple] = {}  # feedback waiting to be sent, newest value per address
        self._pending_lock = threading.Lock()
        self._feedback_wake = threading.Event()
        self._udp: _UdpServer | None = None
        self._threads: list[threading.Thread] = []
        self._running = False

    @staticmethod
    def _engine_lead_seconds(engine: Any) -> float:
        """How long before a time tag a change must reach the engine to be heard at the tag."""
        latency = getattr(engine, "latency_frames", None)
        rate = getattr(getattr(engine, "config", None), "sample_rate_hz", None)
        if isinstance(latency, numbers.Real) and isinstance(rate, numbers.Real) and rate > 0:
            return float(latency) / float(rate)
        return 0.0

    # ----- life cycle -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port once started (the real one when asked for port 0), else the requested one."""
        return self._udp.server_address[1] if self._udp is not None else self._requested_port

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Bind and start the threads; OSError (one line naming host:port) when the port cannot be had."""
        if self._running:
            return
        try:
            self._udp = _UdpServer((self.host, self._requested_port), self.handle_datagram, self._on_socket_error,
                                   self._receive_buffer_request)
        except (OSError, OverflowError) as e:
            raise OSError(f"OSC: cannot listen on {self.host}:{self._requested_port} ({e})") from None
        self._running = True
        self.engine.add_listener(self._on_engine_change)
        self._scheduler.start()
        self._threads = [
            threading.Thread(target=self._udp.serve_forever, args=(POLL_SECONDS,), name="ganloops-osc", daemon=True),
            threading.Thread(target=self._feedback_loop, name="ganloops-osc-feedback", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        where = f"{self.host}:{self.port}"
        if ipaddress.ip_address(self._udp.server_address[0]).is_loopback:
            log.info("OSC on %s (this computer only)", where)
        else:
            allowed = "anyone who can reach it" if self._allow is None else ", ".join(map(str, self._allow))
            log.info("OSC on %s, reachable from the network; allowed: loopback, %s", where, allowed)
        self._log_receive_buffer()

    @property
    def receive_buffer_bytes(self) -> int | None:
        """The socket's receive buffer as the kernel reports it (None before start, or when it cannot say)."""
        return self._udp.receive_buffer_bytes if self._udp is not None else None

    def _log_receive_buffer(self) -> None:
        """One line: the buffer the kernel gave, and what to do when it gave less than asked."""
        asked, reported = self._receive_buffer_request, self.receive_buffer_bytes
        if reported is None:
            log.info("OSC: the socket's receive buffer size is unknown (asked for %d KiB)", asked >> 10)
        elif receive_buffer_capped(asked, reported):
            log.info("OSC: receive buffer %d KiB (asked for %d KiB; the kernel caps it at net.core.rmem_max): "
                     "datagrams arriving in a burst faster than they are read may be dropped by the kernel, "
                     "uncounted", reported >> 10, asked >> 10)
        else:
            log.info("OSC: receive buffer %d KiB", reported >> 10)

    def stop(self) -> None:
        """Stop receiving; scheduled messages not yet due are dropped (and logged)."""
        if not self._running:
            return
        self._running = False
        remove = getattr(self.engine, "remove_listener", None)
        if callable(remove):
            remove(self._on_engine_change)
        if self._udp is not None:
            self._udp.shutdown()
            self._udp.server_close()
        dropped = self._scheduler.stop()
        if dropped:
            log.info("OSC stopped with %d scheduled message(s) not yet due; they were dropped", dropped)
        self._feedback_wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        self._udp = None

    def __enter__(self) -> "OscServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def set_learn(self, learn: Callable[..., None] | None, learn_cancel: Callable[[], None] | None) -> None:
        """Wire MIDI learn in (the controller's callables) or out (None: learn is ``unavailable``)."""
        self._learn, self._learn_cancel = learn, learn_cancel

    # ----- counters -----------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """All counters (see ``OscStats.snapshot``), plus "scheduled_pending" and "subscribers"."""
        out = self._counters.snapshot()
        out["scheduled_pending"] = self._scheduler.pending
        with self._subscribers_lock:
            out["subscribers"] = len(self._subscribers)
        return out

    @property
    def rejected(self) -> dict[str, int]:
        """Rejections per reason."""
        return self._counters.rejected

    @property
    def subscribers(self) -> list[Client]:
        with self._subscribers_lock:
            return list(self._subscribers)

    @property
    def scheduler(self) -> TimeTagScheduler:
        return self._scheduler

    def _reject(self, reason: str, detail: str, client: Client) -> None:
        self._counters.reject(reason)
        self._log(reason, f"OSC from {client[0]}:{client[1]} rejected ({reason}): {detail}")

    def _internal_error(self, where: str, client: Client | None) -> None:
        self._counters.reject("internal_error")
        sender = f" from {client[0]}:{client[1]}" if client else ""
        self._log("internal_error", f"OSC: unexpected error in {where}{sender}", logging.ERROR, exc_info=True)

    def _on_socket_error(self, client_address: Any) -> None:
        client = client_address if isinstance(client_address, tuple) else None
        self._internal_error("the socket thread", client)

    def _guarded(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            self._internal_error("a scheduled message", None)

    # ----- receiving ------------------------------------------------------------------------

    def _allowed(self, host: str) -> bool:
        if self._allow is None:
            return True
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_loopback or any(ip in network for network in self._allow)

    def handle_datagram(self, data: bytes, client: Client) -> None:
        """Everything one datagram asks for (the socket thread calls this; tests may too). Never raises."""
        try:
            self._handle_datagram(data, (str(client[0]), int(client[1])))
        except Exception:
            self._internal_error("a datagram", client)

    def _handle_datagram(self, data: bytes, client: Client) -> None:
        self._counters.add("datagrams")
        if not self._allowed(client[0]):
            self._reject("not_allowed", "sender is not on the allow-list", client)
            return
        try:
            messages = decode_packet(data)
        except OscDecodeError as e:
            self._reject("malformed", str(e), client)
            return
        now = self._clock()
        for message in messages:
            self._counters.add("messages")
            try:
                command = parse_command(message.address, message.args)
                tag = message.time_tag_unix_seconds
                due = None if tag is None else tag - self._lead_seconds
                if due is None or due <= now:
                    self._execute(command, client)
                    continue
                if tag - now > self._max_ahead_seconds:
                    raise Rejected("too_far_ahead", f"time tag {tag - now:.0f} s ahead (at most "
                                                    f"{self._max_ahead_seconds:.0f} s)")
                if not self._scheduler.add(due, lambda c=command: self._execute(c, client)):
                    raise Rejected("queue_full", "too many scheduled messages waiting")
                self._counters.add("scheduled")
            except Rejected as r:
                self._reject(r.reason, r.detail, client)

    # ----- doing -----------------------------------------------------------------------------

    def _execute(self, command: Command, client: Client) -> None:
        """Apply one validated command now; rejections are counted, never raised."""
        try:
            self._apply(command, client)
        except Rejected as r:
            self._reject(r.reason, r.detail, client)
            return
        except ValueError as e:  # the engine refused a value (a deck this engine does not have, ...)
            self._reject("out_of_range", f"{command.address}: {e}", client)
            return
        except Exception:  # a bug, here or in the engine: the next message still gets its turn
            self._internal_error(command.address, client)
            return
        self._counters.add("accepted")

    def _apply(self, c: Command, client: Client) -> None:
        engine = self.engine
        kind, args, deck = c.kind, c.args, c.deck
        setters: dict[str, Callable[[int, Any], None]] = {
            "seed": engine.set_seed, "bseed": engine.set_bseed, "psi": engine.set_psi,
            "noise": engine.set_noise, "gain": engine.set_gain, "mute": engine.set_mute}
        if kind in setters:
            assert deck is not None
            setters[kind](deck, args[0])
        elif kind == "knob":
            assert deck is not None and c.knob is not None
            engine.set_knob(deck, c.knob, float(args[0]))
        elif kind == "mix":
            assert deck is not None and c.group is not None
            engine.set_mix(deck, c.group, float(args[0]))
        elif kind == "crossfade":
            engine.set_crossfade(float(args[0]))
        elif kind == "tempo":
            engine.set_tempo(float(args[0]))
        elif kind == "model":
            assert deck is not None
            self._load_model(deck, str(args[0]))
        elif kind.startswith("scene_"):
            self._scene(kind, args)
        elif kind == "subscribe":
            self._subscribe((client[0], int(args[0])))
        elif kind == "unsubscribe":
            with self._subscribers_lock:
                self._subscribers.pop((client[0], int(args[0])), None)
        elif kind in ("learn", "learn_with", "learn_cancel"):
            self._midi_learn(kind, args)
        elif kind == "query":
            self._send_all(self._reply_address(client, args), self._state_messages() + [(QUERY_END, ())],
                           "replies")
        elif kind == "stats":
            reply = [(STATS_PREFIX + name, (value,)) for name, value in self.stats.items()]
            self._send_all(self._reply_address(client, args), reply + [(STATS_END, ())], "replies")
        else:  # a row added to the table without a handler here
            raise Rejected("internal_error", f"{c.address} has no handler")

    @staticmethod
    def _reply_address(client: Client, args: tuple[Value, ...]) -> Client:
        return (client[0], int(args[0])) if args else client

    def _load_model(self, deck: int, text: str) -> None:
        try:
            path = Path(self._resolve_model(text) if self._resolve_model is not None else text).expanduser()
        except (ValueError, OSError, KeyError) as e:
            raise Rejected("model_error", f"deck {deck}: {e}") from None
        if not path.exists():  # the engine loads on its own thread and reports later; say it now
            raise Rejected("model_error", f"deck {deck}: no bundle at {path}")
        try:
            self.engine.load_deck(deck, path, wait=False)
        except (ValueError, OSError) as e:
            raise Rejected("model_error", f"deck {deck}: {e}") from None

    def _midi_learn(self, kind: str, args: tuple[Value, ...]) -> None:
        """Arm or cancel MIDI learn; a request learn refuses raises LearnError, a ValueError."""
        learn, cancel = self._learn, self._learn_cancel
        if learn is None or cancel is None:
            raise Rejected("unavailable", "MIDI learn needs MIDI input")
        if kind == "learn_cancel":
            cancel()
        else:
            learn(*args)

    def _scene_store(self) -> SceneBackend:
        if self._scenes is None:
            from instrument.scenes import SceneStore

            self._scenes = SceneStore()
        return self._scenes

    def _scene(self, kind: str, args: tuple[Value, ...]) -> None:
        try:
            store = self._scene_store()
            name = str(args[0])
            if kind == "scene_save":
                store.save_engine(self.engine, name)
            elif kind == "scene_recall":
                store.recall(self.engine, name)
            else:
                store.morph(self.engine, name, float(args[1]))
        except (ValueError, OSError) as e:  # SceneError is a ValueError
            raise Rejected("scene_error", str(e)) from None

    def _subscribe(self, subscriber: Client) -> None:
        with self._subscribers_lock:
            if subscriber not in self._subscribers and len(self._subscribers) >= self._max_subscribers:
                raise Rejected("queue_full", f"already {self._max_subscribers} subscribers")
            self._subscribers[subscriber] = None
        # a surface that subscribes shows the current values at once, as after a /query
        self._send_all(subscriber, self._state_messages() + [(QUERY_END, ())], "replies")

    def _state_messages(self) -> list[tuple[str, tuple[Value, ...]]]:
        return state_messages(self.engine.state())

    # ----- sending ---------------------------------------------------------------------------

    def _send_all(self, to: Client, messages: list[tuple[str, tuple]], counter: str) -> None:
        udp = self._udp
        if udp is None:
            return
        for address, args in messages:
            try:
                udp.socket.sendto(encode_message(address, tuple(_plain(a) for a in args)), to)
                self._counters.add(counter)
            except (OSError, ValueError, TypeError) as e:
                self._counters.add("send_errors")
                self._log("send_error", f"OSC: cannot send {address} to {to[0]}:{to[1]} ({e})")

    def _on_engine_change(self, address: str, args: tuple) -> None:
        """Engine listener (any thread, MIDI and scenes included): queue the change for subscribers."""
        if not self._running or not self._subscribers:
            return
        with self._pending_lock:
            if address in self._pending:
                self._counters.add("feedback_coalesced")
            self._pending[address] = tuple(args)
        self._feedback_wake.set()

    def _feedback_loop(self) -> None:
        while self._running:
            self._feedback_wake.wait(POLL_SECONDS)
            self._feedback_wake.clear()
            with self._pending_lock:
                pending, self._pending = self._pending, {}
            if not pending:
                continue
            try:
                messages = list(pending.items())
                for subscriber in self.subscribers:
                    self._send_all(subscriber, messages, "feedback_sent")
            except Exception:
                self._internal_error("the feedback thread", None)
