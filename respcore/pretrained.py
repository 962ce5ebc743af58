"""Start a CNN from AudioSet-pretrained PANNs CNN6 weights (PAPER.md, "Training": worth about 1.3 ICBHI
points in the public recipe). The user supplies the checkpoint file (e.g. ``Cnn6_mAP=0.343.pth`` from
the PANNs release); nothing is downloaded here.

PANNs names its CNN6 layers ``bn0``, ``conv_block{k}.conv1``, ``conv_block{k}.bn1``; ours are ``bn0``,
``blocks.block{k}.conv``, ``blocks.block{k}.bn``. Tensors whose shape differs (another width, another
band count for ``bn0``) are skipped and listed; the head is always ours (other classes).
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

_PANNS_KEY = re.compile(r"^conv_block(\d)\.(conv1|bn1)\.(.+)$")


def panns_to_ours(key: str) -> str | None:
    """Our parameter name for a PANNs CNN6 one (None for layers we do not have: front end, heads)."""
    if key.startswith("bn0."):
        return key
    m = _PANNS_KEY.match(key)
    if m is None:
        return None
    block, layer, rest = m.groups()
    return f"blocks.block{block}.{'conv' if layer == 'conv1' else 'bn'}.{rest}"


def load_panns(model: nn.Module, path: str | Path) -> dict[str, list[str]]:
    """Copy matching PANNs CNN6 weights from ``path`` into ``model`` in place.

    Returns: {"loaded": our names copied, "skipped": "name: reason" for PANNs tensors not used}.
    Raises: ValueError naming the file when it holds no usable CNN6 tensor.
    """
    path = Path(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read this checkpoint ({exc})") from exc
    state = saved.get("model", saved) if isinstance(saved, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict (or {{'model': state dict}}), got {type(saved).__name__}")
    ours = model.state_dict()
    update, loaded, skipped = {}, [], []
    for key, value in state.items():
        name = panns_to_ours(key)
        if name is None or name not in ours:
            skipped.append(f"{key}: no such layer here")
        elif ours[name].shape != value.shape:
            skipped.append(f"{key}: shape {tuple(value.shape)} vs ours {tuple(ours[name].shape)}")
        else:
            update[name] = value.to(ours[name].dtype)
            loaded.append(name)
    if not any(".conv." in n for n in loaded):
        raise ValueError(f"{path}: no PANNs CNN6 conv weight fits this model (width 1.0 CNN6/CNN3 needed); "
                         f"first reasons: {skipped[:3]}")
    model.load_state_dict(update, strict=False)
    return {"loaded": loaded, "skipped": skipped}
