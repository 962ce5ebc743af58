"""The job grid: independent trainings submitted together to an executor, which runs them and returns
their results in order.

A :class:`TrainJob` is one training fully described by its config, its data (a feature set and the item
indices of its training and validation parts), its named test sets and its run folder, keyed by what
decides its result. Executors:

- :class:`SerialExecutor` runs the jobs in this process one after another (``workers=1``: no Ray; for
  debugging and for machines with one core).
- :class:`RayExecutor` runs them on a Ray cluster: a local instance sized to the machine, or an existing
  cluster (``address="HOST:PORT"`` or ``RAY_ADDRESS``). Each job is a Ray task pinned to its CPU threads
  (or a fraction of a GPU); each feature set goes into the object store once, not pickled per job.

Both train each distinct run key once, load finished runs from the driver's run cache, and leave every
finished run on the driver's disk (a worker on another node sends its run folder back). A worker killed
mid-training (out of memory, a preempted node) is retried by Ray and resumes from that training's last
checkpoint; a job that fails for a real reason raises :class:`JobError` naming its config.
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..datasets.base import FeatureSet
from ..fileio import atomic_write, write_json
from . import runs
from .config import TrainConfig
from .fit import FitResult, fit, load_fit

NODE_FILE = "node.json"  # which machine trained a run (written next to result.json)
RUN_FILES = (runs.CONFIG_FILE, runs.HISTORY_FILE, runs.MODEL_FILE, runs.RESULT_FILE)  # result.json last


@dataclass(frozen=True)
class TrainJob:
    """One training: ``fit(data[train_idx], data[val_idx], config, tests=tests)`` into ``run_dir``."""

    config: TrainConfig
    data: FeatureSet  # the set both index arrays point into
    train_idx: np.ndarray
    val_idx: np.ndarray | None
    tests: Mapping[str, FeatureSet]
    run_dir: Path
    key: str

    def describe(self) -> str:
        c = self.config
        return (f"run {self.key} (backbone {c.backbone}, tsa {c.tsa}, seed {c.seed}, "
                f"{len(c.bands) if c.bands else 'all'} bands, {c.epochs} epochs, folder {self.run_dir})")


class JobError(RuntimeError):
    """A training failed for a reason of its own (bad input, a bug): the message names the job."""


@dataclass
class GridProgress:
    """One progress bar over every job submitted so far (done / total, in flight, ETA), optionally
    mirrored to a JSON file that the study runner reads to show the same bar in its terminal."""

    desc: str = "trainings"
    file: Path | None = None
    enabled: bool = True
    done: int = 0
    total: int = 0
    running: int = 0  # submitted and not finished: training, or waiting for a free worker
    cached: int = 0  # of the done: loaded from the run cache, not trained
    bar: Any = field(default=None, repr=False)

    def add(self, n: int, cached: int = 0) -> None:
        """``n`` more jobs in the grid, ``cached`` of them already finished."""
        self.total += n
        self.done += cached
        self.cached += cached
        self._show(cached)

    def start(self, n: int = 1) -> None:
        self.running += n
        self._show()

    def finish(self) -> None:
        self.done += 1
        self.running = max(0, self.running - 1)
        self._show(1)

    def _show(self, advance: int = 0) -> None:
        if self.bar is None:
            self.bar = tqdm(total=0, desc=self.desc, unit="job", disable=not self.enabled, leave=False)
        self.bar.total = self.total
        self.bar.update(advance)
        self.bar.set_postfix(in_flight=self.running, refresh=False)
        self.bar.refresh()
        if self.file is not None:
            write_json(self.file, {"desc": self.desc, "done": self.done, "total": self.total,
                                   "running": self.running, "cached": self.cached, "time": time.time()})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def unique_jobs(jobs: Sequence[TrainJob]) -> dict[str, TrainJob]:
    """Jobs by run key: identical trainings (the same key) appear once."""
    out: dict[str, TrainJob] = {}
    for job in jobs:
        out.setdefault(job.key, job)
    return out


def plan_batch(jobs: Sequence[TrainJob], progress: GridProgress) -> tuple[dict[str, FitResult], list[TrainJob]]:
    """What every executor does first: the finished runs loaded from the run cache (by key), and the
    distinct jobs left to train; the progress bar counts both."""
    unique = unique_jobs(jobs)
    cached = {k for k, j in unique.items() if runs.is_finished(j.run_dir)}
    progress.add(len(unique), cached=len(cached))
    return {k: _finished(unique[k]) for k in cached}, [j for k, j in unique.items() if k not in cached]


def train_job(job: TrainJob, run_dir: Path | None = None) -> FitResult:
    """Run one job in this process, into ``run_dir`` (default: the job's own)."""
    data = job.data
    val = data.subset(job.val_idx) if job.val_idx is not None else None
    return fit(data.subset(job.train_idx), val, job.config, tests=dict(job.tests), run_dir=run_dir or job.run_dir,
               key=job.key, progress=False)


def _finished(job: TrainJob) -> FitResult:
    return replace(load_fit(job.run_dir, job.config.device), config=job.config)


class SerialExecutor:
    """Runs jobs in this process, one after another (what ``workers=1`` means)."""

    workers = 1

    def __init__(self, *, progress: bool = True, progress_file: str | Path | None = None) -> None:
        self.progress = GridProgress(enabled=progress, file=Path(progress_file) if progress_file else None)

    def run(self, jobs: Sequence[TrainJob]) -> list[FitResult]:
        """Every job's result, in the order of ``jobs`` (a repeated run key is trained once)."""
        results, todo = plan_batch(jobs, self.progress)
        for job in todo:
            self.progress.start()
            try:
                results[job.key] = train_job(job)
            except Exception as err:
                raise JobError(f"{job.describe()} failed: {type(err).__name__}: {err}") from err
            write_json(job.run_dir / NODE_FILE, node_info())
            self.progress.finish()
        return [results[job.key] for job in jobs]

    def close(self) -> None:
        self.progress.close()


def node_info() -> dict[str, Any]:
    """The machine (and Ray node, inside a Ray worker) running this code."""
    info: dict[str, Any] = {"hostname": socket.gethostname(), "pid": os.getpid()}
    try:
        import ray  # optional: only inside a Ray worker

        if ray.is_initialized():
            ctx = ray.get_runtime_context()
            info.update(node_id=ctx.get_node_id(), node_ip=ray.util.get_node_ip_address())
    except ImportError:
        pass
    return info


def _train_in_worker(job: TrainJob, data: FeatureSet, *tests: FeatureSet) -> tuple[dict[str, bytes], dict]:
    """A Ray task: train ``job`` (its data arrive as object-store values) and return its run folder's
    files and the node it ran on. The run trains into the job's folder when this node can write it (one
    machine, or a shared filesystem: a retried task then resumes from its checkpoint there), otherwise
    into a scratch folder of this node keyed by the run."""
    job = replace(job, data=data, tests=dict(zip(job.tests, tests)))
    run_dir = job.run_dir
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError:
        run_dir = Path(tempfile.gettempdir()) / "respcore-runs" / job.key
    train_job(job, run_dir)
    return {name: (run_dir / name).read_bytes() for name in RUN_FILES}, node_info()


class RayExecutor:
    """Runs jobs as Ray tasks on a local or remote Ray cluster.

    Args:
        address: an existing cluster (``"HOST:PORT"``, ``"auto"``); None starts a local instance with
            ``workers`` CPUs (default: every core), or joins the one ``RAY_ADDRESS`` names.
        workers: CPUs of the local instance (ignored when joining a cluster).
        cpus_per_job: CPUs each training reserves (its torch threads).
        gpus_per_job: the fraction of a GPU each training reserves (0: CPU jobs; 0.25: four per GPU).
        max_retries: how often Ray reruns a job whose worker died.
    """

    def __init__(self, *, address: str | None = None, workers: int | None = None, cpus_per_job: float = 1,
                 gpus_per_job: float = 0.0, max_retries: int = 3, progress: bool = True,
                 progress_file: str | Path | None = None) -> None:
        import ray  # optional dependency (the "grid" extra): imported only when a Ray executor is made

        self.ray = ray
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.workers = workers or os.cpu_count() or 1
        self.cpus_per_job, self.gpus_per_job, self.max_retries = cpus_per_job, gpus_per_job, max_retries
        self.progress = GridProgress(enabled=progress, file=Path(progress_file) if progress_file else None)
        self._task = None
        self._lock = threading.Lock()  # study threads share one executor: connect once
        # run key -> the Ray task training it, shared by every study thread whose batch holds that key (two
        # selections of one study start from the same all-band round): a run trains once, not once a thread
        self._in_flight: dict[str, Any] = {}
        self.submitted = 0  # distinct trainings sent to the cluster
        self.started = False  # True when this executor started the local instance (and stops it)

    def connect(self) -> None:
        """Join the cluster, or start a local instance, on first use (once, whatever the threads)."""
        with self._lock:
            if self._task is not None:
                return
            ray = self.ray
            if not ray.is_initialized():
                if self.address:
                    ray.init(address=self.address, log_to_driver=False, logging_level="ERROR")
                else:
                    ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False,
                             logging_level="ERROR")
                    self.started = True
            self._task = ray.remote(_train_in_worker)

    def _put(self, data: FeatureSet, refs: dict[int, Any]) -> Any:
        """The object ref of ``data``, put into the object store once per feature set and batch (the
        refs are dropped with the batch, so the store does not keep every band subset of a selection)."""
        if id(data) not in refs:
            refs[id(data)] = self.ray.put(data)
        return refs[id(data)]

    def run(self, jobs: Sequence[TrainJob]) -> list[FitResult]:
        """Every job's result, in the order of ``jobs``; the jobs run concurrently on the cluster."""
        results, todo = plan_batch(jobs, self.progress)
        if todo:
            self.connect()
            self._collect(self._submit(todo), results)
        return [results[job.key] for job in jobs]

    def _submit(self, todo: list[TrainJob]) -> dict[Any, TrainJob]:
        options = dict(num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job, max_retries=self.max_retries)
        pending, puts = {}, {}
        for job in todo:
            with self._lock:
                ref = self._in_flight.get(job.key)
                if ref is None:
                    shipped = replace(job, data=None, tests={name: None for name in job.tests})  # data by reference
                    refs = [self._put(job.data, puts), *(self._put(t, puts) for t in job.tests.values())]
                    ref = self._in_flight[job.key] = self._task.options(**options).remote(shipped, *refs)
                    self.submitted += 1
            pending[ref] = job
        self.progress.start(len(pending))
        return pending

    def _collect(self, pending: dict[Any, TrainJob], results: dict[str, FitResult]) -> None:
        ray = self.ray
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    files, node = ray.get(done[0])
                except ray.exceptions.RayTaskError as err:
                    with self._lock:
                        self._in_flight.pop(job.key, None)
                    cause = err.cause if getattr(err, "cause", None) is not None else err
                    raise JobError(f"{job.describe()} failed: {type(cause).__name__}: {cause}") from err
                with self._lock:  # the thread that lands a shared run first writes it; the others find it
                    _land(job, files, node)
                    self._in_flight.pop(job.key, None)
                results[job.key] = replace(_finished(job), trained=True)
                self.progress.finish()
        except BaseException:  # Ctrl-C or a failed job: stop the rest; finished runs stay cached
            with self._lock:
                for ref, job in pending.items():
                    self._in_flight.pop(job.key, None)
                    ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        """Close the progress bar, and stop the local instance this executor started."""
        self.progress.close()
        if self.started:
            self.ray.shutdown()
            self.started = False
            self._task = None


def _land(job: TrainJob, files: dict[str, bytes], node: dict) -> None:
    """Write a finished run's files into the driver's run folder (result.json last: it marks the run
    finished), unless the worker already wrote them there."""
    if not runs.is_finished(job.run_dir):
        for name in RUN_FILES:
            atomic_write(job.run_dir / name, lambda tmp, data=files[name]: tmp.write_bytes(data))
    write_json(job.run_dir / NODE_FILE, node)


def make_executor(workers: int = 1, *, address: str | None = None, cpus_per_job: float = 1,
                  gpus_per_job: float = 0.0, progress: bool = True,
                  progress_file: str | Path | None = None) -> SerialExecutor | RayExecutor:
    """``workers=1`` without an address: a :class:`SerialExecutor`; otherwise a :class:`RayExecutor`
    (``workers=0``: every core of this machine)."""
    if workers == 1 and not address:
        return SerialExecutor(progress=progress, progress_file=progress_file)
    return RayExecutor(address=address, workers=workers or None, cpus_per_job=cpus_per_job,
                       gpus_per_job=gpus_per_job, progress=progress, progress_file=progress_file)


Executor = SerialExecutor | RayExecutor
