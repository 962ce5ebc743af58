"""The whole study in one command: corpus, every notebook through papermill, then the Jupyter Book.

    python -m respcore.study --profile cpu --dataset synthetic --data-root '' --device auto

Steps: (1) for ``--dataset synthetic`` with no data root, generate the built-in corpus (cached on disk);
(2) execute each notebook of ``notebooks/`` with papermill into ``book/``, passing the same flat
parameters to all, one at a time or ``at_once`` side by side (``pages``); any failure stops the study;
(3) ``jupyter-book build book``; (4) print where the HTML is. Results of each notebook land in
``<out-dir>/<notebook>/``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets import DATASETS
from ..profiles import PROFILES
from .config import synthetic_corpus
from .dynamic import OPEN_QUESTIONS, open_questions
from .pages import NOTEBOOKS, StudyError, log, run_notebook, run_notebooks

DEVICES = ("auto", "cpu", "cuda")


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


def prepare_data(cfg: StudyConfig) -> str:
    """The data root every notebook reads: the user's folder, or the generated synthetic corpus."""
    if cfg.dataset != "synthetic" or cfg.data_root:
        root = Path(cfg.data_root).expanduser().resolve()
        if not root.is_dir():
            raise StudyError(f"data root {root} is not a folder")
        return str(root)
    log(f"generating the built-in synthetic corpus for profile {cfg.profile!r} (cached)")
    path, _ = synthetic_corpus(cfg.profile, root=cfg.path(cfg.cache_dir) / "synthetic")
    log(f"corpus at {path}")
    return str(path)


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


def run_study(cfg: StudyConfig) -> Path | None:
    """Run the study; returns the HTML index (None when ``build_book`` is off)."""
    start = time.time()
    data_root = prepare_data(cfg)
    address, started = start_grid(cfg)
    params = cfg.parameters(data_root, address)
    grid = f"Ray cluster {address}" if address else "one training at a time, no Ray"
    log(f"profile={cfg.profile} dataset={cfg.dataset} device={cfg.device} workers={cfg.workers or os.cpu_count()} "
         f"({grid}) results -> {cfg.results}")
    try:
        run_notebooks(cfg.notebooks, lambda name, bar: run_notebook(
            name, root=cfg.root, cache_dir=cfg.path(cfg.cache_dir), params=cfg.notebook_parameters(name, params),
            verbose=cfg.verbose, bar=bar), at_once=cfg.at_once)
    finally:  # Ctrl-C or a failure: stop the workers; finished runs stay in the run cache
        if started:
            import ray

            ray.shutdown()
    index = None
    if cfg.build_book:
        log("building the book: jupyter-book build book")
        index = build_book(cfg.root)
        log(f"book built: {index}")
    log(f"study finished in {time.time() - start:.0f} s")
    return index


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m respcore.study", description=__doc__.splitlines()[0],
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
