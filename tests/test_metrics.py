"""Metrics against hand-computed confusion matrices and challenge definitions; degenerate inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from respcore.metrics import confusion, scores, scores_from_confusion, summarize

# 4-class ICBHI-like example: 0 normal, 1 crackle, 2 wheeze, 3 both
Y_TRUE = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]
Y_PRED = [0, 0, 1, 0, 1, 2, 2, 0, 3, 3]
CM = [[3, 1, 0, 0],
      [0, 1, 1, 0],
      [1, 0, 1, 0],
      [0, 0, 0, 2]]


def test_confusion_by_hand() -> None:
    cm = confusion(Y_TRUE, Y_PRED, 4)
    assert cm.tolist() == CM
    assert cm.dtype == np.int64
    assert confusion(np.array([1, 0, 1]), np.array([1, 1, 0]), 3).tolist() == [[0, 1, 0], [1, 1, 0], [0, 0, 0]]


def test_multiclass_scores_by_hand() -> None:
    s = scores(Y_TRUE, Y_PRED)
    sp, se = 3 / 4, (1 + 1 + 2) / 6  # exact-class hits pooled over all abnormal cycles
    hs = 2 * sp * se / (sp + se)
    assert s["Sp"] == pytest.approx(sp) and s["Se"] == pytest.approx(se)
    assert s["AS"] == pytest.approx((sp + se) / 2) and s["HS"] == pytest.approx(hs)
    assert s["Score_icbhi"] == s["AS"]
    assert s["Score_sprsound"] == pytest.approx(((sp + se) / 2 + hs) / 2)


def test_any_abnormal_counts_wrong_abnormal_class_as_hit() -> None:
    s = scores(Y_TRUE, Y_PRED, any_abnormal=True)
    assert s["Se"] == pytest.approx(5 / 6)  # the crackle predicted as wheeze now counts
    assert s["Sp"] == pytest.approx(3 / 4)


def test_binary_and_other_normal_index() -> None:
    s = scores([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    assert (s["Sp"], s["Se"]) == pytest.approx((1 / 2, 2 / 3))
    flipped = scores([1, 1, 0, 0, 0], [1, 0, 0, 0, 1], normal=1)  # same data, normal labelled 1
    assert flipped == pytest.approx(s)


def test_hs_is_zero_when_both_rates_are_zero() -> None:
    s = scores([0, 1], [1, 0])
    assert s["Sp"] == 0 and s["Se"] == 0 and s["HS"] == 0 and s["Score_sprsound"] == 0


def test_missing_class_groups_give_documented_nan() -> None:
    no_abnormal = scores([0, 0], [0, 1], n_classes=2)
    assert no_abnormal["Sp"] == 0.5 and math.isnan(no_abnormal["Se"]) and math.isnan(no_abnormal["AS"])
    no_normal = scores([1, 2], [1, 1], n_classes=3)
    assert math.isnan(no_normal["Sp"]) and no_normal["Se"] == 0.5 and math.isnan(no_normal["Score_sprsound"])


@pytest.mark.parametrize("call,match", [
    (lambda: scores([], []), "empty"),
    (lambda: scores([0, 1], [0]), "length"),
    (lambda: scores([0, 4], [0, 1], n_classes=4), r"y_true has labels \[4\]"),
    (lambda: scores([0, 1], [0, -1]), r"y_pred has labels \[-1\]"),
    (lambda: scores([0, 1.5], [0, 1]), "integer"),
    (lambda: scores([0, 1], [0, 1], normal=2, n_classes=2), "normal class 2"),
    (lambda: confusion([[0, 1]], [[0, 1]], 2), "1-D"),
    (lambda: scores_from_confusion(np.zeros((3, 3))), "empty"),
    (lambda: scores_from_confusion(np.ones((2, 3))), "square"),
])
def test_degenerate_inputs_raise(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_summarize_mean_and_std() -> None:
    runs = [{"AS": 0.5, "Se": 0.25}, {"AS": 0.7, "Se": 0.75}]
    out = summarize(runs)
    assert out["AS"]["mean"] == pytest.approx(0.6) and out["AS"]["n"] == 2
    assert out["AS"]["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert summarize(runs, ddof=0)["Se"]["std"] == pytest.approx(0.25)
    assert math.isnan(summarize(runs[:1])["AS"]["std"])  # one run: no sample std
    assert math.isnan(summarize([*runs, {"AS": math.nan, "Se": 0.0}])["AS"]["mean"])  # NaN is not hidden
    with pytest.raises(ValueError, match="keys"):
        summarize([{"AS": 0.5}, {"Se": 0.5}])
    with pytest.raises(ValueError, match="no score"):
        summarize([])
