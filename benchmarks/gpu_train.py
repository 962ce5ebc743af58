"""Train CNN-TSA for a few epochs on an ICBHI-sized synthetic corpus and measure how busy the device is.

Usage::

    python benchmarks/gpu_train.py [--device cuda] [--epochs 5] [--size icbhi] [--precisions fp32 bf16]
                                   [--compile] [--out benchmarks/results] [--work /tmp/respcore-gpu]

Steps, each timed: generate the corpus (one process per core), log-Mel features of the train and test
splits on the device, a patient-wise validation fold of the training patients, then one
``respcore.train.fit`` per precision (the paper profile: CNN6 width 1.0, 8 s cycles, batch 128), with the
GPU's utilization sampled every 50 ms by NVML. A raw-epoch section compares training loops on the same
model and data in one process: the loop as it was before the GPU work (a host sync and a host-to-device
index copy per step) against ``respcore.train.loop.train_epoch`` in fp32 and bf16 (and compiled, ``--compile``).

Writes ``<out>/<stem>.csv`` and ``<out>/<stem>.json`` (default stem ``gpu_train``) (rows in run.py's columns, plus the machine).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bench_models import row
from run import format_table, write_results
from timing import load1, machine_info

REPO = Path(__file__).resolve().parents[1]
SECTION_FIT, SECTION_LOOP, SECTION_DATA = "gpu_fit", "gpu_loop", "gpu_data"


class UtilSampler:
    """GPU utilization (percent of time a kernel ran, NVML) sampled in a thread: ``mean(t0, t1)``."""

    def __init__(self, index: int = 0, period_s: float = 0.05, enabled: bool = True) -> None:
        self.samples: list[tuple[float, int]] = []
        self._period, self._enabled = period_s, enabled
        if enabled:
            import pynvml

            pynvml.nvmlInit()
            self._nvml, self._handle = pynvml, pynvml.nvmlDeviceGetHandleByIndex(index)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            util = self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu
            self.samples.append((time.perf_counter(), int(util)))
            time.sleep(self._period)

    def __enter__(self) -> "UtilSampler":
        if self._enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._enabled:
            self._stop.set()
            self._thread.join()

    def mean(self, t0: float, t1: float) -> float:
        vals = [u for t, u in self.samples if t0 <= t <= t1]
        return statistics.fmean(vals) if vals else float("nan")


def legacy_epoch(model, x, y, optimizer, *, batch_size: int, weight, generator, device) -> float:
    """The training loop as respcore had it before the GPU run: the shuffled order stays on the host
    (an index copy per step) and the loss is read back every step (a host sync per step)."""
    model.train()
    order = torch.randperm(len(y), generator=generator)
    total, seen = 0.0, 0
    for idx in order.split(batch_size):
        if len(idx) < 2:
            continue
        xb, yb = x[idx].to(device), y[idx].to(device)
        loss = F.cross_entropy(model(xb), yb, weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
    return total / max(seen, 1)


def data_section(args, device: str) -> tuple[list[dict], object, object, object]:
    """Corpus, features and the validation fold. Returns rows and (train, val, test) FeatureSets."""
    from respcore.train import make_folds
    from respcore.datasets import make_synthetic, open_dataset
    from respcore.profiles import get_profile

    mel = get_profile("paper").mel()
    root, cache = args.work / "corpus", args.work / "cache"
    t0 = time.perf_counter()
    corpus = make_synthetic(root, "icbhi", size=args.size, seed=0, mel=mel, workers=0)
    gen_s = time.perf_counter() - t0
    sets, feat_s = {}, {}
    for split in ("train", "test"):
        t0 = time.perf_counter()
        sets[split] = open_dataset("synthetic", corpus.path, split, mel=mel).features(cache_dir=cache, device=device)
        feat_s[split] = time.perf_counter() - t0
    train_all, test = sets["train"], sets["test"]
    tr, va = make_folds(train_all, k=5, seed=0)[0]  # validation patients drawn from the training patients
    train, val = train_all.subset(torch.as_tensor(tr)), train_all.subset(torch.as_tensor(va))
    n = len(train_all) + len(test)
    rows = [row(SECTION_DATA, "generate corpus", "time", gen_s, "s", device="cpu", batch=n,
                note=f"{n} cycles of {mel.cycle_seconds:g} s, make_synthetic(workers=0)"),
            row(SECTION_DATA, "features, cache miss", "time", sum(feat_s.values()), "s", device=device, batch=n,
                note="decode + resample + cut + log-Mel on the device"),
            row(SECTION_DATA, "features, cache miss", "throughput", n / sum(feat_s.values()), "cycles/s",
                device=device, batch=n)]
    print(f"data: {len(train)} train, {len(val)} val, {len(test)} test; shape {tuple(train.x.shape[1:])}",
          file=sys.stderr, flush=True)
    return rows, train, val, test


def fit_section(args, device: str, train, val, test, precision: str) -> list[dict]:
    """One ``fit`` of the paper profile (epochs cut to ``--epochs``), with NVML sampling."""
    from respcore.train import TrainConfig, fit

    config = TrainConfig.from_profile("paper", epochs=args.epochs, device=device, precision=precision)
    marks: list[float] = []
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory(prefix="respcore-gpu-fit-") as tmp, UtilSampler(enabled=cuda) as util:
        t0 = time.perf_counter()
        result = fit(train, val, config, tests={"test": test}, run_dir=Path(tmp) / "run", progress=False,
                     callbacks=[lambda epoch, r: marks.append(time.perf_counter())])
        wall = time.perf_counter() - t0
    h = result.history
    steady = h.iloc[1:] if len(h) > 1 else h  # epoch 1 carries cuDNN autotuning and allocator growth
    ep, tr_s = float(steady["seconds"].median()), float(steady["train_seconds"].median())
    util_steady = util.mean(marks[0], marks[-1]) if len(marks) > 1 else util.mean(t0, t0 + wall)
    note = (f"paper profile, CNN6-TSA(post) width {config.width}, batch {config.batch_size}, "
            f"{train.n_bands}x{train.x.shape[-1]}, {len(train)} train / {len(val)} val / {len(test)} test")
    best = result.val_scores or {}
    test_at = result.test_scores.get("test", {})
    r = lambda case, metric, value, unit, note="": row(SECTION_FIT, f"{precision}: {case}", metric, value, unit,
                                                       device=device, batch=config.batch_size, load1=load1(),
                                                       note=note)
    return [
        r("epoch (train + val + test scoring)", "time", ep, "s", f"median of epochs 2-{args.epochs}; {note}"),
        r("training pass", "time", tr_s, "s", "optimizer steps only"),
        r("training pass", "throughput", len(train) / tr_s, "samples/s"),
        r("whole epoch", "throughput", len(train) / ep, "samples/s", "training samples per epoch second"),
        r("GPU utilization, epochs 2+", "mean", util_steady, "%", "NVML, sampled every 50 ms"),
        r("GPU utilization, whole fit()", "mean", util.mean(t0, t0 + wall), "%", "with model build and checkpoints"),
        r("first epoch", "time", float(h["seconds"].iloc[0]), "s", "CUDA/cuDNN warm-up (and autotuning when on)"),
        r("whole fit()", "time", wall, "s", f"{args.epochs} epochs, checkpoint each epoch"),
        r("whole fit() outside the epochs", "time", wall - float(h["seconds"].sum()), "s",
          "fingerprints, model build, copies to the device, checkpoints, result files"),
        r("peak GPU memory", "max_allocated", torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan"), "MiB"),
        r("best epoch (validation)", "epoch", result.best_epoch, ""),
        r("validation AS at best epoch", "AS", best.get("AS", float("nan")), ""),
        r("validation Score at best epoch", "Score", best.get("Score_icbhi", float("nan")), ""),
        r("test AS at that epoch", "AS", test_at.get("AS", float("nan")), ""),
    ]


def loop_section(args, device: str, train) -> list[dict]:
    """Raw training epochs on one model and data, loops interleaved: what each change buys."""
    from respcore.train.loop import class_weights, train_epoch
    from respcore.models import build_model

    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    x, y = train.x.to(dev), train.y.to(dev)
    weight = class_weights(train.y, train.n_classes).to(dev)
    variants = {"legacy loop, fp32": ("legacy", "fp32", False), "respcore loop, fp32": ("new", "fp32", False),
                "respcore loop, bf16": ("new", "bf16", False)}
    if args.compile:
        variants["respcore loop, bf16, compiled"] = ("new", "bf16", True)
    states = {}
    for name, (_, _, compiled) in variants.items():
        torch.manual_seed(0)
        model = build_model("cnn6", train.n_classes, train.n_bands, "post", n_frames=int(x.shape[-1])).to(dev)
        states[name] = (torch.compile(model) if compiled else model,
                        torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4))
    times: dict[str, list[float]] = {name: [] for name in variants}
    with UtilSampler(enabled=dev.type == "cuda") as util:
        spans: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for rnd in range(1 + args.loop_rounds):  # round 0 warms up (cuDNN autotuning, compilation)
            for name, (loop, precision, _) in variants.items():
                model, opt = states[name]
                gen = torch.Generator().manual_seed(rnd)
                sync()
                t0 = time.perf_counter()
                if loop == "legacy":
                    legacy_epoch(model, x, y, opt, batch_size=128, weight=weight, generator=gen, device=dev)
                else:
                    train_epoch(model, x, y, opt, batch_size=128, weight=weight, generator=gen, device=dev,
                                precision=precision)
                sync()
                t1 = time.perf_counter()
                if rnd:
                    times[name].append(t1 - t0)
                    spans[name].append((t0, t1))
    rows, base = [], statistics.median(times["legacy loop, fp32"])
    for name, ts in times.items():
        med = statistics.median(ts)
        u = statistics.fmean(util.mean(a, b) for a, b in spans[name])
        note = f"median of {len(ts)} epochs, {len(train)} samples, batch 128"
        rows += [row(SECTION_LOOP, name, "time", med, "s", device=device, batch=128, load1=load1(), note=note),
                 row(SECTION_LOOP, name, "throughput", len(train) / med, "samples/s", device=device, batch=128),
                 row(SECTION_LOOP, name, "GPU utilization", u, "%", device=device, batch=128),
                 row(SECTION_LOOP, name, "speedup vs legacy fp32", base / med, "x", device=device, batch=128)]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--size", default="icbhi", help="corpus size: 'icbhi' (6,898 cycles), 'default' or an int")
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    p.add_argument("--loop-rounds", type=int, default=3, help="timed epochs per loop variant")
    p.add_argument("--compile", action="store_true", help="also time a torch.compile'd model in the loop section")
    p.add_argument("--skip-loop", action="store_true")
    p.add_argument("--cudnn-benchmark", action="store_true",
                   help="torch.backends.cudnn.benchmark = True (autotuning per new shape); respcore leaves it off")
    p.add_argument("--stem", default="gpu_train", help="output file names: <out>/<stem>.csv and .json")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "respcore-gpu")
    args = p.parse_args(argv)
    args.size = int(args.size) if str(args.size).isdigit() else args.size
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda asked for, but torch sees no CUDA device (--device cpu only checks the script)")
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else None
    meta = {"machine": {**machine_info(args.device, REPO), "gpu": gpu},
            "settings": {k: str(v) for k, v in vars(args).items()}}
    rows: list[dict] = []
    t_start = time.perf_counter()

    def save(complete: bool = False) -> tuple[Path, Path]:
        meta.update(wall_s=round(time.perf_counter() - t_start, 1), complete=complete)
        return write_results(rows, meta, args.out, args.stem)

    data_rows, train, val, test = data_section(args, args.device)
    rows += data_rows
    save()
    for precision in args.precisions:
        print(f"[{time.strftime('%H:%M:%S')}] fit {precision} ...", file=sys.stderr, flush=True)
        rows += fit_section(args, args.device, train, val, test, precision)
        save()
    if not args.skip_loop:
        print(f"[{time.strftime('%H:%M:%S')}] loop variants ...", file=sys.stderr, flush=True)
        rows += loop_section(args, args.device, train)
    paths = save(complete=True)
    print(format_table(rows))
    print(f"\nwrote {paths[0]} and {paths[1]} ({meta['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
