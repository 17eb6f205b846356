"""Exercise 3.4: the Jacobian of the (clipped) shallow PLRNN (eqs. 3.4-3.5).

Check your solution with ``python -m exercises.check ex03_4``.
"""

import numpy as np  # noqa: F401


def shplrnn_jacobian(A, W1, W2, h2, z, clipped):
    """dz'/dz of one shallow-PLRNN step, for each state of a batch.

    Inputs (row-major storage: the model acts on row vectors z of shape (M,))
        A   (M,): diagonal linear weights
        W1  (L, M): output weights          (the papers' W1 is W1.T, M x L)
        W2  (M, L): input weights           (the papers' W2 is W2.T, L x M)
        h2  (L,): hidden bias
        z   (batch, M): the states
        clipped  bool: the clipped variant (eq. 3.5)

    Returns J, array (batch, M, M), in PAPER orientation: J[b, i, j] = dz'_i / dz_j.

        (3.4)  z' = A * z + relu(z @ W2 + h2) @ W1 + h1
        (3.5)  z' = A * z + (relu(z @ W2 + h2) - relu(z @ W2)) @ W1 + h1     (clipped)

    so J = diag(A) + W1.T diag(d) W2.T with d = 1[z @ W2 + h2 > 0] (shPLRNN) or
    d = 1[z @ W2 + h2 > 0] - 1[z @ W2 > 0] (clipped). (h1 does not enter.)

    Check: compared with ``reference.dsr.models.ShallowPLRNN.jacobian`` for both variants,
    a large h2, tiny states, M = 1 and a narrow hidden layer; relative error
    (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 3.4: implement shplrnn_jacobian (eqs. 3.4-3.5)")
