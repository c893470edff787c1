"""``ganloops play``: the instrument, live.

::

    ganloops play [BUNDLE ...] [--device D] [--sample-rate HZ] [--block N] [--decks 2]
                  [--tempo BPM] [--quantize none|beat|bar] [--provider P] [--record FILE.wav]
                  [--no-osc] [--osc-host H] [--osc-port P] [--no-midi] [--midi-map FILE]
                  [--midi-in NAME ...] [--midi-clock-out NAME] [--scene NAME]
                  [--control-stdin] [--link [--link-start-stop]]

Bundles go onto decks 1, 2, ... in order; with none, the bundled default model
(``instrument/models/default/``) plays on deck 1. The device is JACK's when a JACK server
runs, else the platform's default output (``ganloops devices`` lists the others), at the
device's rate unless ``--sample-rate`` says otherwise.

Startup problems (no model, a bundle that does not load, no device, a rate the device
refuses, a recording that cannot be created) end the command with one line naming the
culprit and exit status 1. Once playing, nothing a controller sends and nothing a device
does stops the music: bad commands and failed loads give one line, a lost device makes
the output wait and retry (see ``instrument.audio``).

Controllers: OSC on 127.0.0.1:9000 (``instrument.osc``), MIDI from ``instrument.midi``
when that package exists (its ``create_controller(engine, mapping_path=..., inputs=...,
clock_out=..., tempo_arbiter=...)``), with ``--control-stdin`` the line protocol of
``instrument.line_control``, and with ``--link`` an Ableton Link session
(``instrument.link.LinkFollower``). Each is an object with ``start()``/``stop()``; one that
fails to start is reported and left out (Link without the ``link`` extra: one line naming
``ganloops[link]``). MIDI is made before OSC and stdin, which get its ``learn`` and
``learn_cancel`` (OSC ``/ganloops/learn``, the stdin ``learn`` line); when MIDI is off or
fails to start, they refuse learn requests instead.

Tempo sources: the session's ``TempoArbiter`` (``instrument.tempo_sources``, made when the
engine starts) ranks Link > MIDI clock > manual. Link and the MIDI clock propose their tempo
and bar phase to it; every other tempo change (OSC, stdin, scenes, ``--tempo``) is manual.

Stopping: Ctrl-C, SIGTERM, SIGHUP or ``quit`` on stdin stop the controllers, the output,
the engine and the recording (in that order), so the WAV file and its journal end cleanly.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from instrument.onnx_session import PROVIDER_CHOICES
from instrument.portaudio_host import AudioError, one_line
from instrument.status import CpuMeter, DeckLine, StatusPrinter, StatusSnapshot, format_status

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "default"
OUTPUT_CHANNELS = 2
DEFAULT_OSC_HOST = "127.0.0.1"
DEFAULT_OSC_PORT = 9000
QUANTIZE_CHOICES = ("none", "beat", "bar")
# Python hands its interpreter lock to a waiting thread only after the holder has had it for
# the switch interval (5 ms by default) when the holder keeps busy. The audio callback and
# the mixer thread (16 ms of sound ahead) each need the lock every 5.3 ms block; a flood of
# OSC kept the controller threads busy enough that they waited too long: 8 and 17 ring
# underruns in 10 s of 10 000 garbage datagrams a second on the 2-core test machine (loaded
# by a training run), 0 in most runs with 1 ms (tests/e2e/test_fuzz_live.py, docs/osc.md).
SWITCH_INTERVAL_SECONDS = 0.001


class PlayError(RuntimeError):
    """A reason `play` cannot start, in one line naming the culprit."""


class Controller(Protocol):
    """What play starts and stops: an OSC server, a MIDI input, the stdin reader."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class PlayOptions:
    """The command line of ``ganloops play``, parsed."""

    bundles: list[Path]
    device: str | int | None = None
    sample_rate_hz: int | None = None
    block_frames: int = 256
    decks: int = 2
    tempo_bpm: float | None = None
    quantize: str = "none"
    provider: str = "auto"
    record: Path | None = None
    osc: bool = True
    osc_host: str = DEFAULT_OSC_HOST
    osc_port: int = DEFAULT_OSC_PORT
    midi: bool = True
    midi_map: Path | None = None  # the MIDI mapping file (default: the user's, else the bundled default)
    midi_in: list[str] = field(default_factory=list)  # MIDI input name patterns (default: the mapping's)
    midi_clock_out: str | None = None  # send MIDI clock to this output (default: the mapping's)
    scene: str | None = None
    control_stdin: bool = False
    link: bool = False  # join an Ableton Link session: its tempo and bar lines
    link_start_stop: bool = False  # with link: mute the playing decks while the session is stopped
    status_interval_seconds: float = 0.25

    @property
    def journal(self) -> Path | None:
        """The engine journal beside the recording: FILE.wav -> FILE.journal.jsonl."""
        return None if self.record is None else self.record.with_suffix(".journal.jsonl")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganloops play", description="Play model bundles live.")
    p.add_argument("bundles", nargs="*", type=Path, metavar="BUNDLE",
                   help="model bundle folders, onto decks 1, 2, ... (default: the bundled default model)")
    p.add_argument("--device", help="output device: a name (words of it) or an index from `ganloops devices` "
                                    "(default: JACK when running, else the system default)")
    p.add_argument("--sample-rate", type=int, dest="sample_rate_hz", metavar="HZ",
                   help="output rate (default: the device's; under JACK it must be the server's)")
    p.add_argument("--block", type=int, default=256, dest="block_frames", metavar="N",
                   help="frames per audio callback (default 256)")
    p.add_argument("--decks", type=int, default=2, help="number of decks (default 2)")
    p.add_argument("--tempo", type=float, dest="tempo_bpm", metavar="BPM",
                   help="session tempo (default: the first model's)")
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES, default="none",
                   help="when a new render takes over: at once, phase-locked (none), or at the next beat/bar")
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="auto",
                   help="onnxruntime execution provider (default auto: CUDA/CoreML when they work, else CPU)")
    p.add_argument("--record", type=Path, metavar="FILE.wav",
                   help="record the master to FILE.wav, with the engine journal in FILE.journal.jsonl")
    p.add_argument("--no-osc", dest="osc", action="store_false", help="do not listen for OSC")
    p.add_argument("--osc-host", default=DEFAULT_OSC_HOST, help=f"OSC address to listen on ({DEFAULT_OSC_HOST})")
    p.add_argument("--osc-port", type=int, default=DEFAULT_OSC_PORT,
                   help=f"OSC UDP port ({DEFAULT_OSC_PORT}; 0 picks a free one)")
    p.add_argument("--no-midi", dest="midi", action="store_false", help="do not open MIDI inputs")
    p.add_argument("--midi-map", type=Path, metavar="FILE",
                   help="MIDI mapping file (TOML, docs/midi.md; default: the user's, else the bundled one)")
    p.add_argument("--midi-in", action="append", default=[], metavar="NAME",
                   help="open the MIDI inputs whose names hold the words of NAME "
                        "(repeatable; default: the mapping's ports)")
    p.add_argument("--midi-clock-out", metavar="NAME",
                   help="send MIDI clock to the MIDI output whose name holds the words of NAME")
    p.add_argument("--scene", help="recall this scene (a name in the scene folder, or a .json path) at start")
    p.add_argument("--control-stdin", action="store_true",
                   help="read commands from stdin, one per line (knob 1 1 0.8, seed 1 7, tempo 130, quit; "
                        "`help` lists them)")
    p.add_argument("--link", action="store_true",
                   help="join an Ableton Link session: follow its tempo and bar lines (needs ganloops[link])")
    p.add_argument("--link-start-stop", action="store_true",
                   help="with --link: mute the playing decks when the session stops, unmute them when it starts")
    return p


def parse_options(argv: list[str]) -> PlayOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.link_start_stop and not args.link:
        parser.error("--link-start-stop needs --link")
    device: str | int | None = args.device
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device)
    return PlayOptions(bundles=list(args.bundles), device=device, sample_rate_hz=args.sample_rate_hz,
                       block_frames=args.block_frames, decks=args.decks, tempo_bpm=args.tempo_bpm,
                       quantize=args.quantize, provider=args.provider, record=args.record, osc=args.osc,
                       osc_host=args.osc_host, osc_port=args.osc_port, midi=args.midi, midi_map=args.midi_map,
                       midi_in=list(args.midi_in), midi_clock_out=args.midi_clock_out, scene=args.scene,
                       control_stdin=args.control_stdin, link=args.link, link_start_stop=args.link_start_stop)


def default_bundles(default_dir: Path | None = None) -> list[Path]:
    """The bundled default model, when this install has one."""
    folder = DEFAULT_MODEL_DIR if default_dir is None else default_dir
    return [folder] if (folder / "manifest.json").is_file() else []


def check_bundle_folders(bundles: list[Path], decks: int) -> None:
    """PlayError unless every bundle is a folder with a manifest and they fit on the decks."""
    if len(bundles) > decks:
        raise PlayError(f"{len(bundles)} bundles for {decks} decks: pass --decks {len(bundles)} or fewer bundles")
    for bundle in bundles:
        if not bundle.is_dir():
            raise PlayError(f"{bundle}: no such bundle folder")
        if not (bundle / "manifest.json").is_file():
            raise PlayError(f"{bundle}: not a model bundle (no manifest.json; `ganloops export` makes bundles)")


# ---------------------------------------------------------------------------------------
# The session
# ---------------------------------------------------------------------------------------


class _PrinterHandler(logging.Handler):
    """Log records of the ganloops.* loggers (OSC, MIDI) as lines that keep the status line intact."""

    def __init__(self, printer: StatusPrinter) -> None:
        super().__init__(logging.INFO)
        self.printer = printer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.printer.message(self.format(record))
        except Exception:
            self.handleError(record)


class PlaySession:
    """One run of ``ganloops play``: engine, output, recording, controllers, status line."""

    def __init__(self, options: PlayOptions, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 printer: StatusPrinter | None = None) -> None:
        self.options = options
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.printer = printer or StatusPrinter(sys.stderr)
        self.stop_requested = threading.Event()
        self.engine: Any = None
        self.output: Any = None
        self.recorder: Any = None
        self.controllers: list[Controller] = []
        self.tempo: Any = None  # the TempoArbiter (instrument.tempo_sources), from start() on
        self.link: Any = None  # the LinkFollower while it runs (--link)
        self.midi: Any = None  # the MIDI controller while it runs
        self.osc: Any = None  # the OSC server while it runs
        self._cpu = CpuMeter()
        self._last_load_percent: float | None = None
        self._played = False  # the output started: a recording from then on is kept
        self._reply_lock = threading.Lock()

    # -- building ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Everything up to the first sound; PlayError (one line) when something cannot be used."""
        from instrument.audio import AudioOutput, resolve_output
        from instrument.bundle import BundleError
        from instrument.engine import Engine, EngineConfig

        o = self.options
        bundles = o.bundles or default_bundles()
        if not bundles and o.scene is None:
            raise PlayError(f"no bundle given and no default model installed ({DEFAULT_MODEL_DIR}/): "
                            f"pass a bundle folder, e.g. ganloops play bundles/techno")
        check_bundle_folders(bundles, o.decks)
        try:
            device, rate_hz = resolve_output(o.device, o.sample_rate_hz, OUTPUT_CHANNELS)
        except AudioError as e:
            raise PlayError(str(e)) from None
        try:
            config = EngineConfig(sample_rate_hz=rate_hz, block_frames=o.block_frames, channels=OUTPUT_CHANNELS,
                                  decks=o.decks, tempo_bpm=o.tempo_bpm, quantize=o.quantize)
            self.engine = Engine(config, provider=o.provider)
        except ValueError as e:
            raise PlayError(f"engine: {one_line(e)}") from None
        for deck, bundle in enumerate(bundles, start=1):
            try:
                self.engine.load_deck(deck, bundle, wait=True)
            except (BundleError, ValueError, RuntimeError) as e:
                raise PlayError(one_line(e)) from None
        self.engine.add_listener(self._on_engine_event)  # from now on, errors are lines, not exits
        if o.scene is not None:
            self._recall_scene(o.scene)
        if o.record is not None:
            self._start_recording(rate_hz)
        self.output = AudioOutput(self.engine.callback, device=o.device, sample_rate_hz=rate_hz,
                                  block_frames=o.block_frames, channels=OUTPUT_CHANNELS)
        self.printer.message(f"ganloops: {', '.join(str(b) for b in bundles) or 'scene ' + str(o.scene)} "
                             f"on {device.label()} at {rate_hz} Hz, {o.block_frames} frames per block")

    def _recall_scene(self, name: str) -> None:
        from instrument.scenes import SceneError, SceneStore

        try:
            scene = SceneStore().recall(self.engine, name)
            self.printer.message(f"scene: recalled {scene.name} ({scene.path})")
        except SceneError as e:
            self.printer.message(f"scene: {one_line(e)}; playing without it")

    def _start_recording(self, rate_hz: int) -> None:
        from instrument.recorder import RecorderError, StreamRecorder

        o = self.options
        assert o.record is not None and o.journal is not None
        if o.journal.exists():
            raise PlayError(f"{o.journal}: exists already (choose another recording name)")
        try:
            self.recorder = StreamRecorder(o.record, rate_hz, OUTPUT_CHANNELS).start()
        except RecorderError as e:
            raise PlayError(str(e)) from None
        try:
            self.engine.record_journal(o.journal)
        except (OSError, ValueError) as e:
            self.recorder.close()
            raise PlayError(f"{o.journal}: cannot write the journal ({one_line(e)})") from None
        self.engine.set_recorder(self.recorder)

    def make_controllers(self) -> list[Controller]:
        """The controllers the options ask for (the hook Link, OSC, MIDI and stdin plug into).

        Link comes first, so that it is started first (the session's tempo before anyone
        else's) and stopped last. MIDI comes before OSC and stdin, which are handed its
        ``learn``/``learn_cancel`` (``start()`` takes them back if MIDI fails to start).
        """
        o = self.options
        controllers: list[Controller] = []
        if o.link:
            from instrument.link import LinkFollower

            self.link = LinkFollower(self.engine, self._tempo_arbiter(), start_stop_sync=o.link_start_stop)
            controllers.append(self.link)
        learn: dict[str, Any] = {"learn": None, "learn_cancel": None}
        if o.midi:
            midi = _optional_module("instrument.midi")
            if midi is not None and hasattr(midi, "create_controller"):
                self.midi = midi.create_controller(self.engine, mapping_path=o.midi_map, inputs=o.midi_in or None,
                                                   clock_out=o.midi_clock_out, tempo_arbiter=self._tempo_arbiter())
                controllers.append(self.midi)
                learn = {"learn": getattr(self.midi, "learn", None),
                         "learn_cancel": getattr(self.midi, "learn_cancel", None)}
        if o.osc:
            osc = _optional_module("instrument.osc")
            if osc is None:
                self.printer.message("OSC: not part of this install; playing without it")
            else:
                self.osc = osc.OscServer(self.engine, host=o.osc_host, port=o.osc_port, **learn)
                controllers.append(self.osc)
        if o.control_stdin:
            from instrument.line_control import LineControl

            controllers.append(LineControl(self.engine, self.stdin, on_quit=self.stop_requested.set,
                                           reply=self._reply, report=self.printer.message,
                                           status_line=lambda: format_status(self.snapshot()), stats=self.stats,
                                           **learn))
        return controllers

    # -- tempo sources -------------------------------------------------------------------

    def _output_latency_seconds(self) -> float:
        """The sound card's output latency (what the phase lock subtracts to line up what is heard)."""
        return float(self.output.status().latency_seconds) if self.output is not None else 0.0

    def _tempo_arbiter(self) -> Any:
        """The session's TempoArbiter, made on first use (``start()`` makes it right after the engine starts)."""
        if self.tempo is None:
            from instrument.tempo_sources import create_arbiter

            self.tempo = create_arbiter(self.engine, output_latency_seconds=self._output_latency_seconds)
        return self.tempo

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the engine, the sound, the tempo arbiter, then the controllers (a failing one is reported, skipped)."""
        self.engine.start()
        try:
            self.output.start()
        except AudioError as e:
            self.engine.stop()
            raise PlayError(str(e)) from None
        self._played = True
        self._tempo_arbiter()
        controllers = self.make_controllers()
        for controller in controllers:
            try:
                controller.start()
            except Exception as e:
                name = "Link" if controller is self.link else "MIDI" if controller is self.midi \
                    else type(controller).__name__
                self.printer.message(f"{name}: {one_line(e)}; playing without it")
                if controller is self.link:
                    self.link = None
                if controller is self.osc:
                    self.osc = None
                if controller is self.midi:
                    self.midi = None
                    for other in controllers:  # OSC and stdin refuse learn from now on
                        if hasattr(other, "set_learn"):
                            other.set_learn(None, None)
                continue
            self.controllers.append(controller)

    def run_until_stopped(self) -> None:
        """Redraw the status line until a stop is requested."""
        while not self.stop_requested.wait(self.options.status_interval_seconds):
            self.printer.show(self.snapshot(measure_load=True))

    def shutdown(self) -> None:
        """Controllers, tempo arbiter, output, engine, recording: each stopped even if an earlier one fails."""
        for controller in reversed(self.controllers):
            _quietly(controller.stop)
        self.controllers = []
        self.link = None
        self.midi = None
        self.osc = None
        if self.tempo is not None:
            _quietly(self.tempo.close)
            self.tempo = None
        if self.output is not None:
            _quietly(self.output.stop)
        if self.engine is not None:
            _quietly(self.engine.stop)
            _quietly(lambda: self.engine.set_recorder(None))
        if self.recorder is not None:
            self._finish_recording()
        self.printer.finish()

    def _finish_recording(self) -> None:
        """Close the WAV (the journal closed with the engine) and say what it holds."""
        summary = self.recorder.close()
        self.recorder = None
        journal = self.options.journal
        if not self._played:
            # startup failed before a sound: leave no take that would block the next try
            for path in (*summary.paths, journal):
                if path is not None:
                    path.unlink(missing_ok=True)
            return
        text = f"recorded {summary.seconds:.1f} s to {', '.join(str(p) for p in summary.paths)} (journal {journal})"
        if summary.dropped_frames:
            text += f"; {summary.dropped_frames} frames lost to a slow disk (written as silence)"
        if summary.error:
            text += f"; recording error: {summary.error}"
        self.printer.message(text)

    # -- reporting -----------------------------------------------------------------------

    def _reply(self, text: str) -> None:
        with self._reply_lock:
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def _on_engine_event(self, address: str, args: tuple) -> None:
        """Engine listener: errors become one line each (renders, loads)."""
        if address.endswith("/error") and args:
            self.printer.message(f"engine: {args[0]}")

    def snapshot(self, measure_load: bool = False) -> StatusSnapshot:
        """The status line's content, from the engine's stats and state and the output's status.

        The CPU load is measured between the periodic redraws (`measure_load`); a
        ``status`` command in between shows the last measurement.
        """
        stats = self.engine.stats
        state = self.engine.state()
        audio = self.output.status() if self.output is not None else None
        decks = []
        for i, (info, controls) in enumerate(zip(stats.decks, state["decks"])):
            renders = self.engine.workers[i].render_ms
            decks.append(DeckLine(
                deck=i + 1, model=info.get("name"), seed=int(controls.get("seed", 0)),
                knobs=tuple(controls.get("knobs", ())), gain=float(controls.get("gain", 1.0)),
                mute=bool(controls.get("mute", False)), bseed=controls.get("bseed"),
                mix=tuple(controls.get("mix", {}).values()), last_render_ms=renders[-1] if renders else None,
                error=info.get("last_error")))
        load = self._cpu.percent() if measure_load else None
        if load is not None:
            self._last_load_percent = load
        return StatusSnapshot(
            audio_state=audio.state if audio else "stopped", audio_reason=audio.last_error if audio else "",
            tempo_bpm=stats.tempo_bpm, bar=stats.position.bar, beat=stats.position.beat, decks=tuple(decks),
            provider=stats.provider, load_percent=self._last_load_percent, underruns=stats.underruns,
            underflows=audio.underflows if audio else 0,
            recording=self.options.record.name if self.options.record is not None else None,
            notes=self._link_notes() + self._midi_notes())

    def stats(self) -> dict[str, Any]:
        """The counters, for the stdin ``stats`` line: audio (``underruns``: blocks the engine's
        ring was short for, the engine's own fault; ``underflows``: blocks the device flagged),
        the OSC server's (``OscServer.stats``) and the MIDI controller's (``status()``); None
        for a controller that does not run."""
        engine = self.engine.stats
        output = self.output.status() if self.output is not None else None
        audio: dict[str, Any] = {
            "state": output.state if output else "stopped", "underruns": engine.underruns,
            "underflows": output.underflows if output else 0, "callbacks": engine.callbacks,
            "callback_errors": output.callback_errors if output else 0,
            "reconnects": output.reconnects if output else 0, "renders": engine.renders,
            "render_errors": engine.render_errors, "mixer_errors": engine.mixer_errors, "swaps": engine.swaps,
            "transport_frames": engine.transport_frames, "produced_frames": engine.produced_frames,
            "mixer_scheduling": engine.mixer_scheduling}
        osc, midi = self.osc, self.midi
        return {"audio": audio, "osc": osc.stats if osc is not None else None,
                "midi": midi.status() if midi is not None and hasattr(midi, "status") else None}

    def _link_notes(self) -> tuple[str, ...]:
        """``LINK 2 peers 128.0 BPM`` (``stopped`` while start/stop sync holds the decks) when Link runs."""
        link = self.link
        if link is None:
            return ()
        s = link.status()
        if not s.enabled:
            return ("LINK joining",)
        text = f"LINK {s.peers} peer{'' if s.peers == 1 else 's'}"
        if s.link_tempo_bpm is not None:
            text += f" {s.link_tempo_bpm:.1f} BPM"
        if not s.playing:
            text += " stopped"
        return (text,)


    def _midi_notes(self) -> tuple[str, ...]:
        """``MIDI 2 in``, plus ``clock 128.0`` while following a MIDI clock and ``learn`` while armed."""
        midi = self.midi
        if midi is None or not hasattr(midi, "status"):
            return ()
        return (midi_note(midi.status()),)


def midi_note(status: dict[str, Any]) -> str:
    """The status line's MIDI field from ``MidiController.status()``: open inputs, clock BPM, learn."""
    text = f"MIDI {len(status.get('inputs') or ())} in"
    clock = status.get("clock") or {}
    if clock.get("following") and clock.get("bpm") is not None:
        text += f" clock {float(clock['bpm']):.1f}"
    if status.get("clock_out"):
        text += " clock out"
    if status.get("learn"):
        text += f" learn {status['learn']}"
    return text


def _optional_module(name: str) -> Any:
    """`name` imported, or None when this install does not have that module."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name == name:
            return None
        raise


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception:
        pass


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


def _install_stop_signals(session: PlaySession) -> dict[int, Any]:
    """SIGTERM/SIGHUP/first Ctrl-C ask for a clean stop; a second Ctrl-C interrupts."""
    previous: dict[int, Any] = {}

    def request_stop(signum: int, frame: Any) -> None:
        if signum == signal.SIGINT:
            if session.stop_requested.is_set():
                raise KeyboardInterrupt
            session.printer.message("stopping (Ctrl-C again to interrupt)")
        session.stop_requested.set()

    for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, request_stop)
    return previous


def play_main(argv: list[str]) -> int:
    options = parse_options(argv)
    printer = StatusPrinter(sys.stderr)
    session = PlaySession(options, printer=printer)
    handler = _PrinterHandler(printer)
    handler.setFormatter(logging.Formatter("%(message)s"))
    ganloops_log = logging.getLogger("ganloops")
    ganloops_log.addHandler(handler)
    ganloops_log.setLevel(logging.INFO)
    previous = _install_stop_signals(session) if threading.current_thread() is threading.main_thread() else {}
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL_SECONDS))
    try:
        session.prepare()
        session.start()
        session.run_until_stopped()
        return 0
    except PlayError as e:
        printer.message(f"ganloops play: {e}")
        return 1
    finally:
        session.shutdown()
        ganloops_log.removeHandler(handler)
        for sig, old in previous.items():
            signal.signal(sig, old)
        sys.setswitchinterval(switch_interval)
