"""The session clock: which beat of which bar a given output frame falls on.

The transport maps output frames (counted from 0 at start) to a position in beats. It is
piecewise linear: a tempo change at frame F re-anchors it there, so the position in beats
(and bars) is continuous across the change and the bar grid stays where it was; only the
speed at which frames move through it changes. Every loop is read at
``beats mod loop_beats``, which is what keeps decks phase-locked to the grid and to each
other.

A shift (``shift(delta_beats, at_frame)``, what an outside clock such as Ableton Link uses
to line up bars) re-anchors the same way but moves the position by ``delta_beats`` at that
frame; the tempo stays.

Position arithmetic is float64 from an anchor that moves only at tempo changes and shifts,
so a performance of hours does not drift, and the same sequence of changes always gives the
same numbers (journal replay depends on this).

The anchor (frame, beats, tempo) is one immutable tuple replaced by a single assignment:
the mixer thread is the only writer, and a reader on another thread (the phase lock asking
which beat a frame is on) always sees the three values of one moment, never a torn mix of
an old frame and a new position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Position:
    """Where the transport is: bar and beat count from 0; `beat_phase` is the fraction into the beat."""

    bar: int
    beat: int
    beat_phase: float
    frame: int
    beats: float


class _Anchor(NamedTuple):
    """Where the piecewise-linear map last changed: `beats` at `frame`, then `tempo_bpm`."""

    frame: int
    beats: float
    tempo_bpm: float
    beats_per_frame: float


class Transport:
    """Frames <-> beats at a tempo that can change, with the bar grid kept aligned."""

    def __init__(self, sample_rate_hz: int, tempo_bpm: float, beats_per_bar: int = 4) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.beats_per_bar = int(beats_per_bar)
        self._anchor = self._make_anchor(0, 0.0, tempo_bpm)

    def _make_anchor(self, frame: int, beats: float, tempo_bpm: float) -> _Anchor:
        tempo = float(tempo_bpm)
        return _Anchor(int(frame), float(beats), tempo, tempo / (60.0 * self.sample_rate_hz))

    @property
    def tempo_bpm(self) -> float:
        return self._anchor.tempo_bpm

    @property
    def anchor_frame(self) -> int:
        return self._anchor.frame

    @property
    def anchor_beats(self) -> float:
        return self._anchor.beats

    @property
    def beats_per_frame(self) -> float:
        return self._anchor.beats_per_frame

    def restore(self, tempo_bpm: float, anchor_frame: int, anchor_beats: float) -> None:
        """Put the transport where a saved one was (``to_json``'s fields; journal replay)."""
        self._anchor = self._make_anchor(anchor_frame, anchor_beats, tempo_bpm)

    def beat_frames(self) -> float:
        """Length of one beat in frames at the current tempo (not necessarily whole)."""
        return 60.0 * self.sample_rate_hz / self.tempo_bpm

    def beats_at(self, frame: float) -> float:
        """Position in beats of output frame `frame` (valid from the last anchor on)."""
        a = self._anchor
        return a.beats + (frame - a.frame) * a.beats_per_frame

    def set_tempo(self, tempo_bpm: float, at_frame: int) -> None:
        """Change tempo from `at_frame` on; beats before and after it join up."""
        self._anchor = self._make_anchor(at_frame, self.beats_at(at_frame), tempo_bpm)

    def shift(self, delta_beats: float, at_frame: int) -> None:
        """Move the position by `delta_beats` (positive: ahead) from `at_frame` on, at the same tempo.

        Frame `at_frame` is then at ``beats_at(at_frame) + delta_beats``: bar phase jumps by
        exactly that much there, and frames keep moving through beats at the same speed.
        """
        a = self._anchor
        self._anchor = self._make_anchor(at_frame, self.beats_at(at_frame) + float(delta_beats), a.tempo_bpm)

    def first_frame_at_or_after(self, beats: float) -> int:
        """The first frame whose position is >= `beats` (for frames after the anchor)."""
        a = self._anchor
        frame = a.frame + math.ceil((beats - a.beats) / a.beats_per_frame - 1e-9)
        return max(frame, a.frame)

    def next_boundary_frame(self, frame: int, unit_beats: float) -> int:
        """The first frame >= `frame` that starts a new unit (beat: 1, bar: beats_per_bar)."""
        beats = self.beats_at(frame)
        boundary = math.ceil(beats / unit_beats - 1e-9) * unit_beats
        return max(frame, self.first_frame_at_or_after(boundary))

    def position(self, frame: int) -> Position:
        beats = self.beats_at(frame)
        whole = math.floor(beats)
        return Position(bar=whole // self.beats_per_bar, beat=whole % self.beats_per_bar,
                        beat_phase=beats - whole, frame=int(frame), beats=beats)

    def to_json(self) -> dict[str, float | int]:
        return {"tempo_bpm": self.tempo_bpm, "anchor_frame": self.anchor_frame, "anchor_beats": self.anchor_beats,
                "beats_per_bar": self.beats_per_bar, "sample_rate_hz": self.sample_rate_hz}
