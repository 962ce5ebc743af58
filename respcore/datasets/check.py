"""``python -m respcore.datasets check ROOT``: what a download holds, as a user checks it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..features import MelConfig
from .icbhi import DEMOGRAPHIC_FILES, ICBHI, SPLIT_FILES, find_file
from .icbhi_files import parse_stem
from .load import synthetic_flavor
from .report import DatasetError
from .sprsound import FOLDERS_2022, SPRSound
from .synthetic import TRUTH_FILE


def detect(root: str | Path) -> str:
    """'icbhi' or 'sprsound' from the files under ``root``; a DatasetError says what was looked for."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    if (root / TRUTH_FILE).is_file():
        return synthetic_flavor(root)
    if find_file(root, SPLIT_FILES + DEMOGRAPHIC_FILES) or any(parse_stem(p.stem) for p in root.glob("*.txt")):
        return "icbhi"
    if (root / "train_json").is_dir() or (root / "test_json").is_dir() or any(root.glob("*_json")):
        return "sprsound"
    raise DatasetError(
        f"{root} is neither ICBHI 2017 (expected {' or '.join(SPLIT_FILES)} and *.wav/*.txt recordings) "
        "nor SPRSound (expected train_json/, train_wav/, test_json/, test_wav/ or {name}_json/)")


def _table(meta: pd.DataFrame, classes: tuple[str, ...], by: str) -> str:
    keyed = meta.assign(age_group=meta["age_group"].fillna("unknown age"))
    table = pd.crosstab([keyed["split"], keyed["age_group"]], keyed["label"]).reindex(columns=list(classes), fill_value=0)
    table["total"] = table.sum(axis=1)
    n_rec = keyed.groupby(["split", "age_group"])["recording"].nunique()
    n_pat = keyed.groupby(["split", "age_group"])["patient"].nunique()
    table.insert(0, "patients", n_pat)
    table.insert(0, "recordings", n_rec)
    return f"{by} per class, split and age group:\n{table.to_string()}"


def check(root: str | Path, *, strict: bool = False) -> str:
    """A readable account of the dataset under ``root``: counts per class, split and age group, and
    every fix-up and skip (all details listed)."""
    kind = detect(root)
    lines = [f"{root}: {kind}"]
    if kind == "icbhi":
        ds = ICBHI(root, "all", mel=MelConfig(), strict=strict, return_logmel=False)
        lines += [_table(ds.metadata, ds.classes, "cycles"), "report:", ds.report.summary(max_details=10_000)]
        return "\n".join(lines)
    root = Path(root)
    splits = [s for s, (json_dir, _) in FOLDERS_2022.items() if (root / json_dir).is_dir()]
    splits += sorted(p.name[: -len("_json")] for p in root.glob("*_json") if p.name != "train_json")
    for split in splits:
        events = SPRSound(root, "1-2", split, strict=strict, return_logmel=False)
        lines += [f"[{split}] events:", _table(events.metadata, events.classes, "events")]
        try:
            records = SPRSound(root, "2-2", split, strict=strict, return_logmel=False)
            lines += [f"[{split}] records:", _table(records.metadata, records.classes, "records")]
        except DatasetError as err:
            lines.append(f"[{split}] records: no record labels ({err})")
        lines += [f"[{split}] report:", events.report.summary(max_details=10_000)]
    return "\n".join(lines)
