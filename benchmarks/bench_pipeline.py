"""Pipeline benchmarks: log-Mel front end, feature cache, training throughput, peak memory, FBS cost.

Training, memory and FBS go through ``respcore.train.fit`` and ``respcore.fbs`` as the study calls
them; their features are random log-Mel-shaped tensors (the features are cached in memory by then, and
their values do not change the cost), with ICBHI's class balance and patients for patient-wise folds.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

import respcore
from bench_models import row
from model_clock import ModelClock
from respcore.datasets.base import FeatureSet
from settings import Settings
from timing import load1, median_ratio, time_call, time_interleaved

ICBHI_CYCLES = 6898  # train 4,142 + test 2,756 (DATASETS.md)
ICBHI_BALANCE = (2063, 1215, 501, 363)  # train cycles per class: normal, crackle, wheeze, both
CLASSES = ("normal", "crackle", "wheeze", "both")


def random_features(n: int, mel: respcore.MelConfig, *, seed: int, patients: int = 40) -> FeatureSet:
    """A FeatureSet of ``n`` random dB-scaled log-Mels (N, 1, F, T) with ICBHI's class balance."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, *mel.shape, generator=g) * 10 - 40  # (N, 1, F, T), dB-like
    y = torch.multinomial(torch.tensor(ICBHI_BALANCE, dtype=torch.float), n, replacement=True, generator=g)
    patient = [f"p{seed}-{i % patients:03d}" for i in range(n)]
    meta = pd.DataFrame({"patient": patient, "age": 50.0, "age_group": "adult",
                         "recording": [f"{p}-r{i // 8}" for i, p in enumerate(patient)],
                         "label": [CLASSES[int(c)] for c in y]})
    return FeatureSet(x=x, y=y, classes=CLASSES, meta=meta, mel=mel)


def _mel(s: Settings) -> respcore.MelConfig:
    return respcore.MelConfig(cycle_seconds=1.0) if s.quick else respcore.MelConfig()


def bench_log_mel(s: Settings) -> list[dict]:
    """Batched log-Mel throughput (cycles/s) against a Python loop over single cycles, on CPU and GPU."""
    mel, rows = _mel(s), []
    for device in ["cpu"] + (["cuda"] if s.device == "cuda" else []):
        waves = torch.randn(s.logmel_cycles, mel.cycle_samples, device=device)

        def looped(waves: torch.Tensor = waves) -> None:
            for w in waves:
                respcore.log_mel(w[None], mel)

        fns = {"batched": lambda waves=waves: respcore.log_mel(waves, mel), "per-cycle loop": looped}
        timings, rounds = time_interleaved(fns, warmup=1, repeats=s.repeats, device=device)
        for name, t in timings.items():
            rate = s.logmel_cycles / t.median_s
            rows += [row("log_mel", name, "throughput", rate, "cycles/s", device=device, batch=s.logmel_cycles,
                         load1=t.load1, note=f"{mel.cycle_seconds:g} s cycles at {mel.sample_rate} Hz"),
                     row("log_mel", name, "icbhi_projected", ICBHI_CYCLES / rate, "s", device=device,
                         load1=t.load1, note=f"{ICBHI_CYCLES} cycles at this rate")]
        rows.append(row("log_mel", "batched vs loop", "speedup", median_ratio(rounds, "per-cycle loop", "batched"),
                        "x", device=device, load1=load1()))
    return rows


def bench_cache(s: Settings) -> list[dict]:
    """Synthetic corpus generation, feature computation (cache miss) and cache load (hit).

    The corpus is ``s.corpus_size`` cycles ("icbhi": 6,898); a smaller one has its times also projected
    linearly, and the ICBHI-sized load is then measured on a cache entry of 6,898 items made of its
    features tiled, written and read by ``respcore.datasets.cache``. Repeated loads hit the OS page cache.
    """
    from respcore.datasets import make_synthetic, open_dataset
    from respcore.datasets.cache import read_entry, write_entry

    mel, rows, dev = _mel(s), [], s.device
    with tempfile.TemporaryDirectory(prefix="respcore-bench-") as tmp:
        root, cache = Path(tmp) / "corpus", Path(tmp) / "cache"
        t0 = time.perf_counter()
        make_synthetic(root, "icbhi", size=s.corpus_size, seed=0, mel=mel, workers=0)  # one process per core
        gen_s = time.perf_counter() - t0
        ds = open_dataset("synthetic", root, "all", mel=mel)
        n = len(ds)
        t0 = time.perf_counter()
        features = ds.features(cache_dir=cache, device=dev)  # miss: decode, cut, log-Mel, write
        miss_s = time.perf_counter() - t0
        hit = time_call(lambda: open_dataset("synthetic", root, "all", mel=mel).features(cache_dir=cache),
                        warmup=1, repeats=s.repeats)
        scale = ICBHI_CYCLES / n
        note = f"{n} cycles of {mel.cycle_seconds:g} s"
        rows.append(row("cache", "corpus", "workers", os.cpu_count() or 1, "processes", device="cpu",
                        note="make_synthetic(workers=0): one generating process per core"))
        rows.append(row("cache", "corpus", "size", sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20,
                        "MiB", device="cpu", batch=n, note="wav + annotation files on disk"))
        for case, sec in (("generate corpus", gen_s), ("features, cache miss", miss_s), ("features, cache hit", hit.median_s)):
            rows.append(row("cache", case, "time", sec, "s", device=dev, batch=n, load1=load1(), note=note))
            if n != ICBHI_CYCLES:
                rows.append(row("cache", case, "icbhi_projected", sec * scale, "s", device=dev, batch=ICBHI_CYCLES,
                                load1=load1(), note=f"x{scale:.1f} linear projection"))
        rows.append(row("cache", "features, cache miss", "throughput", n / miss_s, "cycles/s", device=dev, batch=n,
                        load1=load1(), note="decode + resample + cut + log-Mel"))
        if n >= ICBHI_CYCLES:
            entry = next(cache.glob("*.pt"))  # the entry features() just wrote
        else:  # an ICBHI-sized entry from the subset's features, tiled
            reps = -(-ICBHI_CYCLES // n)
            big = features.subset(torch.arange(n).repeat(reps)[:ICBHI_CYCLES])  # (6898, 1, F, T)
            entry = write_entry(cache / "icbhi-sized.pt", big)
            del big
        size_mb = entry.stat().st_size / 2**20
        load = time_call(lambda: read_entry(entry), warmup=1, repeats=max(2, s.repeats // 2))
        rows.append(row("cache", f"load {ICBHI_CYCLES}-cycle entry", "time", load.median_s, "s", device="cpu",
                        batch=ICBHI_CYCLES, load1=load.load1, note=f"{size_mb:.0f} MiB, page-cached"))
    return rows


def train_setup(s: Settings, device: str) -> tuple[FeatureSet, FeatureSet, object]:
    """Training data (random features of the profile's Mel shape) and a one-epoch TrainConfig."""
    from respcore.train import TrainConfig

    mel = respcore.get_profile(s.train_profile).mel()
    train = random_features(s.train_items, mel, seed=0)
    val = random_features(s.val_items, mel, seed=1)
    return train, val, TrainConfig.from_profile(s.train_profile, epochs=1, device=device)


def bench_training(s: Settings) -> list[dict]:
    """One-epoch ``respcore.train.fit`` calls (with a run folder, as the study makes them), each timed
    whole and split into model work and the rest by ``ModelClock``: training throughput and the share
    of time spent outside the model (batching, metrics, checkpoints, bookkeeping)."""
    from respcore.train import fit

    train, val, config = train_setup(s, s.device)
    cuda = torch.device(s.device).type == "cuda"
    calls = []
    for i in range(1 + s.train_repeats):  # the first call is a warm-up
        with tempfile.TemporaryDirectory(prefix="respcore-bench-run-") as tmp:
            with ModelClock(cuda_sync=cuda) as clock:
                result = fit(train, val, config, run_dir=Path(tmp) / "run", progress=False)
        if i:
            epoch = float(result.history["seconds"].iloc[0])  # train epoch + validation, as fit records it
            # model work outside the epoch loop is nil (fit builds the model but runs no forward there)
            calls.append({"fit": clock.wall_s, "epoch": epoch, "model": clock.model_s, "steps": clock.steps,
                          "load1": load1()})
    med = {k: statistics.median(c[k] for c in calls) for k in ("fit", "epoch", "model")}
    epoch_share = statistics.median(1 - c["model"] / c["epoch"] for c in calls)
    fit_share = statistics.median(1 - c["model"] / c["fit"] for c in calls)
    load = calls[-1]["load1"]
    note = (f"profile {s.train_profile}: width {config.width}, batch {config.batch_size}, "
            f"{train.n_bands}x{train.x.shape[-1]}, {len(train)} train + {len(val)} val items, "
            f"{calls[-1]['steps']} steps")
    dev, bs = s.device, config.batch_size
    return [
        row("training", "fit epoch (train + val)", "throughput", len(train) / med["epoch"], "samples/s",
            device=dev, batch=bs, load1=load, note=note),
        row("training", "fit epoch (train + val)", "time", med["epoch"], "s", device=dev, batch=bs, load1=load),
        row("training", "model work in the epoch", "time", med["model"], "s", device=dev, batch=bs, load1=load,
            note="forward -> optimizer step, and validation forwards"),
        row("training", "whole fit() call", "time", med["fit"], "s", device=dev, batch=bs, load1=load,
            note="+ fingerprints, model build, checkpoint and result files"),
        row("training", "outside model, per epoch", "share", epoch_share, "", device=dev, load1=load,
            note=f"target < 0.10; median of {len(calls)} calls"),
        row("training", "outside model, whole fit()", "share", fit_share, "", device=dev, load1=load,
            note=f"median of {len(calls)} calls"),
    ]


def bench_peak_memory(s: Settings) -> list[dict]:
    """Peak memory of a one-epoch training, in a fresh process (``peak_memory.py``)."""
    args = {"profile": s.train_profile, "train_items": s.train_items, "val_items": s.val_items, "device": s.device}
    script = Path(__file__).with_name("peak_memory.py")
    proc = subprocess.run([sys.executable, str(script), json.dumps(args)], capture_output=True, text=True,
                          timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    note = f"profile {s.train_profile}, {s.train_items} train + {s.val_items} val items"
    scope = "during fit (high-water mark reset before it)" if out["peak_is_fit_only"] else "process lifetime"
    rows = [row("memory", "training run", "peak_rss", out["peak_rss_mib"], "MiB", device=s.device,
                load1=load1(), note=f"{note}; {scope}"),
            row("memory", "training run", "rss_before_fit", out["rss_before_fit_mib"], "MiB", device=s.device,
                load1=load1(), note="torch + respcore imported, features in memory"),
            row("memory", "training run", "features", out["features_mib"], "MiB", device=s.device)]
    if out.get("cuda_max_allocated_mib") is not None:
        rows.append(row("memory", "training run", "cuda_max_allocated", out["cuda_max_allocated_mib"], "MiB",
                        device=s.device, note=note))
    return rows


def bench_attributions(s: Settings) -> list[dict]:
    """Same-run speed-up of an IS round's attribution step (``band_attributions_many``, as ``respcore.fbs``
    runs it) with one thread per fold model against one fold model after the other (``threads=1``), each
    torch op on the profile's threads: Grad-CAM of the CNN-TSA and Integrated Gradients of the transformer,
    5 untrained fold models of the training profile on ``val_items`` random log-Mels each."""
    from respcore.attribution import band_attributions_many
    from respcore.train import TrainConfig
    from respcore.train.loop import num_threads

    config = TrainConfig.from_profile(s.train_profile)
    mel = respcore.get_profile(s.train_profile).mel()
    val = random_features(s.val_items, mel, seed=1)
    workers = min(5, os.cpu_count() or 1)
    rows = []
    for backbone, tsa, method in (("cnn6", config.tsa, "gradcam"), ("transformer", "none", "ig")):
        torch.manual_seed(0)
        models = [respcore.build_model(backbone, s.n_classes, n_bands=mel.n_mels, tsa=tsa, width=config.width,
                                       n_frames=mel.n_frames) for _ in range(5)]
        items = [(m, val) for m in models]

        def serial(items: list = items, method: str = method) -> None:
            band_attributions_many(items, method, batch_size=config.batch_size, threads=1)

        def threads(items: list = items, method: str = method) -> None:
            band_attributions_many(items, method, batch_size=config.batch_size, threads=workers)

        with num_threads(config.num_threads):
            timings, rounds = time_interleaved({"serial": serial, "threads": threads}, warmup=s.warmup,
                                               repeats=s.repeats)
        rows.append(row("attributions", f"{method}, {backbone}: {workers} threads", "speedup_vs_serial",
                        median_ratio(rounds, "serial", "threads"), "x", device="cpu", batch=config.batch_size,
                        load1=timings["threads"].load1,
                        note=f"5 fold models x {s.val_items} items; median {timings['serial'].median_s:.2f} s serial, "
                             f"{timings['threads'].median_s:.2f} s threaded; profile {s.train_profile}, "
                             f"{config.num_threads or torch.get_num_threads()} torch thread(s) each"))
    return rows


def bench_fbs(s: Settings) -> list[dict]:
    """Wall time and trainings of IS versus BS on one small corpus, each with its own fresh run cache.

    Both run to ``min_bands`` (no early stop), so their costs compare like for like.
    """
    from respcore import fbs
    from respcore.train import TrainConfig

    from respcore.train import fit

    mel = respcore.get_profile("smoke").mel(n_mels=s.fbs_bands)
    data = random_features(s.fbs_items, mel, seed=2, patients=12)
    config = TrainConfig.from_profile("smoke", backbone="cnn3", epochs=s.fbs_epochs, device=s.device)
    common = dict(k=2, r=s.fbs_r, min_bands=s.fbs_bands // 2, progress=False)
    # warm-up: the first training and the first attribution pay one-off costs (imports, kernel
    # selection) that would otherwise land on whichever method runs first
    half = len(data) // 2
    warm = fit(data.subset(range(half)), data.subset(range(half, len(data))), config, progress=False)
    fbs.band_attributions(warm.model, data.subset(range(half, len(data))), "gradcam")
    rows = []
    for name in ("IS", "BS"):
        with tempfile.TemporaryDirectory(prefix="respcore-bench-fbs-") as tmp:
            t0 = time.perf_counter()
            if name == "IS":
                sel = fbs.importance_selection(data, config, lam=0.5, patience=None, root=tmp, **common)
            else:
                sel = fbs.backward_selection(data, config, root=tmp, **common)
            wall = time.perf_counter() - t0
        note = (f"{len(data)} items, {s.fbs_bands} -> {common['min_bands']} bands in steps of {common['r']}, "
                f"k=2, cnn3 width {config.width}, {s.fbs_epochs} epoch(s)")
        rows += [row("fbs", name, "trainings", int(sel.cost["trainings"]), "", device=s.device, note=note),
                 row("fbs", name, "wall", wall, "s", device=s.device, load1=load1(), note=note),
                 row("fbs", name, "train+attribution", float(sel.cost["seconds"]), "s", device=s.device,
                     load1=load1(), note="seconds as respcore.fbs counts them"),
                 row("fbs", name, "rounds", len(sel.trajectory), "", device=s.device)]
    by = {(r["case"], r["metric"]): r["value"] for r in rows}
    rows.append(row("fbs", "BS / IS", "trainings_ratio", by[("BS", "trainings")] / by[("IS", "trainings")], "x",
                    device=s.device))
    rows.append(row("fbs", "BS / IS", "wall_ratio", by[("BS", "wall")] / by[("IS", "wall")], "x", device=s.device,
                    load1=load1()))
    return rows
