"""Band-importance maps of real lung sounds: which Mel bands a CNN-TSA trained on the real SPRSound 2022
uses for each sound class (normal, rhonchi, wheeze, stridor, coarse and fine crackles, wheeze & crackle).

Protocol: one model of task 1-2 (seven event classes) is trained on the training patients of fold 0 of
the real-data run's patient-wise folds, its epoch chosen on that fold's validation patients; the maps
are computed on those validation events, each attributed to its true class, with Grad-CAM at the
study's conv block (``experiments.bands.GRADCAM_LAYER``) and with Integrated Gradients on the input.
The test sets are never read. A small text folder keeps the result, as ``results/real`` does:

    python -m respcore.realdata_maps --root DATA --out results/real/sprsound_maps

writes ``band_maps.csv`` (method, class, band, its frequency range, importance, events) and
``band_maps.json`` (plan, validation scores, data fingerprint, code version). The trained model is
kept in the run cache (``--cache-dir``), so a rerun only recomputes the maps.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .datasets.base import FeatureSet
from .features import MelConfig
from .io import write_json

MAP_TASK = "1-2"
MAP_FILES = ("band_maps.csv", "band_maps.json")
MAP_COLUMNS = ["method", "class", "band", "f_lo_hz", "f_hi_hz", "f_center_hz", "importance", "n_events"]


def band_maps(model: nn.Module, data: FeatureSet, mel: MelConfig, *, methods: tuple[str, ...] = ("gradcam", "ig"),
              layer: int | None = None, batch_size: int = 64) -> pd.DataFrame:
    """Per-class band importance of ``model`` on ``data``, one row per method x class x band.

    ``importance`` sums to 1 over the bands of a (method, class); a class absent from ``data`` is left out.
    Returns: DataFrame with ``MAP_COLUMNS``.
    """
    from .attribution import band_attributions

    if data.n_bands != mel.n_mels:
        raise ValueError(f"band_maps: data has {data.n_bands} bands, the Mel front end {mel.n_mels}")
    edges = mel.band_edges_hz()  # (F + 2,): band b spans edges[b] .. edges[b + 2], centred on edges[b + 1]
    counts = torch.bincount(data.y, minlength=data.n_classes)
    rows = []
    for method in methods:
        att = band_attributions(model, data, method, layer=layer if method == "gradcam" else None,
                                batch_size=batch_size)  # (C, F)
        for c, name in enumerate(data.classes):
            if counts[c] == 0:
                continue
            for b in range(data.n_bands):
                rows.append({"method": method, "class": name, "band": b, "f_lo_hz": float(edges[b]),
                             "f_hi_hz": float(edges[b + 2]), "f_center_hz": float(edges[b + 1]),
                             "importance": float(att[c, b]), "n_events": int(counts[c])})
    return pd.DataFrame(rows, columns=MAP_COLUMNS)


def peak_bands(maps: pd.DataFrame, top: int = 8) -> pd.DataFrame:
    """The ``top`` most important bands of each (method, class), as a frequency range per row.

    Returns: method, class, n_events, top_bands (list), f_lo_hz, f_hi_hz (of those bands), share (their
    summed importance).
    """
    out = []
    for (method, cls), g in maps.groupby(["method", "class"], sort=False):
        best = g.nlargest(top, "importance")
        out.append({"method": method, "class": cls, "n_events": int(g["n_events"].iloc[0]),
                    "top_bands": sorted(best["band"].tolist()), "f_lo_hz": round(float(best["f_lo_hz"].min())),
                    "f_hi_hz": round(float(best["f_hi_hz"].max())), "share": round(float(best["importance"].sum()), 3)})
    return pd.DataFrame(out)


def run_maps(root: str | Path, out: str | Path, *, profile: str = "cpu", folds: int = 3, fold: int = 0,
             seed: int = 0, cache_dir: str | Path = "cache/realdata", command: str = "",
             progress: bool = True) -> Path:
    """Train (or load) the task-1-2 model of ``fold`` and write its band maps under ``out``."""
    from .cv import make_folds
    from .experiments.bands import GRADCAM_LAYER
    from .provenance import data_fingerprint, environment
    from .realdata import RealPlan, load_sprsound, sprsound_data_files
    from .train import fit

    t0 = time.perf_counter()
    environment()  # pin the code version this run starts with (git commit and source hash: read once)
    plan = RealPlan.from_profile(profile, tasks=(MAP_TASK,), folds=folds, folds_run=1)
    if not 0 <= fold < plan.folds:
        raise ValueError(f"fold must be in 0..{plan.folds - 1}, got {fold}")
    root, out, cache_dir = Path(root), Path(out), Path(cache_dir)
    fingerprint = data_fingerprint(sprsound_data_files(root), root)
    train = load_sprsound(root, MAP_TASK, plan.mel, cache_dir / "features")["train"]  # test sets unused
    tr, va = make_folds(train, plan.folds, plan.fold_seed)[fold]
    val = train.subset(torch.as_tensor(va))
    config = plan.train_config(seed)
    result = fit(train.subset(torch.as_tensor(tr)), val, config, root=cache_dir / "map_runs", progress=progress)
    maps = band_maps(result.model, val, plan.mel, layer=GRADCAM_LAYER)
    out.mkdir(parents=True, exist_ok=True)
    maps.to_csv(out / MAP_FILES[0], index=False, float_format="%.6g")
    write_json(out / MAP_FILES[1], {
        "dataset": "sprsound", "task": MAP_TASK, "classes": list(train.classes),
        "plan": {"profile": plan.profile, "folds": plan.folds, "fold": fold, "fold_seed": plan.fold_seed,
                 "seed": seed, "backbone": plan.backbone, "tsa": plan.tsa, "epochs": config.epochs,
                 "width": config.width, "mel": plan.mel.to_dict(), "gradcam_layer": GRADCAM_LAYER,
                 "methods": sorted(maps["method"].unique().tolist()), "attributed_on": "validation events of the fold"},
        "val_scores": result.val_scores, "best_epoch": result.best_epoch,
        "n_train": len(tr), "n_val": len(va), "data_fingerprint": fingerprint,
        "provenance": environment(),
        "train_seconds": round(result.seconds, 1), "wall_seconds": round(time.perf_counter() - t0, 1),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command})
    return out


def load_maps(folder: str | Path) -> tuple[pd.DataFrame, dict] | None:
    """``(maps, meta)`` of a committed maps folder, or None where there is none."""
    from .io import read_json

    folder = Path(folder)
    if not all((folder / f).is_file() for f in MAP_FILES):
        return None
    maps = pd.read_csv(folder / MAP_FILES[0])
    missing = set(MAP_COLUMNS) - set(maps.columns)
    if missing:
        raise ValueError(f"{folder / MAP_FILES[0]}: missing columns {sorted(missing)}")
    return maps, read_json(folder / MAP_FILES[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m respcore.realdata_maps", description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="the SPRSound 2022 release folder")
    ap.add_argument("--out", default="results/real/sprsound_maps")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default="cache/realdata")
    a = ap.parse_args(argv)
    try:
        path = run_maps(a.root, a.out, profile=a.profile, folds=a.folds, fold=a.fold, seed=a.seed,
                        cache_dir=a.cache_dir, command="python -m respcore.realdata_maps " + " ".join(argv or sys.argv[1:]))
    except (FileNotFoundError, ValueError) as err:
        print(f"realdata_maps failed: {err}", file=sys.stderr)
        return 1
    print(peak_bands(load_maps(path)[0]).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
