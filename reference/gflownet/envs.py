"""Environments of chapter 4: sequences with sticky actions, and torchgfn's HyperGrid.

**Sticky sequences** (TF-Bind-8: V = 4 tokens, L = 8 positions, no stop action). At step t
the policy proposes an intended token a_t from the *realized* prefix x_<t; the environment
appends x_t. With probability alpha it ignores a_t and appends a token drawn uniformly from
all V (possibly a_t itself), independently at every step::

    (4.2)   T(x_t = v | a_t = a) = (1 - alpha) [v = a] + alpha / V

so a policy pi(a | x_<t) realizes the token distribution::

    (4.3)   q(x_t = v | x_<t) = sum_a pi(a | x_<t) T(v | a) = (1 - alpha) pi(v | x_<t) + alpha / V

and every realizable conditional is at least alpha / V. (This is not the "repeat the previous
action" meaning of sticky actions in the Arcade Learning Environment.) A trajectory stores
both token streams: realized x_{1:L} and intended a_{1:L}.

**HyperGrid** (torchgfn's, the golden file's): states x in {0..H-1}^D, actions "+1 along axis
i" (i < D) and "exit" (index D); torchgfn's "original" reward::

    (4.4)   R(x) = R0 + R1 prod_i [ |x_i / (H-1) - 1/2| > 1/4 ]
                      + R2 prod_i [ 0.3 < |x_i / (H-1) - 1/2| < 0.4 ]

Randomness only through an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import LENGTH, VOCAB, check_tokens, sequence_to_code

STICK = 0.1  # the source's default alpha (``--stick``)


def _check_alpha(alpha):
    if not (isinstance(alpha, int | float | np.floating) and 0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"alpha: expected a probability in [0, 1], got {alpha!r}")
    return float(alpha)


def _check_vocab(vocab):
    if isinstance(vocab, bool) or int(vocab) != vocab or vocab < 2:
        raise ValueError(f"vocab: expected an integer >= 2, got {vocab!r}")
    return int(vocab)


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng: expected a numpy.random.Generator (numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )


# --------------------------------------------------------------------------- sticky kernel


def sticky_kernel(alpha, vocab=VOCAB):
    """Eq. (4.2): ``T[a, v] = P(realized v | intended a)``, a (V, V) row-stochastic matrix."""
    alpha, vocab = _check_alpha(alpha), _check_vocab(vocab)
    return (1.0 - alpha) * np.eye(vocab) + alpha / vocab


def realized_probs(intended_probs, alpha):
    """Eq. (4.3): the realized-token distribution ``(1 - alpha) pi + alpha / V`` of a policy.

    ``intended_probs`` (..., V): distributions over intended tokens (rows summing to 1).
    Equal to ``intended_probs @ sticky_kernel(alpha, V)``.
    """
    alpha = _check_alpha(alpha)
    p = np.asarray(intended_probs, dtype=np.float64)
    if p.ndim < 1 or p.shape[-1] < 2:
        raise ValueError(f"intended_probs: expected shape (..., V) with V >= 2, got {p.shape}")
    if p.size and (p.min() < 0 or np.abs(p.sum(-1) - 1).max() > 1e-9):
        raise ValueError("intended_probs: expected non-negative rows summing to 1")
    return (1.0 - alpha) * p + alpha / p.shape[-1]


def sticky_step(intended, alpha, rng, vocab=VOCAB):
    """Eq. (4.2) sampled: the realized tokens for a batch of intended tokens ``(B,)``.

    Draws, in this order, ``u = rng.random(B)`` and ``noise = rng.integers(0, V, B)``; the
    realized token is ``noise`` where ``u < alpha`` and the intended token otherwise.
    """
    alpha, vocab = _check_alpha(alpha), _check_vocab(vocab)
    _check_rng(rng)
    a = check_tokens(intended, "intended", vocab)
    if a.ndim != 1:
        raise ValueError(f"intended: expected shape (batch,), got {a.shape}")
    u = rng.random(a.shape[0])
    noise = rng.integers(0, vocab, size=a.shape[0])
    return np.where(u < alpha, noise, a)


# --------------------------------------------------------------------------- sequence env


@dataclass(frozen=True)
class Trajectories:
    """A batch of (partial) trajectories, batch-major: ``realized`` and ``intended`` (B, t).

    ``realized[b, :t]`` is the prefix the policy saw at step t; ``intended[b, t]`` what it
    proposed there. :meth:`time_major` gives the (t, B) layout of the losses.
    """

    realized: np.ndarray
    intended: np.ndarray

    @property
    def length(self):
        return self.realized.shape[1]

    def time_major(self):
        """``(realized.T, intended.T)``, each (t, B)."""
        return self.realized.T.copy(), self.intended.T.copy()

    def codes(self):
        """Eq. (4.1) codes of the realized sequences (B,)."""
        return sequence_to_code(self.realized)


class StickySequenceEnv:
    """Autoregressive sequences of ``length`` tokens over ``vocab`` with sticky actions (4.2)."""

    def __init__(self, alpha=STICK, length=LENGTH, vocab=VOCAB):
        self.alpha = _check_alpha(alpha)
        self.vocab = _check_vocab(vocab)
        if isinstance(length, bool) or int(length) != length or length < 1:
            raise ValueError(f"length: expected an integer >= 1, got {length!r}")
        self.length = int(length)

    def __repr__(self):
        return f"StickySequenceEnv(alpha={self.alpha}, length={self.length}, vocab={self.vocab})"

    def kernel(self):
        """Eq. (4.2) for this environment: (V, V)."""
        return sticky_kernel(self.alpha, self.vocab)

    def reset(self, batch):
        """``batch`` empty trajectories."""
        if isinstance(batch, bool) or int(batch) != batch or batch < 1:
            raise ValueError(f"batch: expected a positive integer, got {batch!r}")
        empty = np.zeros((int(batch), 0), dtype=np.int64)
        return Trajectories(empty, empty.copy())

    def step(self, state, intended, rng):
        """Append one realized token per row (eq. 4.2) and record the intended one."""
        if not isinstance(state, Trajectories):
            raise ValueError(f"state: expected Trajectories, got {type(state).__name__}")
        if state.length >= self.length:
            raise ValueError(f"state: the sequences are complete (length {self.length})")
        a = check_tokens(intended, "intended", self.vocab)
        if a.shape != (state.realized.shape[0],):
            raise ValueError(
                f"intended: expected shape ({state.realized.shape[0]},), got {a.shape}"
            )
        x = sticky_step(a, self.alpha, rng, self.vocab)
        return Trajectories(
            np.concatenate([state.realized, x[:, None]], axis=1),
            np.concatenate([state.intended, a[:, None]], axis=1),
        )

    def rollout(self, log_policy, batch, rng, epsilon=0.0):
        """Sample ``batch`` complete trajectories.

        ``log_policy(prefixes)`` maps realized prefixes (N, t) int64 to log-probabilities (or
        logits) over intended tokens (N, V). With probability ``epsilon`` the intended token
        is uniform instead (exploration); then the environment applies eq. (4.2).
        """
        _check_rng(rng)
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon: expected a probability in [0, 1], got {epsilon!r}")
        state = self.reset(batch)
        for _ in range(self.length):
            probs = policy_probs(log_policy, state.realized, self.vocab)
            a = sample_categorical(probs, rng)
            if epsilon > 0.0:
                explore = rng.random(a.shape[0]) < epsilon
                a = np.where(explore, rng.integers(0, self.vocab, size=a.shape[0]), a)
            state = self.step(state, a, rng)
        return state


def policy_probs(log_policy, prefixes, vocab=VOCAB):
    """``softmax(log_policy(prefixes))`` as float64 (N, V), with a shape and finiteness check."""
    prefixes = np.asarray(prefixes)
    logits = np.asarray(log_policy(prefixes), dtype=np.float64)
    if logits.shape != (prefixes.shape[0], vocab):
        raise ValueError(
            f"log_policy: expected log-probabilities of shape ({prefixes.shape[0]}, {vocab}) "
            f"for prefixes of shape {prefixes.shape}, got {logits.shape}"
        )
    if np.isnan(logits).any() or np.isposinf(logits).any():
        raise ValueError("log_policy: returned NaN or +inf")
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def sample_categorical(probs, rng):
    """One draw per row of ``probs`` (N, V) by inverse CDF on ``rng.random(N)``."""
    _check_rng(rng)
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)


# --------------------------------------------------------------------------- HyperGrid


class HyperGrid:
    """torchgfn's HyperGrid: D axes of height H, actions "+1 on axis i" (i < D) and exit (D).

    States are integer arrays (..., D); their index is row-major, ``x_0 H^(D-1) + ... +
    x_(D-1)`` (the golden file's ``idx = x0 * height + x1`` for D = 2). Backward actions
    i < D undo "+1 on axis i".
    """

    def __init__(self, ndim=2, height=5, R0=0.1, R1=0.5, R2=2.0):
        for name, v, low in (("ndim", ndim, 1), ("height", height, 2)):
            if isinstance(v, bool) or int(v) != v or v < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {v!r}")
        for name, v in (("R0", R0), ("R1", R1), ("R2", R2)):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name}: expected a finite number >= 0, got {v!r}")
        if R0 <= 0:
            raise ValueError(f"R0: expected R0 > 0 (every state needs a positive reward), got {R0}")
        self.ndim, self.height = int(ndim), int(height)
        self.R0, self.R1, self.R2 = float(R0), float(R1), float(R2)
        self.n_actions = self.ndim + 1
        self.exit_action = self.ndim

    @property
    def n_states(self):
        return self.height**self.ndim

    def all_states(self):
        """Every state in index order: (H^D, D) int64."""
        idx = np.arange(self.n_states)
        place = self.height ** np.arange(self.ndim - 1, -1, -1)
        return (idx[:, None] // place) % self.height

    def index(self, states):
        """Row-major indices of ``states`` (..., D) -> (...)."""
        x = self._check_states(states)
        return x @ (self.height ** np.arange(self.ndim - 1, -1, -1))

    def reward(self, states):
        """Eq. (4.4) for ``states`` (..., D) -> (...) float64."""
        x = self._check_states(states)
        ax = np.abs(x / (self.height - 1) - 0.5)
        return (
            self.R0
            + self.R1 * np.all(ax > 0.25, axis=-1)
            + self.R2 * np.all((ax > 0.3) & (ax < 0.4), axis=-1)
        )

    def log_reward(self, states):
        return np.log(self.reward(states))

    def forward_mask(self, states):
        """Allowed forward actions (..., D + 1) bool: +1 on axis i while x_i < H - 1; exit."""
        x = self._check_states(states)
        return np.concatenate([x < self.height - 1, np.ones(x.shape[:-1] + (1,), bool)], -1)

    def backward_mask(self, states):
        """Allowed backward actions (..., D) bool: undo axis i while x_i > 0."""
        return self._check_states(states) > 0

    def step(self, states, actions):
        """Apply non-exit forward actions: ``x + e_a`` (ValueError for exit or a wall)."""
        x = self._check_states(states)
        a = np.asarray(actions)
        if a.shape != x.shape[:-1]:
            raise ValueError(f"actions: expected shape {x.shape[:-1]}, got {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= self.ndim):
            raise ValueError(f"actions: expected moves in [0, {self.ndim}) (exit is terminal)")
        allowed = np.take_along_axis(self.forward_mask(x), a[..., None], -1)[..., 0]
        if not np.all(allowed):
            raise ValueError("actions: a move would leave the grid")
        return x + np.eye(self.ndim, dtype=np.int64)[a]

    def terminal_distribution(self, log_pf, alpha=0.0):
        """Exact probability of exiting at each state under forward log-probabilities
        ``log_pf`` (H^D, D + 1) (already masked and normalised over the valid actions).

        Dynamic programming over the levels ``sum_i x_i = 0, 1, ...`` of the grid: the
        probability of reaching a state flows to its children with P_F(+1 on axis i) and
        leaves with P_F(exit). Returns (H^D,) in index order, summing to 1.

        ``alpha`` > 0 makes moves sticky (the chapter's sticky grid): with probability alpha
        a chosen move is replaced by a move along an axis drawn uniformly from the valid
        ones (the exit is never replaced, and no move leaves the grid), so the realized move
        probabilities are ``(1 - alpha) P_F(i) + alpha P_F(move) / #valid moves``.
        """
        alpha = _check_alpha(alpha)
        log_pf = np.asarray(log_pf, dtype=np.float64)
        if log_pf.shape != (self.n_states, self.n_actions):
            raise ValueError(
                f"log_pf: expected shape ({self.n_states}, {self.n_actions}), got {log_pf.shape}"
            )
        states = self.all_states()
        pf = np.exp(log_pf)
        if np.any(pf[~self.forward_mask(states)] > 0):
            raise ValueError("log_pf: an invalid action (off the grid) has positive probability")
        if np.abs(pf.sum(axis=1) - 1.0).max() > 1e-9:
            raise ValueError("log_pf: expected rows normalised over the valid actions")
        valid = self.forward_mask(states)[:, : self.ndim]
        n_valid = np.maximum(valid.sum(axis=1, keepdims=True), 1)
        moving = pf[:, : self.ndim].sum(axis=1, keepdims=True)
        pf = pf.copy()
        pf[:, : self.ndim] = (1 - alpha) * pf[:, : self.ndim] + alpha * valid * moving / n_valid
        reach = np.zeros(self.n_states)
        reach[0] = 1.0
        level = states.sum(axis=1)
        place = self.height ** np.arange(self.ndim - 1, -1, -1)
        for k in range(level.max() + 1):
            idx = np.flatnonzero(level == k)
            for i in range(self.ndim):
                move = idx[states[idx, i] < self.height - 1]
                np.add.at(reach, move + place[i], reach[move] * pf[move, i])
        return reach * pf[:, self.exit_action]

    def balanced_log_pf(self):
        """A forward policy whose exits follow R / Z exactly (in a deterministic grid).

        With the uniform backward policy P_B(s | s') = 1 / #parents(s'), the flows are
        ``F(s) = R(s) + sum_children F(c) P_B(s | c)`` (computed from the far corner back),
        and ``P_F(c | s) = F(c) P_B(s | c) / F(s)``, ``P_F(exit | s) = R(s) / F(s)``: every
        balance condition holds. Returns ``(log_pf (H^D, D + 1), log_F (H^D,))``.
        """
        states = self.all_states()
        R = self.reward(states)
        n_parents = np.maximum((states > 0).sum(axis=1), 1)
        place = self.height ** np.arange(self.ndim - 1, -1, -1)
        level = states.sum(axis=1)
        F = np.zeros(self.n_states)
        edge = np.zeros((self.n_states, self.ndim))  # F(c) P_B(s | c) for the child along i
        for k in range(level.max(), -1, -1):
            idx = np.flatnonzero(level == k)
            for i in range(self.ndim):
                move = idx[states[idx, i] < self.height - 1]
                child = move + place[i]
                edge[move, i] = F[child] / n_parents[child]
            F[idx] = R[idx] + edge[idx].sum(axis=1)
        with np.errstate(divide="ignore"):
            log_pf = np.log(np.concatenate([edge, R[:, None]], axis=1) / F[:, None])
        return log_pf, np.log(F)

    def _check_states(self, states):
        x = np.asarray(states)
        if x.ndim < 1 or x.shape[-1] != self.ndim:
            raise ValueError(f"states: expected shape (..., {self.ndim}), got {x.shape}")
        return check_tokens(x, "states", self.height)


def hypergrid_from_golden(env):
    """The :class:`HyperGrid` described by the golden file's ``env`` dict."""
    if env.get("name") != "HyperGrid" or env.get("reward") != "original":
        raise ValueError(f"env: expected torchgfn's HyperGrid with 'original' reward, got {env}")
    return HyperGrid(env["ndim"], env["height"], env["R0"], env["R1"], env["R2"])
