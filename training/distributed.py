"""Multi-process training under `torchrun`, without DistributedDataParallel.

`torchrun --nproc_per_node N -m instrument.cli train ...` starts N processes and gives
each RANK, WORLD_SIZE and LOCAL_RANK in its environment. Every process holds a full copy
of G and D and trains on its own shard of the dataset. Two things keep the copies equal:

1. at start, rank 0's weights and buffers are broadcast to everyone (`broadcast_module`);
2. after every backward pass, the gradients are averaged over the processes with one
   all_reduce (`average_gradients`) before the optimiser steps;
3. running statistics kept in buffers (the generator's ``w_avg``) are averaged after
   each generator update (`average_running_buffers`).

Identical weights + identical averaged gradients + identical optimiser state give
identical updates, so the copies never drift. This is how stylegan2-ada does it, and
for the same reason: R1 and WGAN-GP differentiate a gradient (double backward), which
DDP's gradient hooks do not support well.

The backend is gloo on CPU and NCCL on CUDA. With WORLD_SIZE unset (a plain
`ganloops train`), every function here is a cheap no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands among the others."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes the run folder and prints progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None


def dist_info_from_env() -> DistInfo:
    """Read the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE)."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank)
    local_world = _env_int("LOCAL_WORLD_SIZE", world)
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, local_world_size=local_world)


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def init_distributed(info: DistInfo, device: torch.device) -> None:
    """Join the process group (torchrun's env:// rendezvous) when there is more than one process."""
    if not info.enabled or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend_for(device), rank=info.rank, world_size=info.world_size)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


@torch.no_grad()
def broadcast_module(module: nn.Module, info: DistInfo) -> None:
    """Make every process's parameters and buffers equal to rank 0's."""
    if not info.enabled:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(params: Iterable[nn.Parameter], info: DistInfo) -> None:
    """Replace each gradient by its mean over the processes (one flat all_reduce).

    A parameter without a gradient counts as zero, so every process contributes the same
    number of elements. NaN/inf in the averaged gradient are replaced (as stylegan2-ada
    does), so one bad batch on one process does not poison every copy's weights.
    """
    params = [p for p in params if p.requires_grad]
    if not info.enabled or not params:
        return
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.flatten() for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(info.world_size)
    torch.nan_to_num(flat, nan=0.0, posinf=1e5, neginf=-1e5, out=flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset: offset + n].view_as(p.grad))
        offset += n


@torch.no_grad()
def average_running_buffers(module: nn.Module, info: DistInfo, suffix: str = "_avg") -> None:
    """Average the buffers named ``*_avg`` (running statistics such as the generator's
    ``w_avg``) over the processes.

    Such a buffer follows the latents each process drew, so without this the copies would
    drift apart in it even though their weights agree. Averaging the per-process running
    means gives the running mean of the whole batch. Other buffers are either fixed at
    start (and broadcast) or computed from the weights, so they stay equal on their own.
    """
    if not info.enabled:
        return
    for name, buf in module.named_buffers():
        if name.endswith(suffix) and buf.is_floating_point():
            dist.all_reduce(buf, op=dist.ReduceOp.SUM)
            buf.div_(info.world_size)


def mean_over_processes(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Average a small tensor (logged metrics) over the processes; every process must call it."""
    if not info.enabled:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / info.world_size


__all__ = ["DistInfo", "dist_info_from_env", "backend_for", "init_distributed", "shutdown", "barrier",
           "broadcast_module", "average_gradients", "average_running_buffers", "mean_over_processes"]
