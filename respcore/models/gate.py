"""Dynamic, per-sample band selection (the paper's first open question): a light gate looks at a cheap
summary of each spectrogram and keeps a fixed budget of its bands, so the backbone, built for ``budget``
bands, costs what a static FBS model with that many bands costs, whichever bands each sample keeps.

The summary is each band's mean and maximum over time (2F numbers, batch-normalised); a two-layer MLP scores
every band, on top of a learned per-band bias; the ``budget`` best-scored bands of each sample are gathered
in frequency order. The hard top-k has no gradient, so the kept rows are scaled by ``1 + s - s.detach()``
(s: the sigmoid of their scores): exactly 1 in the forward pass, while the loss's gradient reaches the gate
(straight-through).

That gradient reaches only the bands a sample keeps: a band dropped early never gets a signal to come back.
Started from no preference, the gate kept the planted bands of the built-in corpus poorly (multiclass, 32
bands, folds 0-1, one-off trials of 2026-12-02: test AS 0.60-0.65 against 0.81 for static IS). With a
``prior`` (a static selection, e.g. IS's kept bands at this budget) the bias starts at +``prior_strength``
on those bands and -``prior_strength`` elsewhere and the MLP's last layer starts small, so the gate begins
as that static selection and learns where each sample should depart from it.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

# bump when the gated architecture changes: part of a gated run's cache key, so no stale weights load
# (2: each band normalised before the gate; 3: a learned per-band bias, optionally started at a prior)
GATE_VERSION = 3
PRIOR_STRENGTH = 4.0  # the prior's logit margin; 4 kept validation AS higher than 2 (0.86 vs 0.83, folds 0-1)


class BandGate(nn.Module):
    """Scores the F bands of each sample and keeps the ``budget`` best.

    Input (B, 1, F, T) log-Mel -> ((B, 1, budget, T) kept rows, (B, budget) their band indices, ascending).
    """

    def __init__(self, *, n_bands: int, budget: int, hidden: int = 32, prior: Sequence[int] | None = None,
                 prior_strength: float = PRIOR_STRENGTH) -> None:
        super().__init__()
        if not 1 <= budget <= n_bands:
            raise ValueError(f"budget must be in 1..n_bands={n_bands}, got {budget}")
        self.n_bands, self.budget = n_bands, budget
        self.score = nn.Sequential(nn.BatchNorm1d(2 * n_bands), nn.Linear(2 * n_bands, hidden), nn.ReLU(),
                                   nn.Linear(hidden, n_bands))
        self.bias = nn.Parameter(torch.zeros(n_bands))  # (F,) the sample-independent part of each band's score
        if prior is not None:
            prior = sorted({int(b) for b in prior})
            if len(prior) != budget or prior[0] < 0 or prior[-1] >= n_bands:
                raise ValueError(f"prior must name {budget} distinct bands in 0..{n_bands - 1}, got {prior}")
            with torch.no_grad():
                self.bias.fill_(-prior_strength)
                self.bias[prior] = prior_strength
                self.score[-1].weight.mul_(0.1)
                self.score[-1].bias.zero_()

    def scores(self, x: Tensor) -> Tensor:
        """(B, F) band scores of (B, 1, F, T) log-Mels."""
        summary = torch.cat([x.mean(-1), x.amax(-1)], dim=-1).flatten(1)  # (B, 2F)
        return self.score(summary) + self.bias  # (B, F)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 4 or x.shape[2] != self.n_bands:
            raise ValueError(f"BandGate expects (B, 1, {self.n_bands}, T), got {tuple(x.shape)}")
        logits = self.scores(x)  # (B, F)
        idx = logits.topk(self.budget, dim=-1).indices.sort(dim=-1).values  # (B, k) in frequency order
        s = torch.sigmoid(logits).gather(1, idx)  # (B, k)
        kept = x.gather(2, idx[:, None, :, None].expand(-1, x.shape[1], -1, x.shape[-1]))  # (B, 1, k, T)
        return kept * (1 + s - s.detach())[:, None, :, None], idx


class GatedModel(nn.Module):
    """A ``BandGate`` in front of a backbone built for ``gate.budget`` bands: (B, 1, F, T) -> (B, C).

    Every band is normalised with its own statistics before the gate (``norm``, as the backbone's ``bn0``
    does for a fixed band set): after the gate, row i of one sample and row i of another are different
    bands, so the backbone's per-row normalisation alone would mix their scales.
    """

    def __init__(self, gate: BandGate, backbone: nn.Module) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(gate.n_bands)
        self.gate, self.backbone = gate, backbone

    def _normed(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)  # (B, F, 1, T) per band -> (B, 1, F, T)

    def forward(self, x: Tensor) -> Tensor:
        kept, _ = self.gate(self._normed(x))  # (B, 1, k, T)
        return self.backbone(kept)

    @torch.no_grad()
    def kept_bands(self, x: Tensor) -> Tensor:
        """(B, budget) band indices the gate keeps for each sample (eval mode: the running statistics)."""
        was = self.training
        self.eval()
        try:
            return self.gate(self._normed(x))[1]
        finally:
            self.train(was)
