"""Chapter 2 agent against pymdp 1.0.4 (float64): the tutorial agent and a multi-factor model.

``active_inference_pymdp.json`` is the shared golden file (the one-factor line-world agent of
the source tutorial). ``active_inference_pymdp_multifactor.json`` is written by
``tests/golden/make_pymdp_multifactor.py`` (two factors, sparse dependencies, parameter
information gain, Dirichlet learning). Tolerance: 1e-10 relative to the largest entry.
"""

import json
import pathlib

import numpy as np
import pytest

from reference.active_inference import Agent, learning
from reference.active_inference.envs import line_world_model
from reference.gradcheck import rel_error

TOL = 1e-10


@pytest.fixture(scope="module")
def golden(golden_dir):
    return json.loads((golden_dir / "active_inference_pymdp.json").read_text())


@pytest.fixture(scope="module")
def agent():
    A, B, C, D = line_world_model()
    return Agent(A, B, C, D, policy_len=4, num_iter=1)


GOLDEN_FILE = pathlib.Path(__file__).parents[1] / "golden" / "active_inference_pymdp.json"
CASES = [c["name"] for c in json.loads(GOLDEN_FILE.read_text())["cases"]]


def _case(golden, name):
    return next(c for c in golden["cases"] if c["name"] == name)


def test_policies_in_pymdp_order(golden, agent):
    assert agent.policies.shape == (81, 4, 1)
    np.testing.assert_array_equal(agent.policies, np.asarray(golden["policies"]))


@pytest.mark.parametrize("name", CASES)
def test_case_matches_pymdp(golden, agent, name):
    c = _case(golden, name)
    qs, info = agent.infer_states(np.asarray(c["obs"]), np.asarray(c["prior"]), return_info=True)
    assert rel_error(qs, c["qs"]) <= TOL
    assert rel_error(info["vfe"], c["vfe"]) <= TOL
    for key, value in c["vfe_components"].items():
        assert abs(float(info["vfe_components"][key]) - value) <= TOL * max(1.0, abs(value)), key
    q_pi, G = agent.infer_policies(qs)
    assert rel_error(G, c["neg_efe_G"]) <= TOL
    assert rel_error(q_pi, c["q_pi"]) <= TOL
    assert int(np.argmax(G)) == c["best_policy_index"] or c["action_tie_sensitive"]
    assert rel_error(agent.action_marginals(q_pi), c["action_marginals"]) <= TOL
    if not c["action_tie_sensitive"]:
        assert agent.sample_action(q_pi).tolist() == [c["action"]]
    for action, expected in c["next_prior_by_action"].items():
        assert rel_error(agent.update_empirical_prior(int(action), qs), expected) <= TOL


# --------------------------------------------------------------------------- multi-factor


@pytest.fixture(scope="module")
def multi(golden_dir):
    g = json.loads((golden_dir / "active_inference_pymdp_multifactor.json").read_text())
    arr = lambda xs: [np.asarray(x) for x in xs]
    agent = Agent(
        arr(g["A"]), arr(g["B"]), arr(g["C"]), arr(g["D"]), pA=arr(g["pA"]), pB=arr(g["pB"]),
        A_dependencies=g["A_dependencies"], B_dependencies=g["B_dependencies"], policy_len=2,
        num_iter=7, use_param_info_gain=True,
    )  # fmt: skip
    return g, agent


def test_multifactor_fpi_and_efe_match_pymdp(multi):
    g, agent = multi
    np.testing.assert_array_equal(agent.policies, np.asarray(g["policies"]))
    obs, prior = [np.asarray(o) for o in g["obs"]], [np.asarray(p) for p in g["prior"]]
    qs, info = agent.infer_states(obs, prior, return_info=True)
    for f in range(2):
        assert rel_error(qs[f], g["qs"][f]) <= TOL
    assert rel_error(info["vfe"], g["vfe"]) <= TOL
    q_pi, G = agent.infer_policies(qs)
    assert rel_error(G, g["neg_efe_G"]) <= TOL
    assert rel_error(q_pi, g["q_pi"]) <= TOL


def test_dirichlet_learning_matches_pymdp(multi):
    g, _ = multi
    L = g["learning"]
    batch = lambda xs: [np.asarray(x)[None] for x in xs]
    pA, A = learning.update_pA(
        batch(g["pA"]), batch(L["obs_seq"]), batch(L["qs_seq"]), g["A_dependencies"], L["lr"]
    )
    actions = np.asarray(L["actions"])[None]
    pB, B = learning.update_pB(
        batch(g["pB"]), batch(L["qs_seq"]), actions, g["B_dependencies"], L["lr"]
    )
    for got, want in zip(pA + A + pB + B, L["pA"] + L["A"] + L["pB"] + L["B"], strict=True):
        assert rel_error(got[0], want) <= TOL
