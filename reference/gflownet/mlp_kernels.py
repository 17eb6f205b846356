"""Numba twins of the networks' depth-2 MLP, the log-softmax and the dynamics cross-entropy.

:func:`mlp_forward` and :func:`mlp_backward` have the signature and cache of
``reference.nn``'s, so ``models.policy_*`` and ``models.dynamics_*`` take ``mlp=kernels``
(this module's names are re-exported by ``kernels``) as well as ``mlp=nn``; each is one
compiled call instead of about twenty NumPy ones. :func:`dynamics_cross_entropy` is the twin
of ``losses.dynamics_cross_entropy`` (4.16), one pass per row.

As in ``kernels``, every ``*_plain`` function is undecorated Python over NumPy arrays (the
readable twin, used by the tests and by ``NUMBA_DISABLE_JIT=1``) and ``*_jit`` is its compiled
version. The checked wrappers validate their arguments; the compiled training iteration
(``compiled.py``) validates once per run and calls the ``*_jit`` kernels directly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MLP_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")

# --------------------------------------------------------------------------- depth-2 MLP


def mlp2_forward_plain(x, W1, b1, W2, b2, W3, b3):
    """``nn.mlp_forward`` for depth 2 (ReLU hidden, identity output): ``(h1, h2, out)``."""
    h1 = np.maximum(x @ W1 + b1, 0.0)
    h2 = np.maximum(h1 @ W2 + b2, 0.0)
    return h1, h2, h2 @ W3 + b3


def mlp2_backward_plain(x, h1, h2, W2, W3, dout):
    """``nn.mlp_backward`` (``need_dx=False``) of :func:`mlp2_forward_plain`:
    ``(dW1, db1, dW2, db2, dW3, db3)`` for ``dout = dL/d(out)``."""
    dW3, db3 = h2.T @ dout, dout.sum(axis=0)
    da2 = (dout @ W3.T) * (h2 > 0.0)
    dW2, db2 = h1.T @ da2, da2.sum(axis=0)
    da1 = (da2 @ W2.T) * (h1 > 0.0)
    return x.T @ da1, da1.sum(axis=0), dW2, db2, dW3, db3


mlp2_forward_jit = njit(cache=True)(mlp2_forward_plain)
mlp2_backward_jit = njit(cache=True)(mlp2_backward_plain)


def mlp_forward(params, x, activation="relu", out_activation="identity", jit=True):
    """Twin of ``nn.mlp_forward`` (same arguments and cache) for depth-2 ReLU MLPs, one
    compiled call (:func:`mlp2_forward_jit`, or the plain twin) instead of nine NumPy ones."""
    if (activation, out_activation) != ("relu", "identity") or len(params) != 6:
        raise ValueError("params: the fused MLP kernel takes depth-2 ReLU MLPs (W1..b3)")
    x = np.ascontiguousarray(x, dtype=np.float64)
    fn = mlp2_forward_jit if jit else mlp2_forward_plain
    h1, h2, out = fn(x, *(params[k] for k in MLP_KEYS))
    return out, {"hs": [x, h1, h2, out], "activation": activation,
                 "out_activation": out_activation}  # fmt: skip


def mlp_backward(params, cache, dout, need_dx=True, jit=True):
    """Twin of ``nn.mlp_backward`` for caches of :func:`mlp_forward` (``need_dx=False``)."""
    if need_dx:
        raise ValueError("need_dx: the fused MLP kernel returns parameter gradients only")
    x, h1, h2, _ = cache["hs"]
    fn = mlp2_backward_jit if jit else mlp2_backward_plain
    g = fn(x, h1, h2, params["W2"], params["W3"], np.ascontiguousarray(dout, dtype=np.float64))
    return dict(zip(MLP_KEYS, g, strict=True)), None


# --------------------------------------------------------------------------- log-softmax


def log_softmax_plain(z):
    """``nn.log_softmax`` over the last axis of rows ``z (N, V)``: ``z - max - log sum exp``."""
    N, V = z.shape
    out = np.empty((N, V))
    for n in range(N):
        top = z[n, 0]
        for v in range(1, V):
            top = max(top, z[n, v])
        total = 0.0
        for v in range(V):
            total += math.exp(z[n, v] - top)
        lse = math.log(total)
        for v in range(V):
            out[n, v] = (z[n, v] - top) - lse
    return out


log_softmax_jit = njit(cache=True)(log_softmax_plain)


# --------------------------------------------------------------------------- (4.16) CE


def dynamics_ce_plain(logp, realized, mask):
    """Eq. (4.16) from log-probabilities rows ``logp (N, V)`` (:func:`log_softmax_plain` of
    the logits), ``realized (N,)``, ``mask (N,)``: ``(loss, d_logits)`` as
    ``losses.dynamics_cross_entropy``, with ``d_logits = w (softmax - e_x)``, ``w = mask / sum
    mask`` (one pass per row)."""
    N, V = logp.shape
    total = mask.sum()
    loss = 0.0
    d_logits = np.empty((N, V))
    for n in range(N):
        w = mask[n] / total
        loss -= mask[n] * logp[n, realized[n]]
        for v in range(V):
            d_logits[n, v] = w * math.exp(logp[n, v])
        d_logits[n, realized[n]] -= w
    return loss / total, d_logits


dynamics_ce_jit = njit(cache=True)(dynamics_ce_plain)


def dynamics_cross_entropy(logits, realized, mask=None, jit=True):
    """Twin of ``losses.dynamics_cross_entropy`` (same arguments and results) computed by
    :func:`log_softmax_jit` and :func:`dynamics_ce_jit` (or the plain twins)."""
    from .checks import check_cross_entropy

    realized, m = check_cross_entropy(logits, realized, mask)
    V = logits.shape[-1]
    log_softmax = log_softmax_jit if jit else log_softmax_plain
    ce = dynamics_ce_jit if jit else dynamics_ce_plain
    logp = log_softmax(np.ascontiguousarray(logits, dtype=np.float64).reshape(-1, V))
    loss, d = ce(logp, np.ascontiguousarray(realized, dtype=np.int64).reshape(-1),
                 np.ascontiguousarray(m, dtype=np.float64).reshape(-1))  # fmt: skip
    return loss, d.reshape(logits.shape)
