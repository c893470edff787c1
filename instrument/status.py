"""The live status line of ``ganloops play``.

One compact line a performer can read at a glance::

    PLAY 128.0 BPM 12:3 | 1 techno s7 k1+0.80 k3-0.20 | 2 house s3 muted | cpu render 41 ms | load 23% | xruns 0

- ``PLAY`` / ``WAIT`` (no audio device: the line then says why, e.g. "JACK server
  stopped") / ``STOP``;
- tempo and bar:beat, both counted from 1;
- per deck: number, model name, seed (``s``), the knobs that are off centre, ``muted``,
  ``gain 0.50`` when the gain is not 1, ``B<seed>`` with the style mix when blending;
- the execution provider and the last render time of each deck (the slowest shown);
- ``load``: the process's CPU time over wall time since the last line, in percent of one
  core (so 150% means one and a half cores busy);
- ``xruns``: blocks the callback found the ring short (engine underruns) plus blocks the
  device flagged as underflow; anything above 0 is audible.

On a terminal the line is redrawn in place (``\\r``) about four times a second, cut to the
terminal's width; otherwise (a log, a pipe) a plain line is printed every few seconds and
whenever the output's state changes, so a log still shows when the device went away.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

# Knob values closer to 0 than this count as centred and are not shown.
KNOB_SHOWN_ABOVE = 0.005
MAX_KNOBS_SHOWN = 4


@dataclass(frozen=True)
class DeckLine:
    """What the status line says about one deck."""

    deck: int
    model: str | None
    seed: int
    knobs: tuple[float, ...] = ()
    gain: float = 1.0
    mute: bool = False
    bseed: int | None = None
    mix: tuple[float, ...] = ()
    last_render_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class StatusSnapshot:
    """Everything one status line shows, gathered by ``play`` from the engine and the output."""

    audio_state: str  # "playing", "waiting", "stopped"
    audio_reason: str = ""
    tempo_bpm: float = 0.0
    bar: int = 0  # counted from 0, as the transport does
    beat: int = 0
    decks: tuple[DeckLine, ...] = ()
    provider: str = ""
    load_percent: float | None = None
    underruns: int = 0
    underflows: int = 0
    recording: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


_STATE_WORDS = {"playing": "PLAY", "waiting": "WAIT", "stopped": "STOP"}


def _deck_text(d: DeckLine) -> str:
    parts = [str(d.deck), d.model or "(empty)"]
    if d.model is not None:
        parts.append(f"s{d.seed}")
    shown = [(k + 1, v) for k, v in enumerate(d.knobs) if abs(v) > KNOB_SHOWN_ABOVE]
    parts += [f"k{k}{v:+.2f}" for k, v in shown[:MAX_KNOBS_SHOWN]]
    if len(shown) > MAX_KNOBS_SHOWN:
        parts.append(f"+{len(shown) - MAX_KNOBS_SHOWN}k")
    if d.bseed is not None and any(m > 0 for m in d.mix):
        parts.append(f"B{d.bseed}:" + "/".join(f"{m:.1f}" for m in d.mix))
    if d.mute:
        parts.append("muted")
    elif abs(d.gain - 1.0) > 1e-3:
        parts.append(f"gain {d.gain:.2f}")
    if d.error:
        parts.append(f"ERR {d.error}")
    return " ".join(parts)


def format_status(s: StatusSnapshot) -> str:
    """The status line for `s` (not cut to any width)."""
    head = _STATE_WORDS.get(s.audio_state, s.audio_state.upper())
    if s.audio_state == "waiting":
        head += f" for device ({s.audio_reason or 'retrying'})"
    fields = [f"{head} {s.tempo_bpm:.1f} BPM {s.bar + 1}:{s.beat + 1}"]
    fields += [_deck_text(d) for d in s.decks]
    renders = [d.last_render_ms for d in s.decks if d.last_render_ms is not None]
    engine = s.provider or "?"
    if renders:
        engine += f" render {max(renders):.0f} ms"
    fields.append(engine)
    if s.load_percent is not None:
        fields.append(f"load {s.load_percent:.0f}%")
    fields.append(f"xruns {s.underruns + s.underflows}")
    if s.recording:
        fields.append(f"REC {s.recording}")
    fields += list(s.notes)
    return " | ".join(fields)


class CpuMeter:
    """Process CPU time over wall time between calls, in percent of one core."""

    def __init__(self) -> None:
        self._cpu_seconds = time.process_time()
        self._wall_seconds = time.monotonic()

    def percent(self) -> float | None:
        cpu, wall = time.process_time(), time.monotonic()
        d_cpu, d_wall = cpu - self._cpu_seconds, wall - self._wall_seconds
        self._cpu_seconds, self._wall_seconds = cpu, wall
        if d_wall <= 1e-3:
            return None
        return 100.0 * d_cpu / d_wall


class StatusPrinter:
    """Shows status lines on `stream`: redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 plain_every_seconds: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.plain_every_seconds = plain_every_seconds
        self._last_plain_seconds = float("-inf")
        self._last_state = ""
        self._drawn = False
        self._lock = threading.Lock()  # show() and message() come from different threads

    def show(self, snapshot: StatusSnapshot) -> None:
        with self._lock:
            self._show(format_status(snapshot), snapshot.audio_state)

    def _show(self, line: str, audio_state: str) -> None:
        if self.tty:
            width = max(20, shutil.get_terminal_size((120, 24)).columns - 1)
            self.stream.write("\r" + line[:width] + "\x1b[K")
            self._drawn = True
        else:
            now = time.monotonic()
            changed = audio_state != self._last_state
            if changed or now - self._last_plain_seconds >= self.plain_every_seconds:
                self.stream.write(line + "\n")
                self._last_plain_seconds = now
        self._last_state = audio_state
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (an error, a notice) that the redrawn status line does not hide."""
        with self._lock:
            if self.tty and self._drawn:
                self.stream.write("\r\x1b[K")
            self.stream.write(text.rstrip("\n") + "\n")
            self.stream.flush()
            self._drawn = False

    def finish(self) -> None:
        """End the redrawn line so the shell prompt starts on a fresh one."""
        with self._lock:
            if self.tty and self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False
