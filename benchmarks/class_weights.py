"""Class-weighted against unweighted cross-entropy on SPRSound's record-level tasks, validation and test sets.

The headline's record-level CNN-TSA trains with class weights inverse to training frequency (Poor Quality gets
7.4x the weight of Normal on task 2-1) and loses to the challenge baseline on 2-1 inter. This probe trains the
same model (8 s crops from scratch, whole recordings scored in one pass) with and without the weights on the
same patient folds and seeds, and gives each set's Score, Sp and Se and the paired difference (unweighted minus
weighted) with its 95 % interval: does validation, drawn from the training patients, agree with the test sets
about the weights? It informs which recipes the headline should offer; the headline still chooses on
validation only.

    python benchmarks/class_weights.py --data-root /data/SPRSound --seeds 2 --cache-dir cache \\
        --out benchmarks/results/class_weights.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from respcore.study import load_data, setup
from respcore.study.headline import Recipe, cnn_tsa_configs
from respcore.study.pairs import pair_entry, paired
from respcore.study.tables import cross_validate_many

TASKS = ("record_binary", "record_multiclass")  # SPRSound 2-1 and 2-2
CROP_SECONDS = 8.0


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True, help="the SPRSound release (train_wav, train_json, test_*)")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--cache-dir", type=Path, default=Path("cache"))
    ap.add_argument("--workers", type=int, default=0, help="0: every core (a local Ray instance)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/class_weights.json"))
    args = ap.parse_args(argv)
    study = setup("05_sota", dataset="sprsound", data_root=args.data_root, profile=args.profile, seeds=args.seeds,
                  out_dir=str(args.cache_dir / "class_weights"), cache_dir=str(args.cache_dir), workers=args.workers)
    rows = []
    for task in args.tasks:
        data = load_data(study, task)
        configs = cnn_tsa_configs(study, data)  # the headline's own 8 s recipes: its run cache serves both
        weighted, plain = cross_validate_many(study, data, [configs[Recipe(CROP_SECONDS, weighted=w)]
                                                            for w in (True, False)])
        sets = ["val", *data.tests]
        for label, cv in (("weighted", weighted), ("unweighted", plain)):
            runs = cv.runs
            row = {"task": data.facts.published_tasks[task], "loss": label, "pairs": len(runs)}
            for name in sets:
                for metric in (data.facts.score, "Sp", "Se"):
                    row[f"{name}_{metric}"] = float(runs[f"{name}_{metric}"].astype(float).mean())
            rows.append(row)
        for name in sets:
            column = f"{name}_{data.facts.score}"
            # a pair where either score is undefined (a set without one of the class groups) is dropped
            p = paired(pair_entry(plain.runs, weighted.runs, column, a_label="unweighted", b_label="weighted"))
            rows.append({"task": data.facts.published_tasks[task], "loss": "unweighted minus weighted", "set": name,
                         "difference": p.mean, "low": p.low, "high": p.high, "pairs": p.n})
            print(f"{data.facts.published_tasks[task]} {name}: unweighted minus weighted {p.text()}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"profile": args.profile, "seeds": args.seeds, "crop_seconds": CROP_SECONDS,
                                    "rows": rows}, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
