"""Exercise 2.5: the policy posterior and deterministic action selection (eq. 2.19).

Check your solution with ``python -m exercises.check ex02_5``.
"""

import numpy as np  # noqa: F401

from reference.active_inference.maths import EPS  # noqa: F401  (eps = 2.220446049250313e-16)


def policy_posterior_and_action(G, E, gamma, policies):
    """q_pi from the negative expected free energies, then the action of the best policy.

    Inputs (batch = leading batch axis, P policies, H steps, F factors)
        G         (batch, P): the negative expected free energy of every policy (larger is
                  better); may be shifted by a large constant (e.g. -1e3)
        E         (batch, P): the habit prior over policies (entries may be exactly 0)
        gamma     float, or array (batch,): the policy precision (one per batch row)
        policies  (P, H, F) integers: policy p takes control policies[p, tau, f] at step tau

    Returns (q_pi, action): q_pi (batch, P) rows on the simplex, action (batch, F) integers.

        (2.19) q_pi = softmax( gamma G + ln+ E )      softmax over policies, computed stably
               idx  = argmax q_pi                     the FIRST maximal index on ties
               action = policies[idx, 0, :]           the first step of that policy

    with ln+(x) = ln(max(x, eps)), eps = 2.220446049250313e-16 (eq. 2.1). This is pymdp's
    deterministic selection with sampling_mode="full". A constant added to a row of G (which
    is what ln softmax(C) instead of C does) leaves q_pi unchanged.

    Check: compared with ``reference.active_inference.control.policy_posterior`` and
    ``control.select_action`` on random G, exact ties, gamma = 16 with a non-uniform E, E with
    a zero, G near -1e3, two-factor two-step policies and a per-row gamma; relative error
    (``reference.gradcheck.rel_error``) <= 1e-8 for each output (the action as floats).
    """
    raise NotImplementedError("Exercise 2.5: implement policy_posterior_and_action (eq. 2.19)")
