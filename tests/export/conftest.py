"""Exported bundles shared by the export tests: one per generator family, made once.

Each family gets a run folder holding a real training checkpoint (``Trainer.state()``,
saved by ``RunFolder``) without any training: the EMA weights are nudged away from G so
a test can tell which of the two was exported, the average w is moved off zero so that
truncation matters, and noise strengths are switched on so that "const" noise matters.
Then ``ganloops export`` runs on it, from the run folder for one family and from the
checkpoint file for the other, so both kinds of source are exercised.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from instrument.cli import main as ganloops
from training.config import ModelConfig, TrainConfig
from training.data.store import LoopSpec
from training.loop import Trainer
from training.models import GeneratorConfig
from training.run_folder import RunFolder

# 1 bar of 4/4 at 120 BPM and 1050 Hz = 2100 samples: not a multiple of stride**layers, so
# the generators' loop resampler is part of the exported graph too.
SPEC = LoopSpec(sample_rate=1050, bpm=120.0, bars=1, beats_per_bar=4, channels=2)
STEP = 7

FAMILY_CONFIGS: dict[str, GeneratorConfig] = {
    "wavegan": GeneratorConfig(family="wavegan", z_dim=8, w_dim=8, channels=16, min_channels=8,
                               upsample_layers=2, stride=4, kernel_size=5, upsample="nearest"),
    "style_wavegan": GeneratorConfig(family="style_wavegan", z_dim=8, w_dim=6, channels=16, min_channels=8,
                                     upsample_layers=2, stride=4, kernel_size=5, mapping_layers=2),
    # 16 steps do not divide 2100 samples either: the grid is resampled onto the loop.
    "style_grid": GeneratorConfig(family="style_grid", z_dim=8, w_dim=6, channels=16, min_channels=8,
                                  upsample_layers=2, stride=4, kernel_size=5, mapping_layers=2, grid_steps=16,
                                  voices=3, voice_steps=2),
}
FAMILIES = list(FAMILY_CONFIGS)


@dataclass
class Exported:
    """One exported family: the bundle, the two generators it came from, and the CLI's output."""

    family: str
    bundle: Path
    run_dir: Path
    checkpoint: Path
    g_ema: nn.Module
    g: nn.Module
    stdout: str


def make_run(run_dir: Path, cfg: GeneratorConfig, step: int = STEP, seed: int = 0) -> Trainer:
    """A run folder with one checkpoint at `step` whose G_ema differs from G."""
    torch.manual_seed(seed)
    trainer = Trainer(TrainConfig(model=ModelConfig(generator=cfg)), SPEC, torch.device("cpu"))
    with torch.no_grad():
        for name, p in trainer.G_ema.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
            if "noise_strength" in name:
                p.fill_(0.3)
        trainer.G_ema.w_avg.copy_(0.2 * torch.randn_like(trainer.G_ema.w_avg))
    trainer.step = step
    run = RunFolder(run_dir)
    run.create()
    run.save_checkpoint(step, trainer.state(), keep=3)
    run.write_dataset_info({"format": "ganloops-loops", "count": 3, "source": {"kind": "test"}}, run_dir / "data")
    run.write_run_info({"git": {"describe": "test-describe", "commit": "0" * 40}, "torch_version": torch.__version__})
    return trainer


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    root = tmp_path_factory.mktemp("export")
    result = {}
    for family, cfg in FAMILY_CONFIGS.items():
        run_dir = root / f"run_{family}"
        trainer = make_run(run_dir, cfg)
        checkpoint = RunFolder(run_dir).checkpoint_path(STEP)
        source = run_dir if family == "wavegan" else checkpoint
        bundle = root / f"bundle_{family}"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = ganloops(["export", str(source), "-o", str(bundle), "--fp16", "--name", f"tiny-{family}"])
        assert code == 0, f"export of {family} failed"
        for g in (trainer.G_ema, trainer.G):
            g.eval().noise_mode = "const"
        result[family] = Exported(family, bundle, run_dir, checkpoint, trainer.G_ema, trainer.G, out.getvalue())
    return result
