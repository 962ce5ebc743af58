"""CNN-TSA: the PANNs CNN6 (or its first three blocks) with temporal self-attention (PAPER.md).

One class, ``CNNTSA``; the backbone depth, widths and the TSA placement are arguments:

    bn0 over Mel bins -> [TSA "input"] -> block1 -> [TSA "block1"] -> ... -> blockN -> [TSA "blockN"]
      -> FrequencyAggregation -> [TSA "post"] -> temporal mean -> dropout -> linear

Tensors are ``(B, 1, F, T)`` (Mel band before frame); pooling halves both F and T in every block.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from ..features import check_logmel
from .tsa import FrequencyAggregation, TemporalSelfAttention

CNN6_CHANNELS = (64, 128, 256, 512)  # PANNs CNN6 widths; the 3-block variant keeps the first three


class ConvBlock(nn.Module):
    """PANNs ``ConvBlock5x5``: conv 5x5 (stride 1, padding 2, no bias) -> BN -> ReLU -> avgpool 2x2 -> dropout.

    Args:
        x: (B, C_in, F, T). Returns: (B, C_out, F // 2, T // 2).
    """

    def __init__(self, in_channels: int, out_channels: int, *, dropout: float = 0.2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=1, padding=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()
        self.pool = nn.AvgPool2d(kernel_size=2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.pool(self.act(self.bn(self.conv(x)))))


def tsa_placements(n_blocks: int) -> list[str]:
    """Valid TSA placements for a backbone of ``n_blocks`` conv blocks."""
    return ["none", "input", *[f"block{k}" for k in range(1, n_blocks + 1)], "post"]


class CNNTSA(nn.Module):
    """CNN backbone + frequency aggregation + temporal self-attention at a chosen place + linear head.

    Args:
        n_classes: number of output logits.
        n_bands: Mel bands of the input (at least ``2 ** len(channels)``, so every pooling keeps a row).
        channels: output width of each conv block; ``CNN6_CHANNELS`` is CNN6, its first three the 3-block CNN.
        tsa: "none", "input", "block1".."blockN" or "post" (after aggregation, the paper's choice).
        dropout: after every conv block and before the linear head.
        n_frames: expected frames per input, only checked (the network accepts any T >= 2 ** N).
    Input (B, 1, n_bands, T) -> (B, n_classes) logits.
    """

    def __init__(self, *, n_classes: int, n_bands: int = 64, channels: Sequence[int] = CNN6_CHANNELS,
                 tsa: str = "post", dropout: float = 0.2, n_frames: int | None = None) -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1:
            raise ValueError(f"channels must be a non-empty list of positive widths, got {channels}")
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        self.n_blocks = len(channels)
        self.min_size = 2 ** self.n_blocks  # each 2x2 pooling halves F and T (floor)
        if n_bands < self.min_size:
            raise ValueError(f"{self.n_blocks} conv blocks pool the band axis {self.n_blocks} times: need at "
                             f"least {self.min_size} Mel bands, got n_bands={n_bands}")
        if n_frames is not None and n_frames < self.min_size:
            raise ValueError(f"need at least {self.min_size} frames for {self.n_blocks} poolings, got {n_frames}")
        placements = tsa_placements(self.n_blocks)
        if tsa not in placements:
            raise ValueError(f"unknown TSA placement {tsa!r} for {self.n_blocks} conv blocks; "
                             f"choose one of {placements}")
        self.n_bands, self.n_classes, self.placement, self.n_frames = n_bands, n_classes, tsa, n_frames
        self.channels = tuple(channels)
        self.arch: dict = {}  # filled by build_model: the arguments that rebuild this model

        self.bn0 = nn.BatchNorm2d(n_bands)  # normalizes each Mel bin over batch and time (PANNs bn0)
        widths = [1, *channels]
        self.blocks = nn.ModuleDict({f"block{k + 1}": ConvBlock(widths[k], widths[k + 1], dropout=dropout)
                                     for k in range(self.n_blocks)})
        self.tsa: TemporalSelfAttention | None = None
        if tsa == "input":
            self.tsa = TemporalSelfAttention(n_bands)  # tokens = frames, d = bands
        elif tsa.startswith("block"):
            k = int(tsa[len("block"):])
            self.tsa = TemporalSelfAttention(channels[k - 1] * (n_bands // 2 ** k))  # d = C_k x F_k
        elif tsa == "post":
            self.tsa = TemporalSelfAttention(channels[-1])  # d = C
        self.aggregate = FrequencyAggregation()
        self.head_drop = nn.Dropout(dropout)
        self.fc = nn.Linear(channels[-1], n_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """PANNs initialization: Xavier-uniform convs and head, zero biases, BN at identity (TSA keeps torch's)."""
        for module in [self.bn0, *self.blocks.values(), self.fc]:
            for m in module.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def conv_layer(self, k: int | None = None) -> nn.Module:
        """Conv block ``k`` (1-based; None = the last), e.g. the layer for captum ``LayerGradCam``.

        Its output is (B, C_k, n_bands // 2**k, T // 2**k).
        """
        k = self.n_blocks if k is None else k
        if not 1 <= k <= self.n_blocks:
            raise ValueError(f"conv block index must be 1..{self.n_blocks} (or None), got {k}")
        return self.blocks[f"block{k}"]

    def _check_input(self, x: Tensor) -> None:
        check_logmel(x, self.n_bands)
        if x.shape[3] < self.min_size:
            raise ValueError(f"input has {x.shape[3]} frames; {self.n_blocks} poolings need at least {self.min_size}")

    def _attend(self, x: Tensor) -> Tensor:
        """TSA over the frames of a 4-D map, channels and rows flattened into the token: (B, C, F, T) -> same."""
        B, C, F, T = x.shape
        z = self.tsa(x.reshape(B, C * F, T))  # (B, C*F, T): channel-major tokens, one per frame
        return z.reshape(B, C, F, T)  # (B, C, F, T)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 1, n_bands, T) log-Mel -> (B, C_N, n_bands // 2**N, T // 2**N) last conv feature map."""
        self._check_input(x)
        x = self.bn0(x.transpose(1, 2)).transpose(1, 2)  # (B, F, 1, T) for BN over bins, back to (B, 1, F, T)
        if self.placement == "input":
            x = self._attend(x)  # tokens = frames, d = 1 x F
        for name, block in self.blocks.items():
            x = block(x)  # (B, C_k, F_k, T_k)
            if self.placement == name:
                x = self._attend(x)  # tokens = frames, d = C_k x F_k
        return x

    def forward_head(self, features: Tensor) -> Tensor:
        """(B, C, F', T') feature map -> (B, n_classes) logits."""
        z = self.aggregate(features)  # (B, C, T')
        if self.placement == "post":
            z = self.tsa(z)  # (B, C, T')
        z = z.mean(dim=2)  # (B, C): temporal average pooling
        return self.fc(self.head_drop(z))  # (B, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, n_bands, T) log-Mel -> (B, n_classes) logits."""
        return self.forward_head(self.forward_features(x))
