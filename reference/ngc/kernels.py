"""Numba twins of settling (5.1)-(5.4) and of the local updates (5.7)-(5.9).

:func:`settle_plain` and :func:`hebbian_plain` are plain Python functions over NumPy arrays
(tuples of per-layer arrays, outputs written into arrays the caller allocates), written so
that ``numba.njit`` compiles them unchanged; :data:`settle_jit` and :data:`hebbian_jit` are
the compiled versions (``cache=True``). The tests check jit == plain == the readable
:func:`reference.ngc.circuit.settle` / :func:`reference.ngc.hebbian.hebbian_updates`.

What makes them fast is only the absence of temporaries and of repeated work: each settling
step is one ``np.dot(..., out=...)`` per error feedback and per prediction of a layer below a
hidden one (the prediction from the clamped top is made once), and the elementwise parts
(activation, error, leaky state update) are fused loops. Scalars arrive in the arrays'
dtype so a float32 call stays in float32. CPU and NumPy only.

Layout: ``Ws[l-1] = W^l`` (``l = 1..L``), ``Es[l-1] = E^l`` (``l = 1..L-1``),
``Z[l] = z^l`` (``Z[0] = x^o``, ``Z[L] = x^i``, hidden entries hold the initial states and
are overwritten), ``P[l] = phi(z^l)`` (the clamped ends as themselves), ``Err[l] = e^l``,
``Zbar[l] = zbar^l``, ``Fb[l] = e^{l-1} E^l`` (scratch).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import circuit

PHI_CODES = {"relu": 0, "tanh": 1, "identity": 2}


def _activate(z, out, phi_code):
    B, J = z.shape
    for b in range(B):
        for j in range(J):
            v = z[b, j]
            if phi_code == 0:
                out[b, j] = v if v > 0 else v - v
            elif phi_code == 1:
                out[b, j] = np.tanh(v)
            else:
                out[b, j] = v


def _errors(Ws, Z, P, Err, Zbar, L, inv2be, phi_code, g_phi, n_pred):
    """Eqs. (5.1)-(5.2) for every layer (P of the hidden layers refreshed first); only the
    predictions ``zbar^0..zbar^{n_pred-1}`` are recomputed (the others are kept)."""
    for l in range(1, L):
        _activate(Z[l], P[l], phi_code)
    for l in range(L):
        if l < n_pred:
            np.dot(P[l + 1], Ws[l], Zbar[l])  # (5.1)
            if g_phi and l > 0:
                _activate(Zbar[l], Zbar[l], phi_code)
        B, J = Zbar[l].shape
        for b in range(B):
            for j in range(J):
                Err[l][b, j] = (P[l][b, j] - Zbar[l][b, j]) * inv2be  # (5.2)


def settle_plain(Ws, Es, Z, P, Err, Zbar, Fb, T, consts, phi_code, g_phi):
    """Settle in place for ``T`` steps; ``consts = [beta, gamma_v, 1 / (2 beta_e)]``.

    ``g_phi``: apply phi to the hidden predictions (``g="phi"`` of the circuit). The top
    prediction ``zbar^{L-1} = g(x^i W^L)`` depends only on the clamped ``x^i``: it is
    computed once, not at every step."""
    beta, gamma_v, inv2be = consts[0], consts[1], consts[2]
    L = len(Ws)
    _errors(Ws, Z, P, Err, Zbar, L, inv2be, phi_code, g_phi, L)
    for _ in range(T):
        for l in range(1, L):
            np.dot(Err[l - 1], Es[l - 1], Fb[l])
            z, e, fb = Z[l], Err[l], Fb[l]
            B, J = z.shape
            for b in range(B):
                for j in range(J):
                    d = fb[b, j] - e[b, j]  # (5.3)
                    z[b, j] = z[b, j] + beta * (d - gamma_v * z[b, j])  # (5.4)
        _errors(Ws, Z, P, Err, Zbar, L, inv2be, phi_code, g_phi, L - 1)


def hebbian_plain(Ws, Es, P, Err, dWs, dEs, gamma_e, modulate, use_abs, m):
    """Eqs. (5.7)-(5.9) into ``dWs``/``dEs``; ``m`` is a scratch vector (>= widest layer)."""
    L = len(Ws)
    for l in range(L):
        np.dot(P[l + 1].T, Err[l], dWs[l])  # (5.7), unmodulated
        if modulate:
            _modulate(Ws[l], dWs[l], use_abs, m)
        if l < L - 1:
            dE, dW = dEs[l], dWs[l]
            for i in range(dE.shape[0]):
                for j in range(dE.shape[1]):
                    dE[i, j] = gamma_e * dW[j, i]  # (5.8)
            if modulate:
                _modulate(Es[l], dE, use_abs, m)


def _modulate(A, D, use_abs, m):
    """``D *= M(A)``, Eq. (5.9); row by row, the order the arrays are stored in."""
    n, k = A.shape
    for j in range(k):
        m[j] = A[0, 0] - A[0, 0]
    for i in range(n):
        for j in range(k):
            m[j] += abs(A[i, j]) if use_abs else A[i, j]
    m_max = m[0]
    for j in range(1, k):
        if m[j] > m_max:
            m_max = m[j]
    for j in range(k):
        f = 2 * m[j] / m_max
        if f > 1:
            f = f - f + 1
        m[j] = f
    for i in range(n):
        for j in range(k):
            D[i, j] *= m[j]


_activate_jit = njit(cache=True, nogil=True)(_activate)
_modulate_jit = njit(cache=True, nogil=True)(_modulate)


def _compiled(fn, helpers):
    """``fn`` compiled with ``helpers`` (name -> jitted function) bound in its globals."""
    import types

    g = dict(fn.__globals__)
    g.update(helpers)
    return njit(cache=True, nogil=True)(
        types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__)
    )


_errors_jit = _compiled(_errors, {"_activate": _activate_jit})
settle_jit = _compiled(settle_plain, {"_errors": _errors_jit})
hebbian_jit = _compiled(hebbian_plain, {"_modulate": _modulate_jit})


# --------------------------------------------------------------------------- wrappers


def _buffers(params, x_i, x_o, z_init):
    J = circuit.validate_params(params)
    L = len(J) - 1
    dt = np.result_type(x_i, x_o, *params.values())
    if dt not in (np.float32, np.float64):
        dt = np.float64
    c = lambda a: np.ascontiguousarray(a, dtype=dt)  # noqa: E731
    B = x_i.shape[0]
    Ws = tuple(c(params[f"W{l}"]) for l in range(1, L + 1))
    Es = tuple(c(params[f"E{l}"]) for l in range(1, L))
    if z_init is None:
        hidden = [np.zeros((B, J[l]), dt) for l in range(1, L)]
    else:
        hidden = [np.array(z, dtype=dt, order="C") for z in z_init]
    Z = (c(x_o), *hidden, c(x_i))
    P = (Z[0], *[np.empty((B, J[l]), dt) for l in range(1, L)], Z[L])
    Err = tuple(np.empty((B, J[l]), dt) for l in range(L))
    Zbar = tuple(np.empty((B, J[l]), dt) for l in range(L))
    Fb = tuple(np.empty((B, J[l]), dt) for l in range(L))
    return Ws, Es, Z, P, Err, Zbar, Fb, dt


def settle_fast(
    params, x_i, x_o, T, beta, gamma_v, beta_e, phi="relu", z_init=None, jit=True, g="identity"
):
    """:func:`reference.ngc.circuit.settle` through the kernel: the same dict (no trajectory)."""
    circuit.check_settle_args(params, x_i, x_o, T, beta, gamma_v, beta_e, phi, g)
    Ws, Es, Z, P, Err, Zbar, Fb, dt = _buffers(params, x_i, x_o, z_init)
    consts = np.array([beta, gamma_v, 1.0 / (2.0 * beta_e)], dtype=dt)
    (settle_jit if jit else settle_plain)(
        Ws, Es, Z, P, Err, Zbar, Fb, int(T), consts, PHI_CODES[phi], g == "phi"
    )
    return {"z": list(Z), "e": list(Err), "zbar": list(Zbar), "phi_z": list(P)}


def hebbian_fast(params, state, gamma_e, modulate=True, use_abs=True, jit=True):
    """:func:`reference.ngc.hebbian.hebbian_updates` through the kernel: ``(dW, dE)``."""
    J = circuit.validate_params(params)
    L = len(J) - 1
    P, Err = state["phi_z"], state["e"]
    dt = np.result_type(*P, *Err, *params.values())
    c = lambda a: np.ascontiguousarray(a, dtype=dt)  # noqa: E731
    Ws = tuple(c(params[f"W{l}"]) for l in range(1, L + 1))
    Es = tuple(c(params[f"E{l}"]) for l in range(1, L))
    if modulate:  # the same check as hebbian.modulation: Eq. (5.9) divides by the largest sum
        names = [f"W{l}" for l in range(1, L + 1)] + [f"E{l}" for l in range(1, L)]
        for name, A in zip(names, Ws + Es, strict=True):
            m_max = (np.abs(A) if use_abs else A).sum(axis=0).max()
            if not m_max > 0:
                raise ValueError(
                    f"{name}: modulation needs a positive largest column sum, got {m_max}"
                )
    dWs = tuple(np.empty_like(W) for W in Ws)
    dEs = tuple(np.empty_like(E) for E in Es)
    m = np.empty(max(J), dt)
    fn = hebbian_jit if jit else hebbian_plain
    fn(
        Ws,
        Es,
        tuple(c(p) for p in P),
        tuple(c(e) for e in Err),
        dWs,
        dEs,
        dt.type(gamma_e),
        bool(modulate),
        bool(use_abs),
        m,
    )
    dW = {f"W{l}": dWs[l - 1] for l in range(1, L + 1)}
    dE = {f"E{l}": dEs[l - 1] for l in range(1, L)}
    return dW, dE
