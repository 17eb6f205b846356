"""Teacher forcing (sparse, generalized, identity) with hand-derived BPTT, eqs. (3.9)-(3.13).

One routine covers every forcing scheme of the chapter. With the identity observation model
the forcing signal of the observed units is the data itself, so for a window
``x_0 .. x_{T-1}`` and targets ``y_t = x_{t+1}``::

    z_0 = init(x_0)                                                     (3.7)
    for t = 0 .. T-1:
        if t > 0 and t % tau == 0:                                      (3.9)
            z[:, :N] = alpha * x_t + (1 - alpha) * z[:, :N]
        z = F(z);   Zhat_t = z
    loss = mean_{b,t,n} (Zhat_t[:, :N] - y_t)^2                          (3.10)

``alpha = 1`` is sparse (identity) teacher forcing every ``tau`` steps, ``alpha < 1`` with
``tau = 1`` is generalized teacher forcing (GTF), ``tau > T`` runs free. The loss uses the
prediction **before** forcing. Backward, the forcing step passes ``(1 - alpha)`` times the
adjoint of the observed units, eq. (3.11): nothing at ``alpha = 1``. This is exactly the
``alrnn_tf__note`` of the golden file (the DurstewitzLab notebook's in-place overwrite).

Arrays here are **batch-major** like the golden file: ``x, y: (batch, T, N)``,
``Zhat: (batch, T, M)``, inputs ``s: (batch, T, K)`` with ``s[:, t]`` driving ``Zhat_t``.
"""

from __future__ import annotations

import math

import numpy as np

from reference.backend import xp

ALPHA_METHODS = (
    "jacobian_upper_bound",
    "batch_maximum",
    "product_upper_bound",
    "arithmetic_mean",
    "explog_approx",
)


def _validate(model, x, y, alpha, tau, s):
    if x.ndim != 3 or x.shape[2] != model.N:
        raise ValueError(f"x: expected shape (batch, T, {model.N}), got {tuple(x.shape)}")
    if y is not None and y.shape != x.shape:
        raise ValueError(f"y: expected shape {tuple(x.shape)} (like x), got {tuple(y.shape)}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha}")
    if not isinstance(tau, (int, np.integer)) or isinstance(tau, bool) or tau < 1:
        raise ValueError(f"tau: expected an integer >= 1, got {tau!r}")
    if model.K and (s is None or s.shape != (*x.shape[:2], model.K)):
        got = None if s is None else tuple(s.shape)
        raise ValueError(f"s: expected shape {(*x.shape[:2], model.K)}, got {got}")


def force(z, x_t, alpha):
    """Eq. (3.9): ``z[:, :N] <- alpha x_t + (1 - alpha) z[:, :N]`` (a new array)."""
    N = x_t.shape[1]
    return xp.concatenate([alpha * x_t + (1.0 - alpha) * z[:, :N], z[:, N:]], axis=1)


def is_forced(t, tau):
    """Whether the state entering step ``t`` is forced: ``t > 0 and t % tau == 0``."""
    return t > 0 and t % tau == 0


def forced_rollout(model, params, x, alpha, tau, s=None):
    """Forward pass of eq. (3.9): ``(Zhat, Zin)``, both time-major ``(T, batch, M)``.

    ``Zin[t]`` is the (possibly forced) state that step ``t`` starts from; ``Zhat[t]`` is its
    prediction before any forcing. Written without in-place writes, so autograd can trace it.
    """
    _validate(model, x, None, alpha, tau, s)
    T = x.shape[1]
    z = model.initial_state(params, x[:, 0])
    Zin, Zhat = [], []
    for t in range(T):
        if is_forced(t, tau):
            z = force(z, x[:, t], alpha)
        Zin.append(z)
        z = model.step(params, z, None if s is None else s[:, t])
        Zhat.append(z)
    return xp.stack(Zhat), xp.stack(Zin)


def forced_loss(model, params, x, y, alpha, tau, s=None):
    """Eq. (3.10), forward only (what autograd and finite differences differentiate)."""
    Zhat, _ = forced_rollout(model, params, x, alpha, tau, s)
    err = model.observe(Zhat) - xp.swapaxes(y, 0, 1)
    return xp.mean(err * err)


def forced_rollout_loss(model, params, x, y, alpha, tau, s=None):
    """Loss (3.10), its gradients by BPTT (3.11)-(3.12), and ``Zhat: (batch, T, M)``.

    Backward, with ``g_t = dL/dZhat_t``::

        g_t = 2 (Zhat_t[:, :N] - y_t) / (B T N)  (first N units)  +  carry_t      (3.11)
        zbar_t = g_t^T dF/dz (Zin_t);   carry_{t-1} = zbar_t, observed units scaled
                                         by (1 - alpha) if Zin_t was forced
        dL/dtheta = sum_t g_t^T dF/dtheta (Zin_t);   dL/dB from zbar_0 via (3.7)   (3.12)

    The parameter gradients are one batched vector-Jacobian product over all ``T B`` states.
    """
    _validate(model, x, y, alpha, tau, s)
    Zhat, Zin = forced_rollout(model, params, x, alpha, tau, s)
    T, B, M = Zhat.shape
    N = model.N
    S = None if s is None else xp.swapaxes(s, 0, 1)
    err = Zhat[:, :, :N] - xp.swapaxes(y, 0, 1)
    loss = float(xp.mean(err * err))
    scale = 2.0 / err.size
    G = xp.zeros_like(Zhat)
    carry = xp.zeros((B, M), dtype=Zhat.dtype)
    for t in range(T - 1, -1, -1):
        g = carry.copy()
        g[:, :N] += scale * err[t]
        G[t] = g
        carry, _ = model.vjp(params, Zin[t], g, None if S is None else S[t], need_params=False)
        if is_forced(t, tau):
            carry[:, :N] *= 1.0 - alpha
    _, grads = model.vjp(
        params,
        Zin.reshape(T * B, M),
        G.reshape(T * B, M),
        None if S is None else S.reshape(T * B, -1),
    )
    grads["B"] = model.initial_state_vjp(x[:, 0], carry)
    return loss, grads, xp.swapaxes(Zhat, 0, 1)


# --------------------------------------------------------------------------- regularisers


def line_attractor_l2(model, params, lam):
    """Eq. (3.13a): ``lam (||1 - A||^2 + sum of ||theta||^2 over the other step parameters)``,
    pulling the model toward a line attractor (A = 1). Returns ``(value, grads)``."""
    value, grads = 0.0, {}
    for k in model.step_keys:
        p = params[k]
        d = p - 1.0 if k == "A" else p
        value = value + lam * xp.sum(d * d)
        grads[k] = 2.0 * lam * d
    return value, grads


def mar_penalty(model, params, lam, fraction=0.5):
    """Eq. (3.13b), manifold-attractor regularisation (Schmidt et al. 2021) on the last
    ``M_r = floor(fraction M)`` units r: ``lam (||1 - A_r||^2 + ||W_p[r, :]||^2 + ||h_r||^2)``.
    In our storage the couplings into unit r are the **column** ``W[:, r]``."""
    if "W" not in model.step_keys:
        raise ValueError(f"model: MAR needs a model with W, A, h, got {type(model).__name__}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: expected a number in [0, 1], got {fraction}")
    M = model.M
    r = np.arange(M) >= M - int(math.floor(fraction * M))
    A, W, h = params["A"], params["W"], params["h"]
    dA = (A - 1.0) * r
    dW = W * r[None, :]
    dh = h * r
    value = lam * (xp.sum(dA * dA) + xp.sum(dW * dW) + xp.sum(dh * dh))
    return value, {"A": 2 * lam * dA, "W": 2 * lam * dW, "h": 2 * lam * dh}


def ar_epsilon_penalty(model, params, lam, eps=0.05):
    """Eq. (3.13c), the ALRNN convergence loss ``lam ||relu(A + diag W - (1 - eps))||_2``:
    effective self-couplings above ``1 - eps`` are penalised. (The official default of
    ``ar_epsilon`` flipped to 0.95, a threshold of 0.05; we keep eps small.)"""
    if "W" not in model.step_keys:
        raise ValueError(f"model: needs A and W, got {type(model).__name__}")
    v = xp.maximum(params["A"] + xp.diag(params["W"]) - (1.0 - eps), 0)
    norm = float(xp.sqrt(xp.sum(v * v)))
    gv = lam * v / norm if norm > 0 else xp.zeros_like(v)
    return lam * norm, {"A": gv, "W": xp.diag(gv)}


# --------------------------------------------------------------------------- adaptive GTF


def jacobian_norms(model, params, Z):
    """Spectral norms ``||J(z)||_2`` of states ``Z: (T, batch, M)`` -> ``(T, batch)``."""
    T, B, M = Z.shape
    J = np.asarray(model.jacobian(params, Z.reshape(T * B, M)))
    return np.linalg.svd(J, compute_uv=False)[:, 0].reshape(T, B)  # largest singular value


def inferred_states(model, params, x):
    """Data-inferred latent states: ``Zin`` of an identity-forced rollout (alpha 1, tau 1).
    When every unit is observed (M = N) these are the data themselves."""
    if model.M == model.N:
        return xp.swapaxes(x, 0, 1)
    return forced_rollout(model, params, x, 1.0, 1)[1]


def estimate_alpha(model, params, x, method="product_upper_bound"):
    """Eq. (3.14): ``alpha* = max(0, 1 - 1/G)``, ``G`` an estimate of the Jacobian norm
    along the data (Hess et al. 2023). Methods: ``jacobian_upper_bound`` (parameter bound),
    ``batch_maximum`` (max norm), ``product_upper_bound`` (geometric mean along each
    sequence, max over the batch; the default), ``arithmetic_mean``, ``explog_approx``
    (geometric mean over all states)."""
    if method not in ALPHA_METHODS:
        raise ValueError(f"method: expected one of {ALPHA_METHODS}, got {method!r}")
    if method == "jacobian_upper_bound":
        G = model.norm_bound(params)
    else:
        norms = jacobian_norms(model, params, inferred_states(model, params, x))
        logs = np.log(np.maximum(norms, 1e-300))
        G = {
            "batch_maximum": lambda: norms.max(),
            "product_upper_bound": lambda: np.exp(logs.mean(axis=0)).max(),
            "arithmetic_mean": lambda: norms.mean(),
            "explog_approx": lambda: np.exp(logs.mean()),
        }[method]()
    return max(0.0, 1.0 - 1.0 / float(G)) if G > 0 else 0.0


def anneal_alpha(alpha, estimate, rate=0.001):
    """Eq. (3.15): jump up to a larger estimate, else decay slowly toward it."""
    return float(estimate) if estimate > alpha else (1.0 - rate) * alpha + rate * estimate
