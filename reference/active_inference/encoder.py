"""The tutorial's neural encoder, trained *through* state inference: forward and adjoints.

An MLP maps a continuous point x (2-D) to logits over the K outcomes of the line world; a
tempered, clipped softmax turns them into a soft observation that the one-factor agent
(fixed A, B, D) filters with fpi. Per time step t = 0..T-1 (batch axis omitted)::

    (2.23) s_t = sigma(l_t / tau)                       l_t = MLP(x_t), tau = 0.15
    (2.24) o_t = c_t / sum(c_t),  c_t = max(s_t, lo)   lo = 1e-8 (the tutorial's EPS)
    (2.25) LL_t = (ln+ A)^T o_t                          expected log-likelihood, eq. (2.5)
    (2.26) q_t = sigma(LL_t + ln+ p_t),   p_0 = D        one-factor fpi, eq. (2.6)
    (2.27) F_t = q_t . ln+ q_t - q_t . ln+ p_t - q_t . LL_t            VFE, eq. (2.8)
    (2.28) p_{t+1} = B_{a_t} q_t                          empirical prior, eq. (2.11)
    (2.29) KL_{t+1} = obar . (ln obar - ln r),  obar = max(o_{t+1}, lo),
           r = max(A p_{t+1}, lo) / sum(max(A p_{t+1}, lo))
    (2.30) L = 1/(T N) sum_{t,n} F_t + w / ((T-1) N) sum_{t,n} KL_{t+1},   w = 8

(ln+ is eq. 2.1 with pymdp's eps = 2.2e-16; the KL uses a plain log of inputs clipped at lo,
as the tutorial does; L is pymdp's tutorial objective, golden ``objective_gradient``.)
Arrays are time-major, ``logits`` (T, N, K) and ``actions`` (T-1, N); the tutorial and the
golden file are batch-major, (N, T, K) with T actions of which the last is never used.

The hand-derived backward runs the adjoints ``xbar = dL/dx`` from t = T-1 down to 0, with
``c1 = 1/(T N)``, ``c2 = w/((T-1) N)`` and ``<u, v>`` the sum over the last axis::

    (2.31) clip:   d max(x, lo)/dx = m(x, lo) = 1[x > lo] + 1/2 1[x == lo]
    (2.32) KL:     obar-bar = c2 (ln obar + 1 - ln r);  rbar = -c2 obar / r
                   u = A p_{t+1}:  ubar = m(u, lo) (rbar - <rbar, r>) / sum max(u, lo)
                   pbar_{t+1} += A^T ubar;   obar_{t+1} += m(o_{t+1}, lo) obar-bar
    (2.33) VFE:    qbar_t = c1 (ln+ q + q m(q, eps)/max(q, eps) - ln+ p_t - LL_t)
                            + B_{a_t}^T pbar_{t+1}                      (prior recursion)
                   LLbar_t = -c1 q_t;   pbar_t += -c1 q_t m(p_t, eps) / max(p_t, eps)
    (2.34) fpi:    Lbar = q (qbar - <qbar, q>);  LLbar_t += Lbar;
                   pbar_t += Lbar m(p_t, eps) / max(p_t, eps)
    (2.35) LL:     obar_t += (ln+ A) LLbar_t
    (2.36) obs:    cbar = (obar - <obar, o>) / sum(c);  sbar = m(s, lo) cbar;
                   lbar = s (sbar - <sbar, s>) / tau

Clip at the boundary, eq. (2.31): the tutorial's ``jnp.clip(x, min=lo)`` is
``jnp.maximum(lo, x)``, whose JAX derivative is 1 above, 0 below and 1/2 *at* the tie
(``lax.max`` splits the cotangent between equal arguments); ``autograd``'s ``maximum`` does
the same, so the three gradients agree everywhere. (Away from ties it is the usual 0/1 mask.)
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.backend import xp

from .envs import line_world_model
from .maths import EPS, log_stable

TEMPERATURE = 0.15  # LOGIT_TEMPERATURE of the tutorial
OBS_EPS = 1e-8  # the tutorial's EPS: clip of o and of A p before the KL
KL_WEIGHT = 8.0  # TEMPORAL_CONSISTENCY_WEIGHT
ENCODER_SIZES = (2, 256, 256, 256, 5)  # equinox MLP(depth=3, width_size=256), tanh
NORM_TOL = 1e-6  # |sum - 1| allowed for columns of A, B and for D


# --------------------------------------------------------------------------- encoder


def init_encoder(rng, sizes=ENCODER_SIZES, dtype="float64"):
    """MLP parameters ``{W1, b1, ..., W4, b4}``; equinox's init, U(+-1/sqrt(fan_in))."""
    return nn.init_mlp(sizes, rng, dtype)


def encoder_logits(params, x):
    """``l = MLP(x)`` (tanh hidden layers, linear output) for ``x`` (..., 2) -> (..., K)."""
    flat = x.reshape(-1, x.shape[-1])
    out, _ = nn.mlp_forward(params, flat, activation="tanh")
    return out.reshape(x.shape[:-1] + out.shape[-1:])


def clip_grad_mask(x, lo):
    """Eq. (2.31): d max(x, lo) / dx = 1 above lo, 0 below, 1/2 at the tie (JAX, autograd)."""
    return ((x > lo) + 0.5 * (x == lo)).astype(x.dtype)


def observation(logits, temperature=TEMPERATURE):
    """Eqs. (2.23)-(2.24): ``o = renorm(max(softmax(l / tau), lo))``, over the last axis."""
    c = xp.maximum(nn.softmax(logits / temperature), OBS_EPS)
    return c / xp.sum(c, axis=-1, keepdims=True)


def predicted_observation(A, p):
    """``r = renorm(max(A p, lo))`` for ``p`` (N, S) -> (N, O), the KL target of eq. (2.29)."""
    u = xp.maximum(p @ A.T, OBS_EPS)
    return u / xp.sum(u, axis=-1, keepdims=True)


# --------------------------------------------------------------------------- forward


def objective_forward(
    logits, actions, A=None, B=None, D=None, temperature=TEMPERATURE, kl_weight=KL_WEIGHT
):
    """Eqs. (2.23)-(2.30) over a batch of sequences, time-major.

    ``logits`` (T, N, K) are the encoder outputs *before* the temperature; ``actions``
    (T-1, N) integers (a_t moves p_t to p_{t+1}); A (K, S), B (S, S, U), D (S,) default to
    the line world. Returns ``(total, mean_vfe, temporal_kl, cache)``; ``cache`` holds the
    per-step arrays the backward needs (and ``cache["q"]``, the filtered beliefs). Written
    without in-place writes so that autograd can trace it.
    """
    A, B, D = _validate(logits, actions, A, B, D, temperature, kl_weight)
    T, N, _ = logits.shape
    lnA = log_stable(A)
    B_by_action = xp.moveaxis(B, -1, 0)  # (U, S', S)
    cache = {k: [] for k in ("s", "c", "o", "LL", "p", "q", "u", "r", "B_sel")}
    p = xp.broadcast_to(D, (N, D.shape[0]))
    vfe_sum, kl_sum = 0.0, 0.0
    for t in range(T):
        s = nn.softmax(logits[t] / temperature)  # (2.23)
        c = xp.maximum(s, OBS_EPS)  # (2.24)
        o = c / xp.sum(c, axis=-1, keepdims=True)
        LL = o @ lnA  # (2.25)
        q = nn.softmax(LL + log_stable(p))  # (2.26)
        F = xp.sum(q * log_stable(q), -1) - xp.sum(q * log_stable(p), -1) - xp.sum(q * LL, -1)
        vfe_sum = vfe_sum + xp.sum(F)  # (2.27)
        for name, value in (("s", s), ("c", c), ("o", o), ("LL", LL), ("p", p), ("q", q)):
            cache[name].append(value)
        if t > 0:  # (2.29): o_t against the prediction p_t made at t - 1
            ob = xp.maximum(o, OBS_EPS)
            u = p @ A.T
            uc = xp.maximum(u, OBS_EPS)
            r = uc / xp.sum(uc, axis=-1, keepdims=True)
            kl_sum = kl_sum + xp.sum(ob * (xp.log(ob) - xp.log(r)))
            cache["u"].append(u)
            cache["r"].append(r)
        if t < T - 1:
            B_sel = B_by_action[xp.asarray(actions[t])]  # (N, S', S)
            p = xp.einsum("nij,nj->ni", B_sel, q)  # (2.28)
            cache["B_sel"].append(B_sel)
    mean_vfe = vfe_sum / (T * N)
    temporal_kl = kl_sum / ((T - 1) * N) if T > 1 else 0.0 * vfe_sum
    total = mean_vfe + kl_weight * temporal_kl  # (2.30)
    cache.update(A=A, lnA=lnA, temperature=temperature, kl_weight=kl_weight, shape=(T, N))
    return total, mean_vfe, temporal_kl, cache


def objective(
    logits, actions, A=None, B=None, D=None, temperature=TEMPERATURE, kl_weight=KL_WEIGHT
):
    """Eq. (2.30) as one scalar (what autograd and finite differences differentiate)."""
    return objective_forward(logits, actions, A, B, D, temperature, kl_weight)[0]


# --------------------------------------------------------------------------- backward


def objective_backward(cache):
    """Eqs. (2.31)-(2.36): ``dL/dlogits`` (T, N, K) from the cache of the forward pass."""
    T, N = cache["shape"]
    A, lnA, tau, w = cache["A"], cache["lnA"], cache["temperature"], cache["kl_weight"]
    c1 = 1.0 / (T * N)
    c2 = w / ((T - 1) * N) if T > 1 else 0.0
    grads = [None] * T
    pbar_next = None  # total adjoint of p_{t+1}
    for t in range(T - 1, -1, -1):
        s, c, o = cache["s"][t], cache["c"][t], cache["o"][t]
        LL, p, q = cache["LL"][t], cache["p"][t], cache["q"][t]
        obar = xp.zeros_like(o)
        pbar = xp.zeros_like(p)
        if t > 0:  # (2.32): KL_t pairs o_t with the prediction p_t
            u, r = cache["u"][t - 1], cache["r"][t - 1]
            ob = xp.maximum(o, OBS_EPS)
            obar = obar + clip_grad_mask(o, OBS_EPS) * c2 * (xp.log(ob) + 1.0 - xp.log(r))
            rbar = -c2 * ob / r
            uc_sum = xp.sum(xp.maximum(u, OBS_EPS), axis=-1, keepdims=True)
            ubar = clip_grad_mask(u, OBS_EPS) * (rbar - xp.sum(rbar * r, -1, keepdims=True))
            pbar = pbar + (ubar / uc_sum) @ A
        dlnp = clip_grad_mask(p, EPS) / xp.maximum(p, EPS)  # d ln+ p / dp
        qbar = c1 * (log_stable(q) + q * clip_grad_mask(q, EPS) / xp.maximum(q, EPS))
        qbar = qbar - c1 * (log_stable(p) + LL)  # (2.33)
        if pbar_next is not None:
            qbar = qbar + xp.einsum("nij,ni->nj", cache["B_sel"][t], pbar_next)
        LLbar = -c1 * q
        pbar = pbar - c1 * q * dlnp
        Lbar = nn.softmax_backward(q, qbar)  # (2.34)
        LLbar = LLbar + Lbar
        pbar = pbar + Lbar * dlnp
        obar = obar + LLbar @ lnA.T  # (2.35)
        cbar = (obar - xp.sum(obar * o, -1, keepdims=True)) / xp.sum(c, -1, keepdims=True)
        sbar = clip_grad_mask(s, OBS_EPS) * cbar  # (2.36)
        grads[t] = nn.softmax_backward(s, sbar) / tau
        pbar_next = pbar
    return xp.stack(grads)


def objective_and_grad(
    logits, actions, A=None, B=None, D=None, temperature=TEMPERATURE, kl_weight=KL_WEIGHT
):
    """``(total, {"total", "vfe", "kl"}, dL/dlogits)``: eqs. (2.23)-(2.36) in one call."""
    total, vfe, kl, cache = objective_forward(logits, actions, A, B, D, temperature, kl_weight)
    parts = {"total": float(total), "vfe": float(vfe), "kl": float(kl)}
    return total, parts, objective_backward(cache)


def loss_and_grads(params, x, actions, A=None, B=None, D=None, **kwargs):
    """Objective (2.30) of the encoder on ``x`` (T, N, 2) and its gradient w.r.t. ``params``.

    The logits adjoint of eqs. (2.31)-(2.36) is chained into the MLP by ``nn.mlp_backward``.
    Returns ``(total, parts, grads)`` with ``parts`` = total / vfe / kl as floats.
    """
    if getattr(x, "ndim", None) != 3:
        raise ValueError(f"x: expected shape (T, N, dim), got {getattr(x, 'shape', type(x))}")
    T, N, dim = x.shape
    out, mlp_cache = nn.mlp_forward(params, x.reshape(T * N, dim), activation="tanh")
    logits = out.reshape(T, N, out.shape[-1])
    total, parts, dlogits = objective_and_grad(logits, actions, A, B, D, **kwargs)
    grads, _ = nn.mlp_backward(params, mlp_cache, dlogits.reshape(T * N, -1), need_dx=False)
    return total, parts, grads


def filtered_beliefs(params, x, actions, A=None, B=None, D=None, temperature=TEMPERATURE):
    """q_t of eq. (2.26) for every step of every sequence, (T, N, S), with the true actions."""
    logits = encoder_logits(params, x)
    cache = objective_forward(logits, actions, A, B, D, temperature)[3]
    return xp.stack(cache["q"])


# --------------------------------------------------------------------------- validation


def _validate(logits, actions, A, B, D, temperature, kl_weight):
    """Check shapes, dtypes and normalisation; return A, B, D in the dtype of ``logits``."""
    if getattr(logits, "ndim", None) != 3 or min(logits.shape) < 1:
        raise ValueError(f"logits: expected shape (T, N, K), got {_shape(logits)}")
    T, N, K = logits.shape
    if A is None or B is None or D is None:
        A0, B0, _, D0 = line_world_model()
        A, B, D = (A0 if A is None else A), (B0 if B is None else B), (D0 if D is None else D)
    dtype = logits.dtype
    A, B, D = (np.asarray(a, dtype=np.float64) for a in (A, B, D))
    if A.ndim != 2 or A.shape[0] != K:
        raise ValueError(f"A: expected shape ({K}, S) to match logits (T, N, K={K}), got {A.shape}")
    S = A.shape[1]
    if B.ndim != 3 or B.shape[:2] != (S, S):
        raise ValueError(f"B: expected shape ({S}, {S}, U), got {B.shape}")
    if D.shape != (S,):
        raise ValueError(f"D: expected shape ({S},), got {D.shape}")
    for name, a, axis in (("A", A, 0), ("B", B, 0), ("D", D, 0)):
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"{name}: expected finite non-negative probabilities")
        err = float(np.max(np.abs(a.sum(axis=axis) - 1.0)))
        if err > NORM_TOL:
            raise ValueError(f"{name}: expected distributions over axis 0, off by {err:.3g}")
    a = np.asarray(actions)
    if a.shape != (T - 1, N) or a.dtype.kind not in "iu":
        raise ValueError(
            f"actions: expected integers of shape ({T - 1}, {N}), got {a.shape} {a.dtype}"
        )
    if a.size and (a.min() < 0 or a.max() >= B.shape[2]):
        raise ValueError(
            f"actions: expected controls in [0, {B.shape[2]}), got {a.min()}..{a.max()}"
        )
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature: expected a positive number, got {temperature}")
    if not (np.isfinite(kl_weight) and kl_weight >= 0):
        raise ValueError(f"kl_weight: expected a non-negative number, got {kl_weight}")
    if not type(logits).__module__.startswith("autograd") and not bool(xp.all(xp.isfinite(logits))):
        raise ValueError("logits: expected finite values, found NaN or inf")
    return tuple(xp.asarray(v, dtype=dtype) for v in (A, B, D))


def _shape(a):
    return tuple(a.shape) if hasattr(a, "shape") else type(a).__name__
