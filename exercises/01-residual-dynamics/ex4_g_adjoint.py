"""Exercise 1.4: the adjoint of the g recursion over a whole sequence (eq. 1.11).

Check your solution with ``python -m exercises.check ex01_4``.
"""

import numpy as np  # noqa: F401


def g_adjoint(alpha, gbar_direct):
    """Total adjoints dL/dg_t of the filter g_t = alpha g_{t-1} + (...), t = 1..T.

    The loss touches each g_t directly (for the chapter's loss, 2 c g_t, eq. 1.7) and, through
    g_{t+1} = alpha g_t + ..., every later g as well. Ignoring the MLP-input path, the total
    adjoint obeys the backward recursion (eq. 1.11 plus the direct term)

        gbar_T = gbar_direct_T
        gbar_t = gbar_direct_t + alpha * gbar_{t+1}        t = T-1, ..., 1

    Inputs
        alpha        (m,)       filter constants in [0, 1], broadcast over the batch
        gbar_direct  (T, B, m)  the direct adjoints, time-major: gbar_direct[t-1] is step t

    Returns
        gbars        (T, B, m)  the total adjoints, gbars[t-1] = dL/dg_t; a new array

    Check: compared with autograd on the linear recursion, a closed form and, in one case, the
    library's ``backprop_through_time`` (on a model whose MLP ignores g); random cases, B = 1,
    T = 1, alpha in {0, 1}, T = 200; relative error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 1.4: implement g_adjoint (eq. 1.11)")
