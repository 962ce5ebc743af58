"""The paired comparisons a claim rests on, as the notebooks record them and the scorecard judges them.

A notebook compares two configurations trained on the same folds x seeds (two placements, two rounds of
one band selection, IS and BS, two lambdas) on the held-out score of the study's first named test set:
the fold models are chosen on validation folds, so a round or a lambda picked on validation is judged
on cycles it never saw. Each comparison is saved in ``summary.json`` under ``pairs`` as
``{a_label, b_label, metric, a: [...], b: [...]}`` (one value per fold x seed, aligned); the scorecard
turns them into a mean difference with its 95 % interval and a verdict (``respcore.evidence``).
"""
from __future__ import annotations

import math

import pandas as pd

from ..evidence import Paired, paired_difference, pair_scores
from ..fbs import BandSelection
from .config import Study, read_summary
from .data import StudyData


def headline_column(data: StudyData) -> tuple[str, str]:
    """(runs-table column, test set name) of the score every paired comparison uses: the benchmark's
    headline score on the first named test set."""
    test = next(iter(data.tests))
    return f"{test}_{data.facts.score}", test


def pair_entry(a: pd.DataFrame, b: pd.DataFrame, column: str, *, a_label: str, b_label: str) -> dict:
    """One comparison for ``summary.json``: the aligned per-(fold, seed) scores of two runs tables. A pair
    where either score is undefined (NaN: a test set without one of the class groups) is dropped and
    counted in ``dropped``."""
    xs, ys = pair_scores(a, b, column)
    keep = [i for i, (x, y) in enumerate(zip(xs, ys)) if not (math.isnan(x) or math.isnan(y))]
    return {"a_label": a_label, "b_label": b_label, "metric": column, "a": [xs[i] for i in keep],
            "b": [ys[i] for i in keep], "dropped": len(xs) - len(keep)}


def paired(entry: dict) -> Paired:
    """The mean difference ``a - b`` and its interval of a saved comparison (n = 0: every value NaN)."""
    if not entry["a"]:
        nan = float("nan")
        return Paired(nan, nan, nan, 0, nan, nan)
    return paired_difference(entry["a"], entry["b"])


def pairs_table(pairs: dict[str, dict]) -> pd.DataFrame:
    """A page's comparisons as rows: comparison, a, b, metric, pairs, dropped (pairs without a defined
    score), mean a, mean b, difference and its 95 % interval (fractions)."""
    rows = []
    for key, e in pairs.items():
        p = paired(e)
        rows.append({"comparison": key, "a": e["a_label"], "b": e["b_label"], "metric": e["metric"], "pairs": p.n,
                     "dropped": e.get("dropped", 0), "mean_a": p.a_mean, "mean_b": p.b_mean, "difference": p.mean, "ci_low": p.low, "ci_high": p.high})
    return pd.DataFrame(rows, columns=["comparison", "a", "b", "metric", "pairs", "dropped", "mean_a", "mean_b", "difference",
                                       "ci_low", "ci_high"])


def selection_pairs(sel: BandSelection, column: str, task: str) -> dict[str, dict]:
    """A band selection's comparisons with its own first round (all bands): its peak below all bands
    (``peak_vs_all/<task>``) and the round at half the bands (``half_vs_all/<task>``, when it ran).

    The peak is the round the selection keeps; when validation kept all bands, it is the round below all
    bands with the best validation score (its label says so), so the claim "retention peaks below all
    bands" is still put to the test rather than compared with itself."""
    rounds = {int(rec["n_bands"]): int(rec["round"]) for rec in sel.trajectory}
    full = int(sel.trajectory[0]["n_bands"])
    peak = sel.best_round or sel.best_reduced_round()
    label = f"{sel.method} {int(sel.trajectory[peak]['n_bands'])} bands"
    if peak != sel.best_round:  # validation kept all bands
        label += f" (best below {full} on validation; {sel.method} kept all {full})"
    out = {f"peak_vs_all/{task}": pair_entry(sel.runs(peak), sel.runs(0), column, a_label=label,
                                             b_label=f"{full} bands")}
    if full // 2 in rounds:
        out[f"half_vs_all/{task}"] = pair_entry(sel.runs(rounds[full // 2]), sel.runs(0), column,
                                                a_label=f"{sel.method} {full // 2} bands", b_label=f"{full} bands")
    return out


def saved_pairs(study: Study) -> pd.DataFrame:
    """The paired comparisons this notebook saved in its ``summary.json`` (``pairs_table``), with what each
    interval says: ``a > b``, ``a < b`` or ``undecided`` (it contains 0)."""
    s = read_summary(study.out.parent, study.notebook) or {}
    table = pairs_table(s.get("pairs") or {})
    table["reading"] = ["undecided" if not lo > 0 and not hi < 0 else ("a > b" if lo > 0 else "a < b")
                        for lo, hi in zip(table["ci_low"], table["ci_high"])]
    return table.assign(test_set=s.get("pairs_test_set"))
