"""Snapshots of a real-data study run: what is kept, what is refused, and reading it back."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from respcore.results_study import MAX_FILE_BYTES, STUDY_FILE, load_snapshot, snapshot


def _notebook(out: Path, name: str, *, real: bool = True, dataset: str = "icbhi", profile: str = "cpu") -> Path:
    folder = out / name
    folder.mkdir(parents=True)
    (folder / "params.json").write_text(json.dumps({"dataset": dataset, "real_data": real, "profile": {"name": profile},
                                                     "code_version": "abc1234"}))
    (folder / "summary.json").write_text(json.dumps({"dataset": dataset, "real_data": real}))
    pd.DataFrame({"placement": ["post", "input"], "AS_mean": [0.7, 0.6]}).to_csv(folder / "table.csv", index=False)
    (folder / "figure.png").write_bytes(b"\x89PNG not kept")
    return folder


def _data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    (root / "101_1b1_Al_sc_Meditron.txt").write_text("0.1\t1.2\t0\t0\n")
    return root


def test_snapshot_keeps_tables_and_provenance_not_figures(tmp_path):
    out = tmp_path / "results"
    _notebook(out, "02_tsa_placement")
    _notebook(out, "03_band_retention")
    dest = snapshot(out, tmp_path / "real" / "icbhi_study", data_root=_data(tmp_path), command="test")
    assert sorted(p.name for p in (dest / "02_tsa_placement").iterdir()) == ["params.json", "summary.json", "table.csv"]
    meta, tables = load_snapshot(dest)
    assert meta["dataset"] == "icbhi" and meta["profile"]["name"] == "cpu" and meta["command"] == "test"
    assert meta["data_fingerprint"]["n_files"] == 1 and meta["provenance"]["torch"]
    assert meta["notebooks"] == ["02_tsa_placement", "03_band_retention"]
    assert tables["02_tsa_placement"]["table"]["AS_mean"].tolist() == [0.7, 0.6]
    assert load_snapshot(tmp_path / "absent") is None
    shutil.rmtree(dest / "03_band_retention")
    with pytest.raises(ValueError, match="missing"):
        load_snapshot(dest)


@pytest.mark.parametrize("case, match", [("synthetic", "synthetic corpus"), ("mixed", "different datasets"),
                                         ("big", "too large"), ("empty", "no notebook results")])
def test_snapshot_refuses_what_is_not_one_real_run(tmp_path, case, match):
    out = tmp_path / "results"
    out.mkdir()
    if case != "empty":
        folder = _notebook(out, "02_tsa_placement", real=case != "synthetic")
    if case == "mixed":
        _notebook(out, "03_band_retention", profile="paper")
    if case == "big":
        (folder / "huge.csv").write_text("x\n" * (MAX_FILE_BYTES // 2 + 1))
    with pytest.raises(ValueError, match=match):
        snapshot(out, tmp_path / "dest", data_root=_data(tmp_path))
    assert not (tmp_path / "dest" / STUDY_FILE).exists()
