"""A trained model a user can apply: train a smoke model on the real SPRSound miniature, export it, load it,
predict on a real recording (with its events, and in windows), draw it; every bad input gets its error."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import respcore
from respcore.datasets import SPRSound
from respcore.export import export_model
from respcore.features import MelConfig
from respcore.predict import main, predict, windows
from respcore.train import TrainConfig, fit

REAL = os.environ.get("RESPCORE_REALDATA")
MINI = Path(REAL or "/nonexistent") / "sprsound" / "sample"
pytestmark = pytest.mark.skipif(not MINI.is_dir(), reason="RESPCORE_REALDATA is unset: no real SPRSound miniature")
MEL = MelConfig(cycle_seconds=2.0)
RECORDING = "41267028_0.2_0_p3_2476"  # a real training recording of the miniature, with events


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """A 64-band and a 32-band smoke model of task 1-2, trained on the miniature and exported."""
    root = tmp_path_factory.mktemp("models")
    data = SPRSound(MINI, task="1-2", split="train", mel=MEL).features()
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=1, batch_size=16, device="cpu", num_threads=1)
    out = {}
    for name, bands in (("all", None), ("fbs", tuple(range(0, 64, 2)))):
        result = fit(data, None, replace(config, bands=bands), root=root / "runs", progress=False)
        out[name] = export_model(result, root / name, mel=MEL, classes=data.classes, task="1-2",
                                 segments="events", dataset="sprsound")
    return out


def test_export_load_and_predict_on_a_real_recording(exported, tmp_path: Path) -> None:
    model = respcore.load_model(exported["fbs"])
    assert model.kept_bands == tuple(range(0, 64, 2)) and model.task == "1-2" and model.mel == MEL
    wav, events = MINI / "train_wav" / f"{RECORDING}.wav", MINI / "train_json" / f"{RECORDING}.json"
    n_events = len(json.loads(events.read_text())["event_annotation"])
    with_events = predict(wav, model, events)
    assert len(with_events.table) == n_events
    probs = with_events.table[[f"p_{c}" for c in model.classes]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-3) and set(with_events.table["predicted"]) <= set(model.classes)
    assert any("resampled from 8000 Hz" in n for n in with_events.notes)
    seconds = sf.info(str(wav)).duration
    in_windows = predict(wav, model)
    assert len(in_windows.table) == len(windows(seconds, 2.0)) and in_windows.table["end_s"].max() == pytest.approx(seconds, abs=1e-3)
    rc = main([str(wav), "--model", str(exported["all"]), "--annotation", str(events), "--out", str(tmp_path),
               "--plot"])
    assert rc == 0
    for suffix in ("csv", "json", "png"):
        assert (tmp_path / f"{RECORDING}.predictions.{suffix}").stat().st_size > 0
    saved = json.loads((tmp_path / f"{RECORDING}.predictions.json").read_text())
    assert len(saved["segments"]) == n_events and saved["model"] == str(exported["all"])


def test_windows_cover_the_recording() -> None:
    assert windows(1.0, 2.0).tolist() == [[0.0, 1.0]]
    w = windows(5.0, 2.0)
    assert w[0].tolist() == [0.0, 2.0] and w[-1].tolist() == [3.0, 5.0] and np.allclose(np.diff(w[:, 0])[:-1], 1.0)


def test_any_rate_and_channel_count_is_accepted_and_said(exported, tmp_path: Path) -> None:
    model = respcore.load_model(exported["all"])
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.random.default_rng(0).normal(0, 0.1, (44_100 * 3, 2)).astype(np.float32), 44_100)
    out = predict(stereo, model)
    assert "mixed down from 2 channels to mono" in out.notes
    assert "resampled from 44100 Hz to the model's 16000 Hz" in out.notes and len(out.table) == len(windows(3.0, 2.0))


@pytest.mark.parametrize("case, message", [
    ("not_audio", "cannot read audio header"), ("empty", "empty"), ("short", "shorter than the model's 64 ms"),
    ("late_event", "does not match"), ("missing", "no such recording"), ("bad_annotation", "unknown annotation format"),
])
def test_bad_input_gets_a_clear_error_naming_the_file(exported, tmp_path: Path, capsys, case, message) -> None:
    wav = tmp_path / f"{case}.wav"
    args = []
    if case == "not_audio":
        wav.write_text("this is a text file, not a recording")
    elif case == "empty":
        sf.write(wav, np.zeros(0, dtype=np.float32), 8000)
    elif case == "short":
        sf.write(wav, np.zeros(80, dtype=np.float32), 8000)  # 10 ms
    elif case in ("late_event", "bad_annotation"):
        sf.write(wav, np.zeros(8000, dtype=np.float32), 8000)  # 1 s
        note = tmp_path / ("late.json" if case == "late_event" else "notes.csv")
        note.write_text(json.dumps({"record_annotation": "CAS", "event_annotation": [
            {"start": "200", "end": "3500", "type": "Wheeze"}]}))
        args = ["--annotation", str(note)]
    rc = main([str(wav), "--model", str(exported["all"]), "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    named = "notes.csv" if case == "bad_annotation" else wav.name
    assert rc == 1 and message in err and named in err, err
    assert not (tmp_path / "out").exists(), "nothing is written for a bad input"


def test_loading_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model.json is missing"):
        respcore.load_model(tmp_path)


def test_a_record_level_model_reads_the_whole_recording_in_one_pass(tmp_path: Path) -> None:
    data = SPRSound(MINI, task="2-2", split="train", mel=MEL).features(whole=True)
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=1, batch_size=4, device="cpu", num_threads=1,
                         crop_frames=MEL.n_frames)
    result = fit(data, None, config, root=tmp_path / "runs", progress=False)
    folder = export_model(result, tmp_path / "record", mel=MEL, classes=data.classes, task="2-2",
                          segments="recording", dataset="sprsound")
    model = respcore.load_model(folder)
    wav = MINI / "train_wav" / f"{RECORDING}.wav"
    seconds = sf.info(str(wav)).duration
    out = predict(wav, model)
    assert len(out.table) == 1 and out.table["end_s"].iloc[0] == pytest.approx(seconds, abs=1e-3)
    assert out.inputs.shape[-1] == pytest.approx(seconds * MEL.sample_rate, abs=2), "not cut to the 2 s cycle"
    assert any("one pass" in n for n in out.notes)
    probs = out.table[[f"p_{c}" for c in model.classes]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-3)
    assert main([str(wav), "--model", str(folder), "--out", str(tmp_path / "out"), "--plot"]) == 0
    assert (tmp_path / "out" / f"{RECORDING}.predictions.png").stat().st_size > 0
