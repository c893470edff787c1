"""Multi-process training: two CPU processes under torchrun (gloo) train the same model
and end with bit-identical weights, while only rank 0 writes the run folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.distributed import DistInfo, average_gradients, backend_for, dist_info_from_env
from training.run_folder import RunFolder

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_environment_is_read_like_torchrun_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    info = dist_info_from_env()
    assert info == DistInfo(rank=3, world_size=4, local_rank=1, local_world_size=2)
    assert info.enabled and not info.is_main


def test_plain_process_is_a_single_main_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    info = dist_info_from_env()
    assert info.is_main and not info.enabled and info.world_size == 1


def test_bad_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        dist_info_from_env()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK=2"):
        dist_info_from_env()


def test_backend_is_gloo_on_cpu_and_nccl_on_cuda() -> None:
    assert backend_for(torch.device("cpu")) == "gloo"
    assert backend_for(torch.device("cuda", 0)) == "nccl"


def test_single_process_leaves_gradients_alone() -> None:
    layer = torch.nn.Linear(3, 2)
    layer(torch.ones(1, 3)).sum().backward()
    before = [p.grad.clone() for p in layer.parameters()]
    average_gradients(layer.parameters(), DistInfo())
    assert all(torch.equal(a, p.grad) for a, p in zip(before, layer.parameters()))


@pytest.mark.timeout(240)
def test_two_processes_stay_identical(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    dumps = tmp_path / "weights"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    # R1 and style mixing are on, so the double-backward path and the per-process
    # randomness (latents, mixing cutoffs, phase shuffle) are both exercised.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), "-m", "instrument.cli", "train",
           "--preset", "tiny", "--data", str(tiny_dataset), "--run-dir", str(run), "--device", "cpu",
           "--no-progress", "--steps", "3", "--dump-rank-weights", str(dumps),
           "--set", "loss.r1_gamma=1.0", "--set", "loss.r1_interval=2", "--set", "train.style_mix_prob=0.5",
           "--set", "train.log_every=1", "--set", "train.checkpoint_every=2", "--set", "train.sample_every=3",
           "--set", "train.threads=1"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=220)
    assert proc.returncode == 0, proc.stderr[-3000:]

    ranks = [torch.load(dumps / f"rank{r}.pt", map_location="cpu", weights_only=False) for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 3
    for net in ("G", "D", "G_ema"):
        a, b = ranks[0][net], ranks[1][net]
        assert set(a) == set(b)
        differing = [k for k in a if not torch.equal(a[k], b[k])]
        assert not differing, f"{net} differs between ranks in {differing}"

    # Rank 0 alone wrote the folder: one metrics record per step, once.
    folder = RunFolder(run)
    assert [r["step"] for r in folder.read_metrics()] == [1, 2, 3]
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    assert [s for s, _ in folder.list_checkpoints()] == [2, 3]
    ckpt = torch.load(folder.list_checkpoints()[-1][1], map_location="cpu", weights_only=False)
    assert all(torch.equal(ckpt["G"][k], ranks[0]["G"][k]) for k in ckpt["G"])
    # kimg counts loops over both processes (the batch is the total batch).
    assert ckpt["kimg"] == pytest.approx(3 * 4 / 1000)
