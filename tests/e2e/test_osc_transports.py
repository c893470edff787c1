"""OSC end to end: real clients (Python sockets, liblo's oscsend, Pure Data) against the real
engine with a tiny exported model, over UDP on 127.0.0.1.

The engine is not started (no sound card here): its state is read back with
/ganloops/query, and what it plays is rendered with ``render_offline`` in the test's
thread, at the tiny bundle's own rate (4000 Hz, 120 BPM, one bar = 8000 frames).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from instrument.engine import Engine, EngineConfig
from instrument.osc import OscServer
from instrument.osc_schema import QUERY_END
from instrument.scenes import SceneStore
from tests.instrument.audio_checks import OTHER_LOOP_MAX, loop_similarity, mono, rms
from tests.instrument.conftest import style_bundle, tiny_bundles, wavegan_bundle  # noqa: F401 (fixtures)
from tests.instrument.osc_helpers import OscTestClient, wait_until
from tests.instrument.test_osc import CONTROLS, _fuzz_datagram, _fuzz_seeds

RATE_HZ = 4000
LOOP_FRAMES = 8000
TOOL_SECONDS = 30


def make_engine() -> Engine:
    return Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=100, limiter_ceiling_db=0.0), provider="cpu")


@pytest.fixture
def engine() -> Engine:
    return make_engine()


@pytest.fixture
def server(engine: Engine, tmp_path: Path) -> Iterator[OscServer]:
    with OscServer(engine, port=0, scenes=SceneStore(tmp_path / "scenes")) as srv:
        yield srv


@pytest.fixture
def client(server: OscServer) -> Iterator[OscTestClient]:
    with OscTestClient(server.port) as c:
        yield c


def test_every_control_address_reaches_the_real_engine(client: OscTestClient, server: OscServer,
                                                       engine: Engine) -> None:
    for address, args, _, _ in CONTROLS:
        client.send(address, *args)
    state = client.query()
    for _, _, _, (address, expected) in CONTROLS:
        assert state[address] == pytest.approx(expected), address
    direct = engine.state()
    assert direct["decks"][0]["knobs"][2] == 0.5 and direct["decks"][1]["knobs"][15] == -1.0
    assert direct["decks"][0]["mute"] is True and direct["tempo_bpm"] == 128.0
    assert sum(server.rejected.values()) == 0


def test_the_engine_refuses_what_it_does_not_have(client: OscTestClient, server: OscServer) -> None:
    client.send("/ganloops/deck/3/seed", 1)  # a two-deck engine
    client.query()
    assert server.rejected["out_of_range"] == 1


def test_osc_controls_are_heard_in_the_rendered_output(client: OscTestClient, engine: Engine,
                                                       style_bundle: Path) -> None:  # noqa: F811
    client.send("/ganloops/deck/1/model", str(style_bundle))
    client.send("/ganloops/crossfade", 0.0)  # deck 1 only
    client.send("/ganloops/deck/1/gain", 0.5)
    client.query()
    reference = engine.render_offline(LOOP_FRAMES)  # waits for the load; one bar of seed 0
    assert np.abs(reference).max() > 0.05

    client.send("/ganloops/deck/1/seed", 5)
    client.query()
    other = engine.render_offline(LOOP_FRAMES)  # the same bar phase, another seed
    assert np.abs(other[200:] - reference[200:]).max() > 0.05

    client.send("/ganloops/deck/1/seed", 0.0)  # as Pd sends it
    client.query()
    back = engine.render_offline(LOOP_FRAMES)  # crossfade (120 frames) back to seed 0's loop
    np.testing.assert_allclose(back[200:], reference[200:], atol=1e-6)

    client.send("/ganloops/deck/1/mute", 1)
    client.query()
    muted = engine.render_offline(2000)
    assert np.abs(muted[1000:]).max() == 0.0


def test_liblo_oscsend_sets_a_seed_and_a_gain_and_the_deck_sounds_different(
        client: OscTestClient, server: OscServer, engine: Engine, style_bundle: Path) -> None:  # noqa: F811
    """liblo's oscsend against the real server; deck 1 plays the tiny bundle. Before, two bars
    of its output are the same loop sample for sample; after oscsend's seed and knob, the
    loop is another (``loop_similarity`` below ``OTHER_LOOP_MAX``)."""
    oscsend = shutil.which("oscsend")
    if oscsend is None:
        pytest.skip("liblo-tools (oscsend) is not installed")
    engine.load_deck(1, style_bundle, wait=True)
    engine.set_crossfade(0.0)  # deck 1 only
    playing = engine.render_offline(3 * LOOP_FRAMES)  # the first loop fades in; then it repeats
    before = playing[LOOP_FRAMES:2 * LOOP_FRAMES], playing[2 * LOOP_FRAMES:]
    np.testing.assert_array_equal(before[0], before[1])
    for command in (["/ganloops/deck/1/seed", "i", "7"], ["/ganloops/deck/2/gain", "f", "0.25"],
                    ["/ganloops/deck/1/knob/4", "i", "-1"]):  # an int for a float
        subprocess.run([oscsend, "localhost", str(server.port), *command], check=True, timeout=TOOL_SECONDS)
    wait_until(lambda: server.stats["accepted"] == 3, "oscsend's three messages")
    state = client.query()
    assert state["/ganloops/deck/1/seed"] == (7,)
    assert state["/ganloops/deck/2/gain"] == (0.25,)
    assert state["/ganloops/deck/1/knob/4"] == (-1.0,)
    after = engine.render_offline(2 * LOOP_FRAMES)[LOOP_FRAMES:]  # past the crossfade to the new loop
    assert rms(after) > 1e-3
    changed = loop_similarity(mono(before[1]), mono(after))
    assert changed < OTHER_LOOP_MAX, f"seed 7, knob 4 at -1 sound like seed 0 (similarity {changed:.3f})"


PD_PATCH = """#N canvas 0 0 600 400 12;
#X obj 20 20 loadbang;
#X obj 20 50 t b b b;
#X msg 200 80 connect 127.0.0.1 {port};
#X obj 20 300 netsend -u -b;
#X msg 110 110 11;
#X obj 110 140 oscformat ganloops deck 2 seed;
#X obj 110 230 list prepend send;
#X obj 110 260 list trim;
#X obj 20 110 delay 300;
#X msg 20 140 \\; pd quit;
#X msg 300 110 1;
#X obj 300 140 oscformat ganloops deck 2 mute;
#X msg 400 110 0.75;
#X obj 400 140 oscformat ganloops deck 2 mix fine;
#X connect 0 0 1 0;
#X connect 1 2 2 0;
#X connect 2 0 3 0;
#X connect 1 1 4 0;
#X connect 1 1 10 0;
#X connect 1 1 12 0;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 10 0 11 0;
#X connect 11 0 6 0;
#X connect 12 0 13 0;
#X connect 13 0 6 0;
#X connect 6 0 7 0;
#X connect 7 0 3 0;
#X connect 1 0 8 0;
#X connect 8 0 9 0;
"""


def test_pure_data_floats_drive_int_controls(client: OscTestClient, server: OscServer, tmp_path: Path) -> None:
    """Pd's [oscformat] sends every number as a float: seed 11.0 and mute 1.0 must work."""
    pd = shutil.which("pd")
    if pd is None:
        pytest.skip("Pure Data (pd) is not installed")
    patch = tmp_path / "send.pd"
    patch.write_text(PD_PATCH.format(port=server.port))
    subprocess.run([pd, "-nogui", "-noaudio", "-nomidi", "-noprefs", "-open", str(patch)],
                   check=True, timeout=TOOL_SECONDS, capture_output=True)
    wait_until(lambda: server.stats["accepted"] == 3, "the patch's three messages")
    state = client.query()
    assert state["/ganloops/deck/2/seed"] == (11,)
    assert state["/ganloops/deck/2/mute"] == (1,)
    assert state["/ganloops/deck/2/mix/fine"] == (0.75,)
    assert sum(server.rejected.values()) == 0


def test_subscribers_hear_model_swaps_and_other_controllers(client: OscTestClient, server: OscServer,
                                                            engine: Engine, wavegan_bundle: Path) -> None:  # noqa: F811
    with OscTestClient(server.port) as surface:
        surface.send("/ganloops/subscribe", surface.port)
        surface.receive_until(QUERY_END)

        client.send("/ganloops/deck/2/model", str(wavegan_bundle))
        client.query()
        engine.render_offline(100)  # finishes the load; the first loop swaps in
        swap = surface.receive_matching(lambda m: m.address == "/ganloops/deck/2/model")
        assert Path(str(swap.args[0])).resolve() == wavegan_bundle.resolve()

        engine.set_knob(2, 1, 0.5)  # as the MIDI controller would
        echo = surface.receive_matching(lambda m: m.address == "/ganloops/deck/2/knob/1")
        assert echo.args == (0.5,)


def test_a_future_bundle_applies_at_its_time_tag(client: OscTestClient, server: OscServer,
                                                 engine: Engine) -> None:
    lead_seconds = engine.latency_frames / RATE_HZ
    with OscTestClient(server.port) as surface:
        surface.send("/ganloops/subscribe", surface.port)
        surface.receive_until(QUERY_END)
        tag = time.time() + 1.0
        client.send_bundle(tag, ("/ganloops/deck/1/seed", 77))
        early = client.query()
        if time.time() < tag - lead_seconds:  # the reply was made before the tag was due
            assert early["/ganloops/deck/1/seed"] == (0,)
        surface.receive_matching(lambda m: m.address == "/ganloops/deck/1/seed")
        assert time.time() >= tag - lead_seconds  # never early
    assert client.query()["/ganloops/deck/1/seed"] == (77,)
    assert server.stats["scheduled"] == 1


def test_random_datagrams_leave_the_engine_playing(client: OscTestClient, server: OscServer, engine: Engine,
                                                   style_bundle: Path) -> None:  # noqa: F811
    """2000 garbage datagrams, then the engine still renders. The live version (100 000 against
    ``ganloops play`` through JACK, underruns counted): tests/e2e/test_fuzz_live.py."""
    engine.load_deck(1, style_bundle, wait=True)
    rng = random.Random(99)
    seeds = _fuzz_seeds()
    sent = 0
    for _ in range(20):
        for _ in range(100):
            client.send_raw(_fuzz_datagram(rng, seeds))
        sent += 100
        wait_until(lambda: server.stats["datagrams"] == sent, f"{sent} datagrams to be read")
    stats = client.stats()
    assert stats["rejected/internal_error"] == 0 and stats["accepted"] > 0
    out = engine.render_offline(LOOP_FRAMES)
    assert np.isfinite(out).all()
    assert engine.stats.mixer_errors == 0
