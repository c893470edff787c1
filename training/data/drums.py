"""Drum sounds for the procedural loops: recorded Hydrogen kits, or synthesized 808/909-style voices.

Recorded kits. Debian's `hydrogen-drumkits` installs folders of one-shots, each described by a
`drumkit.xml` that names its instruments ("Kick", "Closed HH", "Hi Hat Opened", ...) and lists
one or more velocity layers (sample file + velocity range) per instrument. Instruments are mapped
to the roles the patterns play (`patterns.DRUM_ROLES`) by matching their names; a kit is usable
when it has at least a kick, a snare and a closed hat. Samples are decoded, mixed to mono,
resampled to the dataset rate, trimmed of leading silence (so hits land on the grid) and
peak-normalised, once per file and rate: `load_one_shot` is cached.

Synthesized kit. Without recorded kits (or with `use_recorded_kits=False`) every loop gets a
freshly drawn analogue-style kit: a sine kick with a pitch envelope, a snare of tone plus
filtered noise, a clap of noise bursts, hats from six detuned square waves plus noise through a
highpass (the 808 recipe), tom and a cowbell or rim click.

Both kinds present the same interface (`DrumKit.voices`): per loop, one `DrumVoice` per role,
whose `one_shot(velocity)` returns the sound to place at a hit, peak-normalised; the renderer
scales it by the hit's velocity.
"""

from __future__ import annotations

import functools
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, sosfilt

from training.data.patterns import DRUM_ROLES

log = logging.getLogger(__name__)

DEFAULT_DRUMKIT_ROOT = Path("/usr/share/hydrogen/data/drumkits")
REQUIRED_ROLES: tuple[str, ...] = ("kick", "snare", "closed_hat")
# A role the kit lacks borrows another role's instrument; roles absent here are simply not played.
ROLE_SUBSTITUTES: dict[str, str] = {"clap": "snare", "open_hat": "closed_hat"}
MAX_ONE_SHOT_SECONDS = 2.0  # longer samples (a ringing cymbal) are faded out here
LEADING_SILENCE_DB = -40.0  # a sample starts where it first reaches this level below its peak
TRAILING_SILENCE_DB = -60.0
FADE_OUT_SECONDS = 0.01

# Checked in order: the first role whose pattern matches the lower-cased instrument name wins.
_ROLE_RULES: tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...] = (
    ("kick", re.compile(r"kick|bass ?drum|\bbd\b"), None),
    ("clap", re.compile(r"clap"), None),
    ("snare", re.compile(r"snare"), re.compile(r"roll|brush")),
    ("open_hat", re.compile(r"(hi-?\s?hat|\bhh\b|\bhat\b).*(\bopen|\bopened|\bop\b)|(\bopen|\bop\b).*(\bhh\b|hat)|\bohh\b"),
     re.compile(r"semi|half")),
    ("closed_hat", re.compile(r"(hi-?\s?hat|\bhh\b|\bhat\b).*(closed|\bcl\b)|closed.*(\bhh\b|hat)|\bchh\b"), None),
    ("tom", re.compile(r"\btom"), None),
    ("perc", re.compile(r"cowbell|rim|stick|clave|conga|bongo|shaker|tambourine|agogo|woodblock|maraca|click"),
     None),
)


def classify_instrument(name: str) -> str | None:
    """The drum role an instrument name plays ("Hi Hat Closed" -> "closed_hat"), or None."""
    lowered = name.lower()
    for role, include, exclude in _ROLE_RULES:
        if include.search(lowered) and not (exclude and exclude.search(lowered)):
            return role
    return None


@dataclass(frozen=True)
class SampleLayer:
    """One recorded sample of an instrument, used for hits with velocity in [min, max]."""

    path: Path
    min_velocity: float = 0.0
    max_velocity: float = 1.0
    gain: float = 1.0


@dataclass(frozen=True)
class KitInstrument:
    name: str
    role: str
    layers: tuple[SampleLayer, ...]

    def layer_for(self, velocity: float) -> SampleLayer:
        """The layer whose velocity range holds `velocity`, else the one whose range is nearest."""
        def distance(layer: SampleLayer) -> float:
            return max(layer.min_velocity - velocity, velocity - layer.max_velocity, 0.0)
        return min(self.layers, key=distance)


class DrumVoice(Protocol):
    def one_shot(self, velocity: float) -> np.ndarray:
        """The sound of one hit at this velocity (0..1), peak about 1, float32."""
        ...


class DrumKit(Protocol):
    name: str

    def voices(self, rng: np.random.Generator, sample_rate: int) -> Mapping[str, DrumVoice]:
        """One voice per role this kit can play, chosen for one loop."""
        ...


@functools.lru_cache(maxsize=None)
def load_one_shot(path: str, sample_rate: int) -> np.ndarray:
    """Decode a one-shot to mono float32 at `sample_rate`, trimmed and peak-normalised. Cached and read-only."""
    try:
        audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise ValueError(f"{path}: unreadable drum sample ({e})") from None
    x = audio.mean(axis=1)
    if file_rate != sample_rate and x.shape[0] > 0:
        x = soxr.resample(x, file_rate, sample_rate, quality="HQ").astype(np.float32)
    peak = float(np.max(np.abs(x))) if x.shape[0] else 0.0
    if peak <= 0.0:
        out = np.zeros(1, dtype=np.float32)
    else:
        x = x / peak
        loud = np.flatnonzero(np.abs(x) >= 10.0 ** (LEADING_SILENCE_DB / 20.0))
        start = int(loud[0])
        audible = np.flatnonzero(np.abs(x) >= 10.0 ** (TRAILING_SILENCE_DB / 20.0))
        stop = min(int(audible[-1]) + 1, start + int(MAX_ONE_SHOT_SECONDS * sample_rate))
        out = np.array(x[start:stop], dtype=np.float32)
        fade = min(out.shape[0], int(FADE_OUT_SECONDS * sample_rate))
        if stop - start >= int(MAX_ONE_SHOT_SECONDS * sample_rate) and fade > 0:
            out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class SampledVoice:
    """A recorded instrument: picks the velocity layer per hit, loads it through the cache."""

    instrument: KitInstrument
    sample_rate: int

    def one_shot(self, velocity: float) -> np.ndarray:
        layer = self.instrument.layer_for(velocity)
        sound = load_one_shot(str(layer.path), self.sample_rate)
        return sound if layer.gain == 1.0 else sound * np.float32(layer.gain)


@dataclass(frozen=True)
class HydrogenKit:
    """A Hydrogen drumkit folder, reduced to the instruments whose names map to a drum role."""

    name: str  # the kit's folder name: unique on disk, and what the dataset manifest records
    title: str  # the <name> in drumkit.xml
    folder: Path
    instruments: tuple[KitInstrument, ...]

    @property
    def roles(self) -> set[str]:
        return {i.role for i in self.instruments}

    @property
    def usable(self) -> bool:
        return all(r in self.roles for r in REQUIRED_ROLES)

    def voices(self, rng: np.random.Generator, sample_rate: int) -> dict[str, DrumVoice]:
        """For each role, one of the kit's matching instruments (the kit may have three kicks)."""
        chosen: dict[str, DrumVoice] = {}
        for role in DRUM_ROLES:
            candidates = [i for i in self.instruments if i.role == role]
            if candidates:
                chosen[role] = SampledVoice(candidates[int(rng.integers(len(candidates)))], sample_rate)
        for role, substitute in ROLE_SUBSTITUTES.items():
            if role not in chosen and substitute in chosen:
                chosen[role] = chosen[substitute]
        return chosen


def _strip_namespace(root: ET.Element) -> None:
    """Newer drumkit.xml files carry an xmlns; older ones do not. Drop it so one parser reads both."""
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]


def _float(el: ET.Element, tag: str, default: float, where: str) -> float:
    text = el.findtext(tag)
    if text is None or not text.strip():
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{where}: <{tag}> is not a number: {text!r}") from None


def parse_drumkit(xml_path: Path) -> HydrogenKit:
    """Read a Hydrogen drumkit.xml. Instruments with no recognised role or no existing sample are left out."""
    xml_path = Path(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ValueError(f"{xml_path}: unreadable drumkit.xml ({e})") from None
    _strip_namespace(root)
    if root.tag != "drumkit_info":
        raise ValueError(f"{xml_path}: root element is <{root.tag}>, expected <drumkit_info>")
    folder = xml_path.parent
    title = (root.findtext("name") or folder.name).strip()
    instruments: list[KitInstrument] = []
    for inst in root.iter("instrument"):
        name = (inst.findtext("name") or "").strip()
        role = classify_instrument(name)
        if role is None:
            continue
        where = f"{xml_path} instrument {name!r}"
        layers: list[SampleLayer] = []
        # Hydrogen >= 0.9 lists <layer>s (possibly inside <instrumentComponent>); older kits put
        # a single <filename> directly in the instrument.
        layer_elements = list(inst.iter("layer")) or [inst]
        for layer in layer_elements:
            filename = (layer.findtext("filename") or "").strip()
            if not filename:
                continue
            path = folder / filename
            if not path.is_file():
                log.info("%s: sample %s is missing, layer skipped", where, path)
                continue
            layers.append(SampleLayer(path=path, min_velocity=_float(layer, "min", 0.0, where),
                                      max_velocity=_float(layer, "max", 1.0, where),
                                      gain=_float(layer, "gain", 1.0, where)))
        if layers:
            instruments.append(KitInstrument(name=name, role=role, layers=tuple(layers)))
    return HydrogenKit(name=folder.name, title=title, folder=folder, instruments=tuple(instruments))


def discover_kits(root: Path) -> list[HydrogenKit]:
    """Every usable kit in `root/*/drumkit.xml`, sorted by folder name (so choices are reproducible).

    A malformed kit is logged and skipped: one broken download should not stop a dataset build."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: drumkit folder not found")
    kits: list[HydrogenKit] = []
    for xml_path in sorted(root.glob("*/drumkit.xml")):
        try:
            kit = parse_drumkit(xml_path)
        except ValueError as e:
            log.warning("skipping drumkit: %s", e)
            continue
        if kit.usable:
            kits.append(kit)
        else:
            log.info("%s: no kick, snare and closed hat; not used", xml_path)
    return kits


# ---------------------------------------------------------------------------------------------
# Synthesized 808/909-style voices


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x)))
    return (x / peak if peak > 0 else x).astype(np.float32)


def _time(seconds: float, sample_rate: int) -> np.ndarray:
    return np.arange(int(seconds * sample_rate)) / sample_rate


def _filtered_noise(rng: np.random.Generator, n: int, sample_rate: int, kind: str,
                    cutoff_hz: float | tuple[float, float]) -> np.ndarray:
    """White noise through a 2nd-order Butterworth; cutoffs are kept below Nyquist at any rate."""
    nyquist = sample_rate / 2.0
    cutoff: float | tuple[float, ...]
    if isinstance(cutoff_hz, tuple):
        cutoff = tuple(min(c, 0.9 * nyquist) for c in cutoff_hz)
    else:
        cutoff = min(cutoff_hz, 0.9 * nyquist)
    sos = butter(2, cutoff, btype=kind, fs=sample_rate, output="sos")
    return sosfilt(sos, rng.standard_normal(n))


def synth_kick(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Sine with a falling pitch envelope and an exponential decay, a little click, soft-clipped."""
    decay = rng.uniform(0.15, 0.5)
    t = _time(min(6.9 * decay, 1.5), sample_rate)
    f_start, f_end, pitch_tau = rng.uniform(120.0, 260.0), rng.uniform(42.0, 60.0), rng.uniform(0.015, 0.05)
    freq = f_end + (f_start - f_end) * np.exp(-t / pitch_tau)
    phase = 2.0 * np.pi * np.cumsum(freq) / sample_rate
    body = np.sin(phase - phase[0]) * np.exp(-t / decay)
    click = _filtered_noise(rng, t.shape[0], sample_rate, "highpass", 2000.0) * np.exp(-t / 0.003)
    drive = rng.uniform(1.0, 3.0)
    return _normalise(np.tanh(drive * (body + rng.uniform(0.05, 0.2) * click)))


def synth_snare(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Two damped sine modes (the drum head) plus bandpassed noise (the wires)."""
    noise_decay = rng.uniform(0.08, 0.25)
    t = _time(6.9 * noise_decay, sample_rate)
    f1 = rng.uniform(160.0, 240.0)
    tone = (np.sin(2 * np.pi * f1 * t) + 0.6 * np.sin(2 * np.pi * f1 * 1.63 * t)) * np.exp(-t / 0.06)
    noise = _filtered_noise(rng, t.shape[0], sample_rate, "bandpass", (1200.0, 9000.0)) * np.exp(-t / noise_decay)
    noise /= np.max(np.abs(noise)) + 1e-12
    return _normalise(rng.uniform(0.3, 0.7) * tone + noise)


def synth_clap(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Three or four quick noise bursts (several hands) and a longer bandpassed tail."""
    tail_decay = rng.uniform(0.08, 0.2)
    t = _time(0.04 + 6.9 * tail_decay, sample_rate)
    spacing = rng.uniform(0.007, 0.013)
    bursts = sum(np.where(t >= k * spacing, np.exp(-(t - k * spacing) / 0.004), 0.0) for k in range(3))
    last = 3 * spacing
    tail = np.where(t >= last, np.exp(-(t - last) / tail_decay), 0.0)
    noise = _filtered_noise(rng, t.shape[0], sample_rate, "bandpass", (900.0, rng.uniform(2500.0, 5000.0)))
    return _normalise(noise * (bursts + tail))


def synth_hat(rng: np.random.Generator, sample_rate: int, decay_seconds: float) -> np.ndarray:
    """Six inharmonic square waves (the 808's metallic cluster) plus noise, highpassed."""
    t = _time(6.9 * decay_seconds, sample_rate)
    base = rng.uniform(0.9, 1.15)
    metal = sum(np.sign(np.sin(2 * np.pi * f * base * t)) for f in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0))
    x = metal / 6.0 + rng.uniform(0.3, 1.0) * rng.standard_normal(t.shape[0])
    sos = butter(2, min(7000.0, 0.4 * sample_rate), btype="highpass", fs=sample_rate, output="sos")
    return _normalise(sosfilt(sos, x) * np.exp(-t / decay_seconds))


def synth_tom(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    decay = rng.uniform(0.12, 0.3)
    t = _time(6.9 * decay, sample_rate)
    f_end = rng.uniform(90.0, 220.0)
    freq = f_end * (1.0 + 0.5 * np.exp(-t / 0.03))
    phase = 2.0 * np.pi * np.cumsum(freq) / sample_rate
    return _normalise(np.sin(phase - phase[0]) * np.exp(-t / decay))


def synth_perc(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """808 cowbell (two square waves, bandpassed) or a short rim click."""
    if rng.random() < 0.5:
        t = _time(0.35, sample_rate)
        x = np.sign(np.sin(2 * np.pi * 540.0 * t)) + np.sign(np.sin(2 * np.pi * 800.0 * t))
        sos = butter(2, (500.0, min(2500.0, 0.45 * sample_rate)), btype="bandpass", fs=sample_rate, output="sos")
        return _normalise(sosfilt(sos, x) * np.exp(-t / 0.06))
    t = _time(0.06, sample_rate)
    x = np.sin(2 * np.pi * rng.uniform(1500.0, 2500.0) * t) + 0.5 * rng.standard_normal(t.shape[0])
    return _normalise(x * np.exp(-t / 0.008))


@dataclass(frozen=True)
class FixedVoice:
    """A voice with one sound for every velocity (the synthesized kit)."""

    sound: np.ndarray

    def one_shot(self, velocity: float) -> np.ndarray:
        return self.sound


@dataclass(frozen=True)
class SynthDrumKit:
    """A fresh analogue-style kit per loop: every voice's tuning and decay is drawn from the rng."""

    name: str = "synth"

    def voices(self, rng: np.random.Generator, sample_rate: int) -> dict[str, DrumVoice]:
        return {
            "kick": FixedVoice(synth_kick(rng, sample_rate)),
            "snare": FixedVoice(synth_snare(rng, sample_rate)),
            "clap": FixedVoice(synth_clap(rng, sample_rate)),
            "closed_hat": FixedVoice(synth_hat(rng, sample_rate, rng.uniform(0.015, 0.04))),
            "open_hat": FixedVoice(synth_hat(rng, sample_rate, rng.uniform(0.12, 0.35))),
            "tom": FixedVoice(synth_tom(rng, sample_rate)),
            "perc": FixedVoice(synth_perc(rng, sample_rate)),
        }


SYNTH_KIT = SynthDrumKit()

__all__ = ["DEFAULT_DRUMKIT_ROOT", "REQUIRED_ROLES", "classify_instrument", "SampleLayer", "KitInstrument",
           "DrumVoice", "DrumKit", "load_one_shot", "SampledVoice", "HydrogenKit", "parse_drumkit",
           "discover_kits", "FixedVoice", "SynthDrumKit", "SYNTH_KIT", "synth_kick", "synth_snare",
           "synth_clap", "synth_hat", "synth_tom", "synth_perc"]
