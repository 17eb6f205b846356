"""Exercise 3.3: the Lyapunov spectrum by QR iteration (eq. 3.25).

Check your solution with ``python -m exercises.check ex03_3``.
"""

import numpy as np  # noqa: F401


def lyapunov_exponents(jacobians):
    """Lyapunov exponents per step of the product J_T ... J_2 J_1.

    Inputs
        jacobians  (T, M, M): J_t[i, j] = dz_t,i / dz_{t-1},j along an orbit

    Returns the M exponents, array (M,), sorted in DESCENDING order.

    Benettin's iteration: Q_0 = I, and for t = 1..T

        (3.25)  Q_t R_t = J_t Q_{t-1}         (QR decomposition, np.linalg.qr)
                lambda_i = (1/T) sum_t log |R_t[i, i]|

    Never form the product of the Jacobians itself: it overflows (or underflows) within a
    few hundred steps of a chaotic orbit.

    Check: compared with ``reference.dsr.metrics.lyapunov_from_jacobians`` on RK4 Jacobians
    of Lorenz-63 along an orbit, a diagonal map with negative entries, a non-normal map over
    2000 steps, rotations with a stretch, random Gaussian matrices and a single step;
    relative error
    (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 3.3: implement lyapunov_exponents (eq. 3.25)")
