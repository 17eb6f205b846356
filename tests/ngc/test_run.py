"""The episode runner, the solved criterion and the comparison harness (tiny runs)."""

import numpy as np
import pytest

from reference.ngc import run


def test_solved_episode_exact():
    r = np.full(250, -200.0)
    assert run.solved_episode(r, -110) is None
    r[150:250] = -100.0  # a window ending at episode e >= 150 has mean -200 + (e - 150)
    assert run.solved_episode(r, -110) == 240  # exactly at the threshold counts
    assert run.solved_episode(r, -109.5) == 241
    assert run.solved_episode(r, -100) == 250
    assert run.solved_episode(r, -99) is None
    assert run.solved_episode(r, -110, window=10) == 159  # episodes 150..159: 9 x -100
    assert run.solved_episode(np.full(99, 500.0), 475) is None  # no full window yet
    assert run.solved_episode(np.full(100, 475.0), 475) == 100
    with pytest.raises(ValueError, match="window"):
        run.solved_episode(r, 0.0, window=0)
    with pytest.raises(ValueError, match="returns"):
        run.solved_episode(r.reshape(10, 25), 0.0)


def test_moving_average_trailing_with_partial_start():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(run.moving_average(x, 2), [1.0, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(run.moving_average(x, 100), np.cumsum(x) / np.arange(1, 6))


def test_thresholds():
    assert run.threshold_of("MountainCar-v0") == -110
    assert run.threshold_of("CartPole-v1") == 475
    assert run.threshold_of("MountainCarContinuous-v0") == 90.0  # from Gymnasium's registry


class _Recorder:
    """Always pushes right; records what the runner hands it."""

    def __init__(self, obs_dim, n_actions):
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.calls, self.episodes = [], 0

    def act(self, obs, rng):
        assert obs.shape == (self.obs_dim,) and obs.dtype == np.float64
        return 1

    def observe(self, obs, action, reward, next_obs, terminated, truncated, rng):
        self.calls.append((terminated, truncated))
        return {"signal": 2.0, "maybe": float("nan"), "label": "x"}

    def end_episode(self):
        self.episodes += 1


def test_run_episodes_protocol_and_accounting():
    made = []

    def factory(obs_dim, n_actions, rng):
        assert isinstance(rng, np.random.Generator)
        made.append(_Recorder(obs_dim, n_actions))
        return made[-1]

    res = run.run_episodes("CartPole-v1", factory, 3, seed=4, progress=False)
    agent = made[0]
    assert (agent.obs_dim, agent.n_actions, agent.episodes) == (4, 2, 3)
    assert res.steps == len(agent.calls) == res.lengths.sum()
    np.testing.assert_array_equal(res.returns, res.lengths)  # CartPole: +1 per step
    assert res.terminated.all()  # always pushing right topples the pole
    np.testing.assert_array_equal(res.diag_mean["signal"], 2.0)
    np.testing.assert_array_equal(res.diag_sum["signal"], 2.0 * res.lengths)
    assert "maybe" not in res.diag_mean and "label" not in res.diag_mean
    assert res.gymnasium_version


def test_run_is_reproducible_and_seed_dependent():
    f = run.agent_factory("random")
    a = run.run_episodes("CartPole-v1", f, 4, seed=1, progress=False)
    b = run.run_episodes("CartPole-v1", f, 4, seed=1, progress=False)
    c = run.run_episodes("CartPole-v1", f, 4, seed=2, progress=False)
    np.testing.assert_array_equal(a.returns, b.returns)
    assert not np.array_equal(a.returns, c.returns)


def test_mountain_car_random_agent_times_out():
    res = run.run_episodes("MountainCar-v0", run.agent_factory("random"), 2, 0, progress=False)
    np.testing.assert_array_equal(res.returns, [-200.0, -200.0])
    assert not res.terminated.any()


def test_dqn_runs_and_learns_in_the_loop():
    cfg = dict(hidden=(16,), learn_start=20, batch_size=16, target_sync=25)
    res = run.run_episodes("CartPole-v1", run.agent_factory("dqn", cfg), 3, 0, progress=False)
    assert np.isfinite(res.diag_mean["loss"][-1])
    assert np.all(res.diag_mean["epsilon"] <= 1.0)


def test_compare_table():
    rows, results = run.compare(
        "CartPole-v1",
        {"random": run.agent_factory("random"), "dqn": run.agent_factory("dqn", {"hidden": [8]})},
        seeds=[0, 1],
        n_episodes=3,
        progress=False,
    )
    assert list(rows) == ["random", "dqn"] and len(results["dqn"]) == 2
    r = rows["random"]
    means = [res.returns.mean() for res in results["random"]]
    assert r["mean_last"] == pytest.approx(np.mean(means))
    assert r["sd_last"] == pytest.approx(np.std(means, ddof=1))
    assert r["solved"] == [None, None] and r["window"] == 3
    table = run.format_table(rows, 475)
    assert table.count("\n| ") == 2 and ">= 475" in table  # one row per agent


def test_input_validation():
    f = run.agent_factory("random")
    with pytest.raises(ValueError, match="n_episodes"):
        run.run_episodes("CartPole-v1", f, 0, 0, progress=False)
    with pytest.raises(ValueError, match="seed"):
        run.run_episodes("CartPole-v1", f, 1, -1, progress=False)
    with pytest.raises(ValueError, match="env_id"):
        run.run_episodes("Pendulum-v1", f, 1, 0, progress=False)  # continuous actions
    with pytest.raises(ValueError, match="kind"):
        run.agent_factory("ppo")
    with pytest.raises(ValueError, match="seeds"):
        run.compare("CartPole-v1", {"r": f}, [], 1)


def test_results_json_round_trip():
    import json

    res = run.run_episodes("CartPole-v1", run.agent_factory("random"), 2, 3, progress=False)
    res.diag_mean["x"] = np.array([1.5, np.nan])
    back = run.results_from_json(json.loads(json.dumps(run.results_to_json({"r": [res]}))))
    got = back["r"][0]
    np.testing.assert_array_equal(got.returns, res.returns)
    np.testing.assert_array_equal(got.lengths, res.lengths)
    np.testing.assert_array_equal(got.terminated, res.terminated)
    np.testing.assert_array_equal(got.diag_mean["x"], [1.5, np.nan])
    assert (got.env_id, got.seed, got.gymnasium_version) == (
        "CartPole-v1",
        3,
        res.gymnasium_version,
    )
