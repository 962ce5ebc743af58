"""Beyond the paper: attribution agreement, missing or wrong age, the effect of lambda, and two changes to
IS (which classes its importance averages, and which round it keeps)."""
from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd

from ..age import AgeRouter, sample_groups
from ..attribution import attribution_layer, band_attributions
from ..datasets.base import FeatureSet
from ..fbs import BandSelection, abnormal_classes, importance_selection
from ..metrics import scores
from .bands import LAMBDA, is_selection, planted_recovery
from .config import Study
from .data import StudyData, informative_bands
from .pairs import headline_column, pair_entry
from .tables import cross_validate, fit_router, train_config

AGREEMENT_METHODS = ("gradcam", "ig")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two (F,) vectors (average ranks for ties)."""
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def attribution_agreement(study: Study, data: StudyData) -> pd.DataFrame:
    """Spearman rho between per-band importances of every (method, fold) pair of the CNN-TSA fold models.

    Importance per band = attribution on the fold's validation data, mean over classes. Returns rows
    (a, b, method_a, method_b, fold_a, fold_b, rho) for every ordered pair, a == b included (rho 1).
    """
    cv = cross_validate(study, data, train_config(study, data))
    imp = {}
    for j, fit in enumerate(cv.fits):
        val = data.train.subset(cv.folds[j % len(cv.folds)][1])
        for m in AGREEMENT_METHODS:
            a = band_attributions(fit.model, val, m, batch_size=study.profile.batch_size,
                                  layer=attribution_layer(fit.model.arch["backbone"], m)).numpy()  # (C, F)
            imp[(m, j)] = np.nanmean(a, axis=0)
    rows = [{"a": f"{ma} f{ja}", "b": f"{mb} f{jb}", "method_a": ma, "method_b": mb, "fold_a": ja, "fold_b": jb,
             "rho": _spearman(imp[(ma, ja)], imp[(mb, jb)])}
            for (ma, ja), (mb, jb) in itertools.product(imp, imp)]
    return pd.DataFrame(rows)


def agreement_summary(agreement: pd.DataFrame) -> dict[str, float]:
    """Mean rho between methods on the same fold, and within each method across folds."""
    off = agreement[agreement["a"] != agreement["b"]]
    same_fold = off[(off["method_a"] != off["method_b"]) & (off["fold_a"] == off["fold_b"])]
    out = {"gradcam_vs_ig_same_fold": float(same_fold["rho"].mean())}
    for m in AGREEMENT_METHODS:
        within = off[(off["method_a"] == m) & (off["method_b"] == m)]
        out[f"{m}_across_folds"] = float(within["rho"].mean()) if len(within) else float("nan")
    return out


def band_recovery(study: Study, data: StudyData) -> pd.DataFrame:
    """Which attribution finds the planted bands? Top-k precision of each method's band ranking.

    On each CNN-TSA fold model (the cross-validation of notebook 2's post placement, from the run cache),
    the bands are ranked by attribution on the fold's validation data (mean over classes); the top k,
    k = the number of planted bands, are compared with the synthetic corpus's planted bands. A random
    ranking's expected precision is k / F. Real data has no planted bands: an empty table.

    Returns rows (method, fold, k, precision, chance).
    """
    planted = set(informative_bands(data.truth))
    cols = ["method", "fold", "k", "precision", "chance"]
    if not planted:
        return pd.DataFrame(columns=cols)
    cv = cross_validate(study, data, train_config(study, data))
    backbone = cv.fits[0].model.arch["backbone"]
    methods = [(f"Grad-CAM, block {attribution_layer(backbone, 'gradcam')} (the study's)", "gradcam",
                attribution_layer(backbone, "gradcam")),
               ("Grad-CAM, last block", "gradcam", None), ("Integrated Gradients", "ig", None),
               ("saliency", "saliency", None)] if backbone != "transformer" else [("Integrated Gradients", "ig", None)]
    k, n_bands, rows = len(planted), data.train.n_bands, []
    for j, fit in enumerate(cv.fits):
        val = data.train.subset(cv.folds[j % len(cv.folds)][1])
        for name, method, layer in methods:
            imp = np.nanmean(band_attributions(fit.model, val, method, layer=layer,
                                               batch_size=study.profile.batch_size).numpy(), axis=0)  # (F,)
            top = set(np.argsort(-imp, kind="stable")[:k].tolist())
            rows.append({"method": name, "fold": j, "k": k, "precision": len(top & planted) / k,
                         "chance": k / n_bands})
    return pd.DataFrame(rows, columns=cols)


def age_robustness(study: Study, data: StudyData) -> pd.DataFrame:
    """The age router on each named test set with true, missing and wrong ages (``robustness_rows``)."""
    router = fit_router(study, data).router
    rows = []
    for test_name, test in data.tests.items():
        rows += robustness_rows(router, test_name, test)
    return pd.DataFrame(rows)


def robustness_rows(router: AgeRouter, test_name: str, data: FeatureSet) -> list[dict]:
    """The router on ``data`` under four conditions: true age, age missing for every item, missing for
    every other item, and a wrong age (each item moved to the next of the router's age bands, the last
    to the first: child and adult swap under the paper's two bands).

    The conditions change what the router reads: the ``age`` column in years where the data has one (as
    ICBHI and SPRSound do), else ``age_group``. Returns rows (test_set, condition, AS, Sp, Se, routed,
    fallbacks, n): ``routed`` says how many items went to each band's model; fallbacks went to the unified
    model (age unknown, or no model for the band).
    """
    bands = router.bands
    truth = sample_groups(data, bands)
    column = "age" if "age" in data.meta else "age_group"
    values = data.meta[column].to_numpy(dtype=object)
    # an age inside each band (its lower edge, or the middle of a finite band): where a wrong age lands
    inside = {name: (low if math.isinf(high) else (low + high) / 2)
              for name, low, high in zip(bands.names, bands.edges, bands.edges[1:])}
    following = dict(zip(bands.names, bands.names[1:] + bands.names[:1]))
    wrong = [None if g is None else (inside[following[g]] if column == "age" else following[g]) for g in truth]
    conditions = {
        "true age": values,
        "age missing": np.full(len(values), None, dtype=object),
        "half missing": np.where(np.arange(len(values)) % 2 == 0, None, values),
        "wrong age": np.array(wrong, dtype=object),
    }
    rows = []
    for name, v in conditions.items():
        test = replace(data, meta=data.meta.assign(**{column: v}))
        pred = router.predict_logits(test).argmax(1).numpy()
        s = scores(test.y.numpy(), pred, n_classes=test.n_classes)
        c = router.last_counts
        rows.append({"test_set": test_name, "condition": name, "AS": s["AS"], "Sp": s["Sp"], "Se": s["Se"],
                     "routed": ", ".join(f"{g} {c[g]}" for g in router.models),
                     "fallbacks": c["fallback_missing_age"] + c["fallback_no_model"], "n": len(values)})
    return rows


def lambda_sweep(study: Study, *, binary: StudyData, multiclass: StudyData) -> pd.DataFrame:
    """IS with each lambda on both tasks, stopping as the paper does (patience 1).

    Returns rows (task, lambda, score, n_bands, trainings): score is the best round's validation score.
    On the built-in corpus each row also says how well that lambda finds the planted bands: ``precision``
    and ``recall`` of the kept bands, and ``ranking_precision`` of its first ranking (the share of planted
    bands among its |planted| most important), which does not depend on where validation stops.
    Lambdas 0, 0.5, 1 (0 to 1 by 0.25 in the ``paper`` profile).
    """
    p = study.profile
    lams = (0.0, 0.25, 0.5, 0.75, 1.0) if p.name == "paper" else (0.0, 0.5, 1.0)
    tasks = {"binary": binary, "multiclass": multiclass}
    todo = [(task, lam) for task in tasks for lam in lams]

    def select(item: tuple[str, float]) -> dict:  # every (task, lambda) selection is independent
        task, lam = item
        data = tasks[task]
        cfg = train_config(study, data)
        sel = importance_selection(data.train, cfg, k=p.folds, r=p.band_step, lam=lam, patience=1,
                                   min_bands=p.min_bands, seeds=range(p.seeds), root=study.runs_dir,
                                   tests=data.tests, layer=attribution_layer(cfg.backbone, "gradcam"),
                                   executor=study.executor)
        best = sel.frame().iloc[sel.best_round]
        metric = sel.params["select_metric"]
        row = {"task": task, "lambda": lam, "score": float(best[f"val_{metric}"]),
               "n_bands": int(best["n_bands"]), "trainings": int(sel.cost["trainings"])}
        found = planted_recovery(sel, data)
        if found:
            row.update({key: found[key] for key in ("precision", "recall", "ranking_precision")})
        return row, sel.runs()

    done = study.map(select, todo)
    sweep = pd.DataFrame([row for row, _ in done])
    runs = {(row["task"], row["lambda"]): r for row, r in done}
    pairs = {}
    for task, data in tasks.items():  # the paper's lambda against the best other one (chosen on validation)
        paper = LAMBDA[task]
        others = sweep[(sweep["task"] == task) & ~np.isclose(sweep["lambda"], paper)].sort_values(
            ["score", "lambda"], ascending=[False, True])
        if (task, paper) in runs and len(others):
            other = float(others["lambda"].iloc[0])
            pairs[f"lambda/{task}"] = pair_entry(runs[(task, paper)], runs[(task, other)], headline_column(data)[0],
                                                 a_label=f"lambda {paper:g} (paper)", b_label=f"lambda {other:g}")
    sweep.attrs["pairs"] = pairs  # read by finish_beyond; the table itself stays flat
    sweep.attrs["test_set"] = headline_column(multiclass)[1]
    return sweep


EVERY_CLASS, ADVENTITIOUS = "every class (paper)", "adventitious classes"
BEST_ROUND, FEWEST = "best round (paper)", "fewest bands not worse"


def is_variants(study: Study, *, binary: StudyData, multiclass: StudyData) -> pd.DataFrame:
    """IS as the paper runs it against two changes, on both tasks at the paper's lambda, each down to the
    profile's minimum on the same folds x seeds: its importance averaged over the adventitious classes
    only (``abnormal_classes``: the normal class's Grad-CAM points where the adventitious sounds are not),
    and the round kept by ``BandSelection.fewest_not_worse`` (the fewest bands whose validation score is
    not decidedly below the best round's) instead of the best round. The paper's selection is notebook
    03's (from the run cache).

    Returns rows (task, classes, kept_by, n_bands, score: validation, test: the headline test score, gmacs,
    and on the built-in corpus precision, recall and ranking_precision against the planted bands); its
    ``attrs['pairs']`` hold each change against the paper's IS on the headline test score.
    """
    tasks = {"binary": binary, "multiclass": multiclass}
    todo = [(task, classes) for task in tasks for classes in (EVERY_CLASS, ADVENTITIOUS)]

    def select(item: tuple[str, str]) -> BandSelection:
        task, classes = item
        data = tasks[task]
        picked = None if classes == EVERY_CLASS else abnormal_classes(data.train.n_classes, data.facts.normal)
        return is_selection(study, data, LAMBDA[task], classes=picked)

    sels = dict(zip(todo, study.map(select, todo)))
    rows, pairs = [], {}
    for (task, classes), sel in sels.items():
        data = tasks[task]
        column, _ = headline_column(data)
        paper = sels[(task, EVERY_CLASS)]
        metric = sel.params["select_metric"]
        for kept_by, chosen in ((BEST_ROUND, sel), (FEWEST, sel.keeping(sel.fewest_not_worse(), FEWEST))):
            rec = chosen.trajectory[chosen.best_round]
            row = {"task": task, "classes": classes, "kept_by": kept_by, "n_bands": len(chosen.kept_bands),
                   "score": float(rec["val"][metric]), "test": float(np.nanmean(chosen.runs()[column].astype(float))),
                   "gmacs": float(rec["macs"]) / 1e9}
            found = planted_recovery(chosen, data)
            if found:
                row.update({key: found[key] for key in ("precision", "recall", "ranking_precision")})
            rows.append(row)
            if (classes, kept_by) != (EVERY_CLASS, BEST_ROUND):
                key = "is_{}_{}/{}".format("adventitious" if classes == ADVENTITIOUS else "paper",
                                           "fewest" if kept_by == FEWEST else "best", task)
                pairs[key] = pair_entry(chosen.runs(), paper.runs(), column,
                                        a_label=f"IS, {classes}, {kept_by}: {len(chosen.kept_bands)} bands",
                                        b_label=f"IS as the paper: {len(paper.kept_bands)} bands")
    table = pd.DataFrame(rows)
    table.attrs["pairs"] = pairs
    return table


def finish_beyond(study: Study, agreement: pd.DataFrame, robustness: pd.DataFrame, sweep: pd.DataFrame,
                  variants: pd.DataFrame | None = None) -> None:
    """Write notebook 07's summary: agreement means, age robustness, best lambda per task, and the paired
    comparisons of the lambdas and of the IS variants."""
    ties = {t: sorted(g.loc[np.isclose(g["score"], g["score"].max()), "lambda"].tolist())
            for t, g in sweep.groupby("task")}
    best = {t: float(np.mean(v)) for t, v in ties.items()}  # several tied lambdas: their mean
    study.save_summary({"agreement": agreement_summary(agreement), "best_lambda": best, "lambda_ties": ties,
                        "lambdas": sorted(sweep["lambda"].unique().tolist()),
                        "age_robustness": robustness.to_dict("records"),
                        "pairs": {**sweep.attrs.get("pairs", {}),
                                  **(variants.attrs.get("pairs", {}) if variants is not None else {})},
                        "pairs_test_set": sweep.attrs.get("test_set")})
