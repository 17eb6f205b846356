"""torchgfn 2.4.1 golden values on a 5x5 HyperGrid: TB, DB per transition and ZVar (float32
file, tolerance 1e-5 relative), recomputed with our losses from the same tabular logits."""

import json

import numpy as np
import pytest

from reference.gflownet import losses

TOL = 1e-5


@pytest.fixture(scope="module")
def golden(golden_dir):
    return json.loads((golden_dir / "gflownet_torchgfn.json").read_text())


@pytest.fixture(scope="module")
def batch(golden):
    """Time-major ``(T, B)`` arrays of the 8 trajectories in torchgfn's conventions: masked
    log-softmax (no +1 move off the grid; no backward move below 0), the exit action counts
    in the forward sum and has no P_B term, its DB target is log R."""
    H = golden["env"]["height"]
    p = golden["params"]
    coords = np.array([[i // H, i % H] for i in range(H * H)])
    valid_f = np.concatenate([coords < H - 1, np.ones((H * H, 1), bool)], axis=1)
    valid_b = coords > 0
    valid_b[~valid_b.any(axis=1)] = True  # s_0 has no parent; its row is never used
    log_pf_all = losses.masked_log_softmax(np.asarray(p["pf_logits"]), valid_f)
    log_pb_all = losses.masked_log_softmax(np.asarray(p["pb_logits"]), valid_b)
    log_F = np.asarray(p["logF"])
    trajs = golden["trajectories"]
    T, B = max(len(t["actions"]) for t in trajs), len(trajs)
    arrays = {k: np.zeros((T, B)) for k in ("F_from", "pf", "F_to", "pb", "mask")}
    log_reward = np.array([t["log_reward"] for t in trajs])
    for b, t in enumerate(trajs):
        idx = [s[0] * H + s[1] for s in t["states"]]
        for k, a in enumerate(t["actions"]):
            arrays["mask"][k, b] = 1.0
            arrays["F_from"][k, b] = log_F[idx[k]]
            arrays["pf"][k, b] = log_pf_all[idx[k], a]
            if a == 2:  # exit: F(x) := R(x), no backward step
                arrays["F_to"][k, b] = log_reward[b]
            else:
                arrays["F_to"][k, b] = log_F[idx[k + 1]]
                arrays["pb"][k, b] = log_pb_all[idx[k + 1], a]
    return arrays, log_reward, float(p["logZ"])


def test_db_per_transition_matches_torchgfn(golden, batch):
    a, _, _ = batch
    loss, r = losses.detailed_balance(a["F_from"], a["pf"], a["F_to"], a["pb"], a["mask"])
    expected = np.asarray(golden["torchgfn"]["db_scores_per_transition"])
    got = r[a["mask"] > 0]  # C order of a (T, B) array = torchgfn's time-major flattening
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=TOL, atol=TOL)
    assert loss == pytest.approx(golden["torchgfn"]["db_loss_mean"], rel=TOL)


def test_tb_matches_torchgfn(golden, batch):
    a, log_reward, log_Z = batch
    loss, r = losses.trajectory_balance(log_Z, a["pf"], a["pb"], log_reward, a["mask"])
    np.testing.assert_allclose(r**2, golden["torchgfn"]["tb_loss_per_traj"], rtol=TOL)
    assert loss == pytest.approx(golden["torchgfn"]["tb_loss_mean"], rel=TOL)


def test_zvar_matches_torchgfn(golden, batch):
    a, log_reward, _ = batch
    loss, c = losses.log_partition_variance(a["pf"], a["pb"], log_reward, a["mask"])
    assert loss == pytest.approx(golden["torchgfn"]["zvar_loss_mean"], rel=TOL)
    assert abs(c.sum()) < 1e-9


def test_subtb_with_lambda_to_zero_is_db_per_trajectory(batch):
    """SubTB's weights lambda^(j-i) concentrate on single transitions as lambda -> 0, where
    each trajectory's term is its mean squared DB residual."""
    a, log_reward, _ = batch
    T, B = a["mask"].shape
    n = a["mask"].sum(axis=0).astype(int)
    log_F = np.zeros((T + 1, B))
    log_F[:T] = a["F_from"]
    log_F[n, np.arange(B)] = log_reward
    sub, _ = losses.subtrajectory_balance(log_F, a["pf"], a["pb"], a["mask"], lam=1e-9)
    _, r = losses.detailed_balance(a["F_from"], a["pf"], a["F_to"], a["pb"], a["mask"])
    per_traj = (a["mask"] * r**2).sum(axis=0) / n
    assert sub == pytest.approx(per_traj.mean(), rel=1e-7)


def test_tb_training_on_the_golden_hypergrid_reaches_the_target():
    """torchgfn's conventions end to end: a tabular forward policy with the exit action, the
    uniform backward policy, log Z; on-policy TB with our loss and gradient (Adam) drives the
    exact terminal distribution of the 5x5 HyperGrid (computed by dynamic programming) to
    R / Z."""
    from reference import nn
    from reference.gflownet.envs import HyperGrid

    env = HyperGrid(2, 5)
    S = env.all_states()
    n, H = len(S), env.height
    valid_f, valid_b = env.forward_mask(S), env.backward_mask(S)
    log_pb_all = np.where(valid_b, -np.log(np.maximum(valid_b.sum(1, keepdims=True), 1)), 0.0)
    target = env.reward(S) / env.reward(S).sum()
    order = np.argsort(S.sum(axis=1), kind="stable")  # parents before children
    rng = np.random.default_rng(0)
    params = {"logits": np.zeros((n, 3)), "log_Z": np.zeros(())}
    opt = nn.Adam(lr=0.05)
    state = opt.init(params)

    def terminal_distribution(logits):
        p = np.exp(losses.masked_log_softmax(logits, valid_f))
        reach, term = np.zeros(n), np.zeros(n)
        reach[0] = 1.0
        for s in order:
            term[s] = reach[s] * p[s, 2]
            for axis in range(2):
                if valid_f[s, axis]:
                    reach[env.index(S[s] + np.eye(2, dtype=int)[axis])] += reach[s] * p[s, axis]
        return term

    l1_start = np.abs(terminal_distribution(params["logits"]) - target).sum()
    T, B = 2 * (H - 1) + 1, 64
    for _ in range(300):
        logp = losses.masked_log_softmax(params["logits"], valid_f)
        x = np.zeros((B, 2), dtype=int)
        visited, actions = np.zeros((T, B), dtype=int), np.zeros((T, B), dtype=int)
        mask, log_pb = np.zeros((T, B)), np.zeros((T, B))
        alive = np.ones(B, bool)
        for t in range(T):
            idx = env.index(x)
            p = np.exp(logp[idx])
            a = (rng.random(B)[:, None] * p.sum(1, keepdims=True) >= p.cumsum(1)).sum(1)
            a = np.minimum(a, 2)
            visited[t], actions[t], mask[t] = idx, a, alive
            moving = alive & (a < 2)
            x[moving] += np.eye(2, dtype=int)[a[moving]]
            log_pb[t] = np.where(moving, log_pb_all[env.index(x), np.minimum(a, 1)], 0.0)
            alive = moving
        log_pf = np.take_along_axis(logp[visited], actions[..., None], -1)[..., 0] * mask
        log_R = env.log_reward(x)
        _, _, g = losses.trajectory_balance_grad(params["log_Z"], log_pf, log_pb, log_R, mask)
        d_logp = np.zeros((T, B, 3))
        np.put_along_axis(d_logp, actions[..., None], (g["log_pf"] * mask)[..., None], -1)
        p_all = np.exp(logp)
        d_rows = d_logp - p_all[visited] * d_logp.sum(-1, keepdims=True)  # log-softmax VJP
        d_logits = np.zeros((n, 3))
        np.add.at(d_logits, visited.ravel(), d_rows.reshape(-1, 3))
        grads = {"logits": np.where(valid_f, d_logits, 0.0), "log_Z": np.asarray(g["log_Z"])}
        params, state = opt.step(params, grads, state)
    l1_end = np.abs(terminal_distribution(params["logits"]) - target).sum()
    print(f"HyperGrid TB: exact L1 {l1_start:.3f} -> {l1_end:.4f}")
    assert l1_start > 0.5 and l1_end < 0.05, (l1_start, l1_end)
    assert float(params["log_Z"]) == pytest.approx(np.log(env.reward(S).sum()), abs=0.1)
