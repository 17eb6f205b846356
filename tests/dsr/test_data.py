"""Chapter 3 data: the vector fields (3.30)-(3.32), RK4 and its Jacobian, the numba twin,
the data sets (standardised, reproducible, noisy) and known facts about the attractors."""

import numpy as np
import pytest

from reference.dsr import data
from reference.gradcheck import rel_error

STATES = {
    "lorenz63": np.array([[1.0, 2.0, 20.0], [-5.0, -7.0, 30.0]]),
    "roessler": np.array([[1.0, -2.0, 0.5], [3.0, 1.0, 4.0]]),
    "lorenz96": 8.0 + np.random.default_rng(0).normal(size=(2, 6)),
}


def test_lorenz63_fixed_points_are_zeros_of_the_field():
    r, b = 28.0, 8.0 / 3.0
    c = np.sqrt(b * (r - 1))
    points = np.array([[0.0, 0.0, 0.0], [c, c, r - 1], [-c, -c, r - 1]])
    assert np.abs(data.vector_field("lorenz63", points)).max() < 1e-12


def test_roessler_and_lorenz96_equilibria():
    a, b, c = 0.2, 0.2, 5.7
    x = (c - np.sqrt(c * c - 4 * a * b)) / 2
    assert np.abs(data.vector_field("roessler", np.array([x, -x / a, x / a]))).max() < 1e-12
    assert np.abs(data.vector_field("lorenz96", np.full(7, 8.0))).max() == 0.0


def test_lorenz96_is_equivariant_under_cyclic_shifts():
    x = STATES["lorenz96"][0]
    assert np.allclose(
        data.vector_field("lorenz96", np.roll(x, 2)), np.roll(data.vector_field("lorenz96", x), 2)
    )


def _fd_jacobian(fn, x, eps=1e-6):
    cols = []
    for j in range(x.shape[-1]):
        e = np.zeros_like(x)
        e[..., j] = eps
        cols.append((fn(x + e) - fn(x - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("system", data.SYSTEMS)
def test_vector_field_jacobian_matches_finite_differences(system):
    x = STATES[system]
    J = data.vector_field_jacobian(system, x)
    assert rel_error(J, _fd_jacobian(lambda y: data.vector_field(system, y), x)) < 1e-8


@pytest.mark.parametrize("system", data.SYSTEMS)
def test_rk4_step_jacobian_matches_finite_differences(system):
    x, dt = STATES[system], data.DEFAULT_DT[system]
    J = data.rk4_step_jacobian(system, x, dt, substeps=3)
    fd = _fd_jacobian(lambda y: data.rk4_step(system, y, dt, substeps=3), x)
    assert rel_error(J, fd) < 1e-8


def test_rk4_is_fourth_order():
    """Halving the internal step divides the error after one time unit by ~2^4 = 16."""
    x0 = np.array([1.0, 2.0, 20.0])
    ref = data.integrate("lorenz63", x0, 101, 0.01, substeps=512)[-1]
    errors = [
        np.abs(data.integrate("lorenz63", x0, 101, 0.01, substeps=s)[-1] - ref).max()
        for s in (4, 8, 16)
    ]
    assert errors[0] < 1e-6  # the default (4 substeps of 0.0025) after one time unit
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert np.all((ratios > 12) & (ratios < 20)), ratios


@pytest.mark.parametrize("system", data.SYSTEMS)
def test_numba_kernel_equals_numpy_twin(system):
    x0 = STATES[system][0]
    a = data.integrate(system, x0, 300, data.DEFAULT_DT[system], kernel="numba")
    b = data.integrate(system, x0, 300, data.DEFAULT_DT[system], kernel="numpy")
    assert a.shape == (300, x0.size) and np.array_equal(a[0], x0)
    assert rel_error(a, b) < 1e-12


def test_integrate_row_n_is_rk4_step_of_row_n_minus_1():
    path = data.integrate("roessler", STATES["roessler"][0], 50, 0.05)
    assert np.allclose(data.rk4_step("roessler", path[:-1], 0.05), path[1:], rtol=0, atol=1e-12)


def test_lorenz63_data_set_is_standardised_and_reproducible():
    x, mean, std = data.lorenz63(20_000, np.random.default_rng(4), return_stats=True)
    assert x.shape == (20_000, 3)
    assert np.allclose(x.mean(axis=0), 0, atol=1e-12) and np.allclose(x.std(axis=0), 1)
    assert np.array_equal(x, data.lorenz63(20_000, np.random.default_rng(4)))
    assert not np.allclose(x, data.lorenz63(20_000, np.random.default_rng(5)))
    # the attractor's well-known centre of mass: mean z ~ 23.5 (x, y symmetric about 0)
    assert 22.8 < mean[2] < 24.2 and 7 < std[0] < 9


def test_noise_is_five_percent_of_each_dimension():
    clean = data.lorenz63(30_000, np.random.default_rng(1))
    noisy = data.lorenz63(30_000, np.random.default_rng(1), noise=0.05)
    assert np.allclose((noisy - clean).std(axis=0), 0.05, rtol=0.03)
    raw = data.lorenz63(30_000, np.random.default_rng(1), standardise=False)
    raw_noisy = data.lorenz63(30_000, np.random.default_rng(1), standardise=False, noise=0.05)
    assert np.allclose((raw_noisy - raw).std(axis=0) / raw.std(axis=0), 0.05, rtol=0.03)


def test_roessler_mean_return_time():
    """Upward zero crossings of x: one turn every ~5.9 time units (angular frequency ~1.07)."""
    x = data.roessler(20_000, np.random.default_rng(0), standardise=False)
    up = np.flatnonzero((x[:-1, 0] < 0) & (x[1:, 0] >= 0))
    period = np.diff(up).mean() * data.DEFAULT_DT["roessler"]
    assert 5.6 < period < 6.2


def test_lorenz96_data_set_shape_and_dim():
    x = data.lorenz96(500, np.random.default_rng(0), dim=10)
    assert x.shape == (500, 10) and np.all(np.isfinite(x))


def test_flow_map_is_a_latent_step_model():
    fm = data.FlowMap("lorenz63")
    p = fm.init_params()
    z = STATES["lorenz63"]
    assert np.array_equal(fm.step(p, z), data.rk4_step("lorenz63", z, 0.01))
    assert fm.jacobian(p, z).shape == (2, 3, 3)
    with pytest.raises(ValueError, match="s:"):
        fm.step(p, z, s=np.zeros((2, 1)))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.simulate("lorenz", 10, np.random.default_rng(0)), "system"),
        (lambda: data.lorenz63(10, 0), "rng"),
        (lambda: data.lorenz63(10, np.random.default_rng(0), noise=-0.1), "noise"),
        (lambda: data.lorenz63(10, np.random.default_rng(0), dt=0.0), "dt"),
        (lambda: data.lorenz63(0, np.random.default_rng(0)), "n_steps"),
        (lambda: data.lorenz63(10, np.random.default_rng(0), dim=4), "dim"),
        (lambda: data.lorenz96(10, np.random.default_rng(0), dim=3), "dim"),
        (lambda: data.lorenz63(10, np.random.default_rng(0), transient=-1), "transient"),
        (lambda: data.lorenz63(10, np.random.default_rng(0), params={"r": 1}), "params"),
        (lambda: data.integrate("lorenz63", np.zeros(4), 5, 0.01), "x0"),
        (lambda: data.integrate("lorenz63", np.zeros(3), 5, 0.01, kernel="c"), "kernel"),
        (lambda: data.rk4_step("lorenz63", np.zeros(3), 0.01, substeps=0), "substeps"),
        (lambda: data.vector_field("roessler", np.zeros((2, 4))), "x"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
