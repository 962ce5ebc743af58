"""Cost of a model: multiply-accumulates (MACs), FLOPs and parameters.

Convention (state it wherever a figure is quoted):
- ``macs`` are multiply-accumulates of the network as counted by PyTorch's own
  ``torch.utils.flop_counter.FlopCounterMode``: convolutions, matrix products (linear layers, attention
  ``bmm`` and scaled-dot-product attention). Normalization, pooling, activations and softmax are not
  counted (they are a fraction of a percent for these networks). ``flops = 2 * macs``.
- The paper's "GFLOPs" are multiply-accumulates: CNN6 + post-aggregation TSA on 64 x 251 gives 2.475 G
  MACs here against the paper's 2.48 "GFLOPs". Compare published figures with ``macs``.
- With ``mel`` given, the log-Mel front end is added analytically (``frontend_macs``), per frame: Hann
  window (n_fft), a real FFT (n_fft * log2 n_fft: half a radix-2 complex FFT), power spectrum
  (2 per bin), the Mel filterbank as the dense product torchaudio computes, for the kept bands only
  (bins x bands) and one operation per band for the dB log. It counts the input's frames and bands, so a
  band selection lowers it too.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .features import MelConfig


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def frontend_macs(mel: MelConfig, n_bands: int, n_frames: int) -> int:
    """Analytic multiply-accumulates of the log-Mel front end for one input of (n_bands, n_frames).

    See the module docstring for the convention; ``n_bands`` is the number of Mel bands kept.
    """
    if n_bands < 1 or n_frames < 1:
        raise ValueError(f"need positive n_bands and n_frames, got {n_bands}, {n_frames}")
    if n_bands > mel.n_mels:
        raise ValueError(f"input has {n_bands} bands but the Mel configuration has only {mel.n_mels}")
    bins = mel.n_fft // 2 + 1
    per_frame = (mel.n_fft  # window
                 + round(mel.n_fft * math.log2(mel.n_fft))  # real FFT
                 + 2 * bins  # |X|^2 = re^2 + im^2
                 + bins * n_bands  # Mel filterbank product (kept bands only)
                 + n_bands)  # 10 log10
    return per_frame * n_frames


def count_flops(model: nn.Module, input_shape: Sequence[int], *, mel: MelConfig | None = None) -> dict:
    """Count one forward pass of ``model`` on a zero input of ``input_shape`` (B, 1, F, T).

    The model runs in eval mode under ``torch.no_grad`` (its training flag is restored afterwards).

    Returns:
        {"macs", "flops" (= 2 * macs), "params"} as ints; "macs_by_module", MACs of every submodule
        that does any, keyed by its name in ``model.named_modules()`` (e.g. "tsa", "blocks.block1");
        and with ``mel`` also "frontend_macs", "macs_with_frontend", "flops_with_frontend" (front end
        counted for all B inputs).
    Example: ``count_flops(build_model("cnn6", 4), (1, 1, 64, 251))["macs"]`` is about 2.475e9.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"input_shape must be a positive (B, 1, F, T), got {tuple(input_shape)}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(torch.zeros(shape, device=device, dtype=dtype))
    finally:
        model.train(was_training)
    flops = int(counter.get_total_flops())
    by_module = {}
    for name, ops in counter.get_flop_counts().items():
        parts = name.split(".", 1)  # the counter prefixes the root module's class name
        if len(parts) == 2 and sum(ops.values()):
            by_module[parts[1]] = int(sum(ops.values())) // 2
    out = {"macs": flops // 2, "flops": flops, "params": count_params(model), "macs_by_module": by_module}
    if mel is not None:
        front = shape[0] * frontend_macs(mel, shape[2], shape[3])
        out.update(frontend_macs=front, macs_with_frontend=out["macs"] + front,
                   flops_with_frontend=2 * (out["macs"] + front))
    return out
