"""Snapshots of a real-data study run: what is kept, what is refused, reading back, checking, comparing."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_sprsound
from respcore.study import snapshot
from respcore.study.snapshot import MAX_FILE_BYTES, SNAPSHOT_FILE


def _notebook(out: Path, name: str, data: Path, *, real: bool = True, profile: str = "cpu", as_: float = 0.7) -> Path:
    folder = out / name
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"dataset": "sprsound", "data_root": str(data), "real_data": real,
                                                     "profile": {"name": profile}, "code_version": "abc1234"}))
    (folder / "summary.json").write_text(json.dumps({"dataset": "sprsound", "real_data": real, "AS": {"post": as_}}))
    pd.DataFrame({"placement": ["post", "input"], "AS_mean": [as_, 0.6]}).to_csv(folder / "table.csv", index=False)
    (folder / "figure.png").write_bytes(b"\x89PNG not kept")
    return folder


def test_snapshot_keeps_tables_and_provenance_not_figures(tmp_path):
    data = make_sprsound(tmp_path / "data")
    out = tmp_path / "results"
    _notebook(out, "02_tsa_placement", data)
    _notebook(out, "03_band_retention", data)
    dest = snapshot.write(out, tmp_path / "real" / "sprsound-cpu", command="test")
    assert sorted(p.name for p in (dest / "02_tsa_placement").iterdir()) == ["params.json", "summary.json", "table.csv"]
    assert snapshot.check(dest) == []
    meta, tables = snapshot.load(dest)
    assert meta["dataset"] == "sprsound" and meta["profile"]["name"] == "cpu" and meta["command"] == "test"
    assert meta["data_fingerprint"]["n_files"] == 10 and meta["provenance"]["torch"]  # 5 recordings, wav + json
    assert meta["notebooks"] == ["02_tsa_placement", "03_band_retention"]
    assert tables["02_tsa_placement"]["table"]["AS_mean"].tolist() == [0.7, 0.6]
    assert snapshot.snapshot_folders(tmp_path / "real") == [dest]
    assert snapshot.compare(dest, dest)["diff"].abs().max() == 0
    shutil.rmtree(dest / "03_band_retention")
    assert "03_band_retention: summary.json is missing" in snapshot.check(dest)
    with pytest.raises(ValueError, match="not a well-formed snapshot"):
        snapshot.load(dest)
    assert snapshot.check(tmp_path / "absent") == [f"{tmp_path / 'absent'}: no {SNAPSHOT_FILE}"]


def test_compare_lines_up_every_summary_number(tmp_path):
    data = make_sprsound(tmp_path / "data")
    a = snapshot.write(_notebook(tmp_path / "a", "02_tsa_placement", data).parent, tmp_path / "snap_a")
    b = snapshot.write(_notebook(tmp_path / "b", "02_tsa_placement", data, as_=0.75).parent, tmp_path / "snap_b")
    rows = snapshot.compare(a, b).set_index("key")
    assert rows.loc["AS.post", "diff"] == pytest.approx(0.05)
    assert snapshot.main(["check", str(a)]) == 0 and snapshot.main(["check", str(tmp_path)]) == 1


@pytest.mark.parametrize("case, match", [("synthetic", "synthetic corpus"), ("mixed", "different datasets"),
                                         ("big", "too large"), ("empty", "no notebook results")])
def test_snapshot_refuses_what_is_not_one_real_run(tmp_path, case, match):
    data = make_sprsound(tmp_path / "data")
    out = tmp_path / "results"
    out.mkdir()
    if case != "empty":
        folder = _notebook(out, "02_tsa_placement", data, real=case != "synthetic")
    if case == "mixed":
        _notebook(out, "03_band_retention", data, profile="paper")
    if case == "big":
        (folder / "huge.csv").write_text("x\n" * (MAX_FILE_BYTES // 2 + 1))
    with pytest.raises(ValueError, match=match):
        snapshot.write(out, tmp_path / "dest")
    assert not (tmp_path / "dest" / SNAPSHOT_FILE).exists()


def test_real_page_draws_the_open_questions_of_a_snapshot() -> None:
    from respcore.study.real import _figures

    gate = pd.DataFrame({"task": ["multiclass"] * 3, "budget": [32, 16, 32], "start": ["static IS", "static IS", "no prior"],
                         "static": [0.60, 0.55, 0.60], "gate": [0.61, 0.54, 0.50], "difference": [0.01, -0.01, -0.1],
                         "ci_low": [-0.02, -0.03, -0.15], "ci_high": [0.04, 0.01, -0.05], "pairs": [10, 10, 10]})
    curves = pd.DataFrame({"front": ["mel", "mel", "linear", "linear"], "n_bands": [64, 48, 64, 48],
                           "score_mean": [0.73, 0.74, 0.70, 0.71], "score_std": 0.01, "gmacs": 0.007, "best": False})
    kept = pd.DataFrame({"front": ["mel", "linear"], "n_kept": [48, 48], "low_hz": [50.0, 60.0], "high_hz": [900.0, 1000.0]})
    figures = _figures({"09_open_questions": {"gate_vs_static": gate, "front_curves": curves,
                                              "front_kept_ranges": kept}}, "REAL SPRSOUND, cpu profile")
    assert [name for name, _, _ in figures] == ["gate_vs_static", "front_curves", "front_kept_ranges"]
    assert figures[0][2] is gate, "the table beside the figure keeps the paired intervals"
    assert _figures({"09_open_questions": {"gate_vs_static": gate.iloc[:0]}}, "x") == [], "an empty table draws nothing"


def test_real_page_draws_page_7_of_a_snapshot() -> None:
    from respcore.study.real import _figures

    agreement = pd.DataFrame({"a": ["gradcam f0", "gradcam f0"], "b": ["gradcam f0", "ig f0"], "rho": [1.0, 0.3]})
    robustness = pd.DataFrame({"test_set": ["inter", "inter"], "condition": ["true age", "age missing"],
                               "AS": [0.57, 0.61], "routed": ["under 3 2, 3 to 6 1", "under 3 0, 3 to 6 0"],
                               "fallbacks": [0, 3], "n": [3, 3]})
    sweep = pd.DataFrame({"task": ["binary", "binary"], "lambda": [0.0, 1.0], "score": [0.89, 0.88],
                          "n_bands": [32, 48], "trainings": [40, 30]})
    figures = _figures({"07_beyond_paper": {"attribution_agreement": agreement, "age_robustness": robustness,
                                            "lambda_sweep": sweep, "band_recovery": pd.DataFrame()}}, "REAL SPRSOUND")
    assert [name for name, _, _ in figures] == ["attribution_agreement", "age_robustness", "lambda_sweep"]
    assert figures[1][2] is robustness, "the table beside the figure keeps the routing counts"
