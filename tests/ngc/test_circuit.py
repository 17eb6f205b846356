"""Settling, Eqs. (5.1)-(5.6): hand-written steps, the energy view, fixed points, checks."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import backend
from reference.gradcheck import rel_error
from reference.ngc import circuit


def make(rng, dims, batch=3, tied=False):
    params = circuit.init_params(dims, rng)
    if tied:
        for l in range(1, len(dims) - 1):
            params[f"E{l}"] = params[f"W{l}"].T.copy()
    x_i = rng.normal(size=(batch, dims[-1]))
    x_o = rng.normal(size=(batch, dims[0]))
    return params, x_i, x_o


def test_one_step_by_hand(rng):
    """T = 1 from zero hidden states, written out for a 3-layer circuit (L = 2)."""
    params, x_i, x_o = make(rng, (4, 6, 3))
    beta, gamma_v, beta_e = 0.3, 0.05, 0.7
    W1, W2, E1 = params["W1"], params["W2"], params["E1"]
    z1 = np.zeros((3, 6))
    e0 = (x_o - np.maximum(z1, 0) @ W1) / (2 * beta_e)
    e1 = (np.maximum(z1, 0) - x_i @ W2) / (2 * beta_e)
    z1 = z1 + beta * (-gamma_v * z1 - e1 + e0 @ E1)
    e0 = (x_o - np.maximum(z1, 0) @ W1) / (2 * beta_e)
    e1 = (np.maximum(z1, 0) - x_i @ W2) / (2 * beta_e)
    s = circuit.settle(params, x_i, x_o, 1, beta, gamma_v, beta_e)
    assert rel_error(s["z"][1], z1) <= 1e-15
    assert rel_error(s["e"][0], e0) <= 1e-15 and rel_error(s["e"][1], e1) <= 1e-15
    assert s["z"][0] is x_o and s["z"][2] is x_i  # both ends clamped


def energy(params, z_hidden, x_i, x_o, beta_e):
    """F = sum_l ||z^l - zbar^l||^2 / (4 beta_e), identity phi."""
    z = [x_o, *z_hidden, x_i]
    with backend.using(anp):
        e, _ = circuit.errors(params, z, beta_e, phi="identity")
        return sum(anp.sum(el * el) for el in e) * beta_e


@pytest.mark.parametrize("dims", [(3, 5, 2), (4, 6, 5, 3), (2, 3, 4, 5, 2)])
def test_tied_identity_settling_is_gradient_descent_on_energy(rng, dims):
    """With phi = identity and E^l = (W^l)^T: z <- z - beta (gamma_v z + dF/dz)."""
    params, x_i, x_o = make(rng, dims, tied=True)
    hidden = [rng.normal(size=(3, J)) for J in dims[1:-1]]
    beta, gamma_v, beta_e = 0.05, 0.01, 0.5
    grads = autograd.grad(lambda h: energy(params, h, x_i, x_o, beta_e))(hidden)
    s = circuit.settle(params, x_i, x_o, 1, beta, gamma_v, beta_e, "identity", z_init=hidden)
    for l, (z, g) in enumerate(zip(hidden, grads, strict=True), start=1):
        assert rel_error(s["z"][l], z - beta * (gamma_v * z + g)) <= 1e-13


def test_settling_decreases_energy_and_reaches_fixed_point(rng):
    dims = (4, 8, 6, 3)
    params, x_i, x_o = make(rng, dims, tied=True)
    for k in params:
        params[k] = 0.5 * params[k]
    beta, beta_e = 0.1, 0.5
    F = [
        energy(
            params,
            circuit.settle(params, x_i, x_o, T, beta, 0.0, beta_e, "identity")["z"][1:-1],
            x_i,
            x_o,
            beta_e,
        )
        for T in (0, 5, 20, 80)
    ]
    assert all(a > b for a, b in zip(F, F[1:], strict=False))
    # fixed point of (5.4): gamma_v z^l = d^l in every hidden layer
    gamma_v = 0.05
    s = circuit.settle(params, x_i, x_o, 3000, beta, gamma_v, beta_e, "identity")
    for l in (1, 2):
        d = -s["e"][l] + s["e"][l - 1] @ params[f"E{l}"]
        assert rel_error(gamma_v * s["z"][l], d) <= 1e-8


@pytest.mark.parametrize("phi", circuit.PHIS)
def test_settling_from_the_projection(rng, phi):
    """From the projection (5.5), e^l = (phi(zbar^l) - zbar^l) / (2 beta_e) for hidden l
    (zero for identity, the negative part for ReLU) and e^0 = (x^o - zbar^0) / (2 beta_e)."""
    params, x_i, x_o = make(rng, (3, 7, 5, 2))
    f = circuit.phi_fn(phi)
    z = circuit.project(params, x_i, phi)
    s = circuit.settle(params, x_i, x_o, 0, 0.1, 0.0, 0.5, phi, z_init=z[1:-1])
    for l in (1, 2):
        assert rel_error(s["e"][l], f(z[l]) - z[l]) <= 1e-15
    assert rel_error(s["e"][0], x_o - z[0]) <= 1e-15
    assert rel_error(z[2], x_i @ params["W3"]) <= 1e-15
    if phi == "identity":
        assert np.abs(s["e"][1]).max() == 0.0 and np.abs(s["e"][2]).max() == 0.0


@settings(max_examples=25, deadline=None)
@given(
    dims=st.lists(st.integers(1, 6), min_size=3, max_size=5),
    batch=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    phi=st.sampled_from(circuit.PHIS),
)
def test_random_shapes_match_loop_reference(dims, batch, seed, phi):
    """Vectorised settle == an elementwise loop implementation on random circuits."""
    rng = np.random.default_rng(seed)
    params, x_i, x_o = make(rng, dims, batch)
    f = circuit.phi_fn(phi)
    L, T, beta, gv, be = len(dims) - 1, 4, 0.2, 0.02, 0.4
    z = [x_o.copy()] + [np.zeros((batch, J)) for J in dims[1:-1]] + [x_i.copy()]

    def errs():
        e = []
        for l in range(L):
            top = z[l + 1] if l + 1 == L else f(z[l + 1])
            own = z[0] if l == 0 else f(z[l])
            el = np.zeros((batch, dims[l]))
            for b in range(batch):
                for j in range(dims[l]):
                    pred = sum(top[b, k] * params[f"W{l + 1}"][k, j] for k in range(dims[l + 1]))
                    el[b, j] = (own[b, j] - pred) / (2 * be)
            e.append(el)
        return e

    e = errs()
    for _ in range(T):
        for l in range(1, L):
            d = -e[l] + e[l - 1] @ params[f"E{l}"]
            z[l] = z[l] + beta * (-gv * z[l] + d)
        e = errs()
    s = circuit.settle(params, x_i, x_o, T, beta, gv, be, phi)
    for l in range(L):
        assert rel_error(s["e"][l], e[l]) <= 1e-12
    for l in range(1, L):
        assert rel_error(s["phi_z"][l], f(z[l])) <= 1e-12


def test_float32_stays_float32(rng):
    params, x_i, x_o = make(rng, (3, 5, 2))
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    s = circuit.settle(p32, x_i.astype(np.float32), x_o.astype(np.float32), 5, 0.1, 0.01, 0.5)
    s64 = circuit.settle(params, x_i, x_o, 5, 0.1, 0.01, 0.5)
    assert all(e.dtype == np.float32 for e in s["e"])
    np.testing.assert_allclose(s["e"][0], s64["e"][0], rtol=1e-4, atol=1e-5)


def test_total_discrepancy_per_row_sums_to_total(rng):
    params, x_i, x_o = make(rng, (3, 5, 4, 2), batch=5)
    s = circuit.settle(params, x_i, x_o, 10, 0.1, 0.01, 0.5)
    per_row = circuit.discrepancy_per_row(s["e"])
    assert per_row.shape == (5,)
    assert abs(per_row.sum() - circuit.total_discrepancy(s["e"])) <= 1e-12 * per_row.sum()


@pytest.mark.parametrize(
    "change, name",
    [
        (lambda a: {**a, "x_i": a["x_i"][:, :1]}, "x_i"),
        (lambda a: {**a, "x_o": a["x_o"][:2]}, "x_o"),
        (lambda a: {**a, "x_o": a["x_o"] * np.nan}, "x_o"),
        (lambda a: {**a, "T": -1}, "T"),
        (lambda a: {**a, "beta": 0.0}, "beta"),
        (lambda a: {**a, "beta_e": -1.0}, "beta_e"),
        (lambda a: {**a, "gamma_v": -0.1}, "gamma_v"),
        (lambda a: {**a, "phi": "sigmoid"}, "phi"),
        (lambda a: {**a, "params": {k: v for k, v in a["params"].items() if k != "E1"}}, "params"),
        (lambda a: {**a, "params": {**a["params"], "E1": a["params"]["E1"].T}}, "E1"),
    ],
)
def test_bad_input_names_the_argument(rng, change, name):
    params, x_i, x_o = make(rng, (3, 5, 2))
    args = dict(params=params, x_i=x_i, x_o=x_o, T=3, beta=0.1, gamma_v=0.01, beta_e=0.5)
    args["phi"] = "relu"
    with pytest.raises(ValueError, match=name):
        circuit.settle(**change(args))


def test_init_params_shapes_and_checks(rng):
    p = circuit.init_params((3, 5, 4, 2), rng)
    assert {k: v.shape for k, v in p.items()} == {
        "W1": (5, 3),
        "W2": (4, 5),
        "W3": (2, 4),
        "E1": (3, 5),
        "E2": (5, 4),
    }
    with pytest.raises(ValueError, match="dims"):
        circuit.init_params((3, 2), rng)
    with pytest.raises(ValueError, match="rng"):
        circuit.init_params((3, 4, 2), 0)


@pytest.mark.parametrize("phi", circuit.PHIS)
def test_with_g_phi_the_projection_is_a_fixed_point(rng, phi):
    """g = phi on hidden predictions: with x^o = the projection's own output, settling from
    the projection has zero error everywhere and does not move (gamma_v = 0)."""
    params, x_i, _ = make(rng, (3, 7, 5, 2))
    z = circuit.project(params, x_i, phi)
    s = circuit.settle(params, x_i, z[0], 6, 0.1, 0.0, 0.5, phi, z_init=z[1:-1], g="phi")
    assert max(np.abs(e).max() for e in s["e"]) <= 1e-14
    for l in (1, 2):
        assert rel_error(s["z"][l], z[l]) <= 1e-14
    f = circuit.phi_fn(phi)
    assert rel_error(s["zbar"][1], f(z[1])) <= 1e-15  # hidden predictions pass through phi
    assert rel_error(s["zbar"][0], z[0]) <= 1e-15  # the bottom stays linear
    with pytest.raises(ValueError, match="g"):
        circuit.settle(params, x_i, z[0], 1, 0.1, 0.0, 0.5, phi, g="sigmoid")


def test_explicit_settling_diverges_past_the_stability_bound(rng):
    """Tied feedback: the bottom error contracts while beta sigma_max(W^1)^2 / (2 beta_e) < 2
    and blows up beyond (why the agent settles with a small beta)."""
    params = circuit.init_params((2, 64, 64, 5), rng)
    params["E1"], params["E2"] = params["W1"].T.copy(), params["W2"].T.copy()
    params["W1"], params["E1"] = 8 * params["W1"], 8 * params["E1"]
    x_i = rng.normal(size=(8, 5))
    z = circuit.project(params, x_i)
    x_o = z[0] + rng.normal(size=z[0].shape)
    sigma = np.linalg.svd(params["W1"], compute_uv=False)[0]
    e_start = np.abs(x_o - z[0]).max()
    for beta, stable in ((0.02, True), (0.1, False)):
        assert (beta * sigma**2 < 2) == stable
        s = circuit.settle(params, x_i, x_o, 30, beta, 0.001, 0.5, z_init=z[1:-1], g="phi")
        grew = np.abs(s["e"][0]).max() > 100 * e_start
        assert grew != stable
