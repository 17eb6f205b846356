"""Encoder tutorial: objective (2.30) against pymdp, hand-derived adjoints (2.31)-(2.36)
against autograd and finite differences, data, training, metrics, rollout, validation."""

import json

import numpy as np
import pytest

from reference import gradcheck
from reference.active_inference import Agent, envs, inference
from reference.active_inference import encoder as enc
from reference.active_inference import train_encoder as te

TOL = 1e-10


@pytest.fixture(scope="module")
def golden(golden_dir):
    g = json.loads((golden_dir / "active_inference_pymdp.json").read_text())["objective_gradient"]
    logits = np.asarray(g["logits"]).transpose(1, 0, 2)  # pymdp (N, T, K) -> (T, N, K)
    actions = np.asarray(g["actions"]).T[:-1]  # the last action is never used
    return g, logits, actions


def random_problem(rng, T=4, N=3, K=5, U=3, scale=3.0):
    """A random model (not the line world) with distinct sizes, to catch transposes."""
    logits = scale * rng.normal(size=(T, N, K))
    actions = rng.integers(0, U, size=(T - 1, N))
    A = rng.dirichlet(np.ones(K), size=K).T  # (O=K, S=K), columns sum to 1
    B = rng.dirichlet(np.ones(K), size=(K, U)).transpose(2, 0, 1)  # (S', S, U)
    D = rng.dirichlet(np.ones(K))
    return logits, actions, A, B, D


# --------------------------------------------------------------------------- golden


def test_objective_matches_pymdp(golden):
    g, logits, actions = golden
    total, parts, dlogits = enc.objective_and_grad(logits, actions)
    assert abs(parts["total"] - g["loss"]) <= TOL * abs(g["loss"])
    assert abs(parts["vfe"] - g["mean_vfe"]) <= TOL * abs(g["mean_vfe"])
    assert abs(parts["kl"] - g["temporal_kl"]) <= TOL * abs(g["temporal_kl"])
    assert float(total) == parts["total"]
    assert gradcheck.rel_error(dlogits.transpose(1, 0, 2), g["grad_logits"]) <= TOL


def test_forward_agrees_with_agent_core(golden):
    """Eqs. (2.25)-(2.28) are the core's fpi, VFE and empirical prior with soft observations."""
    _, logits, actions = golden
    A, B, _, D = envs.line_world_model()
    _, vfe, _, cache = enc.objective_forward(logits, actions)
    T, N, _ = logits.shape
    prior, total = [np.tile(D, (N, 1))], 0.0
    for t in range(T):
        obs = [enc.observation(logits[t])]
        qs = inference.fpi([np.tile(A, (N, 1, 1))], obs, prior, [[0]])
        F, _ = inference.vfe(qs, prior, [np.tile(A, (N, 1, 1))], obs, [[0]])
        total += F.sum()
        np.testing.assert_allclose(qs[0], cache["q"][t], rtol=1e-13, atol=1e-15)
        if t < T - 1:
            prior = inference.empirical_prior(
                [np.tile(B, (N, 1, 1, 1))], qs, actions[t][:, None], [[0]]
            )
    assert abs(total / (T * N) - float(vfe)) <= 1e-13 * abs(total)
    r = enc.predicted_observation(A, cache["p"][1])
    np.testing.assert_allclose(r, cache["r"][0], rtol=1e-15)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_gradient_vs_autograd_and_finite_differences(seed):
    rng = np.random.default_rng(seed)
    shape = dict(T=int(rng.integers(1, 6)), N=int(rng.integers(1, 4)), K=int(rng.integers(2, 6)))
    logits, actions, A, B, D = random_problem(rng, **shape)
    kw = dict(A=A, B=B, D=D, temperature=float(rng.uniform(0.1, 1.0)))
    _, _, dlogits = enc.objective_and_grad(logits, actions, **kw)

    def f(p):
        return enc.objective(p["l"], actions, **kw)

    ag = gradcheck.autograd_grads(f, {"l": logits})["l"]
    fd = gradcheck.numerical_grads(f, {"l": logits}, h=1e-6)["l"]
    assert gradcheck.rel_error(dlogits, ag) <= 1e-12
    assert gradcheck.rel_error(dlogits, fd) <= 1e-7


def test_gradient_with_clipped_entries_and_zero_prior():
    """Saturated softmax (entries below 1e-8 clipped) and a one-hot D (ln+ 0 clipped)."""
    rng = np.random.default_rng(7)
    logits, actions, A, B, _ = random_problem(rng, T=3, N=2, K=4, scale=8.0)
    D = np.eye(4)[1]
    _, _, dlogits = enc.objective_and_grad(logits, actions, A=A, B=B, D=D)
    s = np.exp(logits / enc.TEMPERATURE - (logits / enc.TEMPERATURE).max(-1, keepdims=True))
    assert np.any(s / s.sum(-1, keepdims=True) < enc.OBS_EPS)  # the clip is active
    ag = gradcheck.autograd_grads(lambda p: enc.objective(p["l"], actions, A, B, D), {"l": logits})
    assert gradcheck.rel_error(dlogits, ag["l"]) <= 1e-12


def test_clip_mask_matches_autograd_at_the_tie():
    import autograd
    import autograd.numpy as anp

    x = np.array([0.5e-8, 1e-8, 2e-8])
    ag = autograd.grad(lambda v: anp.sum(anp.maximum(v, 1e-8)))(x)
    np.testing.assert_array_equal(enc.clip_grad_mask(x, 1e-8), ag)
    np.testing.assert_array_equal(ag, [0.0, 0.5, 1.0])


def test_parameter_gradient_through_mlp(rng):
    params = enc.init_encoder(rng, sizes=(2, 6, 5, 5))
    data = envs.gaussian_sequences(3, rng, T=3)
    _, _, grads = enc.loss_and_grads(params, data["x"], data["actions"])

    def f(p):
        return enc.objective(enc.encoder_logits(p, data["x"]), data["actions"])

    ag = gradcheck.autograd_grads(f, params)
    assert gradcheck.max_rel_error(grads, ag)["max"] <= 1e-12


def test_float32_is_accepted(golden):
    _, logits, actions = golden
    total, _, d32 = enc.objective_and_grad(logits.astype(np.float32), actions)
    _, _, d64 = enc.objective_and_grad(logits, actions)
    assert d32.dtype == np.float32
    assert gradcheck.rel_error(d32, d64) <= 1e-4


# --------------------------------------------------------------------------- data


def test_gaussian_sequences_follow_the_model(rng):
    d = envs.gaussian_sequences(500, rng, T=6)
    assert d["x"].shape == (6, 500, 2) and d["states"].shape == (6, 500)
    assert d["actions"].shape == (5, 500)
    np.testing.assert_array_equal(np.bincount(d["states"][0]), [100] * 5)
    resid = d["x"] - envs.GAUSSIAN_MEANS[d["states"]]
    assert abs(resid.mean()) < 0.03 and abs(resid.std() - 1.0) < 0.03
    B = envs.line_world_model()[1]
    s, a, s_next = d["states"][:-1], d["actions"], d["states"][1:]
    stay = (a == envs.STAY) & (s == 2)
    assert abs((s_next[stay] == 2).mean() - B[2, 2, envs.STAY]) < 0.05
    assert envs.env_step(0, envs.FORWARD, B) == 1 and envs.env_step(0, envs.BACK, B) == 0


# --------------------------------------------------------------------------- training


def test_short_training_decreases_the_loss():
    rng = np.random.default_rng(0)
    train, val = envs.tutorial_datasets(rng, n_train=64, n_val=32)
    params = enc.init_encoder(rng, sizes=(2, 32, 32, 5))
    res = te.train(
        params, train, rng, steps=30, lr=3e-3, val_data=val, eval_every=10, progress=False
    )
    h = res.history
    assert h["total"].shape == h["vfe"].shape == h["kl"].shape == (30,)
    assert h["total"][-5:].mean() < h["total"][:5].mean()
    assert h["val_total"][-1] < h["val_total"][0]
    np.testing.assert_allclose(h["total"], h["vfe"] + enc.KL_WEIGHT * h["kl"], rtol=1e-12)


@pytest.mark.slow
def test_tutorial_recipe_reaches_the_targets():
    """200 plain-SGD steps (lr 1e-3, batch 16) on the tutorial's data; ~2 s on 2 cores.

    Seed 3 is one of the runs that does not fall into the merged-cluster local optimum (see
    the chapter); the pointwise Bayes rate of the encoder on this mixture is about 0.94.
    """
    rng = np.random.default_rng(3)
    train, val = envs.tutorial_datasets(rng)
    res = te.train(enc.init_encoder(rng), train, rng, progress=False)
    m = te.evaluate(res.params, val)
    assert m["encoder_accuracy"] >= 0.94 and m["state_accuracy"] >= 0.95
    roll = te.rollout(res.params, np.random.default_rng(1))
    assert roll["states"][-1] == envs.K - 1


# --------------------------------------------------------------------------- metrics


def test_aligned_accuracy_and_confusion():
    true = np.array([0, 1, 2, 3, 4, 0])
    pred = np.array([2, 0, 1, 4, 3, 2])  # a relabelling: 2->0, 0->1, 1->2, 4->3, 3->4
    acc, perm = te.aligned_accuracy(true, pred)
    assert acc == 1.0 and np.array_equal(np.asarray(perm)[pred], true)
    cm = te.confusion_matrix(true, np.asarray(perm)[pred])
    np.testing.assert_array_equal(cm, np.eye(5))


def test_rollout_with_an_oracle_encoder_reaches_the_goal():
    """An encoder that outputs large logits at the nearest mean is near-perfect."""
    M = envs.GAUSSIAN_MEANS
    params = {"W1": M.T * 10.0, "b1": -5.0 * (M**2).sum(1)}  # 10 * (x.mu - |mu|^2 / 2)
    roll = te.rollout(params, np.random.default_rng(0))
    assert roll["states"].tolist()[:5] == [0, 1, 2, 3, 4] and roll["states"][-1] == 4
    assert roll["qs"].shape == (8, 5) and roll["x"].shape == (8, 2)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(logits=np.zeros((3, 2))), "logits"),
        (dict(logits=np.full((3, 2, 5), np.nan)), "logits"),
        (dict(actions=np.zeros((3, 2), dtype=int)), "actions"),
        (dict(actions=np.zeros((2, 2))), "actions"),
        (dict(actions=np.full((2, 2), 3)), "actions"),
        (dict(A=np.ones((5, 5))), "A"),
        (dict(A=np.eye(4)), "A"),
        (dict(B=np.ones((5, 5, 3)) / 4), "B"),
        (dict(D=np.ones(4) / 4), "D"),
        (dict(temperature=0.0), "temperature"),
        (dict(kl_weight=-1.0), "kl_weight"),
    ],
)
def test_validation_names_the_argument(change, match):
    args = dict(logits=np.zeros((3, 2, 5)), actions=np.zeros((2, 2), dtype=int))
    args.update(change)
    with pytest.raises(ValueError, match=match):
        enc.objective(**args)


def test_validation_of_data_and_training(rng):
    with pytest.raises(ValueError, match="rng"):
        envs.gaussian_sequences(4, 0)
    with pytest.raises(ValueError, match="num_sequences"):
        envs.gaussian_sequences(0, rng)
    with pytest.raises(ValueError, match="scale"):
        envs.emit(np.array([0]), rng, scale=0.0)
    data = envs.gaussian_sequences(4, rng, T=2)
    params = enc.init_encoder(rng, sizes=(2, 3, 5))
    with pytest.raises(ValueError, match="batch_size"):
        te.train(params, data, rng, batch_size=5, progress=False)
    with pytest.raises(ValueError, match="x"):
        enc.loss_and_grads(params, data["x"][0], data["actions"])


def test_agent_is_the_rollout_planner():
    A, B, C, D = envs.line_world_model()
    agent = Agent(A, B, C, D, policy_len=4, num_iter=1)
    q_pi, _ = agent.infer_policies(np.eye(5)[0])
    assert int(agent.sample_action(q_pi)[0]) == envs.FORWARD


# --------------------------------------------------------------------------- plots


def test_plots_and_gifs(tmp_path):
    from PIL import Image

    from reference.active_inference import plots

    rng = np.random.default_rng(0)
    train, val = envs.tutorial_datasets(rng, n_train=16, n_val=16, T=3)
    params = enc.init_encoder(rng, sizes=(2, 8, 5))
    res = te.train(params, train, rng, steps=3, val_data=val, eval_every=1, progress=False)
    m = te.evaluate(res.params, val)
    plots.training_curves(res.history).savefig(tmp_path / "curves.png")
    plots.confusion_matrices([m["state_confusion"], m["encoder_confusion"]], ["q", "enc"])
    roll = te.rollout(res.params, rng, horizon=3)
    plots.rollout_density_animation(roll, tmp_path / "density.gif", grid=40)
    plots.rollout_decision_animation(res.params, roll, tmp_path / "decision.gif", grid=40)
    for name in ("density.gif", "decision.gif"):
        with Image.open(tmp_path / name) as im:
            assert im.n_frames == 3


def test_restarts_keep_the_lowest_validation_objective():
    rng = np.random.default_rng(1)
    train, val = envs.tutorial_datasets(rng, n_train=32, n_val=16, T=3)
    best, scores = te.train_restarts(
        train, val, rng, restarts=3, sizes=(2, 8, 5), steps=5, progress=False
    )
    assert scores.shape == (3,)
    assert te.evaluate_objective(best.params, val)["total"] == scores.min()
