"""Tiny exported bundles for the instrument tests: made once per session, read-only.

Two families, exported through ``ganloops export`` exactly as a user would, from an
untrained checkpoint (no training step: the weights are random, nudged so that the
average w, the noise inputs and the EMA weights all matter):

- ``style_bundle``: ``style_wavegan``, stereo, with a mapping network, several style
  inputs (so coarse/middle/fine style mixing does something), noise strengths switched on,
  and latent directions (knobs).
- ``wavegan_bundle``: ``wavegan``, mono (the engine duplicates it to the output channels),
  one style input, also with directions.

Both are 1 bar of 4/4 at 120 BPM at 4000 Hz: 8000 samples, 2 seconds, long enough to have
beats and small enough that a render takes milliseconds on one CPU core. Tests that play
them at the model rate set ``EngineConfig(sample_rate_hz=TINY_SAMPLE_RATE_HZ)`` so no
resampling is involved; others play them at 48 kHz to exercise the resampler.

This module needs torch (it trains nothing, but builds the generators to export them);
the instrument code under test does not.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

TINY_SAMPLE_RATE_HZ = 4000
TINY_BPM = 120.0
TINY_LOOP_SAMPLES = 8000  # 1 bar of 4 beats at 120 BPM and 4000 Hz


def _export_tiny(root: Path, family: str, channels: int) -> Path:
    """Export one untrained generator of `family` as a bundle with directions; return its folder."""
    import torch

    from instrument.cli import main as ganloops
    from training.config import ModelConfig, TrainConfig
    from training.data.store import LoopSpec
    from training.loop import Trainer
    from training.models import GeneratorConfig
    from training.run_folder import RunFolder

    spec = LoopSpec(sample_rate=TINY_SAMPLE_RATE_HZ, bpm=TINY_BPM, bars=1, beats_per_bar=4, channels=channels)
    extra = {"mapping_layers": 2} if family == "style_wavegan" else {}
    cfg = GeneratorConfig(family=family, z_dim=8, w_dim=8, channels=16, min_channels=8, upsample_layers=2,
                          stride=4, kernel_size=5, **({"upsample": "nearest"} if family == "wavegan" else extra))
    torch.manual_seed(1)
    trainer = Trainer(TrainConfig(model=ModelConfig(generator=cfg)), spec, torch.device("cpu"))
    with torch.no_grad():
        for name, p in trainer.G_ema.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
            if "noise_strength" in name:
                p.fill_(0.3)
        trainer.G_ema.w_avg.copy_(0.2 * torch.randn_like(trainer.G_ema.w_avg))
    run_dir = root / f"run_{family}"
    run = RunFolder(run_dir)
    run.create()
    run.save_checkpoint(1, trainer.state(), keep=1)
    run.write_dataset_info({"format": "ganloops-loops", "count": 1, "source": {"kind": "test"}}, run_dir / "data")
    run.write_run_info({"git": {"describe": "test", "commit": "0" * 40}, "torch_version": torch.__version__})
    bundle = root / f"tiny-{family}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = ganloops(["export", str(run_dir), "-o", str(bundle), "--name", f"tiny-{family}",
                         "--directions-per-method", "2", "--direction-seeds", "4"])
    assert code == 0, f"export of the tiny {family} bundle failed:\n{out.getvalue()}"
    return bundle


@pytest.fixture(scope="session")
def tiny_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{"style_wavegan": stereo bundle with style mixing + noise, "wavegan": mono bundle}; both with directions."""
    root = tmp_path_factory.mktemp("instrument_bundles")
    return {"style_wavegan": _export_tiny(root, "style_wavegan", channels=2),
            "wavegan": _export_tiny(root, "wavegan", channels=1)}


@pytest.fixture(scope="session")
def style_bundle(tiny_bundles: dict[str, Path]) -> Path:
    """A stereo style_wavegan bundle (several style inputs, noise, >= 1 latent direction)."""
    return tiny_bundles["style_wavegan"]


@pytest.fixture(scope="session")
def wavegan_bundle(tiny_bundles: dict[str, Path]) -> Path:
    """A mono wavegan bundle (num_ws = 1, >= 1 latent direction)."""
    return tiny_bundles["wavegan"]
