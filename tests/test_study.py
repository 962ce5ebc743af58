"""The study's notebooks, runner and scorecard: fast checks (the end-to-end run is in test_book.py)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

from respcore import study as ex
from respcore.study import plots, published, runner, scorecard
from respcore.fileio import write_json

ROOT = Path(__file__).resolve().parents[1]
PARAMETERS = {"dataset", "data_root", "profile", "epochs", "folds", "seeds", "device", "out_dir", "cache_dir",
              "real_dir", "workers", "address"}


def _notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", runner.NOTEBOOKS)
def test_notebook_is_thin_and_parameterized(name: str) -> None:
    nb = _notebook(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], f"{name}: first code cell must be the only 'parameters' one"
    tree = ast.parse(tagged[0].source)
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant), \
            f"{name}: parameters must be flat literals, got {ast.dump(node)[:80]}"
        names |= {t.id for t in node.targets}
    assert names == PARAMETERS, f"{name}: parameters {sorted(names)}"
    imports = ast.parse(code[1].source).body
    assert imports and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in imports), f"{name}: imports first"
    for cell in code[2:]:
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, (ast.Import, ast.ImportFrom)), f"{name}: import outside the imports cell"
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), f"{name}: logic in a notebook"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), f"{name}: title first"
    assert "save_" in code[-1].source, f"{name}: the last cell must save its table or figure"
    assert f'ex.setup("{name}"' in "".join(c.source for c in code), f"{name}: results must go to results/{name}"


def test_committed_notebooks_match_their_generator() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_build_notebooks", ROOT / "notebooks" / "_build_notebooks.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert set(gen.NOTEBOOKS) == set(runner.NOTEBOOKS)
    for name, cells in gen.NOTEBOOKS.items():
        built = json.loads(nbformat.writes(gen.build(name, cells)))
        assert built == json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text()), \
            f"notebooks/{name}.ipynb is stale: run python notebooks/_build_notebooks.py"


def test_toc_lists_every_notebook_and_chapter() -> None:
    toc = (ROOT / "_toc.yml").read_text()
    for name in [*runner.NOTEBOOKS, "methods", "reproducibility", "references"]:
        assert f"file: {name}\n" in toc
    assert (ROOT / "book" / "_toc.yml").resolve() == (ROOT / "_toc.yml").resolve()
    assert not (ROOT / "book" / "_toc.yml").readlink().is_absolute(), "the symlink must be relative"
    assert 'execute_notebooks: "off"' in (ROOT / "_config.yml").read_text()


@pytest.mark.parametrize("kwargs, match", [
    ({"profile": "fast"}, "unknown profile"),
    ({"dataset": "icbhi"}, "needs --data-root"),
    ({"dataset": "esc50"}, "unknown dataset"),
    ({"device": "tpu"}, "unknown device"),
    ({"epochs": -1}, "epochs must be >= 0"),
    ({"workers": -2}, "workers must be >= 0"),
    ({"notebooks": ("99_nope",)}, "unknown notebooks"),
])
def test_study_config_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        runner.StudyConfig(**kwargs)


def test_cli_reports_a_missing_data_root(tmp_path: Path, capsys) -> None:
    rc = runner.main(["--dataset", "icbhi", "--data-root", str(tmp_path / "nowhere"), "--root", str(tmp_path)])
    assert rc == 1
    assert "nowhere is not a folder" in capsys.readouterr().err


def test_failed_notebook_fails_the_study_and_leaves_no_page(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('boom in ' + profile)")]
    nbformat.write(nb, tmp_path / "notebooks" / "01_data.ipynb")
    cfg = runner.StudyConfig(profile="smoke", root=tmp_path, notebooks=("01_data",))
    with pytest.raises(runner.StudyError, match="notebook 01_data failed"):
        runner.run_notebook("01_data", cfg, {"profile": "smoke"})
    assert not (tmp_path / "book" / "01_data.ipynb").exists(), "a failed notebook must not reach the book"
    failed = nbformat.read(tmp_path / "_build" / "failed" / "01_data.ipynb", as_version=4)
    assert "boom in smoke" in json.dumps(failed.cells[-1].outputs), "the injected parameter reached the kernel"


# -- scorecard: verdicts computed from summary files ---------------------------------------------------

def _summaries(tmp: Path, profile: str = "cpu", post: float = 0.60, block1: float = 0.55) -> Path:
    base = {"dataset": "synthetic", "real_data": False, "profile": profile}
    write_json(tmp / "02_tsa_placement" / "summary.json", {**base, "AS": {"post": post, "block1": block1,
               "input": 0.50, "none": 0.52}, "GFLOPs_paper_input": {"post": 2.475, "block1": 3.16}})
    write_json(tmp / "03_band_retention" / "summary.json", {**base, "curves": {
        "IS/binary": {"64": 0.70, "48": 0.74, "32": 0.71, "16": 0.60}},
        "flops_ratio": {"64": 1.0, "48": 0.75, "32": 0.5, "16": 0.25}, "score_std_64": 0.01})
    write_json(tmp / "04_age" / "summary.json", {**base, "AS_on_pediatric": {"pediatric": 0.66, "unified": 0.6}})
    write_json(tmp / "06_model_agnostic" / "summary.json", {**base, "score_full": 0.6, "score_fbs": 0.58,
                                                            "n_bands_fbs": 48})
    write_json(tmp / "07_beyond_paper" / "summary.json", {**base, "best_lambda": {"binary": 1.0, "multiclass": 0.5}})
    return tmp


def test_scorecard_has_a_row_per_claim_with_computed_verdicts(tmp_path: Path) -> None:
    card = scorecard.scorecard(_summaries(tmp_path)).set_index("key")
    assert list(card.index) == [c.key for c in published.CLAIMS]
    assert set(scorecard.RULES) == set(card.index)
    expected = {"tsa_ordering": "reproduced", "tsa_gflops": "reproduced", "fbs_peak": "reproduced",
                "fbs_flops_cut": "reproduced", "bands32_beat_64": "reproduced", "lambda_effect": "reproduced",
                "age_gain": "reproduced", "model_agnostic": "not reproduced"}
    assert card["verdict"].to_dict() == expected
    assert "48 bands" in card.loc["fbs_peak", "ours"]
    assert "50% fewer FLOPs at 32 bands" in card.loc["fbs_flops_cut", "ours"]
    assert card.loc["tsa_ordering", "data"] == "synthetic corpus, profile cpu"


def test_scorecard_verdicts_follow_the_results(tmp_path: Path) -> None:
    card = scorecard.scorecard(_summaries(tmp_path, post=0.50, block1=0.56)).set_index("key")
    assert card.loc["tsa_ordering", "verdict"] == "not reproduced"
    smoke = scorecard.scorecard(_summaries(tmp_path / "s", profile="smoke")).set_index("key")
    assert smoke.loc["tsa_ordering", "verdict"] == "not testable"
    assert smoke.loc["tsa_gflops", "verdict"] == "reproduced", "FLOPs do not depend on training"
    empty = scorecard.scorecard(tmp_path / "none")
    assert (empty["verdict"] == "not testable").all() and len(empty) == len(published.CLAIMS)


def test_scorecard_names_a_corrupt_summary(tmp_path: Path) -> None:
    (tmp_path / "04_age").mkdir()
    (tmp_path / "04_age" / "summary.json").write_text("{not json")
    with pytest.raises(ValueError, match="04_age/summary.json"):
        scorecard.scorecard(tmp_path)


def test_published_rows_cite_a_source() -> None:
    table = published.published_table()
    assert table["source"].str.len().gt(5).all()
    assert {"icbhi", "sprsound"} <= set(table["dataset"])
    with pytest.raises(ValueError, match="not 'esc50'"):
        published.published_table("esc50")


def test_study_api_imports_and_is_complete() -> None:
    missing = [n for n in ex.__all__ if not hasattr(ex, n)]
    assert not missing, f"respcore.study lacks {missing}"
    for name in ("tsa_ablation", "band_retention", "age_table", "sota_table", "model_agnostic", "lambda_sweep",
                 "band_recovery", "real_snapshots"):
        assert getattr(ex, name).__doc__, f"{name} needs a docstring"
    assert callable(plots.band_retention) and callable(plots.tsa_ablation)


def test_one_table_of_dataset_facts() -> None:
    assert ex.FACTS["sprsound"].tests == {"inter": "inter", "intra": "intra"}
    assert ex.FACTS["icbhi"].tests == {"test": "test"}
    assert ex.FACTS["sprsound"].select_metric == "Score_sprsound" and ex.FACTS["sprsound"].backbone == "cnn3"


def test_setup_writes_params_and_rejects_bad_parameters(tmp_path: Path) -> None:
    data = tmp_path / "corpus"
    data.mkdir()
    st = ex.setup("02_tsa_placement", dataset="icbhi", data_root=str(data), profile="smoke", epochs=3,
                   device="cpu", out_dir=str(tmp_path / "results"), cache_dir=str(tmp_path / "cache"))
    params = json.loads((tmp_path / "results" / "02_tsa_placement" / "params.json").read_text())
    assert params["profile"]["epochs"] == 3 and params["real_data"] is True and params["dataset"] == "icbhi"
    assert "REAL ICBHI" in st.header() and "SYNTHETIC" not in st.header()
    assert st.runs_dir == tmp_path / "cache" / "runs" and st.real_dir == (Path.cwd() / "results" / "real")
    with pytest.raises(ValueError, match="needs data_root"):
        ex.setup("04_age", dataset="sprsound", data_root="", profile="smoke")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ex.setup("04_age", dataset="icbhi", data_root=str(tmp_path / "nope"), profile="smoke")
    with pytest.raises(ValueError, match="unknown profile"):
        ex.setup("04_age", dataset="icbhi", data_root=str(data), profile="huge")


# -- real data: snapshots of study runs read by notebook 08 and the scorecard ---------------------------

def test_real_study_snapshot_feeds_the_real_verdicts(tmp_path):
    snap = tmp_path / "real" / "sprsound-cpu"
    (snap / "02_tsa_placement").mkdir(parents=True)
    (snap / "snapshot.json").write_text(json.dumps({"dataset": "sprsound", "notebooks": ["02_tsa_placement"]}))
    (snap / "02_tsa_placement" / "summary.json").write_text(json.dumps(
        {"dataset": "sprsound", "real_data": True, "profile": "cpu",
         "AS": {"post": 0.8, "block1": 0.7, "input": 0.6}, "GFLOPs_paper_input": {"post": 2.48, "block1": 3.17}}))
    got = scorecard.real_verdicts(tmp_path / "real")
    assert set(got) == {"tsa_ordering"}  # FLOPs counts are data-free; the other notebooks are not in it
    ours, data, verdict, why = got["tsa_ordering"]
    assert verdict == scorecard.REPRODUCED and "REAL sprsound, profile cpu" in data and "sprsound-cpu" in why
    card = scorecard.scorecard(tmp_path / "none", real=tmp_path / "real").set_index("key")
    assert card.loc["tsa_ordering", "verdict (real)"] == scorecard.REPRODUCED
    assert card.loc["fbs_peak", "verdict (real)"] == scorecard.NOT_TESTABLE
    assert (scorecard.scorecard(tmp_path / "none", real=None)["verdict (real)"] == scorecard.NOT_TESTABLE).all()


def test_age_claim_is_not_testable_when_an_age_group_has_no_model(tmp_path: Path) -> None:
    (tmp_path / "04_age").mkdir()
    (tmp_path / "04_age" / "summary.json").write_text(json.dumps(
        {"dataset": "sprsound", "real_data": True, "profile": "cpu",
         "AS_on_pediatric": {"pediatric": 0.61, "unified": 0.61, "routed": 0.61},
         "skipped": {"adult": "0 items from 0 patients"}, "why_not": "no adult model: 0 items from 0 patients"}))
    ours, data, verdict, why = scorecard.age_gain(scorecard.load_summaries(tmp_path))
    assert verdict == scorecard.NOT_TESTABLE and "no adult model" in why and "61.00 %" in ours


def test_sota_has_a_row_per_named_test_set_of_a_real_study_run(tmp_path: Path) -> None:
    from conftest import make_sprsound

    data = make_sprsound(tmp_path / "data")
    study = ex.setup("05_sota", dataset="sprsound", data_root=str(data), profile="cpu",
                     out_dir=str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    (tmp_path / "out" / "02_tsa_placement").mkdir()
    (tmp_path / "out" / "02_tsa_placement" / "summary.json").write_text(json.dumps(
        {"dataset": "sprsound", "real_data": True, "profile": "cpu", "backbone": "cnn3", "AS": {"post": 0.64},
         "tests": {"inter": {"AS": {"post": 0.52}, "score": {"post": 0.61}},
                   "intra": {"AS": {"post": 0.72}, "score": {"post": 0.80}}}}))
    table = ex.sota_table(study)
    assert table["label"].notna().all()
    ours = table[table["source_kind"] == "ours (real)"].set_index("test_set")
    assert ours.loc["inter", "Score"] == pytest.approx(61) and ours.loc["intra", "Score"] == pytest.approx(80)
    assert "CNN-TSA (ours) [1-2, inter]" in set(table["label"])
    plots.sota(table, study.data_label)  # a NaN label broke the figure once


def test_scorecard_flags_differences_within_the_noise_and_cnn3_flops(tmp_path: Path) -> None:
    (tmp_path / "03_band_retention").mkdir()
    (tmp_path / "03_band_retention" / "summary.json").write_text(json.dumps(
        {"dataset": "sprsound", "real_data": True, "profile": "cpu", "score_std_64": 0.03,
         "curves": {"IS/binary": {"64": 0.825, "48": 0.86, "32": 0.826}}, "flops_ratio": {"48": 0.75, "32": 0.5}}))
    (tmp_path / "02_tsa_placement").mkdir()
    (tmp_path / "02_tsa_placement" / "summary.json").write_text(json.dumps(
        {"dataset": "sprsound", "real_data": True, "profile": "cpu", "backbone": "cnn3",
         "AS": {"post": 0.6, "block1": 0.5, "input": 0.5}, "GFLOPs_paper_input": {"post": 1.66, "block1": 2.35}}))
    S = scorecard.load_summaries(tmp_path)
    _, _, verdict, why = scorecard.bands32_beat_64(S)
    assert verdict == scorecard.REPRODUCED and "weak evidence" in why and "+0.10 points" in why
    _, _, verdict, why = scorecard.fbs_peak(S)
    assert verdict == scorecard.REPRODUCED and "weak evidence" not in why  # 3.5 points > one std (3)
    _, _, verdict, why = scorecard.tsa_gflops(S)
    assert verdict == scorecard.NOT_TESTABLE and "cnn3" in why
