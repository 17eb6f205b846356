"""The dendritic PLRNN of Brenner et al. (2022), eq. (3.8), with the clipped variant.

Each unit's output is a sum of ``n_bases`` shifted ReLUs (a "dendritic" basis expansion),

    phi(z)_i = sum_b alpha_b relu(z_i + theta_ib)                     (dendPLRNN)
    phi(z)_i = sum_b alpha_b (relu(z_i + theta_ib) - relu(z_i))      (clipped)

and ``z' = A*z + phi(z) @ W + h`` with ``W`` off-diagonal. The Julia GTF code writes
``relu(z - H)``, so its ``H`` is our ``-theta``.
"""

from __future__ import annotations

import numpy as np

from reference.backend import xp
from reference.dsr.models import (
    LatentModel,
    _check_dim,
    _check_rng,
    normalised_positive_definite,
)


class DendPLRNN(LatentModel):
    """Eq. (3.8). Parameters ``A: (M,)``, ``W: (M, M)`` off-diagonal, ``h: (M,)``,
    ``alphas: (n_bases,)``, ``thetas: (M, n_bases)``. Jacobian
    ``diag(A) + W_p D`` with ``D_ii = sum_b alpha_b (1[z_i + theta_ib > 0] (- 1[z_i > 0]))``."""

    step_keys = ("A", "W", "h", "alphas", "thetas")
    off_diagonal = True

    def __init__(self, latent_dim, obs_dim, n_bases, clipped=False, input_dim=0,
                 learnable_C=True):  # fmt: skip
        super().__init__(latent_dim, obs_dim, input_dim, learnable_C)
        self.n_bases = _check_dim("n_bases", n_bases)
        self.clipped = bool(clipped)

    def _step_shapes(self):
        M, nb = self.M, self.n_bases
        return {"A": (M,), "W": (M, M), "h": (M,), "alphas": (nb,), "thetas": (M, nb)}

    def init_params(self, rng):
        """``A``, ``W`` from the normalised positive-definite matrix, ``h = 0``,
        ``alphas ~ U(0, 1) / n_bases``, ``thetas ~ N(0, 1)``."""
        _check_rng(rng)
        K = normalised_positive_definite(self.M, rng)
        A = np.diag(K).copy()
        params = {
            "A": A,
            "W": K - np.diag(A),
            "h": np.zeros(self.M),
            "alphas": rng.uniform(0, 1, self.n_bases) / self.n_bases,
            "thetas": rng.standard_normal((self.M, self.n_bases)),
        }
        return self._init_io(params, rng)

    def _basis(self, params, z):
        """``(relu terms (batch, M, n_bases), their slopes)``."""
        u = z[:, :, None] + params["thetas"][None]
        r = xp.maximum(u, 0)
        d = (u > 0).astype(z.dtype)
        if self.clipped:
            r = r - xp.maximum(z, 0)[:, :, None]
            d = d - (z > 0).astype(z.dtype)[:, :, None]
        return r, d

    def _phi(self, params, z):
        r, _ = self._basis(params, z)
        return xp.sum(r * params["alphas"], axis=2)

    def _F(self, params, z):
        return params["A"] * z + self._phi(params, z) @ params["W"] + params["h"]

    def _F_vjp(self, params, z, g, need_params):
        r, d = self._basis(params, z)
        gphi = g @ params["W"].T
        zbar = params["A"] * g + gphi * xp.sum(d * params["alphas"], axis=2)
        if not need_params:
            return zbar, {}
        gW = xp.sum(r * params["alphas"], axis=2).T @ g
        u = z[:, :, None] + params["thetas"][None]
        grads = {
            "A": xp.sum(g * z, axis=0),
            "W": gW - xp.diag(xp.diag(gW)),
            "h": xp.sum(g, axis=0),
            "alphas": xp.einsum("bi,bin->n", gphi, r),
            "thetas": xp.einsum("bi,bin->in", gphi, (u > 0).astype(z.dtype)) * params["alphas"],
        }
        return zbar, grads

    def _jacobian(self, params, z):
        _, d = self._basis(params, z)
        slope = xp.sum(d * params["alphas"], axis=2)
        X = params["W"].T[None, :, :] * slope[:, None, :]
        return xp.eye(self.M)[None] * params["A"][None, None, :] + X

    def norm_bound(self, params):
        slope = float(np.sum(np.abs(params["alphas"])))
        return float(np.max(np.abs(params["A"])) + slope * np.linalg.norm(params["W"], 2))
