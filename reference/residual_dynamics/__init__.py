"""Chapter 1: residual-logit dynamics on the probability simplex.

Public API: :func:`init_params`, :func:`forward`, :func:`loss_and_grads`, :func:`train`,
plus the building blocks (:func:`step`, :func:`step_backward`, :func:`objective`, ...).
"""

from reference.residual_dynamics.model import (
    ENTROPY_WEIGHT,
    EPS,
    backprop_through_time,
    default_alpha,
    entropy,
    forward,
    init_params,
    loss,
    loss_adjoints,
    loss_and_grads,
    make_inputs,
    objective,
    step,
    step_backward,
)
from reference.residual_dynamics.train import TrainResult, train

__all__ = [
    "ENTROPY_WEIGHT",
    "EPS",
    "backprop_through_time",
    "default_alpha",
    "entropy",
    "forward",
    "init_params",
    "loss",
    "loss_adjoints",
    "loss_and_grads",
    "make_inputs",
    "objective",
    "step",
    "step_backward",
    "train",
    "TrainResult",
]
