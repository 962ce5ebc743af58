"""Parsers for the ICBHI 2017 release's text files, tolerant of the variants users meet.

Official zip: CRLF, tab separated, ``NA`` for missing values. Kaggle release: LF, space separated, an
empty first line in the demographics, an ``ID,CLASS`` header on the diagnosis CSV. Both with or without
a final newline. Everything else is an error naming the file and line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .report import DatasetError

LOCATIONS = ("Tc", "Al", "Ar", "Pl", "Pr", "Ll", "Lr")  # chest locations of the recording names
STEM = re.compile(r"^(?P<patient>\d{3})_(?P<index>\d+[a-z]\d+)_(?P<location>[A-Z][a-z])_(?P<mode>sc|mc)_(?P<device>[A-Za-z0-9]+)$")


def parse_stem(stem: str) -> dict[str, str] | None:
    """``101_1b1_Al_sc_Meditron`` -> {patient, index, location, mode, device}; None if not a cycle file name."""
    m = STEM.match(stem)
    return m.groupdict() if m else None


def stem_key(stem: str) -> tuple[str, str, str, str] | None:
    """(patient, recording index, location, mode): what identifies a recording whatever its device name."""
    p = parse_stem(stem)
    return None if p is None else (p["patient"], p["index"], p["location"], p["mode"])


def split_candidates(entries: dict[str, str], stems: Iterable[str]) -> dict[str, list[str]]:
    """{split entry: recordings it names}: ``[entry]`` when a recording has that exact stem, else the
    recordings with the same :func:`stem_key` that no entry names exactly (the device name differs
    between releases: the official split's last entry needs this). Several or none: ambiguous or missing.
    """
    stems = list(stems)
    exact = set(stems)
    by_key: dict[tuple | None, list[str]] = {}
    for stem in stems:
        by_key.setdefault(stem_key(stem), []).append(stem)
    return {entry: [entry] if entry in exact else [s for s in by_key.get(stem_key(entry), []) if s not in entries]
            for entry in entries}


def text_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines as (1-based line number, stripped text); CRLF, LF, BOM and no final newline all fine."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not a text file ({err})") from err
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_split(path: Path) -> dict[str, str]:
    """Official split file: ``stem<whitespace>train|test`` per line -> {stem: 'train' | 'test'}."""
    split: dict[str, str] = {}
    for n, line in text_lines(path):
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("train", "test"):
            raise DatasetError(f"{path}:{n}: expected '<recording> train|test', got {line!r}")
        stem, which = parts
        if parse_stem(stem) is None:
            raise DatasetError(f"{path}:{n}: {stem!r} is not an ICBHI recording name")
        if split.get(stem, which) != which:
            raise DatasetError(f"{path}:{n}: {stem} is listed as both train and test")
        split[stem] = which
    if not split:
        raise DatasetError(f"{path}: split file is empty")
    return split


def _number(text: str, path: Path, n: int, what: str) -> float:
    if text.upper() == "NA":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{path}:{n}: {what} {text!r} is not a number or NA") from None


def read_demographics(path: Path) -> pd.DataFrame:
    """Demographic file (tab or space separated, no header, ``NA`` missing).

    Returns:
        DataFrame indexed by patient (str) with age (float, NaN unknown), sex ('M'/'F'/None), bmi,
        child_weight, child_height (floats, NaN unknown).
    """
    rows = []
    for n, line in text_lines(path):
        parts = line.split()
        if len(parts) < 3 or not parts[0].isdigit():
            raise DatasetError(f"{path}:{n}: expected 'patient age sex [bmi weight height]', got {line!r}")
        parts += ["NA"] * (6 - len(parts))
        sex = parts[2].upper()
        if sex not in ("M", "F", "NA"):
            raise DatasetError(f"{path}:{n}: sex {parts[2]!r} is not M, F or NA")
        rows.append({
            "patient": parts[0],
            "age": _number(parts[1], path, n, "age"),
            "sex": None if sex == "NA" else sex,
            "bmi": _number(parts[3], path, n, "adult BMI"),
            "child_weight": _number(parts[4], path, n, "child weight"),
            "child_height": _number(parts[5], path, n, "child height"),
        })
    if not rows:
        raise DatasetError(f"{path}: demographic file is empty")
    table = pd.DataFrame(rows).set_index("patient")
    if table.index.duplicated().any():
        raise DatasetError(f"{path}: patients listed twice: {sorted(set(table.index[table.index.duplicated()]))}")
    return table


def read_diagnosis(path: Path) -> dict[str, str]:
    """Diagnosis file, ``patient<TAB>diagnosis`` or CSV with an ``ID,CLASS`` header -> {patient: diagnosis}."""
    out: dict[str, str] = {}
    for n, line in text_lines(path):
        parts = [p for p in re.split(r"[,\t ]+", line, maxsplit=1) if p]
        if not parts[0].isdigit():
            if n == 1 or not out:  # a header line such as "ID,CLASS"
                continue
            raise DatasetError(f"{path}:{n}: expected 'patient diagnosis', got {line!r}")
        if len(parts) != 2:
            raise DatasetError(f"{path}:{n}: expected 'patient diagnosis', got {line!r}")
        out[parts[0]] = parts[1].strip()
    return out


def read_cycles(path: Path) -> np.ndarray:
    """Annotation file: ``start end crackle wheeze`` per line.

    Returns:
        (n_cycles, 4) float64: start s, end s, crackle 0/1, wheeze 0/1, in file order.
    Raises:
        DatasetError: a line without 4 fields, a non-number, a label other than 0/1, end <= start.
    """
    rows = []
    for n, line in text_lines(path):
        parts = line.split()
        if len(parts) != 4:
            raise DatasetError(f"{path}:{n}: expected 'start end crackle wheeze', got {line!r}")
        try:
            start, end = float(parts[0]), float(parts[1])
        except ValueError:
            raise DatasetError(f"{path}:{n}: cycle times {parts[0]!r}, {parts[1]!r} are not numbers") from None
        if parts[2] not in ("0", "1") or parts[3] not in ("0", "1"):
            raise DatasetError(f"{path}:{n}: unknown label: crackle/wheeze flags must be 0 or 1, got {parts[2]!r}, {parts[3]!r}")
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
            raise DatasetError(f"{path}:{n}: bad cycle times start={start} end={end} (need 0 <= start < end)")
        rows.append((start, end, int(parts[2]), int(parts[3])))
    if not rows:
        raise DatasetError(f"{path}: annotation file has no cycles")
    return np.asarray(rows, dtype=np.float64)
