"""Dynamic band selection (the paper's first open question): a per-sample band gate against static IS at
the same band budget, on the same folds x seeds (notebook 09)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..flops import count_flops
from .bands import LAMBDA, static_is_selection
from .config import Study
from .data import StudyData, planted_bands
from .fronts import FrontSelections, front_selections
from .pairs import headline_column, pair_entry, paired
from .tables import cross_validate, train_config

BUDGETS = (32, 16)  # band budgets compared, where the static IS curve has a round with that many bands
PRIOR, SCRATCH = "static IS", "no prior"  # where a gate starts: the static IS round at its budget, or nothing
OPEN_QUESTIONS = ("gate", "fronts")  # notebook 09: dynamic band selection; FBS on other time-frequency fronts


@dataclass
class DynamicBands:
    """Notebook 09's gate results: the comparison table, per-class keep frequencies, and the pairs."""

    table: pd.DataFrame  # task, budget, start, static, gate (test means), difference, ci_low, ci_high, pairs, gmacs_*, departure
    keep: pd.DataFrame  # task, budget, start, class, band, frequency (share of the class's test items keeping the band)
    recovery: pd.DataFrame  # task, budget, start, class, gate_precision, static_precision (planted bands; synthetic only)
    pairs: dict[str, dict]


def dynamic_bands(study: Study, *, binary: StudyData, multiclass: StudyData, static_from: str = "") -> DynamicBands:
    """For each task and budget: CNN-TSA with a ``BandGate`` keeping ``budget`` bands per sample, against
    the static IS round with that many bands (``band_retention``'s selection: from the run cache, or, with
    ``static_from``, the one notebook 03 saved in that folder: ``static_is_selection``). The
    gate starts from that static selection (its prior) and learns where each sample departs from it
    (``start`` "static IS"); at the largest budget a gate also starts from nothing (``start`` "no prior").
    ``departure`` is the share of a test item's kept bands outside the static set.

    Both are cross-validated on the same folds x seeds and scored on the first test set; the difference
    (gate - static) gets its 95 % interval. On the built-in corpus, the fold-0 gate's kept bands per
    test item are compared with the bands planted for that item's class.
    """
    rows, keep, rec, pairs = [], [], [], {}
    for task, data in (("binary", binary), ("multiclass", multiclass)):
        sel = static_is_selection(study, data, LAMBDA[task], static_from)
        rounds = {int(r["n_bands"]): int(r["round"]) for r in sel.trajectory}
        column, test = headline_column(data)
        first = next(iter(data.tests.values()))  # the test set the pairs and the per-class tables read
        budgets = [k for k in BUDGETS if k in rounds and k < data.train.n_bands]
        static_bands = {k: tuple(sel.trajectory[rounds[k]]["bands"]) for k in budgets}
        # every budget from the static prior; the largest also from scratch (no prior), to show what a
        # free gate learns
        todo = [(k, PRIOR) for k in budgets] + [(k, SCRATCH) for k in budgets[:1]]
        cvs = study.map(lambda job: cross_validate(study, data, train_config(
            study, data, gate_budget=job[0], gate_prior=static_bands[job[0]] if job[1] == PRIOR else None)), todo)
        for (k, start), cv in zip(todo, cvs):
            static = sel.runs(rounds[k])
            kept = [fit.model.kept_bands(first.x).numpy() for fit in cv.fits]  # (N, k) per fold model
            key = f"gate_vs_static/{task}/{k}" + ("" if start == PRIOR else "/scratch")
            pairs[key] = pair_entry(cv.runs, static, column, b_label=f"IS {k} bands",
                                    a_label=f"gate {k} bands" + ("" if start == PRIOR else " (no prior)"))
            e = pairs[key]
            p = paired(e)
            shape = (1, 1, data.train.n_bands, data.train.x.shape[-1])
            rows.append({"task": task, "budget": k, "start": start, "static": np.mean(e["b"]) if e["b"] else np.nan,
                         "gate": np.mean(e["a"]) if e["a"] else np.nan,
                         "difference": p.mean, "ci_low": p.low, "ci_high": p.high, "pairs": p.n,
                         "gmacs_gate": count_flops(cv.fits[0].model, shape)["macs"] / 1e9,
                         "gmacs_static": sel.trajectory[rounds[k]]["macs"] / 1e9,
                         "departure": _departure(kept, set(static_bands[k])), "test_set": test})
            k_rows, r_rows = _per_class(kept[0], data, set(static_bands[k]))
            keep += [{"task": task, "budget": k, "start": start, **r} for r in k_rows]
            rec += [{"task": task, "budget": k, "start": start, **r} for r in r_rows]
    return DynamicBands(table=pd.DataFrame(rows), keep=pd.DataFrame(keep), pairs=pairs,
                        recovery=pd.DataFrame(rec, columns=["task", "budget", "start", "class", "gate_precision",
                                                            "static_precision"]))


def _departure(kept: list[np.ndarray], static: set[int]) -> float:
    """Mean share of a test item's kept bands that the static selection does not keep, over the fold models'
    kept bands (``kept``: (N, k) per model): 0 when every gate stayed at its static prior."""
    return float(np.mean([np.mean([len(set(r) - static) / len(r) for r in idx.tolist()]) for idx in kept]))


def _per_class(idx: np.ndarray, data: StudyData, static: set[int]) -> tuple[list[dict], list[dict]]:
    """Per class of the first test set, from one gate's kept bands ``idx`` (N, k) on it: how often the gate
    keeps each band, and, where bands were planted, the share of kept bands that are planted for the class
    (gate, per item; static IS, one set)."""
    test = next(iter(data.tests.values()))
    y = test.y.numpy()
    planted = planted_bands(data.truth)
    keep, rec = [], []
    for c, label in enumerate(test.classes):
        mine = idx[y == c]
        if len(mine) == 0:
            continue
        freq = np.bincount(mine.ravel(), minlength=test.n_bands) / len(mine)
        keep += [{"class": label, "band": b, "frequency": float(f)} for b, f in enumerate(freq)]
        target = planted.get(label) or planted.get("all classes")
        if target:
            t = set(target)
            rec.append({"class": label, "gate_precision": float(np.mean([len(t & set(r)) / len(r) for r in mine])),
                        "static_precision": len(t & static) / len(static)})
    return keep, rec


def open_questions(questions: str) -> tuple[str, ...]:
    """The open questions a notebook 09 run answers: ``"both"`` or one of ``OPEN_QUESTIONS``, so that
    where trainings take hours each can be answered in its own sitting.

    Raises:
        ValueError: any other value.
    """
    if questions == "both":
        return OPEN_QUESTIONS
    if questions not in OPEN_QUESTIONS:
        raise ValueError(f"questions must be 'both' or one of {list(OPEN_QUESTIONS)}, got {questions!r}")
    return (questions,)


def answer_open_questions(study: Study, questions: tuple[str, ...], *, binary: StudyData, multiclass: StudyData,
                          static_from: str = "") -> tuple[DynamicBands | None, FrontSelections | None]:
    """The open questions of ``questions`` (``open_questions``): the gate (``dynamic_bands``) and the fronts
    (``front_selections``), None for one not asked. The two questions' trainings share the study's
    executor, so each fills the cores the other leaves idle (a new front's features, attributions between
    IS rounds); the static IS selection both build on trains once (the executor shares a run in flight)."""
    answer = {"gate": lambda: dynamic_bands(study, binary=binary, multiclass=multiclass, static_from=static_from),
              "fronts": lambda: front_selections(study, static_from=static_from)}
    asked = [q for q in OPEN_QUESTIONS if q in questions]
    done = dict(zip(asked, study.map(lambda q: answer[q](), asked)))
    return done.get("gate"), done.get("fronts")


def finish_open_questions(study: Study, dynamic: DynamicBands | None, fronts: FrontSelections | None, *,
                          static_from: str = "") -> None:
    """Write notebook 09's summary: which questions the run answered and where its static IS selections
    came from; the gate's paired comparisons and its recovery of planted bands; each front's kept bands,
    MACs and overlap in Hz with the others. A question the run left out (None) gets empty entries."""
    summary: dict = {"questions": [q for q, part in zip(OPEN_QUESTIONS, (dynamic, fronts)) if part is not None],
                     "static_from": static_from or None,
                     "pairs": {}, "pairs_test_set": None, "gate": [], "gate_recovery": [], "fronts": {},
                     "front_overlap": []}
    if dynamic is not None:
        summary.update(pairs=dynamic.pairs,
                       pairs_test_set=dynamic.table["test_set"].iloc[0] if len(dynamic.table) else None,
                       gate=dynamic.table.drop(columns=["test_set"]).to_dict("records"),
                       gate_recovery=dynamic.recovery.to_dict("records"))
    if fronts is not None:
        best = fronts.curves[fronts.curves["best"]]
        summary.update(fronts={r["front"]: {"n_bands": int(r["n_bands"]), "gmacs": float(r["gmacs"]),
                                            "score": float(r["score_mean"])} for r in best.to_dict("records")},
                       front_overlap=fronts.overlap.to_dict("records"))
    study.save_summary(summary)
