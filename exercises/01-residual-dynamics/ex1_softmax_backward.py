"""Exercise 1.1: the softmax backward pass (eq. 1.8).

Check your solution with ``python -m exercises.check ex01_1``.
"""

import numpy as np  # noqa: F401


def softmax_vjp(s, dout):
    """Vector-Jacobian product of the softmax, computed from its output.

    Inputs
        s     array (..., m): a softmax output, s = softmax(z) along the last axis (entries
              in [0, 1], every row sums to 1). Leading axes are batch axes: (B, m) or (T, B, m).
        dout  array (..., m), same shape as s: the upstream adjoint dL/ds.

    Returns
        dz    array (..., m), same shape as s: the adjoint dL/dz of the logits.

    Formula (eq. 1.8), row by row, with <a, b> = sum over the last axis of a * b:

        dz = s * (dout - <dout, s>)

    This is J^T dout for the softmax Jacobian J = diag(s) - s s^T; do not build J (it is
    m x m per row). Only the last axis is reduced; every row is independent.

    Check: compared with ``reference.nn.softmax_backward`` on random rows, a square batch
    (B = m), time-major input (T, B, m), rows from logits ~1e3 (exact 0s and 1s in s) and
    dout shifted by a constant; relative error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 1.1: implement softmax_vjp (eq. 1.8)")
