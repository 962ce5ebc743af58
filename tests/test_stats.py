"""Dataset statistics: distances by hand, annotation readers on written fixtures, the real data's counts
(README of ../shared/realdata) and the calibration constants recomputed from the real files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from respcore.datasets import stats
from respcore.datasets.sprsound import FOLDERS_2022
from respcore.datasets.synthetic import calibration as cal
from respcore.datasets.synthetic import make_synthetic

REAL = os.environ.get("RESPCORE_REALDATA")
realdata = pytest.mark.skipif(not REAL, reason="RESPCORE_REALDATA is unset: no real annotation files to read")


def test_distances_by_hand() -> None:
    assert stats.total_variation({"a": 1, "b": 3}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.25)
    assert stats.total_variation({"a": 2}, {"b": 5}) == pytest.approx(1.0)
    assert stats.wasserstein(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == pytest.approx(2.0)
    assert stats.wasserstein(np.array([0.0, 0.0, 3.0]), np.array([0.0, 3.0, 3.0])) == pytest.approx(1.0)
    assert stats.ks_statistic(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])) == 0.0
    assert stats.ks_statistic(np.array([0.0, 1.0]), np.array([5.0, 6.0])) == 1.0
    with pytest.raises(ValueError):
        stats.wasserstein(np.array([]), np.array([1.0]))


def _icbhi_fixture(root: Path) -> None:
    """Two patients, three recordings, the split file naming one with another device (as the real one does)."""
    (root / "101_1b1_Al_sc_Meditron.txt").write_text("0.036\t0.579\t0\t0\n0.579\t2.45\t1\t0\n")
    (root / "102_1b1_Ar_sc_Meditron.txt").write_text("0.1\t1.1\t0\t1\r\n1.1\t4.1\t1\t1")  # CRLF, no final newline
    (root / "102_2b1_Pl_mc_AKGC417L.txt").write_text("0.5\t2.0\t0\t0\n")
    (root / "ICBHI_challenge_train_test.txt").write_text(
        "101_1b1_Al_sc_Meditron\ttrain\r\n102_1b1_Ar_sc_Meditron\ttest\r\n102_2b1_Pl_mc_LittC2SE\ttrain\r\n")
    (root / "ICBHI_Challenge_demographic_information.txt").write_text("101\t3\tF\tNA\t19\t99\r\n102\t70\tM\t33\tNA\tNA\r\n")


def test_icbhi_reader_and_summary(tmp_path: Path) -> None:
    _icbhi_fixture(tmp_path)
    cycles = stats.icbhi_cycles(tmp_path)
    assert len(cycles) == 5
    assert list(cycles["label"]) == ["normal", "crackle", "wheeze", "both", "normal"]
    assert cycles["duration"].iloc[1] == pytest.approx(1.871)
    summary = stats.icbhi_summary(cycles)
    assert summary["cycles"] == {"train": {"normal": 2, "crackle": 1, "wheeze": 0, "both": 0},
                                 "test": {"normal": 0, "crackle": 0, "wheeze": 1, "both": 1}}
    assert summary["shared_patients"] == ["102"]
    assert summary["patients_by_age_group"] == {"pediatric": 1, "adult": 1}
    (tmp_path / "ICBHI_challenge_train_test.txt").write_text("101_1b1_Al_sc_Meditron\ttrain\n")
    with pytest.raises(ValueError, match="missing from"):
        stats.icbhi_cycles(tmp_path)
    (tmp_path / "ICBHI_challenge_train_test.txt").write_text("101_1b1_Al_sc_Meditron\tvalid\n")
    with pytest.raises(ValueError, match="train\\|test"):
        stats.icbhi_cycles(tmp_path)


def test_sprsound_reader(tmp_path: Path) -> None:
    for sub, _ in FOLDERS_2022.values():
        (tmp_path / sub).mkdir(parents=True)
    doc = {"record_annotation": "CAS", "event_annotation": [
        {"start": "5000", "end": "6250", "type": "Wheeze"}, {"start": "100", "end": "900", "type": "Normal"}]}
    (tmp_path / "train_json" / "41267028_0.2_0_p3_2476.json").write_text(json.dumps(doc))
    (tmp_path / "test_json/inter_test_json" / "40512331_8.1_1_p1_3548.json").write_text(
        json.dumps({"record_annotation": "Poor Quality", "event_annotation": []}))
    records, events = stats.sprsound_annotations(tmp_path)
    assert list(records["label"]) == ["CAS", "Poor Quality"] and list(records["n_events"]) == [2, 0]
    assert sorted(events["duration"]) == pytest.approx([0.8, 1.25])
    assert records["age"].tolist() == [0.2, 8.1]
    (tmp_path / "train_json" / "1_2_0_p1_3.json").write_text("{not json")
    with pytest.raises(ValueError, match="1_2_0_p1_3.json"):
        stats.sprsound_annotations(tmp_path)


def _real_icbhi():
    return stats.icbhi_cycles(Path(REAL) / "icbhi" / "annotations", Path(REAL) / "icbhi" / "official")


@realdata
def test_real_icbhi_statistics_match_the_readme_and_calibration() -> None:
    summary = stats.icbhi_summary(_real_icbhi())
    assert summary["cycles"] == {"train": {"normal": 2063, "crackle": 1215, "wheeze": 501, "both": 363},
                                 "test": {"normal": 1579, "crackle": 649, "wheeze": 385, "both": 143}}
    assert summary["recordings"] == {"train": 539, "test": 381}
    assert summary["patients"] == 126 and summary["shared_patients"] == ["156", "218"]
    assert summary["patients_by_age_group"] == {"pediatric": 49, "adult": 76}
    assert summary["patients_without_age"] == 1
    assert summary["devices"] == {"AKGC417L": 646, "Meditron": 127, "LittC2SE": 87, "Litt3200": 60}
    assert summary["modes"] == {"mc": 732, "sc": 188}
    # the generator's constants are these measurements
    assert summary["cycles"] == cal.ICBHI_CYCLES and summary["devices"] == cal.ICBHI_DEVICES
    assert summary["cycle_seconds"] == cal.ICBHI_CYCLE_SECONDS and summary["age_quantiles"] == cal.ICBHI_AGE_QUANTILES
    cycles = _real_icbhi()
    per_rec = cycles.groupby("recording").size()
    assert stats.quantiles(per_rec) == cal.ICBHI_CYCLES_PER_RECORDING
    rec = cycles.drop_duplicates("recording")
    assert rec["age_group"].value_counts().to_dict() == cal.ICBHI_RECORDINGS_BY_AGE_GROUP
    assert cycles["age_group"].value_counts().to_dict() == cal.ICBHI_CYCLES_BY_AGE_GROUP


@realdata
def test_real_sprsound_statistics_match_the_readme_and_calibration() -> None:
    records, events = stats.sprsound_annotations(Path(REAL) / "sprsound" / "annotations_2022")
    summary = stats.sprsound_summary(records, events)
    assert len(records) == 2683 and len(events) == 9089
    assert {s: sum(v.values()) for s, v in summary["records"].items()} == {"train": 1949, "inter": 355, "intra": 379}
    assert summary["records"]["train"] == {"Normal": 1303, "CAS": 126, "DAS": 248, "CAS & DAS": 95, "Poor Quality": 177}
    assert summary["records"]["inter"] == {"Normal": 241, "CAS": 65, "DAS": 24, "CAS & DAS": 17, "Poor Quality": 8}
    assert summary["records"]["intra"] == {"Normal": 241, "CAS": 42, "DAS": 75, "CAS & DAS": 19, "Poor Quality": 2}
    assert summary["events"]["train"] == {"Normal": 5159, "Rhonchi": 39, "Wheeze": 452, "Stridor": 15,
                                          "Coarse Crackle": 49, "Fine Crackle": 912, "Wheeze+Crackle": 30}
    assert sum(summary["events"]["inter"].values()) == 1429 and sum(summary["events"]["intra"].values()) == 1004
    assert summary["patients"]["train"] == 251 and records["patient"].nunique() == 292
    assert summary["records"] == cal.SPRSOUND_RECORDS and summary["events"] == cal.SPRSOUND_EVENTS
    assert summary["patients"] == cal.SPRSOUND_PATIENTS
    assert summary["event_seconds"] == cal.SPRSOUND_EVENT_SECONDS
    assert summary["age_quantiles"] == cal.SPRSOUND_AGE_QUANTILES
    assert summary["events_per_record"] == pytest.approx(cal.SPRSOUND_EVENTS_PER_RECORD)


@realdata
@pytest.mark.parametrize("size", ["default", "icbhi"])
def test_synthetic_icbhi_is_close_to_the_real_one(tmp_path: Path, size: str) -> None:
    make_synthetic(tmp_path / "c", "icbhi", size, seed=0, audio=False)
    d = stats.calibration_distances("icbhi", Path(REAL) / "icbhi" / "annotations", tmp_path / "c",
                                    Path(REAL) / "icbhi" / "official")
    assert max(d["class_tv"].values()) < 0.01 and d["split_tv"] < 0.01
    assert d["cycle_seconds"]["ks"] < 0.08 and d["cycle_seconds"]["wasserstein"] < 0.2
    assert d["age"]["ks"] < (0.15 if size == "icbhi" else 0.35)  # ~20 patients at the default size
    if size == "icbhi":
        assert d["class_tv"] == {"train": 0.0, "test": 0.0}


@realdata
@pytest.mark.parametrize("size", ["default", "icbhi"])
def test_synthetic_sprsound_is_close_to_the_real_one(tmp_path: Path, size: str) -> None:
    make_synthetic(tmp_path / "c", "sprsound", size, seed=0, audio=False)
    d = stats.calibration_distances("sprsound", Path(REAL) / "sprsound" / "annotations_2022", tmp_path / "c")
    assert max(d["event_tv"].values()) < 0.03 and max(d["record_tv"].values()) < 0.05
    assert d["event_seconds"]["ks"] < 0.06 and d["age"]["ks"] < 0.25


@pytest.mark.parametrize("flavor", ["icbhi", "sprsound"])
def test_statistics_of_a_synthetic_corpus_match_its_ground_truth(tmp_path: Path, flavor: str) -> None:
    """The data chapter reads synthetic and real corpora alike (annotation files only)."""
    corpus = make_synthetic(tmp_path / "c", flavor, "default", seed=1, audio=False)
    truth = corpus.truth
    if flavor == "icbhi":
        summary = stats.icbhi_summary(stats.icbhi_cycles(corpus.path))
        assert summary["cycles"] == truth["class_counts"]
        assert summary["shared_patients"] == truth["shared_patients"]
        assert summary["patients"] == truth["patients"] and sum(summary["recordings"].values()) == truth["recordings"]
    else:
        summary = stats.sprsound_summary(*stats.sprsound_annotations(corpus.path))
        assert summary["events"] == truth["class_counts"] and summary["records"] == truth["record_counts"]
        assert summary["age_quantiles"][-1] < 18
    assert make_synthetic(tmp_path / "c", flavor, 1000, seed=1, audio=False).truth == truth  # same corpus
