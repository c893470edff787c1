"""`ganloops dataset synth`: procedural loops, recorded and synthesized drum kits, the dataset build.

Recorded-kit tests use small Hydrogen kits written into a temporary folder (pure tones with
known pitches), so they run the same on machines without hydrogen-drumkits installed and can
tell from the audio which kit played.
"""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from instrument.cli import main as ganloops_main
from training.data.drums import (
    DEFAULT_DRUMKIT_ROOT, SYNTH_KIT, HydrogenKit, classify_instrument, discover_kits, load_one_shot, parse_drumkit,
)
from training.data.patterns import SCALES
from training.data.store import LoopSpec, LoopStore
from training.data.synth import (
    PEAK_DBFS, STYLES, add_wrapped, build_synth_dataset, loop_seed, render_loop, render_loop_info,
)

FILE_RATE_HZ = 44100
KICK_TONE_HZ = 1800.0  # the test kit's kick is a tone far above any synthesized kick
LEADING_SILENCE_SECONDS = 0.05
GRID_TOLERANCE_SECONDS = 0.015
PEAK = 10.0 ** (PEAK_DBFS / 20.0)


# ---------------------------------------------------------------------------------------------
# A small Hydrogen drumkit tree


def _tone(freq_hz: float, seconds: float, decay_seconds: float, lead_seconds: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * FILE_RATE_HZ)) / FILE_RATE_HZ
    x = 0.8 * np.sin(2 * np.pi * freq_hz * t) * np.exp(-t / decay_seconds)
    return np.concatenate([np.zeros(int(lead_seconds * FILE_RATE_HZ)), x]).astype(np.float32)


def _noise(seconds: float, decay_seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * FILE_RATE_HZ)) / FILE_RATE_HZ
    return (0.5 * np.random.default_rng(seed).standard_normal(t.shape[0]) * np.exp(-t / decay_seconds)).astype(np.float32)


_LAYERED_KIT = """\
<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Alpha Test Kit</name>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain></layer>
   <layer><filename>kick_hard.flac</filename><min>0.5</min><max>1</max><gain>1</gain></layer>
  </instrument>
  <instrument><id>1</id><name>Snare Rock</name>
   <layer><filename>snare.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
  <instrument><id>2</id><name>Closed HH</name>
   <layer><filename>hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
  <instrument><id>3</id><name>Open HH</name>
   <layer><filename>open_hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
  <instrument><id>4</id><name>Tom Low</name>
   <layer><filename>missing_tom.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
  <instrument><id>5</id><name>Crash</name>
   <layer><filename>hat.wav</filename><min>0</min><max>1</max><gain>1</gain></layer></instrument>
 </instrumentList>
</drumkit_info>
"""

# Hydrogen's older format: no namespace, one <filename> directly in each instrument.
_FLAT_KIT = """\
<drumkit_info>
    <name>Beta Test Kit</name>
    <instrumentList>
        <instrument><id>0</id><filename>kick_hard.flac</filename><name>Kick 1</name></instrument>
        <instrument><id>1</id><filename>snare.wav</filename><name>Snare</name></instrument>
        <instrument><id>2</id><filename>hat.wav</filename><name>Hat Closed Bs</name></instrument>
        <instrument><id>3</id><filename>snare.wav</filename><name>Clap 1</name></instrument>
    </instrumentList>
</drumkit_info>
"""

_NO_KICK_KIT = """\
<drumkit_info><name>No Kick</name><instrumentList>
  <instrument><id>0</id><filename>snare.wav</filename><name>Snare</name></instrument>
  <instrument><id>1</id><filename>hat.wav</filename><name>Closed HH</name></instrument>
</instrumentList></drumkit_info>
"""


def _write_kit(folder: Path, xml: str) -> None:
    folder.mkdir(parents=True)
    (folder / "drumkit.xml").write_text(xml, encoding="utf-8")
    sf.write(folder / "kick_soft.wav", _tone(KICK_TONE_HZ, 0.3, 0.08, LEADING_SILENCE_SECONDS), FILE_RATE_HZ)
    sf.write(folder / "kick_hard.flac", _tone(KICK_TONE_HZ, 0.3, 0.1, LEADING_SILENCE_SECONDS), FILE_RATE_HZ)
    sf.write(folder / "snare.wav", _tone(900.0, 0.25, 0.06), FILE_RATE_HZ)
    sf.write(folder / "hat.wav", _noise(0.08, 0.015, seed=1), FILE_RATE_HZ)
    sf.write(folder / "open_hat.wav", _noise(0.5, 0.15, seed=2), FILE_RATE_HZ)


@pytest.fixture(scope="module")
def kits_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drumkits")
    _write_kit(root / "Alpha", _LAYERED_KIT)
    _write_kit(root / "Beta", _FLAT_KIT)
    _write_kit(root / "NoKick", _NO_KICK_KIT)
    (root / "Broken").mkdir()
    (root / "Broken" / "drumkit.xml").write_text("<drumkit_info><name>oops", encoding="utf-8")
    (root / "NotAKit").mkdir()
    return root


@pytest.fixture(scope="module")
def alpha_kit(kits_root: Path) -> HydrogenKit:
    return parse_drumkit(kits_root / "Alpha" / "drumkit.xml")


# ---------------------------------------------------------------------------------------------
# Onsets


def _loop_onsets_seconds(audio: np.ndarray, sample_rate: int, fmin_hz: float = 0.0) -> np.ndarray:
    """Onset times within one pass of a loop, detected on the middle of three passes (so the
    loop start is seen the way a listener hears it, after the previous pass). `fmin_hz` limits
    detection to a band (above 4 kHz, say, to hear the hats)."""
    n = audio.shape[0]
    hop = 64
    env = librosa.onset.onset_strength(y=np.tile(audio, 3), sr=sample_rate, hop_length=hop, n_fft=512,
                                       fmin=fmin_hz)
    on = librosa.onset.onset_detect(onset_envelope=env, sr=sample_rate, hop_length=hop, units="samples")
    return (on[(on >= n) & (on < 2 * n)] - n) / sample_rate


def _swung_grid_seconds(spec: LoopSpec, swing: float) -> np.ndarray:
    """16th-note positions, odd ones late by `swing` 16ths; one past the end for onsets near it."""
    step_seconds = 60.0 / spec.bpm / 4.0
    steps = np.arange(spec.beats * 4 + 1)
    return steps * step_seconds + np.where(steps % 2 == 1, swing * step_seconds, 0.0)


def _distance_to_grid(onsets: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.min(np.abs(onsets[:, None] - grid[None, :]), axis=1)


# ---------------------------------------------------------------------------------------------
# Rendering one loop


@pytest.mark.parametrize("sample_rate, bpm, bars, beats_per_bar", [
    (22050, 128.0, 2, 4), (16000, 174.0, 1, 4), (44100, 93.7, 1, 3), (8000, 60.0, 1, 4),
])
def test_loop_is_exactly_spec_length_mono_float32_and_peaks_at_target(sample_rate, bpm, bars, beats_per_bar):
    spec = LoopSpec(sample_rate=sample_rate, bpm=bpm, bars=bars, beats_per_bar=beats_per_bar)
    for i, style in enumerate(STYLES):
        audio = render_loop(spec, style, np.random.default_rng(i))
        assert audio.shape == (spec.loop_samples,)
        assert audio.dtype == np.float32
        assert np.all(np.isfinite(audio))
        assert np.max(np.abs(audio)) == pytest.approx(PEAK, rel=1e-4)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("kit_kind", ["synth", "recorded"])
def test_every_style_is_audible_with_drum_onsets_on_the_swung_16th_grid(style, kit_kind, alpha_kit):
    spec = LoopSpec(sample_rate=22050, bpm=124.0, bars=2)
    kit = SYNTH_KIT if kit_kind == "synth" else alpha_kit
    full = render_loop_info(spec, style, np.random.default_rng(3), kit)
    assert full.kit == kit.name
    assert 20 * np.log10(np.sqrt(np.mean(full.audio ** 2))) > -30.0

    drums = render_loop_info(spec, style, np.random.default_rng(3), kit, parts=("drums",))
    # The same composition, drums only.
    assert drums.swing == full.swing
    assert all(np.array_equal(v, full.drums.velocities[r]) for r, v in drums.drums.velocities.items())
    onsets = _loop_onsets_seconds(drums.audio, spec.sample_rate)
    grid = _swung_grid_seconds(spec, drums.swing)
    assert onsets.shape[0] >= spec.beats
    on_grid = _distance_to_grid(onsets, grid) < GRID_TOLERANCE_SECONDS
    # Claps are several hands a few ms apart, so a clap may add an onset just after the grid.
    assert on_grid.mean() >= 0.8, f"onsets off the grid at {onsets[~on_grid]} s"
    # The kicks are heard where the pattern puts them (a detector misses the odd one in a busy bar).
    kick_times = grid[drums.drums.hit_steps("kick")]
    assert np.mean(_distance_to_grid(kick_times, onsets) < GRID_TOLERANCE_SECONDS) >= 0.75


def test_grid_check_rejects_audio_half_a_16th_off_the_grid():
    spec = LoopSpec(sample_rate=22050, bpm=124.0, bars=2)
    drums = render_loop_info(spec, "techno", np.random.default_rng(3), parts=("drums",))
    half_step_samples = int(round(spec.beat_samples / 8))
    shifted = np.roll(drums.audio, half_step_samples)
    onsets = _loop_onsets_seconds(shifted, spec.sample_rate)
    on_grid = _distance_to_grid(onsets, _swung_grid_seconds(spec, drums.swing)) < GRID_TOLERANCE_SECONDS
    assert on_grid.mean() < 0.2


def _odd_minus_even_offset_seconds(audio: np.ndarray, spec: LoopSpec) -> float | None:
    """How much later odd 16ths sound than even ones, measured on the hats in the audio (median
    onset offsets from the straight grid); None when too few hat onsets were detected."""
    step_seconds = 60.0 / spec.bpm / 4.0
    onsets = _loop_onsets_seconds(audio, spec.sample_rate, fmin_hz=4000.0)
    steps = np.round(onsets / step_seconds).astype(int)
    offsets = onsets - steps * step_seconds
    odd = steps % 2 == 1
    if odd.sum() < 3 or (~odd).sum() < 3:
        return None
    return float(np.median(offsets[odd]) - np.median(offsets[~odd]))


def _measured_swing(spec: LoopSpec, style: str):
    """The first loop (by seed) whose hats give enough odd and even onsets, with its measured lag."""
    for seed in range(30):
        r = render_loop_info(spec, style, np.random.default_rng(seed), parts=("drums",))
        lag = _odd_minus_even_offset_seconds(r.audio, spec)
        if lag is not None:
            return r, lag
    raise AssertionError(f"no {style} loop in 30 seeds with enough hat onsets to measure swing")


def test_house_swings_its_odd_16ths_and_techno_plays_them_straight():
    spec = LoopSpec(sample_rate=22050, bpm=100.0, bars=2)
    step_seconds = 60.0 / spec.bpm / 4.0
    house, house_lag = _measured_swing(spec, "house")
    assert 0.1 <= house.swing <= 0.25
    assert house_lag == pytest.approx(house.swing * step_seconds, abs=0.006)  # 15..37 ms late
    techno, techno_lag = _measured_swing(spec, "techno")
    assert techno.swing == 0.0
    assert abs(techno_lag) < 0.006


def test_bass_and_stab_are_in_the_loops_key():
    spec = LoopSpec(sample_rate=22050, bpm=128.0, bars=4)
    for i, style in enumerate(STYLES):
        r = render_loop_info(spec, style, np.random.default_rng(100 + i))
        pitch_classes = {(r.key.root + s) % 12 for s in SCALES[r.key.scale]}
        notes = [p for ev in r.bass + r.stab for p in ev.pitches_midi]
        assert notes and all(p % 12 in pitch_classes for p in notes)
        assert all(len(ev.pitches_midi) >= 3 for ev in r.stab)


def test_add_wrapped_folds_what_runs_past_the_end_onto_the_start():
    bus = np.zeros(10)
    add_wrapped(bus, np.arange(1.0, 5.0), start_sample=8)  # 1 2 | 3 4
    np.testing.assert_array_equal(bus, [3, 4, 0, 0, 0, 0, 0, 0, 1, 2])
    bus = np.zeros(4)
    add_wrapped(bus, np.ones(11), start_sample=1)  # longer than the loop: wraps more than once
    np.testing.assert_array_equal(bus, [2, 3, 3, 3])
    assert bus.sum() == 11


@pytest.mark.parametrize("style", STYLES)
def test_loop_seam_is_no_bigger_than_the_jumps_inside_the_loop(style, alpha_kit):
    spec = LoopSpec(sample_rate=22050, bpm=128.0, bars=1)
    for seed, kit in [(0, None), (1, None), (2, alpha_kit)]:
        x = render_loop(spec, style, np.random.default_rng(seed), kit)
        interior = np.abs(np.diff(x))
        assert abs(float(x[0]) - float(x[-1])) <= np.quantile(interior, 0.999)


# ---------------------------------------------------------------------------------------------
# Drum kits


@pytest.mark.parametrize("name, role", [
    ("Kick", "kick"), ("BassDrum", "kick"), ("c3 - bass drum 1", "kick"), ('Kick (Tama Superstar 22")', "kick"),
    ("Snare Rock", "snare"), ("Pearl Snare Rimshot", "snare"), ("Snare Roll", None),
    ("Hand Clap", "clap"), ("Clap Hard", "clap"),
    ("Closed HH", "closed_hat"), ("Hi Hat Closed", "closed_hat"), ("VariBreaks Hat 1 Cl", "closed_hat"),
    ("f#3 - hi-hat closed", "closed_hat"), ("Hat Closed Dirty", "closed_hat"),
    ("Open HH", "open_hat"), ("Hi Hat Opened", "open_hat"), ("Hat Op Phaser", "open_hat"),
    ("Side OHH", "open_hat"), ("Sabian Hat Semi-Open", None), ("Pedal HH", None),
    ("Floor Tom", "tom"), ("tomhi2", "tom"), ("Cowbell", "perc"), ("Pearl Side Stick", "perc"),
    ("Crash", None), ("Ride Jazz", None), ("17", None),
])
def test_instrument_names_map_to_drum_roles(name, role):
    assert classify_instrument(name) == role


def test_parse_drumkit_reads_layered_and_flat_formats(kits_root, alpha_kit):
    assert alpha_kit.name == "Alpha" and alpha_kit.title == "Alpha Test Kit"
    by_role = {i.role: i for i in alpha_kit.instruments}
    assert set(by_role) == {"kick", "snare", "closed_hat", "open_hat"}  # tom's file is missing; crash has no role
    kick = by_role["kick"]
    assert [layer.path.name for layer in kick.layers] == ["kick_soft.wav", "kick_hard.flac"]
    assert kick.layer_for(0.2).path.name == "kick_soft.wav"
    assert kick.layer_for(0.9).path.name == "kick_hard.flac"

    beta = parse_drumkit(kits_root / "Beta" / "drumkit.xml")
    assert sorted(i.role for i in beta.instruments) == ["clap", "closed_hat", "kick", "snare"]
    assert beta.usable


def test_discover_kits_keeps_usable_kits_and_skips_broken_ones(kits_root, tmp_path):
    assert [k.name for k in discover_kits(kits_root)] == ["Alpha", "Beta"]
    assert discover_kits(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="nowhere"):
        discover_kits(tmp_path / "nowhere")


def test_broken_drumkit_xml_error_names_the_file(kits_root):
    with pytest.raises(ValueError, match=r"Broken/drumkit\.xml"):
        parse_drumkit(kits_root / "Broken" / "drumkit.xml")


def test_one_shots_are_resampled_trimmed_normalised_and_loaded_once(kits_root, alpha_kit):
    path = str(kits_root / "Alpha" / "kick_hard.flac")
    load_one_shot.cache_clear()
    x = load_one_shot(path, 16000)
    body_seconds = 0.3
    assert x.shape[0] == pytest.approx(body_seconds * 16000, rel=0.05)  # 50 ms of silence trimmed
    assert np.max(np.abs(x[:40])) > 0.1  # starts at the attack, not 50 ms of silence earlier
    assert np.max(np.abs(x)) == pytest.approx(1.0, abs=1e-6)
    spectrum = np.abs(np.fft.rfft(x))
    assert np.fft.rfftfreq(x.shape[0], 1 / 16000)[np.argmax(spectrum)] == pytest.approx(KICK_TONE_HZ, abs=20)
    assert not x.flags.writeable

    load_one_shot.cache_clear()
    spec = LoopSpec(sample_rate=22050, bpm=128.0, bars=1)
    render_loop(spec, "techno", np.random.default_rng(0), alpha_kit)
    first = load_one_shot.cache_info()
    assert first.misses <= 5 and first.hits > 0  # at most one decode per sample file
    render_loop(spec, "techno", np.random.default_rng(1), alpha_kit)
    assert load_one_shot.cache_info().misses == first.misses


def test_recorded_kit_is_what_plays(alpha_kit):
    """The test kit's kick is an 1800 Hz tone: it dominates a recorded drum render, not a synthesized one."""
    spec = LoopSpec(sample_rate=22050, bpm=128.0, bars=1)

    def dominant_hz(kit) -> float:
        x = render_loop(spec, "techno", np.random.default_rng(5), kit, parts=("drums",))
        spectrum = np.abs(np.fft.rfft(x))
        return float(np.fft.rfftfreq(x.shape[0], 1 / spec.sample_rate)[np.argmax(spectrum)])

    assert dominant_hz(alpha_kit) == pytest.approx(KICK_TONE_HZ, abs=20)
    assert dominant_hz(None) < 400.0


@pytest.mark.skipif(not DEFAULT_DRUMKIT_ROOT.is_dir(), reason="Debian's hydrogen-drumkits is not installed")
def test_installed_hydrogen_kits_are_found_and_each_one_plays():
    kits = discover_kits(DEFAULT_DRUMKIT_ROOT)
    assert len(kits) >= 3
    spec = LoopSpec(sample_rate=16000, bpm=128.0, bars=1)
    for i, kit in enumerate(kits):
        r = render_loop_info(spec, STYLES[i % len(STYLES)], np.random.default_rng(i), kit, parts=("drums",))
        assert r.kit == kit.name
        assert np.sqrt(np.mean(r.audio ** 2)) > 0.01, kit.name


# ---------------------------------------------------------------------------------------------
# Building a dataset


SMALL = LoopSpec(sample_rate=16000, bpm=128.0, bars=1)


def test_same_seed_gives_byte_identical_dataset_and_other_seeds_differ(tmp_path, kits_root):
    def build(name: str, seed: int) -> Path:
        return build_synth_dataset(tmp_path / name, count=5, spec=SMALL, seed=seed, styles=None,
                                   drumkit_root=kits_root, use_recorded_kits=True, overwrite=False, progress=False)

    a, b, c = build("a", 7), build("b", 7), build("c", 8)
    assert (a / "loops.f32").read_bytes() == (b / "loops.f32").read_bytes()
    assert LoopStore.open(a).items == LoopStore.open(b).items
    la, lc = LoopStore.open(a).loops, LoopStore.open(c).loops
    assert all(not np.array_equal(la[i], lc[i]) for i in range(5))


def test_manifest_records_each_loops_origin_and_a_loop_can_be_regenerated_from_it(tmp_path, kits_root):
    out = build_synth_dataset(tmp_path / "ds", count=6, spec=SMALL, seed=3, styles=["house", "electro"],
                              drumkit_root=kits_root, use_recorded_kits=True, overwrite=False, progress=False)
    store = LoopStore.open(out)
    assert store.manifest["source"]["drums"] == "recorded"
    assert store.manifest["source"]["kits"] == ["Alpha", "Beta"]
    assert [item["style"] for item in store.items] == ["house", "electro"] * 3
    kits = {k.name: k for k in discover_kits(kits_root)}
    for i, item in enumerate(store.items):
        assert set(item) >= {"style", "key", "scale", "kit", "swing", "seed"}
        assert item["kit"] in kits and item["seed"] == loop_seed(3, i)
        regenerated = render_loop(SMALL, item["style"], np.random.default_rng(item["seed"]), kits[item["kit"]])
        np.testing.assert_array_equal(regenerated, store[i][0])
        assert np.max(np.abs(store[i])) < 1.0


@pytest.mark.parametrize("use_recorded, root", [(False, "kits"), (True, "empty")])
def test_synthesized_drums_when_recorded_kits_are_off_or_absent(tmp_path, kits_root, use_recorded, root):
    drumkit_root = kits_root if root == "kits" else tmp_path / "empty"
    drumkit_root.mkdir(exist_ok=True)
    out = build_synth_dataset(tmp_path / "ds", count=4, spec=SMALL, seed=1, styles=None, drumkit_root=drumkit_root,
                              use_recorded_kits=use_recorded, overwrite=False, progress=False)
    store = LoopStore.open(out)
    assert store.manifest["source"]["drums"] == "synth"
    assert {item["kit"] for item in store.items} == {"synth"}


def test_bad_arguments_raise_errors_that_name_the_culprit(tmp_path, kits_root):
    def build(**kw):
        args = dict(out_dir=tmp_path / "ds", count=2, spec=SMALL, seed=0, styles=None, drumkit_root=kits_root,
                    use_recorded_kits=True, overwrite=False, progress=False)
        args.update(kw)
        return build_synth_dataset(**args)

    with pytest.raises(ValueError, match="count must be positive, got 0"):
        build(count=0)
    with pytest.raises(ValueError, match="4000 Hz"):
        render_loop(LoopSpec(sample_rate=4000, bpm=120.0, bars=1), "techno", np.random.default_rng(0))
    with pytest.raises(ValueError, match="'dubstep'"):
        build(styles=["techno", "dubstep"])
    with pytest.raises(FileNotFoundError, match="no_such_kits"):
        build(drumkit_root=tmp_path / "no_such_kits")
    build()
    with pytest.raises(FileExistsError, match="ds"):
        build()
    assert build(overwrite=True) == tmp_path / "ds"


def test_cli_builds_a_dataset_that_loop_store_reads(tmp_path, kits_root, capsys):
    out = tmp_path / "cli_ds"
    rc = ganloops_main(["dataset", "synth", str(out), "--count", "4", "--bars", "1", "--bpm", "126",
                        "--sample-rate", "16000", "--seed", "11", "--drumkits", str(kits_root), "--no-progress"])
    assert rc == 0
    assert f"wrote 4 loops to {out}" in capsys.readouterr().out
    store = LoopStore.open(out)
    assert len(store) == 4 and store.spec == LoopSpec(sample_rate=16000, bpm=126.0, bars=1)
    assert store.loops.shape == (4, 1, store.spec.loop_samples)
    assert {item["kit"] for item in store.items} <= {"Alpha", "Beta"}
    assert json.loads((out / "manifest.json").read_text())["source"]["seed"] == 11

    rc = ganloops_main(["dataset", "synth", str(tmp_path / "synth_ds"), "--count", "2", "--bars", "1",
                        "--sample-rate", "16000", "--synth-drums", "--styles", "techno,breakbeat", "--no-progress"])
    assert rc == 0
    items = LoopStore.open(tmp_path / "synth_ds").items
    assert [(i["style"], i["kit"]) for i in items] == [("techno", "synth"), ("breakbeat", "synth")]

    rc = ganloops_main(["dataset", "synth", str(tmp_path / "bad"), "--styles", "polka", "--no-progress"])
    assert rc == 1
    assert "'polka'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
