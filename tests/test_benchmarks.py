"""The benchmark script runs end to end in ``--quick`` mode and writes its table (no timing assertions)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# sections as they appear in the rows (the channels-last band scaling writes band_scaling rows)
SECTIONS = {"inference", "band_scaling", "gate", "speed_options", "train_options", "log_mel", "cache", "training", "memory", "fbs", "attributions"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--device", "cpu",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=REPO)
    return proc, out


def test_quick_run_succeeds_and_prints_table(quick_run):
    proc, _ = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "== band_scaling (cpu)" in proc.stdout and "time_ratio" in proc.stdout


def test_quick_run_writes_csv_and_json(quick_run):
    _, out = quick_run
    with (out / "quick.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["section"] for r in rows} == SECTIONS
    assert not [r for r in rows if r["metric"] == "error"]
    meta = json.loads((out / "quick.json").read_text())
    assert meta["settings"]["quick"] is True and meta["errors"] == [] and meta["complete"] is True
    machine = meta["machine"]
    for key in ("cpu_model", "cpu_count", "torch", "load_avg", "utc"):
        assert machine[key] not in (None, "", []), key
    assert len(meta["rows"]) == len(rows)
    # every timed figure is a positive number and carries the load average it was taken under
    timed = [r for r in rows if r["metric"] in ("latency", "throughput", "time")]
    assert timed and all(float(r["value"]) > 0 and r["load1"] != "" for r in timed)


def test_ratios_are_consistent_with_flops(quick_run):
    _, out = quick_run
    with (out / "quick.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["section"] == "band_scaling"]
    flops = {r["case"]: float(r["value"]) for r in rows if r["metric"] == "flops_ratio"}
    # removing bands removes convolution work: 32 of 64 bands costs about half the MACs
    assert flops["64 of 64 bands (default)"] == pytest.approx(1.0)
    assert 1.8 < flops["32 of 64 bands (default)"] < 2.1
    assert flops["16 of 64 bands (default)"] > flops["32 of 64 bands (default)"] > flops["48 of 64 bands (default)"]


def test_class_weights_probe_runs_on_the_sprsound_miniature(tmp_path: Path) -> None:
    """The real-data probe of class weights on the record-level tasks: both losses on the same folds, every
    set scored, and the paired difference of each set (smoke profile on the miniature of real files)."""
    import os
    mini = Path(os.environ.get("RESPCORE_REALDATA", "/nonexistent")) / "sprsound" / "sample"
    if not mini.is_dir():
        pytest.skip("RESPCORE_REALDATA has no sprsound/sample miniature")
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import class_weights
    finally:
        sys.path.pop(0)
    out = tmp_path / "cw.json"
    rows = class_weights.main(["--data-root", str(mini), "--profile", "smoke", "--tasks", "record_binary",
                               "--cache-dir", str(tmp_path / "cache"), "--workers", "1", "--out", str(out)])
    losses = [r for r in rows if r["loss"] in ("weighted", "unweighted")]
    assert [r["loss"] for r in losses] == ["weighted", "unweighted"] and losses[0]["task"] == "2-1"
    diffs = {r["set"]: r for r in rows if r["loss"] == "unweighted minus weighted"}
    assert set(diffs) == {"val", "inter", "intra"}
    for name, d in diffs.items():
        a, b = losses[1][f"{name}_Score_sprsound"], losses[0][f"{name}_Score_sprsound"]
        if d["pairs"] == losses[0]["pairs"]:  # no pair dropped: the mean of the differences is the difference of means
            assert d["difference"] == pytest.approx(a - b), name
        else:  # a set without a class group on some fold: its pairs are dropped, not scored as 0
            assert d["pairs"] < losses[0]["pairs"]
    saved = json.loads(out.read_text())
    assert saved["profile"] == "smoke" and len(saved["rows"]) == len(rows)
