"""FBS on other time-frequency fronts (the paper's second open question): importance-based selection on a
linear-frequency STFT front and a gammatone front beside the log-Mel, with every band mapped to Hz so the
kept regions can be compared across fronts (notebook 09)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..features import FRONTS, MelConfig, hz_overlap, kept_ranges_hz
from .bands import LAMBDA, selection_curve, static_is_selection
from .config import Study
from .data import informative_bands, load_data

PLANTED = "planted"  # the built-in corpus's planted bands, as a pseudo-front in the overlap table


@dataclass
class FrontSelections:
    """IS per front: curves (score against kept bands and MACs), kept ranges in Hz, and their overlaps."""

    curves: pd.DataFrame  # front, n_bands, score_mean, score_std, <test>_score, gmacs, best
    kept: pd.DataFrame  # front, n_kept, low_hz, high_hz (one row per merged kept range)
    overlap: pd.DataFrame  # a, b, overlap (intersection over union in Hz), for every pair of fronts (+ planted)


def front_selections(study: Study, task: str = "multiclass", static_from: str = "") -> FrontSelections:
    """IS (Grad-CAM, the task's lambda, down to the profile's minimum) on each front of ``FRONTS``, same
    folds and seeds; the Mel front's selection is notebook 03's (from the run cache, or, with
    ``static_from``, the one saved in that folder: ``static_is_selection``)."""
    datas = {front: load_data(study, task, front=front) for front in FRONTS}
    sels = dict(zip(FRONTS, study.map(lambda f: static_is_selection(
        study, datas[f], LAMBDA[task], static_from if f == "mel" else ""), FRONTS)))
    curves, kept, ranges = [], [], {}
    for front, sel in sels.items():
        tests = [f"{name}_score" for name in datas[front].tests]
        curve = selection_curve(sel, task, list(datas[front].tests)).assign(front=front)
        curves.append(curve[["front", "n_bands", "score_mean", "score_std", "gmacs", "best", *tests]])
        ranges[front] = kept_ranges_hz(datas[front].train.mel, sel.kept_bands)
        kept += [{"front": front, "n_kept": len(sel.kept_bands), "low_hz": lo, "high_hz": hi} for lo, hi in ranges[front]]
    planted = informative_bands(datas["mel"].truth)
    if planted:
        ranges[PLANTED] = kept_ranges_hz(datas["mel"].train.mel, planted)
    names = list(ranges)
    overlap = [{"a": a, "b": b, "overlap": hz_overlap(ranges[a], ranges[b])} for a in names for b in names]
    return FrontSelections(curves=pd.concat(curves, ignore_index=True), kept=pd.DataFrame(kept),
                           overlap=pd.DataFrame(overlap))


def band_map(study: Study) -> pd.DataFrame:
    """Every front's band-to-Hz map for this profile: front, band, centre_hz, low_hz, high_hz."""
    rows = []
    for front in FRONTS:
        mel: MelConfig = study.profile.mel(front=front)
        for b, ((lo, hi), c) in enumerate(zip(mel.band_ranges_hz().tolist(), mel.band_centers_hz().tolist())):
            rows.append({"front": front, "band": b, "centre_hz": c, "low_hz": lo, "high_hz": hi})
    return pd.DataFrame(rows)
