"""Numba twin of the expected free energy over the policy tree (one factor, one modality).

:func:`efe_tree_plain` is one plain function over NumPy arrays that computes what
``control.neg_efe`` computes for a model with one hidden-state factor and one modality
(the chapter's tutorial agent), written as explicit loops so that ``numba.njit`` can compile
it; :data:`efe_tree_jit` is the compiled version (``cache=True``). The tests check
``efe_tree_jit == efe_tree_plain == control.neg_efe`` to 1e-12.

Why a kernel: at batch 1 the NumPy path spends its time in Python, some 30 small array
operations per step tau; here the whole walk is one call. The maths is unchanged:
the policies are walked as ``control.policy_tree`` (each distinct prefix once), and for every
node k, with parent k' and control u (batch element b fixed)::

    s_k       = B[:, :, u] s_k'                          eq. (2.12)
    qo        = A s_k                                    eq. (2.13)
    utility_k = qo . C[tau]                              eq. (2.14)
    gain_k    = H[qo] - s_k . H_A                        eq. (2.15), H_A[s] = H[A[:, s]]

then each policy sums the terms of the nodes it passes through, one step after another.
The eps of ln+ comes in through ``consts`` in the arrays' dtype, so a float32 call stays in
float32 (numba would promote to float64 at a float literal). CPU and NumPy only.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

from reference import backend

from . import control
from .maths import EPS


def flat_tree(policies):
    """``control.policy_tree`` as flat arrays: node 0 is the root (the current belief).

    Returns ``(parent, controls, level, node)``: ``parent, controls, level`` (N,) int64 for
    nodes 1..N-1 (entries of the root unused), ``node`` (H, P) int64 the node of each
    policy at each step. Cached, like the tree.
    """
    policies = np.ascontiguousarray(policies, dtype=np.int64)
    return _flat_tree(policies.tobytes(), policies.shape)


@functools.lru_cache(maxsize=64)
def _flat_tree(key, shape):
    policies = np.frombuffer(key, dtype=np.int64).reshape(shape)
    parents, controls, levels, nodes = [0], [0], [-1], []
    start_prev, start = 0, 1
    for tau, (parent, ctrl, node) in enumerate(control.policy_tree(policies)):
        parents += (start_prev + parent).tolist()
        controls += ctrl[:, 0].tolist()
        levels += [tau] * len(parent)
        nodes.append(start + node)
        start_prev, start = start, start + len(parent)
    as_int = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return as_int(parents), as_int(controls), as_int(levels), as_int(nodes)


def efe_tree_plain(q, A, B, C, parent, controls, level, node, flags, consts):
    """Utility and state information gain (batch, P) of every policy; see the module doc.

    ``q`` (batch, S), ``A`` (batch, O, S), ``B`` (batch, S, S, U), ``C`` (batch, H, O); the
    tree from :func:`flat_tree`; ``flags = [use_utility, use_states_info_gain]`` (int64);
    ``consts = [eps]`` in the arrays' dtype. All arrays C-contiguous, floats of one dtype.
    """
    eps = consts[0]
    batch, O, S = A.shape
    N = parent.shape[0]
    H, P = node.shape
    zero = eps - eps
    utility = np.zeros((batch, P), A.dtype)
    gain = np.zeros((batch, P), A.dtype)
    s = np.empty((N, S), A.dtype)  # the belief at every node
    H_A = np.empty(S, A.dtype)  # H[A[:, s]], policy-independent: once per batch element
    u_node = np.zeros(N, A.dtype)
    g_node = np.zeros(N, A.dtype)
    for b in range(batch):
        for i in range(S):
            s[0, i] = q[b, i]
            h = zero
            for o in range(O):
                h -= A[b, o, i] * np.log(max(A[b, o, i], eps))
            H_A[i] = h
        for k in range(1, N):
            p, u, tau = parent[k], controls[k], level[k]
            for i in range(S):  # s_k = B[:, :, u] s_parent
                acc = zero
                for j in range(S):
                    acc += B[b, i, j, u] * s[p, j]
                s[k, i] = acc
            util, ent = zero, zero
            for o in range(O):  # qo = A s_k, its utility and entropy
                qo = zero
                for i in range(S):
                    qo += A[b, o, i] * s[k, i]
                util += qo * C[b, tau, o]
                ent -= qo * np.log(max(qo, eps))
            amb = zero
            for i in range(S):
                amb += s[k, i] * H_A[i]
            u_node[k] = util
            g_node[k] = ent - amb
        for pi in range(P):  # each policy adds its nodes' terms, step after step
            for tau in range(H):
                if flags[0]:
                    utility[b, pi] += u_node[node[tau, pi]]
                if flags[1]:
                    gain[b, pi] += g_node[node[tau, pi]]
    return utility, gain


efe_tree_jit = njit(cache=True, nogil=True)(efe_tree_plain)


def supports(A, B, A_dependencies, B_dependencies, use_param_info_gain=False):
    """True when :func:`neg_efe_numba` applies: one factor, one modality, no novelty, NumPy."""
    return (
        backend.name() == "numpy"
        and len(A) == 1
        and len(B) == 1
        and list(A_dependencies[0]) == [0]
        and list(B_dependencies[0]) == [0]
        and not use_param_info_gain
    )


def neg_efe_numba(
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
    jit=True,
):
    """``control.neg_efe`` on the compiled kernel (same arguments, same ``(G, terms)``).

    ``jit=False`` runs the interpreted :func:`efe_tree_plain` instead (slow; for tests).
    """
    if not supports(A, B, A_dependencies, B_dependencies, use_param_info_gain):
        raise ValueError(
            "neg_efe_numba: expected one factor, one modality and no parameter information "
            f"gain on NumPy, got {len(B)} factors, {len(A)} modalities"
        )
    policies = np.asarray(policies)
    H = policies.shape[1]
    C0 = C[0] if C[0].ndim == 3 else np.repeat(C[0][:, None, :], H, axis=1)  # C[tau]
    arrays = [qs[0], A[0], B[0], C0]
    batch = max(x.shape[0] for x in arrays)
    if any(x.shape[0] != batch for x in arrays):
        arrays = [np.broadcast_to(x, (batch,) + x.shape[1:]) for x in arrays]
    dtype = qs[0].dtype
    arrays = [np.ascontiguousarray(x, dtype=dtype) for x in arrays]
    flags = np.array([use_utility, use_states_info_gain], dtype=np.int64)
    kernel = efe_tree_jit if jit else efe_tree_plain
    utility, gain = kernel(*arrays, *flat_tree(policies), flags, np.array([EPS], dtype))
    zero = np.zeros_like(utility)
    terms = {"utility": utility, "info_gain": gain, "novelty_A": zero, "novelty_B": zero}
    return utility + gain, terms
