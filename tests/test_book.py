"""End to end: the smoke study through papermill (via respcore.study), the book, its HTML, a browser screenshot.

The study runs once per test session in a copy of the book's sources under a temporary folder, so a
developer's own ``book/``, ``results/`` and ``_build/`` are never touched.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from respcore.study import published, runner, snapshot

ROOT = Path(__file__).resolve().parents[1]
REALDATA = os.environ.get("RESPCORE_REALDATA")
RESULT_PAGES = [n for n in runner.NOTEBOOKS if n != "01_data"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


class _Tables(HTMLParser):
    """Counts body rows of each <table>, and <img> tags, in an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[int] = []
        self.images = 0
        self._in_body = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append(0)
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self.tables:
            self.tables[-1] += 1
        elif tag == "img":
            self.images += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False


def _parse(path: Path) -> tuple[_Tables, str]:
    text = path.read_text(encoding="utf-8")
    p = _Tables()
    p.feed(text)
    return p, text


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Run the whole smoke study into a copy of the book sources; returns that root."""
    root = tmp_path_factory.mktemp("study")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("_*", ".*"))
    (root / "book").mkdir()
    for md in (ROOT / "book").glob("*.md"):
        shutil.copy(md, root / "book" / md.name)
    shutil.copytree(ROOT / "book" / "_static", root / "book" / "_static")
    (root / "book" / "_toc.yml").symlink_to("../_toc.yml")
    for cache in ("data", "cache"):  # reuse the generated corpus and feature cache (both git-ignored)
        (ROOT / cache).mkdir(exist_ok=True)
        (root / cache).symlink_to(ROOT / cache)
    real_dir = ROOT / "results" / "real"  # the committed snapshots, unless the real miniature is here
    mini = Path(REALDATA or "/nonexistent") / "sprsound" / "sample"
    if mini.is_dir():  # one pipeline: the same notebooks on real SPRSound files, kept as a snapshot
        pages = tuple(n for n in runner.NOTEBOOKS if n not in ("08_real_data", "scorecard"))
        runner.run_study(runner.StudyConfig(profile="smoke", dataset="sprsound", data_root=str(mini), device="cpu",
                                            root=root, out_dir="real_run", notebooks=pages, build_book=False))
        real_dir = root / "real"
        snapshot.write(root / "real_run", real_dir / "sprsound-miniature-smoke", command="test_book")
    cfg = runner.StudyConfig(profile="smoke", dataset="synthetic", device="cpu", root=root, real_dir=str(real_dir))
    index = runner.run_study(cfg)
    assert index == root / "_build" / "html" / "index.html"
    return root


@pytest.mark.slow
def test_every_notebook_ran_and_saved_its_results(built: Path) -> None:
    for name in runner.NOTEBOOKS:
        assert (built / "book" / f"{name}.ipynb").is_file(), f"{name} was not executed into book/"
        out = built / "results" / name
        assert (out / "params.json").is_file(), f"{name}: no params.json"
        assert list(out.glob("*.csv")), f"{name}: no table saved"
        if name != "scorecard":
            assert list(out.glob("*.png")), f"{name}: no figure saved"
            assert (out / "summary.json").is_file(), f"{name}: no summary.json for the scorecard"
    # the planted-band recovery of each attribution method, measured on the synthetic corpus's truth
    recovery = pd.read_csv(built / "results" / "07_beyond_paper" / "band_recovery.csv")
    assert {"Integrated Gradients", "Grad-CAM, last block"} <= set(recovery["method"])
    assert recovery["precision"].between(0, 1).all() and (recovery["chance"] == recovery["k"] / 64).all()
    # each lambda's selection is scored against the planted bands too
    sweep = pd.read_csv(built / "results" / "07_beyond_paper" / "lambda_sweep.csv")
    assert set(sweep["task"]) == {"binary", "multiclass"}
    for col in ("precision", "recall", "ranking_precision"):
        assert sweep[col].between(0, 1).all(), f"lambda_sweep {col}: {sweep[col].tolist()}"
    assert (sweep["recall"] > 0).all()  # every selection keeps at least one planted band
    # IS's two changes (classes averaged, round kept): one row per task x classes x rule, scored on the planted
    # bands; the paper's own row is page 3's selection, so its kept bands match page 3's recovery table
    variants = pd.read_csv(built / "results" / "07_beyond_paper" / "is_variants.csv")
    assert len(variants) == 8 and set(variants["kept_by"]) == {"best round (paper)", "fewest bands not worse"}
    for col in ("precision", "recall", "ranking_precision", "test"):
        assert variants[col].between(0, 1).all(), f"is_variants {col}: {variants[col].tolist()}"
    page3 = pd.read_csv(built / "results" / "03_band_retention" / "planted_band_recovery.csv").query("method == 'IS'")
    paper = variants.query("classes == 'every class (paper)' and kept_by == 'best round (paper)'")
    assert sorted(paper["n_bands"]) == sorted(page3["n_kept"])
    # page 4 scores page 2's CNN-TSA by age band: each set's bands add up to it, and validation is reweighted
    # to every test set's age mix
    errors = pd.read_csv(built / "results" / "04_age" / "errors_by_age.csv")
    for where, rows in errors[~errors["set"].str.startswith("validation, reweighted")].groupby("set"):
        bands = rows[rows["band"] != "all"]
        assert bands["n"].sum() == rows.loc[rows["band"] == "all", "n"].item(), where
        assert bands["share"].sum() == pytest.approx(1.0), where
    assert set(errors["set"]) == {"validation (out of fold)", "test", "validation, reweighted to test's ages"}
    page2 = pd.read_csv(built / "results" / "02_tsa_placement" / "table1_tsa_placement.csv").set_index("placement")
    mine = errors.query("set == 'test' and band == 'all'")
    assert mine["Score_icbhi"].item() == pytest.approx(page2.loc["post", "test_AS_mean"])  # the same fold models


@pytest.mark.slow
@pytest.mark.parametrize("name", RESULT_PAGES + ["01_data"])
def test_results_page_has_its_table_figure_and_data_banner(built: Path, name: str) -> None:
    page = built / "_build" / "html" / f"{name}.html"
    assert page.is_file(), f"no HTML page for {name}"
    parsed, text = _parse(page)
    assert parsed.tables and max(parsed.tables) > 0, f"{name}: no table with rows"
    if name != "scorecard":
        assert parsed.images >= 1, f"{name}: no figure"
    if name == "08_real_data":  # snapshots of real-data runs, read not trained: its banner names them
        assert "REAL SPRSOUND" in text and "fingerprint" in text, f"{name}: real-data banner missing"
        assert "inter_AS_mean" in text and "intra_AS_mean" in text, f"{name}: both SPRSound test sets shown"
        assert 0 < text.find(">Headline") < text.find("REAL SPRSOUND"), f"{name}: results first, provenance after"
    else:
        assert "SYNTHETIC corpus" in text and "profile: <strong>smoke</strong>" in text, f"{name}: data banner missing"
    assert "Traceback (most recent call last)" not in text, f"{name}: a traceback reached the book"


@pytest.mark.slow
def test_scorecard_has_a_row_per_claim(built: Path) -> None:
    parsed, text = _parse(built / "_build" / "html" / "scorecard.html")
    assert len(published.CLAIMS) in parsed.tables, f"scorecard rows {parsed.tables}"
    for claim in published.CLAIMS:
        assert claim.claim.split(" (")[0][:40] in text
    # smoke training proves nothing: accuracy claims must say so, FLOPs claims stay testable
    assert "not testable" in text and "smoke profile" in text
    # one verdict cell per source: the real-data snapshot (the study's notebooks on SPRSound) fills its column
    assert "built-in corpus" in text and "SPRSound" in text and "snapshot sprsound-" in text
    # the wide table gets the page's full width (book/_static/wide-tables.css is linked and shipped)
    html = (built / "_build" / "html" / "scorecard.html").read_text()
    assert "wide-tables.css" in html and (built / "_build" / "html" / "_static" / "wide-tables.css").is_file()


@pytest.mark.slow
def test_pages_order_and_links(built: Path) -> None:
    _, index = _parse(built / "_build" / "html" / "intro.html")  # index.html only redirects here
    positions = [index.find(f'href="{n}.html"') for n in ["scorecard", *RESULT_PAGES[:-1]]]
    assert all(p > 0 for p in positions), "every results page is linked from the front page"
    assert positions[0] == min(positions), "the scorecard is the first results page"


def _chromium() -> str:
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if exe:
        return exe
    try:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=300, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, timeout=600, check=True)
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"Debian's chromium is not installed and `apt-get install chromium` failed: {err}")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("apt-get ran but /usr/bin/chromium is still missing")
    return "/usr/bin/chromium"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scorecard", "02_tsa_placement", "03_band_retention"])
def test_results_pages_render_in_a_browser(built: Path, name: str, tmp_path: Path) -> None:
    from matplotlib.image import imread

    exe = _chromium()
    shot = tmp_path / f"{name}.png"
    page = built / "_build" / "html" / f"{name}.html"
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600",
           f"--screenshot={shot}", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), f"no screenshot: {proc.stderr[-2000:]}"
    img = imread(shot)[..., :3]  # (H, W, 3) floats in [0, 1]
    assert img.shape[:2] == (1600, 1280)
    dark = (img.mean(axis=-1) < 0.5).mean()
    assert 0.005 < dark < 0.6, f"{name}: the page looks blank or black ({dark:.1%} dark pixels)"
    assert len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50, f"{name}: too few colours"
