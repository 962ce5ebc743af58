"""What every dataset hands to training: a ``FeatureSet`` of log-Mels, labels and metadata."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..features import MelConfig, select_bands, validate_bands

AGE_GROUPS = ("pediatric", "adult")
PEDIATRIC_MAX_AGE = 18.0  # pediatric = age < 18 years (PAPER.md, "Age groups")


def shared_patients(train_meta: pd.DataFrame, test_meta: pd.DataFrame) -> list[str]:
    """Patients (as strings, sorted) with items in both tables, e.g. ['156', '218'] for ICBHI's split."""
    return sorted(set(train_meta["patient"].astype(str)) & set(test_meta["patient"].astype(str)))


def age_group(age: float | None) -> str | None:
    """'pediatric' under 18, 'adult' from 18, None when the age is unknown."""
    if age is None or (isinstance(age, float) and np.isnan(age)):
        return None
    return "pediatric" if age < PEDIATRIC_MAX_AGE else "adult"


@dataclass
class FeatureSet:
    """Log-Mel features of a whole split, held in memory, with one metadata row per item.

    ``x`` is (N, 1, F, T) float32; ``y`` is (N,) int64 indices into ``classes``; ``meta`` has at least
    the columns ``patient``, ``age``, ``age_group``, ``recording``, ``label``. ``bands`` lists the Mel
    bands of the original ``mel`` config that ``x`` still holds (all of them unless selected).
    """

    x: Tensor  # (N, 1, F, T)
    y: Tensor  # (N,)
    classes: tuple[str, ...]
    meta: pd.DataFrame
    mel: MelConfig
    bands: tuple[int, ...] | None = None  # None: all mel.n_mels bands
    # (N,) frames of each item that hold audio (whole recordings of different lengths, right-padded to
    # T); None: every item fills all T frames (cycles and events fitted to one length)
    lengths: Tensor | None = None

    def __post_init__(self) -> None:
        n = len(self.y)
        if self.x.shape[0] != n or len(self.meta) != n:
            raise ValueError(f"x ({self.x.shape[0]}), y ({n}) and meta ({len(self.meta)}) differ in length")
        if self.x.dim() != 4 or self.x.shape[1] != 1:
            raise ValueError(f"x must be (N, 1, F, T), got {tuple(self.x.shape)}")
        if self.lengths is not None and (self.lengths.shape != (n,) or bool((self.lengths < 1).any())
                                         or bool((self.lengths > self.x.shape[-1]).any())):
            raise ValueError(f"lengths must be (N,) frame counts in 1..{self.x.shape[-1]}")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_bands(self) -> int:
        return self.x.shape[-2]

    @property
    def kept_bands(self) -> tuple[int, ...]:
        return self.bands if self.bands is not None else tuple(range(self.mel.n_mels))

    @property
    def groups(self) -> np.ndarray:
        """(N,) patient of each item, for patient-wise splits."""
        return self.meta["patient"].astype(str).to_numpy()

    def subset(self, index: Sequence[int] | np.ndarray | Tensor) -> "FeatureSet":
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long)
        meta = self.meta.iloc[idx.numpy()].reset_index(drop=True)
        return replace(self, x=self.x[idx], y=self.y[idx], meta=meta,
                       lengths=None if self.lengths is None else self.lengths[idx])

    def with_bands(self, bands: Sequence[int]) -> "FeatureSet":
        """Keep only ``bands`` (indices into the ORIGINAL Mel bands, not into the current ones)."""
        kept = validate_bands(bands, self.mel.n_mels)
        current = list(self.kept_bands)
        missing = sorted(set(kept) - set(current))
        if missing:
            raise ValueError(f"bands {missing} were already removed from this feature set")
        position = [current.index(b) for b in kept]
        return replace(self, x=select_bands(self.x, position), bands=tuple(kept))

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.y, minlength=self.n_classes).tolist()
        return dict(zip(self.classes, counts))
