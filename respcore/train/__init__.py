"""Training: one config (``TrainConfig``), one loop (``fit``), patient-wise cross-validation
(``cross_validate``), one fold format (``splits``) and one run cache (``runs``).

Every training is a job fully described by its config and data, with its result on disk.
"""
from .config import TrainConfig
from .cv import CVResult, cross_validate, make_folds
from .fit import FitResult, as_tests, evaluate, fit, load_fit
from .loop import predict_logits, resolve_device
from .splits import Folds, load_folds, patient_folds, save_folds

__all__ = ["TrainConfig", "FitResult", "fit", "load_fit", "evaluate", "as_tests", "cross_validate", "CVResult",
           "make_folds", "Folds", "patient_folds", "save_folds", "load_folds", "predict_logits", "resolve_device"]
