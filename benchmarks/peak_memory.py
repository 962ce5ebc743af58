"""Peak memory of one training run, measured in a fresh process (run by ``bench_pipeline``).

Usage: ``python benchmarks/peak_memory.py '{"profile": "cpu", "train_items": 1024, "val_items": 256,
"device": "cpu"}'``. Prints one JSON line: the resident set before ``respcore.train.fit`` and its peak
during the fit (Linux: the high-water mark is reset just before, via ``/proc/self/clear_refs``; elsewhere
the process's lifetime ``ru_maxrss``), the features' own size, and on a GPU
``torch.cuda.max_memory_allocated``. A fresh process, so earlier benchmarks do not inflate the peak.
"""
from __future__ import annotations

import json
import resource
import sys
import tempfile
from pathlib import Path

import torch

from bench_pipeline import train_setup
from settings import Settings

STATUS = Path("/proc/self/status")


def _status_mib(field: str) -> float | None:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in MiB, or None off Linux."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # reported in kB
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the resident-set high-water mark to the current RSS (Linux >= 4.0); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main(args: dict) -> dict:
    from respcore.train import fit

    s = Settings(train_profile=args["profile"], train_items=int(args["train_items"]),
                 val_items=int(args["val_items"]), device=args["device"])
    train, val, config = train_setup(s, s.device)
    features_mib = (train.x.numel() + val.x.numel()) * train.x.element_size() / 2**20
    cuda = torch.device(s.device).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    before = _status_mib("VmRSS")
    reset = reset_peak()
    with tempfile.TemporaryDirectory(prefix="respcore-bench-mem-") as tmp:
        fit(train, val, config, run_dir=Path(tmp) / "run", progress=False)
    peak = _status_mib("VmHWM") if reset else None
    if peak is None:  # lifetime peak; ru_maxrss is KiB on Linux, bytes on macOS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    return {"peak_rss_mib": round(peak, 1), "rss_before_fit_mib": None if before is None else round(before, 1),
            "peak_is_fit_only": reset, "features_mib": round(features_mib, 1),
            "cuda_max_allocated_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(json.dumps(main(json.loads(sys.argv[1]))))
