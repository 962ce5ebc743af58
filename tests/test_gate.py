"""Dynamic band selection: the gate keeps exactly its budget of bands per sample, the FLOPs fall as
counted, and training reaches the gate."""
from __future__ import annotations

import pytest
import torch

from respcore.flops import count_flops
from respcore.models import BandGate, GatedModel, build_model
from respcore.train import TrainConfig, fit

from planted import planted_featureset


def test_gate_keeps_exactly_its_budget_per_sample_in_frequency_order():
    torch.manual_seed(0)
    gate = BandGate(n_bands=64, budget=16).eval()
    x = torch.randn(8, 1, 64, 20)
    kept, idx = gate(x)
    assert kept.shape == (8, 1, 16, 20) and idx.shape == (8, 16)
    for b in range(8):
        assert len(set(idx[b].tolist())) == 16 and torch.all(idx[b][1:] > idx[b][:-1])
        assert torch.allclose(kept[b, 0], x[b, 0, idx[b]]), "kept rows are the input's rows, unscaled"
    assert len({tuple(r) for r in idx.tolist()}) > 1, "different samples keep different bands"
    with pytest.raises(ValueError, match="budget"):
        BandGate(n_bands=16, budget=17)


def test_gated_flops_are_the_budget_backbone_plus_a_small_gate():
    full = build_model("cnn6", 4, 64, width=0.25)
    static = build_model("cnn6", 4, 32, width=0.25)
    gated = build_model("cnn6", 4, 64, width=0.25, gate=32)
    assert isinstance(gated, GatedModel) and gated.arch["gate"] == 32
    f, s, g = (count_flops(m, (1, 1, 64 if m is not static else 32, 63))["macs"] for m in (full, static, gated))
    gate_macs = 2 * 64 * 32 + 32 * 64  # the MLP's two linear layers
    assert g - s == pytest.approx(gate_macs, rel=0.05), "the backbone costs what a static 32-band model costs"
    assert g < 0.6 * f
    assert build_model(**gated.arch).arch == gated.arch


def test_training_reaches_the_gate(tmp_path):
    data = planted_featureset(64, n_patients=16)
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=2, batch_size=16, device="cpu", num_threads=1,
                         gate_budget=8)
    torch.manual_seed(0)
    before = build_model("cnn3", data.n_classes, data.n_bands, width=0.125, gate=8).gate.score[1].weight.clone()
    result = fit(data, data, config, run_dir=tmp_path / "run")
    after = result.model.gate.score[1].weight
    assert not torch.allclose(before, after.cpu()), "the straight-through gradient trains the gate"
    assert result.model.kept_bands(data.x[:4]).shape == (4, 8)
    assert "gate_budget" in config.cache_key() and "gate_budget" not in TrainConfig().cache_key()
    assert config.cache_key()["gate_version"] >= 2, "a changed gate must not load an older gate's weights"


def test_a_prior_starts_the_gate_at_a_static_selection_and_training_can_leave_it(tmp_path):
    prior = list(range(4, 12))
    torch.manual_seed(0)
    gate = BandGate(n_bands=16, budget=8, prior=prior).eval()
    _, idx = gate(torch.randn(32, 1, 16, 20) * 3)
    assert all(r == prior for r in idx.tolist()), "at start every sample keeps the prior's bands"
    with pytest.raises(ValueError, match="prior"):
        BandGate(n_bands=16, budget=8, prior=range(7))
    with pytest.raises(ValueError, match="gate_prior needs a gate"):
        build_model("cnn3", 3, 16, gate_prior=prior)

    data = planted_featureset(64, n_patients=16)
    config = TrainConfig(backbone="cnn3", width=0.125, epochs=2, batch_size=16, device="cpu", num_threads=1,
                         gate_budget=8, gate_prior=tuple(range(20, 28)))
    result = fit(data, data, config, run_dir=tmp_path / "run")
    bias = result.model.gate.bias.detach().cpu()
    assert bias[20:28].min() > 0 > bias[:20].max(), "the prior's sign survives two epochs"
    assert not torch.allclose(bias[20:28], torch.full((8,), 4.0)), "the per-band bias is trained"
    assert result.model.arch["gate_prior"] == list(range(20, 28))
    assert config.cache_key()["gate_prior"] == tuple(range(20, 28))
    assert "gate_prior" not in TrainConfig(gate_budget=8).cache_key()
