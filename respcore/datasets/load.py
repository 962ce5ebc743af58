"""One call from a dataset name to its features, for notebooks and the study."""
from __future__ import annotations

from pathlib import Path

from ..features import MelConfig
from ..fileio import read_json
from .base import FeatureSet
from .icbhi import ICBHI
from .report import DatasetError
from .segments import SegmentDataset
from .sprsound import SPRSound
from .synthetic import TRUTH_FILE

DATASETS = ("synthetic", "icbhi", "sprsound")  # the names every entry point accepts


def synthetic_flavor(root: str | Path) -> str:
    """'icbhi' or 'sprsound': the real format a synthetic corpus was written in (its truth file's "flavor")."""
    path = Path(root) / TRUTH_FILE
    if not path.is_file():
        raise DatasetError(f"{root}: no {TRUTH_FILE}; not a synthetic corpus (make_synthetic writes one)")
    flavor = read_json(path).get("flavor")
    if flavor not in ("icbhi", "sprsound"):
        raise DatasetError(f"{path}: 'flavor' must be 'icbhi' or 'sprsound', got {flavor!r}")
    return flavor


def open_dataset(dataset: str, root: str | Path, split: str, *, task: str | None = None,
                 mel: MelConfig = MelConfig(), strict: bool = False) -> SegmentDataset:
    """The loader object for ``dataset`` ('icbhi', 'sprsound', or 'synthetic': read in its flavor's format).

    ``task`` defaults to '4class' (ICBHI) or '1-1' (SPRSound).
    """
    if dataset == "synthetic":
        dataset = synthetic_flavor(root)
    if dataset == "icbhi":
        return ICBHI(root, split, task=task or "4class", mel=mel, strict=strict)
    if dataset == "sprsound":
        return SPRSound(root, task or "1-1", split, mel=mel, strict=strict)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def load_features(dataset: str, root: str | Path, split: str, *, task: str | None = None,
                  mel: MelConfig = MelConfig(), cache_dir: str | Path | None = None, device: str = "cpu",
                  strict: bool = False) -> FeatureSet:
    """Features of one split: ``open_dataset(...).features(cache_dir=..., device=...)``.

    Returns:
        FeatureSet with x (N, 1, mel.n_mels, mel.n_frames).
    Example: ``load_features("icbhi", "ICBHI_final_database", "train", cache_dir="cache").x.shape``
    """
    ds = open_dataset(dataset, root, split, task=task, mel=mel, strict=strict)
    return ds.features(cache_dir=cache_dir, device=device)
