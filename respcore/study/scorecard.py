"""The claims scorecard: one row per claim of the paper, one verdict cell per data source, each COMPUTED
from the results files.

Each notebook writes ``<results>/<notebook>/summary.json``, with the paired comparisons its claims rest
on (``pairs``: per fold x seed scores of two configurations, ``respcore.study.pairs``). A rule below reads
the summaries it needs and returns a :class:`Cell`: the effect (mean paired difference with its 95 %
interval and number of pairs) and the verdict ``respcore.evidence`` gives it: ``reproduced`` (the
interval lies on the paper's side of 0), ``contradicted`` (on the other side), ``undecided`` (it
contains 0), or ``not testable`` (results missing, the data cannot test the claim, or the ``smoke``
profile trained too little for an accuracy claim to mean anything).

The sources are this run's results and every committed snapshot of a study run on real data
(``respcore.study.snapshot``): the built-in corpus, SPRSound and ICBHI each get a column.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ..evidence import CONTRADICTED, REPRODUCED, UNDECIDED, verdict
from ..fileio import read_json
from .pairs import paired
from .published import CLAIMS, FIG2_PEAK_BANDS, FBS_FLOPS_CUT, LAMBDA_BEST, TABLE_I
from .snapshot import DERIVED_PAGES, SNAPSHOT_FILE, snapshot_folders

NOT_TESTABLE = "not testable"
GFLOPS_TOLERANCE = 0.02  # relative: our count on the paper's input vs the paper's GFLOPs
FLOPS_CUT_MIN = FBS_FLOPS_CUT - 0.05  # "up to 50 %": a cut of at least 45 % counts
NONINFERIORITY = 0.01  # "keeping the score": the interval's lower end above -1 point
SOURCES = {"synthetic": "built-in corpus", "sprsound": "SPRSound", "icbhi": "ICBHI"}  # dataset -> column

Summaries = dict[str, dict]


@dataclass(frozen=True)
class Cell:
    """One claim on one data source: its verdict, the effect in a few words, and why."""

    verdict: str
    effect: str
    why: str


def load_summaries(results: str | Path) -> Summaries:
    """Every ``<results>/<notebook>/summary.json`` keyed by notebook name."""
    out: Summaries = {}
    for path in sorted(Path(results).glob("*/summary.json")):
        try:
            out[path.parent.name] = read_json(path)
        except ValueError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    return out


def _missing(nb: str) -> Cell:
    return Cell(NOT_TESTABLE, "-", f"no results from {nb}: run that notebook")


def _accuracy_ok(s: dict) -> str | None:
    """Why an accuracy claim cannot be judged from this run, or None when it can."""
    if s.get("profile") == "smoke":
        return "smoke profile: a few epochs of training, scores are not evidence"
    return None


def _combine(verdicts: list[str]) -> str:
    """A claim resting on several comparisons: contradicted if any is, reproduced if all are."""
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return REPRODUCED if verdicts and all(v == REPRODUCED for v in verdicts) else UNDECIDED


def _paired_claim(s: dict | None, nb: str, keys: dict[str, str], paper_side: str) -> Cell:
    """A claim that ``a - b > 0`` for every comparison in ``keys`` ({pairs key: short label})."""
    if not s:
        return _missing(nb)
    why = _accuracy_ok(s)
    if why:
        return Cell(NOT_TESTABLE, "-", why)
    pairs = s.get("pairs") or {}
    absent = [k for k in keys if k not in pairs]
    if absent:
        return Cell(NOT_TESTABLE, "-", f"no paired runs for {', '.join(absent)} in {nb}'s results")
    ps = {k: paired(pairs[k]) for k in keys}
    empty = [k for k, p in ps.items() if p.n == 0]
    if empty:
        return Cell(NOT_TESTABLE, "-", f"no pair of {', '.join(empty)} has a defined score on this test set")
    verdicts = [verdict(p, expected=1) for p in ps.values()]
    effect = "; ".join(f"{label} {p.text()}" if label else p.text() for (k, label), p in zip(keys.items(), ps.values()))
    test = s.get("pairs_test_set", "test")
    return Cell(_combine(verdicts), effect,
                f"paired over folds x seeds on the {test} test set; paper: {paper_side}; " +
                "; ".join(f"{pairs[k]['a_label']} minus {pairs[k]['b_label']}" for k in keys))


def tsa_ordering(S: Summaries) -> Cell:
    return _paired_claim(S.get("02_tsa_placement"), "02_tsa_placement",
                         {"post_vs_block1": "vs block 1", "post_vs_input": "vs input"},
                         "after aggregation beats both other placements")


def tsa_gflops(S: Summaries) -> Cell:
    s = S.get("02_tsa_placement")
    if not s:
        return _missing("02_tsa_placement")
    g = s.get("GFLOPs_paper_input", {})
    if s.get("backbone", "cnn6") != "cnn6":  # Table I counts CNN6; SPRSound runs use the 3-block CNN
        return Cell(NOT_TESTABLE, "-", f"Table I counts CNN6; this run's backbone is {s['backbone']}")
    if "post" not in g or "block1" not in g:
        return Cell(NOT_TESTABLE, "-", "FLOPs of the two placements not counted")
    close = all(abs(g[k] - TABLE_I[k]["GFLOPs"]) <= GFLOPS_TOLERANCE * TABLE_I[k]["GFLOPs"] for k in ("post", "block1"))
    ok = close and g["post"] < g["block1"]
    return Cell(REPRODUCED if ok else CONTRADICTED, f"{g['post']:.3f} vs {g['block1']:.3f} GFLOPs",
                "counted on the architecture (64 x 251 input, full width); "
                + (f"within {GFLOPS_TOLERANCE:.0%} of 2.48 / 3.17" if ok else "counts differ from the paper's"))


def fbs_peak(S: Summaries) -> Cell:
    s = S.get("03_band_retention")
    cell = _paired_claim(s, "03_band_retention", {"peak_vs_all/binary": ""},
                         f"a peak below 64 bands (near {FIG2_PEAK_BANDS}) beats 64 (binary task)")
    if cell.verdict == NOT_TESTABLE:
        return cell
    label = s["pairs"]["peak_vs_all/binary"]["a_label"]
    return Cell(cell.verdict, f"{label}: {cell.effect}", cell.why)


def fbs_flops_cut(S: Summaries) -> Cell:
    """Judged where the cut is 50 %: does the IS round with half the bands keep the all-band score? Kept
    means non-inferior: the paired interval's lower end above -1 point (``NONINFERIORITY``)."""
    s = S.get("03_band_retention")
    cell = _paired_claim(s, "03_band_retention", {"half_vs_all/binary": ""}, "up to 50 % fewer FLOPs, score kept")
    if cell.verdict == NOT_TESTABLE:
        return cell
    ratio = {int(k): float(v) for k, v in (s.get("flops_ratio") or {}).items()}
    half = min(ratio, key=lambda n: abs(n - max(ratio) / 2)) if ratio else None
    if half is None:
        return Cell(NOT_TESTABLE, "-", "the rounds' FLOPs were not recorded")
    cut, p = 1 - ratio[half], paired(s["pairs"]["half_vs_all/binary"])
    v = REPRODUCED if p.low > -NONINFERIORITY else CONTRADICTED if p.high < -NONINFERIORITY else UNDECIDED
    if cut < FLOPS_CUT_MIN:
        v = NOT_TESTABLE
    return Cell(v, f"{cut:.0%} fewer FLOPs at {half} bands; score {p.text()}",
                f"{cell.why}; kept when the interval's lower end is above -{100 * NONINFERIORITY:g} point "
                f"(non-inferiority), lost when its upper end is below it")


def bands32_beat_64(S: Summaries) -> Cell:
    return _paired_claim(S.get("03_band_retention"), "03_band_retention", {"half_vs_all/binary": "32 vs 64:"},
                         "32 bands beat 64 (binary task)")


def lambda_effect(S: Summaries) -> Cell:
    lo, hi = LAMBDA_BEST["multiclass"]
    return _paired_claim(S.get("07_beyond_paper"), "07_beyond_paper",
                         {"lambda/binary": "binary:", "lambda/multiclass": "multiclass:"},
                         f"lambda ~{LAMBDA_BEST['binary'][1]:g} best for binary, {lo:g}-{hi:g} for multiclass "
                         "(the paper's lambda against the best other one)")


def age_gain(S: Summaries) -> Cell:
    s = S.get("04_age")
    if s and not _accuracy_ok(s) and "routed_vs_unified" not in (s.get("pairs") or {}):
        return Cell(NOT_TESTABLE, "-", s.get("why_not") or "no router-versus-unified pairs")
    cell = _paired_claim(s, "04_age", {"routed_vs_unified": ""},
                         "age-specific models beat one model for all on children")
    if cell.verdict == NOT_TESTABLE:
        return cell
    bands = ", ".join(s.get("bands", []))
    return Cell(cell.verdict, f"{cell.effect} ({s.get('pairs_subset', 'all')} items)", f"{cell.why}; bands: {bands}")


def model_agnostic(S: Summaries) -> Cell:
    return _paired_claim(S.get("06_model_agnostic"), "06_model_agnostic", {"fbs_vs_all": ""},
                         "the transformer with FBS beats it on all bands")


RULES: dict[str, Callable[[Summaries], Cell]] = {
    "tsa_ordering": tsa_ordering, "tsa_gflops": tsa_gflops, "fbs_peak": fbs_peak,
    "fbs_flops_cut": fbs_flops_cut, "bands32_beat_64": bands32_beat_64, "lambda_effect": lambda_effect,
    "age_gain": age_gain, "model_agnostic": model_agnostic,
}


def _sources(results: str | Path, real: str | Path | None) -> dict[str, list[tuple[Summaries, str]]]:
    """{source column: [(summaries, where they come from), ...]} in order of preference: this run's
    results, then the real snapshots of that dataset, newest first."""
    snaps = snapshot_folders(real) if real else []
    snaps = sorted(snaps, key=lambda f: read_json(f / SNAPSHOT_FILE).get("snapshot_utc", ""), reverse=True)
    out: dict[str, list[tuple[Summaries, str]]] = {}
    for folder, where in [(Path(results), "this run")] + [(f, f"snapshot {f.name}") for f in snaps]:
        S = {nb: s for nb, s in load_summaries(folder).items() if nb not in DERIVED_PAGES}  # pages of other data
        datasets = {s.get("dataset") for s in S.values()} - {None}
        if len(datasets) == 1:
            out.setdefault(SOURCES.get(datasets.pop(), "other"), []).append((S, where))
    return out


def _judge(rule: Callable[[Summaries], Cell], candidates: list[tuple[Summaries, str]]) -> tuple[Cell, str]:
    """The first candidate that can judge the claim; else the first that has its notebook; else the first."""
    cells = [(rule(S), S, where) for S, where in candidates]
    pick = next((c for c in cells if c[0].verdict != NOT_TESTABLE), None) or \
        next((c for c in cells if not c[0].why.startswith("no results from")), cells[0])
    cell, S, where = pick
    return cell, f"{cell.why} ({where}, profile {next(iter(S.values())).get('profile', '?')})"


def scorecard(results: str | Path, real: str | Path | None = None) -> pd.DataFrame:
    """One row per claim: key, claim, where, paper, then per source (``SOURCES``: built-in corpus,
    SPRSound, ICBHI) three columns: ``<source>`` (the effect), ``<source> verdict`` and ``<source> why``.
    ``results`` holds this run's summaries; ``real`` the real-data snapshots (None: none read). Per claim
    and source, this run is read first, then that dataset's snapshots from the newest: the first that can
    judge the claim gives the cell."""
    found = _sources(results, real)
    rows = []
    for c in CLAIMS:
        row = {"key": c.key, "claim": c.claim, "where": c.where, "paper": c.paper_value}
        for src in SOURCES.values():
            if src in found:
                cell, why = _judge(RULES[c.key], found[src])
            else:
                cell, why = Cell(NOT_TESTABLE, "-", ""), "no study run on this data"
            row.update({src: cell.effect, f"{src} verdict": cell.verdict, f"{src} why": why})
        rows.append(row)
    return pd.DataFrame(rows)


VERDICT_COLORS = {REPRODUCED: "#d4edda", CONTRADICTED: "#f8d7da", UNDECIDED: "#fff3cd", NOT_TESTABLE: "#e2e3e5"}


def styled(card: pd.DataFrame):
    """The scorecard as an HTML-ready pandas Styler: a cell per source showing verdict and effect, coloured
    by the verdict, with the why as its tooltip; fits the page width."""
    srcs = [s for s in SOURCES.values() if s in card]
    shown = card[["claim", "paper"]].copy()
    for src in srcs:
        shown[src] = [f"{v}: {e}" if e != "-" else v for v, e in zip(card[f"{src} verdict"], card[src])]
    colors = pd.DataFrame("", index=shown.index, columns=shown.columns)
    tips = pd.DataFrame("", index=shown.index, columns=shown.columns)
    for src in srcs:
        colors[src] = [f"background-color: {VERDICT_COLORS.get(v, 'white')}" for v in card[f"{src} verdict"]]
        tips[src] = card[f"{src} why"]
    return (shown.style.hide(axis="index").apply(lambda _: colors, axis=None).set_tooltips(tips)
            .set_table_styles([{"selector": "td, th", "props": "font-size: 0.8em; vertical-align: top;"
                                                             " white-space: normal; max-width: 16em"}]))


def verdict_counts(card: pd.DataFrame) -> str:
    """One markdown line: how many claims got each verdict, per source."""
    parts = []
    for src in SOURCES.values():
        col = f"{src} verdict"
        if col in card and (card[col] != NOT_TESTABLE).any():
            counts = card[col].value_counts()
            parts.append(f"{src}: " + ", ".join(f"{v} {n}" for v, n in counts.items()))
    return "**Verdicts** (of " + f"{len(card)} claims) " + ("; ".join(parts) if parts else "none testable yet") + "."
