"""Where the synthetic corpus puts class evidence and nuisances in frequency, its Mel-band ground truth,
and the rendering of one recording from its plan.

Design (Hz; pediatric class sounds sit ``PEDIATRIC_SHIFT`` times higher than adult ones):
- class evidence only in three narrow windows (``COMPONENT_RANGES``, each class sound confined to its
  windows by an FFT mask): a low tonal window (rhonchi, wheezes and coarse crackles, 245-285 Hz adult), the
  window of their second harmonics (490-570 Hz) and a high window (fine crackles, stridor, 1.16-1.25 kHz);
- wide, strong, randomly varying class-blind noise bands (``NOISE_BANDS_HZ``) in the gaps between them:
  below 200 Hz, 360-450 Hz, 0.7-1.1 kHz and above 1.48 kHz;
- broadband class-blind nuisances everywhere: breath sounds, heart sounds, mains hum, friction bursts,
  the device's frequency response.
A Mel band is informative when its support touches a class window widened by the STFT main lobe
(2 bins); every other band is nuisance: no class evidence reaches it. For the default MelConfig about a
third of the bands are informative, so importance-based band selection has a clear target.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...features import MelConfig
from . import sounds

PEDIATRIC_SHIFT = 1.15  # children's adventitious sounds are 15 % higher in frequency
Windows = tuple[tuple[float, float], ...]
LOW, HARMONIC, HIGH = (245.0, 285.0), (490.0, 570.0), (1160.0, 1250.0)  # adult class windows, Hz
COMPONENT_RANGES: dict[str, Windows] = {  # adult frequency windows of each class sound, Hz
    "rhonchi": (LOW, HARMONIC),  # low tonal: f0 in the low part of LOW, second harmonic in HARMONIC
    "wheeze": (LOW, HARMONIC),  # tonal: f0 in LOW, second harmonic in HARMONIC
    "coarse_crackle": (LOW,),  # longer (~20 ms), lower transients
    "fine_crackle": (HIGH,),  # shorter (~6 ms), higher transients
    "stridor": (HIGH,),  # high tonal, inspiratory
}
NOISE_BANDS_HZ: Windows = ((40.0, 200.0), (360.0, 450.0), (700.0, 1100.0), (1480.0, 2600.0), (3000.0, 3700.0))
NOISE_LEVEL_DB = (-6.0, 12.0)  # per recording and noise band, relative to unit-RMS breath noise
LABEL_COMPONENTS: dict[str, dict[str, tuple[dict[str, float], ...]]] = {  # label -> slots {component: prob}
    "icbhi": {
        "normal": (),
        "crackle": ({"fine_crackle": 0.7, "coarse_crackle": 0.3},),
        "wheeze": ({"wheeze": 0.8, "rhonchi": 0.2},),
        "both": ({"fine_crackle": 0.7, "coarse_crackle": 0.3}, {"wheeze": 0.8, "rhonchi": 0.2}),
    },
    "sprsound": {
        "Normal": (), "Rhonchi": ({"rhonchi": 1.0},), "Wheeze": ({"wheeze": 1.0},),
        "Stridor": ({"stridor": 1.0},), "Coarse Crackle": ({"coarse_crackle": 1.0},),
        "Fine Crackle": ({"fine_crackle": 1.0},),
        "Wheeze+Crackle": ({"wheeze": 1.0}, {"fine_crackle": 0.8, "coarse_crackle": 0.2}),
    },
}
HEART_RANGE_HZ = [(20.0, 200.0)]  # heart sounds: class-blind, mostly in the lowest (nuisance) bands
FLAVOR_AGE_GROUPS = {"icbhi": ("adult", "pediatric"), "sprsound": ("pediatric",)}


def component_windows(name: str, group: str) -> list[tuple[float, float]]:
    """Frequency windows (Hz, ascending) of a class sound for an age group ('adult' or 'pediatric')."""
    if name not in COMPONENT_RANGES or group not in ("adult", "pediatric"):
        raise ValueError(f"unknown class sound {name!r} or age group {group!r}")
    k = PEDIATRIC_SHIFT if group == "pediatric" else 1.0
    return [(lo * k, hi * k) for lo, hi in COMPONENT_RANGES[name]]


def class_ranges(flavor: str) -> dict[str, dict[str, list[list[float]]]]:
    """{label: {age_group: [[lo, hi], ...]}} frequency ranges carrying each label's evidence."""
    out = {}
    for label, slots in LABEL_COMPONENTS[flavor].items():
        names = sorted({c for slot in slots for c in slot})
        out[label] = {g: [list(w) for c in names for w in component_windows(c, g)] for g in FLAVOR_AGE_GROUPS[flavor]}
    return out


def band_truth(mel: MelConfig, flavor: str) -> dict:
    """Which of ``mel``'s bands carry class evidence for this corpus flavor.

    Returns: {"informative_bands", "nuisance_bands" (the complement), "noise_bands" (nuisance bands
    touching a dedicated noise band), "class_bands": {label: bands}} - sorted band indices.
    """
    edges = mel.band_edges_hz().numpy()
    lo_e, hi_e = edges[:-2], edges[2:]  # support of band b
    guard = 2.0 * mel.sample_rate / mel.n_fft  # STFT main-lobe half width

    def touching(ranges: list[list[float]], widen: float) -> set[int]:
        hit = np.zeros(mel.n_mels, dtype=bool)
        for lo, hi in ranges:
            hit |= (lo_e < hi + widen) & (hi_e > lo - widen)
        return set(np.flatnonzero(hit).tolist())

    class_bands = {label: sorted(touching([r for rs in by_age.values() for r in rs], guard))
                   for label, by_age in class_ranges(flavor).items()}
    informative = set().union(*map(set, class_bands.values()))
    nuisance = sorted(set(range(mel.n_mels)) - informative)
    noise = sorted(touching([list(r) for r in NOISE_BANDS_HZ], 0.0) - informative)
    return {"informative_bands": sorted(informative), "nuisance_bands": nuisance, "noise_bands": noise,
            "class_bands": class_bands}


def device_response(rng: np.random.Generator) -> dict[str, list[float]]:
    """A smooth random frequency response (about +-6 dB) on log-spaced knots from 20 Hz to 8 kHz."""
    knots = np.geomspace(20.0, 8000.0, 9)
    gain = np.convolve(rng.normal(0, 4.0, 11), np.ones(3) / 3, mode="valid")
    return {"freqs_hz": [round(float(f), 2) for f in knots], "gain_db": [round(float(g), 2) for g in gain]}


@dataclass
class RecordingPlan:
    """Everything needed to write one recording: identity, timeline and class sounds (seconds)."""

    stem: str
    split: str
    patient: str
    age: float
    sex: str
    device: str
    sample_rate: int
    duration: float
    breaths: np.ndarray  # (K, 2) start, end of every breath, contiguous
    labels: list  # (K,) label of each breath, None for a breath that is not annotated
    components: list = field(default_factory=list)  # (name, t0, t1) class sounds
    record_label: str | None = None  # SPRSound record annotation
    poor_quality: bool = False

    @property
    def age_group(self) -> str:
        return "pediatric" if self.age < 18 else "adult"


def render(plan: RecordingPlan, rng: np.random.Generator, response: dict[str, list[float]]) -> np.ndarray:
    """(L,) float waveform in [-1, 1] of one planned recording at ``plan.sample_rate``."""
    sr, length = plan.sample_rate, max(8, int(round(plan.duration * plan.sample_rate)))
    n = sounds.fast_length(length)  # work at a fast FFT length, cut to the recording's length at the end
    child = plan.age_group == "pediatric"
    k = len(plan.breaths)
    # breath sounds: higher-pitched, less stable for children
    band = [(150.0, 3000.0)] if child else [(100.0, 2500.0)]  # falling steeply above a few hundred Hz
    env = sounds.breath_envelope(n, sr, plan.breaths[:, 0], plan.breaths[:, 1],
                                 rng.uniform(0.35, 0.55 if child else 0.45, k),
                                 rng.uniform(0.3 if child else 0.4, 0.9 if child else 0.7, k))
    breath = sounds.band_noise(rng, n, sr, band, -5.0 if child else -6.0)
    x = breath * env * sounds.slow_gain(rng, n, sr, 3.0 if child else 1.0) * (0.3 if plan.poor_quality else 1.0)
    # class sounds, each kind confined to its age-specific windows, and heart sounds kept below 200 Hz
    # (their abrupt onsets would otherwise click across all bands), all masked in one batched FFT
    crng = np.random.default_rng(rng.integers(2**63))  # class sounds draw from their own stream: the
    names = sorted({c[0] for c in plan.components})  # nuisances of a recording do not depend on its labels
    tracks = np.zeros((len(names) + 1, n))
    for name, t0, t1 in plan.components:
        windows = component_windows(name, plan.age_group)
        tracks[names.index(name)] += _component(name, crng, n, sr, t0, t1, windows)
    bpm = rng.uniform(90, 140) if child else rng.uniform(60, 90)
    tracks[-1] = rng.uniform(0.5, 2.0) * sounds.heart_sounds(rng, n, sr, bpm)
    freqs = np.fft.rfftfreq(n, 1 / sr)
    ranges = [component_windows(c, plan.age_group) for c in names] + [HEART_RANGE_HZ]
    masks = np.stack([sounds.spectral_mask(freqs, r) for r in ranges])
    masked_spec = (np.fft.rfft(tracks, axis=-1) * masks).sum(0)
    # class-blind nuisances
    if rng.random() < 0.5:
        x += sounds.mains_hum(n, sr, float(rng.choice([50.0, 60.0])), rng.uniform(0.05, 0.4) * np.array([1, 0.5, 0.25]))
    friction = sounds.bursts(rng, n, sr, 2.0 if plan.poor_quality else 0.15, (20.0, 150.0))
    x += (3.0 if plan.poor_quality else 1.0) * rng.uniform(0.5, 2.0) * friction * \
        sounds.band_noise(rng, n, sr, [(100.0, sr / 2)])
    boost = 6.0 if plan.poor_quality else 0.0
    for lo, hi in NOISE_BANDS_HZ:  # strong class-blind noise bands: random level, slowly varying in time
        if lo < sr / 2:
            level = 10 ** ((rng.uniform(*NOISE_LEVEL_DB) + boost) / 20)
            x += level * sounds.slow_gain(rng, n, sr, 8.0, 0.3) * sounds.band_noise(rng, n, sr, [(lo, min(hi, sr / 2))])
    x += 0.02 * rng.standard_normal(n)
    spec = (np.fft.rfft(x) + masked_spec) * sounds.response_gain(freqs, response["freqs_hz"], response["gain_db"])
    x = np.fft.irfft(spec, n=n)
    return np.clip(x[:length] * 0.009 * rng.uniform(0.6, 1.4), -1.0, 1.0)  # level: no clipping (it would spread class sounds)


def _component(name: str, rng: np.random.Generator, n: int, sr: int, t0: float, t1: float,
               windows: list[tuple[float, float]]) -> np.ndarray:
    """(n,) one class sound between t0 and t1 s, before confinement to its ``windows`` (Hz, ascending)."""
    lo, hi = windows[0]
    if name.endswith("crackle"):
        fine = name == "fine_crackle"
        count = max(2, rng.poisson((15.0 if fine else 8.0) * (t1 - t0)))
        pos = (rng.uniform(t0, max(t0, t1 - 0.01), count) * sr).astype(int)
        f_range = (lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo))
        atoms = sounds.damped_sines(rng, count, sr, f_range, (1.0, 1.5) if fine else (3.0, 6.0))
        return rng.uniform(3.0, 6.0) * sounds.place_atoms(n, pos, atoms)
    # tonal: the fundamental wanders inside the first window, the harmonics land in the next windows
    if name == "wheeze":
        f_lo, f_hi, harm, vib = lo + 0.2 * (hi - lo), hi - 0.1 * (hi - lo), (1.0, 0.35), 0.01
    elif name == "rhonchi":  # the lower part of the window, stronger harmonics, less stable
        f_lo, f_hi, harm, vib = lo + 0.1 * (hi - lo), lo + 0.6 * (hi - lo), (1.0, 0.6, 0.3), 0.02
    else:  # stridor
        f_lo, f_hi, harm, vib = lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo), (1.0,), 0.005
    f0 = rng.uniform(f_lo, f_hi)
    room = max(0.0, min(f_hi / f0 - 1, 1 - f_lo / f0))  # glide that keeps the fundamental in [f_lo, f_hi]
    glide = rng.uniform(-room, room)
    return rng.uniform(0.3, 0.8) * sounds.tone(n, sr, t0, t1, f0, glide, harm, windows[-1][1], vib, rng)
