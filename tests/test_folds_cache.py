"""Patient folds (no leakage, deterministic, stratified) and the feature cache (hit, miss, invalidation)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from conftest import SMALL_MEL, write_text
from respcore.datasets import ICBHI, load_features, shared_patients
from respcore.train import load_folds, patient_folds, save_folds
from respcore.datasets.segments import SegmentDataset
from respcore.fileio import write_json


def _toy(n_patients: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 12, n_patients)
    groups = np.repeat([f"p{i:02d}" for i in range(n_patients)], sizes)
    labels = np.where(rng.random(len(groups)) < 0.3, "crackle", "normal")
    return groups, labels


def test_folds_partition_without_leakage():
    groups, labels = _toy()
    folds = patient_folds(groups, labels, k=5, seed=0)
    assert len(folds) == 5
    vals = np.concatenate([v for _, v in folds])
    assert sorted(vals.tolist()) == list(range(len(groups)))  # every item validated exactly once
    for train, val in folds:
        assert not set(groups[train]) & set(groups[val])
        assert len(train) + len(val) == len(groups)


def test_folds_deterministic_and_seeded():
    groups, labels = _toy()
    a = patient_folds(groups, labels, 4, seed=1)
    b = patient_folds(groups, labels, 4, seed=1)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    c = patient_folds(groups, labels, 4, seed=2)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, c))


@pytest.mark.parametrize("n_patients,k,per_fold", [(16, 4, {2}), (20, 4, {2, 3})])
def test_folds_stratified_when_possible(n_patients, k, per_fold):
    # half the patients all-crackle, half all-normal, 3 items each: folds get equal patients and the
    # crackle patients spread as evenly as whole patients allow
    groups = np.repeat([f"p{i}" for i in range(n_patients)], 3)
    labels = np.repeat(["crackle" if i % 2 else "normal" for i in range(n_patients)], 3)
    for seed in range(3):
        for _, val in patient_folds(groups, labels, k, seed=seed):
            assert len(set(groups[val])) == n_patients // k
            assert len(set(groups[val][labels[val] == "crackle"])) in per_fold


def test_folds_errors():
    with pytest.raises(ValueError, match="k <= number of patients"):
        patient_folds(["a", "a", "b"], [0, 1, 0], 3, 0)
    with pytest.raises(ValueError, match="equal-length"):
        patient_folds(["a", "b"], [0], 2, 0)


def test_save_and_load_folds(tmp_path):
    groups, labels = _toy()
    folds = patient_folds(groups, labels, 3, seed=0)
    path = save_folds(folds, groups, tmp_path / "folds.txt")
    lines = path.read_text().splitlines()
    assert len(lines) == len(set(groups)) and all(len(l.split("\t")) == 2 for l in lines)
    again = load_folds(path, groups)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(folds, again))


def test_shared_patients(icbhi_root):
    write_text(icbhi_root / "ICBHI_challenge_train_test.txt",
               ["101_1b1_Al_sc_Meditron\ttrain", "102_1b1_Ar_mc_AKGC417L\ttest", "103_2b1_Pl_sc_Litt3200\ttest"])
    (icbhi_root / "101_1b1_Pr_sc_Meditron.wav").symlink_to(icbhi_root / "101_1b1_Al_sc_Meditron.wav")
    (icbhi_root / "101_1b1_Pr_sc_Meditron.txt").symlink_to(icbhi_root / "101_1b1_Al_sc_Meditron.txt")
    with open(icbhi_root / "ICBHI_challenge_train_test.txt", "a") as f:
        f.write("\n101_1b1_Pr_sc_Meditron\ttest\n")
    train, test = ICBHI(icbhi_root, "train", mel=SMALL_MEL), ICBHI(icbhi_root, "test", mel=SMALL_MEL)
    assert shared_patients(train.metadata, test.metadata) == ["101"] == train.shared_patients
    assert ("patients in both official splits", "101") in train.report.notes


def _count_computes(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = SegmentDataset._compute_features

    def counting(self, device, batch_size):
        calls.append(1)
        return original(self, device, batch_size)

    monkeypatch.setattr(SegmentDataset, "_compute_features", counting)
    return calls


def test_cache_hit_miss_and_invalidation(icbhi_root, tmp_path, monkeypatch):
    calls = _count_computes(monkeypatch)
    cache = tmp_path / "cache"
    first = ICBHI(icbhi_root, "all", mel=SMALL_MEL).features(cache_dir=cache)
    second = ICBHI(icbhi_root, "all", mel=SMALL_MEL).features(cache_dir=cache)
    assert len(calls) == 1  # hit
    assert torch.equal(first.x, second.x) and torch.equal(first.y, second.y)
    assert second.meta.drop(columns="age").equals(first.meta.drop(columns="age").astype(second.meta.dtypes.drop("age").to_dict()))
    assert np.allclose(first.meta["age"], second.meta["age"], equal_nan=True) and second.mel == SMALL_MEL
    ICBHI(icbhi_root, "train", mel=SMALL_MEL).features(cache_dir=cache)
    assert len(calls) == 2  # another split: miss
    other_mel = SMALL_MEL.__class__(**{**SMALL_MEL.to_dict(), "n_mels": 8})
    assert ICBHI(icbhi_root, "all", mel=other_mel).features(cache_dir=cache).x.shape[2] == 8
    assert len(calls) == 3  # changed config: miss
    txt = icbhi_root / "102_1b1_Ar_mc_AKGC417L.txt"
    write_text(txt, ["0.2\t1.2\t0\t0", "1.2\t2.5\t1\t1"])  # relabel a cycle
    os.utime(txt, ns=(1, 1))
    changed = ICBHI(icbhi_root, "all", mel=SMALL_MEL).features(cache_dir=cache)
    assert len(calls) == 4 and changed.meta["label"].iloc[2] == "normal"  # changed file: miss, new labels
    assert len(list(cache.glob("icbhi-4class-all-*.pt"))) == 2  # stale entry of that name replaced (two mels)


def test_load_features_dispatch(icbhi_root, spr_root, tmp_path):
    fs = load_features("icbhi", icbhi_root, "test", mel=SMALL_MEL)
    assert len(fs) == 2 and fs.classes[0] == "normal"
    spr = load_features("sprsound", spr_root, "train", task="2-2", mel=SMALL_MEL)
    assert len(spr) == 3 and spr.classes[1] == "CAS"
    write_json(icbhi_root / "ground_truth.json", {"flavor": "icbhi"})
    assert len(load_features("synthetic", icbhi_root, "test", mel=SMALL_MEL)) == 2
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_features("esc50", icbhi_root, "test")
