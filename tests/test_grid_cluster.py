"""The job grid on a Ray cluster of two nodes (``ray.cluster_utils.Cluster``, all on this machine): jobs
spread over the nodes, each run lands on the driver's disk and records the node that trained it, and a
run trained on a node that cannot write the driver's folder comes back through the object store."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from planted import planted_featureset  # noqa: E402
from respcore.train import TrainConfig, cross_validate, runs  # noqa: E402
from respcore.train.grid import NODE_FILE, RayExecutor, TrainJob, _land, _train_in_worker, node_info  # noqa: E402

TINY = TrainConfig(backbone="cnn3", width=0.125, epochs=2, batch_size=16, device="cpu", num_threads=1)


def test_jobs_spread_over_two_nodes_and_land_on_the_driver(tmp_path: Path) -> None:
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        grid = RayExecutor(address=cluster.address, progress=False)
        data = planted_featureset(64)
        cv = cross_validate(data, TINY, k=2, seeds=(0, 1), root=tmp_path, executor=grid, progress=False)
        nodes = {json.loads((p / NODE_FILE).read_text())["node_id"] for p in cv.paths}
        assert all(runs.is_finished(p) for p in cv.paths)
        assert len(nodes) == 2, f"4 one-CPU jobs on two one-CPU nodes ran on {nodes}"
        assert not grid.started  # it joined the cluster; it does not own it
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_run_from_a_node_without_the_driver_folder_is_sent_back(tmp_path: Path) -> None:
    data = planted_featureset(32)
    (tmp_path / "elsewhere").write_text("a file where the driver has its run folder: no node can mkdir it")
    key = f"test-{tmp_path.name}-{np.random.default_rng().integers(1 << 40)}"  # a fresh scratch folder
    job = TrainJob(TINY, data, np.arange(16), np.arange(16, 32), {}, tmp_path / "elsewhere" / key, key)
    files, node = _train_in_worker(job, data)  # trains in this node's scratch folder instead
    assert set(files) == {"config.json", "history.csv", "model.pt", "result.json"}
    landed = TrainJob(TINY, data, job.train_idx, job.val_idx, {}, tmp_path / "driver" / key, key)
    _land(landed, files, node)
    assert runs.is_finished(landed.run_dir) and node["hostname"] == node_info()["hostname"]
    assert json.loads((landed.run_dir / NODE_FILE).read_text()) == node


def test_threads_sharing_one_executor_connect_once(tmp_path: Path) -> None:
    """The study runs independent selections in threads that share one executor: the first use of Ray
    may come from several threads at once (it once called ray.init twice)."""
    data = planted_featureset(32)
    grid = RayExecutor(workers=2, progress=False)
    jobs = [TrainJob(replace(TINY, epochs=1, seed=s), data, np.arange(16), np.arange(16, 32), {}, tmp_path / f"t{s}",
                     f"t{s}") for s in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda job: grid.run([job])[0], jobs))
    finally:
        grid.close()
    assert [r.config.seed for r in results] == [0, 1, 2, 3] and not ray.is_initialized()
