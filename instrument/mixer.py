"""The mixer: turns the decks' loops into master blocks on the transport clock.

It runs on the engine's mixer thread (live) or in the caller's thread (offline bounce,
journal replay); the code is the same, which is why a replay matches the live output.
Per block of output frames it

- reads each deck's loop at the transport position modulo the loop length, frame by
  frame (``index = round(frac(beats / loop_beats) * loop_frames)``), so every loop is
  locked to the bar grid whatever the tempo history, and a loop rendered for an old tempo
  still lands on the grid (varispeeded by dropping/repeating samples) until its re-adapted
  replacement arrives;
- swaps in a newly rendered loop at the *same* position in the bar with an equal-power
  crossfade of ``crossfade_frames`` (corrected for how alike the two loops are, see
  ``loop_correlation``), starting at the block's first frame, or at the next
  beat/bar boundary inside a block when quantised. A loop arriving during a crossfade
  waits for it to finish (the newest waiting loop wins);
- applies each deck's gain (times mute, times the crossfader's equal-power gain) as a
  linear ramp per block, limited to a full-scale change per ``gain_smoothing_frames``, so
  no gain change clicks;
- sums the decks and runs the master limiter.

Everything is float arithmetic in a fixed order on arrays of fixed lengths (the crossfade
curve is a precomputed table), so the same events at the same frames give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from instrument import dsp
from instrument.deck import RenderedLoop
from instrument.transport import Transport

QUANTIZE_MODES: tuple[str, ...] = ("none", "beat", "bar")


@dataclass
class DeckPlayback:
    """What one deck is playing: the current loop, the loop fading out, and the loop waiting to come in."""

    current: RenderedLoop | None = None
    previous: RenderedLoop | None = None  # fading out (None with fade_start set: fading in from silence)
    fade_start_frame: int | None = None
    fade_correlation: float = 0.0  # of the two loops in the running crossfade (see loop_correlation)
    pending: RenderedLoop | None = None
    gain_now: float = 0.0  # smoothed effective gain at the end of the last block
    gain_target: float = 1.0  # deck gain (0..1), set by controls
    mute: bool = False
    swaps: int = 0


@dataclass
class MixerSettings:
    sample_rate_hz: int
    channels: int
    block_frames: int
    crossfade_frames: int
    quantize: str
    limiter_ceiling_db: float
    gain_smoothing_frames: int


@dataclass
class SwapRecord:
    """A swap that started: which loop, from which frame (for the journal and the listeners)."""

    frame: int
    loop: RenderedLoop
    first_of_model: bool = field(default=False)


class Mixer:
    """Decks' loops -> master blocks [frames, channels] float32."""

    def __init__(self, settings: MixerSettings, decks: int, transport: Transport) -> None:
        if settings.quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize: expected one of {', '.join(QUANTIZE_MODES)}, got {settings.quantize!r}")
        self.settings = settings
        self.transport = transport
        self.decks = [DeckPlayback() for _ in range(decks)]
        self.crossfade = 0.5  # 0 = deck 1, 1 = deck 2
        self.limiter = dsp.Limiter(settings.limiter_ceiling_db, settings.sample_rate_hz,
                                   max_block_frames=max(settings.block_frames, 16))
        x = max(int(settings.crossfade_frames), 0)
        self._fade_frames = x
        fade_out, fade_in = dsp.equal_power(np.arange(x + 1, dtype=np.float64) / max(x, 1))
        if x == 0:
            fade_out, fade_in = np.array([0.0]), np.array([1.0])
        self._fade_out = fade_out.astype(np.float32)
        self._fade_in = fade_in.astype(np.float32)
        self._ramp = np.arange(1, settings.block_frames + 1, dtype=np.float64) / settings.block_frames
        self.on_swap: Callable[[SwapRecord], None] | None = None

    # ----- controls (mixer thread / offline caller only) ----------------------------------

    def offer(self, loop: RenderedLoop) -> None:
        """A new loop for its deck; it replaces any loop still waiting there."""
        self.decks[loop.deck - 1].pending = loop

    def crossfader_gain(self, deck: int) -> float:
        """Equal-power crossfader gain of `deck` (1-based); decks beyond 2 are not on the crossfader."""
        fade_out, fade_in = dsp.equal_power(self.crossfade)
        if deck == 1:
            return float(fade_out)
        if deck == 2:
            return float(fade_in)
        return 1.0

    def effective_gain(self, deck: int) -> float:
        pb = self.decks[deck - 1]
        return 0.0 if pb.mute else pb.gain_target * self.crossfader_gain(deck)

    # ----- one block ----------------------------------------------------------------------

    def mix_block(self, start_frame: int, frames: int) -> np.ndarray:
        """Master output for frames [start_frame, start_frame + frames): a new [frames, channels] array."""
        master = np.zeros((frames, self.settings.channels), dtype=np.float32)
        for index, pb in enumerate(self.decks):
            deck_out = self._deck_block(index + 1, pb, start_frame, frames)
            target = self.effective_gain(index + 1)
            step = frames / max(self.settings.gain_smoothing_frames, 1)
            end_gain = pb.gain_now + float(np.clip(target - pb.gain_now, -step, step))
            if deck_out is not None:
                if pb.gain_now == end_gain:
                    if end_gain != 0.0:
                        master += deck_out * np.float32(end_gain)
                else:
                    ramp = pb.gain_now + (end_gain - pb.gain_now) * self._ramp[:frames]
                    master += deck_out * ramp.astype(np.float32)[:, None]
            pb.gain_now = end_gain
        self.limiter.process(master)
        return master

    def _swap_frame(self, pb: DeckPlayback, start_frame: int, end_frame: int) -> int | None:
        """The frame in [start_frame, end_frame) where the waiting loop starts, or None (not in this block)."""
        loop = pb.pending
        if loop is None:
            return None
        if loop.start_frame is not None:  # journal replay: exactly where it started live
            return loop.start_frame if loop.start_frame < end_frame else None
        earliest = start_frame
        if pb.fade_start_frame is not None:
            earliest = max(earliest, pb.fade_start_frame + self._fade_frames)
        if self.settings.quantize != "none":
            unit = 1.0 if self.settings.quantize == "beat" else float(self.transport.beats_per_bar)
            earliest = self.transport.next_boundary_frame(earliest, unit)
        return earliest if earliest < end_frame else None

    def _deck_block(self, deck: int, pb: DeckPlayback, start_frame: int, frames: int) -> np.ndarray | None:
        end_frame = start_frame + frames
        swap_at = self._swap_frame(pb, start_frame, end_frame)
        if swap_at is None:
            return self._segment(pb, start_frame, end_frame) if pb.current is not None else None
        out = np.zeros((frames, self.settings.channels), dtype=np.float32)
        if swap_at > start_frame and pb.current is not None:
            out[:swap_at - start_frame] = self._segment(pb, start_frame, swap_at)
        loop = pb.pending
        assert loop is not None
        pb.pending = None
        first = (pb.current is None or pb.current.generation != loop.generation
                 or pb.current.bundle_path != loop.bundle_path)
        pb.previous = pb.current
        pb.current = loop
        pb.fade_start_frame = swap_at
        pb.fade_correlation = 0.0 if pb.previous is None else loop_correlation(pb.previous, loop)
        pb.swaps += 1
        if self.on_swap is not None:
            self.on_swap(SwapRecord(frame=swap_at, loop=loop, first_of_model=first))
        out[swap_at - start_frame:] = self._segment(pb, swap_at, end_frame)
        return out

    def _read(self, loop: RenderedLoop, beats: np.ndarray) -> np.ndarray:
        """Frames of `loop` at transport positions `beats` (phase-locked to the bar grid).

        A loop that fits the session tempo (within a frame per loop) is read at the nearest
        frame, so it plays bit for bit as rendered: its position ``phase * loop_frames`` is a
        whole number give or take rounding, and flooring 6999.9999999 would repeat a sample.
        A loop rendered for another tempo (after a tempo change, until its re-adapted
        replacement arrives) is read with linear interpolation, a short stretch of varispeed.
        """
        loop_frames = loop.frames.shape[0]
        position = np.mod(beats, loop.loop_beats) * (loop_frames / loop.loop_beats)
        bar_frames = loop.loop_beats / self.transport.beats_per_frame
        if abs(bar_frames - loop_frames) <= 1.0:
            index = np.rint(position).astype(np.int64)
            index[index >= loop_frames] -= loop_frames
            return loop.frames[index]
        below = np.floor(position)
        fraction = (position - below).astype(np.float32)[:, None]
        index = below.astype(np.int64) % loop_frames
        after = index + 1
        after[after >= loop_frames] = 0
        return loop.frames[index] * (1.0 - fraction) + loop.frames[after] * fraction

    def _segment(self, pb: DeckPlayback, a: int, b: int) -> np.ndarray:
        """The deck's output for frames [a, b) with no swap starting inside."""
        t = self.transport
        frames = np.arange(a, b, dtype=np.int64)
        beats = t.anchor_beats + (frames - t.anchor_frame).astype(np.float64) * t.beats_per_frame
        assert pb.current is not None
        out = self._read(pb.current, beats)
        if pb.fade_start_frame is None:
            return out
        fade_end = pb.fade_start_frame + self._fade_frames
        if a >= fade_end:
            pb.previous = None
            pb.fade_start_frame = None
            return out
        k = np.clip(frames - pb.fade_start_frame, 0, self._fade_frames)
        fade_in = self._fade_in[k]
        if pb.previous is None:  # fading in from silence
            return out * fade_in[:, None]
        fade_out = self._fade_out[k]
        out = out * fade_in[:, None] + self._read(pb.previous, beats) * fade_out[:, None]
        if pb.fade_correlation != 0.0:
            norm = 1.0 / np.sqrt(1.0 + 2.0 * pb.fade_correlation * fade_in.astype(np.float64) * fade_out)
            out *= norm.astype(np.float32)[:, None]
        return out



def loop_correlation(a: RenderedLoop, b: RenderedLoop) -> float:
    """How alike two loops are, 0 (unrelated or opposite) .. 1 (the same), for the crossfade law.

    An equal-power crossfade (cos/sin gains) keeps the loudness of two *unrelated* loops
    constant, but two nearly identical loops (a small knob move) add up in amplitude and
    would bulge by up to 3 dB in the middle of the fade: audible as a flutter when a knob
    sweeps. With ``r`` their normalised correlation the mixer divides the blend by
    ``sqrt(1 + 2 r g_in g_out)``, which keeps the power constant whatever the correlation:
    plain equal power for unrelated loops, constant amplitude for identical ones.

    Measured on at most ~16k frames (a regular subsample), in float64 with numpy's pairwise
    summation, so it is cheap and gives the same number every time (journal replay). Each
    loop's subsample and energy are computed once (by the render thread for live loops), so
    the mixer thread pays one dot product per swap.
    """
    if a.frames.shape != b.frames.shape:
        return 0.0  # different lengths (tempo, model): no frame-by-frame relation to measure
    xs, x_energy = a.correlation_probe()  # cached on each loop (see RenderedLoop.correlation_probe)
    ys, y_energy = b.correlation_probe()
    energy = float(np.sqrt(x_energy * y_energy))
    if energy <= 0.0:
        return 0.0
    return float(min(max((xs * ys).sum() / energy, 0.0), 1.0))
