"""The styles of the procedural loops, as data: drum templates, swing, harmony, bass and stab sounds.

Each style is one `Style` value. Templates are 16-step strings (see `patterns.step_template`):
`x` always plays, `.` never, a digit is a probability in tenths. Ranges are (low, high) and are
drawn per loop, so one style still yields many different loops.

What distinguishes the styles, in short:
- techno: four-on-the-floor, straight 16ths, rolling offbeat bass, sparse dub chords with delay;
- house: four-on-the-floor, claps on 2 and 4, open hats on the offbeats, swung 16ths, chord stabs;
- electro: broken 808-style kick, straight hats, toms and cowbell, syncopated square bass;
- breakbeat: syncopated kick and snare with ghost notes, light swing, long detuned "reese" bass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from training.data.patterns import BassLine, DrumPart, StabLine, step_template as T
from training.data.voices import PatchRange


@dataclass(frozen=True)
class Style:
    """Everything that makes one style: see the module docstring."""

    name: str
    drums: Mapping[str, DrumPart]
    swing: tuple[float, float]  # fraction of a 16th note by which odd 16ths are late
    variation: float  # probability that a step of bars 2.. is re-drawn
    scales: tuple[str, ...]
    progressions: tuple[tuple[int, ...], ...]  # chord roots (scale degrees), one per bar, repeating
    bass: BassLine
    bass_patch: PatchRange
    stab: StabLine
    stab_patch: PatchRange
    stab_delay_probability: float = 0.0
    stab_delay_steps: tuple[int, ...] = (3,)  # echo spacing in 16ths (3 = dotted 8th)
    stab_delay_feedback: tuple[float, float] = (0.3, 0.5)


_PLUCK_BASS = PatchRange(
    waveforms=("saw", "square"), cutoff_hz=(120.0, 500.0), env_octaves=(1.0, 3.5), resonance_q=(0.8, 4.0),
    attack_seconds=(0.002, 0.005), decay_seconds=(0.05, 0.2), sustain=(0.2, 0.7),
    release_seconds=(0.01, 0.04), filter_decay_seconds=(0.03, 0.15),
)
_STAB = PatchRange(
    waveforms=("saw", "square"), cutoff_hz=(500.0, 2500.0), env_octaves=(0.5, 2.5), resonance_q=(0.7, 2.5),
    attack_seconds=(0.002, 0.01), decay_seconds=(0.08, 0.3), sustain=(0.1, 0.5),
    release_seconds=(0.03, 0.15), filter_decay_seconds=(0.05, 0.25), detune_cents=(4.0, 14.0),
)

TECHNO = Style(
    name="techno",
    drums={
        "kick": DrumPart(T("x...x...x...x..."), velocity=(0.9, 1.0)),
        "snare": DrumPart(T("....2.......2..."), velocity=(0.5, 0.8)),
        "clap": DrumPart(T("....7.......7..."), velocity=(0.7, 0.95)),
        "closed_hat": DrumPart(T("8888888888888888"), velocity=(0.6, 0.9), odd_step_velocity_scale=0.6),
        "open_hat": DrumPart(T("..7...7...7...7."), velocity=(0.6, 0.85)),
        "perc": DrumPart(T("..2..2....2..3.."), velocity=(0.4, 0.7)),
    },
    swing=(0.0, 0.0), variation=0.05,
    scales=("minor", "phrygian", "dorian"),
    progressions=((0,), (0, 0), (0, 5), (0, 3)),
    bass=BassLine(T(".686.686.686.686"), length_steps=(0.5, 1.0), octave_up_probability=0.1,
                  fifth_probability=0.05, scale_tone_probability=0.05),
    bass_patch=_PLUCK_BASS,
    stab=StabLine(T("...3......3....."), length_steps=(0.5, 1.0), seventh_probability=0.3),
    stab_patch=_STAB,
    stab_delay_probability=0.7, stab_delay_steps=(3, 6),
)

HOUSE = Style(
    name="house",
    drums={
        "kick": DrumPart(T("x...x...x...x..."), velocity=(0.9, 1.0)),
        "snare": DrumPart(T("..............2."), velocity=(0.4, 0.7)),
        "clap": DrumPart(T("....x.......x..."), velocity=(0.8, 1.0)),
        "closed_hat": DrumPart(T("6464646464646464"), velocity=(0.5, 0.85), odd_step_velocity_scale=0.6),
        "open_hat": DrumPart(T("..9...9...9...9."), velocity=(0.6, 0.9)),
        "perc": DrumPart(T("...3..3....3..3."), velocity=(0.4, 0.7)),
        "tom": DrumPart(T(".............2.."), velocity=(0.5, 0.8)),
    },
    swing=(0.1, 0.25), variation=0.08,
    scales=("minor", "dorian", "major"),
    progressions=((0, 3), (0, 5), (1, 4), (0, 6), (0,)),
    bass=BassLine(T("..9..4.8..9..4.6"), length_steps=(0.7, 1.6), octave_up_probability=0.2,
                  fifth_probability=0.1, scale_tone_probability=0.1),
    bass_patch=_PLUCK_BASS,
    stab=StabLine(T("..6...4...6..3.."), length_steps=(0.8, 2.0), seventh_probability=0.6),
    stab_patch=_STAB,
    stab_delay_probability=0.3,
)

ELECTRO = Style(
    name="electro",
    drums={
        "kick": DrumPart(T("x..3..x...x..4.."), velocity=(0.85, 1.0)),
        "snare": DrumPart(T("....x.......x..."), velocity=(0.8, 1.0)),
        "clap": DrumPart(T("....5.......5..."), velocity=(0.6, 0.9)),
        "closed_hat": DrumPart(T("x4x4x4x4x4x4x4x4"), velocity=(0.6, 0.9), odd_step_velocity_scale=0.6),
        "open_hat": DrumPart(T("..............3."), velocity=(0.6, 0.8)),
        "tom": DrumPart(T(".....3.....3...."), velocity=(0.6, 0.9)),
        "perc": DrumPart(T("..3....3..3....."), velocity=(0.5, 0.8)),
    },
    swing=(0.0, 0.04), variation=0.1,
    scales=("minor", "phrygian", "harmonic_minor"),
    progressions=((0,), (0, 6), (0, 3), (0, 5)),
    bass=BassLine(T("x..6..x.4.x..6.."), length_steps=(0.8, 2.5), octave_up_probability=0.35,
                  fifth_probability=0.1, scale_tone_probability=0.1),
    bass_patch=PatchRange(
        waveforms=("square", "square", "saw"), cutoff_hz=(200.0, 900.0), env_octaves=(0.5, 2.0),
        resonance_q=(0.7, 2.0), attack_seconds=(0.002, 0.006), decay_seconds=(0.1, 0.3), sustain=(0.4, 0.9),
        release_seconds=(0.02, 0.06), filter_decay_seconds=(0.05, 0.2),
    ),
    stab=StabLine(T("3..5..3...4....."), length_steps=(0.5, 1.0), seventh_probability=0.2),
    stab_patch=_STAB,
    stab_delay_probability=0.2,
)

BREAKBEAT = Style(
    name="breakbeat",
    drums={
        "kick": DrumPart(T("x.7.......x4...."), velocity=(0.85, 1.0)),
        "snare": DrumPart(T("....x..4.3..x..4"), velocity=(0.8, 1.0), odd_step_velocity_scale=0.45),
        "clap": DrumPart(T("....2.......2..."), velocity=(0.6, 0.9)),
        "closed_hat": DrumPart(T("x.x.x.x.x.x.x.5."), velocity=(0.6, 0.9)),
        "open_hat": DrumPart(T("..........3....."), velocity=(0.6, 0.8)),
        "tom": DrumPart(T("..............3."), velocity=(0.6, 0.9)),
        "perc": DrumPart(T("......2.......2."), velocity=(0.4, 0.7)),
    },
    swing=(0.0, 0.12), variation=0.15,
    scales=("minor", "dorian", "phrygian"),
    progressions=((0,), (0, 5), (0, 3), (0, 6)),
    bass=BassLine(T("x.....5...x....."), length_steps=(2.0, 6.0), octave_up_probability=0.1,
                  fifth_probability=0.1, scale_tone_probability=0.1),
    bass_patch=PatchRange(
        waveforms=("saw",), cutoff_hz=(250.0, 800.0), env_octaves=(0.0, 1.0), resonance_q=(0.7, 1.5),
        attack_seconds=(0.003, 0.01), decay_seconds=(0.2, 0.5), sustain=(0.7, 1.0),
        release_seconds=(0.03, 0.1), filter_decay_seconds=(0.1, 0.3), detune_cents=(10.0, 30.0),
    ),
    stab=StabLine(T("x.......4......."), length_steps=(2.0, 4.0), seventh_probability=0.5),
    stab_patch=_STAB,
    stab_delay_probability=0.3,
)

STYLE_TABLE: dict[str, Style] = {s.name: s for s in (TECHNO, HOUSE, ELECTRO, BREAKBEAT)}
STYLES: tuple[str, ...] = tuple(STYLE_TABLE)


def get_style(name: str) -> Style:
    """The style called `name`; a ValueError naming the valid ones otherwise."""
    try:
        return STYLE_TABLE[name]
    except KeyError:
        raise ValueError(f"unknown style {name!r}; choose from {', '.join(STYLES)}") from None


__all__ = ["Style", "STYLES", "STYLE_TABLE", "get_style", "TECHNO", "HOUSE", "ELECTRO", "BREAKBEAT"]
