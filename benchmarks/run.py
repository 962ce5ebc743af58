"""Benchmark respcore: inference speed, FLOPs against measured time, training, front end, FBS, memory.

Usage::

    python benchmarks/run.py [--quick] [--device cpu|cuda] [--out benchmarks/results] [--threads N]
                             [--skip SECTION ...]

Prints one table and writes ``<out>/latest.csv`` and ``<out>/latest.json`` (``quick.*`` with
``--quick``); the JSON holds the machine (CPU model, cores, torch version, load average), the settings
and every row. Each figure is the median of several runs after warm-up; comparisons are ratios of runs
interleaved in the same process. See ``benchmarks/README.md`` for what each section measures.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import torch

# run as a script, this folder is on sys.path: the benchmark's own modules import as top-level names
from bench_models import (bench_band_scaling, bench_gate, bench_inference, bench_speed_options, bench_train_options,
                          row)
from bench_pipeline import (bench_attributions, bench_cache, bench_fbs, bench_log_mel, bench_peak_memory,
                            bench_training)
from settings import Settings
from timing import load1, machine_info

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("section", "case", "metric", "value", "unit", "device", "batch", "load1", "note")

SECTIONS: dict[str, Callable[[Settings], list[dict]]] = {
    "inference": bench_inference,
    "band_scaling": bench_band_scaling,
    "band_scaling_cl": lambda s: bench_band_scaling(s, channels_last=True, bands=(64, 32)),
    "gate": bench_gate,
    "speed_options": bench_speed_options,
    "train_options": bench_train_options,
    "log_mel": bench_log_mel,
    "cache": bench_cache,
    "training": bench_training,
    "memory": bench_peak_memory,
    "fbs": bench_fbs,
    "attributions": bench_attributions,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: checks the script runs")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="folder for CSV + JSON")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice, usually the core count)")
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(SECTIONS), metavar="SECTION",
                        help=f"sections to leave out: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda asked for, but torch sees no CUDA device on this machine")
    return args


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return "" if value is None else str(value)


def format_table(rows: list[dict]) -> str:
    """A plain-text table of the rows, one block per section."""
    cols = ("case", "metric", "value", "unit", "batch", "load1", "note")
    cells = [[format_value(r[c]) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(cols)]
    lines, section = [], None
    for r, line in zip(rows, cells):
        if r["section"] != section:
            section = r["section"]
            lines += ["", f"== {section} ({r['device']})",
                      "  ".join(c.ljust(w) for c, w in zip(cols, widths))]
        lines.append("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())
    return "\n".join(lines)


def write_results(rows: list[dict], meta: dict, out: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<out>/<stem>.csv`` (the rows) and ``<out>/<stem>.json`` (machine, settings, rows)."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = out / f"{stem}.csv", out / f"{stem}.json"
    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(csv_path)
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**meta, "rows": rows}, indent=1, default=str) + "\n")
    tmp.replace(json_path)
    return csv_path, json_path


def run(settings: Settings, checkpoint: Callable[[list[dict], list[dict]], object] | None = None,
        ) -> tuple[list[dict], list[dict]]:
    """Run every section not skipped; a section that fails is reported as an error row, not fatal.

    ``checkpoint(rows, errors)`` is called after each section (the CLI writes the files so far).
    """
    rows, errors = [], []
    for name, bench in SECTIONS.items():
        if name in settings.skip:
            continue
        t0 = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
        try:
            rows += bench(settings)
        except Exception as exc:  # one broken section must not lose the others' figures
            errors.append({"section": name, "error": f"{type(exc).__name__}: {exc}",
                           "traceback": traceback.format_exc()})
            rows.append(row(name, "error", "error", f"{type(exc).__name__}: {exc}", "", device=settings.device,
                            load1=load1()))
        print(f"[{time.strftime('%H:%M:%S')}] {name} done in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)
        if checkpoint is not None:
            checkpoint(rows, errors)
    return rows, errors


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    settings = Settings.make(quick=args.quick, device=args.device, skip=tuple(args.skip))
    meta = {"machine": machine_info(args.device, REPO), "settings": settings.to_dict()}
    stem = "quick" if args.quick else ("latest" if args.device == "cpu" else f"latest_{args.device}")
    t0 = time.perf_counter()

    def checkpoint(rows: list[dict], errors: list[dict], complete: bool = False) -> tuple[Path, Path]:
        meta.update(wall_s=round(time.perf_counter() - t0, 1), load_avg_end=[round(v, 2) for v in os.getloadavg()],
                    errors=errors, complete=complete)  # complete=False: a run still going, or killed
        return write_results(rows, meta, args.out, stem)

    rows, errors = run(settings, checkpoint)
    paths = checkpoint(rows, errors, complete=True)
    print(format_table(rows))
    print(f"\nwrote {paths[0]} and {paths[1]} ({meta['wall_s']} s)")
    for err in errors:
        print(f"\nsection {err['section']} failed:\n{err['traceback']}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
