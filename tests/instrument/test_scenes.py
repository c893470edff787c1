"""Scenes: the folder, save/list/load/delete round trips, recall and morph on an engine, the
one-line errors for bad files, and interpolate_states."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from instrument import scenes
from instrument.scenes import SceneError, SceneStore, interpolate_states, scenes_folder

STATE_A: dict[str, Any] = {
    "decks": [
        {"model": "bundles/techno", "seed": 3, "bseed": 4, "knobs": [0.5, -1.0, 0.0], "mix": {"coarse": 0.0, "middle": 1.0, "fine": 0.25},
         "psi": 0.7, "noise": 1.0, "gain": 1.0, "mute": False},
        {"model": None, "seed": 0, "bseed": 1, "knobs": [0.0, 0.0, 0.0], "mix": {"coarse": 0.0, "middle": 0.0, "fine": 0.0},
         "psi": 1.0, "noise": 1.0, "gain": 0.5, "mute": True},
    ],
    "crossfade": 0.0,
    "tempo_bpm": 120.0,
}
STATE_B: dict[str, Any] = {
    "decks": [
        {"model": "bundles/house", "seed": 8, "bseed": 4, "knobs": [-0.5, 1.0, 0.5], "mix": {"coarse": 1.0, "middle": 0.0, "fine": 0.75},
         "psi": 0.9, "noise": 0.0, "gain": 0.0, "mute": True},
        {"model": None, "seed": 0, "bseed": 1, "knobs": [0.0, 0.0, 0.0], "mix": {"coarse": 0.0, "middle": 0.0, "fine": 0.0},
         "psi": 1.0, "noise": 1.0, "gain": 1.0, "mute": False},
    ],
    "crossfade": 1.0,
    "tempo_bpm": 140.0,
}


class FakeEngine:
    """Stands in for instrument.engine.Engine: the three state methods, recorded."""

    def __init__(self, state: dict[str, Any] | None = None, refuse: str | None = None) -> None:
        self._state = json.loads(json.dumps(state or STATE_A))
        self.refuse = refuse
        self.morphs: list[tuple[dict[str, Any], float]] = []

    def state(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._state))

    def apply_state(self, state: dict[str, Any]) -> None:
        if self.refuse:
            raise ValueError(self.refuse)
        self._state = json.loads(json.dumps(state))

    def morph_to(self, state: dict[str, Any], beats: float) -> None:
        if self.refuse:
            raise ValueError(self.refuse)
        self.morphs.append((state, beats))


@pytest.fixture
def store(tmp_path: Path) -> SceneStore:
    return SceneStore(tmp_path / "scenes")


def test_scenes_folder_follows_ganloops_home(tmp_path: Path) -> None:
    assert scenes_folder({"GANLOOPS_HOME": str(tmp_path)}) == tmp_path / "scenes"
    assert scenes_folder({}) == Path.home() / ".local" / "share" / "ganloops" / "scenes"
    assert SceneStore().folder == scenes_folder()


def test_save_list_load_delete_round_trip(store: SceneStore) -> None:
    assert store.list() == []
    path = store.save("intro", STATE_A)
    store.save("drop 2", STATE_B)
    assert path == store.folder / "intro.json"
    assert store.list() == ["drop 2", "intro"]
    scene = store.load("intro")
    assert scene.state == STATE_A and scene.name == "intro" and scene.path == path
    assert store.load(str(path)).state == STATE_A  # by path as well as by name
    document = json.loads(path.read_text())  # human-readable, self-describing
    assert document["format"] == "ganloops-scene" and document["format_version"] == 1
    assert "\n  " in path.read_text()
    store.save("intro", STATE_B)  # replaces
    assert store.load("intro").state == STATE_B
    store.delete("intro")
    assert store.list() == ["drop 2"]
    assert not [p for p in store.folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_save_is_atomic_the_old_scene_survives_a_failed_write(store: SceneStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save("keep", STATE_A)

    def crash(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(scenes.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save("keep", STATE_B)
    monkeypatch.undo()
    assert store.load("keep").state == STATE_A
    assert sorted(p.name for p in store.folder.iterdir()) == ["keep.json"]


def test_recall_and_morph_drive_the_engine(store: SceneStore) -> None:
    engine = FakeEngine(STATE_A)
    store.save_engine(engine, "a")
    engine.apply_state(STATE_B)
    store.recall(engine, "a")
    assert engine.state() == STATE_A
    store.save("b", STATE_B)
    store.morph(engine, "b", 8)
    assert engine.morphs == [(STATE_B, 8.0)]


@pytest.mark.parametrize("content, message", [
    (None, "no such scene"),
    ("{not json", "not valid JSON"),
    ('{"state": {}}', "not a ganloops scene"),
    ('{"format": "ganloops-scene", "format_version": 99, "state": {}}', "format_version 99"),
    ('{"format": "ganloops-scene", "format_version": 1, "state": [1, 2]}', "'state' must be an object"),
    ('{"format": "ganloops-scene", "format_version": 1, "state": {"crossfade": NaN}}', "not valid JSON"),
])
def test_bad_scene_files_fail_with_one_line_naming_the_file(store: SceneStore, content: str | None,
                                                             message: str) -> None:
    store.folder.mkdir(parents=True)
    path = store.folder / "broken.json"
    if content is not None:
        path.write_text(content)
    engine = FakeEngine(STATE_A)
    with pytest.raises(SceneError, match=message) as caught:
        store.recall(engine, "broken")
    text = str(caught.value)
    assert "\n" not in text and str(path) in text
    assert engine.state() == STATE_A  # nothing applied


def test_a_state_the_engine_refuses_names_the_scene_file(store: SceneStore) -> None:
    path = store.save("odd", STATE_B)
    engine = FakeEngine(STATE_A, refuse="decks[1].psi: expected 0..2, got 9")
    with pytest.raises(SceneError, match="psi") as caught:
        store.recall(engine, "odd")
    assert str(caught.value).startswith(str(path))


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 101, 7])
def test_scene_names_that_are_not_file_names_are_refused(store: SceneStore, name: Any) -> None:
    with pytest.raises(SceneError, match="scene name"):
        store.save(name, STATE_A)
    assert not store.folder.exists()


def test_a_state_that_is_not_json_is_refused_before_writing(store: SceneStore) -> None:
    with pytest.raises(SceneError, match="cannot be saved as JSON"):
        store.save("bad", {"tempo_bpm": float("nan")})
    assert store.list() == []


def test_morph_needs_a_sensible_beat_count(store: SceneStore) -> None:
    store.save("b", STATE_B)
    with pytest.raises(SceneError, match="beats"):
        store.morph(FakeEngine(), "b", float("inf"))


# ---------------------------------------------------------------------------------------
# interpolate_states
# ---------------------------------------------------------------------------------------


def test_interpolation_ends_are_the_two_states() -> None:
    assert interpolate_states(STATE_A, STATE_B, 0.0) == STATE_A
    assert interpolate_states(STATE_A, STATE_B, 1.0) == STATE_B
    assert interpolate_states(STATE_A, STATE_B, -3.0) == STATE_A  # clipped
    assert interpolate_states(STATE_A, STATE_B, 7.0) == STATE_B


def test_continuous_controls_lerp_and_discrete_ones_switch_at_half() -> None:
    quarter = interpolate_states(STATE_A, STATE_B, 0.25)
    deck = quarter["decks"][0]
    assert quarter["crossfade"] == pytest.approx(0.25) and quarter["tempo_bpm"] == pytest.approx(125.0)
    assert deck["knobs"] == pytest.approx([0.25, -0.5, 0.125])
    assert deck["mix"] == pytest.approx({"coarse": 0.25, "middle": 0.75, "fine": 0.375})
    assert deck["psi"] == pytest.approx(0.75) and deck["gain"] == pytest.approx(0.75)
    assert (deck["seed"], deck["model"], deck["mute"]) == (3, "bundles/techno", False)
    half = interpolate_states(STATE_A, STATE_B, 0.5)["decks"][0]
    assert (half["seed"], half["model"], half["mute"]) == (8, "bundles/house", True)


def test_seed_keys_never_blend_even_when_written_as_floats() -> None:
    a, b = {"seed": 2.0, "level": 1}, {"seed": 9.0, "level": 3.0}
    assert interpolate_states(a, b, 0.4) == {"seed": 2.0, "level": pytest.approx(1.8)}


def test_keys_and_lists_present_on_one_side_switch_at_half() -> None:
    a = {"only_a": 1.0, "lst": [0.0, 1.0]}
    b = {"only_b": 2.0, "lst": [1.0, 1.0, 1.0]}
    assert interpolate_states(a, b, 0.49) == a
    assert interpolate_states(a, b, 0.5) == b


def test_interpolation_is_pure() -> None:
    a, b = json.loads(json.dumps(STATE_A)), json.loads(json.dumps(STATE_B))
    mixed = interpolate_states(a, b, 0.3)
    mixed["decks"][1]["knobs"].append(1.0)
    interpolate_states({"x": [1]}, {"x": [1, 2]}, 0.0)["x"].append(3)
    assert a == STATE_A and b == STATE_B
    with pytest.raises(ValueError, match="t must be a finite number"):
        interpolate_states(a, b, float("nan"))
