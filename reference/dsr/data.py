"""Benchmark data of chapter 3: Lorenz-63, Roessler and Lorenz-96, integrated here.

The three flows dx/dt = f(x) (eqs. 3.30-3.32)::

    (3.30) Lorenz-63    f = [sigma (y - x), x (rho - z) - y, x y - beta z]
                       sigma = 10, rho = 28, beta = 8/3
    (3.31) Roessler     f = [-y - z, x + a y, b + z (x - c)]
                       a = 0.2, b = 0.2, c = 5.7
    (3.32) Lorenz-96    f_i = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F   (indices mod N)
                       F = 8, N = 20

are integrated with the classical fourth-order Runge-Kutta scheme (RK4) at an internal step
``h = dt / substeps`` and sampled every ``dt``. With the defaults (``dt = 0.01`` for
Lorenz-63, ``substeps = 4``, h = 0.0025) the error after one time unit is about 1e-7 (measured
against 512 substeps; halving h divides it by ~15, the fourth order), far below the 5 %
observation noise of the noisy data sets. (Pointwise accuracy is moot anyway after a few
Lyapunov times: a chaotic trajectory is "accurate" in the sense that it lies on the attractor
with the right statistics.)

Data sets (:func:`lorenz63`, :func:`roessler`, :func:`lorenz96`, all through
:func:`simulate`): a random initial condition from the explicit ``rng``, a discarded
transient, ``n_steps`` samples, each dimension standardised to mean 0 and standard
deviation 1 (the format of the authors' example data: 1e5 x 3, dt 0.01, standardised), and
optionally additive Gaussian observation noise of ``noise`` standard deviations of each
(clean) dimension -- ``noise=0.05`` is the "5 % noise" data set.

Long trajectories run in a numba kernel (:func:`rk4_path_jit`); :func:`rk4_path_numpy` is
its NumPy twin with the same signature (the tests check they agree), and
:func:`rk4_step` is the vectorised NumPy step for batches of states. :class:`FlowMap` wraps
the time-``dt`` map of a flow in the latent-step-model interface (``step``, ``jacobian``) so
that :func:`reference.dsr.metrics.lyapunov_spectrum` computes the *true* system's exponents
with the same code that computes a trained model's.

Default dt of Roessler (0.05) and the Lorenz-96 size and forcing (N = 20, F = 8, dt = 0.05)
are this chapter's choices; the source code ships several variants.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from reference.backend import xp

SYSTEMS = ("lorenz63", "roessler", "lorenz96")
_CODES = {name: code for code, name in enumerate(SYSTEMS)}

DEFAULT_PARAMS = {
    "lorenz63": {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0},
    "roessler": {"a": 0.2, "b": 0.2, "c": 5.7},
    "lorenz96": {"F": 8.0},
}
DEFAULT_DT = {"lorenz63": 0.01, "roessler": 0.05, "lorenz96": 0.05}
DEFAULT_TRANSIENT = {"lorenz63": 50.0, "roessler": 200.0, "lorenz96": 50.0}  # time units
DEFAULT_DIM = {"lorenz63": 3, "roessler": 3, "lorenz96": 20}
SUBSTEPS = 4


# --------------------------------------------------------------------------- validation


def _check_system(system):
    if system not in _CODES:
        raise ValueError(f"system: expected one of {SYSTEMS}, got {system!r}")
    return system


def _system_params(system, params):
    """The parameter vector ``p`` (in the order of DEFAULT_PARAMS) with defaults filled in."""
    defaults = DEFAULT_PARAMS[system]
    params = {} if params is None else dict(params)
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(
            f"params: unknown keys {sorted(unknown)} for {system}; "
            f"expected a subset of {sorted(defaults)}"
        )
    p = np.array([float(params.get(k, v)) for k, v in defaults.items()])
    if not np.all(np.isfinite(p)):
        raise ValueError(f"params: expected finite values, got {params}")
    return p


def _check_positive(name, value, integer=False):
    if integer:
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        return int(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def _check_state(system, x, name="x"):
    x = xp.asarray(x)
    if x.ndim < 1 or x.shape[-1] < (4 if system == "lorenz96" else 3):
        raise ValueError(
            f"{name}: expected shape (..., D) with D = 3 (D >= 4 for lorenz96), got {x.shape}"
        )
    if system != "lorenz96" and x.shape[-1] != 3:
        raise ValueError(f"{name}: expected last dimension 3 for {system}, got {x.shape}")
    return x


# --------------------------------------------------------------------------- vector fields


def vector_field(system, x, params=None):
    """f(x) of eqs. (3.30)-(3.32) on states ``x: (..., D)``; vectorised over leading axes."""
    system = _check_system(system)
    return _f(system, _check_state(system, x), _system_params(system, params))


def vector_field_jacobian(system, x, params=None):
    """Df(x), ``(..., D, D)`` with ``J[..., i, j] = d f_i / d x_j``."""
    system = _check_system(system)
    return _Df(system, _check_state(system, x), _system_params(system, params))


def _f(system, x, p):
    if system == "lorenz63":
        sigma, rho, beta = p
        X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
        return xp.stack([sigma * (Y - X), X * (rho - Z) - Y, X * Y - beta * Z], axis=-1)
    if system == "roessler":
        a, b, c = p
        X, Y, Z = x[..., 0], x[..., 1], x[..., 2]
        return xp.stack([-Y - Z, X + a * Y, b + Z * (X - c)], axis=-1)
    (F,) = p
    return (xp.roll(x, -1, axis=-1) - xp.roll(x, 2, axis=-1)) * xp.roll(x, 1, axis=-1) - x + F


def _Df(system, x, p):
    D = x.shape[-1]
    J = xp.zeros(x.shape + (D,), dtype=x.dtype)
    if system == "lorenz63":
        sigma, rho, beta = p
        J[..., 0, 0], J[..., 0, 1] = -sigma, sigma
        J[..., 1, 0], J[..., 1, 1], J[..., 1, 2] = rho - x[..., 2], -1.0, -x[..., 0]
        J[..., 2, 0], J[..., 2, 1], J[..., 2, 2] = x[..., 1], x[..., 0], -beta
        return J
    if system == "roessler":
        a, b, c = p
        J[..., 0, 1], J[..., 0, 2], J[..., 1, 0], J[..., 1, 1] = -1.0, -1.0, 1.0, a
        J[..., 2, 0], J[..., 2, 2] = x[..., 2], x[..., 0] - c
        return J
    i = np.arange(D)
    J[..., i, i] = -1.0
    J[..., i, (i + 1) % D] = xp.roll(x, 1, axis=-1)  # x_{i-1}
    J[..., i, (i - 2) % D] = -xp.roll(x, 1, axis=-1)
    J[..., i, (i - 1) % D] = xp.roll(x, -1, axis=-1) - xp.roll(x, 2, axis=-1)
    return J


# --------------------------------------------------------------------------- RK4


def rk4_step(system, x, dt, params=None, substeps=SUBSTEPS):
    """The time-``dt`` map: ``substeps`` RK4 steps of size dt/substeps on ``x: (..., D)``."""
    system = _check_system(system)
    x, p = _check_state(system, x), _system_params(system, params)
    substeps = _check_positive("substeps", substeps, integer=True)
    h = _check_positive("dt", dt) / substeps
    for _ in range(substeps):
        k1 = _f(system, x, p)
        k2 = _f(system, x + 0.5 * h * k1, p)
        k3 = _f(system, x + 0.5 * h * k2, p)
        k4 = _f(system, x + h * k3, p)
        x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


def rk4_step_jacobian(system, x, dt, params=None, substeps=SUBSTEPS):
    """d(rk4_step)/dx, ``(..., D, D)``: the chain rule through every RK4 stage.

    With K_s = Df(stage input s): dk1 = K1, dk2 = K2 (I + h/2 dk1), dk3 = K3 (I + h/2 dk2),
    dk4 = K4 (I + h dk3), and d x' = I + h/6 (dk1 + 2 dk2 + 2 dk3 + dk4), composed over the
    substeps. This is the exact Jacobian of the discrete map (not of the flow), which is what
    a Lyapunov computation on sampled data refers to.
    """
    system = _check_system(system)
    x, p = _check_state(system, x), _system_params(system, params)
    substeps = _check_positive("substeps", substeps, integer=True)
    h = _check_positive("dt", dt) / substeps
    I = xp.eye(x.shape[-1], dtype=x.dtype)
    total = None
    for _ in range(substeps):
        k1 = _f(system, x, p)
        x2 = x + 0.5 * h * k1
        k2 = _f(system, x2, p)
        x3 = x + 0.5 * h * k2
        k3 = _f(system, x3, p)
        x4 = x + h * k3
        d1 = _Df(system, x, p)
        d2 = _Df(system, x2, p) @ (I + 0.5 * h * d1)
        d3 = _Df(system, x3, p) @ (I + 0.5 * h * d2)
        d4 = _Df(system, x4, p) @ (I + h * d3)
        step = I + (h / 6.0) * (d1 + 2.0 * d2 + 2.0 * d3 + d4)
        total = step if total is None else step @ total
        x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + _f(system, x4, p))
    return total


@njit(cache=True)
def _rhs_loops(code, x, p, out):
    """f(x) written into ``out`` for one state, in loops (for the numba kernel)."""
    D = x.shape[0]
    if code == 0:
        out[0] = p[0] * (x[1] - x[0])
        out[1] = x[0] * (p[1] - x[2]) - x[1]
        out[2] = x[0] * x[1] - p[2] * x[2]
    elif code == 1:
        out[0] = -x[1] - x[2]
        out[1] = x[0] + p[0] * x[1]
        out[2] = p[1] + x[2] * (x[0] - p[2])
    else:
        for i in range(D):
            out[i] = (x[(i + 1) % D] - x[(i - 2) % D]) * x[(i - 1) % D] - x[i] + p[0]


@njit(cache=True)
def rk4_path_jit(code, x0, p, h, substeps, out):
    """Fill ``out: (n, D)`` with x0 and the next n - 1 states, ``substeps`` RK4 steps of size
    ``h`` between samples; ``code`` indexes :data:`SYSTEMS`, ``p`` holds the parameters in
    the order of :data:`DEFAULT_PARAMS`. Numba twin of :func:`rk4_path_numpy`."""
    D = x0.shape[0]
    x = x0.copy()
    k1, k2, k3, k4, tmp = np.empty(D), np.empty(D), np.empty(D), np.empty(D), np.empty(D)
    out[0] = x
    for n in range(1, out.shape[0]):
        for _ in range(substeps):
            _rhs_loops(code, x, p, k1)
            for i in range(D):
                tmp[i] = x[i] + 0.5 * h * k1[i]
            _rhs_loops(code, tmp, p, k2)
            for i in range(D):
                tmp[i] = x[i] + 0.5 * h * k2[i]
            _rhs_loops(code, tmp, p, k3)
            for i in range(D):
                tmp[i] = x[i] + h * k3[i]
            _rhs_loops(code, tmp, p, k4)
            for i in range(D):
                x[i] += (h / 6.0) * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        out[n] = x
    return out


def rk4_path_numpy(code, x0, p, h, substeps, out):
    """NumPy twin of :func:`rk4_path_jit` (same signature): :func:`rk4_step` in a loop."""
    system = SYSTEMS[code]
    params = dict(zip(DEFAULT_PARAMS[system], (float(v) for v in p), strict=True))
    x = np.array(x0, dtype=np.float64)
    out[0] = x
    for n in range(1, out.shape[0]):
        x = rk4_step(system, x, h * substeps, params, substeps)
        out[n] = x
    return out


def integrate(system, x0, n_steps, dt, params=None, substeps=SUBSTEPS, kernel="numba"):
    """One trajectory ``(n_steps, D)`` sampled every ``dt``; row 0 is ``x0``.

    ``kernel="numba"`` runs :data:`rk4_path_jit`, ``"numpy"`` its plain twin (slow; for
    checks). Float64 throughout; the result is a NumPy array.
    """
    system = _check_system(system)
    x0 = np.asarray(x0, dtype=np.float64)
    _check_state(system, x0, "x0")
    if x0.ndim != 1 or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0: expected one finite state of shape (D,), got shape {x0.shape}")
    n_steps = _check_positive("n_steps", n_steps, integer=True)
    substeps = _check_positive("substeps", substeps, integer=True)
    h = _check_positive("dt", dt) / substeps
    if kernel not in ("numba", "numpy"):
        raise ValueError(f"kernel: expected 'numba' or 'numpy', got {kernel!r}")
    path = rk4_path_jit if kernel == "numba" else rk4_path_numpy
    out = np.empty((n_steps, x0.shape[0]))
    return path(_CODES[system], x0, _system_params(system, params), h, substeps, out)


# --------------------------------------------------------------------------- data sets


def _initial_state(system, rng, dim):
    if system == "lorenz96":
        F = DEFAULT_PARAMS["lorenz96"]["F"]
        return F + 0.01 * rng.standard_normal(dim)  # a small kick off the fixed point x = F
    return rng.standard_normal(3)


def simulate(
    system,
    n_steps,
    rng,
    *,
    dt=None,
    noise=0.0,
    standardise=True,
    params=None,
    transient=None,
    dim=None,
    substeps=SUBSTEPS,
    return_stats=False,
):
    """A data set ``(n_steps, D)`` of ``system`` (see the module docstring).

    ``rng``: a ``numpy.random.Generator`` (initial condition and noise). ``dt`` and
    ``transient`` (time units discarded first) default per system; ``dim`` is the Lorenz-96
    size. ``noise``: observation noise in standard deviations of each clean dimension.
    With ``return_stats=True`` also returns ``(mean, std)`` of the clean series (the
    standardisation applied).
    """
    system = _check_system(system)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    dt = DEFAULT_DT[system] if dt is None else dt
    dt = _check_positive("dt", dt)
    transient = DEFAULT_TRANSIENT[system] if transient is None else transient
    if not (np.isfinite(transient) and transient >= 0):
        raise ValueError(f"transient: expected a non-negative time, got {transient!r}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise: expected a non-negative number of sds, got {noise!r}")
    if dim is None:
        dim = DEFAULT_DIM[system]
    elif system != "lorenz96" and dim != 3:
        raise ValueError(f"dim: {system} is 3-dimensional, got {dim!r}")
    elif isinstance(dim, bool) or int(dim) != dim or dim < 4:
        raise ValueError(f"dim: expected an integer >= 4 for lorenz96, got {dim!r}")
    n_steps = _check_positive("n_steps", n_steps, integer=True)
    n_transient = int(round(transient / dt))
    x0 = _initial_state(system, rng, int(dim))
    path = integrate(system, x0, n_transient + n_steps, dt, params, substeps)[n_transient:]
    mean, std = path.mean(axis=0), path.std(axis=0)
    x = (path - mean) / std if standardise else path
    if noise > 0:
        scale = 1.0 if standardise else std
        x = x + noise * scale * rng.standard_normal(x.shape)
    return (x, mean, std) if return_stats else x


def lorenz63(n_steps, rng, **kw):
    """Lorenz-63 data set (eq. 3.30), dt 0.01, standardised; ``noise=0.05`` for 5 % noise."""
    return simulate("lorenz63", n_steps, rng, **kw)


def roessler(n_steps, rng, **kw):
    """Roessler data set (eq. 3.31), dt 0.05, standardised."""
    return simulate("roessler", n_steps, rng, **kw)


def lorenz96(n_steps, rng, **kw):
    """Lorenz-96 data set (eq. 3.32), N = 20, F = 8, dt 0.05, standardised."""
    return simulate("lorenz96", n_steps, rng, **kw)


# --------------------------------------------------------------------------- as a model


class FlowMap:
    """The time-``dt`` RK4 map of a flow in the latent-step-model interface.

    ``params`` are the system's parameters (``init_params()`` returns the defaults); ``step``
    and ``jacobian`` act on ``(batch, D)`` states, so the Lyapunov code that analyses a
    trained RNN also analyses the true system. Raw (unstandardised) coordinates: Lyapunov
    exponents do not change under the affine standardisation.
    """

    def __init__(self, system, dt=None, dim=None, substeps=SUBSTEPS):
        self.system = _check_system(system)
        self.dt = _check_positive("dt", DEFAULT_DT[system] if dt is None else dt)
        self.substeps = _check_positive("substeps", substeps, integer=True)
        self.latent_dim = DEFAULT_DIM[system] if dim is None else int(dim)

    def init_params(self, rng=None):
        return dict(DEFAULT_PARAMS[self.system])

    def step(self, params, z, s=None):
        if s is not None:
            raise ValueError("s: a FlowMap takes no external inputs")
        return rk4_step(self.system, z, self.dt, params, self.substeps)

    def jacobian(self, params, z):
        return rk4_step_jacobian(self.system, z, self.dt, params, self.substeps)
