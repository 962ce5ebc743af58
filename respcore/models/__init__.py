"""Models: CNN-TSA over a CNN6 or 3-block CNN backbone, and a small spectrogram transformer.

Build every model through ``build_model``; the registry ``BACKBONES`` names the variants (variants are
arguments, never copied classes). Inputs are log-Mel batches (B, 1, n_bands, T); outputs (B, n_classes) logits.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .cnn import CNN6_CHANNELS, CNNTSA, ConvBlock, tsa_placements
from .gate import BandGate, GatedModel
from .pretrained import load_panns_cnn6
from .transformer import TRANSFORMER_PLACEMENTS, EncoderLayer, SpectrogramTransformer
from .tsa import FrequencyAggregation, TemporalSelfAttention

__all__ = ["build_model", "BACKBONES", "PLACEMENTS", "CNNTSA", "ConvBlock", "FrequencyAggregation",
           "TemporalSelfAttention", "SpectrogramTransformer", "EncoderLayer", "CNN6_CHANNELS", "scaled",
           "load_panns_cnn6", "BandGate", "GatedModel"]


def scaled(base: int, width: float, multiple: int = 1) -> int:
    """``base * width`` rounded to a positive multiple of ``multiple`` (channel or embedding width)."""
    return multiple * max(1, round(base * width / multiple))


def _cnn(n_blocks: int) -> Callable[..., nn.Module]:
    def make(n_classes: int, n_bands: int, tsa: str, *, width: float, dropout: float,
             n_frames: int | None) -> nn.Module:
        channels = [scaled(c, width) for c in CNN6_CHANNELS[:n_blocks]]
        return CNNTSA(n_classes=n_classes, n_bands=n_bands, channels=channels, tsa=tsa, dropout=dropout,
                      n_frames=n_frames)
    return make


def _transformer(n_classes: int, n_bands: int, tsa: str, *, width: float, dropout: float,
                 n_frames: int | None) -> nn.Module:
    # width scales the embedding (192 at width 1, as small ViTs use), kept a multiple of 16 for 4 heads
    return SpectrogramTransformer(n_classes=n_classes, n_bands=n_bands, dim=scaled(192, width, 16), depth=4,
                                  heads=4, tsa=tsa, dropout=dropout, n_frames=n_frames)


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "cnn6": _cnn(4),  # PANNs CNN6: 64-128-256-512, needs >= 16 bands
    "cnn3": _cnn(3),  # its first three blocks (the paper's SPRSound backbone), needs >= 8 bands
    "transformer": _transformer,  # AST-like patch transformer; tsa "none" or "post" only
}
PLACEMENTS: dict[str, list[str]] = {
    "cnn6": tsa_placements(4), "cnn3": tsa_placements(3), "transformer": list(TRANSFORMER_PLACEMENTS)}


def build_model(backbone: str, n_classes: int, n_bands: int = 64, tsa: str = "post", *, width: float = 1.0,
                dropout: float = 0.2, n_frames: int | None = None, gate: int = 0,
                gate_prior: Sequence[int] | None = None) -> nn.Module:
    """A classifier for log-Mel batches (B, 1, n_bands, T) returning (B, n_classes) logits.

    Args:
        backbone: "cnn6", "cnn3" or "transformer" (see ``BACKBONES``).
        n_classes: number of classes.
        n_bands: Mel bands the model will be fed (after any band selection).
        tsa: "none", "input", "block1".."block4" ("block3" at most for cnn3) or "post"; the transformer
            takes "none" (mean pooling over patches) or "post" (the CNN-TSA head over patch columns).
        width: multiplies the channel widths (CNN) or the embedding width (transformer); 1.0 = as published.
        dropout: dropout probability (after each conv block / in the MLPs, and before the head).
        n_frames: frames per input if known (checked; sizes the transformer's time position embedding).
        gate: 0, or a budget of bands: a ``BandGate`` keeps that many of the ``n_bands`` per sample and
            the backbone is built for them (dynamic band selection, ``GatedModel``).
        gate_prior: with ``gate``, the static selection the gate starts from (``BandGate``'s ``prior``).
    Returns:
        the model, with ``model.arch`` holding these arguments: ``build_model(**model.arch)`` rebuilds it.
    Raises:
        ValueError: unknown backbone or placement, too few bands, bad width or dropout.

    Example: ``build_model("cnn6", 4)(torch.randn(2, 1, 64, 251)).shape == (2, 4)``
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
    if tsa not in PLACEMENTS[backbone]:
        raise ValueError(f"unknown TSA placement {tsa!r} for {backbone}; choose one of {PLACEMENTS[backbone]}")
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if not 0 <= gate <= n_bands:
        raise ValueError(f"gate must be 0 (none) or a band budget in 1..{n_bands}, got {gate}")
    if gate_prior is not None and not gate:
        raise ValueError("gate_prior needs a gate (a band budget)")
    model = BACKBONES[backbone](int(n_classes), int(gate or n_bands), tsa, width=float(width),
                                dropout=float(dropout), n_frames=n_frames)
    if gate:
        model = GatedModel(BandGate(n_bands=int(n_bands), budget=int(gate), prior=gate_prior), model)
    model.arch = {"backbone": backbone, "n_classes": int(n_classes), "n_bands": int(n_bands), "tsa": tsa,
                  "width": float(width), "dropout": float(dropout), "n_frames": n_frames,
                  **({"gate": int(gate)} if gate else {}),
                  **({"gate_prior": [int(b) for b in gate_prior]} if gate_prior is not None else {})}
    if backbone != "transformer":
        # NHWC conv weights take oneDNN's (and cuDNN's) fast path: a training step 1.39x faster in the cpu
        # profile (benchmarks/README.md); the (B, 1, F, T) input needs no change, results agree to 2e-7.
        model = model.to(memory_format=torch.channels_last)
    return model
