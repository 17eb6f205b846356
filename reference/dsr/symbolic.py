"""Symbolic codes of the ALRNN: which linear subregion an orbit is in, and the graph of moves.

The ALRNN (eq. 3.3) rectifies only its last P units, so its phase space is cut by the P
hyperplanes z_i = 0 (i = M-P+1..M) into at most 2^P linear subregions. Inside subregion d
(a bit vector, d_j = 1[z_{M-P+j} > 0]) the map is affine (eq. 3.33)::

    F(z) = J_d z + h,   J_d = diag(A) + W_p diag([1, .., 1, d_1, .., d_P])          (3.33)

and the sequence of visited subregions along an orbit is a symbolic code of the dynamics
(Brenner et al., NeurIPS 2024). This module computes

* :func:`subregion_bits` / :func:`subregion_codes` -- the bit vectors and their integers
  ``c = sum_j d_j 2^(P-1-j)`` (so the bit string reads d_1 d_2 .. d_P) along an orbit;
* :func:`transition_graph` -- visit counts, transition counts and probabilities between the
  visited codes (eq. 3.34), with the entropy rate of the resulting Markov chain;
* :func:`symbol_sequence` -- the code sequence with repeats collapsed, and dwell times;
* :func:`region_affine_map` and :func:`subregion_fixed_points` -- J_d, and the fixed point
  z*_d = (I - J_d)^{-1} h of every subregion, flagged *real* when it lies in its own region
  (otherwise it is *virtual*: a fixed point of the affine piece that the orbit never meets).

Arrays: an orbit ``Z`` is ``(T, M)`` (or ``(T, batch, M)``; codes then are ``(T, batch)``).
The transition graph is built from one orbit ``(T,)`` of codes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from reference.backend import asnumpy


def _num_relus(model_or_P):
    P = getattr(model_or_P, "P", model_or_P)
    if isinstance(P, bool) or not isinstance(P, int | np.integer) or P < 1:
        raise ValueError(
            f"model_or_P: expected an ALRNN or a number of ReLU units >= 1, got {model_or_P!r}"
        )
    return int(P)


def subregion_bits(model_or_P, Z):
    """``d = 1[z_{M-P+j} > 0]``, bool ``(..., P)`` for states ``Z: (..., M)``."""
    P = _num_relus(model_or_P)
    Z = np.asarray(asnumpy(Z))
    if Z.ndim < 1 or Z.shape[-1] < P:
        raise ValueError(f"Z: expected states (..., M) with M >= P = {P}, got shape {Z.shape}")
    return Z[..., Z.shape[-1] - P :] > 0


def subregion_codes(model_or_P, Z):
    """Integer codes ``sum_j d_j 2^(P-1-j)`` of the states ``Z: (..., M)``, shape ``(...)``."""
    bits = subregion_bits(model_or_P, Z)
    P = bits.shape[-1]
    if P > 62:
        raise ValueError(f"model_or_P: at most 62 ReLU units fit an int64 code, got {P}")
    weights = 2 ** np.arange(P - 1, -1, -1, dtype=np.int64)
    return bits.astype(np.int64) @ weights


def code_string(code, P):
    """The bit string of ``code`` (d_1 first), e.g. ``code_string(2, 2) == "10"``."""
    return format(int(code), f"0{int(P)}b")


def _codes_1d(codes):
    codes = np.asarray(codes)
    if codes.ndim != 1 or codes.size < 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(
            f"codes: expected a 1-D integer sequence of length >= 2, "
            f"got {codes.dtype} of shape {codes.shape}"
        )
    if np.any(codes < 0):
        raise ValueError("codes: expected non-negative subregion codes")
    return codes


def transition_graph(codes):
    """Eq. (3.34): the Markov chain of subregions visited by one orbit ``codes: (T,)``.

    Returns a dict: ``nodes`` (the visited codes, sorted), ``visits`` (how often each was
    visited, summing to T), ``counts[i, j]`` (transitions nodes[i] -> nodes[j], summing to
    T - 1), ``probabilities`` (counts normalised per row; a row without outgoing
    transitions -- the last state only -- is all zeros), ``stationary`` (visits / T) and
    ``entropy_rate`` = - sum_i pi_i sum_j P_ij ln P_ij (nats per step; 0 for a
    deterministic cycle of codes).
    """
    codes = _codes_1d(codes)
    nodes, index = np.unique(codes, return_inverse=True)
    n = nodes.size
    visits = np.bincount(index, minlength=n)
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (index[:-1], index[1:]), 1)
    rows = counts.sum(axis=1, keepdims=True)
    probs = np.divide(counts, rows, out=np.zeros((n, n)), where=rows > 0)
    pi = visits / codes.size
    logs = np.log(probs, out=np.zeros_like(probs), where=probs > 0)
    entropy_rate = float(-np.sum(pi[:, None] * probs * logs))
    return {
        "nodes": nodes,
        "visits": visits,
        "counts": counts,
        "probabilities": probs,
        "stationary": pi,
        "entropy_rate": entropy_rate,
    }


def symbol_sequence(codes):
    """Consecutive repeats collapsed: ``(symbols, dwell)`` with ``dwell[k]`` the number of
    steps spent in ``symbols[k]`` (so ``dwell.sum() == len(codes)``)."""
    codes = _codes_1d(codes)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return codes[starts], np.diff(np.r_[starts, codes.size])


# --------------------------------------------------------------------------- linear pieces


def _alrnn_parts(model, params):
    A = np.asarray(asnumpy(params["A"]), dtype=np.float64)
    W = np.asarray(asnumpy(params["W"]), dtype=np.float64)
    h = np.asarray(asnumpy(params["h"]), dtype=np.float64)
    M = A.size
    if W.shape != (M, M) or h.shape != (M,):
        raise ValueError(
            f"params: expected A (M,), W (M, M), h (M,), got {A.shape}, {W.shape}, {h.shape}"
        )
    return A, W, h, M, _num_relus(model)


def region_affine_map(model, params, code):
    """Eq. (3.33): ``(J_d, h)`` of subregion ``code`` (paper orientation, z' = J_d z + h).

    ``params`` are the chapter's row-form ALRNN parameters (``W: (M, M)`` acting as
    ``phi(z) @ W``), so ``W_p = W.T``.
    """
    A, W, h, M, P = _alrnn_parts(model, params)
    if isinstance(code, bool) or int(code) != code or not 0 <= code < 2**P:
        raise ValueError(f"code: expected an integer in [0, {2**P}), got {code!r}")
    bits = [int(b) for b in code_string(code, P)]
    d = np.array([1] * (M - P) + bits, dtype=np.float64)
    return np.diag(A) + W.T * d[None, :], h


def subregion_fixed_points(model, params):
    """The fixed point of every subregion's affine map (eq. 3.33): a list of dicts with
    ``code``, ``bits`` (string), ``z`` (the solution of (I - J_d) z = h, NaN when singular),
    ``real`` (it lies in its own subregion) and ``eigenvalues`` of J_d (stability).
    Enumerates 2^P regions, so P is limited to 12."""
    *_, M, P = _alrnn_parts(model, params)
    if P > 12:
        raise ValueError(f"model: enumerating 2^P subregions needs P <= 12, got {P}")
    out = []
    for code in range(2**P):
        J, h = region_affine_map(model, params, code)
        try:
            z = np.linalg.solve(np.eye(M) - J, h)
        except np.linalg.LinAlgError:
            z = np.full(M, math.nan)
        real = bool(np.all(np.isfinite(z)) and subregion_codes(P, z) == code)
        out.append(
            {
                "code": code,
                "bits": code_string(code, P),
                "z": z,
                "real": real,
                "eigenvalues": np.linalg.eigvals(J),
            }
        )
    return out


def all_codes(P):
    """Every bit vector of P units, in code order (``(2^P, P)`` bool)."""
    P = _num_relus(P)
    return np.array(list(itertools.product([False, True], repeat=P)))
