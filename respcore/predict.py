"""Apply an exported model to a recording: classes and probabilities per cycle, event or window.

    python -m respcore.predict RECORDING.wav --model FOLDER [--annotation FILE] [--out DIR] [--plot]

The recording may have any sample rate and channel count: it is mixed down to mono and resampled to the
model's rate (and the output says so). With ``--annotation`` (an ICBHI ``.txt`` of cycles or a SPRSound
``.json`` of events) each annotated segment is one input; without one, a model of cycles or events reads
windows of its cycle length, half a window apart, and a model of whole recordings reads the recording.
Each input is cut and padded exactly as in training. Writes ``<stem>.predictions.csv`` and ``.json`` into
``--out`` (default: the current folder) and, with ``--plot``, ``<stem>.predictions.png``: the log-Mel of
the recording with the model's kept bands and the model's band importance for this recording.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure  # drawn straight into a file: no pyplot, no display backend

from .attribution import band_attributions
from .datasets.audio import audio_channels, read_audio, resample
from .datasets.base import FeatureSet
from .datasets.cycles import cut, fit_cycles
from .datasets.icbhi_files import read_cycles
from .datasets.report import DatasetError
from .datasets.sprsound import read_annotation
from .export import LoadedModel, load_model
from .features import log_mel, select_bands
from .fileio import write_json

TOLERANCE_S = 0.05  # an annotation may end this much after the audio (rounding of its times)


@dataclass
class Prediction:
    """Per-segment classes and probabilities of one recording (``table``), and what was done to read it."""

    recording: Path
    table: pd.DataFrame  # segment, start_s, end_s, predicted, p_<class>...
    notes: list[str] = field(default_factory=list)
    wave: torch.Tensor | None = None  # (L,) mono at the model's rate
    inputs: torch.Tensor | None = None  # (B, cycle_samples): what the model read


def read_recording(path: str | Path, sample_rate: int) -> tuple[torch.Tensor, list[str]]:
    """The recording as (L,) mono float32 at ``sample_rate``, and notes on the conversion made.

    Raises:
        DatasetError: naming the file, when it is missing, not audio, empty or not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such recording")
    channels = audio_channels(path)
    wave, sr = read_audio(path)  # (L,), channels averaged
    notes = []
    if channels > 1:
        notes.append(f"mixed down from {channels} channels to mono")
    if sr != sample_rate:
        notes.append(f"resampled from {sr} Hz to the model's {sample_rate} Hz")
    return resample(torch.from_numpy(wave), sr, sample_rate), notes


def annotated_segments(annotation: str | Path, duration: float, recording: Path) -> np.ndarray:
    """(n, 2) start and end seconds of the cycles (ICBHI ``.txt``) or events (SPRSound ``.json``).

    Raises:
        DatasetError: an unknown annotation format, no segment, or a segment past the recording's end.
    """
    annotation = Path(annotation)
    if not annotation.is_file():
        raise DatasetError(f"{annotation}: no such annotation file")
    if annotation.suffix.lower() == ".txt":
        times = read_cycles(annotation)[:, :2]
    elif annotation.suffix.lower() == ".json":
        times = read_annotation(annotation)[1]
    else:
        raise DatasetError(f"{annotation}: unknown annotation format (an ICBHI .txt of cycles or a SPRSound "
                           ".json of events)")
    if len(times) == 0:
        raise DatasetError(f"{annotation}: holds no cycle or event to classify")
    late = times[times[:, 1] > duration + TOLERANCE_S]
    if len(late):
        raise DatasetError(f"{annotation} does not match {recording}: a segment ends at {late[0, 1]:.2f} s but "
                           f"the recording lasts {duration:.2f} s")
    return times


def windows(duration: float, length: float) -> np.ndarray:
    """(n, 2) windows of ``length`` seconds, half a window apart, the last one ending at ``duration``;
    one window of the whole recording when it is shorter than ``length``."""
    if duration <= length:
        return np.array([[0.0, duration]])
    starts = list(np.arange(0.0, duration - length + 1e-9, length / 2))
    if starts[-1] + length < duration - 1e-6:
        starts.append(duration - length)
    return np.array([[s, s + length] for s in starts])


def predict(recording: str | Path, model: LoadedModel, annotation: str | Path | None = None) -> Prediction:
    """Classes and probabilities of every segment of ``recording`` (see the module docstring).

    Raises:
        DatasetError: a recording that is not audio, empty, shorter than the model's window, or an
            annotation that does not match it (each naming the file).
    """
    recording = Path(recording)
    mel = model.mel
    wave, notes = read_recording(recording, mel.sample_rate)
    duration = wave.shape[-1] / mel.sample_rate
    if wave.shape[-1] < mel.n_fft:
        raise DatasetError(f"{recording}: {1000 * duration:.1f} ms of audio is shorter than the model's "
                           f"{1000 * mel.n_fft / mel.sample_rate:.0f} ms analysis window")
    if annotation is not None:
        times = annotated_segments(annotation, duration, recording)
        notes.append(f"{len(times)} segments from {Path(annotation).name}")
    elif model.segments == "recording":
        times = np.array([[0.0, duration]])
    else:
        times = windows(duration, mel.cycle_seconds)
        notes.append(f"no annotation: {len(times)} windows of {mel.cycle_seconds:g} s, half a window apart")
    if model.segments == "recording" and annotation is None:  # scored whole, in one pass, as in training
        inputs = wave[None]  # (1, L)
        notes.append(f"a model of whole recordings: the {duration:.1f} s read in one pass")
    else:
        inputs = fit_cycles([cut(wave, mel.sample_rate, a, b) for a, b in times], mel)  # (B, cycle_samples)
    probs = model.probabilities(inputs).numpy()  # (B, C)
    table = pd.DataFrame({"segment": np.arange(len(times)), "start_s": times[:, 0].round(3),
                          "end_s": times[:, 1].round(3),
                          "predicted": [model.classes[i] for i in probs.argmax(1)]})
    for c, name in enumerate(model.classes):
        table[f"p_{name}"] = probs[:, c].round(4)
    return Prediction(recording=recording, table=table, notes=notes, wave=wave, inputs=inputs)


def band_importance(prediction: Prediction, model: LoadedModel) -> np.ndarray:
    """(kept bands,) Integrated-Gradients importance of each kept band for this recording, each segment
    attributed to its predicted class (rows sum to 1)."""
    x = select_bands(log_mel(prediction.inputs, model.mel), model.kept_bands)  # (B, 1, F_kept, T)
    y = torch.as_tensor([model.classes.index(c) for c in prediction.table["predicted"]])
    meta = pd.DataFrame({"patient": "?", "recording": prediction.recording.name, "label": prediction.table["predicted"]})
    data = FeatureSet(x=x, y=y, classes=model.classes, meta=meta, mel=model.mel, bands=model.kept_bands)
    return band_attributions(model.model, data, "ig", per_class=False, ig_steps=8)[0].numpy()


def plot(prediction: Prediction, model: LoadedModel, path: Path) -> Path:
    """PNG: the recording's log-Mel with the kept bands marked and segments drawn, beside the model's
    band importance for this recording."""
    mel = model.mel
    spec = log_mel(prediction.wave[None], mel)[0, 0].numpy()  # (n_mels, frames)
    importance = np.full(mel.n_mels, np.nan)
    importance[list(model.kept_bands)] = band_importance(prediction, model)
    fig = Figure(figsize=(12, 4))
    ax, side = fig.subplots(1, 2, gridspec_kw={"width_ratios": [5, 1]}, sharey=True)
    seconds = prediction.wave.shape[-1] / mel.sample_rate
    ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, -0.5, mel.n_mels - 0.5))
    dropped = sorted(set(range(mel.n_mels)) - set(model.kept_bands))
    for b in dropped:  # the bands the model never reads are greyed out
        ax.axhspan(b - 0.5, b + 0.5, color="white", alpha=0.55, lw=0)
    for _, row in prediction.table.iterrows():
        ax.axvline(row["start_s"], color="cyan", lw=0.6, alpha=0.7)
        ax.text(row["start_s"], mel.n_mels - 2, row["predicted"], color="cyan", fontsize=7, va="top")
    ax.set(xlabel="time (s)", ylabel="Mel band", title=f"{prediction.recording.name}: log-Mel, "
           f"{len(model.kept_bands)} of {mel.n_mels} bands kept (dropped bands greyed)")
    side.barh(np.arange(mel.n_mels), importance, color="tab:green")
    side.set(xlabel="importance", title="bands used here")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write(prediction: Prediction, model_folder: Path, out: Path) -> tuple[Path, Path]:
    """``<stem>.predictions.csv`` and ``.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    stem = prediction.recording.stem
    csv = out / f"{stem}.predictions.csv"
    prediction.table.to_csv(csv, index=False)
    js = write_json(out / f"{stem}.predictions.json", {
        "recording": str(prediction.recording), "model": str(model_folder), "notes": prediction.notes,
        "segments": prediction.table.to_dict("records")})
    return csv, js


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m respcore.predict", description=__doc__.splitlines()[0])
    ap.add_argument("recording", type=Path)
    ap.add_argument("--model", type=Path, required=True, help="a folder written by respcore.export.export_model")
    ap.add_argument("--annotation", type=Path, help="ICBHI .txt of cycles or SPRSound .json of events")
    ap.add_argument("--out", type=Path, default=Path("."), help="where the CSV, JSON (and PNG) go")
    ap.add_argument("--plot", action="store_true", help="also draw the log-Mel, kept bands and band importance")
    args = ap.parse_args(argv)
    try:
        model = load_model(args.model)
        prediction = predict(args.recording, model, args.annotation)
        files = write(prediction, args.model, args.out)
        if args.plot:
            files += (plot(prediction, model, args.out / f"{args.recording.stem}.predictions.png"),)
    except (DatasetError, FileNotFoundError, ValueError) as err:
        print(f"predict failed: {err}", file=sys.stderr)
        return 1
    print(f"{args.recording}: model {args.model.name} ({model.task}, {', '.join(model.classes)})")
    for note in prediction.notes:
        print(f"  {note}")
    print(prediction.table.to_string(index=False))
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
