"""Dataset statistics from annotation files alone (no audio), real or synthetic, and their distances.

Reads what the data chapter shows and what the synthetic corpus is calibrated to (issue 10): class
balance per split, cycle and event lengths, ages, devices, patients shared by the ICBHI splits. The
tables come from the loaders' own parsers and file names (:mod:`.icbhi_files`, :mod:`.sprsound`), so
they count what the loaders read; only the audio is left out, so they run on the real annotations in
``../shared/realdata`` where no audio exists. Distances: total variation for proportions,
1-Wasserstein and Kolmogorov-Smirnov for lengths and ages.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .base import age_group
from .icbhi import DEMOGRAPHIC_FILES, FOUR_CLASS, SPLIT_FILES, TASKS, find_file, recording_files
from .icbhi_files import parse_stem, read_cycles, read_demographics, read_split, split_candidates
from .report import DatasetError
from .sprsound import EVENT_TYPES, FOLDERS_2022, RECORD_LABELS, read_annotation
from .sprsound import parse_stem as sprsound_stem


def _find(dirs: list[Path], names: tuple[str, ...]) -> Path:
    for d in dirs:
        found = find_file(d, names)
        if found is not None:
            return found
    raise FileNotFoundError(f"none of {list(names)} found in {[str(d) for d in dirs]}")


def icbhi_cycles(annotation_dir: str | Path, metadata_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per ICBHI respiratory cycle, read from the annotation ``.txt`` files and the metadata.

    ``metadata_dir`` holds the split and demographic files (default: ``annotation_dir``). A split entry
    whose exact stem has no annotation is matched on patient, recording index, location and mode (the
    official split's last entry needs this), as the ICBHI loader does.
    Returns: DataFrame with recording, patient, split, start, end, duration, label, age, age_group, sex
    (None when unknown), location, mode, device.
    Raises: DatasetError (a ValueError) for a recording missing from the split file or an entry that
    names no recording (the loader skips those; statistics must not silently lose them).
    """
    ann_dir = Path(annotation_dir)
    meta_dirs = [Path(metadata_dir)] if metadata_dir is not None else []
    meta_dirs.append(ann_dir)
    txts = recording_files(ann_dir, "txt")
    if not txts:
        raise FileNotFoundError(f"{ann_dir}: no ICBHI annotation files named patient_idx_loc_mode_device.txt")
    split_path = _find(meta_dirs, SPLIT_FILES)
    entries = read_split(split_path)
    split_of: dict[str, str] = {}
    for entry, candidates in split_candidates(entries, txts).items():
        if len(candidates) != 1:
            what = "no annotation file" if not candidates else f"several annotation files {candidates}"
            raise DatasetError(f"{split_path}: split entry {entry} matches {what}")
        if candidates[0] in split_of:
            raise DatasetError(f"{split_path}: two entries name recording {candidates[0]}")
        split_of[candidates[0]] = entries[entry]
    demo = read_demographics(_find(meta_dirs, DEMOGRAPHIC_FILES))
    frames = []
    for stem, path in sorted(txts.items()):
        if stem not in split_of:
            raise DatasetError(f"{path}: recording {stem} is missing from {split_path}")
        info = parse_stem(stem)
        known = info["patient"] in demo.index
        age = float(demo.at[info["patient"], "age"]) if known else float("nan")
        cyc = read_cycles(path)  # (n, 4) start, end, crackle, wheeze
        frames.append(pd.DataFrame({
            "recording": stem, "patient": info["patient"], "split": split_of[stem], "start": cyc[:, 0],
            "end": cyc[:, 1], "duration": cyc[:, 1] - cyc[:, 0],
            "label": FOUR_CLASS[cyc[:, 2].astype(int) + 2 * cyc[:, 3].astype(int)].astype(object),
            "age": age, "age_group": age_group(age), "sex": demo.at[info["patient"], "sex"] if known else None,
            "location": info["location"], "mode": info["mode"], "device": info["device"]}))
    return pd.concat(frames, ignore_index=True)


def sprsound_annotations(root: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Records and events of an SPRSound 2022 layout, from the JSON files only (the loader's parser).

    ``root`` holds ``train_json/`` and ``test_json/{inter,intra}_test_json/``.
    Returns: (records: recording, patient, split, age, age_group, sex, location, label, n_events;
    events: recording, patient, split, age, age_group, start, end, duration (seconds), label), events
    sorted by start within a record, as the loader reads them.
    Raises: DatasetError (a ValueError) naming a file with an unexpected name or content.
    """
    root = Path(root)
    records, events = [], []
    for split, (sub, _) in FOLDERS_2022.items():
        folder = root / sub
        if not folder.is_dir():
            raise FileNotFoundError(f"{root}: missing the SPRSound folder {sub}/")
        for path in sorted(folder.glob("*.json")):
            info = sprsound_stem(path.stem)
            if info is None:
                raise DatasetError(f"{path}: not patient_age_sex_location_index.json")
            record, times, types, _ = read_annotation(path)
            age = float(info["age"])
            who = (path.stem, info["patient"], split, age, age_group(age))
            records.append((*who, info["sex"], info["location"], record, len(types)))
            events += [(*who, start, end, end - start, kind) for (start, end), kind in zip(times.tolist(), types)]
    rec = pd.DataFrame(records, columns=["recording", "patient", "split", "age", "age_group", "sex",
                                         "location", "label", "n_events"])
    ev = pd.DataFrame(events, columns=["recording", "patient", "split", "age", "age_group", "start", "end",
                                       "duration", "label"])
    return rec, ev


def class_counts(table: pd.DataFrame, classes: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """{split: {class: count}} with every class present (zeros kept), splits in order of appearance."""
    out = {}
    for split, part in table.groupby("split", sort=False):
        counts = part["label"].value_counts()
        out[str(split)] = {c: int(counts.get(c, 0)) for c in classes}
    return out


QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)  # denser in the tails


def quantiles(values: np.ndarray | pd.Series) -> list[float]:
    """Quantiles of the finite values at ``QUANTILE_LEVELS``, rounded to 4 decimals."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return [round(float(q), 4) for q in np.quantile(v, QUANTILE_LEVELS)]


def patient_ages(table: pd.DataFrame) -> pd.Series:
    """(patients,) age of each patient (first row per patient), NaN where unknown."""
    return table.groupby("patient", sort=True)["age"].first()


def icbhi_summary(cycles: pd.DataFrame) -> dict:
    """The data chapter's ICBHI numbers: counts per split and class, lengths, ages, devices, shared patients."""
    ages = patient_ages(cycles)
    rec = cycles.drop_duplicates("recording")
    splits = cycles.groupby("patient")["split"].nunique()
    return {
        "recordings": {str(k): int(v) for k, v in rec["split"].value_counts().items()},
        "cycles": class_counts(cycles, TASKS["4class"]),
        "patients": int(cycles["patient"].nunique()),
        "shared_patients": sorted(splits[splits > 1].index.astype(str)),
        "patients_by_age_group": {g: int((ages.map(age_group) == g).sum()) for g in ("pediatric", "adult")},
        "patients_without_age": int(ages.isna().sum()),
        "devices": {str(k): int(v) for k, v in rec["device"].value_counts().items()},
        "modes": {str(k): int(v) for k, v in rec["mode"].value_counts().items()},
        "cycle_seconds": {g: quantiles(p["duration"]) for g, p in cycles.groupby("age_group")},
        "cycles_per_recording": round(len(cycles) / len(rec), 3),
        "age_quantiles": {g: quantiles(ages[ages.map(age_group) == g]) for g in ("pediatric", "adult")},
    }


def sprsound_summary(records: pd.DataFrame, events: pd.DataFrame) -> dict:
    """The data chapter's SPRSound numbers: records and events per split and class, lengths, ages."""
    ages = patient_ages(records)
    return {
        "records": class_counts(records, RECORD_LABELS),
        "events": class_counts(events, EVENT_TYPES),
        "patients": {str(s): int(p["patient"].nunique()) for s, p in records.groupby("split", sort=False)},
        "event_seconds": quantiles(events["duration"]),
        "events_per_record": round(len(events) / max(1, int((records["label"] != "Poor Quality").sum())), 3),
        "age_quantiles": quantiles(ages),
    }


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """Total variation distance between two class distributions given as counts or proportions (0..1)."""
    keys = sorted(set(p) | set(q))
    a = np.array([p.get(k, 0) for k in keys], dtype=float)
    b = np.array([q.get(k, 0) for k in keys], dtype=float)
    if a.sum() <= 0 or b.sum() <= 0:
        raise ValueError("total_variation needs two non-empty distributions")
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def _ecdfs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.sort(np.asarray(a, dtype=float)[np.isfinite(a)])
    b = np.sort(np.asarray(b, dtype=float)[np.isfinite(b)])
    if a.size == 0 or b.size == 0:
        raise ValueError("distribution distances need two non-empty samples")
    grid = np.union1d(a, b)
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return grid, fa, fb


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein (earth mover's) distance between two 1-D samples, in their unit."""
    grid, fa, fb = _ecdfs(a, b)
    return float(np.sum(np.abs(fa - fb)[:-1] * np.diff(grid)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: largest gap between the empirical CDFs (0..1)."""
    _, fa, fb = _ecdfs(a, b)
    return float(np.max(np.abs(fa - fb)))


def _dist(a: pd.Series, b: pd.Series) -> dict[str, float]:
    return {"wasserstein": round(wasserstein(a, b), 4), "ks": round(ks_statistic(a, b), 4)}


def compare_icbhi(real: pd.DataFrame, synthetic: pd.DataFrame) -> dict:
    """Distances between real and synthetic ICBHI cycle tables (from :func:`icbhi_cycles`).

    Returns: {"class_tv": {split: TV}, "split_tv": TV of the train/test cycle shares,
    "cycle_seconds": {wasserstein, ks}, "age": {wasserstein, ks} over patients, "age_group_tv": TV}.
    """
    rc, sc = class_counts(real, TASKS["4class"]), class_counts(synthetic, TASKS["4class"])
    ra, sa = patient_ages(real), patient_ages(synthetic)
    return {
        "class_tv": {s: round(total_variation(rc[s], sc[s]), 4) for s in rc if s in sc},
        "split_tv": round(total_variation(real["split"].value_counts().to_dict(),
                                          synthetic["split"].value_counts().to_dict()), 4),
        "cycle_seconds": _dist(real["duration"], synthetic["duration"]),
        "age": _dist(ra, sa),
        "age_group_tv": round(total_variation(ra.map(age_group).value_counts().to_dict(),
                                              sa.map(age_group).value_counts().to_dict()), 4),
    }


def compare_sprsound(real: tuple[pd.DataFrame, pd.DataFrame], synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> dict:
    """Distances between real and synthetic SPRSound (records, events) from :func:`sprsound_annotations`.

    Returns: {"event_tv": {split: TV}, "record_tv": {split: TV}, "event_seconds": {wasserstein, ks},
    "age": {wasserstein, ks} over patients}.
    """
    (rr, re), (sr, se) = real, synthetic
    rev, sev = class_counts(re, EVENT_TYPES), class_counts(se, EVENT_TYPES)
    rrec, srec = class_counts(rr, RECORD_LABELS), class_counts(sr, RECORD_LABELS)
    return {
        "event_tv": {s: round(total_variation(rev[s], sev[s]), 4) for s in rev if s in sev},
        "record_tv": {s: round(total_variation(rrec[s], srec[s]), 4) for s in rrec if s in srec},
        "event_seconds": _dist(re["duration"], se["duration"]),
        "age": _dist(patient_ages(rr), patient_ages(sr)),
    }


def calibration_distances(flavor: str, real_root: str | Path, synthetic_root: str | Path,
                          real_metadata: str | Path | None = None) -> dict:
    """How far a synthetic corpus is from the real dataset it mimics, from both sets of annotation files.

    ``real_root``: the ICBHI annotation folder (``real_metadata``: its split/demographic folder) or the
    SPRSound 2022 root. Returns :func:`compare_icbhi` or :func:`compare_sprsound` of (real, synthetic).
    """
    if flavor == "icbhi":
        return compare_icbhi(icbhi_cycles(real_root, real_metadata), icbhi_cycles(synthetic_root))
    if flavor == "sprsound":
        return compare_sprsound(sprsound_annotations(real_root), sprsound_annotations(synthetic_root))
    raise ValueError(f"unknown flavor {flavor!r}: use 'icbhi' or 'sprsound'")
