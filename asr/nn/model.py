"""BiLSTM-CTC acoustic model (EESEN / DeepSpeech2 style), and build_model, the one way to make one.

    model = build_model(ModelConfig(arch="bilstm_ctc", vocab_size=29))   # the recipe, training, ModelDir

    feats [N, T, D] --CMVN--> --stack x S--> [N, T/S, S*D] --BiLSTM x L--> [N, T/S, 2H or P]
          --Linear--> log-probs [N, T', V] with T' = ceil(T / S) * U

With `utt_cmn: true` each utterance's own mean (over its frames, not the padding) is subtracted after
the global CMVN: cepstral mean normalisation, which removes a stationary channel (a telephone band, a
microphone's colour) from log-mel features.

With `frontend: conv` two 3x3 convolutions replace the stacking (ESPnet's VGG-BLSTM, smaller), S = conv_stride:
    [N, 1, T, D] --conv 3x3, C ch, stride (S1, 2), ReLU--> [N, C, T/S1, D/2]
                 --conv 3x3, C ch, stride (S2, 2), ReLU--> [N, C, ceil(T/S), D/4] -> [N, T', C*D/4]
                 (--Linear--> [N, T', P] with conv_proj P > 0) --LayerNorm-->
with S1 = S/3, S2 = 3 when S is a multiple of 3 above 3 (a kernel of 3 at stride 6 would skip frames;
2 x 3 leaves every one under a kernel, but at the very end), else S1 = 1, S2 = S.
Frames past an utterance's length are zeroed before each convolution, so a padded batch gives
every utterance the output it gets alone (the exactness the BiLSTM layer keeps too).

With `residual: true` a layer whose input and output sizes match adds its input to its output
(x_{l+1} = x_l + BiLSTM_l(x_l)): a deeper stack keeps a short path from the output to the front-end.

With `upsample: U` > 1 the output layer gives U frames of V log-probs per LSTM step ([N, T/S, U*V] reshaped
to [N, T/S*U, V]): the LSTMs run at S frames per step while CTC sees S/U (a low LSTM frame rate, with
the output frames that a character alphabet needs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from asr.config import ConfigError


ARCHS = ("bilstm_ctc",)  # what model.arch may name (build_model); a registry once a second one earns its place


@dataclass
class ModelConfig:
    arch: str = "bilstm_ctc"  # the architecture (ARCHS); model directories written before this key are bilstm_ctc
    input_dim: int = 80  # feature dimension D
    frontend: str = "stack"  # stack (concatenate S frames) or conv (two 3x3 convolutions, see above)
    stack: int = 3  # stack front-end only: frames concatenated per LSTM step (its time subsampling S)
    conv_stride: int = 3  # conv front-end only: time stride of the two convolutions together (its S)
    conv_channels: int = 32  # conv front-end only: channels C of both convolutions
    conv_proj: int = 0  # conv front-end only: if > 0, a linear map of its C*D/4 outputs to this size (before the LayerNorm)
    hidden: int = 256  # LSTM cells per direction H
    layers: int = 3  # bidirectional LSTM layers L
    proj: int = 0  # if > 0, project each layer's 2H outputs down to this size (LSTMP-like)
    residual: bool = False  # add each layer's input to its output where their sizes match (layers 2..L)
    dropout: float = 0.2  # dropout between layers and before the output layer
    utt_cmn: bool = False  # subtract each utterance's mean feature vector after the global CMVN
    upsample: int = 1  # output frames per LSTM step U (CTC frames of S/U input frames each; 2 with stack 6: docs/experiments/synth_en, levers)
    vocab_size: int = 0  # output tokens V incl. blank; filled from tokens.txt at training time

    @property
    def subsampling(self) -> int:
        """S: input frames per LSTM step, whichever front-end makes them."""
        return self.conv_stride if self.frontend == "conv" else self.stack

    @classmethod
    def upgrade(cls, data: dict) -> dict:
        """A model directory's `model:` mapping as this version reads it. Before `arch` existed, the conv
        front-end's stride was `stack`: such a mapping (no `arch` key) gets conv_stride = stack."""
        if "arch" in data or data.get("frontend") != "conv":
            return data
        return {**data, "conv_stride": data.get("stack", cls.stack)}


def utterance_mean_normalised(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x [N, T, D] minus each utterance's mean over its valid frames (mask [N, T], True = frame)."""
    m = mask[..., None].to(x.dtype)
    mean = (x * m).sum(dim=1, keepdim=True) / m.sum(dim=1, keepdim=True).clamp(min=1.0)
    return x - mean


class GlobalCMVN(nn.Module):
    """Apply (x - mean) * istd with buffers, so the normalisation travels with the weights."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("istd", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.istd


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of x [N, T, C] within its own length; padding stays in place."""
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return x.gather(1, idx[..., None].expand(-1, -1, x.shape[2]))


class BiLSTMLayer(nn.Module):
    """A bidirectional LSTM layer that is exact on zero-padded batches.

    nn.LSTM(bidirectional=True) on a padded batch starts the backward direction in the
    padding, so a short utterance's output depends on its batch-mates; packing fixes that
    but is ~20x slower on CPU. Instead the backward LSTM runs on each sequence reversed
    within its own length, which costs two gathers and is exact.
    """

    def __init__(self, input_dim: int, hidden: int) -> None:
        super().__init__()
        self.fwd = nn.LSTM(input_dim, hidden, batch_first=True)
        self.bwd = nn.LSTM(input_dim, hidden, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x [N, T, C], lengths [N] -> [N, T, 2H] (forward outputs, then backward outputs)."""
        y_fwd, _ = self.fwd(x)
        y_bwd, _ = self.bwd(reverse_padded(x, lengths))
        return torch.cat([y_fwd, reverse_padded(y_bwd, lengths)], dim=-1)


def stack_frames(x: torch.Tensor, lengths: torch.Tensor, stack: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate `stack` consecutive frames: [N, T, D] -> [N, ceil(T/S), S*D]; lengths likewise."""
    if stack == 1:
        return x, lengths
    n, t, d = x.shape
    pad = (-t) % stack
    if pad:
        x = torch.nn.functional.pad(x, (0, 0, 0, pad))
    x = x.reshape(n, (t + pad) // stack, stack * d)
    return x, torch.div(lengths + stack - 1, stack, rounding_mode="floor")


FRONTENDS = ("stack", "conv")


class ConvFrontend(nn.Module):
    """Two 3x3 convolutions: [N, T, D] (zero past lengths) -> [N, ceil(T/S), C * ceil(ceil(D/2)/2)]
    (or [N, ceil(T/S), P] through a linear map when proj P > 0), then a LayerNorm."""

    def __init__(self, input_dim: int, channels: int, stride: int, proj: int = 0) -> None:
        super().__init__()
        self.stride = stride
        # a kernel of 3 at a time stride above 3 would skip frames: split a stride 6 or 9 as 2 x 3 or 3 x 3
        self.stride1 = stride // 3 if stride > 3 and stride % 3 == 0 else 1
        self.conv1 = nn.Conv2d(1, channels, 3, stride=(self.stride1, 2), padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(stride // self.stride1, 2), padding=1)
        conv_dim = channels * (((input_dim + 1) // 2 + 1) // 2)
        # a smaller first-LSTM input: its input GEMM is a quarter of the LSTMs' FLOPs at C*D/4 = 640
        self.proj = nn.Linear(conv_dim, proj) if proj > 0 else None
        self.output_dim = proj if proj > 0 else conv_dim
        self.norm = nn.LayerNorm(self.output_dim)  # the LSTM sees unit-scale inputs, as with stacked CMVN frames

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(self.conv1(x[:, None]))  # [N, C, T/S1, D/2]
        lengths1 = torch.div(lengths + self.stride1 - 1, self.stride1, rounding_mode="floor")
        mask = torch.arange(y.shape[2], device=y.device)[None, :] < lengths1[:, None]
        y = torch.relu(self.conv2(y * mask[:, None, :, None]))  # [N, C, T/S, D/4]
        n, c, t, f = y.shape
        out_lengths = torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")
        y = y.permute(0, 2, 1, 3).reshape(n, t, c * f)
        return self.norm(self.proj(y) if self.proj is not None else y), out_lengths


class BiLSTMCTC(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size <= 1:
            raise ValueError("ModelConfig.vocab_size must be set from tokens.txt (> 1)")
        self.cfg = cfg
        if cfg.frontend not in FRONTENDS:
            raise ValueError(f"ModelConfig.frontend must be one of {', '.join(FRONTENDS)}, got {cfg.frontend!r}")
        self.cmvn = GlobalCMVN(cfg.input_dim)
        self.frontend = (ConvFrontend(cfg.input_dim, cfg.conv_channels, cfg.conv_stride, cfg.conv_proj)
                         if cfg.frontend == "conv" else None)
        self.lstms = nn.ModuleList()
        self.projs = nn.ModuleList()
        in_dim = self.frontend.output_dim if self.frontend is not None else cfg.input_dim * cfg.stack
        for _ in range(cfg.layers):
            self.lstms.append(BiLSTMLayer(in_dim, cfg.hidden))
            out_dim = 2 * cfg.hidden
            if cfg.proj > 0:
                self.projs.append(nn.Linear(out_dim, cfg.proj))
                out_dim = cfg.proj
            in_dim = out_dim
        self.dropout = nn.Dropout(cfg.dropout)
        if cfg.upsample < 1 or cfg.subsampling % cfg.upsample:
            raise ValueError(f"ModelConfig.upsample must divide the time subsampling ({cfg.subsampling}), got {cfg.upsample}")
        self.output = nn.Linear(in_dim, cfg.upsample * cfg.vocab_size)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats [N, T, D], lengths [N] (frames) -> (log_probs [N, T', V], out_lengths [N])."""
        x = self.cmvn(feats)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        if self.cfg.utt_cmn:
            x = utterance_mean_normalised(x, mask)
        x = x * mask[..., None]  # padded frames are exactly zero after normalisation
        if self.frontend is not None:
            x, out_lengths = self.frontend(x, lengths)
        else:
            x, out_lengths = stack_frames(x, lengths, self.cfg.stack)
        for i, lstm in enumerate(self.lstms):
            y = lstm(x, out_lengths)
            if self.projs:
                y = self.projs[i](y)
            x = self.dropout(x + y if self.cfg.residual and x.shape[-1] == y.shape[-1] else y)
        logits = self.output(x)  # [N, T/S, U*V]
        u = self.cfg.upsample
        if u > 1:  # each step's U frames in time order; frames of padded steps lie past out_lengths * U
            logits = logits.reshape(logits.shape[0], logits.shape[1] * u, self.cfg.vocab_size)
        return logits.log_softmax(dim=-1), out_lengths * u


def output_frame_seconds(frame_shift_ms: float, subsampling: int, upsample: int = 1) -> float:
    """Seconds per output frame: the feature hop times the model's time subsampling, over its upsampling."""
    return frame_shift_ms * subsampling / upsample / 1000.0


def build_model(cfg: ModelConfig) -> BiLSTMCTC:
    """The acoustic model that cfg describes (untrained): what the recipe, training, a model directory
    and export all build through."""
    if cfg.arch not in ARCHS:
        raise ConfigError(f"model.arch: unknown architecture {cfg.arch!r}; known: {', '.join(ARCHS)}")
    return BiLSTMCTC(cfg)
