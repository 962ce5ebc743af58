"""Lengths as the tasks need them: whole recordings kept at their length, random training crops, and
scoring each recording whole in one pass."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from respcore.datasets import SPRSound
from respcore.datasets.segments import MIN_WHOLE_FRAMES
from respcore.features import MelConfig
from respcore.models import build_model
from respcore.train import TrainConfig, fit
from respcore.train.loop import predict_logits, random_crops
from respcore.train.runs import data_fingerprint

REAL = os.environ.get("RESPCORE_REALDATA")


def test_random_crops_stay_inside_each_recording_and_differ_by_seed():
    T, F = 40, 3
    x = torch.arange(T, dtype=torch.float32).expand(4, 1, F, T).clone()  # value = frame index
    lengths = torch.tensor([40, 25, 12, 8])
    crops = random_crops(x, lengths, 10, torch.Generator().manual_seed(0))
    assert crops.shape == (4, 1, F, 10)
    start = crops[:, 0, 0, 0]
    assert torch.equal(crops[:, 0, 0], start[:, None] + torch.arange(10)), "a crop is a contiguous window"
    assert (start + 10 <= lengths.float()).all() or start[3] == 0  # inside the audio; too short: from 0
    assert start[3] == 0 and start[2] <= 2
    starts = {tuple(random_crops(x, lengths, 10, torch.Generator().manual_seed(s))[:, 0, 0, 0].tolist())
              for s in range(6)}
    assert len(starts) > 1, "each epoch's seed draws other windows"


def test_whole_items_are_scored_in_one_pass_at_their_own_length():
    torch.manual_seed(0)
    model = build_model("cnn3", 3, 16, "post", width=0.125).eval()
    x = torch.randn(5, 1, 16, 60)
    lengths = torch.tensor([60, 32, 45, 32, 60])
    got = predict_logits(model, x, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        with torch.inference_mode():
            want = model(x[i : i + 1, ..., :n])
        assert torch.allclose(got[i], want[0], atol=1e-5), f"item {i} was not scored on its own {n} frames"
    assert not torch.allclose(got[1], predict_logits(model, x[1:2])[0]), "padding must not reach the score"


def test_whole_features_training_on_crops(spr_root: Path, tmp_path: Path):
    mel = MelConfig(cycle_seconds=1.0, sample_rate=8000, f_max=2000)
    ds = SPRSound(spr_root, "2-1", "train", mel=mel)
    fs = ds.features(whole=True, cache_dir=tmp_path)
    n_frames = [1 + ds.segment(i).shape[-1] // mel.hop_length for i in range(len(ds))]
    assert fs.lengths.tolist() == [max(n, MIN_WHOLE_FRAMES) for n in n_frames]
    assert fs.x.shape[-1] == max(fs.lengths.tolist())
    short = int(np.argmin(n_frames))
    assert torch.all(fs.x[short, ..., fs.lengths[short]:] == fs.x[short].amin()), "padding is the item's floor"
    again = ds.features(whole=True, cache_dir=tmp_path)  # from the cache, lengths included
    assert torch.equal(again.lengths, fs.lengths)
    assert data_fingerprint(fs) != data_fingerprint(ds.features(cache_dir=tmp_path)), "whole and fitted differ"
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=2, batch_size=2, device="cpu", num_threads=1,
                         crop_frames=16)
    result = fit(fs, fs, config, run_dir=tmp_path / "run")
    assert np.isfinite(result.history["loss"]).all()
    assert "crop_frames" in config.cache_key() and "crop_frames" not in TrainConfig().cache_key()


@pytest.mark.realdata
@pytest.mark.skipif(not REAL, reason="RESPCORE_REALDATA not set")
def test_real_recordings_keep_their_length():
    root = Path(REAL) / "sprsound" / "sample"
    ds = SPRSound(root, "2-2", "train", mel=MelConfig(cycle_seconds=2.0))
    fs = ds.features(whole=True)
    seconds = (ds.metadata["end"] - ds.metadata["start"]).to_numpy()
    hop = ds.mel.hop_length / ds.mel.sample_rate
    assert np.allclose(fs.lengths.numpy(), np.maximum(1 + seconds // hop, MIN_WHOLE_FRAMES), atol=1)
    assert fs.lengths.max() > 8 * fs.mel.n_frames // 2, "a 9 s or 15 s recording is far longer than one cycle"
