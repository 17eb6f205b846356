"""Local (Hebbian) learning for the NGC circuit: no global loss is differentiated.

After settling (:func:`reference.ngc.circuit.settle`) every synapse changes by the product of
the activity on one side and the error on the other, scaled by a "synaptic scaling" factor
computed from the synapse's own weight matrix::

    (5.7)   Delta W^l = ( phi(z^l)^T e^{l-1} ) (.) M_W(W^l)          l = 1..L
    (5.8)   Delta E^l = gamma_e ( Delta W^l )^T (.) M_E(E^l)          l = 1..L-1
    (5.9)   m_j = sum_i |A_ij|,   M(A)_ij = min( 2 m_j / max_k m_k , 1 )

(``phi(z^L)`` is the clamped top ``x^i`` itself; sums run over the batch.) (5.9) has two
published variants: ngc-learn's legacy code takes absolute values, the pcrl port does not
(``use_abs=False``: ``m_j = sum_i A_ij``). With ``modulate=False`` both M are ones. The
updates are *ascent* directions: ``W <- W + eta Delta W`` (an optimiser that subtracts its
argument is handed ``-Delta W``).

Post-update normalisation, one of (documented per run):

* :func:`normalize_update` -- ``Delta / (||Delta||_F + 1e-6)`` (pcrl), with
  :func:`renormalize_frobenius` -- ``A <- c A / (||A||_F + 1e-6)`` after the step;
* :func:`clip_columns` -- every column of W and E to L2 norm ``<= max_norm`` (ngc-learn
  legacy, ``max_norm = 1``).
"""

from __future__ import annotations

from reference.backend import xp

from .circuit import num_layers, phi_fn, validate_params

#: Added to Frobenius norms before dividing (the pcrl port's constant).
NORM_EPS = 1e-6


def modulation(A, use_abs=True, name="A"):
    """Eq. (5.9): the modulation matrix of ``A`` (same shape), each column one factor.

    ``m_j = sum_i |A_ij|`` (or ``sum_i A_ij`` without ``use_abs``), scaled by twice its
    largest value and capped at 1, then broadcast over the rows. Columns whose total
    strength is below half the strongest column's get proportionally smaller updates.
    ``name`` is the matrix's name in error messages.
    """
    if A.ndim != 2:
        raise ValueError(f"{name}: expected a matrix, got shape {tuple(A.shape)}")
    m = xp.sum(xp.abs(A) if use_abs else A, axis=0)
    m_max = xp.max(m)
    if not m_max > 0:
        raise ValueError(f"{name}: modulation needs a positive largest column sum, got {m_max}")
    M = xp.minimum(2.0 * m / m_max, 1.0)
    return xp.broadcast_to(M, A.shape) * xp.ones_like(A)


def hebbian_updates(params, state, gamma_e, modulate=True, use_abs=True, phi="relu"):
    """Eqs. (5.7)-(5.8): ``(dW, dE)`` dicts keyed like ``params`` (``W1..``, ``E1..``).

    ``state`` is the dict returned by :func:`settle` (its ``phi_z`` and ``e`` are used; a
    state without ``phi_z`` has it computed from ``z`` with ``phi``). ``gamma_e`` scales the
    error-synapse updates.
    """
    validate_params(params)
    L = num_layers(params)
    if "phi_z" in state:
        phi_z = state["phi_z"]
    else:
        f = phi_fn(phi)
        z = state["z"]
        phi_z = [z[0], *[f(z[l]) for l in range(1, L)], z[L]]
    e = state["e"]
    if len(e) != L or len(phi_z) != L + 1:
        raise ValueError(f"state: expected {L} error layers and {L + 1} states")
    dW, dE = {}, {}
    for l in range(1, L + 1):
        W = params[f"W{l}"]
        d = phi_z[l].T @ e[l - 1]  # presynaptic activity x postsynaptic error
        if modulate:
            d = d * modulation(W, use_abs, name=f"W{l}")
        dW[f"W{l}"] = d
        if l < L:
            E = params[f"E{l}"]
            dEl = gamma_e * d.T
            if modulate:
                dEl = dEl * modulation(E, use_abs, name=f"E{l}")
            dE[f"E{l}"] = dEl
    return dW, dE


def normalize_update(delta):
    """``delta / (||delta||_F + NORM_EPS)`` for every array of a dict (pcrl's step 1)."""
    return {k: d / (xp.sqrt(xp.sum(d * d)) + NORM_EPS) for k, d in delta.items()}


def renormalize_frobenius(params, norm=2.0):
    """``A <- norm * A / (||A||_F + NORM_EPS)`` for every matrix (pcrl's step 3)."""
    if not norm > 0:
        raise ValueError(f"norm: expected > 0, got {norm!r}")
    return {k: norm * A / (xp.sqrt(xp.sum(A * A)) + NORM_EPS) for k, A in params.items()}


def clip_columns(params, max_norm=1.0):
    """Scale every column of every matrix down to L2 norm ``<= max_norm`` (ngc-learn legacy).

    Columns already within the bound are unchanged.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm: expected > 0, got {max_norm!r}")
    out = {}
    for k, A in params.items():
        n = xp.sqrt(xp.sum(A * A, axis=0, keepdims=True))
        out[k] = A * xp.minimum(1.0, max_norm / xp.maximum(n, 1e-300))
    return out


def apply_updates(params, dW, dE, eta, normalization="none", norm=2.0, max_norm=1.0):
    """Hebbian ascent ``A <- A + eta * Delta A`` with one of the normalisation options.

    ``normalization``: ``"none"``; ``"frobenius"`` (normalise each update, step, then
    renormalise every matrix to Frobenius norm ``norm``); ``"clip"`` (step, then clip columns
    to ``max_norm``). Returns a new dict.
    """
    if normalization not in ("none", "frobenius", "clip"):
        raise ValueError(
            f"normalization: expected 'none', 'frobenius' or 'clip', got {normalization!r}"
        )
    delta = {**dW, **dE}
    if normalization == "frobenius":
        delta = normalize_update(delta)
    new = {k: A + eta * delta[k] for k, A in params.items()}
    if normalization == "frobenius":
        new = renormalize_frobenius(new, norm)
    elif normalization == "clip":
        new = clip_columns(new, max_norm)
    return new
