"""Inference benchmarks: latency and throughput per model, and whether removed bands save real time.

Each function returns rows (plain dicts, see ``row``) that ``run.py`` prints and writes.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

import respcore
from settings import Settings
from timing import median_ratio, time_call, time_interleaved


def row(section: str, case: str, metric: str, value: float | int | str | bool | None, unit: str, *,
        device: str, batch: int | None = None, load1: float | None = None, note: str = "") -> dict:
    """One result: what was measured (section, case, metric), its value and unit, and the conditions."""
    if isinstance(value, float):
        value = round(value, 6)
    return {"section": section, "case": case, "metric": metric, "value": value, "unit": unit,
            "device": device, "batch": batch, "load1": load1, "note": note}


def build(tsa: str, n_bands: int, s: Settings, *, backbone: str = "cnn6") -> nn.Module:
    """An untrained model in eval mode on the benchmark device."""
    model = respcore.build_model(backbone, s.n_classes, n_bands=n_bands, tsa=tsa, width=s.width)
    return model.to(s.device).eval()


def forward_fn(model: nn.Module, x: torch.Tensor, *, grad: bool = False) -> Callable[[], torch.Tensor]:
    """A no-argument call of ``model(x)`` under ``torch.inference_mode`` (or with autograd on)."""
    if grad:
        return lambda: model(x)

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    return call


def fused_for_inference(model: nn.Module) -> nn.Module:
    """A copy of a CNN-TSA in eval mode with each conv block's BatchNorm folded into its convolution
    and an in-place ReLU: the same function (up to float rounding), two fewer passes over each block's
    largest activation. A candidate inference-time fix, measured in ``bench_speed_options``."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(model).eval()
    for block in fused.blocks.values():
        block.conv = fuse_conv_bn_eval(block.conv, block.bn)  # conv gains a bias, BN becomes a no-op
        block.bn = nn.Identity()
        block.act = nn.ReLU(inplace=True)
    return fused


def model_cases(s: Settings) -> list[tuple[str, str, int]]:
    """(name, tsa placement, bands): CNN6, CNN-TSA at each placement, CNN-TSA[post] with fewer bands."""
    cases = [("CNN6", "none", 64)]
    cases += [(f"CNN-TSA[{p}]", p, 64) for p in s.placements]
    cases += [(f"CNN-TSA[post] {b} bands", "post", b) for b in s.bands if b != 64]
    return cases


def bench_inference(s: Settings) -> list[dict]:
    """Parameters, MACs per sample, latency and throughput of every model case at every batch size."""
    rows = []
    for name, tsa, n_bands in model_cases(s):
        model = build(tsa, n_bands, s)
        shape = (1, 1, n_bands, s.frames)
        cost = respcore.count_flops(model, shape)
        rows.append(row("inference", name, "params", cost["params"], "",
                        device=s.device))
        rows.append(row("inference", name, "MACs/sample", cost["macs"] / 1e9, "G", device=s.device,
                        note=f"input {n_bands}x{s.frames}, width {s.width}"))
        for batch in s.batches:
            x = torch.randn(batch, 1, n_bands, s.frames, device=s.device)
            t = time_call(forward_fn(model, x), warmup=s.warmup, repeats=s.inference_repeats, device=s.device)
            spread = f"min {t.min_s * 1e3:.1f} max {t.max_s * 1e3:.1f}"
            if s.device == "cpu":
                spread += f", CPU {t.cpu_median_s * 1e3:.1f} ms"
            rows.append(row("inference", name, "latency", t.median_s * 1e3, "ms/batch", device=s.device,
                            batch=batch, load1=t.load1, note=spread))
            rows.append(row("inference", name, "throughput", batch / t.median_s, "samples/s",
                            device=s.device, batch=batch, load1=t.load1))
    return rows


def bench_band_scaling(s: Settings, *, channels_last: bool = False,
                       bands: tuple[int, ...] | None = None) -> list[dict]:
    """FLOPs ratio versus measured time ratio when bands are removed (CNN-TSA[post], largest batch).

    The band counts run round-robin in each round, and the time ratio is the median of the per-round
    ratios, so a load change on a shared machine does not fake a speed-up. On CPU the same ratio is
    also given on this process's CPU seconds (``cpu_time_ratio``), which others' load moves less.
    """
    batch, tag = s.big_batch, "channels_last" if channels_last else "default"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    bands = tuple(bands or s.bands)
    fns, macs = {}, {}
    for b in bands:
        model = build("post", b, s).to(memory_format=fmt)
        x = torch.randn(batch, 1, b, s.frames, device=s.device).contiguous(memory_format=fmt)
        fns[b] = forward_fn(model, x)
        macs[b] = respcore.count_flops(model, (1, 1, b, s.frames))["macs"]
    cpu: list[dict] = []
    timings, rounds = time_interleaved(fns, warmup=s.warmup, repeats=s.repeats, device=s.device, cpu_rounds=cpu)
    ref = max(bands)
    rows = []
    for b in bands:
        flops_ratio = macs[ref] / macs[b]
        time_ratio = median_ratio(rounds, ref, b)
        case = f"{b} of {ref} bands ({tag})"
        load = timings[b].load1
        rows += [
            row("band_scaling", case, "time", timings[b].median_s * 1e3, "ms/batch", device=s.device,
                batch=batch, load1=load),
            row("band_scaling", case, "flops_ratio", flops_ratio, "x", device=s.device, batch=batch),
            row("band_scaling", case, "time_ratio", time_ratio, "x", device=s.device, batch=batch, load1=load,
                note="median of per-round ratios"),
            row("band_scaling", case, "efficiency", time_ratio / flops_ratio, "time/flops", device=s.device,
                batch=batch, load1=load, note="1.0 = the time saved tracks the FLOPs saved"),
        ]
        if s.device == "cpu":
            rows.append(row("band_scaling", case, "cpu_time_ratio", median_ratio(cpu, ref, b), "x",
                            device=s.device, batch=batch, load1=load, note="same ratio on process CPU seconds"))
        if b * 2 == ref and s.device == "cpu" and not channels_last:
            rows.append(row("band_scaling", case, "target>=1.6x", bool(time_ratio >= 1.6), "", device=s.device,
                            batch=batch, load1=load, note=f"measured {time_ratio:.2f}x"))
    return rows


def bench_gate(s: Settings, budgets: tuple[int, ...] = (32, 16)) -> list[dict]:
    """Inference of a per-sample band gate (``build_model(gate=k)``: the gate reads all 64 bands, the
    backbone k) against static FBS with k bands and the full 64-band model, interleaved in one run (CNN-TSA
    [post], largest batch). The static model is fed its k bands already cut, as a deployed FBS model is."""
    batch = s.big_batch
    x64 = torch.randn(batch, 1, 64, s.frames, device=s.device)
    models = {"64 bands": build("post", 64, s)}
    inputs = {"64 bands": x64}
    for k in budgets:
        models[f"static {k}"] = build("post", k, s)
        inputs[f"static {k}"] = x64[:, :, :k].contiguous()
        models[f"gate {k}"] = respcore.build_model("cnn6", s.n_classes, 64, "post", width=s.width, gate=k).to(s.device).eval()
        inputs[f"gate {k}"] = x64
    fns = {name: forward_fn(m, inputs[name]) for name, m in models.items()}
    macs = {name: respcore.count_flops(m, (1, 1, inputs[name].shape[2], s.frames))["macs"] for name, m in models.items()}
    timings, rounds = time_interleaved(fns, warmup=s.warmup, repeats=s.repeats, device=s.device)
    rows = []
    for name in models:
        load = timings[name].load1
        rows += [row("gate", name, "time", timings[name].median_s * 1e3, "ms/batch", device=s.device, batch=batch,
                     load1=load),
                 row("gate", name, "flops_ratio", macs["64 bands"] / macs[name], "x", device=s.device, batch=batch),
                 row("gate", name, "time_ratio", median_ratio(rounds, "64 bands", name), "x", device=s.device,
                     batch=batch, load1=load, note="64-band time / this time, median of per-round ratios")]
    for k in budgets:
        rows.append(row("gate", f"gate {k} vs static {k}", "time_ratio",
                        median_ratio(rounds, f"gate {k}", f"static {k}"), "x", device=s.device, batch=batch,
                        note="gate time / static time: the gate's overhead"))
    return rows


def bench_speed_options(s: Settings) -> list[dict]:
    """Same-run speed-ups of inference options for CNN-TSA[post] at 64 bands and the largest batch:
    ``inference_mode`` versus autograd on, channels-last memory format, BatchNorm folded into the
    convolutions (``fused_for_inference``), one CPU thread instead of
    torch's default (a shared, oversubscribed CPU), and bf16 autocast on a GPU."""
    batch = s.big_batch
    base = build("post", 64, s)
    x = torch.randn(batch, 1, 64, s.frames, device=s.device)
    cl_model = build("post", 64, s).to(memory_format=torch.channels_last)
    cl_model.load_state_dict(base.state_dict())
    x_cl = x.contiguous(memory_format=torch.channels_last)
    fns = {"inference_mode": forward_fn(base, x), "autograd_on": forward_fn(base, x, grad=True),
           "channels_last": forward_fn(cl_model, x_cl), "fused_conv_bn": forward_fn(fused_for_inference(base), x)}
    threads = torch.get_num_threads()
    if s.device == "cpu" and threads > 1:
        def one_thread() -> torch.Tensor:
            torch.set_num_threads(1)
            try:
                return forward_fn(base, x)()
            finally:
                torch.set_num_threads(threads)

        fns["1_thread"] = one_thread
    if torch.device(s.device).type == "cuda":
        def bf16() -> torch.Tensor:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                return base(x)

        fns["bf16_autocast"] = bf16
    timings, rounds = time_interleaved(fns, warmup=s.warmup, repeats=s.inference_repeats, device=s.device)
    rows = []
    for name in fns:
        rows.append(row("speed_options", f"CNN-TSA[post] {name}", "speedup_vs_inference_mode",
                        median_ratio(rounds, "inference_mode", name), "x", device=s.device, batch=batch,
                        load1=timings[name].load1, note=f"median {timings[name].median_s * 1e3:.1f} ms/batch"))
    return rows


def bench_train_options(s: Settings) -> list[dict]:
    """Same-run speed-up of a training step (forward, loss, backward, Adam) in channels-last layout,
    for the training profile's model, input and batch, under the profile's CPU thread count."""
    from respcore.train import TrainConfig

    config = TrainConfig.from_profile(s.train_profile)
    mel = respcore.get_profile(s.train_profile).mel()
    x = torch.randn(config.batch_size, 1, *mel.shape, device=s.device)
    y = torch.randint(0, s.n_classes, (config.batch_size,), device=s.device)

    def step_fn(channels_last: bool) -> Callable[[], None]:
        torch.manual_seed(0)
        model = respcore.build_model(config.backbone, s.n_classes, n_bands=mel.n_mels, tsa=config.tsa,
                                     width=config.width).to(s.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)  # conv weights NHWC; (B, 1, F, T) input unchanged
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)

        def step() -> None:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step

    threads = torch.get_num_threads()
    if s.device == "cpu" and config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        fns = {"default": step_fn(False), "channels_last": step_fn(True)}
        timings, rounds = time_interleaved(fns, warmup=s.warmup, repeats=s.repeats, device=s.device)
    finally:
        torch.set_num_threads(threads)
    note = (f"profile {s.train_profile}: width {config.width}, {mel.n_mels}x{mel.n_frames}, "
            f"{config.num_threads or threads} thread(s)")
    return [row("train_options", f"train step {name}", "speedup_vs_default", median_ratio(rounds, "default", name),
                "x", device=s.device, batch=config.batch_size, load1=timings[name].load1,
                note=f"median {timings[name].median_s * 1e3:.1f} ms/step; {note}") for name in fns]
