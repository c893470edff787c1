"""The session clock: which beat of which bar a given output frame falls on.

The transport maps output frames (counted from 0 at start) to a position in beats. It is
piecewise linear: a tempo change at frame F re-anchors it there, so the position in beats
(and bars) is continuous across the change and the bar grid stays where it was; only the
speed at which frames move through it changes. Every loop is read at
``beats mod loop_beats``, which is what keeps decks phase-locked to the grid and to each
other.

Position arithmetic is float64 from an anchor that moves only at tempo changes, so a
performance of hours does not drift, and the same sequence of changes always gives the
same numbers (journal replay depends on this).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """Where the transport is: bar and beat count from 0; `beat_phase` is the fraction into the beat."""

    bar: int
    beat: int
    beat_phase: float
    frame: int
    beats: float


class Transport:
    """Frames <-> beats at a tempo that can change, with the bar grid kept aligned."""

    def __init__(self, sample_rate_hz: int, tempo_bpm: float, beats_per_bar: int = 4) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.beats_per_bar = int(beats_per_bar)
        self.tempo_bpm = float(tempo_bpm)
        self.anchor_frame = 0
        self.anchor_beats = 0.0
        self._beats_per_frame = self.tempo_bpm / (60.0 * self.sample_rate_hz)

    @property
    def beats_per_frame(self) -> float:
        return self._beats_per_frame

    def beat_frames(self) -> float:
        """Length of one beat in frames at the current tempo (not necessarily whole)."""
        return 60.0 * self.sample_rate_hz / self.tempo_bpm

    def beats_at(self, frame: int) -> float:
        """Position in beats of output frame `frame` (valid from the last anchor on)."""
        return self.anchor_beats + (frame - self.anchor_frame) * self._beats_per_frame

    def set_tempo(self, tempo_bpm: float, at_frame: int) -> None:
        """Change tempo from `at_frame` on; beats before and after it join up."""
        self.anchor_beats = self.beats_at(at_frame)
        self.anchor_frame = int(at_frame)
        self.tempo_bpm = float(tempo_bpm)
        self._beats_per_frame = self.tempo_bpm / (60.0 * self.sample_rate_hz)

    def first_frame_at_or_after(self, beats: float) -> int:
        """The first frame whose position is >= `beats` (for frames after the anchor)."""
        frame = self.anchor_frame + math.ceil((beats - self.anchor_beats) / self._beats_per_frame - 1e-9)
        return max(frame, self.anchor_frame)

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
