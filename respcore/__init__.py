"""respcore: CNN-TSA, frequency band selection and age-specific models for respiratory sounds.

Public API (stable names): ``MelConfig``, ``log_mel``, ``select_bands``, ``build_model``,
``count_flops``, ``count_params``, ``load_model`` (an exported model, see ``respcore.predict``); submodules ``metrics``, ``datasets``, ``train``, ``fbs``, ``age``.
Submodules load on first use, so ``import respcore`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

from .features import MelConfig, log_mel, select_bands

__version__ = "0.1.0"

_LAZY = {
    "build_model": ("respcore.models", "build_model"),
    "count_flops": ("respcore.flops", "count_flops"),
    "count_params": ("respcore.flops", "count_params"),
    "get_profile": ("respcore.profiles", "get_profile"),
    "load_model": ("respcore.export", "load_model"),
}
_SUBMODULES = {"metrics", "datasets", "train", "fbs", "age", "models", "flops", "profiles", "study"}

__all__ = ["MelConfig", "log_mel", "select_bands", *_LAZY, *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBMODULES:
        return importlib.import_module(f"respcore.{name}")
    raise AttributeError(f"module 'respcore' has no attribute {name!r}")
