"""Timing helpers for the benchmarks: medians after warm-up, interleaved comparisons, machine info.

Every figure the benchmark reports is a median of several timed runs after untimed warm-up runs, and
carries the 1-minute load average read when it was taken: the machine may be shared, so absolute
numbers are noisy and the comparisons that matter are ratios of runs interleaved in the same process.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

import torch

from respcore.provenance import cpu_model


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median, min and max of ``runs`` timed calls, and the load average then.

    ``cpu_median_s`` is the median CPU time of this process per call (all its threads): on a shared
    machine it moves much less with other processes' load than wall time does.
    """

    median_s: float
    min_s: float
    max_s: float
    runs: int
    load1: float  # 1-minute load average when the last run finished
    cpu_median_s: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


def load1() -> float:
    """1-minute load average (NaN where the platform has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def synchronizer(device: str | torch.device) -> Callable[[], None]:
    """A function that waits for queued work on ``device`` (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def _timing(times: list[float], cpu: list[float]) -> Timing:
    return Timing(statistics.median(times), min(times), max(times), len(times), load1(), statistics.median(cpu))


def time_call(fn: Callable[[], object], *, warmup: int = 1, repeats: int = 5,
              device: str | torch.device = "cpu") -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then the median of ``repeats`` timed ones."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    sync = synchronizer(device)
    for _ in range(warmup):
        fn()
    sync()
    times, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return _timing(times, cpu)


def time_interleaved(fns: Mapping[str, Callable[[], object]], *, warmup: int = 1, repeats: int = 5,
                     device: str | torch.device = "cpu", cpu_rounds: list[dict[str, float]] | None = None,
                     ) -> tuple[dict[str, Timing], list[dict[str, float]]]:
    """Time several functions round-robin, so a load spike on a shared machine hits all of them alike.

    Args:
        cpu_rounds: if given, receives the per-round CPU seconds of this process (all its threads).
    Returns:
        ``{name: Timing}`` and the per-round wall seconds ``[{name: s}, ...]`` (for per-round ratios).
    """
    cpu_rounds = [] if cpu_rounds is None else cpu_rounds
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    sync = synchronizer(device)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync()
    rounds: list[dict[str, float]] = []
    for _ in range(repeats):
        this_round, this_cpu = {}, {}
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            sync()
            this_round[name] = time.perf_counter() - t0
            this_cpu[name] = time.process_time() - c0
        rounds.append(this_round)
        cpu_rounds.append(this_cpu)
    timings = {name: _timing([r[name] for r in rounds], [r[name] for r in cpu_rounds[-repeats:]]) for name in fns}
    return timings, rounds


def median_ratio(rounds: list[dict[str, float]], numerator: str, denominator: str) -> float:
    """Median over rounds of ``t[numerator] / t[denominator]`` (a speed-up when the numerator is the slower)."""
    return statistics.median(r[numerator] / r[denominator] for r in rounds)


def _git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                             text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(device: str, repo: Path) -> dict:
    """What the figures ran on: CPU model and cores, threads, library versions, GPU, load, commit."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host_platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": device,
        "load_avg": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "git_commit": _git_commit(repo),
    }
    try:
        import torchaudio

        info["torchaudio"] = torchaudio.__version__
    except ImportError:
        info["torchaudio"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["cuda"] = {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                        "capability": f"{props.major}.{props.minor}", "runtime": torch.version.cuda}
    return info
