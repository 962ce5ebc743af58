"""A study notebook on the job grid: the same tables with one worker (no Ray) or two (a local Ray
instance the runner starts and stops), and every training's node recorded."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from respcore.study import runner, synthetic_corpus  # noqa: E402
from respcore.train.grid import NODE_FILE  # noqa: E402


@pytest.mark.slow
def test_a_study_notebook_writes_the_same_tables_with_one_worker_or_two(tmp_path: Path) -> None:
    """Table I in the smoke profile: serially (no Ray) and on a local Ray instance of two workers,
    each with its own run cache so that both really train."""
    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("_*", ".*"))
    (tmp_path / "book").mkdir()
    corpus, _ = synthetic_corpus("smoke", root / "cache" / "synthetic")
    tables = {}
    for workers in (1, 2):
        cfg = runner.StudyConfig(profile="smoke", data_root=str(corpus), device="cpu", root=tmp_path,
                                 out_dir=f"out{workers}", cache_dir=f"cache{workers}", workers=workers,
                                 notebooks=("02_tsa_placement",), build_book=False)
        runner.run_study(cfg)
        assert not ray.is_initialized(), "the runner stops the Ray instance it started"
        tables[workers] = pd.read_csv(tmp_path / f"out{workers}" / "02_tsa_placement" / "table1_tsa_placement.csv")
        params = json.loads((tmp_path / f"out{workers}" / "02_tsa_placement" / "params.json").read_text())
        assert params["executor"] == ("SerialExecutor" if workers == 1 else "RayExecutor")
    pd.testing.assert_frame_equal(tables[1], tables[2])
    nodes = list((tmp_path / "cache2" / "runs").glob(f"*/{NODE_FILE}"))
    assert len(nodes) == tables[2]["trainings"].sum()  # every training of the grid says where it ran


@pytest.mark.slow
def test_two_notebooks_side_by_side_on_one_grid(tmp_path: Path) -> None:
    """``at_once=2``: two kernels share the runner's Ray instance, each with its own progress file; both
    pages finish and the runner logs each one's trainings."""
    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("_*", ".*"))
    (tmp_path / "book").mkdir()
    corpus, _ = synthetic_corpus("smoke", root / "cache" / "synthetic")
    cfg = runner.StudyConfig(profile="smoke", data_root=str(corpus), device="cpu", root=tmp_path, out_dir="out",
                             cache_dir="cache", workers=2, at_once=2, notebooks=("01_data", "02_tsa_placement"),
                             build_book=False)
    runner.run_study(cfg)
    assert not ray.is_initialized()
    for name in cfg.notebooks:
        assert (tmp_path / "book" / f"{name}.ipynb").is_file() and (tmp_path / "out" / name / "params.json").is_file()
    progress = json.loads((tmp_path / "cache" / "grid-progress-02_tsa_placement.json").read_text())
    assert progress["done"] == progress["total"] > 0
