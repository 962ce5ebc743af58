"""Front end: one Mel configuration for the whole study, batched log-Mel, and band selection.

Tensors are ``(B, 1, F, T)``: batch, channel, Mel band (low to high frequency), frame. Two other
time-frequency fronts (``MelConfig(front="linear" | "gammatone")``) give the same shapes, for FBS on them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
import torchaudio
from scipy import signal
from torch import Tensor


@dataclass(frozen=True)
class MelConfig:
    """Every setting between a waveform and the network's input (PAPER.md, "Front end").

    Defaults give 64 x 251 log-Mel for an 8 s cycle at 16 kHz.
    """

    sample_rate: int = 16_000  # every recording is resampled to this rate
    n_fft: int = 1024  # 64 ms window at 16 kHz
    hop_length: int = 512  # 32 ms hop -> 251 frames for 8 s (centred frames)
    n_mels: int = 64  # Mel bands before any selection
    f_min: float = 50.0  # Hz; below this is mostly handling noise
    f_max: float = 2000.0  # Hz; must stay under the Nyquist of the source (4 kHz for SPRSound)
    cycle_seconds: float = 8.0  # every cycle is padded (circularly) or cropped to this length
    fade_seconds: float = 0.016  # linear fade at each repeat seam of the circular padding
    top_db: float | None = None  # None: plain 10*log10(power); a float clips the dynamic range
    # the time-frequency front ("mel": the paper's log-Mel; "linear": triangular bands evenly spaced in Hz
    # over the STFT, torchaudio's linear_fbanks; "gammatone": 4th-order gammatone filters, scipy's design,
    # evenly spaced on the ERB-rate scale); n_mels bands between f_min and f_max in every case
    front: str = "mel"

    def __post_init__(self) -> None:
        if self.f_max > self.sample_rate / 2:
            raise ValueError(f"f_max {self.f_max} Hz is above the Nyquist frequency of {self.sample_rate} Hz")
        if not 0 <= self.f_min < self.f_max:
            raise ValueError(f"need 0 <= f_min < f_max, got {self.f_min}, {self.f_max}")
        if self.n_mels < 1 or self.cycle_seconds <= 0:
            raise ValueError("n_mels and cycle_seconds must be positive")
        if self.front not in FRONTS:
            raise ValueError(f"unknown front {self.front!r}; choose one of {FRONTS}")

    @property
    def cycle_samples(self) -> int:
        return int(round(self.cycle_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Frames per cycle (torch's centred STFT): 1 + samples // hop."""
        return 1 + self.cycle_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int]:
        """(F, T) of one cycle's log-Mel."""
        return (self.n_mels, self.n_frames)

    def band_edges_hz(self) -> Tensor:
        """(n_mels + 2,) corner frequencies in Hz, evenly spaced on the front's scale (Mel: HTK, as
        torchaudio uses; linear: Hz; gammatone: ERB-rate).

        Band b spans edges[b] .. edges[b + 2] and peaks (is centred) at edges[b + 1].
        """
        if self.front == "linear":
            return torch.linspace(self.f_min, self.f_max, self.n_mels + 2, dtype=torch.float64)
        if self.front == "gammatone":
            e = torch.linspace(_hz_to_erb(self.f_min), _hz_to_erb(self.f_max), self.n_mels + 2, dtype=torch.float64)
            return (10 ** (e / 21.4) - 1.0) / 0.00437
        m_min, m_max = _hz_to_mel(self.f_min), _hz_to_mel(self.f_max)
        mels = torch.linspace(m_min, m_max, self.n_mels + 2, dtype=torch.float64)
        return 700.0 * (10 ** (mels / 2595.0) - 1.0)

    def band_ranges_hz(self) -> Tensor:
        """(n_mels, 2) the frequency range each band stands for: from the midpoint with its lower neighbour's
        centre to the midpoint with its upper one's, so the ranges tile f_min..f_max without overlap."""
        e = self.band_edges_hz()
        mid = (e[:-1] + e[1:]) / 2  # (n + 1,) midpoints between consecutive corners
        lo, hi = mid[:-1].clone(), mid[1:].clone()
        lo[0], hi[-1] = e[0], e[-1]
        return torch.stack([lo, hi], dim=1)

    def band_centers_hz(self) -> Tensor:
        """(n_mels,) centre frequency of each Mel band in Hz."""
        return self.band_edges_hz()[1:-1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """Short stable hash of the settings, for cache keys (the default Mel front is left out, so keys
        made before other fronts existed stay valid)."""
        d = self.to_dict()
        if d["front"] == "mel":
            d.pop("front")
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


FRONTS = ("mel", "linear", "gammatone")


def _hz_to_erb(f: float) -> float:
    """ERB-rate (Glasberg and Moore 1990) of ``f`` Hz."""
    return 21.4 * float(np.log10(1.0 + 0.00437 * f))


def _hz_to_mel(f: float) -> float:
    return 2595.0 * torch.log10(torch.tensor(1.0 + f / 700.0, dtype=torch.float64)).item()


class _FilterbankSpectrogram(torch.nn.Module):
    """Power STFT -> (F, n_freqs) filterbank: (B, L) -> (B, F, T) band powers (the linear front)."""

    def __init__(self, config: MelConfig, fbanks: Tensor) -> None:
        super().__init__()
        self.stft = torchaudio.transforms.Spectrogram(n_fft=config.n_fft, hop_length=config.hop_length, power=2.0,
                                                      center=True)
        self.register_buffer("fbanks", fbanks.float())  # (n_freqs, F)

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("bqt,qf->bft", self.stft(x), self.fbanks)  # (B, F, T)


class _Gammatonegram(torch.nn.Module):
    """Gammatone filterbank (scipy.signal.gammatone FIR designs at the ERB-spaced centres), then each
    channel's mean power over the STFT's centred frames: (B, L) -> (B, F, 1 + L // hop)."""

    def __init__(self, config: MelConfig) -> None:
        super().__init__()
        centres = config.band_centers_hz().tolist()
        taps = [signal.gammatone(f, "fir", numtaps=config.n_fft, fs=config.sample_rate)[0] for f in centres]
        self.register_buffer("filters", torch.tensor(np.stack(taps), dtype=torch.float32))  # (F, n_fft)
        self.n_fft, self.hop = config.n_fft, config.hop_length

    def forward(self, x: Tensor) -> Tensor:
        y = torchaudio.functional.fftconvolve(x[:, None, :], self.filters[None], mode="same")  # (B, F, L)
        return torch.nn.functional.avg_pool1d(y.square(), self.n_fft, self.hop, padding=self.n_fft // 2,
                                              count_include_pad=False)  # (B, F, 1 + L // hop)


@lru_cache(maxsize=8)
def _mel_transform(config: MelConfig, device: str) -> torch.nn.Module:
    to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=config.top_db)
    if config.front == "linear":
        fb = torchaudio.functional.linear_fbanks(config.n_fft // 2 + 1, config.f_min, config.f_max, config.n_mels,
                                                 config.sample_rate)  # (n_freqs, F)
        return torch.nn.Sequential(_FilterbankSpectrogram(config, fb), to_db).to(device).eval()
    if config.front == "gammatone":
        return torch.nn.Sequential(_Gammatonegram(config), to_db).to(device).eval()
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        f_min=config.f_min,
        f_max=config.f_max,
        n_mels=config.n_mels,
        power=2.0,
        center=True,
    )
    return torch.nn.Sequential(mel, to_db).to(device).eval()


@torch.inference_mode()
def log_mel(waveforms: Tensor, config: MelConfig = MelConfig(), *, batch_size: int = 256) -> Tensor:
    """Log-Mel spectrograms of equal-length waveforms, computed in batches on their device.

    Args:
        waveforms: (B, L) or (B, 1, L) float waveforms at ``config.sample_rate``.
    Returns:
        (B, 1, n_mels, 1 + L // hop_length) log-Mel in dB, float32, on the waveforms' device.

    Example: ``log_mel(torch.zeros(2, 128000)).shape == (2, 1, 64, 251)``
    """
    if waveforms.dim() == 3:
        if waveforms.shape[1] != 1:
            raise ValueError(f"expected mono waveforms (B, 1, L), got {tuple(waveforms.shape)}")
        waveforms = waveforms[:, 0]  # (B, L)
    if waveforms.dim() != 2:
        raise ValueError(f"expected waveforms shaped (B, L) or (B, 1, L), got {tuple(waveforms.shape)}")
    transform = _mel_transform(config, str(waveforms.device))
    out = [transform(chunk.float()) for chunk in waveforms.split(batch_size)]  # each (b, F, T)
    if not out:
        return waveforms.new_zeros((0, 1, config.n_mels, 1 + waveforms.shape[-1] // config.hop_length))
    return torch.cat(out).unsqueeze(1)  # (B, 1, F, T)


def check_logmel(x: Tensor, n_bands: int) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is a (B, 1, n_bands, T) log-Mel batch (what the models take)."""
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected log-Mel shaped (B, 1, F, T), got {tuple(x.shape)}")
    if x.shape[2] != n_bands:
        raise ValueError(f"model was built for n_bands={n_bands} but the input has {x.shape[2]} bands "
                         f"(shape {tuple(x.shape)}); build it with the band count you feed")


def validate_bands(bands: Sequence[int], n_bands: int) -> list[int]:
    """Check a band selection (sorted, unique, in range, non-empty) and return it as a list.

    Raises:
        ValueError: naming what is wrong with the selection.
    """
    kept = [int(b) for b in bands]
    if not kept:
        raise ValueError("band selection is empty: keep at least one Mel band")
    if len(set(kept)) != len(kept):
        dup = sorted({b for b in kept if kept.count(b) > 1})
        raise ValueError(f"band selection has duplicate bands {dup}")
    bad = [b for b in kept if not 0 <= b < n_bands]
    if bad:
        raise ValueError(f"band selection has bands {bad} outside 0..{n_bands - 1}")
    if kept != sorted(kept):
        raise ValueError(f"band selection must be sorted ascending, got {kept}")
    return kept


def select_bands(x: Tensor, bands: Sequence[int]) -> Tensor:
    """Keep only the given Mel bands; the others are removed from the tensor, not masked.

    Args:
        x: (..., F, T) log-Mel.
        bands: sorted unique indices into F.
    Returns:
        (..., len(bands), T), so the network that follows really sees fewer bands.
    """
    kept = validate_bands(bands, x.shape[-2])
    index = torch.as_tensor(kept, dtype=torch.long, device=x.device)
    return x.index_select(-2, index)  # (..., F_kept, T)


def kept_ranges_hz(config: MelConfig, bands: Sequence[int]) -> list[tuple[float, float]]:
    """The frequency ranges (Hz) that kept ``bands`` of ``config``'s front stand for, adjacent ones merged.

    Example: ``kept_ranges_hz(MelConfig(front="linear", n_mels=4, f_min=0, f_max=500), [0, 1, 3])`` is
    ``[(0.0, 250.0), (350.0, 500.0)]``.
    """
    ranges = config.band_ranges_hz()[validate_bands(bands, config.n_mels)].tolist()  # (k, 2)
    merged: list[list[float]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1e-9:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [(float(lo), float(hi)) for lo, hi in merged]


def hz_overlap(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    """Intersection over union, in Hz, of two sets of disjoint sorted ranges (1: the same frequencies kept)."""
    def length(rs: Sequence[tuple[float, float]]) -> float:
        return sum(hi - lo for lo, hi in rs)

    inter = sum(max(0.0, min(h1, h2) - max(l1, l2)) for l1, h1 in a for l2, h2 in b)
    union = length(a) + length(b) - inter
    return inter / union if union > 0 else float("nan")
