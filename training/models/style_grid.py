"""Style-based grid generator: a drum machine whose pattern and sounds are both generated.

Loops of electronic music are notes on a step grid played by a handful of sounds. A
waveform generator (WaveGAN, style-based WaveGAN) has to discover that from audio alone,
which takes a long time to train: until it does, its onsets drift off the grid. This
family builds the grid in, in the spirit of DDSP (keep the known structure of the sound
as fixed, differentiable signal processing and learn only what varies):

- **Mapping network** z -> w, as in the style-based WaveGAN (style mixing, truncation).
- **Pattern network**: a learned constant of ``grid_steps`` steps, ``pattern_layers``
  modulated circular convolutions (one w each) and a 1x1 modulated convolution give a
  velocity in (0, 1) for every voice at every step: the groove.
- **Voice network**: ``voices`` learned constants go through the style-based WaveGAN's
  upsampling stack (modulated convolutions with noise inputs, zero-padded: a one-shot is
  not periodic) to one one-shot waveform per voice, ``voice_steps`` steps long. Each is
  shaped by an envelope that starts at the attack (a 1 ms fade-in), decays at a rate
  computed from w, and fades out before the one-shot ends: every sound starts where it is
  placed, so onsets sit on the grid.
- **Sequencer**: every voice is played at every step with that step's velocity; the
  one-shot's tail runs on into the following steps and, in seamless mode, past the loop's
  end onto its start (an overlap-add with circular wrap-around, written as one batched
  matrix product), then brought to a level set by w (``level_db`` ± 8 dB RMS). If ``grid_steps`` does not divide the loop length, the grid is built
  slightly longer and resampled onto the loop exactly (the same resampler as the other
  families), which keeps every step in proportion.

``num_ws = pattern_layers + upsample_layers + 2`` (the pattern layers, then the voice
layer at L0, the voice upsampling layers and the voices' to-audio layer). Its layer groups
therefore split naturally: coarse = the pattern (groove), middle and fine = the sounds
(timbre), so style mixing keeps one loop's groove with another loop's kit.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn

from training.models.base import Generator, base_samples
from training.models.config import GeneratorConfig
from training.models.layers import EqualizedLinear, LoopResampler, ModulatedConv1d
from training.models.style_wavegan import MappingNetwork, StyleLayer, ToAudio
from training.models.wavegan import layer_channels

# Fixed seed of the "const" noise buffers, so a freshly built model is reproducible too.
_CONST_NOISE_SEED = 0x9121D
# Initial bias of the velocity logits: sigmoid(-1) = 0.27, a sparse-ish pattern to start from.
_VELOCITY_BIAS = -1.0
# The velocity biases must travel far early in training: stored divided by this factor and
# multiplied back (the equalised learning rate trick), an optimiser step moves them this
# many times faster.
VELOCITY_BIAS_LR_MULTIPLIER = 25.0
# The loop's level: w sets it within this many dB either side of ``level_db``.
LEVEL_RANGE_DB = 8.0
ATTACK_SAMPLES = 22          # attack ramp (1 ms at 22.05 kHz), at most 1/8 of a one-shot
FADE_OUT_SHARE = 0.1         # last share of a one-shot that fades to silence


def grid_shape(loop_samples: int, grid_steps: int) -> tuple[int, int]:
    """(step_samples, grid_samples): the whole-sample step length and the grid's length (>= the loop)."""
    step_samples = max(1, math.ceil(loop_samples / grid_steps))
    return step_samples, step_samples * grid_steps


class VoiceEnvelope(nn.Module):
    """Per-voice amplitude envelope: 1 ms attack ramp, exponential decay (rate from w), fade-out.

    The decay time constant is ``voice_samples / 6 * exp(2 * tanh(a))`` with ``a`` an affine
    map of w per voice: from about 1/44 of the one-shot (a closed hi-hat) to longer than the
    one-shot (a sustained stab).
    """

    ramp: Tensor
    time: Tensor

    def __init__(self, voices: int, voice_samples: int, w_dim: int) -> None:
        super().__init__()
        self.decay = EqualizedLinear(w_dim, voices, bias_init=0.0)
        t = torch.arange(voice_samples, dtype=torch.float32)
        attack = max(1, min(voice_samples // 8, ATTACK_SAMPLES))
        fade_out = max(1, int(voice_samples * FADE_OUT_SHARE))
        ramp = torch.clamp(t / attack, max=1.0) * torch.clamp((voice_samples - 1 - t) / fade_out, max=1.0)
        self.register_buffer("ramp", ramp)
        self.register_buffer("time", t / voice_samples)
        self.tau_mid = 1.0 / 6.0

    def forward(self, w: Tensor) -> Tensor:
        """w [B, w_dim] -> envelopes [B, voices, voice_samples]."""
        tau = self.tau_mid * torch.exp(2.0 * torch.tanh(self.decay(w)))      # [B, voices], share of the one-shot
        return torch.exp(-self.time / tau.unsqueeze(-1)) * self.ramp


class StyleGridGenerator(Generator):
    """z [B, z_dim] -> w -> ws [B, num_ws, w_dim] -> audio [B, channels, loop_samples] in [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig, loop_samples: int, channels: int = 1) -> None:
        num_ws = cfg.pattern_layers + cfg.upsample_layers + 2
        super().__init__(z_dim=cfg.z_dim, w_dim=cfg.w_dim, num_ws=num_ws, loop_samples=loop_samples,
                         channels=channels)
        self.config = cfg
        self.grid_steps = cfg.grid_steps
        self.voices = cfg.voices
        self.voice_steps = min(cfg.voice_steps, cfg.grid_steps)
        self.step_samples, self.grid_samples = grid_shape(loop_samples, cfg.grid_steps)
        self.voice_samples = self.step_samples * self.voice_steps
        self.mapping_network = MappingNetwork(cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_multiplier)
        noise_generator = torch.Generator().manual_seed(_CONST_NOISE_SEED)

        # Pattern: [channels, grid_steps], circular over the loop's steps when seamless.
        self.pattern_const = nn.Parameter(torch.randn(cfg.channels, cfg.grid_steps))
        self.pattern_layers = nn.ModuleList(
            StyleLayer(cfg.channels, cfg.channels, w_dim=cfg.w_dim, out_samples=cfg.grid_steps, up=1, cfg=cfg,
                       noise_generator=noise_generator)
            for _ in range(cfg.pattern_layers))
        self.to_velocity = ModulatedConv1d(cfg.channels, cfg.voices, 1, cfg.w_dim, demodulate=False)
        self.velocity_bias = nn.Parameter(torch.full((cfg.voices,), _VELOCITY_BIAS / VELOCITY_BIAS_LR_MULTIPLIER))

        # Voices: the style-based WaveGAN's stack, zero-padded, one learned constant per voice.
        voice_cfg = dataclasses.replace(cfg, seamless=False)
        self.voice_base_samples = base_samples(self.voice_samples, cfg.stride, cfg.upsample_layers)
        self.voice_const = nn.Parameter(torch.randn(cfg.voices, cfg.channels, self.voice_base_samples))
        layers = [StyleLayer(cfg.channels, cfg.channels, w_dim=cfg.w_dim, out_samples=self.voice_base_samples,
                             up=1, cfg=voice_cfg, noise_generator=noise_generator)]
        in_channels, length = cfg.channels, self.voice_base_samples
        for layer in range(1, cfg.upsample_layers + 1):
            out_channels = layer_channels(cfg, layer)
            length *= cfg.stride
            layers.append(StyleLayer(in_channels, out_channels, w_dim=cfg.w_dim, out_samples=length,
                                     up=cfg.stride, cfg=voice_cfg, noise_generator=noise_generator))
            in_channels = out_channels
        self.voice_layers = nn.ModuleList(layers)
        self.to_audio = ToAudio(in_channels, channels, cfg.w_dim)
        self.envelope = VoiceEnvelope(cfg.voices, self.voice_samples, cfg.w_dim)
        self.level = EqualizedLinear(cfg.w_dim, 1, bias_init=0.0)
        self.resampler: nn.Module = (
            LoopResampler(self.grid_samples, loop_samples, circular=cfg.seamless)
            if self.grid_samples != loop_samples else nn.Identity()
        )

    def _map(self, z: Tensor) -> Tensor:
        return self.mapping_network(z)

    def level_gain(self, audio: Tensor, w: Tensor) -> Tensor:
        """[B, 1, 1]: the gain that brings each loop's RMS to its level (``level_db`` ± 8 dB, set by w).

        Loops of a library sit at similar levels; a generator free to choose its level hid
        its early mistakes by going quiet (19 dB under the real loops after 500 steps), so
        the level is a style like the others, inside the range loops actually have.
        """
        level_db = self.config.level_db + LEVEL_RANGE_DB * torch.tanh(self.level(w))        # [B, 1]
        rms = torch.sqrt(audio.square().mean(dim=(1, 2)) + 1e-10).unsqueeze(-1)            # [B, 1]
        return (10.0 ** (level_db / 20.0) / rms).unsqueeze(-1)

    # -- the three parts ---------------------------------------------------------------

    def velocities(self, ws: Tensor) -> Tensor:
        """ws -> [B, voices, grid_steps] in (0, 1)."""
        x = self.pattern_const.unsqueeze(0).expand(ws.shape[0], -1, -1)
        for i, layer in enumerate(self.pattern_layers):
            x = layer(x, ws[:, i], self.noise_mode)
        bias = self.velocity_bias * VELOCITY_BIAS_LR_MULTIPLIER
        logits = self.to_velocity(x, ws[:, len(self.pattern_layers) - 1]) + bias.view(1, -1, 1)
        return torch.sigmoid(logits)

    def one_shots(self, ws: Tensor) -> Tensor:
        """ws -> [B, voices, channels, voice_samples]: every voice's enveloped one-shot."""
        batch, first = ws.shape[0], len(self.pattern_layers)
        x = self.voice_const.unsqueeze(0).expand(batch, -1, -1, -1).reshape(-1, self.config.channels,
                                                                             self.voice_base_samples)
        for i, layer in enumerate(self.voice_layers):
            x = layer(x, self._per_voice(ws[:, first + i]), self.noise_mode)
        w_out = ws[:, first + len(self.voice_layers)]
        x = self.to_audio(x, self._per_voice(w_out))[..., :self.voice_samples]   # [B*voices, ch, voice]
        x = torch.tanh(x).reshape(batch, self.voices, self.channels, self.voice_samples)
        return x * self.envelope(w_out).unsqueeze(2)

    def sequence(self, velocities: Tensor, one_shots: Tensor) -> Tensor:
        """Play every one-shot at every step: [B, voices, steps] x [B, voices, ch, voice] -> [B, ch, grid]."""
        batch, steps, m, hop = velocities.shape[0], self.grid_steps, self.voice_steps, self.step_samples
        # Piece i of a one-shot sounds i steps after its onset: step j hears velocity[j - i].
        shifted = [velocities] + [self._delay(velocities, i) for i in range(1, m)]
        gains = torch.stack(shifted, dim=2).reshape(batch, 1, self.voices * m, steps)         # [B, 1, V*m, S]
        pieces = one_shots.reshape(batch, self.voices, self.channels, m, hop)
        pieces = pieces.permute(0, 2, 1, 3, 4).reshape(batch, self.channels, self.voices * m, hop)
        out = torch.matmul(gains.transpose(-1, -2), pieces)                                  # [B, ch, S, hop]
        return out.reshape(batch, self.channels, steps * hop)

    def _delay(self, x: Tensor, steps: int) -> Tensor:
        """Delay along the last axis by `steps`: wrapping round the loop when seamless, else from silence."""
        if self.config.seamless:
            return torch.cat([x[..., -steps:], x[..., :-steps]], dim=-1)
        return torch.cat([torch.zeros_like(x[..., :steps]), x[..., :-steps]], dim=-1)

    def _per_voice(self, w: Tensor) -> Tensor:
        """[B, w_dim] -> [B*voices, w_dim], the same w for every voice of a loop."""
        return w.unsqueeze(1).expand(-1, self.voices, -1).reshape(-1, self.w_dim)

    def synthesis(self, ws: Tensor) -> Tensor:
        self._check_ws(ws)
        audio = self.sequence(self.velocities(ws), self.one_shots(ws))
        audio = audio * self.level_gain(audio, ws[:, -1])
        # Resample before tanh: a sinc interpolator can overshoot, tanh keeps audio in [-1, 1].
        return torch.tanh(self.resampler(audio))
