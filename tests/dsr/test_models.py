"""Latent step models: hand-derived vector-Jacobian products and Jacobians (3.1)-(3.8)
against autograd, central finite differences and random shapes; initialisations; checks."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import backend, gradcheck
from reference.dsr import models
from reference.dsr.dendritic import DendPLRNN

TOL = 1e-10


def make(kind, M=6, N=3, K=0, learnable_C=True):
    """Every model family with distinct sizes (to catch transposes)."""
    return {
        "plrnn": lambda: models.PLRNN(M, N, mean_centering=False, input_dim=K,
                                      learnable_C=learnable_C),
        "mcplrnn": lambda: models.PLRNN(M, N, input_dim=K, learnable_C=learnable_C),
        "alrnn": lambda: models.ALRNN(M, N, 2, input_dim=K, learnable_C=learnable_C),
        "alrnn_offdiag": lambda: models.ALRNN(M, N, 3, off_diagonal_W=True, input_dim=K),
        "shplrnn": lambda: models.ShallowPLRNN(M, N, 7, input_dim=K, learnable_C=learnable_C),
        "clipped_shplrnn": lambda: models.ShallowPLRNN(M, N, 5, clipped=True, input_dim=K,
                                                       learnable_C=learnable_C),
        "dendplrnn": lambda: DendPLRNN(M, N, 3, input_dim=K),
        "clipped_dendplrnn": lambda: DendPLRNN(M, N, 4, clipped=True, input_dim=K),
    }[kind]()  # fmt: skip


KINDS = ["plrnn", "mcplrnn", "alrnn", "alrnn_offdiag", "shplrnn", "clipped_shplrnn",
         "dendplrnn", "clipped_dendplrnn"]  # fmt: skip


def random_params(model, rng):
    """Initial parameters plus noise, so that no entry sits at a special value."""
    params = model.init_params(rng)
    out = {}
    for k, v in params.items():
        noisy = v + 0.3 * rng.standard_normal(v.shape)
        if k == "W" and getattr(model, "off_diagonal", False):
            noisy = noisy - np.diag(np.diag(noisy))
        out[k] = noisy
    return out


def step_args(model, rng, batch=4):
    z = rng.standard_normal((batch, model.M))
    s = rng.standard_normal((batch, model.K)) if model.K else None
    return z, s


def _objective(model, g, s):
    def f(p, z):
        return anp.sum(model.step(p, z, s) * g)

    return f


@pytest.mark.parametrize("K", [0, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_vjp_matches_autograd(kind, K, rng):
    model = make(kind, K=K)
    params = random_params(model, rng)
    step_params = {k: v for k, v in params.items() if k != "B"}
    z, s = step_args(model, rng)
    g = rng.standard_normal(z.shape)
    zbar, grads = model.vjp(params, z, g, s)
    f = _objective(model, g, s)
    with backend.using(anp):
        ref_p, ref_z = autograd.grad(f, argnum=(0, 1))(step_params, z)
    assert gradcheck.rel_error(zbar, ref_z) <= TOL
    assert set(grads) == set(step_params)
    for k in grads:
        ref = ref_p[k]
        if k == "W" and getattr(model, "off_diagonal", False):
            ref = ref - np.diag(np.diag(ref))  # W is constrained to be off-diagonal
        assert gradcheck.rel_error(grads[k], ref) <= TOL, k


@pytest.mark.parametrize("kind", KINDS)
def test_vjp_matches_finite_differences(kind, rng):
    model = make(kind, K=2)
    params = random_params(model, rng)
    z, s = step_args(model, rng, batch=3)
    g = rng.standard_normal(z.shape)
    _, grads = model.vjp(params, z, g, s)
    step_params = {k: v for k, v in params.items() if k != "B"}
    num = gradcheck.numerical_grads(lambda p: np.sum(model.step(p, z, s) * g), step_params)
    for k in grads:
        ref = num[k]
        if k == "W" and getattr(model, "off_diagonal", False):
            ref = ref - np.diag(np.diag(ref))
        assert gradcheck.rel_error(grads[k], ref) <= 1e-7, k


@pytest.mark.parametrize("kind", KINDS)
def test_jacobian_matches_autograd_and_vjp(kind, rng):
    model = make(kind)
    params = random_params(model, rng)
    z, _ = step_args(model, rng)
    J = model.jacobian(params, z)
    assert J.shape == (4, model.M, model.M)
    with backend.using(anp):
        for b in range(z.shape[0]):
            ref = autograd.jacobian(lambda v: model.step(params, v[None])[0])(z[b])
            assert gradcheck.rel_error(J[b], ref) <= TOL
    g = rng.standard_normal(z.shape)
    zbar, _ = model.vjp(params, z, g, need_params=False)
    assert gradcheck.rel_error(zbar, np.einsum("bi,bij->bj", g, J)) <= TOL


@settings(max_examples=15, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    M=st.integers(2, 7),
    batch=st.integers(1, 5),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_shapes_vjp_equals_jacobian_transpose(kind, M, batch, seed):
    rng = np.random.default_rng(seed)
    N = int(rng.integers(1, M + 1))
    model = make(kind, M=M, N=N) if "alrnn" not in kind else models.ALRNN(M, N, int(
        rng.integers(0, M + 1)), off_diagonal_W=kind.endswith("offdiag"))  # fmt: skip
    params = random_params(model, rng)
    z = rng.standard_normal((batch, M))
    g = rng.standard_normal((batch, M))
    zbar, grads = model.vjp(params, z, g)
    J = model.jacobian(params, z)
    assert gradcheck.rel_error(zbar, np.einsum("bi,bij->bj", g, J)) <= TOL
    h = 1e-6
    i = int(rng.integers(M))
    e = np.zeros(M)
    e[i] = h
    fd = (model.step(params, z + e) - model.step(params, z - e)) / (2 * h)
    assert np.allclose(fd, J[:, :, i], atol=1e-6)  # z is generic: no kink within h
    assert all(np.all(np.isfinite(v)) for v in grads.values())


@pytest.mark.parametrize("kind", KINDS)
def test_initial_state_and_its_gradient(kind, rng):
    model = make(kind)
    params = random_params(model, rng)
    x0 = rng.standard_normal((5, model.N))
    z0 = model.initial_state(params, x0)
    assert np.array_equal(z0[:, : model.N], x0)
    assert np.allclose(z0[:, model.N :], (x0 @ params["B"])[:, model.N :])
    zbar = rng.standard_normal(z0.shape)
    gB = model.initial_state_vjp(x0, zbar)
    num = gradcheck.numerical_grads(
        lambda p: np.sum(model.initial_state(p, x0) * zbar), {"B": params["B"]}
    )["B"]
    assert gradcheck.rel_error(gB, num) <= 1e-8
    assert np.all(gB[:, : model.N] == 0)
    assert np.array_equal(model.observe(z0), x0)


def test_parameter_counts_of_the_shipped_configurations():
    assert models.ShallowPLRNN(3, 3, 100, clipped=True).num_params() == 706
    assert models.ALRNN(20, 3, 2).num_params() == 491
    assert models.PLRNN(5, 2).num_params() == 5 + 20 + 5 + 2 * 3


def test_initialisations(rng):
    K = models.normalised_positive_definite(8, rng)
    eig = np.linalg.eigvalsh(K)
    assert np.allclose(K, K.T) and eig.min() > 0 and abs(eig.max() - 1) < 1e-12
    p = models.PLRNN(8, 3).init_params(np.random.default_rng(1))
    assert np.all(np.diag(p["W"]) == 0) and np.all(p["h"] == 0)
    assert np.array_equal(p["B"][:, :3], np.eye(3))
    a = models.ALRNN(8, 3, 2).init_params(np.random.default_rng(1))
    assert 0 < a["A"].min() and a["A"].max() <= 1 and np.abs(a["W"]).max() < 0.1
    s = models.ShallowPLRNN(3, 3, 100, clipped=True).init_params(rng)
    assert np.abs(s["W1"]).max() <= 0.1 and np.abs(s["W2"]).max() <= 1 / np.sqrt(3)
    assert np.abs(s["h2"]).max() <= 0.1 and np.any(s["h2"] != 0)
    assert np.all(models.ShallowPLRNN(3, 3, 10).init_params(rng)["h2"] == 0)
    c = models.ShallowPLRNN(4, 2, 6, input_dim=2).init_params(rng)
    assert c["C"].shape == (2, 4)


def test_clipped_shplrnn_orbits_stay_bounded(rng):
    model = models.ShallowPLRNN(4, 2, 20, clipped=True)
    params = model.init_params(rng)
    params["A"] = 0.9 * params["A"] / np.abs(params["A"]).max()
    params["W1"] *= 50
    Z = model.generate(params, 10 * rng.standard_normal((3, 4)), 500)
    bound = (np.abs(params["W1"]).T @ np.abs(params["h2"]) + 0) / (1 - 0.9)
    assert np.all(np.abs(Z[-1]) <= bound + 1e-9)


def test_norm_bound_bounds_the_jacobian(rng):
    for kind in KINDS:
        model = make(kind)
        params = random_params(model, rng)
        J = model.jacobian(params, 3 * rng.standard_normal((50, model.M)))
        assert np.linalg.norm(J, 2, axis=(1, 2)).max() <= model.norm_bound(params) + 1e-12


def test_from_config():
    assert isinstance(models.from_config("clipped_shPLRNN", 3, 3, hidden_dim=4),
                      models.ShallowPLRNN)  # fmt: skip
    assert models.from_config("ALRNN", 5, 3, num_relus=2).P == 2
    with pytest.raises(ValueError, match="name"):
        models.from_config("LSTM", 3, 3)


def test_validation(rng):
    with pytest.raises(ValueError, match="latent_dim"):
        models.PLRNN(0, 1)
    with pytest.raises(ValueError, match="obs_dim"):
        models.PLRNN(2, 3)
    with pytest.raises(ValueError, match="num_relus"):
        models.ALRNN(3, 1, 4)
    with pytest.raises(ValueError, match="input_dim"):
        models.ShallowPLRNN(2, 1, 3, input_dim=3, learnable_C=False)
    with pytest.raises(ValueError, match="rng"):
        models.PLRNN(3, 1).init_params(0)
    model = models.ShallowPLRNN(4, 2, 3, input_dim=2)
    params = model.init_params(rng)
    with pytest.raises(ValueError, match="z: expected shape"):
        model.step(params, np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="s: expected shape"):
        model.step(params, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="params: missing"):
        model.step({"A": params["A"]}, np.zeros((2, 4)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="x0"):
        model.initial_state(params, np.zeros((2, 3)))
