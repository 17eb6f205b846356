"""Exercise 5.5: the DQN target and the TD-loss gradient at the output (eqs. 5.14-5.16).

Check your solution with ``python -m exercises.check ex05_5``.
"""

import numpy as np  # noqa: F401


def td_target_and_grad(q, actions, rewards, next_q, terminated, gamma, kappa):
    """The TD targets of a replay batch and dL/dQ for the Huber TD loss.

    Inputs (N transitions, A actions)
        q           (N, A): Q(o_i, .) from the online network
        actions     (N,) integers: the actions taken
        rewards     (N,);  terminated (N,) of 0.0 / 1.0 (1 only for a terminal state)
        next_q      (N, A): Q'(o'_i, .) from the target network
        gamma, kappa  floats

    Returns (y, dq): y (N,), dq (N, A).

        (5.14) y_i = r_i + gamma (1 - D_i) max_a Q'(o'_i, a)
        (5.15) L   = (1/N) sum_i huber(Q(o_i, a_i) - y_i)
        (5.16) dL/dQ(o_i, a) = [a = a_i] clip(Q(o_i, a_i) - y_i, -kappa, kappa) / N

    with huber(d) = d^2 / 2 for |d| <= kappa and kappa (|d| - kappa / 2) beyond. y is a
    constant: no gradient flows into the target network.

    Check: compared with ``reference.ngc.dqn.td_targets`` and ``dqn.td_loss_grad_q`` on small
    and large TD errors, kappa = 0.25, all-terminal batches, ties in max Q', N = 1 and N = 32;
    relative error (``reference.gradcheck.rel_error``) <= 1e-8 for each output.
    """
    raise NotImplementedError("Exercise 5.5: implement td_target_and_grad (eqs. 5.14-5.16)")
