"""Age-specific models (PAPER.md, "Age groups"): a model per age band and one unified model, and a
router that picks the model by each sample's age band, falling back to the unified model when the age
is unknown (or no model exists for the band) and counting every fallback.

The paper's bands are pediatric (under 18) and adult (``PAPER_BANDS``); SPRSound is all children, so
its age question is asked within childhood (``CHILDHOOD_BANDS``: under 3, 3 to 6, 6 and over).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from .datasets.base import AGE_GROUPS, PEDIATRIC_MAX_AGE, FeatureSet
from .metrics import SCORE_KEYS, scores
from .train import TrainConfig, as_tests, make_folds, plan_cv, predict_logits, runs
from .train.fit import FitResult, Tests, data_key
from .train.grid import Executor, SerialExecutor, TrainJob


@dataclass(frozen=True)
class AgeBands:
    """Named, contiguous age bands in years: band i is ``edges[i] <= age < edges[i + 1]``."""

    names: tuple[str, ...]
    edges: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.edges) != len(self.names) + 1 or list(self.edges) != sorted(set(self.edges)):
            raise ValueError(f"AgeBands: need {len(self.names) + 1} increasing edges for {self.names}, got {self.edges}")

    def of(self, age: float | None) -> str | None:
        """The band of ``age``; None when the age is unknown or outside every band."""
        if age is None or (isinstance(age, float) and math.isnan(age)):
            return None
        for name, low, high in zip(self.names, self.edges, self.edges[1:]):
            if low <= age < high:
                return name
        return None


PAPER_BANDS = AgeBands(AGE_GROUPS, (0.0, PEDIATRIC_MAX_AGE, math.inf))  # ("pediatric", "adult")
CHILDHOOD_BANDS = AgeBands(("under 3", "3 to 6", "6 and over"), (0.0, 3.0, 6.0, math.inf))

FALLBACK = "fallback"


class AgeRouter(nn.Module):
    """Routes each sample to ``models[band]`` (``bands``: pediatric under 18 and adult by default), else to
    ``fallback``.

    Fallbacks are counted, never silent: ``counts`` holds, over every call so far, how many samples went
    to each model and how many fell back because the age was missing (``fallback_missing_age``) or no
    model exists for the group (``fallback_no_model``); ``last_counts`` holds the last call's.
    """

    def __init__(self, models: dict[str, nn.Module], fallback: nn.Module, bands: AgeBands = PAPER_BANDS) -> None:
        super().__init__()
        unknown = set(models) - set(bands.names)
        if unknown:
            raise ValueError(f"AgeRouter: unknown age groups {sorted(unknown)}; use {bands.names}")
        self.bands = bands
        self.models = nn.ModuleDict(models)
        self.fallback = fallback
        self.counts: dict[str, int] = self._zero()
        self.last_counts: dict[str, int] = self._zero()

    def _zero(self) -> dict[str, int]:
        return {**{g: 0 for g in self.models}, "fallback_missing_age": 0, "fallback_no_model": 0}

    def route(self, groups: Sequence[str | None]) -> np.ndarray:
        """(N,) name of the model each sample goes to: an age group or ``"fallback"``; counts the call."""
        routes, counts = [], self._zero()
        for g in groups:
            if g is None or (isinstance(g, float) and np.isnan(g)):
                routes.append(FALLBACK)
                counts["fallback_missing_age"] += 1
            elif g in self.models:
                routes.append(g)
                counts[g] += 1
            else:
                routes.append(FALLBACK)
                counts["fallback_no_model"] += 1
        self.last_counts = counts
        for k, v in counts.items():
            self.counts[k] += v
        return np.asarray(routes, dtype=object)

    def forward(self, x: Tensor, groups: Sequence[str | None]) -> Tensor:
        """(B, 1, F, T) log-Mel and B age groups (None when unknown) -> (B, n_classes) logits."""
        if len(groups) != x.shape[0]:
            raise ValueError(f"AgeRouter: {x.shape[0]} inputs but {len(groups)} age groups")
        routes = self.route(groups)
        out: Tensor | None = None
        for name in np.unique(routes):
            idx = torch.as_tensor(np.flatnonzero(routes == name), device=x.device)
            model = self.fallback if name == FALLBACK else self.models[name]
            logits = model(x[idx])  # (b, C)
            if out is None:
                out = logits.new_zeros(x.shape[0], logits.shape[1])
            out[idx] = logits
        return out

    def predict_logits(self, data: FeatureSet, *, batch_size: int = 256) -> Tensor:
        """(N, n_classes) logits for a feature set, routed by ``sample_groups(data)``, in eval mode."""
        routes = self.route(sample_groups(data, self.bands))
        device = next(self.fallback.parameters()).device
        out = torch.zeros(len(data), 0)
        for name in np.unique(routes):
            idx = np.flatnonzero(routes == name)
            model = self.fallback if name == FALLBACK else self.models[name]
            logits = predict_logits(model, data.x[idx], batch_size=batch_size, device=device)  # (b, C)
            if out.shape[1] == 0:
                out = torch.zeros(len(data), logits.shape[1])
            out[torch.as_tensor(idx)] = logits
        return out


def sample_groups(data: FeatureSet, bands: AgeBands = PAPER_BANDS) -> list[str | None]:
    """Age band of each item, from the ``age`` column (for the paper's bands, an ``age_group`` column
    alone also works); None when unknown."""
    if "age" in data.meta:
        return [bands.of(None if a is None else float(a)) for a in data.meta["age"].tolist()]
    if bands == PAPER_BANDS and "age_group" in data.meta:
        return [g if isinstance(g, str) else None for g in data.meta["age_group"].tolist()]
    raise ValueError("feature set meta has no 'age' column: cannot route by age")


def age_shift_weights(source: Sequence[str | None], target: Sequence[str | None],
                      names: Sequence[str]) -> dict[str, float]:
    """Importance weights that give ``source`` items the age mix of ``target``: for each band of ``names``,
    its share of the target's items over its share of the source's (items of unknown age, None, count in
    neither). Only the targets' ages are read, never their labels. A band the target has and the source
    lacks gets NaN: no weighting of the source can stand in for it.

    Example: ``age_shift_weights(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"]) == {"a": 0.5, "b": 1.5}``
    """
    src = pd.Series([g for g in source if g is not None], dtype=object)
    tgt = pd.Series([g for g in target if g is not None], dtype=object)
    if src.empty or tgt.empty:
        raise ValueError(f"age_shift_weights: no item of known age in the {'source' if src.empty else 'target'}")
    p_src, p_tgt = src.value_counts(normalize=True), tgt.value_counts(normalize=True)
    out = {}
    for name in names:
        have, want = float(p_src.get(name, 0.0)), float(p_tgt.get(name, 0.0))
        out[name] = want / have if have else (0.0 if not want else math.nan)
    return out


@dataclass
class AgeModels:
    """Band and unified fits, the router built from them, and the cross table, for every repeat
    (fold x seed): the same folds and seeds for every model, so router and unified model form pairs."""

    fits: dict  # name -> FitResult of the first repeat (a band with too little data is absent)
    router: AgeRouter  # of the first repeat
    table: pd.DataFrame  # a row per (fold, seed, model, test set, age subset): n, scores, fallbacks (router rows)
    skipped: dict[str, str] = field(default_factory=dict)  # band -> why no model was trained
    bands: AgeBands = PAPER_BANDS


def train_age_models(train: FeatureSet, config: TrainConfig, *, tests: FeatureSet | Tests, k: int = 5,
                     fold_seed: int = 0, root: str | Path = "runs", progress: bool = True,
                     executor: Executor | None = None, bands: AgeBands = PAPER_BANDS, repeats: int = 1,
                     seeds: Sequence[int] = (0,)) -> AgeModels:
    """Train a model per age band and a unified model; score each, and the router, on each band's subset
    of every named test set (``tests``: a mapping, or one ``FeatureSet`` meaning ``{"test": it}``).

    Each model's epoch is chosen on a held-out patient-wise fold of its own training subset: the first
    ``repeats`` of ``k`` folds, each with every seed in ``seeds`` (``repeats=k`` and 2 seeds give 2k
    pairs of router and unified model). The unified model's trainings are those of a cross-validation of
    ``train`` (``plan_cv``, the same folds and keys), so a study that cross-validates the same config
    trains them once. Every training runs together on ``executor`` (default: one after another in this
    process).
    """
    if not 1 <= repeats <= k:
        raise ValueError(f"repeats must be in 1..k={k}, got {repeats}")
    groups = np.asarray(sample_groups(train, bands), dtype=object)
    subsets = {g: train.subset(np.flatnonzero(groups == g)) for g in bands.names}
    subsets["unified"] = train
    jobs, skipped = {}, {}
    for name, data in subsets.items():
        n_patients = len(np.unique(data.groups)) if len(data) else 0
        if n_patients < max(k, 2):
            skipped[name] = f"{len(data)} items from {n_patients} patients: too few for {k} patient-wise folds"
            continue
        if name == "unified":  # a cross-validation of the whole set, under its keys: trained once for both
            plan = plan_cv(data, config, k=k, seeds=seeds, tests=tests, root=root, fold_seed=fold_seed)
            jobs.update({(fold, int(seed), name): plan.jobs[i * k + fold]
                         for i, seed in enumerate(seeds) for fold in range(repeats)})
            continue
        folds = make_folds(data, k, fold_seed)
        for fold in range(repeats):
            tr, va = folds[fold]
            for seed in seeds:
                cfg = replace(config, seed=int(seed))
                key = runs.run_key(cfg.cache_key(), **data_key(data.subset(tr), data.subset(va), {}))
                jobs[(fold, int(seed), name)] = TrainJob(cfg, data, tr, va, {}, Path(root) / key, key)
    if "unified" in skipped:
        raise ValueError(f"train_age_models: cannot train the unified model ({skipped['unified']})")
    results = dict(zip(jobs, (executor or SerialExecutor(progress=progress)).run(list(jobs.values()))))
    tables, first = [], None
    for fold in range(repeats):
        for seed in seeds:
            fits = {name: results[(fold, int(seed), name)] for name in subsets if name not in skipped}
            router = AgeRouter({g: fits[g].model for g in bands.names if g in fits}, fits["unified"].model, bands)
            tables.append(age_table(fits, router, tests, normal=config.normal).assign(fold=fold, seed=int(seed)))
            first = first or (fits, router)
    return AgeModels(fits=first[0], router=first[1], table=pd.concat(tables, ignore_index=True), skipped=skipped,
                     bands=bands)


def age_table(fits: dict[str, FitResult], router: AgeRouter, tests: FeatureSet | Tests, *,
              normal: int = 0) -> pd.DataFrame:
    """Each model (and the router) on each age band's part, and the whole, of every named test set:
    a row per (model, test_set, test_subset) with n, Sp, Se, AS, HS, Scores."""
    rows = []
    for test_name, test in as_tests(tests).items():
        rows += _age_rows(fits, router, test_name, test, normal)
    return pd.DataFrame(rows)


def _age_rows(fits: dict, router: AgeRouter, test_name: str, test: FeatureSet, normal: int) -> list[dict]:
    test_groups = np.asarray(sample_groups(test, router.bands), dtype=object)
    subsets = {g: np.flatnonzero(test_groups == g) for g in router.bands.names}
    subsets["all"] = np.arange(len(test))
    rows = []
    for name in [*fits, "router"]:
        for subset, idx in subsets.items():
            row = {"model": name, "test_set": test_name, "test_subset": subset, "n": len(idx)}
            part = test.subset(idx)
            if len(idx) == 0:
                row.update({key: float("nan") for key in SCORE_KEYS})
            elif name == "router":
                logits = router.predict_logits(part)
                row.update(scores(part.y.numpy(), logits.argmax(1).numpy(), normal=normal, n_classes=logits.shape[1]))
                row.update(router.last_counts)
            else:
                model = fits[name].model
                logits = predict_logits(model, part.x, device=next(model.parameters()).device)
                row.update(scores(part.y.numpy(), logits.argmax(1).numpy(), normal=normal, n_classes=logits.shape[1]))
            rows.append(row)
    return rows
