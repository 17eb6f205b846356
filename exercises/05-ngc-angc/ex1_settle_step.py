"""Exercise 5.1: one settling step of an NGC circuit (eqs. 5.1-5.4).

Check your solution with ``python -m exercises.check ex05_1``.
"""

import numpy as np  # noqa: F401


def settle_step(params, x_i, x_o, z1, z2, beta, gamma_v, beta_e):
    """Move the two hidden layers of a clamped NGC circuit by one step.

    The circuit has layers z^0 = x^o (bottom, clamped), z^1, z^2 (hidden) and z^3 = x^i
    (top, clamped); phi = ReLU, g = identity. Row-major, ``batch`` rows:

        params  dict: W1 (J1, J0), W2 (J2, J1), W3 (J3, J2)   top-down predictions
                      E1 (J0, J1), E2 (J1, J2)               error synapses (untied)
        x_i     (batch, J3)   x_o (batch, J0)   z1 (batch, J1)   z2 (batch, J2)
        beta, gamma_v, beta_e  floats (step size, leak, error scale)

    Returns (z1_new, z2_new), of the shapes of z1 and z2.

        (5.1) zbar^l = phi(z^{l+1}) W^{l+1}        (x^i W^3 for l = 2: the top enters as itself)
        (5.2) e^l    = (phi(z^l) - zbar^l) / (2 beta_e)     (x^o itself at l = 0)
        (5.3) d^l    = -e^l + e^{l-1} E^l                    l = 1, 2
        (5.4) z^l   <- z^l + beta (-gamma_v z^l + d^l)       l = 1, 2

    Compute every error from the CURRENT states first, then update both hidden layers (there
    is no phi'(z) factor in (5.3)).

    Check: compared with ``reference.ngc.circuit.settle(..., T=1, z_init=[z1, z2])`` on random
    states, z = 0, the fast projection, inactive ReLU units, negative clamped ends, beta_e = 1
    and a batch of one; relative error (``reference.gradcheck.rel_error``) <= 1e-8 for each
    output.
    """
    raise NotImplementedError("Exercise 5.1: implement settle_step (eqs. 5.1-5.4)")
