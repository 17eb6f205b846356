"""Training loop: reward schedule, loss gradients of every method through both networks
(central differences), a short run on a tiny landscape, checkpoints, validation."""

import shutil

import numpy as np
import pytest

from reference import gradcheck, nn
from reference.gflownet import train
from reference.gflownet.mlp_kernels import MLP_KEYS

L, V = 3, 2


def tiny_state(method, rng, include_empty=True, hidden=5, actions="realized"):
    cfg = train.TrainConfig(
        method=method, hidden=hidden, include_empty_prefix=include_empty, actions=actions
    )
    state = train.init_state(cfg, L, V, rng)
    state.log_Z = np.asarray(0.4)
    return cfg, state


def batch(rng, B=4):
    realized = rng.integers(0, V, (B, L))
    intended = rng.integers(0, V, (B, L))
    return realized, intended, rng.normal(size=B) - 1.0


def test_reward_schedule_and_floor():
    assert train.reward_exponent(0, 3.0, 3.0) == 1.0
    assert train.reward_exponent(3, 3.0, 3.0) == pytest.approx(2.0)
    assert train.reward_exponent(1e9, 3.0, 3.0) == pytest.approx(3.0, rel=1e-8)
    lr = train.log_reward(np.array([0.5, 0.0, np.nan, -1.0]), 2.0)
    np.testing.assert_allclose(lr, [np.log(0.25), np.log(1e-32), np.log(1e-32), np.log(1e-32)])


@pytest.mark.parametrize("method", train.METHODS)
@pytest.mark.parametrize("include_empty", [True, False])
@pytest.mark.parametrize("actions", ["realized", "intended"])
def test_policy_gradients_by_finite_differences(method, include_empty, actions):
    rng = np.random.default_rng(7)
    cfg, state = tiny_state(method, rng, include_empty, actions=actions)
    realized, intended, log_R = batch(rng)
    K = L + 1 if include_empty else L
    dyn = nn.log_softmax(rng.normal(size=(K - 1, realized.shape[0], V)))
    loss, grads, d_log_Z = train.policy_loss_and_grads(cfg, state, realized, intended, log_R, dyn)

    def f(p):
        s = train.TrainState(**{**state.__dict__, "policy": {k: p[k] for k in state.policy},
                                "log_Z": p["log_Z"]})  # fmt: skip
        return train.policy_loss_and_grads(cfg, s, realized, intended, log_R, dyn)[0]

    num = gradcheck.numerical_grads(f, {**state.policy, "log_Z": state.log_Z}, h=1e-6)
    assert gradcheck.max_rel_error(grads, {k: num[k] for k in grads})["max"] < 1e-6
    expected_Z = num["log_Z"] if method == "tb" else 0.0
    assert d_log_Z == pytest.approx(float(expected_Z), abs=1e-7)


def test_db_ignores_the_dynamics_and_sdb_uses_them(rng):
    realized, intended, log_R = batch(rng)
    cfg_db, state = tiny_state("db", rng, actions="intended")
    cfg_sdb = train.TrainConfig(method="sdb", hidden=5)
    dyn0 = np.full((L, realized.shape[0], V), -np.inf)  # deterministic dynamics:
    np.put_along_axis(dyn0, realized.T[..., None], 0.0, axis=-1)  # log Phat[x] = 0, SDB = DB
    dyn = nn.log_softmax(rng.normal(size=dyn0.shape))
    a = train.policy_loss_and_grads(cfg_db, state, realized, intended, log_R, dyn)
    b = train.policy_loss_and_grads(cfg_sdb, state, realized, intended, log_R, dyn0)
    c = train.policy_loss_and_grads(cfg_sdb, state, realized, intended, log_R, dyn)
    assert a[0] == pytest.approx(b[0], rel=1e-14) and c[0] != pytest.approx(a[0])


def test_realized_actions_mean_the_tree_with_unit_backward_probability(rng):
    """actions="realized": the appended token is the action and P_B = 1, so the backward
    head gets no gradient and the intended tokens do not matter."""
    realized, intended, log_R = batch(rng)
    cfg, state = tiny_state("tb", rng)
    loss, grads, _ = train.policy_loss_and_grads(cfg, state, realized, intended, log_R)
    loss2, _, _ = train.policy_loss_and_grads(cfg, state, realized, realized, log_R)
    assert loss == loss2
    codes = train.models.encode_prefixes(realized, L, V)
    fwd, _, _, _ = train.models.policy_forward(state.policy, codes)
    logp = nn.log_softmax(fwd[:-1])
    picked = np.take_along_axis(logp, realized.T[:, :, None], -1)[..., 0].sum(axis=0)
    assert loss == pytest.approx(np.mean((state.log_Z + picked - log_R) ** 2), rel=1e-13)


def test_known_dynamics_is_the_sticky_kernel():
    intended = np.array([[0, 1], [1, 1]])
    logT = train.known_dynamics_logprobs(intended, 0.2, 2)
    assert logT.shape == (2, 2, 2)
    np.testing.assert_allclose(np.exp(logT[0, 0]), [0.9, 0.1])
    np.testing.assert_allclose(np.exp(logT[1, 0]), [0.1, 0.9])


def test_short_training_run_learns_and_checkpoints(tmp_path):
    """On a random 2^3 landscape every method lowers its loss; the dynamics cross-entropy of
    SDB falls towards the entropy of the sticky kernel; the checkpoint restores the state."""
    rng = np.random.default_rng(0)
    scores = rng.random(V**L)
    offline = np.arange(V**L)[scores < np.median(scores)]
    for method in train.METHODS:
        cfg = train.TrainConfig(
            method=method, alpha=0.25, iterations=150, hidden=16, lr=3e-3, lr_dynamics=3e-3,
            batch_online=8, batch_offline=4, epsilon=0.05, seed=1, dynamics="replay",
            dynamics_batch=32,
        )  # fmt: skip
        path = tmp_path / f"{method}.npz"
        state = train.train(cfg, scores, offline, length=L, vocab=V, progress=False,
                            checkpoint_path=path)  # fmt: skip
        h = state.history
        assert len(h["loss"]) == 150 and np.all(np.isfinite(h["loss"]))
        assert np.mean(h["loss"][-30:]) < np.mean(h["loss"][:30]), method
        if method == "sdb":
            T = (1 - 0.25) * np.eye(V) + 0.25 / V
            kernel_entropy = -(T[0] * np.log(T[0])).sum()
            assert np.mean(h["dynamics_ce"][-30:]) < np.mean(h["dynamics_ce"][:10])
            assert np.mean(h["dynamics_ce"][-30:]) < kernel_entropy + 0.15
        cfg2, state2 = train.load_checkpoint(path)
        assert cfg2 == cfg and state2.iteration == 150
        for k, v in state.policy.items():
            assert np.array_equal(state2.policy[k], v)
        assert np.array_equal(state2.history["loss"], h["loss"])


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_resumed_run_is_bit_identical(tmp_path, kernel):
    """20 iterations in one go against 10, a checkpoint (written by checkpoint_every=10),
    then 10 more from the loaded checkpoint: the same parameters, Adam moments, replay buffer
    and losses, bit for bit (the generator's state and the replay buffer are saved)."""
    rng = np.random.default_rng(3)
    scores = rng.random(V**L)
    offline = np.arange(V**L)[scores < np.median(scores)]
    cfg = train.TrainConfig(method="sdb", alpha=0.25, iterations=20, hidden=8, batch_online=4,
                            batch_offline=2, dynamics="replay", dynamics_batch=8,
                            seed=5)  # fmt: skip
    path, mid = tmp_path / "run.npz", tmp_path / "mid.npz"

    def keep_the_10th(it, state):
        if it == 9:
            shutil.copy(path, mid)

    run = dict(length=L, vocab=V, progress=False, kernel=kernel)
    whole = train.train(cfg, scores, offline, checkpoint_path=path, checkpoint_every=10,
                        callback=keep_the_10th, **run)  # fmt: skip
    cfg2, state = train.load_checkpoint(mid)
    assert cfg2 == cfg and state.iteration == 10 and len(state.replay["targets"]) == 10 * 4 * L
    resumed = train.train(cfg2, scores, offline, state=state, **run)
    assert resumed.history == whole.history and resumed.rng_state == whole.rng_state
    for name in ("policy", "dynamics"):
        for k in MLP_KEYS:
            assert np.array_equal(getattr(resumed, name)[k], getattr(whole, name)[k]), (name, k)
            opt_a, opt_b = getattr(resumed, name + "_opt"), getattr(whole, name + "_opt")
            assert np.array_equal(opt_a["m"][k], opt_b["m"][k]) and opt_a["step"] == opt_b["step"]
    for k in ("inputs", "targets"):
        assert np.array_equal(resumed.replay[k], whole.replay[k])
    _, last = train.load_checkpoint(path)  # the final checkpoint: the whole run
    assert last.iteration == 20 and last.history["loss"] == whole.history["loss"]


def test_validation():
    with pytest.raises(ValueError, match="method"):
        train.TrainConfig(method="ppo")
    with pytest.raises(ValueError, match="dynamics"):
        train.TrainConfig(dynamics="offline")
    with pytest.raises(ValueError, match="scores"):
        train.train(train.TrainConfig(iterations=1), np.ones(5), length=L, vocab=V,
                    progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="checkpoint_every"):
        train.train(train.TrainConfig(iterations=1), np.ones(V**L), length=L, vocab=V,
                    progress=False, checkpoint_every=5)  # fmt: skip
