"""Configs: presets load, overrides are typed TOML literals, mistakes name their key, and
the resolved config written to a run folder reads back as the same config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.config import (ConfigError, TrainConfig, list_presets, load_config, parse_override, preset_path,
                             read_toml, to_toml)
from training.data.store import loop_samples_for
from training.loop import train_main
from training.models import build_discriminator, build_generator

REQUIRED_PRESETS = {"wavegan", "style_wavegan", "tiny", "default_cpu"}


def test_required_presets_exist_and_load() -> None:
    assert REQUIRED_PRESETS <= set(list_presets())
    for name in list_presets():
        cfg = load_config(preset=name)
        assert isinstance(cfg, TrainConfig)


def test_presets_set_what_they_promise() -> None:
    assert load_config(preset="wavegan").model.generator.family == "wavegan"
    assert load_config(preset="style_wavegan").model.generator.family == "style_wavegan"
    cpu = load_config(preset="default_cpu")
    assert cpu.model.generator.family == "style_grid"
    assert (cpu.data.sample_rate_hz, cpu.data.bars) == (22050, 2)
    assert cpu.model.generator.grid_steps == 2 * 16  # 2 bars of 16th notes


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_builds_for_two_bars_at_22050(preset: str) -> None:
    cfg = load_config(preset=preset)
    n = loop_samples_for(bars=2, bpm=128.0, sample_rate=22050)
    torch.manual_seed(0)
    G = build_generator(cfg.model.generator, n, 1)
    D = build_discriminator(cfg.model.discriminator, n, 1)
    with torch.no_grad():
        audio = G(torch.randn(1, G.z_dim))
        assert audio.shape == (1, 1, n)
        assert D(audio).shape == (1, 1)


def test_preset_values_come_from_the_file() -> None:
    tiny = read_toml(preset_path("tiny"))
    cfg = load_config(preset="tiny")
    assert cfg.model.generator.channels == tiny["model"]["generator"]["channels"]
    assert cfg.train.batch_size == tiny["train"]["batch_size"]
    assert cfg.optim.g_betas == tuple(tiny["optim"]["g_betas"])


@pytest.mark.parametrize("text, key, value", [
    ("train.steps=12", "train.steps", 12),
    ("optim.g_lr=2e-4", "optim.g_lr", 2e-4),
    ("data.roll_bars=true", "data.roll_bars", True),
    ("optim.d_betas=[0.0, 0.99]", "optim.d_betas", [0.0, 0.99]),
    ('loss.kind="hinge"', "loss.kind", "hinge"),
    ("loss.kind=hinge", "loss.kind", "hinge"),  # a bare word is a string
    ("data.path = /tmp/some loops", "data.path", "/tmp/some loops"),
])
def test_overrides_parse_as_toml_literals(text: str, key: str, value) -> None:
    assert parse_override(text) == (key, value)


def test_overrides_apply_on_top_of_the_preset() -> None:
    cfg = load_config(preset="tiny", overrides=["loss.kind=hinge", "optim.d_betas=[0.0, 0.9]",
                                                "model.discriminator.spectral_norm=true", "train.steps=7"])
    assert cfg.loss.kind == "hinge"
    assert cfg.optim.d_betas == (0.0, 0.9)
    assert cfg.model.discriminator.spectral_norm is True
    assert cfg.train.steps == 7
    assert cfg.model.generator.channels == load_config(preset="tiny").model.generator.channels


def test_ints_are_accepted_for_floats() -> None:
    cfg = load_config(overrides=["loss.r1_gamma=10"])
    assert cfg.loss.r1_gamma == 10.0 and isinstance(cfg.loss.r1_gamma, float)


@pytest.mark.parametrize("override, message", [
    ("loss.kindd=hinge", "config key 'loss.kindd' is unknown"),
    ("model.generator.widthh=3", "config key 'model.generator.widthh' is unknown"),
    ("optimiser.g_lr=0.1", "config key 'optimiser.g_lr' is unknown"),
    ("loss.kind.sub=1", "config key 'loss.kind.sub' is unknown"),
    ("train.steps=many", "config key 'train.steps' must be an integer"),
    ("train.steps=2.5", "config key 'train.steps' must be an integer"),
    ("data.roll_bars=1", "config key 'data.roll_bars' must be true or false"),
    ("optim.g_betas=[0.5]", "config key 'optim.g_betas' must be a list of 2 values"),
    ("loss.kind=wasserstein", "config key 'loss.kind' must be one of"),
    ("optim.g_lr=0", "config key 'optim.g_lr' must be in (0, 1)"),
    ("train=3", "config key 'train' is a section"),
    ("model.generator.family=transformer", "model.generator.family"),
    ("steps", "not of the form key.sub=value"),
])
def test_bad_overrides_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(preset="tiny", overrides=[override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_label_smoothing_is_only_for_log_losses() -> None:
    load_config(overrides=["loss.kind=minimax", "loss.label_smoothing=0.1"])
    with pytest.raises(ConfigError, match="'loss.label_smoothing'.*hinge"):
        load_config(overrides=["loss.kind=hinge", "loss.label_smoothing=0.1"])


def test_unknown_key_in_a_file_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text("[loss]\nkind = 'hinge'\nr1_gama = 10\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(config_file=path)
    assert "'loss.r1_gama' is unknown" in str(err.value) and str(path) in str(err.value)


def test_broken_toml_and_missing_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[loss\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_config(config_file=path)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(config_file=tmp_path / "missing.toml")


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="preset 'huge' does not exist.*tiny"):
        load_config(preset="huge")


@pytest.mark.parametrize("preset", sorted(REQUIRED_PRESETS))
def test_resolved_config_round_trips_through_toml(tmp_path: Path, preset: str) -> None:
    cfg = load_config(preset=preset, overrides=["optim.g_lr=3e-5", "loss.r1_gamma=0.5"])
    cfg.data.path = '/data/loops "x"\\ \u00e9t\u00e9 \U0001f941\t\x7f'  # quotes, backslash, accents, emoji, controls
    path = tmp_path / "config.toml"
    path.write_text(to_toml(cfg, header="resolved"), encoding="utf-8")
    assert load_config(config_file=path) == cfg


# ---------------------------------------------------------------- command line


def test_cli_unknown_key_exits_2_naming_it(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    code = train_main(["--preset", "tiny", "--data", str(tiny_dataset), "--run", str(tmp_path / "run"),
                       "--set", "loss.kindd=hinge"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == "ganloops train: config key 'loss.kindd' is unknown"
    assert not (tmp_path / "run").exists()


def test_cli_wrong_type_exits_2(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    code = train_main(["--preset", "tiny", "--data", str(tiny_dataset), "--run", str(tmp_path / "run"),
                       "--set", "train.batch_size=big"])
    assert code == 2
    assert "config key 'train.batch_size' must be an integer" in capsys.readouterr().err


def test_cli_needs_a_preset_or_config(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    assert train_main(["--data", str(tiny_dataset), "--run", str(tmp_path / "run")]) == 2
    assert "--preset NAME or --config FILE" in capsys.readouterr().err


def test_cli_needs_a_dataset(tmp_path: Path, capsys) -> None:
    assert train_main(["--preset", "tiny", "--run", str(tmp_path / "run")]) == 2
    assert "--data DATASET_DIR" in capsys.readouterr().err


def test_cli_rejects_a_dataset_the_preset_does_not_fit(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    code = train_main(["--preset", "default_cpu", "--data", str(tiny_dataset), "--run", str(tmp_path / "run"),
                       "--device", "cpu", "--no-progress"])
    assert code == 1
    assert "'data.sample_rate_hz' expects 22050" in capsys.readouterr().err


def test_cli_missing_dataset_names_the_folder(tmp_path: Path, capsys) -> None:
    code = train_main(["--preset", "tiny", "--data", str(tmp_path / "nowhere"), "--run", str(tmp_path / "run"),
                       "--device", "cpu"])
    assert code == 1
    assert "nowhere" in capsys.readouterr().err


def test_cli_lists_presets(capsys) -> None:
    assert train_main(["--list-presets"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert listed == list_presets()
    assert all(len(line.split()) > 1 for line in out.splitlines()), "every preset has a description"
