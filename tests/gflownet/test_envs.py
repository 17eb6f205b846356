"""Sticky-action sequence environment (eqs. 4.2-4.3) and torchgfn's HyperGrid (eq. 4.4)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.gflownet import envs
from reference.gflownet.data import sequence_to_code


@pytest.fixture(scope="module")
def golden(golden_dir):
    return json.loads((golden_dir / "gflownet_torchgfn.json").read_text())


# --------------------------------------------------------------------------- kernel


@settings(max_examples=30, deadline=None)
@given(alpha=st.floats(0.0, 1.0), vocab=st.integers(2, 7))
def test_kernel_rows_are_distributions(alpha, vocab):
    T = envs.sticky_kernel(alpha, vocab)
    assert T.shape == (vocab, vocab)
    assert np.all(T >= alpha / vocab - 1e-15)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.diag(T), 1 - alpha + alpha / vocab, atol=1e-15)


def test_kernel_limits():
    assert np.array_equal(envs.sticky_kernel(0.0), np.eye(4))
    assert np.allclose(envs.sticky_kernel(1.0), 0.25)
    # eq. (4.3) is the kernel applied to the policy
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(4), size=6)
    np.testing.assert_allclose(
        envs.realized_probs(pi, 0.3), pi @ envs.sticky_kernel(0.3), rtol=0, atol=1e-15
    )


def test_empirical_frequencies_match_the_kernel():
    """200k draws per intended token: frequencies within 5 standard errors of T[a, :]."""
    rng = np.random.default_rng(7)
    alpha, n = 0.25, 200_000
    T = envs.sticky_kernel(alpha)
    for a in range(4):
        x = envs.sticky_step(np.full(n, a), alpha, rng)
        freq = np.bincount(x, minlength=4) / n
        se = np.sqrt(T[a] * (1 - T[a]) / n)
        assert np.all(np.abs(freq - T[a]) < 5 * se), (a, freq, T[a])


def test_sticky_step_draw_order_and_limits():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, size=1000)
    assert np.array_equal(envs.sticky_step(a, 0.0, np.random.default_rng(1)), a)
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    x = envs.sticky_step(a, 0.4, r1)
    u, noise = r2.random(1000), r2.integers(0, 4, size=1000)
    assert np.array_equal(x, np.where(u < 0.4, noise, a))


def test_validation_errors():
    with pytest.raises(ValueError, match=r"alpha: expected a probability in \[0, 1\]"):
        envs.sticky_kernel(1.5)
    with pytest.raises(ValueError, match="alpha"):
        envs.sticky_kernel("0.1")
    with pytest.raises(ValueError, match="vocab"):
        envs.sticky_kernel(0.1, vocab=1)
    with pytest.raises(ValueError, match="rng"):
        envs.sticky_step(np.zeros(3, int), 0.1, rng=0)
    with pytest.raises(ValueError, match=r"intended: expected tokens in \[0, 4\)"):
        envs.sticky_step(np.array([0, 4]), 0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"intended: expected shape \(batch,\)"):
        envs.sticky_step(np.zeros((2, 2), int), 0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="intended_probs"):
        envs.realized_probs(np.array([0.5, 0.6]), 0.1)
    env = envs.StickySequenceEnv(0.1, length=2)
    s = env.reset(3)
    with pytest.raises(ValueError, match=r"intended: expected shape \(3,\)"):
        env.step(s, np.zeros(2, int), np.random.default_rng(0))
    s = env.step(
        env.step(s, np.zeros(3, int), np.random.default_rng(0)), [1, 2, 3], np.random.default_rng(0)
    )
    with pytest.raises(ValueError, match="complete"):
        env.step(s, np.zeros(3, int), np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch"):
        env.reset(0)
    with pytest.raises(ValueError, match="length"):
        envs.StickySequenceEnv(0.1, length=0)


# --------------------------------------------------------------------------- rollouts


def test_rollout_stores_realized_and_intended():
    env = envs.StickySequenceEnv(alpha=0.0)
    det = lambda prefixes: np.log(np.eye(4)[np.full(len(prefixes), 2)] + 1e-300)
    traj = env.rollout(det, 5, np.random.default_rng(0))
    assert traj.realized.shape == traj.intended.shape == (5, 8)
    assert np.all(traj.realized == 2) and np.all(traj.intended == 2)
    x, a = traj.time_major()
    assert x.shape == (8, 5) and np.array_equal(a, traj.intended.T)
    assert np.array_equal(traj.codes(), sequence_to_code(traj.realized))


def test_rollout_policy_sees_the_realized_prefix():
    """A policy that copies the last realized token: with alpha = 1 intended[t] = realized[t-1]."""
    env = envs.StickySequenceEnv(alpha=1.0)

    def copy_last(prefixes):
        last = prefixes[:, -1] if prefixes.shape[1] else np.zeros(len(prefixes), int)
        return np.where(np.eye(4, dtype=bool)[last], 0.0, -np.inf)

    traj = env.rollout(copy_last, 200, np.random.default_rng(1))
    assert np.array_equal(traj.intended[:, 1:], traj.realized[:, :-1])
    assert not np.array_equal(traj.realized[:, 1:], traj.realized[:, :-1])  # noise did act


def test_rollout_sequence_frequencies_match_eq_4_3():
    """Two-token sequences from a fixed policy: empirical vs prod_t (1 - a) pi + a / V."""
    env = envs.StickySequenceEnv(alpha=0.3, length=2)
    tiny = 1e-12
    rows = [[0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4], [0.25] * 4, [tiny, 0.5, 0.5, tiny]]
    table = np.log(np.array([*rows, [0.9, 0.05, 0.05, tiny]]))
    policy = lambda p: table[np.zeros(len(p), int) if p.shape[1] == 0 else p[:, 0] + 1]
    n = 200_000
    traj = env.rollout(policy, n, np.random.default_rng(2))
    freq = np.bincount(traj.codes(), minlength=16) / n
    q0 = envs.realized_probs(np.exp(table[0]), 0.3)
    q1 = envs.realized_probs(np.exp(table[1:]) / np.exp(table[1:]).sum(1, keepdims=True), 0.3)
    exact = (q0[:, None] * q1).ravel()
    se = np.sqrt(exact * (1 - exact) / n)
    assert np.all(np.abs(freq - exact) < 5 * se)


def test_rollout_epsilon_and_policy_validation():
    env = envs.StickySequenceEnv(alpha=0.0, length=3)
    det = lambda p: np.where(np.arange(4) == 1, 0.0, -np.inf) * np.ones((len(p), 1))
    traj = env.rollout(det, 20000, np.random.default_rng(4), epsilon=0.2)
    # uniform exploration picks token 1 a quarter of the time too: P(not 1) = 0.2 * 3/4
    assert abs(np.mean(traj.intended != 1) - 0.15) < 0.01
    with pytest.raises(ValueError, match=r"log_policy: expected log-probabilities of shape"):
        env.rollout(lambda p: np.zeros((len(p), 3)), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN"):
        env.rollout(lambda p: np.full((len(p), 4), np.nan), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="epsilon"):
        env.rollout(det, 2, np.random.default_rng(0), epsilon=2.0)


# --------------------------------------------------------------------------- HyperGrid


def test_hypergrid_matches_the_golden_file(golden):
    grid = envs.hypergrid_from_golden(golden["env"])
    states = grid.all_states()
    assert states.shape == (25, 2)
    assert np.array_equal(grid.index(states), np.arange(25))
    assert np.array_equal(grid.index(states), states[:, 0] * 5 + states[:, 1])
    np.testing.assert_allclose(
        grid.log_reward(states), golden["env"]["log_reward_all_states"], rtol=1e-6
    )
    np.testing.assert_allclose(
        np.log(grid.reward(states).sum()), golden["env"]["true_log_Z"], rtol=1e-6
    )


def test_hypergrid_golden_trajectories_are_valid(golden):
    grid = envs.hypergrid_from_golden(golden["env"])
    for traj in golden["trajectories"]:
        states, actions = np.array(traj["states"]), np.array(traj["actions"])
        assert actions[-1] == grid.exit_action and len(actions) == len(states)
        for s, a, s_next in zip(states[:-1], actions[:-1], states[1:], strict=True):
            assert grid.forward_mask(s)[a]
            assert np.array_equal(grid.step(s, a), s_next)
            assert grid.backward_mask(s_next)[a]
        np.testing.assert_allclose(grid.log_reward(states[-1]), traj["log_reward"], rtol=1e-6)


def test_hypergrid_reward_with_second_mode_and_masks():
    grid = envs.HyperGrid(ndim=2, height=8)
    x = np.linspace(0, 1, 8) - 0.5  # |x| for x_i = 1 is 0.357: inside (0.3, 0.4)
    assert 0.3 < abs(x[1]) < 0.4
    assert grid.reward([1, 6]) == pytest.approx(0.1 + 0.5 + 2.0)
    assert grid.reward([0, 7]) == pytest.approx(0.6)
    assert grid.reward([3, 4]) == pytest.approx(0.1)
    assert np.array_equal(grid.forward_mask([[7, 0]]), [[False, True, True]])
    assert np.array_equal(grid.backward_mask([[0, 3]]), [[False, True]])
    with pytest.raises(ValueError, match="leave the grid"):
        grid.step([7, 0], 0)
    with pytest.raises(ValueError, match="exit is terminal"):
        grid.step([1, 1], 2)
    with pytest.raises(ValueError, match=r"states: expected shape \(\.\.\., 2\)"):
        grid.reward([1, 2, 3])
    with pytest.raises(ValueError, match="R0"):
        envs.HyperGrid(R0=0.0)
    with pytest.raises(ValueError, match="height"):
        envs.HyperGrid(height=1)
    with pytest.raises(ValueError, match="env"):
        envs.hypergrid_from_golden({"name": "Box"})


def _masked_log_softmax(logits, valid):
    z = np.where(valid, logits, -np.inf)
    return z - np.logaddexp.reduce(z, axis=-1, keepdims=True)


def test_hypergrid_terminal_distribution_golden_policy_and_monte_carlo(golden):
    grid = envs.hypergrid_from_golden(golden["env"])
    states = grid.all_states()
    log_pf = _masked_log_softmax(
        np.asarray(golden["params"]["pf_logits"]), grid.forward_mask(states)
    )
    p = grid.terminal_distribution(log_pf)
    assert p.shape == (25,) and abs(p.sum() - 1) < 1e-12 and p.min() > 0
    rng = np.random.default_rng(0)
    n, counts = 40_000, np.zeros(25)
    x = np.zeros((n, 2), dtype=np.int64)
    alive = np.ones(n, bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        probs = np.exp(log_pf[grid.index(x[idx])])
        a = (rng.random(idx.size)[:, None] > np.cumsum(probs, 1)).sum(1)
        done = a == grid.exit_action
        np.add.at(counts, grid.index(x[idx[done]]), 1)
        alive[idx[done]] = False
        move = idx[~done]
        x[move] = grid.step(x[move], a[~done])
    freq = counts / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-9)


def test_hypergrid_terminal_distribution_one_axis_and_validation():
    grid = envs.HyperGrid(ndim=1, height=4)
    stop = 0.3  # exit with 0.3 wherever a move exists: geometric, truncated at the wall
    log_pf = np.log(np.array([[0.7, stop]] * 3 + [[1e-300, 1.0]]))
    log_pf[3, 0] = -np.inf
    p = grid.terminal_distribution(log_pf)
    np.testing.assert_allclose(p, [0.3, 0.7 * 0.3, 0.49 * 0.3, 0.343], rtol=1e-12)
    with pytest.raises(ValueError, match="invalid action"):
        grid.terminal_distribution(np.log(np.full((4, 2), 0.5)))
    with pytest.raises(ValueError, match=r"log_pf: expected shape \(4, 2\)"):
        grid.terminal_distribution(np.zeros((3, 2)))


@pytest.mark.parametrize(("ndim", "height"), [(2, 5), (2, 8), (3, 4)])
def test_balanced_policy_exits_follow_the_reward(ndim, height):
    grid = envs.HyperGrid(ndim=ndim, height=height)
    log_pf, log_F = grid.balanced_log_pf()
    R = grid.reward(grid.all_states())
    assert log_F[0] == pytest.approx(np.log(R.sum()), rel=1e-12)  # F(s_0) = Z
    p = grid.terminal_distribution(log_pf)
    np.testing.assert_allclose(p, R / R.sum(), rtol=1e-12)
    # sticky moves distort it
    p_sticky = grid.terminal_distribution(log_pf, alpha=0.25)
    assert abs(p_sticky.sum() - 1) < 1e-12 and np.abs(p_sticky - p).sum() > 1e-3


def test_sticky_grid_matches_monte_carlo():
    grid = envs.HyperGrid(ndim=2, height=4)
    log_pf, _ = grid.balanced_log_pf()
    alpha, n = 0.5, 40_000
    p = grid.terminal_distribution(log_pf, alpha=alpha)
    rng = np.random.default_rng(1)
    counts = np.zeros(grid.n_states)
    x = np.zeros((n, 2), dtype=np.int64)
    alive = np.ones(n, bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        probs = np.exp(log_pf[grid.index(x[idx])])
        a = (rng.random(idx.size)[:, None] > np.cumsum(probs, 1)).sum(1)
        valid = grid.forward_mask(x[idx])[:, :2]
        swap = (a != grid.exit_action) & (rng.random(idx.size) < alpha)
        u = rng.random(idx.size) * valid.sum(1)  # uniform among the valid axes
        pick = (u[:, None] >= np.cumsum(valid, 1)).sum(1)
        a = np.where(swap, pick, a)
        done = a == grid.exit_action
        np.add.at(counts, grid.index(x[idx[done]]), 1)
        alive[idx[done]] = False
        move = idx[~done]
        x[move] = grid.step(x[move], a[~done])
    freq = counts / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-9)
