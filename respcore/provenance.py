"""Where a result came from: the code version, the package versions and a fingerprint of the data files.

Committed real-data results carry these fields so that a reader without the data can see what produced
them, and a reader with the data can check that their download is the same before comparing numbers.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Iterable

import numpy
import torch
import torchaudio

from . import __version__

PROVENANCE_FIELDS = ("git_commit", "git_dirty", "source_sha1", "python", "torch", "torchaudio", "numpy", "respcore",
                     "platform", "cpu", "cpu_capability", "cpu_count", "torch_threads")


def release_fingerprint(paths: Iterable[str | Path], root: str | Path) -> dict:
    """Fingerprint of data files from their names (relative to ``root``) and sizes, not their times.

    Two copies of the same release give the same fingerprint wherever and whenever they were downloaded;
    a missing, added or resized file changes it.

    Returns:
        {"sha1": 16 hex digits, "n_files": int, "total_bytes": int}
    Raises:
        FileNotFoundError: a path does not exist (named).
        ValueError: ``paths`` is empty, or a path lies outside ``root``.
    """
    root = Path(root).resolve()
    rows = []
    for p in paths:
        p = Path(p).resolve()
        if not p.is_file():
            raise FileNotFoundError(f"data file {p} does not exist")
        try:
            name = p.relative_to(root).as_posix()
        except ValueError:
            raise ValueError(f"data file {p} is not under the data root {root}") from None
        rows.append((name, p.stat().st_size))
    if not rows:
        raise ValueError(f"no data files to fingerprint under {root}")
    rows.sort()
    h = hashlib.sha1()
    for name, size in rows:
        h.update(f"{name}\0{size}\n".encode())
    return {"sha1": h.hexdigest()[:16], "n_files": len(rows), "total_bytes": int(sum(s for _, s in rows))}


COMMIT_ENV = "RESPCORE_GIT_COMMIT"  # the commit of a source copy that has no .git


@functools.lru_cache(maxsize=None)
def git_commit(repo: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(commit hash of HEAD, whether tracked files differ from it); (None, None) outside a git checkout.

    Read once per process and argument: a long run reports the code it started with, not a commit made
    in the checkout while it ran (the run's imported modules do not change either).
    """
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                              check=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, check=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        # a copy of the source without its .git (a GPU machine, an unpacked archive) may name its commit;
        # whether it differs from that commit is then unknown, and source_hash() identifies the code
        return os.environ.get(COMMIT_ENV) or None, None
    return head, bool(dirty)


def code_version() -> str:
    """The commit in short form for labels: ``abc1234``, ``abc1234+dirty`` or ``unknown``."""
    commit, dirty = git_commit()
    return f"{commit[:7]}{'+dirty' if dirty else ''}" if commit else "unknown"


@functools.lru_cache(maxsize=None)
def source_hash(package: str | Path | None = None) -> str:
    """sha1 (16 hex digits) of every ``.py`` file of the package, names and contents.

    Identifies the exact code even when the checkout differs from its git commit (``git_dirty``).
    Read once per process and argument, like :func:`git_commit`.
    """
    package = Path(package) if package is not None else Path(__file__).resolve().parent
    h = hashlib.sha1()
    for p in sorted(package.rglob("*.py")):
        h.update(p.relative_to(package).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``; elsewhere ``platform.processor()`` or the machine type)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The CPU (``cpu``) and the instruction set torch's CPU kernels use (``cpu_capability``). Floating point
    differs between machines, so the same code, torch and seeds can train other models on another one."""
    return {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def environment() -> dict:
    """Code version and software versions of this process: the ``PROVENANCE_FIELDS``."""
    commit, dirty = git_commit()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "source_sha1": source_hash(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchaudio": torchaudio.__version__,
        "numpy": numpy.__version__,
        "respcore": __version__,
        "platform": platform.platform(),
        "accelerator": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        **machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
