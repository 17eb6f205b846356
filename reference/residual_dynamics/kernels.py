"""Numba twin of the chapter-1 forward + backpropagation through time.

:func:`bptt_plain` is one plain function over NumPy arrays that computes exactly what
``model.backprop_through_time`` computes, fused into explicit loops so that ``numba.njit``
can compile it; :data:`bptt_jit` is the compiled version (``cache=True``). The tests check
``bptt_jit == bptt_plain == model.backprop_through_time`` to 1e-12.

Three choices make it fast; none changes the maths:

* the weight gradients are sums over time of ``h^T abar``; we store the per-step adjoints
  of the pre-activations and form each weight gradient with one ``(H, T B) @ (T B, .)``
  product after the loop;
* the per-step arrays (layer inputs, activations and their adjoints, several MB at the
  source size) live in a *workspace* that the caller allocates once and reuses. Allocating
  them afresh on every call made the operating system hand out and zero new pages each
  time: a third of the run time went to page faults;
* the batch is split into row blocks run on threads (:func:`run_bptt`), since trajectories
  do not interact, with OpenBLAS kept single-threaded so the two kinds of thread do not
  compete for the cores.

All scalars come in through ``consts`` in the arrays' dtype, so a float32 call stays in
float32 throughout (numba would otherwise promote to float64 at the first literal).
CPU and NumPy only: on CuPy use the vectorised ``kernel="numpy"`` path.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from reference import backend


def make_workspace(T, B, m, H, dtype):
    """Scratch arrays for :func:`bptt_plain`: ``(X, H1, H2, A1bar, A2bar, Zbar)``.

    ``X: (T, B, 4m)`` holds the MLP inputs x_t, ``H1, H2, A1bar, A2bar: (T, B, H)`` the
    hidden activations and the adjoints of their pre-activations, ``Zbar: (T, B, m)`` the
    adjoints of the logits. Their contents on entry do not matter.
    """
    return (
        np.empty((T, B, 4 * m), dtype),
        np.empty((T, B, H), dtype),
        np.empty((T, B, H), dtype),
        np.empty((T, B, H), dtype),
        np.empty((T, B, H), dtype),
        np.empty((T, B, m), dtype),
    )


def bptt_plain(W1, b1, W2, b2, W3, b3, alpha, N0, g0, ys, rs, consts, work):
    """Loss (1.6), its gradients and the state adjoints, for C-contiguous arrays of one dtype.

    ``consts = [eps, c, w]`` with ``c = 1/(T B)`` and ``w`` the entropy weight; ``work`` is
    a :func:`make_workspace` tuple for these sizes. Returns
    ``(loss, dW1, db1, dW2, db2, dW3, db3, dalpha, Ns, gs, zs, Nbars)`` where ``Ns, gs``
    are ``(T+1, B, m)`` (index 0 holds N_0, g_0), ``zs`` the logits ``(T, B, m)`` and
    ``Nbars[t-1] = dL/dN_t``.
    """
    eps, c, w = consts[0], consts[1], consts[2]
    two_c = c + c
    wc = w * c
    zero = c - c  # a zero of the arrays' dtype (a literal 0.0 would be float64 in numba)
    T, B, m = ys.shape
    H = W1.shape[1]
    dt = ys.dtype
    X, H1, H2, A1bar, A2bar, Zbar = work

    # ---- forward, eqs. (1.1)-(1.5), keeping what the backward needs
    Ns = np.empty((T + 1, B, m), dt)
    gs = np.empty((T + 1, B, m), dt)
    zs = np.empty((T, B, m), dt)
    Ns[0] = N0
    gs[0] = g0
    sum_g2 = zero
    sum_H = zero
    for t in range(T):
        for b in range(B):
            for j in range(m):  # (1.1) x_t = [N_{t-1}, y_t, r_t, g_{t-1}]
                X[t, b, j] = Ns[t, b, j]
                X[t, b, m + j] = ys[t, b, j]
                X[t, b, 2 * m + j] = rs[t, b, j]
                X[t, b, 3 * m + j] = gs[t, b, j]
        a1 = X[t] @ W1  # (1.2), layer by layer
        for b in range(B):
            for k in range(H):
                v = a1[b, k] + b1[k]
                H1[t, b, k] = v if v > 0 else zero
        a2 = H1[t] @ W2
        for b in range(B):
            for k in range(H):
                v = a2[b, k] + b2[k]
                H2[t, b, k] = v if v > 0 else zero
        d = H2[t] @ W3
        for b in range(B):
            z_max = zero
            for j in range(m):
                z = np.log(Ns[t, b, j] + eps) + d[b, j] + b3[j]  # (1.3)
                zs[t, b, j] = z
                if j == 0 or z > z_max:
                    z_max = z
            total = zero
            for j in range(m):  # (1.4) softmax, shifted by the row maximum
                e = np.exp(zs[t, b, j] - z_max)
                Ns[t + 1, b, j] = e
                total += e
            for j in range(m):
                N = Ns[t + 1, b, j] / total
                Ns[t + 1, b, j] = N
                g = alpha[j] * gs[t, b, j] + (N - alpha[j] * Ns[t, b, j]) * ys[t, b, j]  # (1.5)
                gs[t + 1, b, j] = g
                sum_g2 += g * g
                sum_H -= N * np.log(N + eps)
    loss = c * sum_g2 - w * (c * sum_H)  # (1.6)

    # ---- backward through time, eqs. (1.7)-(1.11)
    W3T = np.ascontiguousarray(W3.T)
    W2T = np.ascontiguousarray(W2.T)
    W1T = np.ascontiguousarray(W1.T)
    Nbars = np.empty((T, B, m), dt)
    Nbar_c = np.zeros((B, m), dt)
    gbar_c = np.zeros((B, m), dt)
    gbar = np.empty((B, m), dt)
    dalpha = np.zeros(m, dt)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            s = zero
            for j in range(m):
                N = Ns[t + 1, b, j]
                gb = gbar_c[b, j] + two_c * gs[t + 1, b, j]  # (1.7)
                Nb = Nbar_c[b, j] + wc * (np.log(N + eps) + N / (N + eps)) + ys[t, b, j] * gb
                gbar[b, j] = gb
                Nbars[t, b, j] = Nb
                s += Nb * N
            for j in range(m):
                Zbar[t, b, j] = Ns[t + 1, b, j] * (Nbars[t, b, j] - s)  # (1.8)
        h2bar = Zbar[t] @ W3T  # (1.9), the MLP backward
        for b in range(B):
            for k in range(H):
                A2bar[t, b, k] = h2bar[b, k] if H2[t, b, k] > 0 else zero
        h1bar = A2bar[t] @ W2T
        for b in range(B):
            for k in range(H):
                A1bar[t, b, k] = h1bar[b, k] if H1[t, b, k] > 0 else zero
        xbar = A1bar[t] @ W1T
        for b in range(B):
            for j in range(m):
                N_prev = Ns[t, b, j]
                y = ys[t, b, j]
                gb = gbar[b, j]
                # (1.10) and (1.11): the carries into step t-1
                Nbar_c[b, j] = Zbar[t, b, j] / (N_prev + eps) - alpha[j] * y * gb + xbar[b, j]
                gbar_c[b, j] = alpha[j] * gb + xbar[b, 3 * m + j]
                dalpha[j] += gb * (gs[t, b, j] - N_prev * y)

    # ---- weight gradients: one large product per weight
    Xr = X.reshape(T * B, 4 * m)
    H1r = H1.reshape(T * B, H)
    H2r = H2.reshape(T * B, H)
    A1r = A1bar.reshape(T * B, H)
    A2r = A2bar.reshape(T * B, H)
    Zr = Zbar.reshape(T * B, m)
    dW1 = Xr.T @ A1r
    dW2 = H1r.T @ A2r
    dW3 = H2r.T @ Zr
    db1 = A1r.sum(axis=0)
    db2 = A2r.sum(axis=0)
    db3 = Zr.sum(axis=0)
    return loss, dW1, db1, dW2, db2, dW3, db3, dalpha, Ns, gs, zs, Nbars


bptt_jit = njit(cache=True, nogil=True)(bptt_plain)


_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def _prepare(params, alpha, N0, g0, ys, rs, entropy_weight, eps):
    arrays = [backend.asnumpy(a) for a in (*(params[k] for k in _KEYS), alpha, N0, g0, ys, rs)]
    dt = np.result_type(*arrays)
    if dt not in (np.float32, np.float64):
        dt = np.float64
    arrays = [np.ascontiguousarray(a, dtype=dt) for a in arrays]
    T, B, _ = arrays[-1].shape
    consts = np.array([eps, 1.0 / (T * B), entropy_weight], dtype=dt)
    return arrays, consts


_blas_controller = None
_workspaces = {}
_workspaces_lock = threading.Lock()


def _workspace(caller, block, T, B, m, H, dtype):
    """The reusable :func:`make_workspace` of one row block of one calling thread."""
    key = (caller, block, T, B, m, H, np.dtype(dtype).str)
    with _workspaces_lock:
        if key not in _workspaces:
            if len(_workspaces) >= 16:  # a new problem size: drop the old scratch memory
                _workspaces.clear()
            _workspaces[key] = make_workspace(T, B, m, H, dtype)
        return _workspaces[key]


def _single_threaded_blas():
    """Limit OpenBLAS to one thread while the kernel runs.

    The kernel's matrix products are small; letting OpenBLAS start its own threads on top
    of our row-block threads oversubscribes the cores, and on a busy 2-core machine that
    made one gradient 15x slower (45 ms -> 666 ms). The limit is lifted afterwards.
    """
    global _blas_controller
    if _blas_controller is None:
        import scipy.linalg.cython_blas  # noqa: F401  (numba's BLAS; load it before scanning)
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def default_threads():
    """Worker threads for :func:`run_bptt`: the CPU count, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def run_bptt(params, alpha, N0, g0, ys, rs, entropy_weight, eps, jit=True, threads=None):
    """Run the kernel over the batch, split into ``threads`` row blocks run concurrently.

    The trajectories of a batch do not interact, so each block is an independent call (the
    compiled kernel releases the GIL); the scale ``c = 1/(T B)`` is that of the *whole*
    batch, so the blocks' losses and gradients simply add. Returns the kernel's outputs for
    the whole batch, in the order of :func:`bptt_plain`.
    """
    arrays, consts = _prepare(params, alpha, N0, g0, ys, rs, entropy_weight, eps)
    kernel = bptt_jit if jit else bptt_plain
    B = arrays[-1].shape[1]
    threads = default_threads() if threads is None else int(threads)
    if threads < 1:
        raise ValueError(f"threads: expected a positive integer, got {threads}")
    n_blocks = min(threads, B)
    T, _, m = arrays[-1].shape
    H = arrays[0].shape[1]
    caller = threading.get_ident()  # each calling thread gets its own scratch memory
    if n_blocks == 1:
        with _single_threaded_blas():
            return kernel(*arrays, consts, _workspace(caller, 0, T, B, m, H, arrays[0].dtype))
    *weights, alpha_, N0_, g0_, ys_, rs_ = arrays
    bounds = np.linspace(0, B, n_blocks + 1).astype(int)

    def block(i):
        rows = slice(bounds[i], bounds[i + 1])
        work = _workspace(caller, i, T, bounds[i + 1] - bounds[i], m, H, arrays[0].dtype)
        return kernel(
            *weights,
            alpha_,
            np.ascontiguousarray(N0_[rows]),
            np.ascontiguousarray(g0_[rows]),
            np.ascontiguousarray(ys_[:, rows]),
            np.ascontiguousarray(rs_[:, rows]),
            consts,
            work,
        )

    with _single_threaded_blas(), ThreadPoolExecutor(max_workers=n_blocks) as pool:
        parts = list(pool.map(block, range(n_blocks)))
    summed = [sum(part[i] for part in parts) for i in range(8)]  # loss, grads, dalpha
    stacked = [np.concatenate([part[i] for part in parts], axis=1) for i in range(8, 12)]
    return (*summed, *stacked)


def loss_and_grads_numba(
    params, alpha, N0, g0, ys, rs, entropy_weight, eps=None, jit=True, threads=None
):
    """``(loss, grads, alphabar)`` through :data:`bptt_jit` (or :func:`bptt_plain` if not ``jit``).

    Inputs may be any float arrays; they are made C-contiguous in their common float dtype.
    """
    from reference.residual_dynamics.model import EPS

    out = run_bptt(
        params,
        alpha,
        N0,
        g0,
        ys,
        rs,
        entropy_weight,
        EPS if eps is None else eps,
        jit=jit,
        threads=threads,
    )
    loss, dW1, db1, dW2, db2, dW3, db3, dalpha = out[:8]
    grads = dict(zip(_KEYS, (dW1, db1, dW2, db2, dW3, db3), strict=True))
    return float(loss), grads, dalpha


def forward_numba(params, alpha, N0, g0, ys, rs, entropy_weight, jit=True, threads=None):
    """All outputs of the kernel as a dict (Ns, gs including index 0, logits, Nbars, loss)."""
    from reference.residual_dynamics.model import EPS

    out = run_bptt(params, alpha, N0, g0, ys, rs, entropy_weight, EPS, jit=jit, threads=threads)
    names = ("loss", "W1", "b1", "W2", "b2", "W3", "b3", "alpha", "Ns", "gs", "logits", "Nbars")
    return dict(zip(names, out, strict=True))
