"""The whole study in one command: corpus, every notebook through papermill, then the Jupyter Book.

    python -m respcore.study --profile cpu --dataset synthetic --data-root '' --device auto

Steps: (1) for ``--dataset synthetic`` with no data root, generate the built-in corpus (cached on disk);
(2) execute each notebook of ``notebooks/`` with papermill into ``book/``, passing the same flat
parameters to all, one at a time or ``at_once`` side by side (``NEEDS``); any failure stops the study,
and the failed notebook is moved out of ``book/`` so that no page with a traceback can ever be rendered;
(3) ``jupyter-book build book``; (4) print where the HTML is. Results of each notebook land in
``<out-dir>/<notebook>/``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import papermill as pm
from tqdm.auto import tqdm
from traitlets.config import Config

from ..datasets import DATASETS
from ..fileio import read_json
from ..profiles import PROFILES
from .config import grid_progress_file, synthetic_corpus
from .dynamic import OPEN_QUESTIONS, open_questions

# Execution order; the scorecard reads every other notebook's results, so it runs last.
NOTEBOOKS: tuple[str, ...] = (
    "01_data", "02_tsa_placement", "03_band_retention", "04_age", "05_sota", "06_model_agnostic",
    "07_beyond_paper", "08_real_data", "09_open_questions", "scorecard",
)
DEVICES = ("auto", "cpu", "cuda")
# What a notebook waits for when notebooks run side by side (``--at-once``). 03's all-band rounds are 02's
# multiclass CNN-TSA, and 05's binary one is 03's; 05 also reads 03's FBS summary; 07 reuses 02's CNN-TSA,
# 03's IS and 04's age models; 09 reuses 03's IS (beside those pages they would train the same runs a
# second time); the scorecard reads every page. The others share no training with each other (checked
# on the run cache of a cpu-profile study).
NEEDS: dict[str, tuple[str, ...]] = {
    "03_band_retention": ("02_tsa_placement",),
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


@dataclass
class StudyConfig:
    """Everything the runner needs; the notebook parameters are a flat subset of it."""

    profile: str = "cpu"
    dataset: str = "synthetic"
    data_root: str = ""  # "" with dataset="synthetic": generate the built-in corpus
    device: str = "auto"
    epochs: int = 0  # 0: the profile's value
    folds: int = 0
    seeds: int = 0
    root: Path = field(default_factory=Path.cwd)  # repository root: notebooks/, book/, _config.yml
    out_dir: str = "results"  # relative to root unless absolute
    cache_dir: str = "cache"  # feature and run caches, relative to root unless absolute
    real_dir: str = "results/real"  # committed real-data snapshots (notebook 08, the scorecard)
    workers: int = 0  # trainings at once: 0 every core (a local Ray instance), 1 one in this process (no Ray)
    address: str = ""  # an existing Ray cluster, HOST:PORT ("" : RAY_ADDRESS, or a local instance)
    notebooks: tuple[str, ...] = NOTEBOOKS
    build_book: bool = True
    verbose: bool = False  # stream each notebook's cell output (tqdm bars included) to the terminal
    questions: str = "both"  # notebook 09: "both" open questions, or one of OPEN_QUESTIONS per sitting
    static_from: str = ""  # notebook 09: a folder of notebook 03's results whose IS selections it reuses
    at_once: int = 1  # notebooks side by side on the grid (their kernels' own work competes with its workers)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of {sorted(PROFILES)}")
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {list(DATASETS)}")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; choose one of {list(DEVICES)}")
        if self.dataset != "synthetic" and not self.data_root:
            raise ValueError(f"dataset {self.dataset!r} needs --data-root (the folder you downloaded)")
        for n in ("epochs", "folds", "seeds", "workers"):
            if getattr(self, n) < 0:
                raise ValueError(f"{n} must be >= 0 (0 means the default)")
        if self.at_once < 1:
            raise ValueError(f"at_once must be >= 1 (notebooks side by side), got {self.at_once}")
        open_questions(self.questions)  # raises on an unknown choice
        if self.static_from and not self.path(self.static_from).is_dir():
            raise ValueError(f"--static-from {self.path(self.static_from)} is not a folder (notebook 03's results)")
        unknown = sorted(set(self.notebooks) - set(NOTEBOOKS))
        if unknown:
            raise ValueError(f"unknown notebooks {unknown}; choose from {list(NOTEBOOKS)}")
        self.root = Path(self.root).resolve()

    def path(self, folder: str) -> Path:
        """``folder`` as an absolute path (relative paths are under ``root``)."""
        return Path(folder) if Path(folder).is_absolute() else self.root / folder

    @property
    def results(self) -> Path:
        return self.path(self.out_dir)

    def parameters(self, data_root: str, address: str = "") -> dict:
        """The flat literals injected into every notebook's ``parameters`` cell (``address``: the Ray
        cluster the notebooks join)."""
        return {"dataset": self.dataset, "data_root": data_root, "profile": self.profile,
                "epochs": self.epochs, "folds": self.folds, "seeds": self.seeds, "device": self.device,
                "out_dir": str(self.results), "cache_dir": str(self.path(self.cache_dir)),
                "real_dir": str(self.path(self.real_dir)), "workers": self.workers, "address": address}

    def notebook_parameters(self, name: str, params: dict) -> dict:
        """``params`` plus the parameters only notebook ``name`` takes (09: which questions, reused IS)."""
        if name != "09_open_questions":
            return params
        return {**params, "questions": self.questions,
                "static_from": str(self.path(self.static_from)) if self.static_from else ""}


def _log(msg: str) -> None:
    print(f"[study {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def prepare_data(cfg: StudyConfig) -> str:
    """The data root every notebook reads: the user's folder, or the generated synthetic corpus."""
    if cfg.dataset != "synthetic" or cfg.data_root:
        root = Path(cfg.data_root).expanduser().resolve()
        if not root.is_dir():
            raise StudyError(f"data root {root} is not a folder")
        return str(root)
    _log(f"generating the built-in synthetic corpus for profile {cfg.profile!r} (cached)")
    path, _ = synthetic_corpus(cfg.profile, root=cfg.path(cfg.cache_dir) / "synthetic")
    _log(f"corpus at {path}")
    return str(path)


def run_notebook(name: str, cfg: StudyConfig, params: dict, bar: int = 0) -> Path:
    """Execute ``notebooks/<name>.ipynb`` into ``book/<name>.ipynb``; raise ``StudyError`` if it fails.

    The kernel talks to papermill over local IPC sockets (not TCP); a bar (terminal line ``bar``) over
    the job grid shows the notebook's trainings (done / total, in flight, ETA)."""
    src = cfg.root / "notebooks" / f"{name}.ipynb"
    dst = cfg.root / "book" / f"{name}.ipynb"
    if not src.is_file():
        raise StudyError(f"notebook {src} is missing")
    progress = grid_progress_file(cfg.path(cfg.cache_dir), name)
    progress.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="respcore-kernel-") as sockets, GridWatcher(progress, name, bar) as grid:
        kernel = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
        try:
            pm.execute_notebook(str(src), str(dst), parameters=params, cwd=str(cfg.root), kernel_name="python3",
                                language="python", progress_bar=False, log_output=cfg.verbose, report_mode=False,
                                config=kernel)
        except Exception as err:  # papermill's execution error, a dead kernel, a bad parameter ...
            failed = cfg.root / "_build" / "failed" / f"{name}.ipynb"
            failed.parent.mkdir(parents=True, exist_ok=True)
            where = "no executed copy was written"
            if dst.exists():
                shutil.move(str(dst), str(failed))  # never leave a traceback page for the book to render
                where = f"executed copy with the error: {failed}"
            raise StudyError(f"notebook {name} failed; {where}\n{err}") from err
    if grid.total:
        _log(f"{name}: {grid.done} of {grid.total} trainings, {grid.cached} of them from the run cache")
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


def build_book(root: Path) -> Path:
    """``jupyter-book build book`` from ``root``; returns the path of ``index.html``."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else (shutil.which("jupyter-book") or "jupyter-book"), "build", "book"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StudyError(f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
                         f"\n{proc.stderr[-3000:]}")
    missing = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines()
               if "nonexisting document" in line]
    if missing:
        raise StudyError("the book's table of contents names pages that do not exist:\n" + "\n".join(missing))
    index = root / "_build" / "html" / "index.html"
    if not index.is_file():
        raise StudyError(f"jupyter-book reported success but {index} is missing")
    return index


def start_grid(cfg: StudyConfig) -> tuple[str, bool]:
    """The Ray cluster the notebooks join: ``(address, started here)``. None for ``workers=1`` without an
    address; an existing cluster for ``--address`` or ``RAY_ADDRESS``; else a local instance with
    ``workers`` CPUs (0: every core), started once for the whole study."""
    address = cfg.address or os.environ.get("RAY_ADDRESS", "")
    if address or cfg.workers == 1:
        return address, False
    import ray  # optional dependency (the "grid" extra): only a parallel study needs it

    if ray.is_initialized():  # this process already drives a cluster: the notebooks join it
        return ray.get_runtime_context().gcs_address, False
    context = ray.init(num_cpus=cfg.workers or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                       logging_level="ERROR")
    return context.address_info["gcs_address"], True


def ready_notebooks(todo: list[str], done: set[str], selected: tuple[str, ...],
                    order: tuple[str, ...] = START_ORDER) -> list[str]:
    """The notebooks of ``todo`` whose ``NEEDS`` among ``selected`` are all ``done``, in ``order``."""
    ready = [n for n in todo if all(d in done for d in NEEDS.get(n, ()) if d in selected)]
    return sorted(ready, key=order.index)


def run_notebooks(cfg: StudyConfig, params: dict) -> None:
    """Run ``cfg.notebooks``, up to ``cfg.at_once`` side by side (threads, one kernel each), a notebook
    starting once what it ``NEEDS`` has finished. A failure starts nothing new; the notebooks still
    running finish (their results stay), then the first error is raised."""
    slots = cfg.at_once  # >= 1, checked by StudyConfig
    order = START_ORDER if slots > 1 else NOTEBOOKS  # one at a time: the book's order
    todo, done, free = list(cfg.notebooks), set(), list(range(slots))
    errors: list[BaseException] = []
    changed = threading.Condition()
    n_total, started = len(todo), 0

    def work(name: str, bar: int, number: int) -> None:
        t0 = time.time()
        try:
            run_notebook(name, cfg, cfg.notebook_parameters(name, params), bar=bar)
            _log(f"[{number}/{n_total}] {name} done in {time.time() - t0:.0f} s")
        except BaseException as err:  # handed to the main thread, which raises it
            errors.append(err)
        finally:
            with changed:
                done.add(name)
                free.append(bar)
                changed.notify()

    with changed:
        while True:
            ready = [] if errors else ready_notebooks(todo, done, cfg.notebooks, order)
            for name in ready[:len(free)]:
                todo.remove(name)
                started += 1
                _log(f"[{started}/{n_total}] notebooks/{name}.ipynb -> book/{name}.ipynb")
                threading.Thread(target=work, args=(name, free.pop(0), started), daemon=True).start()
            if len(free) == slots:  # nothing running
                if errors or not todo:
                    break
                raise StudyError(f"notebooks {todo} wait for each other (see NEEDS)")
            changed.wait()
    if errors:
        raise errors[0]


def run_study(cfg: StudyConfig) -> Path | None:
    """Run the study; returns the HTML index (None when ``build_book`` is off)."""
    start = time.time()
    data_root = prepare_data(cfg)
    address, started = start_grid(cfg)
    params = cfg.parameters(data_root, address)
    grid = f"Ray cluster {address}" if address else "one training at a time, no Ray"
    _log(f"profile={cfg.profile} dataset={cfg.dataset} device={cfg.device} workers={cfg.workers or os.cpu_count()} "
         f"({grid}) results -> {cfg.results}")
    try:
        run_notebooks(cfg, params)
    finally:  # Ctrl-C or a failure: stop the workers; finished runs stay in the run cache
        if started:
            import ray

            ray.shutdown()
    index = None
    if cfg.build_book:
        _log("building the book: jupyter-book build book")
        index = build_book(cfg.root)
        _log(f"book built: {index}")
    _log(f"study finished in {time.time() - start:.0f} s")
    return index


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m respcore.study", description=__doc__.splitlines()[0],
                                epilog="Real-data snapshots: python -m respcore.study snapshot {write,check,compare} --help")
    p.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    p.add_argument("--dataset", default="synthetic", choices=DATASETS)
    p.add_argument("--data-root", default="", help="dataset folder; '' with synthetic generates the corpus")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--epochs", type=int, default=0, help="0: the profile's value")
    p.add_argument("--folds", type=int, default=0, help="0: the profile's value")
    p.add_argument("--seeds", type=int, default=0, help="0: the profile's value")
    p.add_argument("--out-dir", default="results", help="results folder (one subfolder per notebook)")
    p.add_argument("--cache-dir", default="cache", help="feature and run caches (a finished training is reused)")
    p.add_argument("--real-dir", default="results/real", help="committed real-data snapshots the book shows")
    p.add_argument("--workers", type=int, default=0,
                   help="trainings at once: 0 every core (a local Ray instance), 1 one at a time without Ray")
    p.add_argument("--address", default="", help="run the trainings on an existing Ray cluster (HOST:PORT; "
                                                 "default: the RAY_ADDRESS environment variable)")
    p.add_argument("--root", default=".", help="repository root holding notebooks/, book/ and _config.yml")
    p.add_argument("--questions", default="both", choices=["both", *OPEN_QUESTIONS],
                   help="notebook 09 answers both open questions, or only the band gate or the fronts (one per "
                        "sitting where trainings take hours)")
    p.add_argument("--static-from", default="", help="notebook 09 reuses the IS selections notebook 03 saved in "
                   "this folder (e.g. a committed snapshot's 03_band_retention) instead of rerunning them; checked "
                   "against this study's settings and data")
    p.add_argument("--only", nargs="+", choices=NOTEBOOKS,
                   help="run only these notebooks (a page waits for the pages it reads only when those run too)")
    p.add_argument("--at-once", type=int, default=1, help="notebooks side by side on the grid, each starting once "
                   "the pages it reads have finished: for grids with more workers than a notebook keeps busy (on 2 "
                   "cores one notebook keeps them 94 %% busy, and two were 7 %% slower)")
    p.add_argument("--no-book", action="store_true", help="run the notebooks but do not build the book")
    p.add_argument("-v", "--verbose", action="store_true", help="stream notebook output to the terminal")
    a = p.parse_args(argv)
    notebooks = tuple(n for n in NOTEBOOKS if n in a.only) if a.only else NOTEBOOKS
    try:
        cfg = StudyConfig(profile=a.profile, dataset=a.dataset, data_root=a.data_root, device=a.device,
                          epochs=a.epochs, folds=a.folds, seeds=a.seeds, root=Path(a.root),
                          out_dir=a.out_dir, cache_dir=a.cache_dir, real_dir=a.real_dir, workers=a.workers,
                          address=a.address, notebooks=notebooks, build_book=not a.no_book, verbose=a.verbose,
                          questions=a.questions, static_from=a.static_from, at_once=a.at_once)
        index = run_study(cfg)
    except (ValueError, StudyError) as err:
        print(f"study failed: {err}", file=sys.stderr)
        return 1
    if index is not None:
        print(f"The study is at {index}  (file://{index})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
