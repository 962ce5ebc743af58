"""Patient-wise K-fold cross-validation inside a training set (PAPER.md, "Training").

Each (fold, seed) is an independent training job (``respcore.train.grid``), cached in ``<root>/<key>/`` and
keyed by the config, the data's fingerprint and the fold's indices: an interrupted cross-validation
redoes no finished fold, and every fold and seed can train at once on an executor. The folds are written
next to the summary as ``<root>/cv-<key>/folds.txt`` (``patient<TAB>fold``, see ``respcore.train.splits``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..datasets.base import FeatureSet
from ..fileio import atomic_write, stable_hash, write_json
from ..metrics import SCORE_KEYS
from . import runs
from .config import TrainConfig
from .fit import FitResult, Tests, as_tests, data_key, with_config_bands
from .grid import Executor, SerialExecutor, TrainJob
from .splits import Folds, check_folds, fold_of_patient, patient_folds, read_fold_map, save_folds


@dataclass
class CVResult:
    """Cross-validation of one config: a row per (fold, seed) in ``runs`` (columns ``fold``, ``seed``,
    ``best_epoch``, ``val_*``, ``<test>_*`` and ``<test>_on_test_*`` per named test set, ``seconds``,
    ``trained``, ``path``)."""

    runs: pd.DataFrame
    fits: list[FitResult]  # per row of ``runs``, same order
    folds: Folds
    config: TrainConfig  # seed replaced per row
    path: Path  # the cv folder: folds as text and summary.csv
    tests: tuple[str, ...] = ()  # names of the test sets scored

    def mean(self, split: str = "val") -> dict[str, float]:
        """Mean over folds and seeds of ``split`` scores: "val", a test set's name ("test", "inter") or
        ``"<name>_on_test"`` (each test set's best epoch on itself)."""
        return self._agg(split, "mean")

    def std(self, split: str = "val") -> dict[str, float]:
        """Sample standard deviation (ddof 1; 0 for a single run) over folds and seeds."""
        return self._agg(split, "std")

    def _agg(self, split: str, how: str) -> dict[str, float]:
        cols = [f"{split}_{k}" for k in SCORE_KEYS if f"{split}_{k}" in self.runs]
        if not cols:
            raise ValueError(f"no {split!r} scores in this cross-validation (test sets: {list(self.tests)})")
        values = self.runs[cols].agg(how, ddof=1) if how == "std" else self.runs[cols].agg(how)
        if how == "std" and len(self.runs) < 2:
            values = values.fillna(0.0)
        return {c[len(split) + 1:]: float(v) for c, v in values.items()}

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
        splits = ["val", *self.tests, *(f"{t}_on_test" for t in self.tests)]
        cols = [f"{p}_{k}" for p in splits for k in SCORE_KEYS if f"{p}_{k}" in self.runs]
        return self.runs[cols].agg(["mean", "std"])


@dataclass
class CVPlan:
    """A cross-validation's jobs, before they run (``plan_cv``); ``finish_cv`` turns their results into a
    :class:`CVResult`. Plans of several cross-validations can run as one batch (``cross_validate_many``)."""

    data: FeatureSet
    config: TrainConfig
    folds: Folds
    seeds: tuple[int, ...]
    tests: dict[str, FeatureSet]
    cv_dir: Path
    jobs: list[TrainJob]  # one per (seed, fold), seed-major
    shared: dict  # the data part of every job's key


def plan_cv(data: FeatureSet, config: TrainConfig, *, k: int, seeds: Sequence[int] = (0,),
            tests: FeatureSet | Tests | None = None, root: str | Path = "runs", folds: Folds | None = None,
            fold_seed: int = 0, start_from: CVResult | None = None) -> CVPlan:
    """The (fold, seed) training jobs of a cross-validation (see :func:`cross_validate`).

    With ``start_from`` (a finished cross-validation of a related task, e.g. events before recordings),
    each (fold, seed) job starts from that cross-validation's run of the same fold and seed
    (``TrainConfig.init_run``). Its folds must put every patient the two share in the same fold, so
    that no validation patient's items ever trained the starting model.
    """
    if config.bands is not None and tuple(config.bands) == tuple(data.kept_bands):
        config = replace(config, bands=None)  # the data's own bands in their order: one training, one key
    data = with_config_bands(data, config)
    tests = {name: with_config_bands(d, config) for name, d in as_tests(tests).items()}
    folds = check_folds(folds, len(data), k) if folds is not None else make_folds(data, k, fold_seed)
    root = Path(root)
    fold_fps = [runs.index_fingerprint(va) for _, va in folds]
    shared = data_key(data, None, tests)
    start = {"start_from": start_from.path.name} if start_from is not None else {}  # its runs differ per fold
    cv_key = stable_hash({"config": config.cache_key(), **shared, "folds": fold_fps, "seeds": list(seeds), **start})
    starts = _start_runs(start_from, folds, data.groups, seeds) if start_from is not None else None
    jobs = []
    for seed in seeds:
        cfg = replace(config, seed=int(seed))
        for i, (tr, va) in enumerate(folds):
            if starts is not None:
                cfg = replace(cfg, init_run=starts[(i, int(seed))])
            key = runs.run_key(cfg.cache_key(), **shared, train_idx=runs.index_fingerprint(tr), val_idx=fold_fps[i])
            jobs.append(TrainJob(cfg, data, tr, va, tests, root / key, key))
    return CVPlan(data=data, config=config, folds=folds, seeds=tuple(int(s) for s in seeds), tests=tests,
                  cv_dir=root / f"cv-{cv_key}", jobs=jobs, shared=shared)


def _start_runs(start: CVResult, folds: Folds, groups, seeds: Sequence[int]) -> dict[tuple[int, int], str]:
    """{(fold, seed): run folder of ``start``}, after checking that ``start`` placed every patient it
    shares with ``groups`` in the same fold."""
    theirs = read_fold_map(start.path / "folds.txt")
    ours = fold_of_patient(folds, groups)
    moved = sorted(p for p, f in ours.items() if p in theirs and theirs[p] != f)
    if len(start.folds) != len(folds) or moved:
        raise ValueError(f"start_from {start.path}: its folds differ from these ({len(start.folds)} against "
                         f"{len(folds)} folds; patients in another fold: {moved[:5]}): a starting model would "
                         "have trained on validation patients")
    runs_by = {(int(r.fold), int(r.seed)): str(r.path) for r in start.runs.itertuples()}
    missing = [(i, int(s)) for s in seeds for i in range(len(folds)) if (i, int(s)) not in runs_by]
    if missing:
        raise ValueError(f"start_from {start.path}: no run for (fold, seed) {missing[:5]}")
    return runs_by


def finish_cv(plan: CVPlan, results: Sequence[FitResult]) -> CVResult:
    """The :class:`CVResult` of a plan from its jobs' results (same order); writes the cv folder."""
    save_folds(plan.folds, plan.data.groups, plan.cv_dir / "folds.txt")
    pairs = [(i, seed) for seed in plan.seeds for i in range(len(plan.folds))]
    table = pd.DataFrame([_row(i, seed, r) for (i, seed), r in zip(pairs, results)])
    atomic_write(plan.cv_dir / "summary.csv", lambda tmp: table.to_csv(tmp, index=False))
    write_json(plan.cv_dir / "cv.json", {"config": plan.config.to_dict(), "k": len(plan.folds),
                                          "seeds": list(plan.seeds), **plan.shared, "runs": table["path"].tolist()})
    return CVResult(runs=table, fits=list(results), folds=plan.folds, config=plan.config, path=plan.cv_dir,
                    tests=tuple(plan.tests))


def cross_validate_many(plans: Sequence[CVPlan], executor: Executor | None = None) -> list[CVResult]:
    """Several cross-validations as one batch of jobs on ``executor`` (default: serial, in this process)."""
    executor = executor or SerialExecutor(progress=False)
    results = executor.run([job for plan in plans for job in plan.jobs])
    out, start = [], 0
    for plan in plans:
        out.append(finish_cv(plan, results[start:start + len(plan.jobs)]))
        start += len(plan.jobs)
    return out


def cross_validate(data: FeatureSet, config: TrainConfig, *, k: int, seeds: Sequence[int] = (0,),
                   tests: FeatureSet | Tests | None = None, root: str | Path = "runs", folds: Folds | None = None,
                   fold_seed: int = 0, progress: bool = True, executor: Executor | None = None,
                   start_from: CVResult | None = None) -> CVResult:
    """K-fold patient-wise cross-validation of ``config`` on ``data``, repeated for each seed.

    Each fold model is chosen on its validation fold and scored on every named test set (``tests``, as in
    :func:`respcore.train.fit`). ``folds`` (list of (train_idx, val_idx)) overrides the patient-wise folds
    drawn with ``fold_seed``. The folds x seeds trainings run together on ``executor`` (default: one after
    another in this process). ``start_from``: see :func:`plan_cv`.
    """
    plan = plan_cv(data, config, k=k, seeds=seeds, tests=tests, root=root, folds=folds, fold_seed=fold_seed,
                   start_from=start_from)
    return cross_validate_many([plan], executor or SerialExecutor(progress=progress))[0]


def make_folds(data: FeatureSet, k: int, seed: int = 0) -> Folds:
    """Patient-wise folds of ``data`` (no patient in two folds)."""
    folds = patient_folds(data.groups, data.y.numpy(), k, seed)
    return check_folds(folds, len(data), k)


def _row(fold: int, seed: int, result: FitResult) -> dict:
    row = {"fold": fold, "seed": seed, "best_epoch": result.best_epoch}
    parts = [("val", result.val_scores)]
    parts += [(name, s) for name, s in result.test_scores.items()]
    parts += [(f"{name}_on_test", s) for name, s in result.test_scores_best_epoch_on_test.items()]
    for prefix, scores in parts:
        for key, value in (scores or {}).items():
            row[f"{prefix}_{key}"] = value
    row.update(seconds=result.seconds, trained=result.trained, path=str(result.path))
    return row
