"""Shared fixtures: tiny ICBHI / SPRSound folders written in the real on-disk formats, a small MelConfig."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from respcore.features import MelConfig

SMALL_MEL = MelConfig(sample_rate=4000, n_fft=256, hop_length=128, n_mels=16, f_max=2000.0, cycle_seconds=1.0)


def write_wav(path: Path, seconds: float, sr: int = 4000, subtype: str = "PCM_16", seed: int = 0) -> Path:
    """Noise of ``seconds`` at ``sr`` (a stand-in recording)."""
    rng = np.random.default_rng(seed)
    sf.write(str(path), 0.1 * rng.standard_normal(int(round(seconds * sr))), sr, subtype=subtype)
    return path


def write_text(path: Path, lines: list[str], *, crlf: bool = False, final_newline: bool = True) -> Path:
    nl = "\r\n" if crlf else "\n"
    path.write_bytes((nl.join(lines) + (nl if final_newline else "")).encode())
    return path


# stem -> (split, audio seconds, sample rate, cycles "start end crackle wheeze")
ICBHI_RECORDINGS = {
    "101_1b1_Al_sc_Meditron": ("train", 3.0, 44100, ["0.1\t0.9\t0\t0", "0.9\t1.8\t1\t0"]),
    "102_1b1_Ar_mc_AKGC417L": ("test", 3.0, 4000, ["0.2\t1.2\t0\t1", "1.2\t2.5\t1\t1"]),
    "103_2b1_Pl_sc_Litt3200": ("train", 2.0, 4000, ["0.0\t1.5\t0\t0", "1.5\t2.1\t1\t0"]),  # ends past audio
}


def make_icbhi(root: Path, *, crlf: bool = True, final_newline: bool = True, kaggle: bool = False,
               split_names: dict[str, str] | None = None) -> Path:
    """A 3-patient ICBHI folder: official (tab, CRLF, NA) or Kaggle (space, empty first line, CSV) files.

    ``split_names`` maps a file stem to the name the split file uses instead (a device-misnamed entry).
    """
    root.mkdir(parents=True, exist_ok=True)
    split_names = split_names or {}
    for i, (stem, (split, seconds, sr, cycles)) in enumerate(ICBHI_RECORDINGS.items()):
        write_wav(root / f"{stem}.wav", seconds, sr, "PCM_24" if i == 0 else "PCM_16", seed=i)
        write_text(root / f"{stem}.txt", cycles, crlf=crlf, final_newline=final_newline)
    split = [f"{split_names.get(s, s)}\t{v[0]}" for s, v in ICBHI_RECORDINGS.items()]
    write_text(root / "ICBHI_challenge_train_test.txt", split, crlf=crlf, final_newline=final_newline)
    demo = [["101", "3", "F", "NA", "19", "99"], ["102", "70", "M", "33", "NA", "NA"], ["103", "NA", "NA", "NA", "NA", "NA"]]
    if kaggle:
        write_text(root / "demographic_info.txt", [""] + [" ".join(r) for r in demo], final_newline=final_newline)
        write_text(root / "patient_diagnosis.csv", ["ID,CLASS", "101,URTI", "102,COPD", "103,Healthy"])
    else:
        write_text(root / "ICBHI_Challenge_demographic_information.txt", ["\t".join(r) for r in demo], crlf=crlf,
                   final_newline=final_newline)
        write_text(root / "ICBHI_Challenge_diagnosis.txt", ["101\tURTI", "102\tCOPD", "103\tHealthy"], crlf=crlf)
    return root


def write_spr_json(path: Path, events: list[tuple[int, int, str]], record: str | None, *, pretty: bool = False) -> Path:
    """SPRSound JSON: times as strings of ms; ``record=None`` writes the 2024/25 form without record labels."""
    data: dict = {} if record is None else {"record_annotation": record}
    data["event_annotation"] = [{"start": str(a), "end": str(b), "type": t} for a, b, t in events]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4 if pretty else None))
    return path


def make_sprsound(root: Path) -> Path:
    """2022 layout with 3 train, 1 inter, 1 intra recording (8 kHz) and a 2024-style test set."""
    files = {
        "train": [("41267028_0.2_0_p3_2476", 3.0, [(1500, 2100, "Stridor"), (200, 900, "Fine Crackle"), (2200, 2900, "Normal")], "CAS & DAS"),
                  ("00012345_8.4_1_p1_1884", 2.0, [(100, 900, "Normal"), (1000, 2300, "Wheeze & Crackle")], "CAS & DAS"),
                  ("65039232_6.4_1_p1_373", 0.304, [], "Poor Quality")],
        "inter": [("40512331_8.1_1_p1_3548", 2.0, [(100, 800, "Normal"), (900, 1700, "Wheeze")], "CAS")],
        "intra": [("41267028_0.2_0_p2_2500", 2.0, [(100, 800, "Rhonchi")], "CAS")],
    }
    dirs = {"train": ("train_json", "train_wav"), "inter": ("test_json/inter_test_json", "test_wav"),
            "intra": ("test_json/intra_test_json", "test_wav")}
    for split, recs in files.items():
        jdir, wdir = dirs[split]
        (root / wdir).mkdir(parents=True, exist_ok=True)
        for i, (stem, seconds, events, record) in enumerate(recs):
            write_spr_json(root / jdir / f"{stem}.json", events, record)
            write_wav(root / wdir / f"{stem}.wav", seconds, 8000, seed=i)
    write_spr_json(root / "test2024_json" / "00016281_3.7_1_p5_11865.json", [(25, 800, "Normal")], None, pretty=True)
    (root / "test2024_wav").mkdir()
    write_wav(root / "test2024_wav" / "00016281_3.7_1_p5_11865.wav", 1.0, 8000)
    return root


@pytest.fixture
def icbhi_root(tmp_path: Path) -> Path:
    return make_icbhi(tmp_path / "icbhi")


@pytest.fixture
def spr_root(tmp_path: Path) -> Path:
    return make_sprsound(tmp_path / "spr")
