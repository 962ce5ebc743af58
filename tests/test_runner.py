"""The study's schedule (respcore.study.pages): notebooks side by side, each starting only once the pages it reads have
finished, never more at once than asked, and a failure that starts nothing new."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from respcore.study import pages, runner


def test_every_notebook_has_a_start_rank_and_needs_only_earlier_pages() -> None:
    assert sorted(pages.START_ORDER) == sorted(pages.NOTEBOOKS)
    for name, needs in pages.NEEDS.items():
        assert name in pages.NOTEBOOKS and set(needs) <= set(pages.NOTEBOOKS) - {name}
        assert all(pages.NOTEBOOKS.index(d) < pages.NOTEBOOKS.index(name) for d in needs)


def test_pages_that_read_notebook_03_wait_for_it_only_when_it_runs() -> None:
    everything = pages.NOTEBOOKS
    ready = pages.ready_notebooks(list(everything), set(), everything)
    assert ready[0] == "02_tsa_placement"  # 03 trains 02's all-band models again as its first round
    assert not {"03_band_retention", "05_sota", "07_beyond_paper", "09_open_questions", "scorecard"} & set(ready)
    ready = pages.ready_notebooks(["05_sota", "09_open_questions", "scorecard"], {"03_band_retention"}, everything)
    assert ready == ["09_open_questions"]  # 05 also waits for 02, the scorecard for every page
    assert "05_sota" in pages.ready_notebooks(["05_sota"], {"02_tsa_placement", "03_band_retention"}, everything)
    only = ("05_sota", "07_beyond_paper")  # --only without 02-04: their results come from an earlier run
    assert pages.ready_notebooks(list(only), set(), only) == ["07_beyond_paper", "05_sota"]


class Recorder:
    """Stands in for one papermill run (``pages.run_notebook``): records when each notebook starts and ends."""

    def __init__(self, fail: str = "") -> None:
        self.events: list[tuple[str, str]] = []
        self.running = self.most = 0
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, name: str, bar: int) -> Path:
        with self.lock:
            self.events.append(("start", name))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05 if name != "03_band_retention" else 0.2)
        with self.lock:
            self.running -= 1
            self.events.append(("end", name))
        if name == self.fail:
            raise pages.StudyError(f"notebook {name} failed")
        return Path(name)


@pytest.mark.parametrize("at_once", [1, 2, 3])
def test_notebooks_run_side_by_side_in_dependency_order(at_once: int) -> None:
    rec = Recorder()
    pages.run_notebooks(pages.NOTEBOOKS, rec, at_once=at_once)
    ends = [n for kind, n in rec.events if kind == "end"]
    starts = [n for kind, n in rec.events if kind == "start"]
    assert sorted(ends) == sorted(pages.NOTEBOOKS) and rec.most == at_once
    for name, needs in pages.NEEDS.items():
        for d in needs:
            assert rec.events.index(("end", d)) < rec.events.index(("start", name)), (d, name)
    assert ends[-1] == "scorecard"
    if at_once == 1:  # one at a time: the book's order
        assert starts == list(pages.NOTEBOOKS)


def test_a_failure_starts_nothing_new_and_lets_the_running_notebook_finish() -> None:
    rec = Recorder(fail="09_open_questions")
    with pytest.raises(pages.StudyError, match="09_open_questions failed"):
        pages.run_notebooks(pages.NOTEBOOKS, rec, at_once=2)
    started = {n for kind, n in rec.events if kind == "start"}
    assert {n for kind, n in rec.events if kind == "end"} == started  # nothing left running
    assert "scorecard" not in started and len(started) < len(pages.NOTEBOOKS)


def test_at_once_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at_once must be >= 1"):
        runner.StudyConfig(profile="smoke", device="cpu", root=tmp_path, at_once=0)
    with pytest.raises(ValueError, match="at_once must be >= 1"):
        pages.run_notebooks(pages.NOTEBOOKS, Recorder(), at_once=0)


def test_only_some_notebooks_run_and_wait_only_for_those_selected() -> None:
    rec = Recorder()
    pages.run_notebooks(("05_sota", "07_beyond_paper"), rec, at_once=2)  # 02-04 ran earlier: nothing to wait for
    assert sorted(n for kind, n in rec.events if kind == "start") == ["05_sota", "07_beyond_paper"]
    assert rec.most == 2
