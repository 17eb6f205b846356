"""Exercise 4.1: the sticky transition kernel (eq. 4.2).

Check your solution with ``python -m exercises.check ex04_1``.
"""

import numpy as np  # noqa: F401


def sticky_kernel(alpha, vocab):
    """The environment's transition kernel T[a, v] = P(realized token v | intended token a).

    Inputs
        alpha  float in [0, 1]: the probability that the environment ignores the action
        vocab  int V >= 2: the number of tokens

    Returns T, array (V, V) of float64: row a is the distribution of the appended token when
    the policy intends token a.

    Formula. With probability 1 - alpha the environment appends the intended token; with
    probability alpha it appends a token drawn uniformly from ALL V tokens (it may be the
    intended one):

        (4.2)  T(x = v | a) = (1 - alpha) [v = a] + alpha / V

    Check: compared with ``reference.gflownet.envs.sticky_kernel`` for alpha in {0, 0.1,
    random, 1} and V in {2, 4, 7}; relative error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 4.1: implement sticky_kernel (eq. 4.2)")
