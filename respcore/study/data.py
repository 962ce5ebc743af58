"""Loading a study's data (synthetic corpus, ICBHI or SPRSound through the same loaders) and notebook 01."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..datasets import open_dataset
from ..datasets.base import FeatureSet
from ..datasets.synthetic import TRUTH_FILE
from ..features import kept_ranges_hz
from ..fileio import read_json
from .config import DatasetFacts, Study


@dataclass
class StudyData:
    """Train features and named test sets of one task, the loaders behind them, and the synthetic
    ground truth."""

    task: str  # "multiclass" or "binary"
    train: FeatureSet  # x (N, 1, F, T)
    tests: dict[str, FeatureSet]  # {"test": ...} (ICBHI) or {"inter": ..., "intra": ...} (SPRSound)
    loaders: dict[str, Any]  # split -> dataset object (items with waveforms, metadata)
    truth: dict | None  # ground_truth.json of the synthetic corpus; None for real data
    facts: DatasetFacts

    @property
    def backbone(self) -> str:
        """CNN6 for ICBHI-like data, the 3-block CNN for SPRSound (as in the paper)."""
        return self.facts.backbone


def load_data(study: Study, task: str = "multiclass", *, front: str = "mel") -> StudyData:
    """Features of the study's training split and named test sets for ``task`` ("multiclass", "binary",
    or on SPRSound a record-level task: whole recordings, ``FeatureSet.lengths``), cached under the
    study's cache folder. ``front`` picks the time-frequency front (``MelConfig.front``)."""
    facts = study.facts
    if task not in facts.tasks:
        raise ValueError(f"task must be one of {list(facts.tasks)}, got {task!r}")
    splits = {"train": "train", **facts.tests}
    loaders = {name: open_dataset(study.dataset, study.data_root, split, task=facts.tasks[task],
                                  mel=study.profile.mel(front=front)) for name, split in splits.items()}
    whole = task in facts.whole_tasks
    features = {name: loader.features(cache_dir=study.cache_dir / "features", device=study.device, whole=whole)
                for name, loader in loaders.items()}
    truth_file = study.data_root / TRUTH_FILE
    truth = read_json(truth_file) if not study.is_real and truth_file.is_file() else None
    if not study.is_real and truth is None:
        raise FileNotFoundError(f"{truth_file} is missing: is {study.data_root} a generated synthetic corpus?")
    return StudyData(task=task, train=features.pop("train"), tests=features, loaders=loaders, truth=truth,
                     facts=facts)


def all_meta(data: StudyData) -> pd.DataFrame:
    """Metadata of train and test items, with a ``split`` column (the test set's name)."""
    return pd.concat([data.train.meta.assign(split="train"),
                      *(t.meta.assign(split=name) for name, t in data.tests.items())], ignore_index=True)


def band_centres(data: StudyData) -> np.ndarray:
    """(F,) centre frequency in Hz of each kept Mel band."""
    return data.train.mel.band_centers_hz().numpy()[list(data.train.kept_bands)]


def data_overview(study: Study, data: StudyData) -> pd.DataFrame:
    """Cycles per split, class and age group (a row per split and class), saved as ``counts.csv``."""
    meta = all_meta(data).assign(age_group=lambda m: m["age_group"].fillna("unknown"))
    table = (meta.groupby(["split", "label", "age_group"]).size().unstack("age_group", fill_value=0)
             .reset_index())
    table["total"] = table.drop(columns=["split", "label"]).sum(axis=1)
    study.save_table(table, "counts")
    return table


def segment_lengths(data: StudyData) -> pd.DataFrame:
    """Duration of every training and test item (split, label, seconds), and a summary per split: the
    data the padding policy rests on."""
    return pd.concat([loader.metadata.assign(split=name, seconds=loader.metadata["end"] - loader.metadata["start"])
                      [["split", "label", "seconds"]] for name, loader in data.loaders.items()], ignore_index=True)


def class_examples(study: Study, data: StudyData) -> tuple[list[tuple[str, np.ndarray]],
                                                          list[tuple[str, np.ndarray]]]:
    """The first training cycle of each class: ([(class, waveform)], [(class, (F, T) log-Mel in dB)])."""
    waves, specs = [], []
    meta = data.train.meta
    for c, label in enumerate(data.train.classes):
        idx = np.flatnonzero(data.train.y.numpy() == c)
        if idx.size == 0:
            continue
        i = int(idx[0])
        specs.append((label, data.train.x[i, 0].numpy()))
        loader = data.loaders["train"]
        row = np.flatnonzero((loader.metadata["recording"].to_numpy() == meta["recording"].iloc[i])
                             & (loader.metadata["label"].to_numpy() == label))
        if row.size:
            waves.append((label, np.asarray(loader[int(row[0])]["waveform"]).reshape(-1)))
    return waves, specs


def planted_ranges(data: StudyData) -> list[tuple[float, float]]:
    """The frequency ranges (Hz) of every planted band of the built-in corpus; [] for real data."""
    planted = informative_bands(data.truth)
    return kept_ranges_hz(data.train.mel, planted) if planted else []


def planted_bands(truth: dict | None) -> dict[str, list[int]]:
    """Class -> planted Mel band indices from the synthetic ground truth ({} for real data)."""
    if not truth:
        return {}
    if truth.get("class_bands"):
        return {str(k): sorted(int(b) for b in v) for k, v in truth["class_bands"].items() if v}
    return {"all classes": sorted(int(b) for b in truth.get("informative_bands", []))}


def informative_bands(truth: dict | None) -> list[int]:
    """Every planted (informative) Mel band of the synthetic corpus; [] for real data."""
    if not truth:
        return []
    return sorted(int(b) for b in truth.get("informative_bands", []))


def device_responses(truth: dict | None) -> pd.DataFrame:
    """The simulated devices' frequency responses (device, freq_hz, gain_db); empty for real data."""
    rows = []
    for device, r in ((truth or {}).get("device_responses") or {}).items():
        rows += [{"device": device, "freq_hz": f, "gain_db": g} for f, g in zip(r["freqs_hz"], r["gain_db"])]
    return pd.DataFrame(rows, columns=["device", "freq_hz", "gain_db"])


def band_evidence(study: Study, data: StudyData) -> pd.DataFrame:
    """Mean log-Mel (dB) per class and band over the training set, relative to the all-class mean.

    Returns a long DataFrame (series, band, band_hz, value) with ``attrs`` for the plot: ylabel, title,
    and ``spans_hz``, the planted bands as frequency spans (synthetic data only).
    """
    x = data.train.x[:, 0].mean(dim=-1).numpy()  # (N, F): time-averaged dB per band
    y = data.train.y.numpy()
    hz = band_centres(data)
    overall = x.mean(axis=0)
    rows = []
    for c, label in enumerate(data.train.classes):
        if (y == c).any():
            diff = x[y == c].mean(axis=0) - overall
            rows += [{"series": label, "band": b, "band_hz": hz[b], "value": float(v)} for b, v in enumerate(diff)]
    df = pd.DataFrame(rows)
    planted = informative_bands(data.truth)
    df.attrs.update(ylabel="class mean - overall mean (dB)",
                    title="Where each class differs from the others" + ("; planted bands shaded" if planted else ""),
                    spans_hz=band_spans_hz(planted, data.train.mel))
    return df


def band_spans_hz(bands: list[int], mel) -> list[tuple[float, float]]:
    """Runs of consecutive band indices as (low, high) Hz spans between neighbouring band centres."""
    edges = mel.band_edges_hz().numpy()  # band b peaks at edges[b + 1]
    spans: list[tuple[float, float]] = []
    for b in sorted(bands):
        lo, hi = float((edges[b] + edges[b + 1]) / 2), float((edges[b + 1] + edges[b + 2]) / 2)
        if spans and b - 1 in bands:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


def finish_data(study: Study, data: StudyData, counts: pd.DataFrame) -> None:
    """Write the data notebook's summary (sizes, classes, planted bands, devices)."""
    meta = all_meta(data)
    study.save_summary({"n_train": len(data.train), "n_test": {name: len(t) for name, t in data.tests.items()}, "classes": list(data.train.classes),
                        "patients": int(meta["patient"].nunique()),
                        "devices": sorted(map(str, meta["device"].dropna().unique())) if "device" in meta else [],
                        "planted_bands": planted_bands(data.truth)})
