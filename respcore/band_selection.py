"""The outcome of a Frequency Band Selection run (``respcore.fbs``): the kept bands, the whole trajectory
of rounds with each fold x seed run's scores, the cost, and the rules that choose which round to keep
(the paper's best round, or the fewest bands validation cannot call worse). Saved as JSON and loaded back.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from .evidence import pair_scores, paired_difference
from .fileio import read_json, write_json
from .models import build_model
from .train import TrainConfig

__all__ = ["BandSelection"]


@dataclass
class BandSelection:
    """The outcome of IS or BS: the kept bands of the best round and the whole trajectory."""

    method: str  # "IS" or "BS"
    kept_bands: tuple[int, ...]  # original Mel band indices of the best round
    trajectory: list[dict[str, Any]]  # one dict per round (see ``frame``)
    cost: dict[str, float]  # trainings (fold x seed fits) and seconds (training + attribution)
    config: TrainConfig  # the training config the selection ran with (bands left None)
    params: dict[str, Any] = field(default_factory=dict)  # k, r, lam, ..., n_classes, n_frames

    @property
    def best_round(self) -> int:
        return int(self.params["best_round"])

    def best_reduced_round(self) -> int:
        """The round below all bands with the best validation score (the kept round, unless validation
        kept all bands); 0 when no round went below all bands."""
        if len(self.trajectory) < 2:
            return 0
        return int(self.frame()[f"val_{self.params['select_metric']}"].astype(float).iloc[1:].idxmax())

    def fewest_not_worse(self) -> int:
        """The round with the fewest bands whose validation score is not decidedly below the best round's:
        the 95 % interval of their paired difference (over the folds x seeds both rounds trained on)
        reaches 0. The paper keeps the best round (``best_round``), which on 5 pairs can buy 16 more bands
        for a gain no interval can tell from 0; this rule asks for evidence before keeping bands, the
        verdict rule the study applies to every claim. Rounds without per-run scores are skipped."""
        name = self.params["select_metric"]
        metric = f"val_{name}"
        kept = max(range(len(self.trajectory)), key=lambda i: (self.trajectory[i]["val"][name], -i))
        best = self.runs(kept)
        for rec in self.trajectory:
            if rec["n_bands"] >= self.trajectory[kept]["n_bands"] or "runs" not in rec:
                continue
            a, b = pair_scores(self.runs(rec["round"]), best, metric)
            if np.isnan(a).any() or np.isnan(b).any():  # an undefined score is no pair
                continue
            if paired_difference(a, b).high >= 0:  # fewer than 2 pairs: no interval (NaN), not kept
                kept = rec["round"]
        return kept

    def keeping(self, round_: int, rule: str) -> "BandSelection":
        """This selection with round ``round_`` kept instead (``rule`` names why, in ``params['kept_by']``)."""
        if not 0 <= round_ < len(self.trajectory):
            raise ValueError(f"round must be in 0..{len(self.trajectory) - 1}, got {round_}")
        return replace(self, kept_bands=tuple(self.trajectory[round_]["bands"]),
                       params={**self.params, "best_round": int(round_), "kept_by": rule})

    def frame(self) -> pd.DataFrame:
        """Trajectory as a table: round, n_bands, val_<score> and val_std_<score>, <test>_<score> and
        <test>_std_<score> per named test set, macs, trainings, seconds (cumulative), plus ``bands``."""
        rows = []
        for rec in self.trajectory:
            row = {k: v for k, v in rec.items() if not isinstance(v, (dict, list))}
            for split in ("val", "val_std"):
                row.update({f"{split}_{k}": v for k, v in (rec.get(split) or {}).items()})
            for name, means in (rec.get("tests") or {}).items():
                row.update({f"{name}_{k}": v for k, v in means.items()})
                row.update({f"{name}_std_{k}": v for k, v in rec["tests_std"][name].items()})
            row["bands"] = rec["bands"]
            rows.append(row)
        return pd.DataFrame(rows)

    def save(self, path: str | Path) -> Path:
        """Write the selection as JSON (atomic)."""
        return write_json(path, {"method": self.method, "kept_bands": list(self.kept_bands),
                                 "trajectory": self.trajectory, "cost": self.cost,
                                 "config": self.config.to_dict(), "params": self.params})

    @classmethod
    def load(cls, path: str | Path) -> "BandSelection":
        d = read_json(path)
        missing = {"method", "kept_bands", "trajectory", "cost", "config", "params"} - set(d)
        if missing:
            raise ValueError(f"{path}: not a saved BandSelection (missing {sorted(missing)})")
        return cls(method=d["method"], kept_bands=tuple(d["kept_bands"]), trajectory=d["trajectory"],
                   cost=d["cost"], config=TrainConfig(**d["config"]), params=d["params"])

    def build_model(self) -> nn.Module:
        """An untrained model for the kept bands only (its FLOPs fall with the band count)."""
        c = self.config
        return build_model(c.backbone, self.params["n_classes"], n_bands=len(self.kept_bands), tsa=c.tsa,
                           width=c.width, dropout=c.dropout, n_frames=self.params["n_frames"])

    def runs(self, round_: int | None = None) -> pd.DataFrame:
        """Per-(fold, seed) scores of one round (default: the best): fold, seed, val_<score> and
        <test>_<score> columns; rounds share folds and seeds, so two rounds' runs are pairs."""
        rec = self.trajectory[self.best_round if round_ is None else round_]
        if "runs" not in rec:
            raise ValueError(f"{self.method} round {rec['round']} has no per-run scores (saved by an older version)")
        return pd.DataFrame(rec["runs"])

    def train_config(self) -> TrainConfig:
        """The training config restricted to the kept bands (to retrain the final model)."""
        return replace(self.config, bands=self.kept_bands)
