"""The headline figures of a benchmark result file as Markdown, for benchmarks/README.md.

Usage: ``python benchmarks/summary.py [benchmarks/results/latest.json]``
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT = Path(__file__).with_name("results") / "latest.json"


def _fmt(v: object, digits: int = 3) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, float)):
        return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def _table(header: list[str], lines: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_fmt(c) for c in line) + " |" for line in lines]
    return out


def summarize(result: dict) -> str:
    """Markdown: the machine line, then one table per section from the rows of ``result``."""
    m, rows = result["machine"], result["rows"]
    get = {(r["section"], r["case"], r["metric"], r["batch"]): r for r in rows}
    out = [f"Machine: {m['cpu_model']}, {m['cpu_usable']} usable cores, torch {m['torch']} "
           f"({m['torch_threads']} threads, {m['cpu_capability']}), Python {m['python']}; "
           f"{m['utc']}, commit {m['git_commit']}; load average {m['load_avg']} at start, "
           f"{result.get('load_avg_end')} at the end; run took {result.get('wall_s')} s."]
    if m.get("cuda"):
        out[0] += f" GPU: {m['cuda']['name']}."
    cases = list(dict.fromkeys(r["case"] for r in rows if r["section"] == "inference"))
    if cases:
        batches = sorted({r["batch"] for r in rows if r["section"] == "inference" and r["batch"]})
        lines = []
        for c in cases:
            line = [c, get[("inference", c, "MACs/sample", None)]["value"], get[("inference", c, "params", None)]["value"]]
            for b in batches:
                line.append(get[("inference", c, "latency", b)]["value"])
                line.append(get[("inference", c, "throughput", b)]["value"])
            lines.append(line)
        header = ["model", "GMACs/sample", "params"]
        for b in batches:
            header += [f"ms/batch (b={b})", f"samples/s (b={b})"]
        out += ["", "Inference:", ""] + _table(header, lines)
    scaling = [r for r in rows if r["section"] == "band_scaling" and r["metric"] == "time_ratio"]
    if scaling:
        lines = []
        for r in scaling:
            c, b = r["case"], r["batch"]
            cpu = get.get(("band_scaling", c, "cpu_time_ratio", b))
            lines.append([c, get[("band_scaling", c, "time", b)]["value"], get[("band_scaling", c, "flops_ratio", b)]["value"],
                          r["value"], cpu["value"] if cpu else "", get[("band_scaling", c, "efficiency", b)]["value"], r["load1"]])
        out += ["", f"Bands removed (CNN-TSA[post], batch {scaling[0]['batch']}):", ""]
        out += _table(["kept bands", "ms/batch", "FLOPs ratio", "time ratio", "CPU-time ratio", "time/FLOPs", "load"], lines)
    for section, title in (("speed_options", "Inference options (same run)"),
                           ("train_options", "Training step options (same run)"), ("log_mel", "Log-Mel front end"),
                           ("cache", "Synthetic corpus and feature cache"), ("training", "Training (respcore.train.fit)"),
                           ("memory", "Peak memory of a training run"), ("fbs", "FBS cost, IS vs BS")):
        sec = [r for r in rows if r["section"] == section]
        if sec:
            out += ["", f"{title}:", ""]
            out += _table(["case", "metric", "value", "unit", "note"],
                          [[r["case"], r["metric"], r["value"], r["unit"], r["note"]] for r in sec])
    return "\n".join(out)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    print(summarize(json.loads(path.read_text())))
