"""The training recipe (PAPER.md, "Training"): one frozen config that decides a training's result."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..fileio import files_stamp
from ..models.gate import GATE_VERSION
from ..profiles import Profile, get_profile
from .loop import PRECISIONS
from .runs import RESULT_FILE, read_result


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training's result (and its cache key), except the data."""

    backbone: str = "cnn6"  # a respcore.models.build_model name
    tsa: str = "post"  # TSA placement: none, input, block1..., post (after aggregation)
    width: float = 1.0  # channel multiplier (1.0 = CNN6 as published)
    dropout: float = 0.2
    n_classes: int | None = None  # None: the training data's number of classes
    bands: tuple[int, ...] | None = None  # kept Mel band indices; None: the data's bands as given
    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3  # Adam, from scratch
    weight_decay: float = 1e-4
    eta_min: float = 1e-6  # cosine annealing floor, reached at the last epoch
    class_weighted: bool = True  # cross-entropy weights inverse to training class frequency
    spec_augment: bool = False  # 2 frequency + 2 time masks per item
    # training crop in frames for whole recordings (features with ``lengths``): each epoch draws a fresh
    # random window of this many frames from every recording (seeded by seed and epoch); 0: no crop
    crop_frames: int = 0
    # False: each test set is scored once, at the best epoch (the honest figure), not after every epoch;
    # saves about a fifth of a small training, but leaves test_scores_best_epoch_on_test NaN
    test_every_epoch: bool = True
    gate_budget: int = 0  # > 0: a per-sample band gate keeps this many bands (models.BandGate); 0: none
    gate_prior: tuple[int, ...] | None = None  # with a gate: the static selection it starts from (BandGate prior)
    normal: int = 0  # index of the normal class (specificity)
    select_metric: str = "AS"  # validation score that picks the best epoch (and FBS rounds)
    init_from: str | None = None  # PANNs CNN6 checkpoint to start from (models.load_panns_cnn6); None: scratch
    init_bn0: bool = False  # with init_from: also take PANNs' bn0 statistics (they describe PANNs' Mel bins)
    # a finished run's folder (respcore.train.runs) whose weights start this model, all but the classifier
    # head: fine-tuning from a related task, for example recordings from events; None: none
    init_run: str | None = None
    seed: int = 0
    device: str = "auto"  # "auto": cuda when available, else cpu (not part of the cache key)
    eval_batch_size: int = 256  # not part of the cache key
    num_threads: int | None = None  # CPU threads during this fit (None: torch's setting); not in the key
    precision: str = "fp32"  # "bf16": autocast forwards to bfloat16 (GPU); in the key unless fp32
    checkpoint_seconds: float = 30.0  # checkpoint at an epoch end at most this often (0: each epoch); not in the key

    def __post_init__(self) -> None:
        for name in ("bands", "gate_prior"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(int(b) for b in getattr(self, name)))
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")

    @classmethod
    def from_profile(cls, profile: Profile | str, **overrides: Any) -> "TrainConfig":
        """Width, epochs, batch size and CPU threads from a study profile (``smoke``, ``cpu``, ``paper``)."""
        p = get_profile(profile) if isinstance(profile, str) else profile
        base = dict(width=p.width, epochs=p.epochs, batch_size=p.batch_size, num_threads=p.threads, lr=p.lr,
                    test_every_epoch=p.test_every_epoch)
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def cache_key(self) -> dict[str, Any]:
        """The fields that change results (device and evaluation batch size do not)."""
        d = self.to_dict()
        for name in ("device", "eval_batch_size", "num_threads", "checkpoint_seconds"):
            d.pop(name)
        if self.precision == "fp32":  # keys of runs made before the field existed stay valid
            d.pop("precision")
        if not self.init_bn0:
            d.pop("init_bn0")
        for name in ("crop_frames", "gate_budget", "gate_prior", "init_run"):  # keys of older runs stay valid
            if not d[name]:
                d.pop(name)
        if self.test_every_epoch:
            d.pop("test_every_epoch")
        if self.gate_budget:  # a changed gate architecture must not load an older gate's weights
            d["gate_version"] = GATE_VERSION
        if self.init_from is not None:  # the file's identity, not only its name
            d["init_from"] = f"{self.init_from}@{files_stamp([Path(self.init_from)])}"
        if self.init_run is not None:  # the starting run's own key (its config and data), not its folder
            d["init_run"] = run_identity(self.init_run)
        return d


def run_identity(run_dir: str | Path) -> str:
    """The cache key a finished run folder was trained under (its ``result.json``), so that a run started
    from it is keyed by what decided its weights, wherever the folder lies."""
    key = read_result(run_dir).get("key")
    if not key:
        raise ValueError(f"{Path(run_dir) / RESULT_FILE}: no run key in this result file")
    return str(key)
