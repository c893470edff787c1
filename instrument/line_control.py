"""``ganloops play --control-stdin``: the instrument played by lines of text.

For scripts, tests and quick experiments without an OSC client. One command per line;
decks and knobs count from 1, as in the OSC address space; ``#`` starts a comment::

    knob 1 2 0.8        deck 1, knob 2 to 0.8          (-1..1)
    seed 1 7            deck 1's base latent from seed 7
    bseed 1 9           deck 1's B style from seed 9
    mix 1 coarse 0.5    blend deck 1's coarse styles halfway to B  (coarse|middle|fine, 0..1)
    psi 1 0.7           truncation
    noise 1 0.2         noise strength
    gain 2 0.5          deck 2's gain (0..1)
    mute 2 1            mute deck 2 (1/0, on/off)
    crossfade 0.25      deck 1 <-> deck 2 (0..1)
    tempo 130           session tempo, BPM
    model 1 bundles/x   load a bundle on deck 1 (the old one plays until the new one is ready)
    scene save NAME | scene recall NAME | scene morph NAME BEATS
    learn ADDRESS [MODE|VALUE]   MIDI learn: the next MIDI control moved plays ADDRESS
                        (learn /ganloops/deck/1/knob/3 14bit, learn /ganloops/scene/recall drop)
    learn cancel        disarm MIDI learn
    state               print the whole state as one line of JSON (stdout)
    status              print the status line now (stdout)
    stats               print the counters as one line of JSON (stdout): audio underruns, OSC, MIDI
    quit                stop playing and exit (also: exit)

A line that cannot be parsed or a value the engine refuses gives one line on stderr,
``control: line 3: 'knob 1 x 0.5': knob: expected an integer, got 'x'``, and playing goes
on. The end of input stops reading but not playing (Ctrl-C or ``quit`` stop).
"""

from __future__ import annotations

import json
import shlex
import threading
from pathlib import Path
from typing import Any, Callable, TextIO

QUIT_WORDS = frozenset({"quit", "exit"})
_FLAG_WORDS = {"1": True, "on": True, "true": True, "yes": True, "0": False, "off": False, "false": False,
               "no": False}


class CommandError(ValueError):
    """A line that is not a command (one line, naming the problem)."""


def _int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CommandError(f"{name}: expected an integer, got {text!r}") from None


def _float(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CommandError(f"{name}: expected a number, got {text!r}") from None


def _flag(name: str, text: str) -> bool:
    if text.lower() not in _FLAG_WORDS:
        raise CommandError(f"{name}: expected 1/0 (on/off), got {text!r}")
    return _FLAG_WORDS[text.lower()]


def _learn_value(text: str) -> int | float | str:
    """A learn line's MODE|VALUE: a whole number, else a number, else the text (a mode, a scene name)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# name -> (argument names, what it does), for `help` and the arity check.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "knob": (("deck", "knob", "value"), "move deck's knob (-1..1)"),
    "seed": (("deck", "seed"), "deck's base latent from a seed"),
    "bseed": (("deck", "seed"), "deck's B style from a seed"),
    "mix": (("deck", "group", "value"), "blend coarse|middle|fine styles toward B (0..1)"),
    "psi": (("deck", "value"), "truncation"),
    "noise": (("deck", "value"), "noise strength"),
    "gain": (("deck", "value"), "deck gain (0..1)"),
    "mute": (("deck", "flag"), "mute 1/0"),
    "crossfade": (("value",), "deck 1 <-> deck 2 (0..1)"),
    "tempo": (("bpm",), "session tempo"),
    "model": (("deck", "path"), "load a bundle on a deck"),
    "scene": (("save|recall|morph", "name", "[beats]"), "scenes"),
    "learn": (("address|cancel", "[mode|value]"), "MIDI learn (needs MIDI input)"),
    "state": ((), "print the state as JSON"),
    "status": ((), "print the status line"),
    "stats": ((), "print the counters (audio, OSC, MIDI) as JSON"),
    "help": ((), "list the commands"),
    "quit": ((), "stop and exit"),
}


class LineControl:
    """Reads commands from `lines` on a thread and applies them to `engine`.

    `reply` prints answers (``state``, ``status``, ``stats``, ``help``: stdout), `report` prints
    errors (stderr, one line each), `on_quit` is called for ``quit``. `status_line` supplies
    the text for ``status``, `stats` the counters for ``stats`` (a dict, printed as JSON);
    `scenes` is a SceneStore (created on first use when None).
    `learn` and `learn_cancel` are the MIDI controller's (``MidiController.learn``,
    ``learn_cancel``); without them ``learn`` lines are refused ("MIDI learn needs MIDI input").
    """

    def __init__(self, engine: Any, lines: TextIO, on_quit: Callable[[], None], reply: Callable[[str], None],
                 report: Callable[[str], None], status_line: Callable[[], str] | None = None,
                 stats: Callable[[], dict[str, Any]] | None = None, scenes: Any = None,
                 learn: Callable[..., None] | None = None, learn_cancel: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.lines = lines
        self.on_quit = on_quit
        self.reply = reply
        self.report = report
        self.status_line = status_line
        self.stats = stats
        self._scenes = scenes
        self._learn = learn
        self._learn_cancel = learn_cancel
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.accepted = 0
        self.rejected = 0

    def set_learn(self, learn: Callable[..., None] | None, learn_cancel: Callable[[], None] | None) -> None:
        """Wire MIDI learn in (the controller's callables) or out (None: ``learn`` lines are refused)."""
        self._learn, self._learn_cancel = learn, learn_cancel

    # -- controller life cycle (play's controller hook) --------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._read, name="ganloops-stdin", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop applying commands (a read already blocked on stdin ends with the process)."""
        self._stopping.set()

    def _read(self) -> None:
        for number, line in enumerate(self.lines, start=1):
            if self._stopping.is_set():
                return
            self.handle(line, number)

    # -- one line ----------------------------------------------------------------------------

    def handle(self, line: str, number: int = 0) -> None:
        """Apply one line; errors become one report line, never an exception."""
        text = line.split("#", 1)[0].strip()
        if not text:
            return
        try:
            self.execute(text)
            self.accepted += 1
        except (CommandError, ValueError, KeyError, TypeError, OSError) as e:
            self.rejected += 1
            where = f"line {number}: " if number else ""
            message = " ".join(str(e).split()) or type(e).__name__
            self.report(f"control: {where}{text!r}: {message}")

    def execute(self, text: str) -> None:
        """Apply one command (comment-free); CommandError/ValueError when it is not valid."""
        try:
            words = shlex.split(text)
        except ValueError as e:
            raise CommandError(str(e)) from None
        name, args = words[0].lower(), words[1:]
        if name in QUIT_WORDS:
            self.on_quit()
            return
        if name not in COMMANDS:
            raise CommandError(f"unknown command {words[0]!r} (help lists them)")
        expected = COMMANDS[name][0]
        required = [a for a in expected if not a.startswith("[")]
        if not len(required) <= len(args) <= len(expected):
            raise CommandError(f"{name} takes {' '.join(expected) or 'no arguments'}")
        getattr(self, f"_do_{name}")(*args)

    # -- commands ------------------------------------------------------------------------------

    def _do_knob(self, deck: str, knob: str, value: str) -> None:
        self.engine.set_knob(_int("deck", deck), _int("knob", knob), _float("knob value", value))

    def _do_seed(self, deck: str, seed: str) -> None:
        self.engine.set_seed(_int("deck", deck), _int("seed", seed))

    def _do_bseed(self, deck: str, seed: str) -> None:
        self.engine.set_bseed(_int("deck", deck), _int("bseed", seed))

    def _do_mix(self, deck: str, group: str, value: str) -> None:
        self.engine.set_mix(_int("deck", deck), group, _float("mix", value))

    def _do_psi(self, deck: str, value: str) -> None:
        self.engine.set_psi(_int("deck", deck), _float("psi", value))

    def _do_noise(self, deck: str, value: str) -> None:
        self.engine.set_noise(_int("deck", deck), _float("noise", value))

    def _do_gain(self, deck: str, value: str) -> None:
        self.engine.set_gain(_int("deck", deck), _float("gain", value))

    def _do_mute(self, deck: str, flag: str) -> None:
        self.engine.set_mute(_int("deck", deck), _flag("mute", flag))

    def _do_crossfade(self, value: str) -> None:
        self.engine.set_crossfade(_float("crossfade", value))

    def _do_tempo(self, bpm: str) -> None:
        self.engine.set_tempo(_float("tempo", bpm))

    def _do_model(self, deck: str, path: str) -> None:
        d = _int("deck", deck)
        folder = Path(path).expanduser()
        if not (folder / "manifest.json").is_file():
            raise CommandError(f"{folder}: not a model bundle (no manifest.json)")
        self.engine.load_deck(d, folder, wait=False)

    def _do_scene(self, action: str, name: str, beats: str | None = None) -> None:
        from instrument.scenes import SceneStore  # only when scenes are used

        if self._scenes is None:
            self._scenes = SceneStore()
        if action == "save":
            self.reply(f"scene saved: {self._scenes.save_engine(self.engine, name)}")
        elif action == "recall":
            self._scenes.recall(self.engine, name)
        elif action == "morph":
            if beats is None:
                raise CommandError("scene morph takes a name and a number of beats")
            self._scenes.morph(self.engine, name, _float("beats", beats))
        else:
            raise CommandError(f"scene: expected save, recall or morph, got {action!r}")

    def _do_learn(self, address: str, extra: str | None = None) -> None:
        learn, cancel = self._learn, self._learn_cancel
        if learn is None or cancel is None:
            raise CommandError("MIDI learn needs MIDI input")
        if address.lower() == "cancel" and extra is None:
            cancel()
        elif extra is None:
            learn(address)
        else:
            learn(address, _learn_value(extra))

    def _do_state(self) -> None:
        self.reply(json.dumps(self.engine.state(), separators=(",", ":")))

    def _do_status(self) -> None:
        self.reply(self.status_line() if self.status_line is not None else "status: not available")

    def _do_stats(self) -> None:
        self.reply(json.dumps(self.stats(), separators=(",", ":")) if self.stats is not None
                   else "stats: not available")

    def _do_help(self) -> None:
        for name, (args, what) in COMMANDS.items():
            self.reply(f"{name} {' '.join(args)}".strip().ljust(34) + what)
