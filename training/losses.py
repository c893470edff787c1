"""The adversarial losses and the gradient penalties, chosen by `loss.kind` in the config.

Every loss here takes the discriminator's *raw* scores (logits, shape [B, 1]) and returns a
scalar to minimise. Which one to pick is an empirical question (the comparison in the
ATIAM brief is the reason all four families are here):

- ``minimax``        the original GAN game. D minimises binary cross-entropy; G minimises
                     ``log(1 - sigmoid(D(G(z))))``, which *saturates*: when D wins early,
                     G's gradient vanishes. Kept for comparison, rarely the right choice.
- ``non_saturating`` same D loss; G maximises ``log sigmoid(D(G(z)))`` instead, which has
                     strong gradients exactly when G is losing (StyleGAN2's default).
- ``least_squares``  LSGAN: D regresses real to 1 and fake to 0, G pulls fake towards 1.
- ``hinge``          D: ``relu(1 - D(x)) + relu(1 + D(G(z)))``; G: ``-D(G(z))``.
- ``wgan_clip``      Wasserstein critic, Lipschitz-bounded by clipping every D weight to
                     ``[-loss.clip_value, loss.clip_value]`` after each D step.
- ``wgan_gp``        Wasserstein critic with the gradient penalty of Gulrajani et al.:
                     ``(||grad D(x_hat)|| - 1)^2`` on random interpolates of real and fake.

Independently of the kind, ``loss.r1_gamma > 0`` adds the R1 penalty on real data
(``gamma/2 * ||grad D(x)||^2``), evaluated lazily every ``loss.r1_interval`` D steps and
multiplied by the interval so that its average strength does not depend on the interval
(StyleGAN2's lazy regularisation: the penalty changes slowly, so computing its costly
double backward on one D step in sixteen loses little).

One-sided label smoothing (``loss.label_smoothing = s``) moves only the *real* target
from 1 to ``1 - s`` so D is never rewarded for over-confidence on real loops, while fake
targets stay at 0 (smoothing those would reward G's mistakes). It applies to the two
log-loss kinds only; the config rejects it for the others.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOSS_KINDS: tuple[str, ...] = ("minimax", "non_saturating", "least_squares", "hinge", "wgan_clip", "wgan_gp")
"""Every value `loss.kind` accepts."""

LOG_LOSS_KINDS: tuple[str, ...] = ("minimax", "non_saturating")
"""The kinds built on binary cross-entropy, the only ones where label smoothing means something."""


def _check_kind(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise ValueError(f"unknown loss kind {kind!r}; expected one of {', '.join(LOSS_KINDS)}")


def discriminator_loss(kind: str, real_logits: Tensor, fake_logits: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """The adversarial part of D's loss for one batch (penalties are added separately).

    `label_smoothing` is the one-sided smoothing amount ``s``: the real target becomes
    ``1 - s``. It must be 0 for the non-log kinds.
    """
    _check_kind(kind)
    if label_smoothing and kind not in LOG_LOSS_KINDS:
        raise ValueError(f"label smoothing applies to {' and '.join(LOG_LOSS_KINDS)} only, not {kind!r}")
    if kind in LOG_LOSS_KINDS:
        real_target = torch.full_like(real_logits, 1.0 - label_smoothing)
        fake_target = torch.zeros_like(fake_logits)
        return (F.binary_cross_entropy_with_logits(real_logits, real_target)
                + F.binary_cross_entropy_with_logits(fake_logits, fake_target))
    if kind == "least_squares":
        return 0.5 * ((real_logits - 1.0).square().mean() + fake_logits.square().mean())
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    # Wasserstein critic: push real scores up, fake scores down.
    return fake_logits.mean() - real_logits.mean()


def generator_loss(kind: str, fake_logits: Tensor) -> Tensor:
    """G's adversarial loss on D's scores for generated loops."""
    _check_kind(kind)
    if kind == "minimax":
        # log(1 - sigmoid(x)) == -softplus(x): G minimises it, the original saturating form.
        return -F.softplus(fake_logits).mean()
    if kind == "non_saturating":
        # -log(sigmoid(x)) == softplus(-x)
        return F.softplus(-fake_logits).mean()
    if kind == "least_squares":
        return 0.5 * (fake_logits - 1.0).square().mean()
    # hinge and both Wasserstein kinds: raise the critic's score of fakes.
    return -fake_logits.mean()


def _per_sample_grad_norm_sq(outputs: Tensor, inputs: Tensor) -> Tensor:
    """||d sum(outputs) / d inputs||^2 for each item of the batch, keeping the graph for
    the second backward pass (the penalty is itself differentiated w.r.t. D's weights)."""
    (grads,) = torch.autograd.grad(outputs=outputs.sum(), inputs=inputs, create_graph=True)
    return grads.square().flatten(1).sum(1)


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """Mean over the batch of ``||grad_x D(x)||^2`` on real loops (without the gamma/2 factor).

    `real` must have ``requires_grad=True`` and `real_logits` must be ``D(real)``. Zero
    exactly when D is flat around the real data, which is what R1 asks for.
    """
    return _per_sample_grad_norm_sq(real_logits, real).mean()


def gradient_penalty(discriminator: Callable[[Tensor], Tensor] | nn.Module, real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP: mean of ``(||grad D(x_hat)||_2 - 1)^2`` with ``x_hat`` a random mix of real and fake.

    One mixing weight per item (uniform in [0, 1]); the penalty is zero for a critic whose
    gradient has unit norm everywhere between the two distributions.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} batches differ in shape")
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype,
                       generator=generator)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    norms = _per_sample_grad_norm_sq(discriminator(mixed), mixed).add(1e-12).sqrt()
    return (norms - 1.0).square().mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip_value: float) -> None:
    """Clamp every parameter of `module` into ``[-clip_value, clip_value]`` in place (WGAN)."""
    if clip_value <= 0:
        raise ValueError(f"clip_value must be positive, got {clip_value}")
    for p in module.parameters():
        p.clamp_(-clip_value, clip_value)


def r1_is_due(d_step: int, interval: int) -> bool:
    """Whether the lazy R1 penalty runs on D step `d_step` (0-based): every `interval` steps."""
    return interval >= 1 and d_step % interval == 0


__all__ = ["LOSS_KINDS", "LOG_LOSS_KINDS", "discriminator_loss", "generator_loss", "r1_penalty",
           "gradient_penalty", "clip_weights_", "r1_is_due"]
