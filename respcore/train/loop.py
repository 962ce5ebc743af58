"""Training and evaluation primitives on in-memory tensors: one epoch, batched prediction, class
weights, SpecAugment. No DataLoader: features already sit in memory (or on the device)."""
from __future__ import annotations

import contextlib
from contextlib import nullcontext
from typing import ContextManager, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``; anything else is passed to ``torch.device``.

    Raises:
        ValueError: an unknown device name, or ``cuda`` on a machine without a CUDA GPU.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} but no CUDA GPU is available; use 'auto' or 'cpu'")
    return resolved


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` CPU threads inside the block (tiny models on a shared CPU run faster on one)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


PRECISIONS = ("fp32", "bf16")


def autocast(device: torch.device, precision: str) -> ContextManager:
    """The forward-pass context of a precision: ``bf16`` is torch autocast to bfloat16 on the device
    (weights, optimizer state and the loss stay float32); ``fp32`` is plain float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def class_weights(y: Tensor, n_classes: int) -> Tensor:
    """Weights inverse to class frequency, ``N / (C * n_c)``; 0 for a class absent from ``y``.

    Returns: (n_classes,) float32. A balanced set gets all ones.
    """
    counts = torch.bincount(y.cpu(), minlength=n_classes).double()
    present = counts > 0
    weights = torch.zeros(n_classes, dtype=torch.float64)
    weights[present] = len(y) / (int(present.sum()) * counts[present])
    return weights.float()


def spec_augment(x: Tensor, generator: torch.Generator, *, freq_masks: int = 2, time_masks: int = 2,
                 max_freq: int | None = None, max_time: int | None = None) -> Tensor:
    """SpecAugment masking (Park et al. 2019), vectorized over the batch.

    Each mask covers a random width in [0, max) at a random start, filled with the item's mean value
    (the input is in dB, where 0 is not silence). Defaults: max width = F // 8 and T // 8.

    Args:
        x: (B, 1, F, T) log-Mel.
    Returns: (B, 1, F, T) masked copy.
    """
    b, _, n_f, n_t = x.shape
    fill = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    keep = torch.ones(b, 1, n_f, n_t, dtype=torch.bool, device=x.device)
    for axis, n, count, width in ((2, n_f, freq_masks, max_freq or max(1, n_f // 8)),
                                  (3, n_t, time_masks, max_time or max(1, n_t // 8))):
        pos = torch.arange(n, device=x.device)  # (n,)
        for _ in range(count):  # widths and starts drawn on the CPU generator; masks built on x's device
            w = torch.randint(0, width, (b,), generator=generator)  # (B,)
            start = (torch.rand(b, generator=generator) * (n - w + 1).float()).long()  # (B,)
            w, start = w.to(x.device, non_blocking=True), start.to(x.device, non_blocking=True)
            hit = (pos[None] >= start[:, None]) & (pos[None] < (start + w)[:, None])  # (B, n)
            hit = hit[:, None, :, None] if axis == 2 else hit[:, None, None, :]
            keep &= ~hit
    return torch.where(keep, x, fill)


def random_crops(x: Tensor, lengths: Tensor, frames: int, generator: torch.Generator) -> Tensor:
    """A window of ``frames`` frames from each item, starting anywhere in its audio (``lengths``).

    Args:
        x: (B, 1, F, T) right-padded log-Mels; lengths: (B,) frames of audio in each.
    Returns:
        (B, 1, F, frames); an item shorter than ``frames`` gives its start (and padding).
    """
    frames = min(frames, x.shape[-1])
    room = (lengths.cpu() - frames).clamp(min=0)  # (B,) latest start that stays inside the audio
    start = (torch.rand(len(room), generator=generator) * (room + 1)).long()  # (B,) uniform in 0..room
    idx = (start[:, None] + torch.arange(frames)[None, :]).to(x.device)  # (B, frames)
    return torch.gather(x, 3, idx[:, None, None, :].expand(-1, x.shape[1], x.shape[2], -1))


def train_epoch(model: nn.Module, x: Tensor, y: Tensor, optimizer: torch.optim.Optimizer, *,
                batch_size: int, weight: Tensor | None, generator: torch.Generator,
                augment: bool = False, device: torch.device = torch.device("cpu"),
                precision: str = "fp32", lengths: Tensor | None = None, crop_frames: int = 0) -> float:
    """One pass over ``(x, y)`` in a random order drawn from ``generator``.

    With ``lengths`` and ``crop_frames``, each item is a fresh random crop (``random_crops``) of its
    recording. A last batch of a single item is skipped (BatchNorm cannot train on it). The loop never
    waits for the device: the order is moved there once, and the loss is summed there and read once at the end.
    Returns: mean training loss over the items seen.
    """
    model.train()
    n = len(y)
    order = torch.randperm(n, generator=generator)
    if x.device.type != "cpu":  # index the on-device features with an on-device index: no copy per step
        order = order.to(x.device)
    total, seen = torch.zeros((), device=device), 0
    for idx in order.split(batch_size):
        if len(idx) < 2 <= n:
            continue
        xb = x[idx].to(device, non_blocking=True)  # (b, 1, F, T)
        if crop_frames and lengths is not None:
            xb = random_crops(xb, lengths[idx.cpu()], crop_frames, generator)  # (b, 1, F, crop_frames)
        yb = y[idx].to(device, non_blocking=True)
        if augment:
            xb = spec_augment(xb, generator)
        with autocast(device, precision):
            logits = model(xb)  # (b, C)
        loss = F.cross_entropy(logits.float(), yb, weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(idx)
        seen += len(idx)
    return float(total) / max(seen, 1)


def predict_logits(model: nn.Module, x: Tensor, *, batch_size: int = 256,
                   device: torch.device | str = "cpu", precision: str = "fp32",
                   lengths: Tensor | None = None) -> Tensor:
    """Logits of the model in eval mode, in batches, under ``torch.inference_mode``; the batches'
    logits stay on the device and come back in one copy.

    With ``lengths`` (N,) each item is scored on its whole audio in one pass (``x[i, ..., :lengths[i]]``:
    the CNN-TSA pools over any number of frames), items of equal length batched together.
    Returns: (N, n_classes) float32 on the CPU.
    """
    if lengths is not None:
        out: Tensor | None = None
        for n in torch.unique(lengths).tolist():
            idx = torch.nonzero(lengths == n).flatten()
            logits = predict_logits(model, x[idx, ..., :n], batch_size=batch_size, device=device, precision=precision)
            out = logits.new_zeros(len(x), logits.shape[1]) if out is None else out
            out[idx] = logits
        if out is None:
            raise ValueError("predict_logits: no items to predict")
        return out
    device = torch.device(device)
    model.eval()
    out = []
    with torch.inference_mode(), autocast(device, precision):
        for xb in x.split(batch_size):
            out.append(model(xb.to(device, non_blocking=True)).float())
    if not out:
        raise ValueError("predict_logits: no items to predict")
    return torch.cat(out).cpu()
