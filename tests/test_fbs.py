"""Frequency Band Selection: attributions, importance formula, IS and BS on planted bands, saved selections."""
from __future__ import annotations

import pytest
import torch

from planted import planted_featureset
from respcore.fbs import (BandSelection, abnormal_classes, backward_selection, band_attributions,
                          importance_scores, importance_selection, recovery)
from respcore.attribution import band_attributions_many
from respcore.flops import count_flops
from respcore.models import build_model
from respcore.train import TrainConfig, fit

PLANTED = (20, 21, 22, 23)
CONFIG = TrainConfig(backbone="cnn3", width=0.125, epochs=4, batch_size=16, device="cpu", num_threads=1)


@pytest.fixture(scope="module")
def corpus():
    return planted_featureset(96, amplitude=3.0, informative=PLANTED)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")  # shared: IS and BS reuse each other's cached first round


def test_importance_formula_by_hand():
    a = torch.tensor([[[0.5, 0.3, 0.2], [0.7, 0.1, 0.2]],
                      [[0.3, 0.5, 0.2], [float("nan")] * 3]])  # (folds 2, classes 2, bands 3); one absent class
    rows = torch.tensor([[0.5, 0.3, 0.2], [0.7, 0.1, 0.2], [0.3, 0.5, 0.2]])
    expected = rows.mean(0) - 0.6 * rows.std(0, unbiased=False)
    assert torch.allclose(importance_scores(a, 0.6), expected)
    assert torch.allclose(importance_scores(a, 0.0), rows.mean(0))
    # band 2 is consistent everywhere: with a high lambda it outranks band 0's larger but unstable mean
    assert importance_scores(a, 2.0).argmax() == 2
    with pytest.raises(ValueError, match="folds, classes, bands"):
        importance_scores(torch.zeros(2, 3), 0.5)


def test_importance_over_chosen_classes_by_hand():
    # normal (class 0) points away from the planted bands 1-2, which the adventitious class 1 uses
    a = torch.tensor([[[0.6, 0.1, 0.1, 0.2], [0.1, 0.4, 0.4, 0.1]],
                      [[0.5, 0.1, 0.1, 0.3], [0.2, 0.4, 0.3, 0.1]]])  # (folds 2, classes 2, bands 4)
    every = importance_scores(a, 0.0)
    assert every.argmax() == 0  # averaged with the normal rows, band 0 wins
    only = importance_scores(a, 0.5, classes=abnormal_classes(2))
    rows = a[:, 1]
    assert torch.allclose(only, rows.mean(0) - 0.5 * rows.std(0, unbiased=False))
    assert set(torch.argsort(only, descending=True)[:2].tolist()) == {1, 2}
    assert abnormal_classes(4, normal=2) == (0, 1, 3)
    for bad in ([], [2], [-1]):
        with pytest.raises(ValueError, match="classes must be"):
            importance_scores(a, 0.5, classes=bad)
    with pytest.raises(ValueError, match="normal must"):
        abnormal_classes(1)


def _selection(vals: list[list[float]]) -> BandSelection:
    """A hand-made IS trajectory: rounds of 48, 32, 16 bands, each with per-(fold, seed) validation AS."""
    traj = [{"round": i, "n_bands": 48 - 16 * i, "bands": list(range(48 - 16 * i)),
             "val": {"AS": sum(v) / len(v)},
             "runs": [{"fold": f, "seed": 0, "val_AS": x} for f, x in enumerate(v)]} for i, v in enumerate(vals)]
    best = max(range(len(vals)), key=lambda i: traj[i]["val"]["AS"])
    return BandSelection("IS", tuple(traj[best]["bands"]), traj, {}, TrainConfig(),
                         {"best_round": best, "select_metric": "AS"})


def test_fewest_not_worse_keeps_the_smallest_round_no_interval_calls_worse():
    # round 1 (32 bands) is a hair below the best (48) with noisy pairs: undecided, so it is kept;
    # round 2 (16 bands) is decidedly worse on every pair
    sel = _selection([[0.90, 0.80, 0.85, 0.95], [0.92, 0.76, 0.84, 0.93], [0.60, 0.50, 0.55, 0.65]])
    assert sel.best_round == 0 and sel.fewest_not_worse() == 1
    kept = sel.keeping(1, "fewest")
    assert kept.kept_bands == tuple(range(32)) and kept.best_round == 1 and kept.params["kept_by"] == "fewest"
    assert sel.best_round == 0  # the original is unchanged
    # the same mean loss, but the same on every pair: decided, so the best round stays
    steady = _selection([[0.90, 0.80, 0.85, 0.95], [0.89, 0.79, 0.84, 0.94], [0.60, 0.50, 0.55, 0.65]])
    assert steady.fewest_not_worse() == 0
    with pytest.raises(ValueError, match="round must be"):
        sel.keeping(3, "x")


def test_recovery():
    assert recovery([1, 2, 3, 4], [3, 4, 5], n_bands=10) == pytest.approx(
        {"precision": 0.5, "recall": 2 / 3, "chance_precision": 0.3, "chance_recall": 0.4})


@pytest.fixture(scope="module")
def model(corpus):
    return fit(corpus, None, CONFIG, progress=False).model


@pytest.mark.parametrize("method,layer", [("gradcam", 1), ("gradcam", None), ("ig", None), ("saliency", None)])
def test_band_attributions_shape_and_normalization(corpus, model, method, layer):
    a = band_attributions(model, corpus.subset(range(0, 96, 3)), method, layer=layer, batch_size=16,
                           ig_steps=4)
    assert a.shape == (2, corpus.n_bands) and not a.isnan().any() and (a >= 0).all()
    assert torch.allclose(a.sum(1), torch.ones(2))
    one_class = corpus.subset(range(0, 96, 2))  # all label 0: class 1 has no sample
    assert band_attributions(model, one_class, method, layer=layer, ig_steps=4)[1].isnan().all()
    assert model.training is False


def test_attributions_of_several_models_in_threads_equal_one_after_another(corpus, model):
    other = build_model("cnn6", corpus.n_classes, corpus.n_bands, "post", width=0.125)
    items = [(model, corpus.subset(range(0, 96, 3))), (other, corpus.subset(range(1, 96, 3)))]
    serial = [band_attributions(m, d, "gradcam", batch_size=16) for m, d in items]
    for threads in (1, 2):
        got = band_attributions_many(items, "gradcam", batch_size=16, threads=threads)
        assert all(torch.equal(a, b) for a, b in zip(got, serial))
    assert band_attributions_many([], "gradcam") == []


def test_importance_selection_recovers_planted_bands(corpus, root):
    sel = importance_selection(corpus, CONFIG, k=2, r=8, lam=0.5, patience=None, min_bands=8, method="gradcam",
                               layer=1, root=root, progress=False)
    table = sel.frame()
    assert table["n_bands"].tolist() == [32, 24, 16, 8]
    assert (table["macs"].diff().dropna() < 0).all()  # FLOPs fall with every round
    assert sel.cost["trainings"] == 4 * 2 and table["trainings"].tolist() == [2, 4, 6, 8]
    final = recovery(sel.trajectory[-1]["bands"], PLANTED, n_bands=32)
    assert final["recall"] >= 0.75 and final["precision"] > 2 * final["chance_precision"]
    assert set(sel.kept_bands) == set(sel.trajectory[sel.best_round]["bands"])
    assert len(sel.trajectory[0]["importance"]) == 32


def test_importance_selection_patience_stops_early(corpus, root):
    sel = importance_selection(corpus, CONFIG, k=2, r=4, lam=0.5, patience=1, min_bands=8, method="saliency",
                               root=root, progress=False)
    assert len(sel.trajectory) == sel.best_round + 2  # one round without improvement, then stop


def test_backward_selection_recovers_planted_bands_and_costs_more(corpus, root):
    bs = backward_selection(corpus, CONFIG, k=2, r=8, min_bands=8, candidate_folds=1, root=root, progress=False)
    table = bs.frame()
    assert table["n_bands"].tolist() == [32, 24, 16, 8]
    final = recovery(bs.trajectory[-1]["bands"], PLANTED, n_bands=32)
    assert final["recall"] == 1.0 and final["precision"] == 0.5  # the planted block survives to the end
    # round 0 (2 folds) + per step: one single-fold trial per candidate block (4, 3, 2) + the winner's 2nd fold
    assert bs.cost["trainings"] == 2 + (4 + 1) + (3 + 1) + (2 + 1)


def test_band_selection_round_trip_and_reduced_model(corpus, root, tmp_path):
    sel = importance_selection(corpus, CONFIG, k=2, r=8, lam=0.5, patience=None, min_bands=8, method="gradcam",
                               layer=1, root=root, progress=False)
    path = sel.save(tmp_path / "is.json")
    back = BandSelection.load(path)
    assert back.kept_bands == sel.kept_bands and back.config == sel.config and back.cost == sel.cost
    reduced = back.build_model()
    full = TrainConfig(**{**CONFIG.to_dict()})
    small = count_flops(reduced, (1, 1, len(back.kept_bands), 16))["macs"]
    from respcore.models import build_model
    big = count_flops(build_model(full.backbone, 2, n_bands=32, width=full.width), (1, 1, 32, 16))["macs"]
    assert len(back.kept_bands) == 32 or small < big
    eight = BandSelection(**{**back.__dict__, "kept_bands": tuple(back.trajectory[-1]["bands"])}).build_model()
    assert count_flops(eight, (1, 1, 8, 16))["macs"] < 0.4 * big
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        BandSelection.load(tmp_path / "bad.json")


def test_selection_starts_from_the_config_bands(corpus, root):
    start = tuple(range(8, 32))
    sel = importance_selection(corpus, TrainConfig(**{**CONFIG.to_dict(), "bands": start}), k=2, r=8, lam=0.5,
                               patience=None, min_bands=16, method="saliency", root=root, progress=False)
    assert [t["n_bands"] for t in sel.trajectory] == [24, 16]
    assert set(sel.trajectory[-1]["bands"]) < set(start) and sel.config.bands is None


def test_ranking_precision_judges_the_first_ranking_with_the_selection_lambda():
    from respcore.study.bands import ranking_precision
    # 2 folds x 2 classes x 6 bands: bands 0-2 matter to class 0 only, bands 3-5 mostly to class 1
    a = torch.tensor([[[.30, .30, .30, .05, .025, .025], [0, 0, 0, .60, .20, .20]]] * 2)
    sel = lambda lam: BandSelection("IS", (0, 1), [{"attributions": a.tolist(), "bands": list(range(6))}],
                                    {}, TrainConfig(), {"lam": lam})
    planted = [0, 1, 2]
    # lambda 0: the mean ranks band 3 first (.325), then 0-2 (.15), then 4-5 (.1125); lambda 1 punishes the
    # class-specific bands 0-2 (mean .15 - spread .15 = 0) below 4-5 (.1125 - .0875) and 3 (.325 - .275)
    assert ranking_precision(sel(0.0), planted) == pytest.approx(2 / 3)
    assert ranking_precision(sel(1.0), planted) == 0.0
    no_attr = BandSelection("BS", (0,), [{"bands": list(range(6))}], {}, TrainConfig(), {})
    assert ranking_precision(no_attr, planted) != ranking_precision(no_attr, planted)  # NaN
