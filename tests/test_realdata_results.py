"""Real-data results: the committed files are well formed and carry their provenance; the real-data
driver runs end to end on the SPRSound miniature (RESPCORE_REALDATA) and reloads from its run cache."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from respcore.features import MelConfig
from respcore.provenance import data_fingerprint, environment
from respcore.realdata import RealPlan, fold_scores, run_sprsound, sprsound_data_files
from respcore.results_real import (KEYS, SCORES, check, compare, load, markdown_tables, sota_rows, summarize,
                                   write_tables)

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "results" / "real" / "sprsound"


def _sample() -> Path:
    root = os.environ.get("RESPCORE_REALDATA")
    if not root:
        pytest.skip("RESPCORE_REALDATA is unset: no real SPRSound miniature to run on")
    sample = Path(root) / "sprsound" / "sample"
    if not sample.is_dir():
        pytest.skip(f"{sample} does not exist")
    return sample


RESULT_DIRS = sorted(d.parent.name for d in COMMITTED.parent.glob("*/run.json")) if COMMITTED.parent.is_dir() else []


def test_the_main_real_results_are_committed():
    assert COMMITTED.is_dir(), f"{COMMITTED} is missing: the real-data results must be committed"


@pytest.mark.parametrize("name", RESULT_DIRS)
def test_committed_results_are_well_formed_with_provenance(name):
    folder = COMMITTED.parent / name
    assert check(folder) == []
    r = load(folder)
    run = r["run"]
    assert run["dataset"] == "sprsound" and len(run["provenance"]["git_commit"]) == 40
    assert run["data_fingerprint"]["n_files"] == 2 * 2683  # wav + json of every 2022 recording
    assert run["plan"]["mel"]["f_max"] <= 4000  # nothing above the Nyquist of the 8 kHz audio
    assert run["wall_seconds"] > 0 and run["trained_with"]
    # the class counts of the real release (shared/realdata/README.md)
    counts = r["counts"].set_index(["task", "split", "class"])["n"]
    if "1-1" in run["tasks_done"]:
        assert counts[("1-1", "train", "Normal")] == 5159 and counts[("1-1", "train", "Adventitious")] == 1497
    if "2-2" in run["tasks_done"]:
        assert counts[("2-2", "train", "Poor Quality")] == 177 and counts[("2-2", "inter", "CAS")] == 65
    assert set(r["summary"]["selection"]) == {"val", "best_epoch_on_test"}
    # patient-wise folds: no patient validates in two folds
    for task, folds in r["folds"].groupby("task"):
        assert not folds["patient"].duplicated().any(), f"task {task}: a patient is in two validation folds"


@pytest.mark.parametrize("name", RESULT_DIRS)
def test_readme_shows_exactly_the_committed_results(name):
    readme = (COMMITTED.parent / "README.md").read_text()
    tables = markdown_tables(COMMITTED.parent / name)
    assert tables["results"] in readme, "results/real/README.md is stale: paste markdown_tables(...)['results']"
    assert tables["run"] in readme, "results/real/README.md is stale: paste markdown_tables(...)['run']"


def test_summary_is_mean_and_std_over_runs():
    scores = pd.DataFrame([
        {"task": "1-1", "model": "m", "test_set": "inter", "selection": "val", "fold": f, "seed": 0, "epoch": 1,
         **{s: v for s in SCORES}} for f, v in enumerate([40.0, 60.0])])
    out = summarize(scores)
    assert len(out) == 1 and out.loc[0, "n_runs"] == 2
    assert out.loc[0, "AS_mean"] == 50.0 and out.loc[0, "AS_std"] == pytest.approx(14.14, abs=0.01)
    assert np.isnan(summarize(scores.iloc[:1]).loc[0, "Score_std"])  # one run: no spread claimed


def test_fold_scores_select_on_validation_and_label_test_selection():
    metrics = ("Sp", "Se", "AS", "HS", "Score_sprsound")
    hist = pd.DataFrame([
        {"epoch": 1, **{f"val_{m}": 0.9 for m in metrics}, **{f"inter_{m}": 0.5 for m in metrics},
         **{f"intra_{m}": 0.7 for m in metrics}},
        {"epoch": 2, **{f"val_{m}": 0.6 for m in metrics}, **{f"inter_{m}": 0.8 for m in metrics},
         **{f"intra_{m}": 0.6 for m in metrics}},
    ])
    rows = {(r["test_set"], r["selection"]): r for r in fold_scores(hist, "Score_sprsound")}
    assert rows[("inter", "val")]["epoch"] == 1 and rows[("inter", "val")]["Score"] == 50.0
    assert rows[("inter", "best_epoch_on_test")]["epoch"] == 2 and rows[("inter", "best_epoch_on_test")]["AS"] == 80.0
    assert rows[("intra", "best_epoch_on_test")]["epoch"] == 1
    hist.loc[0, "val_Score_sprsound"] = np.nan  # a degenerate validation fold never wins
    assert {r["epoch"] for r in fold_scores(hist, "Score_sprsound") if r["selection"] == "val"} == {2}


def test_data_fingerprint_uses_names_and_sizes_not_times(tmp_path):
    for name, text in (("a.wav", "12"), ("b.json", "345")):
        (tmp_path / name).write_text(text)
    files = sorted(tmp_path.iterdir())
    first = data_fingerprint(files, tmp_path)
    os.utime(files[0], (1, 1))
    assert data_fingerprint(files, tmp_path) == first and first["n_files"] == 2 and first["total_bytes"] == 5
    (tmp_path / "a.wav").write_text("123")
    assert data_fingerprint(files, tmp_path)["sha1"] != first["sha1"]
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        data_fingerprint([tmp_path / "missing.wav"], tmp_path)
    assert environment()["source_sha1"]


def test_plan_rejects_mel_above_4khz_and_bad_folds():
    with pytest.raises(ValueError, match="Nyquist"):
        RealPlan(mel=MelConfig(f_max=6000.0))
    with pytest.raises(ValueError, match="folds"):
        RealPlan(folds=3, folds_run=4)
    with pytest.raises(ValueError, match="unknown SPRSound tasks"):
        RealPlan(tasks=("3-1",))
    with pytest.raises(FileNotFoundError, match="train_wav"):
        sprsound_data_files(Path(__file__).parent)


@pytest.mark.realdata
def test_miniature_runs_end_to_end_and_reloads_from_cache(tmp_path):
    sample = _sample()
    plan = RealPlan.from_profile("smoke", tasks=("1-1", "2-2"), epochs=1, folds_run=1)
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = run_sprsound(sample, out, plan, cache_dir=cache, command="test")
    assert check(out) == []
    run = json.loads((out / "run.json").read_text())
    assert run["complete"] and run["tasks"]["1-1"]["trained_now"] == plan.folds_run
    assert run["data_fingerprint"]["n_files"] == 18  # 9 recordings: wav + json
    assert set(first["test_set"]) == {"inter", "intra"} and set(first["selection"]) == {"val", "best_epoch_on_test"}
    # second run: every fold comes from the run cache, with the same numbers
    shutil.rmtree(out)
    again = run_sprsound(sample, out, plan, cache_dir=cache, command="test")
    assert json.loads((out / "run.json").read_text())["tasks"]["1-1"]["trained_now"] == 0
    pd.testing.assert_frame_equal(first, again)
    assert list(load(out)["summary"][list(KEYS)].itertuples(index=False)) == \
        list(summarize(first)[list(KEYS)].itertuples(index=False))


def _fake_results(folder: Path, values: list[float], sha1: str = "abc") -> None:
    scores = pd.DataFrame([
        {"task": "1-1", "model": "m", "test_set": t, "selection": sel, "fold": f, "seed": 0, "epoch": 1,
         **{s: v for s in SCORES}}
        for t in ("inter", "intra") for sel in ("val", "best_epoch_on_test") for f, v in enumerate(values)])
    plan = {"profile": "cpu", "tasks": ["1-1"], "folds": 3, "folds_run": len(values), "seeds": [0], "epochs": 2,
            "backbone": "cnn3", "tsa": "post", "mel": {"f_max": 2000.0}}
    meta = {"dataset": "sprsound", "plan": plan, "train_config": {}, "data_fingerprint": {"sha1": sha1, "n_files": 4},
            "provenance": {"git_commit": "0" * 40}, "wall_seconds": 1.0, "train_seconds_total": 1.0, "tasks": {"1-1": {}}, "tasks_done": ["1-1"],
            "trained_with": [{}], "fold_source": "x", "started_utc": "", "finished_utc": "", "complete": True,
            "protocol": "", "command": ""}
    empty = pd.DataFrame({"task": ["1-1"]})
    write_tables(folder, scores, summarize(scores), empty, empty, empty, meta)


def test_check_catches_tampered_results_and_compare_measures_differences(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _fake_results(a, [40.0, 60.0])
    _fake_results(b, [50.0, 70.0])
    assert check(a) == []
    sota = sota_rows(a)
    assert len(sota) == 4 and (sota["Score"] == 50.0).all() and set(sota["source_kind"]) == {"ours (real)"}
    assert sota["caveat"].str.contains("test set").all()
    diff = compare(a, b)
    assert (diff["diff"] == 10.0).all() and diff["within"].all()  # 10 points <= 2 x 14.14
    summary = pd.read_csv(a / "summary.csv")
    summary.loc[0, "AS_mean"] = 99.0  # a summary that no longer matches its runs
    summary.to_csv(a / "summary.csv", index=False)
    assert any("AS_mean" in p for p in check(a))
    run = json.loads((b / "run.json").read_text())
    del run["provenance"]["git_commit"]
    (b / "run.json").write_text(json.dumps(run))
    assert "run.json provenance has no git commit" in check(b)
    _fake_results(b, [50.0, 70.0], sha1="other")
    with pytest.raises(ValueError, match="fingerprints differ"):
        compare(a, b)


@pytest.mark.realdata
def test_band_maps_of_real_classes_on_the_miniature(tmp_path):
    from respcore.realdata_maps import MAP_COLUMNS, load_maps, peak_bands, run_maps

    out = run_maps(_sample(), tmp_path / "maps", profile="smoke", folds=2, cache_dir=tmp_path / "cache",
                   command="test", progress=False)
    maps, meta = load_maps(out)
    assert list(maps.columns) == MAP_COLUMNS and set(maps["method"]) == {"gradcam", "ig"}
    sums = maps.groupby(["method", "class"])["importance"].sum()
    assert np.allclose(sums, 1.0, atol=1e-4)
    assert set(maps["class"]) <= set(meta["classes"]) and maps["f_hi_hz"].max() <= 4000
    assert meta["plan"]["attributed_on"].startswith("validation") and meta["data_fingerprint"]["n_files"] == 18
    assert meta["n_val"] > 0 and meta["provenance"]["torch"]
    peaks = peak_bands(maps, top=4)
    assert (peaks["share"] > 0).all() and peaks["top_bands"].map(len).eq(4).all()
    assert load_maps(tmp_path / "nowhere") is None


def test_a_source_copy_without_git_names_its_commit_from_the_environment(tmp_path, monkeypatch):
    from respcore import provenance

    monkeypatch.setenv(provenance.COMMIT_ENV, "f" * 40)
    assert provenance.git_commit(tmp_path) == ("f" * 40, None)  # tmp_path is no git checkout
    monkeypatch.delenv(provenance.COMMIT_ENV)
    provenance.git_commit.cache_clear()
    assert provenance.git_commit(tmp_path) == (None, None)
