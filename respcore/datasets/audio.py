"""Reading audio with soundfile (libsndfile: 16-, 24-, 32-bit PCM, float) and resampling with torchaudio.

torchaudio's ``load`` needs TorchCodec and FFmpeg since 2.9, so it is not the reader here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from torch import Tensor

from .report import DatasetError


def audio_info(path: str | Path) -> tuple[int, int]:
    """(frames, sample_rate) from the file header, without decoding the samples.

    Raises:
        DatasetError: the file is missing, not audio, or holds no samples.
    """
    try:
        info = sf.info(str(path))
    except Exception as err:  # libsndfile raises a RuntimeError subclass with its own message
        raise DatasetError(f"{path}: cannot read audio header ({err})") from err
    if info.frames <= 0 or info.samplerate <= 0:
        raise DatasetError(f"{path}: audio file is empty ({info.frames} frames at {info.samplerate} Hz)")
    return int(info.frames), int(info.samplerate)


def audio_channels(path: str | Path) -> int:
    """How many channels the file holds (from its header).

    Raises:
        DatasetError: the file is missing or not audio.
    """
    try:
        return int(sf.info(str(path)).channels)
    except Exception as err:
        raise DatasetError(f"{path}: cannot read audio header ({err})") from err


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file to mono float32.

    Returns:
        ((L,) float32 samples in [-1, 1], sample rate in Hz); channels are averaged.
    Raises:
        DatasetError: naming the file, when it is corrupt, empty or not finite.
    """
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (L, C)
    except Exception as err:
        raise DatasetError(f"{path}: cannot decode audio ({err})") from err
    if data.shape[0] == 0:
        raise DatasetError(f"{path}: audio file is empty (0 samples)")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]  # (L,)
    if not np.isfinite(wave).all():
        raise DatasetError(f"{path}: audio holds NaN or infinite samples")
    return np.ascontiguousarray(wave), int(sr)


def resample(wave: Tensor, orig_sr: int, target_sr: int) -> Tensor:
    """Resample (..., L) to ``target_sr`` with torchaudio's band-limited sinc interpolation.

    Returns:
        (..., ceil(L * target_sr / orig_sr)) float32; the input itself when the rates agree.
    """
    if orig_sr == target_sr:
        return wave
    return AF.resample(wave.float(), int(orig_sr), int(target_sr))


def load_resampled(path: str | Path, target_sr: int) -> Tensor:
    """Decode ``path`` and resample it: (L',) float32 at ``target_sr``."""
    wave, sr = read_audio(path)
    return resample(torch.from_numpy(wave), sr, target_sr)
