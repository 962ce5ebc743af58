"""The headline table: Score per task and test set for the challenge baseline, CNN-TSA and CNN-TSA+FBS,
beside the best published figure; what a reader of the real-data page looks at first.

CNN-TSA is the profile's cross-validation (TSA after aggregation; every fold model chosen on its
validation fold, scored on each test set). Its margin over the baseline is the mean over folds x seeds of
(CNN-TSA - baseline) with a 95 % interval: the baseline is deterministic, so this is a one-sample interval
over the CNN's repeats. CNN-TSA+FBS is the IS selection of notebook 03 (its kept round), for the tasks
that notebook runs. Record-level tasks (SPRSound 2-1, 2-2) train on random crops of each recording and
score each whole recording in one pass.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..baseline import ChallengeBaseline
from ..evidence import CONTRADICTED, REPRODUCED, Paired, paired_difference, verdict
from . import published
from .config import Study, read_summary
from .data import StudyData, load_data
from .bands import export_best
from .tables import cross_validate, train_config


def cnn_tsa_config(study: Study, data: StudyData):
    """The headline CNN-TSA's training config: crops of the profile's cycle length on whole recordings."""
    crop = study.profile.mel().n_frames if data.task in data.facts.whole_tasks else 0
    return train_config(study, data, tsa="post", crop_frames=crop)


def headline_table(study: Study) -> pd.DataFrame:
    """A row per (task, test set): task, test_set, n (test items), baseline, cnn_tsa, cnn_tsa_std, margin,
    margin_low, margin_high, pairs, fbs (Score of CNN-TSA+FBS), fbs_bands, fbs_gmacs, gmacs (all bands),
    published, published_method. Scores are fractions of the benchmark's headline score."""
    facts = study.facts
    s03 = read_summary(study.out.parent, "03_band_retention") or {}
    pub = published.published_table(facts.benchmark)
    rows = []
    for task, label in facts.tasks.items():
        data = load_data(study, task)
        base = ChallengeBaseline(cache_dir=study.cache_dir / "features").fit(data.loaders["train"])
        cv = cross_validate(study, data, cnn_tsa_config(study, data))
        if task in facts.whole_tasks:  # the record-level model a user applies to a whole recording
            export_best(study, data, cv, f"{task}-cnn-tsa", segments="recording")
        fbs = (s03.get("fbs") or {}).get(task, {})
        best = pub[pub["task"] == facts.published_tasks[task]].sort_values("score", ascending=False).head(1)
        for name in data.tests:
            b = base.score(data.loaders[name], normal=facts.normal)[facts.score]
            ours = cv.runs[f"{name}_{facts.score}"].astype(float).to_numpy()
            m = paired_difference(ours, np.full(len(ours), b)) if not np.isnan(b) and not np.isnan(ours).any() else None
            rows.append({"task": facts.published_tasks[task], "test_set": name, "n": len(data.tests[name]),
                         "baseline": b, "cnn_tsa": float(ours.mean()), "cnn_tsa_std": float(ours.std(ddof=1)) if len(ours) > 1 else 0.0,
                         "margin": None if m is None else m.mean, "margin_low": None if m is None else m.low,
                         "margin_high": None if m is None else m.high, "pairs": len(ours),
                         "fbs": (fbs.get("tests") or {}).get(name), "fbs_bands": fbs.get("n_bands"),
                         "fbs_gmacs": fbs.get("gmacs"), "gmacs": fbs.get("gmacs_full"),
                         "published": float(best["score"].iloc[0]) / 100 if len(best) else None,
                         "published_method": str(best["method"].iloc[0]) if len(best) else None})
    return pd.DataFrame(rows)  # sota_table saves it in notebook 05's summary


def headline_view(table: pd.DataFrame) -> pd.DataFrame:
    """``headline_table``'s rows as a reader takes them in: Scores in %, the margin with its interval and
    whether CNN-TSA beats the baseline ("yes" or "no" only when the interval excludes 0, else "undecided"),
    FBS with its kept bands and GMACs, the best published figure with its method."""
    def pct(x) -> str:
        return "-" if x is None or pd.isna(x) else f"{100 * x:.1f}"

    def margin(r) -> str:
        if r["margin"] is None or pd.isna(r["margin"]):
            return "-"
        if r["margin_low"] is None or pd.isna(r["margin_low"]):
            return f"{100 * r['margin']:+.1f} (n={r['pairs']})"
        return f"{100 * r['margin']:+.1f} [{100 * r['margin_low']:+.1f}, {100 * r['margin_high']:+.1f}]"

    def beats(r) -> str:  # the verdict rule of every claim: an interval that contains 0 decides nothing
        if r["margin"] is None or pd.isna(r["margin"]) or r["margin_low"] is None or pd.isna(r["margin_low"]):
            return "undecided"
        p = Paired(r["margin"], r["margin_low"], r["margin_high"], int(r["pairs"]), r["cnn_tsa"], r["baseline"])
        return {REPRODUCED: "yes", CONTRADICTED: "no"}.get(verdict(p, expected=1), "undecided")

    rows = []
    for r in table.to_dict("records"):
        fbs = "-" if r.get("fbs") is None or pd.isna(r.get("fbs")) else \
            f"{pct(r['fbs'])} ({int(r['fbs_bands'])} bands, {r['fbs_gmacs']:.3f} of {r['gmacs']:.3f} GMACs)"
        rows.append({"task": r["task"], "test set": r["test_set"], "baseline": pct(r["baseline"]),
                     "CNN-TSA": pct(r["cnn_tsa"]), "CNN-TSA - baseline [95 % CI]": margin(r),
                     "beats the baseline": beats(r), "CNN-TSA+FBS": fbs,
                     "published (best cited)": "-" if r.get("published") is None or pd.isna(r.get("published"))
                     else f"{pct(r['published'])} ({r['published_method']})"})
    return pd.DataFrame(rows)
