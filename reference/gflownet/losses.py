"""GFlowNet objectives as pure functions of log-probabilities, each with its gradient.

Arrays are time-major: a batch of B trajectories with up to T transitions gives ``(T, B)``
arrays of per-transition log-probabilities and a ``mask (T, B)`` that is 1 on real
transitions and 0 on padding. Every objective ``f(...) -> (loss, residuals)`` is written
against ``xp`` (autograd traces it); its twin ``f_grad(...) -> (loss, residuals, grads)``
adds the hand-derived gradient, a dict keyed by the names of the differentiable inputs.

Equations (s -> s' a transition, tau = (s_0 -> ... -> s_n = x) a trajectory)::

    (4.10) FM     r(s')   = log sum_{s -> s'} F(s -> s')
                           - log [ R(s') + sum_{s' -> s''} F(s' -> s'') ]
    (4.11) DB     r(s,s') = log F(s) + log P_F(s' | s) - log F(s') - log P_B(s | s'),  F(x) := R(x)
    (4.12) TB     r(tau)  = log Z + sum_t log P_F - sum_t log P_B - log R(x)
    (4.13) SubTB  r_ij    = log F(s_i) + sum_{i<=t<j} (log P_F - log P_B)_t - log F(s_j),
                 weights lambda^(j - i), normalised within each trajectory
    (4.14) ZVar   s(tau)  = sum_t log P_F - sum_t log P_B - log R(x),  loss = Var_batch s(tau)
    (4.15) SDB    r_k     = log F_k + log pi_k[a] + log Phat_k[x] - log F_{k+1} - log P_B,{k+1}[a]
    (4.16) CE     - log Phat(x | s, a)       (the dynamics model, maximum likelihood)

Squared residuals carry no 1/2 (torchgfn's convention); DB and SDB average over the
unmasked transitions, TB and ZVar over trajectories.

Inputs may be lists or arrays (converted with ``xp.asarray``); a NaN or infinity raises a
``ValueError`` naming the argument, also on padding (``0 * inf`` is NaN in a masked sum).
-inf is accepted in two places only, where it means a probability of zero: the entries of
``log_in``/``log_out`` that the masks of (4.10) switch off, and tokens other than the
realized one in the rows of ``dyn_logprobs`` (4.15) (dynamics that rule a token out, as
the known sticky kernel at alpha = 0 does); those rows must be log-normalised. The checks
live in ``checks.py``. The numba training path calls its fused kernels directly and
checks once per run.
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.backend import xp

from .checks import (
    check_cross_entropy,
    check_fm,
    check_mask,
    check_sdb_inputs,
    check_trajectories,
    floats,
)

# --------------------------------------------------------------------------- helpers


def masked_log_softmax(logits, valid):
    """log-softmax over the valid entries of the last axis; invalid entries give -inf.

    ``valid`` is a boolean array of the same shape with at least one True per row.
    """
    valid = np.asarray(valid, dtype=bool)
    if valid.shape != tuple(logits.shape):
        raise ValueError(f"valid: expected shape {tuple(logits.shape)}, got {valid.shape}")
    if not valid.any(axis=-1).all():
        raise ValueError("valid: every row needs at least one valid entry")
    shifted = xp.where(valid, logits, -np.inf)
    return nn.log_softmax(shifted)


def _onehot(tokens, vocab):
    return np.eye(vocab)[np.asarray(tokens)]


def transition_logprobs(fwd_logits, bwd_logits, intended):
    """``log pi_k[a_{k+1}]`` and ``log P_B,{k+1}[a_{k+1}]`` along a chain of prefixes.

    ``fwd_logits, bwd_logits: (K, B, V)`` are the heads at prefixes 0..K-1 of the chain;
    ``intended: (K, B)`` where ``intended[k + 1]`` is the token chosen at prefix k
    (``intended[0]`` is not used). Returns ``(log_pf, log_pb)``, each ``(K - 1, B)``.
    """
    A = _onehot(np.asarray(intended)[1:], fwd_logits.shape[-1])
    log_pf = xp.sum(nn.log_softmax(fwd_logits[:-1]) * A, axis=-1)
    log_pb = xp.sum(nn.log_softmax(bwd_logits[1:]) * A, axis=-1)
    return log_pf, log_pb


def transition_logprobs_backward(fwd_logits, bwd_logits, intended, d_log_pf, d_log_pb):
    """Adjoints ``(d_fwd_logits, d_bwd_logits)`` of :func:`transition_logprobs`.

    The last prefix's forward logits and the first prefix's backward logits are not used,
    so their adjoints are zero.
    """
    V = fwd_logits.shape[-1]
    A = _onehot(np.asarray(intended)[1:], V)
    zero = xp.zeros((1, *fwd_logits.shape[1:]))
    d_fwd = nn.log_softmax_backward(nn.log_softmax(fwd_logits[:-1]), d_log_pf[..., None] * A)
    d_bwd = nn.log_softmax_backward(nn.log_softmax(bwd_logits[1:]), d_log_pb[..., None] * A)
    return xp.concatenate([d_fwd, zero]), xp.concatenate([zero, d_bwd])


def _masked_softmax(x, mask):
    m = xp.max(xp.where(mask, x, -np.inf), axis=-1, keepdims=True)
    e = xp.where(mask, xp.exp(xp.where(mask, x - m, 0.0)), 0.0)
    s = xp.sum(e, axis=-1, keepdims=True)
    return e / s, (m + xp.log(s))[..., 0]


# --------------------------------------------------------------------------- (4.10) FM


def flow_matching(log_in, in_mask, log_out, out_mask):
    """Eq. (4.10), one row per non-initial state n.

    ``log_in (N, P)``: log edge flows into the state (``in_mask`` marks real parents);
    ``log_out (N, C)``: log edge flows out of it *and* its log reward as one more column
    (``out_mask`` marks the real ones: children, and the reward column of terminal states).
    Loss: mean over states of ``(logsumexp(in) - logsumexp(out))^2``. Entries the masks
    switch off are ignored (-inf there, the log of a zero flow, is fine).
    """
    log_in, in_mask, log_out, out_mask = check_fm(log_in, in_mask, log_out, out_mask)
    _, lhs = _masked_softmax(log_in, in_mask)
    _, rhs = _masked_softmax(log_out, out_mask)
    r = lhs - rhs
    return xp.mean(r * r), r


def flow_matching_grad(log_in, in_mask, log_out, out_mask):
    log_in, in_mask, log_out, out_mask = check_fm(log_in, in_mask, log_out, out_mask)
    p_in, lhs = _masked_softmax(log_in, in_mask)
    p_out, rhs = _masked_softmax(log_out, out_mask)
    r = lhs - rhs
    g = 2.0 * r / r.shape[0]
    grads = {"log_in": g[:, None] * p_in, "log_out": -g[:, None] * p_out}
    return xp.mean(r * r), r, grads


# --------------------------------------------------------------------------- (4.11) DB


def detailed_balance(log_F_from, log_pf, log_F_to, log_pb, mask):
    """Eq. (4.11) per transition, all ``(T, B)``; ``log_F_to`` holds log R on terminal steps.

    Loss: ``sum(mask r^2) / sum(mask)``. Returns ``(loss, r)`` (r on padding is not zeroed).
    """
    log_pf = floats("log_pf", log_pf)
    log_F_from, log_F_to, log_pb = (
        floats(name, a, log_pf.shape)
        for name, a in (("log_F_from", log_F_from), ("log_F_to", log_F_to), ("log_pb", log_pb))
    )
    mask = check_mask(mask, log_pf.shape)
    r = log_F_from + log_pf - log_F_to - log_pb
    return xp.sum(mask * r * r) / mask.sum(), r


def detailed_balance_grad(log_F_from, log_pf, log_F_to, log_pb, mask):
    loss, r = detailed_balance(log_F_from, log_pf, log_F_to, log_pb, mask)
    g = 2.0 * np.asarray(mask, dtype=float) * r / np.sum(mask)
    return loss, r, {"log_F_from": g, "log_pf": g, "log_F_to": -g, "log_pb": -g}


# --------------------------------------------------------------------------- (4.12) TB


def trajectory_balance(log_Z, log_pf, log_pb, log_reward, mask):
    """Eq. (4.12): ``mean_b r_b^2`` with ``r_b = log Z + sum_t m (log P_F - log P_B) - log R``."""
    log_Z = floats("log_Z", log_Z, ())
    log_pf, log_pb, log_reward, mask = check_trajectories(log_pf, log_pb, log_reward, mask)
    r = log_Z + xp.sum(mask * (log_pf - log_pb), axis=0) - log_reward
    return xp.mean(r * r), r


def trajectory_balance_grad(log_Z, log_pf, log_pb, log_reward, mask):
    loss, r = trajectory_balance(log_Z, log_pf, log_pb, log_reward, mask)
    g = 2.0 * r / r.shape[0]
    m = np.asarray(mask, dtype=float)
    grads = {"log_Z": xp.sum(g), "log_pf": m * g, "log_pb": -m * g, "log_reward": -g}
    return loss, r, grads


# --------------------------------------------------------------------------- (4.14) ZVar


def log_partition_variance(log_pf, log_pb, log_reward, mask):
    """Eq. (4.14): each trajectory's estimate ``log Z_b = log R - sum (log P_F - log P_B)``
    should agree; the loss is the batch variance (1/B) of ``s_b = -log Z_b``.
    Returns ``(loss, s - mean(s))``."""
    log_pf, log_pb, log_reward, mask = check_trajectories(log_pf, log_pb, log_reward, mask)
    s = xp.sum(mask * (log_pf - log_pb), axis=0) - log_reward
    c = s - xp.mean(s)
    return xp.mean(c * c), c


def log_partition_variance_grad(log_pf, log_pb, log_reward, mask):
    loss, c = log_partition_variance(log_pf, log_pb, log_reward, mask)
    g = 2.0 * c / c.shape[0]  # the mean's own derivative cancels: sum_b c_b = 0
    m = np.asarray(mask, dtype=float)
    return loss, c, {"log_pf": m * g, "log_pb": -m * g, "log_reward": -g}


# --------------------------------------------------------------------------- (4.13) SubTB


def _subtb_pieces(log_F, log_pf, log_pb, mask, lam):
    log_pf = floats("log_pf", log_pf)
    log_pb = floats("log_pb", log_pb, log_pf.shape)
    log_F = floats("log_F", log_F, (log_pf.shape[0] + 1, *log_pf.shape[1:]))
    mask = check_mask(mask, log_pf.shape)
    m = np.asarray(mask, dtype=float)
    if np.any(np.diff(m, axis=0) > 0):
        raise ValueError("mask: expected each column to be ones followed by zeros")
    if not (0.0 < lam):
        raise ValueError(f"lam: expected a positive number, got {lam}")
    T = log_pf.shape[0]
    n = m.sum(axis=0)  # transitions per trajectory; log_F[n_b, b] = log R
    i, j = np.arange(T + 1)[:, None, None], np.arange(T + 1)[None, :, None]
    w = (lam ** (j - i).astype(float)) * ((i < j) & (j <= n[None, None, :]))  # (T+1, T+1, B)
    w = w / w.sum(axis=(0, 1))  # normalised within each trajectory
    delta = m * (log_pf - log_pb)
    C = xp.concatenate([xp.zeros((1, log_pf.shape[1])), xp.cumsum(delta, axis=0)])
    r = log_F[:, None, :] + C[None, :, :] - C[:, None, :] - log_F[None, :, :]
    return m, w, r


def subtrajectory_balance(log_F, log_pf, log_pb, mask, lam=0.9):
    """Eq. (4.13). ``log_F (T + 1, B)`` are the state flows along each trajectory with the
    terminal one (at index ``sum(mask[:, b])``) set to log R; entries after it are unused
    but must be finite. Loss: ``mean_b sum_{i<j} w_ij r_ij^2``. Returns ``(loss, r)`` with
    ``r: (T + 1, T + 1, B)`` (meaningful where i < j <= n_b)."""
    _, w, r = _subtb_pieces(log_F, log_pf, log_pb, mask, lam)
    return xp.sum(w * r * r) / r.shape[-1], r


def subtrajectory_balance_grad(log_F, log_pf, log_pb, mask, lam=0.9):
    m, w, r = _subtb_pieces(log_F, log_pf, log_pb, mask, lam)
    G = 2.0 * w * r / r.shape[-1]
    d_F = G.sum(axis=1) - G.sum(axis=0)  # log F_i enters with +, log F_j with -
    d_C = -d_F
    # C_j = sum_{t < j} delta_t, so d delta_t = sum_{j > t} d C_j
    d_delta = xp.cumsum(d_C[::-1], axis=0)[::-1][1:]
    loss = xp.sum(w * r * r) / r.shape[-1]
    return loss, r, {"log_F": d_F, "log_pf": m * d_delta, "log_pb": -m * d_delta}


# --------------------------------------------------------------------------- (4.15) SDB


def _sdb_pieces(*args):
    log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized, log_reward, mask = (
        check_sdb_inputs(*args)
    )
    log_pf, log_pb = transition_logprobs(fwd_logits, bwd_logits, intended)
    if dyn_logprobs is not None:  # pick log Phat[x] (where, not a product: -inf * 0 is NaN)
        X = _onehot(realized[1:], fwd_logits.shape[-1]) > 0
        log_pf = log_pf + xp.sum(xp.where(X, dyn_logprobs, 0.0), axis=-1)
    log_F_to = xp.concatenate([log_flows[1:-1], log_reward[None, :]])
    return log_flows, fwd_logits, bwd_logits, intended, mask, log_pf, log_pb, log_F_to


def stochastic_db_loss(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized,
                       log_reward, mask):  # fmt: skip
    """Eq. (4.15), indexed as the source code indexes it.

    ``log_flows (K, B)`` and ``fwd_logits, bwd_logits (K, B, V)`` are the policy heads at
    the prefixes 0..K-1 of each sequence's chain; ``intended, realized (K, B)``: the token
    appended between prefix k and prefix k+1 is at index k+1 (index 0 is not used);
    ``dyn_logprobs (K - 1, B, V)``: log-softmaxed ``Phat(. | prefix_k, a_{k+1})``, treated
    as constants (no gradient); ``log_reward (B,)`` already floored; ``mask (K - 1, B)``.
    For k = 0..K-2::

        r_k = log F_k + log pi_k[a] + log Phat_k[x] - g_k - log P_B,{k+1}[a]
        g_k = log F_{k+1}  (k < K - 2),   g_{K-2} = log R,    a = a_{k+1}, x = x_{k+1}

    and the loss is ``sum(mask r^2) / sum(mask)``: detailed balance (4.11) with the forward
    log-probability ``log pi + log Phat`` of the two half-steps. With the source's call
    (prefixes of lengths 1..L, K = L) the first transition from the empty prefix is left
    out; passing the chain 0..L (K = L + 1, a dummy token in row 0) includes it.
    ``dyn_logprobs=None`` drops the Phat term: the deterministic DB baseline.
    Inputs are checked by :func:`check_sdb_inputs`.
    Returns ``(loss, residuals (K - 1, B))``.
    """
    log_flows, _, _, _, mask, log_pf, log_pb, log_F_to = _sdb_pieces(
        log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized, log_reward, mask
    )
    return detailed_balance(log_flows[:-1], log_pf, log_F_to, log_pb, mask)


def stochastic_db_grad(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized,
                       log_reward, mask):  # fmt: skip
    """:func:`stochastic_db_loss` and its gradient w.r.t. ``log_flows``, ``fwd_logits``,
    ``bwd_logits`` and ``log_reward`` (Phat gets none). Returns ``(loss, residuals, grads)``."""
    log_flows, fwd_logits, bwd_logits, intended, mask, log_pf, log_pb, log_F_to = _sdb_pieces(
        log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized, log_reward, mask
    )
    loss, r, g = detailed_balance_grad(log_flows[:-1], log_pf, log_F_to, log_pb, mask)
    zero = xp.zeros((1, log_flows.shape[1]))
    d_flows = xp.concatenate([g["log_F_from"], zero]) + xp.concatenate(
        [zero, g["log_F_to"][:-1], zero]
    )
    d_fwd, d_bwd = transition_logprobs_backward(
        fwd_logits, bwd_logits, intended, g["log_pf"], g["log_pb"]
    )
    grads = {"log_flows": d_flows, "fwd_logits": d_fwd, "bwd_logits": d_bwd,
             "log_reward": g["log_F_to"][-1]}  # fmt: skip
    return loss, r, grads


# --------------------------------------------------------------------------- (4.16) CE


def dynamics_cross_entropy(logits, realized, mask=None):
    """Eq. (4.16): ``- sum(mask log softmax(logits)[x]) / sum(mask)`` for ``logits (..., V)``.

    Returns ``(loss, d_logits)``; the maximum-likelihood fit of the dynamics model.
    """
    realized, m = check_cross_entropy(logits, realized, mask)
    X = _onehot(realized, logits.shape[-1])
    logp = nn.log_softmax(logits)
    loss = -xp.sum(m * xp.sum(logp * X, axis=-1)) / m.sum()
    d_logits = nn.log_softmax_backward(logp, -(m / m.sum())[..., None] * X)
    return loss, d_logits
