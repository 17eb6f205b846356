"""numba twins: fused Adam = nn.Adam, rollout kernel = StickySequenceEnv.rollout (same
tokens for the same seed), jitted = plain."""

import numpy as np
import pytest

from reference import nn
from reference.gflownet import kernels, models, train
from reference.gflownet.envs import StickySequenceEnv


@pytest.mark.parametrize("jit", [False, True])
def test_fused_adam_equals_nn_adam(rng, jit):
    params = models.init_policy(3, 4, 6, 2, rng)
    opt = nn.Adam(lr=1e-2)
    ref_p, ref_s = params, opt.init(params)
    ours_p = {k: v.copy() for k, v in params.items()}
    ours_s = opt.init(ours_p)
    for _ in range(5):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        ref_p, ref_s = opt.step(ref_p, grads, ref_s)
        ours_p, ours_s = kernels.adam_step(opt, ours_p, grads, ours_s, jit=jit)
    assert ours_s["step"] == ref_s["step"] == 5
    for k in params:
        np.testing.assert_allclose(ours_p[k], ref_p[k], rtol=1e-14, atol=1e-16)
        np.testing.assert_allclose(ours_s["v"][k], ref_s["v"][k], rtol=1e-14, atol=1e-20)


@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_rollout_kernel_equals_environment_rollout(epsilon):
    L, V, B, alpha = 5, 4, 7, 0.3
    params = models.init_policy(L, V, 9, 2, np.random.default_rng(1))
    env = StickySequenceEnv(alpha, L, V)
    for seed in range(3):
        ref = env.rollout(train.make_log_policy(params, L, V, 2.0), B,
                          np.random.default_rng(seed), epsilon=epsilon)  # fmt: skip
        for jit in (False, True):
            realized, intended = kernels.rollout(params, alpha, B, np.random.default_rng(seed),
                                                 L, V, epsilon, scale=2.0, jit=jit)  # fmt: skip
            np.testing.assert_array_equal(realized, ref.realized)
            np.testing.assert_array_equal(intended, ref.intended)


def test_rollout_validation(rng):
    params = models.init_policy(3, 2, 4, 1, rng)
    with pytest.raises(ValueError, match="depth-2"):
        kernels.rollout(params, 0.1, 2, rng, 3, 2)


def test_training_with_numba_kernels_tracks_numpy():
    """Same random stream, same trajectories; parameters agree to round-off."""
    rng = np.random.default_rng(3)
    scores = rng.random(4**3)
    cfg = train.TrainConfig(method="sdb", alpha=0.2, iterations=15, hidden=8, seed=2,
                            batch_online=6, batch_offline=3)  # fmt: skip
    offline = np.arange(10)
    a = train.train(cfg, scores, offline, length=3, vocab=4, progress=False, kernel="numpy")
    b = train.train(cfg, scores, offline, length=3, vocab=4, progress=False, kernel="numba")
    np.testing.assert_allclose(b.history["loss"], a.history["loss"], rtol=1e-10)
    for k in a.policy:
        np.testing.assert_allclose(b.policy[k], a.policy[k], rtol=1e-10, atol=1e-13)
    for k in a.dynamics:  # the compiled path reuses the SDB term's dynamics forward
        np.testing.assert_allclose(b.dynamics[k], a.dynamics[k], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(b.history["dynamics_ce"], a.history["dynamics_ce"], rtol=1e-10)
    with pytest.raises(ValueError, match="kernel"):
        train.train(cfg, scores, offline, length=3, vocab=4, progress=False, kernel="cuda")


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("with_dynamics", [False, True])
def test_fused_sdb_grad_equals_losses(rng, jit, with_dynamics):
    """kernels.stochastic_db_grad (one pass over (k, b)) = losses.stochastic_db_grad, on
    random shapes, with masked-out transitions."""
    from reference import nn
    from reference.gflownet import losses

    for K, B, V in ((2, 1, 2), (5, 7, 4), (9, 32, 4), (4, 3, 6)):
        log_flows = rng.normal(size=(K, B))
        fwd, bwd = rng.normal(size=(2, K, B, V)) * 3.0
        dyn = nn.log_softmax(rng.normal(size=(K - 1, B, V))) if with_dynamics else None
        intended, realized = rng.integers(0, V, size=(2, K, B))
        log_reward = rng.normal(size=B)
        mask = (rng.random((K - 1, B)) < 0.7).astype(float)
        mask[0, 0] = 1.0
        args = (log_flows, fwd, bwd, dyn, intended, realized, log_reward, mask)
        ref_loss, ref_r, ref_g = losses.stochastic_db_grad(*args)
        loss, r, g = kernels.stochastic_db_grad(*args, jit=jit)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
        np.testing.assert_allclose(r, ref_r, rtol=1e-12, atol=1e-13)
        assert set(g) == set(ref_g)
        for name in g:
            np.testing.assert_allclose(g[name], ref_g[name], rtol=1e-12, atol=1e-14)


def test_fused_sdb_grad_validation(rng):
    K, B, V = 3, 2, 4
    args = [rng.normal(size=(K, B)), *rng.normal(size=(2, K, B, V)),
            rng.normal(size=(K, B, V)), *rng.integers(0, V, size=(2, K, B)),
            rng.normal(size=B), np.ones((K - 1, B))]  # fmt: skip
    with pytest.raises(ValueError, match="dyn_logprobs"):
        kernels.stochastic_db_grad(*args)
    args[3] = None
    args[-1] = np.ones((K, B))
    with pytest.raises(ValueError, match="mask"):
        kernels.stochastic_db_grad(*args)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("max_norm", [1e-3, 1e3])  # clipping active / inactive
def test_fused_clip_adam_equals_nn(rng, jit, max_norm):
    params = models.init_policy(3, 4, 6, 2, rng)
    opt = nn.Adam(lr=1e-2)
    ref_p, ref_s = params, opt.init(params)
    ours_p = {k: v.copy() for k, v in params.items()}
    ours_s = opt.init(ours_p)
    for _ in range(5):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        clipped, ref_norm = nn.clip_grad_norm(grads, max_norm)
        ref_p, ref_s = opt.step(ref_p, clipped, ref_s)
        ours_p, ours_s, norm = kernels.clip_adam_step(opt, ours_p, grads, ours_s, max_norm, jit)
        np.testing.assert_allclose(norm, ref_norm, rtol=1e-14)
    assert ours_s["step"] == ref_s["step"] == 5
    for k in params:
        np.testing.assert_allclose(ours_p[k], ref_p[k], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ours_s["m"][k], ref_s["m"][k], rtol=1e-12, atol=1e-18)
        np.testing.assert_allclose(ours_s["v"][k], ref_s["v"][k], rtol=1e-12, atol=1e-20)
    with pytest.raises(ValueError, match="max_norm"):
        kernels.clip_adam_step(opt, ours_p, grads, ours_s, 0.0)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("rows", [1, 7, 40])
def test_fused_mlp_equals_nn(rng, jit, rows):
    params = models.init_dynamics(3, 4, 5, 2, rng)
    params = {k: v + 0.1 * rng.normal(size=v.shape) for k, v in params.items()}  # nonzero biases
    x = rng.normal(size=(rows, params["W1"].shape[0]))
    dout = rng.normal(size=(rows, params["W3"].shape[1]))
    out, cache = kernels.mlp_forward(params, x, jit=jit)
    ref_out, ref_cache = nn.mlp_forward(params, x)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-12)
    for h, ref_h in zip(cache["hs"], ref_cache["hs"], strict=True):
        np.testing.assert_allclose(h, ref_h, rtol=1e-12, atol=1e-12)
    grads, dx = kernels.mlp_backward(params, cache, dout, need_dx=False, jit=jit)
    ref_grads, _ = nn.mlp_backward(params, ref_cache, dout, need_dx=False)
    assert dx is None and set(grads) == set(ref_grads)
    for k in grads:
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=1e-12, atol=1e-12)


def test_fused_mlp_validation(rng):
    params = models.init_policy(3, 4, 5, 2, rng)
    x = rng.normal(size=(4, 12))
    with pytest.raises(ValueError, match="params"):
        kernels.mlp_forward(models.init_policy(3, 4, 5, 1, rng), x)
    with pytest.raises(ValueError, match="params"):
        kernels.mlp_forward(params, x, activation="tanh")
    _, cache = kernels.mlp_forward(params, x)
    with pytest.raises(ValueError, match="need_dx"):
        kernels.mlp_backward(params, cache, rng.normal(size=(4, 9)))


@pytest.mark.parametrize("vocab", [3, 4])
@pytest.mark.parametrize("epsilon", [0.0, 0.2])
def test_compiled_rollout_randoms_equal_plain(vocab, epsilon):
    for seed in range(3):
        rng_plain, rng_jit = np.random.default_rng(seed), np.random.default_rng(seed)
        plain = kernels.rollout_randoms_plain(rng_plain, 6, 5, vocab, epsilon)
        jitted = kernels.rollout_randoms_jit(rng_jit, 6, 5, vocab, epsilon)
        for a, b in zip(plain, jitted, strict=True):
            np.testing.assert_array_equal(a, b)
        assert rng_plain.random() == rng_jit.random()  # the generator advanced alike


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_fused_dynamics_cross_entropy_equals_losses(rng, jit, masked):
    from reference.gflownet import losses

    logits = 3.0 * rng.normal(size=(5, 7, 4))
    realized = rng.integers(0, 4, size=(5, 7))
    mask = (rng.random((5, 7)) < 0.6).astype(float) if masked else None
    if masked:
        mask[0, 0] = 1.0
    ref_loss, ref_d = losses.dynamics_cross_entropy(logits, realized, mask)
    loss, d = kernels.dynamics_cross_entropy(logits, realized, mask, jit=jit)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(d, ref_d, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="realized"):
        kernels.dynamics_cross_entropy(logits, realized[:, :3])
    with pytest.raises(ValueError, match="realized"):
        kernels.dynamics_cross_entropy(logits, realized + 4)
    with pytest.raises(ValueError, match="realized"):  # no silent wrap-around of -1
        losses.dynamics_cross_entropy(logits, realized - 1)
    with pytest.raises(ValueError, match="mask"):
        kernels.dynamics_cross_entropy(logits, realized, np.zeros((5, 7)))
