"""Notebook 08: the committed snapshots of study runs on REAL data (``respcore.study.snapshot``), drawn with
the same plot functions as the other pages; nothing is trained here."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from . import plots
from ..fileio import read_json
from .config import FACTS, Study
from .dynamic import PRIOR
from .headline import confusion_view, headline_view, rates_view
from .published import FIG2_PEAK_BANDS
from .snapshot import SNAPSHOT_FILE, load, snapshot_folders
from .tables import table2_paper


@dataclass
class RealSnapshot:
    """One snapshot as the page shows it: a banner (markdown: data, profile, fingerprint, code) and
    ``figures``, (name, figure, table) per result the snapshot holds."""

    name: str
    banner: str
    figures: list[tuple[str, Any, pd.DataFrame]] = field(default_factory=list)


def real_snapshots(study: Study) -> list[RealSnapshot]:
    """Every snapshot under the study's ``real_dir``, with its figures; saves the page's summary.

    Raises:
        ValueError: a snapshot folder is not well formed (``snapshot.check`` names its problems).
    """
    loaded = [(folder, *load(folder)) for folder in snapshot_folders(study.real_dir)]
    out = [_snapshot(folder, meta, tables) for folder, meta, tables in loaded]
    study.save_table(pd.DataFrame([_index_row(folder, meta) for folder, meta, _ in loaded], columns=INDEX_COLUMNS),
                     "snapshots")
    study.save_summary({"snapshots": [s.name for s in out]}, dataset="+".join(s.name for s in out) or "none",
                       real_data=bool(out))
    return out


INDEX_COLUMNS = ["snapshot", "dataset", "profile", "notebooks", "data_fingerprint", "code_versions", "kept"]


def _index_row(folder: Path, meta: dict) -> dict:
    return {"snapshot": folder.name, "dataset": meta["dataset"], "profile": meta["profile"]["name"],
            "notebooks": ", ".join(meta["notebooks"]), "data_fingerprint": meta["data_fingerprint"]["sha1"],
            "code_versions": ", ".join(meta["code_versions"]), "kept": meta["snapshot_utc"]}


def real_headline(study: Study) -> pd.DataFrame:
    """The page's opening table: every snapshot's headline (notebook 05: Score per task and test set for the
    challenge baseline, CNN-TSA and CNN-TSA+FBS, and the best published figure), snapshot first."""
    parts = []
    for name, rows in _headlines(study):
        if rows:
            parts.append(headline_view(pd.DataFrame(rows)).assign(snapshot=name))
        else:  # a snapshot kept before notebook 05 computed the baseline: say so rather than drop it
            parts.append(pd.DataFrame([{"snapshot": name, "task": "no headline in this snapshot: notebook "
                                        "05 is not in it, or it predates the baseline and whole-recording scoring"}]))
    return _snapshot_first(parts)


def real_rates(study: Study) -> pd.DataFrame:
    """Every snapshot's rates behind its headline (``rates_view``: specificity and sensitivity of the
    baseline and CNN-TSA per test set, and of CNN-TSA on its validation folds), snapshot first; snapshots
    without a headline are left out (``real_headline`` names them)."""
    return _snapshot_first([rates_view(pd.DataFrame(rows)).assign(snapshot=name)
                            for name, rows in _headlines(study) if rows])


def real_confusion(study: Study) -> list[pd.DataFrame]:
    """Every snapshot's ``confusion_view`` tables (where the items of each true class go, per record-level
    task), snapshot first; snapshots kept before notebook 05 saved it give none."""
    return [t.assign(snapshot=folder.name)[["snapshot", *t.columns]] for folder in snapshot_folders(study.real_dir)
            for t in confusion_view(folder / "05_sota", FACTS[read_json(folder / SNAPSHOT_FILE)["dataset"]])]


def _headlines(study: Study) -> list[tuple[str, list[dict] | None]]:
    """(snapshot name, its notebook-05 headline rows, or None without them) for every snapshot."""
    out = []
    for folder in snapshot_folders(study.real_dir):
        path = folder / "05_sota" / "summary.json"
        out.append((folder.name, read_json(path).get("headline") if path.is_file() else None))
    return out


def _snapshot_first(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=["snapshot"])
    table = pd.concat(parts, ignore_index=True)
    return table[["snapshot", *[c for c in table.columns if c != "snapshot"]]]


def no_snapshot_note(study: Study) -> str:
    """The page's note when no snapshot is committed under ``real_dir``."""
    return (f":::{{admonition}} No real-data results\n:class: warning\n\nNo snapshot was found under "
            f"`{study.real_dir}`. Run `make study DATA=sprsound DATA_ROOT=...`, then `python -m "
            "respcore.study.snapshot write results results/real/<name>`.\n:::\n")


def _snapshot(folder: Path, meta: dict, tables: dict[str, dict[str, pd.DataFrame]]) -> RealSnapshot:
    p, fp = meta["profile"], meta["data_fingerprint"]
    label = f"REAL {meta['dataset'].upper()}, {p['name']} profile"
    banner = (f":::{{admonition}} {label}: `{folder.name}`\n:class: important\n\nNotebooks "
              f"{', '.join(meta['notebooks'])} of this study, run on the real recordings by `make study "
              f"DATA={meta['dataset']}` in the **{p['name']}** profile (epochs {p['epochs']}, {p['folds']} "
              f"patient-wise folds of the training patients, {p['seeds']} seed(s), width x{p['width']}, "
              f"{p['cycle_seconds']:g} s cycles, FBS step {p['band_step']} bands). Epochs and FBS rounds are "
              f"chosen on validation patients; test figures are those models on each named test set. Data "
              f"fingerprint `{fp['sha1']}` ({fp['n_files']} files); code {', '.join(meta['code_versions'])}; "
              f"kept {meta['snapshot_utc']}.\n:::\n")
    return RealSnapshot(name=folder.name, banner=banner, figures=_figures(tables, label))


def _figures(tables: dict[str, dict[str, pd.DataFrame]], label: str) -> list[tuple[str, Any, pd.DataFrame]]:
    out = []
    tsa = tables.get("02_tsa_placement", {}).get("table1_tsa_placement")
    if tsa is not None:
        out.append(("tsa_placement", plots.tsa_ablation(tsa, label), tsa))
    curves = tables.get("03_band_retention", {}).get("band_retention")
    if curves is not None:
        out.append(("band_retention", plots.band_retention(curves, FIG2_PEAK_BANDS, label), curves))
    age = tables.get("04_age", {}).get("table2_age")
    if age is not None:
        fig = plots.grouped_bars(age, x="subset", y="AS", hue="model", ylabel="AS (%)",
                                 title="Age-specific vs unified models (Table II)", data_label=label,
                                 paper=table2_paper())
        out.append(("age_models", fig, age))
    errors = tables.get("04_age", {}).get("errors_by_age")
    if errors is not None:
        out.append(("errors_by_age", plots.errors_by_age(errors, label), errors))
    sota = tables.get("05_sota", {}).get("sota")
    if sota is not None:
        out.append(("sota", plots.sota(sota, label), sota))
    agnostic = tables.get("06_model_agnostic", {}).get("model_agnostic")
    if agnostic is not None:
        fig = plots.grouped_bars(agnostic, x="backbone", y="score", hue="bands", ylabel="validation score (%)",
                                 title="FBS in a transformer (IG attributions)", data_label=label)
        out.append(("model_agnostic", fig, agnostic))
    return (out + _beyond_figures(tables.get("07_beyond_paper", {}), label)
            + _open_question_figures(tables.get("09_open_questions", {}), label))


def _drawn(tables: dict[str, pd.DataFrame], drawers: dict[str, Callable[[pd.DataFrame], Any]]
           ) -> list[tuple[str, Any, pd.DataFrame]]:
    """(name, figure, table) for each named table the snapshot holds and that has rows, in ``drawers``' order."""
    return [(name, draw(tables[name]), tables[name]) for name, draw in drawers.items()
            if tables.get(name) is not None and len(tables[name])]


def _beyond_figures(tables: dict[str, pd.DataFrame], label: str) -> list[tuple[str, Any, pd.DataFrame]]:
    """Page 7's answers on real data: how alike Grad-CAM and Integrated Gradients rank the bands, the age
    router's score when age is missing or wrong, the best validation score of IS per lambda, and IS's
    variants (the classes its importance averages, the round it keeps)."""
    return _drawn(tables, {
        "attribution_agreement": lambda t: plots.agreement_heatmap(t, label),
        "age_robustness": lambda t: plots.grouped_bars(
            t, x="condition", y="AS", hue="test_set", ylabel="AS (%)",
            title="The age router when age is missing or wrong", data_label=label),
        "lambda_sweep": lambda t: plots.lambda_sweep(t, label),
        "is_variants": lambda t: plots.is_variants(t, label),
    })


def _gate_figure(gate: pd.DataFrame, label: str) -> Any:
    """Test Score of static IS and of the per-sample gate at each task, budget and start."""
    setting = (gate["task"] + ", " + gate["budget"].astype(str) + " bands"
               + gate["start"].map(lambda s: "" if s == PRIOR else f" ({s})"))
    long = gate.assign(setting=setting).melt(id_vars=["setting"], value_vars=["static", "gate"],
                                             var_name="model", value_name="score")
    return plots.grouped_bars(long, x="setting", y="score", hue="model", ylabel="test Score (%)",
                              title="A band gate per sample against static IS, same budget", data_label=label)


def _open_question_figures(tables: dict[str, pd.DataFrame], label: str) -> list[tuple[str, Any, pd.DataFrame]]:
    """Page 9's answers on real data: the per-sample gate against static IS at each budget (test Score of
    both, with the table's paired interval), IS on each front, and the kept regions in Hz."""
    return _drawn(tables, {
        "gate_vs_static": lambda t: _gate_figure(t, label),
        "front_curves": lambda t: plots.front_curves(t, label),
        "front_kept_ranges": lambda t: plots.kept_ranges(t, label),
    })
