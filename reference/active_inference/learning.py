"""Dirichlet learning of A and B (pymdp's update rules).

Counts accumulate outer products of what was seen and what was believed (batch axis
omitted, ``lr`` the learning rate, ``(x)`` the outer product)::

    (2.20) A_m = E[Dir(pA_m)] = max(pA_m, eps) / sum_o max(pA_m, eps)
    (2.21) pA_m <- pA_m + lr * sum_t o_{m, t} (x) q_t(deps(m))
    (2.22) pB_f <- pB_f + lr * sum_t q_{t+1, f} (x) q_t(Bdeps(f)) (x) onehot(a_{t, f})

then A and B are the expected values (2.20). (2.22) uses the filtered marginals (fpi); the
smoothed pairwise joint of ovf/exact smoothing is not implemented here. An action of -1
(invalid) contributes nothing.
"""

from __future__ import annotations

from reference.backend import xp

from .maths import dirichlet_expected_value, one_hot, outer


def update_pA(pA, obs_seq, qs_seq, A_dependencies, lr=1.0):
    """Eq. (2.21) then (2.20). ``obs_seq[m]``: (batch, T, O_m); ``qs_seq[f]``: (batch, T, S_f).

    Returns ``(new_pA, new_A)``; modalities whose ``pA[m]`` is None are skipped (None).
    """
    new_pA, new_A = [], []
    for m, (pA_m, deps) in enumerate(zip(pA, A_dependencies, strict=True)):
        if pA_m is None:
            new_pA.append(None)
            new_A.append(None)
            continue
        counts = 0.0
        for t in range(obs_seq[m].shape[1]):
            counts = counts + outer([obs_seq[m][:, t]] + [qs_seq[f][:, t] for f in deps])
        p = pA_m + lr * counts
        new_pA.append(p)
        new_A.append(dirichlet_expected_value(p))
    return new_pA, new_A


def update_pB(pB, qs_seq, actions, B_dependencies, lr=1.0):
    """Eq. (2.22) then (2.20). ``qs_seq[f]``: (batch, T, S_f); ``actions``: (batch, T-1, F).

    Returns ``(new_pB, new_B)``; factors whose ``pB[f]`` is None are skipped (None).
    """
    new_pB, new_B = [], []
    for f, (pB_f, deps) in enumerate(zip(pB, B_dependencies, strict=True)):
        if pB_f is None:
            new_pB.append(None)
            new_B.append(None)
            continue
        U = pB_f.shape[-1]
        counts = 0.0
        for t in range(actions.shape[1]):
            a = actions[:, t, f]
            u = one_hot(xp.maximum(a, 0), U, dtype=pB_f.dtype) * (a >= 0)[:, None]
            parts = [qs_seq[f][:, t + 1]] + [qs_seq[g][:, t] for g in deps] + [u]
            counts = counts + outer(parts)
        p = pB_f + lr * counts
        new_pB.append(p)
        new_B.append(dirichlet_expected_value(p))
    return new_pB, new_B
