"""Chapter 1 model: torch golden vectors, three gradient checks, invariants, validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import gradcheck
from reference.residual_dynamics import model as rd

KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


@pytest.fixture(scope="module")
def golden(golden_dir):
    d = np.load(golden_dir / "residual_dynamics_torch.npz")
    params = {k: d[f"param_{k}"] for k in KEYS}
    args = (params, d["alpha"], d["N0"], d["g0"], d["ys"], d["rs"])
    return d, args


def random_problem(rng, T=4, B=3, m=5, H=7, dtype="float64"):
    """Small sizes chosen so that T, B, m, H all differ (catches transposes)."""
    params = rd.init_params(m, H, rng, dtype)
    N0, g0, ys, rs = rd.make_inputs(T, B, m, rng, dtype)
    g0 = g0 + 0.1 * rng.normal(size=g0.shape).astype(dtype)  # exercise the g0 path too
    alpha = rng.uniform(0.05, 0.95, size=m).astype(dtype)
    return params, alpha, N0, g0, ys, rs


# --------------------------------------------------------------------------- golden


def test_forward_matches_torch(golden):
    d, args = golden
    Ns, gs, logits = rd.forward(*args)
    for name, got in (("Ns", Ns), ("gs", gs), ("logits", logits)):
        assert gradcheck.rel_error(got, d[name]) <= 1e-10, name


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_loss_and_grads_match_torch(golden, kernel):
    d, args = golden
    loss, grads = rd.loss_and_grads(*args, kernel=kernel)
    assert abs(loss - float(d["loss"])) <= 1e-10 * abs(float(d["loss"]))
    for k in KEYS:
        assert gradcheck.rel_error(grads[k], d[f"grad_{k}"]) <= 1e-10, k


# --------------------------------------------------------------------------- gradients


def _loss_of(params_and_alpha, N0, g0, ys, rs):
    p = {k: params_and_alpha[k] for k in KEYS}
    return rd.loss(p, params_and_alpha["alpha"], N0, g0, ys, rs)


def test_gradients_vs_autograd_and_finite_differences(rng):
    params, alpha, N0, g0, ys, rs = random_problem(rng)
    loss, grads = rd.loss_and_grads(params, alpha, N0, g0, ys, rs, learn_alpha=True)
    theta = {**params, "alpha": alpha}
    f = lambda th: _loss_of(th, N0, g0, ys, rs)
    auto = gradcheck.autograd_grads(f, theta)
    assert gradcheck.max_rel_error(grads, auto)["max"] < 1e-13
    num = gradcheck.numerical_grads(f, theta, h=1e-6)
    assert gradcheck.max_rel_error(grads, num)["max"] < 1e-6
    assert loss == pytest.approx(float(f(theta)), rel=1e-14)


@settings(max_examples=12, deadline=None)
@given(
    T=st.integers(1, 6),
    B=st.integers(1, 4),
    m=st.integers(2, 5),
    H=st.integers(1, 9),
    seed=st.integers(0, 2**31 - 1),
)
def test_gradients_random_shapes(T, B, m, H, seed):
    r = np.random.default_rng(seed)
    params, alpha, N0, g0, ys, rs = random_problem(r, T, B, m, H)
    _, grads = rd.loss_and_grads(params, alpha, N0, g0, ys, rs, learn_alpha=True)
    auto = gradcheck.autograd_grads(
        lambda th: _loss_of(th, N0, g0, ys, rs), {**params, "alpha": alpha}
    )
    assert gradcheck.max_rel_error(grads, auto)["max"] < 1e-12


def test_state_adjoints_are_dL_dN(rng):
    """Nbars from backprop_through_time equal autograd's dL/dN_t of the unrolled graph."""
    params, alpha, N0, g0, ys, rs = random_problem(rng, T=3)
    _, _, _, Nbars, gbars = rd.backprop_through_time(params, alpha, N0, g0, ys, rs)
    # dL/dN_0 is the carry out of t = 1; check the total adjoint of N_T directly instead:
    # at t = T only the loss terms and g_T use N_T.
    c = 1.0 / (ys.shape[0] * ys.shape[1])
    Nbar_direct, gbar_direct = rd.loss_adjoints(
        *_last(rd.forward(params, alpha, N0, g0, ys, rs)), c
    )
    np.testing.assert_allclose(gbars[-1], gbar_direct, rtol=1e-14)
    np.testing.assert_allclose(Nbars[-1], Nbar_direct + ys[-1] * gbar_direct, rtol=1e-14)


def _last(out):
    Ns, gs, _ = out
    return Ns[-1], gs[-1]


def test_log_residual_path_is_differentiated(golden):
    """Cutting the path through log(N_{t-1} + eps) (a stop-gradient) changes the gradient."""
    d, args = golden
    _, grads = rd.loss_and_grads(*args)
    original = rd.step_backward

    def stop_gradient(params, alpha, N_prev, g_prev, y_t, N_t, cache, Nbar_t, gbar_t):
        out = original(params, alpha, N_prev, g_prev, y_t, N_t, cache, Nbar_t, gbar_t)
        zbar = N_t * (Nbar_t - np.sum(Nbar_t * N_t, axis=-1, keepdims=True))
        return out[0], out[1] - zbar / (N_prev + rd.EPS), out[2], out[3]

    rd.step_backward = stop_gradient
    try:
        _, cut = rd.loss_and_grads(*args)
    finally:
        rd.step_backward = original
    assert gradcheck.max_rel_error(cut, grads)["max"] > 1e-3
    assert gradcheck.rel_error(cut["W1"], d["grad_W1"]) > 1e-3


# --------------------------------------------------------------------------- invariants


def test_simplex_and_g_recursion_invariants(rng):
    params, alpha, N0, g0, ys, rs = random_problem(rng, T=30, B=4, m=3, H=8)
    Ns, gs, logits = rd.forward(params, alpha, N0, g0, ys, rs)
    assert Ns.shape == gs.shape == logits.shape == (30, 4, 3)
    np.testing.assert_allclose(Ns.sum(-1), 1.0, atol=1e-12)
    assert np.all(Ns > 0)
    N_prev = np.concatenate([N0[None], Ns[:-1]])
    g_prev = np.concatenate([g0[None], gs[:-1]])
    np.testing.assert_allclose(gs, alpha * g_prev + (Ns - alpha * N_prev) * ys, atol=1e-15)
    np.testing.assert_allclose(
        Ns, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), rtol=1e-12
    )


def test_zero_residual_is_identity_up_to_eps_drift(rng):
    """With d_t = 0 the step maps N to (N + eps)/(1 + m eps): identity to ~1e-9, not exactly."""
    m = 4
    params = {k: np.zeros_like(v) for k, v in rd.init_params(m, 5, rng).items()}
    N0, g0, ys, rs = rd.make_inputs(3, 2, m, rng)
    Ns, _, _ = rd.forward(params, rd.default_alpha(m), N0, g0, ys, rs)
    np.testing.assert_allclose(Ns[0], (N0 + rd.EPS) / (1 + m * rd.EPS), rtol=1e-14)
    assert np.max(np.abs(Ns[-1] - N0)) < 1e-8


def test_float32_inputs_give_float32_outputs(rng):
    params, alpha, N0, g0, ys, rs = random_problem(rng, dtype="float32")
    Ns, gs, _ = rd.forward(params, alpha, N0, g0, ys, rs)
    assert Ns.dtype == np.float32 and gs.dtype == np.float32
    loss, grads = rd.loss_and_grads(params, alpha, N0, g0, ys, rs)
    assert all(g.dtype == np.float32 for g in grads.values())


def test_init_params_shapes(rng):
    p = rd.init_params(3, 64, rng)
    assert {k: v.shape for k, v in p.items()} == {
        "W1": (12, 64),
        "b1": (64,),
        "W2": (64, 64),
        "b2": (64,),
        "W3": (64, 3),
        "b3": (3,),
    }
    np.testing.assert_allclose(rd.default_alpha(3), [0.1, 0.5, 0.9])


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda a: a.update(ys=a["ys"][0]), r"ys: expected shape \(T, B, m\)"),
        (lambda a: a.update(rs=a["rs"][:, :1]), "rs: expected shape"),
        (lambda a: a.update(N0=a["N0"][:, :2]), "N0: expected shape"),
        (lambda a: a.update(alpha=np.ones(7)), "alpha: expected shape"),
        (lambda a: a.update(N0=a["N0"] * 1.1), "N0: expected rows that sum to 1"),
        (
            lambda a: a.update(N0=a["N0"] * np.array([1.5, -0.5, 1.0, 1.0, 1.0])),
            "N0: expected a point on the simplex",
        ),
        (lambda a: a["ys"].__setitem__((0, 0, 0), np.nan), "ys: expected finite"),
        (lambda a: a["g0"].__setitem__((0, 0), np.inf), "g0: expected finite"),
        (lambda a: a["params"].pop("W2"), "params: expected a dict with keys"),
        (lambda a: a["params"].update(W3=np.zeros((7, 4))), r"params\['W3'\]: expected shape"),
        (lambda a: a["params"]["b1"].__setitem__(0, np.nan), r"params\['b1'\]: expected finite"),
    ],
)
def test_bad_inputs_raise_clear_errors(rng, mutate, match):
    params, alpha, N0, g0, ys, rs = random_problem(rng)
    args = {"params": dict(params), "alpha": alpha, "N0": N0, "g0": g0, "ys": ys, "rs": rs}
    args["params"] = {k: v.copy() for k, v in params.items()}
    mutate(args)
    for fn in (rd.forward, rd.loss_and_grads):
        with pytest.raises(ValueError, match=match):
            fn(args["params"], args["alpha"], args["N0"], args["g0"], args["ys"], args["rs"])


def test_unknown_kernel(rng):
    with pytest.raises(ValueError, match="kernel"):
        rd.loss_and_grads(*random_problem(rng), kernel="cuda")


def test_bad_init_arguments(rng):
    with pytest.raises(ValueError, match="m:"):
        rd.init_params(1, 4, rng)
    with pytest.raises(ValueError, match="hidden"):
        rd.init_params(3, 0, rng)
