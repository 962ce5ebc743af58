"""The built-in synthetic lung-sound corpus, written in the real ICBHI 2017 or SPRSound 2022 file formats.

``corpus`` generates and writes it (``make_synthetic``), ``plan`` lays out patients, recordings and
breaths, ``design`` places class evidence and nuisances in frequency and renders a recording, ``sounds``
holds the signal primitives, ``calibration`` the real datasets' statistics it is calibrated to, and
``examples`` reads a few items per class back for notebooks.
"""
from .corpus import (GENERATOR_VERSION, REAL_SIZES, SIZES, TRUTH_FILE, SyntheticCorpus, make_synthetic,
                     resolve_size, target_counts)
from .examples import corpus_items, examples, read_items

__all__ = [
    "GENERATOR_VERSION", "REAL_SIZES", "SIZES", "TRUTH_FILE", "SyntheticCorpus", "make_synthetic", "resolve_size",
    "target_counts", "corpus_items", "examples", "read_items",
]
