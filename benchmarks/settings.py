"""What a benchmark run measures and how hard: one settings object, full or ``--quick``."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

TSA_PLACEMENTS = ("input", "block1", "block2", "block3", "block4", "post")
BAND_COUNTS = (64, 48, 32, 16)


@dataclass(frozen=True)
class Settings:
    """Sizes and repeat counts of one run. Full defaults follow the paper (CNN6 width, 8 s cycles)."""

    quick: bool = False
    device: str = "cpu"
    warmup: int = 1  # untimed calls before timing (allocator, oneDNN kernel selection, lazy inits)
    repeats: int = 5  # timed calls (rounds) of the band-scaling comparison; every figure is a median
    inference_repeats: int = 3  # timed calls per model x batch in the latency table and speed options
    n_classes: int = 4  # ICBHI's four classes
    frames: int = 251  # T of an 8 s cycle at hop 512 (PAPER.md front end)
    width: float = 1.0  # CNN channel multiplier; 1.0 = CNN6 as published
    batches: tuple[int, ...] = (1, 64)
    bands: tuple[int, ...] = BAND_COUNTS
    placements: tuple[str, ...] = TSA_PLACEMENTS
    # training throughput and peak memory: respcore.train on cached features, profile "cpu" on CPU
    train_profile: str = "cpu"
    train_items: int = 512  # training items in the one-epoch run
    val_items: int = 128
    train_repeats: int = 2  # timed fit calls, after one warm-up call
    # front end: log-Mel throughput and the feature cache of an ICBHI-sized corpus
    logmel_cycles: int = 256
    corpus_size: str | int = "icbhi"  # make_synthetic size for the cache benchmark ("icbhi": 6,898 cycles)
    # FBS cost: IS vs BS on one small corpus
    fbs_items: int = 160
    fbs_bands: int = 32  # Mel bands of the FBS corpus (few, so backward selection stays affordable)
    fbs_r: int = 4  # bands dropped per round (IS) / per group (BS); the paper's r
    fbs_epochs: int = 1
    skip: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def make(cls, *, quick: bool, device: str, skip: tuple[str, ...] = ()) -> "Settings":
        if not quick:
            return cls(device=device, skip=skip)
        return cls(quick=True, device=device, warmup=1, repeats=3, inference_repeats=2, frames=32, width=0.125, batches=(1, 8),
                   train_profile="smoke", train_items=64, val_items=32, train_repeats=1, logmel_cycles=8,
                   corpus_size=40, fbs_items=48, fbs_bands=16, fbs_r=8, fbs_epochs=1, skip=skip)

    @property
    def big_batch(self) -> int:
        return max(self.batches)

    def to_dict(self) -> dict:
        return asdict(self)
