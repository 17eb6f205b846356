"""train(kernel="numba") pieces (compiled.py, mlp_kernels.log_softmax, the offline draws of
kernels.rollout_randoms): compiled = plain = the readable NumPy of train.py / models.py, and
the compiled run tracks the NumPy run in every configuration it supports."""

import numpy as np
import pytest

from reference import nn
from reference.gflownet import compiled, kernels, mlp_kernels, models, train


@pytest.mark.parametrize("n_offline", [1, 10, 1000])
def test_offline_draws_follow_train_order(n_offline):
    """After the rollout's draws: rng.choice(codes, B_off), then fabricate_intended's
    integers and uniforms, as train(kernel="numpy") draws them."""
    L, V, B_on, B_off = 5, 4, 6, 7
    codes = np.arange(n_offline) * 3
    ref = np.random.default_rng(11)
    kernels.rollout_randoms_plain(ref, B_on, L, V, 0.1)
    picked = ref.choice(codes, size=B_off)
    noise, u = ref.integers(0, V, size=(B_off, L)), ref.random((B_off, L))
    for fn in (kernels.rollout_randoms_plain, kernels.rollout_randoms_jit):
        rng = np.random.default_rng(11)
        r = fn(rng, B_on, L, V, 0.1, n_offline, B_off)
        np.testing.assert_array_equal(codes[r[5]], picked)
        np.testing.assert_array_equal(r[6], noise)
        np.testing.assert_array_equal(r[7], u)
        assert rng.bit_generator.state == ref.bit_generator.state  # the generator advanced alike
    empty = kernels.rollout_randoms_jit(np.random.default_rng(2), B_on, L, V, 0.1, 0, B_off)
    assert empty[5].size == empty[6].size == empty[7].size == 0


@pytest.mark.parametrize("jit", [False, True])
def test_assemble_equals_train_numpy(rng, jit):
    L, V, B_on, B_off, alpha = 4, 3, 5, 6, 0.4
    scores = rng.random(V**L) * 2.0 - 0.5  # negative scores count as 0
    scores[[3, 7, 11]] = [np.nan, np.inf, -np.inf]  # non-finite scores count as 0
    offline = rng.integers(0, V**L, size=20)
    on_r, on_i = rng.integers(0, V, size=(2, B_on, L))
    pick = rng.integers(0, len(offline), size=B_off)
    noise, u = rng.integers(0, V, size=(B_off, L)), rng.random((B_off, L))
    fn = compiled.assemble_jit if jit else compiled.assemble_plain
    realized, intended, log_R, reward, a_chain, x_chain = fn(
        on_r, on_i, offline, pick, noise, u, alpha, scores, 2.5, 1e-32, V
    )
    place = V ** np.arange(L - 1, -1, -1)
    off = (offline[pick][:, None] // place) % V
    ref_r = np.concatenate([on_r, off])
    ref_i = np.concatenate([on_i, np.where(u < alpha, noise, off)])
    np.testing.assert_array_equal(realized, ref_r)
    np.testing.assert_array_equal(intended, ref_i)
    np.testing.assert_allclose(reward, np.mean(scores[on_r @ place]), rtol=1e-14)
    ref_log_R = train.log_reward(scores[ref_r @ place], 2.5, 1e-32)
    np.testing.assert_allclose(log_R, ref_log_R, rtol=1e-14)
    np.testing.assert_array_equal(a_chain, np.concatenate([np.zeros((1, B_on + B_off)), ref_i.T]))
    np.testing.assert_array_equal(x_chain, np.concatenate([np.zeros((1, B_on + B_off)), ref_r.T]))


@pytest.mark.parametrize("jit", [False, True])
def test_encode_equals_models(rng, jit):
    for L, V, B in ((1, 2, 1), (3, 4, 5), (8, 4, 32)):
        realized, intended = rng.integers(0, V, size=(2, B, L))
        codes, inputs = (compiled.encode_jit if jit else compiled.encode_plain)(
            realized, intended, V
        )
        ref = models.encode_prefixes(realized, L, V)
        np.testing.assert_array_equal(codes, ref)
        np.testing.assert_array_equal(
            inputs, models.encode_dynamics_inputs(ref[:-1], intended.T, V)
        )


@pytest.mark.parametrize("jit", [False, True])
def test_log_softmax_kernel_equals_nn(rng, jit):
    z = 5.0 * rng.normal(size=(13, 4))
    fn = mlp_kernels.log_softmax_jit if jit else mlp_kernels.log_softmax_plain
    np.testing.assert_allclose(fn(z), nn.log_softmax(z), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    "overrides",
    [
        {"include_empty_prefix": False},
        {"dynamics": "replay", "replay_size": 40, "dynamics_batch": 9},
        {"dynamics": "known", "epsilon": 0.0},
        {"batch_offline": 0},
        {"method": "tb"},
        {"method": "db", "actions": "intended"},
    ],
)
def test_compiled_run_tracks_numpy(overrides):
    """Every configuration train(kernel="numba") accepts gives the NumPy run's numbers."""
    rng = np.random.default_rng(5)
    scores = rng.random(4**3)
    base = {"method": "sdb", "alpha": 0.2, "iterations": 8, "hidden": 8, "seed": 1,
            "batch_online": 5, "batch_offline": 3}  # fmt: skip
    cfg = train.TrainConfig(**{**base, **overrides})
    a = train.train(cfg, scores, np.arange(30), length=3, vocab=4, progress=False)
    b = train.train(cfg, scores, np.arange(30), length=3, vocab=4, progress=False, kernel="numba")
    for key in ("loss", "grad_norm", "dynamics_ce", "log_Z", "reward"):
        np.testing.assert_allclose(b.history[key], a.history[key], rtol=1e-10, atol=1e-13)
    for net in ("policy", "dynamics"):
        for k, v in getattr(a, net).items():
            np.testing.assert_allclose(getattr(b, net)[k], v, rtol=1e-10, atol=1e-13)


def test_compiled_run_validation(rng):
    scores = rng.random(4**3)
    with pytest.raises(ValueError, match="depth 2"):
        train.train(train.TrainConfig(iterations=1, hidden=4, depth=3), scores, length=3,
                    progress=False, kernel="numba")  # fmt: skip
    with pytest.raises(ValueError, match="offline_codes"):
        train.train(train.TrainConfig(iterations=1, hidden=4), scores, np.array([64]), length=3,
                    progress=False, kernel="numba")  # fmt: skip
