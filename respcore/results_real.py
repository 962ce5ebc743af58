"""The committed real-data results: the files, their columns, and a check that they are well formed.

A results folder (e.g. ``results/real/sprsound``) holds:

- ``summary.csv``: one row per (task, model, test_set, selection): ``n_runs`` and ``{S}_mean``,
  ``{S}_std`` for S in Sp, Se, AS, HS, Score (percent; std over folds x seeds, ddof 1, empty for one run).
- ``scores.csv``: one row per (task, model, fold, seed, test_set, selection) with ``epoch`` and the scores.
- ``epochs.csv``: per-epoch history of every training (loss, lr, seconds, val/inter/intra scores as fractions).
- ``counts.csv``: ``task, split, class, n``: the items each split holds per class.
- ``folds.csv``: ``task, fold, patient``: the validation patients of every trained fold.
- ``run.json``: plan (profile, folds, epochs, seeds, Mel settings, FBS settings), training config, data
  fingerprint, provenance (git commit, source hash, versions) of this invocation and ``trained_with`` (those
  of the code that trained each fold), ``wall_seconds`` (this invocation) and ``train_seconds_total`` (the
  epochs' time as measured when trained), command, protocol.
- ``fbs_is_{task}.csv`` / ``.json`` (only with FBS): the IS trajectory (bands, validation scores, MACs per
  round) and the saved ``BandSelection``.

Check a folder with ``python -m respcore.results_real check DIR``; compare a rerun with the committed
results with ``python -m respcore.results_real compare results/real/sprsound RERUN_DIR``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_write, read_json, write_json

SCORES = ("Sp", "Se", "AS", "HS", "Score")
KEYS = ("task", "model", "test_set", "selection")
RUN_FIELDS = ("dataset", "trained_with", "fold_source", "plan", "train_config", "data_fingerprint", "provenance",
              "wall_seconds", "train_seconds_total", "tasks",
              "tasks_done", "started_utc", "finished_utc", "complete", "protocol", "command")
PLAN_FIELDS = ("profile", "tasks", "folds", "folds_run", "seeds", "epochs", "backbone", "tsa", "mel")
FILES = ("summary.csv", "scores.csv", "epochs.csv", "counts.csv", "folds.csv", "run.json")


def counts_rows(task: str, data: dict) -> list[dict]:
    """``task, split, class, n`` rows for a {split: FeatureSet} dict."""
    return [{"task": task, "split": split, "class": c, "n": n}
            for split, fs in data.items() for c, n in fs.class_counts().items()]


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof 1) of each score over folds and seeds, per ``KEYS`` group.

    Args:
        scores: the per-run table (``KEYS``, ``fold``, ``seed``, ``SCORES``).
    Returns:
        one row per group: ``KEYS``, ``n_runs``, ``{S}_mean``, ``{S}_std`` (NaN for a single run).
    """
    rows = []
    for key, group in scores.groupby(list(KEYS), sort=False):  # first-seen order: task, test set, selection
        row = dict(zip(KEYS, key), n_runs=len(group))
        for s in SCORES:
            values = group[s].astype(float)
            row[f"{s}_mean"] = round(float(values.mean()), 2)
            row[f"{s}_std"] = round(float(values.std(ddof=1)), 2) if len(values) > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def write_tables(out: str | Path, scores: pd.DataFrame, summary: pd.DataFrame, epochs: pd.DataFrame,
                 counts: pd.DataFrame, folds: pd.DataFrame, meta: dict) -> None:
    """Write the ``FILES`` atomically (a killed run leaves the previous complete set)."""
    out = Path(out)
    for name, table, digits in (("summary.csv", summary, 2), ("scores.csv", scores, 2), ("epochs.csv", epochs, 5),
                                ("counts.csv", counts, None), ("folds.csv", folds, None)):
        table = table.round(digits) if digits is not None else table
        atomic_write(out / name, lambda tmp, t=table: t.to_csv(tmp, index=False))
    write_json(out / "run.json", meta)


def load(folder: str | Path) -> dict:
    """{"summary", "scores", "epochs", "counts", "folds": DataFrame, "run": dict} of a results folder."""
    folder = Path(folder)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a real-data results folder: missing {missing}")
    out = {f[:-4]: pd.read_csv(folder / f, dtype={"task": str}) for f in FILES if f.endswith(".csv")}
    out["run"] = read_json(folder / "run.json")
    return out


def check(folder: str | Path) -> list[str]:
    """Problems of a results folder (empty list = well formed): provenance fields present, scores in
    0..100, summary equal to the mean of the per-run scores, runs matching the plan's folds and seeds."""
    r = load(folder)
    run, scores, summary = r["run"], r["scores"], r["summary"]
    problems = [f"run.json lacks {k!r}" for k in RUN_FIELDS if k not in run]
    problems += [f"run.json plan lacks {k!r}" for k in PLAN_FIELDS if k not in run.get("plan", {})]
    prov = run.get("provenance", {})
    if not prov.get("git_commit"):
        problems.append("run.json provenance has no git commit")
    fp = run.get("data_fingerprint", {})
    if not (isinstance(fp, dict) and fp.get("sha1") and fp.get("n_files", 0) > 0):
        problems.append("run.json data_fingerprint lacks sha1 / n_files")
    for col in (*KEYS, "fold", "seed", "epoch", *SCORES):
        if col not in scores:
            problems.append(f"scores.csv lacks column {col!r}")
    if problems:
        return problems
    values = scores[list(SCORES)].to_numpy(float)
    if np.any((values < 0) | (values > 100)):
        problems.append("scores.csv has scores outside 0..100 (percent)")
    plan = run["plan"]
    expected = plan["folds_run"] * len(plan["seeds"]) * 2  # x test sets
    for key, group in scores.groupby(list(KEYS)):
        if len(group) != plan["folds_run"] * len(plan["seeds"]):
            problems.append(f"{key}: {len(group)} runs, plan says {plan['folds_run']} folds x {len(plan['seeds'])} seeds")
    for (task, model), group in scores.groupby(["task", "model"]):
        if len(group) != expected * 2:  # x 2 selections
            problems.append(f"task {task}, {model}: {len(group)} score rows, expected {expected * 2}")
    again = summarize(scores)
    merged = summary.merge(again, on=list(KEYS), suffixes=("", "_again"))
    if len(merged) != len(summary) or len(summary) != len(again):
        problems.append("summary.csv groups differ from those of scores.csv")
    for s in SCORES:
        if not np.allclose(merged[f"{s}_mean"], merged[f"{s}_mean_again"], atol=0.011, equal_nan=True):
            problems.append(f"summary.csv {s}_mean differs from the mean of scores.csv")
    if sorted(set(scores["task"])) != sorted(run["tasks_done"]):
        problems.append(f"scores.csv tasks {sorted(set(scores['task']))} differ from run.json tasks_done")
    return problems


def compare(committed: str | Path, rerun: str | Path) -> pd.DataFrame:
    """Score by score, a rerun's summary beside the committed one.

    Returns:
        one row per (``KEYS``, score): ``committed``, ``rerun``, ``diff`` (rerun - committed, points),
        ``spread`` (the larger of the two stds; NaN for single runs) and ``within`` (|diff| <= 2 spread).
    Raises:
        ValueError: the two runs read different data (their fingerprints differ) or share no rows.
    """
    a, b = load(committed), load(rerun)
    fa, fb = a["run"]["data_fingerprint"]["sha1"], b["run"]["data_fingerprint"]["sha1"]
    if fa != fb:
        raise ValueError(f"data fingerprints differ ({fa} vs {fb}): the two runs did not read the same files")
    merged = a["summary"].merge(b["summary"], on=list(KEYS), suffixes=("_committed", "_rerun"))
    if merged.empty:
        raise ValueError(f"{committed} and {rerun} share no (task, model, test set, selection) rows")
    rows = []
    for _, m in merged.iterrows():
        for s in SCORES:
            spread = np.nanmax([m[f"{s}_std_committed"], m[f"{s}_std_rerun"], -np.inf])
            spread = float("nan") if not np.isfinite(spread) else float(spread)
            diff = float(m[f"{s}_mean_rerun"] - m[f"{s}_mean_committed"])
            rows.append({**{k: m[k] for k in KEYS}, "score": s, "committed": m[f"{s}_mean_committed"],
                         "rerun": m[f"{s}_mean_rerun"], "diff": round(diff, 2), "spread": spread,
                         "within": bool(abs(diff) <= 2 * spread) if np.isfinite(spread) else None})
    return pd.DataFrame(rows)


def sota_rows(folder: str | Path) -> pd.DataFrame:
    """Our real-data results in the shape of ``respcore.published.published_table`` plus ``source_kind``.

    Returns:
        columns method, backbone, dataset, task, test_set, selection, Sp, Se, Score (percent, mean over
        runs), n_runs, profile, source (profile, folds, seeds, epochs, commit), caveat, source_kind = "ours (real)".
    """
    r = load(folder)
    run, plan = r["run"], r["run"]["plan"]
    commit = (run["provenance"].get("git_commit") or "unknown")[:7]
    source = (f"measured on real SPRSound 2022: profile {plan['profile']}, {plan['folds_run']} of "
              f"{plan['folds']} patient-wise folds x {len(plan['seeds'])} seed(s), {plan['epochs']} epochs, "
              f"commit {commit}")
    caveats = {"val": "epoch chosen on validation patients (honest)",
               "best_epoch_on_test": "epoch chosen on the test set (public-repo protocol; like-for-like only)"}
    rows = []
    for _, m in r["summary"].iterrows():
        fbs = "+IS" in m["model"]
        rows.append({"method": "CNN-TSA + FBS (ours)" if fbs else "CNN-TSA (ours)", "backbone": m["model"],
                     "dataset": run["dataset"], "task": m["task"], "test_set": m["test_set"],
                     "selection": m["selection"], "Sp": m["Sp_mean"], "Se": m["Se_mean"], "Score": m["Score_mean"],
                     "n_runs": int(m["n_runs"]), "profile": plan["profile"], "source": source,
                     "caveat": f"{m['test_set']} test set; {caveats[m['selection']]}", "source_kind": "ours (real)"})
    return pd.DataFrame(rows)


def _cell(mean: float, std: float) -> str:
    """"81.03 ± 1.20" (std over runs), "81.03" for a single run, "n/a" when undefined."""
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.2f} ± {std:.2f}" if pd.notna(std) else f"{mean:.2f}"


def _md(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def markdown_tables(folder: str | Path) -> dict[str, str]:
    """{"run": what was run, "results": the validation-selected and best-epoch-on-test scores} as
    markdown tables, generated from the files (the README pastes exactly these)."""
    r = load(folder)
    run, plan = r["run"], r["run"]["plan"]
    mel = plan["mel"]
    prov = run["provenance"]
    facts = [("data", f"SPRSound 2022, {run['data_fingerprint']['n_files']} files, fingerprint "
                      f"`{run['data_fingerprint']['sha1']}`"),
             ("tasks", ", ".join(run["tasks_done"]) + ("" if run["complete"] else " (incomplete run)")),
             ("profile", f"`{plan['profile']}`: width {run['train_config']['width']}, {plan['epochs']} epochs, "
                         f"batch {run['train_config']['batch_size']}, lr {run['train_config']['lr']}"),
             ("folds", f"{plan['folds_run']} of {plan['folds']} patient-wise folds of the training patients"),
             ("seeds", ", ".join(map(str, plan["seeds"]))),
             ("Mel", f"{mel['sample_rate']} Hz, {mel['n_mels']} bands, {mel['f_min']:g}-{mel['f_max']:g} Hz, "
                     f"{mel['cycle_seconds']:g} s cycles"),
             ("FBS", ", ".join(f"{t}: {len(v['kept_bands'])} bands kept" for t, v in run.get("fbs", {}).items())
              or "not run"),
             ("training time", f"{run['train_seconds_total'] / 60:.0f} min of epochs on "
                               + (f"one {prov['accelerator']}" if prov.get("accelerator")
                                  else f"{prov['cpu_count']} shared CPU cores")),
             ("code", f"commit `{(prov.get('git_commit') or '?')[:10]}` (trained by "
                      + ", ".join(f"`{(c.get('git_commit') or '?')[:10]}`" for c in run["trained_with"]) + ")")]
    s = r["summary"]
    rows = []
    for _, m in s.iterrows():
        rows.append([m["task"], m["model"], m["test_set"], m["selection"], str(int(m["n_runs"])),
                     *(_cell(m[f"{k}_mean"], m[f"{k}_std"]) for k in SCORES)])
    return {"run": _md([[k, v] for k, v in facts], ["", "setting"]),
            "results": _md(rows, ["task", "model", "test set", "selection", "runs", *SCORES])}


def update_readme(readme: str | Path, folder: str | Path) -> Path:
    """Replace the text between ``<!-- {folder name}:{name}:start -->`` and ``<!-- ...:end -->`` in
    ``readme`` with ``markdown_tables(folder)[name]`` for name in "run", "results"."""
    readme, folder = Path(readme), Path(folder)
    text = readme.read_text()
    for name, table in markdown_tables(folder).items():
        start, end = f"<!-- {folder.name}:{name}:start -->", f"<!-- {folder.name}:{name}:end -->"
        if start not in text or end not in text:
            raise ValueError(f"{readme}: no {start} ... {end} markers")
        head, rest = text.split(start, 1)
        text = head + start + "\n" + table + "\n" + end + rest.split(end, 1)[1]
    return atomic_write(readme, lambda tmp: tmp.write_text(text))


def main(argv: list[str] | None = None) -> int:
    """``python -m respcore.results_real check DIR``, ``... compare COMMITTED RERUN``, ``... readme DIR README``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m respcore.results_real")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check").add_argument("folder")
    readme = sub.add_parser("readme")
    readme.add_argument("folder")
    readme.add_argument("readme")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("committed")
    cmp_.add_argument("rerun")
    args = ap.parse_args(argv)
    if args.cmd == "check":
        problems = check(args.folder)
        print("\n".join(problems) if problems else f"{args.folder}: well formed")
        return 1 if problems else 0
    if args.cmd == "readme":
        print(update_readme(args.readme, args.folder))
        return 0
    print(compare(args.committed, args.rerun).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
