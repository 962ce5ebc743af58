"""Models: shapes, finiteness, gradients, attention maths and clear errors, at tiny widths on CPU."""
from __future__ import annotations

import pytest
import torch

from respcore.models import (BACKBONES, PLACEMENTS, CNNTSA, FrequencyAggregation, TemporalSelfAttention,
                             build_model)

WIDTH = 0.125
BANDS = {"cnn6": [16, 37, 128], "cnn3": [8, 21, 128], "transformer": [16, 37, 128]}
CASES = [(b, t, f) for b in BACKBONES for t in PLACEMENTS[b] for f in BANDS[b]]


@pytest.mark.parametrize("backbone,tsa,n_bands", CASES)
def test_shapes_and_finite(backbone: str, tsa: str, n_bands: int) -> None:
    torch.manual_seed(0)
    model = build_model(backbone, 3, n_bands, tsa, width=WIDTH).eval()
    x = torch.randn(2, 1, n_bands, 21)  # odd T: pooling floors, the transformer pads
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model(x)
    assert logits.shape == (2, 3)
    assert torch.isfinite(logits).all()
    assert torch.equal(model.forward_head(feats), logits)
    if isinstance(model, CNNTSA):
        n = model.n_blocks
        assert feats.shape == (2, model.channels[-1], n_bands // 2 ** n, 21 // 2 ** n)
        assert model.conv_layer() is model.blocks[f"block{n}"]
    else:
        assert feats.shape[2:] == (-(-n_bands // 8), 3)


@pytest.mark.parametrize("backbone,tsa", [(b, t) for b in BACKBONES for t in PLACEMENTS[b]])
def test_gradient_reaches_every_parameter(backbone: str, tsa: str) -> None:
    torch.manual_seed(0)
    model = build_model(backbone, 3, 32, tsa, width=WIDTH).train()
    x = torch.randn(3, 1, 32, 64)  # >= 2 frames left after 4 poolings, else softmax over 1 key is constant
    model(x).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    # gamma starts at 0, so the attention projections get zero gradient at first; with gamma != 0
    # every parameter must get a nonzero gradient
    if model.tsa is not None:
        model.zero_grad()
        with torch.no_grad():
            model.tsa.gamma.fill_(1.0)
        model(x).sum().backward()
        for name, p in model.named_parameters():
            assert p.grad.abs().sum() > 0, name


def test_cnn6_is_panns_cnn6() -> None:
    model = build_model("cnn6", 4, tsa="none")
    assert model.channels == (64, 128, 256, 512)
    convs = [model.conv_layer(k).conv for k in range(1, 5)]
    assert all(c.kernel_size == (5, 5) and c.padding == (2, 2) and c.bias is None for c in convs)
    assert model.bn0.num_features == 64
    assert build_model("cnn3", 4).channels == (64, 128, 256)
    assert build_model("cnn6", 4, width=0.25).channels == (16, 32, 64, 128)
    # tsa d per placement: frames are tokens, channels x remaining rows are features
    assert build_model("cnn6", 4, tsa="block1").tsa.dim == 64 * 32
    assert build_model("cnn6", 4, tsa="input").tsa.dim == 64
    assert build_model("cnn6", 4, tsa="post").tsa.dim == 512


def test_arch_rebuilds_the_model() -> None:
    model = build_model("cnn3", 5, 24, "block2", width=0.25, dropout=0.1, n_frames=40)
    assert model.arch == {"backbone": "cnn3", "n_classes": 5, "n_bands": 24, "tsa": "block2", "width": 0.25,
                          "dropout": 0.1, "n_frames": 40}
    clone = build_model(**model.arch)
    clone.load_state_dict(model.state_dict())  # same parameter names and shapes
    x = torch.randn(2, 1, 24, 40)
    assert torch.equal(clone.eval()(x), model.eval()(x))


def test_frequency_aggregation_by_hand() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, -4.0], [5.0, 0.0]]).reshape(1, 1, 3, 2)  # (B, C, F=3, T=2)
    expected = torch.tensor([[[3.0 + 5.0, -2.0 / 3 + 2.0]]])
    assert torch.allclose(FrequencyAggregation()(x), expected)


def test_temporal_self_attention_matches_reference() -> None:
    torch.manual_seed(0)
    tsa = TemporalSelfAttention(16)
    z = torch.randn(2, 16, 7)
    assert torch.equal(tsa(z), z)  # gamma = 0: identity
    with torch.no_grad():
        tsa.gamma.fill_(0.5)
    w = lambda conv: conv.weight[:, :, 0]  # noqa: E731  (out, in)
    q = torch.einsum("oi,bit->bot", w(tsa.query), z) + tsa.query.bias[:, None]
    k = torch.einsum("oi,bit->bot", w(tsa.key), z) + tsa.key.bias[:, None]
    v = torch.einsum("oi,bit->bot", w(tsa.value), z) + tsa.value.bias[:, None]
    attn = torch.softmax(torch.einsum("bdt,bds->bts", q, k) / 2 ** 0.5, dim=-1)  # d/8 = 2
    expected = 0.5 * torch.einsum("bds,bts->bdt", v, attn) + z
    assert torch.allclose(tsa(z), expected, atol=1e-5)
    perm = torch.randperm(7)  # no positional encoding: permuting frames permutes the output
    assert torch.allclose(tsa(z[:, :, perm]), tsa(z)[:, :, perm], atol=1e-5)


def test_gradcam_hooks_a_conv_block() -> None:
    from captum.attr import LayerGradCam

    model = build_model("cnn6", 2, 32, width=WIDTH).eval()
    attr = LayerGradCam(model, model.conv_layer(2)).attribute(torch.randn(2, 1, 32, 40), target=1)
    assert attr.shape == (2, 1, 8, 10)


def test_transformer_accepts_longer_inputs_than_its_time_embedding() -> None:
    model = build_model("transformer", 2, 20, "none", width=WIDTH, n_frames=16).eval()
    assert model(torch.randn(1, 1, 20, 50)).shape == (1, 2)


@pytest.mark.parametrize("kwargs,match", [
    ({"backbone": "cnn9"}, "choose one of"),
    ({"backbone": "cnn6", "tsa": "block5"}, "choose one of"),
    ({"backbone": "cnn3", "tsa": "block4"}, "block4"),
    ({"backbone": "transformer", "tsa": "block1"}, "choose one of"),
    ({"backbone": "cnn6", "n_bands": 15}, "at least 16 Mel bands"),
    ({"backbone": "cnn3", "n_bands": 7}, "at least 8 Mel bands"),
    ({"backbone": "transformer", "n_bands": 129}, "1..128"),
    ({"backbone": "cnn6", "width": 0.0}, "width"),
    ({"backbone": "cnn6", "dropout": 1.0}, "dropout"),
    ({"backbone": "cnn6", "n_frames": 8}, "at least 16 frames"),
])
def test_build_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(n_classes=2, **kwargs)


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_forward_errors(backbone: str) -> None:
    model = build_model(backbone, 2, 32, "none", width=WIDTH)
    with pytest.raises(ValueError, match="built for n_bands=32"):
        model(torch.randn(1, 1, 48, 32))
    with pytest.raises(ValueError, match=r"\(B, 1, F, T\)"):
        model(torch.randn(1, 32, 32))
    if backbone != "transformer":
        with pytest.raises(ValueError, match="frames"):
            model(torch.randn(1, 1, 32, 4))


def _fake_panns_cnn6() -> dict:
    """A state dict with PANNs CNN6's names and shapes: kernels (out, in, time, Mel), 64 Mel bins."""
    g = torch.Generator().manual_seed(0)
    state = {f"bn0.{s}": torch.rand(64, generator=g) + 0.5 for s in ("weight", "bias", "running_mean", "running_var")}
    for k, (c_in, c_out) in enumerate(zip([1, 64, 128, 256], [64, 128, 256, 512]), start=1):
        state[f"conv_block{k}.conv1.weight"] = torch.randn(c_out, c_in, 5, 5, generator=g)
        for s in ("weight", "bias", "running_mean", "running_var"):
            state[f"conv_block{k}.bn1.{s}"] = torch.rand(c_out, generator=g) + 0.5
    state["fc1.weight"] = torch.randn(512, 512, generator=g)
    return {"model": state, "iteration": 1}


def test_load_panns_cnn6(tmp_path) -> None:
    from respcore.models import load_panns_cnn6

    ckpt = _fake_panns_cnn6()
    torch.save(ckpt, tmp_path / "Cnn6.pth")
    model = build_model("cnn3", 2, 16, width=1.0)
    bands = list(range(0, 64, 4))
    loaded = load_panns_cnn6(model, tmp_path / "Cnn6.pth", load_bn0=True, bands=bands)
    assert "blocks.block3.conv.weight" in loaded and "fc.weight" not in loaded
    w = ckpt["model"]["conv_block2.conv1.weight"]
    assert torch.equal(model.blocks.block2.conv.weight, w.transpose(-1, -2))  # (time, Mel) -> (Mel, time)
    assert torch.equal(model.bn0.running_mean, ckpt["model"]["bn0.running_mean"][bands])
    with pytest.raises(ValueError, match="width 1.0"):
        load_panns_cnn6(build_model("cnn6", 2, width=0.5), ckpt)
    with pytest.raises(ValueError, match="not a PANNs CNN6"):
        load_panns_cnn6(build_model("cnn6", 2), {"conv_block1.conv1.weight": ckpt["model"]["conv_block1.conv1.weight"]})
    with pytest.raises(ValueError, match="has shape"):
        load_panns_cnn6(build_model("cnn6", 2), {"model": {**ckpt["model"], "conv_block1.conv1.weight": w}})
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_panns_cnn6(model, tmp_path / "missing.pth")


def test_encoder_attention_matches_torch_sdpa() -> None:
    from respcore.models import EncoderLayer

    torch.manual_seed(0)
    layer = EncoderLayer(32, 4, dropout=0.0).eval()
    x = torch.randn(2, 10, 32)
    q, k, v = (t.reshape(2, 10, 4, 8).transpose(1, 2) for t in layer.qkv(layer.norm1(x)).chunk(3, dim=-1))
    attn = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 10, 32)
    h = x + layer.proj(attn)
    assert torch.allclose(layer(x), h + layer.mlp(layer.norm2(h)), atol=1e-5)
