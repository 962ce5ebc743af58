"""The SPRSound challenge's starter recipe, computed here as the baseline every model must beat.

Each whole event or recording (never padded or cut to a cycle length) becomes 40 MFCCs averaged over
time; a polynomial-kernel SVM with C = 2 classifies them (scikit-learn). Our choices where the recipe is
silent: MFCCs of the study's Mel front end (16 kHz, 1024-point window, 512 hop, 64 Mel bands from 50 Hz
to 2 kHz), features standardised on the training set (an SVM's polynomial kernel on raw MFCCs, whose
first coefficient is 100x the others, is dominated by it), sklearn's default degree 3, no class weights.

Example::

    base = ChallengeBaseline().fit(train_ds)
    base.score(test_ds)  # {"Sp", "Se", "AS", "HS", "Score_icbhi", "Score_sprsound"}
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torchaudio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .datasets.segments import SegmentDataset
from .features import MelConfig
from .fileio import stable_hash
from .metrics import scores

N_MFCC = 40
SVM_C = 2.0
SVM_KERNEL = "poly"


def mfcc_summary(wave: torch.Tensor, mel: MelConfig, n_mfcc: int = N_MFCC) -> np.ndarray:
    """(n_mfcc,) MFCCs of a whole waveform (L,) averaged over its frames (short ones zero-padded to one window)."""
    if wave.shape[-1] < mel.n_fft:
        wave = torch.nn.functional.pad(wave, (0, mel.n_fft - wave.shape[-1]))
    mfcc = _mfcc(mel, n_mfcc)(wave.float())  # (n_mfcc, frames)
    return mfcc.mean(-1).numpy()


@lru_cache(maxsize=4)
def _mfcc(mel: MelConfig, n_mfcc: int) -> torchaudio.transforms.MFCC:
    return torchaudio.transforms.MFCC(
        sample_rate=mel.sample_rate, n_mfcc=n_mfcc, log_mels=True,
        melkwargs={"n_fft": mel.n_fft, "hop_length": mel.hop_length, "n_mels": mel.n_mels,
                   "f_min": mel.f_min, "f_max": mel.f_max})


def dataset_mfccs(ds: SegmentDataset, *, cache_dir: str | Path | None = None) -> np.ndarray:
    """(N, 40) time-averaged MFCCs of every item of ``ds`` at its whole length; cached as ``.npy`` under
    ``cache_dir`` (keyed by the dataset files, split, task and front end) when given."""
    key = stable_hash([ds.name, ds.task, ds.split, ds.mel.fingerprint(), ds.files_stamp(), N_MFCC], 16)
    path = Path(cache_dir) / f"mfcc-{ds.name}-{ds.task}-{ds.split}-{key}.npy" if cache_dir else None
    if path is not None and path.is_file():
        return np.load(path)
    with torch.inference_mode():
        x = np.stack([mfcc_summary(ds.segment(i), ds.mel) for i in range(len(ds))]) if len(ds) else np.zeros((0, N_MFCC))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, x)
    return x


class ChallengeBaseline:
    """Standardised time-averaged MFCCs -> polynomial SVM (C = 2), fitted on a dataset's training split."""

    def __init__(self, *, cache_dir: str | Path | None = None, seed: int = 0) -> None:
        self.cache_dir = cache_dir
        self.model = make_pipeline(StandardScaler(), SVC(kernel=SVM_KERNEL, C=SVM_C, random_state=seed))
        self.classes: tuple[str, ...] = ()

    def fit(self, train: SegmentDataset) -> "ChallengeBaseline":
        y = train.metadata["label_index"].to_numpy(np.int64)
        if len(np.unique(y)) < 2:
            raise ValueError(f"{train!r}: the baseline needs at least two classes in its training split")
        self.model.fit(dataset_mfccs(train, cache_dir=self.cache_dir), y)
        self.classes = tuple(train.classes)
        return self

    def predict(self, ds: SegmentDataset) -> np.ndarray:
        """(N,) class index of every item of ``ds``."""
        if not self.classes:
            raise RuntimeError("ChallengeBaseline.predict before fit")
        if tuple(ds.classes) != self.classes:
            raise ValueError(f"{ds!r}: classes {ds.classes} differ from the training split's {self.classes}")
        return self.model.predict(dataset_mfccs(ds, cache_dir=self.cache_dir)) if len(ds) else np.zeros(0, np.int64)

    def score(self, ds: SegmentDataset, *, normal: int = 0) -> dict[str, float]:
        """The challenge scores (``respcore.metrics.scores``) of the baseline on ``ds``."""
        y = ds.metadata["label_index"].to_numpy(np.int64)
        return scores(y, self.predict(ds), normal=normal, n_classes=len(self.classes))
