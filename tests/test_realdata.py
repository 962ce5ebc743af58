"""Real dataset files (RESPCORE_REALDATA, e.g. ../shared/realdata): published counts, every real wav
decoded, fix-ups reported. Release-shaped folders are assembled in a temporary folder: real annotation
and metadata files (symlinked), real wavs where the copy has them, short low-rate stand-ins elsewhere."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from respcore.datasets import ICBHI, DatasetError, SPRSound, shared_patients
from respcore.datasets.audio import audio_info, read_audio
from respcore.features import MelConfig

pytestmark = pytest.mark.realdata
STAND_IN_RATE = 100  # Hz: stand-in wavs only need the right duration


@pytest.fixture(scope="module")
def real() -> Path:
    folder = os.environ.get("RESPCORE_REALDATA")
    if not folder:
        pytest.skip("RESPCORE_REALDATA is not set: point it at the real-data folder (e.g. ../shared/realdata)")
    if not (Path(folder) / "icbhi").is_dir():
        pytest.skip(f"RESPCORE_REALDATA={folder} has no icbhi/ folder")
    return Path(folder)


def _stand_in(path: Path, seconds: float) -> None:
    n = int(math.ceil(seconds * STAND_IN_RATE)) + 1
    sf.write(str(path), np.zeros(n, dtype=np.int16), STAND_IN_RATE, subtype="PCM_16")


def _icbhi_release(real: Path, root: Path, *, official_names: bool = False, kaggle_meta: bool = False) -> Path:
    root.mkdir(parents=True)
    renamed = {}
    if official_names:  # the official zip's 91 device names, matched to the Kaggle stems by the rest of the name
        kaggle = {tuple(p.stem.split("_")[:4]): p.stem for p in (real / "icbhi/annotations").glob("*.txt")}
        for line in (real / "icbhi/variants/patchmix/filename_differences.txt").read_text().split():
            name = line.strip("'")
            renamed[kaggle[tuple(name.split("_")[:4])]] = name
    for txt in sorted((real / "icbhi/annotations").glob("*.txt")):
        stem = renamed.get(txt.stem, txt.stem)
        (root / f"{stem}.txt").symlink_to(txt)
        wav = real / "icbhi/audio" / f"{txt.stem}.wav"
        if wav.exists():
            (root / f"{stem}.wav").symlink_to(wav)
        else:
            ends = [float(line.split()[1]) for line in txt.read_text().splitlines() if line.strip()]
            _stand_in(root / f"{stem}.wav", max(ends))
    (root / "ICBHI_challenge_train_test.txt").symlink_to(real / "icbhi/official/ICBHI_challenge_train_test.txt")
    if kaggle_meta:
        for name in ("demographic_info.txt", "patient_diagnosis.csv"):
            (root / name).symlink_to(real / "icbhi/variants/kaggle" / name)
    else:
        for name in ("ICBHI_Challenge_demographic_information.txt", "ICBHI_Challenge_diagnosis.txt"):
            (root / name).symlink_to(real / "icbhi/official" / name)
    return root


@pytest.fixture(scope="module")
def icbhi(real, tmp_path_factory) -> Path:
    return _icbhi_release(real, tmp_path_factory.mktemp("icbhi") / "ICBHI_final_database")


TRAIN = {"normal": 2063, "crackle": 1215, "wheeze": 501, "both": 363}
TEST = {"normal": 1579, "crackle": 649, "wheeze": 385, "both": 143}


def test_icbhi_published_counts_and_fixups(icbhi):
    train, test = ICBHI(icbhi, "train"), ICBHI(icbhi, "test")
    assert len(train) == 4142 and train.counts == TRAIN
    assert len(test) == 2756 and test.counts == TEST
    assert train.report.fixups == [("split entry matched by patient/index/location/mode",
                                    "226_1b1_Pl_sc_Meditron -> 226_1b1_Pl_sc_LittC2SE")]
    assert train.report.skips == [] and train.report.counts()["fixups"] == {"split entry matched by patient/index/location/mode": 1}
    assert shared_patients(train.metadata, test.metadata) == ["156", "218"] == train.shared_patients
    assert [d.split(":")[0] for k, d in train.report.notes if k == "patient without age"] == ["223"]
    every = ICBHI(icbhi, "all")
    assert len(every) == 6898 and every.metadata["split"].value_counts().to_dict() == {"train": 4142, "test": 2756}
    meta = every.metadata.drop_duplicates("patient").set_index("patient")
    assert (meta["age_group"] == "pediatric").sum() == 49 and (meta["age_group"] == "adult").sum() == 76
    assert pd.isna(meta.loc["223", "age"]) and pd.isna(meta.loc["223", "age_group"]) and pd.isna(meta.loc["223", "sex"])
    assert meta.loc["108", "age_group"] == "pediatric"  # a child without weight/height: from the age


def test_icbhi_official_zip_names_and_kaggle_metadata(real, tmp_path):
    zipped = _icbhi_release(real, tmp_path / "zip", official_names=True, kaggle_meta=True)
    train, test = ICBHI(zipped, "train"), ICBHI(zipped, "test")
    assert train.counts == TRAIN and test.counts == TEST
    matched = [d for k, d in train.report.fixups if k.startswith("split entry matched")]
    assert len(matched) == 92 and "226_1b1_Pl_sc_Meditron -> 226_1b1_Pl_sc_LittC2SE" in matched
    ages = test.metadata.groupby("patient")["age"].first()
    assert ages.loc["101"] == 3.0 and ages.loc["102"] == 0.75 and pd.isna(ages.loc["223"])  # space-separated variant
    assert set(test.metadata.loc[test.metadata["patient"] == "101", "device"]) == {"AKGC417L"}  # the zip's name


def test_every_real_icbhi_wav_decodes(real, icbhi):
    mel = MelConfig()
    ds = ICBHI(icbhi, "all", mel=mel, return_logmel=False)
    real_stems = sorted(p.stem for p in (real / "icbhi/audio").glob("*.wav"))
    assert len(real_stems) == 8
    rates = {audio_info(real / "icbhi/audio" / f"{s}.wav")[1] for s in real_stems}
    assert rates == {4000, 44100}
    for stem in real_stems:  # the whole file decodes; its first cycle comes out at the target rate
        wave, sr = read_audio(real / "icbhi/audio" / f"{stem}.wav")
        assert np.isfinite(wave).all() and wave.std() > 0 and len(wave) == audio_info(real / "icbhi/audio" / f"{stem}.wav")[0]
        first = ds[int(np.flatnonzero(ds.metadata["recording"].to_numpy() == stem)[0])]["waveform"]
        assert first.shape == (mel.cycle_samples,) and torch.isfinite(first).all() and first.abs().max() > 0
    pcm24, _ = read_audio(real / "icbhi/audio/101_1b1_Al_sc_Meditron.wav")
    pcm32, sr = read_audio(real / "icbhi/variants/wav32/101_1b1_Al_sc_Meditron.wav")
    assert sr == 44100 and np.allclose(pcm24, pcm32, atol=1e-5)  # same recording, 24- and 32-bit PCM


SPR_DIRS = {"train_json": "train_wav", "test_json/inter_test_json": "test_wav", "test_json/intra_test_json": "test_wav"}


def _spr_release(source: Path, root: Path, dirs: dict[str, str]) -> Path:
    """Real JSON files (symlinked); every wav a link to one stand-in longer than the longest annotation."""
    jsons = {j: sorted((source / j).glob("*.json")) for j in dirs}
    longest = max((float(e["end"]) / 1000 for paths in jsons.values() for p in paths
                   for e in json.loads(p.read_text())["event_annotation"]), default=1.0)
    stand_in = root / f"stand_in_{longest:.3f}s.wav"
    root.mkdir(parents=True, exist_ok=True)
    if not stand_in.exists():
        _stand_in(stand_in, longest + 0.01)
    for json_dir, wav_dir in dirs.items():
        (root / json_dir).mkdir(parents=True)
        (root / wav_dir).mkdir(parents=True, exist_ok=True)
        for path in jsons[json_dir]:
            (root / json_dir / path.name).symlink_to(path)
            (root / wav_dir / f"{path.stem}.wav").symlink_to(stand_in)
    return root


@pytest.fixture(scope="module")
def spr(real, tmp_path_factory) -> Path:
    return _spr_release(real / "sprsound/annotations_2022", tmp_path_factory.mktemp("spr") / "SPRSound", SPR_DIRS)


def test_sprsound_published_counts(spr):
    records = SPRSound(spr, "2-2", "all", strict=True)
    events = SPRSound(spr, "1-2", "all", strict=True)
    rec, ev = records.metadata, events.metadata
    assert len(rec) == 2683 and len(ev) == 9089
    assert rec.groupby("split").size().to_dict() == {"train": 1949, "inter": 355, "intra": 379}
    assert ev.groupby("split").size().to_dict() == {"train": 6656, "inter": 1429, "intra": 1004}
    assert rec[rec.split == "train"]["patient"].nunique() == 251
    by_label = rec.groupby(["split", "label"]).size()
    assert by_label["train"].to_dict() == {"Normal": 1303, "CAS": 126, "DAS": 248, "CAS & DAS": 95, "Poor Quality": 177}
    assert by_label["inter"].to_dict() == {"Normal": 241, "CAS": 65, "DAS": 24, "CAS & DAS": 17, "Poor Quality": 8}
    assert by_label["intra"].to_dict() == {"Normal": 241, "CAS": 42, "DAS": 75, "CAS & DAS": 19, "Poor Quality": 2}
    assert ev[ev.split == "train"].groupby("label").size().to_dict() == {
        "Normal": 5159, "Rhonchi": 39, "Wheeze": 452, "Stridor": 15, "Coarse Crackle": 49, "Fine Crackle": 912,
        "Wheeze+Crackle": 30}
    assert events.report.counts() == {"fixups": {"events sorted by start time": 1124}, "skips": {}, "notes": {}}
    train = SPRSound(spr, "2-1", "train")  # the split argument alone gives the same recordings
    assert len(train) == 1949 and train.counts == {"Normal": 1303, "Adventitious": 469, "Poor Quality": 177}
    assert len(SPRSound(spr, "1-1", "inter")) == 1429


def test_sprsound_later_releases(real, tmp_path):
    later = real / "sprsound/later_releases"
    root = tmp_path / "later"
    for year, folder in (("2023", later / "BioCAS2023"), ("2024", later / "BioCAS2024"), ("2025", later / "releases/BioCAS2025")):
        _spr_release(folder, root, {f"test{year}_json": f"test{year}_wav"})
    assert len(SPRSound(root, "2-2", "test2023", strict=True)) == 3
    for year in ("2024", "2025"):
        assert len(SPRSound(root, "1-2", f"test{year}", strict=True)) > 0
        with pytest.raises(DatasetError, match="no 'record_annotation'"):
            SPRSound(root, "2-1", f"test{year}")


def test_sprsound_sample_audio_decodes(real):
    sample = real / "sprsound/sample"
    records = SPRSound(sample, "2-2", "all", strict=True)
    assert len(records) == 9 and set(records.metadata["sample_rate"]) == {8000}
    fs = records.features()
    assert torch.isfinite(fs.x).all() and fs.x.std() > 0
    assert records.metadata.set_index("recording").loc["65039232_6.4_1_p1_373", "end"] == pytest.approx(0.304)
    events = SPRSound(sample, "1-2", "all", strict=True).features()
    assert torch.isfinite(events.x).all() and len(events) == len(SPRSound(sample, "1-1", "all"))
