"""The paper's attention head: frequency aggregation and temporal self-attention (PAPER.md, "CNN-TSA").

Sequences are channel-first, ``(B, d, T)``: ``d`` features per token, one token per frame, so the
projections are 1x1 convolutions and the FLOP counter sees them as convolutions.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class FrequencyAggregation(nn.Module):
    """Collapse the frequency axis: ``z = mean_f(x) + max_f(x)``.

    Args:
        x: (B, C, F, T) feature map.
    Returns:
        (B, C, T) time sequence.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"FrequencyAggregation expects (B, C, F, T), got {tuple(x.shape)}")
        return x.mean(dim=2) + x.amax(dim=2)  # (B, C, T)


class TemporalSelfAttention(nn.Module):
    """Scaled dot-product self-attention over time with a learnable residual scale (SAGAN form).

    ``q, k = W_q z, W_k z`` (width ``d // 8``, at least 1), ``v = W_v z`` (width ``d``),
    ``A = softmax(q^T k / sqrt(d // 8))`` over the key frames, output ``gamma * (v A^T) + z``.
    ``gamma`` starts at 0, so a fresh block is the identity and attention is phased in by training.
    No positional encoding (the paper gives none).

    Args:
        dim: d, features per token.
    Example: ``TemporalSelfAttention(512)(torch.randn(2, 512, 15)).shape == (2, 512, 15)``
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"TemporalSelfAttention needs dim >= 1, got {dim}")
        self.dim = dim
        self.qk_dim = max(1, dim // 8)
        self.query = nn.Conv1d(dim, self.qk_dim, kernel_size=1)
        self.key = nn.Conv1d(dim, self.qk_dim, kernel_size=1)
        self.value = nn.Conv1d(dim, dim, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, z: Tensor) -> Tensor:
        """Args: z (B, d, T). Returns: (B, d, T)."""
        if z.dim() != 3 or z.shape[1] != self.dim:
            raise ValueError(f"TemporalSelfAttention({self.dim}) expects (B, {self.dim}, T), got {tuple(z.shape)}")
        q = self.query(z)  # (B, d/8, T)
        k = self.key(z)  # (B, d/8, T)
        v = self.value(z)  # (B, d, T)
        energy = torch.bmm(q.transpose(1, 2), k) / math.sqrt(self.qk_dim)  # (B, T_query, T_key)
        attn = energy.softmax(dim=-1)  # each query frame's weights over key frames
        out = torch.bmm(v, attn.transpose(1, 2))  # (B, d, T_query)
        return self.gamma * out + z

    def extra_repr(self) -> str:
        return f"dim={self.dim}, qk_dim={self.qk_dim}"
