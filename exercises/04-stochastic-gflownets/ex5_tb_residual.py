"""Exercise 4.5: the trajectory-balance residual of one HyperGrid trajectory (eq. 4.12).

Check your solution with ``python -m exercises.check ex04_5``.
"""

import numpy as np  # noqa: F401


def tb_residual(pf_logits, pb_logits, log_Z, states, actions, log_reward):
    """r = log Z + sum log P_F - sum log P_B - log R(x) in torchgfn's conventions.

    The grid (torchgfn's HyperGrid, ``reference.gflownet.envs.HyperGrid``): states x in
    {0..H-1}^D, index ``x_0 H^(D-1) + ... + x_(D-1)`` (row-major); forward actions 0..D-1 are
    "+1 on axis i" and action D is "exit"; backward action i undoes "+1 on axis i".

    Inputs
        pf_logits   (H^D, D + 1): forward logits per state index
        pb_logits   (H^D, D): backward logits per state index
        log_Z       float
        states      (n, D) int: s_0 = 0, s_1, ..., s_{n-1} = x (the state that exits)
        actions     (n,) int: actions[k] leads from states[k] to states[k + 1]; the last is
                    the exit action D
        log_reward  float: log R(x)

    Returns the residual (a float):

        (4.12)  r = log Z + sum_{k=0}^{n-1} log P_F(actions[k] | states[k])
                          - sum_{k=0}^{n-2} log P_B(actions[k] | states[k + 1]) - log R(x)

    Conventions (torchgfn's): P_F is a MASKED softmax: "+1 on axis i" is invalid where
    x_i = H - 1 (probability 0); exit is always valid and counts in the forward sum. P_B is a
    masked softmax too (undoing axis i is invalid where x_i = 0), evaluated at the child state;
    the exit has no backward term. H and D follow from the shapes: D = pb_logits.shape[1],
    H^D = pf_logits.shape[0].

    Check: compared with the library's TB (``reference.gflownet.losses.trajectory_balance``
    with ``masked_log_softmax``) on a trajectory to the far corner of a 5 x 5 grid, random
    trajectories on 2-D and 3-D grids, one along a wall, one that exits at once, and logits
    of size ~30; relative error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 4.5: implement tb_residual (eq. 4.12)")
