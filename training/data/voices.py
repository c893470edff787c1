"""Subtractive synth voices for the bass and stab lines of the procedural loops.

A voice is the classic analogue recipe: one or two oscillators per pitch (saw or square), an
amplitude envelope (attack, exponential decay to a sustain level, exponential release after the
gate), and a resonant lowpass whose cutoff jumps up by `env_octaves` at note-on and decays back
(the "pluck" or "squelch" of techno and house basses).

Oscillators are band-limited with PolyBLEP: a naive saw aliases badly at 22 050 Hz, and a GAN
trained on aliased loops learns the aliasing too.

The lowpass is an RBJ-cookbook biquad run by `scipy.signal.lfilter`. Its cutoff moves during
the filter envelope, so the note is filtered in blocks, each with its own coefficients and the
filter state carried across. Block boundaries are placed where the cutoff has moved about a
semitone, so a fast sweep gets short blocks and the settled tail is a single block: a note costs
a few dozen `lfilter` calls, not thousands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

WAVEFORMS: tuple[str, ...] = ("saw", "square")
RELEASE_TIME_CONSTANTS = 6.9  # exp(-6.9) is -60 dB: after this many release constants a note is silent
MIN_CUTOFF_HZ = 30.0
MAX_CUTOFF_FRACTION_OF_RATE = 0.45  # keep the biquad well below Nyquist at any sample rate
SWEEP_STEP_OCTAVES = 1.0 / 12.0  # new filter coefficients whenever the cutoff moved this far


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


@dataclass(frozen=True)
class Patch:
    """One synth sound. Times in seconds; `sustain` is a level 0..1; detune in cents."""

    waveform: str
    cutoff_hz: float
    env_octaves: float
    resonance_q: float
    attack_seconds: float
    decay_seconds: float
    sustain: float
    release_seconds: float
    filter_decay_seconds: float
    detune_cents: float = 0.0

    def __post_init__(self) -> None:
        if self.waveform not in WAVEFORMS:
            raise ValueError(f"waveform {self.waveform!r} is not one of {WAVEFORMS}")
        if not (0.0 <= self.sustain <= 1.0):
            raise ValueError(f"sustain must be in 0..1, got {self.sustain}")
        for name in ("cutoff_hz", "resonance_q", "attack_seconds", "decay_seconds", "release_seconds",
                     "filter_decay_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class PatchRange:
    """The family of patches a style draws from: every field is a (low, high) range.

    Cutoff is drawn log-uniformly (equal odds per octave); the rest uniformly."""

    waveforms: tuple[str, ...]
    cutoff_hz: tuple[float, float]
    env_octaves: tuple[float, float]
    resonance_q: tuple[float, float]
    attack_seconds: tuple[float, float]
    decay_seconds: tuple[float, float]
    sustain: tuple[float, float]
    release_seconds: tuple[float, float]
    filter_decay_seconds: tuple[float, float]
    detune_cents: tuple[float, float] = (0.0, 0.0)

    def draw(self, rng: np.random.Generator) -> Patch:
        lo, hi = self.cutoff_hz
        return Patch(
            waveform=str(self.waveforms[int(rng.integers(len(self.waveforms)))]),
            cutoff_hz=float(np.exp(rng.uniform(np.log(lo), np.log(hi)))),
            env_octaves=float(rng.uniform(*self.env_octaves)),
            resonance_q=float(rng.uniform(*self.resonance_q)),
            attack_seconds=float(rng.uniform(*self.attack_seconds)),
            decay_seconds=float(rng.uniform(*self.decay_seconds)),
            sustain=float(rng.uniform(*self.sustain)),
            release_seconds=float(rng.uniform(*self.release_seconds)),
            filter_decay_seconds=float(rng.uniform(*self.filter_decay_seconds)),
            detune_cents=float(rng.uniform(*self.detune_cents)),
        )


def _poly_blep(t: np.ndarray, dt: float) -> np.ndarray:
    """PolyBLEP residual that smooths the step of a unit-phase oscillator at t = 0 (mod 1)."""
    out = np.zeros_like(t)
    head = t < dt
    x = t[head] / dt
    out[head] = x + x - x * x - 1.0
    tail = t > 1.0 - dt
    x = (t[tail] - 1.0) / dt
    out[tail] = x * x + x + x + 1.0
    return out


def oscillator(waveform: str, freq_hz: float, n_samples: int, sample_rate: int, phase: float = 0.0) -> np.ndarray:
    """Band-limited saw or square, peak about 1, starting at `phase` (0..1 of a cycle)."""
    dt = freq_hz / sample_rate
    if not (0.0 < dt < 0.5):
        raise ValueError(f"oscillator frequency {freq_hz:.1f} Hz is outside (0, Nyquist) at {sample_rate} Hz")
    t = (phase + dt * np.arange(n_samples)) % 1.0
    if waveform == "saw":
        return (2.0 * t - 1.0) - _poly_blep(t, dt)
    if waveform == "square":
        naive = np.where(t < 0.5, 1.0, -1.0)
        return naive + _poly_blep(t, dt) - _poly_blep((t + 0.5) % 1.0, dt)
    raise ValueError(f"waveform {waveform!r} is not one of {WAVEFORMS}")


def amp_envelope(n_samples: int, gate_samples: int, sample_rate: int, patch: Patch) -> np.ndarray:
    """Attack-decay-sustain while the gate is held, then an exponential release."""
    t = np.arange(n_samples) / sample_rate
    attack = patch.attack_seconds
    held = np.where(t < attack, t / attack,
                    patch.sustain + (1.0 - patch.sustain) * np.exp(-(t - attack) / patch.decay_seconds))
    gate_s = gate_samples / sample_rate
    at_gate = gate_s / attack if gate_s < attack else (
        patch.sustain + (1.0 - patch.sustain) * np.exp(-(gate_s - attack) / patch.decay_seconds))
    released = at_gate * np.exp(-(t - gate_s) / patch.release_seconds)
    return np.where(t < gate_s, held, released)


def lowpass_coefficients(cutoff_hz: float, q: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook lowpass biquad, normalised so a[0] == 1."""
    w0 = 2.0 * np.pi * cutoff_hz / sample_rate
    cos_w0, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
    b = np.array([(1.0 - cos_w0) / 2.0, 1.0 - cos_w0, (1.0 - cos_w0) / 2.0])
    a = np.array([1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha])
    return b / a[0], a / a[0]


def swept_lowpass(x: np.ndarray, sample_rate: int, cutoff_hz: float, env_octaves: float,
                  filter_decay_seconds: float, q: float) -> np.ndarray:
    """Lowpass `x` with cutoff(t) = cutoff_hz * 2 ** (env_octaves * exp(-t / filter_decay))."""
    top_hz = MAX_CUTOFF_FRACTION_OF_RATE * sample_rate

    def cutoff_at(t_seconds: float) -> float:
        return float(np.clip(cutoff_hz * 2.0 ** (env_octaves * np.exp(-t_seconds / filter_decay_seconds)),
                             MIN_CUTOFF_HZ, top_hz))

    n = x.shape[0]
    min_block = max(8, int(0.001 * sample_rate))
    # Block boundaries: wherever the envelope has moved SWEEP_STEP_OCTAVES since the last one.
    bounds = [0]
    if env_octaves > SWEEP_STEP_OCTAVES:
        # the envelope sits at env_octaves * exp(-t/tau); it has moved one step when it lost SWEEP_STEP_OCTAVES
        level = env_octaves
        while level > SWEEP_STEP_OCTAVES and bounds[-1] < n:
            level -= SWEEP_STEP_OCTAVES
            t_next = -filter_decay_seconds * np.log(max(level, 1e-9) / env_octaves)
            bounds.append(max(bounds[-1] + min_block, int(t_next * sample_rate)))
    bounds = [b for b in bounds if b < n] + [n]
    y = np.empty_like(x)
    zi = np.zeros(2)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        b, a = lowpass_coefficients(cutoff_at(start / sample_rate), q, sample_rate)
        y[start:stop], zi = lfilter(b, a, x[start:stop], zi=zi)
    return y


def render_note(patch: Patch, pitches_midi: tuple[int, ...], gate_seconds: float, velocity: float,
                sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One note or chord through the patch, including its release tail; float32, peak about `velocity`.

    Oscillators start at random phases (as free-running analogue oscillators do), drawn from
    `rng`: two oscillators per pitch when the patch is detuned, one otherwise."""
    gate_samples = max(1, int(round(gate_seconds * sample_rate)))
    n = gate_samples + int(np.ceil(RELEASE_TIME_CONSTANTS * patch.release_seconds * sample_rate))
    cents = (-patch.detune_cents / 2.0, patch.detune_cents / 2.0) if patch.detune_cents > 0 else (0.0,)
    phases = rng.random(len(pitches_midi) * len(cents))
    x = np.zeros(n)
    i = 0
    for pitch in pitches_midi:
        for c in cents:
            x += oscillator(patch.waveform, midi_to_hz(pitch + c / 100.0), n, sample_rate, phase=phases[i])
            i += 1
    x /= i
    # Harder notes open the filter further, as on a synth with velocity to filter envelope.
    env_octaves = patch.env_octaves * (0.6 + 0.4 * velocity)
    y = swept_lowpass(x, sample_rate, patch.cutoff_hz, env_octaves, patch.filter_decay_seconds, patch.resonance_q)
    y *= amp_envelope(n, gate_samples, sample_rate, patch) * velocity
    return y.astype(np.float32)


__all__ = ["WAVEFORMS", "Patch", "PatchRange", "midi_to_hz", "oscillator", "amp_envelope",
           "lowpass_coefficients", "swept_lowpass", "render_note"]
