"""Table I (TSA placement), Table II (age), the state-of-the-art table and the claims scorecard."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import published
from ..datasets.base import FeatureSet
from .context import Study, read_summary
from .data import StudyData

RUNS_DIR = Path("runs")  # training cache, relative to the working directory (the repository root)
PAPER_INPUT = (1, 1, 64, 251)  # the paper's 8 s, 64-band input: FLOPs are quoted on it


def train_config(study: Study, data: StudyData, **overrides: Any):
    """The profile's TrainConfig for this data (backbone by dataset), with ``overrides``."""
    from ..train import TrainConfig

    base = {"backbone": data.backbone, "device": study.device, "n_classes": data.train.n_classes}
    return TrainConfig.from_profile(study.profile, **{**base, **overrides})


def cross_validate(study: Study, train: FeatureSet, config, test: FeatureSet | None = None):
    """Patient-wise K-fold CV with the study's folds and seeds, cached under ``runs/``."""
    from ..cv import cross_validate as cv

    p = study.profile
    return cv(train, config, k=p.folds, seeds=range(p.seeds), test=test, root=RUNS_DIR, progress=True)


def _paper_macs(backbone: str, n_classes: int, tsa: str, n_bands: int = 64) -> float:
    """GMACs (the paper's "GFLOPs") of a full-width model on the paper's 64 x 251 input."""
    from .. import build_model, count_flops

    shape = (1, 1, n_bands, PAPER_INPUT[-1])
    return count_flops(build_model(backbone, n_classes, n_bands, tsa, width=1.0), shape)["macs"] / 1e9


def _frac(percent: float | None) -> float | None:
    """A paper figure in % as a fraction, like every score in our tables."""
    return None if percent is None else percent / 100


def tsa_ablation(study: Study, data: StudyData) -> pd.DataFrame:
    """Table I: every TSA placement cross-validated; a row per placement.

    Columns: placement, AS/Sp/Se mean and std over folds and seeds (validation, fractions, as every score here), test_AS_mean
    (final fold models on the official test split), GFLOPs_profile (ours, at this profile's width and
    input), GFLOPs_paper_input (full width, 64 x 251; a MAC counted as one FLOP), params_M,
    paper_AS (fraction), paper_GFLOPs.
    """
    from .. import build_model, count_flops
    from ..models import PLACEMENTS

    rows = []
    n_cls, (f, t) = data.train.n_classes, data.train.x.shape[-2:]
    for tsa in PLACEMENTS[data.backbone]:
        cfg = train_config(study, data, tsa=tsa)
        res = cross_validate(study, data.train, cfg, test=data.test)
        mean, std, test = res.mean("val"), res.std("val"), res.mean("test")
        ours = build_model(data.backbone, n_cls, f, tsa, width=study.profile.width)
        paper = published.TABLE_I.get(tsa, {})
        rows.append({"placement": tsa, "AS_mean": mean["AS"], "AS_std": std["AS"], "Sp_mean": mean["Sp"],
                     "Sp_std": std["Sp"], "Se_mean": mean["Se"], "Se_std": std["Se"], "test_AS_mean": test["AS"],
                     "GFLOPs_profile": count_flops(ours, (1, 1, f, t))["macs"] / 1e9,
                     "GFLOPs_paper_input": _paper_macs(data.backbone, n_cls, tsa),
                     "params_M": sum(p.numel() for p in ours.parameters()) / 1e6,
                     "paper_AS": _frac(paper.get("AS")), "paper_GFLOPs": paper.get("GFLOPs"), "trainings": res.trainings})
    table = pd.DataFrame(rows)
    study.save_summary({"AS": dict(zip(table["placement"], table["AS_mean"])),
                        "AS_std": dict(zip(table["placement"], table["AS_std"])),
                        "test_AS": dict(zip(table["placement"], table["test_AS_mean"])),
                        "GFLOPs_paper_input": dict(zip(table["placement"], table["GFLOPs_paper_input"])),
                        "backbone": data.backbone})
    return table


def table2_paper() -> pd.DataFrame:
    """The paper's Table II figures as plot markers: (subset, model, value in %)."""
    return pd.DataFrame([{"subset": "pediatric", "model": "unified", "value": published.TABLE_II["unified_on_pediatric"]},
                         {"subset": "pediatric", "model": "pediatric",
                          "value": published.TABLE_II["pediatric_on_pediatric"]}])


def fit_router(study: Study, data: StudyData):
    """Pediatric, adult and unified CNN-TSA models (cached trainings) and their router: ``AgeModels``."""
    from ..age import train_age_models

    return train_age_models(data.train, train_config(study, data), test=data.test, k=study.profile.folds,
                            root=RUNS_DIR)


def age_table(study: Study, data: StudyData) -> pd.DataFrame:
    """Table II: unified, pediatric-only, adult-only models and the age router on each age group's test subset.

    Each model is trained on its group's training cycles, its epoch chosen on a patient-wise held-out
    fold. A row per (model, subset) with n, AS, Sp, Se (fractions), fallbacks (router rows: cycles sent to
    the unified model) and the paper's AS (fraction) where it has one. Our models are CNN-TSA on all bands (the
    paper's child-specific model also used FBS with BS).
    """
    ages = fit_router(study, data)
    t = ages.table.rename(columns={"test_subset": "subset"})
    t = t[t["n"] > 0].copy()
    t["model"] = t["model"].replace({"router": "routed"})
    t["fallbacks"] = (t.get("fallback_missing_age", 0) + t.get("fallback_no_model", 0)).fillna(0).astype(int)
    t["paper_AS"] = [_frac(published.TABLE_II.get(f"{m}_on_{s}")) for m, s in zip(t["model"], t["subset"])]
    table = t[["model", "subset", "n", "AS", "Sp", "Se", "fallbacks", "paper_AS"]].reset_index(drop=True)
    ped = table[table["subset"] == "pediatric"].set_index("model")["AS"].to_dict()
    why_not = "; ".join(f"no {g} model: {why}" for g, why in ages.skipped.items())
    if not (data.test.meta["age_group"] == "pediatric").any():
        why_not = "no pediatric cycles in the test split" + (f"; {why_not}" if why_not else "")
    study.save_summary({"AS_on_pediatric": {k: float(v) for k, v in ped.items()}, "why_not": why_not,
                        "skipped": ages.skipped})
    return table


def sota_table(study: Study) -> pd.DataFrame:
    """Published results for the study's benchmark beside ours (read from notebooks 02 and 03's summaries).

    The committed real-data results (``results/real``) are added as "ours (real)" rows beside the published
    SPRSound figures, each labelled with its task, test set and epoch selection.

    Columns: label, method, backbone, task, Sp, Se, Score (%), source, caveat, source_kind
    ("published", "ours (real)" or "ours (synthetic)").
    """
    bench = "sprsound" if study.dataset == "sprsound" else "icbhi"
    pub = published.published_table(bench).rename(columns={"sp": "Sp", "se": "Se", "score": "Score"})
    pub["source_kind"] = "published"
    kind = "ours (real)" if study.is_real else "ours (synthetic)"
    ours = []
    results = study.out.parent
    s02, s03 = read_summary(results, "02_tsa_placement"), read_summary(results, "03_band_retention")
    if s02:
        score = s02.get("test_AS", {}).get("post", s02["AS"].get("post"))
        ours.append({"method": "CNN-TSA (ours)", "backbone": s02.get("backbone", ""), "Score": 100 * score,
                     "source": f"measured: notebook 02, profile {s02['profile']}, test split"})
    if s03 and s03.get("best_test_score") is not None:
        ours.append({"method": "CNN-TSA + FBS (ours)", "backbone": f"{s03.get('best_n_bands')} bands",
                     "Score": 100 * s03["best_test_score"],
                     "source": f"measured: notebook 03, profile {s03['profile']}, test split"})
    mine = pd.DataFrame(ours, columns=["method", "backbone", "Score", "source"])
    mine = mine.assign(dataset=study.dataset, task="4-class" if bench == "icbhi" else "1-2", Sp=np.nan, Se=np.nan,
                       caveat="synthetic corpus: not comparable" if not study.is_real else "validation-selected",
                       source_kind=kind)
    table = pd.concat([pub, mine, *_real_sota(bench)], ignore_index=True)
    table["label"] = table["method"] + " [" + table["task"].astype(str) + "]"
    # the committed real-data rows name their test set, epoch selection and runs; the rows this run's
    # notebooks 02 and 03 measured (real or synthetic) keep the plain label
    committed = table["test_set"].notna() if "test_set" in table else pd.Series(False, index=table.index)
    real = (table["source_kind"] == "ours (real)") & committed
    here = (table["source_kind"] == "ours (real)") & ~committed
    table.loc[here, "label"] = (table.loc[here, "method"] + " [REAL " + table.loc[here, "task"].astype(str)
                                + ", this study run]")
    table.loc[real, "label"] = (table.loc[real, "method"] + " [REAL " + table.loc[real, "task"].astype(str) + ", "
                                + table.loc[real, "test_set"] + ", "
                                + table.loc[real, "selection"].replace({"best_epoch_on_test": "best epoch on test"})
                                + ", " + table.loc[real, "profile"] + " profile, "
                                + table.loc[real, "n_runs"].astype("Int64").astype(str) + " run(s)]")
    table = table.dropna(subset=["Score"]).reset_index(drop=True)
    study.save_summary({"ours": mine[["method", "Score"]].to_dict("records"), "benchmark": bench})
    return table[["label", "method", "backbone", "task", "Sp", "Se", "Score", "source", "caveat", "source_kind"]]


def _real_sota(bench: str) -> list[pd.DataFrame]:
    """The committed real SPRSound rows (``results_real.sota_rows``), preceded by the published SPRSound
    figures when the study's own benchmark is another one; [] when ``results/real`` is absent."""
    from ..results_real import sota_rows
    from .real import real_folders

    rows = [sota_rows(f) for f in real_folders()]
    if not rows:
        return []
    if bench != "sprsound":
        pub = published.published_table("sprsound").rename(columns={"sp": "Sp", "se": "Se", "score": "Score"})
        rows.insert(0, pub.assign(source_kind="published"))
    return rows


def claims_scorecard(study: Study) -> pd.DataFrame:
    """The scorecard computed from every results folder beside this one."""
    from ..scorecard import scorecard

    return scorecard(study.out.parent)


def styled_scorecard(card: pd.DataFrame):
    """The scorecard table as shown in the book (verdicts coloured)."""
    from ..scorecard import styled

    return styled(card)


def verdict_counts(card: pd.DataFrame) -> str:
    """One markdown line: how many claims got each verdict."""
    counts = card["verdict"].value_counts()
    return "**Verdicts:** " + ", ".join(f"{v}: {n}" for v, n in counts.items()) + f" (of {len(card)} claims)."
