"""SPRSound (SJTU Paediatric Respiratory Sound database): events or whole records, as released.

2022 layout: ``train_wav/``, ``train_json/``, ``test_wav/``, ``test_json/inter_test_json/``,
``test_json/intra_test_json/``. Later test sets come as ``{name}_json/`` (+ ``{name}_wav/``), e.g.
``split="test2024"``. JSON times are strings of milliseconds; events are not in time order; 2024/2025
files have no ``record_annotation``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..features import MelConfig
from .audio import audio_info
from .base import age_group
from .report import DatasetError
from .segments import SegmentDataset

EVENT_TYPES = ("Normal", "Rhonchi", "Wheeze", "Stridor", "Coarse Crackle", "Fine Crackle", "Wheeze+Crackle")
EVENT_SPELLINGS = {"Wheeze & Crackle": "Wheeze+Crackle"}  # README prose spelling -> the files' spelling
RECORD_LABELS = ("Normal", "CAS", "DAS", "CAS & DAS", "Poor Quality")
TASKS = {
    "1-1": ("Normal", "Adventitious"),
    "1-2": EVENT_TYPES,
    "2-1": ("Normal", "Adventitious", "Poor Quality"),
    "2-2": RECORD_LABELS,
}
FOLDERS_2022 = {  # each split of the 2022 release: (json folder, wav folder)
    "train": ("train_json", "train_wav"),
    "inter": ("test_json/inter_test_json", "test_wav"),
    "intra": ("test_json/intra_test_json", "test_wav"),
}
SPLITS_2022 = {s: [(s, j, w)] for s, (j, w) in FOLDERS_2022.items()}  # split -> [(split, json, wav)]
SPLITS_2022["test"] = SPLITS_2022["inter"] + SPLITS_2022["intra"]
SPLITS_2022["all"] = SPLITS_2022["train"] + SPLITS_2022["test"]
STEM = re.compile(r"^(?P<patient>\d+)_(?P<age>\d+(?:\.\d+)?)_(?P<sex>[01])_(?P<location>p\d+)_(?P<index>\d+)$")


def parse_stem(stem: str) -> dict[str, str] | None:
    """``65011890_3.9_0_p1_2181`` -> {patient, age, sex (the file's 0/1 code), location, index}."""
    m = STEM.match(stem)
    return m.groupdict() if m else None


def read_annotation(path: Path) -> tuple[str | None, np.ndarray, list[str], bool]:
    """One JSON file.

    Returns:
        (record label or None when the file has none, (n, 2) event start/end in seconds sorted by start,
        event types in that order with the files' spelling, whether the file had them out of order).
    Raises:
        DatasetError: unreadable JSON, missing keys, non-numeric times, end <= start, unknown labels.
    """
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("event_annotation"), list):
        raise DatasetError(f"{path}: expected an object with an 'event_annotation' list")
    record = data.get("record_annotation")
    if record is not None and record not in RECORD_LABELS:
        raise DatasetError(f"{path}: unknown record label {record!r} (expected one of {RECORD_LABELS})")
    times, types = [], []
    for i, event in enumerate(data["event_annotation"]):
        if not isinstance(event, dict) or not {"start", "end", "type"} <= set(event):
            raise DatasetError(f"{path}: event {i} lacks start, end or type: {event!r}")
        try:
            start, end = float(event["start"]) / 1000.0, float(event["end"]) / 1000.0
        except (TypeError, ValueError):
            raise DatasetError(f"{path}: event {i} times {event['start']!r}, {event['end']!r} are not milliseconds") from None
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
            raise DatasetError(f"{path}: event {i} has bad times start={event['start']} end={event['end']} ms")
        kind = EVENT_SPELLINGS.get(event["type"], event["type"])
        if kind not in EVENT_TYPES:
            raise DatasetError(f"{path}: event {i} has unknown type {event['type']!r} (expected one of {EVENT_TYPES})")
        times.append((start, end))
        types.append(kind)
    times_arr = np.asarray(times, dtype=np.float64).reshape(-1, 2)
    order = np.argsort(times_arr[:, 0], kind="stable")
    unsorted = bool((order != np.arange(len(order))).any())
    return record, times_arr[order], [types[i] for i in order], unsorted


def _label(task: str, record: str | None, event: str | None) -> str:
    if task == "1-1":
        return "Normal" if event == "Normal" else "Adventitious"
    if task == "1-2":
        return event
    if task == "2-1":
        return record if record in ("Normal", "Poor Quality") else "Adventitious"
    return record


class SPRSound(SegmentDataset):
    """SPRSound items: one per event (tasks 1-1, 1-2, cut from the recording) or one per recording
    (tasks 2-1, 2-2, cropped or padded to ``mel.cycle_seconds``).

    Each item: label (spelled as in the files), label_index, event_type, record_label (None in releases
    without it), patient (str, leading zeros kept), age (years, from the name), age_group, sex (the
    name's 0/1 code, as a string), location (p1, p2, ...), recording, split, event, start, end (s),
    waveform (mel.cycle_samples,) and, when ``return_logmel``, logmel (1, n_mels, n_frames).

    Example: ``SPRSound("SPRSound", "2-2", "train").counts["Poor Quality"] == 177``
    """

    name = "sprsound"

    def __init__(
        self,
        root: str | Path,
        task: str = "1-1",
        split: str = "train",
        *,
        mel: MelConfig = MelConfig(),
        strict: bool = False,
        return_logmel: bool = True,
    ):
        if task not in TASKS:
            raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
        super().__init__(root, split, task, mel, strict, return_logmel)
        self.classes = TASKS[task]
        self.event_level = task.startswith("1-")
        self.metadata = self._build()

    def _folders(self) -> list[tuple[str, Path, Path]]:
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a folder")
        if self.split in SPLITS_2022:
            parts = SPLITS_2022[self.split]
        elif (self.root / f"{self.split}_json").is_dir():
            parts = [(self.split, f"{self.split}_json", f"{self.split}_wav")]
        else:
            raise ValueError(f"split must be one of {tuple(SPLITS_2022)} or a later test set with a "
                             f"'{{name}}_json' folder under {self.root}, got {self.split!r}")
        missing = sorted({d for _, j, w in parts for d in (j, w) if not (self.root / d).is_dir()})
        if missing:
            raise DatasetError(f"{self.root} is not an SPRSound release for split {self.split!r}: missing folders {missing}")
        return [(name, self.root / j, self.root / w) for name, j, w in parts]

    def _build(self) -> pd.DataFrame:
        rows: list[dict] = []
        folders = self._folders()
        for split, json_dir, wav_dir in folders:
            if not any(json_dir.glob("*.json")):
                raise DatasetError(f"{json_dir}: no annotation files (*.json)")
            for path in sorted(json_dir.glob("*.json")):
                rows.extend(self._recording(split, path, wav_dir / f"{path.stem}.wav"))
        for wav_dir in dict.fromkeys(w for _, _, w in folders):
            self._orphan_wavs(wav_dir, [j for _, j, w in folders if w == wav_dir])
        columns = ["path", "recording", "split", "event", "start", "end", "clipped", "label", "label_index",
                   "event_type", "record_label", "patient", "age", "age_group", "sex", "location",
                   "record_index", "sample_rate"]
        return pd.DataFrame(rows, columns=columns)

    def _orphan_wavs(self, wav_dir: Path, json_dirs: list[Path]) -> None:
        """Skip-report recordings with no annotation in any json folder that shares ``wav_dir``."""
        shared = [self.root / j for _, j, w in SPLITS_2022["all"] if self.root / w == wav_dir]
        stems = {p.stem for d in {*json_dirs, *shared} if d.is_dir() for p in d.glob("*.json")}
        for wav in sorted(wav_dir.glob("*.wav")):
            if wav.stem not in stems:
                self.report.skip("recording without annotation", f"{wav}: no {wav.stem}.json beside it")

    def _recording(self, split: str, path: Path, wav: Path) -> list[dict]:
        info = parse_stem(path.stem)
        if info is None:
            self.report.skip("unexpected file name", f"{path}: not patient_age_sex_location_index.json")
            return []
        record, times, types, unsorted = read_annotation(path)
        if not self.event_level and record is None:
            raise DatasetError(f"{path}: no 'record_annotation' (2024/2025 releases label events only); "
                               f"task {self.task} needs record labels: use task 1-1 or 1-2 on this release")
        self._files.append(path)
        if not wav.is_file():
            self.report.skip("annotation without audio", f"{path}: no {wav}")
            return []
        try:
            n_frames, sr = audio_info(wav)
        except DatasetError as err:
            self.report.skip("unreadable audio", str(err))
            return []
        self._files.append(wav)
        duration = n_frames / sr
        if unsorted and self.event_level:
            self.report.fix("events sorted by start time", f"{path}")
        age = float(info["age"])
        base = {"path": str(wav), "recording": path.stem, "split": split, "record_label": record,
                "patient": info["patient"], "age": age, "age_group": age_group(age), "sex": info["sex"],
                "location": info["location"], "record_index": info["index"], "sample_rate": sr}
        if not self.event_level:
            label = _label(self.task, record, None)
            return [{**base, "event": -1, "start": 0.0, "end": duration, "clipped": False, "label": label,
                     "label_index": self.classes.index(label), "event_type": None}]
        rows = []
        for i, ((start, end), kind) in enumerate(zip(times, types)):
            if start >= duration:
                self.report.skip("event starts after the audio ends",
                                 f"{path}: event {i} starts at {start:.3f} s, audio lasts {duration:.3f} s")
                continue
            clipped = end > duration
            if clipped:
                self.report.fix("event end clipped to the audio", f"{path}: event {i} ends at {end:.3f} s, audio lasts {duration:.3f} s")
            label = _label(self.task, record, kind)
            rows.append({**base, "event": i, "start": start, "end": min(end, duration), "clipped": clipped,
                         "label": label, "label_index": self.classes.index(label), "event_type": kind})
        return rows
