"""The source tutorial's generative model: a five-state line world.

States 0..K-1 on a line; controls 0 back, 1 stay, 2 forward (clamped at the ends)::

    A   = (1 - eps_A) I + eps_A / (K - 1) (1 - I)                   eps_A = 1e-4
    B_u = normalise_next( (1 - noise) B_det,u + noise / K )         noise = 0.1
    C   = [0, ..., 0, 8],   D uniform,   policy_len 4 (81 policies)

(The Gaussian emission data and the rollout environment of the tutorial come later.)
"""

from __future__ import annotations

import numpy as np

K = 5
U = 3
BACK, STAY, FORWARD = 0, 1, 2
EPS_A = 1e-4
TRANSITION_NOISE = 0.1
GOAL_PREFERENCE = 8.0
POLICY_LEN = 4


def line_world_model(K=K, eps_A=EPS_A, noise=TRANSITION_NOISE, preference=GOAL_PREFERENCE):
    """``(A, B, C, D)`` of the tutorial as float64 NumPy arrays: (K, K), (K, K, 3), (K,), (K,)."""
    if int(K) != K or K < 2:
        raise ValueError(f"K: expected an integer >= 2, got {K}")
    if not 0.0 <= eps_A < 1.0:
        raise ValueError(f"eps_A: expected a value in [0, 1), got {eps_A}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise: expected a value in [0, 1], got {noise}")
    eye = np.eye(K)
    A = (1.0 - eps_A) * eye + eps_A / (K - 1) * (1.0 - eye)
    B_det = np.zeros((K, K, U))
    for s in range(K):
        B_det[max(s - 1, 0), s, BACK] = 1.0
        B_det[s, s, STAY] = 1.0
        B_det[min(s + 1, K - 1), s, FORWARD] = 1.0
    B = (1.0 - noise) * B_det + noise / K
    B = B / B.sum(axis=0, keepdims=True)
    C = np.zeros(K)
    C[-1] = preference
    return A, B, C, np.full(K, 1.0 / K)
