"""Snapshots: a study run on real data kept in the repository, so the book shows it to readers who do
not have the recordings. One format: the run's own notebook folders (``summary.json``, ``params.json``,
CSV tables, saved band selections; figures are redrawn from the tables) plus ``snapshot.json``
(dataset, profile, notebooks, the release fingerprint of the data files read, code and software
versions, the command).

    python -m respcore.study snapshot write results results/real/sprsound-cpu
    python -m respcore.study snapshot check results/real/sprsound-cpu
    python -m respcore.study snapshot compare results/real/sprsound-cpu /tmp/rerun
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import pandas as pd

from ..datasets import open_dataset
from ..fileio import read_json, write_json
from ..provenance import environment, release_fingerprint
from .config import FACTS

SNAPSHOT_FILE = "snapshot.json"
KEPT_SUFFIXES = (".csv", ".json")
MAX_FILE_BYTES = 512 * 1024  # a table bigger than this is not a "small text file": refuse it
DERIVED_PAGES = ("08_real_data", "scorecard")  # pages drawn from other results: not part of a snapshot
SNAPSHOT_FIELDS = ("dataset", "profile", "notebooks", "data_fingerprint", "code_versions", "provenance",
                   "command", "snapshot_utc")


def data_files(dataset: str, root: Path) -> list[Path]:
    """Every file the study's loaders read for ``dataset`` under ``root``: train and test splits."""
    facts = FACTS[dataset]
    splits = ("train", *facts.tests.values())
    return sorted({f for s in splits for f in open_dataset(dataset, root, s, task=facts.tasks["multiclass"]).files})


def write(results: str | Path, dest: str | Path, *, command: str = "") -> Path:
    """Copy the text results of every notebook folder under ``results`` (but the pages drawn from other
    results: page 8 and the scorecard) into ``dest`` (replaced) and write ``snapshot.json``.

    Raises:
        ValueError: no notebook results, a folder that ran on the synthetic corpus or on another dataset,
            data root or profile than the others, or a file over ``MAX_FILE_BYTES``.
    """
    results, dest = Path(results), Path(dest)
    folders = sorted(p.parent for p in results.glob("*/params.json") if p.parent.name not in DERIVED_PAGES)
    if not folders:
        raise ValueError(f"{results}: no notebook results (no */params.json)")
    params = {f.name: read_json(f / "params.json") for f in folders}
    synthetic = [n for n, p in params.items() if not p.get("real_data")]
    if synthetic:
        raise ValueError(f"{results}: {synthetic} ran on the synthetic corpus; only real-data runs are kept")
    kinds = {(p["dataset"], p["data_root"], p["profile"]["name"]) for p in params.values()}
    if len(kinds) != 1:
        raise ValueError(f"{results}: notebooks ran on different datasets, data or profiles: {sorted(kinds)}")
    (dataset, data_root, _), = kinds
    files = {f.name: sorted(p for p in f.iterdir() if p.suffix in KEPT_SUFFIXES) for f in folders}
    big = [str(p) for ps in files.values() for p in ps if p.stat().st_size > MAX_FILE_BYTES]
    if big:
        raise ValueError(f"files too large to keep in the repository: {big}")
    fingerprint = release_fingerprint(data_files(dataset, Path(data_root)), data_root)
    if dest.exists():
        shutil.rmtree(dest)
    for name, paths in files.items():
        (dest / name).mkdir(parents=True)
        for p in paths:
            shutil.copy2(p, dest / name / p.name)
    write_json(dest / SNAPSHOT_FILE, {
        "dataset": dataset, "profile": params[folders[0].name]["profile"], "notebooks": sorted(files),
        "data_fingerprint": fingerprint,
        "code_versions": sorted({p.get("code_version", "unknown") for p in params.values()}),
        "provenance": environment(), "command": command,
        "snapshot_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return dest


def check(dest: str | Path) -> list[str]:
    """Problems of a snapshot folder (empty list: well formed): its fields, and each listed notebook's
    folder with a ``summary.json`` and ``params.json`` that ran on real data."""
    dest = Path(dest)
    if not (dest / SNAPSHOT_FILE).is_file():
        return [f"{dest}: no {SNAPSHOT_FILE}"]
    meta = read_json(dest / SNAPSHOT_FILE)
    problems = [f"{SNAPSHOT_FILE} lacks {k}" for k in SNAPSHOT_FIELDS if k not in meta]
    if not (meta.get("data_fingerprint") or {}).get("sha1"):
        problems.append("data_fingerprint has no sha1")
    for name in meta.get("notebooks", []):
        folder = dest / name
        for f in ("summary.json", "params.json"):
            if not (folder / f).is_file():
                problems.append(f"{name}: {f} is missing")
        if (folder / "params.json").is_file() and not read_json(folder / "params.json").get("real_data"):
            problems.append(f"{name}: ran on the synthetic corpus")
    return problems


def load(dest: str | Path) -> tuple[dict, dict[str, dict[str, pd.DataFrame]]]:
    """``(snapshot.json, {notebook: {table name: DataFrame}})`` of a well-formed snapshot folder.

    Raises:
        ValueError: naming the folder and its problems.
    """
    dest = Path(dest)
    problems = check(dest)
    if problems:
        raise ValueError(f"{dest}: not a well-formed snapshot: " + "; ".join(problems))
    meta = read_json(dest / SNAPSHOT_FILE)
    tables = {name: {p.stem: pd.read_csv(p) for p in sorted((dest / name).glob("*.csv"))}
              for name in meta["notebooks"]}
    return meta, tables


def snapshot_folders(root: str | Path) -> list[Path]:
    """The snapshot folders directly under ``root`` (those holding a ``snapshot.json``), sorted."""
    root = Path(root)
    return sorted(p.parent for p in root.glob(f"*/{SNAPSHOT_FILE}")) if root.is_dir() else []


def compare(a: str | Path, b: str | Path) -> pd.DataFrame:
    """Every numeric value of every summary.json in snapshot ``a`` beside ``b``'s: rows (notebook, key, a, b,
    diff). A difference in data fingerprint is refused: the two ran on other data."""
    ma, mb = read_json(Path(a) / SNAPSHOT_FILE), read_json(Path(b) / SNAPSHOT_FILE)
    if ma["data_fingerprint"]["sha1"] != mb["data_fingerprint"]["sha1"]:
        raise ValueError(f"{a} and {b} ran on different data (fingerprints {ma['data_fingerprint']['sha1']} "
                         f"and {mb['data_fingerprint']['sha1']})")
    rows = []
    for name in sorted(set(ma["notebooks"]) & set(mb["notebooks"])):
        fa, fb = (_flat(read_json(Path(x) / name / "summary.json")) for x in (a, b))
        rows += [{"notebook": name, "key": k, "a": fa[k], "b": fb.get(k), "diff": fb.get(k, float("nan")) - fa[k]}
                 for k in sorted(fa) if isinstance(fa[k], (int, float)) and not isinstance(fa[k], bool)]
    return pd.DataFrame(rows, columns=["notebook", "key", "a", "b", "diff"])


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flat(v, f"{key}.") if isinstance(v, dict) else {key: v})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m respcore.study snapshot", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="keep a real-data study run's results in the repository")
    w.add_argument("results", help="the study's results folder (make study's out dir, default results)")
    w.add_argument("dest", help="a folder under results/real/")
    c = sub.add_parser("check", help="is a snapshot folder well formed?")
    c.add_argument("dest")
    d = sub.add_parser("compare", help="every summary number of two snapshots side by side")
    d.add_argument("a")
    d.add_argument("b")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "write":
            path = write(args.results, args.dest,
                         command="python -m respcore.study snapshot " + " ".join(argv or sys.argv[1:]))
            print(f"kept {sum(1 for p in path.rglob('*') if p.is_file())} files in {path}")
        elif args.cmd == "check":
            problems = check(args.dest)
            print("\n".join(problems) or f"{args.dest}: well formed")
            return 1 if problems else 0
        else:
            print(compare(args.a, args.b).to_string(index=False))
    except (FileNotFoundError, ValueError) as err:
        print(f"snapshot {args.cmd} failed: {err}", file=sys.stderr)
        return 1
    return 0

