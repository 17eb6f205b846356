"""Teacher forcing (3.9)-(3.12): BPTT against autograd and finite differences for every model
and forcing scheme; regularisers (3.13); adaptive GTF (3.14)-(3.15)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import gradcheck
from reference.dsr import forcing, models
from tests.dsr.test_models import KINDS, make, random_params

TOL = 1e-10
SCHEMES = [(1.0, 4), (0.3, 1), (0.6, 3), (1.0, 1), (0.0, 1), (1.0, 100)]


def window(model, rng, batch=3, T=9):
    x = rng.standard_normal((batch, T + 1, model.N))
    s = rng.standard_normal((batch, T, model.K)) if model.K else None
    return x[:, :-1], x[:, 1:], s


@pytest.mark.parametrize("alpha,tau", SCHEMES)
@pytest.mark.parametrize("kind", KINDS)
def test_bptt_matches_autograd(kind, alpha, tau, rng):
    model = make(kind, K=2 if kind.startswith("sh") else 0)
    params = random_params(model, rng)
    x, y, s = window(model, rng)
    loss, grads, Zhat = forcing.forced_rollout_loss(model, params, x, y, alpha, tau, s)
    assert Zhat.shape == (3, 9, model.M)
    ref = gradcheck.autograd_grads(
        lambda p: forcing.forced_loss(model, p, x, y, alpha, tau, s), params
    )
    assert abs(loss - forcing.forced_loss(model, params, x, y, alpha, tau, s)) <= 1e-14
    for k in grads:
        r = ref[k]
        if k == "W" and getattr(model, "off_diagonal", False):
            r = r - np.diag(np.diag(r))
        assert gradcheck.rel_error(grads[k], r) <= TOL, k


@pytest.mark.parametrize("alpha,tau", [(1.0, 3), (0.4, 1)])
@pytest.mark.parametrize("kind", ["mcplrnn", "alrnn", "clipped_shplrnn"])
def test_bptt_matches_finite_differences(kind, alpha, tau, rng):
    model = make(kind)
    params = random_params(model, rng)
    x, y, _ = window(model, rng, T=7)
    _, grads, _ = forcing.forced_rollout_loss(model, params, x, y, alpha, tau)
    num = gradcheck.numerical_grads(
        lambda p: forcing.forced_loss(model, p, x, y, alpha, tau), params
    )
    for k in grads:
        r = num[k]
        if k == "W" and getattr(model, "off_diagonal", False):
            r = r - np.diag(np.diag(r))
        assert gradcheck.rel_error(grads[k], r) <= 1e-6, k


@settings(max_examples=10, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    T=st.integers(1, 12),
    batch=st.integers(1, 4),
    tau=st.integers(1, 6),
    alpha=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_shapes(kind, T, batch, tau, alpha, seed):
    rng = np.random.default_rng(seed)
    model = make(kind, M=int(rng.integers(3, 7)), N=int(rng.integers(1, 4)))
    params = random_params(model, rng)
    x, y, _ = window(model, rng, batch=batch, T=T)
    loss, grads, _ = forcing.forced_rollout_loss(model, params, x, y, alpha, tau)
    ref = gradcheck.autograd_grads(
        lambda p: forcing.forced_loss(model, p, x, y, alpha, tau), params
    )
    for k in ("A", "B"):
        assert gradcheck.rel_error(grads[k], ref[k]) <= 1e-9, k


def test_forcing_semantics(rng):
    """alpha = 1 resets the observed units to the data; forced units pass no gradient."""
    model = make("alrnn")
    params = random_params(model, rng)
    x, y, _ = window(model, rng, T=8)
    _, Zin = forcing.forced_rollout(model, params, x, 1.0, 4)
    assert np.array_equal(Zin[4, :, :3], x[:, 4]) and not np.allclose(Zin[3, :, :3], x[:, 3])
    # with tau = 1 and alpha = 1 the loss at step t depends on the data up to t only through
    # x_t and the unobserved units; perturbing the observed part of Zhat_2 changes nothing
    Zhat, _ = forcing.forced_rollout(model, params, x, 1.0, 1)

    def continue_from(z2):  # steps 3.. of the same rollout, started from a given Zhat_2
        z, out = z2, []
        for t in range(3, x.shape[1]):
            z = model.step(params, forcing.force(z, x[:, t], 1.0), None)
            out.append(z)
        return np.stack(out)

    assert np.array_equal(continue_from(Zhat[2]), Zhat[3:])  # the replay is the rollout
    observed, hidden = Zhat[2].copy(), Zhat[2].copy()
    observed[:, :3] += rng.standard_normal(observed[:, :3].shape)
    hidden[:, 3:] += rng.standard_normal(hidden[:, 3:].shape)
    assert np.array_equal(continue_from(observed), Zhat[3:])
    assert not np.allclose(continue_from(hidden), Zhat[3:])  # the unobserved units do matter
    free, _ = forcing.forced_rollout(model, params, x, 0.0, 1)
    unforced, _ = forcing.forced_rollout(model, params, x, 1.0, 1000)
    assert np.allclose(free, unforced)
    assert not np.allclose(Zhat, unforced)


REGULARISERS = [
    (forcing.mar_penalty, {"fraction": 0.5}),
    (forcing.ar_epsilon_penalty, {"eps": 0.05}),
    (forcing.line_attractor_l2, {}),
]


@pytest.mark.parametrize("fn,kw", REGULARISERS, ids=lambda v: getattr(v, "__name__", ""))
def test_regulariser_gradients(fn, kw, rng):
    model = make("alrnn")
    params = random_params(model, rng)
    params["A"][-2:] = [1.3, 0.99]
    value, grads = fn(model, params, 0.7, **kw)
    assert value > 0

    def f(p):
        return fn(model, p, 0.7, **kw)[0]

    num = gradcheck.numerical_grads(f, params, keys=list(grads))
    for k in grads:
        assert gradcheck.rel_error(grads[k], num[k]) <= 1e-7, k
    if fn is not forcing.ar_epsilon_penalty:  # its norm is taken with float()
        ref = gradcheck.autograd_grads(f, params, keys=list(grads))
        for k in grads:
            assert gradcheck.rel_error(grads[k], ref[k]) <= TOL, k


def test_regulariser_edge_cases(rng):
    model = make("alrnn")
    params = random_params(model, rng)
    value, grads = forcing.mar_penalty(model, params, 1.0, fraction=0.5)
    assert np.all(grads["A"][:3] == 0) and np.all(grads["W"][:, :3] == 0)
    params["A"][:] = 0.1
    params["W"][:] = 0.0
    value, grads = forcing.ar_epsilon_penalty(model, params, 1.0)
    assert value == 0 and np.all(grads["A"] == 0)
    with pytest.raises(ValueError, match="model"):
        forcing.mar_penalty(make("shplrnn"), random_params(make("shplrnn"), rng), 1.0)


def test_adaptive_alpha(rng):
    model = make("clipped_shplrnn", M=3, N=3)
    params = random_params(model, rng)
    x, _, _ = window(model, rng, batch=4, T=20)
    Z = forcing.inferred_states(model, params, x)
    assert np.array_equal(Z[:, :, :3], np.swapaxes(x, 0, 1))  # M = N: states are the data
    assert np.array_equal(Z, forcing.forced_rollout(model, params, x, 1.0, 1)[1])
    wide = make("alrnn")
    wide_params = random_params(wide, rng)
    Zw = forcing.inferred_states(wide, wide_params, x)
    assert np.array_equal(Zw, forcing.forced_rollout(wide, wide_params, x, 1.0, 1)[1])
    norms = forcing.jacobian_norms(model, params, Z)
    for method in forcing.ALPHA_METHODS:
        a = forcing.estimate_alpha(model, params, x, method)
        assert 0.0 <= a < 1.0
    G = np.exp(np.log(norms).mean(axis=0)).max()
    assert np.isclose(forcing.estimate_alpha(model, params, x), max(0, 1 - 1 / G))
    bound = forcing.estimate_alpha(model, params, x, "jacobian_upper_bound")
    assert bound >= forcing.estimate_alpha(model, params, x, "batch_maximum")
    assert forcing.anneal_alpha(0.2, 0.5) == 0.5
    assert np.isclose(forcing.anneal_alpha(0.5, 0.2), 0.999 * 0.5 + 0.001 * 0.2)
    with pytest.raises(ValueError, match="method"):
        forcing.estimate_alpha(model, params, x, "median")


def test_gtf_bounds_gradient_growth(rng):
    """With alpha from the norm estimate the gradient stays bounded as T grows."""
    model = models.PLRNN(4, 4, mean_centering=False)
    params = model.init_params(rng)
    params["A"] = np.full(4, 1.4)
    growth = {}
    for alpha in (0.0, 0.5):
        norms = []
        for T in (5, 40):
            x = rng.standard_normal((2, T + 1, 4))
            _, g, _ = forcing.forced_rollout_loss(model, params, x[:, :-1], x[:, 1:], alpha, 1)
            norms.append(np.linalg.norm(g["A"]))
        growth[alpha] = norms[1] / norms[0]
    assert growth[0.0] > 1e6 and growth[0.5] < 100


def test_validation(rng):
    model = make("alrnn")
    params = random_params(model, rng)
    x, y, _ = window(model, rng)
    for bad, match in (((x[..., :2], y, 1.0, 2), "x"), ((x, y[:, :3], 1.0, 2), "y"),
                       ((x, y, 1.5, 2), "alpha"), ((x, y, 1.0, 0), "tau"),
                       ((x, y, 1.0, 2.0), "tau")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            forcing.forced_rollout_loss(model, params, *bad)
    sh = make("shplrnn", K=2)
    with pytest.raises(ValueError, match="s: expected"):
        forcing.forced_rollout_loss(sh, random_params(sh, rng), x, y, 1.0, 2)
