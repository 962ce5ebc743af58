"""Keep the tables of a study run on REAL data in the repository, so the book shows them to readers
who do not have the recordings.

``make study DATA=sprsound DATA_ROOT=...`` writes every notebook's tables under ``results/<notebook>/``
(git-ignored, with figures). ``snapshot`` copies the small text files of the notebooks that ran (CSV
tables, ``summary.json``, ``params.json``, saved band selections) into a folder of ``results/real/``
and adds ``study.json``: dataset, profile, notebooks, the fingerprint of the data files, the code and
software versions, and the command. Figures are not copied: the book redraws them from the tables.

    python -m respcore.results_study snapshot results results/real/sprsound_study --data-root DATA
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from .io import read_json, write_json

STUDY_FILE = "study.json"  # not run.json: results/real/*/run.json marks a realdata-runner folder
KEPT_SUFFIXES = (".csv", ".json")
MAX_FILE_BYTES = 512 * 1024  # a table bigger than this is not a "small text file": refuse it


def data_files(dataset: str, root: Path) -> list[Path]:
    """The files a real dataset's fingerprint covers (the same set ``respcore.realdata`` uses for SPRSound)."""
    if dataset == "sprsound":
        from .realdata import sprsound_data_files

        return sprsound_data_files(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in {".wav", ".txt", ".json", ".csv"})


def snapshot(study_out: str | Path, dest: str | Path, *, data_root: str | Path, command: str = "") -> Path:
    """Copy the text results of every notebook folder under ``study_out`` that ran on real data.

    Raises:
        ValueError: nothing to copy, a folder that ran on synthetic data or on another dataset or profile
            than the others, or a file over ``MAX_FILE_BYTES``.
    """
    from .provenance import data_fingerprint, environment

    study_out, dest, data_root = Path(study_out), Path(dest), Path(data_root)
    folders = sorted(p.parent for p in study_out.glob("*/params.json"))
    if not folders:
        raise ValueError(f"{study_out}: no notebook results (no */params.json)")
    params = {f.name: read_json(f / "params.json") for f in folders}
    synthetic = [n for n, p in params.items() if not p.get("real_data")]
    if synthetic:
        raise ValueError(f"{study_out}: {synthetic} ran on the synthetic corpus; only real-data runs are kept")
    kinds = {(p["dataset"], p["profile"]["name"]) for p in params.values()}
    if len(kinds) != 1:
        raise ValueError(f"{study_out}: notebooks ran on different datasets or profiles: {sorted(kinds)}")
    (dataset, profile), = kinds
    files = {f.name: sorted(p for p in f.iterdir() if p.suffix in KEPT_SUFFIXES) for f in folders}
    big = [str(p) for ps in files.values() for p in ps if p.stat().st_size > MAX_FILE_BYTES]
    if big:
        raise ValueError(f"files too large to keep in the repository: {big}")
    if dest.exists():
        shutil.rmtree(dest)
    for name, paths in files.items():
        (dest / name).mkdir(parents=True)
        for p in paths:
            shutil.copy2(p, dest / name / p.name)
    write_json(dest / STUDY_FILE, {
        "dataset": dataset, "profile": params[folders[0].name]["profile"], "notebooks": sorted(files),
        "data_fingerprint": data_fingerprint(data_files(dataset, data_root), data_root),
        "code_versions": sorted({p.get("code_version", "unknown") for p in params.values()}),
        "provenance": environment(), "source": str(study_out.resolve()), "command": command,
        "snapshot_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return dest


def load_snapshot(dest: str | Path) -> tuple[dict, dict[str, dict[str, pd.DataFrame]]] | None:
    """``(study.json, {notebook: {table name: DataFrame}})`` of a snapshot folder, or None if absent."""
    dest = Path(dest)
    if not (dest / STUDY_FILE).is_file():
        return None
    meta = read_json(dest / STUDY_FILE)
    tables = {}
    for name in meta["notebooks"]:
        folder = dest / name
        if not folder.is_dir():
            raise ValueError(f"{dest}: {STUDY_FILE} lists {name}, but {folder} is missing")
        tables[name] = {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}
    return meta, tables


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m respcore.results_study", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot", help="copy a real-data study run's tables into the repository")
    s.add_argument("study_out", help="the study's results folder (make study's OUT, default results)")
    s.add_argument("dest", help="a folder under results/real/")
    s.add_argument("--data-root", required=True, help="the dataset folder the study ran on (fingerprinted)")
    a = ap.parse_args(argv)
    try:
        path = snapshot(a.study_out, a.dest, data_root=a.data_root,
                        command="python -m respcore.results_study " + " ".join(argv or sys.argv[1:]))
    except (FileNotFoundError, ValueError) as err:
        print(f"results_study failed: {err}", file=sys.stderr)
        return 1
    print(f"kept {sum(1 for _ in path.rglob('*') if _.is_file())} files in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
