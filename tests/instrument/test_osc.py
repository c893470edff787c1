"""The OSC server against a recording engine, over real UDP on 127.0.0.1 (a free port per test).

State is read back the way a patch reads it, with /ganloops/query; what the server asked
the engine to do is read from the engine's call record. Every rejection reason is sent
on purpose and must be counted exactly once, and a fuzz run (raw bytes over UDP, and
hypothesis-built messages and bundles) must leave the server alive with every datagram
accounted for and no internal error.

``GANLOOPS_OSC_FUZZ_DATAGRAMS`` sets how many raw datagrams the fuzz run sends (20 000
by default; the longer run uses 100 000).
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import struct
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instrument.osc import (
    RECEIVE_BUFFER_BYTES,
    OscServer,
    RateLimitedLog,
    receive_buffer_capped,
    request_receive_buffer,
)
from instrument.osc_schema import ADDRESSES, QUERY_END, REASONS, address_for, parse_command
from instrument.osc_wire import (
    OscDecodeError,
    decode_packet,
    encode_bundle,
    encode_message,
    ntp_to_unix_seconds,
    unix_seconds_to_ntp,
)
from instrument.scenes import SceneStore
from tests.instrument.osc_helpers import ManualClock, OscTestClient, RecordingEngine, wait_until

FUZZ_DATAGRAMS = int(os.environ.get("GANLOOPS_OSC_FUZZ_DATAGRAMS", "20000"))


@pytest.fixture
def engine() -> RecordingEngine:
    return RecordingEngine(decks=2)


@pytest.fixture
def server(engine: RecordingEngine, tmp_path: Path) -> Iterator[OscServer]:
    with OscServer(engine, port=0, scenes=SceneStore(tmp_path / "scenes")) as srv:
        yield srv


@pytest.fixture
def client(server: OscServer) -> Iterator[OscTestClient]:
    with OscTestClient(server.port) as c:
        yield c


def only_rejection(server: OscServer, reason: str) -> None:
    """Exactly one rejection so far, for `reason`."""
    rejected = server.rejected
    assert rejected[reason] == 1, rejected
    assert sum(rejected.values()) == 1, rejected


# ---------------------------------------------------------------------------------------
# Binding
# ---------------------------------------------------------------------------------------


def test_port_zero_binds_a_free_loopback_port_and_reads_it_back(server: OscServer) -> None:
    assert server.port != 0
    assert server.host == "127.0.0.1"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(OSError):  # the port really is taken, by the server
        probe.bind(("127.0.0.1", server.port))
    probe.close()


def test_a_taken_port_is_one_oserror_naming_it(server: OscServer, engine: RecordingEngine) -> None:
    other = OscServer(engine, port=server.port)
    with pytest.raises(OSError, match=rf"127\.0\.0\.1:{server.port}"):
        other.start()
    assert not other.running


def _rmem_max() -> int | None:
    try:
        return int(Path("/proc/sys/net/core/rmem_max").read_text())
    except (OSError, ValueError):
        return None


def test_the_socket_asks_for_a_large_receive_buffer_and_logs_what_it_got(
        engine: RecordingEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ganloops.osc")
    with OscServer(engine, port=0) as srv:
        reported = srv.receive_buffer_bytes
        assert reported is not None and reported == srv._udp.socket.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        rmem_max = _rmem_max()
        if rmem_max is not None:  # Linux grants min(request, rmem_max) and reports twice that
            assert reported == 2 * min(RECEIVE_BUFFER_BYTES, rmem_max)
            assert receive_buffer_capped(RECEIVE_BUFFER_BYTES, reported) == (rmem_max < RECEIVE_BUFFER_BYTES)
    lines = [r.getMessage() for r in caplog.records if "receive buffer" in r.getMessage()]
    assert len(lines) == 1 and f"{reported >> 10} KiB" in lines[0]


def test_a_refused_receive_buffer_request_is_logged_not_an_error(
        engine: RecordingEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ganloops.osc")
    with OscServer(engine, port=0, receive_buffer_bytes=1 << 40) as srv, OscTestClient(srv.port) as c:
        assert srv.receive_buffer_bytes is not None  # the default buffer, still there
        assert c.stats()["datagrams"] == 1  # and the server works
    assert any("asked for" in r.getMessage() and "rmem_max" in r.getMessage() for r in caplog.records)

    class Refusing:
        def setsockopt(self, *args: object) -> None:
            raise PermissionError("no")

        def getsockopt(self, *args: object) -> int:
            raise OSError("no")

    assert request_receive_buffer(Refusing(), 1 << 22) is None  # type: ignore[arg-type]
    assert receive_buffer_capped(1 << 22, None)


def test_bad_constructor_arguments_are_refused(engine: RecordingEngine) -> None:
    with pytest.raises(ValueError, match="port"):
        OscServer(engine, port=70000)
    with pytest.raises(ValueError, match="allow"):
        OscServer(engine, allow=["not-an-address"])


def test_stop_removes_the_listener_and_frees_the_port(engine: RecordingEngine) -> None:
    srv = OscServer(engine, port=0)
    srv.start()
    port = srv.port
    assert len(engine.listeners) == 1
    srv.stop()
    assert engine.listeners == []
    again = OscServer(engine, port=port)
    again.start()
    again.stop()


# ---------------------------------------------------------------------------------------
# Every address
# ---------------------------------------------------------------------------------------

# (address, args sent, engine call expected, the /query entry expected afterwards)
CONTROLS = [
    ("/ganloops/deck/1/knob/3", (0.5,), ("set_knob", (1, 3, 0.5)), ("/ganloops/deck/1/knob/3", (0.5,))),
    ("/ganloops/deck/2/knob/16", (-1.0,), ("set_knob", (2, 16, -1.0)), ("/ganloops/deck/2/knob/16", (-1.0,))),
    ("/ganloops/deck/1/seed", (7,), ("set_seed", (1, 7)), ("/ganloops/deck/1/seed", (7,))),
    ("/ganloops/deck/2/bseed", (123456,), ("set_bseed", (2, 123456)), ("/ganloops/deck/2/bseed", (123456,))),
    ("/ganloops/deck/1/mix/coarse", (0.25,), ("set_mix", (1, "coarse", 0.25)),
     ("/ganloops/deck/1/mix/coarse", (0.25,))),
    ("/ganloops/deck/1/mix/middle", (1.0,), ("set_mix", (1, "middle", 1.0)), ("/ganloops/deck/1/mix/middle", (1.0,))),
    ("/ganloops/deck/2/mix/fine", (0.75,), ("set_mix", (2, "fine", 0.75)), ("/ganloops/deck/2/mix/fine", (0.75,))),
    ("/ganloops/deck/1/psi", (0.5,), ("set_psi", (1, 0.5)), ("/ganloops/deck/1/psi", (0.5,))),
    ("/ganloops/deck/2/noise", (0.25,), ("set_noise", (2, 0.25)), ("/ganloops/deck/2/noise", (0.25,))),
    ("/ganloops/deck/2/gain", (0.5,), ("set_gain", (2, 0.5)), ("/ganloops/deck/2/gain", (0.5,))),
    ("/ganloops/deck/1/mute", (1,), ("set_mute", (1, True)), ("/ganloops/deck/1/mute", (1,))),
    ("/ganloops/crossfade", (0.125,), ("set_crossfade", (0.125,)), ("/ganloops/crossfade", (0.125,))),
    ("/ganloops/tempo", (128.0,), ("set_tempo", (128.0,)), ("/ganloops/tempo", (128.0,))),
]


@pytest.mark.parametrize("address, args, call, entry", CONTROLS, ids=[c[0] for c in CONTROLS])
def test_each_control_address_changes_the_state_seen_by_query(
        client: OscTestClient, server: OscServer, engine: RecordingEngine,
        address: str, args: tuple, call: tuple, entry: tuple) -> None:
    before = client.query()
    assert before.get(entry[0]) != entry[1]
    client.send(address, *args)
    after = client.query()
    assert after[entry[0]] == pytest.approx(entry[1])
    assert engine.calls_named(call[0]) == [call[1]]
    changed = {a for a in after if after[a] != before.get(a)}
    assert changed == {entry[0]}
    wait_until(lambda: server.stats["accepted"] == 3, "query, the control, query counted as accepted")


def test_query_lists_every_control_once_then_the_end_marker(client: OscTestClient) -> None:
    client.send("/ganloops/tempo", 100.0)
    client.send("/ganloops/query")
    messages = client.receive_until(QUERY_END)
    addresses = [m.address for m in messages]
    assert len(addresses) == len(set(addresses))
    per_deck = 1 + 2 + 16 + 3 + 4  # model, seeds, knobs, mixes, psi/noise/gain/mute
    assert len(addresses) == 2 * per_deck + 2
    for message in messages:  # every reply is itself a valid input (the model path aside)
        if not message.address.endswith("/model"):
            parse_command(message.address, message.args)
    assert [m for m in messages if m.address == "/ganloops/deck/1/model"][0].args == ("",)


def test_model_loads_an_existing_bundle_folder(client: OscTestClient, engine: RecordingEngine,
                                               tmp_path: Path) -> None:
    bundle = tmp_path / "my-bundle"
    bundle.mkdir()
    client.send("/ganloops/deck/2/model", str(bundle))
    assert client.query()["/ganloops/deck/2/model"] == (str(bundle),)
    assert engine.calls_named("load_deck") == [(2, bundle, False)]


def test_model_that_does_not_exist_is_a_model_error(client: OscTestClient, server: OscServer,
                                                    engine: RecordingEngine, tmp_path: Path) -> None:
    client.send("/ganloops/deck/1/model", str(tmp_path / "missing"))
    client.query()
    only_rejection(server, "model_error")
    assert engine.calls_named("load_deck") == []


def test_model_names_go_through_resolve_model(engine: RecordingEngine, tmp_path: Path) -> None:
    (tmp_path / "kicks").mkdir()
    with OscServer(engine, port=0, resolve_model=lambda name: tmp_path / name) as srv, \
            OscTestClient(srv.port) as c:
        c.send("/ganloops/deck/1/model", "kicks")
        c.query()
    assert engine.calls_named("load_deck") == [(1, tmp_path / "kicks", False)]


def test_scene_save_recall_and_morph(client: OscTestClient, server: OscServer, engine: RecordingEngine,
                                     tmp_path: Path) -> None:
    client.send("/ganloops/deck/1/seed", 42)
    client.send("/ganloops/scene/save", "drop")
    client.query()
    saved = SceneStore(tmp_path / "scenes").load("drop")
    assert saved.state["decks"][0]["seed"] == 42
    client.send("/ganloops/scene/recall", "drop")
    client.send("/ganloops/scene/morph", "drop", 8)  # an int for the float beats
    client.query()
    assert engine.calls_named("apply_state") == [(saved.state,)]
    assert engine.calls_named("morph_to") == [(saved.state, 8.0)]
    assert sum(server.rejected.values()) == 0


def test_unknown_scene_and_bad_scene_name_are_scene_errors(client: OscTestClient, server: OscServer) -> None:
    client.send("/ganloops/scene/recall", "never-saved")
    client.send("/ganloops/scene/save", "../escape")
    client.query()
    assert server.rejected["scene_error"] == 2


def test_stats_reply_matches_the_counters(client: OscTestClient, server: OscServer) -> None:
    client.send("/ganloops/nope")
    client.send("/ganloops/deck/1/knob/1", 5.0)
    counters = client.stats()
    assert counters["rejected/unknown_address"] == 1
    assert counters["rejected/out_of_range"] == 1
    assert counters["rejected"] == 2
    assert set(f"rejected/{r}" for r in REASONS) <= set(counters)
    assert counters["datagrams"] == 3 and counters["messages"] == 3


def test_query_with_a_port_replies_to_that_port(client: OscTestClient) -> None:
    with OscTestClient(client.server[1]) as listener:
        client.send("/ganloops/query", listener.port)
        assert listener.receive_until(QUERY_END)
    client.send("/ganloops/query", 1.0)  # a button press, not a port: the reply comes back here
    assert client.receive_until(QUERY_END)


# ---------------------------------------------------------------------------------------
# Argument coercion
# ---------------------------------------------------------------------------------------


def test_ints_are_accepted_for_floats_and_whole_floats_for_ints(client: OscTestClient,
                                                                engine: RecordingEngine) -> None:
    client.send("/ganloops/deck/1/gain", 0)
    client.send("/ganloops/deck/1/seed", 9.0)  # Pure Data sends every number as a float
    client.send("/ganloops/deck/1/mute", 1.0)
    client.send("/ganloops/deck/2/mute", True)  # OSC 1.1 T
    state = client.query()
    assert state["/ganloops/deck/1/gain"] == (0.0,)
    assert state["/ganloops/deck/1/seed"] == (9,)
    assert state["/ganloops/deck/1/mute"] == (1,) and state["/ganloops/deck/2/mute"] == (1,)
    assert engine.calls_named("set_seed") == [(1, 9)]
    assert all(type(a[1]) is int for a in engine.calls_named("set_seed"))


def test_doubles_and_int64_are_accepted(client: OscTestClient) -> None:
    client.send_raw(raw_message("/ganloops/crossfade", "d", struct.pack(">d", 0.75)))
    client.send_raw(raw_message("/ganloops/deck/1/seed", "h", struct.pack(">q", 2**40)))
    state = client.query()
    assert state["/ganloops/crossfade"] == (0.75,)
    assert state["/ganloops/deck/1/seed"] == (2**40,)


# (description, address, args, reason) -- each rejected message changes nothing
REJECTIONS = [
    ("unknown address", "/ganloops/deck/1/volume", (0.5,), "unknown_address"),
    ("deck not a number", "/ganloops/deck/one/seed", (1,), "unknown_address"),
    ("unknown mix group", "/ganloops/deck/1/mix/low", (0.5,), "unknown_address"),
    ("not ours", "/other/app", (), "unknown_address"),
    ("string for a float", "/ganloops/deck/1/knob/1", ("high",), "wrong_type"),
    ("no argument", "/ganloops/deck/1/knob/1", (), "wrong_type"),
    ("two arguments", "/ganloops/deck/1/gain", (0.5, 0.5), "wrong_type"),
    ("fractional seed", "/ganloops/deck/1/seed", (2.5,), "wrong_type"),
    ("boolean for a knob", "/ganloops/deck/1/knob/1", (True,), "wrong_type"),
    ("number for a scene name", "/ganloops/scene/recall", (3,), "wrong_type"),
    ("NaN", "/ganloops/deck/1/knob/1", (math.nan,), "not_finite"),
    ("infinity", "/ganloops/deck/1/psi", (math.inf,), "not_finite"),
    ("-infinity seed", "/ganloops/deck/1/seed", (-math.inf,), "not_finite"),
    ("knob above 1", "/ganloops/deck/1/knob/1", (1.5,), "out_of_range"),
    ("gain below 0", "/ganloops/deck/1/gain", (-0.1,), "out_of_range"),
    ("psi above the engine's range", "/ganloops/deck/1/psi", (2.5,), "out_of_range"),
    ("tempo 0", "/ganloops/tempo", (0.0,), "out_of_range"),
    ("crossfade 2", "/ganloops/crossfade", (2.0,), "out_of_range"),
    ("mute 2", "/ganloops/deck/1/mute", (2,), "out_of_range"),
    ("negative seed", "/ganloops/deck/1/seed", (-1,), "out_of_range"),
    ("deck 0", "/ganloops/deck/0/gain", (0.5,), "out_of_range"),
    ("knob 17", "/ganloops/deck/1/knob/17", (0.5,), "out_of_range"),
    ("deck 3 of 2 (the engine says so)", "/ganloops/deck/3/gain", (0.5,), "out_of_range"),
    ("port 0", "/ganloops/subscribe", (0,), "out_of_range"),
    ("empty model", "/ganloops/deck/1/model", ("",), "out_of_range"),
    ("negative morph", "/ganloops/scene/morph", ("a", -1.0), "out_of_range"),
]


@pytest.mark.parametrize("what, address, args, reason", REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_each_bad_message_is_rejected_and_counted_once(
        client: OscTestClient, server: OscServer, engine: RecordingEngine,
        what: str, address: str, args: tuple, reason: str) -> None:
    before = client.query()
    client.send(address, *args)
    assert client.query() == before
    only_rejection(server, reason)
    assert [c for c in engine.calls if c[0] != "state"] == []
    wait_until(lambda: server.stats["accepted"] == 2, "the two queries counted as accepted")
    assert server.stats["accepted"] == 2


MALFORMED = [
    b"hello",                                   # not a multiple of 4
    b"nope",                                    # neither message nor bundle
    b"/ganloops/tempo\x00,f\x00\x00",            # a float announced, none sent
    b"/ganloops/tempo\x00,fx\x00" + b"\x00" * 8,  # unknown type tag
    b"/ganloops/tempo",                          # no NUL
    b"/ganloops/tempo\x00,f\x00\x00" + b"\x00" * 12,  # bytes left over
    b"#bundle\x00" + b"\x00" * 4,                # time tag cut short
    b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", 64) + b"/a\x00\x00",  # element overruns
    b"/\xff\xfe\x00,\x00\x00\x00",               # not UTF-8
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_datagrams_are_rejected_and_counted_once(client: OscTestClient, server: OscServer,
                                                           data: bytes) -> None:
    client.send_raw(data)
    client.query()
    only_rejection(server, "malformed")


def test_a_bundle_applies_its_good_messages_and_counts_its_bad_ones(client: OscTestClient,
                                                                    server: OscServer) -> None:
    client.send_bundle(None, ("/ganloops/deck/1/seed", 5), ("/ganloops/deck/1/knob/1", math.nan),
                       ("/ganloops/deck/1/gain", 0.25))
    state = client.query()
    assert state["/ganloops/deck/1/seed"] == (5,) and state["/ganloops/deck/1/gain"] == (0.25,)
    only_rejection(server, "not_finite")


def test_the_allow_list_admits_listed_hosts_and_loopback_only(engine: RecordingEngine) -> None:
    srv = OscServer(engine, port=0, allow=["10.1.2.3", "192.168.7.0/24"])
    message = encode_message("/ganloops/deck/1/seed", (3,))
    srv.handle_datagram(message, ("10.9.9.9", 5000))
    srv.handle_datagram(message, ("192.168.8.1", 5000))
    assert srv.rejected["not_allowed"] == 2 and engine.calls_named("set_seed") == []
    srv.handle_datagram(message, ("10.1.2.3", 5000))
    srv.handle_datagram(message, ("192.168.7.99", 5000))
    srv.handle_datagram(message, ("::ffff:192.168.7.5", 5000))
    srv.handle_datagram(message, ("127.0.0.1", 5000))
    srv.handle_datagram(message, ("::1", 5000))
    assert len(engine.calls_named("set_seed")) == 5
    assert srv.rejected["not_allowed"] == 2


# ---------------------------------------------------------------------------------------
# Feedback
# ---------------------------------------------------------------------------------------


def test_subscribe_sends_the_state_then_echoes_every_change(client: OscTestClient, server: OscServer,
                                                            engine: RecordingEngine) -> None:
    with OscTestClient(server.port) as surface:
        surface.send("/ganloops/subscribe", surface.port)
        dump = {m.address: m.args for m in surface.receive_until(QUERY_END)}
        assert dump == client.query()
        assert server.subscribers == [("127.0.0.1", surface.port)]

        client.send("/ganloops/deck/1/knob/2", 0.5)  # from another OSC client
        echo = surface.receive()
        assert (echo.address, echo.args) == ("/ganloops/deck/1/knob/2", (0.5,))

        engine.set_gain(2, 0.25)  # from MIDI, a scene, ...: anything that goes through the engine
        echo = surface.receive()
        assert (echo.address, echo.args) == ("/ganloops/deck/2/gain", (0.25,))

        surface.send("/ganloops/unsubscribe", surface.port)
        wait_until(lambda: server.subscribers == [], "the unsubscribe")
        client.send("/ganloops/deck/1/seed", 3)
        client.query()
        surface.sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            surface.receive()
    wait_until(lambda: server.stats["feedback_sent"] == 2, "two feedback datagrams counted")


def test_a_flood_of_changes_coalesces_to_the_latest_value(engine: RecordingEngine) -> None:
    srv = OscServer(engine, port=0)
    # the listener live but no feedback thread, so the flood queues up deterministically
    srv._running = True
    srv._subscribers[("127.0.0.1", 9)] = None
    engine.add_listener(srv._on_engine_change)
    for i in range(1000):
        engine.set_knob(1, 1, i / 1000)
    assert srv._pending == {"/ganloops/deck/1/knob/1": (0.999,)}
    assert srv.stats["feedback_coalesced"] == 999


def test_subscribers_are_capped(engine: RecordingEngine) -> None:
    with OscServer(engine, port=0, max_subscribers=1) as srv, OscTestClient(srv.port) as c:
        c.send("/ganloops/subscribe", c.port)
        c.receive_until(QUERY_END)
        c.send("/ganloops/subscribe", c.port + 1 if c.port < 65535 else c.port - 1)
        c.query()
        assert srv.rejected["queue_full"] == 1 and len(srv.subscribers) == 1


# ---------------------------------------------------------------------------------------
# Time tags
# ---------------------------------------------------------------------------------------


def test_time_tags_round_trip_through_ntp() -> None:
    for t in (0.0, 1_700_000_000.25, 1_800_000_000.999):
        assert ntp_to_unix_seconds(unix_seconds_to_ntp(t)) == pytest.approx(t, abs=1e-9)
    assert ntp_to_unix_seconds(1) is None and unix_seconds_to_ntp(None) == 1


def test_future_bundles_wait_for_their_time_tag_in_order(engine: RecordingEngine) -> None:
    clock = ManualClock()
    with OscServer(engine, port=0, clock=clock) as srv, OscTestClient(srv.port) as c:
        c.send_bundle(clock.now + 20, ("/ganloops/deck/1/seed", 20))
        c.send_bundle(clock.now + 10, ("/ganloops/deck/1/seed", 10), ("/ganloops/deck/1/gain", 0.5))
        c.send_bundle(clock.now - 5, ("/ganloops/deck/2/seed", 99))  # in the past: at once
        c.send_bundle(None, ("/ganloops/deck/2/bseed", 98))  # "immediately"
        state = c.query()
        assert state["/ganloops/deck/2/seed"] == (99,) and state["/ganloops/deck/2/bseed"] == (98,)
        assert state["/ganloops/deck/1/seed"] == (0,) and state["/ganloops/deck/1/gain"] == (1.0,)
        assert srv.stats["scheduled"] == 3 and srv.stats["scheduled_pending"] == 3

        clock.now += 10
        srv.scheduler.wake()
        wait_until(lambda: srv.stats["scheduled_pending"] == 1, "the first bundle to fall due")
        state = c.query()
        assert state["/ganloops/deck/1/seed"] == (10,) and state["/ganloops/deck/1/gain"] == (0.5,)

        clock.now += 10
        srv.scheduler.wake()
        wait_until(lambda: srv.stats["scheduled_pending"] == 0, "the second bundle to fall due")
        assert c.query()["/ganloops/deck/1/seed"] == (20,)
    assert [a[1] for a in engine.calls_named("set_seed") if a[0] == 1] == [10, 20]


def test_nested_bundles_use_the_innermost_time_tag(engine: RecordingEngine) -> None:
    clock = ManualClock()
    inner_late = encode_bundle([encode_message("/ganloops/deck/1/seed", (5,))], clock.now + 30)
    inner_now = encode_bundle([encode_message("/ganloops/deck/1/bseed", (6,))], None)
    with OscServer(engine, port=0, clock=clock) as srv, OscTestClient(srv.port) as c:
        c.send_raw(encode_bundle([inner_late, inner_now], clock.now - 1))
        state = c.query()
        assert state["/ganloops/deck/1/bseed"] == (6,) and state["/ganloops/deck/1/seed"] == (0,)
        assert srv.stats["scheduled_pending"] == 1


def test_time_tags_too_far_ahead_or_beyond_the_queue_are_rejected(engine: RecordingEngine) -> None:
    clock = ManualClock()
    with OscServer(engine, port=0, clock=clock, max_scheduled=2, max_ahead_seconds=60) as srv, \
            OscTestClient(srv.port) as c:
        c.send_bundle(clock.now + 61, ("/ganloops/tempo", 100.0))
        for _ in range(3):
            c.send_bundle(clock.now + 30, ("/ganloops/tempo", 100.0))
        c.query()
        assert srv.rejected["too_far_ahead"] == 1 and srv.rejected["queue_full"] == 1
        assert srv.stats["scheduled_pending"] == 2


def test_a_scheduled_message_is_still_validated_when_it_arrives(engine: RecordingEngine) -> None:
    clock = ManualClock()
    with OscServer(engine, port=0, clock=clock) as srv, OscTestClient(srv.port) as c:
        c.send_bundle(clock.now + 5, ("/ganloops/deck/1/knob/1", 3.0))
        c.query()
        assert srv.rejected["out_of_range"] == 1 and srv.stats["scheduled"] == 0


def test_time_tags_lead_by_the_engine_latency(engine: RecordingEngine) -> None:
    """A tag T reaches the engine at T - latency, so the mixer's block is heard at T."""
    engine.latency_frames = 4800  # type: ignore[attr-defined]
    engine.config = type("Config", (), {"sample_rate_hz": 48000})()  # type: ignore[attr-defined]
    clock = ManualClock()
    with OscServer(engine, port=0, clock=clock) as srv, OscTestClient(srv.port) as c:
        c.send_bundle(clock.now + 0.05, ("/ganloops/deck/1/seed", 1))  # within the 0.1 s lead: now
        c.send_bundle(clock.now + 0.5, ("/ganloops/deck/1/seed", 2))
        assert c.query()["/ganloops/deck/1/seed"] == (1,)
        clock.now += 0.41  # 0.5 - 0.1 has passed
        srv.scheduler.wake()
        wait_until(lambda: srv.stats["scheduled_pending"] == 0, "the tag minus the lead")
        assert c.query()["/ganloops/deck/1/seed"] == (2,)


# ---------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------


def test_the_log_says_each_reason_at_most_once_a_second(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    logger = logging.getLogger("ganloops.osc.test")
    limited = RateLimitedLog(logger, 1.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="ganloops.osc.test"):
        written = [limited("not_finite", "nan") for _ in range(500)]
        written.append(limited("malformed", "junk"))
        now[0] += 0.999
        written.append(limited("not_finite", "nan"))
        now[0] += 0.001
        written.append(limited("not_finite", "nan again"))
    assert written.count(True) == 3 and written[0] and written[500] and written[-1]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["nan", "junk", "nan again (+500 more like this since the last line)"]


def test_rejections_are_logged_through_the_rate_limit(engine: RecordingEngine,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    srv = OscServer(engine, port=0)
    with caplog.at_level(logging.WARNING, logger="ganloops.osc"):
        for _ in range(200):
            srv.handle_datagram(encode_message("/ganloops/deck/1/knob/1", (math.nan,)), ("127.0.0.1", 1))
    lines = [r.getMessage() for r in caplog.records if r.name == "ganloops.osc"]
    assert srv.rejected["not_finite"] == 200
    assert 1 <= len(lines) <= 2 and "not_finite" in lines[0]  # 2 only if the run straddles a second


# ---------------------------------------------------------------------------------------
# Fuzzing
# ---------------------------------------------------------------------------------------


def accounted_for(stats: dict[str, int]) -> None:
    """Every datagram is malformed/not allowed or decoded; every decoded message has one outcome."""
    per_datagram = stats["rejected/malformed"] + stats["rejected/not_allowed"]
    per_message = stats["rejected"] - per_datagram
    assert stats["messages"] == stats["accepted"] + per_message + stats["scheduled"], stats
    assert stats["rejected/internal_error"] == 0, stats


def _fuzz_datagram(rng: random.Random, seeds: list[bytes]) -> bytes:
    kind = rng.random()
    if kind < 0.3:  # raw bytes, any length
        return rng.randbytes(rng.randrange(0, 96))
    if kind < 0.5:  # raw bytes, OSC-sized, starting like a message or a bundle
        head = rng.choice([b"/", b"/ganloops/", b"#bundle\x00"])
        body = rng.randbytes(rng.randrange(0, 24) * 4)
        data = head + body
        return data + b"\x00" * (-len(data) % 4)
    data = bytearray(rng.choice(seeds))  # a valid datagram, mutated
    for _ in range(rng.randrange(1, 4)):
        op = rng.random()
        if op < 0.5 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op < 0.75:
            del data[rng.randrange(len(data) + 1):]
        else:
            data += rng.randbytes(4)
    return bytes(data)


def _fuzz_seeds() -> list[bytes]:
    seeds = [encode_message(address, args) for address, args, _, _ in CONTROLS]
    seeds += [encode_message(address, args) for _, address, args, _ in REJECTIONS
              if not address.endswith(("/subscribe", "/model"))]
    seeds.append(encode_bundle(seeds[:3], None))
    seeds.append(encode_bundle([encode_bundle(seeds[3:5], 1.0)], None))
    return seeds


def test_random_datagrams_leave_the_server_alive_and_every_one_counted(engine: RecordingEngine,
                                                                       tmp_path: Path) -> None:
    rng = random.Random(1234)
    seeds = _fuzz_seeds()
    clock = ManualClock()  # time stands still: scheduled messages stay scheduled, so counts add up
    with OscServer(engine, port=0, clock=clock, max_subscribers=0, scenes=SceneStore(tmp_path)) as srv, \
            OscTestClient(srv.port) as c:
        sent = 0
        while sent < FUZZ_DATAGRAMS:
            batch = min(100, FUZZ_DATAGRAMS - sent)
            for _ in range(batch):  # loopback drops what overflows the socket buffer: send in batches
                c.send_raw(_fuzz_datagram(rng, seeds))
            sent += batch
            wait_until(lambda: srv.stats["datagrams"] == sent, f"{sent} datagrams to be read")
        stats = srv.stats
        assert stats["datagrams"] == FUZZ_DATAGRAMS
        assert stats["rejected/malformed"] > FUZZ_DATAGRAMS // 4 and stats["accepted"] > 0
        accounted_for(stats)
        assert c.stats()["datagrams"] == FUZZ_DATAGRAMS + 1  # still answering


ADDRESS_POOL = [a.template.replace("{d}", "1").replace("{k}", "2").replace("{group}", "fine") for a in ADDRESSES
                if a.kind not in ("subscribe", "unsubscribe", "query", "stats", "model")]


def _pad(raw: bytes) -> bytes:
    return raw + b"\x00" * (4 - len(raw) % 4)


def raw_message(address: str, tags: str, payload: bytes = b"") -> bytes:
    """A message with exactly the type tags and argument bytes given (types encode_message never picks)."""
    return _pad(address.encode()) + _pad(("," + tags).encode()) + payload


# one argument as (type tag, its bytes): every type the server meets from real clients
osc_arg = st.one_of(
    st.integers(-2**31, 2**31 - 1).map(lambda v: ("i", struct.pack(">i", v))),
    st.integers(-2**63, 2**63 - 1).map(lambda v: ("h", struct.pack(">q", v))),
    st.floats(width=32).map(lambda v: ("f", struct.pack(">f", v))),
    st.floats().map(lambda v: ("d", struct.pack(">d", v))),
    st.text(max_size=8).map(lambda v: ("s", _pad(v.replace("\x00", "").encode()))),
    st.sampled_from([("T", b""), ("F", b""), ("N", b"")]),
)
osc_address = st.one_of(st.sampled_from(ADDRESS_POOL),
                        st.sampled_from(ADDRESS_POOL).map(lambda a: a.replace("1", "0")),
                        st.text(max_size=20).map(lambda s: "/" + s.replace("\x00", "")))
osc_message = st.builds(lambda address, args: raw_message(address, "".join(t for t, _ in args),
                                                          b"".join(b for _, b in args)),
                        osc_address, st.lists(osc_arg, max_size=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(osc_message, min_size=1, max_size=4),
       tag_offset=st.one_of(st.none(), st.floats(-1e6, 1e6)), bundled=st.booleans())
def test_hypothesis_messages_and_bundles_are_accepted_or_counted(
        engine: RecordingEngine, tmp_path: Path, messages: list[bytes], tag_offset: float | None,
        bundled: bool) -> None:
    clock = ManualClock()
    srv = OscServer(engine, port=0, clock=clock, max_subscribers=0,  # handle_datagram needs no socket
                    scenes=SceneStore(tmp_path))
    datagrams = ([encode_bundle(messages, None if tag_offset is None else clock.now + tag_offset)]
                 if bundled else messages)
    for data in datagrams:
        srv.handle_datagram(data, ("127.0.0.1", 40000))
    stats = srv.stats
    assert stats["datagrams"] == len(datagrams)
    assert stats["rejected/malformed"] == 0  # well-formed by construction: each has an outcome
    assert stats["messages"] == len(messages)
    accounted_for(stats)
    srv.scheduler.stop()


@given(data=st.binary(max_size=200))
@settings(max_examples=500, deadline=None)
def test_the_decoder_raises_only_its_own_error(data: bytes) -> None:
    try:
        for message in decode_packet(data):
            assert message.address.startswith("/")
    except OscDecodeError:
        pass


def test_every_address_in_the_table_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "osc.md").read_text(encoding="utf-8")
    for entry in ADDRESSES:
        assert f"`{entry.template}`" in doc, entry.template
    for reason in REASONS:
        assert f"`{reason}`" in doc, reason
    for extra in (QUERY_END, "/ganloops/stats/end", "/ganloops/deck/{d}/error"):
        assert f"`{extra}`" in doc, extra
    assert address_for("knob", 1, 2) == "/ganloops/deck/1/knob/2"


# ---------------------------------------------------------------------------------------
# MIDI learn
# ---------------------------------------------------------------------------------------


class RecordingLearn:
    """Stands in for a MIDI controller's learn/learn_cancel: records the calls, refuses 'refuse'."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def learn(self, address: str = "", *args: object) -> None:
        if address == "/refuse":
            from instrument.midi import LearnError

            raise LearnError("learn: no such address")
        self.calls.append(("learn", address, *args))

    def learn_cancel(self) -> None:
        self.calls.append(("cancel",))


CLIENT = ("127.0.0.1", 40000)


def test_learn_addresses_call_the_learn_callables(engine: RecordingEngine) -> None:
    hook = RecordingLearn()
    srv = OscServer(engine, port=0, learn=hook.learn, learn_cancel=hook.learn_cancel)
    srv.handle_datagram(encode_message("/ganloops/learn", ("/ganloops/deck/1/knob/3",)), CLIENT)
    srv.handle_datagram(encode_message("/ganloops/learn/with", ("/ganloops/deck/1/knob/3", "14bit")), CLIENT)
    srv.handle_datagram(encode_message("/ganloops/learn/with", ("/ganloops/deck/2/seed", 7)), CLIENT)
    srv.handle_datagram(encode_message("/ganloops/learn/cancel", (1,)), CLIENT)  # a button's value is ignored
    assert hook.calls == [("learn", "/ganloops/deck/1/knob/3"), ("learn", "/ganloops/deck/1/knob/3", "14bit"),
                          ("learn", "/ganloops/deck/2/seed", 7), ("cancel",)]
    assert srv.stats["accepted"] == 4 and srv.stats["rejected"] == 0
    srv.scheduler.stop()


def test_a_learn_request_learn_refuses_is_out_of_range(engine: RecordingEngine) -> None:
    hook = RecordingLearn()
    srv = OscServer(engine, port=0, learn=hook.learn, learn_cancel=hook.learn_cancel)
    srv.handle_datagram(encode_message("/ganloops/learn", ("/refuse",)), CLIENT)
    only_rejection(srv, "out_of_range")
    srv.handle_datagram(encode_message("/ganloops/learn/with", ("/ganloops/deck/1/knob/3", float("nan"))), CLIENT)
    assert srv.rejected["not_finite"] == 1 and hook.calls == []
    srv.scheduler.stop()


def test_learn_without_midi_is_unavailable_counted_and_logged(engine: RecordingEngine,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    srv = OscServer(engine, port=0)
    with caplog.at_level(logging.WARNING, logger="ganloops.osc"):
        srv.handle_datagram(encode_message("/ganloops/learn", ("/ganloops/deck/1/knob/3",)), CLIENT)
    only_rejection(srv, "unavailable")
    assert [r.getMessage() for r in caplog.records] == [
        "OSC from 127.0.0.1:40000 rejected (unavailable): MIDI learn needs MIDI input"]
    for address, args in (("/ganloops/learn/with", ("/ganloops/deck/1/knob/3", "absolute")),
                          ("/ganloops/learn/cancel", ())):
        srv.handle_datagram(encode_message(address, args), CLIENT)
    assert srv.rejected["unavailable"] == 3 and srv.stats["accepted"] == 0
    hook = RecordingLearn()
    srv.set_learn(hook.learn, hook.learn_cancel)
    srv.handle_datagram(encode_message("/ganloops/learn/cancel", ()), CLIENT)
    srv.set_learn(None, None)
    srv.handle_datagram(encode_message("/ganloops/learn/cancel", ()), CLIENT)
    assert hook.calls == [("cancel",)] and srv.rejected["unavailable"] == 4
    srv.scheduler.stop()


def test_osc_learn_arms_a_real_midi_controller(engine: RecordingEngine, tmp_path: Path) -> None:
    from instrument.midi import MidiController, MidiMapping

    midi = MidiController(engine, MidiMapping(), learn_path=tmp_path / "midi.toml", backends=[])
    srv = OscServer(engine, port=0, learn=midi.learn, learn_cancel=midi.learn_cancel)
    srv.handle_datagram(encode_message("/ganloops/learn/with", ("/ganloops/deck/1/knob/3", "14bit")), CLIENT)
    assert midi.status()["learn"] == "/ganloops/deck/1/knob/3"
    srv.handle_datagram(encode_message("/ganloops/learn/cancel", ()), CLIENT)
    assert midi.status()["learn"] is None
    srv.handle_datagram(encode_message("/ganloops/learn/with", ("/ganloops/deck/1/knob/3", "sideways")), CLIENT)
    only_rejection(srv, "out_of_range")
    assert midi.status()["learn"] is None and midi.stats.snapshot()["rejected/learn_error"] == 1
    srv.scheduler.stop()
