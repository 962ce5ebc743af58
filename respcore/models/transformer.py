"""A small AST-like transformer over log-Mel patches, for the model-agnostic FBS experiment.

    bn0 over Mel bins -> zero-pad F, T to whole patches -> patch embedding (conv, stride = patch)
      -> + frequency position + time position -> pre-norm encoder layers -> token grid (B, D, F', T')
      -> head: "none" = mean over all patches (AST mean pooling; no CLS token)
               "post" = FrequencyAggregation -> TemporalSelfAttention -> temporal mean (the CNN-TSA head)
      -> dropout -> linear

Separate learnable frequency and time position embeddings (as AST's factorized variants do) let one
model size serve any band count up to ``max_bands``: a reduced band set simply uses fewer rows.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F_
from torch import Tensor, nn

from ..features import check_logmel
from .tsa import FrequencyAggregation, TemporalSelfAttention

TRANSFORMER_PLACEMENTS = ["none", "post"]


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer: x + MHSA(LN(x)), then x + MLP(LN(x)). (B, N, D) -> (B, N, D)."""

    def __init__(self, dim: int, heads: int, *, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"embedding dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        B, N, D = x.shape
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)  # each (B, N, D)
        q, k, v = (t.reshape(B, N, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, N, D/H)
        # explicit products rather than F.scaled_dot_product_attention: torch's FLOP counter misses the
        # fused CPU kernel, and the attention matrices are small at these sizes
        weights = (q @ k.transpose(-2, -1) / math.sqrt(D // self.heads)).softmax(dim=-1)  # (B, H, N, N)
        attn = weights @ v  # (B, H, N, D/H)
        x = x + self.proj(attn.transpose(1, 2).reshape(B, N, D))  # (B, N, D)
        return x + self.mlp(self.norm2(x))


class SpectrogramTransformer(nn.Module):
    """AST-like classifier over (frequency x time) patches of a log-Mel spectrogram.

    Args:
        n_classes: output logits.
        n_bands: Mel bands of the input, 1..max_bands.
        dim, depth, heads: embedding width, encoder layers, attention heads.
        patch: (bands, frames) per patch; the input is zero-padded (after bn0) to whole patches.
        tsa: "none" (mean pooling over patches) or "post" (frequency aggregation + TSA over patch columns).
        dropout: in the MLPs and before the linear head.
        n_frames: frames the time position embedding is sized for (default 1024); longer inputs interpolate it.
        max_bands: bands the frequency position embedding is sized for.
    Input (B, 1, n_bands, T) -> (B, n_classes) logits.
    """

    def __init__(self, *, n_classes: int, n_bands: int = 64, dim: int = 192, depth: int = 4, heads: int = 4,
                 patch: tuple[int, int] = (8, 8), tsa: str = "none", dropout: float = 0.2,
                 n_frames: int | None = None, max_bands: int = 128) -> None:
        super().__init__()
        if not 1 <= n_bands <= max_bands:
            raise ValueError(f"transformer accepts 1..{max_bands} Mel bands, got n_bands={n_bands}")
        if tsa not in TRANSFORMER_PLACEMENTS:
            raise ValueError(f"unknown TSA placement {tsa!r} for the transformer; "
                             f"choose one of {TRANSFORMER_PLACEMENTS}")
        if n_frames is not None and n_frames < 1:
            raise ValueError(f"n_frames must be positive, got {n_frames}")
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        self.n_bands, self.n_classes, self.placement, self.n_frames = n_bands, n_classes, tsa, n_frames
        self.patch = (int(patch[0]), int(patch[1]))
        self.arch: dict = {}  # filled by build_model: the arguments that rebuild this model
        pf, pt = self.patch
        max_time_patches = -(-(n_frames or 1024) // pt)

        self.bn0 = nn.BatchNorm2d(n_bands)  # per-bin normalization, as in the CNNs
        self.patch_embed = nn.Conv2d(1, dim, kernel_size=self.patch, stride=self.patch)
        self.freq_pos = nn.Parameter(0.02 * torch.randn(1, dim, -(-max_bands // pf), 1))
        self.time_pos = nn.Parameter(0.02 * torch.randn(1, dim, 1, max_time_patches))
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, dropout=dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.aggregate = FrequencyAggregation()
        self.tsa = TemporalSelfAttention(dim) if tsa == "post" else None
        self.head_drop = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, n_classes)

    def conv_layer(self, k: int | None = None) -> nn.Module:
        """The patch embedding, the one layer with a (B, D, F', T') map of the input; ``k`` must be None or 1."""
        if k not in (None, 1):
            raise ValueError(f"the transformer has one conv layer (the patch embedding); got k={k}")
        return self.patch_embed

    def _time_pos(self, n: int) -> Tensor:
        if n <= self.time_pos.shape[-1]:
            return self.time_pos[..., :n]  # (1, D, 1, n)
        return F_.interpolate(self.time_pos[:, :, 0], size=n, mode="linear", align_corners=True).unsqueeze(2)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 1, n_bands, T) log-Mel -> (B, D, ceil(n_bands / pf), ceil(T / pt)) encoded token grid."""
        check_logmel(x, self.n_bands)
        pf, pt = self.patch
        x = self.bn0(x.transpose(1, 2)).transpose(1, 2)  # (B, 1, F, T), each bin normalized
        x = F_.pad(x, (0, -x.shape[3] % pt, 0, -x.shape[2] % pf))  # zero-pad T then F to whole patches
        x = self.patch_embed(x)  # (B, D, F', T')
        B, D, Fp, Tp = x.shape
        x = x + self.freq_pos[:, :, :Fp] + self._time_pos(Tp)  # (B, D, F', T')
        tokens = x.flatten(2).transpose(1, 2)  # (B, F'*T', D), frequency-major
        for layer in self.layers:
            tokens = layer(tokens)
        tokens = self.norm(tokens)
        return tokens.transpose(1, 2).reshape(B, D, Fp, Tp)  # (B, D, F', T')

    def forward_head(self, features: Tensor) -> Tensor:
        """(B, D, F', T') token grid -> (B, n_classes) logits."""
        if self.tsa is None:
            z = features.mean(dim=(2, 3))  # (B, D): mean over all patches
        else:
            z = self.tsa(self.aggregate(features)).mean(dim=2)  # (B, D, T') -> (B, D)
        return self.fc(self.head_drop(z))

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, n_bands, T) log-Mel -> (B, n_classes) logits."""
        return self.forward_head(self.forward_features(x))
