"""The source tutorial's generative model: a five-state line world.

States 0..K-1 on a line; controls 0 back, 1 stay, 2 forward (clamped at the ends)::

    A   = (1 - eps_A) I + eps_A / (K - 1) (1 - I)                   eps_A = 1e-4
    B_u = normalise_next( (1 - noise) B_det,u + noise / K )         noise = 0.1
    C   = [0, ..., 0, 8],   D uniform,   policy_len 4 (81 policies)

Continuous observations (the encoder tutorial): state s emits ``x ~ N(mu_s, scale^2 I_2)`` with
the five means of :data:`GAUSSIAN_MEANS`. :func:`gaussian_sequences` draws the tutorial's
offline trajectories (time-major); :func:`env_step` and :func:`emit` are the rollout world.
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
GAUSSIAN_MEANS = np.array([[0.0, 3.2], [3.0, 1.0], [1.9, -2.6], [-1.9, -2.6], [-3.0, 1.0]])
GAUSSIAN_SCALE = 1.0
SEQ_LEN = 6
N_TRAIN, N_VAL = 640, 320


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


# --------------------------------------------------------------------------- Gaussian data


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng: expected a numpy.random.Generator (numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )


def _check_emission(means, scale):
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or means.shape[0] < 2:
        raise ValueError(f"means: expected shape (K, dim) with K >= 2, got {means.shape}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a positive finite number, got {scale}")
    return means


def balanced_initial_states(num_sequences, rng, K=K):
    """``tile(0..K-1)[:N]`` in a random order: every state starts ``N / K`` sequences."""
    _check_rng(rng)
    base = np.tile(np.arange(K), -(-num_sequences // K))[:num_sequences]
    return base[rng.permutation(num_sequences)]


def emit(states, rng, means=GAUSSIAN_MEANS, scale=GAUSSIAN_SCALE):
    """``x = mu_s + scale * N(0, I)`` for integer ``states`` of any shape -> (*shape, dim)."""
    _check_rng(rng)
    means = _check_emission(means, scale)
    states = np.asarray(states)
    return means[states] + scale * rng.standard_normal(states.shape + means.shape[1:])


def env_step(state, action, B):
    """The rollout world: the next state is ``argmax_s' B[s', state, action]`` (no noise).

    ``state`` and ``action`` may be integers or integer arrays of one shape.
    """
    B = np.asarray(B)
    if B.ndim != 3:
        raise ValueError(f"B: expected shape (S, S, U), got {B.shape}")
    return np.argmax(B[:, state, action], axis=0)


def gaussian_sequences(
    num_sequences, rng, T=SEQ_LEN, B=None, means=GAUSSIAN_MEANS, scale=GAUSSIAN_SCALE
):
    """The tutorial's offline trajectories, time-major.

    Balanced initial states; at each step ``a_t ~ U{0..U-1}``, ``x_t ~ N(mu_{s_t}, scale^2 I)``,
    ``s_{t+1} ~ B[:, s_t, a_t]`` (the true B, noise included). Returns a dict with
    ``x``: (T, N, dim) float64, ``states``: (T, N) and ``actions``: (T - 1, N) int64 (the
    action after the last observation is never used, so it is not drawn).
    """
    _check_rng(rng)
    if int(num_sequences) != num_sequences or num_sequences < 1:
        raise ValueError(f"num_sequences: expected a positive integer, got {num_sequences}")
    if int(T) != T or T < 1:
        raise ValueError(f"T: expected a positive integer, got {T}")
    B = line_world_model()[1] if B is None else np.asarray(B, dtype=np.float64)
    means = _check_emission(means, scale)
    if B.ndim != 3 or B.shape[0] != B.shape[1] or B.shape[0] != means.shape[0]:
        raise ValueError(
            f"B: expected shape ({means.shape[0]}, {means.shape[0]}, U), got {B.shape}"
        )
    S, U_ = B.shape[0], B.shape[2]
    s = balanced_initial_states(num_sequences, rng, S)
    xs, ss, acts = [], [], []
    for t in range(T):
        xs.append(emit(s, rng, means, scale))
        ss.append(s)
        if t == T - 1:
            break
        a = rng.integers(0, U_, size=num_sequences)
        acts.append(a)
        cdf = np.cumsum(B[:, s, a], axis=0)  # (S, N): inverse-CDF draw of s_{t+1}
        u = rng.random(num_sequences)
        s = np.minimum((u[None] >= cdf).sum(axis=0), S - 1)
    actions = np.stack(acts) if acts else np.zeros((0, num_sequences), dtype=np.int64)
    return {"x": np.stack(xs), "states": np.stack(ss).astype(np.int64), "actions": actions}


def tutorial_datasets(rng, n_train=N_TRAIN, n_val=N_VAL, T=SEQ_LEN):
    """``(train, val)``: 640 and 320 sequences of length 6 (the tutorial's sizes)."""
    return gaussian_sequences(n_train, rng, T), gaussian_sequences(n_val, rng, T)
