"""Stable logarithms, entropies and tensor contractions for discrete active inference.

Every log of a probability in this chapter is the *clipped* log of eq. (2.1)::

    (2.1)  ln+(x) = ln(max(x, eps)),   eps = 2.220446049250313e-16

``eps`` is float64 machine epsilon. It is pymdp's ``MINVAL = jnp.finfo(float).eps``
(``pymdp/maths.py``, JAX backend v1.0.x); Python's ``float`` is float64, so pymdp uses this
value even when it computes in float32, and so do we. ``ln+`` bottoms out at -36.0437.
Products ``x * ln+(y)`` are exactly zero where ``x == 0`` (pymdp's ``xlogy`` semantics)
because ``ln+`` is always finite.

Array layout (the whole chapter): a leading batch axis on everything, then the axes of the
object. ``q[f]``: (batch, S_f). ``A[m]``: (batch, O_m, *S_deps(m)). ``B[f]``:
(batch, S_f, *S_Bdeps(f), U_f).
"""

from __future__ import annotations

import numpy as np

from reference import backend, nn
from reference.backend import xp

EPS = float(np.finfo(np.float64).eps)  # pymdp MINVAL = jnp.finfo(float).eps, eq. (2.1)
_LETTERS = "abcdefghijklmnopqrstuvwxy"


def log_stable(x):
    """Eq. (2.1): ``ln(max(x, eps))`` elementwise, with pymdp's eps."""
    return xp.log(xp.maximum(x, EPS))


def softmax(z, axis=-1):
    """sigma(z) along ``axis`` (the state or policy axis); see :func:`reference.nn.softmax`."""
    return nn.softmax(z, axis=axis)


def entropy(p, axis=-1):
    """Eq. (2.2): H[p] = -sum_i p_i ln+ p_i along ``axis`` (zero terms where p_i == 0)."""
    return -xp.sum(p * log_stable(p), axis=axis)


def cross_entropy(p, q, axis=-1):
    """Eq. (2.3): H[p, q] = -sum_i p_i ln+ q_i along ``axis``."""
    return -xp.sum(p * log_stable(q), axis=axis)


def kl_divergence(p, q, axis=-1):
    """Eq. (2.4): KL(p || q) = sum_i p_i (ln+ p_i - ln+ q_i) along ``axis``."""
    return xp.sum(p * (log_stable(p) - log_stable(q)), axis=axis)


def factor_dot(tensor, marginals, n_keep=1):
    """Contract the trailing ``len(marginals)`` axes of ``tensor`` with ``marginals``.

    ``tensor``: (*lead, *keep, S_1, ..., S_k) with ``n_keep`` kept axes; ``marginals[i]``:
    (*lead_i, S_i). The leading axes broadcast (einsum ``...``), so a tensor shared by all
    policies, (batch, 1, ...), contracts with per-policy beliefs (batch, P, S_i). Returns
    (*broadcast(lead), *keep). This is the mean-field expectation
    ``sum_s tensor[..., s_1..s_k] prod_i q_i(s_i)`` (pymdp's ``factor_dot``).
    """
    k = len(marginals)
    if k == 0:
        return tensor
    keep = _LETTERS[k : k + n_keep].upper()
    contr = _LETTERS[:k]
    spec = "..." + keep + contr + "," + ",".join("..." + c for c in contr) + "->..." + keep
    return xp.einsum(spec, tensor, *marginals)


def outer(vectors):
    """Outer product of a list of (batch, n_i) arrays -> (batch, n_1, ..., n_k)."""
    out = vectors[0]
    for v in vectors[1:]:
        out = out[..., None] * v.reshape(v.shape[:1] + (1,) * (out.ndim - 1) + v.shape[1:])
    return out


def one_hot(index, n, dtype="float64"):
    """One-hot rows for integer ``index`` of shape (batch,) -> (batch, n)."""
    index = np.asarray(backend.asnumpy(index)).astype(int)
    out = np.zeros(index.shape + (n,), dtype=dtype)
    np.put_along_axis(out, index[..., None], 1.0, axis=-1)
    return xp.asarray(out)


def dirichlet_expected_value(p):
    """Eq. (2.20): E[A] of Dirichlet counts ``p`` (batch, O, ...): clip at eps, normalise axis 1.

    Clipping before normalising means a structural zero in ``p`` comes back as a tiny
    probability, exactly as in pymdp (its issue #453).
    """
    p = xp.maximum(p, EPS)
    return p / xp.sum(p, axis=1, keepdims=True)


def digamma(x):
    """The digamma function psi on the active backend (SciPy, or CuPy's twin on a GPU)."""
    if backend.name() == "cupy":  # pragma: no cover - GPU only
        from cupyx.scipy.special import digamma as _digamma
    else:
        from scipy.special import digamma as _digamma
    return _digamma(x)


def dirichlet_novelty_weight(p):
    """Eq. (2.17): exact Dirichlet information-gain weight (Da Costa et al. 2020, eq. D.15).

    With ``a = max(p, eps)`` and ``a0 = max(sum_o a, eps)`` (sum over axis 1, the outcome
    axis after the batch axis)::

        w[o, s] = ln a0 - ln a + psi(a + 1) - psi(a0 + 1),   masked to 0 where p == 0

    ``w >= 0``; it is the *positive* novelty (pymdp's ``spm_wnorm`` returns ``-w``).
    """
    a = xp.maximum(p, EPS)
    a0 = xp.maximum(xp.sum(a, axis=1, keepdims=True), EPS)
    w = xp.log(a0) - xp.log(a) + digamma(a + 1.0) - digamma(a0 + 1.0)
    return w * (p > 0)
