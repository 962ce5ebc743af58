"""Published numbers as cited data: the paper's claims and other methods' results, each with its source.

Transcribed from ``shared/paper/PUBLISHED.md`` and ``shared/paper/PAPER.md``; nothing here is measured by
us. Every row carries its source so that the book can cite it beside our own (measured) numbers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

PAPER = "Fraihi, Karrakchou, Ghogho, arXiv 2507.20052 (2025)"
PAPER_URL = "https://arxiv.org/abs/2507.20052"


@dataclass(frozen=True)
class PaperClaim:
    """One claim of the paper that the study can test: ``paper_value`` is what the paper reports."""

    key: str  # stable id, used by the scorecard
    claim: str  # the claim in words
    paper_value: str  # the paper's figure, as the paper gives it
    where: str  # table / figure of the paper


CLAIMS: tuple[PaperClaim, ...] = (
    PaperClaim("tsa_ordering", "TSA after frequency aggregation beats TSA after the 1st conv block and on the input",
               "58.08 % AS (after aggregation) > 54.83 % (after block 1) > ~52 % (input)", "Table I"),
    PaperClaim("tsa_gflops", "TSA after aggregation is the cheapest placement",
               "2.48 GFLOPs (after aggregation) vs 3.17 GFLOPs (after block 1)", "Table I"),
    PaperClaim("fbs_peak", "Band retention peaks below 64 bands (binary task)", "peak near 48 of 64 bands",
               "Figure 2"),
    PaperClaim("fbs_flops_cut", "FBS cuts FLOPs by up to 50 % while keeping the score",
               "up to 50 % fewer FLOPs", "Figure 2, abstract"),
    PaperClaim("bands32_beat_64", "32 bands still beat the 64-band baseline", "score(32) > score(64)", "Figure 2"),
    PaperClaim("lambda_effect", "High lambda suits the binary task, 0.5-0.6 suits multiclass",
               "best lambda: binary ~1.0, multiclass 0.5-0.6", "Section III (FBS)"),
    PaperClaim("age_gain", "A child-specific model beats the age-agnostic model on pediatric data",
               "67.32 % vs 58.08 % AS", "Table II"),
    PaperClaim("model_agnostic", "FBS also improves a transformer backbone (IG attributions)",
               "transformer + FBS > transformer (\"new ICBHI record\")", "abstract"),
)

# Table I of the paper, as far as the summary gives it (AS in %, GFLOPs counting a MAC as one FLOP).
TABLE_I: dict[str, dict[str, float | None]] = {
    "input": {"AS": 52.0, "GFLOPs": None},  # "about 52 % with more GFLOPs"
    "block1": {"AS": 54.83, "GFLOPs": 3.17},
    "post": {"AS": 58.08, "GFLOPs": 2.48},
}
FIG2_PEAK_BANDS = 48  # binary task, of 64
FIG2_COLLAPSE_BANDS = 24  # scores fall sharply below this
FBS_FLOPS_CUT = 0.50
TABLE_II = {"unified_on_pediatric": 58.08, "pediatric_on_pediatric": 67.32}
LAMBDA_BEST = {"binary": (0.9, 1.0), "multiclass": (0.5, 0.6)}


@dataclass(frozen=True)
class Published:
    """A published result on a public benchmark, never re-measured by us."""

    method: str
    backbone: str
    dataset: str  # "icbhi" or "sprsound"
    task: str
    sp: float | None
    se: float | None
    score: float | None
    source: str
    caveat: str = ""
    # the test set the figure is on, where the benchmark has several (SPRSound 2022: inter, intra); "" for
    # ICBHI's single official test set
    test_set: str = ""


_SCL = "ilyassmoummad/scl_icbhi2017 README"
_ADD = "ADD-RSC README comparison table (EthanGD/ADD-RSC-homework20260604)"
_TEST = "model selected on the test set"
PUBLISHED_ICBHI: tuple[Published, ...] = (
    Published("CNN6, CE, from scratch", "CNN6", "icbhi", "4-class", 76.72, 31.12, 53.92, _SCL, _TEST),
    Published("CNN6, CE (AudioSet)", "CNN6, AudioSet", "icbhi", "4-class", 70.09, 40.39, 55.24, _SCL, _TEST),
    Published("CNN6, SCL", "CNN6, AudioSet", "icbhi", "4-class", 75.95, 39.15, 57.55, _SCL, _TEST),
    Published("CNN14 Hybrid", "CNN14, AudioSet", "icbhi", "4-class", 80.73, 34.96, 57.85, _SCL, _TEST),
    Published("RespireNet", "ResNet", "icbhi", "4-class", 72.30, 40.10, 56.20, _ADD, _TEST),
    Published("AST fine-tuning", "AST", "icbhi", "4-class", 77.14, 41.97, 59.55, _ADD, _TEST),
    Published("Patch-Mix CL", "AST", "icbhi", "4-class", 81.66, 43.07, 62.37,
              "raymin0223/patch-mix_contrastive_learning README", _TEST),
    Published("BTS", "CLAP + metadata text", "icbhi", "4-class", 81.40, 45.67, 63.54, "kaen2891/bts README", _TEST),
    Published("CycleGuardian", "38 M params, no pretraining", "icbhi", "4-class", 82.06, 44.47, 63.26,
              "https://arxiv.org/html/2502.00734v1"),
    Published("PAFA", "BEATs", "icbhi", "4-class", None, None, 64.84,
              "https://api.emergentmind.com/papers/2505.23834", _TEST),
    Published("ADD-RSC", "AST + denoising", "icbhi", "4-class", 85.13, 45.94, 65.53,
              "https://arxiv.org/html/2506.02505v1", "public copy uses a file-level random split"),
    Published("M2D2", "BEATs + diffusion SSL", "icbhi", "4-class", 84.34, 44.25, 64.30,
              "hunpark923/m2d2_icbhi README", "5 runs"),
    Published("CNN-TSA (the paper)", "CNN6 + TSA, 2.48 GFLOPs", "icbhi", "4-class", None, None, 58.08,
              f"{PAPER}, Table I"),
    Published("Patch-Mix CL", "AST", "icbhi", "binary", None, None, 68.71,
              "https://www.sciencestack.ai/paper/2305.14032", _TEST),
    Published("PAFA", "BEATs", "icbhi", "binary", None, None, 72.08,
              "https://api.emergentmind.com/papers/2505.23834", _TEST),
)
_SPRS = "https://arxiv.org/html/2303.04104v2"
_SPRS_2022 = "2022 test, inter / intra not stated"  # the abstract gives one figure per task
_NOT_STATED = "test set not stated"
PUBLISHED_SPRSOUND: tuple[Published, ...] = (
    Published("Inception-residual + MHA (challenge top-1)", "CNN + attention", "sprsound", "2-1", None, None,
              74.5, _SPRS, "2022 test set", _SPRS_2022),
    Published("Inception-residual + MHA (challenge top-1)", "CNN + attention", "sprsound", "2-2", None, None,
              53.9, _SPRS, "2022 test set", _SPRS_2022),
    Published("Multi-stage hybrid CNN-Transformer", "CNN + transformer", "sprsound", "1-1", None, None, 90.39,
              "https://arxiv.org/html/2507.20408v1", "dataset name inferred from the tasks", _NOT_STATED),
    Published("Multi-stage hybrid CNN-Transformer", "CNN + transformer", "sprsound", "1-2", None, None, 84.48,
              "https://arxiv.org/html/2507.20408v1", "dataset name inferred from the tasks", _NOT_STATED),
)


def published_table(dataset: str | None = None) -> pd.DataFrame:
    """Published results (all, or those of ``dataset``): method, backbone, task, sp, se, score, source, caveat."""
    rows = [asdict(p) for p in PUBLISHED_ICBHI + PUBLISHED_SPRSOUND]
    df = pd.DataFrame(rows)
    if dataset is not None:
        if dataset not in {"icbhi", "sprsound"}:
            raise ValueError(f"published results exist for 'icbhi' and 'sprsound', not {dataset!r}")
        df = df[df["dataset"] == dataset].reset_index(drop=True)
    return df
