"""The headline table: Score per task and test set for the challenge baseline, CNN-TSA and CNN-TSA+FBS,
beside the best published figure; what a reader of the real-data page looks at first.

CNN-TSA is the profile's cross-validation (TSA after aggregation; every fold model chosen on its
validation fold, scored on each test set). Its margin over the baseline is the mean over folds x seeds of
(CNN-TSA - baseline) with a 95 % interval: the baseline is deterministic, so this is a one-sample interval
over the CNN's repeats. CNN-TSA+FBS is the IS selection of notebook 03 (its kept round), for the tasks
that notebook runs. Record-level tasks (SPRSound 2-1, 2-2) train on random crops of each recording and
score each whole recording in one pass. Their recipe is chosen by the mean validation score, never by a
test set, among: the crop lengths ``RECORD_CROP_SECONDS`` and the profile's cycle length, from scratch;
the longest crop started from the event model (``EVENT_START_TASK``) of the same fold and seed, which
trained on the events of that fold's training patients only; and these two longest-crop recipes without
class weights (the others weight the loss inverse to the training class frequencies).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..baseline import ChallengeBaseline
from ..datasets.base import FeatureSet
from ..evidence import CONTRADICTED, REPRODUCED, Paired, paired_difference, verdict
from ..metrics import confusion
from .. import train
from ..train import CVResult, TrainConfig
from ..train.fit import score_logits, with_config_bands
from ..train.splits import fold_of_patient, folds_of_patients
from . import published
from .config import DatasetFacts, Study, read_summary
from .data import StudyData, load_data
from .bands import export_best
from .tables import train_config


# training crop lengths tried on record-level tasks besides the profile's cycle length: the paper's 8 s
# cycle (recordings last 9.2 or 15.4 s; a 2 s crop may hold none of the events that label the recording)
RECORD_CROP_SECONDS = (8.0,)


# the event task whose fold models start the record-level models of the "from events" recipe: every event
# type (1-2), so the start has learned what crackles and wheezes sound like, which is what labels a record
EVENT_START_TASK = "multiclass"
SCRATCH, FROM_EVENTS = "scratch", "events"


@dataclass(frozen=True)
class Recipe:
    """How a headline CNN-TSA trains: its crop in seconds (0: none, the item as it is), its start, and
    whether its loss weights each class inverse to its training frequency."""

    crop_s: float = 0.0
    start: str = SCRATCH  # SCRATCH, or FROM_EVENTS: the fold's event model, all but its head
    weighted: bool = True

    def label(self) -> str:
        return (f"{self.crop_s:g} s" + ("" if self.weighted else ", unweighted")
                + (", from events" if self.start == FROM_EVENTS else ""))


def cnn_tsa_configs(study: Study, data: StudyData) -> dict[Recipe, TrainConfig]:
    """The headline CNN-TSA's training configs by recipe: for record-level tasks one per candidate crop
    length (``RECORD_CROP_SECONDS`` and the profile's cycle length) from scratch, the longest crop from
    the event models (its ``init_run`` is set per fold by ``cnn_tsa_cvs``), and both longest-crop recipes
    again without class weights; else one, without crops."""
    if data.task not in data.facts.whole_tasks:
        return {Recipe(): train_config(study, data, tsa="post")}
    seconds = sorted({float(study.profile.cycle_seconds), *RECORD_CROP_SECONDS})

    def crop(s: float, **kw) -> TrainConfig:
        return train_config(study, data, tsa="post", crop_frames=study.profile.mel(cycle_seconds=s).n_frames, **kw)

    configs = {Recipe(s): crop(s) for s in seconds}
    configs[Recipe(seconds[-1], weighted=False)] = crop(seconds[-1], class_weighted=False)
    for weighted in (True, False):
        configs[Recipe(seconds[-1], FROM_EVENTS, weighted)] = configs[Recipe(seconds[-1], weighted=weighted)]
    return configs


def cnn_tsa_cvs(study: Study, data: StudyData) -> dict[Recipe, CVResult]:
    """Every recipe of ``cnn_tsa_configs`` cross-validated on the study's folds and seeds, in two batches
    on the study's executor: the scratch recipes with the event models' cross-validation (on the same
    patient folds), then the recipes that start from those event models."""
    p = study.profile
    configs = cnn_tsa_configs(study, data)
    plan = lambda d, cfg, **kw: train.plan_cv(d.train, cfg, k=p.folds, seeds=range(p.seeds), tests=d.tests,
                                               root=study.runs_dir, **kw)
    scratch = [r for r in configs if r.start == SCRATCH]
    later = [r for r in configs if r.start == FROM_EVENTS]
    plans = [plan(data, configs[r]) for r in scratch]
    if later:  # the event models, on the record folds' patients, train in the first batch
        events = load_data(study, EVENT_START_TASK)
        folds = plans[-1].folds  # the record folds every scratch recipe trains on
        event_folds = folds_of_patients(fold_of_patient(folds, data.train.groups), events.train.groups,
                                        where=f"{data.task} folds carried to {EVENT_START_TASK} events")
        plans.append(plan(events, train_config(study, events, tsa="post"), folds=event_folds))
    results = train.cross_validate_many(plans, study.executor)
    done = dict(zip(scratch, results))
    if later:
        start = results[-1]
        done.update(zip(later, train.cross_validate_many(
            [plan(data, configs[r], start_from=start) for r in later], study.executor)))
    return done


def _choose_on_validation(cvs: dict[Recipe, CVResult], metric: str) -> tuple[Recipe, dict[Recipe, float]]:
    """The recipe whose fold models score best on their validation folds (mean), and every mean; a tie
    keeps the cheaper recipe (shorter crop, then from scratch), then the class-weighted one."""
    means = {r: float(cv.runs[f"val_{metric}"].astype(float).mean()) for r, cv in cvs.items()}
    return max(means, key=lambda r: (means[r], -r.crop_s, r.start == SCRATCH, r.weighted)), means


def headline_table(study: Study) -> pd.DataFrame:
    """A row per (task, test set): task, test_set, n (test items), baseline, cnn_tsa, cnn_tsa_std, margin,
    margin_low, margin_high, pairs, crop_s, start and weighted (record-level tasks: the recipe chosen on
    validation), val_by_recipe (each candidate recipe's mean validation score), fbs (Score of CNN-TSA+FBS),
    fbs_bands, fbs_gmacs, gmacs (all bands), published, published_method, published_test_set, and the rates
    behind each Score: baseline_sp, baseline_se, cnn_sp, cnn_se (the fold models' mean on the test set),
    val_sp, val_se (the same models on their validation folds). Scores and rates are fractions."""
    facts = study.facts
    s03 = read_summary(study.out.parent, "03_band_retention") or {}
    pub = published.published_table(facts.benchmark)
    rows, confusions = [], []
    for task, label in facts.tasks.items():
        data = load_data(study, task)
        base = ChallengeBaseline(cache_dir=study.cache_dir / "features").fit(data.loaders["train"])
        cvs = cnn_tsa_cvs(study, data)
        recipe, val_means = _choose_on_validation(cvs, data.facts.select_metric)
        cv = cvs[recipe]
        chosen = len(cvs) > 1
        if task in facts.whole_tasks:  # the record-level model a user applies to a whole recording
            export_best(study, data, cv, f"{task}-cnn-tsa", segments="recording")
        sets = {VALIDATION: validation_sets(cv, data.train), **data.tests}
        confusions += [{"task": facts.published_tasks[task], "test_set": name, **row}
                       for name, items in sets.items() for row in where_items_go(cv, items)]
        fbs = (s03.get("fbs") or {}).get(task, {})
        best = pub[pub["task"] == facts.published_tasks[task]].sort_values("score", ascending=False).head(1)
        val_rates = _rates(cv.runs, "val")
        for name in data.tests:
            base_scores = base.score(data.loaders[name], normal=facts.normal)
            b = base_scores[facts.score]
            ours = cv.runs[f"{name}_{facts.score}"].astype(float).to_numpy()
            m = paired_difference(ours, np.full(len(ours), b)) if not np.isnan(b) and not np.isnan(ours).any() else None
            rows.append({"task": facts.published_tasks[task], "test_set": name, "n": len(data.tests[name]),
                         "baseline": b, "cnn_tsa": float(ours.mean()), "cnn_tsa_std": float(ours.std(ddof=1)) if len(ours) > 1 else 0.0,
                         "margin": None if m is None else m.mean, "margin_low": None if m is None else m.low,
                         "margin_high": None if m is None else m.high, "pairs": len(ours),
                         "crop_s": recipe.crop_s if chosen else None, "start": recipe.start if chosen else None,
                         "weighted": recipe.weighted if chosen else None,
                         "val_by_recipe": {r.label(): v for r, v in val_means.items()} if chosen else None,
                         "fbs": (fbs.get("tests") or {}).get(name), "fbs_bands": fbs.get("n_bands"),
                         "fbs_gmacs": fbs.get("gmacs"), "gmacs": fbs.get("gmacs_full"),
                         "published": float(best["score"].iloc[0]) / 100 if len(best) else None,
                         "published_method": str(best["method"].iloc[0]) if len(best) else None,
                         "published_test_set": str(best["test_set"].iloc[0]) if len(best) else None,
                         "baseline_sp": base_scores["Sp"], "baseline_se": base_scores["Se"],
                         **_rates(cv.runs, name, "cnn"), **val_rates})
    study.save_table(pd.DataFrame(confusions, columns=CONFUSION_COLUMNS), "headline_confusion")
    return pd.DataFrame(rows)  # sota_table saves it in notebook 05's summary


def _rates(runs: pd.DataFrame, prefix: str, name: str | None = None) -> dict[str, float]:
    """Mean specificity and sensitivity of a cross-validation's fold models on one scored set (``prefix``:
    "val" or a test set's name), as ``{<name>_sp, <name>_se}`` (``name`` defaults to ``prefix``)."""
    name = name or prefix
    return {f"{name}_{rate.lower()}": float(runs[f"{prefix}_{rate}"].astype(float).mean())
            if f"{prefix}_{rate}" in runs else float("nan") for rate in ("Sp", "Se")}


CONFUSION_COLUMNS = ["task", "test_set", "true", "predicted", "share", "n_true"]
VALIDATION = "validation (out of fold)"  # the confusion's row for the fold models on their validation folds


def where_items_go(cv: CVResult, test: FeatureSet | Sequence[FeatureSet]) -> list[dict]:
    """The confusion of a cross-validation's fold models on one test set, as shares: for each true class
    and predicted class, the share of the true class's items given that prediction, over the fold models'
    predictions pooled (each row of a true class sums to 1). Scored as the Scores are (whole recordings in
    one pass). ``test`` may instead give each fold model its own set, in ``cv.fits`` order (its validation
    fold: ``validation_sets``). Returns rows (true, predicted, share, n_true: the class's items in the
    distinct sets); none for a class absent from every set."""
    sets = [test] * len(cv.fits) if isinstance(test, FeatureSet) else list(test)
    classes = list(sets[0].classes)
    total = np.zeros((len(classes), len(classes)))
    for fit, data in zip(cv.fits, sets, strict=True):
        d = with_config_bands(data, fit.config)
        pred = score_logits(fit.model, d, fit.config, next(fit.model.parameters()).device).argmax(1).numpy()
        total += confusion(d.y.numpy(), pred, len(classes))
    counts = total.sum(axis=1)  # items of each true class, over every model's set
    repeats = len(sets) / len({id(d) for d in sets})  # models per distinct set: items counted that often
    return [{"true": t, "predicted": p, "share": float(total[i, j] / counts[i]),
             "n_true": int(round(counts[i] / repeats))}
            for i, t in enumerate(classes) if counts[i] for j, p in enumerate(classes)]


def validation_sets(cv: CVResult, train: FeatureSet) -> list[FeatureSet]:
    """Each fold model's validation fold of ``train`` (the items it was chosen on), in ``cv.fits`` order;
    the seeds of one fold share one set."""
    per_fold = {int(f): train.subset(cv.folds[int(f)][1]) for f in dict.fromkeys(cv.runs["fold"])}
    return [per_fold[int(f)] for f in cv.runs["fold"]]


def confusion_view(folder: Path, facts: DatasetFacts) -> list[pd.DataFrame]:
    """A notebook-05 folder's ``headline_confusion`` as a reader takes it in: a table per task, a row per
    (test set, true class), a column per predicted class, shares in % (rows sum to 100). On a dataset with
    record-level tasks only those (whose label sums up several events and the recording's quality); else
    every task. Empty when the folder has no such table (a snapshot kept before it existed)."""
    path = Path(folder) / "headline_confusion.csv"
    if not path.is_file():
        return []
    t = pd.read_csv(path, dtype={"task": str})
    if facts.whole_tasks:
        t = t[t["task"].isin([facts.published_tasks[w] for w in facts.whole_tasks])]
    out = []
    for _, g in t.groupby("task", sort=False):
        order = list(dict.fromkeys(g["predicted"]))
        wide = g.pivot_table(index=["task", "test_set", "true", "n_true"], columns="predicted", values="share",
                             sort=False).reindex(columns=order)
        wide = (100 * wide).round(1).reset_index().rename(columns={"test_set": "test set", "true": "true class",
                                                                    "n_true": "items"})
        wide.columns.name = None
        out.append(wide)
    return out


def _pct(x) -> str:
    """A fraction in % with one decimal; "-" where there is none."""
    return "-" if x is None or pd.isna(x) else f"{100 * x:.1f}"


def headline_view(table: pd.DataFrame) -> pd.DataFrame:
    """``headline_table``'s rows as a reader takes them in: Scores in %, the margin with its interval and
    whether CNN-TSA beats the baseline ("yes" or "no" only when the interval excludes 0, else "undecided"),
    FBS with its kept bands and GMACs, the best published figure with its method."""
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

    def recipe(r) -> str:  # record-level tasks: the chosen recipe, and each candidate's validation score
        if r.get("crop_s") is None or pd.isna(r.get("crop_s")):
            return "-"
        scores = "; ".join(f"{k} {100 * v:.1f}" for k, v in (r.get("val_by_recipe") or {}).items())
        start = r.get("start") if isinstance(r.get("start"), str) else SCRATCH
        w = r.get("weighted")  # none in a table saved before the unweighted recipe: all were weighted
        weighted = True if w is None or pd.isna(w) else bool(w)
        return f"{Recipe(float(r['crop_s']), start, weighted).label()} (validation: {scores})"

    rows = []
    for r in table.to_dict("records"):
        fbs = "-" if r.get("fbs") is None or pd.isna(r.get("fbs")) else \
            f"{_pct(r['fbs'])} ({int(r['fbs_bands'])} bands, {r['fbs_gmacs']:.3f} of {r['gmacs']:.3f} GMACs)"
        rows.append({"task": r["task"], "test set": r["test_set"], "baseline": _pct(r["baseline"]),
                     "CNN-TSA": _pct(r["cnn_tsa"]), "training recipe": recipe(r), "CNN-TSA - baseline [95 % CI]": margin(r),
                     "beats the baseline": beats(r), "CNN-TSA+FBS": fbs,
                     "published (best cited)": "-" if r.get("published") is None or pd.isna(r.get("published"))
                     else f"{_pct(r['published'])} ({_cited(r)})"})
    return pd.DataFrame(rows)


def _cited(r: dict) -> str:
    """A published figure's method, and its test set where the source names one (or says it does not)."""
    where = r.get("published_test_set")
    return r["published_method"] + (f"; {where}" if isinstance(where, str) and where else "")


RATE_COLUMNS = {"baseline_sp": "baseline Sp", "baseline_se": "baseline Se", "cnn_sp": "CNN-TSA Sp",
                "cnn_se": "CNN-TSA Se", "val_sp": "CNN-TSA Sp on validation", "val_se": "CNN-TSA Se on validation"}


def rates_view(table: pd.DataFrame) -> pd.DataFrame:
    """Where each headline Score comes from: specificity (normal items called normal) and sensitivity
    (abnormal items given their class) of the baseline and of CNN-TSA on each test set, beside the same
    CNN-TSA fold models on their validation folds, in %. A test set on which CNN-TSA's specificity falls
    far below its validation figure holds normal items unlike the training patients' (the validation figures
    are those of the epoch chosen on them, so they lean optimistic). "-" where a table predates these
    columns."""
    return pd.DataFrame([{"task": r["task"], "test set": r["test_set"],
                          **{label: _pct(r.get(col)) for col, label in RATE_COLUMNS.items()}}
                         for r in table.to_dict("records")],
                        columns=["task", "test set", *RATE_COLUMNS.values()])
