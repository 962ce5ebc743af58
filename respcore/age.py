"""Age-specific models (PAPER.md, "Age groups"): pediatric-only, adult-only and unified models, and a
router that picks the model by each sample's age group, falling back to the unified model when the age
is unknown (or no model exists for the group) and counting every fallback.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from .datasets.base import AGE_GROUPS, FeatureSet, age_group
from .metrics import SCORE_KEYS, scores
from .train import TrainConfig, as_tests, make_folds, predict_logits, runs
from .train.fit import Tests, data_key
from .train.grid import Executor, SerialExecutor, TrainJob

FALLBACK = "fallback"


class AgeRouter(nn.Module):
    """Routes each sample to ``models[age_group]`` ("pediatric" under 18, "adult"), else to ``fallback``.

    Fallbacks are counted, never silent: ``counts`` holds, over every call so far, how many samples went
    to each model and how many fell back because the age was missing (``fallback_missing_age``) or no
    model exists for the group (``fallback_no_model``); ``last_counts`` holds the last call's.
    """

    def __init__(self, models: dict[str, nn.Module], fallback: nn.Module) -> None:
        super().__init__()
        unknown = set(models) - set(AGE_GROUPS)
        if unknown:
            raise ValueError(f"AgeRouter: unknown age groups {sorted(unknown)}; use {AGE_GROUPS}")
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
        routes = self.route(sample_groups(data))
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


def sample_groups(data: FeatureSet) -> list[str | None]:
    """Age group of each item: the ``age_group`` column, else derived from ``age``; None when unknown."""
    if "age_group" in data.meta:
        groups = data.meta["age_group"].tolist()
        return [g if isinstance(g, str) else None for g in groups]
    if "age" in data.meta:
        return [age_group(a) for a in data.meta["age"].tolist()]
    raise ValueError("feature set meta has neither 'age_group' nor 'age': cannot route by age")


@dataclass
class AgeModels:
    """Pediatric, adult and unified fits, the router built from them, and the cross table."""

    fits: dict  # name -> FitResult ("pediatric", "adult", "unified"; a group with too little data is absent)
    router: AgeRouter
    table: pd.DataFrame  # one row per (model, test set, age subset): n, scores, fallbacks (router rows)
    skipped: dict[str, str] = field(default_factory=dict)  # group -> why no model was trained


def train_age_models(train: FeatureSet, config: TrainConfig, *, tests: FeatureSet | Tests, k: int = 5,
                     fold_seed: int = 0, root: str | Path = "runs", progress: bool = True,
                     executor: Executor | None = None) -> AgeModels:
    """Train pediatric-only, adult-only and unified models; score each on each age group's subset of
    every named test set (``tests``: a mapping, or one ``FeatureSet`` meaning ``{"test": it}``).

    Each model's epoch is chosen on a held-out patient-wise fold (the first of ``k``) of its own
    training subset. The router row uses the age models where they exist, the unified one otherwise.
    The three trainings run together on ``executor`` (default: one after another in this process).
    """
    groups = np.asarray(sample_groups(train), dtype=object)
    subsets = {g: train.subset(np.flatnonzero(groups == g)) for g in AGE_GROUPS}
    subsets["unified"] = train
    jobs, skipped = {}, {}
    for name, data in subsets.items():
        n_patients = len(np.unique(data.groups)) if len(data) else 0
        if n_patients < max(k, 2):
            skipped[name] = f"{len(data)} items from {n_patients} patients: too few for {k} patient-wise folds"
            continue
        tr, va = make_folds(data, k, fold_seed)[0]
        key = runs.run_key(config.cache_key(), **data_key(data.subset(tr), data.subset(va), {}))
        jobs[name] = TrainJob(config, data, tr, va, {}, Path(root) / key, key)
    results = (executor or SerialExecutor(progress=progress)).run(list(jobs.values()))
    fits = dict(zip(jobs, results))
    if "unified" not in fits:
        raise ValueError(f"train_age_models: cannot train the unified model ({skipped['unified']})")
    router = AgeRouter({g: fits[g].model for g in AGE_GROUPS if g in fits}, fits["unified"].model)
    return AgeModels(fits=fits, router=router, table=age_table(fits, router, tests, normal=config.normal),
                     skipped=skipped)


def age_table(fits: dict, router: AgeRouter, tests: FeatureSet | Tests, *, normal: int = 0) -> pd.DataFrame:
    """Each model (and the router) on the pediatric, adult and whole part of every named test set:
    a row per (model, test_set, test_subset) with n, Sp, Se, AS, HS, Scores."""
    rows = []
    for test_name, test in as_tests(tests).items():
        rows += _age_rows(fits, router, test_name, test, normal)
    return pd.DataFrame(rows)


def _age_rows(fits: dict, router: AgeRouter, test_name: str, test: FeatureSet, normal: int) -> list[dict]:
    test_groups = np.asarray(sample_groups(test), dtype=object)
    subsets = {g: np.flatnonzero(test_groups == g) for g in AGE_GROUPS}
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
