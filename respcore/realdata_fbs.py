"""CNN-TSA+FBS on real SPRSound: importance-based band selection (IS) inside the training patients,
then the reduced model scored on the inter and intra test sets like the plain CNN-TSA.

The selection sees only training patients: its cross-validation uses the same validation folds as the
plain model and picks its round on the validation score; it is not given the test sets at all (the
reduced model is scored on them afterwards, by the same code as the plain model).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .datasets.base import FeatureSet
from .train import TrainConfig


@dataclass(frozen=True)
class FBSPlan:
    """IS settings: ``r`` bands dropped per round, stop at ``min_bands`` or after ``patience`` rounds
    without a better validation score; ``lam`` weighs the consistency penalty (1.0 for the binary task
    as the paper recommends, 0.5 for multiclass)."""

    tasks: tuple[str, ...] = ()
    r: int = 8
    min_bands: int = 16
    lam: float = 1.0
    patience: int | None = 1
    method: str = "gradcam"
    layer: int | None = None  # conv block for Grad-CAM (None: the last)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def select_bands_is(train: FeatureSet, folds: list, config: TrainConfig, fbs: FBSPlan,
                    seeds: tuple[int, ...], root: Path, out: Path, task: str, *, progress: bool = False):
    """Run IS on ``train`` over ``folds``; write ``fbs_is_{task}.csv`` (trajectory) and ``fbs_is_{task}.json``.

    Returns:
        the ``respcore.fbs.BandSelection`` (``kept_bands`` of the round with the best validation score).
    """
    from .fbs import importance_selection

    selection = importance_selection(train, config, k=len(folds), r=fbs.r, lam=fbs.lam, patience=fbs.patience,
                                     min_bands=fbs.min_bands, method=fbs.method, layer=fbs.layer, test=None,
                                     root=root, seeds=seeds, folds=folds, progress=progress)
    frame = selection.frame()
    frame["bands"] = frame["bands"].map(lambda b: " ".join(map(str, b)))
    frame.insert(0, "task", task)
    out.mkdir(parents=True, exist_ok=True)
    frame.round(5).to_csv(out / f"fbs_is_{task}.csv", index=False)
    selection.save(out / f"fbs_is_{task}.json")
    return selection


def fbs_model_name(base: str, n_bands: int, n_total: int) -> str:
    """Label of the reduced model in the result tables, e.g. ``cnn3-tsa-post+IS48of64``."""
    return f"{base}+IS{n_bands}of{n_total}"


def with_bands(data: dict[str, FeatureSet], bands: tuple[int, ...]) -> dict[str, FeatureSet]:
    """Every split restricted to ``bands`` (original Mel band indices)."""
    return {k: v.with_bands(bands) for k, v in data.items()}


def trajectory_columns() -> list[str]:
    """Columns of ``fbs_is_{task}.csv`` a reader can rely on (scores as fractions)."""
    return ["task", "round", "n_bands", "val_Score_sprsound", "val_AS", "val_std_Score_sprsound", "macs",
            "trainings", "seconds", "bands"]


def read_trajectory(folder: str | Path, task: str) -> pd.DataFrame:
    """The IS trajectory table of ``task`` from a results folder."""
    path = Path(folder) / f"fbs_is_{task}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no IS trajectory for task {task} in this results folder")
    return pd.read_csv(path, dtype={"task": str})
