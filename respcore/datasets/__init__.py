"""Datasets: real ICBHI 2017 and SPRSound loaders, and the built-in synthetic corpus."""
from .base import AGE_GROUPS, FeatureSet, age_group, shared_patients
from .icbhi import ICBHI
from .load import DATASETS, load_features, open_dataset
from .report import DatasetError, Report
from .sprsound import SPRSound
from .synthetic import make_synthetic

__all__ = [
    "AGE_GROUPS", "FeatureSet", "age_group", "ICBHI", "SPRSound", "DatasetError", "Report", "DATASETS",
    "load_features", "open_dataset", "shared_patients", "make_synthetic",
]
