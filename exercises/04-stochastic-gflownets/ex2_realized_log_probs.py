"""Exercise 4.2: realized-token log-probabilities, computed in log space (eq. 4.3).

Check your solution with ``python -m exercises.check ex04_2``.
"""

import numpy as np  # noqa: F401


def realized_log_probs(log_pi, alpha):
    """log q(v | s) for a policy given by its log-probabilities over intended tokens.

    Inputs
        log_pi  array (..., V): log pi(a | s), normalised over the last axis; entries may be
                -inf (tokens the policy never proposes) or very negative (-1000)
        alpha   float in [0, 1]: the sticky-noise probability

    Returns array (..., V): log q(v | s), where q is the distribution of the REALIZED token:

        (4.3)  q(v | s) = (1 - alpha) pi(v | s) + alpha / V

    Compute it without leaving log space where that would underflow: np.exp(-1000) is 0.0 in
    float64, so with alpha = 0 the direct formula gives -inf where the answer is -1000.
    np.logaddexp(x, y) = log(e^x + e^y) is stable, and np.log1p(-alpha) = log(1 - alpha).

    Check: compared with ``reference.gflownet.metrics.log_realized`` on random policies,
    leading batch axes, -inf entries, alpha = 0 with entries of -1000, and alpha = 1; relative
    error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 4.2: implement realized_log_probs (eq. 4.3)")
