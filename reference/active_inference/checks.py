"""Input checks of :class:`~reference.active_inference.agent.Agent`: each raises ``ValueError``
naming the argument, the expected shape or range and what it received.
"""

from __future__ import annotations

import numpy as np

from reference import backend

NORM_TOL = 1e-6  # |sum - 1| allowed for columns of A, B, and for D, soft obs, beliefs


def as_list(x):
    """A single array as a one-element list; lists and tuples as lists."""
    return list(x) if isinstance(x, list | tuple) else [x]


def float_array(a, name):
    """``a`` as a finite NumPy float array (integers and booleans are converted)."""
    a = np.asarray(backend.asnumpy(a))
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return a


def check_simplex(a, axis, name, what):
    """Non-negative entries that sum to one along ``axis`` (within ``NORM_TOL``)."""
    if a.size and a.min() < 0:
        raise ValueError(f"{name}: expected non-negative probabilities, min is {a.min():.3g}")
    err = float(np.abs(a.sum(axis=axis) - 1.0).max()) if a.size else 0.0
    if err > NORM_TOL:
        raise ValueError(
            f"{name}: expected {what} summing to 1 (tolerance {NORM_TOL:g}), off by {err:.3g}"
        )


def check_dependencies(deps, n, F, name, all_):
    """``n`` lists of factor indices below ``F``; ``None`` means every factor (``all_``) or
    the identity (factor i depends on factor i)."""
    if deps is None:
        return [list(range(F)) if all_ else [i] for i in range(n)]
    deps = [list(map(int, d)) for d in deps]
    if len(deps) != n or any(not d or min(d) < 0 or max(d) >= F for d in deps):
        raise ValueError(
            f"{name}: expected {n} non-empty lists of factor indices < {F}, got {deps}"
        )
    return deps
