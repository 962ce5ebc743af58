"""One training (PAPER.md, "Training"): class-weighted cross-entropy, Adam, cosine-annealed learning rate,
fixed epochs with the best epoch chosen on validation, scored on any number of named test sets.

Every training is a cached run (``respcore.train.runs``): a finished run loads instead of retraining, an
interrupted one resumes from its last checkpoint with the same final numbers.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..datasets.base import FeatureSet
from ..fileio import atomic_write
from ..metrics import scores
from ..models import build_model, load_panns_cnn6
from . import runs
from .config import TrainConfig
from .loop import class_weights, num_threads, predict_logits, resolve_device, train_epoch

EpochCallback = Callable[[int, dict], None]
Tests = Mapping[str, FeatureSet]
RESERVED = ("val", "loss", "lr", "epoch", "seconds", "train_seconds")  # history columns, not test names


@dataclass
class FitResult:
    """One training. ``model`` holds the weights of ``best_epoch`` (1-based, chosen on validation,
    or the last epoch without validation), in eval mode.

    ``test_scores[name]`` is the honest figure on test set ``name``: its scores at ``best_epoch``.
    ``test_scores_best_epoch_on_test[name]`` is the maximum over epochs of that test set's
    ``select_metric`` (the public repositories' protocol, for like-for-like comparison only), with its
    ``"epoch"``; every value is NaN when the metric is NaN at every epoch.
    """

    model: nn.Module
    history: pd.DataFrame  # one row per epoch: loss, lr, val_<score>, <test name>_<score>
    best_epoch: int
    val_scores: dict[str, float] | None  # at best_epoch
    test_scores: dict[str, dict[str, float]]  # test name -> scores at best_epoch ({} without tests)
    test_scores_best_epoch_on_test: dict[str, dict[str, float]]
    config: TrainConfig
    path: Path | None
    seconds: float  # training wall time (the original run's, also when loaded from the cache)
    trained: bool = True  # False when this call loaded a finished run


def as_tests(tests: FeatureSet | Tests | None) -> dict[str, FeatureSet]:
    """Named test sets: a mapping is checked, a bare ``FeatureSet`` becomes ``{"test": it}``, None ``{}``."""
    if tests is None:
        return {}
    if isinstance(tests, FeatureSet):
        return {"test": tests}
    out = dict(tests)
    for name, data in out.items():
        if not isinstance(data, FeatureSet):
            raise TypeError(f"test set {name!r} is a {type(data).__name__}, not a FeatureSet")
        if not name.isidentifier() or name in RESERVED or name.endswith("_on_test"):
            raise ValueError(f"test set name {name!r} must be an identifier, not one of {RESERVED}, "
                             "and not end in '_on_test'")
    return out


def data_key(train: FeatureSet, val: FeatureSet | None, tests: Tests, **parts: Any) -> dict[str, Any]:
    """The data part of a run's cache key: content fingerprints of every set (and extra ``parts``)."""
    return {"train": runs.data_fingerprint(train), "val": runs.data_fingerprint(val),
            "tests": {name: runs.data_fingerprint(d) for name, d in tests.items()}, **parts}


def fit(train: FeatureSet, val: FeatureSet | None, config: TrainConfig, *,
        tests: FeatureSet | Tests | None = None, run_dir: str | Path | None = None,
        root: str | Path | None = None, progress: bool = True, callbacks: Sequence[EpochCallback] = (),
        key: str | None = None) -> FitResult:
    """Train one model; pick its epoch on ``val``; score it on every named test set.

    ``tests`` maps names to feature sets (``{"test": ...}`` for ICBHI, ``{"inter": ..., "intra": ...}``
    for SPRSound); a bare ``FeatureSet`` means ``{"test": it}``. With ``run_dir`` (or ``root``, giving
    ``root/<cache key>``) the run is checkpointed at an epoch end once ``config.checkpoint_seconds`` have
    passed since the last checkpoint (0: every epoch), resumed when interrupted, and loaded when already
    finished. ``callbacks`` are called as ``cb(epoch, history_row)`` after each epoch; an exception there
    interrupts the run after a checkpoint of every finished epoch. ``key`` overrides the cache key
    (cross-validation keys its folds by their indices).
    """
    tests = {name: with_config_bands(d, config) for name, d in as_tests(tests).items()}
    train, val = with_config_bands(train, config), with_config_bands(val, config)
    if len(train) < 2:
        raise ValueError(f"fit: need at least 2 training items, got {len(train)}")
    for name, d in (("val", val), *tests.items()):
        if d is not None and tuple(d.classes) != tuple(train.classes):
            raise ValueError(f"fit: {name} classes {d.classes} differ from train classes {train.classes}")
    data = data_key(train, val, tests)
    key = key or runs.run_key(config.cache_key(), **data)
    if run_dir is None and root is not None:
        run_dir = Path(root) / key
    if run_dir is not None:
        run_dir = Path(run_dir)
        if runs.is_finished(run_dir):
            runs.check_key(run_dir / runs.RESULT_FILE, runs.read_result(run_dir), key)
            return replace(load_fit(run_dir, config.device), config=config)
        runs.write_config(run_dir, {"key": key, "config": config.to_dict(), "data": data})
    return _train(train, val, tests, config, key, run_dir, progress=progress, callbacks=callbacks)


def load_fit(run_dir: str | Path, device: str = "auto") -> FitResult:
    """A finished run from its folder (weights of the validation-chosen epoch)."""
    run_dir = Path(run_dir)
    result = runs.read_result(run_dir)
    saved = runs.load_torch(run_dir / runs.MODEL_FILE)
    model = _build(saved["build"]).to(resolve_device(device))
    model.load_state_dict(saved["state_dict"])
    model.eval()
    return FitResult(model=model, history=pd.read_csv(run_dir / runs.HISTORY_FILE),
                     best_epoch=int(result["best_epoch"]), val_scores=result["val_scores"],
                     test_scores=result["test_scores"],
                     test_scores_best_epoch_on_test=result["test_scores_best_epoch_on_test"],
                     config=TrainConfig(**result["config"]), path=run_dir, seconds=float(result["seconds"]),
                     trained=False)


HEAD = "fc."  # the classifier head of every respcore model: the part a fine-tuned model does not take


def load_run_weights(model: nn.Module, run_dir: str | Path) -> list[str]:
    """Copy a finished run's weights into ``model``, all but its classifier head (``fc``), and return the
    names copied. Raises ValueError naming the run folder when any other tensor is missing or shaped
    differently (another backbone, width, band count or TSA placement)."""
    path = Path(run_dir) / runs.MODEL_FILE
    saved = runs.load_torch(path)["state_dict"]
    own = model.state_dict()
    body = [k for k in own if not k.startswith(HEAD)]
    bad = [k for k in body if k not in saved or saved[k].shape != own[k].shape]
    if bad:
        raise ValueError(f"{path}: its model differs from this one in {len(bad)} tensors ({', '.join(bad[:4])}"
                         f"{', ...' if len(bad) > 4 else ''}); init_run needs the same backbone, width, bands and TSA")
    model.load_state_dict({**own, **{k: saved[k] for k in body}})
    return body


def _train(train: FeatureSet, val: FeatureSet | None, tests: dict[str, FeatureSet], config: TrainConfig,
           key: str, run_dir: Path | None, *, progress: bool, callbacks: Sequence[EpochCallback]) -> FitResult:
    device = resolve_device(config.device)
    n_classes = config.n_classes or train.n_classes
    build = dict(backbone=config.backbone, n_classes=n_classes, n_bands=train.n_bands, tsa=config.tsa,
                 width=config.width, dropout=config.dropout, gate=config.gate_budget,
                 **({"gate_prior": list(config.gate_prior)} if config.gate_prior is not None else {}),
                 n_frames=int(config.crop_frames if config.crop_frames and train.lengths is not None else train.x.shape[-1]))
    weight = class_weights(train.y, n_classes).to(device) if config.class_weighted else None
    x_train, y_train = train.x.to(device), train.y.to(device)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), num_threads(config.num_threads):  # caller's state untouched
        torch.manual_seed(config.seed)
        model = _build(build)
        if config.init_from is not None:
            load_panns_cnn6(model, config.init_from, load_bn0=config.init_bn0, bands=train.kept_bands)
        if config.init_run is not None:
            load_run_weights(model, config.init_run)
        model = model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs,
                                                               eta_min=config.eta_min)
        state = {"epoch": 0, "history": [], "best_epoch": 0, "best_score": -np.inf, "best_state": None}
        ckpt = runs.Checkpoint(run_dir, key, model, optimizer, scheduler) if run_dir is not None else None
        if ckpt is not None:
            state = ckpt.resume(state, device)
        last_save = time.perf_counter()
        bar = tqdm(range(state["epoch"] + 1, config.epochs + 1), desc="epochs", leave=False,
                   disable=not progress, initial=state["epoch"], total=config.epochs)
        for epoch in bar:
            row = _epoch(model, optimizer, scheduler, epoch, x_train, y_train, train.lengths, weight, val, tests,
                         config, device)
            score = row.get(f"val_{config.select_metric}", 0.0) if val is not None else epoch
            score = -np.inf if np.isnan(score) else score  # a degenerate validation fold never wins
            if state["best_state"] is None or score > state["best_score"]:
                state.update(best_epoch=epoch, best_score=score,
                             best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
            state["history"].append(row)
            state["epoch"] = epoch
            # a 55 MB checkpoint of full-width CNN6 + Adam costs 0.1-0.2 s: on a GPU, whose epochs last
            # under a second, one per epoch left the device idle (benchmarks/gpu_train.py)
            saved = ckpt is not None and time.perf_counter() - last_save >= config.checkpoint_seconds
            if saved:
                ckpt.save(state)
                last_save = time.perf_counter()
            bar.set_postfix(loss=f"{row['loss']:.3f}", **({"val": f"{score:.3f}"} if val is not None else {}))
            try:
                for cb in callbacks:
                    cb(epoch, row)
            except BaseException:  # interrupted at an epoch boundary: keep every finished epoch
                if ckpt is not None and not saved:
                    ckpt.save(state)
                raise
    model.load_state_dict(state["best_state"])
    model.eval()
    history = pd.DataFrame(state["history"])
    if not config.test_every_epoch:  # the test sets, scored once with the best epoch's weights
        at_best = history["epoch"] == state["best_epoch"]
        for name, data in tests.items():
            for k, v in evaluate(model, data, config, weight, device, prefix=f"{name}_").items():
                history.loc[at_best, k] = v
    fit_result = FitResult(model=model, history=history, config=config, path=run_dir,
                           seconds=float(history["seconds"].sum()),
                           **summarize(history, state["best_epoch"], config.select_metric, val is not None,
                                       list(tests), every_epoch=config.test_every_epoch))
    if run_dir is not None:
        _save_finished(run_dir, fit_result, key, build, state["best_state"])
        ckpt.remove()
    return fit_result


def _epoch(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, epoch: int, x: torch.Tensor,
           y: torch.Tensor, lengths: torch.Tensor | None, weight: torch.Tensor | None, val: FeatureSet | None, tests: dict[str, FeatureSet],
           config: TrainConfig, device: torch.device) -> dict[str, Any]:
    """One optimizer pass (seeded by config.seed and the epoch: resume is exact), then the scoring."""
    torch.manual_seed(config.seed * 100_003 + epoch)
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    start = time.perf_counter()
    lr = optimizer.param_groups[0]["lr"]
    loss = train_epoch(model, x, y, optimizer, batch_size=config.batch_size, weight=weight,
                       generator=generator, augment=config.spec_augment, device=device,
                       precision=config.precision, lengths=lengths, crop_frames=config.crop_frames)
    train_seconds = time.perf_counter() - start
    scheduler.step()
    row: dict[str, Any] = {"epoch": epoch, "loss": loss, "lr": lr}
    for name, data in (("val", val), *(tests.items() if config.test_every_epoch else ())):
        if data is not None:
            row.update(evaluate(model, data, config, weight, device, prefix=f"{name}_"))
    row["seconds"] = time.perf_counter() - start
    row["train_seconds"] = train_seconds  # the optimizer pass alone; "seconds" adds the scoring
    return row


def score_logits(model: nn.Module, data: FeatureSet, config: TrainConfig, device: torch.device) -> torch.Tensor:
    """(N, C) logits of ``model`` on ``data`` as every score is computed: the config's evaluation batch
    size and precision, whole items where ``data`` has lengths."""
    return predict_logits(model, data.x, batch_size=config.eval_batch_size, device=device,
                          precision=config.precision, lengths=data.lengths)


def evaluate(model: nn.Module, data: FeatureSet, config: TrainConfig, weight: torch.Tensor | None,
             device: torch.device, prefix: str = "") -> dict[str, float]:
    """Loss and every score of ``model`` on ``data``, keys prefixed by ``prefix``."""
    logits = score_logits(model, data, config, device)  # (N, C)
    y = data.y.cpu()
    loss = F.cross_entropy(logits, y, weight=None if weight is None else weight.cpu())
    out = scores(y.numpy(), logits.argmax(1).numpy(), normal=config.normal, n_classes=logits.shape[1])
    return {f"{prefix}loss": float(loss), **{f"{prefix}{k}": float(v) for k, v in out.items()}}


def summarize(history: pd.DataFrame, best_epoch: int, select_metric: str, has_val: bool,
              tests: Sequence[str], every_epoch: bool = True) -> dict[str, Any]:
    """Validation and per-test-set scores at ``best_epoch``, and each test set's best epoch on itself
    (NaN when the test sets were scored at the best epoch only, ``every_epoch=False``)."""
    def at(row: pd.Series, prefix: str) -> dict[str, float]:
        return {k[len(prefix):]: float(v) for k, v in row.items()
                if k.startswith(prefix) and k != f"{prefix}loss"}

    best = history.loc[history["epoch"] == best_epoch].iloc[0]
    on_test: dict[str, dict[str, float]] = {}
    for name in tests:
        metric = history[f"{name}_{select_metric}"]
        if every_epoch and metric.notna().any():
            row = history.loc[metric.idxmax()]
            on_test[name] = {**at(row, f"{name}_"), "epoch": int(row["epoch"])}
        else:  # no epoch can be chosen on this test set (Se on a test set without abnormal items, or
            # the test set was scored at the best epoch only)
            on_test[name] = {**{k: math.nan for k in at(history.iloc[0], f"{name}_")}, "epoch": math.nan}
    return {"best_epoch": int(best_epoch), "val_scores": at(best, "val_") if has_val else None,
            "test_scores": {name: at(best, f"{name}_") for name in tests},
            "test_scores_best_epoch_on_test": on_test}


def _save_finished(run_dir: Path, r: FitResult, key: str, build: dict, best_state: dict) -> None:
    runs.save_torch(run_dir / runs.MODEL_FILE, {"build": build, "state_dict": best_state})
    atomic_write(run_dir / runs.HISTORY_FILE, lambda tmp: r.history.to_csv(tmp, index=False))
    runs.write_result(run_dir, {  # written last: marks the run as finished
        "key": key, "config": r.config.to_dict(), "best_epoch": r.best_epoch, "val_scores": r.val_scores,
        "test_scores": r.test_scores, "test_scores_best_epoch_on_test": r.test_scores_best_epoch_on_test,
        "seconds": r.seconds, "build": build})


def _build(build: dict[str, Any]) -> nn.Module:
    args = dict(build)
    return build_model(args.pop("backbone"), args.pop("n_classes"), **args)


def with_config_bands(data: FeatureSet | None, config: TrainConfig) -> FeatureSet | None:
    """``data`` restricted to ``config.bands`` (unchanged when the config keeps the data's bands)."""
    if data is None or config.bands is None or tuple(data.kept_bands) == config.bands:
        return data
    return data.with_bands(config.bands)
