"""Paired differences, their 95 % intervals and the verdict rule, on hand-made numbers."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from respcore.evidence import CONTRADICTED, REPRODUCED, UNDECIDED, pair_scores, paired_difference, verdict


def test_interval_matches_a_hand_computation():
    # d = (0.1, 0.2, 0.3): mean 0.2, sd 0.1, t(0.975, 2) = 4.302653 -> half width 0.248414
    p = paired_difference([0.6, 0.7, 0.8], [0.5, 0.5, 0.5])
    assert p.n == 3 and p.mean == pytest.approx(0.2)
    assert p.low == pytest.approx(0.2 - 0.248414, abs=1e-6) and p.high == pytest.approx(0.2 + 0.248414, abs=1e-6)
    assert p.a_mean == pytest.approx(0.7) and p.b_mean == pytest.approx(0.5)


@pytest.mark.parametrize("diffs, expected, want", [
    ([0.02, 0.03, 0.025, 0.03, 0.02], 1, REPRODUCED),  # interval above 0, paper expects a > b
    ([0.02, 0.03, 0.025, 0.03, 0.02], -1, CONTRADICTED),  # same numbers, paper expects a < b
    ([-0.02, -0.03, -0.025, -0.03, -0.02], -1, REPRODUCED),
    ([0.05, -0.04, 0.06, -0.03, 0.01], 1, UNDECIDED),  # positive mean, interval contains 0
    ([0.05, -0.04, 0.06, -0.03, 0.01], -1, UNDECIDED),
])
def test_verdict_follows_the_interval_not_the_sign(diffs, expected, want):
    p = paired_difference([0.5 + d for d in diffs], [0.5] * len(diffs))
    assert verdict(p, expected=expected) == want
    if want == UNDECIDED:
        assert p.low < 0 < p.high


def test_one_pair_or_identical_pairs_decide_nothing():
    one = paired_difference([0.7], [0.6])
    assert math.isnan(one.low) and verdict(one, expected=1) == UNDECIDED and "no interval" in one.text()
    same = paired_difference([0.6, 0.7, 0.8], [0.6, 0.7, 0.8])  # IS kept all bands: round 0 against itself
    assert verdict(same, expected=1) == UNDECIDED


def test_bad_pairs_are_refused():
    with pytest.raises(ValueError, match="equal-length"):
        paired_difference([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="NaN"):
        paired_difference([0.1, float("nan")], [0.1, 0.2])
    with pytest.raises(ValueError, match="expected must be"):
        verdict(paired_difference([0.1, 0.2], [0.0, 0.1]), expected=0)


def test_pair_scores_aligns_on_fold_and_seed_and_drops_unpaired_runs():
    a = pd.DataFrame({"fold": [1, 0, 2], "seed": [0, 0, 0], "test_AS": [0.61, 0.60, 0.62]})
    b = pd.DataFrame({"fold": [0, 1], "seed": [0, 0], "test_AS": [0.50, 0.51]})
    assert pair_scores(a, b, "test_AS") == ([0.60, 0.61], [0.50, 0.51])
    with pytest.raises(ValueError, match="no column 'val_AS'"):
        pair_scores(a, b, "val_AS")


def test_saved_comparisons_drop_and_count_pairs_without_a_score():
    from respcore.study.pairs import pair_entry, pairs_table

    a = pd.DataFrame({"fold": [0, 1, 2], "seed": 0, "test_AS": [0.6, float("nan"), 0.7]})
    b = pd.DataFrame({"fold": [0, 1, 2], "seed": 0, "test_AS": [0.5, 0.5, 0.55]})
    e = pair_entry(a, b, "test_AS", a_label="x", b_label="y")
    assert e["a"] == [0.6, 0.7] and e["dropped"] == 1
    row = pairs_table({"x_vs_y": e}).iloc[0]
    assert row["pairs"] == 2 and row["dropped"] == 1 and row["difference"] == pytest.approx(0.125)
