"""The SPRSound challenge's starter recipe as our baseline: whole events and recordings, 40 time-averaged
MFCCs, a polynomial SVM with C = 2, scored with respcore.metrics."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from respcore.baseline import N_MFCC, SVM_C, ChallengeBaseline, dataset_mfccs, mfcc_summary
from respcore.datasets import SPRSound
from respcore.features import MelConfig
from respcore.metrics import scores

REAL = os.environ.get("RESPCORE_REALDATA")


def test_mfcc_summary_tells_low_from_high_tones():
    mel = MelConfig()
    t = torch.arange(16000) / 16000
    low, high = (mfcc_summary(torch.sin(2 * torch.pi * f * t), mel) for f in (200.0, 1500.0))
    assert low.shape == (N_MFCC,) and np.isfinite(low).all()
    assert np.linalg.norm(low - high) > 1.0
    assert mfcc_summary(torch.zeros(100), mel).shape == (N_MFCC,), "an event shorter than a window is padded"


def test_baseline_is_the_recipe_and_refuses_misuse(spr_root: Path, tmp_path: Path):
    base = ChallengeBaseline(cache_dir=tmp_path)
    svm = base.model.steps[-1][1]
    assert svm.kernel == "poly" and svm.C == SVM_C == 2.0
    mel = MelConfig(sample_rate=8000, f_max=2000)
    train = SPRSound(spr_root, "1-1", "train", mel=mel)
    with pytest.raises(RuntimeError, match="before fit"):
        base.predict(train)
    base.fit(train)
    x = dataset_mfccs(train, cache_dir=tmp_path)
    assert x.shape == (len(train), N_MFCC) and list(tmp_path.glob("mfcc-*.npy")), "MFCCs cached"
    with pytest.raises(ValueError, match="classes"):
        base.predict(SPRSound(spr_root, "2-2", "inter", mel=mel))


@pytest.mark.realdata
@pytest.mark.skipif(not REAL, reason="RESPCORE_REALDATA not set")
@pytest.mark.parametrize("task", ["1-2", "2-1"])
def test_baseline_on_the_sprsound_miniature(task: str, tmp_path: Path):
    root = Path(REAL) / "sprsound" / "sample"
    train, test = SPRSound(root, task, "train"), SPRSound(root, task, "intra")
    i = int(np.argmax((train.metadata["end"] - train.metadata["start"]).to_numpy()))
    seg = train.segment(i)  # the whole event or recording, not a fixed-length cycle
    row = train.metadata.iloc[i]
    assert abs(seg.shape[-1] - (row["end"] - row["start"]) * train.mel.sample_rate) <= 2
    base = ChallengeBaseline(cache_dir=tmp_path).fit(train)
    pred = base.predict(test)
    assert pred.shape == (len(test),) and set(pred) <= set(range(len(train.classes)))
    got = base.score(test)
    want = scores(test.metadata["label_index"].to_numpy(), pred, normal=0, n_classes=len(train.classes))
    assert got.keys() == want.keys()
    assert all((np.isnan(got[k]) and np.isnan(want[k])) or got[k] == want[k] for k in got)
    train_acc = (base.predict(train) == train.metadata["label_index"].to_numpy()).mean()
    assert train_acc > 0.6, "the SVM fits its own training events"
