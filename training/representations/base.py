"""The block contract every representation follows, and the two ways of combining blocks.

A representation is what a generator produces and a discriminator sees: raw audio, a
log-magnitude spectrogram, GANSynth's (log-mel magnitude, instantaneous frequency) pair.
Each one is built as a chain of small invertible blocks (the "data transformation graph"
of the ATIAM brief): ``forward`` goes from audio towards the model, ``inverse`` comes back
from what the model generated to audio. Keeping the blocks separate means every step can
be tested on its own, and the export step can put the ``inverse`` of a chain inside the
synthesis graph so that the instrument only ever sees audio.

Tensor layout throughout: audio is ``[batch, channels, samples]``; every spectral tensor
is ``[batch, channels, freq, frames]``. Blocks that produce two kinds of planes (magnitude
and phase) stack them along the channel axis, first group then second group, so a mono
GANSynth representation is ``[batch, 2, freq, frames]``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
from torch import nn


class Transform(nn.Module):
    """One invertible step: ``forward(x)`` towards the model, ``inverse(y)`` back to audio.

    ``exact`` says whether ``inverse(forward(x))`` returns ``x`` up to floating-point
    rounding for every input in the block's domain. Lossy blocks (magnitude only, mel
    scaling, clipping) say False and describe their error in their docstring.
    """

    exact: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Fittable(Transform):
    """A block whose parameters are statistics of a dataset (e.g. a mean and a std).

    Fitting is streamed, so a dataset larger than memory works: ``begin_fit()``, then
    ``accumulate(x)`` once per batch of this block's *input*, then ``end_fit()``.
    ``Chain.fit`` drives this for every fittable block inside a chain.
    """

    def begin_fit(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def accumulate(self, x: torch.Tensor) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def end_fit(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_unchecked(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """``forward`` with whatever statistics are held now, fitted or not (used while fitting)."""
        raise NotImplementedError

    def fit(self, batches: Iterable[torch.Tensor]) -> "Fittable":
        """Fit on batches of this block's input; returns self."""
        self.begin_fit()
        for x in batches:
            self.accumulate(x)
        self.end_fit()
        return self


class Chain(Transform):
    """Blocks applied in order by ``forward`` and undone in reverse order by ``inverse``."""

    def __init__(self, blocks: Sequence[Transform]) -> None:
        super().__init__()
        for i, block in enumerate(blocks):
            if not isinstance(block, Transform):
                raise TypeError(f"Chain block {i} is a {type(block).__name__}, not a Transform")
        self.blocks = nn.ModuleList(blocks)

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return all(block.exact for block in self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        for block in reversed(self.blocks):
            y = block.inverse(y)
        return y

    def fit(self, batches: Iterable[torch.Tensor]) -> "Chain":
        """Fit every fittable block (e.g. ``Normalize``) on batches of *audio*, in one pass.

        Each batch flows through the chain; every fittable block accumulates statistics of
        the tensor that reaches it. Two fittable blocks in series along one path are
        refused, because the second would see the first's unfitted output. Returns self.
        """
        fittables = [m for m in self.modules() if isinstance(m, Fittable)]
        for block in fittables:
            block.begin_fit()
        with torch.no_grad():
            for x in batches:
                _fit_pass(self, x, seen_fittable=False)
        for block in fittables:
            block.end_fit()
        return self


class Parallel(Transform):
    """Split the channel axis into equal groups and give each group its own block.

    This is how a chain branches, as in figure 3 of the ATIAM brief: after ``Polar`` the
    channels hold magnitudes then phases, and ``Parallel(magnitude_chain, phase_chain)``
    treats each group its own way (log + normalise on one side, instantaneous frequency
    on the other). Outputs are concatenated back along the channel axis, so every branch
    must give the same ``freq`` and ``frames`` sizes.
    """

    def __init__(self, branches: Sequence[Transform]) -> None:
        super().__init__()
        if len(branches) < 2:
            raise ValueError(f"Parallel needs at least 2 branches, got {len(branches)}")
        self.branches = nn.ModuleList(branches)

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return all(branch.exact for branch in self.branches)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = len(self.branches)
        if x.dim() < 2 or x.shape[1] % n != 0:
            raise ValueError(
                f"Parallel with {n} branches needs a channel axis divisible by {n}, got shape {tuple(x.shape)}")
        return torch.chunk(x, n, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(part) for branch, part in zip(self.branches, self._split(x))], dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch.inverse(part) for branch, part in zip(self.branches, self._split(y))], dim=1)


def _fit_pass(block: Transform, x: torch.Tensor, seen_fittable: bool) -> tuple[torch.Tensor, bool]:
    """Push one batch through ``block`` while fitting; returns (output, fittable seen on path)."""
    if isinstance(block, Chain):
        for inner in block.blocks:
            x, seen_fittable = _fit_pass(inner, x, seen_fittable)
        return x, seen_fittable
    if isinstance(block, Parallel):
        outs = []
        seen_any = seen_fittable
        for branch, part in zip(block.branches, block._split(x)):
            out, seen = _fit_pass(branch, part, seen_fittable)
            outs.append(out)
            seen_any = seen_any or seen
        return torch.cat(outs, dim=1), seen_any
    if isinstance(block, Fittable):
        if seen_fittable:
            raise ValueError(
                f"cannot fit {type(block).__name__}: it sits after another fittable block on the same path")
        block.accumulate(x)
        # Downstream blocks of a fittable one may not need fitting (refused above), but
        # they still need an input of the right shape; the unfitted output serves.
        return block.forward_unchecked(x), True
    return block(x), seen_fittable
