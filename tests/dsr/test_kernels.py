"""The numba rollout kernels equal their plain twins and the readable NumPy BPTT."""

import numpy as np
import pytest

from reference import gradcheck
from reference.dsr import forcing, kernels, models
from tests.dsr.test_forcing import window
from tests.dsr.test_models import make, random_params

KERNEL_KINDS = ["plrnn", "mcplrnn", "alrnn", "alrnn_offdiag", "shplrnn", "clipped_shplrnn"]


@pytest.mark.parametrize("alpha,tau", [(1.0, 3), (0.3, 1), (0.0, 1), (1.0, 1000)])
@pytest.mark.parametrize("kind", KERNEL_KINDS)
def test_jit_equals_plain_equals_numpy(kind, alpha, tau, rng):
    model = make(kind)
    params = random_params(model, rng)
    x, y, _ = window(model, rng, batch=4, T=11)
    loss, grads, Zhat = forcing.forced_rollout_loss(model, params, x, y, alpha, tau)
    for jit in (True, False):
        k_loss, k_grads, k_Zhat = kernels.rollout_loss(model, params, x, y, alpha, tau, jit=jit)
        assert abs(k_loss - loss) <= 1e-12 * abs(loss)
        assert set(k_grads) == set(grads)
        for k in grads:
            assert gradcheck.rel_error(k_grads[k], grads[k]) <= 1e-12, (jit, k)
        assert gradcheck.rel_error(k_Zhat, Zhat) <= 1e-12


def test_jit_equals_plain_bitwise(rng):
    model = make("clipped_shplrnn")
    params = random_params(model, rng)
    x, y, _ = window(model, rng)
    a = kernels.rollout_loss(model, params, x, y, 0.5, 2, jit=True)
    b = kernels.rollout_loss(model, params, x, y, 0.5, 2, jit=False)
    assert gradcheck.rel_error(a[2], b[2]) <= 1e-14
    for k in a[1]:
        assert gradcheck.rel_error(a[1][k], b[1][k]) <= 1e-13, k


def test_float32_stays_float32(rng):
    model = make("alrnn")
    params = {k: v.astype(np.float32) for k, v in random_params(model, rng).items()}
    x, y, _ = window(model, rng)
    x, y = x.astype(np.float32), y.astype(np.float32)
    _, grads, Zhat = kernels.rollout_loss(model, params, x, y, 1.0, 4)
    assert Zhat.dtype == np.float32 and grads["W"].dtype == np.float32
    ref = forcing.forced_rollout_loss(model, {k: v.astype(np.float64) for k, v in
                                              params.items()}, x, y, 1.0, 4)[1]  # fmt: skip
    assert gradcheck.rel_error(grads["W"], ref["W"]) < 1e-4


def test_unsupported_models_are_refused(rng):
    assert not kernels.supports(make("shplrnn", K=2))
    assert not kernels.supports(make("dendplrnn"))
    model = models.ShallowPLRNN(4, 2, 3, input_dim=1)
    with pytest.raises(ValueError, match="model: no kernel"):
        kernels.rollout_loss(model, model.init_params(rng), *window(make("alrnn", M=4, N=2),
                                                                    rng)[:2], 1.0, 2)  # fmt: skip
