"""The installed packages load together: torchaudio's compiled extension beside this torch (a mismatched
pair broke every fresh install once), and the lock's check catches a drifted or mismatched install."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
import torchaudio
from torchaudio._extension.utils import _load_lib

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "tools" / "check_install.py"
LOCK = ROOT / "requirements" / "lock.txt"


def test_torchaudio_extension_loads_and_a_transform_runs() -> None:
    assert _load_lib("libtorchaudio"), "torchaudio's compiled extension is missing"
    spec = torchaudio.transforms.MelSpectrogram(sample_rate=16_000, n_fft=400, hop_length=160, n_mels=16)
    out = spec(torch.sin(torch.linspace(0, 2_000, 16_000)))  # 1 s of a tone
    assert out.shape == (16, 101) and torch.isfinite(out).all() and out.sum() > 0


def test_lock_pins_a_torch_pair_that_loads() -> None:
    pins = dict(line.split("==")[:2] for line in LOCK.read_text().splitlines()
                if line.startswith(("torch==", "torchaudio==")))
    assert pins["torch"].split(";")[0].strip() == pins["torchaudio"].split(";")[0].strip() == "2.11.0"
    done = subprocess.run([sys.executable, str(CHECK), str(LOCK)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_install_check_names_a_drifted_package(tmp_path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("# a lock this environment does not match\ntorch==0.0.1\nsoundfile==0.0.1 ; sys_platform == 'nowhere'\n")
    done = subprocess.run([sys.executable, str(CHECK), str(lock)], capture_output=True, text=True)
    assert done.returncode == 1
    assert f"torch: the lock pins 0.0.1, installed is {torch.__version__.split('+')[0]}" in done.stderr
    assert "soundfile" not in done.stderr  # a pin for another platform is not checked here
