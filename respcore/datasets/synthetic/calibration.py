"""Target statistics of the real datasets that the synthetic corpus is calibrated to (issue 10).

Every number here was measured with :mod:`respcore.datasets.stats` from the real annotation and
metadata files in ``../shared/realdata`` (ICBHI: all 920 annotation files and the official split and
demographic files; SPRSound 2022: all 2,683 annotation files). ``tests/test_stats.py`` recomputes them
when ``RESPCORE_REALDATA`` is set, so a drift between these constants and the data fails a test.
Quantile lists are at ``stats.QUANTILE_LEVELS`` (0, 1, 5, 10, 20, ..., 90, 95, 99, 100 %).
"""
from __future__ import annotations

# --- ICBHI 2017 (icbhi_summary on annotations/ + official/) ---
ICBHI_CYCLES = {  # cycles per official split and class
    "train": {"normal": 2063, "crackle": 1215, "wheeze": 501, "both": 363},
    "test": {"normal": 1579, "crackle": 649, "wheeze": 385, "both": 143},
}
ICBHI_RECORDINGS = {"train": 539, "test": 381}
ICBHI_PATIENTS_BY_AGE_GROUP = {"pediatric": 49, "adult": 76}  # patient 223 has no age
ICBHI_RECORDINGS_BY_AGE_GROUP = {"pediatric": 76, "adult": 838}  # 6 recordings of patient 223 excluded
ICBHI_CYCLES_BY_AGE_GROUP = {"pediatric": 788, "adult": 6049}
ICBHI_SHARED_PATIENTS = 2  # patients 156 and 218 are in both official splits
ICBHI_DEVICES = {"AKGC417L": 646, "Meditron": 127, "LittC2SE": 87, "Litt3200": 60}  # recordings
ICBHI_CYCLES_PER_RECORDING = [2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 9.0, 11.0, 13.0, 19.81, 33.0]
ICBHI_CYCLE_SECONDS = {  # cycle length quantiles by the patient's age group
    "adult": [0.243, 0.738, 1.1588, 1.485, 1.8887, 2.202, 2.404, 2.621, 2.9229, 3.289, 3.6671, 4.141, 4.657,
              6.411, 16.163],
    "pediatric": [0.2, 0.3403, 0.6713, 0.8958, 1.129, 1.329, 1.5148, 1.793, 2.0142, 2.2, 2.486, 2.843, 3.4,
                  6.2307, 7.157],
}
ICBHI_AGE_QUANTILES = {  # patient age quantiles (years) by age group
    "pediatric": [0.25, 0.37, 0.616, 0.734, 1.0, 2.0, 2.2, 3.0, 3.8, 5.0, 9.4, 13.2, 14.0, 16.0, 16.0],
    "adult": [19.0, 20.5, 54.5, 56.5, 61.0, 65.0, 66.0, 69.0, 71.0, 73.5, 75.0, 79.0, 81.5, 87.0, 93.0],
}

# --- SPRSound 2022 (sprsound_summary on annotations_2022/) ---
SPRSOUND_EVENTS = {  # events per split and type
    "train": {"Normal": 5159, "Rhonchi": 39, "Wheeze": 452, "Stridor": 15, "Coarse Crackle": 49,
              "Fine Crackle": 912, "Wheeze+Crackle": 30},
    "inter": {"Normal": 1040, "Rhonchi": 0, "Wheeze": 305, "Stridor": 0, "Coarse Crackle": 3,
              "Fine Crackle": 80, "Wheeze+Crackle": 1},
    "intra": {"Normal": 688, "Rhonchi": 14, "Wheeze": 108, "Stridor": 2, "Coarse Crackle": 14,
              "Fine Crackle": 175, "Wheeze+Crackle": 3},
}
SPRSOUND_RECORDS = {  # records per split and record label
    "train": {"Normal": 1303, "CAS": 126, "DAS": 248, "CAS & DAS": 95, "Poor Quality": 177},
    "inter": {"Normal": 241, "CAS": 65, "DAS": 24, "CAS & DAS": 17, "Poor Quality": 8},
    "intra": {"Normal": 241, "CAS": 42, "DAS": 75, "CAS & DAS": 19, "Poor Quality": 2},
}
SPRSOUND_PATIENTS = {"train": 251, "inter": 41, "intra": 162}  # intra patients are all train patients
SPRSOUND_EVENTS_PER_RECORD = 3.641  # over records that are not Poor Quality
SPRSOUND_EVENT_SECONDS = [0.126, 0.327, 0.467, 0.581, 0.77, 0.93, 1.077, 1.22, 1.361, 1.523, 1.7354, 2.092, 2.4462,
                          3.3487, 7.152]
SPRSOUND_AGE_QUANTILES = [0.2, 0.2, 0.555, 1.31, 2.62, 3.43, 4.1, 4.8, 5.3, 6.6, 7.98, 10.39, 11.845, 14.154,
                          16.2]
# Not from annotations: the README of ../shared/realdata (checked on every 2022 wav there) says 8 kHz,
# 16-bit, mostly 9.216 s or 15.36 s long.
SPRSOUND_SAMPLE_RATE = 8000
SPRSOUND_RECORD_SECONDS = (9.216, 15.36)
