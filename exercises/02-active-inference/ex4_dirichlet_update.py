"""Exercise 2.4: the Dirichlet update of pA and the expected likelihood A (eqs. 2.20-2.21).

Check your solution with ``python -m exercises.check ex02_4``.
"""

import numpy as np  # noqa: F401

from reference.active_inference.maths import EPS  # noqa: F401  (eps = 2.220446049250313e-16)


def update_dirichlet_A(pA, obs_seq, qs_seq, lr):
    """pymdp's update of the Dirichlet counts of one modality over one factor, then E[A].

    Inputs (batch = leading batch axis, T time steps, O outcomes, S states)
        pA       (batch, O, S): Dirichlet counts, >= 0 (exact zeros allowed, even whole
                 columns)
        obs_seq  (batch, T, O): the observations at t = 0..T-1, one-hot or soft
        qs_seq   (batch, T, S): the posterior beliefs at the same steps
        lr       float > 0: the learning rate

    Returns (new_pA, new_A), both (batch, O, S), new arrays (do not modify pA):

        (2.21) new_pA[o, s] = pA[o, s] + lr * sum_t obs_t[o] qs_t[s]
        (2.20) new_A = max(new_pA, eps) / sum_o max(new_pA, eps)       (normalise over o)

    eps = 2.220446049250313e-16. Clipping BEFORE normalising means a column with no counts
    comes back uniform, and a structural zero comes back as a tiny eps / sum (pymdp #453).

    Check: compared with ``reference.active_inference.learning.update_pA`` on hard and soft
    observations, lr != 1, a state with an all-zero column, structural zeros, a square
    O = S model (a transposed outer product shows), T = 1 and large prior counts; relative
    error (``reference.gradcheck.rel_error``) <= 1e-8 for each output.
    """
    raise NotImplementedError("Exercise 2.4: implement update_dirichlet_A (eqs. 2.20-2.21)")
