"""The study's pages: the notebooks in the book's order, the pages each one waits for when several run
side by side, and executing them through papermill, each with a progress bar over its job grid.

``run_notebooks`` is the schedule alone (it calls whatever runs one notebook); ``run_notebook`` is one
papermill run. A notebook that fails is moved out of ``book/``, so that no page with a traceback can ever
be rendered.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import nbformat
import papermill as pm
from tqdm.auto import tqdm
from traitlets.config import Config

from ..fileio import read_json
from .config import grid_progress_file

# Execution order; the scorecard reads every other notebook's results, so it runs last.
NOTEBOOKS: tuple[str, ...] = (
    "01_data", "02_tsa_placement", "03_band_retention", "04_age", "05_sota", "06_model_agnostic",
    "07_beyond_paper", "08_real_data", "09_open_questions", "scorecard",
)
# What a notebook waits for when notebooks run side by side (``--at-once``). 03's all-band rounds are 02's
# multiclass CNN-TSA, and 05's binary one is 03's; 04 scores 02's CNN-TSA by age; 05 also reads 03's FBS
# summary; 07 reuses 02's CNN-TSA, 03's IS and 04's age models; 09 reuses 03's IS (beside those pages
# they would train the same runs a second time); the scorecard reads every page. The others share no training with each other (checked
# on the run cache of a cpu-profile study).
NEEDS: dict[str, tuple[str, ...]] = {
    "03_band_retention": ("02_tsa_placement",),
    "04_age": ("02_tsa_placement",),
    "05_sota": ("02_tsa_placement", "03_band_retention"),
    "07_beyond_paper": ("02_tsa_placement", "03_band_retention", "04_age"),
    "09_open_questions": ("03_band_retention",),
    "scorecard": NOTEBOOKS[:-1],
}
# Which ready notebook starts first: those others wait for, the longest first (03, 09 and 07 each take a
# quarter of the cpu-profile study), then the rest.
START_ORDER: tuple[str, ...] = (
    "02_tsa_placement", "03_band_retention", "09_open_questions", "07_beyond_paper", "04_age", "05_sota",
    "06_model_agnostic", "01_data", "08_real_data", "scorecard",
)


class StudyError(RuntimeError):
    """A step of the study failed; the message names the step and where to look."""


def log(msg: str) -> None:
    """One line of the study's log, with the time."""
    print(f"[study {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_notebook(name: str, *, root: Path, cache_dir: Path, params: dict, verbose: bool = False,
                 bar: int = 0) -> Path:
    """Execute ``root/notebooks/<name>.ipynb`` into ``root/book/<name>.ipynb`` with ``params`` injected;
    raise ``StudyError`` if it fails.

    The kernel talks to papermill over local IPC sockets (not TCP); a bar (terminal line ``bar``) over
    the job grid shows the notebook's trainings (done / total, in flight, ETA), read from its progress
    file under ``cache_dir``. ``verbose`` streams the cells' output to the terminal."""
    src = root / "notebooks" / f"{name}.ipynb"
    dst = root / "book" / f"{name}.ipynb"
    if not src.is_file():
        raise StudyError(f"notebook {src} is missing")
    progress = grid_progress_file(cache_dir, name)
    progress.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="respcore-kernel-") as sockets, GridWatcher(progress, name, bar) as grid:
        kernel = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
        try:
            pm.execute_notebook(str(src), str(dst), parameters=params, cwd=str(root), kernel_name="python3",
                                language="python", progress_bar=False, log_output=verbose, report_mode=False,
                                config=kernel)
        except Exception as err:  # papermill's execution error, a dead kernel, a bad parameter ...
            failed = root / "_build" / "failed" / f"{name}.ipynb"
            failed.parent.mkdir(parents=True, exist_ok=True)
            where = "no executed copy was written"
            if dst.exists():
                shutil.move(str(dst), str(failed))  # never leave a traceback page for the book to render
                where = f"executed copy with the error: {failed}"
            raise StudyError(f"notebook {name} failed; {where}\n{err}") from err
    if grid.total:
        log(f"{name}: {grid.done} of {grid.total} trainings, {grid.cached} of them from the run cache")
    _hide_parameter_cells(dst)
    return dst


class GridWatcher:
    """Shows the job grid's progress file (written by the notebook's executor) as one bar in this
    terminal while a notebook runs."""

    def __init__(self, path: Path, name: str, position: int = 0) -> None:
        self.path, self.name, self.position = path, name, position
        self.done = self.total = self.cached = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._bar = None

    def __enter__(self) -> "GridWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._read()
        if self._bar is not None:
            self._bar.close()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self._read()

    def _read(self) -> None:
        try:
            state = read_json(self.path)
        except (OSError, ValueError):
            return
        if self._bar is None:
            self._bar = tqdm(total=0, desc=f"{self.name} trainings", unit="job", file=sys.stderr,
                             position=self.position, leave=False)
        self.cached = int(state.get("cached", 0))
        self._bar.total = self.total = int(state["total"])
        self._bar.n = self.done = int(state["done"])
        self._bar.set_postfix(in_flight=state["running"], refresh=False)
        self._bar.refresh()


def _hide_parameter_cells(path: Path) -> None:
    """Collapse the parameter cells in the book (each page's banner states the parameters in words)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(nb, path)


def ready_notebooks(todo: list[str], done: set[str], selected: tuple[str, ...],
                    order: tuple[str, ...] = START_ORDER) -> list[str]:
    """The notebooks of ``todo`` whose ``NEEDS`` among ``selected`` are all ``done``, in ``order``."""
    ready = [n for n in todo if all(d in done for d in NEEDS.get(n, ()) if d in selected)]
    return sorted(ready, key=order.index)


def run_notebooks(names: tuple[str, ...], run: Callable[[str, int], object], *, at_once: int = 1) -> None:
    """Run the notebooks ``names`` with ``run(name, bar)``, up to ``at_once`` side by side (threads; ``bar``
    is the terminal line of that slot's progress bar), a notebook starting once what it ``NEEDS`` among
    ``names`` has finished. A failure starts nothing new; the notebooks still running finish (their
    results stay), then the first error is raised."""
    if at_once < 1:
        raise ValueError(f"at_once must be >= 1 (notebooks side by side), got {at_once}")
    order = START_ORDER if at_once > 1 else NOTEBOOKS  # one at a time: the book's order
    todo, done, free = list(names), set(), list(range(at_once))
    errors: list[BaseException] = []
    changed = threading.Condition()
    n_total, started = len(todo), 0

    def work(name: str, bar: int, number: int) -> None:
        t0 = time.time()
        try:
            run(name, bar)
            log(f"[{number}/{n_total}] {name} done in {time.time() - t0:.0f} s")
        except BaseException as err:  # handed to the main thread, which raises it
            errors.append(err)
        finally:
            with changed:
                done.add(name)
                free.append(bar)
                changed.notify()

    with changed:
        while True:
            ready = [] if errors else ready_notebooks(todo, done, names, order)
            for name in ready[:len(free)]:
                todo.remove(name)
                started += 1
                log(f"[{started}/{n_total}] notebooks/{name}.ipynb -> book/{name}.ipynb")
                threading.Thread(target=work, args=(name, free.pop(0), started), daemon=True).start()
            if len(free) == at_once:  # nothing running
                if errors or not todo:
                    break
                raise StudyError(f"notebooks {todo} wait for each other (see NEEDS)")
            changed.wait()
    if errors:
        raise errors[0]
