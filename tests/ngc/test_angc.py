"""The ANGC agent: protocol, Eqs. (5.10)-(5.13), and that it learns by local updates only."""

import numpy as np
import pytest

from reference.gradcheck import rel_error
from reference.ngc import angc, circuit, hebbian

SMALL = dict(hidden=(8, 8), world_hidden=(6,), batch_size=4, learn_start=4, target_sync=5)


def agent(rng, **kw):
    return angc.make_angc_agent(3, 2, {**SMALL, **kw}, rng)


def feed(a, rng, n, obs_dim=3):
    diags = []
    o = rng.normal(size=obs_dim)
    for t in range(n):
        act = a.act(o, rng)
        o2 = 0.9 * o + 0.1 * act + 0.01 * rng.normal(size=obs_dim)
        diags.append(a.observe(o, act, -1.0, o2, t % 7 == 6, False, rng))
        o = o2
    return diags


def test_epistemic_reward_running_max():
    r, m = angc.epistemic_reward(0.5, 1.0)
    assert (r, m) == (0.5, 1.0)
    r, m = angc.epistemic_reward(4.0, m)
    assert (r, m) == (1.0, 4.0)
    r, m = angc.epistemic_reward(2.0, m)
    assert (r, m) == (0.5, 4.0)
    with pytest.raises(ValueError, match="discrepancy"):
        angc.epistemic_reward(-1.0, 1.0)


def test_td_target_only_in_taken_action():
    q = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    t = angc.td_target_vector(q, np.array([2, 0]), np.array([3.5, 10.0]))
    np.testing.assert_array_equal(t, [[1.0, 2.0, 3.5], [10.0, -1.0, 5.0]])
    t = angc.td_target_vector(q, np.array([2, 0]), np.array([3.5, 10.0]), td_clip=1.0)
    np.testing.assert_array_equal(t, [[1.0, 2.0, 3.5], [1.0, -1.0, 5.0]])


def test_protocol_and_diagnostics(rng):
    a = agent(rng)
    diags = feed(a, rng, 20)
    assert all(0.0 <= d["epistemic"] <= 1.0 for d in diags)
    assert "td_error" not in diags[2] and "td_error" in diags[5]  # learning from learn_start
    assert a.updates == 17 and a.end_episode() is None
    assert isinstance(a.act(np.zeros(3), rng), int)


def test_stored_reward_carries_the_epistemic_term(rng):
    a = agent(rng, alpha_e=0.5, alpha_i=2.0)
    diags = feed(a, rng, 6)
    stored = a.memory.rewards[:6]
    np.testing.assert_allclose(stored, [0.5 * d["epistemic"] - 2.0 for d in diags], rtol=1e-15)
    assert np.all(stored > -2.0)  # the epistemic term is in the TD target (unlike the source)
    b = agent(np.random.default_rng(0), alpha_e=0.0)
    feed(b, np.random.default_rng(1), 6)
    np.testing.assert_array_equal(b.memory.rewards[:6], -1.0)


def test_learning_step_is_exactly_the_hebbian_rule(rng):
    """With plain ascent and no normalisation the change of every matrix is eta/N x (5.7)-(5.8)
    of the settled circuit: no loss is differentiated anywhere."""
    a = agent(rng, optimizer="sgd", lr=0.01, world_lr=0.02, td_clip=None, gamma=0.9, modulate=True)
    feed(a, rng, 3)
    batch = a.memory.sample(4, np.random.default_rng(7))
    c = a.config
    before_ctrl, before_world, target = a.controller.params, a.world.params, a.target
    obs, nxt = a.scale(batch["obs"]), a.scale(batch["next_obs"])
    next_q = circuit.project(target, a.controller_input(nxt))[0]
    y = batch["rewards"] + 0.9 * (1 - batch["terminated"]) * next_q.max(1)
    x_c = a.controller_input(obs)
    q = circuit.project(before_ctrl, x_c)[0]
    x_o = angc.td_target_vector(q, batch["actions"], y)
    s = circuit.settle(
        before_ctrl,
        x_c,
        x_o,
        c.T,
        c.beta,
        c.gamma_v,
        c.beta_e,
        z_init=circuit.project(before_ctrl, x_c)[1:-1],
        g=c.g,
    )
    dW, dE = hebbian.hebbian_updates(before_ctrl, s, c.gamma_e, c.modulate, c.use_abs)
    a.learn(batch)
    for k, d in {**dW, **dE}.items():
        assert rel_error(a.controller.params[k], before_ctrl[k] + 0.01 * d / 4) <= 1e-13, k
    x_i = a.world_input(obs, batch["actions"])
    sw = circuit.settle(
        before_world,
        x_i,
        nxt,
        c.T,
        c.beta,
        c.gamma_v,
        c.beta_e,
        z_init=circuit.project(before_world, x_i)[1:-1],
        g=c.g,
    )
    dW, dE = hebbian.hebbian_updates(before_world, sw, c.gamma_e, c.modulate, c.use_abs)
    for k, d in {**dW, **dE}.items():
        assert rel_error(a.world.params[k], before_world[k] + 0.02 * d / 4) <= 1e-13, k


def test_target_controller_synchronised(rng):
    a = agent(rng, target_sync=5)
    feed(a, rng, 9)
    assert a.target is not a.controller.params
    assert all(np.array_equal(a.target[k], v) is False for k, v in a.controller.params.items())
    feed(a, rng, 1)  # step 10: sync
    assert all(np.array_equal(a.target[k], v) for k, v in a.controller.params.items())


def test_numba_and_numpy_agents_agree(rng):
    runs = []
    for kernel in ("numpy", "numba"):
        r = np.random.default_rng(3)
        a = agent(r, kernel=kernel)
        feed(a, r, 30)
        runs.append(a)
    for k in runs[0].controller.params:
        assert rel_error(runs[0].controller.params[k], runs[1].controller.params[k]) <= 1e-10


def test_world_model_learns_the_dynamics(rng):
    """The settled discrepancy of the world model falls as it learns (epistemic signal)."""
    a = agent(rng, batch_size=16, learn_start=16, world_lr=3e-3)
    d = feed(a, rng, 400)
    early = np.mean([x["world_error"] for x in d[16:60]])
    late = np.mean([x["world_error"] for x in d[-40:]])
    assert late < 0.5 * early


def test_bias_input_breaks_homogeneity(rng):
    a = agent(rng)
    assert a.controller.params["W3"].shape == (4, 8)  # obs_dim + 1 rows
    assert np.abs(a.q(np.zeros(3))).max() > 0  # Q(0) = 0 without the constant input
    b = agent(rng, bias_input=False)
    assert np.abs(b.q(np.zeros(3))).max() == 0.0
    np.testing.assert_allclose(b.q(2.0 * np.ones(3)), 2.0 * b.q(np.ones(3)), rtol=1e-12)


def test_observation_scaling(rng):
    a = agent(rng, obs_low=(-2.0, 0.0, -1.0), obs_high=(2.0, 4.0, 1.0))
    np.testing.assert_allclose(a.scale(np.array([2.0, 0.0, 0.5])), [1.0, -1.0, 0.5])
    with pytest.raises(ValueError, match="obs_low"):
        agent(rng, obs_low=(-1.0, 0.0), obs_high=(1.0, 1.0))


@pytest.mark.parametrize(
    "bad, name",
    [
        (dict(hidden=()), "hidden"),
        (dict(phi="gelu"), "phi"),
        (dict(settle_init="ones"), "settle_init"),
        (dict(optimizer="rmsprop"), "optimizer"),
        (dict(gamma=1.5), "gamma"),
        (dict(td_clip=0.0), "td_clip"),
        (dict(kernel="jax"), "kernel"),
        (dict(unknown=1), "unknown"),
        (dict(obs_low=(0, 0, 0)), "obs_low"),
    ],
)
def test_config_checks(rng, bad, name):
    with pytest.raises(ValueError, match=name):
        agent(rng, **bad)


def test_runs_a_gymnasium_task(rng):
    from reference.ngc import run

    factory = run.agent_factory("angc", {**SMALL, "learn_start": 16, "batch_size": 16})
    res = run.run_episodes("CartPole-v1", factory, 3, seed=0, progress=False)
    assert res.returns.shape == (3,) and np.all(res.returns >= 1)
    assert np.all(res.diag_mean["epistemic"] >= 0) and np.all(res.diag_mean["epistemic"] <= 1)
