"""Numba twins of the teacher-forced rollout and its BPTT, eqs. (3.9)-(3.12).

:func:`plrnn_rollout_plain` (PLRNN, mean-centred PLRNN and ALRNN, which differ only in
which units pass a ReLU and whether the ReLU input is centred) and
:func:`shallow_rollout_plain` (shPLRNN and clipped shPLRNN) are plain Python functions over
NumPy arrays computing exactly what ``forcing.forced_rollout_loss`` computes, written as
explicit loops so that ``numba.njit`` compiles them; ``*_jit`` are the compiled versions
(``cache=True``). The tests check ``jit == plain == forcing.forced_rollout_loss``.

Why loops: at the sizes of the chapter (M = 3..30, batch 16) a BLAS call costs more in
overhead than its arithmetic; unrolled loops over a step keep everything in cache. The
backward pass recomputes the cheap pre-activations instead of storing them, so a call
allocates only its outputs. Arrays are time-major here: ``x, y: (T, batch, N)``.
Models with external inputs ``s`` use the NumPy path.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from reference import backend
from reference.dsr import models


def plrnn_rollout_plain(A, W, h, B, x, y, consts, P, mean_center, off_diag):
    """Forced rollout + BPTT for ``z' = A*z + phi(c(z)) @ W + h`` (eqs. 3.1-3.3).

    ``phi`` rectifies the last ``P`` units (``P = M``: PLRNN; ``P < M``: ALRNN); ``c(z)`` is
    ``z - mean(z)`` when ``mean_center``. ``consts = [alpha, tau]`` in the arrays' dtype.
    Returns ``(loss, gA, gW, gh, gB, Zhat)`` with ``Zhat: (T, batch, M)``.
    """
    alpha, tau = consts[0], int(consts[1])
    T, nb, N = x.shape
    M = A.shape[0]
    first_relu = M - P
    zero = consts[0] - consts[0]
    one_m_alpha = 1 - alpha
    Zin = np.empty((T, nb, M), A.dtype)
    Zhat = np.empty((T, nb, M), A.dtype)
    phi = np.empty(M, A.dtype)
    loss = zero
    # ---- forward (3.9)-(3.10)
    for b in range(nb):
        z = np.empty(M, A.dtype)
        for j in range(M):  # (3.7) z_0 = [x_0, x_0 @ L]
            acc = zero
            for n in range(N):
                acc += x[0, b, n] * B[n, j]
            z[j] = x[0, b, j] if j < N else acc
        for t in range(T):
            if t > 0 and t % tau == 0:
                for n in range(N):
                    z[n] = alpha * x[t, b, n] + one_m_alpha * z[n]
            mean = zero
            if mean_center:
                for j in range(M):
                    mean += z[j]
                mean /= M
            for j in range(M):
                Zin[t, b, j] = z[j]
                c = z[j] - mean
                phi[j] = c if (j < first_relu or c > 0) else zero
            for j in range(M):
                Zhat[t, b, j] = A[j] * z[j] + h[j]
            for i in range(M):  # row by row: the inner loop reads W in memory order
                p = phi[i]
                if p != 0:
                    for j in range(M):
                        Zhat[t, b, j] += p * W[i, j]
            for j in range(M):
                z[j] = Zhat[t, b, j]
            for n in range(N):
                e = z[n] - y[t, b, n]
                loss += e * e
    scale = 2 / (T * nb * N)
    loss = loss / (T * nb * N)
    # ---- backward (3.11)-(3.12)
    gA = np.zeros(M, A.dtype)
    gh = np.zeros(M, A.dtype)
    gW = np.zeros((M, M), A.dtype)
    gB = np.zeros((N, M), A.dtype)
    g = np.empty(M, A.dtype)
    gc = np.empty(M, A.dtype)
    for b in range(nb):
        carry = np.zeros(M, A.dtype)
        for t in range(T - 1, -1, -1):
            for j in range(M):
                g[j] = carry[j]
            for n in range(N):
                g[n] += scale * (Zhat[t, b, n] - y[t, b, n])
            mean = zero
            if mean_center:
                for j in range(M):
                    mean += Zin[t, b, j]
                mean /= M
            for i in range(M):
                c = Zin[t, b, i] - mean
                on = i < first_relu or c > 0
                p = c if on else zero
                acc = zero
                for j in range(M):
                    gW[i, j] += p * g[j]
                    acc += W[i, j] * g[j]
                gc[i] = acc if on else zero
            gmean = zero
            if mean_center:
                for i in range(M):
                    gmean += gc[i]
                gmean /= M
            for j in range(M):
                gA[j] += g[j] * Zin[t, b, j]
                gh[j] += g[j]
                carry[j] = A[j] * g[j] + gc[j] - gmean
            if t > 0 and t % tau == 0:
                for n in range(N):
                    carry[n] *= one_m_alpha
        for n in range(N):
            for j in range(N, M):
                gB[n, j] += x[0, b, n] * carry[j]
    if off_diag:
        for j in range(M):
            gW[j, j] = zero
    return loss, gA, gW, gh, gB, Zhat


def shallow_rollout_plain(A, W1, W2, h1, h2, B, x, y, consts, clipped):
    """Forced rollout + BPTT for the (clipped) shallow PLRNN, eqs. (3.4)-(3.5).

    Returns ``(loss, gA, gW1, gW2, gh1, gh2, gB, Zhat)``. The inner loops run over the
    hidden units (length L, contiguous), which the compiler vectorises; ``W1`` is used
    through its transpose ``(M, L)`` so that every inner loop reads memory in order.
    """
    alpha, tau = consts[0], int(consts[1])
    T, nb, N = x.shape
    M = A.shape[0]
    L = h2.shape[0]
    zero = consts[0] - consts[0]
    one_m_alpha = 1 - alpha
    W1T = np.ascontiguousarray(W1.T)
    Zin = np.empty((T, nb, M), A.dtype)
    Zhat = np.empty((T, nb, M), A.dtype)
    v = np.empty(L, A.dtype)
    r = np.empty(L, A.dtype)
    z = np.empty(M, A.dtype)
    loss = zero
    for b in range(nb):
        for j in range(M):  # (3.7)
            acc = zero
            for n in range(N):
                acc += x[0, b, n] * B[n, j]
            z[j] = x[0, b, j] if j < N else acc
        for t in range(T):
            if t > 0 and t % tau == 0:
                for n in range(N):
                    z[n] = alpha * x[t, b, n] + one_m_alpha * z[n]
            for k in range(L):
                v[k] = zero
            for i in range(M):
                Zin[t, b, i] = z[i]
                zi = z[i]
                for k in range(L):
                    v[k] += zi * W2[i, k]
            for k in range(L):
                u = v[k] + h2[k]
                rk = u if u > 0 else zero
                if clipped and v[k] > 0:
                    rk -= v[k]
                r[k] = rk
            for j in range(M):
                acc = A[j] * z[j] + h1[j]
                for k in range(L):
                    acc += r[k] * W1T[j, k]
                Zhat[t, b, j] = acc
            for j in range(M):
                z[j] = Zhat[t, b, j]
            for n in range(N):
                e = z[n] - y[t, b, n]
                loss += e * e
    scale = 2 / (T * nb * N)
    loss = loss / (T * nb * N)
    gA = np.zeros(M, A.dtype)
    gh1 = np.zeros(M, A.dtype)
    gh2 = np.zeros(L, A.dtype)
    gW1T = np.zeros((M, L), A.dtype)
    gW2 = np.zeros((M, L), A.dtype)
    gB = np.zeros((N, M), A.dtype)
    g = np.empty(M, A.dtype)
    gr = np.empty(L, A.dtype)
    carry = np.empty(M, A.dtype)
    for b in range(nb):
        for j in range(M):
            carry[j] = zero
        for t in range(T - 1, -1, -1):
            for j in range(M):
                g[j] = carry[j]
            for n in range(N):
                g[n] += scale * (Zhat[t, b, n] - y[t, b, n])
            for k in range(L):
                v[k] = zero
                gr[k] = zero
            for i in range(M):
                zi = Zin[t, b, i]
                gi = g[i]
                gA[i] += gi * zi
                gh1[i] += gi
                for k in range(L):
                    v[k] += zi * W2[i, k]
                    gr[k] += W1T[i, k] * gi
            for k in range(L):  # r, then the adjoints of u = v + h2 and of v
                u = v[k] + h2[k]
                rk = u if u > 0 else zero
                gu = gr[k] if u > 0 else zero
                gh2[k] += gu
                if clipped and v[k] > 0:
                    rk -= v[k]
                    gu -= gr[k]
                r[k] = rk
                gr[k] = gu  # now the adjoint of v
            for i in range(M):
                zi = Zin[t, b, i]
                gi = g[i]
                acc = A[i] * gi
                for k in range(L):
                    gW1T[i, k] += r[k] * gi
                    gW2[i, k] += zi * gr[k]
                    acc += W2[i, k] * gr[k]
                carry[i] = acc
            if t > 0 and t % tau == 0:
                for n in range(N):
                    carry[n] *= one_m_alpha
        for n in range(N):
            for j in range(N, M):
                gB[n, j] += x[0, b, n] * carry[j]
    return loss, gA, np.ascontiguousarray(gW1T.T), gW2, gh1, gh2, gB, Zhat


plrnn_rollout_jit = njit(cache=True, nogil=True)(plrnn_rollout_plain)
shallow_rollout_jit = njit(cache=True, nogil=True)(shallow_rollout_plain)


def supports(model):
    """Whether :func:`rollout_loss` has a kernel for ``model`` (no external inputs)."""
    return type(model) in (models.PLRNN, models.ALRNN, models.ShallowPLRNN) and not model.K


def rollout_loss(model, params, x, y, alpha, tau, jit=True):
    """Drop-in for ``forcing.forced_rollout_loss`` (batch-major ``x, y``, no inputs):
    ``(loss, grads, Zhat)``. ``jit=False`` runs the plain Python twin."""
    from reference.dsr.forcing import _validate

    if not supports(model):
        raise ValueError(
            f"model: no kernel for {type(model).__name__} with input_dim={model.K}; "
            "use forcing.forced_rollout_loss"
        )
    _validate(model, x, y, alpha, tau, None)
    arrays = {k: backend.asnumpy(v) for k, v in params.items()}
    dt = np.result_type(*arrays.values(), x, y)
    dt = dt if dt in (np.float32, np.float64) else np.float64
    arrays = {k: np.ascontiguousarray(v, dtype=dt) for k, v in arrays.items()}
    xt = np.ascontiguousarray(np.swapaxes(backend.asnumpy(x), 0, 1), dtype=dt)
    yt = np.ascontiguousarray(np.swapaxes(backend.asnumpy(y), 0, 1), dtype=dt)
    consts = np.array([alpha, min(int(tau), 2**52)], dtype=dt)
    if isinstance(model, models.ShallowPLRNN):
        fn = shallow_rollout_jit if jit else shallow_rollout_plain
        keys = ("A", "W1", "W2", "h1", "h2", "B")
        loss, *gs, Zhat = fn(*(arrays[k] for k in keys), xt, yt, consts, model.clipped)
    else:
        fn = plrnn_rollout_jit if jit else plrnn_rollout_plain
        keys = ("A", "W", "h", "B")
        P = model.M if isinstance(model, models.PLRNN) else model.P
        mc = isinstance(model, models.PLRNN) and model.mean_centering
        loss, *gs, Zhat = fn(*(arrays[k] for k in keys), xt, yt, consts, P, mc,
                             model.off_diagonal)  # fmt: skip
    return float(loss), dict(zip(keys, gs, strict=True)), np.swapaxes(Zhat, 0, 1)
