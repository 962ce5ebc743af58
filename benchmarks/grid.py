"""The job grid's speed-up: one batch of cpu-profile trainings run serially and on a local Ray instance.

    python benchmarks/grid.py [--jobs 8] [--workers 0] [--out benchmarks/results/grid.csv]

Both executors train the same jobs (a cross-validation of CNN6-TSA at the cpu profile's width, epochs
and input size, 2 folds x ``jobs / 2`` seeds, on random features) into fresh run caches, interleaved in
one process, after an untimed warm-up batch on each (Ray's workers start and import torch once per study);
the figure is their wall-time ratio. Ray's start-up is timed apart: a study pays it once.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from respcore.datasets import FeatureSet
from respcore.profiles import get_profile
from respcore.train import RayExecutor, SerialExecutor, TrainConfig, cross_validate
from timing import load1


def features(n: int, n_frames: int, seed: int = 0) -> FeatureSet:
    """``n`` random log-Mel items of 4 classes from ``n // 4`` patients (the cpu profile's input size)."""
    g = torch.Generator().manual_seed(seed)
    mel = get_profile("cpu").mel()
    meta = pd.DataFrame({"patient": [str(i // 4) for i in range(n)], "recording": [str(i) for i in range(n)]})
    y = torch.randint(0, 4, (n,), generator=g)
    meta["label"] = [str(int(v)) for v in y]
    return FeatureSet(x=torch.randn(n, 1, mel.n_mels, n_frames, generator=g), y=y, classes=("0", "1", "2", "3"),
                      meta=meta, mel=mel)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--workers", type=int, default=0, help="Ray workers (0: every core)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/grid.csv"))
    args = ap.parse_args(argv)
    p = get_profile("cpu")
    config = TrainConfig.from_profile("cpu", backbone="cnn6", device="cpu")
    data = features(400, p.mel().n_frames)
    seeds = range(max(1, args.jobs // 2))
    ray_grid = RayExecutor(workers=args.workers or os.cpu_count(), progress=False)
    t0 = time.perf_counter()
    ray_grid.connect()
    startup = time.perf_counter() - t0
    rows = []
    try:
        warm = replace(config, epochs=1)  # start every Ray worker (and import torch there) before timing
        for executor in (SerialExecutor(progress=False), ray_grid):
            with tempfile.TemporaryDirectory() as root:
                cross_validate(data, warm, k=2, seeds=range(ray_grid.workers), root=root, executor=executor,
                               progress=False)
        for name, executor in (("serial", SerialExecutor(progress=False)), ("ray", ray_grid)):
            with tempfile.TemporaryDirectory() as root:
                t0 = time.perf_counter()
                cross_validate(data, config, k=2, seeds=seeds, root=root, executor=executor, progress=False)
                rows.append({"executor": name, "jobs": 2 * len(seeds), "workers": getattr(executor, "workers", 1),
                             "seconds": time.perf_counter() - t0, "load1": load1()})
    finally:
        ray_grid.close()
    table = pd.DataFrame(rows)
    ratio = table.loc[0, "seconds"] / table.loc[1, "seconds"]
    table["speedup_vs_serial"] = [1.0, ratio]
    table["ray_startup_s"] = startup
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))
    print(f"grid speed-up: {ratio:.2f}x with {table.loc[1, 'workers']} workers on {os.cpu_count()} cores "
          f"(Ray start-up {startup:.1f} s, paid once per study)")
    return table


if __name__ == "__main__":
    main()
