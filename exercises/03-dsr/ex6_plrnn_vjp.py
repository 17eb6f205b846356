"""Exercise 3.6: one backpropagation step through the PLRNN (eqs. 3.1-3.2).

Check your solution with ``python -m exercises.check ex03_6``.
"""

import numpy as np  # noqa: F401


def plrnn_step_vjp(A, W, h, z, g, mean_centering):
    """Vector-Jacobian products of one PLRNN step for a batch.

    Inputs (row-major storage: W acts as relu(c) @ W)
        A  (M,): diagonal weights;  W (M, M): off-diagonal weights (zero diagonal);  h (M,)
        z  (batch, M): the states the step starts from
        g  (batch, M): dL/dz', the adjoint of the step's output
        mean_centering  bool

    The step:

        (3.2)  c = z - mean_i z_i   (mean over the M units of each row)  if mean_centering,
               c = z                                                      otherwise
        (3.1)  z' = A * z + relu(c) @ W + h

    Returns (zbar, grad_A, grad_W, grad_h):
        zbar    (batch, M): dL/dz = g^T dz'/dz for each row
        grad_A  (M,), grad_W (M, M), grad_h (M,): summed over the batch; grad_W has a ZERO
                diagonal (W stays off-diagonal: the self-coupling lives in A)

    Check: compared with ``reference.dsr.models.PLRNN.vjp`` with and without mean-centring,
    mostly inactive ReLUs, M = 2 and batch 1; relative error
    (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 3.6: implement plrnn_step_vjp (eqs. 3.1-3.2)")
