"""Exercise 4.6: the deconvolved policy, undoing the sticky mixing of eq. (4.3).

Check your solution with ``python -m exercises.check ex04_6``.
"""

import numpy as np  # noqa: F401


def deconvolve(cond, alpha):
    """The intended policy whose realized token distribution is as close as possible to ``cond``.

    Inputs
        cond   array (..., V): rows of WANTED realized distributions q(v | s) (non-negative,
               each row sums to 1; entries may be exactly 0)
        alpha  float in [0, 1]: the sticky-noise probability

    Returns pi, array (..., V): rows of intended-token distributions.

    The environment realizes (eq. 4.3) q = (1 - alpha) pi + alpha / V. Where every entry of a
    row is at least alpha / V, invert it exactly:

        pi = (q - alpha / V) / (1 - alpha)

    Otherwise no policy can produce q (the noise alone puts alpha / V on every token): clip the
    negative parts and renormalise the row,

        pi = max(q - alpha / V, 0) / sum_v max(q_v - alpha / V, 0)

    (which is the same formula when nothing is clipped). At alpha = 1 the policy does not
    matter; return the uniform one.

    Check: compared with ``reference.gflownet.metrics.deconvolve`` on attainable rows (the
    exact inverse), rows with entries below alpha / V, exact zeros and a point mass, alpha = 0
    and alpha = 1, and leading batch axes; relative error (``reference.gradcheck.rel_error``)
    <= 1e-8.
    """
    raise NotImplementedError("Exercise 4.6: implement deconvolve (eq. 4.3)")
