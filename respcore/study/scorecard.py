"""The claims scorecard: one row per claim of the paper, with a verdict COMPUTED from the results files.

Each notebook writes ``<results>/<notebook>/summary.json``; a rule below reads the summaries it needs
and returns (ours, verdict, evidence). Verdicts: ``reproduced``, ``not reproduced``, ``not testable``
(the results needed are missing, the data cannot test the claim, or the ``smoke`` profile trained too
little for an accuracy claim to mean anything).

Committed snapshots of study runs on real data (``respcore.study.snapshot``, a folder of the same
``summary.json`` files) go through the same rules; their verdicts fill the ``ours (real)``,
``verdict (real)`` and ``why (real)`` columns beside this run's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from ..fileio import read_json
from .published import CLAIMS, FIG2_PEAK_BANDS, LAMBDA_BEST, TABLE_I
from .snapshot import snapshot_folders

REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE = "reproduced", "not reproduced", "not testable"
GFLOPS_TOLERANCE = 0.02  # relative: our count on the paper's input vs the paper's GFLOPs

Summaries = dict[str, dict]
Verdict = tuple[str, str, str, str]  # (ours, data + profile, verdict, why)


def load_summaries(results: str | Path) -> Summaries:
    """Every ``<results>/<notebook>/summary.json`` keyed by notebook name."""
    out: Summaries = {}
    for path in sorted(Path(results).glob("*/summary.json")):
        try:
            out[path.parent.name] = read_json(path)
        except ValueError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    return out


def _source(s: dict) -> str:
    data = f"REAL {s.get('dataset', '?')}" if s.get("real_data") else "synthetic corpus"
    return f"{data}, profile {s.get('profile', '?')}"


def _missing(nb: str) -> Verdict:
    return ("-", "-", NOT_TESTABLE, f"no results from {nb}: run that notebook")


def _accuracy_ok(s: dict) -> str | None:
    """Why an accuracy claim cannot be judged from this run, or None when it can."""
    if s.get("profile") == "smoke":
        return "smoke profile: a few epochs of training, scores are not evidence"
    return None


def _judge(s: dict, ours: str, ok: bool, yes: str, no: str) -> Verdict:
    """An accuracy claim's verdict: not testable from a smoke run, else reproduced when ``ok``."""
    why = _accuracy_ok(s)
    if why:
        return ours, _source(s), NOT_TESTABLE, why
    return ours, _source(s), REPRODUCED if ok else NOT_REPRODUCED, yes if ok else no


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def tsa_ordering(S: Summaries) -> Verdict:
    s = S.get("02_tsa_placement")
    if not s:
        return _missing("02_tsa_placement")
    as_ = s["AS"]
    need = ("post", "block1", "input")
    if any(k not in as_ for k in need):
        return ("-", _source(s), NOT_TESTABLE, f"placements {need} not all measured")
    ours = " > ".join(f"{k} {_pct(as_[k])}" for k in sorted(need, key=lambda k: -as_[k]))
    return _judge(s, ours, as_["post"] > as_["block1"] and as_["post"] > as_["input"],
                  "TSA after aggregation has the best AS", "another placement beats TSA after aggregation")


def tsa_gflops(S: Summaries) -> Verdict:
    s = S.get("02_tsa_placement")
    if not s:
        return _missing("02_tsa_placement")
    g = s.get("GFLOPs_paper_input", {})
    if s.get("backbone", "cnn6") != "cnn6":  # Table I counts CNN6; SPRSound runs use the 3-block CNN
        return ("-", _source(s), NOT_TESTABLE, f"Table I counts CNN6; this run's backbone is {s['backbone']}")
    if "post" not in g or "block1" not in g:
        return ("-", _source(s), NOT_TESTABLE, "FLOPs of the two placements not counted")
    ours = f"{g['post']:.3f} vs {g['block1']:.3f} GFLOPs"
    close = all(abs(g[k] - TABLE_I[k]["GFLOPs"]) <= GFLOPS_TOLERANCE * TABLE_I[k]["GFLOPs"]
                for k in ("post", "block1"))
    ok = close and g["post"] < g["block1"]
    return (ours, "architecture only (64 x 251 input, full width)", REPRODUCED if ok else NOT_REPRODUCED,
            f"within {GFLOPS_TOLERANCE:.0%} of 2.48 / 3.17" if ok else "counts differ from the paper's")


def _curve(s: dict) -> tuple[str, dict[int, float]] | None:
    """The IS curve the claims use: binary when measured, else multiclass; {n_bands: score}."""
    curves = s.get("curves", {})
    for task in ("binary", "multiclass"):
        c = curves.get(f"IS/{task}")
        if c:
            return task, {int(k): float(v) for k, v in c.items()}
    return None


def _noise(s: dict, gain: float) -> str:
    """A note when a score difference (fraction) is within one standard deviation of the 64-band score."""
    std = s.get("score_std_64")
    if std is None or abs(gain) >= std:
        return ""
    return (f"; the difference ({100 * gain:+.2f} points) is within one standard deviation over folds "
            f"({100 * std:.2f}): weak evidence")


def fbs_peak(S: Summaries) -> Verdict:
    s = S.get("03_band_retention")
    if not s or not _curve(s):
        return _missing("03_band_retention")
    task, c = _curve(s)
    best = max(c, key=c.get)
    ours = f"peak at {best} bands ({task}, IS): {_pct(c[best])} vs {_pct(c.get(64, float('nan')))} at 64"
    why = _accuracy_ok(s)
    if why or 64 not in c:
        return ours, _source(s), NOT_TESTABLE, why or "no 64-band baseline"
    ok = best < 64 and c[best] > c[64]
    return ours, _source(s), REPRODUCED if ok else NOT_REPRODUCED, \
        f"paper: near {FIG2_PEAK_BANDS}; ours peaks {'below' if ok else 'at'} 64" + _noise(s, c[best] - c[64])


def fbs_flops_cut(S: Summaries) -> Verdict:
    s = S.get("03_band_retention")
    if not s or not _curve(s) or "flops_ratio" not in s:
        return _missing("03_band_retention")
    task, c = _curve(s)
    ratio = {int(k): float(v) for k, v in s["flops_ratio"].items()}
    if 64 not in c:
        return "-", _source(s), NOT_TESTABLE, "no 64-band baseline"
    tol = float(s.get("score_std_64", 0.0))
    keeping = [n for n in c if c[n] >= c[64] - tol and n in ratio]
    n = min(keeping, key=lambda k: ratio[k])
    cut = 1 - ratio[n]
    ours = f"{cut:.0%} fewer FLOPs at {n} bands, score {_pct(c[n])} (64 bands: {_pct(c[64])})"
    return _judge(s, ours, cut >= 0.45, "score kept within one std of 64 bands",
                  "score kept within one std of 64 bands, but the cut is under 45 %")


def bands32_beat_64(S: Summaries) -> Verdict:
    s = S.get("03_band_retention")
    if not s or not _curve(s):
        return _missing("03_band_retention")
    task, c = _curve(s)
    if 32 not in c or 64 not in c:
        return "-", _source(s), NOT_TESTABLE, "the IS curve did not reach 32 bands"
    ours = f"{_pct(c[32])} (32) vs {_pct(c[64])} (64), {task}"
    noise = _noise(s, c[32] - c[64])
    return _judge(s, ours, c[32] > c[64], "32 bands beat 64" + noise, "64 bands win" + noise)


def lambda_effect(S: Summaries) -> Verdict:
    s = S.get("07_beyond_paper")
    best = (s or {}).get("best_lambda", {})
    if not s or "binary" not in best or "multiclass" not in best:
        return _missing("07_beyond_paper")
    ties = s.get("lambda_ties", {})
    ours = "best lambda: " + ", ".join(
        f"{t} {best[t]:g}" + (f" (tie of {', '.join(f'{v:g}' for v in ties[t])}: their mean)" if len(ties.get(t, [])) > 1
                              else "") for t in ("binary", "multiclass"))
    why = _accuracy_ok(s)
    if why:
        return ours, _source(s), NOT_TESTABLE, why
    lams = s.get("lambdas", [])
    flat = [t for t, v in ties.items() if lams and len(v) == len(lams)]
    if flat:
        return ours, _source(s), NOT_TESTABLE, f"every lambda gave the same score ({', '.join(flat)})"
    lo, hi = LAMBDA_BEST["multiclass"]
    ok = best["binary"] >= LAMBDA_BEST["binary"][0] - 0.1 and lo - 0.1 <= best["multiclass"] <= hi + 0.1
    return ours, _source(s), REPRODUCED if ok else NOT_REPRODUCED, \
        "binary best near 1, multiclass near 0.5-0.6" if ok else "best lambdas differ from the paper's"


def age_gain(S: Summaries) -> Verdict:
    s = S.get("04_age")
    if not s:
        return _missing("04_age")
    a = s.get("AS_on_pediatric", {})
    if "pediatric" not in a or "unified" not in a:
        return "-", _source(s), NOT_TESTABLE, s.get("why_not", "no pediatric test subset")
    ours = f"{_pct(a['pediatric'])} vs {_pct(a['unified'])} AS on pediatric cycles"
    if s.get("skipped"):  # one age group has no model (SPRSound is all children): the comparison is void
        return ours, _source(s), NOT_TESTABLE, s.get("why_not") or "an age group's model was not trained"
    return _judge(s, ours, a["pediatric"] > a["unified"], "child-specific model wins",
                  "the unified model is as good or better")


def model_agnostic(S: Summaries) -> Verdict:
    s = S.get("06_model_agnostic")
    if not s or "score_full" not in s or "score_fbs" not in s:
        return _missing("06_model_agnostic")
    ours = f"transformer {_pct(s['score_full'])} (64 bands) vs {_pct(s['score_fbs'])} ({s.get('n_bands_fbs')} bands)"
    return _judge(s, ours, s["score_fbs"] > s["score_full"], "FBS improves the transformer",
                  "FBS does not improve the transformer")


RULES: dict[str, Callable[[Summaries], Verdict]] = {
    "tsa_ordering": tsa_ordering, "tsa_gflops": tsa_gflops, "fbs_peak": fbs_peak,
    "fbs_flops_cut": fbs_flops_cut, "bands32_beat_64": bands32_beat_64, "lambda_effect": lambda_effect,
    "age_gain": age_gain, "model_agnostic": model_agnostic,
}


DATA_FREE_CLAIMS = ("tsa_gflops",)  # judged on the architecture alone: the same whatever the data


def real_verdicts(real: str | Path) -> dict[str, Verdict]:
    """{claim key: verdict} from the snapshots of study runs on real data under ``real`` (folders holding
    a ``snapshot.json``), through the same rules as this run, for every claim whose notebook ran."""
    out: dict[str, Verdict] = {}
    for folder in snapshot_folders(real):
        S = load_summaries(folder)
        for key, rule in RULES.items():
            if key in out or key in DATA_FREE_CLAIMS:
                continue
            ours, data, verdict, why = rule(S)
            if why.startswith("no results from"):  # that notebook is not in the snapshot
                continue
            out[key] = (f"{ours} [{data}]", data, verdict, f"{why}; snapshot {folder.name}")
    return out


def scorecard(results: str | Path, real: str | Path | None = None) -> pd.DataFrame:
    """One row per claim: claim, where, paper, ours, data, verdict, why (from ``results``), then ours (real),
    verdict (real), why (real) (from the real-data snapshots under ``real``; None: no real columns filled)."""
    S = load_summaries(results)
    R = real_verdicts(real) if real is not None else {}
    rows = []
    for c in CLAIMS:
        ours, data, verdict, why = RULES[c.key](S)
        r_ours, _, r_verdict, r_why = R.get(c.key, ("-", "-", NOT_TESTABLE, "no real-data result for this claim"))
        rows.append({"claim": c.claim, "where": c.where, "paper": c.paper_value, "ours": ours, "data": data,
                     "verdict": verdict, "why": why, "ours (real)": r_ours, "verdict (real)": r_verdict,
                     "why (real)": r_why, "key": c.key})
    return pd.DataFrame(rows)


VERDICT_COLORS = {REPRODUCED: "#d4edda", NOT_REPRODUCED: "#f8d7da", NOT_TESTABLE: "#e2e3e5"}


def styled(card: pd.DataFrame):
    """The scorecard as an HTML-ready pandas Styler: verdicts coloured, the internal key hidden."""
    shown = card.drop(columns=["key"])
    return (shown.style.hide(axis="index")
            .map(lambda v: f"background-color: {VERDICT_COLORS.get(v, 'white')}; font-weight: bold",
                 subset=[c for c in ("verdict", "verdict (real)") if c in shown]))
