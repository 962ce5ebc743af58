"""Page 4's second question: where the one model for all errs by the child's age band, how much of its
fall from validation to a test set the test children's age mix alone explains, and, for a test set of
training patients, whether the fall is in the children or in the recordings."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..age import age_shift_weights, sample_groups
from ..metrics import confusion, scores_from_confusion
from ..train.fit import score_logits
from .config import Study
from .data import StudyData
from .headline import VALIDATION, validation_sets
from .tables import cross_validate, train_config


def errors_by_age(study: Study, data: StudyData) -> pd.DataFrame:
    """Where the one model for all errs, by the child's age band: the CNN-TSA of every fold x seed on each
    band's part (and the whole) of its out-of-fold validation items and of every named test set, beside
    each set's age mix; and its validation scores reweighted to each test set's age mix
    (``age_shift_weights``: the test items' ages only, never their labels), which say how much of the fall
    from validation to test the age mix alone explains.

    A test set whose children are training patients (SPRSound's intra set) also gets the validation
    scores of those very children (their recordings held out with their fold): beside the test set's own,
    they tell a shift in the children from one in the recordings.

    Returns rows (set, band, share: of the set's items of known age, n, n_normal, Sp, Se, the benchmark's
    score: means over the fold models); the reweighted and same-children rows have band "all"; the
    reweighted ones say which bands had no validation item to stand in for them (``missing``).
    """
    cv = cross_validate(study, data, train_config(study, data))
    bands, n_classes, normal, score = data.facts.age_bands, data.train.n_classes, data.facts.normal, data.facts.score
    names = list(bands.names)
    train_groups = np.asarray(sample_groups(data.train, bands), dtype=object)
    sets = {name: (test, np.asarray(sample_groups(test, bands), dtype=object)) for name, test in data.tests.items()}
    cms: dict[str, list[dict[str, np.ndarray]]] = {VALIDATION: [], **{name: [] for name in sets}}  # per fit, per band
    reweighted: dict[str, list[np.ndarray]] = {name: [] for name in sets}  # per fit: validation in the test's mix
    missing: dict[str, set[str]] = {name: set() for name in sets}  # per test set: bands no fold can weight
    seen = {name: np.isin(data.train.groups, test.groups) for name, (test, _) in sets.items()}  # its children
    seen = {name: mask for name, mask in seen.items() if mask.any()}
    same_children: dict[str, list[np.ndarray]] = {name: [] for name in seen}  # per fit: their validation items

    def by_band(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
        out = {g: confusion(y[groups == g], pred[groups == g], n_classes) for g in names}
        return {**out, "all": confusion(y, pred, n_classes)}

    for fit, held_out in zip(cv.fits, validation_sets(cv, data.train)):
        device = next(fit.model.parameters()).device
        held_groups = np.asarray(sample_groups(held_out, bands), dtype=object)
        y_val = held_out.y.numpy()
        pred = score_logits(fit.model, held_out, fit.config, device).argmax(1).numpy()
        val_cms = by_band(y_val, pred, held_groups)
        cms[VALIDATION].append(val_cms)
        for name in seen:
            mine = np.isin(held_out.groups, sets[name][0].groups)
            same_children[name].append(confusion(y_val[mine], pred[mine], n_classes))
        for name, (test, groups) in sets.items():
            weights = age_shift_weights(held_groups, groups, names)  # this fold's mix to the test set's
            missing[name].update(g for g, w in weights.items() if np.isnan(w))
            reweighted[name].append(sum(w * val_cms[g] for g, w in weights.items() if not np.isnan(w)))
            test_pred = score_logits(fit.model, test, fit.config, device).argmax(1).numpy()
            cms[name].append(by_band(test.y.numpy(), test_pred, groups))

    def rates(matrices: list[np.ndarray]) -> dict[str, float]:
        """Mean over the fold models of each rate; NaN where no model had an item of the class group."""
        rows = [scores_from_confusion(cm, normal) for cm in matrices if cm.sum()]
        values = {k: [r[k] for r in rows if not np.isnan(r[k])] for k in ("Sp", "Se", score)}
        return {k: float(np.mean(v)) if v else np.nan for k, v in values.items()}

    items = {VALIDATION: (data.train.y.numpy(), train_groups),  # every training item is held out once per seed
             **{name: (test.y.numpy(), groups) for name, (test, groups) in sets.items()}}
    table = []
    for where, per_fit in cms.items():
        y, groups = items[where]
        known = groups[groups != None]  # noqa: E711 (an object array of band names and None)
        for band in [*names, "all"]:
            part = np.ones(len(y), bool) if band == "all" else groups == band
            table.append({"set": where, "band": band, "n": int(part.sum()), "n_normal": int((y[part] == normal).sum()),
                          "share": float(np.mean(known == band)) if band != "all" else 1.0,
                          **rates([m[band] for m in per_fit])})
    for name, matrices in reweighted.items():
        table.append({"set": f"validation, reweighted to {name}'s ages", "band": "all", "n": len(train_groups),
                      "n_normal": int((data.train.y.numpy() == normal).sum()), "share": 1.0, **rates(matrices),
                      "missing": ", ".join(sorted(missing[name]))})
    for name, matrices in same_children.items():
        table.append({"set": f"validation, {name}'s children only", "band": "all", "n": int(seen[name].sum()),
                      "n_normal": int((data.train.y.numpy()[seen[name]] == normal).sum()), "share": 1.0,
                      **rates(matrices)})
    return pd.DataFrame(table).assign(fold_models=len(cv.fits))
