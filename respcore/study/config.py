"""What every results notebook shares: its parameters, its data, its folders, its header, and the one
table of per-dataset facts (tasks, test sets, selection metric, backbone).

A notebook calls :func:`setup` with the flat literals of its ``parameters`` cell and gets a
:class:`Study`; every table, figure and summary it saves goes to ``<out_dir>/<notebook>/``; its
trainings are cached under ``<cache_dir>/runs`` and its features under ``<cache_dir>/features``.
"""
from __future__ import annotations

import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import pandas as pd

from ..age import CHILDHOOD_BANDS, PAPER_BANDS, AgeBands
from ..datasets import DATASETS, make_synthetic
from ..datasets.load import synthetic_flavor
from ..datasets.synthetic import GENERATOR_VERSION
from ..fileio import read_json, write_json
from ..profiles import Profile, get_profile
from ..provenance import code_version, machine
from ..train import resolve_device
from ..train.grid import Executor, SerialExecutor, make_executor

# Flavour of the built-in corpus: it imitates ICBHI (4 classes, children and adults).
SYNTHETIC_FLAVOR = "icbhi"
TASKS = ("multiclass", "binary")  # the tasks every results notebook runs (cycles or events)
SPRSOUND_TASKS = {"multiclass": "1-2", "binary": "1-1", "record_binary": "2-1", "record_multiclass": "2-2"}
T, R = TypeVar("T"), TypeVar("R")


@dataclass(frozen=True)
class DatasetFacts:
    """What the study needs to know of a benchmark, in one place (``FACTS``)."""

    benchmark: str  # "icbhi" or "sprsound": the loader, and the published figures it is compared with
    tasks: dict[str, str]  # our task name -> the loader's ("multiclass" -> "4class" or "1-2")
    published_tasks: dict[str, str]  # our task name -> the task as published tables name it ("4-class", "2-1")
    tests: dict[str, str]  # named test set -> the loader's split ({"test": "test"}, {"inter": ..., "intra": ...})
    select_metric: str  # the validation score that picks epochs and FBS rounds
    score: str  # the benchmark's headline score (what its papers report as "Score")
    backbone: str  # the paper's backbone for this benchmark
    normal: int = 0  # index of the normal class
    age_bands: AgeBands = PAPER_BANDS  # the age models' bands: the paper's child/adult split, or within childhood
    whole_tasks: tuple[str, ...] = ()  # tasks whose items are whole recordings: trained on crops, scored whole


FACTS: dict[str, DatasetFacts] = {
    "icbhi": DatasetFacts("icbhi", {"multiclass": "4class", "binary": "binary"},
                          {"multiclass": "4-class", "binary": "binary"}, {"test": "test"},
                          select_metric="AS", score="Score_icbhi", backbone="cnn6"),
    "sprsound": DatasetFacts("sprsound", SPRSOUND_TASKS, SPRSOUND_TASKS, {"inter": "inter", "intra": "intra"},
                             select_metric="Score_sprsound", score="Score_sprsound", backbone="cnn3",
                             age_bands=CHILDHOOD_BANDS,  # all children: the age question within childhood
                             whole_tasks=("record_binary", "record_multiclass")),
}


@dataclass
class Study:
    """One notebook's run: resolved parameters and its results folder ``out``."""

    notebook: str
    dataset: str  # "synthetic", "icbhi" or "sprsound"
    data_root: Path
    profile: Profile  # with the notebook's epochs / folds / seeds overrides applied
    device: str  # "cpu" or "cuda", resolved from "auto"
    out: Path  # results/<notebook>/
    cache_dir: Path  # features/ and runs/ (the run cache) live here
    real_dir: Path  # committed snapshots of real-data study runs (notebook 08 and the scorecard read them)
    executor: Executor = field(default_factory=SerialExecutor)  # runs the trainings: serial, or a Ray grid

    @property
    def runs_dir(self) -> Path:
        return self.cache_dir / "runs"

    @cached_property
    def facts(self) -> DatasetFacts:
        """The benchmark facts of this study's data (a synthetic corpus has its flavour's)."""
        return FACTS[synthetic_flavor(self.data_root) if self.dataset == "synthetic" else self.dataset]

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]``, the calls running concurrently when the executor is a grid: for
        independent selections (IS, BS, a lambda) whose trainings then share the grid's workers."""
        items = list(items)
        if self.executor.workers == 1 or len(items) < 2:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=len(items)) as pool:
            return list(pool.map(fn, items))

    @property
    def is_real(self) -> bool:
        return self.dataset != "synthetic"

    @property
    def data_label(self) -> str:
        """How every table and figure names its data: never ambiguous about real versus synthetic."""
        return f"REAL {self.dataset.upper()}" if self.is_real else "SYNTHETIC corpus (not real patients)"

    def params(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "dataset": self.dataset, "data_root": str(self.data_root),
                "real_data": self.is_real, "profile": self.profile.to_dict(), "device": self.device,
                "code_version": code_version(), "workers": self.executor.workers,
                "executor": type(self.executor).__name__}

    def header(self) -> str:
        """Markdown admonition stating data, profile and parameters, shown at the top of the page."""
        p = self.profile
        kind = "important" if self.is_real else "warning"
        what = ("Results on the real dataset." if self.is_real else
                "Every number on this page comes from the built-in synthetic corpus, not from patients; "
                "it tests the method's mechanics, not its clinical accuracy.")
        return (f":::{{admonition}} Data: {self.data_label}\n:class: {kind}\n\n{what}\n\n"
                f"- data root: `{self.data_root}`\n"
                f"- profile: **{p.name}** (epochs {p.epochs}, folds {p.folds}, seeds {p.seeds}, "
                f"width x{p.width}, {p.cycle_seconds:g} s cycles, FBS step {p.band_step} bands)\n"
                f"- device: {self.device}; code version {code_version()}\n:::\n")

    # -- saving ---------------------------------------------------------------------------------
    # save_* return None so that a notebook cell ending with one echoes nothing into the book
    def save_table(self, df: pd.DataFrame, name: str) -> None:
        """Write ``df`` to ``<out>/<name>.csv``."""
        df.to_csv(self.out / f"{name}.csv", index=False)

    def save_figure(self, fig: Any, name: str) -> None:
        """Write a matplotlib figure to ``<out>/<name>.png``."""
        fig.savefig(self.out / f"{name}.png", dpi=110, bbox_inches="tight")

    def save_summary(self, summary: dict[str, Any], *, dataset: str | None = None,
                     real_data: bool | None = None) -> Path:
        """Key numbers the scorecard reads (``summary.json``), with the run's data and profile.

        ``dataset`` and ``real_data`` override this run's own for a page that shows other data (the
        committed real results of notebook 8 are real whatever data the rest of the study ran on).
        """
        return write_json(self.out / "summary.json", {
            "dataset": self.dataset if dataset is None else dataset,
            "real_data": self.is_real if real_data is None else real_data,
            "profile": self.profile.name, **summary})


def synthetic_corpus(profile: str, root: str | Path, seed: int = 0) -> tuple[Path, dict]:
    """Generate (or reuse) the built-in corpus sized for ``profile``; returns (folder, ground truth)."""
    prof = get_profile(profile)
    # one corpus per folder; a new generator version gets a new folder instead of a refusal
    folder = Path(root) / f"{SYNTHETIC_FLAVOR}-{prof.corpus_size}-seed{seed}-v{GENERATOR_VERSION}"
    path, truth = make_synthetic(folder, flavor=SYNTHETIC_FLAVOR, size=prof.corpus_size, seed=seed, mel=prof.mel())
    return Path(path), truth


def grid_progress_file(cache_dir: str | Path, notebook: str) -> Path:
    """Where a notebook's job grid writes its progress (read by the runner's bar): one file per notebook,
    since the runner may run several notebooks at once."""
    return Path(cache_dir) / f"grid-progress-{notebook}.json"


def setup(notebook: str, *, dataset: str, data_root: str, profile: str, epochs: int = 0, folds: int = 0,
          seeds: int = 0, device: str = "auto", out_dir: str = "results", cache_dir: str = "cache",
          real_dir: str = "results/real", workers: int = 1, address: str = "") -> Study:
    """Resolve a notebook's flat parameters, create ``<out_dir>/<notebook>/`` and write ``params.json``.

    ``epochs``, ``folds``, ``seeds`` of 0 keep the profile's values (on real data, seeds 0 takes the
    profile's ``real_seeds`` when it has them). ``data_root`` "" with the synthetic
    dataset generates the built-in corpus under ``<cache_dir>/synthetic``. ``cache_dir`` holds the feature and run
    caches; ``real_dir`` the committed real-data snapshots. ``workers`` 1 trains one model at a time in
    this process; more (0: every core) run the trainings as a job grid on Ray, on a local instance or on the
    cluster at ``address`` (``HOST:PORT``); a GPU takes several small trainings at once (a quarter of it
    each; a paper-profile training takes a whole one).
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {list(DATASETS)}")
    prof = get_profile(profile)
    if dataset != "synthetic" and prof.real_seeds and not seeds:
        seeds = prof.real_seeds
    overrides = {k: v for k, v in {"epochs": epochs, "folds": folds, "seeds": seeds}.items() if v}
    if any(v < 0 for v in overrides.values()):
        raise ValueError(f"epochs, folds and seeds must be >= 0, got {overrides}")
    prof = replace(prof, **overrides)
    if not data_root:
        if dataset != "synthetic":
            raise ValueError(f"dataset {dataset!r} needs data_root: the folder you downloaded")
        root, _ = synthetic_corpus(profile, Path(cache_dir) / "synthetic")
    else:
        root = Path(data_root).expanduser()
        if not root.exists():
            raise FileNotFoundError(f"data_root {root} does not exist")
    out = Path(out_dir) / notebook
    out.mkdir(parents=True, exist_ok=True)
    device = str(resolve_device(device))
    gpus = (1.0 if prof.width >= 1 else 0.25) if device == "cuda" else 0.0
    executor = make_executor(workers, address=address or None, cpus_per_job=prof.threads or 1, gpus_per_job=gpus,
                             progress_file=grid_progress_file(cache_dir, notebook))
    study = Study(notebook=notebook, dataset=dataset, data_root=Path(root).resolve(), profile=prof,
                  device=device, out=out.resolve(), cache_dir=Path(cache_dir).resolve(),
                  real_dir=Path(real_dir).resolve(), executor=executor)
    # the kernel's machine: another CPU can train other fold models from the same code and seeds
    write_json(out / "params.json", {**study.params(), "python": platform.python_version(), **machine()})
    return study


def read_summary(out_dir: str | Path, notebook: str) -> dict | None:
    """A notebook's ``summary.json``, or None when that notebook has not run."""
    path = Path(out_dir) / notebook / "summary.json"
    return read_json(path) if path.is_file() else None
