"""`ganloops dataset synth`: procedural electronic loops (techno, house, electro, breakbeat).

A loop is composed, then rendered:

1. composition (`patterns`, `styles`): key and scale, a chord per bar, drum hits with velocities
   on the 16th grid, swing, a bass line and a chord-stab line;
2. sound: a drum kit (recorded Hydrogen one-shots, or a synthesized 808/909-style kit, see
   `drums`) and two subtractive synth patches (`voices`);
3. mix: each part into its own bus, summed with per-part levels (jittered a little per loop),
   then peak-normalised to PEAK_DBFS, so nothing clips.

Seamless loops. Every sound is added with `add_wrapped`: whatever runs past the loop end (a
kick's decay, a held bass note, a delay echo) is folded onto the loop start, exactly what a DAW
bounce in loop mode gives on its second pass. Played in a loop, the seam is inaudible.

Determinism. Everything random comes from one `numpy.random.Generator`. `build_synth_dataset`
gives loop `i` its own seed (`loop_seed(seed, i)`, recorded in the manifest), so any single loop
can be regenerated on its own: `render_loop(spec, item["style"], np.random.default_rng(item["seed"]), kit)`
with the kit the manifest names (the builder picks that kit with a separate generator,
`default_rng([item["seed"], 1])`, so the loop's own generator is untouched). The same seed and
arguments give a byte-identical `loops.f32` on the same installation (same kits on disk, same
numpy/scipy/soxr versions).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from training.data.drums import DEFAULT_DRUMKIT_ROOT, SYNTH_KIT, DrumKit, DrumVoice, HydrogenKit, discover_kits
from training.data.patterns import (
    DRUM_ROLES, DrumPattern, Key, NoteEvent, draw_key, make_bass_line, make_drum_pattern, make_stab_line,
    step_onset_samples, STEPS_PER_BEAT,
)
from training.data.store import LoopSpec, LoopStoreWriter
from training.data.styles import STYLES, Style, get_style
from training.data.voices import Patch, render_note

log = logging.getLogger(__name__)

PARTS: tuple[str, ...] = ("drums", "bass", "stab")
PEAK_DBFS = -1.0
MIN_SAMPLE_RATE_HZ = 8000
LEVEL_JITTER_DB = 2.0  # each part's level moves up to this much per loop, so mixes vary
# Mix levels in dB for sounds that are each peak-normalised to 0 dB.
LEVELS_DB: dict[str, float] = {
    "kick": 0.0, "snare": -3.0, "clap": -4.0, "closed_hat": -10.0, "open_hat": -11.0,
    "tom": -5.0, "perc": -9.0, "bass": -4.0, "stab": -10.0,
}
CHOKE_FADE_SECONDS = 0.005  # an open hat is cut by the next hat hit with this short fade


def add_wrapped(bus: np.ndarray, sound: np.ndarray, start_sample: int) -> None:
    """Add `sound` into the circular `bus` at `start_sample`; what runs past the end continues at 0."""
    n = bus.shape[0]
    pos = start_sample % n
    offset = 0
    while offset < sound.shape[0]:
        take = min(n - pos, sound.shape[0] - offset)
        bus[pos:pos + take] += sound[offset:offset + take]
        offset += take
        pos = 0


def _db(level_db: float) -> float:
    return 10.0 ** (level_db / 20.0)


@dataclass(frozen=True)
class RenderedLoop:
    """One loop's audio and the choices that made it (what the manifest records)."""

    audio: np.ndarray
    style: str
    key: Key
    kit: str
    swing: float
    drums: DrumPattern
    bass: tuple[NoteEvent, ...]
    stab: tuple[NoteEvent, ...]
    bass_patch: Patch
    stab_patch: Patch

    def origin(self) -> dict[str, Any]:
        """The manifest entry: style; key (root name) and scale; kit (a Hydrogen kit's folder
        name, or "synth"); swing (fraction of a 16th note that odd 16ths are late); the
        waveforms of the bass and stab patches. The builder adds the loop's seed."""
        return {"style": self.style, "key": self.key.name, "scale": self.key.scale, "kit": self.kit,
                "swing": round(self.swing, 6), "bass_waveform": self.bass_patch.waveform,
                "stab_waveform": self.stab_patch.waveform}


def _render_drums(bus: np.ndarray, pattern: DrumPattern, voices: Mapping[str, DrumVoice], gains: Mapping[str, float],
                  step_samples: float, swing: float, sample_rate: int) -> None:
    n = bus.shape[0]
    hat_steps = np.union1d(pattern.hit_steps("closed_hat"), pattern.hit_steps("open_hat"))
    fade = max(1, int(CHOKE_FADE_SECONDS * sample_rate))
    for role in DRUM_ROLES:
        voice = voices.get(role)
        if voice is None:
            continue
        velocities = pattern.velocities.get(role)
        for step in pattern.hit_steps(role):
            velocity = float(velocities[step])
            sound = np.asarray(voice.one_shot(velocity), dtype=np.float32) * np.float32(velocity * gains[role])
            start = step_onset_samples(int(step), step_samples, swing, n)
            if role == "open_hat" and hat_steps.shape[0] > 1:
                # A closed hat (or the next open one) chokes an open hat, as on a real hi-hat.
                later = hat_steps[hat_steps > step]
                nxt = int(later[0]) if later.shape[0] else int(hat_steps[0]) + pattern.total_steps
                stop = step_onset_samples(nxt % pattern.total_steps, step_samples, swing, n)
                length = (stop - start) % n or n
                if length < sound.shape[0]:
                    sound = sound[:length].copy()
                    k = min(fade, length)
                    sound[-k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
            add_wrapped(bus, sound, start)


def _render_line(bus: np.ndarray, events: Sequence[NoteEvent], patch: Patch, step_samples: float, swing: float,
                 sample_rate: int, rng: np.random.Generator) -> None:
    n = bus.shape[0]
    for ev in events:
        gate_seconds = ev.length_steps * step_samples / sample_rate
        note = render_note(patch, ev.pitches_midi, gate_seconds, ev.velocity, sample_rate, rng)
        add_wrapped(bus, note, step_onset_samples(ev.step, step_samples, swing, n))


def _echo(bus: np.ndarray, delay_samples: int, feedback: float) -> np.ndarray:
    """A tempo-synced feedback delay on a circular bus: echoes wrap around like everything else."""
    out = bus.copy()
    gain, k = feedback, 1
    while gain > 0.03 and k * delay_samples < 8 * bus.shape[0]:
        out += gain * np.roll(bus, k * delay_samples)
        gain *= feedback
        k += 1
    return out


def render_loop_info(spec: LoopSpec, style: str, rng: np.random.Generator, kit: DrumKit | None = None,
                     parts: Collection[str] = PARTS) -> RenderedLoop:
    """Compose and render one loop. See the module docstring.

    `parts` chooses what is heard ("drums", "bass", "stab"); the composition (and every random
    draw) is the same whichever parts are chosen, so a drums-only render has exactly the drums
    of the full mix. Mono float32, exactly `spec.loop_samples` long, peak at PEAK_DBFS."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown loop part(s) {sorted(unknown)}; choose from {PARTS}")
    if spec.channels != 1:
        raise ValueError(f"synth loops are mono; the spec asks for {spec.channels} channels")
    if spec.sample_rate < MIN_SAMPLE_RATE_HZ:
        raise ValueError(f"sample_rate {spec.sample_rate} Hz is too low for synth loops "
                         f"(at least {MIN_SAMPLE_RATE_HZ} Hz: hats and snares need the highs)")
    cfg: Style = get_style(style)
    kit = SYNTH_KIT if kit is None else kit
    sr, n = spec.sample_rate, spec.loop_samples
    step_samples = spec.beat_samples / STEPS_PER_BEAT

    # Composition: all draws happen in this fixed order.
    swing = float(rng.uniform(*cfg.swing))
    key = draw_key(rng, cfg.scales)
    progression = cfg.progressions[int(rng.integers(len(cfg.progressions)))]
    drums = make_drum_pattern(cfg.drums, spec.bars, spec.beats_per_bar, cfg.variation, rng)
    bass = make_bass_line(cfg.bass, key, progression, spec.bars, spec.beats_per_bar, cfg.variation, rng)
    stab = make_stab_line(cfg.stab, key, progression, spec.bars, spec.beats_per_bar, cfg.variation, rng)
    bass_patch, stab_patch = cfg.bass_patch.draw(rng), cfg.stab_patch.draw(rng)
    use_delay = bool(rng.random() < cfg.stab_delay_probability)
    delay_steps = int(cfg.stab_delay_steps[int(rng.integers(len(cfg.stab_delay_steps)))])
    feedback = float(rng.uniform(*cfg.stab_delay_feedback))
    gains = {name: _db(level + rng.uniform(-LEVEL_JITTER_DB, LEVEL_JITTER_DB))
             for name, level in LEVELS_DB.items()}
    voices = kit.voices(rng, sr)
    bass_rng, stab_rng = rng.spawn(2)

    mix = np.zeros(n, dtype=np.float64)
    if "drums" in parts:
        _render_drums(mix, drums, voices, gains, step_samples, swing, sr)
    if "bass" in parts:
        bus = np.zeros(n)
        _render_line(bus, bass, bass_patch, step_samples, swing, sr, bass_rng)
        mix += gains["bass"] * bus
    if "stab" in parts:
        bus = np.zeros(n)
        _render_line(bus, stab, stab_patch, step_samples, swing, sr, stab_rng)
        if use_delay:
            bus = _echo(bus, int(round(delay_steps * step_samples)), feedback)
        mix += gains["stab"] * bus

    peak = float(np.max(np.abs(mix)))
    if not np.isfinite(peak):
        raise ValueError(f"{style} loop rendered non-finite samples (kit {kit.name})")
    if peak > 0.0:
        mix *= _db(PEAK_DBFS) / peak
    return RenderedLoop(audio=mix.astype(np.float32), style=cfg.name, key=key, kit=kit.name, swing=swing,
                        drums=drums, bass=tuple(bass), stab=tuple(stab), bass_patch=bass_patch,
                        stab_patch=stab_patch)


def render_loop(spec: LoopSpec, style: str, rng: np.random.Generator, kit: DrumKit | None = None,
                parts: Collection[str] = PARTS) -> np.ndarray:
    """One loop as float32 [spec.loop_samples]; `kit=None` uses a synthesized kit. See render_loop_info."""
    return render_loop_info(spec, style, rng, kit, parts).audio


def loop_seed(seed: int, index: int) -> int:
    """The seed of loop `index` in a dataset built with `seed`: 53 bits, so JSON readers keep it exact."""
    state = np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(11))


def resolve_styles(styles: Sequence[str] | None) -> list[str]:
    """The styles to draw from (all when None), each validated; a ValueError names an unknown one."""
    if styles is None:
        return list(STYLES)
    names = [s for s in styles if s]
    if not names:
        raise ValueError(f"no styles given; choose from {', '.join(STYLES)}")
    return [get_style(s).name for s in names]


def find_kits(drumkit_root: Path | None) -> list[HydrogenKit]:
    """Usable recorded kits under `drumkit_root`, or under the Debian location when it is None.

    An explicit root that does not exist is an error; a root with no usable kit gives []."""
    if drumkit_root is None:
        return discover_kits(DEFAULT_DRUMKIT_ROOT) if DEFAULT_DRUMKIT_ROOT.is_dir() else []
    return discover_kits(Path(drumkit_root))


def build_synth_dataset(out_dir: Path, count: int, spec: LoopSpec, seed: int, styles: list[str] | None = None,
                        drumkit_root: Path | None = None, use_recorded_kits: bool = True,
                        overwrite: bool = False, progress: bool = True) -> Path:
    """Render `count` loops into a dataset folder (see training.data.store) and return its path.

    Styles take turns (loop i has style i mod len(styles)), so every style is equally present.
    Each loop gets one of the recorded kits (drawn per loop) when any is usable and
    `use_recorded_kits`, otherwise a synthesized kit."""
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    style_names = resolve_styles(styles)
    kits: list[HydrogenKit] = find_kits(drumkit_root) if use_recorded_kits else []
    if use_recorded_kits and not kits:
        where = drumkit_root if drumkit_root is not None else DEFAULT_DRUMKIT_ROOT
        log.warning("no usable Hydrogen drumkit under %s; using synthesized drums", where)
    source = {
        "kind": "synth", "seed": seed, "styles": style_names,
        "drums": "recorded" if kits else "synth",
        "drumkit_root": str(kits[0].folder.parent) if kits else None,
        "kits": [k.name for k in kits],
    }
    with LoopStoreWriter(out_dir, spec, source=source, overwrite=overwrite) as writer:
        for index in tqdm(range(count), desc="synth loops", unit="loop", disable=not progress):
            s = loop_seed(seed, index)
            kit: DrumKit = kits[int(np.random.default_rng([s, 1]).integers(len(kits)))] if kits else SYNTH_KIT
            rendered = render_loop_info(spec, style_names[index % len(style_names)], np.random.default_rng(s), kit)
            writer.append(rendered.audio, origin={**rendered.origin(), "seed": s})
        return writer.commit()


__all__ = ["PARTS", "PEAK_DBFS", "STYLES", "RenderedLoop", "add_wrapped", "render_loop", "render_loop_info",
           "loop_seed", "resolve_styles", "find_kits", "build_synth_dataset"]
