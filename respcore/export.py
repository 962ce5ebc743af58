"""A trained model as a folder a user can apply to new recordings (``respcore.load_model``).

The folder holds ``model.pt`` (the weights and the build arguments: a plain dict of tensors and numbers,
loaded with ``weights_only=True``) and ``model.json``: the task and its class names, the Mel settings, the
kept Mel bands (all of them, or an FBS selection), how recordings are cut into the model's inputs, the
training config, its validation scores and the provenance of the code that exported it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from .features import MelConfig, log_mel, select_bands, validate_bands
from .fileio import read_json, write_json
from .models import build_model
from .provenance import environment
from .train import FitResult, runs

FORMAT = 1
MODEL_JSON = "model.json"
SEGMENTS = ("events", "cycles", "recording")  # what one input of the model is


@dataclass
class LoadedModel:
    """An exported model, ready to score log-Mel inputs: ``model`` (eval mode), ``mel``, ``classes``,
    ``kept_bands``, ``task``, ``segments`` (``"events"``, ``"cycles"`` or ``"recording"``) and ``meta``
    (everything in ``model.json``)."""

    model: nn.Module
    mel: MelConfig
    classes: tuple[str, ...]
    kept_bands: tuple[int, ...]
    task: str
    segments: str
    meta: dict[str, Any]

    def probabilities(self, cycles: Tensor) -> Tensor:
        """Class probabilities of fixed-length waveforms.

        Args:
            cycles: (B, mel.cycle_samples) waveforms at ``mel.sample_rate`` (each input already cut and
                padded to the model's cycle length).
        Returns: (B, n_classes) probabilities.
        """
        x = select_bands(log_mel(cycles, self.mel), self.kept_bands)  # (B, 1, F_kept, T)
        with torch.inference_mode():
            return torch.softmax(self.model(x).float(), dim=1)


def export_model(result: FitResult, folder: str | Path, *, mel: MelConfig, classes: Sequence[str], task: str,
                 segments: str, dataset: str, kept_bands: Sequence[int] | None = None,
                 notes: dict[str, Any] | None = None) -> Path:
    """Write ``result``'s model (a finished run) into ``folder``: ``model.pt`` and ``model.json``.

    ``kept_bands`` (default: the run's config bands, else all ``mel.n_mels``) are the Mel bands the model
    reads. Raises ValueError when the run has no folder or its band count disagrees with the model.
    """
    if result.path is None or not runs.is_finished(result.path):
        raise ValueError("export_model needs a finished run with a run folder (fit with run_dir or root)")
    if segments not in SEGMENTS:
        raise ValueError(f"segments must be one of {SEGMENTS}, got {segments!r}")
    saved = runs.load_torch(result.path / runs.MODEL_FILE)
    bands = validate_bands(kept_bands if kept_bands is not None else
                           (result.config.bands or range(mel.n_mels)), mel.n_mels)
    if len(bands) != saved["build"]["n_bands"]:
        raise ValueError(f"{len(bands)} kept bands but the model reads {saved['build']['n_bands']}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs.save_torch(folder / runs.MODEL_FILE, saved)  # {"build", "state_dict"}, already on the CPU
    write_json(folder / MODEL_JSON, {
        "format": FORMAT, "task": task, "dataset": dataset, "classes": list(classes), "segments": segments,
        "kept_bands": list(bands), "mel": mel.to_dict(), "config": result.config.to_dict(),
        "best_epoch": result.best_epoch, "val_scores": result.val_scores, "run": result.path.name,
        "notes": notes or {}, "provenance": environment()})
    return folder


def load_model(folder: str | Path, device: str = "cpu") -> LoadedModel:
    """The model exported into ``folder`` by :func:`export_model`.

    Raises:
        FileNotFoundError: the folder or one of its two files is missing (named).
        ValueError: ``model.json`` is of another format or disagrees with the weights.
    """
    folder = Path(folder)
    for name in (MODEL_JSON, runs.MODEL_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} is missing: not an exported respcore model folder")
    meta = read_json(folder / MODEL_JSON)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder / MODEL_JSON}: format {meta.get('format')!r}, this respcore reads {FORMAT}")
    saved = torch.load(folder / runs.MODEL_FILE, map_location=device, weights_only=True)
    build = dict(saved["build"])
    model = build_model(build.pop("backbone"), build.pop("n_classes"), **build)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    bands = tuple(int(b) for b in meta["kept_bands"])
    if len(bands) != saved["build"]["n_bands"]:
        raise ValueError(f"{folder / MODEL_JSON}: {len(bands)} kept bands, the weights read "
                         f"{saved['build']['n_bands']}")
    if len(meta["classes"]) != saved["build"]["n_classes"]:
        raise ValueError(f"{folder / MODEL_JSON}: {len(meta['classes'])} classes, the weights have "
                         f"{saved['build']['n_classes']}")
    return LoadedModel(model=model.to(device), mel=MelConfig(**meta["mel"]), classes=tuple(meta["classes"]),
                       kept_bands=bands, task=meta["task"], segments=meta["segments"], meta=meta)

