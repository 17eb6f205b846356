"""Policies, expected free energy, the policy posterior and action selection.

For a policy pi = (u_0, ..., u_{H-1}) (one control per factor per step), start from the
current belief s_0 = q and for tau = 0..H-1 (batch axis omitted)::

    (2.12) s_{tau+1, f} = E_{prod_{g in Bdeps(f)} s_{tau, g}}[ B_f[:, ..., u_{tau, f}] ]
    (2.13) qo_m = E_{s_{tau+1}}[ A_m ]                                predicted outcomes
    (2.14) utility   = sum_m qo_m . C_m          (C_m[tau] when time-indexed; C is RAW)
    (2.15) info_gain = sum_m ( H[qo_m] - E_{s_{tau+1}}[ H[A_m[:, s]] ] )
    (2.16) novelty_A = sum_m sum_o qo_m(o) E_{s_{tau+1}}[ wA_m[o, s] ]
           novelty_B = sum_f sum_{s'} s_{tau+1, f}(s') E_{s_tau}[ wB_f[s', ..., u_{tau, f}] ]
    (2.17) w = ln a0 - ln a + psi(a + 1) - psi(a0 + 1)  (see maths.dirichlet_novelty_weight)
    (2.18) G_pi = sum_tau [ utility + info_gain (+ novelty_A + novelty_B) ]
    (2.19) q_pi = sigma( gamma G + ln+ E )

G is pymdp's ``neg_efe``: the *negative* expected free energy, larger is better. All
policies are evaluated at once: every belief carries a row axis, (batch, rows, S_f), whose
rows are policies or, in :func:`neg_efe`, the nodes of the :func:`policy_tree` (policies that
share their first steps share those steps' beliefs and terms, so each prefix is computed
once). Contractions with the model arrays are matrix products, (rows, S) @ (S, ...), one per
batch element. ``kernels.neg_efe_numba`` is a compiled twin for one factor and one modality.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from reference import backend
from reference.backend import xp

from .maths import dirichlet_novelty_weight, entropy, log_stable, softmax


def construct_policies(num_controls, policy_len=1):
    """All policies, (P, policy_len, F) integers, in pymdp's order.

    ``itertools.product`` over the ``policy_len x F`` control slots, the last slot varying
    fastest; for one factor with U controls, index = sum_tau u_tau U^(H - 1 - tau).
    """
    slots = list(num_controls) * int(policy_len)
    grid = list(itertools.product(*[range(int(u)) for u in slots]))
    return np.asarray(grid, dtype=np.int64).reshape(len(grid), int(policy_len), len(num_controls))


@functools.lru_cache(maxsize=64)
def _policy_tree(key, shape):
    policies = np.frombuffer(key, dtype=np.int64).reshape(shape)
    P, H, _ = shape
    levels, prev = [], np.zeros(P, dtype=np.int64)
    for tau in range(H):
        _, first, node = np.unique(
            policies[:, : tau + 1].reshape(P, -1), axis=0, return_index=True, return_inverse=True
        )
        node = node.reshape(-1)
        levels.append((prev[first], policies[first, tau], node))
        prev = node
    return tuple(levels)


def policy_tree(policies):
    """The policies as a tree of shared prefixes: one level per step tau.

    Policies that agree on their first tau + 1 steps reach the same s_{tau+1} and the same
    terms at step tau, so each distinct prefix (a *node*) is evaluated once: for the
    tutorial's 81 policies of length 4 that is 3 + 9 + 27 + 81 = 120 nodes instead of
    4 x 81 = 324 policy-steps. Returns, for each tau, ``(parent, controls, node)``:
    ``parent`` (n_tau,) the node at the previous level that each node extends (0: the
    root, the current belief), ``controls`` (n_tau, F) its step-tau controls, ``node``
    (P,) the node each policy passes through. Cached: the tree depends on the policies only.
    """
    policies = np.ascontiguousarray(policies, dtype=np.int64)
    return _policy_tree(policies.tobytes(), policies.shape)


def _expect(tensor, marginals, n_keep):
    """``factor_dot`` of a tensor shared by all rows with per-row marginals.

    ``tensor``: (batch, *keep, S_1, ..., S_k), ``marginals[i]``: (batch, n, S_i), where the
    n rows are policies or tree nodes -> (batch, n, *keep). The last factor is contracted
    by one matrix product per batch element, (n, S_k) @ (S_k, rest), the others
    elementwise; the same sum as ``factor_dot(tensor[:, None], marginals, n_keep)``.
    """
    flat = tensor.reshape(tensor.shape[0], -1, tensor.shape[-1])
    out = marginals[-1] @ xp.swapaxes(flat, 1, 2)
    out = out.reshape(out.shape[:2] + tensor.shape[1:-1])
    for m in reversed(marginals[:-1]):  # the last remaining axis belongs to m
        out = xp.sum(out * m.reshape(m.shape[:2] + (1,) * (out.ndim - 3) + m.shape[2:]), -1)
    return out


def states_every_control(B, s, B_dependencies):
    """Eq. (2.12) for every control of every row: ``(batch, n, U_f, S_f)`` per factor."""
    return [
        _expect(xp.moveaxis(B_f, -1, 1), [s[g] for g in deps], n_keep=2)
        for B_f, deps in zip(B, B_dependencies, strict=True)
    ]


def _pick(every, rows, controls):
    """``every`` (batch, n, U, ...) at (``rows[i]``, ``controls[i]``) -> (batch, len(rows), ...)."""
    return every[:, xp.asarray(rows), xp.asarray(controls)]


def expected_states(B, s, controls, B_dependencies):
    """Eq. (2.12) for all policies: ``s[f]`` (batch, P, S_f); ``controls`` (P, F)."""
    rows = np.arange(controls.shape[0])
    every = states_every_control(B, s, B_dependencies)
    return [_pick(x, rows, controls[:, f]) for f, x in enumerate(every)]


def expected_obs(A, s, A_dependencies):
    """Eq. (2.13): ``qo[m]`` (batch, P, O_m) from ``s[f]`` (batch, P, S_f)."""
    return [
        _expect(A_m, [s[f] for f in deps], n_keep=1)
        for A_m, deps in zip(A, A_dependencies, strict=True)
    ]


def expected_utility(qo, C, tau=0):
    """Eq. (2.14): ``sum_m qo_m . C_m`` -> (batch, P). ``C[m]``: (batch, O) or (batch, H, O)."""
    total = 0.0
    for qo_m, C_m in zip(qo, C, strict=True):
        C_t = C_m[:, tau] if C_m.ndim == 3 else C_m
        total = total + (qo_m @ C_t[:, :, None])[..., 0]
    return total


def ambiguity(A_m):
    """H[A_m[:, s]], the entropy of the outcomes of each state: (batch, *S_deps)."""
    return entropy(A_m, axis=1)


def states_info_gain(A, qo, s, A_dependencies, H_A=None):
    """Eq. (2.15): ``sum_m H[qo_m] - E_s[H[A_m[:, s]]]`` -> (batch, P).

    ``H_A``: the :func:`ambiguity` of each ``A[m]`` if already computed (it does not depend
    on the policy, so :func:`neg_efe` computes it once per call).
    """
    H_A = H_A or [ambiguity(A_m) for A_m in A]
    total = 0.0
    for H_m, qo_m, deps in zip(H_A, qo, A_dependencies, strict=True):
        total = total + entropy(qo_m) - _expect(H_m, [s[f] for f in deps], n_keep=0)
    return total


def novelty_A(wA, qo, s, A_dependencies):
    """Eq. (2.16), first line: parameter information gain about A -> (batch, P)."""
    total = 0.0
    for w_m, qo_m, deps in zip(wA, qo, A_dependencies, strict=True):
        if w_m is None:
            continue
        Ew = _expect(w_m, [s[f] for f in deps], n_keep=1)  # (batch, P, O)
        total = total + xp.sum(qo_m * Ew, axis=-1)
    return total


def novelty_B(wB, s_next, s_prev, controls, B_dependencies):
    """Eq. (2.16), second line: parameter information gain about B -> (batch, P)."""
    total = 0.0
    rows = np.arange(controls.shape[0])
    for f, (w_f, deps) in enumerate(zip(wB, B_dependencies, strict=True)):
        if w_f is None:
            continue
        every = _expect(xp.moveaxis(w_f, -1, 1), [s_prev[g] for g in deps], n_keep=2)
        total = total + xp.sum(s_next[f] * _pick(every, rows, controls[:, f]), axis=-1)
    return total


def neg_efe(
    qs,
    A,
    B,
    C,
    policies,
    A_dependencies,
    B_dependencies,
    use_utility=True,
    use_states_info_gain=True,
    use_param_info_gain=False,
    pA=None,
    pB=None,
):
    """Eq. (2.18): G (batch, P) for every policy in ``policies`` (P, H, F).

    Returns ``(G, terms)`` where ``terms`` holds each summand of (2.18) summed over tau,
    (batch, P) each: ``utility``, ``info_gain``, ``novelty_A``, ``novelty_B`` (zeros when
    not used), so that ``G = sum(terms.values())`` (the EFE decomposition).

    The policies are walked as a :func:`policy_tree`: at step tau every node's belief
    s_tau gives s_{tau+1} for all controls at once (one matrix product per batch element),
    each node of the next level picks its control, its terms are computed once, and every
    policy adds the terms of the node it passes through.
    """
    policies = np.asarray(policies)
    batch, P = qs[0].shape[0], policies.shape[0]
    zero = xp.zeros((batch, P), dtype=qs[0].dtype)
    terms = {"utility": zero, "info_gain": zero, "novelty_A": zero, "novelty_B": zero}
    wA = wB = None
    if use_param_info_gain:
        if pA is None and pB is None:
            raise ValueError("use_param_info_gain: requires pA or pB, got neither")
        wA = [None if p is None else dirichlet_novelty_weight(p) for p in (pA or [])]
        wB = [None if p is None else dirichlet_novelty_weight(p) for p in (pB or [])]
    H_A = [ambiguity(A_m) for A_m in A] if use_states_info_gain else None
    s = [q[:, None, :] for q in qs]  # the root of the tree: one node, the current belief
    for tau, (parent, controls, node) in enumerate(policy_tree(policies)):
        every = states_every_control(B, s, B_dependencies)
        s_next = [_pick(x, parent, controls[:, f]) for f, x in enumerate(every)]
        qo = expected_obs(A, s_next, A_dependencies)
        step = {}
        if use_utility:
            step["utility"] = expected_utility(qo, C, tau)
        if use_states_info_gain:
            step["info_gain"] = states_info_gain(A, qo, s_next, A_dependencies, H_A)
        if wA:
            step["novelty_A"] = novelty_A(wA, qo, s_next, A_dependencies)
        if wB:
            s_parent = [x[:, xp.asarray(parent)] for x in s]
            step["novelty_B"] = novelty_B(wB, s_next, s_parent, controls, B_dependencies)
        for key, value in step.items():
            terms[key] = terms[key] + value[:, xp.asarray(node)]
        s = s_next
    G = terms["utility"] + terms["info_gain"] + terms["novelty_A"] + terms["novelty_B"]
    return G, terms


def policy_posterior(G, E, gamma=1.0):
    """Eq. (2.19): q_pi = softmax(gamma G + ln+ E) over the policy axis."""
    gamma = xp.asarray(gamma)
    if gamma.ndim == 1:
        gamma = gamma[:, None]
    return softmax(gamma * G + log_stable(E))


def action_marginals(q_pi, policies, num_controls):
    """P(u_f) = sum_pi q_pi 1[pi_{0, f} = u] for each factor -> list of (batch, U_f)."""
    policies = np.asarray(policies)
    out = []
    for f, U in enumerate(num_controls):
        M = (policies[:, 0, f][:, None] == np.arange(U)[None, :]).astype(np.float64)
        out.append(q_pi @ xp.asarray(M, dtype=q_pi.dtype))
    return out


def check_selection(action_selection, sampling_mode):
    """Raise ValueError unless the two action-selection options are known names."""
    if action_selection not in ("deterministic", "stochastic"):
        raise ValueError(
            f"action_selection: expected 'deterministic' or 'stochastic', got {action_selection!r}"
        )
    if sampling_mode not in ("full", "marginal"):
        raise ValueError(f"sampling_mode: expected 'full' or 'marginal', got {sampling_mode!r}")


def _sample_categorical(logits, rng):
    """One draw per row of ``logits`` (batch, n) by inverting the CDF with ``rng.random``."""
    p = backend.asnumpy(softmax(logits))
    u = rng.random((p.shape[0], 1))
    idx = (np.cumsum(p, axis=-1) < u).sum(axis=-1)
    return np.minimum(idx, p.shape[-1] - 1)


def select_action(
    q_pi,
    policies,
    num_controls,
    action_selection="deterministic",
    sampling_mode="full",
    alpha=1.0,
    rng=None,
):
    """Action (batch, F) from q_pi (batch, P).

    ``sampling_mode="full"``: a policy index, argmax q_pi (the *first* maximal index) or a
    draw from Categorical(logits = alpha ln+ q_pi); the action is that policy's first step.
    ``"marginal"``: per factor, argmax of :func:`action_marginals` or a draw from
    Categorical(alpha ln+ P(u_f)). Stochastic selection needs ``rng``, a
    ``numpy.random.Generator`` (the draws cannot match JAX's PRNG, only its distribution).
    """
    check_selection(action_selection, sampling_mode)
    stochastic = action_selection == "stochastic"
    if stochastic and not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: stochastic selection needs a numpy Generator, got {rng!r}")
    policies = np.asarray(policies)
    alpha = np.reshape(backend.asnumpy(alpha), (-1, 1))
    if sampling_mode == "full":
        if stochastic:
            idx = _sample_categorical(xp.asarray(alpha) * log_stable(q_pi), rng)
        else:
            idx = np.argmax(backend.asnumpy(q_pi), axis=-1)
        return policies[idx, 0, :]
    actions = []
    for P_u in action_marginals(q_pi, policies, num_controls):
        if stochastic:
            actions.append(_sample_categorical(xp.asarray(alpha) * log_stable(P_u), rng))
        else:
            actions.append(np.argmax(backend.asnumpy(P_u), axis=-1))
    return np.stack(actions, axis=-1)
