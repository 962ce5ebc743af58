"""Paired evidence: the mean difference of two configurations trained on the same folds x seeds, its 95 %
confidence interval, and the verdict that interval supports.

A claim such as "TSA after aggregation beats TSA after block 1" is judged on pairs: both models are
trained on the same patient folds with the same seeds, each pair scored on the same held-out cycles, and
the per-pair differences d_i = a_i - b_i give a Student-t interval
``mean(d) +- t_{0.975, n-1} * sd(d) / sqrt(n)``. The verdict is

- ``reproduced`` when the whole interval lies on the paper's side of 0,
- ``contradicted`` when it lies wholly on the other side,
- ``undecided`` when it contains 0 (whatever the sign of the mean), or when there are fewer than 2 pairs.

>>> p = paired_difference([0.60, 0.62, 0.64], [0.50, 0.55, 0.52])
>>> round(p.mean, 3), p.n, verdict(p, expected=1)
(0.097, 3, 'reproduced')
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

REPRODUCED, CONTRADICTED, UNDECIDED = "reproduced", "contradicted", "undecided"
CONFIDENCE = 0.95
PAIR_KEYS = ("fold", "seed")  # what identifies a pair in a cross-validation's runs table


@dataclass(frozen=True)
class Paired:
    """Mean paired difference ``a - b`` with its confidence interval (NaN bounds with fewer than 2 pairs)."""

    mean: float
    low: float
    high: float
    n: int
    a_mean: float
    b_mean: float
    confidence: float = CONFIDENCE

    def text(self, scale: float = 100.0, unit: str = " pts") -> str:
        """``+3.1 pts [0.4, 5.8], n=10`` (differences of fractions shown in percentage points)."""
        if self.n < 2:
            return f"{scale * self.mean:+.1f}{unit} (n={self.n}: no interval)"
        return f"{scale * self.mean:+.1f}{unit} [{scale * self.low:+.1f}, {scale * self.high:+.1f}], n={self.n}"


def paired_difference(a: Sequence[float], b: Sequence[float], *, confidence: float = CONFIDENCE) -> Paired:
    """Mean of ``a_i - b_i`` and its Student-t interval. ``a`` and ``b`` are aligned pair by pair.

    Raises:
        ValueError: different lengths, no pairs, or a NaN in either (a missing score is not a pair).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_difference needs two equal-length 1-d sequences, got {a.shape} and {b.shape}")
    if len(a) == 0:
        raise ValueError("paired_difference: no pairs")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("paired_difference: a score is NaN; drop that pair explicitly")
    d = a - b
    n = len(d)
    mean = float(d.mean())
    if n < 2:
        low = high = float("nan")
    else:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(d.std(ddof=1)) / math.sqrt(n)
        low, high = mean - half, mean + half
    return Paired(mean, low, high, n, float(a.mean()), float(b.mean()), confidence)


def verdict(p: Paired, *, expected: int) -> str:
    """The verdict of ``p`` for a claim that expects ``a - b`` to have the sign of ``expected`` (+1 or -1)."""
    if expected not in (1, -1):
        raise ValueError(f"expected must be +1 or -1, got {expected!r}")
    if p.n < 2 or math.isnan(p.low) or math.isnan(p.high):
        return UNDECIDED
    low, high = (p.low, p.high) if expected == 1 else (-p.high, -p.low)
    if low > 0:
        return REPRODUCED
    if high < 0:
        return CONTRADICTED
    return UNDECIDED


def pair_scores(a: pd.DataFrame, b: pd.DataFrame, column: str, *, keys: Sequence[str] = PAIR_KEYS
                ) -> tuple[list[float], list[float]]:
    """Align two cross-validations' ``runs`` tables on (fold, seed) and return ``column`` of each, pair by
    pair. Runs present in only one of them are not pairs and are left out.

    Raises:
        ValueError: ``column`` missing from either table, or no common (fold, seed).
    """
    for name, t in (("a", a), ("b", b)):
        if column not in t:
            raise ValueError(f"pair_scores: table {name} has no column {column!r} (has {sorted(t.columns)})")
    both = a[[*keys, column]].merge(b[[*keys, column]], on=list(keys), suffixes=("_a", "_b"))
    if both.empty:
        raise ValueError(f"pair_scores: no common {tuple(keys)} between the two cross-validations")
    both = both.sort_values(list(keys))
    return both[f"{column}_a"].astype(float).tolist(), both[f"{column}_b"].astype(float).tolist()
