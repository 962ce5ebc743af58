"""SPRSound loader on release-format fixtures: tasks, labels, name fields, and bad-input cases."""
from __future__ import annotations

import pytest
import torch

from conftest import SMALL_MEL, write_spr_json, write_wav
from respcore.datasets import DatasetError, SPRSound
from respcore.datasets.sprsound import parse_stem


def test_name_fields():
    assert parse_stem("00012345_8.4_1_p1_1884") == {"patient": "00012345", "age": "8.4", "sex": "1", "location": "p1", "index": "1884"}
    assert parse_stem("65039232_6.4_1_p1") is None


def test_event_task_fields_sorted_and_spelled_as_files(spr_root):
    ds = SPRSound(spr_root, "1-2", "train", mel=SMALL_MEL)
    meta = ds.metadata
    assert len(ds) == 5  # the Poor Quality record has no events
    first = meta[meta.recording == "41267028_0.2_0_p3_2476"]
    assert first["event_type"].tolist() == ["Fine Crackle", "Stridor", "Normal"]  # sorted by start
    assert first["start"].tolist() == [0.2, 1.5, 2.2] and first["end"].tolist() == [0.9, 2.1, 2.9]
    assert ds.counts["Wheeze+Crackle"] == 1  # "Wheeze & Crackle" read as the files' spelling
    item = ds[0]
    assert (item["patient"], item["age"], item["age_group"], item["sex"], item["location"]) == ("00012345", 8.4, "pediatric", "1", "p1")
    assert (item["label"], item["record_label"], item["sample_rate"]) == ("Normal", "CAS & DAS", 8000)
    assert item["waveform"].shape == (SMALL_MEL.cycle_samples,) and torch.isfinite(item["logmel"]).all()
    assert ds.report.counts()["fixups"]["events sorted by start time"] == 1


def test_binary_event_task(spr_root):
    ds = SPRSound(spr_root, "1-1", "train", mel=SMALL_MEL)
    assert ds.classes == ("Normal", "Adventitious")
    assert ds.counts == {"Normal": 2, "Adventitious": 3}


def test_record_tasks(spr_root):
    ds = SPRSound(spr_root, "2-2", "all", mel=SMALL_MEL)
    assert len(ds) == 5 and ds.counts == {"Normal": 0, "CAS": 2, "DAS": 0, "CAS & DAS": 2, "Poor Quality": 1}
    poor = ds.metadata[ds.metadata.label == "Poor Quality"].iloc[0]
    assert poor["start"] == 0.0 and poor["end"] == pytest.approx(0.304)
    three = SPRSound(spr_root, "2-1", "test", mel=SMALL_MEL)
    assert three.counts == {"Normal": 0, "Adventitious": 2, "Poor Quality": 0}
    assert sorted(three.metadata["split"]) == ["inter", "intra"]
    fs = ds.features()
    assert fs.x.shape == (5, 1, *SMALL_MEL.shape) and torch.isfinite(fs.x).all()


def test_later_release_without_record_labels(spr_root):
    events = SPRSound(spr_root, "1-2", "test2024", mel=SMALL_MEL)
    assert len(events) == 1 and events[0]["record_label"] is None and events[0]["location"] == "p5"
    with pytest.raises(DatasetError, match="00016281_3.7_1_p5_11865.json: no 'record_annotation'.*use task 1-1 or 1-2"):
        SPRSound(spr_root, "2-2", "test2024", mel=SMALL_MEL)


def test_event_past_audio_clipped_and_after_audio_skipped(spr_root):
    json_path = spr_root / "test_json/inter_test_json/40512331_8.1_1_p1_3548.json"
    write_spr_json(json_path, [(100, 800, "Normal"), (1500, 2400, "Wheeze"), (2100, 2500, "Normal")], "CAS")
    ds = SPRSound(spr_root, "1-2", "inter", mel=SMALL_MEL)
    assert len(ds) == 2 and ds.metadata["end"].tolist() == [0.8, 2.0]
    assert ds.report.counts()["fixups"] == {"event end clipped to the audio": 1}
    assert ds.report.counts()["skips"] == {"event starts after the audio ends": 1}
    with pytest.raises(DatasetError, match="40512331_8.1_1_p1_3548.json: event 2 starts at 2.100 s"):
        SPRSound(spr_root, "1-2", "inter", mel=SMALL_MEL, strict=True)


def test_missing_and_corrupt_audio(spr_root):
    (spr_root / "train_wav/00012345_8.4_1_p1_1884.wav").unlink()
    (spr_root / "train_wav/65039232_6.4_1_p1_373.wav").write_bytes(b"not audio")
    write_wav(spr_root / "train_wav/99999999_5.0_0_p2_1.wav", 1.0, 8000)  # no annotation
    ds = SPRSound(spr_root, "2-2", "train", mel=SMALL_MEL)
    assert len(ds) == 1
    assert ds.report.counts()["skips"] == {"annotation without audio": 1, "unreadable audio": 1, "recording without annotation": 1}
    with pytest.raises(DatasetError, match="00012345_8.4_1_p1_1884"):
        SPRSound(spr_root, "2-2", "train", mel=SMALL_MEL, strict=True)


@pytest.mark.parametrize("content,problem", [
    ('{"record_annotation": "Normal", "event_annotation": [{"start": "1", "end": "9", "type": "Squeak"}]}', "unknown type 'Squeak'"),
    ('{"record_annotation": "Great", "event_annotation": []}', "unknown record label 'Great'"),
    ('{"record_annotation": "Normal", "event_annotation": [{"start": "x", "end": "9", "type": "Normal"}]}', "not milliseconds"),
    ('{"record_annotation": "Normal", "event_annotation": [{"start": "900", "end": "100", "type": "Normal"}]}', "bad times"),
    ('{"record_annotation": "Normal"', "not valid JSON"),
    ('{"record_annotation": "Normal"}', "'event_annotation' list"),
])
def test_bad_json(spr_root, content, problem):
    (spr_root / "train_json/00012345_8.4_1_p1_1884.json").write_text(content)
    with pytest.raises(DatasetError, match=f"00012345_8.4_1_p1_1884.json: .*{problem}"):
        SPRSound(spr_root, "2-2", "train", mel=SMALL_MEL)


def test_not_a_release(tmp_path):
    with pytest.raises(DatasetError, match=r"missing folders \['train_json', 'train_wav'\]"):
        SPRSound(tmp_path, "1-1", "train")
    with pytest.raises(ValueError, match="task must be one of"):
        SPRSound(tmp_path, "3-1")
