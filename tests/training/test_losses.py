"""The adversarial losses against their textbook formulas, and the penalties where their
value is known in closed form (a linear critic has the same gradient everywhere)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from training.losses import (LOG_LOSS_KINDS, LOSS_KINDS, clip_weights_, discriminator_loss, generator_loss,
                             gradient_penalty, r1_is_due, r1_penalty)

REAL = [2.0, -1.0, 0.5, 0.0]
FAKE = [-0.5, 1.5, 0.0, -3.0]


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def expected_d(kind: str, real: list[float], fake: list[float], smoothing: float = 0.0) -> float:
    if kind in LOG_LOSS_KINDS:
        t = 1.0 - smoothing
        real_term = _mean(-(t * math.log(_sig(r)) + (1 - t) * math.log(1 - _sig(r))) for r in real)
        return real_term + _mean(-math.log(1 - _sig(f)) for f in fake)
    if kind == "least_squares":
        return 0.5 * (_mean((r - 1) ** 2 for r in real) + _mean(f ** 2 for f in fake))
    if kind == "hinge":
        return _mean(max(0.0, 1 - r) for r in real) + _mean(max(0.0, 1 + f) for f in fake)
    return _mean(fake) - _mean(real)


def expected_g(kind: str, fake: list[float]) -> float:
    if kind == "minimax":
        return _mean(math.log(1 - _sig(f)) for f in fake)
    if kind == "non_saturating":
        return _mean(-math.log(_sig(f)) for f in fake)
    if kind == "least_squares":
        return 0.5 * _mean((f - 1) ** 2 for f in fake)
    return -_mean(fake)


def _logits(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).view(-1, 1)


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_discriminator_loss_matches_formula(kind: str) -> None:
    got = discriminator_loss(kind, _logits(REAL), _logits(FAKE))
    assert got.item() == pytest.approx(expected_d(kind, REAL, FAKE), rel=1e-10)


@pytest.mark.parametrize("kind", LOSS_KINDS)
def test_generator_loss_matches_formula(kind: str) -> None:
    got = generator_loss(kind, _logits(FAKE))
    assert got.item() == pytest.approx(expected_g(kind, FAKE), rel=1e-10)


@pytest.mark.parametrize("kind", LOG_LOSS_KINDS)
def test_one_sided_label_smoothing_moves_only_the_real_target(kind: str) -> None:
    smoothed = discriminator_loss(kind, _logits(REAL), _logits(FAKE), label_smoothing=0.1)
    assert smoothed.item() == pytest.approx(expected_d(kind, REAL, FAKE, smoothing=0.1), rel=1e-10)
    # Only the real term changes: for a confident real logit x the smoothed target costs
    # -s*log(1 - sigmoid(x)) ~= s*x more; the fake targets (still 0) add nothing.
    shift = discriminator_loss(kind, _logits([50.0]), _logits(FAKE), label_smoothing=0.1) - \
        discriminator_loss(kind, _logits([50.0]), _logits(FAKE), label_smoothing=0.0)
    assert shift.item() == pytest.approx(0.1 * 50.0, rel=1e-6)


@pytest.mark.parametrize("kind", [k for k in LOSS_KINDS if k not in LOG_LOSS_KINDS])
def test_label_smoothing_is_refused_for_non_log_losses(kind: str) -> None:
    with pytest.raises(ValueError, match="label smoothing"):
        discriminator_loss(kind, _logits(REAL), _logits(FAKE), label_smoothing=0.1)


def test_unknown_kind_is_named() -> None:
    with pytest.raises(ValueError, match="'wasserstein'"):
        generator_loss("wasserstein", _logits(FAKE))


def test_minimax_generator_saturates_where_non_saturating_does_not() -> None:
    """The reason the non-saturating loss exists: when D confidently rejects a fake
    (very negative logit), the minimax G loss has almost no gradient."""
    grads = {}
    for kind in ("minimax", "non_saturating"):
        x = torch.tensor([[-10.0]], requires_grad=True)
        generator_loss(kind, x).backward()
        grads[kind] = abs(x.grad.item())
    assert grads["minimax"] < 1e-3
    assert grads["non_saturating"] > 0.99


class LinearCritic(nn.Module):
    """D(x) = <w, x>: its input gradient is w everywhere, so the penalties are known exactly."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weight).flatten(1).sum(1, keepdim=True)


def _unit_weight(norm: float, shape=(1, 1, 64)) -> torch.Tensor:
    w = torch.randn(shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return w / w.norm() * norm


@pytest.mark.parametrize("norm, expected", [(1.0, 0.0), (3.0, 4.0), (0.5, 0.25)])
def test_gradient_penalty_is_zero_for_unit_gradient_and_squared_excess_otherwise(norm: float, expected: float) -> None:
    critic = LinearCritic(_unit_weight(norm))
    real = torch.randn(5, 1, 64, dtype=torch.float64)
    fake = torch.randn(5, 1, 64, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(expected, abs=1e-9)


def test_gradient_penalty_reaches_the_critic_weights() -> None:
    critic = LinearCritic(_unit_weight(3.0))
    gp = gradient_penalty(critic, torch.randn(4, 1, 64, dtype=torch.float64), torch.randn(4, 1, 64, dtype=torch.float64))
    gp.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_gradient_penalty_rejects_mismatched_batches() -> None:
    critic = LinearCritic(_unit_weight(1.0))
    with pytest.raises(ValueError, match="shape"):
        gradient_penalty(critic, torch.zeros(2, 1, 64), torch.zeros(3, 1, 64))


def test_r1_is_squared_input_gradient_of_a_linear_critic() -> None:
    critic = LinearCritic(_unit_weight(2.0))
    real = torch.randn(6, 1, 64, dtype=torch.float64, requires_grad=True)
    assert r1_penalty(critic(real), real).item() == pytest.approx(4.0, rel=1e-9)


def test_r1_is_zero_for_a_flat_critic_and_positive_for_a_curved_one() -> None:
    real = torch.randn(6, 1, 64, dtype=torch.float64, requires_grad=True)
    flat = LinearCritic(torch.zeros(1, 1, 64, dtype=torch.float64))
    assert r1_penalty(flat(real), real).item() == 0.0

    curved = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 64, 1)).double()
    penalty = r1_penalty(curved(real), real)
    assert penalty.item() > 0
    penalty.backward()  # the penalty trains D: it must reach D's weights through the double backward
    assert curved[0].weight.grad is not None and curved[0].weight.grad.abs().sum() > 0


def test_weight_clipping_bounds_every_parameter() -> None:
    module = nn.Sequential(nn.Conv1d(1, 4, 5), nn.Linear(3, 2))
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(100.0)
    clip_weights_(module, 0.01)
    assert all(p.abs().max().item() <= 0.01 for p in module.parameters())
    assert any(p.abs().max().item() == pytest.approx(0.01) for p in module.parameters())


def test_lazy_r1_runs_every_interval_steps() -> None:
    assert [s for s in range(40) if r1_is_due(s, 16)] == [0, 16, 32]
    assert all(r1_is_due(s, 1) for s in range(5))
