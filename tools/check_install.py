"""Fail `make setup` loudly when the installed packages do not work together.

Usage: python tools/check_install.py [LOCK]

Checks, in order: that torch imports; that torchaudio imports and its compiled extension loads beside this
torch (an upstream torchaudio built against another torch fails here, not later in every test); that a
torchaudio transform runs; and, given the lock file, that every package it pins for this platform is
installed at exactly that version. Exits 1 with the package, its version and the problem.
"""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def check_torch_pair() -> list[str]:
    """Import torch and torchaudio, load torchaudio's extension and run a Mel transform."""
    torch_v, audio_v = _version("torch"), _version("torchaudio")
    pair = f"torch {torch_v} with torchaudio {audio_v}"
    try:
        import torch
    except Exception as err:  # noqa: BLE001 - any failure here is the message
        return [f"torch {torch_v} does not import: {err}"]
    try:
        import torchaudio
        from torchaudio._extension.utils import _load_lib

        if not _load_lib("libtorchaudio"):
            return [f"{pair}: torchaudio's compiled extension libtorchaudio is missing"]
        mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=256, n_mels=8)  # hop 128: 1600 samples -> 13 frames
        out = mel(torch.zeros(1, 1600))
    except Exception as err:  # noqa: BLE001
        return [f"{pair} do not load together: {type(err).__name__}: {err}. "
                "Install the pair pinned in requirements/lock.txt (see requirements/pins.txt)."]
    if tuple(out.shape) != (1, 8, 13):
        return [f"{pair}: MelSpectrogram returned shape {tuple(out.shape)}, expected (1, 8, 13)"]
    return []


def check_lock(lock: Path) -> list[str]:
    """Every pin of the lock that applies to this interpreter is installed at exactly that version."""
    from packaging.requirements import Requirement

    problems = []
    for line in lock.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        pinned = next(iter(req.specifier)).version
        have = _version(req.name)
        if have != pinned:
            problems.append(f"{req.name}: the lock pins {pinned}, installed is {have}")
    return problems


def main(argv: list[str]) -> int:
    problems = check_torch_pair()
    if len(argv) > 1:
        problems += check_lock(Path(argv[1]))
    for problem in problems:
        print(f"install check FAILED: {problem}", file=sys.stderr)
    if not problems:
        print(f"install check: torch {_version('torch')} + torchaudio {_version('torchaudio')} load together"
              + (f"; every pin of {argv[1]} is installed" if len(argv) > 1 else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
