"""Patient-wise K-fold splits inside a training set: deterministic, leak-free, stratified where possible.

One fold file format: ``patient<TAB>fold`` lines (``save_folds`` / ``load_folds``)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..fileio import atomic_write

Folds = list[tuple[np.ndarray, np.ndarray]]  # (train_index, val_index) per fold


def patient_folds(groups: Sequence, labels: Sequence, k: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split items into ``k`` folds so that no patient is in two folds.

    Patients are placed one at a time, the largest first (ties broken by a seeded shuffle), each into the
    fold that keeps every class's share across folds most even; among equally good folds the smallest
    wins. The result depends only on the inputs and ``seed``.

    Args:
        groups: (N,) patient of each item.
        labels: (N,) class of each item.
    Returns:
        ``k`` pairs (train_index, val_index) of sorted int64 arrays into the N items.
    """
    groups_arr = np.asarray(groups).astype(str)
    labels_arr = np.asarray(labels)
    if groups_arr.shape != labels_arr.shape or groups_arr.ndim != 1:
        raise ValueError(f"groups {groups_arr.shape} and labels {labels_arr.shape} must be equal-length 1-D")
    patients, g = np.unique(groups_arr, return_inverse=True)
    _, y = np.unique(labels_arr, return_inverse=True)
    if not 2 <= k <= len(patients):
        raise ValueError(f"need 2 <= k <= number of patients ({len(patients)}), got k={k}")
    counts = np.zeros((len(patients), y.max() + 1))  # (P, C) items per patient and class
    np.add.at(counts, (g, y), 1)
    totals = counts.sum(0)  # (C,)
    perm = np.random.default_rng(seed).permutation(len(patients))
    order = perm[np.argsort(-counts[perm].sum(1), kind="stable")]
    fold_counts = np.zeros((k, counts.shape[1]))  # (k, C)
    assign = np.empty(len(patients), dtype=np.int64)
    eye = np.eye(k)[:, :, None]  # (k candidate, k fold, 1)
    for p in order:
        trial = fold_counts[None] + eye * counts[p]  # (k, k, C): counts if p went to each candidate fold
        cost = np.round((trial / totals).std(axis=1).mean(axis=1), 12)  # (k,) unevenness of class shares
        best = np.lexsort((fold_counts.sum(1), cost))[0]
        assign[p] = best
        fold_counts[best] += counts[p]
    item_fold = assign[g]  # (N,)
    folds = []
    for f in range(k):
        val = np.flatnonzero(item_fold == f)
        if len(val) == 0:
            raise ValueError(f"fold {f} received no patient; use a smaller k")
        folds.append((np.flatnonzero(item_fold != f), val))
    return folds


def fold_of_patient(folds: list[tuple[np.ndarray, np.ndarray]], groups: Sequence) -> dict[str, int]:
    """{patient: fold whose validation part holds it}."""
    groups_arr = np.asarray(groups).astype(str)
    return {p: f for f, (_, val) in enumerate(folds) for p in np.unique(groups_arr[val]).tolist()}


def save_folds(folds: list[tuple[np.ndarray, np.ndarray]], groups: Sequence, path: str | Path) -> Path:
    """Write ``patient<TAB>fold`` lines (sorted by patient) to a small text file next to the results."""
    mapping = fold_of_patient(folds, groups)
    text = "".join(f"{p}\t{f}\n" for p, f in sorted(mapping.items()))
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def read_fold_map(path: str | Path) -> dict[str, int]:
    """{patient: fold} from a file written by ``save_folds``."""
    mapping: dict[str, int] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError(f"{path}:{n}: expected 'patient<TAB>fold', got {line!r}")
            mapping[parts[0]] = int(parts[1])
    return mapping


def folds_of_patients(mapping: dict[str, int], groups: Sequence, *, where: str = "the fold map") -> Folds:
    """(train_index, val_index) pairs over ``groups`` that put each item in its patient's fold of
    ``mapping``: the same patient partition carried to another feature set of the same patients (events
    and the recordings that hold them)."""
    groups_arr = np.asarray(groups).astype(str)
    unknown = sorted(set(groups_arr) - set(mapping))
    if unknown:
        raise ValueError(f"{where}: patients {unknown[:10]} have no fold")
    item_fold = np.array([mapping[p] for p in groups_arr])
    k = max(mapping.values()) + 1
    return [(np.flatnonzero(item_fold != f), np.flatnonzero(item_fold == f)) for f in range(k)]


def load_folds(path: str | Path, groups: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
    """Read a file written by ``save_folds`` back into (train_index, val_index) pairs over ``groups``."""
    return folds_of_patients(read_fold_map(path), groups, where=str(path))


def check_folds(folds: Folds, n: int, k: int) -> Folds:
    """``folds`` as int64 arrays, checked: ``k`` folds over items 0..n-1, none empty, no shared item."""
    if len(folds) != k:
        raise ValueError(f"expected {k} folds, got {len(folds)}")
    out = []
    for i, (tr, va) in enumerate(folds):
        tr, va = np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)
        if len(tr) == 0 or len(va) == 0:
            raise ValueError(f"fold {i} has an empty train or validation part")
        if tr.min() < 0 or va.min() < 0 or max(tr.max(), va.max()) >= n:
            raise ValueError(f"fold {i} has indices outside 0..{n - 1}")
        if np.intersect1d(tr, va).size:
            raise ValueError(f"fold {i}: train and validation share items")
        out.append((tr, va))
    return out
