"""Training: every generator family with every loss trains, the tricks in the config do
what they say, a run folder explains itself, and a killed run resumes where it stopped."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from training.config import TrainConfig, load_config
from training.data.store import LoopStore
from training.loop import RunOptions, StepStats, Trainer, run_training, train_main
from training.losses import LOSS_KINDS
from training.models import FAMILIES
from training.run_folder import RunFolder, RunFolderError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread():
    """Two cores are shared by the whole suite; tiny models gain nothing from more threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(dataset: Path, *overrides: str) -> TrainConfig:
    return load_config(preset="tiny", overrides=[f"data.path={json.dumps(str(dataset))}", "train.threads=1",
                                                 *overrides])


def make_trainer(cfg: TrainConfig) -> tuple[Trainer, LoopStore]:
    store = LoopStore.open(cfg.data.path)
    return Trainer(cfg, store.spec, torch.device("cpu")), store


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def unchanged_weights(module: torch.nn.Module, before: dict[str, torch.Tensor]) -> list[str]:
    """Names of weight tensors (2-D or more) that did NOT change. Biases are left out: with
    hinge or Wasserstein losses the last bias's gradients from real and fake cancel exactly."""
    return [name for name, p in module.named_parameters() if p.dim() >= 2 and torch.equal(before[name], p.detach())]


def assert_trains(cfg: TrainConfig, steps: int = 2) -> tuple[Trainer, StepStats]:
    trainer, store = make_trainer(cfg)
    g_before, d_before = snapshot(trainer.G), snapshot(trainer.D)
    stats = trainer.train_steps(store, steps)
    means = stats.means()
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(means)
    assert all(math.isfinite(v) for v in means.values()), means
    assert not unchanged_weights(trainer.G, g_before), "generator weights that did not train"
    assert not unchanged_weights(trainer.D, d_before), "discriminator weights that did not train"
    assert trainer.step == steps
    return trainer, stats


# ---------------------------------------------------------------- the family x loss matrix


@pytest.mark.parametrize("kind", LOSS_KINDS)
@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_trains_with_every_loss(tiny_dataset: Path, family: str, kind: str) -> None:
    cfg = tiny_config(tiny_dataset, f"model.generator.family={family}", f"loss.kind={kind}")
    trainer, stats = assert_trains(cfg)
    if kind == "wgan_clip":
        bound = cfg.loss.clip_value
        assert all(p.abs().max().item() <= bound for p in trainer.D.parameters())
    if kind == "wgan_gp":
        assert stats.counts.get("loss_gp") == 2
    else:
        assert "loss_gp" not in stats.counts


@pytest.mark.parametrize("kind", ["non_saturating", "hinge", "wgan_gp", "least_squares"])
def test_lazy_r1_combines_with_any_loss(tiny_dataset: Path, kind: str) -> None:
    cfg = tiny_config(tiny_dataset, f"loss.kind={kind}", "loss.r1_gamma=1.0", "loss.r1_interval=2")
    trainer, stats = assert_trains(cfg, steps=3)
    assert trainer.d_updates == 3
    assert stats.counts["loss_r1"] == 2  # D updates 0 and 2
    assert stats.means()["loss_r1"] > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_spectral_norm_discriminator_trains(tiny_dataset: Path, family: str) -> None:
    cfg = tiny_config(tiny_dataset, f"model.generator.family={family}", "loss.kind=hinge",
                      "model.discriminator.spectral_norm=true")
    trainer, _ = assert_trains(cfg)
    assert any(torch.nn.utils.parametrize.is_parametrized(m) for m in trainer.D.modules())


@pytest.mark.parametrize("overrides", [
    ("loss.kind=minimax", "loss.label_smoothing=0.1"),
    ("loss.kind=non_saturating", "loss.label_smoothing=0.2"),
    ("data.roll_bars=true", "data.gain_jitter_db=6.0"),
    ("model.generator.upsample=nearest", "model.generator.style_mode=adain"),
], ids=["minimax-smoothing", "ns-smoothing", "augmentation", "adain-nearest"])
def test_other_variants_train(tiny_dataset: Path, overrides: tuple[str, ...]) -> None:
    assert_trains(tiny_config(tiny_dataset, *overrides))


# ---------------------------------------------------------------- the tricks do what they say


def test_critic_and_generator_step_ratio(tiny_dataset: Path) -> None:
    cfg = tiny_config(tiny_dataset, "optim.n_critic=3", "optim.g_steps=2")
    trainer, store = make_trainer(cfg)
    stats = trainer.train_steps(store, 2)
    assert trainer.d_updates == 6 and stats.counts["loss_d"] == 6
    assert stats.counts["loss_g"] == 4
    assert trainer.g_loops == 4 * cfg.train.batch_size
    assert trainer.kimg == pytest.approx(2 * 3 * cfg.train.batch_size / 1000)


def test_warmup_is_linear_and_rates_are_separate(tiny_dataset: Path) -> None:
    cfg = tiny_config(tiny_dataset, "optim.warmup_steps=4", "optim.g_lr=0.001", "optim.d_lr=0.004")
    trainer, store = make_trainer(cfg)
    seen = []
    batches = trainer.batches(store)
    for _ in range(6):
        trainer.train_step(batches, StepStats())
        seen.append((trainer.opt_G.param_groups[0]["lr"], trainer.opt_D.param_groups[0]["lr"]))
    assert [g for g, _ in seen] == pytest.approx([0.00025, 0.0005, 0.00075, 0.001, 0.001, 0.001])
    assert [d for _, d in seen] == pytest.approx([0.001, 0.002, 0.003, 0.004, 0.004, 0.004])


def test_ttur_betas_reach_the_optimisers(tiny_dataset: Path) -> None:
    cfg = tiny_config(tiny_dataset, "optim.g_betas=[0.5, 0.9]", "optim.d_betas=[0.0, 0.99]")
    trainer, _ = make_trainer(cfg)
    assert trainer.opt_G.param_groups[0]["betas"] == (0.5, 0.9)
    assert trainer.opt_D.param_groups[0]["betas"] == (0.0, 0.99)


def test_ema_averages_parameters_and_copies_buffers(tiny_dataset: Path) -> None:
    cfg = tiny_config(tiny_dataset, "ema.beta=0.75")
    trainer, store = make_trainer(cfg)
    trainer.train_steps(store, 1)
    ema_before = snapshot(trainer.G_ema)
    trainer.train_steps(store, 1)
    for name, p in trainer.G.named_parameters():
        expected = p.detach() * 0.25 + ema_before[name] * 0.75
        assert torch.allclose(trainer.G_ema.state_dict()[name], expected, atol=1e-6), name
    for name, b in trainer.G.named_buffers():
        assert torch.equal(trainer.G_ema.state_dict()[name], b), name
    assert not torch.equal(trainer.G_ema.state_dict()["w_avg"], ema_before["w_avg"])


def test_ema_half_life_in_kimg(tiny_dataset: Path) -> None:
    # A half-life of 8 loops with batches of 4 halves the old weight every two updates.
    cfg = tiny_config(tiny_dataset, "ema.half_life_kimg=0.008", "ema.rampup=0.0", "train.batch_size=4")
    trainer, _ = make_trainer(cfg)
    assert trainer.ema_beta() ** 2 == pytest.approx(0.5)
    ramped = tiny_config(tiny_dataset, "ema.half_life_kimg=10.0", "ema.rampup=0.5")
    t2, _ = make_trainer(ramped)
    t2.g_loops = 8  # early in training the half-life is rampup x loops seen = 4 loops
    assert t2.ema_beta() == pytest.approx(0.5)


def test_style_mixing_probability_reaches_the_generator(tiny_dataset: Path) -> None:
    cfg = tiny_config(tiny_dataset, "train.style_mix_prob=0.35")
    trainer, store = make_trainer(cfg)
    calls: list[dict] = []
    original = trainer.G.forward

    def spy(z, **kwargs):
        calls.append(kwargs)
        return original(z, **kwargs)

    trainer.G.forward = spy
    trainer.train_steps(store, 1)
    assert calls and all(c.get("style_mix_prob") == 0.35 for c in calls)


def test_batch_larger_than_dataset_is_a_config_error(tiny_dataset: Path) -> None:
    cfg = tiny_config(tiny_dataset, "train.batch_size=32")
    trainer, store = make_trainer(cfg)
    with pytest.raises(ValueError, match="'train.batch_size'"):
        trainer.train_steps(store, 1)


# ---------------------------------------------------------------- the run folder


def test_short_run_writes_a_self_explaining_folder(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    argv = ["--preset", "tiny", "--data", str(tiny_dataset), "--run", str(run), "--device", "cpu", "--no-progress",
            "--steps", "4", "--set", "train.threads=1", "--set", "train.log_every=1", "--set", "train.sample_every=2",
            "--set", "train.checkpoint_every=2", "--set", "train.keep_checkpoints=1"]
    assert train_main(argv) == 0
    folder = RunFolder(run)

    cfg = load_config(config_file=run / "config.toml")
    assert cfg == tiny_config(tiny_dataset, "train.steps=4", "train.log_every=1", "train.sample_every=2",
                              "train.checkpoint_every=2", "train.keep_checkpoints=1")

    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 1 and info["device"] == "cpu"
    assert info["torch_version"] == torch.__version__ and info["ganloops_version"]
    assert info["command_line"][:2] == ["ganloops", "train"] and "--preset" in info["command_line"]
    assert "commit" in info["git"]

    dataset = json.loads((run / "dataset.json").read_text())
    assert "items" not in dataset and dataset["count"] == 16
    assert Path(dataset["path"]) == tiny_dataset.resolve()

    records = folder.read_metrics()
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for r in records:
        assert {"kimg", "loss_d", "loss_g", "lr_g", "lr_d", "loops_per_second", "seconds", "time_unix"} <= set(r)
        assert math.isfinite(r["loss_d"]) and math.isfinite(r["loss_g"]) and r["loops_per_second"] > 0

    wavs = sorted(p.name for p in (run / "samples").iterdir())
    assert wavs == ["step_0000002.wav", "step_0000004.wav"]
    audio, rate = sf.read(run / "samples" / "step_0000004.wav", dtype="float32")
    assert rate == 8192
    assert audio.shape[0] == cfg.train.sample_count * 2 * 16384  # each fixed latent's loop, played twice
    loop = audio[:16384]
    assert np.abs(loop).max() > 0 and np.allclose(loop, audio[16384:32768])

    png = (run / "progress.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000

    ckpts = folder.list_checkpoints()
    assert [s for s, _ in ckpts] == [4]  # keep_checkpoints = 1 pruned step 2
    assert (run / "checkpoints" / "latest").read_text().strip() == "ckpt_0000004.pt"
    state = torch.load(ckpts[-1][1], map_location="cpu", weights_only=True)  # no pickled objects inside
    assert {"G", "D", "G_ema", "opt_G", "opt_D", "step", "rng", "config", "loop_spec", "sample_z"} <= set(state)
    assert {"torch", "numpy", "python"} <= set(state["rng"])
    assert state["step"] == 4 and state["config"]["loss"]["kind"] == cfg.loss.kind
    assert state["loop_spec"]["loop_samples"] == 16384
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")], "temporary files left"

    # The same folder again without --resume is refused rather than overwritten.
    assert train_main(argv) == 1


def test_resumed_training_matches_uninterrupted_training(tiny_dataset: Path) -> None:
    """Restoring weights, optimisers, counters and every RNG makes the rest of the run
    bit-identical (the split falls on an epoch boundary: 16 loops in batches of 4)."""
    cfg = tiny_config(tiny_dataset, "loss.r1_gamma=1.0", "loss.r1_interval=3", "train.style_mix_prob=0.5",
                      "data.roll_bars=true", "optim.warmup_steps=6")
    straight, store = make_trainer(cfg)
    straight.train_steps(store, 8)

    first, _ = make_trainer(cfg)
    first.train_steps(store, 4)
    state = first.state()
    np.random.rand(3)  # disturb every generator between the save and the restore
    torch.rand(3)
    second, _ = make_trainer(cfg)
    second.load_state(state)
    second.train_steps(store, 4)

    for net in ("G", "D", "G_ema"):
        a, b = getattr(straight, net).state_dict(), getattr(second, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net
    _assert_tree_equal(straight.opt_G.state_dict(), second.opt_G.state_dict(), "opt_G")
    assert (second.step, second.d_updates, second.g_loops) == (straight.step, straight.d_updates, straight.g_loops)


def _wait_for_checkpoint(folder: RunFolder, proc: subprocess.Popen, min_step: int, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"training exited early: {proc.stderr.read().decode() if proc.stderr else ''}")
        steps = [s for s, _ in folder.list_checkpoints()]
        if steps and steps[-1] >= min_step:
            return
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint at step >= {min_step} within {timeout_seconds} s")


def _assert_tree_equal(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _assert_tree_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_tree_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.timeout(180)
def test_resume_after_sigkill_continues_from_the_checkpoint(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    folder = RunFolder(run)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "instrument.cli", "train", "--preset", "tiny", "--data", str(tiny_dataset),
           "--run", str(run), "--device", "cpu", "--no-progress", "--steps", "100000",
           "--set", "train.checkpoint_every=3", "--set", "train.log_every=1", "--set", "train.sample_every=100000",
           "--set", "train.keep_checkpoints=2", "--set", "train.threads=1", "--set", "ema.half_life_kimg=0.01"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_checkpoint(folder, proc, min_step=6, timeout_seconds=120)
        time.sleep(0.2)  # let it run past the checkpoint, so there is work to lose
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    ckpt_step, ckpt_path = folder.list_checkpoints()[-1]
    assert ckpt_step >= 6 and ckpt_step % 3 == 0
    saved = torch.load(ckpt_path, map_location="cpu", weights_only=False)

    # Resume to the checkpoint's own step: nothing trains, so what was restored can be compared.
    cfg = load_config(config_file=run / "config.toml", overrides=[f"train.steps={ckpt_step}"])
    trainer = run_training(cfg, run, RunOptions(device="cpu", progress=False, resume=True))
    assert trainer.step == ckpt_step
    _assert_tree_equal(trainer.opt_G.state_dict(), saved["opt_G"], "opt_G")
    _assert_tree_equal(trainer.opt_D.state_dict(), saved["opt_D"], "opt_D")
    _assert_tree_equal(trainer.G_ema.state_dict(), saved["G_ema"], "G_ema")
    _assert_tree_equal(trainer.G.state_dict(), saved["G"], "G")
    _assert_tree_equal(trainer.D.state_dict(), saved["D"], "D")
    assert trainer.d_updates == saved["d_updates"] and trainer.g_loops == saved["g_loops"]
    assert [r["step"] for r in folder.read_metrics()] == list(range(1, ckpt_step + 1)), "lost steps were not dropped"

    # The same command with --resume (config from the run folder) carries on from there.
    assert train_main(["--resume", "--run", str(run), "--steps", str(ckpt_step + 2), "--device", "cpu",
                       "--no-progress"]) == 0
    records = folder.read_metrics()
    assert [r["step"] for r in records] == list(range(1, ckpt_step + 3))
    seconds = [r["seconds"] for r in records]
    assert seconds == sorted(seconds), "training time restarted from zero on resume"
    final_step, final_path = folder.list_checkpoints()[-1]
    assert final_step == ckpt_step + 2
    final = torch.load(final_path, map_location="cpu", weights_only=False)
    adam_steps = {int(s["step"]) for s in final["opt_G"]["state"].values()}
    assert adam_steps == {ckpt_step + 2}, "the optimiser state continued rather than restarting"
    info = json.loads((run / "run.json").read_text())
    assert info["resumes"][-1]["from_step"] == ckpt_step

    # Resuming into a different architecture is refused with the reason.
    assert train_main(["--resume", "--run", str(run), "--steps", str(ckpt_step + 4), "--device", "cpu",
                       "--no-progress", "--set", "model.generator.channels=64"]) == 1


# ---------------------------------------------------------------- run folder pieces


def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.create()
    folder.save_checkpoint(3, {"step": 3, "w": torch.ones(2)}, keep=5)
    folder.save_checkpoint(6, {"step": 6, "w": torch.zeros(2)}, keep=5)
    folder.checkpoint_path(6).write_bytes(b"not a checkpoint")
    (folder.checkpoints_dir / ".ckpt_0000009.pt.tmp-123").write_bytes(b"half written")
    path, state = folder.load_latest_checkpoint()
    assert path == folder.checkpoint_path(3) and state["step"] == 3
    folder.checkpoint_path(3).write_bytes(b"")
    with pytest.raises(RunFolderError, match="ckpt_0000003.pt"):
        folder.load_latest_checkpoint()


def test_checkpoints_beyond_keep_are_removed_oldest_first(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.create()
    for step in (2, 4, 6, 8):
        folder.save_checkpoint(step, {"step": step}, keep=2)
    assert [s for s, _ in folder.list_checkpoints()] == [6, 8]


def test_metrics_survive_a_torn_line_and_are_cut_back_on_resume(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.create()
    for step in (1, 2, 3, 4):
        folder.append_metrics({"step": step, "loss_d": float("nan") if step == 2 else 0.5})
    with open(folder.metrics_path, "a", encoding="utf-8") as f:
        f.write('{"step": 5, "loss')  # the process died mid-line
    records = folder.read_metrics()
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert records[1]["loss_d"] is None  # NaN is not JSON; it is written as null
    folder.truncate_metrics(after_step=3)
    assert [r["step"] for r in folder.read_metrics()] == [1, 2, 3]
    assert folder.metrics_path.read_text().endswith("\n")


def test_rotation_augmentation_keeps_loops_starting_on_a_downbeat() -> None:
    from training.config import TrainConfig
    from training.data.store import LoopSpec
    from training.loop import augment

    spec = LoopSpec(sample_rate=8000, bpm=120.0, bars=4)
    cfg = TrainConfig()
    cfg.data.roll_bars = True
    batch = torch.zeros(64, 1, spec.loop_samples)
    batch[:, :, 0] = 1.0  # a marker on each loop's downbeat
    rolled = augment(batch, cfg, spec)
    positions = rolled[:, 0].argmax(dim=-1)
    bar_samples = spec.loop_samples // spec.bars
    assert torch.all(positions % bar_samples == 0)
    assert len(set(positions.tolist())) > 1  # it does rotate
