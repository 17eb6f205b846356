"""Gradient checking: central finite differences, relative errors, autograd twins.

Every hand-derived backward in the library is checked three ways:

1. against :func:`autograd_grads`, which traces the *library's own* forward with
   ``autograd.numpy`` swapped in as the array module (see ``reference.backend.using``);
2. against :func:`numerical_grads`, central differences ``(f(x+h) - f(x-h)) / 2h``;
3. on random shapes and seeds (property tests).

The relative error follows CS231n's convention,
``max |a - b| / max(tiny, max(|a| + |b|))`` -- one number per array, insensitive to the
scale of the gradient and well defined when both are zero.
"""

from __future__ import annotations

import numpy as np

from reference import backend


def rel_error(a, b, tiny=1e-300, nan_equal=False):
    """``max|a - b| / max(tiny, max(|a| + |b|))`` over all entries (0.0 for equal arrays).

    Non-finite entries must match exactly: the same infinity in the same place counts as
    equal, anything else gives ``inf``. A NaN gives ``inf`` too (it never passes a
    tolerance, and cannot hide inside a Python ``max``, which skips NaN depending on order),
    unless ``nan_equal`` is set and both arrays have it in the same place -- for stored
    outputs that are legitimately NaN.
    """
    a = np.asarray(backend.asnumpy(a), dtype=np.float64)
    b = np.asarray(backend.asnumpy(b), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(finite_a, finite_b):
        return float("inf")
    if not np.array_equal(a[~finite_a], b[~finite_b], equal_nan=nan_equal):
        return float("inf")
    a, b = a[finite_a], b[finite_b]
    if a.size == 0:
        return 0.0
    scale = float(np.max(np.abs(a) + np.abs(b)))
    return float(np.max(np.abs(a - b))) / max(tiny, scale)


def max_rel_error(grads_a, grads_b):
    """``{name: rel_error}`` over the shared keys of two gradient dicts, plus ``"max"``."""
    if set(grads_a) != set(grads_b):
        raise ValueError(
            f"gradient dicts have different keys: {sorted(grads_a)} vs {sorted(grads_b)}"
        )
    errors = {k: rel_error(grads_a[k], grads_b[k]) for k in grads_a}
    errors["max"] = max(errors.values()) if errors else 0.0
    return errors


def numerical_grads(f, params, h=1e-6, keys=None, max_entries=None, rng=None):
    """Central differences of the scalar ``f(params)`` w.r.t. each array in ``params``.

    ``keys`` restricts the check to some arrays. With ``max_entries`` only that many randomly
    chosen entries per array are perturbed (sparse check for big tensors; needs ``rng``); the
    others are returned as NaN. ``params`` is not modified.
    """
    keys = list(params) if keys is None else list(keys)
    work = {k: np.array(backend.asnumpy(v), dtype=np.float64, copy=True) for k, v in params.items()}
    grads = {}
    for k in keys:
        p = work[k]
        g = np.full_like(p, np.nan) if max_entries is not None else np.zeros_like(p)
        indices = list(np.ndindex(p.shape))
        if max_entries is not None and len(indices) > max_entries:
            if rng is None:
                raise ValueError("rng: required when max_entries is given")
            chosen = rng.choice(len(indices), size=max_entries, replace=False)
            indices = [indices[i] for i in chosen]
        for idx in indices:
            old = p[idx]
            p[idx] = old + h
            f_plus = float(f(work))
            p[idx] = old - h
            f_minus = float(f(work))
            p[idx] = old
            g[idx] = (f_plus - f_minus) / (2.0 * h)
        grads[k] = g
    return grads


def autograd_grads(f, params, keys=None):
    """Gradient of the scalar ``f(params)`` by reverse-mode autograd.

    ``f`` is library code written against ``reference.backend.xp``; while it runs,
    ``autograd.numpy`` is the active array module, so autograd traces exactly the code the
    library executes (no separate twin to keep in sync).
    """
    import autograd
    import autograd.numpy as anp

    keys = list(params) if keys is None else list(keys)
    fixed = {k: np.asarray(backend.asnumpy(v), dtype=np.float64) for k, v in params.items()}

    def f_of_selected(selected):
        return f({**fixed, **selected})

    with backend.using(anp):
        return autograd.grad(f_of_selected)({k: fixed[k] for k in keys})


def compare(name, got, expected, tol):
    """Return ``(ok, message)`` for one array against its reference, tolerance ``tol``."""
    err = rel_error(got, expected)
    verdict = "ok" if err <= tol else "MISMATCH"
    return err <= tol, f"{name}: relative error {err:.2e} (tolerance {tol:.0e}) {verdict}"
