"""Exercise 5.3: the modulation matrix (eq. 5.9).

Check your solution with ``python -m exercises.check ex05_3``.
"""

import numpy as np  # noqa: F401


def modulation_matrix(A, use_abs):
    """The synaptic-scaling factors of a weight matrix ``A: (n_in, n_out)``.

        (5.9) m_j = sum_i |A_ij|           (sum_i A_ij when use_abs is False)
              M_ij = min(2 m_j / max_k m_k, 1)

    Returns M of the shape of A (constant down each column). A unit whose total incoming
    strength is below half the strongest unit's gets a proportionally smaller update.
    (Every case has a positive largest m_k.)

    Check: compared with ``reference.ngc.hebbian.modulation`` on random matrices, a column of
    zeros, equal columns, a dominant column, the signed variant, a column whose signed sum
    cancels and a single row; relative error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 5.3: implement modulation_matrix (eq. 5.9)")
