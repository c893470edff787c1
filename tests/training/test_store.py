"""The dataset folder format: exact loop lengths, atomic builds, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.data.store import DatasetError, LoopSpec, LoopStore, LoopStoreWriter


def _spec() -> LoopSpec:
    return LoopSpec(sample_rate=8000, bpm=120.0, bars=1)


def test_loop_samples_are_whole_bars() -> None:
    assert LoopSpec(sample_rate=22050, bpm=128.0, bars=2).loop_samples == 82688  # 82687.5 rounded
    assert LoopSpec(sample_rate=48000, bpm=120.0, bars=4).loop_samples == 384000
    assert LoopSpec(sample_rate=44100, bpm=130.0, bars=1, beats_per_bar=3).loop_samples == 61062


@pytest.mark.parametrize("kwargs", [dict(sample_rate=0, bpm=120, bars=1), dict(sample_rate=8000, bpm=0, bars=1),
                                    dict(sample_rate=8000, bpm=120, bars=0)])
def test_invalid_spec_is_rejected(kwargs) -> None:
    with pytest.raises(ValueError):
        LoopSpec(**kwargs)


def test_round_trip(tmp_path: Path) -> None:
    spec = _spec()
    rng = np.random.default_rng(0)
    loops = rng.uniform(-1, 1, size=(5, spec.loop_samples)).astype(np.float32)
    with LoopStoreWriter(tmp_path / "ds", spec, source={"kind": "test"}) as w:
        for i, loop in enumerate(loops):
            w.append(loop, origin={"index": i})
        w.write_extra("report.json", "{}")
        w.commit()
    store = LoopStore.open(tmp_path / "ds")
    assert len(store) == 5 and store.spec == spec
    np.testing.assert_array_equal(np.asarray(store.loops)[:, 0], loops)
    assert [item["index"] for item in store.items] == list(range(5))
    assert (tmp_path / "ds" / "report.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_interrupted_build_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    spec = _spec()
    with pytest.raises(KeyboardInterrupt):
        with LoopStoreWriter(tmp_path / "ds", spec, source={}) as w:
            w.append(np.zeros(spec.loop_samples), origin={})
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DatasetError, match="not a dataset folder"):
        LoopStore.open(tmp_path / "ds")


def test_existing_dataset_is_kept_unless_forced(tmp_path: Path) -> None:
    spec = _spec()
    for value in (0.1, 0.2):
        with LoopStoreWriter(tmp_path / "ds", spec, source={}, overwrite=True) as w:
            w.append(np.full(spec.loop_samples, value), origin={})
            w.commit()
    assert LoopStore.open(tmp_path / "ds")[0][0, 0] == pytest.approx(0.2)
    with pytest.raises(FileExistsError, match="--force"):
        LoopStoreWriter(tmp_path / "ds", spec, source={})


def test_wrong_length_and_nan_are_rejected(tmp_path: Path) -> None:
    spec = _spec()
    with LoopStoreWriter(tmp_path / "ds", spec, source={}) as w:
        with pytest.raises(ValueError, match="does not match"):
            w.append(np.zeros(spec.loop_samples - 1), origin={})
        bad = np.zeros(spec.loop_samples)
        bad[3] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            w.append(bad, origin={"file": "x.wav"})
        with pytest.raises(DatasetError, match="no loops"):
            w.commit()


def _write_one(path: Path) -> None:
    spec = _spec()
    with LoopStoreWriter(path, spec, source={}) as w:
        w.append(np.zeros(spec.loop_samples), origin={})
        w.commit()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "manifest.json").unlink(), "manifest.json: missing"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "unreadable manifest"),
        (lambda d: (d / "manifest.json").write_text('{"format": "other"}'), "not a ganloops loop dataset"),
        (lambda d: _edit(d, version=99), "unsupported dataset format version 99"),
        (lambda d: _edit(d, bpm="fast"), "'bpm' is missing or not a number"),
        (lambda d: _edit(d, count=2), "expected 128000 bytes for [2, 1, 16000]"),
        (lambda d: _edit(d, loop_samples=100), "expected 400 bytes"),
        (lambda d: (d / "loops.f32").write_bytes(b"\0" * 10), "found 10"),
    ],
)
def test_damaged_dataset_gives_one_line_error(tmp_path: Path, damage, message) -> None:
    _write_one(tmp_path / "ds")
    damage(tmp_path / "ds")
    with pytest.raises(DatasetError) as info:
        LoopStore.open(tmp_path / "ds")
    assert message in str(info.value) and "\n" not in str(info.value)


def _edit(d: Path, **changes) -> None:
    manifest = json.loads((d / "manifest.json").read_text())
    manifest.update(changes)
    (d / "manifest.json").write_text(json.dumps(manifest))
