"""The interface every generator family presents, whatever is inside it.

The instrument only ever sees two graphs: ``mapping`` (z -> w) and ``synthesis``
(ws [batch, num_ws, w_dim] -> audio [batch, channels, loop_samples]). A family with no
mapping network (plain WaveGAN) still presents both: its mapping is the identity and it
takes a single w (``num_ws == 1``). Keeping this split in the training code means the
exported graphs are the same modules that were trained.

Style mixing, truncation and the running average of w all live here, once, for every
family.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

NOISE_MODES: tuple[str, ...] = ("random", "const", "none")
LAYER_GROUP_NAMES: tuple[str, ...] = ("coarse", "middle", "fine")


def split_layer_groups(num_ws: int) -> dict[str, list[int]]:
    """Split style indices 0..num_ws-1 into coarse / middle / fine thirds.

    Earlier layers work at low time resolution (rhythm, overall shape), later layers at high
    resolution (timbre, texture); the instrument blends each group towards a second style
    separately. When ``num_ws`` does not divide by three the earlier groups get the extra
    layer; with fewer than three ws, groups share indices so that none is empty.
    """
    if num_ws < 1:
        raise ValueError(f"num_ws: expected a positive integer, got {num_ws}")
    if num_ws < len(LAYER_GROUP_NAMES):
        return {name: [min(i, num_ws - 1)] for i, name in enumerate(LAYER_GROUP_NAMES)}
    base, extra = divmod(num_ws, len(LAYER_GROUP_NAMES))
    groups: dict[str, list[int]] = {}
    start = 0
    for i, name in enumerate(LAYER_GROUP_NAMES):
        size = base + (1 if i < extra else 0)
        groups[name] = list(range(start, start + size))
        start += size
    return groups


def base_samples(loop_samples: int, stride: int, upsample_layers: int) -> int:
    """L0, the length before upsampling: the smallest L0 with ``L0 * stride**layers >= loop``."""
    return max(1, math.ceil(loop_samples / stride ** upsample_layers))


class Generator(nn.Module):
    """Base class of every generator family.

    Attributes the trainer, the exporter and the instrument rely on:

    - ``z_dim``, ``w_dim``, ``num_ws``, ``loop_samples``, ``channels``;
    - ``layer_groups``: "coarse" / "middle" / "fine" -> indices into ws;
    - ``w_avg`` (buffer [w_dim]): running mean of w, updated by ``mapping`` while training
      (``w_avg = lerp(mean w, w_avg, 0.995)``), the centre that truncation pulls towards;
    - ``noise_mode``: "random" (fresh noise each call, for training), "const" (fixed noise
      buffers: deterministic, what gets exported) or "none".

    Subclasses implement ``_map`` (z -> w, no truncation) and ``synthesis``.
    """

    w_avg: Tensor
    w_avg_beta: float = 0.995

    def __init__(self, *, z_dim: int, w_dim: int, num_ws: int, loop_samples: int, channels: int) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.loop_samples = loop_samples
        self.channels = channels
        self.layer_groups: dict[str, list[int]] = split_layer_groups(num_ws)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self._noise_mode = "random"

    # -- noise -------------------------------------------------------------------------

    @property
    def noise_mode(self) -> str:
        return self._noise_mode

    @noise_mode.setter
    def noise_mode(self, mode: str) -> None:
        if mode not in NOISE_MODES:
            raise ValueError(f"noise_mode: expected 'random', 'const' or 'none', got {mode!r}")
        self._noise_mode = mode

    # -- mapping -----------------------------------------------------------------------

    def _map(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def mapping(self, z: Tensor, truncation_psi: float = 1.0) -> Tensor:
        """[B, z_dim] -> [B, w_dim]; truncation pulls w towards ``w_avg``: w_avg + psi*(w - w_avg)."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z: expected shape [batch, {self.z_dim}], got {list(z.shape)}")
        w = self._map(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(torch.lerp(w.detach().mean(dim=0).to(self.w_avg.dtype), self.w_avg, self.w_avg_beta))
        if truncation_psi != 1.0:
            w = self.w_avg + truncation_psi * (w - self.w_avg)
        return w

    # -- synthesis ---------------------------------------------------------------------

    def synthesis(self, ws: Tensor) -> Tensor:
        """[B, num_ws, w_dim] -> [B, channels, loop_samples] in [-1, 1]."""
        raise NotImplementedError

    def _check_ws(self, ws: Tensor) -> None:
        if ws.dim() != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws: expected shape [batch, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")

    def broadcast_ws(self, w: Tensor) -> Tensor:
        """[B, w_dim] -> [B, num_ws, w_dim]: the same w for every style input."""
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    # -- the whole thing ---------------------------------------------------------------

    def forward(self, z: Tensor, truncation_psi: float = 1.0, style_mix_prob: float = 0.0) -> Tensor:
        """z -> audio. While training, with probability ``style_mix_prob`` (one draw per batch)
        the ws from a random cutoff layer on come from a second random z (StyleGAN's mixing
        regularisation: neighbouring layers must not rely on sharing one w)."""
        if not (0.0 <= style_mix_prob <= 1.0):
            raise ValueError(f"style_mix_prob: expected a probability in [0, 1], got {style_mix_prob!r}")
        ws = self.broadcast_ws(self.mapping(z, truncation_psi))
        if self.training and style_mix_prob > 0.0 and self.num_ws > 1:
            device = z.device
            cutoff = torch.randint(1, self.num_ws, (), device=device)
            mix = torch.rand((), device=device) < style_mix_prob
            cutoff = torch.where(mix, cutoff, torch.full_like(cutoff, self.num_ws))
            other = self.mapping(torch.randn_like(z), truncation_psi)
            take_other = (torch.arange(self.num_ws, device=device) >= cutoff).view(1, -1, 1)
            ws = torch.where(take_other, other.unsqueeze(1), ws)
        return self.synthesis(ws)
