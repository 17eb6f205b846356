"""Exercise 4.3: the exact terminal distribution of a tiny prefix tree (eqs. 4.1, 4.5).

Check your solution with ``python -m exercises.check ex04_3``.
"""

import numpy as np  # noqa: F401


def exact_terminal_distribution(tables, alpha):
    """The probability of every length-L sequence under a tabular policy and sticky noise.

    Inputs
        tables  list of L arrays; tables[t] has shape (V^t, V) and holds the LOGITS
                (unnormalised; entries may be -inf) of pi(a | x_<t) for every prefix of
                length t, row = the prefix's code (eq. 4.1); tables[0] is (1, V)
        alpha   float in [0, 1]: the sticky-noise probability

    Returns p, array (V^L,): p[c] is the probability that the realized sequence has code c,

        (4.1)  c(x) = sum_t x_t V^(L - 1 - t)       (first token most significant)
        (4.5)  p(x) = prod_t q(x_t | x_<t),
               q(. | x_<t) = (1 - alpha) softmax(tables[t][c(x_<t)]) + alpha / V

    Hint: go down the tree one level at a time. If p_t (V^t,) holds the probabilities of the
    prefixes of length t, the child of prefix c with token v has code c V + v, so the next level
    is the (V^t, V) array p_t[c] q_t[c, v] flattened row by row.

    Check: compared with ``reference.gflownet.metrics.terminal_distribution`` (with
    ``tabular_policy``) for (L, V) in {(3, 2), (2, 4), (4, 3), (3, 3)}, alpha in {0, 0.1, ...,
    1}, logits of size ~50 and -inf logits; relative error (``reference.gradcheck.rel_error``)
    <= 1e-8.
    """
    raise NotImplementedError("Exercise 4.3: implement exact_terminal_distribution (eq. 4.5)")
