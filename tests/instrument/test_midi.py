"""MIDI: the mapping file, the byte tokenizer, CC/note/program dispatch, pickup, learn, clock, ports.

Everything here runs against the real ``Engine`` (no model loaded, threads not started:
its setters validate, update the control state and call listeners synchronously, which
is all MIDI touches) and in-memory ports (``MemoryBackend``), driven one poll at a time
with ``MidiController.poll_once`` so nothing depends on timing. The JACK end of it is
tests/e2e/test_midi_jack.py.
"""

from __future__ import annotations

import math
import os
import random
import socket
import statistics
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instrument.engine import Engine, EngineConfig
from instrument.midi import MemoryBackend, MidiController, create_controller
from instrument.midi.clock import ClockFollower, ClockSender
from instrument.midi.dispatch import MidiDispatcher, relative_delta
from instrument.midi.learn import LearnError
from instrument.midi.mapping import (
    CcBinding,
    MappingError,
    MidiMapping,
    NoteBinding,
    ProgramBinding,
    active_mapping,
    default_mapping,
    load_mapping,
    mapping_to_toml,
    parse_mapping_text,
    user_mapping_path,
)
from instrument.midi.jack_bridge import BridgeError, JackBridge, JackBridgeBackend
from instrument.midi.ports import JackWatch, jack_socket_state, name_matches
from instrument.midi.targets import RANDOM_SEED_MAX
from instrument.midi.wire import ERROR_KINDS, MidiTokenizer
from instrument.scenes import SceneStore

KNOB = "/ganloops/deck/1/knob/1"


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


@pytest.fixture
def engine() -> Iterator[Engine]:
    e = Engine(EngineConfig(decks=2))
    yield e
    e.stop()


def mapping_of(text: str) -> MidiMapping:
    return parse_mapping_text(text, "test.toml")


class Rig:
    """A controller on a real engine with one in-memory input, polled by hand."""

    def __init__(self, engine: Engine, mapping: MidiMapping, tmp_path: Path, **options: Any) -> None:
        self.engine = engine
        self.backend = MemoryBackend()
        self.port = self.backend.plug("test controller")
        self.scenes = SceneStore(tmp_path / "scenes")
        self.learn_path = tmp_path / "midi.toml"
        self.time = 1000.0
        self.controller = MidiController(engine, mapping, backends=[self.backend], scenes=self.scenes,
                                         learn_path=self.learn_path, clock=lambda: self.time, **options)
        self.controller.attach()

    def send(self, *messages: list[int], delta: float | None = None) -> None:
        for m in messages:
            self.port.send(m, delta)
        self.controller.poll_once()

    def cc(self, control: int, value: int, channel: int = 1) -> None:
        self.send([0xB0 | (channel - 1), control, value])

    def note(self, note: int, velocity: int = 100, channel: int = 1) -> None:
        self.send([0x90 | (channel - 1), note, velocity])

    def note_off(self, note: int, channel: int = 1) -> None:
        self.send([0x80 | (channel - 1), note, 0])

    @property
    def stats(self) -> dict[str, int]:
        return self.controller.stats.snapshot()

    def deck(self, d: int = 1) -> dict[str, Any]:
        return self.engine.state()["decks"][d - 1]


def rig_for(engine: Engine, tmp_path: Path, text: str, **options: Any) -> Rig:
    return Rig(engine, mapping_of(text), tmp_path, **options)


ONE_KNOB = f"""
[[cc]]
control = 16
address = "{KNOB}"
pickup = false
"""


# ---------------------------------------------------------------------------------------
# The mapping file
# ---------------------------------------------------------------------------------------


def test_default_mapping_has_the_documented_layout() -> None:
    m = default_mapping()
    by_control = {b.control: b for b in m.cc}
    assert len(m.cc) == 16 and len(m.notes) == 8 and len(m.programs) == 1
    assert [by_control[c].address for c in range(16, 24)] == (
        [f"/ganloops/deck/1/knob/{k}" for k in range(1, 5)] + [f"/ganloops/deck/2/knob/{k}" for k in range(1, 5)])
    assert by_control[0].address == "/ganloops/deck/1/gain" and by_control[2].address == "/ganloops/crossfade"
    notes = {n.note: n for n in m.notes}
    assert notes[36].action == "toggle" and notes[36].address == "/ganloops/deck/1/mute"
    assert notes[38].action == "random" and notes[41].value == 1
    assert m.programs[0].values == tuple(str(i) for i in range(1, 9))
    assert m.ports == () and m.clock_follow and m.clock_send_to == ""


def test_a_mapping_round_trips_through_toml() -> None:
    m = MidiMapping(
        cc=(CcBinding(16, KNOB, channel=2, range=(1.0, -1.0)),
            CcBinding(1, "/ganloops/deck/1/psi", mode="14bit", lsb=40, range=(0.25, 1.5), pickup=False),
            CcBinding(20, "/ganloops/deck/2/knob/2", mode="relative_binary_offset", sweep_ticks=64),
            CcBinding(64, "/ganloops/scene/morph", mode="button", value=("drop \"2\"\n", 8.0)),
            CcBinding(65, "/ganloops/deck/1/gain", mode="button", action="momentary", value=1.0, off=0.25)),
        notes=(NoteBinding(36, "/ganloops/deck/1/mute", channel=10, action="toggle"),
               NoteBinding(37, "/ganloops/deck/1/seed", action="set", value=12345678901),
               NoteBinding(38, "/ganloops/learn")),
        programs=(ProgramBinding("/ganloops/deck/1/model", program=3, value="bundles/täst"),
                  ProgramBinding("/ganloops/scene/recall", channel=16, values=("a", "b"))),
        ports=("nanoKONTROL2", "Launch Control"), pickup_tolerance=0.05, clock_follow=False, clock_start_stop=False,
        clock_port="MPC", clock_send_to="TR-8")
    text = mapping_to_toml(m, "a header\nof two lines")
    assert text.startswith("# a header\n# of two lines\n")
    assert parse_mapping_text(text, "again.toml") == m


BAD_MAPPINGS = [
    ("[[cc]\ncontrol = 1", "not valid TOML"),
    ("colour = 3", ": unknown key 'colour'"),
    ("format = \"something-else\"", ": format: expected 'ganloops-midi-mapping'"),
    ("format_version = 2", ": format_version: this version reads 1"),
    ("[[cc]]\naddress = \"/ganloops/tempo\"", ": cc[1]: missing 'control'"),
    ("[[cc]]\ncontrol = 1", ": cc[1]: missing 'address'"),
    ("[[cc]]\ncontrol = 130\naddress = \"/ganloops/tempo\"", ": cc[1].control: expected an integer 0..127, got 130"),
    ("[[cc]]\ncontrol = 1\nchannel = 0\naddress = \"/ganloops/crossfade\"", ": cc[1].channel: expected an integer 1..16"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/deck/1/knb/1\"", ": cc[1].address: no such address"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/deck/1/knob/17\"", ": cc[1].address: knob 17 is outside 1..16"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/query\"", ": cc[1].address: /ganloops/query is a request"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/scene/recall\"", ": cc[1].address: /ganloops/scene/recall takes no number"),
    ("[[cc]]\ncontrol = 1\ncontol = 2\naddress = \"/ganloops/crossfade\"", ": cc[1]: unknown key 'contol'"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/crossfade\"\nmode = \"relative\"", ": cc[1].mode: expected one of"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/deck/1/knob/1\"\nrange = [-2.0, 1.0]",
     ": cc[1].range: -2 is outside /ganloops/deck/1/knob/1's range -1..1"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/crossfade\"\nrange = [0.5, 0.5]", ": cc[1].range: low and high are equal"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/crossfade\"\nrange = [0, \"x\"]", ": cc[1].range: expected a finite number"),
    ("[[cc]]\ncontrol = 100\naddress = \"/ganloops/crossfade\"\nmode = \"14bit\"", ": cc[1].lsb: control 100 has no LSB"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/crossfade\"\nlsb = 33", ": cc[1].lsb: only mode = \"14bit\""),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/crossfade\"\nsweep_ticks = 10", ": cc[1].sweep_ticks: only relative"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/crossfade\"\naction = \"toggle\"", ": cc[1].action: only a 'button'"),
    ("[[cc]]\ncontrol = 1\naddress = \"/ganloops/crossfade\"\nmode = \"button\"\naction = \"toggle\"",
     ": cc[1].action: 'toggle' is for on/off controls"),
    ("[[note]]\naddress = \"/ganloops/deck/1/mute\"", ": note[1]: missing 'note'"),
    ("[[note]]\nnote = 36\naddress = \"/ganloops/scene/recall\"", ": note[1]: action 'set' needs a 'value'"),
    ("[[note]]\nnote = 36\naddress = \"/ganloops/scene/recall\"\nvalue = 3", ": note[1].value: /ganloops/scene/recall: name must be a string"),
    ("[[note]]\nnote = 36\naddress = \"/ganloops/deck/1/seed\"\naction = \"step\"\nvalue = 0", ": note[1].value: a step of 0"),
    ("[[note]]\nnote = 36\naddress = \"/ganloops/deck/1/mute\"\naction = \"toggle\"\noff = 1", ": note[1].off: only a 'momentary'"),
    ("[[note]]\nnote = 36\naddress = \"/ganloops/deck/1/gain\"\naction = \"dance\"", ": note[1].action: expected one of"),
    ("[[note]]\nnote = 36\naddress = \"/ganloops/scene/recall\"\naction = \"random\"", ": note[1].action: 'random' needs a numeric"),
    ("[[program]]\naddress = \"/ganloops/scene/recall\"", ": program[1]: give 'program' (0..127) and 'value'"),
    ("[[program]]\naddress = \"/ganloops/scene/recall\"\nvalues = []", ": program[1].values: expected a list of 1..128"),
    ("[[program]]\naddress = \"/ganloops/scene/recall\"\nvalues = [\"a\", 2]", ": program[1].values[1]: "),
    ("[[program]]\naddress = \"/ganloops/scene/recall\"\nvalues = [\"a\"]\nprogram = 1", ": program[1]: give either"),
    ("[input]\nports = \"nano\"", ": input.ports: expected a list of port names"),
    ("[input]\npickup_tolerance = 0.9", ": input.pickup_tolerance: expected 0..0.5"),
    ("[clock]\nfollow = \"yes\"", ": clock.follow: expected true or false"),
    ("cc = 3", ": cc: expected [[cc]] tables"),
]


@pytest.mark.parametrize("text, expected", BAD_MAPPINGS, ids=[e for _, e in BAD_MAPPINGS])
def test_a_bad_mapping_is_one_line_naming_the_file_and_the_key(text: str, expected: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_mapping_text(text, "my-midi.toml")
    message = str(info.value)
    assert message.startswith("my-midi.toml: ") and "\n" not in message
    assert expected in message


def test_mapping_files_are_read_from_the_user_folder_or_the_default(tmp_path: Path) -> None:
    env = {"GANLOOPS_HOME": str(tmp_path)}
    assert user_mapping_path(env) == tmp_path / "midi.toml"
    assert user_mapping_path({"XDG_CONFIG_HOME": "/cfg"}) == Path("/cfg/ganloops/midi.toml")
    mapping, learn_path = active_mapping(environ=env)
    assert mapping == default_mapping() and learn_path == tmp_path / "midi.toml"
    (tmp_path / "midi.toml").write_text(ONE_KNOB)
    mapping, learn_path = active_mapping(environ=env)
    assert [b.control for b in mapping.cc] == [16] and learn_path == tmp_path / "midi.toml"
    with pytest.raises(MappingError, match=r"nowhere\.toml: no such mapping file"):
        load_mapping(tmp_path / "nowhere.toml")
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(MappingError, match=r"bad\.toml: cannot read"):
        load_mapping(tmp_path / "bad.toml")


# ---------------------------------------------------------------------------------------
# Bytes to messages
# ---------------------------------------------------------------------------------------


def tokenize(data: bytes | list[int]) -> tuple[list[tuple[int, int, int]], MidiTokenizer]:
    t = MidiTokenizer()
    out: list[tuple[int, int, int]] = []
    t.feed(data, out)
    return out, t


def test_running_status_continues_the_last_channel_message() -> None:
    messages, t = tokenize(bytes([0xB0, 7, 100, 7, 101, 8, 5, 0xC1, 3, 4]))
    assert messages == [(0xB0, 7, 100), (0xB0, 7, 101), (0xB0, 8, 5), (0xC1, 3, 0), (0xC1, 4, 0)]
    assert t.rejected_bytes == 0


def test_realtime_bytes_pass_through_a_message_without_breaking_it() -> None:
    messages, t = tokenize(bytes([0x90, 0xF8, 60, 0xFA, 100, 0xFC]))
    assert messages == [(0xF8, 0, 0), (0xFA, 0, 0), (0x90, 60, 100), (0xFC, 0, 0)]
    assert t.rejected_bytes == 0


def test_system_common_cancels_running_status_and_garbage_is_counted_by_kind() -> None:
    messages, t = tokenize(bytes([0xB0, 1, 2, 0xF6, 3, 4, 0x90, 60, 0xB0, 0xF4, 0xF9, 0xF7, 9]))
    assert messages == [(0xB0, 1, 2), (0xF6, 0, 0)]
    assert t.errors == {"stray": 3, "truncated": 2, "undefined": 2, "eox": 1}


def test_sysex_is_skipped_without_keeping_its_bytes() -> None:
    t = MidiTokenizer()
    out: list[tuple[int, int, int]] = []
    t.feed(bytes([0xF0]) + bytes(range(128)) * 4096, out)  # half a megabyte, no F7 yet
    assert out == [] and t._data == []
    t.feed(bytes([0xF8, 0xF7, 0xB0, 1, 2]), out)
    assert out == [(0xF8, 0, 0), (0xF0, 1 + 128 * 4096, 0), (0xB0, 1, 2)]
    assert t.rejected_bytes == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_how_the_bytes_are_split_into_reads_does_not_matter(data: bytes, cuts: list[int]) -> None:
    whole, t_whole = tokenize(data)
    t = MidiTokenizer()
    pieces: list[tuple[int, int, int]] = []
    position = 0
    for size in cuts + [len(data)]:
        t.feed(data[position:position + size], pieces)
        position += size
    assert pieces == whole and t.errors == t_whole.errors


channel_messages = st.tuples(st.sampled_from([0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0]),
                             st.integers(0, 15), st.integers(0, 127), st.integers(0, 127))


@settings(max_examples=200, deadline=None)
@given(st.lists(channel_messages, max_size=40))
def test_messages_written_with_running_status_read_back_exactly(items: list[tuple[int, int, int, int]]) -> None:
    expected, data, running = [], [], None
    for kind, channel, d1, d2 in items:
        status = kind | channel
        two = kind not in (0xC0, 0xD0)
        expected.append((status, d1, d2 if two else 0))
        if status != running:
            data.append(status)
            running = status
        data += [d1, d2] if two else [d1]
    messages, t = tokenize(data)
    assert messages == expected and t.rejected_bytes == 0


# ---------------------------------------------------------------------------------------
# Control changes
# ---------------------------------------------------------------------------------------


def test_absolute_cc_scales_into_the_range(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, ONE_KNOB + """
[[cc]]
control = 17
address = "/ganloops/deck/1/knob/2"
range = [0.5, -0.5]
pickup = false

[[cc]]
control = 18
address = "/ganloops/deck/2/psi"
range = [0.3, 1.3]
pickup = false
""")
    rig.cc(16, 0)
    assert rig.deck()["knobs"][0] == -1.0
    rig.cc(16, 127)
    assert rig.deck()["knobs"][0] == 1.0
    rig.cc(16, 64)
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * 64 / 127)
    rig.cc(17, 0)
    assert rig.deck()["knobs"][1] == 0.5  # a reversed range inverts the control
    rig.cc(17, 127)
    assert rig.deck()["knobs"][1] == -0.5
    rig.cc(18, 127)
    assert rig.deck(2)["psi"] == pytest.approx(1.3)
    assert rig.stats["applied"] == 6 and rig.stats["rejected"] == 0


def test_cc_on_whole_number_targets_rounds(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, """
[[cc]]
control = 1
address = "/ganloops/deck/1/seed"
range = [0, 15]

[[cc]]
control = 2
address = "/ganloops/deck/2/mute"
""")
    rig.cc(1, 127)
    assert rig.deck()["seed"] == 15
    rig.cc(1, 60)
    assert rig.deck()["seed"] == round(60 / 127 * 15)
    rig.cc(2, 64)
    assert rig.deck(2)["mute"] is True
    rig.cc(2, 63)
    assert rig.deck(2)["mute"] is False


def test_cc_channels_and_unmapped_controls(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, ONE_KNOB.replace("control = 16", "control = 16\nchannel = 2"))
    rig.cc(16, 127, channel=1)
    assert rig.deck()["knobs"][0] == 0.0
    rig.cc(16, 127, channel=2)
    assert rig.deck()["knobs"][0] == 1.0
    rig.cc(99, 1)
    rig.send([0xE0, 0, 64], [0xD0, 5])  # pitch bend, aftertouch: nothing uses them
    assert rig.stats["ignored"] == 4 and rig.stats["rejected"] == 0


@pytest.mark.parametrize("mode, up, down", [
    ("relative_twos_complement", [1, 1, 3], [127, 126]),
    ("relative_binary_offset", [65, 65, 67], [63, 62]),
    ("relative_sign_magnitude", [1, 1, 3], [65, 66]),
])
def test_relative_encoders_add_ticks(engine: Engine, tmp_path: Path, mode: str, up: list[int],
                                     down: list[int]) -> None:
    rig = rig_for(engine, tmp_path, f"""
[[cc]]
control = 20
address = "{KNOB}"
mode = "{mode}"
sweep_ticks = 100
""")
    step = 2.0 / 100
    for v in up:
        rig.cc(20, v)
    assert rig.deck()["knobs"][0] == pytest.approx(5 * step)
    rig.cc(20, down[0])
    assert rig.deck()["knobs"][0] == pytest.approx(4 * step)
    rig.cc(20, down[1])
    assert rig.deck()["knobs"][0] == pytest.approx(2 * step)
    for _ in range(60):
        rig.cc(20, up[2])
    assert rig.deck()["knobs"][0] == 1.0  # clamped at the end of the range


def test_relative_delta_conventions() -> None:
    assert [relative_delta("relative_twos_complement", v) for v in (0, 1, 63, 64, 127)] == [0, 1, 63, -64, -1]
    assert [relative_delta("relative_binary_offset", v) for v in (64, 65, 63, 0, 127)] == [0, 1, -1, -64, 63]
    assert [relative_delta("relative_sign_magnitude", v) for v in (0, 1, 63, 64, 65, 127)] == [0, 1, 63, 0, -1, -63]


def test_relative_encoder_steps_whole_seeds(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, """
[[cc]]
control = 20
address = "/ganloops/deck/1/seed"
mode = "relative_twos_complement"
sweep_ticks = 1024
""")
    engine.set_seed(1, 10)
    rig.cc(20, 1)
    rig.cc(20, 2)
    assert rig.deck()["seed"] == 12
    rig.cc(20, 127)
    assert rig.deck()["seed"] == 11


def test_14bit_cc_pairs_msb_and_lsb(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, f"""
[[cc]]
control = 1
address = "{KNOB}"
mode = "14bit"
pickup = false
""")
    rig.send([0xB0, 1, 64], [0xB0, 33, 0])
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * 8192 / 16383)
    rig.cc(33, 127)  # the LSB alone moves in 1/16383 steps
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * (8192 + 127) / 16383)
    rig.cc(1, 127)  # a new MSB resets the LSB
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * (127 << 7) / 16383)
    rig.send([0xB0, 1, 127], [0xB0, 33, 127])
    assert rig.deck()["knobs"][0] == 1.0
    assert rig.stats["coalesced"] == 2  # MSB then LSB in one poll: one change each time


def test_a_swept_knob_costs_one_change_per_poll(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, ONE_KNOB)
    echoes: list[tuple[str, tuple]] = []
    engine.add_listener(lambda a, args: echoes.append((a, args)))
    rig.send(*[[0xB0, 16, v] for v in range(0, 128, 4)])
    assert echoes == [(KNOB, (pytest.approx(-1.0 + 2.0 * 124 / 127),))]
    assert rig.stats["applied"] == 1 and rig.stats["coalesced"] == 31


def test_a_deck_the_engine_does_not_have_is_rejected_not_fatal(tmp_path: Path) -> None:
    one_deck = Engine(EngineConfig(decks=1))
    rig = rig_for(one_deck, tmp_path, """
[[cc]]
control = 1
address = "/ganloops/deck/2/gain"

[[cc]]
control = 2
address = "/ganloops/deck/1/gain"
pickup = false
""")
    rig.send([0xB0, 1, 10], [0xB0, 2, 0])
    assert rig.stats["rejected/out_of_range"] == 1
    assert rig.deck()["gain"] == 0.0  # the next change still went through


# ---------------------------------------------------------------------------------------
# Notes, buttons and program changes
# ---------------------------------------------------------------------------------------


BUTTONS = """
[[note]]
note = 36
address = "/ganloops/deck/1/mute"
action = "toggle"

[[note]]
note = 37
address = "/ganloops/deck/1/gain"
action = "momentary"
value = 0.25
off = 1.0

[[note]]
note = 38
address = "/ganloops/deck/2/seed"
action = "random"

[[note]]
note = 39
address = "/ganloops/deck/2/seed"
action = "step"
value = -1

[[note]]
note = 40
address = "/ganloops/scene/recall"
value = "drop"

[[note]]
note = 41
address = "/ganloops/deck/1/knob/2"
action = "random"

[[cc]]
control = 64
address = "/ganloops/deck/2/mute"
mode = "button"
action = "toggle"

[[program]]
address = "/ganloops/scene/recall"
values = ["intro", "drop"]

[[program]]
channel = 2
program = 5
address = "/ganloops/deck/1/model"
value = "no/such/bundle"
"""


def test_notes_toggle_hold_randomise_and_step(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, BUTTONS)
    rig.controller.dispatcher._rng = random.Random(7)
    rig.note(36)
    rig.note_off(36)
    assert rig.deck()["mute"] is True
    rig.note(36)
    assert rig.deck()["mute"] is False
    rig.note(37)
    assert rig.deck()["gain"] == 0.25
    rig.send([0x90, 37, 0])  # note-on with velocity 0 is a note-off
    assert rig.deck()["gain"] == 1.0
    seeds = set()
    for _ in range(5):
        rig.note(38)
        seeds.add(rig.deck(2)["seed"])
    assert len(seeds) == 5 and all(0 <= s <= RANDOM_SEED_MAX for s in seeds)
    engine.set_seed(2, 1)
    rig.note(39)
    rig.note(39)
    assert rig.deck(2)["seed"] == 0  # stepped down once, then held at the bottom
    rig.note(41)
    assert -1.0 <= rig.deck()["knobs"][1] <= 1.0 and rig.deck()["knobs"][1] != 0.0
    rig.cc(64, 127)
    rig.cc(64, 127)  # held: not a second press
    assert rig.deck(2)["mute"] is True
    rig.cc(64, 0)
    rig.cc(64, 127)
    assert rig.deck(2)["mute"] is False
    assert rig.stats["rejected"] == 0


def test_notes_and_programs_recall_scenes(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, BUTTONS)
    engine.set_knob(1, 1, 0.5)
    rig.scenes.save_engine(engine, "drop")
    engine.set_knob(1, 1, -0.5)
    rig.scenes.save_engine(engine, "intro")
    rig.note(40)
    assert rig.deck()["knobs"][0] == 0.5
    rig.send([0xC0, 0])
    assert rig.deck()["knobs"][0] == -0.5
    rig.send([0xC0, 1])
    assert rig.deck()["knobs"][0] == 0.5
    rig.send([0xC0, 2])  # no scene for program 2 in the list
    assert rig.stats["ignored"] == 1
    rig.scenes.path_of("drop").unlink()
    rig.note(40)
    rig.send([0xC1, 5])
    assert rig.stats["rejected/scene_error"] == 1 and rig.stats["rejected/model_error"] == 1
    assert rig.deck()["knobs"][0] == 0.5


def test_program_changes_load_bundles(engine: Engine, tmp_path: Path) -> None:
    loaded: list[tuple[int, Path]] = []
    engine.load_deck = lambda deck, path, wait=False: loaded.append((deck, Path(path)))  # type: ignore[method-assign]
    bundle = tmp_path / "bundles" / "techno"
    bundle.mkdir(parents=True)
    rig = rig_for(engine, tmp_path, f"""
[[program]]
address = "/ganloops/deck/2/model"
values = ["{bundle}"]
""")
    rig.send([0xC0, 0])
    assert loaded == [(2, bundle)]


# ---------------------------------------------------------------------------------------
# Soft takeover
# ---------------------------------------------------------------------------------------


PICKUP_KNOB = f"""
[input]
pickup_tolerance = 0.03

[[cc]]
control = 16
address = "{KNOB}"
"""


def cc_for(value: float) -> int:
    """The CC value whose knob reading (range -1..1) is nearest `value`."""
    return round((value + 1.0) / 2.0 * 127)


def test_a_knob_takes_over_only_when_it_reaches_the_value(engine: Engine, tmp_path: Path) -> None:
    engine.set_knob(1, 1, 0.5)
    rig = rig_for(engine, tmp_path, PICKUP_KNOB)
    rig.cc(16, 0)
    rig.cc(16, cc_for(0.3))
    assert rig.deck()["knobs"][0] == 0.5 and rig.stats["pickup_held"] == 2
    rig.cc(16, cc_for(0.8))  # crossed 0.5 between two readings: takes over
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * cc_for(0.8) / 127)
    rig.cc(16, cc_for(-0.9))  # engaged: follows at once, however far
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * cc_for(-0.9) / 127)


def test_a_knob_near_the_value_takes_over_at_once(engine: Engine, tmp_path: Path) -> None:
    engine.set_knob(1, 1, 0.5)
    rig = rig_for(engine, tmp_path, PICKUP_KNOB)
    rig.cc(16, cc_for(0.5) + 1)  # 1/127 of a range of 2: within 3 %
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * (cc_for(0.5) + 1) / 127)


def test_changes_from_elsewhere_rearm_pickup(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, PICKUP_KNOB)
    rig.cc(16, cc_for(0.0))
    rig.cc(16, cc_for(-0.4))
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * cc_for(-0.4) / 127)
    engine.set_knob(1, 1, 0.6)  # OSC, the stdin, anything else
    rig.cc(16, cc_for(-0.3))
    assert rig.deck()["knobs"][0] == 0.6
    rig.cc(16, cc_for(0.7))  # crosses 0.6
    assert rig.deck()["knobs"][0] == pytest.approx(-1.0 + 2.0 * cc_for(0.7) / 127)
    state = engine.state()
    state["decks"][0]["knobs"][0] = -0.8
    engine.apply_state(state)  # a scene recall
    rig.cc(16, cc_for(0.6))
    assert rig.deck()["knobs"][0] == -0.8
    assert rig.stats["pickup_held"] == 2


def test_pickup_is_off_for_encoders_and_when_asked(engine: Engine, tmp_path: Path) -> None:
    engine.set_knob(1, 1, 0.5)
    engine.set_knob(1, 2, 0.5)
    rig = rig_for(engine, tmp_path, ONE_KNOB + """
[[cc]]
control = 17
address = "/ganloops/deck/1/knob/2"
mode = "relative_twos_complement"
""")
    rig.cc(16, 0)  # pickup = false: applies at once, far from the value
    assert rig.deck()["knobs"][0] == -1.0
    rig.cc(17, 1)  # an encoder starts from the value, so it never needs to catch it
    assert rig.deck()["knobs"][1] == pytest.approx(0.5 + 2.0 / 128)
    assert rig.stats["pickup_held"] == 0


# ---------------------------------------------------------------------------------------
# MIDI learn
# ---------------------------------------------------------------------------------------


def test_learn_binds_the_next_control_and_saves_the_mapping(engine: Engine, tmp_path: Path) -> None:
    rig = Rig(engine, default_mapping(), tmp_path)
    rig.controller.learn("/ganloops/deck/2/knob/7")
    assert rig.controller.learner.armed_address == "/ganloops/deck/2/knob/7"
    rig.send([0xB2, 70, 0])
    assert not rig.controller.learner.armed
    assert rig.deck(2)["knobs"][6] == 0.0  # the learning move itself changes nothing
    saved = load_mapping(rig.learn_path)
    assert saved == rig.controller.mapping
    assert CcBinding(70, "/ganloops/deck/2/knob/7", channel=3) in saved.cc
    assert len(saved.cc) == len(default_mapping().cc) + 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["midi.toml"]  # no temporary file left behind
    rig.send([0xB2, 70, 64], [0xB2, 70, 127])  # picks up at the centre, then follows
    assert rig.deck(2)["knobs"][6] == 1.0
    assert rig.stats["learned"] == 1


def test_learn_replaces_the_binding_of_the_same_control(engine: Engine, tmp_path: Path) -> None:
    rig = Rig(engine, default_mapping(), tmp_path)
    rig.controller.learn("/ganloops/deck/1/noise", "relative_twos_complement")
    rig.cc(16, 1)  # knob 1 of the default layout
    by_control = [b for b in load_mapping(rig.learn_path).cc if b.control == 16 and b.channel in (None, 1)]
    assert by_control == [CcBinding(16, "/ganloops/deck/1/noise", channel=1, mode="relative_twos_complement")]
    engine.set_noise(1, 0.5)
    rig.cc(16, 1)
    assert rig.deck()["noise"] == pytest.approx(0.5 + 1.0 / 128)
    assert rig.deck()["knobs"][0] == 0.0


def test_learn_makes_buttons_from_notes_and_programs(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "")
    rig.controller.learn("/ganloops/deck/1/mute")
    rig.note(44, channel=10)
    rig.controller.learn("/ganloops/deck/1/knob/1")
    rig.note(45)  # a note cannot play a continuous knob: still armed
    assert rig.controller.learner.armed
    rig.controller.learn_cancel()
    rig.controller.learn("/ganloops/scene/recall", "drop")
    rig.send([0xC0, 9])
    rig.controller.learn("/ganloops/deck/2/seed")
    rig.cc(80, 127)
    saved = load_mapping(rig.learn_path)
    assert saved.notes == (NoteBinding(44, "/ganloops/deck/1/mute", channel=10, action="toggle"),)
    assert saved.programs == (ProgramBinding("/ganloops/scene/recall", channel=1, program=9, value="drop"),)
    assert saved.cc == (CcBinding(80, "/ganloops/deck/2/seed", channel=1),)
    rig.note(44, channel=10)
    assert rig.deck()["mute"] is True


def test_learn_refuses_what_it_cannot_learn(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "")
    for args in [("/ganloops/deck/1/knb/1",), ("/ganloops/scene/recall",), ("/ganloops/query",),
                 ("/ganloops/deck/1/gain", "sideways"), ("/ganloops/deck/1/seed", "x"), ("",)]:
        with pytest.raises(LearnError, match="^learn: "):
            rig.controller.learn(*args)
    assert rig.stats["rejected/learn_error"] == 6 and not rig.controller.learner.armed
    rig.controller.learn("/ganloops/crossfade", "14bit")
    rig.cc(40, 3)  # 40 cannot be an MSB
    assert rig.controller.learner.armed


def test_learn_arms_the_control_changed_last_elsewhere(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, """
[[note]]
note = 48
address = "/ganloops/learn"

[[note]]
note = 49
address = "/ganloops/learn"
value = "/ganloops/deck/2/gain"
""")
    engine.set_knob(1, 3, 0.2)  # turned on an OSC surface
    rig.note(48)
    assert rig.controller.learner.armed_address == "/ganloops/deck/1/knob/3"
    rig.note(49)
    assert rig.controller.learner.armed_address == "/ganloops/deck/2/gain"
    rig.cc(7, 100)
    assert CcBinding(7, "/ganloops/deck/2/gain", channel=1) in rig.controller.mapping.cc


def test_learn_last_ignores_what_midi_itself_changed(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, ONE_KNOB + """
[[note]]
note = 48
address = "/ganloops/learn"

[[note]]
note = 50
address = "/ganloops/deck/2/mute"
action = "toggle"
""")
    engine.set_gain(2, 0.5)  # from OSC
    rig.cc(16, 100)
    rig.note(50)
    for _ in range(30):  # a clock: its tempo change is MIDI's doing too
        rig.time += 0.02
        rig.send([0xF8], delta=0.02)
    assert engine.state()["tempo_bpm"] == pytest.approx(125.0)
    rig.note(48)
    assert rig.controller.learner.armed_address == "/ganloops/deck/2/gain"


def test_learn_times_out(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "")
    rig.controller.learn("/ganloops/deck/1/gain")
    rig.time += 31.0
    rig.cc(7, 100)
    assert not rig.controller.learner.armed and rig.controller.mapping.cc == ()


def test_a_learned_binding_that_cannot_be_saved_still_plays(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "")
    rig.learn_path.mkdir()  # a folder where the file should go
    rig.controller.learn("/ganloops/deck/1/gain")
    rig.cc(7, 0)
    assert rig.stats["rejected/learn_error"] == 1 and rig.stats["learned"] == 1
    rig.cc(7, 127)
    assert rig.deck()["gain"] == 1.0


# ---------------------------------------------------------------------------------------
# Clock in
# ---------------------------------------------------------------------------------------


class TempoBox:
    def __init__(self) -> None:
        self.bpm: float | None = None
        self.changes: list[float] = []

    def set(self, bpm: float) -> None:
        self.bpm = bpm
        self.changes.append(bpm)


def run_clock(bpm: float, beats: int, jitter_seconds: float = 0.0, seed: int = 0, follower: ClockFollower | None = None,
              box: TempoBox | None = None, start_seconds: float = 100.0) -> tuple[ClockFollower, TempoBox, dict[int, float | None]]:
    """Ticks at `bpm` with gaussian timestamp jitter; the applied tempo after each beat."""
    box = box or TempoBox()
    follower = follower or ClockFollower(box.set, lambda: box.bpm)
    rng = random.Random(seed)
    period = 60.0 / (24 * bpm)
    applied: dict[int, float | None] = {}
    for k in range(beats * 24):
        follower.tick(start_seconds + k * period + rng.gauss(0.0, jitter_seconds), "a")
        if (k + 1) % 24 == 0:
            applied[(k + 1) // 24] = box.bpm
    return follower, box, applied


def test_clock_tempo_with_jitter_is_within_the_documented_tolerance() -> None:
    """docs/midi.md: 1 ms RMS jitter -> within 0.5 BPM after 1 beat, 0.15 after 4, 0.08 after 8."""
    worst = {1: 0.0, 4: 0.0, 8: 0.0}
    changes = []
    for seed in range(40):
        _, box, applied = run_clock(130.0, 8, jitter_seconds=0.001, seed=seed)
        for beat in worst:
            worst[beat] = max(worst[beat], abs(applied[beat] - 130.0))
        changes.append(len(box.changes))
    assert worst[1] <= 0.5 and worst[4] <= 0.15 and worst[8] <= 0.08, worst
    assert statistics.mean(changes) < 4  # a handful of re-renders, not one a beat


def test_a_clean_clock_sets_the_tempo_once() -> None:
    follower, box, applied = run_clock(123.4, 8)
    assert box.changes == [123.4] and applied[1] == 123.4
    assert follower.fit is not None and follower.fit.standard_error_bpm < 1e-6


def test_clock_survives_late_ticks_and_follows_a_tempo_jump() -> None:
    box = TempoBox()
    follower = ClockFollower(box.set, lambda: box.bpm)
    period = 60.0 / (24 * 120.0)
    t = 0.0
    for k in range(96):
        follower.tick(t + (0.015 if k == 60 else 0.0), "a")  # one tick 15 ms late (a USB hiccup)
        t += period
    assert box.changes == [120.0] and follower.outliers == 1
    period = 60.0 / (24 * 140.0)
    for k in range(48):
        follower.tick(t, "a")
        t += period
    assert follower.resyncs == 1 and box.bpm == pytest.approx(140.0, abs=0.01)


def test_clock_start_stop_continue_and_song_position() -> None:
    events: list[Any] = []
    follower = ClockFollower(lambda b: None, lambda: None, on_start=lambda beats: events.append(("start", beats)),
                             on_stop=lambda: events.append("stop"), on_lost=lambda: events.append("lost"))
    follower.start(0.0, "a")
    for k in range(48):
        follower.tick(0.01 + k * 0.02, "a")
    # the tick after Start is the downbeat (position 0); 47 more ticks
    assert follower.running and follower.beats == pytest.approx(47 / 24)
    assert follower.position_at(0.01 + 47 * 0.02 + 0.01) == pytest.approx(47 / 24 + 0.5 / 24)
    follower.stop(1.0, "a")
    assert follower.position_at(1.0) is None
    follower.song_position(1.0, 36, "a")  # 36 sixteenths = 9 beats
    follower.continue_(1.1, "a")
    follower.tick(1.12, "a")
    assert follower.beats == 9.0
    assert events == [("start", 0.0), "stop", ("start", 9.0)]
    follower.check(1.7)  # nothing for more than half a second: the clock is lost, not stopped
    assert events[-1] == "lost" and not follower.running and not follower.active


def test_only_one_clock_source_is_followed_at_a_time() -> None:
    box = TempoBox()
    follower = ClockFollower(box.set, lambda: box.bpm)
    assert follower.tick(0.0, "a") and not follower.tick(0.001, "b") and not follower.start(0.002, "b")
    follower.check(0.6)
    assert follower.tick(0.7, "b") and follower.source == "b"


def test_clock_sets_the_tempo_only_when_it_is_the_active_source() -> None:
    box = TempoBox()
    link_active = True
    follower = ClockFollower(box.set, lambda: box.bpm, may_set_tempo=lambda: not link_active)
    run_clock(128.0, 2, follower=follower, box=box)
    assert box.changes == []  # Link wins
    link_active = False
    run_clock(128.0, 2, follower=follower, box=box, start_seconds=100.0 + 2 * 60 / 128)
    assert box.changes == [128.0]


def test_a_tempo_outside_the_engines_range_is_not_applied() -> None:
    follower, box, _ = run_clock(500.0, 4)
    assert box.changes == [] and follower.tempo_refused >= 1


def test_clock_through_the_controller_sets_the_engine_tempo(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "")
    period = 60.0 / (24 * 130.0)
    rig.send([0xFA], [0xF8], delta=0.0)
    for _ in range(24 * 4):
        rig.time += period
        rig.send([0xF8], delta=period)
    assert engine.state()["tempo_bpm"] == pytest.approx(130.0, abs=0.01)
    assert rig.stats["clock_ticks"] == 24 * 4 + 1 and rig.controller.clock.running


def test_a_clock_stop_mutes_the_playing_decks_and_start_brings_them_back(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "")
    engine.set_mute(2, True)  # muted by hand: stays muted throughout
    rig.send([0xFA], [0xF8])
    rig.send([0xFC])
    assert rig.deck(1)["mute"] is True and rig.controller.status()["clock"]["muted_decks"] == [1]
    rig.send([0xFA])
    assert rig.deck(1)["mute"] is False and rig.deck(2)["mute"] is True
    rig.send([0xFC])
    rig.time += 1.0
    rig.controller.poll_once()  # the clock is lost while stopped: the decks play again
    assert rig.deck(1)["mute"] is False and rig.deck(2)["mute"] is True
    rig.send([0xFA], [0xFC])
    rig.controller.detach()  # MIDI stops: nothing stays muted by it
    assert rig.deck(1)["mute"] is False


def test_clock_start_stop_can_be_ignored(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "[clock]\nstart_stop = false")
    rig.send([0xFA], [0xF8], [0xFC])
    assert rig.deck(1)["mute"] is False and rig.controller.clock.running is False


class PhaseRecorder:
    """Stands in for the arbiter's PhaseLock: records what it is told."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, float]] = []
        self.resets = 0

    def update(self, host_seconds: float, target_beats: float) -> None:
        self.updates.append((host_seconds, target_beats))

    def reset(self) -> None:
        self.resets += 1


def test_the_clock_goes_through_the_tempo_arbiter(engine: Engine, tmp_path: Path) -> None:
    from instrument.tempo_sources import TempoArbiter

    phase = PhaseRecorder()
    box: dict[str, float] = {"now": 1000.0}
    arbiter = TempoArbiter(engine, phase_lock=phase, clock=lambda: box["now"])
    rig = rig_for(engine, tmp_path, "", tempo_arbiter=arbiter)
    rig.controller._clock = lambda: box["now"]  # one clock for the rig, the controller and the arbiter
    period = 60.0 / (24 * 128.0)

    def ticks(n: int) -> None:
        for _ in range(n):
            box["now"] += period
            rig.time = box["now"]
            rig.send([0xF8], delta=period)

    arbiter.propose("link", 100.0)  # Link with peers leads: the clock may not set the tempo
    rig.time = box["now"]
    rig.send([0xFA], [0xF8], delta=0.0)
    ticks(47)
    assert engine.state()["tempo_bpm"] == 100.0 and phase.updates == []
    arbiter.release("link")
    ticks(48)
    assert engine.state()["tempo_bpm"] == pytest.approx(128.0) and arbiter.active_source == "midi_clock"
    host, beats = phase.updates[-1]  # the bar phase goes to the phase lock, on the clock's own grid
    assert host == box["now"] and beats == pytest.approx(95 / 24)
    rig.time += 1.0
    box["now"] += 1.0
    rig.controller.poll_once()  # the clock is lost: the performer has the tempo again
    assert arbiter.active_source == "manual"


def test_a_second_clock_is_ignored_and_clock_port_filters(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "[clock]\nport = \"MPC\"")
    other = rig.backend.plug("MPC One")
    rig.controller.scan_once()
    rig.send([0xF8])
    assert rig.stats["clock_ignored"] == 1 and rig.controller.clock.source is None
    other.send([0xF8])
    rig.controller.poll_once()
    assert rig.controller.clock.source == "memory MPC One"


def test_clock_follow_can_be_switched_off(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "[clock]\nfollow = false")
    for _ in range(100):
        rig.time += 0.02
        rig.send([0xF8], delta=0.02)
    assert rig.controller.dispatcher.clock is None and engine.state()["tempo_bpm"] is None


# ---------------------------------------------------------------------------------------
# Clock out
# ---------------------------------------------------------------------------------------


class FakeTransport:
    """A transport at `bpm` whose position is read in steps of one audio block, like the
    engine's; a tempo change keeps the position continuous (the engine re-anchors too)."""

    def __init__(self, bpm: float, block_seconds: float = 256 / 48000) -> None:
        self.bpm = bpm
        self.block_seconds = block_seconds
        self.now = 0.0
        self._anchor_seconds = 0.0
        self._anchor_beats = 0.0

    def set_bpm(self, bpm: float) -> None:
        self._anchor_beats = self.beats()
        self._anchor_seconds = math.floor(self.now / self.block_seconds) * self.block_seconds
        self.bpm = bpm

    def beats(self) -> float:
        stepped = math.floor(self.now / self.block_seconds) * self.block_seconds
        return self._anchor_beats + (stepped - self._anchor_seconds) * self.bpm / 60.0


def drive_sender(sender: ClockSender, transport: FakeTransport, seconds: float) -> list[tuple[float, int]]:
    sent: list[tuple[float, int]] = []
    sender._send = lambda data: sent.append((transport.now, data[0]))  # type: ignore[method-assign]
    while transport.now < seconds:
        wake = sender.step(transport.now)
        transport.now = max(wake, transport.now + 1e-4)
    return sent


def test_clock_out_starts_at_a_bar_and_sends_24_ticks_a_beat() -> None:
    transport = FakeTransport(120.0)
    transport.now = 0.3  # mid-bar
    sender = ClockSender(lambda d: None, tempo_bpm=lambda: transport.bpm, beats=transport.beats)
    sent = drive_sender(sender, transport, 6.3)
    assert sent[0][1] == 0xFA and sent[1][1] == 0xF8
    assert sent[0][0] == pytest.approx(2.0, abs=0.006)  # bar 2 starts at 2 s at 120 BPM
    ticks = [t for t, b in sent if b == 0xF8]
    assert len(ticks) == pytest.approx((6.3 - 2.0) * 2 * 24, abs=1)
    intervals = [b - a for a, b in zip(ticks, ticks[1:])]
    assert statistics.mean(intervals) == pytest.approx(60 / 120 / 24, rel=1e-3)
    assert max(abs(i - 60 / 120 / 24) for i in intervals[24:]) < 0.001  # block steps smoothed away
    sender.finish()
    assert sender.started is False


def test_clock_out_follows_tempo_changes_and_skips_after_a_stall() -> None:
    transport = FakeTransport(100.0)
    sender = ClockSender(lambda d: None, tempo_bpm=lambda: transport.bpm, beats=transport.beats)
    drive_sender(sender, transport, 3.0)
    before = sender.ticks_sent
    transport.set_bpm(150.0)
    sent = drive_sender(sender, transport, 5.0)
    assert sender.ticks_sent - before == pytest.approx(2.0 * 150 / 60 * 24, abs=2)
    transport.now += 0.5  # the thread was not scheduled for half a second
    sent = drive_sender(sender, transport, transport.now + 0.01)
    assert len(sent) <= ClockSender.MAX_CATCH_UP_TICKS + 1 and sender.ticks_skipped > 20


def test_controller_opens_the_clock_output_and_does_not_follow_itself(engine: Engine, tmp_path: Path) -> None:
    backend = MemoryBackend()
    out = backend.plug_output("TR-8 MIDI 1")
    controller = MidiController(engine, mapping_of("[clock]\nsend_to = \"tr-8\""), backends=[backend],
                                learn_path=tmp_path / "m.toml")
    controller.attach()
    try:
        assert controller.clock_output == "memory TR-8 MIDI 1"
        assert controller.dispatcher.clock is None
        backend.unplug("TR-8 MIDI 1")
        controller.scan_once()
        assert controller.clock_output is None and out.closed
    finally:
        controller.detach()


# ---------------------------------------------------------------------------------------
# Ports and hot-plugging
# ---------------------------------------------------------------------------------------


def test_inputs_come_and_go_while_playing(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, ONE_KNOB)
    assert rig.controller.inputs == ["memory test controller"]
    second = rig.backend.plug("second")
    rig.controller.scan_once()
    second.send([0xB0, 16])  # half a message, then the port vanishes
    rig.controller.poll_once()
    rig.backend.unplug("second")
    rig.controller.scan_once()
    assert rig.controller.inputs == ["memory test controller"] and second.closed
    second = rig.backend.plug("second")
    rig.controller.scan_once()
    second.send([127])  # a stray byte: the half message was forgotten with the old port
    rig.controller.poll_once()
    assert rig.deck()["knobs"][0] == 0.0 and rig.stats["rejected/malformed"] == 1
    rig.port.fail_reads = True
    rig.controller.poll_once()
    assert rig.controller.inputs == ["memory second"] and rig.stats["port_errors"] == 1
    rig.backend.up = False
    rig.controller.scan_once()
    assert rig.controller.inputs == []
    assert rig.stats["ports_opened"] == 3 and rig.stats["ports_closed"] == 3


def test_which_inputs_are_opened(engine: Engine, tmp_path: Path) -> None:
    alsa, jack = MemoryBackend("ALSA"), MemoryBackend("JACK")
    for name in ["nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0", "Midi Through:Midi Through Port-0 14:0"]:
        alsa.plug(name)
    for name in ["a2j:nanoKONTROL2 [24] (capture): nanoKONTROL2 MIDI 1", "ganloops-clock:out", "Bitwig:out"]:
        jack.plug(name)
    everything = MidiController(engine, mapping_of(""), backends=[alsa, jack], learn_path=tmp_path / "a.toml")
    everything.scan_once()
    assert sorted(everything.inputs) == ["ALSA Midi Through:Midi Through Port-0 14:0",
                                         "ALSA nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0", "JACK Bitwig:out"]
    named = MidiController(engine, mapping_of(""), inputs=["nanokontrol2 midi"], backends=[alsa, jack],
                           learn_path=tmp_path / "b.toml")
    named.scan_once()
    assert sorted(named.inputs) == ["ALSA nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0",
                                    "JACK a2j:nanoKONTROL2 [24] (capture): nanoKONTROL2 MIDI 1"]
    assert name_matches("kontrol nano", "nanoKONTROL2") and not name_matches("", "x")


def test_a_port_that_refuses_to_open_is_retried(engine: Engine, tmp_path: Path) -> None:
    backend = MemoryBackend()
    backend.plug("busy")
    backend.refuse.add("busy")
    controller = MidiController(engine, mapping_of(""), backends=[backend], learn_path=tmp_path / "m.toml")
    controller.scan_once()
    assert controller.inputs == [] and controller.stats["port_errors"] == 1
    backend.refuse.clear()
    controller.scan_once()
    assert controller.inputs == ["memory busy"]


def test_message_times_come_from_the_ports_deltas(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, "")
    times: list[float] = []
    rig.controller.dispatcher.receive = lambda source, data, t: times.append(t)  # type: ignore[method-assign]
    rig.port.send([0xF8], 0.0)
    rig.port.send([0xF8], 0.02)
    rig.port.send([0xF8], 0.02)
    rig.time = 1000.5
    rig.controller.poll_once()  # the first read: its last message is placed at the time of reading
    assert times == [pytest.approx(1000.46), pytest.approx(1000.48), 1000.5]
    times.clear()
    rig.time = 1001.0
    rig.port.send([0xF8], 0.3)
    rig.port.send([0xF8], 0.1)
    rig.controller.poll_once()
    assert times == [pytest.approx(1000.8), pytest.approx(1000.9)]


def test_jack_is_asked_through_its_socket(tmp_path: Path) -> None:
    name = f"gltest-sock-{os.getpid()}"
    path = Path("/dev/shm") / f"jack_{name}_{os.getuid()}_0"
    if not path.parent.is_dir():
        pytest.skip("no /dev/shm on this system")
    assert jack_socket_state(name) is None
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        server.listen(1)
        assert jack_socket_state(name) is True
        server.close()
        assert jack_socket_state(name) is False  # a crashed server's leftover
    finally:
        server.close()
        path.unlink(missing_ok=True)
    probes: list[int] = []
    watch = JackWatch(socket_state=lambda: None, probe=lambda: probes.append(1) or True)
    assert watch.running() and watch.running() and probes == [1]  # libjack is asked once


# A stand-in for the JACK MIDI helper: speaks its protocol, with one input that sends a CC
# as soon as it is opened, and an output that echoes what it is sent back as MIDI of input 1.
FAKE_HELPER = r"""
import json, sys
out = sys.stdout
for line in sys.stdin:
    rid, verb, *args = json.loads(line)
    if verb == "quit":
        break
    if verb == "list":
        out.write(json.dumps(["r", rid, True, {"inputs": ["ctl:out", "crashy:out"], "outputs": ["synth:in"]}]) + "\n")
    elif verb == "open_in" and args[1] == "crashy:out":
        out.write(json.dumps(["r", rid, True, None]) + "\n")
        out.write(json.dumps(["gone", args[0], "device error"]) + "\n")
    elif verb == "open_in":
        out.write(json.dumps(["r", rid, True, None]) + "\n")
        out.write(f"m {args[0]} 0.0 b0107f\n")
    elif verb == "open_out":
        out.write(json.dumps(["r", rid, args[1] == "synth:in", None if args[1] == "synth:in" else "no such port"]) + "\n")
    elif verb == "send":
        out.write(f"m 1 0.5 {args[1]}\n")
    elif verb == "die":
        sys.exit(3)
    out.flush()
"""


def fake_bridge_backend() -> JackBridgeBackend:
    return JackBridgeBackend(watch=JackWatch(socket_state=lambda: True),
                             bridge=JackBridge(command=[sys.executable, "-c", FAKE_HELPER]))


def test_the_jack_helper_protocol_carries_ports_and_midi(engine: Engine, tmp_path: Path) -> None:
    from tests.instrument.jack import wait_for

    backend = fake_bridge_backend()
    controller = MidiController(engine, mapping_of(ONE_KNOB), backends=[backend], learn_path=tmp_path / "m.toml")
    try:
        controller.attach()
        assert sorted(controller.inputs) == ["JACK crashy:out", "JACK ctl:out"]
        # the CC arrives; crashy:out is reported gone by the helper and closed at its next read
        assert wait_for(lambda: (controller.poll_once() or True) and rig_knob(engine) == 1.0
                        and controller.inputs == ["JACK ctl:out"], 10.0)
        assert controller.stats["port_errors"] == 1
        out = backend.open_output("synth:in")
        out.send([0xB0, 16, 0])  # echoed by the stand-in as input 1's MIDI
        assert wait_for(lambda: (controller.poll_once() or True) and rig_knob(engine) == -1.0, 10.0)
        with pytest.raises(BridgeError, match="no such port"):
            backend.open_output("nowhere")
    finally:
        controller.detach()
    assert not backend.bridge.running


def rig_knob(engine: Engine) -> float:
    return engine.state()["decks"][0]["knobs"][0]


def test_a_dead_jack_helper_fails_its_ports_and_is_restarted(engine: Engine, tmp_path: Path) -> None:
    backend = fake_bridge_backend()
    controller = MidiController(engine, mapping_of(ONE_KNOB), backends=[backend], learn_path=tmp_path / "m.toml")
    try:
        controller.attach()
        first = backend.bridge._proc
        backend.bridge.post("die")
        assert first is not None and first.wait(timeout=10) == 3
        with pytest.raises(BridgeError):
            backend.bridge.request("list", False, timeout=10)
        controller.poll_once()  # the input's read fails: it is closed
        assert controller.inputs == []
        controller.scan_once()  # and the next scan starts a new helper and opens it again
        assert "JACK ctl:out" in controller.inputs and backend.bridge._proc is not first
    finally:
        controller.detach()


def test_messages_the_bridge_queue_had_no_room_for_are_counted_as_overflow(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from instrument.midi import jack_bridge
    from tests.instrument.jack import wait_for

    monkeypatch.setattr(jack_bridge, "QUEUE_MESSAGES", 4)
    flooding = FAKE_HELPER.replace('out.write(f"m {args[0]} 0.0 b0107f\\n")',
                                   'out.write(f"m {args[0]} 0.0 b0107f\\n" * 10)')
    assert flooding != FAKE_HELPER
    backend = JackBridgeBackend(watch=JackWatch(socket_state=lambda: True),
                                bridge=JackBridge(command=[sys.executable, "-c", flooding]))
    controller = MidiController(engine, mapping_of(ONE_KNOB), backends=[backend], learn_path=tmp_path / "m.toml",
                                inputs=["ctl"])
    try:
        controller.attach()
        port = backend.bridge._inputs[1]
        assert wait_for(lambda: port.dropped == 6, 10.0)  # ten arrived before anyone read: the oldest six went
        controller.poll_once()
        stats = controller.stats.snapshot()
        assert stats["rejected/overflow"] == 6 * 3 and stats["bytes"] == 4 * 3
        controller.poll_once()  # counted once
        assert controller.stats["rejected/overflow"] == 18
    finally:
        controller.detach()


def test_rtmidi_inputs_let_sysex_and_active_sensing_through_to_be_counted() -> None:
    from instrument.midi.ports import RtmidiInput

    class StandInRtmidi:
        class MidiIn:
            ignored: tuple = ()

            def __init__(self, api: int, name: str, queue_size_limit: int) -> None:
                pass

            def ignore_types(self, sysex: bool, timing: bool, active_sense: bool) -> None:
                StandInRtmidi.MidiIn.ignored = (sysex, timing, active_sense)

            def get_ports(self) -> list[str]:
                return ["ctl:out"]

            def open_port(self, index: int, name: str) -> None:
                pass

    RtmidiInput(StandInRtmidi, 0, "ctl:out")
    assert StandInRtmidi.MidiIn.ignored == (False, False, False)


def test_without_a_jack_server_the_helper_is_not_started() -> None:
    backend = JackBridgeBackend(watch=JackWatch(socket_state=lambda: False),
                                bridge=JackBridge(command=[sys.executable, "-c", FAKE_HELPER]))
    assert not backend.available() and backend.describe() == "no JACK server running"
    assert not backend.bridge.running


# ---------------------------------------------------------------------------------------
# Threads, and the entry point play uses
# ---------------------------------------------------------------------------------------


def test_create_controller_runs_threads_and_stops_cleanly(engine: Engine, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.instrument.jack import wait_for

    monkeypatch.setenv("GANLOOPS_HOME", str(tmp_path))
    backend = MemoryBackend()
    controller = create_controller(engine, backends=[backend])
    assert controller.mapping == default_mapping() and controller.learn_path == tmp_path / "midi.toml"
    controller.start()
    try:
        port = backend.plug("late controller")  # plugged in while playing
        assert wait_for(lambda: controller.inputs == ["memory late controller"], 10.0)
        port.send([0xB0, 0, 127])  # fader 1: deck 1 gain (soft takeover: the gain is at 1.0 already)
        port.send([0xB0, 0, 32])
        assert wait_for(lambda: engine.state()["decks"][0]["gain"] == pytest.approx(32 / 127), 10.0)
    finally:
        controller.stop()
    assert controller.inputs == [] and port.closed
    assert controller.dispatcher.on_engine_change not in engine._listeners


def test_a_broken_mapping_file_stops_midi_at_start_in_one_line(engine: Engine, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANLOOPS_HOME", str(tmp_path))
    (tmp_path / "midi.toml").write_text("[[cc]]\ncontrol = 300\naddress = \"/ganloops/crossfade\"\n")
    controller = create_controller(engine, backends=[MemoryBackend()])  # play builds it, then starts it
    with pytest.raises(MappingError, match=r"midi\.toml: cc\[1\]\.control: expected an integer 0\.\.127, got 300$"):
        controller.start()
    controller.stop()
    assert controller.dispatcher.on_engine_change not in engine._listeners


def test_an_install_without_the_default_mapping_plays_on_without_midi(engine: Engine, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import instrument.midi.mapping as mapping_module

    monkeypatch.setenv("GANLOOPS_HOME", str(tmp_path))
    monkeypatch.setattr(mapping_module, "DEFAULT_MAPPING_RESOURCE", "not-shipped.toml")
    controller = create_controller(engine, backends=[MemoryBackend()])
    with pytest.raises(MappingError, match=r"not-shipped\.toml: missing from this install"):
        controller.start()


# ---------------------------------------------------------------------------------------
# Garbage
# ---------------------------------------------------------------------------------------


def test_a_megabyte_of_random_bytes_leaves_everything_alive_and_counted(engine: Engine, tmp_path: Path) -> None:
    rng = random.Random(1234)
    data = rng.randbytes(1 << 20)
    rig = Rig(engine, default_mapping(), tmp_path)
    rig.controller.dispatcher._rng = random.Random(5)
    position = 0
    while position < len(data):
        size = rng.randint(1, 4096)
        rig.port.send(data[position:position + size], rng.random() * 0.01)
        position += size
        if len(rig.port.queue) >= 64:
            rig.controller.poll_once()
    rig.controller.poll_once()
    stats = rig.stats
    assert stats["bytes"] == 1 << 20
    assert stats["messages"] > 10000 and stats["rejected/malformed"] > 100000 and stats["clock_ticks"] > 1000
    assert stats["rejected/internal_error"] == 0 and stats["rejected/out_of_range"] == 0
    assert stats["applied"] > 100
    engine.apply_state(engine.state())  # every value the garbage set is one the engine accepts
    rig.controller.learn("/ganloops/deck/1/knob/9")  # and it still answers
    rig.cc(5, 5)
    assert any(b.address == "/ganloops/deck/1/knob/9" for b in rig.controller.mapping.cc)


def test_a_sysex_flood_is_counted_and_dropped(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, ONE_KNOB)
    rig.port.send(bytes([0xF0]) + bytes(200_000) + bytes([0xF7]))
    rig.port.send([0xB0, 16, 127])
    rig.controller.poll_once()
    stats = rig.stats
    assert stats["rejected/overflow"] == 200_002 - 65536 and stats["ignored"] == 1
    assert rig.deck()["knobs"][0] == 1.0


def test_the_dispatcher_counts_a_bug_and_goes_on(engine: Engine, tmp_path: Path) -> None:
    rig = rig_for(engine, tmp_path, ONE_KNOB + """
[[cc]]
control = 17
address = "/ganloops/deck/1/knob/2"
pickup = false
""")
    original = engine.apply_address

    def flaky(address: str, args: Any) -> None:
        if address == KNOB:
            raise RuntimeError("a bug")
        original(address, args)

    engine.apply_address = flaky  # type: ignore[method-assign]
    rig.send([0xB0, 16, 127], [0xB0, 17, 127])
    assert rig.stats["rejected/internal_error"] == 1 and rig.deck()["knobs"][1] == 1.0


def test_dispatcher_error_kinds_are_the_tokenizers() -> None:
    assert set(ERROR_KINDS) == {"stray", "truncated", "undefined", "eox"}
    d = MidiDispatcher(Engine(EngineConfig(decks=1)), MidiMapping())
    d.receive("x", [0x80, 0xF5, 0x12], 0.0)
    assert d.stats["rejected/malformed"] == 3
