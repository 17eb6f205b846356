"""Exercise 2.3: the negative expected free energy G of one policy (eqs. 2.12-2.15, 2.18).

Check your solution with ``python -m exercises.check ex02_3``.
"""

import numpy as np  # noqa: F401

from reference.active_inference.maths import EPS  # noqa: F401  (eps = 2.220446049250313e-16)


def neg_expected_free_energy(q, A, B, C, policy):
    """G of one policy (utility + state information gain), one factor and one modality.

    Inputs (batch = leading batch axis, S states, O outcomes, U controls, H steps)
        q       (batch, S): the current belief s_0
        A       (batch, O, S): the likelihood, columns sum to 1 (zeros allowed)
        B       (batch, S, S, U): transitions, B[b, s', s, u] normalised over s' (axis 1)
        C       (batch, O): the preferences, RAW (pymdp 1.0: not log-softmaxed); the same C
                at every step
        policy  (H,) integers: the controls u_0, ..., u_{H-1}

    Returns G, array (batch,): the NEGATIVE expected free energy (larger is better).

    With ln+(x) = ln(max(x, eps)) (eq. 2.1) and H[x] = -sum_i x_i ln+ x_i (0 where x_i == 0),
    start from s_0 = q and for tau = 0, ..., H-1:

        (2.12) s_{tau+1}[s'] = sum_s B[s', s, u_tau] s_tau[s]        move first
        (2.13) qo = A s_{tau+1}                                     then predict outcomes
        (2.14) utility   = qo . C
        (2.15) info_gain = H[qo] - sum_s s_{tau+1}[s] H[A[:, s]]    (H over outcomes)
        (2.18) G = sum over tau of (utility + info_gain)

    Note: ln softmax(C) instead of C would shift every policy's G by the same constant per
    step; the policy posterior would not change, but G would (pymdp issue #439).

    Check: compared with ``reference.active_inference.control.neg_efe`` on one- and
    multi-step policies, zeros in A and B, near-deterministic A (entries below eps), a
    deterministic rollout from a one-hot q, large raw preferences and batch = 1; relative
    error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 2.3: implement neg_expected_free_energy (eq. 2.18)")
