"""`ganloops train`: the adversarial training loop and its command line.

Several processes (one per GPU, or a few on a CPU)::

    torchrun --nproc_per_node 2 $(which ganloops) train --preset NAME --data DATA --run-dir RUN

One *step* is `optim.n_critic` discriminator updates followed by `optim.g_steps`
generator updates, after which the EMA copy of G (G_ema) moves towards G. `train.steps`
counts these steps; `kimg` counts thousands of real loops shown to D, over all processes.

What happens in a step, and why:

- D step: fakes come from G without a graph (D's update must not touch G). The loss is
  `loss.kind` (training.losses); WGAN-GP adds its gradient penalty; R1 is added on every
  `loss.r1_interval`-th D step, scaled by the interval; WGAN with clipping clamps D's
  weights after the update.
- G step: D's weights are frozen (requires_grad off) so the backward pass through D only
  reaches G; `train.style_mix_prob` makes the style families mix two latents' styles.
- Both learning rates rise linearly over `optim.warmup_steps` (a function of the step,
  so a resumed run picks up exactly where it was).
- With several processes (torchrun), gradients are averaged by hand after each backward
  (training.distributed explains why not DDP).

The run folder (training.run_folder) receives metrics every `train.log_every` steps,
samples and the progress plot every `train.sample_every`, checkpoints every
`train.checkpoint_every`, and all three at the end. `--resume` reloads the newest
complete checkpoint: weights, both optimisers, G_ema, the step counters and every RNG.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from training import distributed as dist_utils
from training.config import ConfigError, TrainConfig, list_presets, load_config, preset_description, to_toml
from training.data.store import DatasetError, LoopSpec, LoopStore
from training.distributed import DistInfo
from training.losses import clip_weights_, discriminator_loss, generator_loss, gradient_penalty, r1_is_due, r1_penalty
from training.models import build_discriminator, build_generator
from training.run_folder import RunFolder, RunFolderError

CHECKPOINT_FORMAT = "ganloops-checkpoint"
CHECKPOINT_VERSION = 1
PROG = "ganloops train"


class TrainError(RuntimeError):
    """A run that cannot start or continue (dataset mismatch, unusable checkpoint, ...)."""


# --------------------------------------------------------------------------- device


def resolve_device(name: str, info: DistInfo) -> torch.device:
    """`auto` prefers CUDA, then Apple's MPS, then the CPU. Under torchrun on CUDA each
    process takes the GPU of its LOCAL_RANK."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TrainError("--device cuda: no CUDA device is available")
        return torch.device("cuda", info.local_rank % torch.cuda.device_count())
    if name == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise TrainError("--device mps: Apple MPS is not available")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise TrainError(f"--device: expected cpu, cuda, mps or auto, got {name!r}")


def configure_threads(requested: int, info: DistInfo) -> int:
    """CPU threads for torch: `train.threads` if set; else OMP_NUM_THREADS if the launcher
    set it; else the machine's cores shared among the processes on this machine (two
    processes each using every core only fight over the caches)."""
    if requested > 0:
        threads = requested
    elif os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        threads = int(os.environ["OMP_NUM_THREADS"])
    else:
        threads = max(1, (os.cpu_count() or 1) // max(1, info.local_world_size))
    torch.set_num_threads(threads)
    return threads


# --------------------------------------------------------------------------- data


class LoopDataset(torch.utils.data.Dataset):
    """The memory-mapped loops as float32 tensors [channels, samples]."""

    def __init__(self, store: LoopStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> Tensor:
        return torch.from_numpy(np.array(self.store[index], dtype=np.float32))


def infinite_batches(store: LoopStore, per_process_batch: int, info: DistInfo, seed: int,
                     start_epoch: int) -> Iterator[Tensor]:
    """Shuffled batches forever. Each process reads its own shard of every epoch's
    permutation (DistributedSampler), so the processes together see each loop once per epoch."""
    dataset = LoopDataset(store)
    sampler = torch.utils.data.DistributedSampler(dataset, num_replicas=info.world_size, rank=info.rank,
                                                  shuffle=True, seed=seed, drop_last=True)
    loader = torch.utils.data.DataLoader(dataset, batch_size=per_process_batch, sampler=sampler,
                                         drop_last=True, num_workers=0)
    epoch = start_epoch
    while True:
        sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def augment(batch: Tensor, cfg: TrainConfig, spec: LoopSpec) -> Tensor:
    """Random whole-bar rotation and gain jitter of real loops (data.roll_bars, data.gain_jitter_db).

    Rotation is by whole bars only, so every loop the critic sees still starts on a downbeat
    and the generator keeps learning bar-aligned loops."""
    if cfg.data.roll_bars and spec.bars > 1:
        bars = torch.randint(0, spec.bars, (batch.shape[0],)).tolist()
        bar_samples = spec.beats_per_bar * spec.beat_samples
        batch = torch.stack([torch.roll(x, int(round(b * bar_samples)), dims=-1) for x, b in zip(batch, bars)])
    if cfg.data.gain_jitter_db > 0:
        db = (torch.rand(batch.shape[0], 1, 1, device=batch.device) * 2 - 1) * cfg.data.gain_jitter_db
        batch = batch * torch.pow(10.0, db / 20.0)
    return batch


# --------------------------------------------------------------------------- trainer


@dataclass
class StepStats:
    """Sums over a log interval, averaged over processes when written."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, value: Tensor | float) -> None:
        v = float(value.detach()) if isinstance(value, Tensor) else float(value)
        self.sums[name] = self.sums.get(name, 0.0) + v
        self.counts[name] = self.counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


METRIC_NAMES: tuple[str, ...] = ("loss_d", "loss_g", "loss_gp", "loss_r1", "d_real", "d_fake")


class Trainer:
    """G, D, G_ema, their optimisers and counters, and one method per kind of update.

    Usable without a run folder (tests, notebooks): `train_steps(n)` trains, `state()`
    and `load_state()` make and read checkpoints.
    """

    def __init__(self, cfg: TrainConfig, spec: LoopSpec, device: torch.device,
                 info: DistInfo = DistInfo()) -> None:
        self.cfg = cfg
        self.spec = spec
        self.device = device
        self.info = info
        per_process, rem = divmod(cfg.train.batch_size, info.world_size)
        if rem or per_process < 1:
            raise ConfigError(f"config key 'train.batch_size' ({cfg.train.batch_size}) must be a positive "
                              f"multiple of the number of processes ({info.world_size})")
        self.per_process_batch = per_process

        torch.manual_seed(cfg.train.seed)  # same initial weights everywhere (rank 0's are broadcast anyway)
        try:
            self.G = build_generator(cfg.model.generator, spec.loop_samples, spec.channels).to(device)
            self.D = build_discriminator(cfg.model.discriminator, spec.loop_samples, spec.channels).to(device)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        dist_utils.broadcast_module(self.G, info)
        dist_utils.broadcast_module(self.D, info)
        self.G.train()
        self.D.train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)

        o = cfg.optim
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=o.g_lr, betas=tuple(o.g_betas))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=o.d_lr, betas=tuple(o.d_betas))

        # Fixed latents for the samples, the same on every process and across resumes.
        self.sample_z = torch.randn(cfg.train.sample_count, self.G.z_dim,
                                    generator=torch.Generator().manual_seed(cfg.train.seed + 7919))
        self.step = 0          # completed training steps
        self.d_updates = 0     # completed D updates (drives the lazy R1 schedule)
        self.g_loops = 0       # loops G has been trained on, all processes (drives the EMA)
        self.train_seconds = 0.0  # time spent in training steps, over every session of the run
        self.reseed(cfg.train.seed * 1000 + info.rank)

    # -- randomness
    def reseed(self, seed: int) -> None:
        """Per-process randomness (latents, noise, augmentation, phase shuffle)."""
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)

    @property
    def kimg(self) -> float:
        return self.step * self.cfg.optim.n_critic * self.cfg.train.batch_size / 1000.0

    # -- schedules
    def lr_scale(self) -> float:
        """Linear warmup factor for the step about to run."""
        w = self.cfg.optim.warmup_steps
        return 1.0 if w <= 0 else min(1.0, (self.step + 1) / w)

    def _apply_lr(self) -> None:
        s = self.lr_scale()
        for group in self.opt_G.param_groups:
            group["lr"] = self.cfg.optim.g_lr * s
        for group in self.opt_D.param_groups:
            group["lr"] = self.cfg.optim.d_lr * s

    def ema_beta(self) -> float:
        """Per-G-update decay: 0.5 per `ema.half_life_kimg` thousand loops (ramped up early)."""
        e = self.cfg.ema
        if e.beta > 0:
            return e.beta
        half_life_loops = e.half_life_kimg * 1000.0
        if e.rampup > 0:
            half_life_loops = min(half_life_loops, self.g_loops * e.rampup)
        if half_life_loops <= 0:
            return 0.0
        return 0.5 ** (self.cfg.train.batch_size / half_life_loops)

    @torch.no_grad()
    def update_ema(self) -> None:
        beta = self.ema_beta()
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # -- updates
    def _z(self) -> Tensor:
        return torch.randn(self.per_process_batch, self.G.z_dim, device=self.device)

    def d_update(self, real: Tensor, stats: StepStats) -> None:
        lo = self.cfg.loss
        self.D.requires_grad_(True)
        with torch.no_grad():
            fake = self.G(self._z(), style_mix_prob=self.cfg.train.style_mix_prob)
        do_r1 = lo.r1_gamma > 0 and r1_is_due(self.d_updates, lo.r1_interval)
        real = real.detach().requires_grad_(do_r1)
        real_logits = self.D(real)
        fake_logits = self.D(fake)
        loss = discriminator_loss(lo.kind, real_logits, fake_logits, lo.label_smoothing)
        total = loss
        if lo.kind == "wgan_gp" and lo.gp_weight > 0:
            gp = gradient_penalty(self.D, real, fake)
            total = total + lo.gp_weight * gp
            stats.add("loss_gp", gp)
        if do_r1:
            r1 = r1_penalty(real_logits, real)
            total = total + r1 * (lo.r1_gamma / 2.0) * lo.r1_interval
            stats.add("loss_r1", r1)
        self.opt_D.zero_grad(set_to_none=True)
        total.backward()
        dist_utils.average_gradients(self.D.parameters(), self.info)
        self.opt_D.step()
        if lo.kind == "wgan_clip":
            clip_weights_(self.D, lo.clip_value)
        self.d_updates += 1
        stats.add("loss_d", loss)
        stats.add("d_real", real_logits.mean())
        stats.add("d_fake", fake_logits.mean())

    def g_update(self, stats: StepStats) -> None:
        self.D.requires_grad_(False)
        fake = self.G(self._z(), style_mix_prob=self.cfg.train.style_mix_prob)
        loss = generator_loss(self.cfg.loss.kind, self.D(fake))
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        dist_utils.average_gradients(self.G.parameters(), self.info)
        self.opt_G.step()
        dist_utils.average_running_buffers(self.G, self.info)
        self.D.requires_grad_(True)
        self.g_loops += self.cfg.train.batch_size
        self.update_ema()
        stats.add("loss_g", loss)

    def train_step(self, batches: Iterator[Tensor], stats: StepStats) -> None:
        """One step: n_critic D updates, then g_steps G updates, then the step counter."""
        self._apply_lr()
        for _ in range(self.cfg.optim.n_critic):
            real = augment(next(batches).to(self.device, non_blocking=True), self.cfg, self.spec)
            self.d_update(real, stats)
        for _ in range(self.cfg.optim.g_steps):
            self.g_update(stats)
        self.step += 1

    def batches(self, store: LoopStore) -> Iterator[Tensor]:
        shard = len(store) // self.info.world_size
        if shard < self.per_process_batch:
            raise ConfigError(f"config key 'train.batch_size' ({self.cfg.train.batch_size}) is larger than the "
                              f"dataset {store.path} allows ({len(store)} loops over {self.info.world_size} process(es))")
        steps_per_epoch = max(1, shard // self.per_process_batch)
        start_epoch = self.step * self.cfg.optim.n_critic // steps_per_epoch
        return infinite_batches(store, self.per_process_batch, self.info, self.cfg.train.seed, start_epoch)

    def train_steps(self, store: LoopStore, count: int) -> StepStats:
        """Train `count` steps without a run folder; returns the accumulated statistics."""
        stats = StepStats()
        batches = self.batches(store)
        for _ in range(count):
            self.train_step(batches, stats)
        return stats

    # -- samples
    @torch.no_grad()
    def render_samples(self) -> np.ndarray:
        """G_ema on the fixed latents, with its noise frozen so only the weights change
        what is heard between two sample files. [sample_count, channels, loop_samples]."""
        old_mode = self.G_ema.noise_mode
        self.G_ema.noise_mode = "const"
        try:
            audio = self.G_ema(self.sample_z.to(self.device))
        finally:
            self.G_ema.noise_mode = old_mode
        return audio.float().cpu().numpy()

    # -- checkpoints
    def state(self) -> dict[str, Any]:
        """Everything a resume (or the exporter) needs, as one picklable dict.

        Keys: ``format``/``version``; counters ``step``, ``kimg``, ``d_updates``, ``g_loops``,
        ``train_seconds``; state dicts ``G``, ``D``, ``G_ema``, ``opt_G``, ``opt_D``; the
        fixed sample latents ``sample_z``; ``rng`` (torch, numpy, python, cuda when used);
        ``config`` (the resolved TrainConfig as nested dicts, `config_from_dict` reads it);
        ``loop_spec`` (sample_rate, bpm, bars, beats_per_bar, channels, loop_samples);
        ``world_size``. An exporter builds G with
        ``build_generator(GeneratorConfig(**config["model"]["generator"]), loop_samples, channels)``
        and loads ``G_ema`` into it.
        """
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": _numpy_rng_to_plain(np.random.get_state()),
                               "python": random.getstate()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "step": self.step, "kimg": self.kimg, "d_updates": self.d_updates, "g_loops": self.g_loops,
            "train_seconds": self.train_seconds,
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "sample_z": self.sample_z, "rng": rng,
            "config": self.cfg.to_dict(),
            "loop_spec": {**asdict(self.spec), "loop_samples": self.spec.loop_samples},
            "world_size": self.info.world_size,
        }

    def load_state(self, state: dict[str, Any], source: str = "checkpoint") -> None:
        if state.get("format") != CHECKPOINT_FORMAT or state.get("version") != CHECKPOINT_VERSION:
            raise TrainError(f"{source}: not a ganloops training checkpoint (format {state.get('format')!r}, "
                             f"version {state.get('version')!r})")
        saved = state.get("loop_spec", {})
        if saved.get("loop_samples") != self.spec.loop_samples or saved.get("channels") != self.spec.channels:
            raise TrainError(f"{source}: trained on loops of {saved.get('loop_samples')} samples x "
                             f"{saved.get('channels')} channels, but the dataset has "
                             f"{self.spec.loop_samples} x {self.spec.channels}")
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            self.G_ema.load_state_dict(state["G_ema"])
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
        except (KeyError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
            raise TrainError(f"{source}: does not fit the configured model ({first})") from None
        self.step = int(state["step"])
        self.d_updates = int(state["d_updates"])
        self.g_loops = int(state["g_loops"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.sample_z = state["sample_z"].cpu()
        rng = state["rng"]
        if self.info.rank == 0:
            torch.set_rng_state(rng["torch"].cpu())
            np.random.set_state(_numpy_rng_from_plain(rng["numpy"]))
            random.setstate(rng["python"])
            if "cuda" in rng and self.device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"].cpu(), self.device)
        else:
            self.reseed(self.cfg.train.seed * 1000 + self.info.rank + 7 * self.step)


def _numpy_rng_to_plain(state: tuple) -> dict[str, Any]:
    """numpy's legacy RNG state with its key array as a tensor, so that a checkpoint holds
    only tensors and plain values and loads with torch.load(weights_only=True)."""
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _numpy_rng_from_plain(plain: dict[str, Any]) -> tuple:
    return (plain["name"], plain["keys"].cpu().numpy().astype(np.uint32), plain["pos"], plain["has_gauss"],
            plain["cached_gaussian"])


# --------------------------------------------------------------------------- run description


def _git_info() -> dict[str, Any]:
    """git describe/commit of the source tree the trainer runs from, when it is a checkout."""
    root = Path(__file__).resolve().parent.parent
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None
    return {"describe": git("describe", "--always", "--dirty", "--tags"), "commit": git("rev-parse", "HEAD")}


def _package_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("ganloops")
    except metadata.PackageNotFoundError:
        return None


def run_info(device: torch.device, info: DistInfo, argv: Sequence[str], threads: int) -> dict[str, Any]:
    desc: dict[str, Any] = {
        "ganloops_version": _package_version(),
        "git": _git_info(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "world_size": info.world_size,
        "torch_threads": threads,
        "command_line": ["ganloops", "train", *argv],
        "started_unix": time.time(),
    }
    if device.type == "cuda":
        desc["device_name"] = torch.cuda.get_device_name(device)
    return desc


# --------------------------------------------------------------------------- the run


@dataclass
class RunOptions:
    """How to run (not what to train): these never change the result."""

    device: str = "auto"
    progress: bool = True
    resume: bool = False
    dump_rank_weights: Path | None = None
    argv: Sequence[str] = ()


def _check_dataset(cfg: TrainConfig, store: LoopStore) -> None:
    spec = store.spec
    if cfg.data.sample_rate_hz and cfg.data.sample_rate_hz != spec.sample_rate:
        raise TrainError(f"{store.path}: loops are at {spec.sample_rate} Hz but config key "
                         f"'data.sample_rate_hz' expects {cfg.data.sample_rate_hz}")
    if cfg.data.bars and cfg.data.bars != spec.bars:
        raise TrainError(f"{store.path}: loops are {spec.bars} bar(s) long but config key 'data.bars' "
                         f"expects {cfg.data.bars}")


def _write_rank_weights(trainer: Trainer, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"step": trainer.step, "G": trainer.G.state_dict(), "D": trainer.D.state_dict(),
                "G_ema": trainer.G_ema.state_dict()}, folder / f"rank{trainer.info.rank}.pt")


def run_training(cfg: TrainConfig, run_dir: Path, options: RunOptions) -> Trainer:
    """Train `cfg` into `run_dir` until `cfg.train.steps`; returns the trainer at the end."""
    info = dist_utils.dist_info_from_env()
    device = resolve_device(options.device, info)
    threads = configure_threads(cfg.train.threads, info) if device.type == "cpu" else torch.get_num_threads()
    try:
        store = LoopStore.open(cfg.data.path)
    except DatasetError as e:
        raise TrainError(str(e)) from None
    _check_dataset(cfg, store)
    run = RunFolder(run_dir)
    if not options.resume and run.has_state():
        raise TrainError(f"{run.path}: already holds a run; pass --resume to continue it, or choose another --run folder")

    dist_utils.init_distributed(info, device)
    try:
        trainer = Trainer(cfg, store.spec, device, info)
        resumed_from = None
        loaded = run.load_latest_checkpoint(map_location=device) if options.resume else None
        if loaded is not None:
            path, state = loaded
            trainer.load_state(state, source=str(path))
            resumed_from = path
        if info.is_main:
            _prepare_run_folder(run, cfg, store, device, info, options, threads, resumed_from, trainer.step)
        dist_utils.barrier(info)
        _train_until(trainer, store, run, cfg.train.steps, options)
        if options.dump_rank_weights is not None:
            _write_rank_weights(trainer, options.dump_rank_weights)
        dist_utils.barrier(info)
        return trainer
    finally:
        dist_utils.shutdown()


def _prepare_run_folder(run: RunFolder, cfg: TrainConfig, store: LoopStore, device: torch.device, info: DistInfo,
                        options: RunOptions, threads: int, resumed_from: Path | None, step: int) -> None:
    run.create()
    run.write_config(to_toml(cfg, header=f"Resolved training config of this run; train it again with\n"
                                          f"ganloops train --config {run.config_path} --data DATASET --run NEW_RUN"))
    desc = run_info(device, info, options.argv, threads)
    run_json = run.path / "run.json"
    if resumed_from is not None and run_json.is_file():
        try:
            previous = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = {}
        resumes = list(previous.get("resumes", []))
        resumes.append({**desc, "from_checkpoint": str(resumed_from), "from_step": step})
        desc = {**previous, "resumes": resumes} if previous else {**desc, "resumes": resumes}
    run.write_run_info(desc)
    run.write_dataset_info(store.manifest, store.path)
    run.truncate_metrics(after_step=step)


def _log_record(trainer: Trainer, stats: StepStats, window_seconds: float, window_steps: int) -> dict[str, Any]:
    """One metrics.jsonl line. `window_seconds` is the time spent in the window's training
    steps only (not in writing samples or checkpoints), so loops/s measures training."""
    means = stats.means()
    values = torch.tensor([means.get(k, float("nan")) for k in METRIC_NAMES], dtype=torch.float64)
    values = dist_utils.mean_over_processes(values.to(trainer.device), trainer.info).cpu()
    loops = window_steps * trainer.cfg.optim.n_critic * trainer.cfg.train.batch_size
    record: dict[str, Any] = {"step": trainer.step, "kimg": round(trainer.kimg, 4)}
    record.update({k: float(v) for k, v in zip(METRIC_NAMES, values.tolist()) if k in means})
    record.update({
        "lr_g": trainer.opt_G.param_groups[0]["lr"], "lr_d": trainer.opt_D.param_groups[0]["lr"],
        "ema_beta": trainer.ema_beta(),
        "loops_per_second": loops / window_seconds if window_seconds > 0 else None,
        "seconds_per_step": window_seconds / window_steps if window_steps else None,
        "seconds": round(trainer.train_seconds, 3), "time_unix": time.time(),
    })
    return record


def _train_until(trainer: Trainer, store: LoopStore, run: RunFolder, total_steps: int, options: RunOptions) -> None:
    from tqdm import tqdm

    cfg, info = trainer.cfg, trainer.info
    t = cfg.train
    batches = trainer.batches(store)
    stats = StepStats()
    bar = tqdm(total=total_steps, initial=trainer.step, unit="step", dynamic_ncols=True,
               disable=not (options.progress and info.is_main), desc="train")
    window_seconds, window_steps = 0.0, 0
    last_saved = trainer.step
    try:
        while trainer.step < total_steps:
            step_start = time.perf_counter()
            trainer.train_step(batches, stats)
            step_seconds = time.perf_counter() - step_start
            window_seconds += step_seconds
            trainer.train_seconds += step_seconds
            window_steps += 1
            done = trainer.step >= total_steps
            bar.update(1)
            if trainer.step % t.log_every == 0 or done:
                record = _log_record(trainer, stats, window_seconds, window_steps)
                if info.is_main:
                    run.append_metrics(record)
                    bar.set_postfix(d=f"{record.get('loss_d', float('nan')):.3f}",
                                    g=f"{record.get('loss_g', float('nan')):.3f}",
                                    loops_s=f"{record['loops_per_second'] or 0:.1f}")
                stats = StepStats()
                window_seconds, window_steps = 0.0, 0
            if info.is_main and (trainer.step % t.sample_every == 0 or done):
                loops = trainer.render_samples()
                run.write_samples(trainer.step, loops, trainer.spec.sample_rate)
                run.write_progress_plot(run.read_metrics(), loops, trainer.spec.sample_rate,
                                        title=f"{run.path.name}: step {trainer.step}, {trainer.kimg:.1f} kimg")
            if info.is_main and (trainer.step % t.checkpoint_every == 0 or done):
                run.save_checkpoint(trainer.step, trainer.state(), keep=t.keep_checkpoints)
                last_saved = trainer.step
    except KeyboardInterrupt:
        # Ctrl-C in a single process: keep the work done so far, then let the CLI report it.
        if info.is_main and not info.enabled and trainer.step > last_saved:
            run.save_checkpoint(trainer.step, trainer.state(), keep=t.keep_checkpoints)
            bar.write(f"{PROG}: interrupted; checkpoint at step {trainer.step} written, continue with --resume")
        raise
    finally:
        bar.close()


# --------------------------------------------------------------------------- command line


def train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Train a loop generator. A run is a folder (see training/run_folder.py); "
                               "under torchrun every process trains its shard and rank 0 writes the folder.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", metavar="NAME", help="a bundled preset (see --list-presets)")
    src.add_argument("--config", type=Path, metavar="FILE", help="a TOML config file (e.g. another run's config.toml)")
    p.add_argument("--data", type=Path, metavar="DATASET_DIR", help="dataset folder (from `ganloops dataset`); sets data.path")
    p.add_argument("--run", "--run-dir", dest="run", type=Path, metavar="RUN_DIR",
                   help="run folder to write (created if missing); under torchrun write --run-dir, "
                        "because torchrun's own --run-path option makes a bare --run ambiguous to it")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, value as a TOML literal (repeatable), e.g. --set loss.kind=hinge")
    p.add_argument("--resume", action="store_true",
                   help="continue from the run folder's newest checkpoint (config from RUN/config.toml "
                        "unless --preset/--config is given); starts fresh when there is none")
    p.add_argument("--steps", type=int, metavar="N", help="train until this step count (sets train.steps)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to train (auto: cuda, then mps, then cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dump-rank-weights", type=Path, default=None, metavar="DIR",
                   help="at the end, every process saves its weights to DIR/rank{R}.pt "
                        "(to check that distributed copies stayed identical)")
    p.add_argument("--list-presets", action="store_true", help="list the bundled presets and exit")
    return p


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def train_main(argv: Sequence[str]) -> int:
    """Entry point of `ganloops train`. Exit 0 when done, 2 for a bad config or command
    line, 1 when training could not start or continue, 130 on Ctrl-C."""
    argv = list(argv)
    ns = train_parser().parse_args(argv)
    if ns.list_presets:
        names = list_presets()
        width = max((len(n) for n in names), default=0)
        for name in names:
            print(f"{name.ljust(width)}  {preset_description(name)}")
        return 0
    if ns.run is None:
        return _fail("--run RUN_DIR is required (the folder this run writes)", 2)

    overrides = list(ns.overrides)
    if ns.steps is not None:
        overrides.append(f"train.steps={ns.steps}")
    config_file = ns.config
    if ns.preset is None and config_file is None:
        saved = RunFolder(ns.run).config_path
        if ns.resume and saved.is_file():
            config_file = saved
        else:
            return _fail("choose what to train: --preset NAME or --config FILE"
                         + (" (or --resume a run folder that has a config.toml)" if not ns.resume else ""), 2)
    try:
        cfg = load_config(preset=ns.preset, config_file=config_file, overrides=overrides)
    except ConfigError as e:
        return _fail(str(e), 2)
    if ns.data is not None:
        cfg.data.path = str(ns.data)
    if not cfg.data.path:
        return _fail("no dataset: pass --data DATASET_DIR (or set data.path)", 2)

    options = RunOptions(device=ns.device, progress=not ns.no_progress, resume=ns.resume,
                         dump_rank_weights=ns.dump_rank_weights, argv=argv)
    try:
        trainer = run_training(cfg, ns.run, options)
    except ConfigError as e:
        return _fail(str(e), 2)
    except (TrainError, RunFolderError) as e:
        return _fail(str(e), 1)
    except OSError as e:  # an unwritable run folder, a full disk
        return _fail(str(e), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    if trainer.info.is_main:
        print(f"trained to step {trainer.step} ({trainer.kimg:.1f} kimg); run folder {ns.run}")
    return 0


__all__ = ["Trainer", "RunOptions", "TrainError", "run_training", "train_main", "train_parser",
           "resolve_device", "configure_threads", "infinite_batches", "augment"]
