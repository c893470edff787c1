"""Read what the exporter needs from a training run: the EMA generator and its provenance.

Accepts either a run folder (its newest complete checkpoint is used, see
``training.run_folder``) or one checkpoint file (``RUN/checkpoints/ckpt_0000500.pt``).
A checkpoint holds the resolved training config and the loop spec, so a checkpoint file
alone is enough to rebuild the generator; ``dataset.json`` and ``run.json`` from the
surrounding run folder, when present, go into the bundle's provenance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from export.bundle_writer import LoopTiming
from export.onnx_export import ExportError
from training.config import ConfigError, config_from_dict
from training.loop import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from training.models import build_generator
from training.run_folder import CHECKPOINT_DIR, DATASET_INFO_NAME, RUN_INFO_NAME, RunFolder


@dataclass
class TrainedGenerator:
    """The EMA generator of one checkpoint, with everything a bundle records about it."""

    generator: nn.Module
    family: str
    timing: LoopTiming
    step: int
    checkpoint: Path
    provenance: dict[str, Any]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _load_state(source: Path) -> tuple[Path, dict[str, Any], Path | None]:
    """(checkpoint path, its state dict, run folder or None) for a run folder or a checkpoint file."""
    if source.is_dir():
        run = RunFolder(source)
        try:
            found = run.load_latest_checkpoint(map_location="cpu")
        except RuntimeError as e:
            raise ExportError(str(e)) from None
        if found is None:
            raise ExportError(f"{source}: no checkpoint in {run.checkpoints_dir} (is this a run folder?)")
        path, state = found
        return path, state, source
    if not source.is_file():
        raise ExportError(f"{source}: no such run folder or checkpoint file")
    try:
        # Checkpoints hold tensors and plain values only: the safe loader reads them, and a
        # file from elsewhere cannot run code while it is being read.
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"{source}: cannot be read as a checkpoint ({first})") from None
    run_dir = source.parent.parent if source.parent.name == CHECKPOINT_DIR else None
    return source, state, run_dir


def load_trained_generator(source: str | Path) -> TrainedGenerator:
    """The EMA generator of the newest checkpoint of run folder `source`, or of checkpoint file `source`."""
    path, state, run_dir = _load_state(Path(source))
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ExportError(f"{path}: not a ganloops training checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ExportError(f"{path}: checkpoint version {state.get('version')!r} is not supported "
                          f"(this exporter reads version {CHECKPOINT_VERSION})")
    for key in ("G_ema", "config", "loop_spec", "step"):
        if key not in state:
            raise ExportError(f"{path}: checkpoint has no '{key}'")
    try:
        cfg = config_from_dict(state["config"])
    except ConfigError as e:
        raise ExportError(f"{path}: its training config does not load ({e})") from None
    spec = state["loop_spec"]
    try:
        timing = LoopTiming(sample_rate_hz=int(spec["sample_rate"]), bpm=float(spec["bpm"]),
                            beats_per_bar=int(spec["beats_per_bar"]), bars=int(spec["bars"]))
        generator = build_generator(cfg.model.generator, int(spec["loop_samples"]), int(spec["channels"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ExportError(f"{path}: its loop spec is unusable ({e})") from None
    try:
        generator.load_state_dict(state["G_ema"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ExportError(f"{path}: G_ema does not fit the configured generator ({first})") from None

    provenance: dict[str, Any] = {
        "checkpoint": str(path.resolve()),
        "training_step": int(state["step"]),
        "kimg": state.get("kimg"),
        "training_config": state["config"],
        "loop_spec": dict(spec),
    }
    if run_dir is not None:
        provenance["run_folder"] = str(run_dir.resolve())
        dataset = _read_json(run_dir / DATASET_INFO_NAME)
        run_info = _read_json(run_dir / RUN_INFO_NAME)
        if dataset is not None:
            provenance["dataset"] = dataset
        if run_info is not None:
            provenance["code_version"] = run_info.get("git")
            provenance["training_run"] = {k: run_info.get(k) for k in
                                          ("ganloops_version", "torch_version", "device", "world_size",
                                           "command_line", "started_unix")}
    return TrainedGenerator(generator=generator, family=cfg.model.generator.family, timing=timing,
                            step=int(state["step"]), checkpoint=path, provenance=provenance)
