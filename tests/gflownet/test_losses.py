"""Losses (4.10)-(4.16): hand-derived gradients against autograd and central differences on
random shapes, the source's SDB indexing written out as a loop, and input validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import gradcheck, nn
from reference.gflownet import kernels, losses

AUTO_TOL, FD_TOL = 1e-12, 1e-7


def prefix_mask(rng, T, B):
    """Ones then zeros per column, every trajectory at least one transition long."""
    n = rng.integers(1, T + 1, size=B)
    return (np.arange(T)[:, None] < n[None, :]).astype(float)


def check_grads(f, inputs, grads, keys=None):
    keys = list(grads) if keys is None else keys
    auto = gradcheck.autograd_grads(lambda p: f(p)[0], inputs, keys=keys)
    num = gradcheck.numerical_grads(lambda p: f(p)[0], inputs, h=1e-6, keys=keys)
    for k in keys:
        assert gradcheck.rel_error(grads[k], auto[k]) < AUTO_TOL, k
        assert gradcheck.rel_error(grads[k], num[k]) < FD_TOL, k


def sdb_inputs(rng, K, B, V, with_dyn=True):
    x = {
        "log_flows": rng.normal(size=(K, B)),
        "fwd_logits": 2 * rng.normal(size=(K, B, V)),
        "bwd_logits": 2 * rng.normal(size=(K, B, V)),
        "log_reward": rng.normal(size=B) - 1,
    }
    if with_dyn:
        x["dyn_logprobs"] = nn.log_softmax(rng.normal(size=(K - 1, B, V)))
    tokens = {"intended": rng.integers(0, V, (K, B)), "realized": rng.integers(0, V, (K, B))}
    mask = (rng.random((K - 1, B)) < 0.8).astype(float)
    mask[0, 0] = 1.0
    return x, tokens, mask


def sdb_call(fn, x, tokens, mask):
    return fn(x["log_flows"], x["fwd_logits"], x["bwd_logits"], x.get("dyn_logprobs"),
              tokens["intended"], tokens["realized"], x["log_reward"], mask)  # fmt: skip


# --------------------------------------------------------------------------- SDB (4.15)


@settings(max_examples=10, deadline=None)
@given(K=st.integers(2, 6), B=st.integers(1, 4), V=st.integers(2, 5), seed=st.integers(0, 2**31))
def test_sdb_gradients_random_shapes(K, B, V, seed):
    rng = np.random.default_rng(seed)
    for with_dyn in (True, False):
        x, tok, mask = sdb_inputs(rng, K, B, V, with_dyn)
        loss, r, grads = sdb_call(losses.stochastic_db_grad, x, tok, mask)
        loss2, r2 = sdb_call(losses.stochastic_db_loss, x, tok, mask)
        assert loss == loss2 and np.array_equal(r, r2) and r.shape == (K - 1, B)
        f = lambda p, tok=tok, mask=mask: sdb_call(losses.stochastic_db_loss, p, tok, mask)
        check_grads(f, x, grads, keys=["log_flows", "fwd_logits", "bwd_logits", "log_reward"])


def test_sdb_matches_the_source_indexing_written_as_a_loop(rng):
    """d_k = f_k + log pi_k[a_{k+1}] + log Phat_k[x_{k+1}] - g_k - log B_{k+1}[a_{k+1}]."""
    K, B, V = 8, 5, 4
    x, tok, mask = sdb_inputs(rng, K, B, V)
    lpi, lB = nn.log_softmax(x["fwd_logits"]), nn.log_softmax(x["bwd_logits"])
    d = np.zeros((K - 1, B))
    for b in range(B):
        for k in range(K - 1):
            a, xr = tok["intended"][k + 1, b], tok["realized"][k + 1, b]
            g = x["log_flows"][k + 1, b] if k < K - 2 else x["log_reward"][b]
            d[k, b] = (x["log_flows"][k, b] + lpi[k, b, a] + x["dyn_logprobs"][k, b, xr]
                       - g - lB[k + 1, b, a])  # fmt: skip
    loss, r = sdb_call(losses.stochastic_db_loss, x, tok, mask)
    np.testing.assert_allclose(r, d, rtol=1e-14, atol=1e-14)
    assert loss == pytest.approx((mask * d**2).sum() / mask.sum(), rel=1e-14)


def test_sdb_without_dynamics_is_db_and_dynamics_get_no_gradient(rng):
    x, tok, mask = sdb_inputs(rng, 5, 3, 4)
    _, r_sdb, grads = sdb_call(losses.stochastic_db_grad, x, tok, mask)
    x_db = {k: v for k, v in x.items() if k != "dyn_logprobs"}
    _, r_db = sdb_call(losses.stochastic_db_loss, x_db, tok, mask)
    picked = np.take_along_axis(x["dyn_logprobs"], tok["realized"][1:, :, None], -1)[..., 0]
    np.testing.assert_allclose(r_sdb - r_db, picked, atol=1e-14)
    assert "dyn_logprobs" not in grads
    assert np.all(grads["fwd_logits"][-1] == 0) and np.all(grads["bwd_logits"][0] == 0)


def test_sdb_validation(rng):
    x, tok, mask = sdb_inputs(rng, 4, 2, 3)
    with pytest.raises(ValueError, match="dyn_logprobs"):
        bad = {**x, "dyn_logprobs": x["dyn_logprobs"][:-1]}
        sdb_call(losses.stochastic_db_loss, bad, tok, mask)
    with pytest.raises(ValueError, match="intended"):
        sdb_call(losses.stochastic_db_loss, x, {**tok, "intended": tok["intended"] + 5}, mask)
    with pytest.raises(ValueError, match="mask"):
        sdb_call(losses.stochastic_db_loss, x, tok, mask[:-1])
    with pytest.raises(ValueError, match="log_reward"):
        sdb_call(losses.stochastic_db_loss, {**x, "log_reward": x["log_reward"][:1]}, tok, mask)


@pytest.mark.parametrize("fn", [losses.stochastic_db_loss, losses.stochastic_db_grad,
                                kernels.stochastic_db_grad])  # fmt: skip
def test_sdb_validation_of_values(rng, fn):
    """Lists are arrays; NaN/inf name the argument; Phat rows must be log-normalised and
    may hold -inf only for tokens other than the realized one."""
    x, tok, mask = sdb_inputs(rng, 4, 2, 3)
    as_lists = {k: v.tolist() for k, v in x.items()}
    loss, r = sdb_call(fn, as_lists, {k: v.tolist() for k, v in tok.items()}, mask.tolist())[:2]
    np.testing.assert_allclose(r, sdb_call(fn, x, tok, mask)[1], rtol=1e-13, atol=1e-13)
    for name in ("log_flows", "fwd_logits", "bwd_logits", "log_reward", "dyn_logprobs"):
        for bad in (np.nan, np.inf, -np.inf):
            if name == "dyn_logprobs" and bad == -np.inf:
                continue  # -inf is meaningful there (below)
            a = x[name].copy()
            a.flat[1] = bad
            with pytest.raises(ValueError, match=f"^{name}: expected finite values"):
                sdb_call(fn, {**x, name: a}, tok, mask)
    with pytest.raises(ValueError, match=r"^dyn_logprobs: expected rows .* off by 0\.5"):
        shifted = x["dyn_logprobs"] + np.array([0, 0.5, 0])[:, None, None]
        sdb_call(fn, {**x, "dyn_logprobs": shifted}, tok, mask)
    # a token the dynamics rule out (log Phat = -inf): fine unless it is the realized one
    x_tok = tok["realized"][1:]
    dyn = np.full(x["dyn_logprobs"].shape, -np.inf)
    np.put_along_axis(dyn, x_tok[..., None], 0.0, axis=-1)  # deterministic dynamics
    loss, r = sdb_call(fn, {**x, "dyn_logprobs": dyn}, tok, mask)[:2]
    assert np.isfinite(loss) and np.all(np.isfinite(r))
    _, r0 = sdb_call(losses.stochastic_db_loss, {**x, "dyn_logprobs": None}, tok, mask)
    np.testing.assert_allclose(r, r0, rtol=1e-13, atol=1e-13)  # log Phat[x] = 0: plain DB
    impossible = np.roll(dyn, 1, axis=-1)
    with pytest.raises(ValueError, match="^dyn_logprobs: .*realized token"):
        sdb_call(fn, {**x, "dyn_logprobs": impossible}, tok, mask)


def test_db_tb_zvar_subtb_fm_validation(rng):
    T, B = 3, 2
    mask = prefix_mask(rng, T, B)
    pf, pb, F, R = (
        -rng.random((T, B)),
        -rng.random((T, B)),
        rng.normal(size=(T, B)),
        rng.normal(size=B),
    )
    F_sub = np.concatenate([F, R[None]])  # SubTB's log F along the chain, log R last
    calls = {
        "db": lambda pf=pf, pb=pb, R=R: losses.detailed_balance(F, pf, F + 1, pb, mask),
        "tb": lambda pf=pf, pb=pb, R=R: losses.trajectory_balance(0.5, pf, pb, R, mask),
        "zvar": lambda pf=pf, pb=pb, R=R: losses.log_partition_variance(pf, pb, R, mask),
        "subtb": lambda pf=pf, pb=pb, R=R: losses.subtrajectory_balance(F_sub, pf, pb, mask),
    }  # fmt: skip
    for name, call in calls.items():
        ref = call()[0]
        assert call(pf.tolist(), pb.tolist(), R.tolist())[0] == pytest.approx(ref, rel=1e-14)
        for bad in (np.nan, -np.inf):  # -inf log P: an impossible transition (padding too)
            a = pf.copy()
            a[-1, -1] = bad
            with pytest.raises(ValueError, match=r"^log_pf: expected finite values.*\(2, 1\)"):
                call(pf=a)
            with pytest.raises(ValueError, match="^log_pb: expected finite values"):
                call(pb=a)
        if name in ("tb", "zvar"):
            with pytest.raises(ValueError, match="^log_reward: expected finite values"):
                call(R=np.array([0.0, -np.inf]))
            with pytest.raises(ValueError, match=r"^log_reward: expected shape \(2,\)"):
                call(R=R[:1])
    with pytest.raises(ValueError, match=r"^log_F_to: expected shape \(3, 2\)"):
        losses.detailed_balance(F, pf, F[:, :1], pb, mask)
    with pytest.raises(ValueError, match="^log_Z: expected finite values"):
        losses.trajectory_balance_grad(np.nan, pf, pb, R, mask)
    # FM: -inf (a zero edge flow) or NaN is ignored where the mask is off, an error where on
    log_in, in_mask = np.array([[0.0, -np.inf]]), [[True, False]]
    log_out, out_mask = np.array([[np.nan, 0.0]]), [[False, True]]
    loss, r = losses.flow_matching(log_in.tolist(), in_mask, log_out, out_mask)
    assert loss == 0.0 and r.tolist() == [0.0]
    with pytest.raises(ValueError, match="^log_in: expected finite values"):
        losses.flow_matching_grad(log_in, [[True, True]], log_out, out_mask)
    with pytest.raises(ValueError, match="^log_out: expected finite values"):
        losses.flow_matching(log_in, in_mask, log_out, [[True, True]])
    with pytest.raises(ValueError, match=r"^in_mask: expected shape \(1, 2\)"):
        losses.flow_matching(log_in, [[True]], log_out, out_mask)


# --------------------------------------------------------------------------- DB, TB, ZVar, SubTB


@settings(max_examples=10, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_db_tb_zvar_subtb_gradients_random_shapes(T, B, seed):
    rng = np.random.default_rng(seed)
    mask = prefix_mask(rng, T, B)
    pf, pb = -rng.random((T, B)) * 3, -rng.random((T, B)) * 3
    logR = rng.normal(size=B)

    x = {"log_F_from": rng.normal(size=(T, B)), "log_pf": pf, "log_F_to": rng.normal(size=(T, B)),
         "log_pb": pb}  # fmt: skip
    _, _, g = losses.detailed_balance_grad(*x.values(), mask)
    check_grads(lambda p: losses.detailed_balance(*p.values(), mask), x, g)

    x = {"log_Z": np.array(0.3), "log_pf": pf, "log_pb": pb, "log_reward": logR}
    _, _, g = losses.trajectory_balance_grad(*x.values(), mask)
    check_grads(lambda p: losses.trajectory_balance(*p.values(), mask), x, g)

    x = {"log_pf": pf, "log_pb": pb, "log_reward": logR}
    _, _, g = losses.log_partition_variance_grad(*x.values(), mask)
    check_grads(lambda p: losses.log_partition_variance(*p.values(), mask), x, g)

    lam = float(rng.uniform(0.1, 1.5))
    x = {"log_F": rng.normal(size=(T + 1, B)), "log_pf": pf, "log_pb": pb}
    _, _, g = losses.subtrajectory_balance_grad(*x.values(), mask, lam=lam)
    check_grads(lambda p: losses.subtrajectory_balance(*p.values(), mask, lam=lam), x, g)


def test_subtb_matches_explicit_double_loop(rng):
    T, B, lam = 5, 4, 0.7
    mask = prefix_mask(rng, T, B)
    log_F, pf, pb = rng.normal(size=(T + 1, B)), rng.normal(size=(T, B)), rng.normal(size=(T, B))
    total = 0.0
    for b in range(B):
        n = int(mask[:, b].sum())
        num = den = 0.0
        for i in range(n + 1):
            for j in range(i + 1, n + 1):
                r = log_F[i, b] + (pf[i:j, b] - pb[i:j, b]).sum() - log_F[j, b]
                num += lam ** (j - i) * r * r
                den += lam ** (j - i)
        total += num / den
    loss, _ = losses.subtrajectory_balance(log_F, pf, pb, mask, lam=lam)
    assert loss == pytest.approx(total / B, rel=1e-13)


def test_tb_zero_iff_all_trajectories_balanced(rng):
    T, B = 4, 6
    mask = prefix_mask(rng, T, B)
    pf, pb = rng.normal(size=(T, B)), rng.normal(size=(T, B))
    log_Z = 1.7
    logR = log_Z + (mask * (pf - pb)).sum(axis=0)
    assert losses.trajectory_balance(log_Z, pf, pb, logR, mask)[0] == pytest.approx(0, abs=1e-24)
    assert losses.log_partition_variance(pf, pb, logR + 3.0, mask)[0] == pytest.approx(0, abs=1e-24)


# --------------------------------------------------------------------------- FM and CE


@settings(max_examples=10, deadline=None)
@given(N=st.integers(1, 5), P=st.integers(1, 4), C=st.integers(1, 4), seed=st.integers(0, 2**31))
def test_flow_matching_gradients(N, P, C, seed):
    rng = np.random.default_rng(seed)
    in_mask, out_mask = rng.random((N, P)) < 0.7, rng.random((N, C)) < 0.7
    in_mask[:, 0] = out_mask[:, -1] = True
    x = {"log_in": rng.normal(size=(N, P)), "log_out": rng.normal(size=(N, C))}
    loss, r, g = losses.flow_matching_grad(x["log_in"], in_mask, x["log_out"], out_mask)
    assert np.all(g["log_in"][~in_mask] == 0) and np.all(g["log_out"][~out_mask] == 0)
    check_grads(lambda p: losses.flow_matching(p["log_in"], in_mask, p["log_out"], out_mask),
                x, g)  # fmt: skip


def test_flow_matching_value():
    log_in = np.log([[1.0, 2.0]])
    log_out = np.log([[0.5, 0.5, 2.0]])  # two children and the reward
    loss, r = losses.flow_matching(log_in, np.ones((1, 2), bool), log_out, np.ones((1, 3), bool))
    assert r[0] == pytest.approx(0.0, abs=1e-15)
    loss, r = losses.flow_matching(log_in, np.ones((1, 2), bool), log_out, [[1, 1, 0]])
    assert r[0] == pytest.approx(np.log(3.0), rel=1e-14)


def test_dynamics_cross_entropy_gradient(rng):
    logits = 3 * rng.normal(size=(4, 3, 5))
    realized = rng.integers(0, 5, (4, 3))
    mask = (rng.random((4, 3)) < 0.7).astype(float)
    mask[0, 0] = 1
    loss, d = losses.dynamics_cross_entropy(logits, realized, mask)
    f = lambda p: losses.dynamics_cross_entropy(p["logits"], realized, mask)[0]
    auto = gradcheck.autograd_grads(f, {"logits": logits})["logits"]
    num = gradcheck.numerical_grads(f, {"logits": logits})["logits"]
    assert gradcheck.rel_error(d, auto) < AUTO_TOL and gradcheck.rel_error(d, num) < FD_TOL
    logp = nn.log_softmax(logits)
    picked = np.take_along_axis(logp, realized[..., None], -1)[..., 0]
    assert loss == pytest.approx(-(mask * picked).sum() / mask.sum(), rel=1e-14)
    with pytest.raises(ValueError, match="realized"):
        losses.dynamics_cross_entropy(logits, realized[:-1])
