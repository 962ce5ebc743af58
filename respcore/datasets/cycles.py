"""Cutting respiratory cycles (or events) out of a recording and bringing them to one fixed length.

PAPER.md, "Front end": every cycle becomes ``MelConfig.cycle_seconds`` long; longer cycles are cropped
(their start is kept), shorter ones are repeated to length (circular padding) with a short linear fade at
each seam so that the repeats do not add clicks.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
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
    """Crop or circularly pad each 1-D segment to ``n_samples``.

    A segment of length ``l < n_samples`` is tiled; at each seam the copy before it fades out and the
    copy after it fades in linearly over ``f = min(fade_samples, l // 2)`` samples (gains 1/f .. 1). The
    very start of the first copy and the end of the last are left untouched.

    Returns:
        (B, n_samples) float32.
    """
    if not segments:
        return torch.zeros(0, n_samples)
    # numpy, not torch: these are small memory-bound ops, and torch's intra-op threads only add
    # synchronisation cost to them on a loaded machine
    out = np.stack([_fit_one(np.asarray(seg, dtype=np.float32), n_samples, fade_samples) for seg in segments])
    return torch.from_numpy(out)  # (B, n)


def _fit_one(seg: np.ndarray, n: int, fade: int) -> np.ndarray:
    length = seg.shape[-1]
    if length < 1:
        raise ValueError("cannot fit an empty segment")
    if length >= n:
        return seg[:n]
    f = max(1, min(fade, length // 2))
    ramp = np.arange(1, f + 1, dtype=np.float32) / f  # (f,) rising to 1
    taper = np.ones(length, dtype=np.float32)
    taper[:f] = ramp
    taper[length - f :] = np.minimum(taper[length - f :], ramp[::-1])
    copies = -(-n // length)
    out = np.tile(seg * taper, copies)  # (copies * length,) every copy faded at both ends
    out[:f] = seg[:f]  # nothing comes before the first copy
    end = copies * length
    out[end - f : end] = seg[length - f :]  # nothing comes after the last copy
    return out[:n]


def fit_cycles(segments: Sequence[Tensor], mel: MelConfig) -> Tensor:
    """``fit_length`` with the lengths of ``mel``: (B, mel.cycle_samples) at ``mel.sample_rate``."""
    fade = int(round(mel.fade_seconds * mel.sample_rate))
    return fit_length(segments, mel.cycle_samples, fade)
