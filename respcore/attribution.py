"""Band attributions with captum (PAPER.md, "FBS" step 3): how much each Mel band drives each class.

Methods (an argument, so the study can compare them):
- ``"gradcam"``: ``LayerGradCam`` on ``model.conv_layer(layer)`` (ReLU'd, as Grad-CAM defines it),
  upsampled bilinearly from the layer's (F', T') grid to the input's (F, T).
- ``"ig"``: ``IntegratedGradients`` on the input, absolute value; the baseline is a flat spectrogram at
  the data's mean level (0 dB is not silence in a log-Mel). Works for any model (the transformer).
- ``"saliency"``: absolute input gradient (captum ``Saliency``), the cheapest.
Each is averaged over time and over the samples of a class, then normalized to sum to 1 per class.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from captum.attr import IntegratedGradients, LayerGradCam, Saliency
from torch import Tensor, nn

from .datasets.base import FeatureSet

METHODS = ("gradcam", "ig", "saliency")
# The conv block FBS's Grad-CAM hooks: block 1, the finest frequency resolution it can see (F/2 rows: 32 on
# 64 bands), not the last block (F/16 = 4 rows) (PAPER.md, FBS step 3). Measured on the cpu-profile synthetic corpus (top-30 bands by
# importance vs the 30 planted ones, chance 0.47): block 1 0.83-0.93 multiclass but 0.23-0.27 binary; block 2
# 0.23-0.53 and 0.10-0.30; last block 0.50-0.53 and 0.33-0.53; Integrated Gradients 0.67-0.77 on both tasks
# (benchmarks/attribution_layers.py; its output in benchmarks/results/attribution_layers.csv).
GRADCAM_LAYER = 1


def attribution_layer(backbone: str, method: str) -> int | None:
    """The conv block Grad-CAM hooks for this backbone (None: the method needs no layer)."""
    return GRADCAM_LAYER if method == "gradcam" and backbone != "transformer" else None


def band_attributions(model: nn.Module, data: FeatureSet, method: str = "gradcam", *, layer: int | None = None,
                      per_class: bool = True, batch_size: int = 64, ig_steps: int = 16) -> Tensor:
    """Per-class band importance of ``model`` on ``data`` (e.g. a fold's validation set).

    Each sample is attributed to its TRUE class; with ``per_class`` the samples of class c give row c.
    Args:
        layer: conv block for Grad-CAM (1-based; None = the last, coarsest in frequency).
        ig_steps: integration steps for ``"ig"``.
    Returns:
        (n_classes, n_bands) float32 rows summing to 1 (``(1, n_bands)`` without ``per_class``); a class
        with no sample in ``data`` gets a row of NaN; a row with no positive attribution is uniform.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {METHODS}")
    if len(data) == 0:
        raise ValueError("band_attributions: empty feature set")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        attribute = _method(model, method, layer, data, ig_steps, batch_size)
        groups = range(data.n_classes) if per_class else [None]
        rows = []
        for c in groups:
            idx = torch.arange(len(data)) if c is None else torch.nonzero(data.y == c).flatten()
            if len(idx) == 0:
                rows.append(torch.full((data.n_bands,), float("nan")))
                continue
            total = torch.zeros(data.n_bands, dtype=torch.float64)
            for chunk in idx.split(batch_size):
                x = data.x[chunk].to(device).requires_grad_()  # (b, 1, F, T); captum needs the graph
                target = data.y[chunk].to(device)
                a = attribute(x, target)  # (b, 1, F, T), non-negative
                total += a.detach().double().sum(dim=(0, 1, 3)).cpu()  # (F,)
            rows.append((total / len(idx)).float())
    finally:
        model.train(was_training)
    return _normalize(torch.stack(rows))  # (C, F)


def band_attributions_many(items: Sequence[tuple[nn.Module, FeatureSet]], method: str = "gradcam", *,
                           layer: int | None = None, batch_size: int = 64, ig_steps: int = 16,
                           threads: int | None = None) -> list[Tensor]:
    """``band_attributions`` of several independent (model, data) pairs (an IS round's fold models on their
    validation folds), one thread each, up to ``threads`` at once (None: the machine's cores; 1: one after
    the other). Torch releases the GIL, so the pairs share the cores; each op keeps the caller's torch threads.

    Returns: one (n_classes, n_bands) tensor per pair, in the order of ``items``.
    """
    workers = max(1, min(len(items), threads or os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: band_attributions(item[0], item[1], method, layer=layer,
                                                            batch_size=batch_size, ig_steps=ig_steps), items))


def _method(model: nn.Module, method: str, layer: int | None, data: FeatureSet, ig_steps: int,
            batch_size: int) -> Callable[[Tensor, Tensor], Tensor]:
    """A function (x (b, 1, F, T), target (b,)) -> (b, 1, F, T) non-negative attribution."""
    if method == "gradcam":
        if not hasattr(model, "conv_layer"):
            raise ValueError(f"{type(model).__name__} has no conv_layer(); use method='ig' for it")
        cam = LayerGradCam(model, model.conv_layer(layer))

        def gradcam(x: Tensor, target: Tensor) -> Tensor:
            a = cam.attribute(x, target=target, relu_attributions=True)  # (b, 1, F', T')
            return F.interpolate(a, size=x.shape[-2:], mode="bilinear", align_corners=False)  # (b, 1, F, T)
        return gradcam
    if method == "ig":
        ig = IntegratedGradients(model)
        level = float(data.x.mean())  # flat baseline at the data's mean level

        def integrated(x: Tensor, target: Tensor) -> Tensor:
            base = torch.full_like(x, level)
            return ig.attribute(x, baselines=base, target=target, n_steps=ig_steps,
                                internal_batch_size=batch_size).abs()
        return integrated
    sal = Saliency(model)
    return lambda x, target: sal.attribute(x, target=target, abs=True)


def _normalize(rows: Tensor) -> Tensor:
    """Rows to sum 1; an all-zero row becomes uniform; NaN rows stay NaN. (C, F) -> (C, F)."""
    rows = rows.clamp_min(0)
    sums = rows.sum(dim=1, keepdim=True)  # (C, 1)
    uniform = torch.full_like(rows, 1.0 / rows.shape[1])
    return torch.where(sums > 0, rows / sums.clamp_min(1e-30), torch.where(sums.isnan(), rows, uniform))
