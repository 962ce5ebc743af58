"""One plotting function per figure of the study, all in one seaborn style, every axis labelled with units.

Each function takes the DataFrame (or arrays) an experiment returned and returns a matplotlib Figure;
the notebook displays it and saves it. ``data_label`` goes into every title, so a figure saved on its
own still says whether it shows real or synthetic data.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import Patch
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"
PAPER_COLOR = "black"


@contextmanager
def _style() -> Iterator[None]:
    """The study's single style, applied locally (no global state changed)."""
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        yield


def _title(fig: plt.Figure, text: str, data_label: str) -> None:
    fig.suptitle(f"{text}\n[{data_label}]", fontsize=11)


def class_distribution(meta: pd.DataFrame, data_label: str) -> plt.Figure:
    """Counts per class and age group (bars), and ages (histogram); ``meta`` has label, age, split."""
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        df = meta.assign(age_group=meta["age_group"].fillna("unknown"))
        sns.countplot(data=df, x="label", hue="age_group", palette=PALETTE, ax=axes[0])
        axes[0].set(xlabel="class", ylabel="cycles (count)")
        sns.histplot(data=df.dropna(subset=["age"]), x="age", hue="split" if "split" in df else None,
                     bins=30, palette=PALETTE, ax=axes[1])
        axes[1].axvline(18, color="grey", ls="--", lw=1)
        axes[1].set(xlabel="age (years); dashed: pediatric/adult boundary at 18", ylabel="cycles (count)")
        _title(fig, "Class and age distributions", data_label)
        fig.tight_layout()
    return fig


def segment_lengths(lengths: pd.DataFrame, cycle_seconds: float, data_label: str) -> plt.Figure:
    """Histogram of item durations per class (``lengths``: label, seconds) with the network's input length."""
    with _style():
        fig, ax = plt.subplots(figsize=(8, 3.4))
        sns.histplot(data=lengths, x="seconds", hue="label", bins=40, element="step", palette=PALETTE, ax=ax)
        ax.axvline(cycle_seconds, color="black", ls="--", lw=1)
        ax.set(xlabel=f"duration (s); dashed: the {cycle_seconds:g} s input (shorter items are tiled to it, "
                      "longer ones cut)", ylabel="items (count)")
        _title(fig, "How long each cycle or event lasts", data_label)
        fig.tight_layout()
    return fig


def example_spectrograms(examples: Sequence[tuple[str, np.ndarray]], band_hz: np.ndarray, seconds: float,
                         data_label: str) -> plt.Figure:
    """One log-Mel per class: ``examples`` are (class, (F, T) dB array); y in Hz (band centres), x in s."""
    with _style():
        n = len(examples)
        fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), squeeze=False, layout="constrained")
        for i, (ax, (label, spec)) in enumerate(zip(axes[0], examples)):
            im = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma",
                           extent=(0, seconds, 0, spec.shape[0]))
            ticks = np.linspace(0, spec.shape[0] - 1, 5).astype(int)
            ax.set_yticks(ticks + 0.5, [f"{band_hz[t]:.0f}" for t in ticks])
            ax.set(title=label, xlabel="time (s)", ylabel="Mel band centre (Hz)" if i == 0 else "")
            ax.grid(False)
        fig.colorbar(im, ax=axes[0].tolist(), label="log-Mel power (dB)")
        _title(fig, "An example cycle per class", data_label)
    return fig


def example_waveforms(examples: Sequence[tuple[str, np.ndarray]], sample_rate: int, data_label: str) -> plt.Figure:
    """One waveform per class: ``examples`` are (class, (n_samples,) array)."""
    with _style():
        n = len(examples)
        fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.4), squeeze=False, sharey=True)
        for ax, (label, wave) in zip(axes[0], examples):
            ax.plot(np.arange(len(wave)) / sample_rate, wave, lw=0.4)
            ax.set(title=label, xlabel="time (s)", ylabel="amplitude (full scale)")
        _title(fig, "Example waveforms", data_label)
        fig.tight_layout()
    return fig


def band_profile(df: pd.DataFrame, value: str, ylabel: str, title: str, data_label: str,
                 hue: str | None = None, spans: Sequence[tuple[float, float]] = ()) -> plt.Figure:
    """A per-band quantity over frequency: ``df`` has band_hz, ``value`` (and ``hue``); ``spans`` (Hz) shaded."""
    with _style():
        fig, ax = plt.subplots(figsize=(8, 3.2))
        sns.lineplot(data=df, x="band_hz", y=value, hue=hue, palette=PALETTE if hue else None, marker="o",
                     ms=3, ax=ax)
        for lo, hi in spans:
            ax.axvspan(lo, hi, color="grey", alpha=0.2, lw=0)
        ax.set(xscale="log", xlabel="Mel band centre frequency (Hz, log scale)", ylabel=ylabel)
        _title(fig, title, data_label)
        fig.tight_layout()
    return fig


def tsa_ablation(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Table I as a figure: AS per TSA placement (mean and std over folds and seeds) and GFLOPs."""
    with _style():
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        x = np.arange(len(df))
        axes[0].bar(x, df["AS_mean"] * 100, yerr=df["AS_std"] * 100, capsize=3, color=sns.color_palette(PALETTE)[0],
                    label="ours")
        paper = df["paper_AS"].to_numpy(dtype=float) * 100
        axes[0].scatter(x, paper, color=PAPER_COLOR, marker="D", zorder=3, label="paper (ICBHI)")
        axes[0].set(xticks=x, ylabel="AS (%)", xlabel="TSA placement")
        axes[0].set_xticklabels(df["placement"], rotation=30, ha="right")
        axes[0].legend(loc="upper left", fontsize=8)
        axes[1].bar(x, df["GFLOPs_paper_input"], color=sns.color_palette(PALETTE)[1], label="ours, 64 x 251 input")
        axes[1].scatter(x, df["paper_GFLOPs"].to_numpy(dtype=float), color=PAPER_COLOR, marker="D", zorder=3,
                        label="paper")
        axes[1].set(xticks=x, ylabel="GFLOPs (1 MAC = 1 FLOP)", xlabel="TSA placement")
        axes[1].set_xticklabels(df["placement"], rotation=30, ha="right")
        axes[1].legend(loc="lower left", fontsize=8)
        _title(fig, "TSA placement (Table I)", data_label)
        fig.tight_layout()
    return fig


def band_retention(curves: pd.DataFrame, paper_peak: int, data_label: str) -> plt.Figure:
    """Figure 2: score vs kept bands per method (IS / BS), one panel per task; the paper's peak marked."""
    with _style():
        tasks = list(dict.fromkeys(curves["task"]))
        fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.6), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            sub = curves[curves["task"] == task]
            for i, (method, g) in enumerate(sub.groupby("method", sort=False)):
                g = g.sort_values("n_bands")
                c = sns.color_palette(PALETTE)[i]
                ax.plot(g["n_bands"], g["score_mean"] * 100, marker="os^"[i % 3], ls=["-", "--", ":"][i % 3],
                        color=c, label=method)
                ax.fill_between(g["n_bands"], (g["score_mean"] - g["score_std"]) * 100,
                                (g["score_mean"] + g["score_std"]) * 100, color=c, alpha=0.15)
            ax.axvline(paper_peak, color=PAPER_COLOR, ls="--", lw=1, label=f"paper's peak ({paper_peak})")
            ax.set(xlabel="kept Mel bands (of 64)", ylabel="validation score (%)", title=task)
            ax.invert_xaxis()
            ax.legend()
        _title(fig, "Band retention (Figure 2)", data_label)
        fig.tight_layout()
    return fig


def importance_heatmap(importance: pd.DataFrame, data_label: str) -> plt.Figure:
    """Band importance per fold: ``importance`` has fold, band, score (normalized attribution)."""
    with _style():
        mat = importance.pivot_table(index="fold", columns="band", values="score", aggfunc="mean")
        fig, ax = plt.subplots(figsize=(10, 0.5 * len(mat) + 1.8))
        sns.heatmap(mat, cmap="viridis", cbar_kws={"label": "normalized attribution (sums to 1)"}, ax=ax)
        ax.set(xlabel="Mel band index (low to high frequency)", ylabel="fold")
        _title(fig, "Band importance across folds (Grad-CAM)", data_label)
        fig.tight_layout()
    return fig


def bands_on_spectrogram(spec: np.ndarray, kept: Sequence[int], seconds: float, data_label: str,
                         planted: Sequence[int] = ()) -> plt.Figure:
    """The selected bands over a (F, T) dB log-Mel: removed bands are greyed; planted bands ticked."""
    with _style():
        fig, ax = plt.subplots(figsize=(8, 3.6))
        ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, spec.shape[0]))
        removed = sorted(set(range(spec.shape[0])) - set(kept))
        for b in removed:
            ax.axhspan(b, b + 1, color="white", alpha=0.55, lw=0)
        for b in planted:
            ax.plot([seconds * 1.005], [b + 0.5], marker="<", color="tab:cyan", clip_on=False, ms=5)
        ax.set(xlabel="time (s)", ylabel="Mel band index",
               title=f"kept {len(kept)} bands (clear), removed {len(removed)} (faded)"
               + ("; planted bands marked at right" if len(planted) else ""))
        ax.grid(False)
        _title(fig, "Selected bands on a spectrogram", data_label)
        fig.tight_layout()
    return fig


def grouped_bars(df: pd.DataFrame, x: str, y: str, hue: str, ylabel: str, title: str, data_label: str,
                 paper: pd.DataFrame | None = None) -> plt.Figure:
    """Bars of ``y`` (a fraction, drawn in %) by ``x`` and ``hue``; ``paper`` rows (``x``, ``hue``, value in %)
    are drawn as diamonds over the matching bar."""
    with _style():
        fig, ax = plt.subplots(figsize=(8, 3.6))
        sns.barplot(data=df.assign(_pct=df[y] * 100), x=x, y="_pct", hue=hue, palette=PALETTE, ax=ax,
                    errorbar="sd")
        if paper is not None and len(paper):
            xs, hues = list(dict.fromkeys(df[x])), list(dict.fromkeys(df[hue]))
            width = 0.8 / len(hues)  # seaborn's dodged bars: 0.8 per group, split among hues
            for _, r in paper.iterrows():
                if r[x] in xs and r[hue] in hues:
                    pos = xs.index(r[x]) - 0.4 + (hues.index(r[hue]) + 0.5) * width
                    ax.scatter(pos, r["value"], color=PAPER_COLOR, marker="D", zorder=3)
            ax.scatter([], [], color=PAPER_COLOR, marker="D", label="paper")
            ax.legend()
        ax.set(xlabel=x.replace("_", " "), ylabel=ylabel)
        _title(fig, title, data_label)
        fig.tight_layout()
    return fig


def errors_by_age(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Page 4's specificity of the one model for all on each age band of validation and of each test set,
    and of validation reweighted to each test set's age mix (band "all")."""
    fig = grouped_bars(df, x="band", y="Sp", hue="set", ylabel="specificity (%)",
                       title="Where the one model for all errs: specificity by age band", data_label=data_label)
    with _style():  # five sets: the legend goes beside the bars, not over them
        sns.move_legend(fig.axes[0], "upper left", bbox_to_anchor=(1.01, 1), frameon=False, title=None)
        fig.set_size_inches(11, 3.6)
        fig.tight_layout()
    return fig


def sota(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Horizontal bars of Score (%) per method; ours coloured by data (real / synthetic), published grey."""
    with _style():
        df = df.sort_values("Score")
        colors = {"published": "0.7", "ours (real)": "tab:green", "ours (synthetic)": "tab:orange"}
        fig, ax = plt.subplots(figsize=(8, 0.28 * len(df) + 1.5))
        ax.barh(df["label"], df["Score"], color=[colors[s] for s in df["source_kind"]])
        ax.set(xlabel="Score (%)", ylabel="")
        ax.legend(handles=[Patch(color=c, label=kind) for kind, c in colors.items()], loc="lower right")
        _title(fig, "Ours beside published results", data_label)
        fig.tight_layout()
    return fig


def lines(df: pd.DataFrame, x: str, y: str, hue: str, xlabel: str, ylabel: str, title: str,
          data_label: str) -> plt.Figure:
    """A generic score curve (e.g. score vs lambda per task); ``y`` is a fraction drawn in %."""
    with _style():
        fig, ax = plt.subplots(figsize=(7, 3.4))
        sns.lineplot(data=df.assign(_pct=df[y] * 100), x=x, y="_pct", hue=hue, marker="o", palette=PALETTE,
                     errorbar="sd", ax=ax)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        _title(fig, title, data_label)
        fig.tight_layout()
    return fig


def lambda_sweep(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Best validation score of IS per lambda and task (page 7's ``lambda_sweep`` table)."""
    return lines(df, x="lambda", y="score", hue="task", xlabel="lambda (consistency penalty weight)",
                 ylabel="best validation score (%)", title="Effect of lambda", data_label=data_label)


def front_curves(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Mean validation score per kept bands of IS on each front (page 9's ``front_curves`` table)."""
    return lines(df, x="n_bands", y="score_mean", hue="front", xlabel="bands kept",
                 ylabel="validation score (%)", title="IS on each front", data_label=data_label)


def agreement_heatmap(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Rank agreement (Spearman rho) between attribution methods: ``df`` has a, b, rho (mean over folds)."""
    with _style():
        mat = df.pivot_table(index="a", columns="b", values="rho", aggfunc="mean")
        side = max(4.0, 0.35 * len(mat) + 1.5)  # 10 folds x 2 methods stay legible; annotated up to 12 rows
        fig, ax = plt.subplots(figsize=(side + 1.5, side))
        sns.heatmap(mat, annot=len(mat) <= 12, fmt=".2f", vmin=-1, vmax=1, cmap="vlag",
                    cbar_kws={"label": "Spearman rank correlation of band importances"}, ax=ax)
        ax.set(xlabel="attribution (method, fold)", ylabel="attribution (method, fold)")
        _title(fig, "Do attribution methods rank bands alike?", data_label)
        fig.tight_layout()
    return fig


def device_responses(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Frequency response of each simulated stethoscope: ``df`` has device, freq_hz, gain_db."""
    with _style():
        fig, ax = plt.subplots(figsize=(7, 3.2))
        if len(df):
            sns.lineplot(data=df, x="freq_hz", y="gain_db", hue="device", palette=PALETTE, marker="o", ms=3, ax=ax)
        else:
            ax.text(0.5, 0.5, "real recordings: the devices' responses are unknown", ha="center",
                    transform=ax.transAxes)
        ax.set(xscale="log", xlabel="frequency (Hz, log scale)", ylabel="gain (dB)")
        _title(fig, "Device frequency responses", data_label)
        fig.tight_layout()
    return fig


def gate_bands(keep: pd.DataFrame, planted: dict[str, list[int]], data_label: str) -> plt.Figure:
    """How often the per-sample gate keeps each band, per class (rows) and task x budget x start (panels);
    ``keep``: task, budget, start, class, band, frequency. Planted bands (built-in corpus) are marked with dots."""
    with _style():
        tasks = list(dict.fromkeys(keep["task"]))  # one row of panels per task, one column per budget x start
        combos = list(dict.fromkeys(zip(keep["budget"], keep["start"])))
        fig, axes = plt.subplots(max(len(tasks), 1), max(len(combos), 1), figsize=(4.2 * max(len(combos), 1),
                                 3.0 * max(len(tasks), 1)), squeeze=False, layout="constrained")
        im = None
        for (task, budget, start), g in keep.groupby(["task", "budget", "start"], sort=False):
            ax = axes[tasks.index(task)][combos.index((budget, start))]
            grid = g.pivot(index="class", columns="band", values="frequency").reindex(g["class"].unique())
            im = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1, origin="lower")
            for row, label in enumerate(grid.index):
                marks = planted.get(label) or planted.get("all classes") or []
                ax.plot(marks, [row] * len(marks), "r.", ms=3)
            ax.set_yticks(range(len(grid)), grid.index)
            ax.grid(False)
            ax.set(title=f"{task}, {budget} bands, from {start}", xlabel="Mel band (index)")
        for ax in axes.ravel():
            if not ax.images:
                ax.set_axis_off()
        if im is not None:
            fig.colorbar(im, ax=axes.ravel().tolist(), label="share of test items keeping the band")
        _title(fig, "Bands the per-sample gate keeps (red dots: planted bands)", data_label)
    return fig


def kept_ranges(kept: pd.DataFrame, data_label: str, planted: Sequence[tuple[float, float]] = ()) -> plt.Figure:
    """The frequency ranges each front's IS selection kept (``kept``: front, n_kept, low_hz, high_hz), one row
    per front, with the planted ranges (built-in corpus) as a last row."""
    with _style():
        fronts = list(dict.fromkeys(kept["front"]))
        rows = fronts + (["planted"] if len(planted) else [])
        fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.4))
        colors = sns.color_palette(PALETTE, len(rows))
        for i, name in enumerate(rows):
            spans = planted if name == "planted" else kept.loc[kept["front"] == name, ["low_hz", "high_hz"]].to_numpy()
            ax.broken_barh([(lo, hi - lo) for lo, hi in spans], (i - 0.35, 0.7), color=colors[i])
        labels = [f"{f} ({int(kept.loc[kept['front'] == f, 'n_kept'].iloc[0])} bands)" for f in fronts]
        ax.set_yticks(range(len(rows)), labels + (["planted"] if len(planted) else []))
        ax.set(xlabel="frequency (Hz)")
        _title(fig, "Frequency ranges kept by IS on each front", data_label)
        fig.tight_layout()
    return fig


def is_variants(df: pd.DataFrame, data_label: str) -> plt.Figure:
    """Page 7's IS variants: the test Score of the round each (task, classes, kept round) keeps and, on the
    built-in corpus, the precision of its kept bands against the planted ones (band counts: the table)."""
    kept = df["kept_by"].str.replace(" (paper)", "", regex=False).str.replace("fewest bands not worse",
                                                                              "fewest not worse", regex=False)
    setting = df["task"] + "\n" + kept
    panels = [("test", "test Score (%)")] + ([("precision", "precision vs planted (%)")]
                                              if "precision" in df and df["precision"].notna().any() else [])
    with _style():
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.0), squeeze=False)
        for ax, (column, ylabel) in zip(axes[0], panels):
            sns.barplot(data=df.assign(setting=setting, _pct=df[column] * 100), x="setting", y="_pct",
                        hue="classes", palette=PALETTE, ax=ax, errorbar=None)
            ax.set(xlabel="", ylabel=ylabel, ylim=(0, 100))
            ax.tick_params(axis="x", labelsize=8)
            handles, labels = ax.get_legend_handles_labels()
            ax.get_legend().remove()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, title="importance over")
        _title(fig, "IS: the classes its importance averages, and the round it keeps", data_label)
        fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
