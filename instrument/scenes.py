"""Scenes: named snapshots of the whole instrument state, kept as JSON files in a user folder.

A scene is what ``Engine.state()`` returns (decks, their models and controls, crossfade,
tempo), saved under a name so a performer can recall it or morph to it from a controller
(``/ganloops/scene/save``, ``/recall``, ``/morph``) and ``ganloops bounce --morph`` can
render the way between two of them.

Folder: ``$GANLOOPS_HOME/scenes`` when ``GANLOOPS_HOME`` is set, else
``~/.local/share/ganloops/scenes``. One file per scene, ``NAME.json``, pretty-printed so
it can be read, diffed and edited by hand::

    {
      "format": "ganloops-scene",
      "format_version": 1,
      "name": "breakdown",
      "saved_unix": 1767225600.0,
      "state": { ...Engine.state()... }
    }

JSON rather than TOML because the state is nested lists and objects, and Python reads and
writes JSON without extra packages. Files are written atomically (temporary file, then
rename), so a crash while saving leaves the previous version of the scene intact.

A file that is missing, not JSON or not a scene is a ``SceneError`` whose message is one
line naming the file; the engine is left as it was.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol

from instrument.atomic import atomic_write_text

__all__ = [
    "SCENE_FORMAT",
    "SCENE_FORMAT_VERSION",
    "DISCRETE_KEYS",
    "Scene",
    "SceneError",
    "SceneStore",
    "scenes_folder",
    "interpolate_states",
    "atomic_write_text",
]

SCENE_FORMAT = "ganloops-scene"
SCENE_FORMAT_VERSION = 1
SCENE_SUFFIX = ".json"
# Letters, digits, space, dot, dash, underscore; no path separators, not hidden.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9 _.\-]{0,99}$")
# Keys whose values never blend, whatever their type: a seed halfway between 3 and 8 is not
# a sound between them, and a model path has no midpoint.
DISCRETE_KEYS: frozenset[str] = frozenset({"seed", "bseed", "mute", "model", "bundle", "tempo_mode", "quantize"})


class SceneError(ValueError):
    """A scene that cannot be read, written or found; one line naming the file or the name."""


class _Stateful(Protocol):
    def state(self) -> dict[str, Any]: ...
    def apply_state(self, state: dict[str, Any]) -> None: ...
    def morph_to(self, state: dict[str, Any], beats: float) -> None: ...


@dataclass(frozen=True)
class Scene:
    """A scene as read from its file."""

    name: str
    state: dict[str, Any]
    path: Path
    saved_unix: float | None


def scenes_folder(environ: Mapping[str, str] | None = None) -> Path:
    """Where scenes live: $GANLOOPS_HOME/scenes, else ~/.local/share/ganloops/scenes."""
    env = os.environ if environ is None else environ
    home = env.get("GANLOOPS_HOME")
    if home:
        return Path(home).expanduser() / "scenes"
    return Path.home() / ".local" / "share" / "ganloops" / "scenes"

def _one_line(error: BaseException, limit: int = 160) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


class SceneStore:
    """The scenes in one folder: list, save, load, recall, morph, delete."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else scenes_folder()

    # -- names and paths --------------------------------------------------------------

    @staticmethod
    def check_name(name: Any) -> str:
        """A scene name usable as a file name, or SceneError naming it."""
        if not isinstance(name, str) or not _NAME_PATTERN.match(name) or name.endswith((".", " ")):
            raise SceneError(f"scene name {name!r}: use 1-100 letters, digits, spaces, '.', '-' or '_' "
                             f"(not starting with '.' or a space)")
        return name

    def path_of(self, name: str) -> Path:
        return self.folder / f"{self.check_name(name)}{SCENE_SUFFIX}"

    def resolve(self, name_or_path: str | Path) -> Path:
        """A scene name in this folder, or a path to a scene file anywhere (contains a / or ends in .json)."""
        text = str(name_or_path)
        if isinstance(name_or_path, Path) or "/" in text or os.sep in text or text.endswith(SCENE_SUFFIX):
            return Path(text).expanduser()
        return self.path_of(text)

    # -- operations -------------------------------------------------------------------

    def list(self) -> list[str]:
        """Names of the scenes in the folder, sorted (empty when the folder does not exist)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob(f"*{SCENE_SUFFIX}")
                      if p.is_file() and _NAME_PATTERN.match(p.stem))

    def save(self, name: str, state: Mapping[str, Any]) -> Path:
        """Save `state` as scene `name` (replacing one of that name), atomically; returns its file."""
        path = self.path_of(name)
        document = {"format": SCENE_FORMAT, "format_version": SCENE_FORMAT_VERSION, "name": name,
                    "saved_unix": round(time.time(), 3), "state": dict(state)}
        try:
            text = json.dumps(document, indent=2, allow_nan=False) + "\n"
        except (TypeError, ValueError) as e:
            raise SceneError(f"{path}: the state cannot be saved as JSON ({_one_line(e)})") from None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, text)
        except OSError as e:
            raise SceneError(f"{path}: cannot write ({_one_line(e)})") from None
        return path

    def load(self, name_or_path: str | Path) -> Scene:
        """Read a scene by name (in this folder) or by path; SceneError naming the file if unusable."""
        path = self.resolve(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            known = self.list()
            hint = f" (scenes in {self.folder}: {', '.join(known)})" if known else f" (no scenes in {self.folder})"
            raise SceneError(f"{path}: no such scene{hint}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise SceneError(f"{path}: cannot read ({_one_line(e)})") from None
        try:
            document = json.loads(text, parse_constant=_reject_constant)
        except ValueError as e:
            raise SceneError(f"{path}: not valid JSON ({_one_line(e)})") from None
        if not isinstance(document, dict) or document.get("format") != SCENE_FORMAT:
            raise SceneError(f"{path}: not a ganloops scene (expected \"format\": \"{SCENE_FORMAT}\")")
        version = document.get("format_version")
        if version != SCENE_FORMAT_VERSION:
            raise SceneError(f"{path}: scene format_version {version!r} is not one this version reads "
                             f"({SCENE_FORMAT_VERSION})")
        state = document.get("state")
        if not isinstance(state, dict):
            raise SceneError(f"{path}: 'state' must be an object")
        saved = document.get("saved_unix")
        name = document.get("name") if isinstance(document.get("name"), str) else path.stem
        return Scene(name=name, state=state, path=path,
                     saved_unix=float(saved) if isinstance(saved, (int, float)) else None)

    def delete(self, name: str) -> None:
        path = self.path_of(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise SceneError(f"{path}: no such scene") from None
        except OSError as e:
            raise SceneError(f"{path}: cannot delete ({_one_line(e)})") from None

    # -- with an engine -----------------------------------------------------------------

    def save_engine(self, engine: _Stateful, name: str) -> Path:
        """Save the engine's current state as scene `name`."""
        return self.save(name, engine.state())

    def recall(self, engine: _Stateful, name_or_path: str | Path) -> Scene:
        """Apply a scene to the engine. A state the engine refuses names the scene file."""
        scene = self.load(name_or_path)
        try:
            engine.apply_state(scene.state)
        except (ValueError, KeyError, TypeError) as e:
            raise SceneError(f"{scene.path}: {_one_line(e)}") from None
        return scene

    def morph(self, engine: _Stateful, name_or_path: str | Path, beats: float) -> Scene:
        """Start a morph of the engine to a scene over `beats` beats."""
        if isinstance(beats, bool) or not isinstance(beats, (int, float)) or not math.isfinite(beats) or beats < 0:
            raise SceneError(f"scene morph: beats must be a finite number >= 0, got {beats!r}")
        scene = self.load(name_or_path)
        try:
            engine.morph_to(scene.state, float(beats))
        except (ValueError, KeyError, TypeError) as e:
            raise SceneError(f"{scene.path}: {_one_line(e)}") from None
        return scene


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


# ---------------------------------------------------------------------------------------
# Morphing
# ---------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _blend(a: Any, b: Any, t: float, key: str | None) -> Any:
    if key in DISCRETE_KEYS:
        return copy.deepcopy(b if t >= 0.5 else a)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: dict[str, Any] = {}
        for k in list(a) + [k for k in b if k not in a]:
            if k in a and k in b:
                out[k] = _blend(a[k], b[k], t, k)
            else:  # present on one side only: it appears (or goes) at the halfway point
                out[k] = copy.deepcopy(a[k] if k in a else b[k])
                if (k in a) != (t < 0.5):
                    del out[k]
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [_blend(x, y, t, key) for x, y in zip(a, b)]
    if _is_number(a) and _is_number(b) and (isinstance(a, float) or isinstance(b, float)):
        return float(a) + (float(b) - float(a)) * t
    return copy.deepcopy(b if t >= 0.5 else a)  # the result never shares lists or dicts with a or b


def interpolate_states(a: Mapping[str, Any], b: Mapping[str, Any], t: float) -> dict[str, Any]:
    """The state a fraction `t` (clipped to 0..1) of the way from state `a` to state `b`.

    Pure and structural, so it works on whatever ``Engine.state()`` holds:

    - continuous controls (floats: knobs, mixes, psi, noise, gains, crossfade, tempo) lerp;
    - discrete ones switch at t >= 0.5: integers (seeds), booleans (mute), strings (model
      paths), ``None``, and any key listed in ``DISCRETE_KEYS`` whatever its type;
    - objects blend key by key; a key on one side only is present while it is nearer;
    - lists of equal length blend element by element; lists of different lengths switch.

    At t = 0 the result equals `a` and at t = 1 it equals `b` (as plain dicts and lists).
    """
    if isinstance(t, bool) or not _is_number(t) or not math.isfinite(t):
        raise ValueError(f"interpolate_states: t must be a finite number, got {t!r}")
    position = min(1.0, max(0.0, float(t)))
    result = _blend(dict(a), dict(b), position, None)
    assert isinstance(result, dict)
    return result
