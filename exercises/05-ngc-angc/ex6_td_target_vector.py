"""Exercise 5.6: the controller's TD target vector (eq. 5.13).

Check your solution with ``python -m exercises.check ex05_6``.
"""

import numpy as np  # noqa: F401


def td_target_vector(q, actions, y, td_clip):
    """What the ANGC controller's bottom layer is clamped to while it learns.

    Inputs (N transitions, A actions)
        q        (N, A): the controller's own prediction Q(o_t, .) (its fast projection)
        actions  (N,) integers: the actions taken
        y        (N,): the TD targets r + gamma (1 - D) max_a Q'(o_{t+1}, a)   (eq. 5.12)
        td_clip  float c > 0, or None for no clipping

    Returns the target (N, A):

        (5.13) x^o = Q(o_t) + onehot(a_t) (.) clip(y - Q(o_t, a_t), -c, c)

    so the error is zero for the actions not taken and at most c for the taken one. Return a
    new array; do not modify q.

    Check: compared with ``reference.ngc.angc.td_target_vector`` on small and large TD
    errors, no clipping, c = 0.1, one action in every row and a single transition; relative
    error (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 5.6: implement td_target_vector (eq. 5.13)")
