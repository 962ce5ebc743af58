"""Table I (TSA placement), Table II (age), the state-of-the-art table and the claims scorecard."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import train
from ..age import PAPER_BANDS, AgeModels, train_age_models
from ..flops import count_flops
from ..models import PLACEMENTS, build_model
from ..train import CVResult, TrainConfig
from . import published
from .config import Study
from .data import StudyData
from .pairs import headline_column, pair_entry
from .scorecard import scorecard, styled, verdict_counts  # noqa: F401 (verdict_counts: the notebooks' API)

PAPER_INPUT = (1, 1, 64, 251)  # the paper's 8 s, 64-band input: FLOPs are quoted on it


def train_config(study: Study, data: StudyData, **overrides: Any) -> TrainConfig:
    """The profile's TrainConfig for this data (backbone and selection metric from the dataset facts)."""
    base = {"backbone": data.backbone, "device": study.device, "n_classes": data.train.n_classes,
            "select_metric": data.facts.select_metric, "normal": data.facts.normal}
    return TrainConfig.from_profile(study.profile, **{**base, **overrides})


def cross_validate(study: Study, data: StudyData, config: TrainConfig) -> CVResult:
    """Patient-wise K-fold CV of ``data.train`` with the study's folds and seeds, every fold model scored on
    each named test set; cached under the study's run folder."""
    return cross_validate_many(study, data, [config])[0]


def cross_validate_many(study: Study, data: StudyData, configs: list[TrainConfig]) -> list[CVResult]:
    """Cross-validations of several configs on the same data and folds, every training in one batch on
    the study's executor."""
    p = study.profile
    plans = [train.plan_cv(data.train, config, k=p.folds, seeds=range(p.seeds), tests=data.tests,
                           root=study.runs_dir) for config in configs]
    return train.cross_validate_many(plans, study.executor)


def _paper_macs(backbone: str, n_classes: int, tsa: str, n_bands: int = 64) -> float:
    """GMACs (the paper's "GFLOPs") of a full-width model on the paper's 64 x 251 input."""
    shape = (1, 1, n_bands, PAPER_INPUT[-1])
    return count_flops(build_model(backbone, n_classes, n_bands, tsa, width=1.0), shape)["macs"] / 1e9


def _frac(percent: float | None) -> float | None:
    """A paper figure in % as a fraction, like every score in our tables."""
    return None if percent is None else percent / 100


def tsa_ablation(study: Study, data: StudyData) -> pd.DataFrame:
    """Table I: TSA placements cross-validated (all of them in the paper profile; none, input, block1 and
    post otherwise); a row per placement.

    Columns: placement, AS/Sp/Se mean and std over folds and seeds (validation, fractions, as every score
    here), ``<test>_AS_mean`` and ``<test>_score_mean`` per named test set (the fold models, chosen on
    validation, on that test set; score = the benchmark's headline score), GFLOPs_profile (ours, at this
    profile's width and input), GFLOPs_paper_input (full width, 64 x 251; a MAC counted as one FLOP),
    params_M, paper_AS (fraction), paper_GFLOPs, trainings.
    """
    rows = []
    n_cls, (f, t) = data.train.n_classes, data.train.x.shape[-2:]
    # outside the paper profile, the placements the paper's Table I reports (and no TSA): every training
    # is 5 folds here, and the other four placements cost as much again
    placements = PLACEMENTS[data.backbone] if study.profile.name == "paper" else [
        t for t in ("none", "input", "block1", "post") if t in PLACEMENTS[data.backbone]]
    results = cross_validate_many(study, data, [train_config(study, data, tsa=tsa) for tsa in placements])
    for tsa, res in zip(placements, results):
        mean, std = res.mean("val"), res.std("val")
        ours = build_model(data.backbone, n_cls, f, tsa, width=study.profile.width)
        paper = published.TABLE_I.get(tsa, {})
        row = {"placement": tsa, "AS_mean": mean["AS"], "AS_std": std["AS"], "Sp_mean": mean["Sp"],
               "Sp_std": std["Sp"], "Se_mean": mean["Se"], "Se_std": std["Se"]}
        for name in data.tests:
            test = res.mean(name)
            row.update({f"{name}_AS_mean": test["AS"], f"{name}_score_mean": test[data.facts.score]})
        rows.append({**row, "GFLOPs_profile": count_flops(ours, (1, 1, f, t))["macs"] / 1e9,
                     "GFLOPs_paper_input": _paper_macs(data.backbone, n_cls, tsa),
                     "params_M": sum(p.numel() for p in ours.parameters()) / 1e6,
                     "paper_AS": _frac(paper.get("AS")), "paper_GFLOPs": paper.get("GFLOPs"),
                     "trainings": res.trainings})
    table = pd.DataFrame(rows)
    by = table.set_index("placement")
    column, test = headline_column(data)
    runs = dict(zip(placements, (r.runs for r in results)))
    pairs = {f"post_vs_{other}": pair_entry(runs["post"], runs[other], column, a_label="post", b_label=other)
             for other in ("block1", "input") if other in runs and "post" in runs}
    study.save_summary({"AS": by["AS_mean"].to_dict(), "AS_std": by["AS_std"].to_dict(),
                        "tests": {name: {"AS": by[f"{name}_AS_mean"].to_dict(),
                                         "score": by[f"{name}_score_mean"].to_dict()} for name in data.tests},
                        "score_name": data.facts.score,
                        "GFLOPs_paper_input": by["GFLOPs_paper_input"].to_dict(), "backbone": data.backbone,
                        "pairs": pairs, "pairs_test_set": test})
    return table


def table2_paper() -> pd.DataFrame:
    """The paper's Table II figures as plot markers: (subset, model, value in %)."""
    return pd.DataFrame([{"subset": "pediatric", "model": "unified", "value": published.TABLE_II["unified_on_pediatric"]},
                         {"subset": "pediatric", "model": "pediatric",
                          "value": published.TABLE_II["pediatric_on_pediatric"]}])


def fit_router(study: Study, data: StudyData) -> AgeModels:
    """A CNN-TSA per age band of the dataset (child/adult, or within childhood on SPRSound) and a unified
    one, on every fold x seed of the profile (cached trainings), and their routers: ``AgeModels``."""
    p = study.profile
    return train_age_models(data.train, train_config(study, data), tests=data.tests, k=p.folds, repeats=p.folds,
                            seeds=range(p.seeds), root=study.runs_dir, executor=study.executor,
                            bands=data.facts.age_bands)


def age_table(study: Study, data: StudyData) -> pd.DataFrame:
    """Table II: a model per age band, the unified model and the age router, on each band's part of each
    test set, as means over the profile's folds x seeds.

    Each model is trained on its band's training items, its epoch chosen on a patient-wise held-out fold.
    A row per (model, test set, subset) with n, AS, Sp, Se (fractions, means over repeats), repeats,
    fallbacks (router rows: items sent to the unified model, per repeat) and the paper's AS (fraction) where
    it has one. Our models are CNN-TSA on all bands (the paper's child-specific model also used FBS with BS).
    The summary keeps the router-versus-unified pairs on the first test set: on its pediatric part for the
    paper's bands, on the whole set for bands within childhood.
    """
    ages = fit_router(study, data)
    t = ages.table.rename(columns={"test_subset": "subset"})
    t = t[t["n"] > 0].copy()
    t["model"] = t["model"].replace({"router": "routed"})
    t["fallbacks"] = (t.get("fallback_missing_age", 0) + t.get("fallback_no_model", 0)).fillna(0).astype(int)
    keys = ["model", "test_set", "subset"]
    table = (t.groupby(keys, sort=False)
             .agg(n=("n", "first"), AS=("AS", "mean"), Sp=("Sp", "mean"), Se=("Se", "mean"),
                  repeats=("AS", "size"), fallbacks=("fallbacks", "first")).reset_index())
    table["paper_AS"] = [_frac(published.TABLE_II.get(f"{m}_on_{s}")) for m, s in zip(table["model"], table["subset"])]
    column, test = headline_column(data)
    subset = "pediatric" if data.facts.age_bands == PAPER_BANDS else "all"
    pairs, why_not = {}, "; ".join(f"no {g} model: {why}" for g, why in ages.skipped.items())
    mine = t[(t["test_set"] == test) & (t["subset"] == subset)]
    if not mine.empty and {"routed", "unified"} <= set(mine["model"]):
        score = column[len(test) + 1:]
        a, b = (mine[mine["model"] == m].rename(columns={score: column}) for m in ("routed", "unified"))
        pairs["routed_vs_unified"] = pair_entry(a, b, column, a_label=f"routed by age ({', '.join(ages.bands.names)})",
                                                b_label="unified")
    else:
        why_not = f"no {subset} items in the {test} test set" + (f"; {why_not}" if why_not else "")
    ped = table[table["subset"] == "pediatric"]
    on_ped = {name: g.set_index("model")["AS"].astype(float).to_dict() for name, g in ped.groupby("test_set")}
    study.save_summary({"AS_on_pediatric": on_ped.get(test, {}), "AS_on_pediatric_by_test": on_ped,
                        "why_not": why_not, "skipped": ages.skipped, "bands": list(ages.bands.names),
                        "pairs": pairs, "pairs_test_set": test, "pairs_subset": subset})
    return table[["model", "test_set", "subset", "n", "AS", "Sp", "Se", "repeats", "fallbacks", "paper_AS"]]


def sota_table(study: Study, headline: pd.DataFrame) -> pd.DataFrame:
    """Published results for the study's benchmark beside ours: from ``headline`` (``headline_table``), per
    task and named test set, the challenge baseline, CNN-TSA and CNN-TSA+FBS as measured in this run.

    Columns: label, method, backbone, task, test_set, Sp, Se, Score (%), source, caveat, source_kind
    ("published", "ours (real)" or "ours (synthetic)").
    """
    bench = study.facts.benchmark
    pub = published.published_table(bench).rename(columns={"sp": "Sp", "se": "Se", "score": "Score"})
    pub = pub.assign(source_kind="published", test_set=pub["test_set"].replace("", None))  # as the source names it
    kind = "ours (real)" if study.is_real else "ours (synthetic)"
    where = f"profile {study.profile.name}"
    ours = []
    for r in headline.to_dict("records"):
        common = {"task": r["task"], "test_set": r["test_set"]}
        ours.append({**common, "method": "challenge baseline (ours)", "backbone": "40 MFCC + poly SVM, C=2",
                     "Score": 100 * r["baseline"], "source": f"measured: notebook 05, {r['test_set']} test set"})
        ours.append({**common, "method": "CNN-TSA (ours)", "backbone": study.facts.backbone, "Score": 100 * r["cnn_tsa"],
                     "source": f"measured: notebook 05, {where}, mean of {r['pairs']} fold models"})
        if r.get("fbs") is not None and not pd.isna(r["fbs"]):
            ours.append({**common, "method": "CNN-TSA + FBS (ours)", "backbone": f"{int(r['fbs_bands'])} bands",
                         "Score": 100 * r["fbs"], "source": f"measured: notebook 03, {where}"})
    mine = pd.DataFrame(ours, columns=["method", "backbone", "task", "test_set", "Score", "source"])
    mine = mine.assign(dataset=study.dataset, Sp=np.nan, Se=np.nan, source_kind=kind,
                       caveat="validation-selected" if study.is_real else "synthetic corpus: not comparable")
    table = pd.concat([pub, mine], ignore_index=True)
    at = table["test_set"].fillna("").map(lambda t: f", {t}" if t else "")
    table["label"] = table["method"] + " [" + table["task"].astype(str) + at + "]"
    table = table.dropna(subset=["Score"]).reset_index(drop=True)
    study.save_summary({"ours": mine[["method", "task", "test_set", "Score"]].to_dict("records"), "benchmark": bench,
                        "headline": headline.replace({np.nan: None}).to_dict("records"),
                        "score_name": study.facts.score})
    return table[["label", "method", "backbone", "task", "test_set", "Sp", "Se", "Score", "source", "caveat",
                  "source_kind"]]


def claims_scorecard(study: Study) -> pd.DataFrame:
    """The scorecard computed from every results folder beside this one, and the real-data snapshots
    under the study's ``real_dir``."""
    return scorecard(study.out.parent, study.real_dir)


def styled_scorecard(card: pd.DataFrame):
    """The scorecard table as shown in the book (verdicts coloured)."""
    return styled(card)
