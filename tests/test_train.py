"""Trainer: learning, determinism, resume after interruption, run cache, cross-validation."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from planted import planted_featureset
from respcore.train import runs
from respcore.train.loop import class_weights, spec_augment
from respcore.train import TrainConfig, cross_validate, fit

TINY = TrainConfig(backbone="cnn6", width=0.125, epochs=3, batch_size=16, device="cpu", num_threads=1)


@pytest.fixture(scope="module")
def corpus():
    data = planted_featureset(96)
    return data.subset(np.arange(64)), data.subset(np.arange(64, 96))


class Interrupt(Exception):
    pass


def test_loss_falls_and_scores_are_reported(corpus):
    train, val = corpus
    r = fit(train, val, TINY.__class__(**{**TINY.to_dict(), "epochs": 5}), tests=val, progress=False)
    loss = r.history["loss"].to_numpy()
    assert loss[-1] < loss[0]
    assert 1 <= r.best_epoch <= 5
    assert r.val_scores["AS"] == pytest.approx(r.history["val_AS"].max())  # picked on validation
    assert r.test_scores_best_epoch_on_test["test"]["AS"] == pytest.approx(r.history["test_AS"].max())
    assert r.test_scores_best_epoch_on_test["test"]["AS"] >= r.test_scores["test"]["AS"]
    assert not r.model.training


def test_same_numbers_twice_and_caller_rng_untouched(corpus):
    train, val = corpus
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = fit(train, val, TINY, progress=False)
    after = torch.rand(1)
    b = fit(train, val, TINY, progress=False)
    assert a.history.drop(columns=["seconds", "train_seconds"]).equals(b.history.drop(columns=["seconds", "train_seconds"]))
    assert torch.equal(before, after)  # fit forks the global RNG
    c = fit(train, val, TrainConfig(**{**TINY.to_dict(), "seed": 1}), progress=False)
    assert not np.allclose(a.history["loss"], c.history["loss"])


def test_resume_after_interruption_matches_uninterrupted(corpus, tmp_path):
    train, val = corpus
    config = TrainConfig(**{**TINY.to_dict(), "epochs": 4, "spec_augment": True})
    whole = fit(train, val, config, tests=val, run_dir=tmp_path / "whole", progress=False)

    def stop_after_2(epoch: int, row: dict) -> None:
        if epoch == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        fit(train, val, config, tests=val, run_dir=tmp_path / "cut", progress=False, callbacks=[stop_after_2])
    assert (tmp_path / "cut" / runs.CHECKPOINT_FILE).is_file()
    assert not runs.is_finished(tmp_path / "cut")
    seen = []
    resumed = fit(train, val, config, tests=val, run_dir=tmp_path / "cut", progress=False,
                  callbacks=[lambda e, row: seen.append(e)])
    assert seen == [3, 4]  # epochs 1-2 came from the checkpoint
    cols = [c for c in whole.history if not c.endswith("seconds")]
    assert whole.history[cols].equals(resumed.history[cols])
    assert resumed.best_epoch == whole.best_epoch and resumed.test_scores == whole.test_scores
    for p, q in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(p, q)
    assert not (tmp_path / "cut" / runs.CHECKPOINT_FILE).exists()


@pytest.mark.parametrize("every, expected", [(0.0, [True, True]), (1e9, [False, False])])
def test_checkpoints_follow_checkpoint_seconds(corpus, tmp_path, every, expected):
    train, val = corpus
    config = TrainConfig(**{**TINY.to_dict(), "epochs": 2, "checkpoint_seconds": every})
    seen = []
    fit(train, val, config, run_dir=tmp_path / "run", progress=False,
        callbacks=[lambda e, row: seen.append((tmp_path / "run" / runs.CHECKPOINT_FILE).is_file())])
    assert seen == expected  # checked inside each epoch's callback, before the finished run removes it
    assert config.cache_key() == TrainConfig(**{**TINY.to_dict(), "epochs": 2}).cache_key()


def test_bf16_precision_trains_and_has_its_own_cache_key(corpus, tmp_path):
    train, val = corpus
    fp32 = TrainConfig(**{**TINY.to_dict(), "epochs": 1})
    bf16 = TrainConfig(**{**fp32.to_dict(), "precision": "bf16"})
    assert "precision" not in fp32.cache_key()  # run keys made before the field existed stay valid
    assert bf16.cache_key()["precision"] == "bf16"
    a = fit(train, val, fp32, root=tmp_path, progress=False)
    b = fit(train, val, bf16, root=tmp_path, progress=False)
    assert a.path != b.path and np.isfinite(b.history["loss"]).all()
    assert not a.history["loss"].equals(b.history["loss"])  # bf16 forwards really ran
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")


def test_run_cache_loads_instead_of_training(corpus, tmp_path):
    train, val = corpus
    first = fit(train, val, TINY, tests=val, root=tmp_path, progress=False)
    assert first.trained and runs.is_finished(first.path)
    calls = []
    second = fit(train, val, TINY, tests=val, root=tmp_path, progress=False, callbacks=[lambda e, r: calls.append(e)])
    assert not second.trained and calls == []  # no epoch ran
    assert second.path == first.path and second.val_scores == first.val_scores
    x = val.x[:8]
    with torch.inference_mode():
        assert torch.allclose(first.model(x), second.model(x), atol=1e-6)
    other = fit(train, val, TrainConfig(**{**TINY.to_dict(), "lr": 5e-4}), root=tmp_path, progress=False)
    assert other.path != first.path  # a changed config is another run


def test_cross_validate_caches_folds_and_aggregates(tmp_path):
    data = planted_featureset(96)
    cv = cross_validate(data, TINY, k=2, seeds=(0, 1), tests=data.subset(np.arange(16)), root=tmp_path,
                        progress=False)
    assert len(cv.runs) == 4 and cv.runs["trained"].all()
    assert set(cv.mean("val")) >= {"Sp", "Se", "AS", "HS", "Score_icbhi", "Score_sprsound"}
    assert cv.mean("val")["AS"] == pytest.approx(cv.runs["val_AS"].mean())
    assert cv.std("test")["AS"] == pytest.approx(cv.runs["test_AS"].std(ddof=1))
    for tr, va in cv.folds:  # patient-wise: no patient on both sides
        assert not set(data.groups[tr]) & set(data.groups[va])
    assert (cv.path / "folds.txt").is_file() and (cv.path / "summary.csv").is_file()
    again = cross_validate(data, TINY, k=2, seeds=(0, 1), tests=data.subset(np.arange(16)), root=tmp_path,
                           progress=False)
    assert not again.runs["trained"].any()
    assert again.runs["val_AS"].tolist() == cv.runs["val_AS"].tolist()


def test_config_bands_reduce_the_input(corpus):
    train, val = corpus
    r = fit(train, val, TrainConfig(**{**TINY.to_dict(), "bands": tuple(range(16))}), progress=False)
    assert r.model.n_bands == 16


def test_class_weights_and_spec_augment():
    w = class_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert torch.allclose(w, torch.tensor([4 / 6, 4 / 2, 0.0]))
    x = torch.randn(4, 1, 32, 40)
    out = spec_augment(x, torch.Generator().manual_seed(0), max_freq=8, max_time=8)
    assert out.shape == x.shape and (out != x).any() and (out == x).float().mean() > 0.5


def test_from_profile_and_bad_input():
    c = TrainConfig.from_profile("smoke", lr=1e-4)
    assert c.epochs == 2 and c.width == 0.125 and c.lr == 1e-4
    with pytest.raises(ValueError, match="unknown TrainConfig"):
        TrainConfig.from_profile("smoke", lerning_rate=1)
    with pytest.raises(ValueError, match="unknown profile"):
        TrainConfig.from_profile("gpu")


def _panns_checkpoint(n_blocks: int = 3) -> dict:
    """A checkpoint laid out as PANNs saves CNN6: {"model": state}, kernels (out, in, time, Mel), bn0."""
    g = torch.Generator().manual_seed(1)
    state = {f"bn0.{s}": torch.rand(64, generator=g) + 0.5 for s in ("weight", "bias", "running_mean", "running_var")}
    for k, (c_in, c_out) in enumerate(zip([1, 64, 128, 256][:n_blocks], [64, 128, 256, 512][:n_blocks]), start=1):
        state[f"conv_block{k}.conv1.weight"] = torch.randn(c_out, c_in, 5, 5, generator=g)  # asymmetric kernels
        for s in ("weight", "bias", "running_mean", "running_var"):
            state[f"conv_block{k}.bn1.{s}"] = torch.rand(c_out, generator=g) + 0.5
    state["fc_audioset.weight"] = torch.randn(527, 512, generator=g)
    return {"model": state, "iteration": 1}


def test_init_from_panns_transposes_kernels_and_leaves_bn0(corpus, tmp_path):
    """fit(init_from=...) goes through the one PANNs loader: each (time, Mel) kernel lands transposed to
    our (Mel, time), and bn0 keeps its own statistics unless init_bn0 asks. The old loader copied the
    kernels untransposed (square kernels passed its shape check) and always took PANNs' bn0."""
    ckpt = _panns_checkpoint()
    torch.save(ckpt, tmp_path / "Cnn6.pth")
    train, val = corpus
    config = TrainConfig(backbone="cnn3", width=1.0, epochs=1, batch_size=16, lr=1e-5, device="cpu",
                         num_threads=1, init_from=str(tmp_path / "Cnn6.pth"))
    model = fit(train, val, config, progress=False).model
    donor = ckpt["model"]["conv_block2.conv1.weight"]
    tuned = model.blocks.block2.conv.weight.detach()
    assert (tuned - donor.transpose(-1, -2)).abs().max() < 1e-3  # a few Adam steps of 1e-5 away
    assert (tuned - donor).abs().max() > 0.5  # not the untransposed kernel
    assert (model.bn0.weight.detach() - 1).abs().max() < 1e-3  # our bn0, not PANNs' (0.5..1.5)
    with_bn0 = fit(train, val, replace(config, init_bn0=True), progress=False).model
    bands = list(train.kept_bands)
    assert (with_bn0.bn0.weight.detach() - ckpt["model"]["bn0.weight"][bands]).abs().max() < 1e-3
    assert replace(config, init_bn0=True).cache_key() != config.cache_key()
    with pytest.raises(ValueError, match="width 1.0"):
        fit(train, val, replace(config, width=0.5), progress=False)


def test_data_fingerprint_sees_values_labels_and_bands():
    data = planted_featureset(32)
    base = runs.data_fingerprint(data)
    assert runs.data_fingerprint(planted_featureset(32)) == base  # stable
    x = data.x.clone()
    x[17, 0, 5, 3] += 0.5  # one value, not on the sampled grid
    changed = [runs.data_fingerprint(type(data)(**{**data.__dict__, "x": x})),
               runs.data_fingerprint(type(data)(**{**data.__dict__, "y": 1 - data.y})),
               runs.data_fingerprint(data.with_bands(range(16)))]
    assert base not in changed and len(set(changed)) == 3


def test_all_normal_test_set_reports_nan_best_epoch_on_test(corpus, tmp_path):
    train, val = corpus
    normal_only = val.subset(np.flatnonzero(val.y.numpy() == 0))  # no abnormal item: Se, hence AS, is NaN
    r = fit(train, val, TINY, tests=normal_only, run_dir=tmp_path / "run", progress=False)
    assert r.history[f"test_{TINY.select_metric}"].isna().all()
    on_test = r.test_scores_best_epoch_on_test["test"]
    assert set(on_test) == set(r.test_scores["test"]) | {"epoch"}
    assert all(np.isnan(v) for v in on_test.values())
    assert r.val_scores is not None and not np.isnan(r.val_scores[TINY.select_metric])
    loaded = fit(train, val, TINY, tests=normal_only, run_dir=tmp_path / "run", progress=False)  # from cache
    assert not loaded.trained and np.isnan(loaded.test_scores_best_epoch_on_test["test"]["epoch"])


def test_data_fingerprint_ignores_meta_dtypes_layout_and_x_storage(tmp_path):
    from respcore.datasets.cache import read_entry, write_entry

    data = planted_featureset(32)
    base = runs.data_fingerprint(data)
    meta = data.meta.copy()
    meta["patient"] = meta["patient"].astype("category")
    meta["recording"] = meta["recording"].astype(object)
    meta["label"] = meta["label"].astype(float)  # 0.0 / 1.0, as after a CSV round trip with gaps
    meta = meta[list(reversed(meta.columns))].set_axis(np.arange(100, 132))  # other order and index
    meta["extra"] = "ignored"
    x = data.x.double().transpose(2, 3).contiguous().transpose(2, 3)  # float64, non-contiguous
    assert not x.is_contiguous()
    retyped = type(data)(**{**data.__dict__, "x": x, "meta": meta, "bands": None})
    assert runs.data_fingerprint(retyped) == base
    write_entry(tmp_path / "entry.pt", retyped)  # the datasets feature cache round trip
    assert runs.data_fingerprint(read_entry(tmp_path / "entry.pt")) == base
    relabelled = data.meta.copy()
    relabelled.loc[3, "label"] = 1 - relabelled.loc[3, "label"]
    moved = data.meta.copy()
    moved.loc[3, "patient"] = "p99"
    assert runs.data_fingerprint(type(data)(**{**data.__dict__, "meta": relabelled})) != base
    assert runs.data_fingerprint(type(data)(**{**data.__dict__, "meta": moved})) != base
    missing = data.meta.copy().astype({"patient": object})
    missing.loc[3, "patient"] = None
    nan_patient = missing.copy()
    nan_patient.loc[3, "patient"] = np.nan
    fps = {runs.data_fingerprint(type(data)(**{**data.__dict__, "meta": m})) for m in (missing, nan_patient)}
    assert len(fps) == 1 and base not in fps  # None and NaN are both "missing"


def test_named_test_sets_are_scored_and_carried_through_cv(corpus, tmp_path):
    train, val = corpus
    inter, intra = val.subset(np.arange(16)), val.subset(np.arange(16, 32))
    r = fit(train, val, TINY, tests={"inter": inter, "intra": intra}, root=tmp_path, progress=False)
    assert set(r.test_scores) == set(r.test_scores_best_epoch_on_test) == {"inter", "intra"}
    best = r.history.loc[r.history["epoch"] == r.best_epoch].iloc[0]
    assert r.test_scores["intra"]["AS"] == pytest.approx(best["intra_AS"])
    assert r.test_scores_best_epoch_on_test["inter"]["AS"] == pytest.approx(r.history["inter_AS"].max())
    again = fit(train, val, TINY, tests={"inter": inter, "intra": intra}, root=tmp_path, progress=False)
    assert not again.trained and again.test_scores == r.test_scores  # the run cache keeps the names
    data = planted_featureset(64)
    cv = cross_validate(data, TINY, k=2, tests={"inter": inter, "intra": intra}, root=tmp_path, progress=False)
    assert cv.tests == ("inter", "intra")
    assert cv.mean("intra")["AS"] == pytest.approx(cv.runs["intra_AS"].mean())
    assert "inter_on_test_AS" in cv.runs and "intra_AS" in cv.summary()
    with pytest.raises(ValueError, match="no 'test' scores"):
        cv.mean("test")
    for bad in ({"val": inter}, {"a b": inter}, {"x_on_test": inter}):
        with pytest.raises(ValueError, match="test set name"):
            fit(train, val, TINY, tests=bad, progress=False)


def test_scoring_tests_at_the_best_epoch_only_gives_the_same_honest_scores():
    data, test = planted_featureset(64, n_patients=16), planted_featureset(32, n_patients=8, seed=1)
    base = TrainConfig(backbone="cnn3", width=0.125, epochs=3, batch_size=16, device="cpu", num_threads=1)
    every = fit(data, data, base, tests={"test": test}, progress=False)
    once = fit(data, data, replace(base, test_every_epoch=False), tests={"test": test}, progress=False)
    assert once.best_epoch == every.best_epoch and once.test_scores == every.test_scores
    assert all(math.isnan(v) for v in once.test_scores_best_epoch_on_test["test"].values())
    assert once.history["test_AS"].notna().sum() == 1, "scored once, at the best epoch"
    assert "test_every_epoch" in replace(base, test_every_epoch=False).cache_key()


def test_init_run_starts_from_a_run_all_but_its_head_and_keys_on_it(corpus, tmp_path):
    train, val = corpus
    source = fit(train, val, TINY, root=tmp_path / "a", progress=False)
    tuned = TrainConfig(**{**TINY.to_dict(), "epochs": 1, "n_classes": 3, "lr": 1e-9, "init_run": str(source.path)})
    r = fit(train, val, tuned, progress=False)  # another head (3 classes): the body still transfers
    body = {k: v for k, v in source.model.state_dict().items() if not k.startswith("fc.")}
    got = r.model.state_dict()
    assert all(torch.allclose(got[k].float(), v.float(), atol=1e-5) for k, v in body.items() if "num_batches" not in k
               and "running" not in k)  # lr 1e-9: one epoch moves nothing but batch-norm statistics
    assert got["fc.weight"].shape == (3, source.model.fc.in_features)
    before = tuned.cache_key()
    assert before["init_run"] == runs.read_result(source.path)["key"], "keyed by the start's own key"
    moved = tmp_path / "moved"
    source.path.rename(moved)
    assert replace(tuned, init_run=str(moved)).cache_key() == before, "not by its folder"
    assert "init_run" not in TINY.cache_key()
    with pytest.raises(FileNotFoundError, match="run not finished"):
        replace(tuned, init_run=str(tmp_path / "nowhere")).cache_key()
    other = TrainConfig(**{**TINY.to_dict(), "epochs": 1, "width": 0.25, "init_run": str(moved)})
    with pytest.raises(ValueError, match="differs from this one in .* tensors"):
        fit(train, val, other, progress=False)


def test_start_from_pairs_folds_and_refuses_a_fold_that_leaks(tmp_path):
    from respcore.train import plan_cv
    from respcore.train.splits import fold_of_patient, folds_of_patients
    data = planted_featureset(96)
    short = TrainConfig(**{**TINY.to_dict(), "epochs": 1})
    start = cross_validate(data, short, k=2, seeds=(0, 1), root=tmp_path, progress=False)
    other = data.subset(np.arange(0, 96, 2))  # another set of the same patients (half the items)
    folds = folds_of_patients(fold_of_patient(start.folds, data.groups), other.groups)
    plan = plan_cv(other, short, k=2, seeds=(0, 1), root=tmp_path, folds=folds, start_from=start)
    got = {(i, j.config.seed): j.config.init_run for j, i in zip(plan.jobs, [0, 1, 0, 1])}
    want = {(int(r.fold), int(r.seed)): r.path for r in start.runs.itertuples()}
    assert got == want, "each (fold, seed) starts from the same fold and seed"
    assert plan.cv_dir != plan_cv(other, short, k=2, seeds=(0, 1), root=tmp_path, folds=folds).cv_dir
    swapped = [folds[1], folds[0]]  # every patient in the other fold: its start saw its validation patients
    with pytest.raises(ValueError, match="would have trained on validation patients"):
        plan_cv(other, short, k=2, seeds=(0,), root=tmp_path, folds=swapped, start_from=start)
    with pytest.raises(ValueError, match="have no fold"):
        folds_of_patients({"p0": 0}, other.groups)


def test_every_band_in_order_is_the_same_training_as_no_band_list(tmp_path):
    """An FBS round that keeps every band is the plain model: both share their run keys (and runs)."""
    from respcore.train import plan_cv
    data = planted_featureset(96)
    every = replace(TINY, bands=tuple(range(data.n_bands)))
    plain = plan_cv(data, TINY, k=2, seeds=(0, 1), root=tmp_path)
    assert [j.key for j in plan_cv(data, every, k=2, seeds=(0, 1), root=tmp_path).jobs] == [j.key for j in plain.jobs]
    fewer = replace(TINY, bands=tuple(range(data.n_bands - 1)))
    assert not {j.key for j in plan_cv(data, fewer, k=2, seeds=(0,), root=tmp_path).jobs} & {j.key for j in plain.jobs}
