"""Exercise 1.5: global-norm gradient clipping, then one Adam step, with PyTorch's semantics.

Check your solution with ``python -m exercises.check ex01_5``.
"""

import math  # noqa: F401

import numpy as np  # noqa: F401


def adam_step_with_clip(params, grads, state, lr, max_norm):
    """``torch.nn.utils.clip_grad_norm_(max_norm)`` followed by one ``torch.optim.Adam`` step.

    Inputs
        params    dict {name: array}: the parameters theta (any shapes)
        grads     dict with the same keys and shapes: the gradients g
        state     dict {"step": int k (0 before the first update), "m": {name: array},
                  "v": {name: array}}, like ``reference.nn.Adam().init(params)``
        lr        float > 0: the learning rate
        max_norm  float > 0: the clipping threshold

    Returns (new_params, new_state), new dicts of the same structure. Do not modify the inputs.

    Clipping (ONE global L2 norm over all tensors, weights and biases together):

        total = sqrt(sum over all tensors of sum(g^2))
        coef  = max_norm / (total + 1e-6)
        if coef < 1: every g = g * coef              (otherwise the gradients are untouched)

    Adam (betas = (0.9, 0.999), eps = 1e-8, no weight decay):

        k     = k + 1                                (so k = 1 on the first update)
        m     = 0.9 m + 0.1 g
        v     = 0.999 v + 0.001 g^2
        theta = theta - lr * (m / (1 - 0.9^k)) / (sqrt(v) / sqrt(1 - 0.999^k) + eps)

    eps is added AFTER the bias correction of sqrt(v) (PyTorch's order).

    Check: compared with ``reference.nn.clip_grad_norm`` + ``reference.nn.Adam`` on k = 1..4,
    norms above, below and just below max_norm (within the 1e-6), one tensor much larger than
    the others, and tiny gradients (1e-12) that expose the eps placement. Compared outputs:
    the update new - old, the moments m and v, and the step count; relative error
    (``reference.gradcheck.rel_error``) <= 1e-8 for each.
    """
    raise NotImplementedError("Exercise 1.5: implement adam_step_with_clip")
