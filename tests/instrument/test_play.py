"""``ganloops play`` and ``ganloops devices`` below the end-to-end level: options, startup
errors, the status line, the stdin line protocol, the controller hook, device listing."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from instrument import play
from instrument.engine import Engine, EngineConfig
from instrument.line_control import COMMANDS, LineControl
from instrument.play import PlayOptions, PlaySession, parse_options, play_main
from instrument.status import CpuMeter, DeckLine, StatusPrinter, StatusSnapshot, format_status
from tests.instrument.jack import JackServer, require_jackd, require_tool, wait_for

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------
# Options and startup errors (before any device is touched)
# ---------------------------------------------------------------------------------------


def test_options_defaults_and_a_numeric_device_is_an_index() -> None:
    o = parse_options([])
    assert (o.bundles, o.device, o.sample_rate_hz, o.block_frames, o.decks) == ([], None, None, 256, 2)
    assert o.osc and o.midi and not o.control_stdin and o.osc_port == 9000 and o.quantize == "none"
    o = parse_options(["a", "b", "--device", "3", "--no-osc", "--no-midi", "--record", "x/take.wav"])
    assert o.bundles == [Path("a"), Path("b")] and o.device == 3 and not o.osc and not o.midi
    assert o.journal == Path("x/take.journal.jsonl")
    assert parse_options(["--device", "USB Audio"]).device == "USB Audio"
    assert not o.link and not o.link_start_stop


def test_link_options(capsys: pytest.CaptureFixture) -> None:
    o = parse_options(["--link"])
    assert o.link and not o.link_start_stop
    o = parse_options(["--link", "--link-start-stop"])
    assert o.link and o.link_start_stop
    with pytest.raises(SystemExit) as raised:
        parse_options(["--link-start-stop"])  # start/stop of which session?
    assert raised.value.code == 2 and "--link-start-stop needs --link" in capsys.readouterr().err


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_no_bundle_and_no_default_model_says_to_pass_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(play, "DEFAULT_MODEL_DIR", tmp_path / "models" / "default")
    assert play_main([]) == 1
    line = _one_error_line(capsys)
    assert line.startswith("ganloops play: no bundle given") and "pass a bundle folder" in line


def test_the_default_model_is_used_when_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    default = tmp_path / "models" / "default"
    default.mkdir(parents=True)
    (default / "manifest.json").write_text("{}")
    monkeypatch.setattr(play, "DEFAULT_MODEL_DIR", default)
    assert play.default_bundles() == [default]


def test_more_bundles_than_decks_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert play_main([str(tmp_path)] * 3 + ["--decks", "2"]) == 1
    assert "3 bundles for 2 decks" in _one_error_line(capsys)


def test_a_folder_without_manifest_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert play_main([str(tmp_path / "nope")]) == 1
    assert f"{tmp_path / 'nope'}: no such bundle folder" in _one_error_line(capsys)
    assert play_main([str(tmp_path)]) == 1
    assert f"{tmp_path}: not a model bundle (no manifest.json" in _one_error_line(capsys)


def test_sigterm_and_sighup_ask_for_a_clean_stop() -> None:
    import os
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        session = _session()
        previous = play._install_stop_signals(session)
        try:
            os.kill(os.getpid(), sig)
            assert wait_for(session.stop_requested.is_set, 5)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


# ---------------------------------------------------------------------------------------
# The status line
# ---------------------------------------------------------------------------------------

SNAPSHOT = StatusSnapshot(
    audio_state="playing", tempo_bpm=128.0, bar=11, beat=2, provider="CPUExecutionProvider", load_percent=23.4,
    underruns=1, underflows=2, recording="take.wav",
    decks=(DeckLine(1, "techno", 7, knobs=(0.8, 0.0, -0.2) + (0.0,) * 13, last_render_ms=41.2),
           DeckLine(2, "house", 3, mute=True, last_render_ms=12.0), DeckLine(3, None, 0)))


def test_status_line_shows_what_a_performer_needs() -> None:
    line = format_status(SNAPSHOT)
    assert line.startswith("PLAY 128.0 BPM 12:3 | ")  # bar and beat counted from 1
    assert "1 techno s7 k1+0.80 k3-0.20 |" in line  # centred knobs are left out
    assert "2 house s3 muted" in line and "3 (empty)" in line
    assert "CPUExecutionProvider render 41 ms" in line  # the slowest deck's last render
    assert "load 23%" in line and "xruns 3" in line and "REC take.wav" in line


def test_status_line_says_why_it_waits() -> None:
    waiting = StatusSnapshot(audio_state="waiting", audio_reason="JACK server stopped", tempo_bpm=120.0)
    assert format_status(waiting).startswith("WAIT for device (JACK server stopped) 120.0 BPM 1:1")


def test_status_gain_and_style_mix_appear_only_when_they_matter() -> None:
    deck = DeckLine(1, "m", 1, gain=0.5, bseed=9, mix=(0.5, 0.0, 0.0))
    assert "gain 0.50" in format_status(StatusSnapshot("playing", decks=(deck,)))
    assert "B9:0.5/0.0/0.0" in format_status(StatusSnapshot("playing", decks=(deck,)))
    plain = DeckLine(1, "m", 1, bseed=9, mix=(0.0, 0.0, 0.0))
    assert "B9" not in format_status(StatusSnapshot("playing", decks=(plain,)))


def test_terminal_status_is_redrawn_in_place() -> None:
    out = io.StringIO()
    printer = StatusPrinter(out, tty=True)
    printer.show(SNAPSHOT)
    printer.show(SNAPSHOT)
    printer.message("engine: deck 1: render failed")
    printer.finish()
    text = out.getvalue()
    assert text.count("\r") >= 3 and text.count("\n") == 1  # only the message ends a line
    assert "\r\x1b[Kengine: deck 1: render failed\n" in text


def test_piped_status_prints_plain_lines_on_changes_and_periodically() -> None:
    out = io.StringIO()
    printer = StatusPrinter(out, tty=False, plain_every_seconds=3600)
    printer.show(SNAPSHOT)
    printer.show(SNAPSHOT)  # nothing new and not yet time: no line
    printer.show(StatusSnapshot(audio_state="waiting", audio_reason="JACK server stopped"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert lines[0].startswith("PLAY") and lines[1].startswith("WAIT")


def test_cpu_meter_measures_this_process() -> None:
    meter = CpuMeter()
    total = 0
    for i in range(300000):
        total += i * i
    assert meter.percent() > 0.0


# ---------------------------------------------------------------------------------------
# --control-stdin
# ---------------------------------------------------------------------------------------


class _Lines:
    """A LineControl on a real (not started) engine, with replies and reports collected."""

    def __init__(self, text: str = "") -> None:
        self.engine = Engine(EngineConfig(decks=2))
        self.replies: list[str] = []
        self.reports: list[str] = []
        self.quits = 0
        self.control = LineControl(self.engine, io.StringIO(text), on_quit=self._quit, reply=self.replies.append,
                                   report=self.reports.append, status_line=lambda: "STATUS")

    def _quit(self) -> None:
        self.quits += 1


def test_each_command_sets_the_engine_control_it_names() -> None:
    t = _Lines()
    for line in ["knob 1 2 0.8", "seed 2 7", "bseed 1 9", "mix 1 coarse 0.5", "psi 1 0.7", "noise 1 0.2",
                 "gain 2 0.5", "mute 2 on", "crossfade 0.25", "tempo 130"]:
        t.control.handle(line)
    assert t.reports == []
    state = t.engine.state()
    deck1, deck2 = state["decks"]
    assert deck1["knobs"][1] == 0.8 and deck2["seed"] == 7 and deck1["bseed"] == 9
    assert deck1["mix"]["coarse"] == 0.5 and deck1["psi"] == 0.7 and deck1["noise"] == 0.2
    assert deck2["gain"] == 0.5 and deck2["mute"] is True
    assert state["crossfade"] == 0.25 and state["tempo_bpm"] == 130.0


def test_bad_lines_give_one_report_each_and_reading_goes_on() -> None:
    t = _Lines("knob 1 x 0.5\nbogus 1\nseed 9 1\nknob 1 1\n# a comment\n\nseed 1 5\nquit\n")
    t.control._read()
    assert len(t.reports) == 4, t.reports
    assert t.reports[0] == "control: line 1: 'knob 1 x 0.5': knob: expected an integer, got 'x'"
    assert t.reports[1].startswith("control: line 2: 'bogus 1': unknown command 'bogus'")
    assert t.reports[2].startswith("control: line 3: 'seed 9 1': deck")  # the engine's own refusal
    assert t.reports[3] == "control: line 4: 'knob 1 1': knob takes deck knob value"
    assert t.engine.state()["decks"][0]["seed"] == 5  # the good line after the bad ones
    assert t.quits == 1


def test_state_status_and_help_answer_on_the_reply_stream() -> None:
    t = _Lines()
    t.control.handle("seed 1 4")
    t.control.handle("state")
    t.control.handle("status")
    t.control.handle("help")
    assert json.loads(t.replies[0])["decks"][0]["seed"] == 4
    assert t.replies[1] == "STATUS"
    assert len(t.replies) == 2 + len(COMMANDS)


def test_stats_answers_with_one_line_of_json() -> None:
    t = _Lines()
    t.control.handle("stats")
    assert t.replies == ["stats: not available"] and t.reports == []
    t.control.stats = lambda: {"audio": {"underruns": 2}, "osc": None}
    t.control.handle("stats")
    assert json.loads(t.replies[1]) == {"audio": {"underruns": 2}, "osc": None}


def test_model_command_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    t = _Lines()
    t.control.handle(f"model 1 {tmp_path}")
    assert t.reports == [f"control: 'model 1 {tmp_path}': {tmp_path}: not a model bundle (no manifest.json)"]


def test_scene_save_and_recall_through_lines(tmp_path: Path) -> None:
    from instrument.scenes import SceneStore

    t = _Lines()
    t.control._scenes = SceneStore(tmp_path)
    t.control.handle("seed 1 11")
    t.control.handle("scene save drop")
    t.control.handle("seed 1 2")
    t.control.handle("scene recall drop")
    t.control.handle("scene recall missing")
    assert t.engine.state()["decks"][0]["seed"] == 11
    assert t.replies == [f"scene saved: {tmp_path / 'drop.json'}"]
    assert len(t.reports) == 1 and "missing.json: no such scene" in t.reports[0]


# ---------------------------------------------------------------------------------------
# The controller hook
# ---------------------------------------------------------------------------------------


def _session(**changes: object) -> PlaySession:
    options = PlayOptions(bundles=[], **changes)  # type: ignore[arg-type]
    session = PlaySession(options, stdin=io.StringIO(""), stdout=io.StringIO(), printer=StatusPrinter(io.StringIO()))
    session.engine = Engine(EngineConfig(decks=2))
    return session


def test_the_stats_line_has_the_engines_the_outputs_and_the_controllers_counters() -> None:
    from instrument.osc import OscServer

    session = _session(osc=True, osc_port=0, midi=False, control_stdin=True)
    osc, lines = session.make_controllers()
    assert session.osc is osc and isinstance(osc, OscServer) and lines.stats == session.stats
    stats = session.stats()
    assert stats["audio"]["state"] == "stopped" and stats["audio"]["underruns"] == 0
    assert {"underflows", "callbacks", "renders", "mixer_errors", "callback_errors"} <= set(stats["audio"])
    assert stats["osc"]["datagrams"] == 0 and stats["midi"] is None
    json.dumps(stats)  # what the stats line prints


def test_controllers_follow_the_options() -> None:
    from instrument.osc import OscServer

    assert _session(osc=False, midi=False).make_controllers() == []
    controllers = _session(osc=True, osc_port=0, midi=False, control_stdin=True).make_controllers()
    assert [type(c).__name__ for c in controllers] == ["OscServer", "LineControl"]
    assert isinstance(controllers[0], OscServer) and controllers[0].port == 0


class StandInMidiController:
    """Stands in for a MidiController: records learn requests; start() fails when told to."""

    def __init__(self, engine: object, options: dict[str, Any]) -> None:
        self.engine, self.options = engine, options
        self.learned: list[tuple] = []
        self.fail_with: Exception | None = None
        self.started = False
        self.state: dict[str, Any] = {"inputs": ["nanoKONTROL2 MIDI 1"], "clock_out": None, "learn": None,
                                      "clock": {"following": True, "bpm": 127.96, "running": True}}

    def start(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.started = True

    def stop(self) -> None:
        self.started = False

    def learn(self, address: str = "", *args: object) -> None:
        self.learned.append((address, *args))

    def learn_cancel(self) -> None:
        self.learned.append(("cancel",))

    def status(self) -> dict[str, Any]:
        return self.state


class FakeMidi:
    """Stands in for instrument.midi: records what create_controller was given."""

    made: list[tuple[object, object]] = []
    controllers: list[StandInMidiController] = []
    fail_with: Exception | None = None

    @staticmethod
    def create_controller(engine: object, **options: Any) -> StandInMidiController:
        FakeMidi.made.append((engine, options["tempo_arbiter"]))
        controller = StandInMidiController(engine, options)
        controller.fail_with = FakeMidi.fail_with
        FakeMidi.controllers.append(controller)
        return controller


@pytest.fixture
def fake_midi(monkeypatch: pytest.MonkeyPatch) -> type[FakeMidi]:
    FakeMidi.made, FakeMidi.controllers, FakeMidi.fail_with = [], [], None
    monkeypatch.setitem(sys.modules, "instrument.midi", FakeMidi)
    return FakeMidi


def test_a_midi_module_plugs_in_through_create_controller(fake_midi: type[FakeMidi]) -> None:
    from instrument.tempo_sources import TempoArbiter

    session = _session(osc=False, midi=True)
    assert session.make_controllers() == fake_midi.controllers and session.midi is fake_midi.controllers[0]
    engine, arbiter = fake_midi.made[0]
    assert engine is session.engine and isinstance(arbiter, TempoArbiter) and arbiter is session.tempo
    assert _session(osc=False, midi=False).make_controllers() == []


def test_link_and_the_midi_clock_share_one_tempo_arbiter(fake_midi: type[FakeMidi],
                                                        stand_in_link: type["StandInLink"]) -> None:
    """One arbiter ranks them (Link > MIDI clock > manual): both sources get the session's."""
    session = _session(osc=False, midi=True, link=True)
    controllers = session.make_controllers()
    assert controllers[0] is stand_in_link.made[0] and controllers[1] is fake_midi.controllers[0]  # Link first
    assert stand_in_link.made[0].arbiter is session.tempo and fake_midi.made[0][1] is session.tempo
    session.tempo.close()


class StandInLink:
    """What play uses of a LinkFollower: start, stop, status; records how it was made."""

    made: list["StandInLink"] = []
    fail_with: Exception | None = None

    def __init__(self, engine: Engine, arbiter: object, *, start_stop_sync: bool = False) -> None:
        self.engine, self.arbiter, self.start_stop_sync = engine, arbiter, start_stop_sync
        self.events: list[str] = []
        StandInLink.made.append(self)

    def start(self) -> None:
        if StandInLink.fail_with is not None:
            raise StandInLink.fail_with
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")

    def status(self) -> Any:
        from instrument.link import LinkStatus

        return LinkStatus(enabled=True, peers=2, link_tempo_bpm=126.5, playing=False, leading=False,
                          phase_error_seconds=0.0004, polls=10, errors=0)


class StandInOutput:
    def __init__(self) -> None:
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def status(self) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(state="playing", last_error="", underflows=0, latency_seconds=0.012)


@pytest.fixture
def stand_in_link(monkeypatch: pytest.MonkeyPatch) -> type[StandInLink]:
    import instrument.link

    StandInLink.made, StandInLink.fail_with = [], None
    monkeypatch.setattr(instrument.link, "LinkFollower", StandInLink)
    return StandInLink


def _started_session(**changes: object) -> PlaySession:
    session = _session(osc=False, midi=False, **changes)
    session.output = StandInOutput()
    session.start()
    return session


def test_link_joins_with_the_sessions_arbiter_and_shows_in_the_status_line(stand_in_link: type[StandInLink]) -> None:
    from instrument.tempo_sources import TempoArbiter

    session = _started_session(link=True, link_start_stop=True)
    try:
        assert len(stand_in_link.made) == 1
        link = stand_in_link.made[0]
        arbiter = session.tempo
        assert isinstance(arbiter, TempoArbiter) and link.arbiter is arbiter and link.engine is session.engine
        assert link.start_stop_sync and link.events == ["start"] and session.controllers == [link]
        assert arbiter.phase_lock is not None and arbiter.phase_lock.output_latency_seconds() == 0.012
        line = format_status(session.snapshot())
        assert line.endswith("| LINK 2 peers 126.5 BPM stopped")
        session.engine.set_tempo(99.0)
        assert arbiter.status().applied_bpm == 99.0  # the arbiter hears the engine
    finally:
        session.shutdown()
    assert link.events == ["start", "stop"]
    assert session.tempo is None
    session.engine.set_tempo(101.0)
    assert arbiter.status().applied_bpm == 99.0  # closed: it no longer listens


def test_without_link_there_is_no_follower_and_no_link_in_the_status_line(stand_in_link: type[StandInLink]) -> None:
    session = _started_session()
    try:
        assert stand_in_link.made == [] and session.tempo is not None  # the arbiter is there for the MIDI clock
        assert "LINK" not in format_status(session.snapshot())
    finally:
        session.shutdown()
    follower = _session(osc=False, midi=False, link=True).make_controllers()[0]
    assert isinstance(follower, StandInLink) and not follower.start_stop_sync  # --link alone: tempo and bars


def test_link_without_its_module_is_one_line_and_playing_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_link(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "link":
            raise ImportError("No module named 'link'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_link)
    out = io.StringIO()
    session = _session(osc=False, midi=False, link=True)
    session.printer = StatusPrinter(out, tty=False)
    session.output = StandInOutput()
    session.start()
    try:
        lines = out.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Link: ") and "pip install 'ganloops[link]'" in lines[0]
        assert lines[0].endswith("; playing without it")
        assert session.controllers == [] and session.link is None and session.output.started
        assert "LINK" not in format_status(session.snapshot())
    finally:
        session.shutdown()


# ---------------------------------------------------------------------------------------
# With a JACK server: startup errors that need a device, and `ganloops devices`
# ---------------------------------------------------------------------------------------


@pytest.fixture
def jack(monkeypatch: pytest.MonkeyPatch):
    require_jackd()
    require_tool("jack_lsp")
    server = JackServer(sample_rate_hz=48000).start()
    server.activate(monkeypatch)
    yield server
    server.stop()


def test_a_broken_bundle_is_one_line_naming_its_file(jack: JackServer, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    assert play_main([str(tmp_path), "--no-osc", "--no-midi"]) == 1
    line = _one_error_line(capsys)
    assert line.startswith(f"ganloops play: deck 1: {tmp_path / 'manifest.json'}: not valid JSON")


def test_a_rate_jack_does_not_run_at_is_refused(jack: JackServer, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    assert play_main([str(tmp_path), "--sample-rate", "44100", "--no-osc", "--no-midi"]) == 1
    line = _one_error_line(capsys)
    assert "JACK runs at 48000 Hz, not 44100 Hz" in line and "--sample-rate 48000" in line


def _devices(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "instrument.cli", "devices", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_devices_lists_jack_audio_and_jack_midi_ports(jack: JackServer) -> None:
    jack_midiseq = require_tool("jack_midiseq")
    sequencer = subprocess.Popen([jack_midiseq, "gltest-seq", "24000", "0", "60", "8000"], env=jack.env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: any(p.startswith("gltest-seq:") for p in jack.ports() or []), 10)
        proc = _devices(jack.env(), "--json")
        assert proc.returncode == 0, proc.stderr
        listing = json.loads(proc.stdout)
        system = [d for d in listing["audio"]["devices"] if d["name"] == "system"]
        assert len(system) == 1 and system[0]["play_default"] and system[0]["output_channels"] == 2
        assert system[0]["host_api"] == "JACK Audio Connection Kit" and system[0]["default_sample_rate_hz"] == 48000
        jack_midi = [m for m in listing["midi"] if m["backend"] == "rtmidi JACK"]
        assert len(jack_midi) == 1 and jack_midi[0]["error"] is None
        assert any("gltest-seq" in name for name in jack_midi[0]["inputs"])  # its output is our input
        table = _devices(jack.env()).stdout
        assert "* " in table and "JACK Audio Connection Kit" in table and "system" in table
    finally:
        sequencer.terminate()
        sequencer.wait(timeout=10)


FAKE_SOUNDDEVICE = "raise OSError('PortAudio library not found')\n"


def test_devices_without_portaudio_says_what_to_install_and_still_lists_midi(tmp_path: Path) -> None:
    (tmp_path / "sounddevice.py").write_text(FAKE_SOUNDDEVICE)
    proc = _devices({"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Audio: unavailable (PortAudio library not found") and "libportaudio2" in lines[0]
    assert any(line.startswith("MIDI (rtmidi)") for line in lines[1:])
    assert "Traceback" not in proc.stderr


def test_a_start_that_fails_after_recording_began_leaves_no_take(jack: JackServer, style_bundle: Path,
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    from instrument.audio import AudioOutput
    from instrument.portaudio_host import AudioError

    def refuse(self: AudioOutput) -> None:
        raise AudioError("'system' [JACK Audio Connection Kit]: cannot start the stream (refused by the test)")

    monkeypatch.setattr(AudioOutput, "start", refuse)
    take = tmp_path / "take.wav"
    assert play_main([str(style_bundle), "--record", str(take), "--no-osc", "--no-midi"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "ganloops play: 'system' [JACK Audio Connection Kit]: cannot start the stream (refused by the test)"
    assert not take.exists() and not take.with_suffix(".journal.jsonl").exists()


# ---------------------------------------------------------------------------------------
# MIDI options, MIDI learn through OSC and stdin, the MIDI status field
# ---------------------------------------------------------------------------------------


def test_midi_options() -> None:
    o = parse_options([])
    assert o.midi_map is None and o.midi_in == [] and o.midi_clock_out is None
    o = parse_options(["--midi-map", "maps/live.toml", "--midi-in", "nanoKONTROL", "--midi-in", "Launch Control",
                       "--midi-clock-out", "TR-8"])
    assert o.midi_map == Path("maps/live.toml") and o.midi_in == ["nanoKONTROL", "Launch Control"]
    assert o.midi_clock_out == "TR-8"


def test_midi_options_reach_create_controller(fake_midi: type[FakeMidi]) -> None:
    session = _session(osc=False, midi=True, midi_map=Path("live.toml"), midi_in=["nano", "launch"],
                       midi_clock_out="TR-8")
    session.make_controllers()
    assert fake_midi.controllers[0].options == {"mapping_path": Path("live.toml"), "inputs": ["nano", "launch"],
                                                "clock_out": "TR-8", "tempo_arbiter": session.tempo}
    _session(osc=False, midi=True).make_controllers()
    assert fake_midi.controllers[1].options == {"mapping_path": None, "inputs": None, "clock_out": None,
                                                "tempo_arbiter": fake_midi.made[1][1]}  # the mapping decides


def _learn_over_osc(server: Any, *messages: tuple[str, tuple]) -> None:
    from instrument.osc_wire import encode_message

    for address, args in messages:
        server.handle_datagram(encode_message(address, args), ("127.0.0.1", 40000))


def test_play_wires_midi_learn_into_osc_and_stdin(fake_midi: type[FakeMidi]) -> None:
    from instrument.osc import OscServer

    session = _session(osc=True, osc_port=0, midi=True, control_stdin=True)
    midi, osc, lines = session.make_controllers()
    assert midi is fake_midi.controllers[0] and isinstance(osc, OscServer) and isinstance(lines, LineControl)
    _learn_over_osc(osc, ("/ganloops/learn", ("/ganloops/deck/1/knob/3",)),
                    ("/ganloops/learn/with", ("/ganloops/scene/recall", "drop")), ("/ganloops/learn/cancel", ()))
    lines.handle("learn /ganloops/deck/2/knob/1 relative_twos_complement")
    lines.handle("learn cancel")
    assert midi.learned == [("/ganloops/deck/1/knob/3",), ("/ganloops/scene/recall", "drop"), ("cancel",),
                            ("/ganloops/deck/2/knob/1", "relative_twos_complement"), ("cancel",)]
    assert osc.stats["accepted"] == 3 and osc.stats["rejected"] == 0 and lines.rejected == 0
    osc.scheduler.stop()
    session.tempo.close()


def test_without_midi_learn_is_refused_over_osc_and_stdin() -> None:
    session = _session(osc=True, osc_port=0, midi=False, control_stdin=True)
    osc, lines = session.make_controllers()
    _learn_over_osc(osc, ("/ganloops/learn", ("/ganloops/deck/1/knob/3",)))
    assert osc.rejected["unavailable"] == 1 and osc.stats["accepted"] == 0
    reports: list[str] = []
    lines.report = reports.append
    lines.handle("learn /ganloops/deck/1/knob/3")
    assert reports == ["control: 'learn /ganloops/deck/1/knob/3': MIDI learn needs MIDI input"]
    osc.scheduler.stop()


def test_midi_that_fails_to_start_takes_learn_back_from_osc_and_stdin(fake_midi: type[FakeMidi]) -> None:
    fake_midi.fail_with = OSError("no MIDI system (ALSA sequencer unavailable)")
    out = io.StringIO()
    session = _session(osc=True, osc_port=0, midi=True, control_stdin=True)
    session.printer = StatusPrinter(out, tty=False)
    session.output = StandInOutput()
    session.start()
    try:
        assert "MIDI: no MIDI system (ALSA sequencer unavailable); playing without it" in out.getvalue()
        assert session.midi is None and fake_midi.controllers[0] not in session.controllers
        osc, lines = session.controllers
        _learn_over_osc(osc, ("/ganloops/learn/cancel", ()))
        lines.handle("learn cancel")
        assert osc.rejected["unavailable"] == 1 and lines.rejected == 1
        assert fake_midi.controllers[0].learned == [] and "MIDI" not in format_status(session.snapshot())
    finally:
        session.shutdown()


def test_the_status_line_shows_midi_inputs_clock_and_learn(fake_midi: type[FakeMidi]) -> None:
    session = _session(osc=False, midi=True)
    session.output = StandInOutput()
    session.start()
    try:
        midi = fake_midi.controllers[0]
        assert session.controllers == [midi] and midi.started
        assert format_status(session.snapshot()).endswith("| MIDI 1 in clock 128.0")
        midi.state = {**midi.state, "learn": "/ganloops/deck/1/knob/3"}
        assert format_status(session.snapshot()).endswith("| MIDI 1 in clock 128.0 learn /ganloops/deck/1/knob/3")
    finally:
        session.shutdown()
    assert session.midi is None and not midi.started


def test_midi_note_is_compact() -> None:
    assert play.midi_note({"inputs": [], "clock_out": None, "learn": None,
                           "clock": {"following": False, "bpm": None}}) == "MIDI 0 in"
    assert play.midi_note({"inputs": ["a", "b"], "clock_out": "TR-8", "learn": None,
                           "clock": {"following": False, "bpm": 120.0}}) == "MIDI 2 in clock out"


def test_stdin_learn_lines_arm_and_cancel() -> None:
    t = _Lines()
    calls: list[tuple] = []
    t.control.set_learn(lambda address, *args: calls.append((address, *args)), lambda: calls.append(("cancel",)))
    for line in ["learn /ganloops/deck/1/knob/3", "learn /ganloops/deck/1/knob/3 14bit",
                 "learn /ganloops/deck/1/seed 7", "learn /ganloops/deck/1/psi 0.5",
                 "learn /ganloops/scene/recall 'big drop'", "learn cancel", "learn"]:
        t.control.handle(line)
    assert calls == [("/ganloops/deck/1/knob/3",), ("/ganloops/deck/1/knob/3", "14bit"), ("/ganloops/deck/1/seed", 7),
                     ("/ganloops/deck/1/psi", 0.5), ("/ganloops/scene/recall", "big drop"), ("cancel",)]
    assert t.reports == ["control: 'learn': learn takes address|cancel [mode|value]"]


def test_a_stdin_learn_that_midi_refuses_is_one_report(tmp_path: Path) -> None:
    from instrument.midi import MidiController, MidiMapping

    t = _Lines()
    midi = MidiController(t.engine, MidiMapping(), learn_path=tmp_path / "midi.toml", backends=[])
    t.control.set_learn(midi.learn, midi.learn_cancel)
    t.control.handle("learn /ganloops/deck/1/knob/3 sideways")
    assert len(t.reports) == 1 and "value must be a number, got str" in t.reports[0] and midi.status()["learn"] is None
    t.control.handle("learn /ganloops/deck/1/knob/3")
    assert midi.status()["learn"] == "/ganloops/deck/1/knob/3"
    t.control.handle("learn cancel")
    assert midi.status()["learn"] is None and len(t.reports) == 1
