"""Training: one config (``TrainConfig``), one loop (``fit``), patient-wise cross-validation
(``cross_validate``), one fold format (``splits``), one run cache (``runs``) and the job grid that runs
independent trainings together (``grid``: in this process, or on a Ray cluster).

Every training is a job fully described by its config and data, with its result on disk.
"""
from .config import TrainConfig
from .cv import CVPlan, CVResult, cross_validate, cross_validate_many, make_folds, plan_cv
from .fit import FitResult, as_tests, evaluate, fit, load_fit
from .grid import JobError, RayExecutor, SerialExecutor, TrainJob, make_executor
from .loop import predict_logits, resolve_device
from .splits import Folds, load_folds, patient_folds, save_folds

__all__ = ["TrainConfig", "FitResult", "fit", "load_fit", "evaluate", "as_tests", "cross_validate", "CVResult",
           "make_folds", "Folds", "CVPlan", "plan_cv", "cross_validate_many", "TrainJob", "JobError",
           "SerialExecutor", "RayExecutor", "make_executor", "patient_folds", "save_folds", "load_folds", "predict_logits", "resolve_device"]
