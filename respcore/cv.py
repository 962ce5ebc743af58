"""Patient-wise K-fold cross-validation inside a training set (PAPER.md, "Training").

Each (fold, seed) is an independent cached run, ``<root>/<key>/``, keyed by the config, the data's
fingerprint and the fold's indices: an interrupted cross-validation redoes no finished fold. The
folds are written as text next to the summary, ``<root>/cv-<key>/fold<i>_val.txt``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import runs
from .datasets.base import FeatureSet
from .io import atomic_write, stable_hash, write_json
from .metrics import SCORE_KEYS

Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class CVResult:
    """Cross-validation of one config: a row per (fold, seed) in ``runs`` (columns ``fold``, ``seed``,
    ``best_epoch``, ``val_*``, ``test_*``, ``test_on_test_*``, ``seconds``, ``trained``, ``path``)."""

    runs: pd.DataFrame
    fits: list  # FitResult per row of ``runs``, same order
    folds: Folds
    config: "object"  # the TrainConfig (seed replaced per row)
    path: Path  # the cv folder: folds as text and summary.csv

    def mean(self, split: str = "val") -> dict[str, float]:
        """Mean over folds and seeds of ``split`` ("val", "test" or "test_on_test") scores."""
        return self._agg(split, "mean")

    def std(self, split: str = "val") -> dict[str, float]:
        """Sample standard deviation (ddof 1; 0 for a single run) over folds and seeds."""
        return self._agg(split, "std")

    def _agg(self, split: str, how: str) -> dict[str, float]:
        cols = [f"{split}_{k}" for k in SCORE_KEYS if f"{split}_{k}" in self.runs]
        if not cols:
            raise ValueError(f"no {split!r} scores in this cross-validation (was a test set given?)")
        values = self.runs[cols].agg(how, ddof=1) if how == "std" else self.runs[cols].agg(how)
        if how == "std" and len(self.runs) < 2:
            values = values.fillna(0.0)
        return {c[len(split) + 1:]: float(v) for c, v in values.items()}

    @property
    def val_mean(self) -> dict[str, float]:
        return self.mean("val")

    @property
    def val_std(self) -> dict[str, float]:
        return self.std("val")

    @property
    def paths(self) -> list[Path]:
        return [Path(p) for p in self.runs["path"]]

    @property
    def trainings(self) -> int:
        """Number of trainings this cross-validation stands for (cached or not)."""
        return len(self.runs)

    @property
    def seconds(self) -> float:
        """Training wall time of all its runs (as measured when each was trained)."""
        return float(self.runs["seconds"].sum())

    def summary(self) -> pd.DataFrame:
        """Mean and std rows of every score column."""
        cols = [f"{p}_{k}" for p in ("val", "test", "test_on_test") for k in SCORE_KEYS]
        cols = [c for c in cols if c in self.runs]
        return self.runs[cols].agg(["mean", "std"])


def cross_validate(data: FeatureSet, config, *, k: int, seeds: Sequence[int] = (0,),
                   test: FeatureSet | None = None, root: str | Path = "runs", folds: Folds | None = None,
                   fold_seed: int = 0, progress: bool = True) -> CVResult:
    """K-fold patient-wise cross-validation of ``config`` on ``data``, repeated for each seed.

    Each fold model is chosen on its validation fold and, with ``test``, scored on it.
    ``folds`` (list of (train_idx, val_idx)) overrides the patient-wise folds drawn with ``fold_seed``.
    """
    from .train import _fit_keyed, _with_config_bands, load_fit

    data = _with_config_bands(data, config)
    test = _with_config_bands(test, config)
    folds = _check_folds(folds, len(data), k) if folds is not None else make_folds(data, k, fold_seed)
    root = Path(root)
    data_fp, test_fp = runs.data_fingerprint(data), runs.data_fingerprint(test)
    fold_fps = [runs.index_fingerprint(va) for _, va in folds]
    cv_key = stable_hash({"config": config.cache_key(), "data": data_fp, "test": test_fp, "folds": fold_fps,
                          "seeds": list(seeds)})
    cv_dir = root / f"cv-{cv_key}"
    save_folds(cv_dir, folds, data)
    rows, fits = [], []
    jobs = [(i, s) for s in seeds for i in range(len(folds))]
    for i, seed in tqdm(jobs, desc="folds", leave=False, disable=not progress):
        cfg = replace(config, seed=int(seed))
        tr, va = folds[i]
        key = runs.run_key(cfg.cache_key(), data=data_fp, test=test_fp, train_idx=runs.index_fingerprint(tr),
                           val_idx=fold_fps[i])
        run_dir = root / key
        if runs.is_finished(run_dir):
            fit = replace(load_fit(run_dir, cfg.device), config=cfg)
        else:
            fit = _fit_keyed(data.subset(tr), data.subset(va), test, cfg, key, run_dir, progress=progress,
                             callbacks=())
        fits.append(fit)
        rows.append(_row(i, seed, fit))
    table = pd.DataFrame(rows)
    atomic_write(cv_dir / "summary.csv", lambda tmp: table.to_csv(tmp, index=False))
    write_json(cv_dir / "cv.json", {"config": config.to_dict(), "k": len(folds), "seeds": list(seeds),
                                     "data": data_fp, "test": test_fp, "runs": table["path"].tolist()})
    return CVResult(runs=table, fits=fits, folds=folds, config=config, path=cv_dir)


def make_folds(data: FeatureSet, k: int, seed: int = 0) -> Folds:
    """Patient-wise folds of ``data`` (no patient in two folds), from the datasets module."""
    from .datasets.folds import patient_folds

    folds = patient_folds(data.groups, data.y.numpy(), k, seed)
    return _check_folds([(np.asarray(tr), np.asarray(va)) for tr, va in folds], len(data), k)


def save_folds(cv_dir: Path, folds: Folds, data: FeatureSet) -> None:
    """One text file per fold: ``index<TAB>patient`` of each validation item (training = the rest)."""
    groups = data.groups
    for i, (_, va) in enumerate(folds):
        runs.write_text_lines(cv_dir / f"fold{i}_val.txt", [f"{j}\t{groups[j]}" for j in va])


def _check_folds(folds: Folds, n: int, k: int) -> Folds:
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


def _row(fold: int, seed: int, fit) -> dict:
    row = {"fold": fold, "seed": seed, "best_epoch": fit.best_epoch}
    for prefix, scores in (("val", fit.val_scores), ("test", fit.test_scores),
                           ("test_on_test", fit.test_scores_best_epoch_on_test)):
        for key, value in (scores or {}).items():
            row[f"{prefix}_{key}"] = value
    row.update(seconds=fit.seconds, trained=fit.trained, path=str(fit.path))
    return row

