"""Run folders and the run cache: one training = one folder keyed by what determines its result.

A run folder ``<root>/<key>/`` holds, once finished::

    config.json    the TrainConfig, data fingerprints and fold indices hash that make the key
    history.csv    one row per epoch: loss, learning rate, validation and test scores
    result.json    final scores (written last: its presence marks the run as finished)
    model.pt       weights of the validation-chosen epoch, with the model's build arguments

and, while it runs, ``checkpoint.pt`` (state after the last finished epoch, for resuming). Every file
is written atomically (``respcore.io``), so a killed run never leaves a corrupt file.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from .io import atomic_write, read_json, stable_hash, write_json

if TYPE_CHECKING:
    from .datasets.base import FeatureSet

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"

_SAMPLE_VALUES = 4096  # values of x hashed verbatim; the rest enters through a float64 sum


def data_fingerprint(data: "FeatureSet | None") -> str | None:
    """Cheap stable hash of a feature set: shape, classes, labels, bands, Mel settings, recordings,
    an evenly spaced sample of the feature values and their float64 sum.

    Cost is one pass over ``x`` (a sum), milliseconds for an ICBHI-sized set. ``None`` for ``None``.
    """
    if data is None:
        return None
    x = data.x.detach()
    flat = x.reshape(-1)
    step = max(1, flat.numel() // _SAMPLE_VALUES)
    h = hashlib.sha1()
    h.update(repr((tuple(x.shape), str(x.dtype), tuple(data.classes), data.bands)).encode())
    h.update(flat[::step].cpu().float().numpy().tobytes())
    h.update(repr(float(flat.double().sum())).encode())
    h.update(data.y.cpu().numpy().astype(np.int64).tobytes())
    h.update(data.mel.fingerprint().encode())
    for column in ("recording", "patient"):
        if column in data.meta:
            h.update("\0".join(map(str, data.meta[column].tolist())).encode())
    return h.hexdigest()[:16]


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


def write_config(run_dir: str | Path, payload: dict[str, Any]) -> Path:
    return write_json(Path(run_dir) / CONFIG_FILE, payload)


def write_result(run_dir: str | Path, payload: dict[str, Any]) -> Path:
    return write_json(Path(run_dir) / RESULT_FILE, payload)


def write_text_lines(path: str | Path, lines: Sequence[str]) -> Path:
    """Atomically write lines of text (fold lists and other small provenance files)."""
    text = "".join(f"{line}\n" for line in lines)
    return atomic_write(path, lambda tmp: tmp.write_text(text))
