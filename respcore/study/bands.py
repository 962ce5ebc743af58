"""Figure 2 (band retention: IS and BS, binary and multiclass) and the model-agnostic transformer experiment."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..attribution import attribution_layer
from ..export import export_model
from ..fbs import BandSelection, backward_selection, importance_scores, importance_selection, recovery
from ..fileio import read_json
from ..provenance import release_fingerprint
from .config import Study
from .data import StudyData, informative_bands
from .pairs import headline_column, pair_entry, selection_pairs
from .snapshot import SNAPSHOT_FILE, data_files
from .tables import cross_validate, train_config

LAMBDA = {"binary": 1.0, "multiclass": 0.5}  # the paper's recommended lambda per task
BS_MIN_STEP = 16  # outside the paper profile BS removes blocks of at least 16 bands (cost: O((F / r)^2))


@dataclass
class BandRetention:
    """Everything notebook 03 shows: curves, importance per fold, planted-band recovery, cost."""

    curves: pd.DataFrame  # task, method, n_bands, score_mean, score_std, <test>_score per test set, gmacs, ...
    importance: pd.DataFrame  # fold, band, score (IS multiclass, first round, mean over classes)
    recovery: pd.DataFrame  # method, task, n_kept, precision, recall, chance_precision, chance_recall
    cost: pd.DataFrame  # method, task, trainings, seconds, r
    kept: tuple[int, ...]  # IS multiclass kept bands of the best round


def _selection_kwargs(study: Study) -> dict:
    p = study.profile
    return dict(k=p.folds, seeds=range(p.seeds), min_bands=p.min_bands, root=study.runs_dir, progress=True,
                executor=study.executor)


def is_selection(study: Study, data: StudyData, lam: float, method: str = "gradcam", patience: int | None = None,
        classes: Sequence[int] | None = None, **overrides) -> BandSelection:
    """IS with the profile's settings; ``patience=None`` runs the whole curve down to the minimum;
    ``classes`` restricts the importance to those classes' attributions (None: every class, the paper's)."""
    cfg = train_config(study, data, **overrides)
    return importance_selection(data.train, cfg, r=study.profile.band_step, lam=lam, patience=patience,
                                method=method, layer=attribution_layer(cfg.backbone, method), tests=data.tests,
                                classes=classes, **_selection_kwargs(study))


def reused_is_selection(study: Study, data: StudyData, lam: float, folder: str | Path) -> BandSelection:
    """The IS selection notebook 03 saved in ``folder`` (``selection_IS_<task>.json``; a committed real
    snapshot's ``03_band_retention`` for instance), for a notebook that builds on it instead of rerunning
    the selection's trainings (on real SPRSound, 80 trainings: about an hour on 2 cores).

    It is reused only where ``is_selection`` would have made the same selection: the same training
    settings (``TrainConfig.cache_key``), folds, seeds, band step, lambda, attribution and bands, on the
    same dataset; and the same data, by the fingerprint of the snapshot holding ``folder`` (every file of
    the release) or, outside a snapshot, by the same data folder.

    Raises:
        ValueError: naming the file and what differs, or what is missing.
    """
    folder = Path(folder)
    path = folder / f"selection_IS_{data.task}.json"
    if not path.is_file():
        raise ValueError(f"{path}: no IS selection of the {data.task} task to reuse in {folder}")
    sel = BandSelection.load(path)
    want = train_config(study, data)
    p = study.profile
    theirs = sel.config.cache_key()
    checks = {**{f"config.{k}": (v, theirs.get(k)) for k, v in want.cache_key().items()},
              "folds": (p.folds, sel.params.get("k")),
              "seeds": (list(range(p.seeds)), list(sel.params.get("seeds", []))),
              "band step": (p.band_step, sel.params.get("r")), "lambda": (lam, sel.params.get("lam")),
              "attribution": ("gradcam", sel.params.get("attribution")),
              "classes": (None, sel.params.get("classes")),
              "minimum bands": (p.min_bands, sel.params.get("min_bands")),
              "bands": (data.train.n_bands, sel.params.get("n_bands_total"))}
    differ = [f"{name}: {have!r} there, {mine!r} here" for name, (mine, have) in checks.items() if mine != have]
    if differ:
        raise ValueError(f"{path}: made with other settings than this study's, so it is not this study's "
                         f"selection: " + "; ".join(differ))
    params = folder / "params.json"
    if not params.is_file():
        raise ValueError(f"{params}: missing; without it the data behind {path.name} is unknown")
    ran = read_json(params)
    if ran.get("dataset") != study.dataset:
        raise ValueError(f"{path}: made on {ran.get('dataset')!r}, this study reads {study.dataset!r}")
    snap = folder.parent / SNAPSHOT_FILE
    if snap.is_file():
        kept = read_json(snap).get("data_fingerprint")
        mine = release_fingerprint(data_files(study.dataset, study.data_root), study.data_root)
        if kept != mine:
            raise ValueError(f"{path}: its snapshot's data fingerprint {kept} differs from this study's data "
                             f"({study.data_root}: {mine})")
    elif Path(ran.get("data_root", "")).resolve() != Path(study.data_root).resolve():
        raise ValueError(f"{path}: made on data in {ran.get('data_root')!r}, this study reads {study.data_root}")
    return sel


def static_is_selection(study: Study, data: StudyData, lam: float, static_from: str = "") -> BandSelection:
    """Notebook 03's IS selection of ``data``'s task, which notebook 09 builds on: the one saved in
    ``static_from`` (``reused_is_selection``) when given, else ``is_selection`` (from the run cache)."""
    if static_from:
        return reused_is_selection(study, data, lam, static_from)
    return is_selection(study, data, lam)


def selection_curve(sel: BandSelection, task: str, tests: list[str]) -> pd.DataFrame:
    """A selection's trajectory: validation score (mean, std) per band count, each named test set's score
    (``<test>_score``), GMACs and FLOPs relative to the first round."""
    f = sel.frame()
    metric = sel.params["select_metric"]
    full = f["macs"].iloc[0]
    curve = pd.DataFrame({"task": task, "method": sel.method, "n_bands": f["n_bands"],
                          "score_mean": f[f"val_{metric}"], "score_std": f[f"val_std_{metric}"].fillna(0.0)})
    for name in tests:
        curve[f"{name}_score"] = f.get(f"{name}_{metric}", np.nan)
    return curve.assign(gmacs=f["macs"] / 1e9, flops_ratio=f["macs"] / full, trainings=f["trainings"],
                        best=f["round"] == sel.best_round)


def band_retention(study: Study, *, binary: StudyData, multiclass: StudyData) -> BandRetention:
    """IS (Grad-CAM, lambda per task, down to the profile's minimum) and BS on both tasks.

    Outside the ``paper`` profile BS removes blocks of max(r, 16) bands and scores candidates on one
    fold, to keep its O((F / r)^2) cost affordable (``smoke``: binary task only); the cost table says
    what was run.
    """
    p = study.profile
    r_bs = p.band_step if p.name == "paper" else max(p.band_step, BS_MIN_STEP)
    curves, recs, costs, sels = [], [], [], {}
    tasks = {"binary": binary, "multiclass": multiclass}
    todo = [(task, "IS") for task in tasks] + [(task, "BS") for task in tasks if task == "binary" or p.name != "smoke"]

    def select(item: tuple[str, str]) -> tuple[BandSelection, int]:  # the four selections are independent
        task, method = item
        data = tasks[task]
        if method == "IS":
            return is_selection(study, data, LAMBDA[task]), p.band_step
        return backward_selection(data.train, train_config(study, data), r=r_bs, tests=data.tests,
                                  candidate_folds=None if p.name == "paper" else 1,
                                  **_selection_kwargs(study)), r_bs  # smoke: BS on the binary task only

    done = dict(zip(todo, study.map(select, todo)))
    for task, data in tasks.items():
        runs = [done[(task, m)] for m in ("IS", "BS") if (task, m) in done]
        for sel, r in runs:
            sels[f"{sel.method}/{task}"] = sel
            sel.save(study.out / f"selection_{sel.method}_{task}.json")
            curves.append(selection_curve(sel, task, list(data.tests)))
            costs.append({"method": sel.method, "task": task, "r (bands per step)": r,
                          "trainings": int(sel.cost["trainings"]), "seconds": round(sel.cost["seconds"], 1),
                          "kept": len(sel.kept_bands)})
            found = planted_recovery(sel, data)
            if found:
                recs.append({"method": sel.method, "task": task, "n_kept": len(sel.kept_bands), **found})
    curves_df = pd.concat(curves, ignore_index=True)
    is_mc = sels["IS/multiclass"]
    attrs = np.asarray(is_mc.trajectory[0]["attributions"], dtype=float)  # (folds * seeds, C, F)
    importance = pd.DataFrame([{"fold": j, "band": b, "score": v}
                               for j, row in enumerate(np.nanmean(attrs, axis=1)) for b, v in enumerate(row)])
    recovery_df = pd.DataFrame(recs, columns=["method", "task", "n_kept", "precision", "recall", "chance_precision",
                                              "chance_recall", "precision_cap", "ranking_precision"])
    result = BandRetention(curves=curves_df, importance=importance, recovery=recovery_df,
                           cost=pd.DataFrame(costs), kept=tuple(is_mc.kept_bands))
    study.save_table(result.recovery, "planted_band_recovery")
    study.save_table(result.cost, "selection_cost")
    study.save_table(importance, "importance_per_fold")
    study.save_table(pd.DataFrame([row for task, data in tasks.items()
                                   for row in export_selected(study, data, sels[f"IS/{task}"])]), "exported_models")
    _save_summary(study, curves_df, sels, multiclass)
    return result


def planted_recovery(sel: BandSelection, data: StudyData) -> dict | None:
    """How ``sel`` finds the planted bands of a built-in corpus: ``recovery`` of its kept bands (precision,
    recall and their chance levels), ``precision_cap`` (the best precision a round of that size can reach)
    and ``ranking_precision``; None on data without planted bands (real recordings)."""
    planted = informative_bands(data.truth)
    if not planted:
        return None
    return {**recovery(sel.kept_bands, planted, n_bands=data.train.mel.n_mels),
            "precision_cap": min(1.0, len(planted) / len(sel.kept_bands)),
            "ranking_precision": ranking_precision(sel, planted)}


def ranking_precision(sel: BandSelection, planted: list[int]) -> float:
    """Precision of IS's first ranking: the share of planted bands among the |planted| most important bands
    of round 1 (all bands, the selection's lambda); NaN for a selection without attributions (BS).

    The kept round's precision also depends on where validation stops: a round keeping n bands can reach at
    most |planted| / n (``precision_cap``), so this measures the ranking itself."""
    attrs = sel.trajectory[0].get("attributions")
    if attrs is None or "lam" not in sel.params:
        return float("nan")
    scores = importance_scores(torch.as_tensor(np.asarray(attrs, dtype=np.float32)), float(sel.params["lam"]),
                               sel.params.get("classes"))
    top = set(torch.argsort(scores, descending=True)[:len(planted)].tolist())
    return len(top & set(planted)) / len(planted)


def export_selected(study: Study, data: StudyData, sel: BandSelection) -> list[dict]:
    """Export CNN-TSA (all bands) and CNN-TSA+FBS (the IS round kept) of one task as model folders under
    ``<out>/models/`` (``respcore.load_model``, ``python -m respcore.predict``): of each cross-validation,
    the fold model with the best validation score. Returns a row per model (task, model, folder, bands,
    validation score)."""
    segments = "events" if data.facts.benchmark == "sprsound" else "cycles"
    return [export_best(study, data, cross_validate(study, data, replace(sel.config, bands=tuple(bands))), name,
                        segments=segments, kept_bands=bands, selection=sel.method)
            for name, bands in ((f"{data.task}-cnn-tsa", sel.trajectory[0]["bands"]),
                                (f"{data.task}-cnn-tsa-fbs", list(sel.kept_bands)))]


def export_best(study: Study, data: StudyData, cv, name: str, *, segments: str,
                kept_bands: list[int] | None = None, selection: str = "") -> dict:
    """Export the fold model of ``cv`` with the best validation score to ``<out>/models/<name>``; returns
    its row (task, model, folder, n_bands, validation score)."""
    metric = data.facts.select_metric
    best = max(cv.fits, key=lambda f: np.nan_to_num((f.val_scores or {}).get(metric, np.nan), nan=-np.inf))
    bands = list(kept_bands) if kept_bands is not None else list(data.train.kept_bands)
    folder = export_model(best, study.out / "models" / name, mel=data.train.mel, classes=data.train.classes,
                          task=data.facts.tasks[data.task], segments=segments, dataset=study.dataset,
                          kept_bands=bands, notes={"profile": study.profile.name, "data": study.data_label,
                                                   **({"selection": selection} if selection else {})})
    return {"task": data.task, "model": name, "folder": str(folder), "n_bands": len(bands),
            f"val_{metric}": (best.val_scores or {}).get(metric)}


def _save_summary(study: Study, curves: pd.DataFrame, sels: dict, data: StudyData) -> None:
    tests = list(data.tests)
    column, test = headline_column(data)
    pairs = {}
    for key, sel in sels.items():
        method, task = key.split("/")
        if method == "IS":
            pairs.update(selection_pairs(sel, column, task))
        elif f"IS/{task}" in sels:
            is_ = sels[f"IS/{task}"]
            pairs[f"IS_vs_BS/{task}"] = pair_entry(is_.runs(), sel.runs(), column,
                                                   a_label=f"IS {len(is_.kept_bands)} bands",
                                                   b_label=f"BS {len(sel.kept_bands)} bands")
    out = {}
    for key in sels:
        method, task = key.split("/")
        c = curves[(curves["method"] == method) & (curves["task"] == task)]
        out[key] = {str(n): float(s) for n, s in zip(c["n_bands"], c["score_mean"])}
    claim = curves[(curves["method"] == "IS") & (curves["task"] == "binary")]
    best = sels["IS/multiclass"]
    study.save_summary({"curves": out, "flops_ratio": {str(n): float(r) for n, r in zip(claim["n_bands"],
                                                                                       claim["flops_ratio"])},
                        "kept_bands_multiclass": list(best.kept_bands),
                        "pairs": pairs, "pairs_test_set": test, "fbs": _fbs_rows(sels, tests, data.facts.score)})


def _fbs_rows(sels: dict, tests: list[str], score: str) -> dict:
    """Per task, the IS selection's kept round: bands, GMACs (kept and all bands), each test set's score."""
    out = {}
    for task in ("binary", "multiclass"):
        sel = sels.get(f"IS/{task}")
        if sel is None:
            continue
        f = sel.frame()
        row = f.iloc[sel.best_round]
        out[task] = {"n_bands": int(row["n_bands"]), "gmacs": float(row["macs"]) / 1e9,
                     "gmacs_full": float(f["macs"].iloc[0]) / 1e9,
                     "tests": {name: _float_or_none(row.get(f"{name}_{score}")) for name in tests}}
    return out


def _float_or_none(x) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def selection_example(study: Study, data: StudyData, result: BandRetention) -> tuple[np.ndarray, list[int]]:
    """A (F, T) log-Mel of the first abnormal training cycle, and the planted bands ([] for real data)."""
    y = data.train.y.numpy()
    idx = int(np.flatnonzero(y != 0)[0]) if (y != 0).any() else 0
    return data.train.x[idx, 0].numpy(), informative_bands(data.truth)


def model_agnostic(study: Study, data: StudyData) -> pd.DataFrame:
    """FBS in the patch transformer with Integrated Gradients: a row per IS round.

    IS stops as the paper's does, once a round fails to improve the validation score (patience 1).

    Columns: backbone, bands ("all 64" or "FBS: n"), n_bands, score (validation mean of the selection
    metric), score_std, ``<test>_score`` per named test set, gmacs, best (the round IS keeps).
    """
    sel = is_selection(study, data, LAMBDA[data.task], method="ig", patience=1, backbone="transformer", tsa="none")
    sel.save(study.out / "selection_transformer_ig.json")
    c = selection_curve(sel, data.task, list(data.tests))
    full = int(c["n_bands"].max())
    table = pd.DataFrame({"backbone": "transformer", "n_bands": c["n_bands"],
                          "bands": [f"all {n}" if n == full else f"FBS: {n}" for n in c["n_bands"]],
                          "score": c["score_mean"], "score_std": c["score_std"],
                          **{f"{name}_score": c[f"{name}_score"] for name in data.tests},
                          "gmacs": c["gmacs"], "best": c["best"]})
    top_round = sel.best_reduced_round()
    top = table.iloc[top_round]
    column, test = headline_column(data)
    pairs = {"fbs_vs_all": pair_entry(sel.runs(top_round), sel.runs(0), column, a_label=f"transformer {int(top['n_bands'])} bands",
                                      b_label=f"transformer {full} bands")}
    study.save_summary({"score_full": float(table["score"].iloc[0]), "score_fbs": float(top["score"]),
                        "pairs": pairs, "pairs_test_set": test,
                        "n_bands_fbs": int(top["n_bands"]), "best_n_bands": int(table[table["best"]]["n_bands"].iloc[0]),
                        "trainings": int(sel.cost["trainings"])})
    return table
