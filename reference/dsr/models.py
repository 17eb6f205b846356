"""Latent step models of chapter 3: PLRNN, ALRNN and the (clipped) shallow PLRNN.

Every model is a small object that knows its sizes and nothing else; the parameters are a
plain dict ``{name: array}`` passed to each method. All models share one interface:

* ``init_params(rng)``: the source code's initialisation;
* ``step(params, z, s=None)``: one step ``z_t = F(z_{t-1}) + s_t @ C`` on ``(batch, M)``;
* ``vjp(params, z, g, s=None)``: the hand-derived vector-Jacobian product of ``step``,
  ``(g^T dz'/dz, {name: g^T dz'/dtheta})`` summed over the batch;
* ``jacobian(params, z)``: ``(batch, M, M)`` in paper orientation, ``J[b, i, j] = dz'_i/dz_j``;
* ``initial_state(params, x0)`` / ``initial_state_vjp``: the learned map of eq. (3.7);
* ``observe(z)``: identity read-out of the first N units, eq. (3.6).

Storage is row-major (``z @ W``, ``W: (in, out)``), so each matrix is the **transpose** of the
papers' column-vector matrix ``W_p``. Importing weights from the Julia or PyTorch code of the
DurstewitzLab therefore needs a ``.T``.
"""

from __future__ import annotations

import math

import numpy as np

from reference.backend import xp


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected numpy.random.Generator, got {type(rng).__name__}")


def _check_dim(name, value, minimum=1):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def normalised_positive_definite(M, rng):
    """Talathi & Vartak's matrix: ``K = R^T R / M + I`` scaled to spectral radius 1.

    ``R ~ N(0, 1)^{M x M}``. PLRNN uses ``A = diag K`` and ``W = K - diag K``; ALRNN and the
    shallow PLRNN use only ``A = diag K``.
    """
    R = rng.standard_normal((M, M))
    K = R.T @ R / M + np.eye(M)
    return K / np.max(np.abs(np.linalg.eigvalsh(K)))


class LatentModel:
    """Shared machinery: sizes, inputs ``s @ C``, observation and initial-state maps."""

    #: names of the step parameters (``B`` and ``C`` are added by the base class)
    step_keys: tuple = ()

    def __init__(self, latent_dim, obs_dim, input_dim=0, learnable_C=True):
        self.M = _check_dim("latent_dim", latent_dim)
        self.N = _check_dim("obs_dim", obs_dim)
        self.K = _check_dim("input_dim", input_dim, minimum=0)
        if self.N > self.M:
            raise ValueError(
                f"obs_dim: the identity read-out needs obs_dim <= latent_dim = {self.M}, "
                f"got {self.N}"
            )
        if not learnable_C and self.K > self.M:
            raise ValueError(
                f"input_dim: a fixed C = [0 | I] needs input_dim <= latent_dim = {self.M}, "
                f"got {self.K}"
            )
        self.learnable_C = bool(learnable_C)

    # ---------------------------------------------------------------- bookkeeping
    @property
    def keys(self):
        """Names of all trainable arrays, in a fixed order."""
        extra = ("C",) if self.K and self.learnable_C else ()
        return (*self.step_keys, *extra, "B")

    def fixed_C(self):
        """``C = [0 | I_K]`` of shape ``(K, M)``: inputs drive the **last** K latent units."""
        C = np.zeros((self.K, self.M))
        C[:, self.M - self.K :] = np.eye(self.K)
        return C

    def num_params(self):
        """Trainable numbers: step parameters, C when learnable, and L = B[:, N:]."""
        counts = {k: int(np.prod(v)) for k, v in self.param_shapes().items()}
        counts["B"] = self.N * (self.M - self.N)
        if getattr(self, "off_diagonal", False):
            counts["W"] -= self.M
        return sum(counts.values())

    def param_shapes(self):
        shapes = dict(self._step_shapes())
        if self.K and self.learnable_C:
            shapes["C"] = (self.K, self.M)
        shapes["B"] = (self.N, self.M)
        return shapes

    def _init_io(self, params, rng):
        """B = [I_N | L] with L ~ U(+-1/sqrt(N)); C glorot-uniform when learnable."""
        L = rng.uniform(-1, 1, (self.N, self.M - self.N)) / math.sqrt(self.N)
        params["B"] = np.concatenate([np.eye(self.N), L], axis=1)
        if self.K and self.learnable_C:
            bound = math.sqrt(6.0 / (self.K + self.M))
            params["C"] = rng.uniform(-bound, bound, (self.K, self.M))
        return params

    # ---------------------------------------------------------------- validation
    def _validate(self, params, z, s=None, check_s=True):
        missing = [k for k in self.keys if k not in params and k != "B"]
        if missing:
            raise ValueError(f"params: missing {missing} (expected keys {list(self.keys)})")
        if z.ndim != 2 or z.shape[1] != self.M:
            raise ValueError(f"z: expected shape (batch, {self.M}), got {tuple(z.shape)}")
        if not check_s:
            return
        if self.K:
            if s is None or s.ndim != 2 or s.shape != (z.shape[0], self.K):
                got = None if s is None else tuple(s.shape)
                raise ValueError(f"s: expected shape ({z.shape[0]}, {self.K}), got {got}")
        elif s is not None:
            raise ValueError("s: this model has input_dim = 0, so s must be None")

    # ---------------------------------------------------------------- inputs
    def _C(self, params):
        return params["C"] if self.learnable_C else self.fixed_C()

    def _add_input(self, params, out, s):
        return out if not self.K else out + s @ self._C(params)

    def _input_grads(self, params, g, s, grads):
        if self.K and self.learnable_C:
            grads["C"] = s.T @ g
        return grads

    # ---------------------------------------------------------------- public interface
    def step(self, params, z, s=None):
        """``z_t = F(z_{t-1}) + s_t @ C`` on a batch ``(batch, M)``."""
        self._validate(params, z, s)
        return self._add_input(params, self._F(params, z), s)

    def vjp(self, params, z, g, s=None, need_params=True):
        """``(g^T dz'/dz, grads)`` of :meth:`step` at ``z``; ``grads`` summed over the batch
        (``{}`` when ``need_params`` is False)."""
        self._validate(params, z, s)
        zbar, grads = self._F_vjp(params, z, g, need_params)
        if need_params:
            self._input_grads(params, g, s, grads)
        return zbar, grads

    def jacobian(self, params, z):
        """``(batch, M, M)`` Jacobians ``J[b, i, j] = dz'_i / dz_j`` (paper orientation)."""
        self._validate(params, z, check_s=False)
        return self._jacobian(params, z)

    def observe(self, z):
        """Eq. (3.6): ``x_hat = z[..., :N]`` (identity observation model)."""
        return z[..., : self.N]

    def initial_state(self, params, x0):
        """Eq. (3.7): ``z_0 = x_0 @ B`` with the first N units then set to ``x_0``."""
        if x0.ndim != 2 or x0.shape[1] != self.N:
            raise ValueError(f"x0: expected shape (batch, {self.N}), got {tuple(x0.shape)}")
        rest = (x0 @ params["B"])[:, self.N :]
        return xp.concatenate([x0, rest], axis=1)

    def initial_state_vjp(self, x0, zbar0):
        """Gradient of eq. (3.7) w.r.t. ``B``: ``x_0^T zbar_0`` on columns N: (zero on :N,
        which the overwrite by ``x_0`` disconnects)."""
        gB = x0.T @ zbar0
        return xp.concatenate([xp.zeros_like(gB[:, : self.N]), gB[:, self.N :]], axis=1)

    def generate(self, params, z0, n_steps, S=None):
        """Free run: ``(n_steps + 1, batch, M)`` with ``Z[0] = z0``; input ``S[t]`` drives
        ``Z[t]`` (``S[0]`` is unused), as in the golden trajectories."""
        Z = [z0]
        for t in range(1, n_steps + 1):
            Z.append(self.step(params, Z[-1], None if S is None else S[t]))
        return xp.stack(Z)

    def norm_bound(self, params):
        """An upper bound of ``||J(z)||_2`` over all z (for the adaptive GTF estimate)."""
        raise NotImplementedError

    # subclasses: _step_shapes, init_params, _F, _F_vjp, _jacobian, norm_bound


class PLRNN(LatentModel):
    """Eq. (3.1): ``z' = A*z + relu(c(z)) @ W + h``, ``W`` off-diagonal, where
    ``c(z) = z - mean_i z_i`` (eq. 3.2, mean-centring inside the ReLU only) or ``c(z) = z``.
    Jacobian ``diag(A) + W_p D(c(z) > 0) Q`` with ``Q = I - 11^T/M`` (or I)."""

    step_keys = ("A", "W", "h")
    off_diagonal = True

    def __init__(self, latent_dim, obs_dim, mean_centering=True, input_dim=0, learnable_C=True):
        super().__init__(latent_dim, obs_dim, input_dim, learnable_C)
        self.mean_centering = bool(mean_centering)

    def _step_shapes(self):
        return {"A": (self.M,), "W": (self.M, self.M), "h": (self.M,)}

    def init_params(self, rng):
        """``A = diag K``, ``W = K - diag K`` (normalised positive definite), ``h = 0``."""
        _check_rng(rng)
        K = normalised_positive_definite(self.M, rng)
        A = np.diag(K).copy()
        params = {"A": A, "W": K - np.diag(A), "h": np.zeros(self.M)}
        return self._init_io(params, rng)

    def _centre(self, z):
        return z - xp.mean(z, axis=1, keepdims=True) if self.mean_centering else z

    def _F(self, params, z):
        return params["A"] * z + xp.maximum(self._centre(z), 0) @ params["W"] + params["h"]

    def _F_vjp(self, params, z, g, need_params):
        c = self._centre(z)
        gc = (g @ params["W"].T) * (c > 0)
        if self.mean_centering:
            gc = gc - xp.mean(gc, axis=1, keepdims=True)  # Q is symmetric
        zbar = params["A"] * g + gc
        if not need_params:
            return zbar, {}
        gW = xp.maximum(c, 0).T @ g
        gW = gW - xp.diag(xp.diag(gW))  # W stays off-diagonal
        return zbar, {"A": xp.sum(g * z, axis=0), "W": gW, "h": xp.sum(g, axis=0)}

    def _jacobian(self, params, z):
        d = (self._centre(z) > 0).astype(z.dtype)
        X = params["W"].T[None, :, :] * d[:, None, :]  # W_p D
        if self.mean_centering:
            X = X - xp.mean(X, axis=2, keepdims=True)  # (W_p D) Q
        return xp.eye(self.M)[None] * params["A"][None, None, :] + X

    def norm_bound(self, params):
        return float(np.max(np.abs(params["A"])) + np.linalg.norm(params["W"], 2))


class ALRNN(LatentModel):
    """Eq. (3.3): ``z' = A*z + [z_lin, relu(z_P)] @ W + h``: only the last ``P = num_relus``
    units are rectified. ``W`` is full (diagonal included) unless ``off_diagonal_W``.
    Jacobian ``diag(A) + W_p D([1..1, z_P > 0])``; the bits ``z_P > 0`` name the subregion."""

    step_keys = ("A", "W", "h")

    def __init__(self, latent_dim, obs_dim, num_relus, off_diagonal_W=False, input_dim=0,
                 learnable_C=True):  # fmt: skip
        super().__init__(latent_dim, obs_dim, input_dim, learnable_C)
        self.P = _check_dim("num_relus", num_relus, minimum=0)
        if self.P > self.M:
            raise ValueError(f"num_relus: expected 0..latent_dim = {self.M}, got {num_relus}")
        self.off_diagonal = bool(off_diagonal_W)

    def _step_shapes(self):
        return {"A": (self.M,), "W": (self.M, self.M), "h": (self.M,)}

    def init_params(self, rng):
        """``A = diag K`` (normalised positive definite), ``W ~ N(0, 0.01^2)``, ``h = 0``."""
        _check_rng(rng)
        A = np.diag(normalised_positive_definite(self.M, rng)).copy()
        W = 0.01 * rng.standard_normal((self.M, self.M))
        if self.off_diagonal:
            W = W - np.diag(np.diag(W))
        return self._init_io({"A": A, "W": W, "h": np.zeros(self.M)}, rng)

    def _phi(self, z):
        n_lin = self.M - self.P
        return xp.concatenate([z[:, :n_lin], xp.maximum(z[:, n_lin:], 0)], axis=1)

    def mask(self, z):
        """``D`` of the Jacobian: ones on the linear units, ``1[z_i > 0]`` on the last P."""
        n_lin = self.M - self.P
        on = (z[:, n_lin:] > 0).astype(z.dtype)
        return xp.concatenate([xp.ones_like(z[:, :n_lin]), on], axis=1)

    def _F(self, params, z):
        return params["A"] * z + self._phi(z) @ params["W"] + params["h"]

    def _F_vjp(self, params, z, g, need_params):
        zbar = params["A"] * g + (g @ params["W"].T) * self.mask(z)
        if not need_params:
            return zbar, {}
        gW = self._phi(z).T @ g
        if self.off_diagonal:
            gW = gW - xp.diag(xp.diag(gW))
        return zbar, {"A": xp.sum(g * z, axis=0), "W": gW, "h": xp.sum(g, axis=0)}

    def _jacobian(self, params, z):
        X = params["W"].T[None, :, :] * self.mask(z)[:, None, :]
        return xp.eye(self.M)[None] * params["A"][None, None, :] + X

    def norm_bound(self, params):
        return float(np.max(np.abs(params["A"])) + np.linalg.norm(params["W"], 2))


class ShallowPLRNN(LatentModel):
    """Eq. (3.4): ``z' = A*z + relu(z @ W2 + h2) @ W1 + h1`` with ``W2: (M, L)``,
    ``W1: (L, M)`` (papers: ``W1_p`` is M x L). Eq. (3.5), ``clipped``: the bracket becomes
    ``relu(z @ W2 + h2) - relu(z @ W2)``, bounded by ``|h2|``. Jacobian
    ``diag(A) + W1_p D W2_p`` with ``D = 1[W2_p z + h2 > 0] (- 1[W2_p z > 0])``."""

    step_keys = ("A", "W1", "W2", "h1", "h2")

    def __init__(self, latent_dim, obs_dim, hidden_dim, clipped=False, input_dim=0,
                 learnable_C=True):  # fmt: skip
        super().__init__(latent_dim, obs_dim, input_dim, learnable_C)
        self.L = _check_dim("hidden_dim", hidden_dim)
        self.clipped = bool(clipped)

    def _step_shapes(self):
        M, L = self.M, self.L
        return {"A": (M,), "W1": (L, M), "W2": (M, L), "h1": (M,), "h2": (L,)}

    def init_params(self, rng):
        """``A = diag K``; ``W1 ~ U(+-1/sqrt(L))``, ``W2 ~ U(+-1/sqrt(M))`` (fan-in uniform);
        ``h1 = 0``; ``h2 = 0``, or ``U(+-1/sqrt(L))`` when clipped."""
        _check_rng(rng)
        M, L = self.M, self.L
        params = {
            "A": np.diag(normalised_positive_definite(M, rng)).copy(),
            "W1": rng.uniform(-1, 1, (L, M)) / math.sqrt(L),
            "W2": rng.uniform(-1, 1, (M, L)) / math.sqrt(M),
            "h1": np.zeros(M),
            "h2": rng.uniform(-1, 1, L) / math.sqrt(L) if self.clipped else np.zeros(L),
        }
        return self._init_io(params, rng)

    def _hidden(self, params, z):
        """``(r, d)``: the bracket of (3.4)/(3.5) and its derivative w.r.t. ``z @ W2``."""
        v = z @ params["W2"]
        u = v + params["h2"]
        if not self.clipped:
            return xp.maximum(u, 0), (u > 0).astype(z.dtype)
        r = xp.maximum(u, 0) - xp.maximum(v, 0)
        return r, (u > 0).astype(z.dtype) - (v > 0).astype(z.dtype)

    def _F(self, params, z):
        return params["A"] * z + self._hidden(params, z)[0] @ params["W1"] + params["h1"]

    def _F_vjp(self, params, z, g, need_params):
        r, d = self._hidden(params, z)
        gv = (g @ params["W1"].T) * d  # adjoint of v = z @ W2 (u and v together)
        zbar = params["A"] * g + gv @ params["W2"].T
        if not need_params:
            return zbar, {}
        grads = {
            "A": xp.sum(g * z, axis=0),
            "W1": r.T @ g,
            "W2": z.T @ gv,
            "h1": xp.sum(g, axis=0),
        }
        gu = (g @ params["W1"].T) * (z @ params["W2"] + params["h2"] > 0)
        grads["h2"] = xp.sum(gu, axis=0)
        return zbar, grads

    def _jacobian(self, params, z):
        v = z @ params["W2"]
        d = (v + params["h2"] > 0).astype(z.dtype)
        if self.clipped:
            d = d - (v > 0).astype(z.dtype)
        # (W1_p D W2_p)[i, j] = sum_k W1[k, i] d_k W2[j, k]: one product d @ K for the batch
        M, L = self.M, self.L
        K = params["W1"][:, :, None] * params["W2"].T[:, None, :]  # (L, M, M)
        X = (d @ xp.reshape(K, (L, M * M))).reshape(z.shape[0], M, M)
        return xp.eye(M)[None] * params["A"][None, None, :] + X

    def norm_bound(self, params):
        """``max|A| + ||W1||_2 ||W2||_2`` (section 2 of the brief)."""
        return float(
            np.max(np.abs(params["A"]))
            + np.linalg.norm(params["W1"], 2) * np.linalg.norm(params["W2"], 2)
        )


def from_config(name, latent_dim, obs_dim, **hyper):
    """Build a model from HierMTF-style names: ``PLRNN``, ``ALRNN``, ``shPLRNN``,
    ``clipped_shPLRNN``, ``dendPLRNN``, ``clipped_dendPLRNN``."""
    from reference.dsr.dendritic import DendPLRNN

    table = {
        "PLRNN": lambda: PLRNN(latent_dim, obs_dim, **hyper),
        "ALRNN": lambda: ALRNN(latent_dim, obs_dim, **hyper),
        "shPLRNN": lambda: ShallowPLRNN(latent_dim, obs_dim, **hyper),
        "clipped_shPLRNN": lambda: ShallowPLRNN(latent_dim, obs_dim, clipped=True, **hyper),
        "dendPLRNN": lambda: DendPLRNN(latent_dim, obs_dim, **hyper),
        "clipped_dendPLRNN": lambda: DendPLRNN(latent_dim, obs_dim, clipped=True, **hyper),
    }
    if name not in table:
        raise ValueError(f"name: expected one of {sorted(table)}, got {name!r}")
    return table[name]()
