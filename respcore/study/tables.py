"""Table I (TSA placement), Table II (age), the state-of-the-art table and the claims scorecard."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import train
from ..age import AgeModels, train_age_models
from ..flops import count_flops
from ..models import PLACEMENTS, build_model
from ..train import CVResult, TrainConfig
from . import published
from .config import Study, read_summary
from .data import StudyData
from .scorecard import scorecard, styled

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
    """Table I: every TSA placement cross-validated; a row per placement.

    Columns: placement, AS/Sp/Se mean and std over folds and seeds (validation, fractions, as every score
    here), ``<test>_AS_mean`` and ``<test>_score_mean`` per named test set (the fold models, chosen on
    validation, on that test set; score = the benchmark's headline score), GFLOPs_profile (ours, at this
    profile's width and input), GFLOPs_paper_input (full width, 64 x 251; a MAC counted as one FLOP),
    params_M, paper_AS (fraction), paper_GFLOPs, trainings.
    """
    rows = []
    n_cls, (f, t) = data.train.n_classes, data.train.x.shape[-2:]
    placements = PLACEMENTS[data.backbone]
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
    study.save_summary({"AS": by["AS_mean"].to_dict(), "AS_std": by["AS_std"].to_dict(),
                        "tests": {name: {"AS": by[f"{name}_AS_mean"].to_dict(),
                                         "score": by[f"{name}_score_mean"].to_dict()} for name in data.tests},
                        "score_name": data.facts.score,
                        "GFLOPs_paper_input": by["GFLOPs_paper_input"].to_dict(), "backbone": data.backbone})
    return table


def table2_paper() -> pd.DataFrame:
    """The paper's Table II figures as plot markers: (subset, model, value in %)."""
    return pd.DataFrame([{"subset": "pediatric", "model": "unified", "value": published.TABLE_II["unified_on_pediatric"]},
                         {"subset": "pediatric", "model": "pediatric",
                          "value": published.TABLE_II["pediatric_on_pediatric"]}])


def fit_router(study: Study, data: StudyData) -> AgeModels:
    """Pediatric, adult and unified CNN-TSA models (cached trainings) and their router: ``AgeModels``."""
    return train_age_models(data.train, train_config(study, data), tests=data.tests, k=study.profile.folds,
                            root=study.runs_dir, executor=study.executor)


def age_table(study: Study, data: StudyData) -> pd.DataFrame:
    """Table II: unified, pediatric-only, adult-only models and the age router on each age group's test subset.

    Each model is trained on its group's training cycles, its epoch chosen on a patient-wise held-out
    fold. A row per (model, test set, subset) with n, AS, Sp, Se (fractions), fallbacks (router rows: cycles sent to
    the unified model) and the paper's AS (fraction) where it has one. Our models are CNN-TSA on all bands (the
    paper's child-specific model also used FBS with BS).
    """
    ages = fit_router(study, data)
    t = ages.table.rename(columns={"test_subset": "subset"})
    t = t[t["n"] > 0].copy()
    t["model"] = t["model"].replace({"router": "routed"})
    t["fallbacks"] = (t.get("fallback_missing_age", 0) + t.get("fallback_no_model", 0)).fillna(0).astype(int)
    t["paper_AS"] = [_frac(published.TABLE_II.get(f"{m}_on_{s}")) for m, s in zip(t["model"], t["subset"])]
    table = t[["model", "test_set", "subset", "n", "AS", "Sp", "Se", "fallbacks", "paper_AS"]].reset_index(drop=True)
    ped = table[table["subset"] == "pediatric"]
    why_not = "; ".join(f"no {g} model: {why}" for g, why in ages.skipped.items())
    if ped.empty:
        why_not = "no pediatric cycles in the test sets" + (f"; {why_not}" if why_not else "")
    on_ped = {name: g.set_index("model")["AS"].astype(float).to_dict() for name, g in ped.groupby("test_set")}
    first = next(iter(data.tests))  # the verdict reads the first test set; the page shows every one
    study.save_summary({"AS_on_pediatric": on_ped.get(first, {}), "AS_on_pediatric_by_test": on_ped,
                        "why_not": why_not, "skipped": ages.skipped})
    return table


def sota_table(study: Study) -> pd.DataFrame:
    """Published results for the study's benchmark beside ours, read from notebooks 02 and 03's summaries
    of this study run, one "ours" row per named test set.

    Columns: label, method, backbone, task, test_set, Sp, Se, Score (%), source, caveat, source_kind
    ("published", "ours (real)" or "ours (synthetic)").
    """
    bench = study.facts.benchmark
    pub = published.published_table(bench).rename(columns={"sp": "Sp", "se": "Se", "score": "Score"})
    pub = pub.assign(source_kind="published", test_set=None)  # published rows name no test set
    kind = "ours (real)" if study.is_real else "ours (synthetic)"
    results = study.out.parent
    s02, s03 = read_summary(results, "02_tsa_placement"), read_summary(results, "03_band_retention")
    ours = []
    for name, test in ((s02 or {}).get("tests") or {}).items():
        ours.append({"method": "CNN-TSA (ours)", "backbone": s02.get("backbone", ""), "test_set": name,
                     "Score": 100 * test["score"]["post"],
                     "source": f"measured: notebook 02, profile {s02['profile']}, {name} test set"})
    for name, score in ((s03 or {}).get("best_test_score") or {}).items():
        if score is not None:
            ours.append({"method": "CNN-TSA + FBS (ours)", "backbone": f"{s03.get('best_n_bands')} bands",
                         "test_set": name, "Score": 100 * score,
                         "source": f"measured: notebook 03, profile {s03['profile']}, {name} test set"})
    mine = pd.DataFrame(ours, columns=["method", "backbone", "test_set", "Score", "source"])
    task = {"icbhi": "4-class", "sprsound": "1-2"}[bench]
    mine = mine.assign(dataset=study.dataset, task=task, Sp=np.nan, Se=np.nan, source_kind=kind,
                       caveat="validation-selected" if study.is_real else "synthetic corpus: not comparable")
    table = pd.concat([pub, mine], ignore_index=True)
    where = table["test_set"].fillna("").map(lambda t: f", {t}" if t else "")
    table["label"] = table["method"] + " [" + table["task"].astype(str) + where + "]"
    table = table.dropna(subset=["Score"]).reset_index(drop=True)
    study.save_summary({"ours": mine[["method", "test_set", "Score"]].to_dict("records"), "benchmark": bench})
    return table[["label", "method", "backbone", "task", "test_set", "Sp", "Se", "Score", "source", "caveat",
                  "source_kind"]]


def claims_scorecard(study: Study) -> pd.DataFrame:
    """The scorecard computed from every results folder beside this one, and the real-data snapshots
    under the study's ``real_dir``."""
    return scorecard(study.out.parent, study.real_dir)


def styled_scorecard(card: pd.DataFrame):
    """The scorecard table as shown in the book (verdicts coloured)."""
    return styled(card)


def verdict_counts(card: pd.DataFrame) -> str:
    """One markdown line: how many claims got each verdict."""
    counts = card["verdict"].value_counts()
    return "**Verdicts:** " + ", ".join(f"{v}: {n}" for v, n in counts.items()) + f" (of {len(card)} claims)."
