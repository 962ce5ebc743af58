"""Frequency Band Selection (PAPER.md, "FBS"): importance-based selection (IS) and backward selection (BS).

IS, per round: cross-validate on the kept bands; attribute each fold model on its validation fold
(``band_attributions``); importance I_b = mean over folds x classes - lam * std over folds x classes;
drop the r least important bands. O(F / r) cross-validations. The paper averages over every class;
``classes`` restricts the rows to some of them (``abnormal_classes``: all but the normal class, whose
Grad-CAM points where the adventitious sounds are not, see ``importance_scores``).

BS, per step: for every remaining group of r bands, cross-validate without it; drop the group whose
removal leaves the best validation score. Groups are fixed blocks of r contiguous ORIGINAL Mel bands
(bands b with b // r == g), so a step tries at most F / r candidates: O((F / r)^2) cross-validations.
``candidate_folds`` scores candidates on the first folds only, to cut BS's cost (say so when used).

Both stop at ``min_bands``, or earlier once the validation score has not improved for ``patience``
rounds, and keep the best round. Their cost is counted in distinct trainings (fold x seed fits, each
counted once whether it ran now or came from the run cache) and seconds (training time as measured
when each ran, plus attribution time), so IS and BS can be compared. Both return a ``BandSelection``
(``respcore.band_selection``, re-exported here).
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

from .attribution import METHODS, band_attributions, band_attributions_many
from .band_selection import BandSelection
from .datasets.base import FeatureSet
from .fileio import read_json, stable_hash, write_json
from .flops import count_flops
from .train import CVResult, Folds, TrainConfig, as_tests, make_folds
from .train.cv import cross_validate_many, plan_cv
from .train.grid import Executor, SerialExecutor
from .train.fit import Tests
from .train.loop import num_threads

__all__ = ["BandSelection", "band_attributions", "importance_scores", "importance_selection",
           "backward_selection", "abnormal_classes", "recovery", "METHODS"]


def importance_scores(attributions: Tensor, lam: float, classes: Sequence[int] | None = None) -> Tensor:
    """I_b = mean - lam * std of the attributions over folds and classes (population std).

    Args:
        attributions: (folds, classes, bands); rows with NaN (a class absent from a fold) are ignored.
        classes: the class rows that count (None: every class, as the paper does). A normal item's
            evidence is the absence of adventitious sounds, so the normal class's Grad-CAM points away
            from the bands that carry them, and averaging it in blurs the ranking: with two classes it is
            half of every mean (page 7 measures the effect).
    Returns: (bands,) importance.
    """
    if attributions.dim() != 3:
        raise ValueError(f"attributions must be (folds, classes, bands), got {tuple(attributions.shape)}")
    if classes is not None:
        picked = sorted({int(c) for c in classes})
        if not picked or picked[0] < 0 or picked[-1] >= attributions.shape[1]:
            raise ValueError(f"classes must be a non-empty subset of 0..{attributions.shape[1] - 1}, got {classes}")
        attributions = attributions[:, picked]
    rows = attributions.reshape(-1, attributions.shape[-1]).double()  # (folds * classes, bands)
    rows = rows[~rows.isnan().any(dim=1)]
    if len(rows) == 0:
        raise ValueError("importance_scores: every (fold, class) attribution row is NaN")
    return (rows.mean(0) - lam * rows.std(0, unbiased=False)).float()


def abnormal_classes(n_classes: int, normal: int = 0) -> tuple[int, ...]:
    """Every class index but ``normal``: the adventitious classes, for ``importance_scores(classes=...)``."""
    if not 0 <= normal < n_classes or n_classes < 2:
        raise ValueError(f"normal must index one of n_classes >= 2 classes, got normal={normal}, n_classes={n_classes}")
    return tuple(c for c in range(n_classes) if c != normal)


def recovery(selected: Iterable[int], informative: Iterable[int], *, n_bands: int | None = None) -> dict:
    """Precision and recall of ``selected`` bands against the planted ``informative`` ones.

    With ``n_bands``, also ``chance_precision`` (a random selection's expected precision,
    |informative| / n_bands) and ``chance_recall`` (|selected| / n_bands).
    """
    sel, inf = set(int(b) for b in selected), set(int(b) for b in informative)
    if not sel or not inf:
        raise ValueError("recovery: selected and informative bands must be non-empty")
    hit = len(sel & inf)
    out = {"precision": hit / len(sel), "recall": hit / len(inf)}
    if n_bands is not None:
        out.update(chance_precision=len(inf) / n_bands, chance_recall=len(sel) / n_bands)
    return out


def importance_selection(data: FeatureSet, config: TrainConfig, *, k: int, r: int, lam: float,
                         patience: int | None, min_bands: int, method: str = "gradcam",
                         layer: int | None = None, tests: FeatureSet | Tests | None = None, root: str | Path = "runs",
                         seeds: Sequence[int] = (0,), folds: Folds | None = None, fold_seed: int = 0,
                         ig_steps: int = 16, progress: bool = True, classes: Sequence[int] | None = None,
                         executor: Executor | None = None) -> BandSelection:
    """IS: drop the ``r`` least important bands per round (see the module docstring).

    ``patience=None`` runs down to ``min_bands`` (a full band-retention curve). ``method``, ``layer``
    and ``ig_steps`` go to ``band_attributions`` (fold models on their validation folds); ``classes``
    to ``importance_scores`` (None: every class, the paper's). Each round's folds x seeds train together
    on ``executor`` (default: one after another in this process).
    """
    run = _Selection(data, config, k=k, seeds=seeds, tests=tests, root=root, folds=folds, fold_seed=fold_seed,
                     progress=progress, executor=executor)
    bands = list(run.data.kept_bands)  # after any config.bands restriction
    while True:
        cv, rec = run.evaluate(bands)
        start = time.perf_counter()
        attrs = run.attributions(cv, bands, method, layer, ig_steps)  # (folds * seeds, C, len(bands))
        importance = importance_scores(attrs, lam, classes)
        run.extra_seconds += time.perf_counter() - start
        rec.update(importance=importance.tolist(), attributions=attrs.tolist())
        if run.record(rec, patience) or len(bands) <= min_bands:
            break
        n_drop = min(r, len(bands) - min_bands)
        drop = set(torch.argsort(importance, stable=True)[:n_drop].tolist())
        rec["removed"] = [b for i, b in enumerate(bands) if i in drop]
        bands = [b for i, b in enumerate(bands) if i not in drop]
    return run.result("IS", dict(k=k, r=r, lam=lam, patience=patience, min_bands=min_bands,
                                 attribution=method, layer=layer, ig_steps=ig_steps,
                                 classes=None if classes is None else sorted({int(c) for c in classes})))


def backward_selection(data: FeatureSet, config: TrainConfig, *, k: int, r: int, min_bands: int,
                       patience: int | None = None, candidate_folds: int | None = None,
                       tests: FeatureSet | Tests | None = None, root: str | Path = "runs", seeds: Sequence[int] = (0,),
                       folds: Folds | None = None, fold_seed: int = 0, progress: bool = True,
                       executor: Executor | None = None) -> BandSelection:
    """BS: greedily drop the block of ``r`` original bands whose removal hurts validation least.

    ``candidate_folds`` (default: all k) scores each candidate on its first folds only. Every candidate x
    fold x seed of a step trains together on ``executor`` (default: one after another in this process).
    """
    run = _Selection(data, config, k=k, seeds=seeds, tests=tests, root=root, folds=folds, fold_seed=fold_seed,
                     progress=progress, executor=executor)
    n_cand = len(run.folds) if candidate_folds is None else int(candidate_folds)
    if not 1 <= n_cand <= len(run.folds):
        raise ValueError(f"candidate_folds must be in 1..{len(run.folds)}, got {candidate_folds}")
    bands = list(run.data.kept_bands)  # after any config.bands restriction
    _, rec = run.evaluate(bands)
    while not run.record(rec, patience):
        groups = [g for g in sorted({b // r for b in bands})
                  if len([b for b in bands if b // r != g]) >= max(min_bands, 1)]
        rests = [[b for b in bands if b // r != g] for g in groups]
        trials = [(trial["val"][config.select_metric], g, rest, trial)
                  for g, rest, (_, trial) in zip(groups, rests, run.evaluate_many(rests, n_folds=n_cand))]
        if not trials:
            break
        best = max(trials, key=lambda t: (np.nan_to_num(t[0], nan=-np.inf), -t[1]))  # ties: lowest group
        _, group, rest, _ = best
        if n_cand < len(run.folds):  # the winner on all folds (its first folds load from the cache)
            _, rec = run.evaluate(rest)
        else:
            rec = best[3]
        rec["removed"] = [b for b in bands if b // r == group]
        rec["candidates"] = {str(t[1]): t[0] for t in trials}
        bands = rest
    return run.result("BS", dict(k=k, r=r, patience=patience, min_bands=min_bands,
                                 candidate_folds=n_cand, groups="fixed blocks b // r of original bands"))


def run_scores(cv: CVResult) -> list[dict]:
    """A cross-validation's per-(fold, seed) validation and test scores, as JSON-ready records."""
    cols = [c for c in cv.runs.columns
            if c in ("fold", "seed") or (c.startswith(("val_", *(f"{t}_" for t in cv.tests))) and "_on_test_" not in c)]
    return [{k: int(v) if k in ("fold", "seed") else (None if np.isnan(v) else float(v)) for k, v in row.items()}
            for row in cv.runs[cols].to_dict("records")]


class _Selection:
    """Book-keeping shared by IS and BS: fixed folds, cost counters, trajectory, stopping rule."""

    def __init__(self, data: FeatureSet, config: TrainConfig, *, k: int, seeds: Sequence[int],
                 tests: FeatureSet | Tests | None, root: str | Path, folds: Folds | None, fold_seed: int,
                 progress: bool, executor: Executor | None) -> None:
        tests = as_tests(tests)
        if config.bands is not None:
            data = data.with_bands(config.bands)
            tests = {name: d.with_bands(config.bands) for name, d in tests.items()}
            config = replace(config, bands=None)
        self.data, self.config, self.k, self.seeds, self.tests = data, config, k, tuple(seeds), tests
        self.root, self.progress, self.fold_seed = Path(root), progress, fold_seed
        self.executor = executor or SerialExecutor(progress=progress)
        self.folds = folds if folds is not None else make_folds(data, k, fold_seed)  # same folds every round
        self.trajectory: list[dict] = []
        self.runs: dict[str, float] = {}  # run folder -> training seconds of every distinct training
        self.extra_seconds = 0.0  # attribution time
        self.best, self.best_score, self.since_best = -1, -np.inf, 0

    def evaluate(self, bands: list[int], n_folds: int | None = None) -> tuple[CVResult, dict]:
        """Cross-validate on ``bands``; returns the CV and a trajectory record (not yet recorded)."""
        return self.evaluate_many([bands], n_folds)[0]

    def evaluate_many(self, band_sets: list[list[int]], n_folds: int | None = None) -> list[tuple[CVResult, dict]]:
        """Cross-validate on each of ``band_sets``, every training in one batch on the executor."""
        folds = self.folds[:n_folds] if n_folds else self.folds
        plans = [plan_cv(self.data, replace(self.config, bands=tuple(bands)), k=len(folds), seeds=self.seeds,
                         tests=self.tests, root=self.root, folds=folds) for bands in band_sets]
        return [(cv, self._record(cv, bands, len(folds)))
                for cv, bands in zip(cross_validate_many(plans, self.executor), band_sets)]

    def _record(self, cv: CVResult, bands: list[int], n_folds: int) -> dict:
        for path, seconds in zip(cv.paths, cv.runs["seconds"]):  # a run reused from an earlier step is
            self.runs.setdefault(str(path), float(seconds))  # one training, counted once
        model = cv.fits[0].model
        cost = count_flops(model, (1, 1, len(bands), self.data.x.shape[-1]))
        rec = {"n_bands": len(bands), "bands": list(bands), "val": cv.mean("val"), "val_std": cv.std("val"),
               "tests": {name: cv.mean(name) for name in self.tests},
               "tests_std": {name: cv.std(name) for name in self.tests},
               "macs": cost["macs"], "params": cost["params"], "folds_used": n_folds,
               "trainings": self.trainings, "seconds": self.seconds, "runs": run_scores(cv)}
        return rec

    @property
    def trainings(self) -> int:
        return len(self.runs)

    @property
    def seconds(self) -> float:
        return sum(self.runs.values()) + self.extra_seconds

    def attributions(self, cv: CVResult, bands: list[int], method: str, layer: int | None,
                     ig_steps: int) -> Tensor:
        """(len(cv.fits), C, len(bands)) attributions of each fold model on its validation fold."""
        data = self.data.with_bands(bands)
        # cached next to the run's weights: a rebuilt study does not recompute them
        caches = [fit.path / f"attributions-{stable_hash([method, layer, ig_steps], 8)}.json" for fit in cv.fits]
        todo = [j for j, cache in enumerate(caches) if not cache.is_file()]
        # the fold models are independent: in threads, so the cores that the grid leaves idle while a round
        # waits for its attributions share the work
        with num_threads(self.config.num_threads):
            fresh = dict(zip(todo, band_attributions_many(
                [(cv.fits[j].model, data.subset(self.folds[j % len(self.folds)][1])) for j in todo], method,
                layer=layer, ig_steps=ig_steps, batch_size=self.config.batch_size)))  # {j: (C, len(bands))}
        for j, a in fresh.items():
            write_json(caches[j], a.tolist())
        return torch.stack([fresh[j] if j in fresh else torch.tensor(read_json(cache), dtype=torch.float32)
                            for j, cache in enumerate(caches)])

    def record(self, rec: dict, patience: int | None) -> bool:
        """Append a round; True when the patience rule says stop."""
        rec["round"] = len(self.trajectory)
        rec["trainings"], rec["seconds"] = self.trainings, self.seconds
        self.trajectory.append(rec)
        score = rec["val"][self.config.select_metric]
        if score > self.best_score:
            self.best, self.best_score, self.since_best = rec["round"], score, 0
        else:
            self.since_best += 1
        return patience is not None and self.since_best >= patience

    def result(self, method: str, params: dict) -> BandSelection:
        best = max(self.best, 0)
        params = {**params, "best_round": best, "seeds": list(self.seeds), "fold_seed": self.fold_seed,
                  "n_classes": self.config.n_classes or self.data.n_classes,
                  "n_frames": int(self.data.x.shape[-1]), "n_bands_total": self.data.mel.n_mels,
                  "select_metric": self.config.select_metric}
        return BandSelection(method=method, kept_bands=tuple(self.trajectory[best]["bands"]),
                             trajectory=self.trajectory, cost={"trainings": self.trainings, "seconds": self.seconds},
                             config=self.config, params=params)
