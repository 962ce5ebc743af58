"""Study profiles: one parameter scales the whole protocol (PAPER.md protocol = ``paper``).

``smoke`` runs each notebook in seconds (CI); ``cpu`` is the default, the same code and structure
scaled to finish the whole study in under 30 minutes on 2 CPU cores; ``paper`` is the full protocol
for a GPU and real data.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .features import MelConfig


@dataclass(frozen=True)
class Profile:
    name: str
    cycle_seconds: float  # cycle length fed to the network
    width: float  # channel multiplier of the CNN backbones (1.0 = CNN6 as published)
    folds: int  # K of the patient-wise cross-validation inside the training set
    seeds: int  # independent repeats of each configuration
    epochs: int
    batch_size: int
    band_step: int  # r: bands dropped per FBS round
    min_bands: int  # FBS stops here at the latest
    corpus_size: str | int  # size of the built-in synthetic corpus
    # CPU threads per training (None: torch's default). Models this small parallelize poorly: on 2 shared
    # cores one thread ran a cpu-profile training 2.5-3x faster than two (26 s vs 65-86 s wall, load ~10)
    threads: int | None = None

    def mel(self, **overrides) -> MelConfig:
        """The Mel front end of this profile (paper defaults, with this profile's cycle length)."""
        return replace(MelConfig(cycle_seconds=self.cycle_seconds), **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", cycle_seconds=2.0, width=0.125, folds=2, seeds=1, epochs=2,
                     batch_size=32, band_step=16, min_bands=16, corpus_size="smoke", threads=1),
    # cpu: one CNN6 training (400 cycles of 64 x 63, 6 epochs, val + test scored each epoch) costs about
    # 8 s of one core; 4 s cycles at width 0.25 cost 5x more (measured 2026-11-24, see issue 4's report).
    # The whole study is ~180 trainings at 2 folds (~260 at 3, mostly the lambda sweep): 2 fits 25 min.
    "cpu": Profile("cpu", cycle_seconds=2.0, width=0.125, folds=2, seeds=1, epochs=6,
                   batch_size=64, band_step=8, min_bands=16, corpus_size="default", threads=1),
    "paper": Profile("paper", cycle_seconds=8.0, width=1.0, folds=5, seeds=3, epochs=60,
                     batch_size=128, band_step=4, min_bands=8, corpus_size="icbhi"),
}


def get_profile(name: str) -> Profile:
    """The named profile; a clear ``ValueError`` for an unknown name."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
