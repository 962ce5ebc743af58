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
    # seeds on real data (0: ``seeds``): the cpu profile's claims need at least 10 pairs (folds x seeds)
    # on real recordings, while the built-in corpus decides with 5
    real_seeds: int = 0
    lr: float = 1e-3  # Adam's learning rate (the paper's recipe: 1e-3)
    # score the test sets after every epoch (for the "best epoch on test" figures of the public recipes)
    # or only at the best epoch, a fifth cheaper; the honest figures are the same
    test_every_epoch: bool = True

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
    # Every claim is a paired comparison over folds x seeds: 5 folds give 5 pairs on the built-in corpus
    # and, with 2 seeds, 10 on real data (issue 17); IS steps of 16 bands keep the count of trainings
    # affordable (64, 48, 32, 16 bands).
    # 6 epochs at lr 1e-3 left the models near chance on the built-in corpus (one fold: test AS 0.52
    # multiclass, 0.60 binary); 15 epochs at lr 3e-3 reach 0.81 and 0.89 for twice the time (18 s a
    # training on one of 2 busy cores; measured 2026-12-02 with 12 and 15 epochs, lr 1e-3 to 5e-3, width 0.25).
    "cpu": Profile("cpu", cycle_seconds=2.0, width=0.125, folds=5, seeds=1, epochs=15,
                   batch_size=64, band_step=16, min_bands=16, corpus_size="default", threads=1, real_seeds=2,
                   lr=3e-3, test_every_epoch=False),
    "paper": Profile("paper", cycle_seconds=8.0, width=1.0, folds=5, seeds=3, epochs=60,
                     batch_size=128, band_step=4, min_bands=8, corpus_size="icbhi"),
}


def get_profile(name: str) -> Profile:
    """The named profile; a clear ``ValueError`` for an unknown name."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
