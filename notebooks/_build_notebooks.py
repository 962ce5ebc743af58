"""Write the study's notebooks (``python notebooks/_build_notebooks.py``); the .ipynb files are committed.

Each notebook is thin: a title and overview in markdown, one ``parameters`` cell of flat literals
(papermill injects the study's values after it), imports up front, calls into ``respcore`` only (no
``def`` or ``class``), narrative in markdown, and a last cell that shows and saves its table and figure.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = '''\
dataset = "synthetic"  # "synthetic", "icbhi" or "sprsound"
data_root = ""  # dataset folder; "" with synthetic generates the built-in corpus
profile = "cpu"  # "smoke" (CI, seconds), "cpu" (2 cores, minutes) or "paper" (GPU, real data)
epochs = 0  # 0: the profile's value
folds = 0  # 0: the profile's value
seeds = 0  # 0: the profile's value
device = "auto"  # "auto", "cpu" or "cuda"
out_dir = "results"  # tables, figures and parameters go to out_dir/<notebook>/
cache_dir = "cache"  # features and finished trainings (the run cache) are kept here
real_dir = "results/real"  # committed snapshots of study runs on real data (page 8, scorecard)
workers = 1  # trainings at once: 1 in this kernel, 0 every core (a local Ray instance), N
address = ""  # an existing Ray cluster (HOST:PORT) to run the trainings on'''

# parameters only one notebook takes, after the study's
NOTEBOOK_PARAMETERS = {
    "09_open_questions": '''
questions = "both"  # "both", or "gate" / "fronts" alone: one question per sitting where trainings take hours
static_from = ""  # a folder of notebook 03's results whose IS selections are reused; "" selects here''',
}

IMPORTS = '''\
from IPython.display import Markdown, display

from respcore import study as ex
from respcore.study import plots'''


def setup_cell(name: str) -> str:
    return (f'study = ex.setup("{name}", dataset=dataset, data_root=data_root, profile=profile, epochs=epochs,\n'
            '                 folds=folds, seeds=seeds, device=device, out_dir=out_dir, cache_dir=cache_dir,\n'
            '                 real_dir=real_dir, workers=workers, address=address)\n'
            'display(Markdown(study.header()))')


# the explanation under the headline's rates and confusion, on page 5 (this run) and page 8 (the snapshots)
RATES_MD = ("### Where each Score comes from\n\nSpecificity (normal items called normal) and sensitivity (abnormal "
            "items given their class) of the baseline and of CNN-TSA on each test set, beside the same CNN-TSA "
            "fold models on their validation folds (%). Validation patients come from the training set; a test "
            "set whose normal items CNN-TSA calls normal far less often than its validation patients' holds "
            "recordings unlike the training patients', a shift that no choice made on validation can see. The "
            "validation figures are read at the epoch chosen on them, so they lean optimistic by a little.\n\n"
            "Below them, where the items of each true class go (% of the class, pooled over the fold models): "
            "first every model on its own validation fold (out of fold), then on each test set; on SPRSound "
            "the record-level tasks, whose label sums up several events and the recording's quality.")


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_data": [
        ("md", "# The data\n\nThe corpus at a glance: how many cycles of each class, the ages of the patients, an "
               "example cycle per class as a waveform and as the log-Mel the network sees, and, for the built-in "
               "synthetic corpus, the frequency bands where each class's evidence was planted and the response "
               "of each simulated stethoscope."),
        ("md", "## Which data, which settings"),
        ("code", setup_cell("01_data")),
        ("code", "data = ex.load_data(study)\ncounts = ex.data_overview(study, data)\ncounts"),
        ("md", "## Classes and ages\n\nPediatric means under 18 years (the paper's split for Table II)."),
        ("code", "fig = plots.class_distribution(ex.all_meta(data), study.data_label)\n"
                 "study.save_figure(fig, 'class_age_distribution')"),
        ("md", "## How long the items last\n\nThe network's input has a fixed length (the profile's cycle). An "
               "item shorter than it is tiled to it (copies cross-faded at the seams), a longer one is cut. The "
               "table gives each split's duration quantiles: most ICBHI cycles and SPRSound events are shorter "
               "than 8 s, so the paper's 8 s input mostly repeats them; the record-level SPRSound tasks take whole "
               "recordings instead (random crops in training, the whole recording when scoring)."),
        ("code", "lengths = ex.segment_lengths(data)\n"
                 "fig = plots.segment_lengths(lengths, study.profile.cycle_seconds, study.data_label)\n"
                 "study.save_figure(fig, 'segment_lengths')\n"
                 "display(lengths.groupby('split')['seconds'].describe(percentiles=[0.1, 0.5, 0.9]).round(2))"),
        ("md", "## One cycle per class\n\nThe network's input is the log-Mel spectrogram of one respiratory "
               "cycle, padded by repetition to a fixed length."),
        ("code", "waves, specs = ex.class_examples(study, data)\n"
                 "fig = plots.example_waveforms(waves, study.profile.mel().sample_rate, study.data_label)\n"
                 "study.save_figure(fig, 'example_waveforms')\n"
                 "fig = plots.example_spectrograms(specs, ex.band_centres(data), study.profile.cycle_seconds, "
                 "study.data_label)\nstudy.save_figure(fig, 'example_spectrograms')"),
        ("md", "## Where the evidence lies\n\nOn the synthetic corpus we know which bands carry each class: FBS "
               "should find them (notebook 3 measures it). On real data this section shows the mean log-Mel per "
               "class, the data's own view of the same question."),
        ("code", "bands = ex.band_evidence(study, data)\n"
                 "fig = plots.band_profile(bands, 'value', bands.attrs['ylabel'], bands.attrs['title'], "
                 "study.data_label, hue='series', spans=bands.attrs['spans_hz'])\n"
                 "study.save_figure(fig, 'band_evidence')\nstudy.save_table(bands, 'band_evidence')"),
        ("md", "## The devices\n\nEach simulated stethoscope colours the sound with its own frequency response, "
               "a nuisance the network must learn to ignore (real recordings: unknown)."),
        ("code", "responses = ex.device_responses(data.truth)\n"
                 "fig = plots.device_responses(responses, study.data_label)\n"
                 "study.save_figure(fig, 'device_responses')\nex.finish_data(study, data, counts)"),
    ],
    "02_tsa_placement": [
        ("md", "# Table I: where to put temporal self-attention\n\nThe paper places TSA after the frequency "
               "aggregation of the CNN6 features and reports 58.08 % AS at 2.48 GFLOPs on ICBHI, against "
               "54.83 % at 3.17 GFLOPs after the first conv block and about 52 % on the raw input. We train "
               "every placement with the same recipe, patient-wise cross-validated inside the training set, and "
               "count the FLOPs of each on the paper's 64 x 251 input at full width (a multiply-accumulate "
               "counted as one FLOP, the paper's convention)."),
        ("code", setup_cell("02_tsa_placement")),
        ("code", "data = ex.load_data(study)"),
        ("md", "## Train every placement\n\nScores are the mean and standard deviation over validation folds "
               "(and seeds); the paper's numbers stand beside ours in the `paper_*` columns."),
        ("code", "table = ex.tsa_ablation(study, data)"),
        ("md", "## Table I, ours beside the paper's"),
        ("code", "fig = plots.tsa_ablation(table, study.data_label)\nstudy.save_figure(fig, 'tsa_placement')\n"
                 "study.save_table(table, 'table1_tsa_placement')\ndisplay(table)"),
        ("md", "## Paired comparisons\n\nEach comparison trains both configurations on the same folds x seeds and "
               "scores every pair on the same test items; the difference's 95 % interval decides, and an interval "
               "that contains 0 is undecided whatever the sign of the mean (the scorecard applies the paper's "
               "expected direction)."),
        ("code", "pairs = ex.saved_pairs(study)\nstudy.save_table(pairs, 'paired_comparisons')\ndisplay(pairs)"),
    ],
    "03_band_retention": [
        ("md", "# Figure 2: how many frequency bands does the network need?\n\nImportance-based selection (IS) "
               "drops the r least important bands per round, importance being the Grad-CAM attribution averaged "
               "over folds and classes minus lambda times its spread; backward selection (BS) greedily drops the "
               "band group whose removal hurts validation least. The paper's binary curve peaks near 48 of 64 "
               "bands, 32 bands still beat 64, and scores fall below about 24."),
        ("code", setup_cell("03_band_retention")),
        ("code", "binary = ex.load_data(study, task='binary')\nmulticlass = ex.load_data(study)"),
        ("md", "## Selection trajectories\n\nEach point is a cross-validated score after retraining on the kept "
               "bands. BS needs many more trainings than IS; its cost is in the table."),
        ("code", "result = ex.band_retention(study, binary=binary, multiclass=multiclass)\nresult.cost"),
        ("md", "## Band importance across folds\n\nA band that matters in every fold is kept; a band that "
               "matters in one fold only is penalized by lambda."),
        ("code", "fig = plots.importance_heatmap(result.importance, study.data_label)\n"
                 "study.save_figure(fig, 'importance_heatmap')"),
        ("md", "## The selected bands on a spectrogram, and recovery of the planted bands\n\nOn the built-in "
               "corpus, `precision` and `recall` compare the kept round with the planted bands. Validation picks the "
               "round, so a selection keeping n bands can reach at most |planted| / n (`precision_cap`; 48 kept "
               "bands hold at most the default corpus's 30 planted ones: 0.625); `ranking_precision` judges IS's first ranking alone, as "
               "the share of planted bands among the |planted| most important ones. Page 7 tries two changes to IS "
               "that find them better: averaging the importance over the adventitious classes only, and keeping the "
               "round with the fewest bands that validation cannot call worse."),
        ("code", "spec, planted = ex.selection_example(study, multiclass, result)\n"
                 "fig = plots.bands_on_spectrogram(spec, result.kept, study.profile.cycle_seconds, "
                 "study.data_label, planted=planted)\nstudy.save_figure(fig, 'selected_bands')\nresult.recovery"),
        ("md", "## Figure 2, ours beside the paper's peak"),
        ("code", "fig = plots.band_retention(result.curves, ex.FIG2_PEAK_BANDS, study.data_label)\n"
                 "study.save_figure(fig, 'band_retention')\nstudy.save_table(result.curves, 'band_retention')\n"
                 "display(result.curves)"),
        ("md", "## Paired comparisons\n\nEach comparison trains both configurations on the same folds x seeds and "
               "scores every pair on the same test items; the difference's 95 % interval decides, and an interval "
               "that contains 0 is undecided whatever the sign of the mean (the scorecard applies the paper's "
               "expected direction)."),
        ("code", "pairs = ex.saved_pairs(study)\nstudy.save_table(pairs, 'paired_comparisons')\ndisplay(pairs)"),
    ],
    "04_age": [
        ("md", "# Table II: age-specific versus unified models\n\nThe paper trains a child-specific CNN-TSA+FBS "
               "(BS) and reports 67.32 % AS on pediatric data against 58.08 % for the age-agnostic model. We "
               "train a unified model, a pediatric-only and an adult-only model, and a router that picks one by "
               "age; each is scored on the pediatric and adult test subsets."),
        ("code", setup_cell("04_age")),
        ("code", "data = ex.load_data(study)"),
        ("md", "## Each model on each age group's test subset"),
        ("code", "table = ex.age_table(study, data)"),
        ("md", "## Table II, ours beside the paper's"),
        ("code", "fig = plots.grouped_bars(table, x='subset', y='AS', hue='model', ylabel='AS (%)', "
                 "title='Age-specific vs unified models (Table II)', data_label=study.data_label, "
                 "paper=ex.table2_paper())\nstudy.save_figure(fig, 'age_models')\n"
                 "study.save_table(table, 'table2_age')\ndisplay(table)"),
        ("md", "## Where the one model for all errs, by age\n\nThe CNN-TSA of every fold x seed (page 2's) on each "
               "age band's part of its held-out validation patients and of each test set, beside each set's age mix "
               "(`share`: of its items of known age). A test set whose children are younger or older than the "
               "training patients scores differently for that reason alone: the rows *validation, reweighted to "
               "... 's ages* weight each validation item by its band's share in that test set over its share in "
               "the validation fold (`respcore.age.age_shift_weights`; the test items' ages only, never their "
               "labels), and show how much of the fall from validation to test the age mix explains. For a test set "
               "of training patients (SPRSound's intra set), *validation, ...'s children only* gives those very "
               "children's held-out validation recordings: a fall from there to the test set is in the recordings, "
               "not in the children."),
        ("code", "errors = ex.errors_by_age(study, data)\nfig = plots.errors_by_age(errors, study.data_label)\n"
                 "study.save_figure(fig, 'errors_by_age')\nstudy.save_table(errors, 'errors_by_age')\ndisplay(errors)"),
        ("md", "## Paired comparisons\n\nEach comparison trains both configurations on the same folds x seeds and "
               "scores every pair on the same test items; the difference's 95 % interval decides, and an interval "
               "that contains 0 is undecided whatever the sign of the mean (the scorecard applies the paper's "
               "expected direction)."),
        ("code", "pairs = ex.saved_pairs(study)\nstudy.save_table(pairs, 'paired_comparisons')\ndisplay(pairs)"),
    ],
    "05_sota": [
        ("md", "# Ours beside the state of the art\n\nPublished figures are cited data, each with its source; "
               "most of them picked their best epoch on the test set, which ours never do. Our rows are "
               "measured by notebooks 2 and 3 of this run, and each says whether it ran on real data or on the "
               "synthetic corpus: a synthetic score is not comparable to a published one, it only shows that "
               "the pipeline runs. The rows marked **REAL** are the committed SPRSound 2022 results of "
               "notebook 8, beside the published SPRSound figures; those selected by best epoch on test are a "
               "like-for-like comparison only."),
        ("code", setup_cell("05_sota")),
        ("md", "## The headline: the challenge baseline, CNN-TSA and CNN-TSA+FBS\n\nScore per task and test set "
               "(fractions of the benchmark's headline score). The baseline is the SPRSound challenge's starter "
               "recipe computed here (40 MFCCs averaged over each whole event or recording, polynomial SVM, C = 2). "
               "CNN-TSA is the mean of the profile's fold models, each chosen on its validation fold; its margin "
               "over the baseline comes with a 95 % interval over those repeats. Record-level tasks train on random "
               "crops and score each whole recording in one pass; their recipe (a 2 s or 8 s crop from scratch, or "
               "an 8 s crop started from the event model of the same fold and seed; each 8 s recipe also without "
               "class weights) is chosen on the validation folds, and the table shows each candidate's "
               "validation score."),
        ("code", "headline = ex.headline_table(study)\ndisplay(ex.headline_view(headline))"),
        ("md", RATES_MD),
        ("code", "display(ex.rates_view(headline))\nfor table in ex.confusion_view(study.out, study.facts):\n"
                 "    display(table)"),
        ("code", "table = ex.sota_table(study, headline)"),
        ("md", "## The comparison"),
        ("code", "fig = plots.sota(table, study.data_label)\nstudy.save_figure(fig, 'sota')\n"
                 "study.save_table(table, 'sota')\ndisplay(table)"),
    ],
    "06_model_agnostic": [
        ("md", "# Model-agnostic: FBS in a transformer\n\nThe paper reports a new ICBHI record by applying FBS "
               "to a transformer baseline. We train the small patch transformer on all bands, rank the bands "
               "with Integrated Gradients on the input (Grad-CAM needs conv layers), apply importance-based "
               "selection, and compare score and FLOPs."),
        ("code", setup_cell("06_model_agnostic")),
        ("code", "data = ex.load_data(study)"),
        ("md", "## Transformer with all bands and with the selected bands"),
        ("code", "table = ex.model_agnostic(study, data)"),
        ("md", "## Ours"),
        ("code", "fig = plots.grouped_bars(table, x='backbone', y='score', hue='bands', ylabel='validation AS (%)', "
                 "title='FBS in a transformer (IG attributions)', data_label=study.data_label)\n"
                 "study.save_figure(fig, 'model_agnostic')\nstudy.save_table(table, 'model_agnostic')\n"
                 "display(table)"),
        ("md", "## Paired comparisons\n\nEach comparison trains both configurations on the same folds x seeds and "
               "scores every pair on the same test items; the difference's 95 % interval decides, and an interval "
               "that contains 0 is undecided whatever the sign of the mean (the scorecard applies the paper's "
               "expected direction)."),
        ("code", "pairs = ex.saved_pairs(study)\nstudy.save_table(pairs, 'paired_comparisons')\ndisplay(pairs)"),
    ],
    "07_beyond_paper": [
        ("md", "# Beyond the paper\n\nQuestions the paper leaves open. Do Grad-CAM and Integrated "
               "Gradients rank the bands alike, and which of them finds the bands that carry the evidence? What happens when age metadata is missing or wrong, since the "
               "age router depends on it? Does lambda, the weight of the consistency penalty in the importance "
               "score, matter the way the paper says (high for binary, 0.5-0.6 for multiclass)?"),
        ("code", setup_cell("07_beyond_paper")),
        ("code", "data = ex.load_data(study)\nbinary = ex.load_data(study, task='binary')"),
        ("md", "## Grad-CAM versus Integrated Gradients\n\nSpearman rank correlation of the per-band "
               "importances, between methods and between folds of the same method."),
        ("code", "agreement = ex.attribution_agreement(study, data)\n"
                 "fig = plots.agreement_heatmap(agreement, study.data_label)\n"
                 "study.save_figure(fig, 'attribution_agreement')\nstudy.save_table(agreement, 'attribution_agreement')"),
        ("md", "## Which attribution finds the planted bands?\n\nOn the synthetic corpus the bands that carry "
               "class evidence are known. Each method ranks the bands on every fold model; the table gives the "
               "share of its top k bands (k = the number of planted bands) that are planted, beside the share a "
               "random ranking would hit. Real data has no planted bands, so this table is empty there."),
        ("code", "recovery = ex.band_recovery(study, data)\nstudy.save_table(recovery, 'band_recovery')\n"
                 "recovery.groupby('method', sort=False)[['precision', 'chance']].agg(['mean', 'min', 'max'])"),
        ("md", "## Missing or wrong age\n\nThe router falls back to the unified model when age is missing, and "
               "reports it; a wrong age sends the item to the next age band's model (child and adult swap under the "
               "paper's two bands). The table says how many items went to each band's model."),
        ("code", "robustness = ex.age_robustness(study, data)\nstudy.save_table(robustness, 'age_robustness')\n"
                 "robustness"),
        ("md", "## Lambda, binary versus multiclass\n\nOne IS selection per lambda and task, the best "
               "cross-validated score of each. On the built-in corpus each row also gives the precision and recall "
               "of the bands it keeps against the planted ones, and the precision of its first ranking "
               "(`ranking_precision`: planted bands among its top k), which does not depend on where validation "
               "stops."),
        ("code", "sweep = ex.lambda_sweep(study, binary=binary, multiclass=data)\n"
                 "fig = plots.lambda_sweep(sweep, study.data_label)\nstudy.save_figure(fig, 'lambda_sweep')\n"
                 "study.save_table(sweep, 'lambda_sweep')\ndisplay(sweep)"),
        ("md", "## Two changes to IS\n\nIS as the paper runs it (page 3: importance averaged over every class, the "
               "best round kept) against two changes, each on the same folds x seeds at the paper's lambda. "
               "*Adventitious classes*: the importance averages the attributions of the abnormal classes only. A "
               "normal item's evidence is the absence of adventitious sounds, so the normal class's Grad-CAM "
               "points away from the bands that carry them; with two classes it is half of every mean. *Fewest "
               "bands not worse*: the round kept is the one with the fewest bands whose validation score is not "
               "decidedly below the best round's (the 95 % interval of their paired difference reaches 0), the "
               "rule every verdict of this study follows, instead of the best round, which on a handful of pairs "
               "can keep 16 more bands for a gain no interval tells from 0. On the built-in corpus the table gives "
               "the precision and recall of the kept bands against the planted ones; the paired comparisons below "
               "say what each change costs on the test set."),
        ("code", "variants = ex.is_variants(study, binary=binary, multiclass=data)\n"
                 "fig = plots.is_variants(variants, study.data_label)\nstudy.save_figure(fig, 'is_variants')\n"
                 "study.save_table(variants, 'is_variants')\n"
                 "ex.finish_beyond(study, agreement, robustness, sweep, variants)\ndisplay(variants)"),
        ("md", "## Paired comparisons\n\nEach comparison trains both configurations on the same folds x seeds and "
               "scores every pair on the same test items; the difference's 95 % interval decides, and an interval "
               "that contains 0 is undecided whatever the sign of the mean (the scorecard applies the paper's "
               "expected direction)."),
        ("code", "pairs = ex.saved_pairs(study)\nstudy.save_table(pairs, 'paired_comparisons')\ndisplay(pairs)"),
    ],
    "08_real_data": [
        ("md", "# Real data\n\nThe study's own notebooks run on real recordings (`make study DATA=sprsound "
               "DATA_ROOT=...`) and kept in the repository as snapshots (`python -m respcore.study snapshot "
               "write`): the same tables and summaries every page writes, with the data's fingerprint and the "
               "code that made them. This page trains nothing; it draws each snapshot with the same plot "
               "functions as the other pages, so it looks the same in every profile."),
        ("code", setup_cell("08_real_data").replace("display(Markdown(study.header()))",
                                                     "snapshots = ex.real_snapshots(study)\n"
                                                     "display(Markdown(ex.no_snapshot_note(study) if not snapshots "
                                                     "else ''))")),
        ("md", "## Headline\n\nScore per task and test set of each snapshot: the SPRSound challenge's starter recipe "
               "computed here (the baseline to beat), CNN-TSA (mean of the fold models chosen on validation, with its "
               "margin over the baseline and that margin's 95 % interval), CNN-TSA+FBS (kept bands and GMACs) and the "
               "best published figure. Provenance (data fingerprint, profile, code) follows per snapshot."),
        ("code", "headline = ex.real_headline(study)\nstudy.save_table(headline, 'headline')\ndisplay(headline)"),
        ("md", RATES_MD),
        ("code", "rates = ex.real_rates(study)\nstudy.save_table(rates, 'headline_rates')\ndisplay(rates)\n"
                 "for table in ex.real_confusion(study):\n    display(table)"),
        ("md", "## Each snapshot\n\nTSA placement (Table I), band retention with importance-based and backward "
               "selection (Figure 2), age models (Table II) and the one model's specificity by age band, the state "
               "of the art, the transformer, page 7's questions (Grad-CAM against Integrated Gradients, the age "
               "router with missing or wrong ages, lambda), and the paper's open questions (a band gate per sample "
               "against static IS at the same budget, IS on other fronts and their kept regions in Hz), on the "
               "real recordings, each with its test sets named."),
        ("code", "for snap in snapshots:\n"
                 "    display(Markdown(snap.banner))\n"
                 "    for name, fig, table in snap.figures:\n"
                 "        study.save_figure(fig, f'{snap.name}_{name}')\n"
                 "        study.save_table(table, f'{snap.name}_{name}')\n"
                 "        display(table)"),
    ],
    "09_open_questions": [
        ("md", "# The paper's open questions\n\nThe paper ends with two questions it leaves open: can a band "
               "selection made per sample beat its static, dataset-wide one, and does FBS work on other "
               "time-frequency representations than the log-Mel? Both are answered here with the study's own "
               "protocol: the same folds, seeds and test sets as every other page. The same two answers on real "
               "SPRSound recordings are drawn on the real-data page (notebook 8) from the committed snapshot, when "
               "it holds this notebook's run."),
        ("code", setup_cell("09_open_questions")),
        ("code", "answered = ex.open_questions(questions)\n"
                 "data = ex.load_data(study)\nbinary = ex.load_data(study, task='binary')\n"
                 "dynamic, fronts = ex.answer_open_questions(study, answered, binary=binary, multiclass=data,\n"
                 "                                           static_from=static_from)"),
        ("md", "## Dynamic band selection: a gate per sample\n\nThe paper's first open question: can a "
               "sample-specific band choice beat its static, dataset-wide selection? A light gate (each band's mean "
               "and maximum over time, a two-layer MLP) keeps a fixed budget of bands per sample, so the backbone "
               "costs what a static model with that many bands costs; it trains end to end with the CNN-TSA "
               "(straight-through gradient). The gate starts from the static IS selection at its budget (a "
               "learned per-band bias, +4 on those bands and -4 elsewhere) and learns where each sample should "
               "depart from it, so the comparison asks whether per-sample departures help; `departure` is the "
               "share of a test item's kept bands outside the static set. At the largest budget a second gate "
               "starts from nothing (`start` \"no prior\"), to show what a free gate learns: its straight-through "
               "gradient reaches only the bands a sample keeps, so a band it drops early gets no signal to come "
               "back. Each budget is compared with the static IS round keeping as many "
               "bands, on the same folds x seeds (gate minus static, 95 % interval). On the built-in corpus the "
               "heat map shows which bands the gate keeps for each class, beside the bands planted for it."),
        ("code", "if dynamic is not None:\n"
                 "    fig = plots.gate_bands(dynamic.keep, ex.planted_bands(data.truth), study.data_label)\n"
                 "    study.save_figure(fig, 'gate_bands')\n    study.save_table(dynamic.table, 'gate_vs_static')\n"
                 "    study.save_table(dynamic.recovery, 'gate_recovery')\n    display(dynamic.table)\n"
                 "    display(dynamic.recovery)"),
        ("md", "## FBS on other time-frequency fronts\n\nImportance-based selection (Grad-CAM, the same lambda "
               "and steps) on three fronts with the same number of bands between the same frequencies: the "
               "log-Mel, a linear-frequency front (triangular bands evenly spaced in Hz over the STFT, "
               "torchaudio's `linear_fbanks`) and a gammatone front (4th-order gammatone filters from "
               "`scipy.signal.gammatone`, evenly spaced on the ERB-rate scale). Each band maps to the range of "
               "frequencies it stands for, so the kept regions can be compared across fronts: the overlap is "
               "the intersection over the union of the kept ranges, in Hz."),
        ("code", "if fronts is not None:\n"
                 "    fig = plots.front_curves(fronts.curves, study.data_label)\n"
                 "    study.save_figure(fig, 'front_curves')\n    study.save_table(fronts.curves, 'front_curves')\n"
                 "    display(fronts.curves[fronts.curves['best']])"),
        ("code", "if fronts is not None:\n"
                 "    fig = plots.kept_ranges(fronts.kept, study.data_label, ex.planted_ranges(data))\n"
                 "    study.save_figure(fig, 'front_kept_ranges')\n"
                 "    study.save_table(fronts.kept, 'front_kept_ranges')\n"
                 "    study.save_table(ex.band_map(study), 'band_to_hz')\n"
                 "    display(fronts.overlap.pivot(index='a', columns='b', values='overlap').round(2))"),
        ("md", "## Paired comparisons\n\nGate minus static IS at each budget, on the same folds x seeds and test "
               "items; an interval that contains 0 is undecided."),
        ("code", "ex.finish_open_questions(study, dynamic, fronts, static_from=static_from)\npairs = ex.saved_pairs(study)\n"
                 "study.save_table(pairs, 'paired_comparisons')\ndisplay(pairs)"),
    ],
    "scorecard": [
        ("md", "# Claims scorecard\n\nOne row per claim of the paper and one cell per data source: the built-in "
               "corpus (this run), and SPRSound or ICBHI (this run when it ran on them, else their committed "
               "snapshots). Each cell is computed from the result files (`summary.json`), never typed by hand: the "
               "mean paired difference over folds x seeds, in points of the test set's headline score, with its "
               "95 % interval and number of pairs. **reproduced**: the interval lies on the paper's side of 0; "
               "**contradicted**: on the other side; **undecided**: it contains 0, whatever the sign of the mean; "
               "**not testable**: results missing, data that cannot test the claim, or the smoke profile. Hover a "
               "cell for what was compared and on which data."),
        ("code", setup_cell("scorecard")),
        ("code", "card = ex.claims_scorecard(study)\nstudy.save_table(card, 'scorecard')\n"
                 "display(Markdown(ex.verdict_counts(card)))\nex.styled_scorecard(card)"),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    title, *rest = cells
    nb.cells.append(new_markdown_cell(title[1]))
    params = new_code_cell(PARAMETERS + NOTEBOOK_PARAMETERS.get(name, ""))
    params.metadata["tags"] = ["parameters"]
    nb.cells += [params, new_code_cell(IMPORTS)]
    for kind, text in rest:
        nb.cells.append(new_markdown_cell(text) if kind == "md" else new_code_cell(text))
    for cell in nb.cells[1:]:
        if cell.cell_type == "code":  # the book shows outputs; the code is one click away
            cell.metadata.setdefault("tags", []).append("hide-input")
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name.replace('_', '-')}-{i:02d}"  # stable ids: rebuilding gives identical files
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(name, cells), HERE / f"{name}.ipynb")
        print(f"wrote notebooks/{name}.ipynb")


if __name__ == "__main__":
    main()
