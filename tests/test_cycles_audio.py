"""Audio reading (16/24/32-bit PCM), resampling, and the crop / circular-pad-with-fade front end."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import write_wav
from respcore.datasets import DatasetError
from respcore.datasets.audio import audio_info, load_resampled, read_audio, resample
from respcore.datasets.cycles import cut, fit_cycles, fit_length
from respcore.features import MelConfig


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32"])
def test_read_pcm_depths(tmp_path, subtype):
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(4410) / 44100)
    sf.write(str(tmp_path / "a.wav"), tone, 44100, subtype=subtype)
    wave, sr = read_audio(tmp_path / "a.wav")
    assert sr == 44100 and wave.dtype == np.float32 and wave.shape == (4410,)
    assert np.abs(wave - tone).max() < 1e-4
    assert audio_info(tmp_path / "a.wav") == (4410, 44100)


def test_stereo_is_averaged_and_bad_files_name_themselves(tmp_path):
    sf.write(str(tmp_path / "st.wav"), np.stack([np.full(100, 0.5), np.zeros(100)], 1), 8000)
    assert np.allclose(read_audio(tmp_path / "st.wav")[0], 0.25, atol=1e-4)
    (tmp_path / "bad.wav").write_bytes(b"RIFFnope")
    with pytest.raises(DatasetError, match="bad.wav: cannot"):
        read_audio(tmp_path / "bad.wav")
    write_wav(tmp_path / "empty.wav", 0.0)
    with pytest.raises(DatasetError, match="empty.wav: audio file is empty"):
        read_audio(tmp_path / "empty.wav")


def test_resample_length_and_tone(tmp_path):
    write_wav(tmp_path / "n.wav", 2.0, sr=44100)
    assert load_resampled(tmp_path / "n.wav", 16000).shape == (32000,)
    t = torch.arange(4000) / 4000
    up = resample(torch.sin(2 * torch.pi * 100 * t), 4000, 16000)  # 100 Hz tone survives resampling
    ref = torch.sin(2 * torch.pi * 100 * torch.arange(16000) / 16000)
    assert up.shape == (16000,) and (up[1000:-1000] - ref[1000:-1000]).abs().max() < 1e-2
    assert resample(ref, 16000, 16000) is ref


def test_cut_in_samples():
    wave = torch.arange(100.0)
    assert cut(wave, 10, 1.0, 2.5).tolist() == list(range(10, 25))
    assert cut(wave, 10, 9.5, 12.0).tolist() == list(range(95, 100))  # clipped to the audio


def test_crop_keeps_the_start():
    out = fit_length([torch.arange(20.0)], 8, 2)
    assert out.shape == (1, 8) and out[0].tolist() == list(range(8))


def test_circular_padding_with_linear_fade():
    seg = torch.arange(1.0, 9.0)  # length 8, fade 4
    out = fit_length([seg], 20, 4)[0]
    ramp = torch.tensor([0.25, 0.5, 0.75, 1.0])
    assert torch.equal(out[:4], seg[:4])  # no fade-in before the first copy
    assert torch.allclose(out[4:8], seg[4:] * ramp.flip(0))  # fade-out before the seam at 8
    assert torch.allclose(out[8:12], seg[:4] * ramp)  # fade-in after it
    assert torch.allclose(out[16:20], seg[:4] * ramp)  # third copy, cut off before its end
    exact = fit_length([seg], 16, 4)[0]
    assert torch.equal(exact[12:16], seg[4:])  # no fade-out after the last copy


def test_short_segments_fade_at_most_half_and_batch_shapes():
    out = fit_length([torch.ones(2), torch.ones(50)], 10, 100)
    assert out.shape == (2, 10) and torch.allclose(out[0], torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    mel = MelConfig(sample_rate=4000, cycle_seconds=0.5, f_max=2000.0)
    assert fit_cycles([torch.ones(300)], mel).shape == (1, 2000)
    with pytest.raises(ValueError, match="empty segment"):
        fit_length([torch.ones(0)], 10, 2)
