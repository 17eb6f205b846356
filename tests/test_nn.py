"""reference.nn: every backward three ways (autograd, finite differences, random shapes),
and the optimisers against hand-computed PyTorch semantics."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import gradcheck, nn
from reference.backend import xp

ELEMENTWISE = [
    ("relu", nn.relu, nn.relu_backward),
    ("tanh", nn.tanh, nn.tanh_backward),
    ("softmax", nn.softmax, nn.softmax_backward),
    ("log_softmax", nn.log_softmax, nn.log_softmax_backward),
]


def _vjp_check(fwd, bwd, x, dout):
    """Hand VJP vs autograd and vs central differences of <dout, fwd(x)>."""
    out = fwd(x)
    hand = bwd(out, dout)
    f = lambda p: xp.sum(dout * fwd(p["x"]))
    auto = gradcheck.autograd_grads(f, {"x": x})["x"]
    num = gradcheck.numerical_grads(f, {"x": x})["x"]
    return gradcheck.rel_error(hand, auto), gradcheck.rel_error(hand, num)


@pytest.mark.parametrize("name, fwd, bwd", ELEMENTWISE)
def test_activation_backward(name, fwd, bwd, rng):
    x = rng.normal(size=(4, 5)) + 0.1  # away from relu's kink
    e_auto, e_num = _vjp_check(fwd, bwd, x, rng.normal(size=(4, 5)))
    assert e_auto < 1e-14
    assert e_num < 1e-7


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 6),
    width=st.integers(2, 7),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([0.1, 1.0, 10.0]),
)
def test_softmax_backward_random_shapes(batch, width, seed, scale):
    r = np.random.default_rng(seed)
    x = scale * r.normal(size=(batch, width))
    dout = r.normal(size=(batch, width))
    hand = nn.softmax_backward(nn.softmax(x), dout)
    auto = gradcheck.autograd_grads(lambda p: xp.sum(dout * nn.softmax(p["x"])), {"x": x})["x"]
    # absolute scale: near one-hot rows have near-zero VJPs, so a relative error would
    # measure round-off against ~0
    assert np.max(np.abs(hand - auto)) <= 1e-14 * np.max(np.abs(dout))
    if scale <= 1.0:
        _, e_num = _vjp_check(nn.softmax, nn.softmax_backward, x, dout)
        assert e_num < 1e-6


def test_softmax_is_stable_for_large_logits():
    z = np.array([[1000.0, 999.0, -1000.0]])
    s = nn.softmax(z)
    assert np.all(np.isfinite(s)) and abs(s.sum() - 1) < 1e-15
    ls = nn.log_softmax(z)
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(np.exp(ls), s, rtol=1e-15)


def test_linear_backward(rng):
    x, W, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    dout = rng.normal(size=(3, 2))
    dx, dW, db = nn.linear_backward(x, W, dout)
    params = {"x": x, "W": W, "b": b}
    f = lambda p: xp.sum(dout * nn.linear(p["x"], p["W"], p["b"]))
    for ref in (gradcheck.autograd_grads(f, params), gradcheck.numerical_grads(f, params)):
        assert gradcheck.max_rel_error({"x": dx, "W": dW, "b": db}, ref)["max"] < 1e-8


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    batch=st.integers(1, 5),
    activation=st.sampled_from(["relu", "tanh"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_mlp_backward_random_shapes(sizes, batch, activation, seed):
    r = np.random.default_rng(seed)
    params = nn.init_mlp(sizes, r)
    x = r.normal(size=(batch, sizes[0]))
    dout = r.normal(size=(batch, sizes[-1]))
    out, cache = nn.mlp_forward(params, x, activation)
    grads, dx = nn.mlp_backward(params, cache, dout)
    f = lambda p: xp.sum(dout * nn.mlp_forward({k: p[k] for k in params}, p["x"], activation)[0])
    auto = gradcheck.autograd_grads(f, {**params, "x": x})
    assert gradcheck.max_rel_error({**grads, "x": dx}, auto)["max"] < 1e-12
    num = gradcheck.numerical_grads(f, {**params, "x": x})
    # finite differences are unreliable exactly at a relu kink; those are measure-zero here
    assert gradcheck.max_rel_error({**grads, "x": dx}, num)["max"] < 1e-5


def test_init_linear_matches_torch_bounds(rng):
    W, b = nn.init_linear(16, 300, rng)
    bound = 1 / math.sqrt(16)
    assert W.shape == (16, 300) and b.shape == (300,)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.95 * bound
    assert np.abs(b).max() <= bound
    with pytest.raises(ValueError, match="rng"):
        nn.init_linear(2, 2, rng=0)


# --------------------------------------------------------------------------- clipping


def test_clip_scales_when_norm_above_max(rng):
    grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    total = math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
    clipped, reported = nn.clip_grad_norm(grads, max_norm=0.5)
    assert reported == pytest.approx(total, rel=1e-15)
    coef = 0.5 / (total + 1e-6)
    for k in grads:
        np.testing.assert_allclose(clipped[k], grads[k] * coef, rtol=1e-15)
    assert float(gradcheck.rel_error(nn.global_norm(clipped), 0.5)) < 1e-6


def test_clip_leaves_small_gradients_untouched(rng):
    grads = {"a": 1e-3 * rng.normal(size=(3, 4))}
    clipped, _ = nn.clip_grad_norm(grads, max_norm=1.0)
    assert clipped["a"] is grads["a"]  # not even multiplied by 1.0


def test_clip_is_global_not_per_tensor():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([0.0, 4.0])}  # norms 3 and 4, total 5
    clipped, total = nn.clip_grad_norm(grads, max_norm=1.0)
    assert total == 5.0
    np.testing.assert_allclose(clipped["a"], [3 / (5 + 1e-6), 0.0])
    np.testing.assert_allclose(clipped["b"], [0.0, 4 / (5 + 1e-6)])


def test_clip_rejects_bad_max_norm():
    with pytest.raises(ValueError, match="max_norm"):
        nn.clip_grad_norm({"a": np.ones(2)}, 0.0)


# --------------------------------------------------------------------------- Adam


def _adam_by_hand(theta, gs, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m = v = 0.0
    out = []
    for k, g in enumerate(gs, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1**k)) / (math.sqrt(v) / math.sqrt(1 - b2**k) + eps)
        out.append(theta)
    return out


def test_adam_first_three_steps_match_hand_computation():
    opt = nn.Adam(lr=1e-3)
    params = {"w": np.array([0.5])}
    state = opt.init(params)
    gs = [0.3, -0.2, 0.7]
    expected = _adam_by_hand(0.5, gs)
    for k, g in enumerate(gs):
        params, state = opt.step(params, {"w": np.array([g])}, state)
        assert state["step"] == k + 1
        assert params["w"][0] == pytest.approx(expected[k], rel=1e-14, abs=0)
    # the first update has magnitude lr exactly (bias correction cancels the moments)
    assert abs(expected[0] - 0.5) == pytest.approx(1e-3, rel=1e-6)


def test_adam_eps_is_added_after_bias_correction():
    """With tiny gradients the placement of eps decides the step size."""
    opt = nn.Adam(lr=1.0)
    g = 1e-9
    params, state = opt.step(
        {"w": np.array([0.0])}, {"w": np.array([g])}, opt.init({"w": np.zeros(1)})
    )
    torch_way = -1.0 * g / (g + 1e-8)  # m_hat / (sqrt(v_hat) + eps)
    folded = -1.0 * math.sqrt(1 - 0.999) / (1 - 0.9) * (0.1 * g) / (math.sqrt(0.001) * g + 1e-8)
    assert params["w"][0] == pytest.approx(torch_way, rel=1e-12)
    assert abs(params["w"][0] - folded) > 1e-3


def test_adam_does_not_mutate_inputs(rng):
    opt = nn.Adam()
    params = {"w": rng.normal(size=3)}
    before = params["w"].copy()
    state = opt.init(params)
    opt.step(params, {"w": np.ones(3)}, state)
    assert np.array_equal(params["w"], before) and state["step"] == 0


def test_optimiser_validation():
    with pytest.raises(ValueError, match="betas"):
        nn.Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="lr"):
        nn.RAdam(lr=-1)
    opt = nn.Adam()
    with pytest.raises(ValueError, match="grads"):
        opt.step({"w": np.zeros(1)}, {"v": np.zeros(1)}, opt.init({"w": np.zeros(1)}))


def test_radam_uses_sgd_with_momentum_until_rho_exceeds_five():
    opt = nn.RAdam(lr=1e-2)
    params = {"w": np.array([1.0])}
    state = opt.init(params)
    b2 = 0.999
    rho_inf = 2 / (1 - b2) - 1
    for k in range(1, 8):
        g = 0.5
        new, state = opt.step(params, {"w": np.array([g])}, state)
        rho_k = rho_inf - 2 * k * b2**k / (1 - b2**k)
        m_hat = 0.5  # constant gradient: the bias-corrected mean is the gradient itself
        if rho_k <= 5:
            assert new["w"][0] == pytest.approx(params["w"][0] - 1e-2 * m_hat, rel=1e-14)
        else:
            assert k >= 6
            r = math.sqrt(
                (rho_k - 4) * (rho_k - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_k)
            )
            v = (1 - b2**k) * g * g
            step = 1e-2 * m_hat * r * math.sqrt(1 - b2**k) / (math.sqrt(v) + 1e-8)
            assert new["w"][0] == pytest.approx(params["w"][0] - step, rel=1e-12)
        params = new
