"""On-disk cache of computed ``FeatureSet``s, keyed by a hash of the dataset files and the config.

One ``.pt`` file per (dataset, task, split, config, files) key: tensors plus the metadata table as plain
columns, so ``torch.load(weights_only=True)`` can read it back. A changed file (name, size or mtime) or
a changed ``MelConfig`` gives another key, so the stale entry is never read; it is deleted on the next
save under the same name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from ..features import MelConfig
from ..fileio import atomic_write, stable_hash
from .base import FeatureSet

CACHE_FORMAT = 1  # bump when the stored layout or the preprocessing changes meaning


def cache_path(cache_dir: str | Path, name: str, key_parts: dict[str, Any]) -> Path:
    """Where the entry for ``key_parts`` lives: ``cache_dir/{name}-{hash}.pt``."""
    key = stable_hash({"format": CACHE_FORMAT, **key_parts})
    return Path(cache_dir) / f"{name}-{key}.pt"


def write_entry(path: str | Path, features: FeatureSet) -> Path:
    """Write ``features`` atomically (x, y as tensors; meta as column lists)."""
    meta = features.meta
    payload = {
        "format": CACHE_FORMAT,
        "x": features.x.detach().cpu().contiguous(),
        "y": features.y.detach().cpu(),
        "classes": list(features.classes),
        "mel": features.mel.to_dict(),
        "bands": None if features.bands is None else list(features.bands),
        "lengths": features.lengths,
        "meta_columns": [str(c) for c in meta.columns],
        "meta": {str(c): _column_values(meta[c]) for c in meta.columns},
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def read_entry(path: str | Path) -> FeatureSet:
    """Read an entry written by ``write_entry``."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != CACHE_FORMAT:
        raise ValueError(f"{path}: cache format {payload.get('format')}, expected {CACHE_FORMAT}")
    meta = pd.DataFrame({c: payload["meta"][c] for c in payload["meta_columns"]})
    bands = payload["bands"]
    return FeatureSet(
        x=payload["x"],
        y=payload["y"],
        classes=tuple(payload["classes"]),
        meta=meta,
        mel=MelConfig(**payload["mel"]),
        bands=None if bands is None else tuple(bands),
        lengths=payload.get("lengths"),
    )


def cached_features(
    cache_dir: str | Path | None, name: str, key_parts: dict[str, Any], compute: Callable[[], FeatureSet]
) -> tuple[FeatureSet, bool]:
    """Load the entry for ``key_parts`` or compute, save and return it.

    Returns:
        (features, hit): ``hit`` is True when read from disk. ``cache_dir=None`` always computes.
    """
    if cache_dir is None:
        return compute(), False
    path = cache_path(cache_dir, name, key_parts)
    if path.exists():
        try:
            return read_entry(path), True
        except Exception:  # a truncated or foreign file: recompute and overwrite it
            path.unlink(missing_ok=True)
    features = compute()
    for stale in path.parent.glob(f"{name}-*.pt"):
        if stale != path:
            stale.unlink(missing_ok=True)
    write_entry(path, features)
    return features, False


def _column_values(col: pd.Series) -> list:
    """Plain Python values (str, int, float, bool, None) that weights-only loading accepts."""
    if pd.api.types.is_float_dtype(col):
        return [float(v) for v in col.to_numpy()]
    if pd.api.types.is_integer_dtype(col) or pd.api.types.is_bool_dtype(col):
        return col.to_numpy().tolist()
    return [None if (v is None or (isinstance(v, float) and np.isnan(v))) else (v if isinstance(v, (int, float, bool)) else str(v)) for v in col.tolist()]
