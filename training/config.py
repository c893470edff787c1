"""The training configuration: dataclasses loaded from TOML, overridable key by key.

A run is described entirely by one `TrainConfig`, a tree of small dataclasses::

    [data]                 which loops, and light augmentation
    [model.generator]      training.models.config.GeneratorConfig
    [model.discriminator]  training.models.config.DiscriminatorConfig
    [loss]                 adversarial loss kind and penalties (training.losses)
    [optim]                Adam settings per network (TTUR), warmup, D/G step ratio
    [ema]                  the moving average of G that produces the samples
    [train]                batch, length, seeds and how often to log/sample/checkpoint

A config is built in layers, each checked key by key: the dataclass defaults, then a
preset (`training/presets/NAME.toml`) or a TOML file, then `--set key.sub=value`
overrides. A key that is not a field, or a value of the wrong type, is an error that
names the key, so a typo never silently trains the wrong model. The resolved config is
written back as TOML into the run folder (`to_toml`), and loading that file gives the
same config again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

from training.losses import LOG_LOSS_KINDS, LOSS_KINDS
from training.models.config import DiscriminatorConfig, GeneratorConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PRESETS_DIR = Path(__file__).resolve().parent / "presets"


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key (and the file, if any)."""


@dataclass
class DataConfig:
    """Where the loops come from and what the run expects of them.

    `sample_rate_hz` and `bars` are expectations: 0 accepts whatever the dataset holds,
    a positive value makes a mismatching dataset an error before any training happens
    (a preset tuned for 2-bar loops at 22050 Hz should not quietly train on 1-bar 44.1k).
    """

    path: str = ""
    sample_rate_hz: int = 0
    bars: int = 0
    roll_bars: bool = False
    """Rotate each real loop by a random whole number of bars. Loops are cyclic, so a
    rotated loop is still a valid loop that starts on a downbeat; for loops of several bars
    this multiplies the data without new material."""
    gain_jitter_db: float = 0.0
    """Scale each real loop by a random gain uniform in +-gain_jitter_db decibels."""


@dataclass
class ModelConfig:
    """The two networks. Their fields are defined next to the models (training.models.config)."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)


@dataclass
class LossConfig:
    """The adversarial game and its regularisers (see training.losses for the formulas)."""

    kind: str = "non_saturating"
    label_smoothing: float = 0.0
    """One-sided: the real target becomes 1 - label_smoothing. Log-loss kinds only."""
    clip_value: float = 0.01
    """Weight clipping bound for kind = "wgan_clip"."""
    gp_weight: float = 10.0
    """Gradient-penalty weight (lambda) for kind = "wgan_gp"."""
    r1_gamma: float = 0.0
    """R1 penalty strength on real data; 0 disables it. Works with any kind."""
    r1_interval: int = 16
    """Apply R1 every this many D steps (lazy regularisation), scaled up by the interval."""


@dataclass
class OptimConfig:
    """Adam for each network. Separate rates are the two time-scale update rule (TTUR)."""

    g_lr: float = 1e-4
    d_lr: float = 3e-4
    g_betas: tuple[float, float] = (0.5, 0.9)
    d_betas: tuple[float, float] = (0.5, 0.9)
    warmup_steps: int = 0
    """Both learning rates rise linearly from 0 to their value over this many steps."""
    n_critic: int = 1
    """D steps per training step (5 is usual for the Wasserstein kinds)."""
    g_steps: int = 1
    """G steps per training step (more than 1 helps a generator that keeps losing)."""


@dataclass
class EmaConfig:
    """The exponential moving average of G's weights (G_ema), which makes the samples and
    the exported model: averaging smooths out the oscillation of adversarial training.

    `beta` > 0 sets the per-step decay directly; otherwise it follows from the half-life,
    measured in thousands of generated loops, as in StyleGAN2 (0.5 ** (batch / half-life)).
    `rampup` > 0 shortens the half-life early in training to `rampup` x loops seen so far.
    """

    half_life_kimg: float = 10.0
    beta: float = 0.0
    rampup: float = 0.05


@dataclass
class TrainSectionConfig:
    """How long and how big, and how often the run folder is written to."""

    steps: int = 1000
    batch_size: int = 16
    """Total batch over all processes; each of W processes draws batch_size / W loops."""
    seed: int = 0
    style_mix_prob: float = 0.9
    """Probability that G mixes two latents' styles in a batch (style-based families)."""
    log_every: int = 10
    sample_every: int = 500
    sample_count: int = 4
    """How many fixed latents each samples/step_XXXXXXX.wav plays, one after another."""
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    threads: int = 0
    """CPU threads for torch; 0 picks the cores divided among the local processes."""


@dataclass
class TrainConfig:
    """Everything that determines a training run (the dataset path included)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    train: TrainSectionConfig = field(default_factory=TrainSectionConfig)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)


# --------------------------------------------------------------------------- typing


def _type_name(tp: Any) -> str:
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if origin is tuple and args and Ellipsis not in args:
            return f"a list of {len(args)} values"
        return "a list"
    return getattr(tp, "__name__", str(tp))


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return True, args[0]
    return False, tp


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` (as TOML parsed it) against the annotation `tp`; return it converted
    (ints to floats, lists to tuples). Raises ConfigError naming `key`."""
    optional, tp = _is_optional(tp)
    if value is None and optional:
        return None

    def bad() -> ConfigError:
        return ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {json.dumps(value, default=str)}")

    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad()
        return value
    origin = typing.get_origin(tp)
    if origin is Literal:
        args = typing.get_args(tp)
        if value not in args or type(value) not in {type(a) for a in args}:
            raise bad()
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise bad()
        args = typing.get_args(tp)
        if origin is tuple and args and Ellipsis not in args:
            if len(value) != len(args):
                raise bad()
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        items = [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    raise ConfigError(f"config key '{key}' has a type the config loader cannot read ({tp!r})")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _to_plain(obj: Any) -> Any:
    """A dataclass tree as nested dicts of TOML-friendly values (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _build(cls: type, data: Mapping[str, Any], prefix: str, source: str) -> Any:
    """Construct dataclass `cls` from the nested mapping `data`, keys checked and typed."""
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            raise ConfigError(f"config key '{prefix}{key}' is unknown{source}")
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in data:
            continue
        value, tp, key = data[name], hints[name], f"{prefix}{name}"
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key '{key}' must be a table of settings, got {json.dumps(value, default=str)}{source}")
            kwargs[name] = _build(tp, value, f"{key}.", source)
        else:
            try:
                kwargs[name] = _coerce(value, tp, key)
            except ConfigError as e:
                raise ConfigError(f"{e}{source}") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        # The model configs validate themselves with messages that already name the key.
        if prefix and str(e).startswith(prefix):
            raise ConfigError(f"{e}{source}") from None
        raise ConfigError(f"config section '{prefix.rstrip('.') or 'top level'}': {e}{source}") from None


# --------------------------------------------------------------------------- layering


def _merge_into(base: dict[str, Any], layer: Mapping[str, Any], prefix: str, source: str,
                schema: type) -> None:
    """Deep-merge `layer` into `base`, rejecting keys that `schema` does not define."""
    hints = _hints(schema)
    names = {f.name for f in dataclasses.fields(schema)}
    for key, value in layer.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"config key '{full}' is unknown{source}")
        tp = hints[key]
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            if not isinstance(value, Mapping):
                raise ConfigError(f"config key '{full}' must be a table of settings, got {json.dumps(value, default=str)}{source}")
            _merge_into(base.setdefault(key, {}), value, f"{full}.", source, tp)
        else:
            base[key] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key.sub=value``. The value is a TOML literal (``3``, ``1e-4``,
    ``true``, ``[0.0, 0.99]``, ``"hinge"``); a bare word that is not valid TOML is taken
    as a string, so ``--set loss.kind=hinge`` works without shell quoting."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r} is not of the form key.sub=value")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def _apply_override(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    schema: type = TrainConfig
    node = tree
    for i, part in enumerate(parts):
        hints = _hints(schema)
        if part not in {f.name for f in dataclasses.fields(schema)}:
            raise ConfigError(f"config key '{key}' is unknown")
        tp = hints[part]
        is_section = isinstance(tp, type) and dataclasses.is_dataclass(tp)
        last = i == len(parts) - 1
        if last:
            if is_section:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"config key '{key}' is a section; set one of its keys, e.g. {key}.{dataclasses.fields(tp)[0].name}=...")
                _merge_into(node.setdefault(part, {}), value, f"{key}.", "", tp)
            else:
                node[part] = value
            return
        if not is_section:
            raise ConfigError(f"config key '{key}' is unknown ('{'.'.join(parts[: i + 1])}' is not a section)")
        node = node.setdefault(part, {})
        schema = tp


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: unreadable ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None


def list_presets() -> list[str]:
    """Names of the bundled presets (training/presets/*.toml), sorted."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"preset '{name}' does not exist; choose one of {', '.join(list_presets())}")
    return path


def preset_description(name: str) -> str:
    """The first comment line of a preset file, which says what the preset is for."""
    for line in preset_path(name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def load_config(preset: str | None = None, config_file: str | Path | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Defaults, then a preset *or* a TOML file, then ``key=value`` overrides; then validated."""
    if preset is not None and config_file is not None:
        raise ConfigError("give a preset or a config file, not both")
    tree: dict[str, Any] = {}
    if preset is not None or config_file is not None:
        path = preset_path(preset) if preset is not None else Path(config_file)  # type: ignore[arg-type]
        _merge_into(tree, read_toml(path), "", f" (in {path})", TrainConfig)
    for text in overrides:
        key, value = parse_override(text)
        _apply_override(tree, key, value)
    cfg = _build(TrainConfig, tree, "", "")
    validate(cfg)
    return cfg


def config_from_dict(tree: Mapping[str, Any]) -> TrainConfig:
    """A TrainConfig from nested dicts (a checkpoint's `config`), checked like a file."""
    cfg = _build(TrainConfig, tree, "", "")
    validate(cfg)
    return cfg


# --------------------------------------------------------------------------- validation


def _require(ok: bool, key: str, must: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' must be {must}, got {json.dumps(value, default=str)}")


def validate(cfg: TrainConfig) -> None:
    """Range and consistency checks on the sections this module owns. The model sections
    are checked by the model builders (training.models), which know their constraints."""
    d, lo, o, e, t = cfg.data, cfg.loss, cfg.optim, cfg.ema, cfg.train
    _require(d.sample_rate_hz >= 0, "data.sample_rate_hz", "0 (any) or a positive rate", d.sample_rate_hz)
    _require(d.bars >= 0, "data.bars", "0 (any) or a positive count", d.bars)
    _require(0.0 <= d.gain_jitter_db <= 24.0, "data.gain_jitter_db", "between 0 and 24", d.gain_jitter_db)

    _require(lo.kind in LOSS_KINDS, "loss.kind", "one of " + ", ".join(LOSS_KINDS), lo.kind)
    _require(0.0 <= lo.label_smoothing < 0.5, "loss.label_smoothing", "in [0, 0.5)", lo.label_smoothing)
    if lo.label_smoothing > 0 and lo.kind not in LOG_LOSS_KINDS:
        raise ConfigError(f"config key 'loss.label_smoothing' applies to loss.kind {' or '.join(LOG_LOSS_KINDS)} "
                          f"only, not {lo.kind!r}")
    _require(lo.clip_value > 0, "loss.clip_value", "positive", lo.clip_value)
    _require(lo.gp_weight >= 0, "loss.gp_weight", "0 or positive", lo.gp_weight)
    _require(lo.r1_gamma >= 0, "loss.r1_gamma", "0 (off) or positive", lo.r1_gamma)
    _require(lo.r1_interval >= 1, "loss.r1_interval", "at least 1", lo.r1_interval)

    for key in ("g_lr", "d_lr"):
        v = getattr(o, key)
        _require(0 < v < 1 and math.isfinite(v), f"optim.{key}", "in (0, 1)", v)
    for key in ("g_betas", "d_betas"):
        v = getattr(o, key)
        _require(all(0.0 <= b < 1.0 for b in v), f"optim.{key}", "two numbers in [0, 1)", list(v))
    _require(o.warmup_steps >= 0, "optim.warmup_steps", "0 or positive", o.warmup_steps)
    _require(o.n_critic >= 1, "optim.n_critic", "at least 1", o.n_critic)
    _require(o.g_steps >= 1, "optim.g_steps", "at least 1", o.g_steps)

    _require(e.half_life_kimg > 0, "ema.half_life_kimg", "positive", e.half_life_kimg)
    _require(0.0 <= e.beta < 1.0, "ema.beta", "0 (use the half-life) or in (0, 1)", e.beta)
    _require(e.rampup >= 0, "ema.rampup", "0 (off) or positive", e.rampup)

    _require(t.steps >= 1, "train.steps", "at least 1", t.steps)
    _require(t.batch_size >= 1, "train.batch_size", "at least 1", t.batch_size)
    _require(0.0 <= t.style_mix_prob <= 1.0, "train.style_mix_prob", "in [0, 1]", t.style_mix_prob)
    for key in ("log_every", "sample_every", "checkpoint_every", "sample_count", "keep_checkpoints"):
        _require(getattr(t, key) >= 1, f"train.{key}", "at least 1", getattr(t, key))
    _require(t.threads >= 0, "train.threads", "0 (auto) or positive", t.threads)


# --------------------------------------------------------------------------- TOML out


def _toml_scalar(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON's string escapes are valid in TOML basic strings; TOML also wants DEL escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_scalar(v, key) for v in value) + "]"
    raise ConfigError(f"config key '{key}' holds {type(value).__name__}, which TOML cannot store")


def to_toml(cfg: TrainConfig, header: str = "") -> str:
    """The config as TOML text that `load_config(config_file=...)` reads back identically.

    tomllib only reads, and the tree is flat tables of scalars and lists, so a few lines
    suffice. Keys set to None are left out (loading restores the default None)."""
    lines: list[str] = [f"# {line}" if line else "#" for line in header.splitlines()]

    def emit(obj: Any, table: str) -> None:
        scalars, sections = [], []
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                sections.append((f.name, value))
            elif value is not None:
                scalars.append(f"{f.name} = {_toml_scalar(value, f'{table}.{f.name}'.lstrip('.'))}")
        if scalars:
            if lines:
                lines.append("")
            if table:
                lines.append(f"[{table}]")
            lines.extend(scalars)
        for name, value in sections:
            emit(value, f"{table}.{name}" if table else name)

    emit(cfg, "")
    return "\n".join(lines) + "\n"


__all__ = ["ConfigError", "TrainConfig", "DataConfig", "ModelConfig", "LossConfig", "OptimConfig",
           "EmaConfig", "TrainSectionConfig", "load_config", "config_from_dict", "parse_override",
           "list_presets", "preset_path", "preset_description", "to_toml", "validate", "read_toml",
           "PRESETS_DIR"]
