"""Measure, inside an unmodified training call, how much of its wall time the model itself takes.

``ModelClock`` installs PyTorch's global module and optimizer hooks for the duration of a ``with``
block. A training step's model work runs from the outermost module's forward call to the end of
the optimizer step (forward, loss, backward, update); an evaluation pass is the outermost forward
call alone. Everything else in the block (indexing batches, moving them, metrics, checkpoints,
bookkeeping) is time outside the model. Both sides are measured in the same call, so a slow drift
in the machine's load affects them alike.
"""
from __future__ import annotations

import time
from types import TracebackType

import torch
from torch import nn
from torch.nn.modules import module as nn_module
from torch.optim import optimizer as optim_module


class ModelClock:
    """Context manager summing the seconds spent in model work; see the module docstring.

    Attributes after the block: ``model_s`` (model seconds), ``wall_s`` (the block's seconds),
    ``steps`` (optimizer steps seen), ``forwards`` (outermost forward calls).
    Example::

        with ModelClock() as clock:
            respcore.train.fit(train, val, config)
        outside = 1 - clock.model_s / clock.wall_s
    """

    def __init__(self, *, cuda_sync: bool = False) -> None:
        self.cuda_sync = cuda_sync
        self.model_s = self.wall_s = 0.0
        self.steps = self.forwards = 0
        self._depth = 0
        self._open: float | None = None  # start of the running interval, if any
        self._handles: list = []

    def _now(self) -> float:
        if self.cuda_sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _close(self) -> None:
        if self._open is not None:
            self.model_s += self._now() - self._open
            self._open = None

    def _pre_forward(self, module: nn.Module, args: object) -> None:
        if self._depth == 0:
            self.forwards += 1
            if self._open is None:  # a training step opens here and closes after optimizer.step()
                self._open = self._now()
        self._depth += 1

    def _post_forward(self, module: nn.Module, args: object, output: object) -> None:
        self._depth -= 1
        if self._depth == 0 and not module.training:
            self._close()  # evaluation: the forward call is all the model work

    def _post_step(self, optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        self.steps += 1
        self._close()

    def __enter__(self) -> "ModelClock":
        self._handles = [nn_module.register_module_forward_pre_hook(self._pre_forward),
                         nn_module.register_module_forward_hook(self._post_forward),
                         optim_module.register_optimizer_step_post_hook(self._post_step)]
        self._t0 = self._now()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()
        self.wall_s = self._now() - self._t0
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @property
    def outside_share(self) -> float:
        """Fraction of the block's wall time spent outside the model."""
        return 1.0 - self.model_s / self.wall_s if self.wall_s > 0 else float("nan")
