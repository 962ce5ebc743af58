"""The trainer (PAPER.md, "Training"): class-weighted cross-entropy, Adam, cosine-annealed learning
rate, fixed epochs with the best epoch chosen on validation; and patient-wise cross-validation.

Every training is a cached run (``respcore.runs``): a finished run loads instead of retraining, an
interrupted one resumes from its last epoch's checkpoint with the same final numbers.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import runs
from .datasets.base import FeatureSet
from .io import atomic_write, files_fingerprint
from .loop import PRECISIONS, class_weights, predict_logits, resolve_device, train_epoch
from .profiles import Profile, get_profile

EpochCallback = Callable[[int, dict], None]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training's result (and its cache key), except the data."""

    backbone: str = "cnn6"  # a respcore.models.build_model name
    tsa: str = "post"  # TSA placement: none, input, block1..., post (after aggregation)
    width: float = 1.0  # channel multiplier (1.0 = CNN6 as published)
    dropout: float = 0.2
    n_classes: int | None = None  # None: the training data's number of classes
    bands: tuple[int, ...] | None = None  # kept Mel band indices; None: the data's bands as given
    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3  # Adam, from scratch
    weight_decay: float = 1e-4
    eta_min: float = 1e-6  # cosine annealing floor, reached at the last epoch
    class_weighted: bool = True  # cross-entropy weights inverse to training class frequency
    spec_augment: bool = False  # 2 frequency + 2 time masks per item
    normal: int = 0  # index of the normal class (specificity)
    select_metric: str = "AS"  # validation score that picks the best epoch (and FBS rounds)
    init_from: str | None = None  # PANNs CNN6 checkpoint to start from (respcore.pretrained); None: scratch
    seed: int = 0
    device: str = "auto"  # "auto": cuda when available, else cpu (not part of the cache key)
    eval_batch_size: int = 256  # not part of the cache key
    num_threads: int | None = None  # CPU threads during this fit (None: torch's setting); not in the key
    precision: str = "fp32"  # "bf16": autocast forwards to bfloat16 (GPU); in the key unless fp32
    checkpoint_seconds: float = 30.0  # checkpoint at an epoch end at most this often (0: each epoch); not in the key

    def __post_init__(self) -> None:
        if self.bands is not None:
            object.__setattr__(self, "bands", tuple(int(b) for b in self.bands))
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")

    @classmethod
    def from_profile(cls, profile: Profile | str, **overrides: Any) -> "TrainConfig":
        """Width, epochs, batch size and CPU threads from a study profile (``smoke``, ``cpu``, ``paper``)."""
        p = get_profile(profile) if isinstance(profile, str) else profile
        base = dict(width=p.width, epochs=p.epochs, batch_size=p.batch_size, num_threads=p.threads)
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cache_key(self) -> dict[str, Any]:
        """The fields that change results (device and evaluation batch size do not)."""
        d = self.to_dict()
        for name in ("device", "eval_batch_size", "num_threads", "checkpoint_seconds"):
            d.pop(name)
        if self.precision == "fp32":  # keys of runs made before the field existed stay valid
            d.pop("precision")
        if self.init_from is not None:  # the file's identity, not only its name
            d["init_from"] = f"{self.init_from}@{files_fingerprint([Path(self.init_from)])}"
        return d


@dataclass
class FitResult:
    """One training. ``model`` holds the weights of ``best_epoch`` (1-based, chosen on validation,
    or the last epoch without validation), in eval mode."""

    model: nn.Module
    history: pd.DataFrame  # one row per epoch
    best_epoch: int
    val_scores: dict[str, float] | None  # at best_epoch
    test_scores: dict[str, float] | None  # at best_epoch: the honest test figure
    # max over epochs of the TEST score: the public repos' protocol, for like-for-like comparison only;
    # every value (and "epoch") is NaN when the test select_metric is NaN at every epoch
    test_scores_best_epoch_on_test: dict[str, float] | None
    config: TrainConfig
    path: Path | None
    seconds: float  # training wall time (the original run's, also when loaded from the cache)
    trained: bool = True  # False when this call loaded a finished run


def fit(train: FeatureSet, val: FeatureSet | None, config: TrainConfig, *,
        run_dir: str | Path | None = None, test: FeatureSet | None = None, root: str | Path | None = None,
        progress: bool = True, callbacks: Sequence[EpochCallback] = ()) -> FitResult:
    """Train one model; pick its epoch on ``val``; score it on ``test``.

    With ``run_dir`` (or ``root``, giving ``root/<cache key>``) the run is checkpointed at the end of an
    epoch once ``config.checkpoint_seconds`` have passed since the last checkpoint (0: every epoch),
    resumed when interrupted, and loaded when already finished. ``callbacks`` are called as
    ``cb(epoch, history_row)`` after each epoch; an exception there interrupts the run, after a checkpoint
    of every finished epoch. A killed process loses at most ``checkpoint_seconds`` of epochs.
    """
    train, val, test = (_with_config_bands(d, config) for d in (train, val, test))
    if len(train) < 2:
        raise ValueError(f"fit: need at least 2 training items, got {len(train)}")
    for name, d in (("val", val), ("test", test)):
        if d is not None and tuple(d.classes) != tuple(train.classes):
            raise ValueError(f"fit: {name} classes {d.classes} differ from train classes {train.classes}")
    key = runs.run_key(config.cache_key(), train=runs.data_fingerprint(train),
                       val=runs.data_fingerprint(val), test=runs.data_fingerprint(test))
    if run_dir is None and root is not None:
        run_dir = Path(root) / key
    return _fit_keyed(train, val, test, config, key, run_dir, progress=progress, callbacks=callbacks)


def load_fit(run_dir: str | Path, device: str = "auto") -> FitResult:
    """A finished run from its folder (weights of the validation-chosen epoch)."""
    run_dir = Path(run_dir)
    result = runs.read_result(run_dir)
    saved = runs.load_torch(run_dir / runs.MODEL_FILE)
    model = _build(saved["build"]).to(resolve_device(device))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    history = pd.read_csv(run_dir / runs.HISTORY_FILE)
    config = TrainConfig(**result["config"])
    return FitResult(model=model, history=history, best_epoch=int(result["best_epoch"]),
                     val_scores=result["val_scores"], test_scores=result["test_scores"],
                     test_scores_best_epoch_on_test=result["test_scores_best_epoch_on_test"],
                     config=config, path=run_dir, seconds=float(result["seconds"]), trained=False)


def _fit_keyed(train: FeatureSet, val: FeatureSet | None, test: FeatureSet | None, config: TrainConfig,
               key: str, run_dir: str | Path | None, *, progress: bool,
               callbacks: Sequence[EpochCallback]) -> FitResult:
    device = resolve_device(config.device)
    if run_dir is not None:
        run_dir = Path(run_dir)
        if runs.is_finished(run_dir):
            _check_key(run_dir / runs.RESULT_FILE, runs.read_result(run_dir), key)
            return replace(load_fit(run_dir, config.device), config=config)
        runs.write_config(run_dir, {"key": key, "config": config.to_dict(),
                                    "data": {"train": runs.data_fingerprint(train),
                                             "val": runs.data_fingerprint(val),
                                             "test": runs.data_fingerprint(test)}})
    n_classes = config.n_classes or train.n_classes
    build = dict(backbone=config.backbone, n_classes=n_classes, n_bands=train.n_bands, tsa=config.tsa,
                 width=config.width, dropout=config.dropout, n_frames=int(train.x.shape[-1]))
    weight = class_weights(train.y, n_classes).to(device) if config.class_weighted else None
    x_train, y_train = train.x.to(device), train.y.to(device)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), _threads(config.num_threads):  # caller's state untouched
        torch.manual_seed(config.seed)
        model = _build(build)
        if config.init_from is not None:
            from .pretrained import load_panns

            load_panns(model, config.init_from)
        model = model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs,
                                                               eta_min=config.eta_min)
        state = {"epoch": 0, "history": [], "best_epoch": 0, "best_score": -np.inf, "best_state": None}
        ckpt_path = run_dir / runs.CHECKPOINT_FILE if run_dir is not None else None
        if ckpt_path is not None and ckpt_path.is_file():
            saved = runs.load_torch(ckpt_path, map_location=device)
            _check_key(ckpt_path, saved, key)
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            state = saved["state"]
        def checkpoint() -> None:
            runs.save_torch(ckpt_path, {"key": key, "model": model.state_dict(), "state": state,
                                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})

        last_save = time.perf_counter()
        bar = tqdm(range(state["epoch"] + 1, config.epochs + 1), desc="epochs", leave=False,
                   disable=not progress, initial=state["epoch"], total=config.epochs)
        for epoch in bar:
            torch.manual_seed(config.seed * 100_003 + epoch)  # per-epoch seeding: exact resume
            generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
            start = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            loss = train_epoch(model, x_train, y_train, optimizer, batch_size=config.batch_size,
                               weight=weight, generator=generator, augment=config.spec_augment,
                               device=device, precision=config.precision)
            train_seconds = time.perf_counter() - start
            scheduler.step()
            row: dict[str, Any] = {"epoch": epoch, "loss": loss, "lr": lr}
            for name, data in (("val", val), ("test", test)):
                if data is not None:
                    row.update(_evaluate(model, data, config, weight, device, prefix=f"{name}_"))
            row["seconds"] = time.perf_counter() - start
            row["train_seconds"] = train_seconds  # the optimizer pass alone; "seconds" adds the scoring
            score = row.get(f"val_{config.select_metric}", 0.0) if val is not None else epoch
            score = -np.inf if np.isnan(score) else score  # a degenerate validation fold never wins
            if state["best_state"] is None or score > state["best_score"]:
                state.update(best_epoch=epoch, best_score=score,
                             best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
            state["history"].append(row)
            state["epoch"] = epoch
            # a 55 MB checkpoint of full-width CNN6 + Adam costs 0.1-0.2 s: on a GPU, whose epochs last
            # under a second, one per epoch left the device idle (benchmarks/gpu_train.py)
            saved = ckpt_path is not None and time.perf_counter() - last_save >= config.checkpoint_seconds
            if saved:
                checkpoint()
                last_save = time.perf_counter()
            bar.set_postfix(loss=f"{loss:.3f}", **({"val": f"{score:.3f}"} if val is not None else {}))
            try:
                for cb in callbacks:
                    cb(epoch, row)
            except BaseException:  # interrupted at an epoch boundary: keep every finished epoch
                if ckpt_path is not None and not saved:
                    checkpoint()
                raise
    model.load_state_dict(state["best_state"])
    model.eval()
    history = pd.DataFrame(state["history"])
    result = _summarize(history, state["best_epoch"], config, val is not None, test is not None)
    fit_result = FitResult(model=model, history=history, config=config, path=run_dir,
                           seconds=float(history["seconds"].sum()), **result)
    if run_dir is not None:
        _save_finished(run_dir, fit_result, key, build, state["best_state"])
        ckpt_path.unlink(missing_ok=True)
    return fit_result


def _evaluate(model: nn.Module, data: FeatureSet, config: TrainConfig, weight: torch.Tensor | None,
              device: torch.device, prefix: str) -> dict[str, float]:
    from .metrics import scores

    logits = predict_logits(model, data.x, batch_size=config.eval_batch_size, device=device,
                            precision=config.precision)  # (N, C)
    y = data.y.cpu()
    loss = F.cross_entropy(logits, y, weight=None if weight is None else weight.cpu())
    out = scores(y.numpy(), logits.argmax(1).numpy(), normal=config.normal, n_classes=logits.shape[1])
    return {f"{prefix}loss": float(loss), **{f"{prefix}{k}": float(v) for k, v in out.items()}}


def _summarize(history: pd.DataFrame, best_epoch: int, config: TrainConfig, has_val: bool,
               has_test: bool) -> dict[str, Any]:
    def at(row: pd.Series, prefix: str) -> dict[str, float]:
        return {k[len(prefix):]: float(v) for k, v in row.items()
                if k.startswith(prefix) and k != f"{prefix}loss"}

    best = history.loc[history["epoch"] == best_epoch].iloc[0]
    out: dict[str, Any] = {"best_epoch": int(best_epoch), "val_scores": at(best, "val_") if has_val else None,
                           "test_scores": at(best, "test_") if has_test else None,
                           "test_scores_best_epoch_on_test": None}
    if has_test:
        metric = history[f"test_{config.select_metric}"]
        if metric.notna().any():
            on_test = history.loc[metric.idxmax()]
            out["test_scores_best_epoch_on_test"] = {**at(on_test, "test_"), "epoch": int(on_test["epoch"])}
        else:  # no epoch can be chosen on the test set (e.g. Se on a test set without abnormal items)
            out["test_scores_best_epoch_on_test"] = {**{k: math.nan for k in at(history.iloc[0], "test_")},
                                                     "epoch": math.nan}
    return out


def _save_finished(run_dir: Path, r: FitResult, key: str, build: dict, best_state: dict) -> None:
    runs.save_torch(run_dir / runs.MODEL_FILE, {"build": build, "state_dict": best_state})
    atomic_write(run_dir / runs.HISTORY_FILE, lambda tmp: r.history.to_csv(tmp, index=False))
    runs.write_result(run_dir, {  # written last: marks the run as finished
        "key": key, "config": r.config.to_dict(), "best_epoch": r.best_epoch, "val_scores": r.val_scores,
        "test_scores": r.test_scores, "test_scores_best_epoch_on_test": r.test_scores_best_epoch_on_test,
        "seconds": r.seconds, "build": build})


def _build(build: dict[str, Any]) -> nn.Module:
    from .models import build_model

    args = dict(build)
    return build_model(args.pop("backbone"), args.pop("n_classes"), **args)


def _with_config_bands(data: FeatureSet | None, config: TrainConfig) -> FeatureSet | None:
    if data is None or config.bands is None or tuple(data.kept_bands) == config.bands:
        return data
    return data.with_bands(config.bands)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """Use ``n`` CPU threads inside the block (tiny models on a shared CPU run faster on one)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_key(path: Path, saved: dict, key: str) -> None:
    if saved.get("key") != key:
        raise ValueError(f"{path}: this run folder belongs to another config or data "
                         f"(key {saved.get('key')!r}, expected {key!r}); use another run_dir")


from .cv import CVResult, cross_validate  # noqa: E402  (cv builds on fit; re-exported here)

__all__ = ["TrainConfig", "FitResult", "fit", "load_fit", "cross_validate", "CVResult"]
