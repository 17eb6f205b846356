"""Input checks shared by the chapter-3 metrics (:mod:`~reference.dsr.metrics`,
:mod:`~reference.dsr.lyapunov`): each raises ``ValueError`` naming the argument, the expected
shape or range and what it received.

Series are converted once, here, to host float64 NumPy arrays with
:func:`reference.backend.asnumpy`, so the metrics accept NumPy and CuPy arrays alike.
"""

from __future__ import annotations

import numpy as np

from reference.backend import asnumpy


def series(name, x, min_len=2):
    """``x`` as a finite float64 NumPy time series ``(T, N)`` with ``T >= min_len``."""
    x = np.asarray(asnumpy(x), dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < min_len or x.shape[1] < 1:
        raise ValueError(
            f"{name}: expected a time series (T, N) with T >= {min_len}, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite values (a diverged orbit has no statistics)")
    return x


def series_pair(x_true, x_gen):
    """``(x_true, x_gen)`` checked by :func:`series`, with the same number of columns N."""
    x_true, x_gen = series("x_true", x_true), series("x_gen", x_gen)
    if x_true.shape[1] != x_gen.shape[1]:
        raise ValueError(
            f"x_gen: expected N = {x_true.shape[1]} columns like x_true, got shape {x_gen.shape}"
        )
    return x_true, x_gen


def positive_int(name, value):
    """``value`` as an ``int`` >= 1 (booleans and non-integral numbers are refused)."""
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)
