"""FLOP counting: the paper's CNN-TSA figures, a hand count of CNN6's convolutions, the front end."""
from __future__ import annotations

import pytest
import torch
import torchaudio
from torch.utils.flop_counter import FlopCounterMode

from respcore import MelConfig
from respcore.flops import count_flops, count_params, frontend_macs
from respcore.models import TemporalSelfAttention, build_model


def cnn6_conv_macs(n_bands: int, n_frames: int) -> int:
    """Hand count: sum over blocks of C_in * C_out * 5 * 5 * F * T at the block's input resolution."""
    widths, total, f, t = [1, 64, 128, 256, 512], 0, n_bands, n_frames
    for c_in, c_out in zip(widths, widths[1:]):
        total += c_in * c_out * 25 * f * t  # padding 2 keeps F x T through the conv
        f, t = f // 2, t // 2  # then 2x2 average pooling
    return total


def test_cnn6_conv_macs_match_hand_count() -> None:
    model = build_model("cnn6", 4, tsa="none")
    macs = count_flops(model, (1, 1, 64, 251))["macs"]
    assert macs == cnn6_conv_macs(64, 251) + 512 * 4  # convolutions + the linear head
    assert cnn6_conv_macs(64, 251) == pytest.approx(2.470e9, rel=1e-3)


@pytest.mark.parametrize("tsa,paper_gmacs", [("post", 2.48), ("block1", 3.17)])
def test_paper_table1_figures(tsa: str, paper_gmacs: float) -> None:
    result = count_flops(build_model("cnn6", 4, tsa=tsa), (1, 1, 64, 251))
    assert result["macs"] / 1e9 == pytest.approx(paper_gmacs, abs=0.015)  # the paper's "GFLOPs" are MACs
    assert result["flops"] == 2 * result["macs"]


def test_batch_and_band_selection_scale_the_count() -> None:
    model64, model48 = build_model("cnn6", 2, 64, width=0.25), build_model("cnn6", 2, 48, width=0.25)
    one = count_flops(model64, (1, 1, 64, 64))["macs"]
    assert count_flops(model64, (3, 1, 64, 64))["macs"] == 3 * one
    assert count_flops(model48, (1, 1, 48, 64))["macs"] < one


def test_frontend_terms() -> None:
    mel = MelConfig()
    result = count_flops(build_model("cnn6", 2, width=0.125), (2, 1, 64, 251), mel=mel)
    assert result["frontend_macs"] == 2 * frontend_macs(mel, 64, 251)
    assert result["macs_with_frontend"] == result["macs"] + result["frontend_macs"]
    assert result["flops_with_frontend"] == 2 * result["macs_with_frontend"]
    # the filterbank term equals what torch's counter sees in torchaudio's MelScale
    bins = mel.n_fft // 2 + 1
    counter = FlopCounterMode(display=False)
    with counter:
        torchaudio.transforms.MelScale(n_mels=64, sample_rate=16000, n_stft=bins)(torch.zeros(1, bins, 251))
    assert counter.get_total_flops() // 2 == bins * 64 * 251
    assert frontend_macs(mel, 64, 251) - frontend_macs(mel, 32, 251) == (bins + 1) * 32 * 251
    with pytest.raises(ValueError, match="only 64"):
        frontend_macs(mel, 65, 251)


def test_count_params_by_hand() -> None:
    d = 16  # q, k: d -> d/8 with bias; v: d -> d with bias; gamma
    assert count_params(TemporalSelfAttention(d)) == 2 * (d * 2 + 2) + (d * d + d) + 1
    model = build_model("cnn3", 2, 16, "none", width=0.125)
    for p in model.fc.parameters():
        p.requires_grad_(False)
    assert count_params(model) - count_params(model, trainable_only=True) == 32 * 2 + 2


def test_count_flops_restores_mode_and_checks_shape() -> None:
    model = build_model("cnn3", 2, 16, width=0.125).train()
    count_flops(model, (1, 1, 16, 32))
    assert model.training
    with pytest.raises(ValueError, match="input_shape"):
        count_flops(model, (1, 16, 32))


def test_tsa_cost_by_hand() -> None:
    """TSA after block 1 on 64 x 251: 125 tokens of d = 64 x 32; q, k project to d/8, v to d."""
    result = count_flops(build_model("cnn6", 4, tsa="block1"), (1, 1, 64, 251))
    d, t = 64 * 32, 251 // 2
    projections = 2 * d * (d // 8) * t + d * d * t
    attention = t * t * (d // 8) + t * t * d  # q^T k, then v A^T
    assert result["macs_by_module"]["tsa"] == projections + attention
    assert result["macs_by_module"]["blocks.block1"] == 1 * 64 * 25 * 64 * 251
    assert "bn0" not in result["macs_by_module"]  # normalization is not counted


def test_transformer_macs_by_hand() -> None:
    """Patch embedding + per layer (qkv, q k^T, A v, projection, MLP) + head, at 64 x 251 (8 x 32 patches)."""
    model = build_model("transformer", 4, tsa="none")
    d, n, hidden, depth = 192, 8 * 32, 384, 4
    per_layer = n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * hidden
    expected = d * 64 * n + depth * per_layer + d * 4
    assert count_flops(model, (1, 1, 64, 251))["macs"] == expected
