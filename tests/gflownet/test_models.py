"""Policy and dynamics networks: prefix codes, heads, hand-derived backward against autograd
and central differences on random shapes, validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import gradcheck
from reference.gflownet import models


def test_prefix_codes(rng):
    L, V, B = 5, 3, 4
    seq = rng.integers(0, V, (B, L))
    codes = models.encode_prefixes(seq, L, V)
    assert codes.shape == (L + 1, B, L * V)
    assert np.all(codes[0] == 0)
    for k in range(L + 1):
        slots = codes[k].reshape(B, L, V)
        assert np.all(slots.sum(axis=-1) == (np.arange(L) < k))  # one-hot in slots < k only
        np.testing.assert_array_equal(slots[:, :k].argmax(-1), seq[:, :k])
    dyn = models.encode_dynamics_inputs(codes[:-1], seq.T, V)
    assert dyn.shape == (L, B, (L + 1) * V)
    np.testing.assert_array_equal(dyn[..., L * V :].argmax(-1), seq.T)
    with pytest.raises(ValueError, match="sequences"):
        models.encode_prefixes(seq + V, L, V)
    with pytest.raises(ValueError, match="intended"):
        models.encode_dynamics_inputs(codes[:-1], seq, V)


def _policy_objective(params, codes, c):
    fwd, bwd, logF, _ = models.policy_forward(params, codes)
    return (c["fwd"] * fwd).sum() + (c["bwd"] * bwd).sum() + (c["F"] * logF).sum()


@settings(max_examples=8, deadline=None)
@given(L=st.integers(1, 4), V=st.integers(2, 4), H=st.integers(1, 6), depth=st.integers(1, 3),
       B=st.integers(1, 3), seed=st.integers(0, 2**31))  # fmt: skip
def test_policy_backward(L, V, H, depth, B, seed):
    rng = np.random.default_rng(seed)
    params = models.init_policy(L, V, H, depth, rng)
    codes = models.encode_prefixes(rng.integers(0, V, (B, L)), L, V)
    K = codes.shape[0]
    fwd, bwd, logF, cache = models.policy_forward(params, codes)
    assert fwd.shape == bwd.shape == (K, B, V) and logF.shape == (K, B)
    c = {"fwd": rng.normal(size=fwd.shape), "bwd": rng.normal(size=bwd.shape),
         "F": rng.normal(size=logF.shape)}  # fmt: skip
    grads = models.policy_backward(params, cache, c["fwd"], c["bwd"], c["F"])
    f = lambda p: _policy_objective(p, codes, c)
    auto = gradcheck.autograd_grads(f, params)
    num = gradcheck.numerical_grads(f, params, h=1e-6)
    assert gradcheck.max_rel_error(grads, auto)["max"] < 1e-12
    assert gradcheck.max_rel_error(grads, num)["max"] < 1e-6
    # a missing head adjoint counts as zero
    only_F = models.policy_backward(params, cache, None, None, c["F"])
    c0 = {**c, "fwd": 0 * c["fwd"], "bwd": 0 * c["bwd"]}
    auto0 = gradcheck.autograd_grads(lambda p: _policy_objective(p, codes, c0), params)
    assert gradcheck.max_rel_error(only_F, auto0)["max"] < 1e-12


@settings(max_examples=8, deadline=None)
@given(L=st.integers(1, 4), V=st.integers(2, 4), H=st.integers(1, 6), depth=st.integers(1, 3),
       B=st.integers(1, 3), seed=st.integers(0, 2**31))  # fmt: skip
def test_dynamics_backward(L, V, H, depth, B, seed):
    rng = np.random.default_rng(seed)
    params = models.init_dynamics(L, V, H, depth, rng)
    seq = rng.integers(0, V, (B, L))
    inputs = models.encode_dynamics_inputs(models.encode_prefixes(seq, L, V)[:-1], seq.T, V)
    logits, cache = models.dynamics_forward(params, inputs)
    assert logits.shape == (L, B, V)
    c = rng.normal(size=logits.shape)
    grads = models.dynamics_backward(params, cache, c)
    f = lambda p: (c * models.dynamics_forward(p, inputs)[0]).sum()
    assert gradcheck.max_rel_error(grads, gradcheck.autograd_grads(f, params))["max"] < 1e-12
    num = gradcheck.numerical_grads(f, params, h=1e-6)
    assert gradcheck.max_rel_error(grads, num)["max"] < 1e-6


def test_validation(rng):
    with pytest.raises(ValueError, match="hidden"):
        models.init_policy(8, 4, 0, 2, rng)
    with pytest.raises(ValueError, match="vocab"):
        models.init_dynamics(8, 1, 16, 2, rng)
    params = models.init_policy(3, 2, 4, 1, rng)
    _, _, _, cache = models.policy_forward(params, np.zeros((2, 6)))
    with pytest.raises(ValueError, match="d_fwd"):
        models.policy_backward(params, cache, np.zeros((3, 2)), None, None)
