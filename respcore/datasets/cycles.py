"""Cutting respiratory cycles (or events) out of a recording and bringing them to one fixed length.

PAPER.md, "Front end": every cycle becomes ``MelConfig.cycle_seconds`` long; longer cycles are cropped
(their start is kept), shorter ones are repeated to length (circular padding) with a short linear fade at
each seam so that the repeats do not add clicks.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..features import MelConfig


def cut(wave: Tensor, sample_rate: int, start: float, end: float) -> Tensor:
    """Samples of ``wave`` (L,) between ``start`` and ``end`` seconds (clipped to the audio).

    Returns:
        (l,) view of the segment, at least one sample long.
    """
    n = wave.shape[-1]
    a = min(max(int(round(start * sample_rate)), 0), n - 1)
    b = min(max(int(round(end * sample_rate)), a + 1), n)
    return wave[..., a:b]


def fit_length(segments: Sequence[Tensor], n_samples: int, fade_samples: int) -> Tensor:
    """Crop or circularly pad each 1-D segment to ``n_samples``, all at once.

    A segment of length ``l < n_samples`` is tiled; at each seam the copy before it fades out and the
    copy after it fades in linearly over ``min(fade_samples, l // 2)`` samples. The very start of the
    first copy and the end of the last are left untouched.

    Returns:
        (B, n_samples) float32.
    """
    if not segments:
        return torch.zeros(0, n_samples)
    lengths = torch.tensor([min(s.shape[-1], n_samples) for s in segments])  # (B,)
    if (lengths < 1).any():
        raise ValueError("cannot fit an empty segment")
    padded = torch.zeros(len(segments), n_samples)  # (B, n)
    for row, seg in enumerate(segments):  # one copy per segment; the tiling below is vectorized
        padded[row, : lengths[row]] = seg[:n_samples]
    pos = torch.arange(n_samples)  # (n,)
    length = lengths[:, None]  # (B, 1)
    within = pos[None, :] % length  # (B, n) position inside the current copy
    copy = pos[None, :] // length  # (B, n) which copy
    out = torch.gather(padded, 1, within)  # (B, n)
    fade = torch.clamp(torch.minimum(torch.full_like(length, fade_samples), length // 2), min=1).float()
    gain_in = torch.where(copy > 0, torch.clamp((within + 1).float() / fade, max=1.0), torch.ones(()))
    seam_follows = (pos[None, :] - within + length) < n_samples  # (B, n) the next copy starts in range
    gain_out = torch.where(seam_follows, torch.clamp((length - within).float() / fade, max=1.0), torch.ones(()))
    return out * gain_in * gain_out  # (B, n)


def fit_cycles(segments: Sequence[Tensor], mel: MelConfig) -> Tensor:
    """``fit_length`` with the lengths of ``mel``: (B, mel.cycle_samples) at ``mel.sample_rate``."""
    fade = int(round(mel.fade_seconds * mel.sample_rate))
    return fit_length(segments, mel.cycle_samples, fade)
