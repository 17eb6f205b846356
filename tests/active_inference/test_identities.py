"""Chapter 2 identities: VFE vs exact posterior, fpi vs the exact filter, EFE terms, checks."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.active_inference import EPS, Agent, control, inference
from reference.active_inference.envs import line_world_model as line_world
from reference.active_inference.maths import entropy, kl_divergence, log_stable
from reference.nn import log_softmax


def random_model(rng, S, O, U, sharp=2.0):
    """Random single-factor model with all entries well above eps (so ln+ = ln)."""
    A = rng.random((O, S)) ** sharp + 1e-3
    B = rng.random((S, S, U)) ** sharp + 1e-3
    return A / A.sum(0), B / B.sum(0), rng.normal(size=O), rng.dirichlet(np.ones(S))


def test_eps_is_float64_machine_epsilon():
    assert EPS == 2.220446049250313e-16
    assert float(log_stable(np.array(0.0))) == pytest.approx(-36.04365338911715, abs=1e-12)


# --------------------------------------------------------------------------- VFE (2.8)-(2.10)


def test_vfe_is_kl_to_exact_posterior_minus_log_evidence(rng):
    A, B, C, D = random_model(rng, S=4, O=6, U=2)
    o = 3
    obs = [np.eye(6)[o][None]]
    prior = [D[None]]
    post, log_Z = inference.exact_posterior([A[None]], obs, prior, [[0]])
    assert float(log_Z[0]) == pytest.approx(np.log(D @ A[o]), rel=1e-13)  # ln p(o)
    for _ in range(5):
        q = rng.dirichlet(np.ones(4))[None]
        F, parts = inference.vfe([q], prior, [A[None]], obs, [[0]])
        assert float(F[0]) == pytest.approx(float(kl_divergence(q, post)[0] - log_Z[0]), rel=1e-12)
        assert float(F[0]) > -float(log_Z[0])
        total = parts["neg_entropy_t"] + parts["prior_cross_entropy_t"] - parts["accuracy_t"]
        assert float(total[0]) == pytest.approx(float(F[0]), rel=1e-14)
    F_min, _ = inference.vfe([post], prior, [A[None]], obs, [[0]])
    assert float(F_min[0]) == pytest.approx(-float(log_Z[0]), rel=1e-12)


def test_vfe_identity_for_mean_field_over_two_factors(rng):
    S, O = (3, 4), (5, 2)
    deps = [[0, 1], [1]]
    A = [rng.dirichlet(np.ones(O[0]), size=S).transpose(2, 0, 1), rng.dirichlet(np.ones(2), 4).T]
    obs = [rng.dirichlet(np.ones(O[0]))[None], np.eye(2)[1][None]]
    prior = [rng.dirichlet(np.ones(s))[None] for s in S]
    A = [a[None] for a in A]
    joint, log_Z = inference.exact_posterior(A, obs, prior, deps)
    qs = inference.fpi(A, obs, prior, deps, num_iter=16)
    F, _ = inference.vfe(qs, prior, A, obs, deps)
    q_joint = qs[0][:, :, None] * qs[1][:, None, :]
    kl = np.sum(q_joint * (np.log(q_joint) - np.log(joint)))
    assert float(F[0]) == pytest.approx(kl - float(log_Z[0]), rel=1e-12)
    assert float(F[0]) >= -float(log_Z[0])


# --------------------------------------------------------------------------- fpi vs exact


def test_fpi_equals_exact_filter_over_a_sequence(rng):
    A, B, C, D = random_model(rng, S=4, O=5, U=3)
    T = 5
    obs_idx = rng.integers(0, 5, size=T)
    actions = rng.integers(0, 3, size=T - 1)
    fpi_agent = Agent(A, B, C, D, inference_algo="fpi")
    prior, qs_fpi = D, []
    for t in range(T):
        q = fpi_agent.infer_states(int(obs_idx[t]), prior)
        qs_fpi.append(q)
        if t < T - 1:
            prior = fpi_agent.update_empirical_prior(int(actions[t]), q)
    obs_seq = [[np.eye(5)[o][None]] for o in obs_idx]
    qs_exact, log_ev = inference.exact_filter(
        [A[None]], [B[None]], [D[None]], obs_seq, actions[None, :, None]
    )
    np.testing.assert_allclose(np.stack(qs_fpi), qs_exact[0], rtol=1e-12, atol=1e-15)
    # ln p(o_1..T | a) by enumerating every state path
    brute = 0.0
    for path in itertools.product(range(4), repeat=T):
        p = D[path[0]] * A[obs_idx[0], path[0]]
        for t in range(1, T):
            p *= B[path[t], path[t - 1], actions[t - 1]] * A[obs_idx[t], path[t]]
        brute += p
    assert float(log_ev[0]) == pytest.approx(np.log(brute), rel=1e-12)


def test_exact_algo_agent_matches_fpi_agent(rng):
    A, B, C, D = random_model(rng, S=5, O=5, U=2)
    o = rng.dirichlet(np.ones(5))
    q1 = Agent(A, B, C, D).infer_states(o)
    q2, info = Agent(A, B, C, D, inference_algo="exact").infer_states(o, return_info=True)
    np.testing.assert_allclose(q1, q2, rtol=1e-12)
    assert float(info["vfe"]) == pytest.approx(-float(info["log_evidence"]), rel=1e-12)


# --------------------------------------------------------------------------- EFE (2.12)-(2.19)


def _neg_efe_by_hand(q, A, B, C, policy):
    """One policy, one factor, one modality, written as a plain loop over time."""
    G, s = 0.0, q
    for u in policy:
        s = B[:, :, u] @ s
        qo = A @ s
        joint = A * s[None, :]  # p(o, s)
        mutual_info = np.sum(joint * (np.log(A) - np.log(qo)[:, None]))  # I(o; s)
        G += qo @ C + mutual_info
    return G


def test_efe_terms_and_decomposition(rng):
    A, B, C, D = random_model(rng, S=4, O=3, U=3)
    agent = Agent(A, B, C, D, policy_len=2)
    q = rng.dirichlet(np.ones(4))
    q_pi, G, terms = agent.infer_policies(q, return_terms=True)
    np.testing.assert_allclose(G, terms["utility"] + terms["info_gain"], rtol=1e-14)
    assert np.all(terms["novelty_A"] == 0) and np.all(terms["novelty_B"] == 0)
    assert np.all(terms["info_gain"] >= 0)
    for k, pol in enumerate(agent.policies[:, :, 0]):
        assert G[k] == pytest.approx(_neg_efe_by_hand(q, A, B, C, pol), rel=1e-12)
    np.testing.assert_allclose(q_pi, np.exp(G - G.max()) / np.exp(G - G.max()).sum(), rtol=1e-12)
    u_only = Agent(A, B, C, D, policy_len=2, use_states_info_gain=False).infer_policies(q)[1]
    np.testing.assert_allclose(u_only, terms["utility"], rtol=1e-14)


def test_legacy_log_softmax_C_gives_the_same_q_pi():
    A, B, C, D = line_world()
    q = np.array([0.5, 0.2, 0.1, 0.1, 0.1])
    q_raw, G_raw = Agent(A, B, C, D, policy_len=3).infer_policies(q)
    q_leg, G_leg = Agent(A, B, log_softmax(C), D, policy_len=3).infer_policies(q)
    np.testing.assert_allclose(q_raw, q_leg, rtol=1e-12)
    shift = G_raw - G_leg
    np.testing.assert_allclose(shift, shift[0], rtol=1e-12)  # policy-independent
    assert not np.allclose(G_raw, G_leg)


def test_time_indexed_C_uses_C_tau():
    A, B, C, D = line_world()
    q = np.full(5, 0.2)
    C_t = np.stack([C, 2 * C])
    _, _, terms = Agent(A, B, C_t, D, policy_len=2).infer_policies(q, return_terms=True)
    pols = control.construct_policies([3], 2)
    for k, (u0, u1) in enumerate(pols[:, :, 0]):
        s1 = B[:, :, u0] @ q
        s2 = B[:, :, u1] @ s1
        assert terms["utility"][k] == pytest.approx(A @ s1 @ C + A @ s2 @ (2 * C), rel=1e-13)


def test_param_info_gain_is_positive_and_shrinks_with_counts(rng):
    A, B, C, D = random_model(rng, S=3, O=3, U=2)
    q = rng.dirichlet(np.ones(3))
    gains = []
    for scale in (1.0, 100.0):
        agent = Agent(A, B, C, D, pA=A * scale, pB=B * scale, use_param_info_gain=True)
        _, _, terms = agent.infer_policies(q, return_terms=True)
        assert np.all(terms["novelty_A"] > 0) and np.all(terms["novelty_B"] > 0)
        gains.append(terms["novelty_A"] + terms["novelty_B"])
    assert np.all(gains[1] < gains[0])


# --------------------------------------------------------------------------- action selection


def test_deterministic_selection_breaks_ties_to_the_first_policy():
    A, B, C, D = line_world()
    agent = Agent(A, B, C, D, policy_len=1)
    assert agent.sample_action(np.array([0.4, 0.4, 0.2])).tolist() == [0]
    assert agent.sample_action(np.array([0.2, 0.4, 0.4])).tolist() == [1]


@pytest.mark.parametrize("mode", ["full", "marginal"])
def test_stochastic_selection_follows_alpha_log_q(mode):
    A, B, C, D = line_world()
    agent = Agent(A, B, C, D, alpha=2.0, action_selection="stochastic", sampling_mode=mode)
    q_pi = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(0)
    draws = np.array([agent.sample_action(q_pi, rng)[0] for _ in range(20000)])
    expected = q_pi**2 / np.sum(q_pi**2)
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / draws.size, expected, atol=0.015)
    again = [agent.sample_action(q_pi, np.random.default_rng(0))[0] for _ in range(3)]
    assert len(set(again)) == 1  # the Generator alone decides the draw


# --------------------------------------------------------------------------- learning, batch


def test_update_A_and_B_accumulate_counts(rng):
    A, B, C, D = random_model(rng, S=3, O=4, U=2)
    pA = np.ones((4, 3))
    pA[0, 0] = 0.0  # a structural zero comes back as a tiny probability (pymdp #453)
    agent = Agent(A, B, C, D, pA=pA, pB=np.ones((3, 3, 2)))
    q = np.array([0.6, 0.3, 0.1])
    A_new = agent.update_A(2, q)
    expected = pA.copy()
    expected[2] += q
    np.testing.assert_allclose(agent.pA[0][0], expected, rtol=1e-15)
    np.testing.assert_allclose(A_new, np.maximum(expected, EPS) / np.maximum(expected, EPS).sum(0))
    assert 0 < A_new[0, 0] < 1e-15
    qs_seq = [rng.dirichlet(np.ones(3)) for _ in range(3)]
    agent.update_B(qs_seq, np.array([1, 0]))
    want = np.ones((3, 3, 2))
    want[:, :, 1] += np.outer(qs_seq[1], qs_seq[0])
    want[:, :, 0] += np.outer(qs_seq[2], qs_seq[1])
    np.testing.assert_allclose(agent.pB[0][0], want, rtol=1e-15)


def test_batched_agent_equals_per_element_agents(rng):
    models = [random_model(rng, S=3, O=4, U=2) for _ in range(3)]
    stack = [np.stack([m[i] for m in models]) for i in range(4)]
    batched = Agent(*stack, policy_len=2)
    obs = np.array([0, 3, 1])
    qs, info = batched.infer_states(obs, return_info=True)
    q_pi, G = batched.infer_policies(qs)
    actions = batched.sample_action(q_pi)
    for b, model in enumerate(models):
        single = Agent(*model, policy_len=2)
        q_b, info_b = single.infer_states(int(obs[b]), return_info=True)
        np.testing.assert_allclose(qs[b], q_b, rtol=1e-14)
        assert float(info["vfe"][b]) == pytest.approx(float(info_b["vfe"]), rel=1e-14)
        q_pi_b, G_b = single.infer_policies(q_b)
        np.testing.assert_allclose(G[b], G_b, rtol=1e-13)
        assert actions[b].tolist() == single.sample_action(q_pi_b).tolist()


# --------------------------------------------------------------------------- validation


def _bad(kind):
    A, B, C, D = line_world()
    args = {"A": A, "B": B, "C": C, "D": D}
    if kind == "A":
        args["A"] = A * 1.01
    elif kind == "B":
        args["B"] = B[:, :4]
    elif kind == "C":
        args["C"] = np.zeros(4)
    elif kind == "D":
        args["D"] = np.full(5, 0.3)
    elif kind == "E":
        args["E"] = np.ones(7)
    elif kind == "A_dependencies":
        args["A_dependencies"] = [[1]]
    elif kind == "inference_algo":
        args["inference_algo"] = "vmp"
    elif kind == "sampling_mode":
        args["sampling_mode"] = "joint"
    elif kind == "policy_len":
        args["policy_len"] = 0
    return args


@pytest.mark.parametrize(
    "kind",
    ["A", "B", "C", "D", "E", "A_dependencies", "inference_algo", "sampling_mode", "policy_len"],
)
def test_constructor_errors_name_the_argument(kind):
    with pytest.raises(ValueError, match=kind):
        Agent(**_bad(kind))


def test_method_errors_name_the_argument():
    A, B, C, D = line_world()
    agent = Agent(A, B, C, D)
    with pytest.raises(ValueError, match=r"obs\[0\]"):
        agent.infer_states(7)
    with pytest.raises(ValueError, match=r"obs\[0\]"):
        agent.infer_states(np.array([0.5, 0.6, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"prior\[0\]"):
        agent.infer_states(0, np.ones(4) / 4)
    with pytest.raises(ValueError, match="action"):
        agent.update_empirical_prior(3, np.full(5, 0.2))
    with pytest.raises(ValueError, match="q_pi"):
        agent.sample_action(np.ones(4) / 4)
    with pytest.raises(ValueError, match="pA"):
        agent.update_A(0, np.full(5, 0.2))
    with pytest.raises(ValueError, match="rng"):
        Agent(A, B, C, D, action_selection="stochastic").sample_action(np.ones(3) / 3)
    with pytest.raises(ValueError, match="A"):
        Agent(A + np.nan, B, C, D)
    with pytest.raises(ValueError, match="A"):
        Agent(-A, B, C, D)


# --------------------------------------------------------------------------- random shapes


@settings(max_examples=25, deadline=None)
@given(
    S=st.integers(2, 5),
    O=st.integers(2, 5),
    U=st.integers(1, 3),
    H=st.integers(1, 2),
    soft=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_identities_random_shapes(S, O, U, H, soft, seed):
    r = np.random.default_rng(seed)
    A, B, C, D = random_model(r, S, O, U)
    agent = Agent(A, B, C, D, policy_len=H)
    obs = r.dirichlet(np.ones(O)) if soft else int(r.integers(O))
    prior = r.dirichlet(np.ones(S)) * 0.98 + 0.02 / S
    q, info = agent.infer_states(obs, prior, return_info=True)
    o_vec = [np.asarray(obs if soft else np.eye(O)[obs])[None]]
    post, log_Z = inference.exact_posterior([A[None]], o_vec, [prior[None]], [[0]])
    np.testing.assert_allclose(q, post[0], rtol=1e-10, atol=1e-14)  # fpi = exact (2.6, 2.9)
    assert float(info["vfe"]) == pytest.approx(-float(log_Z[0]), rel=1e-10, abs=1e-12)
    if not soft:
        assert float(log_Z[0]) == pytest.approx(np.log(prior @ A[obs]), rel=1e-12)
    q_rand = r.dirichlet(np.ones(S))
    F, _ = inference.vfe([q_rand[None]], [prior[None]], [A[None]], o_vec, [[0]])
    kl = float(kl_divergence(q_rand[None], post)[0])
    assert float(F[0]) == pytest.approx(kl - float(log_Z[0]), rel=1e-10, abs=1e-12)
    q_pi, G, terms = agent.infer_policies(q, return_terms=True)
    assert G.shape == (U**H,) and q_pi.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(G, terms["utility"] + terms["info_gain"], rtol=1e-12, atol=1e-12)
    assert np.all(terms["info_gain"] >= -1e-12)
    assert np.all(terms["info_gain"] <= float(entropy(np.full(O, 1.0 / O))) * H + 1e-12)
