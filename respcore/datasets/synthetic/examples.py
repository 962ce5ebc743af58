"""Look at and listen to a corpus: a few waveforms and log-Mels per class, for notebooks.

Reads annotation files with :mod:`..stats` (the loaders' parsers, no audio) and audio with
:mod:`..audio`, the only audio reader. Plotting is left to the caller.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...features import MelConfig, log_mel
from ...fileio import read_json
from ..audio import load_resampled, read_audio, resample
from ..base import FeatureSet
from ..sprsound import FOLDERS_2022
from ..stats import icbhi_cycles, sprsound_annotations
from .corpus import TRUTH_FILE


def corpus_items(root: str | Path) -> pd.DataFrame:
    """One row per labelled item of an ICBHI- or SPRSound-layout corpus: recording, split, patient, age,
    age_group, start, end (seconds), label, wav (path). The layout is recognised from the files."""
    root = Path(root)
    if (root / FOLDERS_2022["train"][0]).is_dir():
        _, items = sprsound_annotations(root)
        items["wav"] = [str(root / FOLDERS_2022[s][1] / f"{r}.wav") for s, r in zip(items["split"], items["recording"])]
    else:
        items = icbhi_cycles(root)
        items["wav"] = [str(root / f"{r}.wav") for r in items["recording"]]
    return items


def read_segment(wav: str | Path, start: float, end: float, sample_rate: int) -> torch.Tensor:
    """(l,) float32 samples of ``wav`` between ``start`` and ``end`` s, resampled to ``sample_rate``."""
    data, sr = read_audio(wav)  # (L,)
    a, b = int(start * sr), max(int(start * sr) + 1, min(len(data), int(end * sr)))
    return resample(torch.from_numpy(data[a:b]), sr, sample_rate)


def read_items(items: pd.DataFrame, sample_rate: int) -> list[torch.Tensor]:
    """The (l,) float32 segment of every row of a :func:`corpus_items` table at ``sample_rate``; each
    file is read once."""
    out: list[torch.Tensor | None] = [None] * len(items)
    for wav, rows in items.reset_index(drop=True).groupby("wav", sort=False):
        full = load_resampled(wav, sample_rate)  # (L,)
        for i, row in zip(rows.index, rows.itertuples()):
            a = min(int(row.start * sample_rate), len(full) - 1)
            out[i] = full[a:max(a + 1, min(len(full), int(row.end * sample_rate)))]
    return out


def examples(source: str | Path | FeatureSet, per_class: int | None = 1, *, mel: MelConfig | None = None,
             seed: int = 0) -> list[dict[str, Any]]:
    """``per_class`` items of each class (all when None), drawn with ``seed``, ready to plot and play.

    ``source``: a corpus folder (synthetic or real layout) or a FeatureSet. Each dict has label,
    recording, patient, age_group, start, end, sample_rate, waveform ((l,) float32 at mel.sample_rate;
    None for a FeatureSet), log_mel ((F, T) dB), audio (an IPython.display.Audio, or None without IPython).
    """
    rng = np.random.default_rng(seed)
    if isinstance(source, FeatureSet):
        meta, mel = source.meta, source.mel
        labels = [source.classes[int(i)] for i in source.y]
    else:
        meta = corpus_items(source)
        labels = list(meta["label"])
        if mel is None:
            truth = Path(source) / TRUTH_FILE
            mel = MelConfig(**read_json(truth)["mel"]) if truth.is_file() else MelConfig()
    out = []
    for label in sorted(set(labels), key=labels.index):
        rows = np.flatnonzero(np.asarray(labels) == label)
        pick = rows if per_class is None else rng.choice(rows, size=min(per_class, len(rows)), replace=False)
        for i in sorted(pick):
            row = meta.iloc[int(i)]
            item = {"label": label, "recording": row.get("recording"), "patient": row.get("patient"),
                    "age_group": row.get("age_group"), "start": row.get("start"), "end": row.get("end"),
                    "sample_rate": mel.sample_rate, "waveform": None}
            if isinstance(source, FeatureSet):
                item["log_mel"] = source.x[int(i), 0]  # (F, T)
            else:
                wave = read_segment(row["wav"], float(row["start"]), float(row["end"]), mel.sample_rate)
                item["waveform"] = wave.numpy()
                item["log_mel"] = log_mel(wave[None], mel)[0, 0]  # (F, T)
            item["audio"] = _audio(item["waveform"], mel.sample_rate)
            out.append(item)
    return out


def _audio(wave: np.ndarray | None, sample_rate: int) -> Any:
    if wave is None:
        return None
    try:
        from IPython.display import Audio
    except ImportError:
        return None
    return Audio(wave, rate=sample_rate)
