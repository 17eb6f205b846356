"""Exercise 1.2: the gradient of the entropy term, with the eps kept (eq. 1.7).

Check your solution with ``python -m exercises.check ex01_2``.
"""

import numpy as np  # noqa: F401

from reference.residual_dynamics.model import EPS  # noqa: F401  (eps = 1e-9)


def entropy_direct_adjoint(N, c, w):
    """The direct adjoint dL/dN_t of the entropy term of the loss (eq. 1.6), eq. 1.7.

    The loss is L = mean over (t, b) of [ sum_m g^2 - w H(N_{t,b}) ] with the entropy
    H(N) = -sum_m N_m log(N_m + eps) and eps = 1e-9 (``EPS``); c = 1 / (T B) is the scale
    that the mean puts on every term.

    Inputs
        N   array of any shape (..., m), e.g. (T, B, m) or (B, m): rows on the simplex
            (entries in [0, 1], possibly exactly 0).
        c   float > 0: the scale 1 / (T B).
        w   float >= 0: the entropy weight (0.1 in the chapter's run).

    Returns
        Nbar  array, same shape as N: the part of dL/dN that comes from the entropy term,

            Nbar = w c (log(N + eps) + N / (N + eps))                          (eq. 1.7)

    Keep the eps: d/dN [N log(N + eps)] = log(N + eps) + N / (N + eps), not log N + 1.

    Check: compared with ``reference.residual_dynamics.model.loss_adjoints`` on random rows,
    rows with exact zeros, tiny entries (1e-12 .. 1e-8) and near one-hot rows, with different
    c and w; relative error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 1.2: implement entropy_direct_adjoint (eq. 1.7)")
