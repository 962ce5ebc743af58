"""Start a CNN backbone from the AudioSet-pretrained PANNs CNN6 checkpoint (Kong et al. 2020).

The checkpoint (e.g. ``Cnn6_mAP=0.343.pth``) is a file the user already has; nothing is downloaded.
PANNs feeds ``(B, 1, T, F)`` (time before Mel bin) while we feed ``(B, 1, F, T)``, so every 5x5 kernel
is transposed on loading. PANNs' own front end (32 kHz, 50-14000 Hz) differs from ours, so its ``bn0``
statistics describe other Mel bins: they are loaded only when asked (``load_bn0=True``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import Tensor

from .cnn import CNN6_CHANNELS, CNNTSA


def _read_state(checkpoint: str | Path | Mapping[str, Tensor]) -> tuple[Mapping[str, Tensor], str]:
    if isinstance(checkpoint, Mapping):
        state, where = checkpoint, "the given state dict"
    else:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"PANNs checkpoint not found: {path}")
        state, where = torch.load(path, map_location="cpu", weights_only=True), str(path)
    if "model" in state and isinstance(state["model"], Mapping):
        state = state["model"]  # PANNs saves {"model": state_dict, "iteration": ...}
    return state, where


def load_panns_cnn6(model: CNNTSA, checkpoint: str | Path | Mapping[str, Tensor], *, load_bn0: bool = False,
                    bands: Sequence[int] | None = None) -> list[str]:
    """Copy PANNs CNN6 conv-block weights (and optionally bn0) into a full-width CNN6 or 3-block model.

    Args:
        model: a ``CNNTSA`` with widths 64-128-256-512 (or their first three).
        checkpoint: path to the PANNs ``.pth`` file, or its state dict.
        load_bn0: also copy the Mel-bin batch norm (64 bins); with a band selection, its kept rows.
        bands: the kept Mel band indices when the model sees fewer than 64 bands (only used for bn0).
    Returns:
        the names of the model parameters and buffers that were overwritten. The TSA and the linear
        head keep their fresh initialization.
    Raises:
        ValueError: a model of other widths, a checkpoint without CNN6 keys or with other shapes.
    """
    if not isinstance(model, CNNTSA) or model.channels != CNN6_CHANNELS[:model.n_blocks]:
        raise ValueError("load_panns_cnn6 needs a CNNTSA at width 1.0 (channels 64-128-256[-512]), "
                         f"got {getattr(model, 'channels', type(model).__name__)}")
    state, where = _read_state(checkpoint)
    own = model.state_dict()
    updates: dict[str, Tensor] = {}
    for k in range(1, model.n_blocks + 1):
        for ours, theirs in [("conv.weight", "conv1.weight"), ("bn.weight", "bn1.weight"), ("bn.bias", "bn1.bias"),
                             ("bn.running_mean", "bn1.running_mean"), ("bn.running_var", "bn1.running_var")]:
            key = f"conv_block{k}.{theirs}"
            if key not in state:
                raise ValueError(f"{where} has no {key!r}: not a PANNs CNN6 checkpoint")
            tensor = state[key]
            if ours == "conv.weight":
                tensor = tensor.transpose(-1, -2)  # PANNs kernels are (time, Mel); ours are (Mel, time)
            name = f"blocks.block{k}.{ours}"
            if tensor.shape != own[name].shape:
                raise ValueError(f"{where}: {key} has shape {tuple(tensor.shape)}, "
                                 f"model needs {tuple(own[name].shape)}")
            updates[name] = tensor
    if load_bn0:
        index = list(range(model.n_bands)) if bands is None else [int(b) for b in bands]
        if len(index) != model.n_bands:
            raise ValueError(f"model has {model.n_bands} bands but {len(index)} band indices were given")
        for stat in ("weight", "bias", "running_mean", "running_var"):
            key = f"bn0.{stat}"
            if key not in state:
                raise ValueError(f"{where} has no {key!r}: not a PANNs CNN6 checkpoint")
            if max(index) >= state[key].shape[0]:
                raise ValueError(f"{where}: bn0 has {state[key].shape[0]} Mel bins, bands go up to {max(index)}")
            updates[key] = state[key][index]
    model.load_state_dict(updates, strict=False)
    return sorted(updates)
