"""What ICBHI and SPRSound share: a table of segments (recording, start, end, label) turned into fixed-length
waveforms or log-Mels, one item at a time or all at once (batched, cached)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..features import MelConfig, log_mel
from ..fileio import files_stamp
from .audio import load_resampled
from .base import FeatureSet
from .cache import cached_features
from .cycles import cut, fit_cycles
from .report import Report

DECODE_THREADS = 2  # libsndfile and torch's resampling release the GIL; the machine has few cores
DECODE_CHUNK = 16  # recordings decoded ahead at once (bounds memory)
MIN_WHOLE_FRAMES = 32  # a whole item shorter than this (~1 s) is scored on this many frames, its floor after it


class SegmentDataset:
    """Base of the real loaders. Subclasses fill ``metadata`` (one row per item, columns at least
    ``path, start, end, label, label_index, patient, age, age_group, recording``), ``classes``,
    ``report`` and ``_files`` (every dataset file read, for the cache key)."""

    name: str = "dataset"
    classes: tuple[str, ...] = ()

    def __init__(self, root: str | Path, split: str, task: str, mel: MelConfig, strict: bool, return_logmel: bool):
        self.root = Path(root)
        self.split = split
        self.task = task
        self.mel = mel
        self.strict = strict
        self.return_logmel = return_logmel
        self.report = Report(strict=strict)
        self.metadata = pd.DataFrame()
        self._files: list[Path] = []
        self._load_recording = lru_cache(maxsize=4)(self._decode)

    def __len__(self) -> int:
        return len(self.metadata)

    def __repr__(self) -> str:
        counts = self.metadata["label"].value_counts().reindex(self.classes, fill_value=0) if len(self) else {}
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, task={self.task!r}, n={len(self)}, {dict(counts)})"

    def _decode(self, path: str) -> Tensor:
        return load_resampled(path, self.mel.sample_rate)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """One item: the metadata row plus ``waveform`` (mel.cycle_samples,) and, when ``return_logmel``,
        ``logmel`` (1, n_mels, n_frames)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        row = self.metadata.iloc[index]
        item = {k: _plain(v) for k, v in row.items()}
        wave = self._load_recording(str(row["path"]))  # (L,)
        segment = cut(wave, self.mel.sample_rate, float(row["start"]), float(row["end"]))
        item["waveform"] = fit_cycles([segment], self.mel)[0]  # (cycle_samples,)
        if self.return_logmel:
            item["logmel"] = log_mel(item["waveform"][None], self.mel)[0]  # (1, F, T)
        return item

    def segment(self, index: int) -> Tensor:
        """(l,) waveform of item ``index`` at its own length (an event, a cycle or a whole recording),
        at ``mel.sample_rate``: not padded or cut to the cycle length."""
        row = self.metadata.iloc[index]
        wave = self._load_recording(str(row["path"]))  # (L,)
        return cut(wave, self.mel.sample_rate, float(row["start"]), float(row["end"]))

    @property
    def counts(self) -> dict[str, int]:
        """Items per class, in ``classes`` order."""
        vc = self.metadata["label"].value_counts() if len(self) else pd.Series(dtype=int)
        return {c: int(vc.get(c, 0)) for c in self.classes}

    @property
    def files(self) -> list[Path]:
        """Every dataset file this split reads (annotations and audio), sorted."""
        return sorted(set(self._files))

    def files_stamp(self) -> str:
        """Hash of every dataset file read (names relative to the root, sizes, mtimes): the cache key part."""
        return files_stamp(sorted(set(self._files)), self.root)

    def features(self, *, cache_dir: str | Path | None = None, device: str = "cpu", batch_size: int = 256,
                 whole: bool = False) -> FeatureSet:
        """Every item's log-Mel at once: decoded in a small thread pool, cut, fitted and transformed in
        batches on ``device``; cached under ``cache_dir`` when given.

        ``whole=True`` keeps each item at its own length (whole recordings for the record-level tasks):
        each log-Mel is right-padded with its own minimum to the longest, and ``lengths`` says how many
        frames of each are audio; training crops them and scoring reads each whole.

        Returns:
            FeatureSet with x (N, 1, n_mels, n_frames) float32 on the CPU (n_frames: the cycle's, or the
            longest item's with ``whole``), y (N,), meta without ``path``.
        """
        key = {
            "dataset": self.name,
            "task": self.task,
            "split": self.split,
            "mel": self.mel.fingerprint(),
            "files": self.files_stamp(),
            "strict": self.strict,
            **({"whole": True} if whole else {}),
        }
        name = f"{self.name}-{self.task}-{self.split}-{self.mel.fingerprint()}" + ("-whole" if whole else "")
        compute = self._whole_features if whole else lambda: self._compute_features(device, batch_size)
        fs, _ = cached_features(cache_dir, name, key, compute)
        return fs

    def _whole_features(self) -> FeatureSet:
        meta = self.metadata.reset_index(drop=True)
        specs = [log_mel(self.segment(i)[None], self.mel)[0] for i in range(len(meta))]  # each (1, F, t_i)
        # a few recordings last a fraction of a second: too short for the CNN's poolings on their own
        lengths = torch.tensor([max(s.shape[-1], MIN_WHOLE_FRAMES) for s in specs], dtype=torch.long)  # (N,)
        x = torch.zeros(len(meta), 1, self.mel.n_mels, int(lengths.max()) if len(meta) else 1)  # (N, 1, F, T)
        for i, s in enumerate(specs):
            x[i] = s.amin()  # the item's own floor under its padding
            x[i, ..., : s.shape[-1]] = s
        y = torch.tensor(meta["label_index"].to_numpy(np.int64))  # (N,)
        return FeatureSet(x=x, y=y, classes=self.classes, meta=meta.drop(columns=["path"]), mel=self.mel,
                          lengths=lengths)

    def _compute_features(self, device: str, batch_size: int) -> FeatureSet:
        meta = self.metadata.reset_index(drop=True)
        x = torch.zeros(len(meta), 1, *self.mel.shape)  # (N, 1, F, T)
        order = meta.groupby("path", sort=False).indices  # path -> row positions
        paths = list(order)
        pending_rows: list[int] = []
        pending_segs: list[Tensor] = []

        def flush() -> None:
            if not pending_segs:
                return
            waves = fit_cycles(pending_segs, self.mel).to(device)  # (b, L)
            x[torch.as_tensor(pending_rows)] = log_mel(waves, self.mel, batch_size=batch_size).cpu()
            pending_rows.clear()
            pending_segs.clear()

        starts, ends = meta["start"].to_numpy(float), meta["end"].to_numpy(float)
        with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
            for c in range(0, len(paths), DECODE_CHUNK):
                chunk = paths[c : c + DECODE_CHUNK]
                for path, wave in zip(chunk, pool.map(self._decode, chunk)):
                    for r in order[path]:
                        pending_rows.append(int(r))
                        pending_segs.append(cut(wave, self.mel.sample_rate, starts[r], ends[r]))
                    if len(pending_segs) >= batch_size:
                        flush()
        flush()
        y = torch.tensor(meta["label_index"].to_numpy(np.int64))  # (N,)
        return FeatureSet(x=x, y=y, classes=self.classes, meta=meta.drop(columns=["path"]), mel=self.mel)


def _plain(value: Any) -> Any:
    """numpy scalars to Python; NaN to None (an unknown age is None, not NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
