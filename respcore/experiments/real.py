"""Notebook 08: the committed REAL-data results (``results/real``), shown as they are; nothing is trained.

The folders are written by the real-data runner and documented in ``respcore.results_real``; this module
only reads them, labels them, and saves what the page shows under ``<out_dir>/08_real_data/``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import results_real
from ..published import FIG2_PEAK_BANDS
from ..realdata_maps import load_maps, peak_bands
from ..results_study import load_snapshot
from ..scorecard import REAL_RESULTS, real_curve
from .context import Study

SELECTION_LABELS = {"val": "validation-selected (honest)",
                    "best_epoch_on_test": "best epoch on test: like-for-like comparison only"}
REAL_LABEL = "REAL DATA: SPRSound 2022 (real audio)"
STUDY_FOLDER = "sprsound_study"  # the study's notebooks run on real SPRSound (respcore.results_study)
MAPS_FOLDER = "sprsound_maps"  # band-importance maps of real sound classes (respcore.realdata_maps)


@dataclass
class RealResults:
    """What notebook 08 shows: ``banner`` (markdown), ``table`` (a row per task, model, test set and
    selection, scores in %), ``curve`` (the IS band-retention curve: n_bands, score, macs, flops_ratio;
    empty without FBS results) and ``folders`` (the result folders read)."""

    banner: str
    table: pd.DataFrame
    curve: pd.DataFrame
    folders: list[Path] = field(default_factory=list)
    label: str = REAL_LABEL
    maps: pd.DataFrame = field(default_factory=pd.DataFrame)  # band importance per real class (empty: none)
    maps_note: str = ""  # markdown: how the maps were made, or that there are none
    study_note: str = ""  # markdown: the committed real-data study run (respcore.results_study), or none
    study_tables: dict = field(default_factory=dict)  # {notebook: {table: DataFrame}} of that run
    study_label: str = REAL_LABEL  # the data label of that run's figures


def real_folders(root: str | Path = REAL_RESULTS) -> list[Path]:
    """The result folders under ``root`` (those holding a ``run.json``), sorted by name."""
    root = Path(root)
    return sorted(p.parent for p in root.glob("*/run.json")) if root.is_dir() else []


def _facts(folder: Path) -> str:
    """The run table of one folder (data, profile, folds, seeds, fingerprint, code) with a heading."""
    return f"**`{folder.name}`**\n\n{results_real.markdown_tables(folder)['run']}"


def _table(folders: list[Path]) -> pd.DataFrame:
    rows = []
    for folder in folders:
        s = results_real.load(folder)["summary"]
        rows.append(s.assign(folder=folder.name, selection=s["selection"].map(SELECTION_LABELS).fillna(s["selection"])))
    cols = ["folder", "task", "model", "test_set", "selection", "n_runs",
            *(f"{k}_{m}" for k in results_real.SCORES for m in ("mean", "std"))]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


def real_results(study: Study, root: str | Path = REAL_RESULTS) -> RealResults:
    """Read the committed real results under ``root`` and save the page's table and summary.

    Returns:
        :class:`RealResults`; when ``root`` holds no results its banner says so and its tables are empty.
    Raises:
        ValueError: a folder under ``root`` is not well formed (``results_real.check`` names the problems).
    """
    folders = real_folders(root)
    for folder in folders:
        problems = results_real.check(folder)
        if problems:
            raise ValueError(f"{folder}: not well formed: " + "; ".join(problems))
    table, curve = _table(folders), pd.DataFrame(columns=["n_bands", "score", "macs", "flops_ratio"])
    fbs = next((f for f in folders if (f / "fbs_is_1-1.csv").is_file()), None)
    if fbs is not None:
        c = real_curve(fbs)
        curve = pd.DataFrame({"n_bands": list(c["curves"]["IS/binary"]),
                              "score": list(c["curves"]["IS/binary"].values()),
                              "macs": [c["macs"][n] for n in c["curves"]["IS/binary"]],
                              "flops_ratio": [c["flops_ratio"][n] for n in c["curves"]["IS/binary"]]})
    if folders:
        banner = (f":::{{admonition}} {REAL_LABEL}\n:class: important\n\nEvery number on this page was "
                  "measured on the real SPRSound 2022 recordings and committed under `results/real` (read "
                  "here, not retrained). Rows selected by **best epoch on test** follow the public-repository "
                  "protocol and serve only as a like-for-like comparison with published figures; the honest "
                  "figures are the **validation-selected** rows.\n\n"
                  + "\n\n".join(_facts(f) for f in folders) + "\n:::\n")
    else:
        banner = (f":::{{admonition}} {REAL_LABEL}: no results\n:class: warning\n\nNo real-data results "
                  f"were found under `{Path(root)}`; run the real-data runner (see `results/real/README.md`) "
                  "to fill this page.\n:::\n")
    study.save_table(table, "real_results")
    study.save_table(curve, "real_band_retention")
    runs_ = {f.name: results_real.load(f)["run"] for f in folders}
    study.save_summary({"real_folders": [f.name for f in folders],
                        "fingerprints": {n: r["data_fingerprint"]["sha1"] for n, r in runs_.items()},
                        "profiles": {n: r["plan"]["profile"] for n, r in runs_.items()}},
                       dataset="+".join(sorted({r.get("dataset", "sprsound") for r in runs_.values()})) or "none",
                       real_data=bool(folders))
    maps, maps_note = _maps(Path(root) / MAPS_FOLDER)
    if not maps.empty:
        study.save_table(maps, "real_band_maps")
        study.save_table(peak_bands(maps), "real_band_peaks")
    study_note, study_tables, study_label = _study(Path(root) / STUDY_FOLDER)
    return RealResults(banner=banner, table=table, curve=curve, folders=folders, maps=maps, maps_note=maps_note,
                       study_note=study_note, study_tables=study_tables, study_label=study_label)


def _study(folder: Path) -> tuple[str, dict, str]:
    """The committed snapshot of the study's notebooks run on real data, with a note saying what it is."""
    loaded = load_snapshot(folder)
    if loaded is None:
        return (f"No real-data study run is committed (`{folder}`): run `make study DATA=sprsound "
                "DATA_ROOT=...`, then `python -m respcore.results_study snapshot results "
                f"{folder.as_posix()} --data-root ...`."), {}, REAL_LABEL
    meta, tables = loaded
    p, fp = meta["profile"], meta["data_fingerprint"]
    note = (f"**{meta['dataset'].upper()}, real recordings**: notebooks {', '.join(meta['notebooks'])} of the "
            f"study, run by `make study DATA={meta['dataset']}` in the **{p['name']}** profile (epochs "
            f"{p['epochs']}, {p['folds']} patient-wise folds of the training patients, {p['seeds']} seed(s), width "
            f"x{p['width']}, {p['cycle_seconds']:g} s cycles, FBS step {p['band_step']} bands); scores are "
            f"validation scores unless a column says test. Data fingerprint `{fp['sha1']}` ({fp['n_files']} "
            f"files); code {', '.join(meta['code_versions'])}; kept {meta['snapshot_utc']}.")
    return note, tables, f"REAL {meta['dataset'].upper()}, {p['name']} profile"


def real_study_figures(real: RealResults) -> list[tuple[str, Any, pd.DataFrame]]:
    """(name, figure, table) for each committed real-data study table the page draws: the TSA placement
    ablation (notebook 2) and the band-retention curves, IS and BS (notebook 3)."""
    from .. import plots

    label, out = real.study_label, []
    tsa = real.study_tables.get("02_tsa_placement", {}).get("table1_tsa_placement")
    if tsa is not None:
        out.append(("real_tsa_placement", plots.tsa_ablation(tsa, label), tsa))
    curves = real.study_tables.get("03_band_retention", {}).get("band_retention")
    if curves is not None:
        out.append(("real_study_band_retention", plots.band_retention(curves, FIG2_PEAK_BANDS, label), curves))
    return out


def _maps(folder: Path) -> tuple[pd.DataFrame, str]:
    """The committed band maps and a note on how they were made (or that there are none)."""
    loaded = load_maps(folder)
    if loaded is None:
        return pd.DataFrame(), (f"No band maps are committed (`{folder}`); `python -m respcore.realdata_maps "
                                "--root DATA` makes them.")
    maps, meta = loaded
    plan, fp = meta["plan"], meta["data_fingerprint"]
    score = (meta.get("val_scores") or {}).get("Score_sprsound")
    note = (f"Task {meta['task']} model ({plan['backbone']}-tsa-{plan['tsa']}, profile `{plan['profile']}`, "
            f"width {plan['width']}, {plan['epochs']} epochs), trained on the training patients of fold "
            f"{plan['fold']} of {plan['folds']}, epoch {meta['best_epoch']} chosen on its validation patients"
            + (f" (validation Score {100 * score:.1f} %)" if score is not None else "")
            + f". The maps are computed on those {meta['n_val']} validation events, each attributed to its "
            f"true class; the test sets are not used. Data fingerprint `{fp['sha1']}` ({fp['n_files']} files); "
            f"code `{(meta['provenance'].get('git_commit') or 'unknown')[:10]}`. One model and one fold: "
            "a description of what this model listens to, not a measured property of the sounds.")
    return maps, note
