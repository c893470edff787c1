"""The run folder: everything a training run leaves behind, laid out so it explains itself.

::

    RUN/
      config.toml          the resolved config (load it again with --config RUN/config.toml)
      run.json             code version, torch version, device, world size, command line
      dataset.json         the dataset's manifest (without the per-loop list) and its path
      metrics.jsonl        one JSON object per log interval: step, kimg, losses, lr, loops/s, time
      progress.png         loss curves and spectrograms of the latest samples
      samples/step_0000500.wav   the EMA generator on a few fixed latents, each loop played twice
      checkpoints/ckpt_0000500.pt  everything needed to resume (or export) at that step
      checkpoints/latest   the file name of the newest checkpoint

Every file is written atomically (a temporary sibling, then os.replace), so a run killed
at any moment leaves either the previous version of a file or the new one, never half of
one; `--resume` then continues from the newest complete checkpoint. `metrics.jsonl` is
appended to line by line; on resume, lines past the checkpoint (and a torn last line)
are dropped so the curves never double back.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
LATEST_POINTER = "latest"
CONFIG_NAME = "config.toml"
RUN_INFO_NAME = "run.json"
DATASET_INFO_NAME = "dataset.json"
METRICS_NAME = "metrics.jsonl"
PROGRESS_NAME = "progress.png"
_CKPT_RE = re.compile(r"^ckpt_(\d+)\.pt$")


class RunFolderError(RuntimeError):
    """A run folder that cannot be used (no loadable checkpoint); the message names it."""


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = _tmp_sibling(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_with(path: Path, writer: Callable[[Path], None]) -> None:
    """Let `writer` fill a temporary sibling of `path`, fsync it, then move it into place."""
    tmp = _tmp_sibling(path)
    try:
        writer(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _finite_or_none(record: Mapping[str, Any]) -> dict[str, Any]:
    """JSON has no NaN/inf; a diverged loss is written as null rather than breaking the file."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


class RunFolder:
    """Paths and atomic writers for one run. Only the main process (rank 0) writes."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # -- layout
    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def samples_dir(self) -> Path:
        return self.path / SAMPLES_DIR

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_NAME

    @property
    def progress_path(self) -> Path:
        return self.path / PROGRESS_NAME

    def create(self) -> None:
        self.checkpoints_dir.mkdir(parents=True, exist_ok=True)
        self.samples_dir.mkdir(parents=True, exist_ok=True)

    # -- descriptions
    def write_config(self, toml_text: str) -> None:
        atomic_write_text(self.config_path, toml_text)

    def write_run_info(self, info: Mapping[str, Any]) -> None:
        atomic_write_text(self.path / RUN_INFO_NAME, json.dumps(info, indent=1, default=_json_default) + "\n")

    def write_dataset_info(self, manifest: Mapping[str, Any], dataset_path: str | os.PathLike) -> None:
        info = {k: v for k, v in manifest.items() if k != "items"}
        info["path"] = str(Path(dataset_path).resolve())
        atomic_write_text(self.path / DATASET_INFO_NAME, json.dumps(info, indent=1, default=_json_default) + "\n")

    # -- metrics
    def append_metrics(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(_finite_or_none(record), default=_json_default)
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every complete record; a torn last line (the process died mid-write) is skipped."""
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                records.append(rec)
        return records

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records past `after_step` (written after the checkpoint a resume starts from)."""
        if not self.metrics_path.is_file():
            return
        kept = [r for r in self.read_metrics() if isinstance(r.get("step"), int) and r["step"] <= after_step]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    # -- samples
    def sample_path(self, step: int) -> Path:
        return self.samples_dir / f"step_{step:07d}.wav"

    def write_samples(self, step: int, loops: np.ndarray, sample_rate_hz: int, repeats: int = 2) -> Path:
        """Write loops [K, C, N] as one WAV: each loop `repeats` times, one after another, so
        the seam where a loop wraps around can be heard. 16-bit, clipped to [-1, 1]."""
        import soundfile as sf

        loops = np.asarray(loops, dtype=np.float32)
        if loops.ndim != 3:
            raise ValueError(f"samples must be [count, channels, samples], got shape {loops.shape}")
        audio = np.concatenate([np.tile(loop, (1, repeats)) for loop in loops], axis=1)  # [C, K*reps*N]
        audio = np.clip(np.nan_to_num(audio), -1.0, 1.0).T
        path = self.sample_path(step)
        atomic_write_with(path, lambda tmp: sf.write(tmp, audio, sample_rate_hz, format="WAV", subtype="PCM_16"))
        return path

    # -- progress plot
    def write_progress_plot(self, records: list[dict[str, Any]], loops: np.ndarray | None,
                            sample_rate_hz: int, title: str = "") -> Path:
        """Loss curves over steps and a spectrogram of each of the latest samples (mono mix)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        n_spec = 0 if loops is None else len(loops)
        fig = Figure(figsize=(10, 3.2 + 2.0 * math.ceil(n_spec / 2)), dpi=90)
        FigureCanvasAgg(fig)
        rows = 1 + math.ceil(n_spec / 2)
        ax = fig.add_subplot(rows, 1, 1)
        steps = [r.get("step") for r in records]
        for key in sorted({k for r in records for k in r if k.startswith("loss_")}):
            ys = [r.get(key) for r in records]
            pts = [(s, y) for s, y in zip(steps, ys) if isinstance(s, (int, float)) and isinstance(y, (int, float))]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key.removeprefix("loss_"), linewidth=1)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title or "losses")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)
        if loops is not None:
            nfft = 512
            for i, loop in enumerate(np.asarray(loops, dtype=np.float32)):
                sax = fig.add_subplot(rows, 2, 3 + i)
                mono = loop.mean(axis=0)
                if mono.shape[0] >= nfft:
                    sax.specgram(mono + 1e-9, NFFT=nfft, Fs=sample_rate_hz, noverlap=nfft * 3 // 4,
                                 cmap="magma", scale="dB")
                sax.set_title(f"sample {i + 1}", fontsize="small")
                sax.set_xlabel("seconds", fontsize="small")
                sax.set_ylabel("Hz", fontsize="small")
                sax.tick_params(labelsize="x-small")
        fig.tight_layout()
        atomic_write_with(self.progress_path, lambda tmp: fig.savefig(tmp, format="png"))
        return self.progress_path

    # -- checkpoints
    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_dir / f"ckpt_{step:07d}.pt"

    def list_checkpoints(self) -> list[tuple[int, Path]]:
        """Complete checkpoints as (step, path), oldest first. Temporary files are ignored."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = []
        for p in self.checkpoints_dir.iterdir():
            m = _CKPT_RE.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1)), p))
        return sorted(found)

    def save_checkpoint(self, step: int, state: Mapping[str, Any], keep: int) -> Path:
        """torch.save `state` atomically, point `latest` at it, keep the newest `keep`."""
        import torch

        path = self.checkpoint_path(step)
        atomic_write_with(path, lambda tmp: torch.save(dict(state), tmp))
        atomic_write_text(self.checkpoints_dir / LATEST_POINTER, path.name + "\n")
        for _, old in self.list_checkpoints()[:-keep]:
            old.unlink(missing_ok=True)
        return path

    def load_latest_checkpoint(self, map_location: Any = "cpu") -> tuple[Path, dict[str, Any]] | None:
        """The newest checkpoint that loads, by step number (the `latest` pointer is for people;
        the step in the file name is what counts). None when the run has no checkpoint."""
        import torch

        errors = []
        for _, path in reversed(self.list_checkpoints()):
            try:
                # Checkpoints hold tensors and plain values only, so the safe loader suffices.
                state = torch.load(path, map_location=map_location, weights_only=True)
            except Exception as e:  # a damaged file: fall back to the one before it
                errors.append(f"{path.name}: {e}")
                continue
            return path, state
        if errors:
            raise RunFolderError(f"{self.checkpoints_dir}: no checkpoint could be loaded ({'; '.join(errors)})")
        return None

    def has_state(self) -> bool:
        """Whether this folder already holds a run (a checkpoint or metrics)."""
        return bool(self.list_checkpoints()) or self.metrics_path.is_file()


def sample_files(run: RunFolder) -> Iterable[Path]:
    return sorted(run.samples_dir.glob("step_*.wav"))


__all__ = ["RunFolder", "RunFolderError", "atomic_write_text", "atomic_write_bytes", "atomic_write_with", "sample_files",
           "CHECKPOINT_DIR", "SAMPLES_DIR", "CONFIG_NAME", "METRICS_NAME", "PROGRESS_NAME"]
