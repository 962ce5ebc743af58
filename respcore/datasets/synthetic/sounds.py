"""Signal primitives of the synthetic lung-sound corpus: band-limited noise, breathing envelopes,
crackles, tonal sounds and nuisances. All in numpy, vectorized over a whole recording.

Every function takes the sample rate ``sr`` and frequencies in Hz, so the same design renders at 4, 8
or 16 kHz; content above ``sr / 2`` simply vanishes. Waveforms are float64 (L,) arrays.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

Ranges = Sequence[tuple[float, float]]


def spectral_mask(freqs: np.ndarray, ranges: Ranges, taper_hz: float = 15.0) -> np.ndarray:
    """(n_freq,) gains in [0, 1]: 1 inside the ranges, a raised-cosine taper just INSIDE each edge, 0 outside.

    The taper lies inside the range, so nothing leaks outside it (the confinement the ground truth relies on).
    ``freqs`` must be ascending (as ``np.fft.rfftfreq`` gives).
    """
    gain = np.zeros_like(freqs, dtype=float)
    for lo, hi in ranges:
        i, j = np.searchsorted(freqs, [lo, hi])
        f = freqs[i:j]
        t = min(taper_hz, (hi - lo) / 2)
        ramp = np.clip(np.minimum(f - lo, hi - f) / t, 0, 1)
        gain[i:j] = np.maximum(gain[i:j], 0.5 - 0.5 * np.cos(np.pi * ramp))
    return gain


def fast_length(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: FFTs of that length are fast (a prime length can be 50x slower)."""
    best, p5 = 1 << max(0, int(n - 1).bit_length()), 1
    while p5 < best:
        q = p5
        while q < best:
            m = q if q >= n else q << int(np.ceil(np.log2(n / q)))
            best = min(best, m)
            q *= 3
        p5 *= 5
    return max(best, 1)


def band_noise(rng: np.random.Generator, n: int, sr: int, ranges: Ranges, tilt_db_per_octave: float = 0.0,
               ref_hz: float = 200.0) -> np.ndarray:
    """(n,) Gaussian noise confined to ``ranges``, with a spectral tilt around ``ref_hz``, unit RMS.

    Drawn directly in the frequency domain (one inverse FFT); use a ``fast_length`` n for speed."""
    freqs = np.fft.rfftfreq(n, 1 / sr)
    spec = (rng.standard_normal(freqs.size, np.float32) + 1j * rng.standard_normal(freqs.size, np.float32)) * spectral_mask(freqs, ranges)
    if tilt_db_per_octave:
        spec *= 10 ** (tilt_db_per_octave * np.log2(np.maximum(freqs, 1.0) / ref_hz) / 20)
    x = np.fft.irfft(spec, n=n)
    rms = np.sqrt(np.mean(x ** 2))
    return x / rms if rms > 0 else x


def breath_envelope(n: int, sr: int, starts: np.ndarray, ends: np.ndarray, insp_fraction: np.ndarray,
                    exp_gain: np.ndarray) -> np.ndarray:
    """(n,) amplitude envelope of consecutive breaths: a sine-shaped inspiration of peak 1 then an
    expiration of peak ``exp_gain``; zero outside every breath. All breath arrays are (K,) seconds/ratios."""
    env = np.zeros(n)
    for s, e, split, g in zip(starts, ends, insp_fraction, exp_gain):  # K is small: one slice per breath
        a, b = int(s * sr), min(n, int(e * sr))
        if b - a < 2:
            continue
        phase = np.linspace(0, 1, b - a, endpoint=False)
        insp = np.sin(np.pi * np.clip(phase / split, 0, 1)) ** 2
        expi = g * np.sin(np.pi * np.clip((phase - split) / (1 - split), 0, 1))
        env[a:b] = np.where(phase < split, insp, expi)
    return env


def place_atoms(n: int, positions: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """(n,) signal with each atom (K, M) added at its start sample (K,); atoms past the end are cut."""
    out = np.zeros(n)
    if len(positions) == 0:
        return out
    idx = positions[:, None] + np.arange(atoms.shape[1])[None, :]  # (K, M)
    keep = idx < n
    np.add.at(out, idx[keep], atoms[keep])
    return out


def damped_sines(rng: np.random.Generator, k: int, sr: int, f_range: tuple[float, float],
                 tau_ms: tuple[float, float]) -> np.ndarray:
    """(K, M) short transients: a sine of random frequency in ``f_range`` under a fast-rise exponential
    decay of time constant in ``tau_ms``; M covers five of the longest time constants."""
    m = max(4, int(5 * tau_ms[1] * sr / 1000))
    t = np.arange(m)[None, :] / sr
    f = rng.uniform(*f_range, size=(k, 1))
    tau = rng.uniform(*tau_ms, size=(k, 1)) / 1000
    rise = 1 - np.exp(-t / (tau / 8))
    sign = rng.choice([-1.0, 1.0], size=(k, 1))
    return sign * rise * np.exp(-t / tau) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (k, 1)))


def tone(n: int, sr: int, t0: float, t1: float, f0: float, glide: float, harmonics: Sequence[float],
         f_max: float, vibrato: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """(n,) tonal sound between ``t0`` and ``t1`` s: fundamental gliding from ``f0`` to ``f0 * (1 + glide)``
    (plus optional slow random vibrato, as a fraction), with harmonic amplitudes ``harmonics`` (first is the
    fundamental); harmonics that would exceed ``f_max`` are left out. Raised-cosine attack and release."""
    a, b = int(t0 * sr), min(n, int(t1 * sr))
    out = np.zeros(n)
    if b - a < 4:
        return out
    u = np.linspace(0, 1, b - a)
    f = f0 * (1 + glide * u)
    if vibrato and rng is not None:
        f = f * (1 + vibrato * np.sin(2 * np.pi * rng.uniform(2, 6) * u * (t1 - t0) + rng.uniform(0, 6.3)))
    phase = 2 * np.pi * np.cumsum(f) / sr
    ramp = min(0.03 * sr, (b - a) / 4)
    env = np.minimum(1, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / ramp)
    env = 0.5 - 0.5 * np.cos(np.pi * env)
    for h, amp in enumerate(harmonics, start=1):
        if f.max() * h < f_max:
            out[a:b] += amp * np.sin(h * phase)
    out[a:b] *= env
    return out


def heart_sounds(rng: np.random.Generator, n: int, sr: int, bpm: float) -> np.ndarray:
    """(n,) S1/S2 heart sounds: low damped thumps (30-100 Hz) at ``bpm`` with slight beat-to-beat jitter."""
    period = 60.0 / bpm
    beats = np.arange(rng.uniform(0, period), n / sr, period) + rng.normal(0, 0.02 * period, 1)
    s1 = (beats * sr).astype(int)
    s2 = ((beats + 0.3 * period) * sr).astype(int)
    pos = np.concatenate([s1, s2])
    pos = pos[(pos >= 0) & (pos < n)]
    atoms = damped_sines(rng, len(pos), sr, (35.0, 90.0), (15.0, 30.0))
    return place_atoms(n, pos, atoms)


def mains_hum(n: int, sr: int, mains_hz: float, amps: Sequence[float]) -> np.ndarray:
    """(n,) mains hum at ``mains_hz`` and its harmonics with amplitudes ``amps``."""
    t = np.arange(n) / sr
    return sum(a * np.sin(2 * np.pi * mains_hz * (h + 1) * t) for h, a in enumerate(amps) if mains_hz * (h + 1) < sr / 2)


def slow_gain(rng: np.random.Generator, n: int, sr: int, depth_db: float, corr_seconds: float = 0.5) -> np.ndarray:
    """(n,) random, slowly varying positive gain: log-normal with ``depth_db`` spread, correlated over
    about ``corr_seconds`` (linear interpolation between random knots)."""
    knots = max(2, int(n / sr / corr_seconds) + 2)
    db = rng.normal(0, depth_db, knots)
    return 10 ** (np.interp(np.linspace(0, knots - 1, n), np.arange(knots), db) / 20)


def bursts(rng: np.random.Generator, n: int, sr: int, rate_hz: float, ms: tuple[float, float]) -> np.ndarray:
    """(n,) envelope of random bursts (Poisson, ``rate_hz`` per second) of ``ms`` duration, peak 1."""
    env = np.zeros(n)
    count = rng.poisson(rate_hz * n / sr)
    for start, dur in zip(rng.integers(0, max(1, n), count), rng.uniform(*ms, count) * sr / 1000):
        d = max(2, int(dur))
        seg = np.sin(np.pi * np.linspace(0, 1, d)) * rng.uniform(0.3, 1)
        end = min(n, start + d)
        env[start:end] = np.maximum(env[start:end], seg[: end - start])
    return env


def response_gain(freqs: np.ndarray, knots_hz: Sequence[float], gain_db: Sequence[float]) -> np.ndarray:
    """(n_freq,) linear gain of a frequency response given in dB at ``knots_hz`` (interpolated on log f)."""
    knots = np.asarray(knots_hz, dtype=float)
    g = np.interp(np.log(np.maximum(freqs, knots[0])), np.log(knots), np.asarray(gain_db, dtype=float))
    return 10 ** (g / 20)

