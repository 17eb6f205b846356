"""Residual-logit dynamics on the probability simplex: forward and hand-derived backward.

Equations of chapter 1 (t = 1..T, all products elementwise, alpha broadcast over the batch)::

    (1.1)  x_t = [N_{t-1}, y_t, r_t, g_{t-1}]                  MLP input, (B, 4m)
    (1.2)  d_t = relu(relu(x_t W1 + b1) W2 + b2) W3 + b3        delta-logits, (B, m)
    (1.3)  z_t = log(N_{t-1} + eps) + d_t                       residual logits
    (1.4)  N_t = softmax(z_t)
    (1.5)  g_t = alpha g_{t-1} + (N_t - alpha N_{t-1}) y_t
    (1.6)  L   = mean_{t,b} [ sum_m g_{t,b,m}^2 - w H(N_{t,b}) ],
           H(N) = - sum_m N_m log(N_m + eps),   w = 0.1,   eps = 1e-9

The backward pass (chapter section "Backpropagation through time") runs the adjoints
``Nbar_t = dL/dN_t`` and ``gbar_t = dL/dg_t`` from t = T down to 1, eqs. (1.7)-(1.11).
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.backend import xp

EPS = 1e-9  # inside both logs, as in the source model
ENTROPY_WEIGHT = 0.1
SIMPLEX_TOL = 1e-6  # how far the rows of N0 may be from summing to one


# --------------------------------------------------------------------------- set-up


def init_params(m, hidden, rng, dtype="float64"):
    """MLP parameters ``{W1: (4m, H), b1, W2: (H, H), b2, W3: (H, m), b3}``.

    PyTorch's default ``nn.Linear`` initialisation, ``U(+-1/sqrt(fan_in))``, in ``x @ W + b``
    form. ``rng`` is a ``numpy.random.Generator``.
    """
    if int(m) != m or m < 2:
        raise ValueError(f"m: expected an integer >= 2 (the simplex size), got {m}")
    if int(hidden) != hidden or hidden < 1:
        raise ValueError(f"hidden: expected a positive integer, got {hidden}")
    return nn.init_mlp((4 * m, hidden, hidden, m), rng, dtype)


def default_alpha(m, dtype="float64"):
    """The source's fixed filter constants, ``linspace(0.1, 0.9, m)``."""
    return xp.asarray(np.linspace(0.1, 0.9, m), dtype=dtype)


def make_inputs(T, batch, m, rng, dtype="float64"):
    """The source's inputs: ``ys, rs ~ U[0, 1)^(T, B, m)``, ``N0 = softmax(U[0,1)^(B, m))``,
    ``g0 = 0``. Returns ``(N0, g0, ys, rs)``; they are drawn once and reused every step."""
    ys = rng.random((T, batch, m))
    rs = rng.random((T, batch, m))
    u = rng.random((batch, m))
    N0 = np.exp(u - u.max(axis=1, keepdims=True))
    N0 /= N0.sum(axis=1, keepdims=True)
    g0 = np.zeros((batch, m))
    return tuple(xp.asarray(a, dtype=dtype) for a in (N0, g0, ys, rs))


# --------------------------------------------------------------------------- forward


def step(params, alpha, N_prev, g_prev, y_t, r_t):
    """One time step, eqs. (1.1)-(1.5). Returns ``(N_t, g_t, z_t, mlp_cache)``."""
    x_t = xp.concatenate([N_prev, y_t, r_t, g_prev], axis=-1)  # (1.1)
    d_t, mlp_cache = nn.mlp_forward(params, x_t, activation="relu")  # (1.2)
    z_t = xp.log(N_prev + EPS) + d_t  # (1.3)
    N_t = nn.softmax(z_t)  # (1.4)
    g_t = alpha * g_prev + (N_t - alpha * N_prev) * y_t  # (1.5)
    return N_t, g_t, z_t, mlp_cache


def forward(params, alpha, N0, g0, ys, rs):
    """Roll eqs. (1.1)-(1.5) over t = 1..T. Returns ``(Ns, gs, logits)``, each ``(T, B, m)``.

    ``logits`` are the residual logits z_t (before the softmax). Written without in-place
    writes so that autograd can trace it.
    """
    _validate(params, alpha, N0, g0, ys, rs)
    Ns, gs, zs = [], [], []
    N_prev, g_prev = N0, g0
    for t in range(ys.shape[0]):
        N_prev, g_prev, z_t, _ = step(params, alpha, N_prev, g_prev, ys[t], rs[t])
        Ns.append(N_prev)
        gs.append(g_prev)
        zs.append(z_t)
    return xp.stack(Ns), xp.stack(gs), xp.stack(zs)


def entropy(N):
    """H(N) = -sum_m N log(N + eps) over the last axis (part of eq. 1.6)."""
    return -xp.sum(N * xp.log(N + EPS), axis=-1)


def objective(Ns, gs, entropy_weight=ENTROPY_WEIGHT):
    """Eq. (1.6): mean over (t, b) of ``sum_m g^2`` minus ``entropy_weight`` x mean entropy."""
    return xp.mean(xp.sum(gs * gs, axis=-1)) - entropy_weight * xp.mean(entropy(Ns))


def loss(params, alpha, N0, g0, ys, rs, entropy_weight=ENTROPY_WEIGHT):
    """Forward pass and eq. (1.6) in one call: the scalar :func:`loss_and_grads` differentiates."""
    Ns, gs, _ = forward(params, alpha, N0, g0, ys, rs)
    return objective(Ns, gs, entropy_weight)


# --------------------------------------------------------------------------- backward


def loss_adjoints(N_t, g_t, c, entropy_weight=ENTROPY_WEIGHT):
    """The direct adjoints of eq. (1.6) at one step, with ``c = 1 / (T B)``, eq. (1.7)::

        dL/dg_t |direct = 2 c g_t
        dL/dN_t |direct = w c (log(N_t + eps) + N_t / (N_t + eps))

    (the eps stays in the entropy's derivative: d/dN [N log(N + eps)] = log(N+eps) + N/(N+eps)).
    """
    gbar = 2.0 * c * g_t
    Nbar = entropy_weight * c * (xp.log(N_t + EPS) + N_t / (N_t + EPS))
    return Nbar, gbar


def step_backward(params, alpha, N_prev, g_prev, y_t, N_t, mlp_cache, Nbar_t, gbar_t):
    """Adjoint of one step, eqs. (1.8)-(1.11).

    ``Nbar_t`` and ``gbar_t`` are the *total* adjoints of N_t and g_t (everything that
    depends on them downstream, including their own loss terms and g_t's use of N_t).
    Returns ``(mlp_grads, Nbar_prev, gbar_prev, alphabar)`` where ``Nbar_prev`` and
    ``gbar_prev`` are the contributions of this step to the adjoints of N_{t-1}, g_{t-1}::

        (1.8)  zbar    = N_t * (Nbar_t - <Nbar_t, N_t>)                 softmax VJP
        (1.9)  xbar    = MLP backward of zbar       (dbar_t = zbar_t, eq. 1.3)
        (1.10) Nbar_{t-1} += zbar / (N_{t-1} + eps)  - alpha y_t gbar_t  + xbar[N block]
        (1.11) gbar_{t-1} += alpha gbar_t                                 + xbar[g block]
               alphabar    = sum_b gbar_t (g_{t-1} - N_{t-1} y_t)
    """
    m = N_t.shape[-1]
    zbar = nn.softmax_backward(N_t, Nbar_t)  # (1.8)
    mlp_grads, xbar = nn.mlp_backward(params, mlp_cache, zbar)  # (1.9)
    Nbar_prev = zbar / (N_prev + EPS) - alpha * y_t * gbar_t + xbar[:, :m]  # (1.10)
    gbar_prev = alpha * gbar_t + xbar[:, 3 * m :]  # (1.11)
    alphabar = xp.sum(gbar_t * (g_prev - N_prev * y_t), axis=0)
    return mlp_grads, Nbar_prev, gbar_prev, alphabar


def backprop_through_time(params, alpha, N0, g0, ys, rs, entropy_weight=ENTROPY_WEIGHT):
    """Forward with caches, then eqs. (1.7)-(1.11) from t = T down to 1.

    Returns ``(loss, grads, alphabar, Nbars, gbars)``: ``grads`` for the MLP parameters,
    ``alphabar = dL/dalpha`` and the total state adjoints ``Nbars[t-1] = dL/dN_t``,
    ``gbars[t-1] = dL/dg_t`` (``(T, B, m)``, the quantities plotted in the chapter).
    """
    _validate(params, alpha, N0, g0, ys, rs)
    T, B, _ = ys.shape
    c = 1.0 / (T * B)
    Ns, gs, caches = [N0], [g0], []
    for t in range(T):
        N_t, g_t, _, cache = step(params, alpha, Ns[-1], gs[-1], ys[t], rs[t])
        Ns.append(N_t)
        gs.append(g_t)
        caches.append(cache)
    value = objective(xp.stack(Ns[1:]), xp.stack(gs[1:]), entropy_weight)

    grads = {k: xp.zeros_like(p) for k, p in params.items()}
    alphabar = xp.zeros_like(alpha)
    Nbar_carry, gbar_carry = xp.zeros_like(N0), xp.zeros_like(g0)
    Nbars, gbars = [None] * T, [None] * T
    for t in range(T, 0, -1):
        Nbar_direct, gbar_direct = loss_adjoints(Ns[t], gs[t], c, entropy_weight)  # (1.7)
        gbar_t = gbar_carry + gbar_direct
        Nbar_t = Nbar_carry + Nbar_direct + ys[t - 1] * gbar_t  # N_t enters g_t via + N_t y_t
        Nbars[t - 1], gbars[t - 1] = Nbar_t, gbar_t
        step_grads, Nbar_carry, gbar_carry, alphabar_t = step_backward(
            params, alpha, Ns[t - 1], gs[t - 1], ys[t - 1], Ns[t], caches[t - 1], Nbar_t, gbar_t
        )
        for k in grads:
            grads[k] = grads[k] + step_grads[k]
        alphabar = alphabar + alphabar_t
    return value, grads, alphabar, xp.stack(Nbars), xp.stack(gbars)


def loss_and_grads(
    params,
    alpha,
    N0,
    g0,
    ys,
    rs,
    kernel="numpy",
    learn_alpha=False,
    entropy_weight=ENTROPY_WEIGHT,
):
    """Loss (1.6) and its gradient w.r.t. the MLP parameters (and alpha if ``learn_alpha``).

    ``kernel="numpy"`` runs the readable :func:`backprop_through_time` (any backend);
    ``kernel="numba"`` runs the fused, jitted twin in ``kernels.py`` (NumPy arrays, CPU).
    Both return the same numbers to round-off (tested to 1e-12).
    """
    if kernel == "numpy":
        value, grads, alphabar, _, _ = backprop_through_time(
            params, alpha, N0, g0, ys, rs, entropy_weight
        )
    elif kernel == "numba":
        from reference.residual_dynamics import kernels

        _validate(params, alpha, N0, g0, ys, rs)
        value, grads, alphabar = kernels.loss_and_grads_numba(
            params, alpha, N0, g0, ys, rs, entropy_weight
        )
    else:
        raise ValueError(f"kernel: expected 'numpy' or 'numba', got {kernel!r}")
    if learn_alpha:
        grads = {**grads, "alpha": alphabar}
    return value, grads


# --------------------------------------------------------------------------- validation

PARAM_SHAPES = ("W1", "b1", "W2", "b2", "W3", "b3")


def _validate(params, alpha, N0, g0, ys, rs):
    """Raise ``ValueError`` naming the argument for wrong shapes, dtypes or values."""
    if not isinstance(params, dict) or any(k not in params for k in PARAM_SHAPES):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(f"params: expected a dict with keys {list(PARAM_SHAPES)}, got {got}")
    for name, a in (("ys", ys), ("rs", rs)):
        if getattr(a, "ndim", None) != 3:
            raise ValueError(f"{name}: expected shape (T, B, m), got {_shape(a)}")
    T, B, m = ys.shape
    if T < 1 or B < 1 or m < 2:
        raise ValueError(f"ys: expected T >= 1, B >= 1, m >= 2, got shape {ys.shape}")
    expected = {
        "rs": (rs, (T, B, m)),
        "N0": (N0, (B, m)),
        "g0": (g0, (B, m)),
        "alpha": (alpha, (m,)),
    }
    for name, (a, shape) in expected.items():
        if tuple(getattr(a, "shape", ())) != shape:
            raise ValueError(
                f"{name}: expected shape {shape} (T, B, m = {T}, {B}, {m}), got {_shape(a)}"
            )
    H = params["W1"].shape[-1] if getattr(params["W1"], "ndim", 0) == 2 else None
    want = {"W1": (4 * m, H), "b1": (H,), "W2": (H, H), "b2": (H,), "W3": (H, m), "b3": (m,)}
    for k, shape in want.items():
        if tuple(getattr(params[k], "shape", ())) != shape:
            raise ValueError(
                f"params['{k}']: expected shape {shape} for m = {m}, got {_shape(params[k])}"
            )
    if _is_traced(N0):
        return  # autograd boxes: values were checked when the untraced call validated them
    for name, a in (("ys", ys), ("rs", rs), ("N0", N0), ("g0", g0), ("alpha", alpha)):
        if not bool(xp.all(xp.isfinite(a))):
            raise ValueError(f"{name}: expected finite values, found NaN or inf")
    for k in PARAM_SHAPES:
        if not _is_traced(params[k]) and not bool(xp.all(xp.isfinite(params[k]))):
            raise ValueError(f"params['{k}']: expected finite values, found NaN or inf")
    if bool(xp.any(N0 < 0)):
        raise ValueError("N0: expected a point on the simplex, found negative entries")
    worst = float(xp.max(xp.abs(xp.sum(N0, axis=-1) - 1.0)))
    if worst > SIMPLEX_TOL:
        raise ValueError(
            f"N0: expected rows that sum to 1 (tolerance {SIMPLEX_TOL:g}), "
            f"worst row is off by {worst:.3g}"
        )


def _is_traced(a):
    return type(a).__module__.startswith("autograd")


def _shape(a):
    return tuple(a.shape) if hasattr(a, "shape") else type(a).__name__
