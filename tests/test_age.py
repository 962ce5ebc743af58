"""Age routing: each sample to its age group's model, fallbacks counted; age-specific training table."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from planted import planted_featureset
from respcore.age import CHILDHOOD_BANDS, AgeRouter, age_shift_weights, sample_groups, train_age_models
from respcore.train import TrainConfig


class Constant(nn.Module):
    """Always predicts class ``c`` (of 3)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.nn.functional.one_hot(torch.tensor(c), 3).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], 3)


def test_router_routes_by_age_and_counts_fallbacks():
    ages = np.array([5.0, 40.0, np.nan, 17.9, 18.0, np.nan])
    data = planted_featureset(6, n_patients=6, ages=ages)
    router = AgeRouter({"pediatric": Constant(0), "adult": Constant(1)}, fallback=Constant(2))
    pred = router.predict_logits(data).argmax(1).tolist()
    assert pred == [0, 1, 2, 0, 1, 2]  # 17.9 is pediatric, 18.0 adult, missing -> unified
    assert router.last_counts == {"pediatric": 2, "adult": 2, "fallback_missing_age": 2, "fallback_no_model": 0}
    out = router(data.x, sample_groups(data))  # the tensor path routes the same way
    assert out.argmax(1).tolist() == pred
    assert router.counts["fallback_missing_age"] == 4  # counts accumulate over calls


def test_router_without_a_group_model_falls_back_and_says_so():
    data = planted_featureset(4, n_patients=4, ages=np.array([3.0, 50.0, 70.0, np.nan]))
    router = AgeRouter({"pediatric": Constant(0)}, fallback=Constant(2))
    assert router.predict_logits(data).argmax(1).tolist() == [0, 2, 2, 2]
    assert router.last_counts["fallback_no_model"] == 2 and router.last_counts["fallback_missing_age"] == 1
    with pytest.raises(ValueError, match="unknown age groups"):
        AgeRouter({"elderly": Constant(0)}, fallback=Constant(2))


def test_train_age_models_reports_each_model_on_each_group(tmp_path):
    train = planted_featureset(96, n_patients=24)
    i = np.arange(48)
    ages = np.where(i % 3 == 0, np.nan, np.where((i // 2) % 2 == 0, 9.0, 44.0))  # both labels in each group
    test = planted_featureset(48, n_patients=12, seed=1, ages=ages)
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=2, batch_size=16, device="cpu", num_threads=1)
    result = train_age_models(train, config, tests=test, k=3, root=tmp_path, progress=False)
    table = result.table
    assert set(table["model"]) == {"pediatric", "adult", "unified", "router"}
    assert len(table) == 4 * 3 and not result.skipped
    n_missing = int(np.isnan(ages).sum())
    router_all = table[(table.model == "router") & (table.test_subset == "all")].iloc[0]
    assert router_all["fallback_missing_age"] == n_missing and router_all["n"] == 48
    ped = table[(table.model == "pediatric") & (table.test_subset == "pediatric")].iloc[0]
    assert ped["n"] == int((ages < 18).sum()) and 0 <= ped["AS"] <= 1
    # the pediatric model trained on pediatric patients only
    assert set(result.fits["pediatric"].history.columns) >= {"loss", "val_AS"}


def test_train_age_models_skips_a_group_without_patients(tmp_path):
    train = planted_featureset(48, n_patients=12, ages=np.full(48, 7.0))  # all pediatric (as SPRSound)
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=1, batch_size=16, device="cpu", num_threads=1)
    result = train_age_models(train, config, tests=train, k=3, root=tmp_path, progress=False)
    assert "adult" in result.skipped and "adult" not in result.fits
    assert set(result.table["model"]) == {"pediatric", "unified", "router"}


def test_childhood_bands_route_by_age_and_pair_router_with_unified(tmp_path):
    from respcore.age import CHILDHOOD_BANDS, AgeBands

    assert [CHILDHOOD_BANDS.of(a) for a in (0.2, 2.99, 3.0, 5.9, 6.0, 16.2, None)] == \
        ["under 3", "under 3", "3 to 6", "3 to 6", "6 and over", "6 and over", None]
    with pytest.raises(ValueError, match="increasing edges"):
        AgeBands(("a", "b"), (0.0, 3.0))
    ages = np.array([1.0, 4.0, 8.0, np.nan])
    data = planted_featureset(4, n_patients=4, ages=ages)
    router = AgeRouter({"under 3": Constant(0), "6 and over": Constant(1)}, fallback=Constant(2), bands=CHILDHOOD_BANDS)
    assert router.predict_logits(data).argmax(1).tolist() == [0, 2, 1, 2]  # no 3-to-6 model: unified
    assert router.last_counts["fallback_no_model"] == 1 and router.last_counts["fallback_missing_age"] == 1
    with pytest.raises(ValueError, match="unknown age groups"):
        AgeRouter({"pediatric": Constant(0)}, fallback=Constant(2), bands=CHILDHOOD_BANDS)

    train = planted_featureset(96, n_patients=24, ages=np.repeat([1.5, 4.5, 9.0], 32))
    test = planted_featureset(30, n_patients=6, seed=1, ages=np.repeat([2.0, 5.0, 10.0], 10))
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=1, batch_size=16, device="cpu", num_threads=1)
    result = train_age_models(train, config, tests=test, k=2, repeats=2, seeds=(0, 1), root=tmp_path,
                              progress=False, bands=CHILDHOOD_BANDS)
    t = result.table
    assert set(t["model"]) == {"under 3", "3 to 6", "6 and over", "unified", "router"}
    assert set(zip(t["fold"], t["seed"])) == {(0, 0), (0, 1), (1, 0), (1, 1)}  # 4 pairs of router and unified
    routed = t[(t.model == "router") & (t.test_subset == "all")]
    assert len(routed) == 4 and (routed["fallback_missing_age"] == 0).all() and (routed["n"] == 30).all()


def test_robustness_changes_the_age_the_router_reads_for_any_bands():
    """Missing and wrong ages must reach the router through the column it reads (years, where the data has
    them), for the paper's two bands and for bands within childhood alike."""
    from respcore.age import CHILDHOOD_BANDS
    from respcore.study.beyond import robustness_rows

    data = planted_featureset(6, n_patients=6, n_classes=3, ages=np.array([1.0, 4.0, 8.0, 2.0, 5.0, 12.0]))
    models = {"under 3": Constant(0), "3 to 6": Constant(1), "6 and over": Constant(2)}
    router = AgeRouter(models, fallback=Constant(0), bands=CHILDHOOD_BANDS)
    rows = {r["condition"]: r for r in robustness_rows(router, "inter", data)}
    assert rows["true age"]["routed"] == "under 3 2, 3 to 6 2, 6 and over 2" and rows["true age"]["fallbacks"] == 0
    assert rows["age missing"]["fallbacks"] == 6 and rows["half missing"]["fallbacks"] == 3
    assert rows["wrong age"]["routed"] == "under 3 2, 3 to 6 2, 6 and over 2"  # each band moved to the next
    assert rows["true age"]["AS"] != rows["wrong age"]["AS"], "a wrong age must change the predictions"
    paper = AgeRouter({"pediatric": Constant(0), "adult": Constant(1)}, fallback=Constant(2))
    mixed = planted_featureset(6, n_patients=6, n_classes=3, ages=np.array([5.0, 40.0, 10.0, 3.0, 70.0, 30.0]))
    adults = {r["condition"]: r for r in robustness_rows(paper, "test", mixed)}
    assert adults["true age"]["routed"] == "pediatric 3, adult 3"
    assert adults["wrong age"]["routed"] == "pediatric 3, adult 3"  # child and adult swap
    assert adults["wrong age"]["AS"] != adults["true age"]["AS"]


def test_age_shift_weights_give_the_source_the_targets_age_mix():
    source = ["under 3"] * 2 + ["3 to 6"] * 6 + ["6 and over"] * 2 + [None] * 5  # unknown ages count nowhere
    target = ["under 3"] * 5 + ["3 to 6"] * 4 + ["6 and over"] * 1
    w = age_shift_weights(source, target, CHILDHOOD_BANDS.names)
    assert w == pytest.approx({"under 3": 2.5, "3 to 6": 4 / 6, "6 and over": 0.5})
    mix = {g: sum(w[g] for s in source if s == g) for g in CHILDHOOD_BANDS.names}  # weighted source counts
    total = sum(mix.values())
    assert {g: m / total for g, m in mix.items()} == pytest.approx({"under 3": 0.5, "3 to 6": 0.4, "6 and over": 0.1})
    gap = age_shift_weights(["3 to 6"] * 3, ["under 3", "3 to 6"], CHILDHOOD_BANDS.names)
    assert np.isnan(gap["under 3"]) and gap["6 and over"] == 0.0  # no source item can stand in for a toddler
    with pytest.raises(ValueError, match="no item of known age in the target"):
        age_shift_weights(["3 to 6"], [None, None], CHILDHOOD_BANDS.names)


def test_the_unified_age_model_is_the_cross_validations_training(tmp_path):
    """One model for all is a plain cross-validation of the training set: same runs, trained once."""
    from respcore.train import cross_validate

    train = planted_featureset(96, n_patients=24, ages=np.repeat([1.5, 4.5, 9.0], 32))
    test = planted_featureset(30, n_patients=6, seed=1, ages=np.repeat([2.0, 5.0, 10.0], 10))
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=1, batch_size=16, device="cpu", num_threads=1)
    cv = cross_validate(train, config, k=3, seeds=(0, 1), tests={"test": test}, root=tmp_path, progress=False)
    before = {p.name for p in tmp_path.iterdir()}
    result = train_age_models(train, config, tests={"test": test}, k=3, repeats=2, seeds=(0, 1), root=tmp_path,
                              progress=False, bands=CHILDHOOD_BANDS)
    assert result.fits["unified"].path == cv.fits[0].path and not result.fits["unified"].trained
    band_runs = {p.name for p in tmp_path.iterdir()} - before
    assert len(band_runs) == 3 * 2 * 2  # three band models x 2 folds x 2 seeds, no unified run among them
    unified = result.table[(result.table.model == "unified") & (result.table.test_subset == "all")]
    assert unified.sort_values(["seed", "fold"])["AS"].tolist() == pytest.approx(
        cv.runs.query("fold < 2").sort_values(["seed", "fold"])["test_AS"].tolist())
