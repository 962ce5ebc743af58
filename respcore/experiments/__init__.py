"""The logic behind each study notebook: notebooks only call these functions and ``respcore.plots``.

Every function takes the notebook's :class:`Study` (from :func:`setup`) and writes its tables and
``summary.json`` under ``<out_dir>/<notebook>/``.
"""
from ..published import FIG2_PEAK_BANDS
from .bands import band_retention, model_agnostic, selection_example
from .beyond import age_robustness, attribution_agreement, band_recovery, finish_beyond, lambda_sweep
from .context import Study, read_summary, setup, synthetic_corpus
from ..realdata_maps import peak_bands
from .real import RealResults, real_results, real_study_figures
from .data import (StudyData, all_meta, band_centres, band_evidence, class_examples, data_overview, device_responses,
                   finish_data, informative_bands, load_data, planted_bands)
from .tables import (age_table, claims_scorecard, sota_table, styled_scorecard, table2_paper, tsa_ablation,
                     verdict_counts)

__all__ = ["FIG2_PEAK_BANDS", "Study", "StudyData", "setup", "synthetic_corpus", "read_summary", "load_data",
           "all_meta", "band_centres", "band_evidence", "class_examples", "data_overview", "finish_data",
           "device_responses", "informative_bands", "planted_bands",
           "tsa_ablation", "age_table", "table2_paper", "sota_table", "claims_scorecard", "styled_scorecard", "verdict_counts",
           "band_retention", "selection_example", "model_agnostic", "attribution_agreement", "age_robustness",
           "lambda_sweep", "finish_beyond", "RealResults", "real_results", "peak_bands", "real_study_figures",
           "band_recovery"]
