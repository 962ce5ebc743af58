"""Datasets: real ICBHI 2017 and SPRSound loaders, and the built-in synthetic corpus."""
from .base import AGE_GROUPS, FeatureSet, age_group
from .icbhi import ICBHI
from .report import DatasetError, Report

__all__ = ["AGE_GROUPS", "FeatureSet", "age_group", "ICBHI", "DatasetError", "Report"]
