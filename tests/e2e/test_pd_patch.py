"""patches/ganloops.pd, for real: Pure Data (headless) plays the instrument and follows it.

``pd -nogui -nosound -nomidi`` opens a small harness patch that holds the real patch as an
abstraction, ``[ganloops PORT FEEDBACK_PORT]``, against an ``OscServer`` and a real
``Engine`` on 127.0.0.1 (ports picked free for the test). The harness moves the patch's
controls exactly as a hand would: a float sent to a slider's receive name makes the
slider jump there and output, which is what dragging does.

What is checked:

- the patch subscribes on load (the server has a subscriber on the feedback port);
- every kind of control reaches the engine: knob, seed, B seed and its randomise button,
  style mix, psi, gain, mute, crossfader, tempo; scenes saved by name, and a morph back to
  the first one (read back with /ganloops/query and from the scene folder);
- feedback: a knob moved elsewhere (here by the engine directly, as MIDI would) moves the
  patch's slider; the harness then bangs that slider once, which outputs the value it now
  shows, and Pd prints it;
- the patch recalls a scene by name: after the remote change the harness recalls the
  scene it saved, and the knob goes back;
- the sliders are heard: deck 1 plays the tiny test bundle (tests/instrument/conftest.py)
  and its output is rendered by the engine's own mixer step (``render_offline``, which the
  live mixer thread runs too). Before Pd starts, two bars of it are the same loop sample
  for sample; after the patch's moves, the loop is another (``loop_similarity`` below
  ``OTHER_LOOP_MAX``, tests/instrument/audio_checks.py).

tests/e2e/test_osc_transports.py checks a bare [oscformat] message from Pd; this is the
test of the patch itself.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from instrument.engine import Engine, EngineConfig
from instrument.osc import OscServer
from instrument.scenes import SceneStore
from tests.instrument.audio_checks import OTHER_LOOP_MAX, loop_similarity, mono, rms
from tests.instrument.conftest import style_bundle, tiny_bundles  # noqa: F401 (fixtures)
from tests.instrument.osc_helpers import OscTestClient, wait_until

PATCHES = Path(__file__).resolve().parents[2] / "patches"
PD = shutil.which("pd")

pytestmark = pytest.mark.skipif(PD is None, reason="Pure Data (pd, package puredata-core) is not installed")

# what the harness does once the patch is up: (receive name, value) as a hand on the patch would
MOVES = [
    ("ganloops-d1-knob3", "0.5"),
    ("ganloops-d2-knob8", "-0.75"),
    ("ganloops-d2-seed", "42"),
    ("ganloops-d1-bseed", "9"),
    ("ganloops-d1-mix-coarse", "0.75"),
    ("ganloops-d2-mix-fine", "0.25"),
    ("ganloops-d1-psi", "0.6"),
    ("ganloops-d2-gain", "0.3"),
    ("ganloops-d2-mute", "1"),
    ("ganloops-crossfade", "0.2"),
    ("ganloops-tempo", "131"),
    ("ganloops-d1-rand-bseed", "bang"),  # the randomise button next to deck 1's B seed
    ("ganloops-scene-name", "symbol intro"),
    ("ganloops-scene-save", "bang"),
    ("ganloops-d1-knob3", "0.9"),
    ("ganloops-scene-name", "symbol later"),
    ("ganloops-scene-save", "bang"),  # "later" has knob 3 at 0.9
    ("ganloops-scene-name", "symbol intro"),
    ("ganloops-morph-beats", "0"),
    ("ganloops-scene-morph", "bang"),  # back to "intro" (0 beats: at once): knob 3 at 0.5
]
EXPECTED = {
    "/ganloops/deck/1/knob/3": (0.5,),
    "/ganloops/deck/2/knob/8": (-0.75,),
    "/ganloops/deck/2/seed": (42,),
    "/ganloops/deck/1/mix/coarse": (0.75,),
    "/ganloops/deck/2/mix/fine": (0.25,),
    "/ganloops/deck/1/psi": (pytest.approx(0.6),),
    "/ganloops/deck/2/gain": (pytest.approx(0.3),),
    "/ganloops/deck/2/mute": (1,),
    "/ganloops/crossfade": (pytest.approx(0.2),),
    "/ganloops/tempo": (131.0,),
}
REMOTE_VALUE = -0.5  # deck 2 knob 5, set by the engine (not by Pd)
RATE_HZ = 8000
LOOP_FRAMES = 16000  # the tiny bundle's bar at 120 BPM, at RATE_HZ


def harness(osc_port: int, feedback_port: int) -> str:
    moves = " \\; ".join(f"{name} {value}" for name, value in MOVES)
    return f"""#N canvas 0 50 700 400 10;
#X obj 10 10 ganloops {osc_port} {feedback_port};
#X obj 10 40 loadbang;
#X obj 10 65 delay 500;
#X msg 10 90 \\; {moves};
#X obj 10 150 r ganloops-in;
#X obj 10 175 route deck;
#X obj 10 200 route 2;
#X obj 10 225 route knob;
#X obj 10 250 route 5;
#X obj 10 275 moses -0.4;
#X obj 10 300 spigot 1;
#X obj 10 325 t b b b;
#X obj 10 350 delay 100;
#X msg 10 375 \\; ganloops-d2-knob5 bang;
#X obj 200 350 delay 400;
#X msg 200 375 \\; ganloops-scene-recall bang;
#X msg 400 350 0;
#X obj 400 150 r ganloops-d2-knob5-out;
#X obj 400 175 print SLIDER-d2-knob5;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 4 0 5 0;
#X connect 5 0 6 0;
#X connect 6 0 7 0;
#X connect 7 0 8 0;
#X connect 8 0 9 0;
#X connect 9 0 10 0;
#X connect 10 0 11 0;
#X connect 11 2 16 0;
#X connect 16 0 10 1;
#X connect 11 1 12 0;
#X connect 12 0 13 0;
#X connect 11 0 14 0;
#X connect 14 0 15 0;
#X connect 17 0 18 0;
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def engine() -> Engine:
    return Engine(EngineConfig(sample_rate_hz=RATE_HZ, block_frames=128), provider="cpu")


@pytest.fixture
def scenes(tmp_path: Path) -> SceneStore:
    return SceneStore(tmp_path / "scenes")


@pytest.fixture
def server(engine: Engine, scenes: SceneStore) -> Iterator[OscServer]:
    with OscServer(engine, port=0, scenes=scenes) as srv:
        yield srv


def test_the_pure_data_patch_plays_and_follows_the_instrument(engine: Engine, server: OscServer,
                                                               scenes: SceneStore, tmp_path: Path,
                                                               style_bundle: Path) -> None:  # noqa: F811
    engine.load_deck(1, style_bundle, wait=True)
    playing = engine.render_offline(3 * LOOP_FRAMES)  # the first loop fades in; then it repeats
    before = playing[LOOP_FRAMES:2 * LOOP_FRAMES], playing[2 * LOOP_FRAMES:]
    np.testing.assert_array_equal(before[0], before[1])
    feedback_port = free_udp_port()
    patch = tmp_path / "harness.pd"
    patch.write_text(harness(server.port, feedback_port))
    log = tmp_path / "pd.log"
    with log.open("w") as out:
        pd = subprocess.Popen([str(PD), "-nogui", "-nosound", "-nomidi", "-noprefs", "-stderr",
                               "-path", str(PATCHES), "-open", str(patch)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: ("127.0.0.1", feedback_port) in server.subscribers, "the patch to subscribe on load")
        with OscTestClient(server.port) as client:
            def applied() -> bool:
                """Scene "later" saved (knob 3 at 0.9), then the morph back: knob 3 at 0.5 again."""
                time.sleep(0.02)  # one query per 20 ms is plenty
                if "later" not in scenes.list():
                    return False
                state = client.query()
                return all(state.get(address) == value for address, value in EXPECTED.items())

            wait_until(applied, "the patch's moves, scenes and morph to reach the engine")
            assert sorted(scenes.list()) == ["intro", "later"]
            intro, later = scenes.load("intro").state, scenes.load("later").state
            assert later["decks"][0]["knobs"][2] == pytest.approx(0.9) and intro["decks"][0]["knobs"][2] == 0.5
            randomised = client.query()["/ganloops/deck/1/bseed"][0]
            assert randomised not in (1, 9) and intro["decks"][0]["bseed"] == randomised

            engine.set_knob(2, 5, REMOTE_VALUE)  # as a MIDI controller would
            wait_until(lambda: f"SLIDER-d2-knob5: {REMOTE_VALUE:g}" in log.read_text(),
                       "the patch's slider to show the remote change")
            wait_until(lambda: time.sleep(0.02) or client.query()["/ganloops/deck/2/knob/5"] == (0.0,),
                       "the patch to recall scene 'intro'")
            state = client.query()
            assert all(state[address] == value for address, value in EXPECTED.items())  # the scene had them all
    finally:
        pd.terminate()
        pd.wait(timeout=10)
    assert sum(server.rejected.values()) == 0, (server.rejected, log.read_text()[-2000:])
    assert "error" not in log.read_text().lower(), log.read_text()[-2000:]
    # heard: deck 1's knob 3, B seed and style mix, psi, the crossfader and the tempo moved
    after = engine.render_offline(2 * LOOP_FRAMES)[LOOP_FRAMES:]  # past the crossfade to the new loop
    assert rms(after) > 1e-3
    changed = loop_similarity(mono(before[1]), mono(after))
    assert changed < OTHER_LOOP_MAX, f"deck 1 sounds as before the patch moved it (similarity {changed:.3f})"
