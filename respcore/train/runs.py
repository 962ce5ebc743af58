"""Run folders and the run cache: one training = one folder keyed by what determines its result.

A run folder ``<root>/<key>/`` holds, once finished::

    config.json    the TrainConfig, data fingerprints and fold indices hash that make the key
    history.csv    one row per epoch: loss, learning rate, validation and test scores
    result.json    final scores (written last: its presence marks the run as finished)
    model.pt       weights of the validation-chosen epoch, with the model's build arguments

and, while it runs, ``checkpoint.pt`` (state after the last finished epoch, for resuming). Every file
is written atomically (``respcore.fileio``), so a killed run never leaves a corrupt file.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from ..datasets.base import FeatureSet
from ..fileio import atomic_write, read_json, stable_hash, write_json


CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"

_SAMPLE_VALUES = 4096  # values of x hashed verbatim; every value enters through an exact bit checksum
_META_COLUMNS = ("recording", "patient", "label")  # the meta columns that identify the items
_CHUNK_VALUES = 1 << 22  # values of x per checksum step (bounds the int64 temporary)


def data_fingerprint(data: FeatureSet | None) -> str | None:
    """Cheap hash of a feature set that depends only on its content, ``None`` for ``None``.

    Hashed: shape of ``x`` (N, 1, F, T), class names, labels ``y`` as int64, ``bands``, the Mel settings,
    the meta columns ``recording``, ``patient``, ``label`` in that order as canonical strings (so object,
    string, category or numeric dtypes, column order, the index and extra columns do not matter), an
    evenly spaced sample of ``x`` as contiguous float32 bytes and an order-independent int64 checksum of
    the float32 bit patterns of all of ``x`` (so contiguity, device and float dtype do not matter).
    Cost is one pass over ``x``, milliseconds for an ICBHI-sized set.
    """
    if data is None:
        return None
    x = data.x.detach().cpu()
    flat = x.reshape(-1)
    step = max(1, flat.numel() // _SAMPLE_VALUES)
    bands = None if data.bands is None else tuple(int(b) for b in data.bands)
    h = hashlib.sha1()
    h.update(repr((tuple(int(d) for d in x.shape), tuple(str(c) for c in data.classes), bands)).encode())
    h.update(_as_float32(flat[::step]).numpy().tobytes())
    h.update(str(_bit_checksum(flat)).encode())
    h.update(data.y.detach().cpu().numpy().astype(np.int64).tobytes())
    h.update(data.mel.fingerprint().encode())
    if data.lengths is not None:  # whole recordings: how much of each row is audio
        h.update(b"lengths" + data.lengths.detach().cpu().numpy().astype(np.int64).tobytes())
    for column in _META_COLUMNS:
        values = data.meta[column].tolist() if column in data.meta.columns else None
        text = "<absent>" if values is None else "\x1f".join(_canonical(v) for v in values)
        h.update(f"\x1e{column}\x1d{text}".encode())
    return h.hexdigest()[:16]


def _as_float32(values: torch.Tensor) -> torch.Tensor:
    """``values`` as a contiguous float32 tensor with -0.0 folded into 0.0."""
    return (values.to(torch.float32) + 0.0).contiguous()


def _bit_checksum(flat: torch.Tensor) -> int:
    """Exact, summation-order-independent checksum of a 1-D tensor: the int64 sum of its float32 bit
    patterns (as int32), taken in chunks."""
    total = 0
    for start in range(0, flat.numel(), _CHUNK_VALUES):
        bits = _as_float32(flat[start:start + _CHUNK_VALUES]).view(torch.int32)
        total += int(bits.to(torch.int64).sum())
    return total


def _canonical(value: Any) -> str:
    """One meta value as a dtype-independent string: missing -> ``<NA>``, integral numbers without a
    decimal point (``101``, ``101.0`` and ``np.int64(101)`` agree), other floats by ``repr``."""
    if value is None or (pd.api.types.is_scalar(value) and not isinstance(value, str) and bool(pd.isna(value))):
        return "<NA>"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def index_fingerprint(index: Sequence[int] | np.ndarray | None) -> str | None:
    """Hash of a list of item indices (a fold), or ``None``."""
    if index is None:
        return None
    return hashlib.sha1(np.asarray(index, dtype=np.int64).tobytes()).hexdigest()[:16]


def run_key(config_key: dict[str, Any], **parts: Any) -> str:
    """The cache key of one training: ``stable_hash`` of the config's key dict and named parts
    (data fingerprints, fold index hashes)."""
    return stable_hash({"config": config_key, **parts})


def is_finished(run_dir: str | Path) -> bool:
    return (Path(run_dir) / RESULT_FILE).is_file()


def save_torch(path: str | Path, obj: Any) -> Path:
    """``torch.save`` through an atomic rename."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_torch(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a file written by ``save_torch``; a clear error names the file when it is unreadable."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise RuntimeError(f"{path}: cannot read this checkpoint ({exc}); delete it to retrain") from exc


def read_result(run_dir: str | Path) -> dict[str, Any]:
    """The ``result.json`` of a finished run, with a clear error naming the file when it is bad."""
    path = Path(run_dir) / RESULT_FILE
    try:
        return read_json(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: run not finished (no result file)") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); delete the run folder to retrain") from exc


def check_key(path: Path, saved: dict, key: str) -> None:
    """Refuse a run folder (or checkpoint) written for another config or data."""
    if saved.get("key") != key:
        raise ValueError(f"{path}: this run folder belongs to another config or data "
                         f"(key {saved.get('key')!r}, expected {key!r}); use another run_dir")


class Checkpoint:
    """The ``checkpoint.pt`` of a running training: model, optimizer, scheduler and loop state."""

    def __init__(self, run_dir: Path, key: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: Any) -> None:
        self.path, self.key = Path(run_dir) / CHECKPOINT_FILE, key
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler

    def resume(self, state: dict, device: torch.device) -> dict:
        """The saved loop state (and weights, optimizer, scheduler restored), or ``state`` when none."""
        if not self.path.is_file():
            return state
        saved = load_torch(self.path, map_location=device)
        check_key(self.path, saved, self.key)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        return saved["state"]

    def save(self, state: dict) -> None:
        save_torch(self.path, {"key": self.key, "model": self.model.state_dict(), "state": state,
                               "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def write_config(run_dir: str | Path, payload: dict[str, Any]) -> Path:
    return write_json(Path(run_dir) / CONFIG_FILE, payload)


def write_result(run_dir: str | Path, payload: dict[str, Any]) -> Path:
    return write_json(Path(run_dir) / RESULT_FILE, payload)
