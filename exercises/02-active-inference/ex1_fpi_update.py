"""Exercise 2.1: the single-factor fixed-point (fpi) update (eqs. 2.1, 2.5-2.6).

Check your solution with ``python -m exercises.check ex02_1``.
"""

import numpy as np  # noqa: F401

from reference.active_inference.maths import EPS  # noqa: F401  (eps = 2.220446049250313e-16)


def fpi_posterior(A, obs, prior):
    """The posterior over one hidden-state factor after one observation in every modality.

    Inputs (batch = leading batch axis, S = number of states, O_m = outcomes of modality m)
        A      list over modalities of arrays (batch, O_m, S): the likelihoods p(o_m | s);
               every column A[m][b, :, s] sums to 1; entries may be exactly 0 or below eps
        obs    list over modalities of arrays (batch, O_m): the observations as categorical
               vectors, one-hot (hard) or any distribution over outcomes (soft)
        prior  array (batch, S): the EMPIRICAL prior p over states (B q_prev, eq. 2.11; D at
               t = 0); entries may be exactly 0

    Returns q, array (batch, S): rows on the simplex.

    Formulas. Every log is the clipped log of eq. (2.1), as pymdp's:

        (2.1)  ln+(x) = ln(max(x, eps)),   eps = 2.220446049250313e-16 (float64 machine eps)

    so ln+ is finite and o * ln+(A) is exactly 0 where o == 0. Per modality, the EXPECTED
    log-likelihood (a soft observation is a geometric mixture of rows of ln A, NOT
    ln sum_o o[o] A[o, s]):

        (2.5)  LL_m[s] = sum_o obs_m[o] ln+ A_m[o, s]

    and with one factor one pass is exact (pymdp's num_iter is ignored):

        (2.6)  q = softmax( sum_m LL_m + ln+ prior )          softmax over the state axis

    Check: compared with ``reference.active_inference.inference.fpi`` on one, two and three
    modalities, hard and soft observations, exact zeros in A, an outcome that A calls
    impossible, near-deterministic A, and A entries of 1e-16 with a prior that rules out the
    observed state (where ln max(x, eps) and ln(x + eps) differ); relative error
    (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 2.1: implement fpi_posterior (eqs. 2.5-2.6)")
