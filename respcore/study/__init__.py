"""The study layer: the paper's tables and figures, what the notebooks call. The library below it
(features, models, datasets, train, fbs, age, attribution, metrics) never imports it.

Every function takes the notebook's :class:`Study` (from :func:`setup`) and writes its tables and
``summary.json`` under ``<out_dir>/<notebook>/``. ``python -m respcore.study`` runs every notebook and
builds the book (``runner``); ``python -m respcore.study snapshot`` keeps a real-data run in the repository.
"""
from . import plots
from .age_errors import errors_by_age
from .bands import band_retention, model_agnostic, selection_example
from .beyond import age_robustness, attribution_agreement, band_recovery, finish_beyond, is_variants, lambda_sweep
from .config import FACTS, DatasetFacts, Study, read_summary, setup, synthetic_corpus
from .data import (StudyData, all_meta, band_centres, band_evidence, class_examples, data_overview, device_responses,
                   finish_data, informative_bands, load_data, planted_bands, planted_ranges,
                   segment_lengths)
from .dynamic import (OPEN_QUESTIONS, DynamicBands, answer_open_questions, dynamic_bands, finish_open_questions,
                      open_questions)
from .fronts import FrontSelections, band_map, front_selections
from .headline import confusion_view, headline_table, headline_view, rates_view
from .pairs import saved_pairs
from .published import FIG2_PEAK_BANDS
from .real import RealSnapshot, no_snapshot_note, real_confusion, real_headline, real_rates, real_snapshots
from .tables import (age_table, claims_scorecard, sota_table, styled_scorecard, table2_paper, tsa_ablation,
                     verdict_counts)

__all__ = ["plots", "FIG2_PEAK_BANDS", "FACTS", "DatasetFacts", "Study", "StudyData", "setup", "synthetic_corpus",
           "read_summary", "load_data", "all_meta", "band_centres", "band_evidence", "class_examples",
           "data_overview", "finish_data", "device_responses", "informative_bands", "planted_bands",
           "tsa_ablation", "age_table", "errors_by_age", "table2_paper", "sota_table", "claims_scorecard",
           "styled_scorecard",
           "verdict_counts", "band_retention", "selection_example", "model_agnostic", "attribution_agreement",
           "age_robustness", "lambda_sweep", "is_variants", "finish_beyond", "RealSnapshot", "real_snapshots",
           "no_snapshot_note", "band_recovery", "headline_table", "headline_view", "rates_view", "confusion_view",
           "real_headline", "real_rates", "real_confusion", "saved_pairs", "segment_lengths", "DynamicBands",
           "dynamic_bands", "answer_open_questions", "finish_open_questions", "open_questions", "OPEN_QUESTIONS",
           "FrontSelections", "band_map", "front_selections", "planted_ranges"]
