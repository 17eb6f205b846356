"""Exercise 2.2: the variational free energy of a belief (eqs. 2.1, 2.5, 2.8, 2.11).

Check your solution with ``python -m exercises.check ex02_2``.
"""

import numpy as np  # noqa: F401

from reference.active_inference.maths import EPS  # noqa: F401  (eps = 2.220446049250313e-16)


def variational_free_energy(q, A, obs, D, B, q_prev, action):
    """F(q) for one factor and one modality at time t, against the prior q was inferred with.

    Inputs (batch = leading batch axis, S states, O outcomes, U controls)
        q       (batch, S): the belief whose free energy is wanted (any distribution; it may
                have exact zeros, and mass where the prior is 0)
        A       (batch, O, S): the likelihood p(o | s), columns sum to 1 (zeros allowed)
        obs     (batch, O): the observation, one-hot or soft
        D       (batch, S): the initial-state prior
        B       (batch, S, S, U): transitions, B[b, s', s, u] = p(s' | s, u), normalised over
                s' (axis 1)
        q_prev  (batch, S) or None: the previous belief; None means t = 0
        action  (batch,) integers: the control u taken at t - 1 (unused when q_prev is None)

    Returns F, array (batch,).

    The prior p is D at t = 0 and otherwise the EMPIRICAL prior (eq. 2.11):

        (2.11) p[b, s'] = sum_s B[b, s', s, action[b]] q_prev[b, s]

    With ln+(x) = ln(max(x, eps)) (eq. 2.1; 0 * ln+ 0 = 0) and the expected log-likelihood
    LL[s] = sum_o obs[o] ln+ A[o, s] (eq. 2.5):

        (2.8)  F = sum_s q ln+ q - sum_s q ln+ p - sum_s q LL
                 = KL(q || p) - E_q[ln p(o | s)]         (complexity minus accuracy)

    Check: compared with ``reference.active_inference.inference.empirical_prior`` and
    ``inference.vfe`` at t = 0 and t >= 1, hard and soft observations, q with exact zeros,
    zeros in A, a deterministic B (a prior with exact zeros where q has mass), A entries of
    1e-16 (below eps) and batch = 1; relative error (``reference.gradcheck.rel_error``)
    <= 1e-8.
    """
    raise NotImplementedError("Exercise 2.2: implement variational_free_energy (eq. 2.8)")
