"""Real-data experiments: CNN-TSA on the real SPRSound 2022, with results kept as small text files.

Protocol (stated with every result): patient-wise folds drawn from the TRAINING patients pick each
fold model's epoch (by the validation SPRSound Score); that epoch's model is scored on the inter- and
intra-patient test sets with the challenge metrics. Because several public implementations keep the
epoch with the best TEST score, that number is reported too, labelled ``selection = "best_epoch_on_test"``,
for like-with-like comparison only.

Run: ``python -m respcore.realdata sprsound --root /data/SPRSound --profile cpu --out results/real/sprsound``.
A rerun with the same settings loads every finished fold from the run cache (``--cache-dir``).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from importlib.util import find_spec
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from . import runs
from .datasets.base import FeatureSet
from .features import MelConfig
from .io import read_json, stable_hash, write_json
from .profiles import get_profile
from .realdata_fbs import FBSPlan, fbs_model_name, select_bands_is, with_bands
from .train import TrainConfig

SPRSOUND_TASKS = ("1-1", "1-2", "2-1", "2-2")
TEST_SPLITS = ("inter", "intra")
SPRSOUND_SOURCE_RATE = 8_000  # Hz: every recording of the 2022 release (README of shared/realdata)
SCORES = ("Sp", "Se", "AS", "HS", "Score")  # committed as percentages; Score = SPRSound (AS + HS) / 2
SELECTIONS = ("val", "best_epoch_on_test")
_METRIC_OF = {"Sp": "Sp", "Se": "Se", "AS": "AS", "HS": "HS", "Score": "Score_sprsound"}
SPRSOUND_DIRS = ("train_wav", "train_json", "test_wav", "test_json/inter_test_json", "test_json/intra_test_json")


@dataclass(frozen=True)
class RealPlan:
    """What a real-data run trains: everything a result table needs to state.

    ``folds`` is K of the patient-wise split of the training patients; only the first ``folds_run``
    of them are trained (each fold = one model chosen on its own validation patients).
    """

    profile: str = "cpu"
    tasks: tuple[str, ...] = SPRSOUND_TASKS
    folds: int = 3
    folds_run: int = 3
    seeds: tuple[int, ...] = (0,)
    epochs: int = 8
    backbone: str = "cnn3"  # the paper's SPRSound backbone (3 conv blocks)
    tsa: str = "post"  # CNN-TSA: TSA after frequency aggregation
    fold_seed: int = 0
    select_metric: str = "Score_sprsound"
    mel: MelConfig = field(default_factory=MelConfig)
    fbs: FBSPlan = field(default_factory=FBSPlan)  # CNN-TSA+FBS (IS) on fbs.tasks; none by default

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in SPRSOUND_TASKS]
        if bad or not self.tasks:
            raise ValueError(f"unknown SPRSound tasks {bad or '[]'}; choose from {SPRSOUND_TASKS}")
        if not 1 <= self.folds_run <= self.folds or self.folds < 2:
            raise ValueError(f"need folds >= 2 and 1 <= folds_run <= folds, got {self.folds}, {self.folds_run}")
        if not set(self.fbs.tasks) <= set(self.tasks):
            raise ValueError(f"FBS tasks {self.fbs.tasks} must be among the plan's tasks {self.tasks}")
        if self.mel.f_max > SPRSOUND_SOURCE_RATE / 2:
            raise ValueError(f"mel.f_max {self.mel.f_max} Hz is above the 4 kHz Nyquist of SPRSound's 8 kHz audio")

    @classmethod
    def from_profile(cls, profile: str, fbs_tasks: tuple[str, ...] = (), **overrides) -> "RealPlan":
        """Folds, epochs, Mel front end (cycle length) and FBS step of a study profile; ``overrides`` win."""
        p = get_profile(profile)
        base = dict(profile=p.name, folds=p.folds, folds_run=p.folds, seeds=tuple(range(p.seeds)),
                    epochs=p.epochs, mel=p.mel(),
                    fbs=FBSPlan(tasks=tuple(fbs_tasks), r=p.band_step, min_bands=max(p.min_bands, 8)))
        base.update({k: v for k, v in overrides.items() if v is not None})
        if overrides.get("folds") is not None and overrides.get("folds_run") is None:
            base["folds_run"] = base["folds"]
        return cls(**base)

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig.from_profile(self.profile, backbone=self.backbone, tsa=self.tsa, epochs=self.epochs,
                                        select_metric=self.select_metric, seed=int(seed), device="auto")

    def to_dict(self) -> dict:
        return {**asdict(self), "mel": self.mel.to_dict(), "fbs": self.fbs.to_dict()}


def sprsound_data_files(root: str | Path) -> list[Path]:
    """Every wav and json of a SPRSound 2022 release folder (what the data fingerprint covers).

    Raises:
        FileNotFoundError: naming the release folders that are missing under ``root``.
    """
    root = Path(root)
    missing = [d for d in SPRSOUND_DIRS if not (root / d).is_dir()]
    if missing:
        raise FileNotFoundError(f"{root} is not a SPRSound 2022 release: missing folders {missing}")
    return sorted(p for d in SPRSOUND_DIRS for p in (root / d).iterdir() if p.suffix in {".wav", ".json"})


def load_sprsound(root: str | Path, task: str, mel: MelConfig, cache_dir: str | Path | None) -> dict[str, FeatureSet]:
    """{"train", "inter", "intra"} log-Mel feature sets of one task (cached by the datasets module)."""
    from .datasets import SPRSound

    return {split: SPRSound(root, task=task, split=split, mel=mel).features(cache_dir=cache_dir)
            for split in ("train", *TEST_SPLITS)}


def train_fold(train: FeatureSet, val: FeatureSet, tests: dict[str, FeatureSet], config: TrainConfig, *,
               progress: bool = False) -> pd.DataFrame:
    """Train one model with the study's recipe, scoring ``val`` and every test set after each epoch.

    Same steps as ``respcore.train.fit`` (class-weighted CE, Adam, cosine annealing, per-epoch seeding);
    this loop exists because ``fit`` scores a single test set and SPRSound has two.

    Returns:
        one row per epoch: ``epoch, loss, lr, seconds`` and ``{split}_{metric}`` (fractions) for ``val``
        and each test set.
    """
    from .loop import class_weights, predict_logits, resolve_device, train_epoch
    from .metrics import scores
    from .models import build_model

    device = resolve_device(config.device)
    n_classes = train.n_classes
    weight = class_weights(train.y, n_classes).to(device) if config.class_weighted else None
    x_train, y_train = train.x.to(device), train.y.to(device)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        model = build_model(config.backbone, n_classes, train.n_bands, config.tsa, width=config.width,
                            dropout=config.dropout, n_frames=int(train.x.shape[-1])).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.eta_min)
        rows = []
        for epoch in tqdm(range(1, config.epochs + 1), desc="epochs", leave=False, disable=not progress):
            torch.manual_seed(config.seed * 100_003 + epoch)
            generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
            start = time.perf_counter()
            row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
            row["loss"] = train_epoch(model, x_train, y_train, optimizer, batch_size=config.batch_size, weight=weight,
                                      generator=generator, augment=config.spec_augment, device=device,
                                      precision=config.precision)
            scheduler.step()
            for name, data in {"val": val, **tests}.items():
                pred = predict_logits(model, data.x, batch_size=config.eval_batch_size, device=device,
                                      precision=config.precision).argmax(1)  # (N,)
                got = scores(data.y.numpy(), pred.numpy(), normal=config.normal, n_classes=n_classes)
                row.update({f"{name}_{k}": float(v) for k, v in got.items()})
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            if progress:
                tqdm.write(f"epoch {epoch}: loss {row['loss']:.3f}  val Score {row['val_Score_sprsound']:.3f}  "
                           f"{row['seconds']:.0f} s")
    return pd.DataFrame(rows)


def fold_scores(history: pd.DataFrame, select_metric: str) -> list[dict]:
    """Test rows of one fold: at the validation-chosen epoch, and at each test set's best epoch.

    Returns:
        dicts with ``test_set, selection, epoch`` and the ``SCORES`` in percent.
    """
    val = history[f"val_{select_metric}"].fillna(-math.inf)  # a degenerate validation fold never wins
    chosen = history.loc[val.idxmax()]
    out = []
    for test in TEST_SPLITS:
        on_test = history.loc[history[f"{test}_{select_metric}"].fillna(-math.inf).idxmax()]
        for selection, row in (("val", chosen), ("best_epoch_on_test", on_test)):
            out.append({"test_set": test, "selection": selection, "epoch": int(row["epoch"]),
                        **{s: round(100 * float(row[f"{test}_{_METRIC_OF[s]}"]), 2) for s in SCORES}})
    return out


def cached_fold(cache: Path, train: FeatureSet, folds: list, i: int, tests: dict[str, FeatureSet],
                config: TrainConfig, *, progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """``train_fold`` on fold ``i``, or its history from the run cache.

    Returns:
        (history, {"git_commit", "source_sha1", "finished_utc"} of the code that trained it, with
        ``"now": True`` when it was trained by this call).
    """
    tr, va = folds[i]
    if getattr(config, "init_from", None) is not None:
        raise ValueError("realdata trains from scratch: init_from is not supported here")
    data = {"train": runs.data_fingerprint(train), "val_idx": runs.index_fingerprint(va),
            "tests": {k: runs.data_fingerprint(v) for k, v in tests.items()}}
    canonical = {k: v for k, v in config.cache_key().items() if not (k == "init_from" and v is None)}
    # a TrainConfig field added later with value None changes nothing in this loop: runs keyed before
    # (or with) it are the same training and are found under either key
    keys = [stable_hash({"config": canonical, **data}), stable_hash({"config": {**canonical, "init_from": None}, **data})]
    for key in keys:
        if (cache / f"fold-{key}.json").is_file():
            saved = read_json(cache / f"fold-{key}.json")
            return pd.DataFrame(saved["history"]), saved["trained_with"]
    path = cache / f"fold-{keys[0]}.json"
    from .provenance import git_commit, source_hash

    history = train_fold(train.subset(tr), train.subset(va), tests, config, progress=progress)
    trained_with = {"git_commit": git_commit()[0], "source_sha1": source_hash(),
                    "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_json(path, {"config": config.to_dict(), "fold": i, "data": data, "history": history.to_dict("records"),
                      "trained_with": trained_with})
    return history, {**trained_with, "now": True}


def run_sprsound(root: str | Path, out: str | Path, plan: RealPlan, *, cache_dir: str | Path = "cache/realdata",
                 command: str = "", progress: bool = False) -> pd.DataFrame:
    """Train and score every task of ``plan``; write the result tables and ``run.json`` into ``out``.

    Tables are rewritten after each task, so a run cut short keeps the finished tasks' results.

    Returns:
        the per-run score table (one row per task, fold, seed, test set and selection).
    """
    from .cv import make_folds
    from .provenance import data_fingerprint, environment
    from .provenance import environment
    from .results_real import counts_rows, summarize, write_tables

    environment()  # pin the code version this run starts with (git commit and source hash: read once)
    out, cache_dir = Path(out), Path(cache_dir)
    started, t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), time.perf_counter()
    fingerprint = data_fingerprint(sprsound_data_files(root), root)
    score_rows, epoch_rows, count_rows, fold_rows, task_info, code_used, fbs_info = [], [], [], [], {}, [], {}
    fold_source = "respcore.datasets.folds" if find_spec("respcore.datasets.folds") else "respcore.cv fallback"
    for task in plan.tasks:
        t_task = time.perf_counter()
        data = load_sprsound(root, task, plan.mel, cache_dir / "features")
        train, tests = data["train"], {k: data[k] for k in TEST_SPLITS}
        count_rows += counts_rows(task, data)
        folds = make_folds(train, plan.folds, plan.fold_seed)
        fold_rows += [{"task": task, "fold": i, "patient": p}
                      for i, (_, va) in enumerate(folds[: plan.folds_run]) for p in sorted(set(train.groups[va]))]
        trained, model_name = 0, f"{plan.backbone}-tsa-{plan.tsa}"
        variants = [(model_name, train, tests)]
        if task in plan.fbs.tasks:  # CNN-TSA+FBS: bands chosen on the training patients' folds only
            selection = select_bands_is(train, folds[: plan.folds_run], plan.train_config(plan.seeds[0]),
                                        plan.fbs, plan.seeds, cache_dir / "fbs", out, task, progress=progress)
            kept = selection.kept_bands
            reduced = with_bands({"train": train, **tests}, kept)
            variants.append((fbs_model_name(model_name, len(kept), plan.mel.n_mels), reduced.pop("train"), reduced))
            fbs_info[task] = {"kept_bands": list(kept), "cost": selection.cost, "rounds": len(selection.trajectory)}
        for (model_name, v_train, v_tests), seed in ((v, s) for v in variants for s in plan.seeds):
            config = plan.train_config(seed)
            for i in range(plan.folds_run):
                history, trained_with = cached_fold(cache_dir / "runs", v_train, folds, i, v_tests, config,
                                                    progress=progress)
                trained += bool(trained_with.get("now", False))
                code = {k: trained_with.get(k) for k in ("git_commit", "source_sha1")}
                if code not in code_used:
                    code_used.append(code)
                ids = {"task": task, "model": model_name, "fold": i, "seed": seed}
                score_rows += [{**ids, **r} for r in fold_scores(history, plan.select_metric)]
                epoch_rows += [{**ids, **r} for r in history.to_dict("records")]
        # seconds: this invocation (short when folds came from the cache); train_seconds: as measured when
        # each epoch was trained (kept in the run cache), the compute the results really cost
        task_info[task] = {"seconds": round(time.perf_counter() - t_task, 1), "trained_now": trained,
                           "train_seconds": round(sum(r["seconds"] for r in epoch_rows if r["task"] == task), 1),
                           "n_train": len(train), "classes": list(train.classes)}
        scores_df = pd.DataFrame(score_rows)
        meta = {"dataset": "sprsound", "release": "SPRSound 2022", "command": command, "plan": plan.to_dict(),
                "train_config": plan.train_config(plan.seeds[0]).to_dict(), "data_fingerprint": fingerprint,
                "provenance": environment(), "trained_with": code_used, "fold_source": fold_source, "fbs": fbs_info,
                "started_utc": started, "tasks_done": list(task_info),
                "tasks": task_info, "wall_seconds": round(time.perf_counter() - t0, 1),
                "train_seconds_total": round(sum(r["seconds"] for r in epoch_rows), 1),
                "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "complete": list(task_info) == list(plan.tasks),
                "protocol": __doc__.split("\n\n")[1].replace("\n", " ")}
        write_tables(out, scores_df, summarize(scores_df), pd.DataFrame(epoch_rows), pd.DataFrame(count_rows),
                     pd.DataFrame(fold_rows), meta)
    return pd.DataFrame(score_rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m respcore.realdata sprsound --root ROOT --profile cpu --out DIR``."""
    ap = argparse.ArgumentParser(prog="python -m respcore.realdata", description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", choices=["sprsound"])
    ap.add_argument("--root", required=True, help="SPRSound 2022 release folder (train_wav, train_json, ...)")
    ap.add_argument("--out", required=True, help="folder for the result tables and run.json")
    ap.add_argument("--profile", default="cpu", help="smoke, cpu or paper")
    ap.add_argument("--tasks", nargs="+", default=list(SPRSOUND_TASKS), choices=SPRSOUND_TASKS)
    ap.add_argument("--folds", type=int, help="K of the patient-wise split (default: the profile's)")
    ap.add_argument("--folds-run", type=int, help="train only the first N of the K folds (default: all)")
    ap.add_argument("--epochs", type=int, help="epochs per training (default: the profile's)")
    ap.add_argument("--seeds", type=int, nargs="+", help="training seeds (default: range(profile.seeds))")
    ap.add_argument("--cache-dir", default="cache/realdata", help="feature and run cache (never committed)")
    ap.add_argument("--fbs-tasks", nargs="*", default=[], choices=SPRSOUND_TASKS,
                    help="also run CNN-TSA+FBS (importance-based selection) on these tasks")
    ap.add_argument("--fbs-patience", default="1",
                    help="IS stops after this many rounds without a better validation score; 'none' runs down "
                         "to the profile's min_bands (a full band-retention curve)")
    ap.add_argument("--fbs-lam", type=float, default=1.0, help="IS consistency penalty (1.0 binary, 0.5 multiclass)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    plan = RealPlan.from_profile(args.profile, fbs_tasks=tuple(args.fbs_tasks), tasks=tuple(args.tasks), folds=args.folds, folds_run=args.folds_run,
                                 epochs=args.epochs, seeds=tuple(args.seeds) if args.seeds else None)
    patience = None if args.fbs_patience.lower() == "none" else int(args.fbs_patience)
    plan = replace(plan, fbs=replace(plan.fbs, patience=patience, lam=args.fbs_lam))
    command = "python -m respcore.realdata " + " ".join(argv if argv is not None else sys.argv[1:])
    run_sprsound(args.root, args.out, plan, cache_dir=args.cache_dir, command=command, progress=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
