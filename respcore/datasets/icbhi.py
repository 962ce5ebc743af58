"""ICBHI 2017 Respiratory Sound Database, read as distributed: one item per respiratory cycle."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..features import MelConfig
from .audio import audio_info
from .base import age_group
from .icbhi_files import parse_stem, read_cycles, read_demographics, read_diagnosis, read_split, split_candidates
from .report import DatasetError
from .segments import SegmentDataset

SPLIT_FILES = ("ICBHI_challenge_train_test.txt", "official_split.txt")
DEMOGRAPHIC_FILES = ("ICBHI_Challenge_demographic_information.txt", "demographic_info.txt")
DIAGNOSIS_FILES = ("ICBHI_Challenge_diagnosis.txt", "patient_diagnosis.csv", "patient_diagnosis.txt")
TASKS = {"4class": ("normal", "crackle", "wheeze", "both"), "binary": ("normal", "abnormal")}
SPLITS = ("train", "test", "all")
COLUMNS = ["path", "recording", "split_name", "split", "cycle", "start", "end", "clipped", "label", "label_index",
           "binary", "crackle", "wheeze", "patient", "age", "age_group", "sex", "diagnosis", "location", "mode",
           "device", "sample_rate"]
FOUR_CLASS = np.array(TASKS["4class"])  # indexed by crackle + 2 * wheeze


SEARCH_DEPTH = 3  # the Kaggle archive nests recordings in Respiratory_Sound_Database/*/audio_and_txt_files/


def _below(root: Path, pattern: str) -> list[Path]:
    """Paths matching ``pattern`` in ``root`` and up to SEARCH_DEPTH folders below it, shallowest first."""
    return [p for depth in range(SEARCH_DEPTH + 1) for p in sorted(root.glob("*/" * depth + pattern))]


def find_file(root: Path, names: tuple[str, ...]) -> Path | None:
    """First of ``names`` found in ``root`` or a few folders below it (e.g. ``ICBHI_final_database/``)."""
    for name in names:
        for candidate in _below(root, name):
            if candidate.is_file():
                return candidate
    return None


def recording_files(root: Path, ext: str) -> dict[str, Path]:
    """{stem: path} of recording-named files in ``root`` and a few folders below; a stem twice is an error."""
    found: dict[str, Path] = {}
    for p in _below(root, f"*.{ext}"):
        if parse_stem(p.stem):
            if p.stem in found:
                raise DatasetError(f"{root}: {p.stem}.{ext} found twice ({found[p.stem]}, {p})")
            found[p.stem] = p
    return found


class ICBHI(SegmentDataset):
    """Respiratory cycles of ICBHI 2017, from the official zip or the Kaggle release (either naming).

    Each item: label, label_index, binary (0 normal / 1 abnormal), crackle, wheeze, patient, age (float or
    None), age_group, sex, diagnosis, location, mode, device, recording (file stem), split_name (as the
    split file spells it), cycle, start, end (s, clipped to the audio), waveform (mel.cycle_samples,) at
    mel.sample_rate and, when ``return_logmel``, logmel (1, n_mels, n_frames).

    ``metadata`` is the items' table (audio headers are read, samples are not). ``report`` lists fix-ups
    and skips; ``shared_patients`` the patients in both official splits.

    Example: ``ICBHI("ICBHI_final_database", "train").counts["crackle"] == 1215``
    """

    name = "icbhi"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        task: str = "4class",
        mel: MelConfig = MelConfig(),
        strict: bool = False,
        return_logmel: bool = True,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
        super().__init__(root, split, task, mel, strict, return_logmel)
        self.classes = TASKS[task]
        self.metadata = self._build()

    def _locate(self) -> tuple[Path | None, Path, Path | None, dict[str, Path], dict[str, Path]]:
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: not a folder")
        split_file = find_file(self.root, SPLIT_FILES)
        demo_file = find_file(self.root, DEMOGRAPHIC_FILES)
        diag_file = find_file(self.root, DIAGNOSIS_FILES)
        txts = recording_files(self.root, "txt")
        wavs = recording_files(self.root, "wav")
        missing = []
        if split_file is None and self.split != "all":
            missing.append(f"split file ({' or '.join(SPLIT_FILES)}; only split='all' works without it)")
        if demo_file is None:
            missing.append(f"demographic file ({' or '.join(DEMOGRAPHIC_FILES)})")
        if not txts:
            missing.append("annotation files ({patient}_{index}_{location}_{mode}_{device}.txt)")
        if not wavs:
            missing.append("recordings ({patient}_{index}_{location}_{mode}_{device}.wav)")
        if missing:
            raise DatasetError(f"{self.root} is not an ICBHI 2017 dataset: missing " + "; ".join(missing))
        if diag_file is None:
            self.report.note("no diagnosis file", f"none of {DIAGNOSIS_FILES} under {self.root}: diagnosis left empty")
        return split_file, demo_file, diag_file, txts, wavs

    def _match_split(self, entries: dict[str, str], txts: dict[str, Path]) -> dict[str, tuple[str, str]]:
        """{file stem: (split entry, train|test)}; entries without their exact file are matched on
        patient, recording index, location and mode (the device name differs between releases)."""
        matched: dict[str, tuple[str, str]] = {}
        for entry, candidates in split_candidates(entries, txts).items():
            which = entries[entry]
            if len(candidates) != 1:
                why = "no recording" if not candidates else f"several recordings {candidates}"
                self.report.skip("split entry without recording", f"{self.split_file}: {entry} ({which}) matches {why}")
                continue
            stem = candidates[0]
            if stem != entry:
                self.report.fix("split entry matched by patient/index/location/mode", f"{entry} -> {stem}")
            if stem in matched:
                raise DatasetError(f"{self.split_file}: {matched[stem][0]} and {entry} both name recording {stem}")
            matched[stem] = (entry, which)
        for stem in sorted(set(txts) - set(matched)):
            self.report.skip("recording missing from split file", f"{txts[stem]}: not listed in {self.split_file}")
        return matched

    def _build(self) -> pd.DataFrame:
        split_file, demo_file, diag_file, txts, wavs = self._locate()
        self.split_file = split_file
        self._files = [f for f in (split_file, demo_file, diag_file) if f] + [*txts.values(), *wavs.values()]
        if split_file is None:  # the Kaggle archive ships no split file: every recording, split unknown
            self.report.note("no split file", f"none of {SPLIT_FILES} under {self.root}: split column is 'unknown'")
            matched = {stem: (stem, "unknown") for stem in txts}
        else:
            matched = self._match_split(read_split(split_file), txts)
        train = {parse_stem(s)["patient"] for s, (_, w) in matched.items() if w == "train"}
        test = {parse_stem(s)["patient"] for s, (_, w) in matched.items() if w == "test"}
        self.shared_patients = sorted(train & test)
        if self.shared_patients:
            self.report.note("patients in both official splits", ", ".join(self.shared_patients))
        demo = read_demographics(demo_file)
        diagnosis = read_diagnosis(diag_file) if diag_file else {}
        for patient in sorted({parse_stem(s)["patient"] for s in matched}):
            if patient not in demo.index:
                self.report.note("patient without demographics", f"{patient}: not in {demo_file}; age and sex unknown")
            elif np.isnan(demo.at[patient, "age"]):
                self.report.note("patient without age", f"{patient}: age NA in {demo_file}; age_group None")
        for stem in sorted(set(wavs) - set(txts)):
            self.report.skip("recording without annotation", f"{wavs[stem]}: no {stem}.txt")

        frames = []
        for stem in sorted(matched):
            entry, which = matched[stem]
            if self.split != "all" and which != self.split:
                continue
            if stem not in wavs:
                self.report.skip("annotation without audio", f"{txts[stem]}: no {stem}.wav")
                continue
            try:
                n_frames, sr = audio_info(wavs[stem])
            except DatasetError as err:
                self.report.skip("unreadable audio", str(err))
                continue
            frames.append(self._cycles(stem, entry, which, txts[stem], wavs[stem], n_frames / sr, sr, demo, diagnosis))
        if not frames:
            return pd.DataFrame(columns=COLUMNS)
        return pd.DataFrame({c: np.concatenate([f[c] for f in frames]) for c in COLUMNS})

    def _cycles(self, stem: str, entry: str, which: str, txt: Path, wav: Path, duration: float, sr: int,
                demo: pd.DataFrame, diagnosis: dict[str, str]) -> dict[str, np.ndarray]:
        cyc = read_cycles(txt)  # (n, 4)
        start, end = cyc[:, 0], cyc[:, 1]
        late = start >= duration
        for i in np.flatnonzero(late):
            self.report.skip("cycle starts after the audio ends",
                             f"{txt}: cycle {i + 1} starts at {start[i]:.3f} s, audio {wav.name} lasts {duration:.3f} s")
        clipped = (end > duration) & ~late
        for i in np.flatnonzero(clipped):
            self.report.fix("cycle end clipped to the audio",
                            f"{txt}: cycle {i + 1} ends at {end[i]:.3f} s, audio lasts {duration:.3f} s")
        crackle, wheeze = cyc[:, 2].astype(int), cyc[:, 3].astype(int)
        four = FOUR_CLASS[crackle + 2 * wheeze]
        binary = ((crackle + wheeze) > 0).astype(int)
        label = four if self.task == "4class" else np.where(binary == 1, "abnormal", "normal")
        info = parse_stem(stem)
        patient = info["patient"]
        known = patient in demo.index
        age = float(demo.at[patient, "age"]) if known else float("nan")
        sex = demo.at[patient, "sex"] if known and isinstance(demo.at[patient, "sex"], str) else None
        keep = ~late
        n = int(keep.sum())
        columns = {
            "cycle": np.arange(len(cyc)), "start": start, "end": np.minimum(end, duration), "clipped": clipped,
            "label": label, "label_index": np.array([self.classes.index(x) for x in label], dtype=np.int64),
            "binary": binary, "crackle": crackle, "wheeze": wheeze,
        }
        out = {k: v[keep] for k, v in columns.items()}
        scalars = {
            "path": str(wav), "recording": stem, "split_name": entry, "split": which, "patient": patient, "age": age,
            "age_group": age_group(age), "sex": sex, "diagnosis": diagnosis.get(patient), "location": info["location"],
            "mode": info["mode"], "device": info["device"], "sample_rate": sr,
        }
        for k, v in scalars.items():
            out[k] = np.full(n, v, dtype=type(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else object)
        return out
