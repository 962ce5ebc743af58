"""The study's notebooks, runner and scorecard: fast checks (the end-to-end run is in test_book.py)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from respcore import study as ex
from respcore.study import pages, plots, published, runner, scorecard
from respcore.fileio import write_json

ROOT = Path(__file__).resolve().parents[1]
PARAMETERS = {"dataset", "data_root", "profile", "epochs", "folds", "seeds", "device", "out_dir", "cache_dir",
              "real_dir", "workers", "address"}
NOTEBOOK_PARAMETERS = {"09_open_questions": {"questions", "static_from"}}  # only that notebook takes them


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
    assert names == PARAMETERS | NOTEBOOK_PARAMETERS.get(name, set()), f"{name}: parameters {sorted(names)}"
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
    ({"questions": "age"}, "questions must be 'both' or one of"),
    ({"static_from": "/nowhere/03_band_retention"}, "is not a folder"),
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
    with pytest.raises(pages.StudyError, match="notebook 01_data failed"):
        pages.run_notebook("01_data", root=tmp_path, cache_dir=tmp_path / "cache", params={"profile": "smoke"})
    assert not (tmp_path / "book" / "01_data.ipynb").exists(), "a failed notebook must not reach the book"
    failed = nbformat.read(tmp_path / "_build" / "failed" / "01_data.ipynb", as_version=4)
    assert "boom in smoke" in json.dumps(failed.cells[-1].outputs), "the injected parameter reached the kernel"


# -- scorecard: verdicts computed from summary files ---------------------------------------------------

def _pair(a: float, b: float, n: int = 10, spread: float = 0.01, a_label: str = "a", b_label: str = "b") -> dict:
    """A saved comparison whose differences are a - b +- spread (alternating)."""
    wobble = [spread * (1 if i % 2 else -1) for i in range(n)]
    return {"a_label": a_label, "b_label": b_label, "metric": "test_Score_icbhi",
            "a": [a + w for w in wobble], "b": [b] * n}


def _summaries(tmp: Path, profile: str = "cpu", post: float = 0.60, block1: float = 0.55,
               dataset: str = "synthetic") -> Path:
    base = {"dataset": dataset, "real_data": dataset != "synthetic", "profile": profile, "pairs_test_set": "test"}
    write_json(tmp / "02_tsa_placement" / "summary.json", {**base, "AS": {"post": post, "block1": block1},
               "GFLOPs_paper_input": {"post": 2.475, "block1": 3.16},
               "pairs": {"post_vs_block1": _pair(post, block1), "post_vs_input": _pair(post, 0.50)}})
    write_json(tmp / "03_band_retention" / "summary.json", {**base, "flops_ratio": {"64": 1.0, "48": 0.75, "32": 0.5},
               "pairs": {"peak_vs_all/binary": _pair(0.74, 0.70, a_label="IS 48 bands"),
                         "half_vs_all/binary": _pair(0.71, 0.70, spread=0.03)}})
    write_json(tmp / "04_age" / "summary.json", {**base, "bands": ["pediatric", "adult"], "pairs_subset": "pediatric",
               "pairs": {"routed_vs_unified": _pair(0.66, 0.60)}})
    write_json(tmp / "06_model_agnostic" / "summary.json", {**base, "pairs": {"fbs_vs_all": _pair(0.58, 0.60)}})
    write_json(tmp / "07_beyond_paper" / "summary.json", {**base, "pairs": {
        "lambda/binary": _pair(0.7, 0.65), "lambda/multiclass": _pair(0.5, 0.5, spread=0.02)}})
    return tmp


def test_scorecard_has_a_row_per_claim_with_verdicts_from_paired_intervals(tmp_path: Path) -> None:
    card = scorecard.scorecard(_summaries(tmp_path)).set_index("key")
    assert list(card.index) == [c.key for c in published.CLAIMS]
    assert set(scorecard.RULES) == set(card.index)
    expected = {"tsa_ordering": "reproduced", "tsa_gflops": "reproduced", "fbs_peak": "reproduced",
                "fbs_flops_cut": "undecided",  # 32 bands: +1 point with a spread of 3, the interval reaches -1
                "bands32_beat_64": "undecided",  # +1 point with a spread of 3: the interval holds 0
                "lambda_effect": "undecided",  # binary reproduced, multiclass undecided
                "age_gain": "reproduced", "model_agnostic": "contradicted"}
    assert card["built-in corpus verdict"].to_dict() == expected
    assert "IS 48 bands" in card.loc["fbs_peak", "built-in corpus"]
    assert "n=10" in card.loc["tsa_ordering", "built-in corpus"] and "+5.0 pts" in card.loc["tsa_ordering", "built-in corpus"]
    assert "50% fewer FLOPs at 32 bands" in card.loc["fbs_flops_cut", "built-in corpus"]
    assert (card["SPRSound verdict"] == "not testable").all(), "no SPRSound run: nothing judged there"
    html = scorecard.styled(card.reset_index()).to_html()
    assert "reproduced: " in html and "#fff3cd" in html  # undecided cells are amber, never green


def test_scorecard_verdicts_follow_the_results(tmp_path: Path) -> None:
    card = scorecard.scorecard(_summaries(tmp_path, post=0.50, block1=0.56)).set_index("key")
    assert card.loc["tsa_ordering", "built-in corpus verdict"] == "contradicted"
    smoke = scorecard.scorecard(_summaries(tmp_path / "s", profile="smoke")).set_index("key")
    assert smoke.loc["tsa_ordering", "built-in corpus verdict"] == "not testable"
    assert smoke.loc["tsa_gflops", "built-in corpus verdict"] == "reproduced", "FLOPs do not depend on training"
    empty = scorecard.scorecard(tmp_path / "none")
    assert len(empty) == len(published.CLAIMS)
    assert all((empty[f"{src} verdict"] == "not testable").all() for src in scorecard.SOURCES.values())


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
                 "is_variants", "band_recovery", "real_snapshots"):
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

def test_real_study_snapshot_fills_its_own_column(tmp_path):
    snap = tmp_path / "real" / "sprsound-cpu"
    _summaries(snap, dataset="sprsound")
    (snap / "snapshot.json").write_text(json.dumps({"dataset": "sprsound", "notebooks": ["02_tsa_placement"]}))
    card = scorecard.scorecard(tmp_path / "none", real=tmp_path / "real").set_index("key")
    assert card.loc["tsa_ordering", "SPRSound verdict"] == "reproduced"
    assert "snapshot sprsound-cpu" in card.loc["tsa_ordering", "SPRSound why"]
    assert card.loc["tsa_ordering", "built-in corpus verdict"] == "not testable"
    assert (scorecard.scorecard(tmp_path / "none", real=None)["SPRSound verdict"] == "not testable").all()


def test_age_claim_is_not_testable_without_router_pairs(tmp_path: Path) -> None:
    (tmp_path / "04_age").mkdir()
    (tmp_path / "04_age" / "summary.json").write_text(json.dumps(
        {"dataset": "sprsound", "real_data": True, "profile": "cpu", "pairs": {},
         "skipped": {"under 3": "3 items from 2 patients"}, "why_not": "no all items in the inter test set"}))
    cell = scorecard.age_gain(scorecard.load_summaries(tmp_path))
    assert cell.verdict == scorecard.NOT_TESTABLE and "no all items" in cell.why


def test_sota_has_baseline_and_ours_per_task_and_named_test_set(tmp_path: Path) -> None:
    from conftest import make_sprsound

    data = make_sprsound(tmp_path / "data")
    study = ex.setup("05_sota", dataset="sprsound", data_root=str(data), profile="cpu",
                     out_dir=str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    assert study.profile.seeds == 2 and study.profile.folds == 5, "real data: 10 pairs in the cpu profile"
    headline = pd.DataFrame([
        {"task": "1-2", "test_set": t, "n": 10, "baseline": b, "cnn_tsa": c, "cnn_tsa_std": 0.01, "margin": c - b,
         "margin_low": c - b - 0.02, "margin_high": c - b + 0.02, "pairs": 10, "fbs": f, "fbs_bands": 48,
         "fbs_gmacs": 0.3, "gmacs": 0.4, "published": 0.8448, "published_method": "x"}
        for t, b, c, f in (("inter", 0.44, 0.61, 0.63), ("intra", 0.36, 0.80, None))])
    table = ex.sota_table(study, headline)
    assert table["label"].notna().all()
    ours = table[table["source_kind"] == "ours (real)"]
    got = {(m, t): s for m, t, s in zip(ours["method"], ours["test_set"], ours["Score"])}
    assert got[("CNN-TSA (ours)", "inter")] == pytest.approx(61) and got[("CNN-TSA (ours)", "intra")] == pytest.approx(80)
    assert got[("challenge baseline (ours)", "intra")] == pytest.approx(36)
    assert ("CNN-TSA + FBS (ours)", "intra") not in got and got[("CNN-TSA + FBS (ours)", "inter")] == pytest.approx(63)
    assert "CNN-TSA (ours) [1-2, inter]" in set(table["label"])
    view = ex.headline_view(headline)
    assert view.loc[0, "CNN-TSA - baseline [95 % CI]"] == "+17.0 [+15.0, +19.0]"
    assert view["beats the baseline"].tolist() == ["yes", "yes"]
    behind = headline.assign(margin=[-0.024, -0.004], margin_low=[-0.047, -0.033], margin_high=[-0.001, 0.025])
    assert ex.headline_view(behind)["beats the baseline"].tolist() == ["no", "undecided"]
    assert view.loc[1, "CNN-TSA+FBS"] == "-" and "48 bands" in view.loc[0, "CNN-TSA+FBS"]
    assert view.loc[0, "training recipe"] == "-"  # event-level: no recipe to choose
    record = headline.assign(crop_s=8.0, start="events", val_by_recipe=[{"2 s": 0.5, "8 s, from events": 0.61}] * 2)
    assert ex.headline_view(record).loc[0, "training recipe"] == "8 s, from events (validation: 2 s 50.0; 8 s, from events 61.0)"
    plain = headline.assign(crop_s=8.0, start="scratch", weighted=False, val_by_recipe=[{"8 s, unweighted": 0.6}] * 2)
    assert ex.headline_view(plain).loc[0, "training recipe"] == "8 s, unweighted (validation: 8 s, unweighted 60.0)"
    plots.sota(table, study.data_label)  # a NaN label broke the figure once
    assert ex.rates_view(headline).loc[0, "CNN-TSA Sp"] == "-", "a headline saved before the rates existed"
    assert view.loc[0, "published (best cited)"] == "84.5 (x)", "a headline saved before the published test set"
    named = ex.headline_view(headline.assign(published_test_set="2022 test, inter / intra not stated"))
    assert named.loc[0, "published (best cited)"] == "84.5 (x; 2022 test, inter / intra not stated)"
    spr = published.published_table("sprsound")
    assert (spr["test_set"] != "").all(), "every SPRSound figure says which test set it is on, or that it does not"
    assert set(table[table["source_kind"] == "published"]["test_set"].dropna()) == set(spr["test_set"])


def test_rates_view_reads_each_models_rates_per_scored_set() -> None:
    from respcore.study.headline import _rates

    runs = pd.DataFrame({"val_Sp": [0.8, 0.7], "val_Se": [0.6, 0.7], "inter_Sp": [0.5, 0.4], "inter_Se": [0.9, 0.8]})
    assert _rates(runs, "val") == pytest.approx({"val_sp": 0.75, "val_se": 0.65})
    assert _rates(runs, "inter", "cnn") == pytest.approx({"cnn_sp": 0.45, "cnn_se": 0.85})
    assert all(np.isnan(v) for v in _rates(runs, "intra", "cnn").values()), "a set the runs were not scored on"
    row = {"task": "2-1", "test_set": "inter", "baseline_sp": 0.88, "baseline_se": 0.31,
           **_rates(runs, "inter", "cnn"), **_rates(runs, "val")}
    view = ex.rates_view(pd.DataFrame([row]))
    assert view.iloc[0].tolist() == ["2-1", "inter", "88.0", "31.0", "45.0", "85.0", "75.0", "65.0"]


def test_scorecard_cnn3_flops_are_not_table_one(tmp_path: Path) -> None:
    (tmp_path / "02_tsa_placement").mkdir()
    (tmp_path / "02_tsa_placement" / "summary.json").write_text(json.dumps(
        {"dataset": "sprsound", "real_data": True, "profile": "cpu", "backbone": "cnn3",
         "GFLOPs_paper_input": {"post": 1.66, "block1": 2.35}}))
    cell = scorecard.tsa_gflops(scorecard.load_summaries(tmp_path))
    assert cell.verdict == scorecard.NOT_TESTABLE and "cnn3" in cell.why


def test_each_claim_reads_the_newest_snapshot_that_can_judge_it(tmp_path: Path) -> None:
    old, new = tmp_path / "real" / "a-old", tmp_path / "real" / "b-new"
    _summaries(old, dataset="sprsound", post=0.50, block1=0.60)  # old: every notebook, Table I contradicted
    (new / "02_tsa_placement").mkdir(parents=True)
    write_json(new / "02_tsa_placement" / "summary.json",
               json.loads((old / "02_tsa_placement" / "summary.json").read_text()) | {"pairs": {
                   "post_vs_block1": _pair(0.7, 0.6), "post_vs_input": _pair(0.7, 0.5)}})
    for folder, utc in ((old, "2026-11-01T00:00:00Z"), (new, "2026-12-01T00:00:00Z")):
        (folder / "snapshot.json").write_text(json.dumps({"dataset": "sprsound", "snapshot_utc": utc}))
    card = scorecard.scorecard(tmp_path / "none", real=tmp_path / "real").set_index("key")
    assert card.loc["tsa_ordering", "SPRSound verdict"] == "reproduced"  # the newer snapshot wins
    assert "snapshot b-new" in card.loc["tsa_ordering", "SPRSound why"]
    assert "snapshot a-old" in card.loc["age_gain", "SPRSound why"]  # not in the newer one: the older judges


def test_record_recipe_is_chosen_on_validation_never_on_test() -> None:
    from types import SimpleNamespace

    from respcore.study.headline import FROM_EVENTS, Recipe, _choose_on_validation
    cv = lambda val, test: SimpleNamespace(runs=pd.DataFrame({"val_S": val, "inter_S": test}))
    two, eight, tuned = Recipe(2.0), Recipe(8.0), Recipe(8.0, FROM_EVENTS)
    cvs = {two: cv([0.60, 0.70], [0.9, 0.9]), eight: cv([0.66, 0.68], [0.1, 0.1]), tuned: cv([0.6, 0.6], [1, 1])}
    assert _choose_on_validation(cvs, "S") == (eight, {two: pytest.approx(0.65), eight: pytest.approx(0.67),
                                                       tuned: pytest.approx(0.6)})
    tie = {two: cv([0.5], [0.0]), eight: cv([0.5], [1.0])}
    assert _choose_on_validation(tie, "S")[0] == two, "a tie keeps the shorter, cheaper crop"
    tie = {tuned: cv([0.5], [1.0]), eight: cv([0.5], [0.0])}
    assert _choose_on_validation(tie, "S")[0] == eight, "then the model from scratch"
    assert tuned.label() == "8 s, from events" and two.label() == "2 s"
    plain = Recipe(8.0, weighted=False)
    assert plain.label() == "8 s, unweighted"
    assert _choose_on_validation({plain: cv([0.7], [0.0]), eight: cv([0.6], [1.0])}, "S")[0] == plain
    assert _choose_on_validation({plain: cv([0.5], [1.0]), eight: cv([0.5], [0.0])}, "S")[0] == eight, \
        "a tie keeps the class weights, the study's default"


def test_record_level_tasks_offer_every_recipe_and_event_tasks_one(spr_root: Path, tmp_path: Path) -> None:
    from respcore.study.headline import FROM_EVENTS, Recipe, cnn_tsa_configs
    study = ex.setup("05_sota", dataset="sprsound", data_root=str(spr_root), profile="smoke", device="cpu",
                     out_dir=str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    record = cnn_tsa_configs(study, ex.load_data(study, "record_multiclass"))
    frames = {s: study.profile.mel(cycle_seconds=s).n_frames for s in (study.profile.cycle_seconds, 8.0)}
    assert sorted(r.label() for r in record) == sorted([f"{study.profile.cycle_seconds:g} s", "8 s",
                                                        "8 s, from events", "8 s, unweighted",
                                                        "8 s, unweighted, from events"])
    assert {r: (c.crop_frames, c.class_weighted) for r, c in record.items()} == {
        Recipe(float(study.profile.cycle_seconds)): (frames[study.profile.cycle_seconds], True),
        Recipe(8.0): (frames[8.0], True), Recipe(8.0, FROM_EVENTS): (frames[8.0], True),
        Recipe(8.0, weighted=False): (frames[8.0], False), Recipe(8.0, FROM_EVENTS, False): (frames[8.0], False)}
    events = cnn_tsa_configs(study, ex.load_data(study, "multiclass"))
    assert list(events) == [Recipe()] and events[Recipe()].class_weighted and not events[Recipe()].crop_frames


def test_where_items_go_matches_the_fold_models_scores(tmp_path: Path) -> None:
    from planted import planted_featureset
    from respcore.study.config import FACTS
    from respcore.study.headline import CONFUSION_COLUMNS, where_items_go
    from respcore.train import TrainConfig, cross_validate

    data = planted_featureset(96)
    train, test = data.subset(np.arange(64)), data.subset(np.arange(64, 96))
    cfg = TrainConfig(backbone="cnn6", width=0.125, epochs=2, batch_size=16, device="cpu", num_threads=1)
    cv = cross_validate(train, cfg, k=2, tests={"inter": test}, root=tmp_path / "runs", progress=False)
    rows = pd.DataFrame(where_items_go(cv, test))
    assert rows.groupby("true")["share"].sum().to_numpy() == pytest.approx(1.0), "each true class's row sums to 1"
    normal = test.classes[0]
    kept = rows[(rows["true"] == normal) & (rows["predicted"] == normal)]["share"].item()
    assert kept == pytest.approx(cv.runs["inter_Sp"].mean()), "scored as the fold models' own test scores"
    assert rows.groupby("true")["n_true"].first().sum() == len(test)
    # on their validation folds: out-of-fold predictions, every training item once, scored as val_Sp was
    from respcore.study.headline import validation_sets
    val = pd.DataFrame(where_items_go(cv, validation_sets(cv, train)))
    assert val.groupby("true")["n_true"].first().sum() == len(train)
    per_model = [pd.DataFrame(where_items_go(_one(cv, j), s)) for j, s in enumerate(validation_sets(cv, train))]
    assert [p[(p["true"] == normal) & (p["predicted"] == normal)]["share"].item() for p in per_model] == \
        pytest.approx(cv.runs["val_Sp"].tolist()), "each fold model on the fold it was chosen on"
    # the view: a table per task; on SPRSound only the record-level tasks
    spr = FACTS["sprsound"]
    long = pd.concat([rows.assign(task=t, test_set="inter") for t in ("1-2", "2-1")])[CONFUSION_COLUMNS]
    long.to_csv(tmp_path / "headline_confusion.csv", index=False)
    tables = ex.confusion_view(tmp_path, spr)
    assert [t["task"].unique().tolist() for t in tables] == [["2-1"]]
    assert tables[0][list(test.classes)].sum(axis=1).to_numpy() == pytest.approx(100.0, abs=0.2)
    assert ex.confusion_view(tmp_path / "missing", spr) == []


def test_peak_pair_tests_the_best_round_below_all_bands_when_validation_kept_all() -> None:
    from respcore.fbs import BandSelection
    from respcore.study.pairs import selection_pairs
    from respcore.train import TrainConfig

    def round_(r: int, n: int, val: float, test: list[float]) -> dict:
        return {"round": r, "n_bands": n, "bands": list(range(n)), "val": {"AS": val}, "val_std": {"AS": 0.01},
                "runs": [{"fold": f, "seed": 0, "val_AS": val, "test_AS": t} for f, t in enumerate(test)]}

    traj = [round_(0, 64, 0.80, [0.70, 0.72, 0.71]), round_(1, 48, 0.78, [0.75, 0.74, 0.76]),
            round_(2, 32, 0.79, [0.60, 0.61, 0.62]), round_(3, 16, 0.70, [0.50, 0.52, 0.51])]
    kept_all = BandSelection("IS", tuple(range(64)), traj, {}, TrainConfig(), {"best_round": 0, "select_metric": "AS"})
    pairs = selection_pairs(kept_all, "test_AS", "binary")
    peak = pairs["peak_vs_all/binary"]
    assert peak["a"] == [0.60, 0.61, 0.62], "32 bands: the best round below 64 on validation, not on the test set"
    assert peak["a_label"].startswith("IS 32 bands") and "kept all 64" in peak["a_label"]
    assert pairs["half_vs_all/binary"]["a"] == [0.60, 0.61, 0.62]
    kept_48 = BandSelection("IS", tuple(range(48)), traj, {}, TrainConfig(), {"best_round": 1, "select_metric": "AS"})
    assert selection_pairs(kept_48, "test_AS", "binary")["peak_vs_all/binary"]["a_label"] == "IS 48 bands"


def _one(cv, j: int):
    """The cross-validation ``cv`` cut down to its j-th fold model."""
    from dataclasses import replace as _replace

    return _replace(cv, runs=cv.runs.iloc[[j]].reset_index(drop=True), fits=[cv.fits[j]])


def test_open_questions_are_answered_one_per_sitting_and_only_09_takes_them(tmp_path: Path) -> None:
    assert ex.open_questions("both") == ("gate", "fronts") and ex.open_questions("fronts") == ("fronts",)
    cfg = runner.StudyConfig(questions="gate", static_from=str(tmp_path), root=tmp_path)
    params = cfg.parameters("data")
    assert cfg.notebook_parameters("02_tsa_placement", params) == params
    assert cfg.notebook_parameters("09_open_questions", params) == {**params, "questions": "gate",
                                                                    "static_from": str(tmp_path)}


def test_a_saved_is_selection_is_reused_only_for_the_same_settings_and_data(spr_root: Path, tmp_path: Path) -> None:
    """Notebook 09 may build on notebook 03's saved selection instead of rerunning it, but only where
    ``is_selection`` would have made the same one: same settings and lambda, same data."""
    from respcore.fbs import BandSelection
    from respcore.provenance import release_fingerprint
    from respcore.study.bands import reused_is_selection
    from respcore.study.snapshot import data_files
    from respcore.study.tables import train_config

    def study(notebook: str, out: Path):
        return ex.setup(notebook, dataset="sprsound", data_root=str(spr_root), profile="smoke", device="cpu",
                        out_dir=str(out), cache_dir=str(tmp_path / "cache"))

    snap = tmp_path / "snap"
    made = study("03_band_retention", snap)
    data = ex.load_data(made)
    p = made.profile
    params = {"k": p.folds, "seeds": list(range(p.seeds)), "r": p.band_step, "lam": 0.5, "attribution": "gradcam",
              "min_bands": p.min_bands, "n_bands_total": data.train.n_bands, "best_round": 0}
    folder = snap / "03_band_retention"
    saved = BandSelection("IS", (3, 4, 5), [], {}, train_config(made, data), params)
    saved.save(folder / "selection_IS_multiclass.json")
    mine = study("09_open_questions", tmp_path / "results")
    assert reused_is_selection(mine, data, 0.5, folder).kept_bands == (3, 4, 5)
    with pytest.raises(ValueError, match=r"IS_multiclass.json: made with other settings.*lambda: 0.5 there, 1.0 here"):
        reused_is_selection(mine, data, 1.0, folder)
    with pytest.raises(ValueError, match="config.epochs"):
        longer = ex.setup("09_open_questions", dataset="sprsound", data_root=str(spr_root), profile="smoke",
                          epochs=7, device="cpu", out_dir=str(tmp_path / "r7"), cache_dir=str(tmp_path / "cache"))
        reused_is_selection(longer, data, 0.5, folder)
    # a selection whose importance averaged some classes only (page 7's variant) is not the paper's IS
    BandSelection("IS", (3, 4, 5), [], {}, train_config(made, data), {**params, "classes": [1, 2]}).save(
        folder / "selection_IS_multiclass.json")
    with pytest.raises(ValueError, match=r"classes: \[1, 2\] there, None here"):
        reused_is_selection(mine, data, 0.5, folder)
    saved.save(folder / "selection_IS_multiclass.json")
    with pytest.raises(ValueError, match="selection_IS_binary.json: no IS selection of the binary task"):
        reused_is_selection(mine, ex.load_data(mine, task="binary"), 1.0, folder)
    # inside a snapshot the data is identified by the release's fingerprint, not by its folder
    fingerprint = release_fingerprint(data_files("sprsound", spr_root), spr_root)
    write_json(snap / "snapshot.json", {"data_fingerprint": fingerprint})
    assert reused_is_selection(mine, data, 0.5, folder).kept_bands == (3, 4, 5)
    write_json(snap / "snapshot.json", {"data_fingerprint": {**fingerprint, "sha1": "0" * 16}})
    with pytest.raises(ValueError, match="data fingerprint"):
        reused_is_selection(mine, data, 0.5, folder)
