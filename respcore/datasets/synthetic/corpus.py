"""The built-in synthetic lung-sound corpus: generated from a seed, written in the real ICBHI 2017 or
SPRSound 2022 file formats so the real loaders read it, with a ground truth of where class evidence is.

Example::

    path, truth = make_synthetic("data/synthetic-icbhi", "icbhi", "smoke", seed=0)
    truth["informative_bands"]  # Mel bands (for the default MelConfig) that carry class evidence

Design of the sounds (class evidence in fixed frequency ranges, pediatric ones 1.15x higher, class-blind
nuisances and noise bands in the gaps): :mod:`.design`; layout: :mod:`.plan`; calibration targets
measured on the real files: :mod:`.calibration`. Sizes count cycles (ICBHI) or
events (SPRSound): smoke 200, default 1000, "icbhi" the real dataset's size (6,898 / 9,089), or an int.

Known simplifications: ICBHI audio is written at 16 kHz (4 kHz for Litt3200, as in the real set)
instead of 44.1 kHz, to keep the corpus small; labels are drawn independently of age, device and patient
(the real ICBHI children are mostly normal), so only the class sounds carry class information.
"""
from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from ...features import MelConfig
from ...fileio import atomic_write, read_json, write_json
from ..icbhi import DEMOGRAPHIC_FILES, DIAGNOSIS_FILES, FOUR_CLASS, SPLIT_FILES
from ..sprsound import FOLDERS_2022
from . import calibration as cal
from .design import (COMPONENT_RANGES, FLAVOR_AGE_GROUPS, LABEL_COMPONENTS, NOISE_BANDS_HZ, PEDIATRIC_SHIFT,
                     band_truth, class_ranges, device_response, render)
from .plan import ICBHI_SAMPLE_RATES, apportion, plan_icbhi, plan_sprsound

GENERATOR_VERSION = 1  # bump when the generated audio or layout changes: old corpora are then rejected
SIZES = {"smoke": 200, "default": 1000}  # cycles (ICBHI) or events (SPRSound)
REAL_SIZES = {"icbhi": 6898, "sprsound": 9089}  # size="icbhi": as large as the real dataset of the flavor
TRUTH_FILE = "ground_truth.json"
_MARKER = ".synthetic-incomplete"
_FLAVOR_ID = {"icbhi": 1, "sprsound": 2}
_ICBHI_FLAGS = {str(c): (i % 2, i // 2) for i, c in enumerate(FOUR_CLASS)}  # label -> (crackle, wheeze)


@dataclass
class SyntheticCorpus:
    """Where a synthetic corpus lies and its ground truth; unpacks as ``path, truth``."""

    path: Path
    truth: dict[str, Any]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, self.truth))


def resolve_size(flavor: str, size: str | int) -> int:
    """Number of cycles (ICBHI) or events (SPRSound) that ``size`` asks for."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 40:
            raise ValueError(f"size {size} is too small: ask for at least 40 cycles or events")
        return int(size)
    if size == "icbhi":
        return REAL_SIZES[flavor]
    if size in SIZES:
        return SIZES[size]
    raise ValueError(f"unknown size {size!r}: use 'smoke', 'default', 'icbhi' or a number of cycles")


def target_counts(flavor: str, n: int) -> dict[str, dict[str, int]]:
    """{split: {label: count}} for ``n`` cycles/events in the real datasets' split and class proportions.

    Small sizes keep every class seen in a real split (at least 3 per ICBHI cell, 2 per SPRSound train
    type, 1 per SPRSound test type that exists in that real split). The real size gives the real table.
    """
    real = cal.ICBHI_CYCLES if flavor == "icbhi" else cal.SPRSOUND_EVENTS
    cells = {(s, c): v for s, by in real.items() for c, v in by.items()}
    if flavor == "icbhi":
        minimum = {k: 3 for k in cells}
    else:
        minimum = {k: (2 if k[0] == "train" else 1) for k, v in cells.items() if v > 0}
    flat = apportion(n, {k: float(v) for k, v in cells.items()}, minimum)
    return {s: {c: flat[(s, c)] for c in by} for s, by in real.items()}


def make_synthetic(root: str | Path, flavor: str = "icbhi", size: str | int = "default", seed: int = 0, *,
                   mel: MelConfig = MelConfig(), audio: bool = True, workers: int = 1) -> SyntheticCorpus:
    """Write (or reuse) a synthetic corpus in the real file format of ``flavor`` under ``root``.

    A complete corpus with the same flavor, size, seed and generator version is reused without
    regenerating (only its band truth is recomputed for ``mel``). ``root`` holding anything else is an error.
    ``audio=False`` writes the annotation and metadata files only (seconds at any size): for statistics.
    ``workers`` > 1 renders recordings in that many processes (0: one per CPU core); every recording has
    its own random stream, so the files are byte-identical whatever the number of workers.
    Returns: SyntheticCorpus(path=root, truth=ground truth, also in root/ground_truth.json).
    """
    if flavor not in _FLAVOR_ID:
        raise ValueError(f"unknown flavor {flavor!r}: use 'icbhi' or 'sprsound'")
    n = resolve_size(flavor, size)
    root = Path(root)
    key = {"flavor": flavor, "seed": int(seed), "size": size if isinstance(size, str) else int(size),
           "n_items": n, "audio": bool(audio), "generator_version": GENERATOR_VERSION}
    truth_path = root / TRUTH_FILE
    if truth_path.is_file():
        old = read_json(truth_path)
        same = ("flavor", "seed", "n_items", "audio", "generator_version")  # size "default" == 1000
        if any(old.get(k) != key[k] for k in same):
            raise ValueError(f"{truth_path}: holds another corpus ({ {k: old.get(k) for k in same} }); "
                             f"asked for { {k: key[k] for k in same} }: use another folder or delete this one")
        _verify(root, old)
        if old.get("mel") != mel.to_dict():
            old.update(_band_part(mel, flavor))
            write_json(truth_path, old)
        return SyntheticCorpus(root, old)
    if root.exists() and any(root.iterdir()) and not (root / _MARKER).exists():
        raise ValueError(f"{root}: folder is not empty and holds no {TRUTH_FILE}: refusing to write a corpus there")
    if root.exists():
        shutil.rmtree(root)  # an interrupted generation of ours
    root.mkdir(parents=True)
    (root / _MARKER).write_text("generation in progress\n")
    truth = _generate(root, flavor, n, int(seed), key, mel, audio, workers)
    write_json(truth_path, truth)
    (root / _MARKER).unlink()
    return SyntheticCorpus(root, read_json(truth_path))  # as a later reuse returns it (lists, str keys)


def _band_part(mel: MelConfig, flavor: str) -> dict:
    return {"mel": mel.to_dict(), **band_truth(mel, flavor)}


def _verify(root: Path, truth: dict) -> None:
    missing = [f for f in truth["files"] if not (root / f).is_file()]
    if missing:
        raise ValueError(f"{root}: synthetic corpus is incomplete, {len(missing)} files missing (e.g. {missing[0]})")


def _generate(root: Path, flavor: str, n: int, seed: int, key: dict, mel: MelConfig, audio: bool,
              workers: int = 1) -> dict:
    rng = np.random.default_rng([seed, _FLAVOR_ID[flavor]])
    counts = target_counts(flavor, n)
    devices = sorted(ICBHI_SAMPLE_RATES) if flavor == "icbhi" else ["SPRSound"]
    responses = {d: device_response(rng) for d in devices}
    smoke = n <= SIZES["smoke"]
    if flavor == "icbhi":
        plans, patients = plan_icbhi(rng, counts, smoke)
    else:
        plans, patients = plan_sprsound(rng, counts, smoke), {}
    jobs = [(root, flavor, seed, i, plan, responses[plan.device], audio) for i, plan in enumerate(plans)]
    workers = (os.cpu_count() or 1) if workers == 0 else max(1, int(workers))
    if workers == 1 or len(jobs) < 2 * workers:
        written = [_render_and_write(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            written = list(pool.map(_render_and_write, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    files = [f for fs in written for f in fs]
    if flavor == "icbhi":
        files += _write_icbhi_metadata(root, plans, patients, rng)
    truth = {**key, "class_counts": counts, "files": sorted(files), "recordings": len(plans),
             "patients": len({p.patient for p in plans}),
             "age_groups": list(FLAVOR_AGE_GROUPS[flavor]), "pediatric_shift": PEDIATRIC_SHIFT,
             "class_ranges_hz": class_ranges(flavor),
             "component_ranges_hz": {c: list(r) for c, r in COMPONENT_RANGES.items()},
             "label_components": LABEL_COMPONENTS[flavor], "noise_bands_hz": [list(r) for r in NOISE_BANDS_HZ],
             "device_responses": responses,
             "sample_rates": ICBHI_SAMPLE_RATES if flavor == "icbhi" else {"SPRSound": cal.SPRSOUND_SAMPLE_RATE},
             "notes": "class labels are drawn independently of age, device and patient; every class sound "
                      "lies inside class_ranges_hz; nuisances are class-blind",
             **_band_part(mel, flavor)}
    if flavor == "icbhi":
        splits = {}
        for p in plans:
            splits.setdefault(p.patient, set()).add(p.split)
        truth["shared_patients"] = sorted(p for p, s in splits.items() if len(s) > 1)
    else:
        truth["record_counts"] = {s: dict.fromkeys(cal.SPRSOUND_RECORDS[s], 0) for s in FOLDERS_2022}
        for p in plans:
            truth["record_counts"][p.split][p.record_label] += 1
    return truth


def _render_and_write(job: tuple) -> list[str]:
    """Render one planned recording from its own random stream and write its files (a worker's unit)."""
    root, flavor, seed, i, plan, response, audio = job
    r = np.random.default_rng([seed, _FLAVOR_ID[flavor], 7, i])  # per recording: order-independent
    wave = render(plan, r, response) if audio else None
    return _write_icbhi_recording(root, plan, wave) if flavor == "icbhi" else _write_sprsound_record(root, plan, wave, r)


def _pcm16(path: Path, wave: np.ndarray, sr: int) -> None:
    atomic_write(path, lambda tmp: sf.write(str(tmp), wave.astype(np.float32), sr, subtype="PCM_16", format="WAV"))


def _write_icbhi_recording(root: Path, plan, wave: np.ndarray) -> list[str]:
    if wave is not None:
        _pcm16(root / f"{plan.stem}.wav", wave, plan.sample_rate)
    lines = [f"{s:.3f}\t{e:.3f}\t{_ICBHI_FLAGS[lab][0]}\t{_ICBHI_FLAGS[lab][1]}\n"
             for (s, e), lab in zip(plan.breaths, plan.labels)]
    (root / f"{plan.stem}.txt").write_text("".join(lines))
    return [f"{plan.stem}.txt"] + ([f"{plan.stem}.wav"] if wave is not None else [])


def _write_icbhi_metadata(root: Path, plans: list, patients: dict, rng: np.random.Generator) -> list[str]:
    split_lines = [f"{p.stem}\t{p.split}\r\n" for p in plans]
    split_file, demo_file, diag_file = SPLIT_FILES[0], DEMOGRAPHIC_FILES[0], DIAGNOSIS_FILES[0]  # official names
    (root / split_file).write_text("".join(split_lines), newline="")
    demo, diag = [], []
    for pid in sorted(patients, key=int):
        age, sex = patients[pid]["age"], patients[pid]["sex"]
        age_text = f"{age:g}"
        if age < 18:  # children: weight (kg) and height (cm) from a rough growth curve, no BMI
            h = 50 + 25 * min(age, 1) + 6.5 * max(0.0, age - 1)
            cols = ["NA", f"{3.5 + 2.5 * age + rng.normal(0, 1):.1f}", f"{h:.0f}"]
            dx = rng.choice(["URTI", "Healthy", "Bronchiolitis", "Pneumonia", "LRTI"])
        else:
            cols = [f"{rng.uniform(18, 35):.2f}", "NA", "NA"]
            dx = rng.choice(["COPD", "COPD", "COPD", "Healthy", "URTI", "Bronchiectasis", "Pneumonia", "Asthma"])
        demo.append("\t".join([pid, age_text, sex, *cols]) + "\r\n")
        diag.append(f"{pid}\t{dx}\r\n")
    (root / demo_file).write_text("".join(demo), newline="")
    (root / diag_file).write_text("".join(diag), newline="")
    return [split_file, demo_file, diag_file]


def _write_sprsound_record(root: Path, plan, wave: np.ndarray, rng: np.random.Generator) -> list[str]:
    json_dir, wav_dir = FOLDERS_2022[plan.split]
    (root / wav_dir).mkdir(parents=True, exist_ok=True)
    (root / json_dir).mkdir(parents=True, exist_ok=True)
    if wave is not None:
        _pcm16(root / wav_dir / f"{plan.stem}.wav", wave, plan.sample_rate)
    events = [{"start": str(int(round(s * 1000))), "end": str(int(round(e * 1000))), "type": lab}
              for (s, e), lab in zip(plan.breaths, plan.labels) if lab is not None]
    if rng.random() < 0.4:  # as in the real release, events are often not in time order
        events = [events[i] for i in rng.permutation(len(events))]
    doc = {"record_annotation": plan.record_label, "event_annotation": events}
    (root / json_dir / f"{plan.stem}.json").write_text(json.dumps(doc))
    return [f"{json_dir}/{plan.stem}.json"] + ([f"{wav_dir}/{plan.stem}.wav"] if wave is not None else [])

