"""Which attribution finds the planted bands? Top-k band ranking versus the synthetic corpus's truth.

Reuses the study's cached cross-validation fold models (run the study, or notebook 03, first with the same
profile) and ranks the Mel bands by FBS importance (mean minus lambda x std over folds and classes) for
Grad-CAM at each conv block, saliency and Integrated Gradients. Prints the precision of the top-k bands
against the k planted (informative) bands, with the chance level, and writes a CSV.

    python benchmarks/attribution_layers.py --profile cpu --out benchmarks/results/attribution_layers.csv
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from respcore.study import informative_bands, load_data, setup
from respcore.study.tables import cross_validate, train_config
from respcore.fbs import band_attributions, importance_scores

METHODS = (("gradcam", None), ("gradcam", 1), ("gradcam", 2), ("saliency", None), ("ig", None))
LAMBDAS = (0.0, 0.5, 1.0)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/attribution_layers.csv"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    study = setup("03_band_retention", dataset="synthetic", data_root="", profile=args.profile,
                  out_dir="/tmp/respcore-attribution-layers")
    rows = []
    for task in ("multiclass", "binary"):
        data = load_data(study, task)
        planted = set(informative_bands(data.truth))
        k = len(planted)
        cv = cross_validate(study, data, train_config(study, data))  # cached by the study
        for method, layer in METHODS:
            attrs = torch.stack([
                band_attributions(fit.model, data.train.subset(cv.folds[j % len(cv.folds)][1]), method,
                                  layer=layer, batch_size=64, ig_steps=8)
                for j, fit in enumerate(cv.fits)])  # (folds, C, F)
            for lam in LAMBDAS:
                top = set(torch.argsort(importance_scores(attrs, lam), descending=True)[:k].tolist())
                rows.append({"task": task, "method": method, "layer": "last" if layer is None else layer,
                             "lambda": lam, "k": k, "precision": len(top & planted) / k,
                             "chance": k / data.train.n_bands})
    table = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
