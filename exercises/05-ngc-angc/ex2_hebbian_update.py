"""Exercise 5.2: the Hebbian updates of one synapse pair (eqs. 5.7-5.8).

Check your solution with ``python -m exercises.check ex05_2``.
"""

import numpy as np  # noqa: F401


def hebbian_pair(pre, err, W, E, gamma_e, modulate):
    """Local updates of the prediction synapse W^l and the error synapse E^l.

    Inputs (row-major, ``batch`` rows)
        pre      (batch, J_l):     phi(z^l), the activity of the predicting layer
        err      (batch, J_{l-1}): e^{l-1}, the error of the layer W^l predicts
        W        (J_l, J_{l-1}):   the current prediction weights
        E        (J_{l-1}, J_l):   the current error weights
        gamma_e  float;  modulate  bool

    Returns (dW, dE) of the shapes of W and E (ascent directions: W <- W + eta dW).

        (5.7) dW = (pre^T err) (.) M(W)             summed over the batch rows
        (5.8) dE = gamma_e dW^T (.) M(E)
        (5.9) M(A)_ij = min(2 m_j / max_k m_k, 1),  m_j = sum_i |A_ij|

    With ``modulate=False`` both M are ones. No loss is differentiated: each entry of dW is
    the product of the activity on one side of the synapse and the error on the other.

    Check: compared with ``reference.ngc.hebbian.hebbian_updates`` (use_abs=True) on random
    inputs, without modulation, with inactive units, with columns of mixed signs, batch 1 and
    a wide layer; relative error (``reference.gradcheck.rel_error``) <= 1e-8 for each output.
    """
    raise NotImplementedError("Exercise 5.2: implement hebbian_pair (eqs. 5.7-5.8)")
