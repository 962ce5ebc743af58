"""Datasets: real ICBHI 2017 and SPRSound loaders, and the built-in synthetic corpus."""
from .base import AGE_GROUPS, FeatureSet, age_group
from .folds import patient_folds, save_folds, shared_patients
from .icbhi import ICBHI
from .load import load_features, open_dataset
from .report import DatasetError, Report
from .sprsound import SPRSound

__all__ = [
    "AGE_GROUPS", "FeatureSet", "age_group", "ICBHI", "SPRSound", "DatasetError", "Report",
    "load_features", "open_dataset", "patient_folds", "save_folds", "shared_patients", "make_synthetic",
]


def __getattr__(name: str):
    # make_synthetic lives in .synthetic (another module); imported on first use, not at import time
    if name == "make_synthetic":
        from .synthetic import make_synthetic

        return make_synthetic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
