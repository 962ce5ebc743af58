"""A tiny feature set with planted informative bands, for the trainer, FBS and age tests."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from respcore.datasets.base import FeatureSet, age_group
from respcore.features import MelConfig


def planted_featureset(n: int = 96, *, n_bands: int = 32, n_frames: int = 16, informative=(20, 21, 22, 23),
                       n_classes: int = 2, amplitude: float = 2.0, n_patients: int = 24, seed: int = 0,
                       ages: np.ndarray | None = None) -> FeatureSet:
    """Noise log-Mels; class c > 0 adds ``amplitude`` to ``informative`` bands over a random half of the
    frames (multiclass: class c uses every (c-1)-th informative band pattern, all inside ``informative``).

    Returns a FeatureSet (n, 1, n_bands, n_frames) with ``n_patients`` patients, half pediatric."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % n_classes
    x = torch.randn(n, 1, n_bands, n_frames, generator=g)
    inf = torch.tensor(informative)
    for c in range(1, n_classes):
        rows = inf if n_classes == 2 else inf[(torch.arange(len(inf)) % (n_classes - 1)) == c - 1]
        items = torch.nonzero(y == c).flatten()
        start = torch.randint(0, n_frames // 2 + 1, (len(items),), generator=g)
        t = torch.arange(n_frames)
        on = ((t[None] >= start[:, None]) & (t[None] < (start + n_frames // 2)[:, None])).float()  # (m, T)
        x[items[:, None], 0, rows[None, :], :] += amplitude * on[:, None, :]
    patient = np.arange(n) % n_patients
    if ages is None:
        ages = np.where(patient % 2 == 0, 8.0, 60.0)
    meta = pd.DataFrame({"patient": [f"p{p}" for p in patient], "age": ages,
                         "age_group": [age_group(a) for a in ages], "recording": [f"r{i}" for i in range(n)],
                         "label": y.numpy()})
    mel = MelConfig(n_mels=n_bands, cycle_seconds=n_frames * 512 / 16000)
    classes = ("normal", "abnormal") if n_classes == 2 else tuple(["normal"] + [f"c{c}" for c in range(1, n_classes)])
    return FeatureSet(x=x, y=y, classes=classes, meta=meta, mel=mel)
