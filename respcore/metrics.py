"""Challenge metrics over integer labels: pure functions returning values (they never print).

All scores are fractions in [0, 1] (multiply by 100 for the percentages papers print).

Definitions:
- ICBHI 2017 challenge (Rocha et al., "An open access database for the evaluation of respiratory sound
  classification algorithms", Physiol. Meas. 40(3) 035001, 2019): Sp = normal cycles predicted normal /
  all normal cycles; Se = abnormal cycles predicted as exactly their class / all abnormal cycles (crackle,
  wheeze and both pooled); Score = (Sp + Se) / 2.
- SPRSound / IEEE BioCAS 2022-2023 challenges (Zhang et al., "SPRSound: Open-Source SJTU Paediatric
  Respiratory Sound Database", IEEE TBioCAS 16(5), 2022; scoring as in arXiv 2303.04104): the same Sp and
  Se, AS = (Sp + Se) / 2, HS = 2 Sp Se / (Sp + Se), Score = (AS + HS) / 2.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

SCORE_KEYS = ("Sp", "Se", "AS", "HS", "Score_icbhi", "Score_sprsound")


def _labels(y: Sequence[int] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of class indices, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def confusion(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix: ``cm[i, j]`` counts samples of true class i predicted as class j.

    Returns:
        (n_classes, n_classes) int64 array.
    Raises:
        ValueError: different lengths, non-integer labels, or labels outside 0..n_classes-1.
    Example: ``confusion([0, 1, 1], [0, 1, 0], 2).tolist() == [[1, 0], [1, 1]]``
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.size} vs {p.size}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        bad = arr[(arr < 0) | (arr >= n_classes)]
        if bad.size:
            raise ValueError(f"{name} has labels {sorted(set(bad.tolist()))} outside 0..{n_classes - 1}")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def scores_from_confusion(cm: np.ndarray, normal: int = 0, *, any_abnormal: bool = False) -> dict[str, float]:
    """Sp, Se, AS, HS and both challenge Scores from a confusion matrix (rows true, columns predicted).

    Args:
        cm: (K, K) counts, K >= 2.
        normal: index of the normal class (the one specificity is measured on).
        any_abnormal: False (challenge rule): an abnormal sample is a hit only if its exact class is
            predicted. True: any abnormal prediction counts (a multiclass model scored as binary, as
            ``--two_cls_eval`` in the Patch-Mix code); say which one a table uses.
    Returns:
        {"Sp", "Se", "AS", "HS", "Score_icbhi", "Score_sprsound"} as floats in [0, 1]. With no normal
        samples Sp is NaN; with no abnormal samples Se is NaN; AS, HS and the Scores are then NaN too.
        HS is 0 when Sp = Se = 0.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 2:
        raise ValueError(f"confusion matrix must be square with at least 2 classes, got shape {cm.shape}")
    if (cm < 0).any():
        raise ValueError("confusion matrix has negative counts")
    k = cm.shape[0]
    if not 0 <= normal < k:
        raise ValueError(f"normal class {normal} is outside 0..{k - 1}")
    if cm.sum() == 0:
        raise ValueError("no samples: cannot score an empty set")
    abnormal = [c for c in range(k) if c != normal]
    n_normal, n_abnormal = cm[normal].sum(), cm[abnormal].sum()
    if any_abnormal:
        hits = cm[np.ix_(abnormal, abnormal)].sum()
    else:
        hits = sum(cm[c, c] for c in abnormal)
    sp = float(cm[normal, normal] / n_normal) if n_normal else math.nan
    se = float(hits / n_abnormal) if n_abnormal else math.nan
    avg = (sp + se) / 2
    hs = math.nan if math.isnan(avg) else (0.0 if sp + se == 0 else 2 * sp * se / (sp + se))
    return {"Sp": sp, "Se": se, "AS": avg, "HS": hs, "Score_icbhi": avg, "Score_sprsound": (avg + hs) / 2}


def scores(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, normal: int = 0, *,
           n_classes: int | None = None, any_abnormal: bool = False) -> dict[str, float]:
    """ICBHI and SPRSound challenge scores of predictions (binary or multiclass); see the module docstring.

    Args:
        y_true, y_pred: (N,) integer class indices.
        normal: the normal class index.
        n_classes: K; default max(label) + 1 (at least 2). Labels outside 0..K-1 raise ``ValueError``.
        any_abnormal: see ``scores_from_confusion``.
    Returns:
        {"Sp", "Se", "AS", "HS", "Score_icbhi", "Score_sprsound"}: fractions in [0, 1], NaN where a class
        group is absent (documented in ``scores_from_confusion``).
    Raises:
        ValueError: empty input, mismatched lengths, non-integer or out-of-range labels.
    Example: ``scores([0, 0, 1, 2], [0, 1, 1, 1])["Se"] == 0.5``
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.size == 0:
        raise ValueError("no samples: cannot score an empty set")
    if n_classes is None:
        n_classes = max(2, int(max(t.max(), p.max(), normal)) + 1)
    return scores_from_confusion(confusion(t, p, n_classes), normal, any_abnormal=any_abnormal)


def summarize(results: Iterable[Mapping[str, float]], *, ddof: int = 1) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of each score over runs (folds, seeds).

    Args:
        results: score dicts with the same keys (e.g. from ``scores``).
        ddof: 1 = sample standard deviation (NaN for a single run), 0 = population.
    Returns:
        {key: {"mean", "std", "n"}}; a NaN in any run makes that key's mean and std NaN (not hidden).
    """
    rows = list(results)
    if not rows:
        raise ValueError("no score dicts to summarize")
    keys = list(rows[0])
    for i, row in enumerate(rows):
        if set(row) != set(keys):
            raise ValueError(f"score dict {i} has keys {sorted(row)}, expected {sorted(keys)}")
    out = {}
    for key in keys:
        vals = np.array([float(row[key]) for row in rows])
        std = float(vals.std(ddof=ddof)) if vals.size > ddof else math.nan
        out[key] = {"mean": float(vals.mean()), "std": std, "n": int(vals.size)}
    return out
