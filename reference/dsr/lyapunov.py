"""Lyapunov exponents of a reconstructed system (eq. 3.25), by Benettin's QR iteration.

* :func:`qr_step` -- one step: ``Q', R = qr(J Q)``, the log-stretching ``log |diag R|``;
* :func:`lyapunov_from_jacobians` -- the exponents of a given Jacobian sequence;
* :func:`lyapunov_spectrum` -- the exponents of a model along its own orbit, with the
  Jacobians computed on the fly (``model.step``, ``model.jacobian`` on ``(batch, M)``).

The products of Jacobians are never formed: they over- or underflow within a few hundred
steps of a chaotic orbit, while the re-orthonormalised Q stays well conditioned.

Backends: the model runs on whatever array module it uses (``reference.backend.xp``, NumPy
or CuPy); the Jacobians and ``z0`` are converted once to host float64 NumPy arrays with
:func:`reference.backend.asnumpy` and the QR iteration runs there. Results are NumPy arrays.
These functions are re-exported by :mod:`reference.dsr.metrics`.
"""

from __future__ import annotations

import numpy as np

from reference.backend import asnumpy, xp
from reference.dsr.checks import positive_int


def qr_step(Q, J):
    """One Benettin step of eq. (3.25): ``Q', R = qr(J Q)``; returns ``(Q', log|diag R|)``.

    ``J, Q: (..., M, M)``. The diagonal of R is the stretching of each orthonormal direction
    in this step; its sign depends on the QR convention, its modulus does not.
    """
    Q, R = np.linalg.qr(J @ Q)
    return Q, np.log(np.abs(np.diagonal(R, axis1=-2, axis2=-1)))


def lyapunov_from_jacobians(jacobians):
    """Eq. (3.25) on a given sequence ``J_1 .. J_T``, ``(T, M, M)`` or ``(T, B, M, M)``:
    ``(1/T) sum_t log |R_t[i, i]|`` with ``Q_t R_t = J_t Q_{t-1}``, ``Q_0 = I``; per-step
    exponents sorted descending, ``(M,)`` or ``(B, M)``. Never forms the product of the
    Jacobians (it over- or underflows within a few hundred steps)."""
    J = np.asarray(asnumpy(jacobians), dtype=np.float64)
    if J.ndim not in (3, 4) or J.shape[-1] != J.shape[-2] or J.shape[0] < 1:
        raise ValueError(f"jacobians: expected (T, M, M) or (T, batch, M, M), got {J.shape}")
    Q = np.broadcast_to(np.eye(J.shape[-1]), J.shape[1:])
    total = np.zeros(J.shape[1:-1])
    for J_t in J:
        Q, logs = qr_step(Q, J_t)
        total += logs
    return -np.sort(-total / J.shape[0], axis=-1)


def lyapunov_spectrum(model, params, z0, n_steps, n_transient=1000, return_history=False):
    """Eq. (3.25): Lyapunov exponents per step by QR (Benettin) iteration on model Jacobians.

    From ``z0`` -- ``(M,)`` or a batch ``(B, M)`` of independent orbits -- run
    ``n_transient`` steps, then for t = 1..n_steps: Q_t R_t = J(z_{t-1}) Q_{t-1} with Q_0 = I,
    z_t = F(z_{t-1}); lambda_i = (1/n) sum_t log |R_t[i, i]|. Exponents sorted descending,
    ``(M,)`` or ``(B, M)``; divide by dt for exponents per unit time. With
    ``return_history``, also the running estimates ``(n_steps, ..., M)`` (unsorted).
    The same iteration as :func:`lyapunov_from_jacobians`, with the Jacobians computed on
    the fly along the orbit.
    """
    n_steps = positive_int("n_steps", n_steps)
    if isinstance(n_transient, bool) or int(n_transient) != n_transient or n_transient < 0:
        raise ValueError(f"n_transient: expected a non-negative integer, got {n_transient!r}")
    z = np.asarray(asnumpy(z0), dtype=np.float64)
    single = z.ndim == 1
    if z.ndim not in (1, 2) or not np.all(np.isfinite(z)):
        raise ValueError(f"z0: expected finite (M,) or (batch, M), got shape {z.shape}")
    z = xp.asarray(z[None] if single else z)
    for _ in range(int(n_transient)):
        z = model.step(params, z)
    batch, M = z.shape
    Q = np.broadcast_to(np.eye(M), (batch, M, M))
    total = np.zeros((batch, M))
    history = np.empty((n_steps, batch, M)) if return_history else None
    for t in range(n_steps):
        Q, logs = qr_step(Q, np.asarray(asnumpy(model.jacobian(params, z))))
        total += logs
        z = model.step(params, z)
        if history is not None:
            history[t] = total / (t + 1)
    if not np.all(np.isfinite(asnumpy(z))):
        raise ValueError("model: the orbit diverged during the Lyapunov iteration")
    lam = -np.sort(-total / n_steps, axis=1)
    lam = lam[0] if single else lam
    if return_history:
        return lam, (history[:, 0] if single else history)
    return lam
