"""The backprop DQN twin: TD loss gradient three ways, targets, replay, schedule, agent."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import gradcheck, nn
from reference.ngc import dqn


def _problem(rng, n=7, obs_dim=3, hidden=(5, 4), n_actions=3, scale=1.0):
    params = nn.init_mlp((obs_dim, *hidden, n_actions), rng)
    obs = rng.normal(size=(n, obs_dim))
    actions = rng.integers(0, n_actions, size=n)
    targets = scale * rng.normal(size=n)
    return params, obs, actions, targets


@pytest.mark.parametrize("loss", dqn.LOSSES)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_td_gradient_matches_autograd_and_finite_differences(loss, activation, rng):
    # targets spread over [-3, 3] so that both Huber branches occur
    params, obs, actions, targets = _problem(rng, scale=3.0)
    value, hand, _ = dqn.td_loss_and_grads(params, obs, actions, targets, loss, 1.0, activation)
    f = lambda p: dqn.td_loss(p, obs, actions, targets, loss, 1.0, activation)
    assert value == pytest.approx(float(f(params)), rel=1e-15)
    auto = gradcheck.autograd_grads(f, params)
    num = gradcheck.numerical_grads(f, params)
    assert gradcheck.max_rel_error(hand, auto)["max"] < 1e-13
    assert gradcheck.max_rel_error(hand, num)["max"] < 1e-6


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 9),
    obs_dim=st.integers(1, 5),
    width=st.integers(1, 6),
    n_actions=st.integers(2, 5),
    seed=st.integers(0, 2**31 - 1),
    loss=st.sampled_from(dqn.LOSSES),
    kappa=st.sampled_from([0.3, 1.0, 5.0]),
)
def test_td_gradient_random_shapes(n, obs_dim, width, n_actions, seed, loss, kappa):
    r = np.random.default_rng(seed)
    params, obs, actions, targets = _problem(r, n, obs_dim, (width,), n_actions, scale=2.0)
    _, hand, _ = dqn.td_loss_and_grads(params, obs, actions, targets, loss, kappa)
    f = lambda p: dqn.td_loss(p, obs, actions, targets, loss, kappa)
    auto = gradcheck.autograd_grads(f, params)
    assert gradcheck.max_rel_error(hand, auto)["max"] < 1e-12


def test_gradient_only_reaches_taken_actions_output(rng):
    params, obs, actions, targets = _problem(rng, n_actions=4)
    actions[:] = 1
    _, grads, _ = dqn.td_loss_and_grads(params, obs, actions, targets)
    last = nn.mlp_num_layers(params)
    untouched = [0, 2, 3]
    assert np.all(grads[f"W{last}"][:, untouched] == 0.0)
    assert np.all(grads[f"b{last}"][untouched] == 0.0)
    assert np.any(grads[f"W{last}"][:, 1] != 0.0)


def test_huber_pieces():
    d = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(dqn.huber(d, 1.0), [2.5, 0.5, 0.125, 0.0, 0.125, 0.5, 2.5])
    np.testing.assert_array_equal(dqn.huber_backward(d, 1.0), [-1, -1, -0.5, 0, 0.5, 1, 1])


def test_td_targets_exact():
    r = np.array([1.0, -1.0, 0.5])
    next_q = np.array([[0.0, 2.0], [3.0, -1.0], [4.0, 5.0]])
    done = np.array([0.0, 0.0, 1.0])
    y = dqn.td_targets(r, next_q, done, gamma=0.5)
    np.testing.assert_array_equal(y, [2.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="next_q"):
        dqn.td_targets(r, next_q[:2], done, 0.5)


def test_replay_ring_buffer_overwrites_oldest(rng):
    mem = dqn.ReplayMemory(3, obs_dim=2)
    for t in range(5):
        mem.add([t, t], t % 2, float(t), [t + 1, t + 1], t == 4)
    assert len(mem) == 3
    assert sorted(mem.rewards.tolist()) == [2.0, 3.0, 4.0]
    batch = mem.sample(50, rng)
    assert set(batch["rewards"].tolist()) <= {2.0, 3.0, 4.0}
    np.testing.assert_array_equal(batch["next_obs"][:, 0], batch["obs"][:, 0] + 1)
    np.testing.assert_array_equal(batch["terminated"], batch["rewards"] == 4.0)
    with pytest.raises(ValueError, match="obs"):
        mem.add([0.0], 0, 0.0, [0.0, 0.0], False)
    with pytest.raises(ValueError, match="empty"):
        dqn.ReplayMemory(2, 1).sample(1, rng)


def test_epsilon_schedules():
    lin = dqn.dqn_config(epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=10)
    assert dqn.epsilon_at(0, lin) == 1.0
    assert dqn.epsilon_at(5, lin) == pytest.approx(0.55)
    assert dqn.epsilon_at(10, lin) == pytest.approx(0.1)
    assert dqn.epsilon_at(1000, lin) == pytest.approx(0.1)
    exp = dqn.dqn_config(epsilon_schedule="exponential", epsilon_decay=0.5, epsilon_end=0.2)
    assert [dqn.epsilon_at(k, exp) for k in range(4)] == [1.0, 0.5, 0.25, 0.2]


@pytest.mark.parametrize(
    "override, name",
    [
        (dict(loss="l1"), "loss"),
        (dict(gamma=1.5), "gamma"),
        (dict(batch_size=0), "batch_size"),
        (dict(hidden=()), "hidden"),
        (dict(epsilon_end=2.0), "epsilon_end"),
        (dict(batch_size=10, replay_capacity=5), "batch_size"),
        (dict(bogus=1), "bogus"),
    ],
)
def test_config_validation_names_argument(override, name):
    with pytest.raises(ValueError, match=name):
        dqn.dqn_config(**override)


def test_bad_actions_rejected(rng):
    params, obs, actions, targets = _problem(rng)
    with pytest.raises(ValueError, match="actions"):
        dqn.td_loss_and_grads(params, obs, actions + 3, targets)
    with pytest.raises(ValueError, match="targets"):
        dqn.td_loss_and_grads(params, obs, actions, targets[:-1])


def test_agent_fits_a_contextual_bandit(rng):
    """With gamma = 0 the TD target is the reward: Q must learn r(o, a) = o_a."""
    cfg = dict(
        hidden=(32,),
        gamma=0.0,
        learn_start=32,
        batch_size=32,
        target_sync=10,
        epsilon_decay_steps=1,
        epsilon_start=1.0,
        epsilon_end=1.0,
        max_grad_norm=None,
        loss="mse",
        lr=1e-2,
    )
    agent = dqn.make_dqn_agent(2, 2, cfg, rng)
    losses = []
    for _ in range(600):
        obs = rng.uniform(-1, 1, size=2)
        a = agent.act(obs, rng)
        diag = agent.observe(obs, a, obs[a], obs, False, False, rng)
        losses.append(diag.get("loss", np.nan))
    test_obs = rng.uniform(-1, 1, size=(200, 2))
    err = np.abs(agent.q(test_obs) - test_obs)
    assert np.mean(err) < 0.1
    assert np.nanmean(losses[-50:]) < 0.1 * np.nanmean(losses[:50])
    assert agent.updates == 600 - 31


def test_agent_target_sync_and_greedy_action(rng):
    cfg = dict(
        hidden=(8,), learn_start=4, batch_size=4, target_sync=5, epsilon_start=0.0, epsilon_end=0.0
    )
    agent = dqn.make_dqn_agent(3, 2, cfg, rng)
    obs = rng.normal(size=3)
    assert agent.act(obs, rng) == int(np.argmax(agent.q(obs)))
    for t in range(1, 11):
        agent.observe(obs, 0, 1.0, obs, False, False, rng)
        same = all(np.array_equal(agent.target[k], agent.params[k]) for k in agent.params)
        assert same == (t % 5 == 0 or t < 4)


def test_random_agent(rng):
    agent = dqn.make_random_agent(3)
    acts = [agent.act(None, rng) for _ in range(300)]
    assert set(acts) == {0, 1, 2}
    assert agent.observe(None, 0, 0.0, None, False, False, rng) == {}
    with pytest.raises(ValueError, match="n_actions"):
        dqn.make_random_agent(0)


@pytest.mark.parametrize("loss", dqn.LOSSES)
def test_td_loss_grad_q_matches_autograd(loss, rng):
    q = 3.0 * rng.normal(size=(6, 4))
    actions = rng.integers(0, 4, size=6)
    y = rng.normal(size=6)
    value, dq, delta = dqn.td_loss_grad_q(q, actions, y, loss, 0.7)
    f = lambda p: dqn.td_loss_grad_q(p["q"], actions, y, loss, 0.7)[0]
    auto = gradcheck.autograd_grads(f, {"q": q})["q"]
    assert gradcheck.rel_error(dq, auto) < 1e-15
    np.testing.assert_array_equal(delta, q[np.arange(6), actions] - y)


def test_observation_scaling_maps_the_box_to_unit_interval(rng):
    cfg = dict(
        hidden=(4,), obs_low=[-1.2, -0.07], obs_high=[0.6, 0.07], learn_start=1, batch_size=1
    )
    agent = dqn.make_dqn_agent(2, 3, cfg, rng)
    np.testing.assert_allclose(agent.scale([-1.2, 0.07]), [-1.0, 1.0])
    np.testing.assert_allclose(agent.q([0.6, -0.07]), dqn.q_values(agent.params, [[1.0, -1.0]])[0])
    agent.observe([0.6, 0.0], 0, -1.0, [-1.2, 0.0], False, False, rng)
    np.testing.assert_allclose(agent.memory.obs[0], [1.0, 0.0])
    np.testing.assert_allclose(agent.memory.next_obs[0], [-1.0, 0.0])
    with pytest.raises(ValueError, match="give both or neither"):
        dqn.make_dqn_agent(2, 3, dict(obs_low=[0.0, 0.0]), rng)
    with pytest.raises(ValueError, match="obs_low"):
        dqn.make_dqn_agent(2, 3, dict(obs_low=[0.0, 0.0], obs_high=[1.0, 0.0]), rng)


def test_gradient_steps_per_training_occasion(rng):
    cfg = dict(hidden=(4,), learn_start=4, batch_size=2, train_every=3, gradient_steps=5)
    agent = dqn.make_dqn_agent(2, 2, cfg, rng)
    for _ in range(12):
        agent.observe([0.0, 1.0], 1, 1.0, [1.0, 0.0], False, False, rng)
    assert agent.updates == 5 * 3  # training at steps 6, 9 and 12


def test_soft_target_update(rng):
    agent = dqn.make_dqn_agent(2, 2, dict(hidden=(3,), target_tau=0.25, learn_start=100), rng)
    target0 = {k: v.copy() for k, v in agent.target.items()}
    agent.params = {k: v + 1.0 for k, v in agent.params.items()}
    agent.observe([0.0, 0.0], 0, 0.0, [0.0, 0.0], False, False, rng)  # no learning yet
    for k in agent.params:
        np.testing.assert_allclose(agent.target[k], target0[k] + 0.25, rtol=1e-15)
    with pytest.raises(ValueError, match="target_tau"):
        dqn.dqn_config(target_tau=0.0)
