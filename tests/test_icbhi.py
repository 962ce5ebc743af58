"""ICBHI loader on release-format fixtures: fields, file variants, and every bad-input case."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import SMALL_MEL, make_icbhi, write_text, write_wav
from respcore.datasets import ICBHI, DatasetError
from respcore.features import log_mel


def test_item_fields(icbhi_root):
    ds = ICBHI(icbhi_root, "train", mel=SMALL_MEL)
    assert ds.classes == ("normal", "crackle", "wheeze", "both")
    assert len(ds) == 4 and ds.counts == {"normal": 2, "crackle": 2, "wheeze": 0, "both": 0}
    item = ds[1]
    assert item["recording"] == "101_1b1_Al_sc_Meditron"
    assert (item["label"], item["label_index"], item["binary"]) == ("crackle", 1, 1)
    assert (item["patient"], item["age"], item["age_group"], item["sex"]) == ("101", 3.0, "pediatric", "F")
    assert (item["location"], item["mode"], item["device"], item["diagnosis"]) == ("Al", "sc", "Meditron", "URTI")
    assert (item["start"], item["end"], item["sample_rate"]) == (0.9, 1.8, 44100)
    assert item["waveform"].shape == (SMALL_MEL.cycle_samples,)
    assert item["logmel"].shape == (1, *SMALL_MEL.shape)
    assert torch.isfinite(item["logmel"]).all()
    test = ICBHI(icbhi_root, "test", mel=SMALL_MEL)
    assert test.metadata["label"].tolist() == ["wheeze", "both"]
    assert test.metadata["age_group"].tolist() == ["adult", "adult"]


def test_binary_task_and_all_split(icbhi_root):
    ds = ICBHI(icbhi_root, "all", task="binary", mel=SMALL_MEL)
    assert ds.classes == ("normal", "abnormal")
    assert ds.metadata["label"].tolist() == ["normal", "abnormal", "abnormal", "abnormal", "normal", "abnormal"]
    assert ds.metadata["label_index"].tolist() == [0, 1, 1, 1, 0, 1]


@pytest.mark.parametrize("crlf,final_newline,kaggle", [(True, True, False), (False, False, False), (False, True, True), (True, False, True)])
def test_file_variants_read_alike(tmp_path, crlf, final_newline, kaggle):
    reference = ICBHI(make_icbhi(tmp_path / "ref"), "all", mel=SMALL_MEL).metadata.drop(columns="path")
    variant = make_icbhi(tmp_path / "v", crlf=crlf, final_newline=final_newline, kaggle=kaggle)
    meta = ICBHI(variant, "all", mel=SMALL_MEL).metadata.drop(columns="path")
    assert meta.equals(reference)


def test_missing_age_is_none_and_noted(icbhi_root):
    ds = ICBHI(icbhi_root, "train", mel=SMALL_MEL)
    item = ds[3]
    assert item["patient"] == "103" and item["age"] is None and item["age_group"] is None and item["sex"] is None
    assert ds.report.counts()["notes"]["patient without age"] == 1


def test_cycle_end_past_audio_is_clipped_and_counted(icbhi_root):
    ds = ICBHI(icbhi_root, "train", mel=SMALL_MEL)
    row = ds.metadata.iloc[3]
    assert row["clipped"] and row["end"] == pytest.approx(2.0)
    assert ds.report.counts()["fixups"] == {"cycle end clipped to the audio": 1}


def test_cycle_starting_after_audio_is_skipped_or_error(icbhi_root):
    write_text(icbhi_root / "103_2b1_Pl_sc_Litt3200.txt", ["0.0\t1.5\t0\t0", "2.5\t3.0\t0\t1"])
    ds = ICBHI(icbhi_root, "train", mel=SMALL_MEL)
    assert len(ds) == 3 and ds.report.counts()["skips"] == {"cycle starts after the audio ends": 1}
    with pytest.raises(DatasetError, match="103_2b1_Pl_sc_Litt3200.txt: cycle 2 starts at 2.500"):
        ICBHI(icbhi_root, "train", mel=SMALL_MEL, strict=True)


def test_device_misnamed_split_entry_is_matched_and_reported(tmp_path):
    root = make_icbhi(tmp_path / "zip", split_names={"103_2b1_Pl_sc_Litt3200": "103_2b1_Pl_sc_Meditron"})
    ds = ICBHI(root, "train", mel=SMALL_MEL, strict=True)
    assert len(ds) == 4
    assert ds.metadata["split_name"].iloc[-1] == "103_2b1_Pl_sc_Meditron"
    assert ds.metadata["device"].iloc[-1] == "Litt3200"
    assert [f for f in ds.report.fixups if f[0].startswith("split")] == [("split entry matched by patient/index/location/mode", "103_2b1_Pl_sc_Meditron -> 103_2b1_Pl_sc_Litt3200")]


def test_split_entry_without_recording_and_recording_missing_from_split(icbhi_root):
    split = icbhi_root / "ICBHI_challenge_train_test.txt"
    write_text(split, ["101_1b1_Al_sc_Meditron\ttrain", "102_1b1_Ar_mc_AKGC417L\ttest", "150_1b2_Tc_mc_AKGC417L\ttrain"])
    ds = ICBHI(icbhi_root, "all", mel=SMALL_MEL)
    assert len(ds) == 4
    assert ds.report.counts()["skips"] == {"split entry without recording": 1, "recording missing from split file": 1}
    assert any("103_2b1_Pl_sc_Litt3200.txt" in d for _, d in ds.report.skips)
    with pytest.raises(DatasetError, match="150_1b2_Tc_mc_AKGC417L"):
        ICBHI(icbhi_root, "all", mel=SMALL_MEL, strict=True)


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage-not-a-wave-file"])
def test_corrupt_or_empty_wav(icbhi_root, content):
    wav = icbhi_root / "102_1b1_Ar_mc_AKGC417L.wav"
    wav.write_bytes(content)
    ds = ICBHI(icbhi_root, "all", mel=SMALL_MEL)
    assert len(ds) == 4 and ds.report.counts()["skips"] == {"unreadable audio": 1}
    with pytest.raises(DatasetError, match="102_1b1_Ar_mc_AKGC417L.wav"):
        ICBHI(icbhi_root, "all", mel=SMALL_MEL, strict=True)


def test_zero_sample_wav_is_an_error_when_strict(icbhi_root):
    write_wav(icbhi_root / "102_1b1_Ar_mc_AKGC417L.wav", 0.0)
    with pytest.raises(DatasetError, match="102_1b1_Ar_mc_AKGC417L.wav.*empty"):
        ICBHI(icbhi_root, "test", mel=SMALL_MEL, strict=True)


@pytest.mark.parametrize("line,problem", [("0.1\t0.9\t2\t0", "unknown label"), ("0.1\t0.9\t0", "expected 'start end"),
                                          ("0.9\t0.1\t0\t0", "bad cycle times"), ("a\t0.9\t0\t0", "not numbers")])
def test_bad_annotation_lines(icbhi_root, line, problem):
    write_text(icbhi_root / "101_1b1_Al_sc_Meditron.txt", ["0.0\t0.1\t0\t0", line])
    with pytest.raises(DatasetError, match=f"101_1b1_Al_sc_Meditron.txt:2: .*{problem}"):
        ICBHI(icbhi_root, "train", mel=SMALL_MEL)


def test_bad_demographic_and_split_lines(icbhi_root):
    write_text(icbhi_root / "ICBHI_Challenge_demographic_information.txt", ["101\tthree\tF"])
    with pytest.raises(DatasetError, match="demographic_information.txt:1: age 'three'"):
        ICBHI(icbhi_root, mel=SMALL_MEL)
    write_text(icbhi_root / "ICBHI_challenge_train_test.txt", ["101_1b1_Al_sc_Meditron\tvalidation"])
    with pytest.raises(DatasetError, match="train_test.txt:1: expected"):
        ICBHI(icbhi_root, mel=SMALL_MEL)


def test_kaggle_archive_without_split_file(tmp_path):
    archive = tmp_path / "archive"
    files = make_icbhi(archive / "Respiratory_Sound_Database" / "Respiratory_Sound_Database" / "audio_and_txt_files", kaggle=True)
    (files / "ICBHI_challenge_train_test.txt").unlink()
    (files / "demographic_info.txt").rename(archive / "demographic_info.txt")
    ds = ICBHI(archive, "all", mel=SMALL_MEL, strict=True)
    assert len(ds) == 6 and set(ds.metadata["split"]) == {"unknown"} and ds.metadata["age"].iloc[0] == 3.0
    assert ds.report.counts()["notes"]["no split file"] == 1
    with pytest.raises(DatasetError, match="missing split file"):
        ICBHI(archive, "train", mel=SMALL_MEL)


def test_not_a_dataset_lists_missing_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="missing split file .*demographic file.*annotation files.*recordings"):
        ICBHI(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        ICBHI(tmp_path, "validation")


def test_features_match_items(icbhi_root):
    ds = ICBHI(icbhi_root, "all", mel=SMALL_MEL)
    fs = ds.features(batch_size=3)
    assert fs.x.shape == (6, 1, *SMALL_MEL.shape) and fs.classes == ds.classes
    assert fs.y.tolist() == ds.metadata["label_index"].tolist()
    assert "path" not in fs.meta and fs.meta["patient"].tolist() == ds.metadata["patient"].tolist()
    for i in (0, 3, 5):
        assert torch.allclose(fs.x[i], ds[i]["logmel"], atol=1e-4)
    assert math.isnan(fs.meta["age"].iloc[4])  # patient 103: age unknown
    assert np.isfinite(fs.x.numpy()).all()


def test_waveform_is_the_cycle_at_the_target_rate(icbhi_root):
    ds = ICBHI(icbhi_root, "test", mel=SMALL_MEL)  # 102 is recorded at 4 kHz = SMALL_MEL's rate
    import soundfile as sf

    audio, sr = sf.read(str(icbhi_root / "102_1b1_Ar_mc_AKGC417L.wav"), dtype="float32")
    item = ds[1]  # 1.2 .. 2.5 s: longer than the 1 s cycle, so cropped from its start
    assert torch.allclose(item["waveform"], torch.from_numpy(audio[int(1.2 * sr):int(1.2 * sr) + sr]))
    assert torch.allclose(log_mel(item["waveform"][None], SMALL_MEL)[0], item["logmel"])
