"""Exercise 1.3: the adjoint of one residual-logit step (eqs. 1.10-1.11).

Check your solution with ``python -m exercises.check ex01_3``.
"""

import numpy as np  # noqa: F401

from reference.residual_dynamics.model import EPS  # noqa: F401  (eps = 1e-9)


def residual_step_adjoint(zbar, N_prev, y_t, alpha, gbar_t):
    """What one step t sends back to N_{t-1} and g_{t-1}, apart from the MLP-input path.

    The step is (eqs. 1.3-1.5, products elementwise, alpha broadcast over the batch)

        z_t = log(N_{t-1} + eps) + d_t,   N_t = softmax(z_t),
        g_t = alpha g_{t-1} + (N_t - alpha N_{t-1}) y_t.

    Inputs (B = batch rows, m = simplex size)
        zbar    (B, m)  dL/dz_t, the softmax backward of dL/dN_t (eq. 1.8)
        N_prev  (B, m)  N_{t-1}: rows on the simplex, entries may be tiny or exactly 0
        y_t     (B, m)  the input y_t
        alpha   (m,)    the filter constants, in [0, 1]
        gbar_t  (B, m)  dL/dg_t, the total adjoint of g_t

    Returns the pair (Nbar_prev, gbar_prev), each (B, m):

        Nbar_prev = zbar / (N_{t-1} + eps) - alpha y_t gbar_t                  (eq. 1.10)
        gbar_prev = alpha gbar_t                                               (eq. 1.11)

    i.e. eqs. (1.10)-(1.11) without the xbar term (the MLP sees N_{t-1} and g_{t-1} too; that
    path is left out here). The first term is the gradient through the log-residual: it is
    NOT a constant (no stop-gradient), and the eps stays in 1 / (N_{t-1} + eps).

    Check: compared with ``reference.residual_dynamics.model.step_backward`` on a model whose
    first MLP layer has zero weights, so that the MLP-input path is exactly zero; random steps,
    B = 1, tiny and zero entries in N_prev, alpha in {0, 1}; relative error
    (``reference.gradcheck.rel_error``) <= 1e-8 for each output.
    """
    raise NotImplementedError("Exercise 1.3: implement residual_step_adjoint (eqs. 1.10-1.11)")
