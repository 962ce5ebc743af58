"""The job grid: the same numbers serially and on Ray, each run key trained once, results on the driver's
disk from another node, a killed worker resumed from its checkpoint, a real failure named."""
from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from planted import planted_featureset  # noqa: E402
from respcore.train import TrainConfig, cross_validate  # noqa: E402
from respcore.train.grid import NODE_FILE, JobError, RayExecutor, SerialExecutor, TrainJob  # noqa: E402
from respcore.train import runs  # noqa: E402

TINY = TrainConfig(backbone="cnn3", width=0.125, epochs=3, batch_size=16, device="cpu", num_threads=1)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance with 2 CPUs for the module (about 10 s to start)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _scores(cv) -> list:
    return cv.runs.drop(columns=["seconds", "trained", "path"]).round(12).to_dict("records")


def test_ray_and_serial_give_the_same_numbers_and_train_each_key_once(local_ray, tmp_path: Path) -> None:
    data = planted_featureset(64)
    tests = {"inter": data.subset(np.arange(16)), "intra": data.subset(np.arange(16, 32))}
    serial = cross_validate(data, TINY, k=2, seeds=(0, 1), tests=tests, root=tmp_path / "serial",
                            executor=SerialExecutor(progress=False), progress=False)
    grid = RayExecutor(progress=False)
    parallel = cross_validate(data, TINY, k=2, seeds=(0, 1), tests=tests, root=tmp_path / "ray", executor=grid,
                              progress=False)
    assert _scores(parallel) == _scores(serial)
    assert parallel.runs["trained"].all() and len(parallel.fits) == 4
    for path in parallel.paths:  # every run landed on the driver's disk, with the node that trained it
        assert runs.is_finished(path) and (path / NODE_FILE).is_file()
    again = cross_validate(data, TINY, k=2, seeds=(0, 1), tests=tests, root=tmp_path / "ray", executor=grid,
                           progress=False)
    assert not again.runs["trained"].any() and _scores(again) == _scores(serial)  # the run cache, not Ray
    job = TrainJob(TINY, data, np.arange(32), np.arange(32, 64), {}, tmp_path / "dup" / "k", "k")
    first, second = grid.run([job, job])  # one key: one training
    assert first.path == second.path and grid.progress.total == 4 + 4 + 1


def test_threads_sharing_a_key_train_it_once(local_ray, tmp_path: Path) -> None:
    """Two study threads whose batches hold the same run (two selections starting from one all-band round)
    wait on one training: the cluster gets each key once, and both get its result."""
    from concurrent.futures import ThreadPoolExecutor

    data = planted_featureset(64)
    jobs = [TrainJob(replace(TINY, seed=s), data, np.arange(32), np.arange(32, 64), {}, tmp_path / f"s{s}", f"s{s}")
            for s in range(2)]
    grid = RayExecutor(progress=False)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(grid.run, [jobs, list(reversed(jobs))])
    assert grid.submitted == 2
    assert [r.path for r in a] == [r.path for r in reversed(b)] and all(runs.is_finished(j.run_dir) for j in jobs)


def test_a_failing_job_is_named(local_ray, tmp_path: Path) -> None:
    data = planted_featureset(32)
    bad = replace(TINY, backbone="nope")
    job = TrainJob(bad, data, np.arange(16), np.arange(16, 32), {}, tmp_path / "bad", "badkey")
    with pytest.raises(JobError, match=r"run badkey \(backbone nope.*failed: ValueError"):
        RayExecutor(progress=False).run([job])
    with pytest.raises(JobError, match="backbone nope"):
        SerialExecutor(progress=False).run([job])


def _worker_pids() -> set[int]:
    """PIDs of Ray worker processes running our training task (their title names the task)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                title = (proc / "cmdline").read_bytes().decode(errors="ignore")
            except OSError:
                continue
            if "_train_in_worker" in title:
                pids.add(int(proc.name))
    return pids


def test_a_killed_worker_is_retried_and_resumes_from_its_checkpoint(local_ray, tmp_path: Path) -> None:
    data = planted_featureset(64)
    config = replace(TINY, epochs=40, checkpoint_seconds=0)
    whole = SerialExecutor(progress=False).run(
        [TrainJob(config, data, np.arange(48), np.arange(48, 64), {}, tmp_path / "whole", "whole")])[0]
    job = TrainJob(config, data, np.arange(48), np.arange(48, 64), {}, tmp_path / "killed", "killed")
    grid = RayExecutor(progress=False)
    grid.connect()
    pending = grid._submit([job])
    ckpt = job.run_dir / runs.CHECKPOINT_FILE
    deadline = time.time() + 120
    while not ckpt.is_file() and time.time() < deadline:
        time.sleep(0.05)
    assert ckpt.is_file(), "the training never checkpointed"
    pids = _worker_pids()
    assert pids, "no Ray worker runs the training"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    results: dict = {}
    grid._collect(pending, results)
    resumed = results["killed"]
    assert resumed.best_epoch == whole.best_epoch and resumed.val_scores == whole.val_scores
    history = resumed.history
    assert list(history["epoch"]) == list(range(1, 41))


