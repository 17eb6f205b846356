"""The neural generative coding (NGC) circuit: settling by local error correction.

Layers ``l = 0..L`` with sizes ``J_l``; a batch of states is ``(batch, J_l)`` (row-major).
The bottom ``z^0`` is clamped to what is predicted, ``x^o``; the top ``z^L`` is clamped to
what it is predicted from, ``x^i``. Only the hidden layers ``1..L-1`` move. Parameters are
``{W1..WL, E1..E(L-1)}`` with ``W^l: (J_l, J_{l-1})`` (top-down prediction of layer l-1
from layer l) and ``E^l: (J_{l-1}, J_l)`` (carries the error of layer l-1 up into layer l).

Equations (``g`` = identity; the clamped ends enter as themselves, without ``phi``)::

    (5.1)  zbar^l = g( phi(z^{l+1}) W^{l+1} )                        l = 0..L-1
    (5.2)  e^l    = ( phi(z^l) - zbar^l ) / (2 beta_e)               (x^o itself at l = 0)
    (5.3)  d^l    = -e^l + e^{l-1} E^l                               l = 1..L-1
    (5.4)  z^l   <- z^l + beta ( -gamma_v z^l + d^l )                l = 1..L-1
    (5.5)  z^L = x^i,  z^l = phi(z^{l+1}) W^{l+1}                    the fast projection
    (5.6)  D = sum_l || e^l ||^2                                     total discrepancy

``g`` is the identity (the source's choice and the default, ``g="identity"``) or, with
``g="phi"``, the activation itself on the *hidden* predictions (``zbar^0`` stays linear).
The projection (5.5) holds pre-activations, ``z^l = phi(z^{l+1}) W^{l+1}``, for either ``g``.
With ``g = phi`` it is an exact fixed point of settling when no output error arrives
(``phi(z^l) = zbar^l`` in every hidden layer), and a ReLU unit predicted to be silent sits
at its negative pre-activation, so a small push does not wake it (the ReLU gate appears
without any ``phi'`` factor). With ``g`` = identity such a unit carries the error
``-zbar^l / (2 beta_e)`` for ever (its prediction is negative, its activity is zero).

Settling starts from ``z^l = 0`` (or from a given state, e.g. the projection (5.5)),
computes all errors, then for ``T`` steps updates every hidden layer with (5.3)-(5.4) from
the previous step's errors and recomputes (5.1)-(5.2). There is no ``phi'(z)`` factor and
no lateral term in (5.3): this is the ANGC rule, not the exact gradient of an energy.

With ReLU, a hidden unit whose drive is negative keeps sinking (bounded only by the leak,
fixed point ``z = d / gamma_v``) while ``phi(z) = 0`` and its errors stay put: compare
``phi(z)`` and errors, not raw ``z``.
"""

from __future__ import annotations

import numpy as np

from reference.backend import xp

PHIS = ("relu", "tanh", "identity")
#: Output function of the hidden predictions in (5.1): identity, or phi itself.
GS = ("identity", "phi")


def phi_fn(name):
    """The activation named ``name`` (one of :data:`PHIS`) as a function of an array."""
    if name == "relu":
        return lambda z: xp.maximum(z, 0.0)
    if name == "tanh":
        return xp.tanh
    if name == "identity":
        return lambda z: z
    raise ValueError(f"phi: expected one of {PHIS}, got {name!r}")


def num_layers(params):
    """``L``: the number of weight matrices ``W1..WL`` in ``params``."""
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    return L


def layer_sizes(params):
    """``(J_0, ..., J_L)`` read from the shapes of ``W1..WL``."""
    L = num_layers(params)
    return tuple([params["W1"].shape[1]] + [params[f"W{l}"].shape[0] for l in range(1, L + 1)])


def init_params(dims, rng, scale=None, dtype="float64"):
    """Random ``{W1..WL, E1..E(L-1)}`` for layer sizes ``dims = (J_0, ..., J_L)``.

    Every entry is drawn from N(0, s^2) with ``s = scale`` or, by default,
    ``s = 1 / sqrt(fan_in)`` (``J_l`` for ``W^l``, ``J_{l-1}`` for ``E^l``). ``E`` is drawn
    independently of ``W`` (untied), as in the source.
    """
    dims = tuple(int(d) for d in dims)
    if len(dims) < 3 or min(dims) < 1:
        raise ValueError(f"dims: expected >= 3 positive layer sizes (J_0..J_L), got {dims}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    params = {}
    for l in range(1, len(dims)):
        s = scale if scale is not None else 1.0 / np.sqrt(dims[l])
        params[f"W{l}"] = xp.asarray(rng.normal(0.0, s, (dims[l], dims[l - 1])).astype(dtype))
    for l in range(1, len(dims) - 1):
        s = scale if scale is not None else 1.0 / np.sqrt(dims[l - 1])
        params[f"E{l}"] = xp.asarray(rng.normal(0.0, s, (dims[l - 1], dims[l])).astype(dtype))
    return params


def validate_params(params):
    """Check keys and shapes of ``{W1..WL, E1..E(L-1)}``; return ``(J_0, ..., J_L)``."""
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    L = num_layers(params)
    if L < 2:
        raise ValueError(f"params: expected W1..WL with L >= 2, got keys {sorted(params)}")
    expected = {f"W{l}" for l in range(1, L + 1)} | {f"E{l}" for l in range(1, L)}
    if set(params) != expected:
        raise ValueError(f"params: expected keys {sorted(expected)}, got {sorted(params)}")
    J = [params["W1"].shape[1]]
    for l in range(1, L + 1):
        W = params[f"W{l}"]
        if W.ndim != 2 or W.shape[1] != J[-1]:
            raise ValueError(f"params['W{l}']: expected shape (J_{l}, {J[-1]}), got {W.shape}")
        J.append(W.shape[0])
    for l in range(1, L):
        if params[f"E{l}"].shape != (J[l - 1], J[l]):
            raise ValueError(
                f"params['E{l}']: expected shape {(J[l - 1], J[l])}, got {params[f'E{l}'].shape}"
            )
    return tuple(J)


def _check_batch(name, x, size):
    if x.ndim != 2 or x.shape[1] != size:
        raise ValueError(f"{name}: expected shape (batch, {size}), got {tuple(x.shape)}")
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name}: expected finite values")


def check_settle_args(params, x_i, x_o, T, beta, gamma_v, beta_e, phi, g="identity"):
    """Validate the arguments of :func:`settle`; return the layer sizes."""
    J = validate_params(params)
    _check_batch("x_i", x_i, J[-1])
    _check_batch("x_o", x_o, J[0])
    if x_i.shape[0] != x_o.shape[0]:
        raise ValueError(f"x_o: expected {x_i.shape[0]} rows like x_i, got {x_o.shape[0]}")
    if int(T) != T or T < 0:
        raise ValueError(f"T: expected a non-negative integer, got {T!r}")
    for name, v in (("beta", beta), ("beta_e", beta_e)):
        if not v > 0:
            raise ValueError(f"{name}: expected > 0, got {v!r}")
    if not gamma_v >= 0:
        raise ValueError(f"gamma_v: expected >= 0, got {gamma_v!r}")
    if phi not in PHIS:
        raise ValueError(f"phi: expected one of {PHIS}, got {phi!r}")
    if g not in GS:
        raise ValueError(f"g: expected one of {GS}, got {g!r}")
    return J


def predictions(params, z, phi="relu", g="identity"):
    """Eq. (5.1) for every layer: ``[zbar^0, ..., zbar^{L-1}]`` from the states ``z``."""
    f = phi_fn(phi)
    L = len(z) - 1
    zbar = [(f(z[l + 1]) if l + 1 < L else z[L]) @ params[f"W{l + 1}"] for l in range(L)]
    if g == "phi":
        zbar = [zbar[0], *[f(x) for x in zbar[1:]]]
    return zbar


def errors(params, z, beta_e, phi="relu", g="identity"):
    """Eqs. (5.1)-(5.2): ``(e, zbar)``, lists over layers 0..L-1."""
    f = phi_fn(phi)
    zbar = predictions(params, z, phi, g)
    e = [((f(z[l]) if l > 0 else z[0]) - zbar[l]) / (2.0 * beta_e) for l in range(len(zbar))]
    return e, zbar


def project(params, x_i, phi="relu"):
    """Eq. (5.5), the fast top-down pass: ``[z^0, ..., z^L]`` with ``z^L = x^i``.

    ``z^0`` is the circuit's prediction of ``x^o`` (for the ANGC controller, one value per
    action). No settling, no errors.
    """
    J = validate_params(params)
    _check_batch("x_i", x_i, J[-1])
    f = phi_fn(phi)
    L = len(J) - 1
    z = [None] * (L + 1)
    z[L] = x_i
    z[L - 1] = x_i @ params[f"W{L}"]
    for l in range(L - 2, -1, -1):
        z[l] = f(z[l + 1]) @ params[f"W{l + 1}"]
    return z


def settle(
    params,
    x_i,
    x_o,
    T,
    beta,
    gamma_v,
    beta_e,
    phi="relu",
    z_init=None,
    return_trajectory=False,
    g="identity",
):
    """Settle the hidden layers for ``T`` steps with both ends clamped, Eqs. (5.1)-(5.4).

    ``x_i: (batch, J_L)`` top, ``x_o: (batch, J_0)`` bottom. Hidden states start at zero,
    or at ``z_init`` (a list of the ``L-1`` hidden states, e.g. ``project(...)[1:-1]``).
    Returns ``{"z": [z^0..z^L], "e": [e^0..e^{L-1}], "zbar": [zbar^0..zbar^{L-1}],
    "phi_z": [phi(z^0)..phi(z^L)]}`` (``phi_z`` holds the clamped ends as themselves) and,
    with ``return_trajectory``, ``"trajectory"``: per hidden layer an array ``(T+1, batch,
    J_l)`` of states, the initial one first.
    """
    J = check_settle_args(params, x_i, x_o, T, beta, gamma_v, beta_e, phi, g)
    L = len(J) - 1
    f = phi_fn(phi)
    batch = x_i.shape[0]
    if z_init is None:
        hidden = [xp.zeros((batch, J[l]), dtype=x_i.dtype) for l in range(1, L)]
    else:
        if len(z_init) != L - 1:
            raise ValueError(f"z_init: expected {L - 1} hidden states, got {len(z_init)}")
        for l, z in enumerate(z_init, start=1):
            _check_batch(f"z_init[{l - 1}]", z, J[l])
        hidden = [xp.asarray(z) for z in z_init]
    z = [x_o, *hidden, x_i]
    e, zbar = errors(params, z, beta_e, phi, g)
    traj = [[z[l]] for l in range(1, L)]
    for _ in range(int(T)):
        for l in range(1, L):
            d = -e[l] + e[l - 1] @ params[f"E{l}"]  # (5.3)
            z[l] = z[l] + beta * (-gamma_v * z[l] + d)  # (5.4)
            if return_trajectory:
                traj[l - 1].append(z[l])
        e, zbar = errors(params, z, beta_e, phi, g)
    out = {
        "z": z,
        "e": e,
        "zbar": zbar,
        "phi_z": [z[0], *[f(z[l]) for l in range(1, L)], z[L]],
    }
    if return_trajectory:
        out["trajectory"] = [xp.stack(t) for t in traj]
    return out


def total_discrepancy(e):
    """Eq. (5.6): ``sum_l ||e^l||^2`` over layers and the whole batch (a scalar)."""
    return float(sum(xp.sum(el * el) for el in e))


def discrepancy_per_row(e):
    """Eq. (5.6) per batch row: ``(batch,)``, the ANGC epistemic signal before scaling."""
    return sum(xp.sum(el * el, axis=1) for el in e)
