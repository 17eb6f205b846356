"""Exercise 3.5: the generalized-teacher-forcing step and its backward (eqs. 3.9, 3.11).

Check your solution with ``python -m exercises.check ex03_5``.
"""

import numpy as np  # noqa: F401


def gtf_step(z, x_t, alpha, zbar_tilde):
    """Force a batch of latent states towards the data, and pull an adjoint back through it.

    Inputs
        z           (batch, M): the model's states before forcing
        x_t         (batch, N): the observations at this step (N <= M; identity read-out,
                    so the first N latent units are the observed ones)
        alpha       forcing strength in [0, 1] (1: sparse/identity forcing, 0: none)
        zbar_tilde  (batch, M): dL/dz_tilde, the adjoint arriving from the later steps

    Returns (z_tilde, zbar), both (batch, M), new arrays (do not modify the inputs):

        (3.9)   z_tilde[:, :N] = alpha x_t + (1 - alpha) z[:, :N],   z_tilde[:, N:] = z[:, N:]
        (3.11)  zbar = dL/dz = zbar_tilde with its first N columns times (1 - alpha)

    The data x_t is a constant: at alpha = 1 no gradient flows through the forced units,
    which is what keeps the gradients bounded on chaotic systems.

    Check: compared with ``reference.dsr.forcing.force`` and the backward of
    ``forced_rollout_loss`` at alpha = 0.3, 1, 0, with M = N and the ALRNN set-up
    (M = 20, N = 3); relative error
    (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 3.5: implement gtf_step (eqs. 3.9, 3.11)")
