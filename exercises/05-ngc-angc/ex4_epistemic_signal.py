"""Exercise 5.4: the epistemic signal of a world model (eqs. 5.6, 5.10).

Check your solution with ``python -m exercises.check ex05_4``.
"""

import numpy as np  # noqa: F401

from reference.ngc import circuit  # noqa: F401  (circuit.settle does the settling)


def epistemic_signal(params, x_i, x_o, T, beta, gamma_v, beta_e, running_max):
    """Epistemic rewards of N transitions seen in order, and the updated running maximum.

    Inputs
        params       an NGC world model {W1..WL, E1..E(L-1)} (reference.ngc.circuit layout)
        x_i          (N, J_L): the top, [o_t, onehot(a_t)] per transition
        x_o          (N, J_0): the bottom, o_{t+1} per transition
        T, beta, gamma_v, beta_e   settling constants; phi = ReLU, hidden states start at 0
        running_max  float: the largest discrepancy seen before these transitions (1 for a new
                     agent)

    Returns (r_ep, running_max): r_ep (N,), and the running maximum after the last one.

        settle with both ends clamped for T steps:  circuit.settle(params, x_i, x_o, T, beta,
                                                    gamma_v, beta_e, "relu")
        (5.6)  D_t    = sum_l ||e^l_t||^2            one number per transition (row)
        (5.10) M_t    = max(M_{t-1}, D_t),  M_0 = running_max
               r^ep_t = D_t / M_t

    The rows settle independently; the running maximum is what ties them together, in order.

    Check: compared with ``circuit.settle``, ``circuit.discrepancy_per_row`` and
    ``reference.ngc.angc.epistemic_reward`` on six random transitions, small errors (D < 1),
    growing errors, a carried-over maximum, one transition with two hidden layers and K = 0;
    relative error (``reference.gradcheck.rel_error``) <= 1e-8 for each output.
    """
    raise NotImplementedError("Exercise 5.4: implement epistemic_signal (eqs. 5.6, 5.10)")
