"""The numba EFE kernel equals its plain twin and ``control.neg_efe``; the policy tree."""

import json

import numpy as np
import pytest

from reference.active_inference import Agent, control, kernels
from reference.active_inference.envs import line_world_model
from reference.gradcheck import rel_error


def random_batch(rng, batch, S, O, U, H, timed_C):
    A = rng.dirichlet(np.ones(O), size=(batch, S)).transpose(0, 2, 1)
    A[0, :, 0] = np.eye(O)[0]  # exact zeros: ln+ and xlogy at work
    B = rng.dirichlet(np.ones(S), size=(batch, S, U)).transpose(0, 3, 1, 2)
    C = rng.normal(size=(batch, H, O) if timed_C else (batch, O))
    q = rng.dirichlet(np.ones(S), size=batch)
    return [q], [A], [B], [C]


@pytest.mark.parametrize("timed_C", [False, True])
@pytest.mark.parametrize("S, O, U, H", [(3, 4, 2, 3), (5, 5, 3, 2), (2, 3, 1, 1)])
def test_jit_equals_plain_equals_numpy(rng, S, O, U, H, timed_C):
    qs, A, B, C = random_batch(rng, 3, S, O, U, H, timed_C)
    policies = control.construct_policies([U], H)
    G, terms = control.neg_efe(qs, A, B, C, policies, [[0]], [[0]])
    for jit in (True, False):
        G_k, terms_k = kernels.neg_efe_numba(qs, A, B, C, policies, [[0]], [[0]], jit=jit)
        assert rel_error(G_k, G) <= 1e-12, jit
        for key in terms:
            assert rel_error(terms_k[key], terms[key]) <= 1e-12, (jit, key)


@pytest.mark.parametrize("flags", [(True, False), (False, True)])
def test_kernel_term_switches(rng, flags):
    qs, A, B, C = random_batch(rng, 2, 4, 3, 2, 2, False)
    policies = control.construct_policies([2], 2)
    kw = dict(use_utility=flags[0], use_states_info_gain=flags[1])
    G, _ = control.neg_efe(qs, A, B, C, policies, [[0]], [[0]], **kw)
    G_k, _ = kernels.neg_efe_numba(qs, A, B, C, policies, [[0]], [[0]], **kw)
    assert rel_error(G_k, G) <= 1e-12


def test_float32_stays_float32(rng):
    qs, A, B, C = (
        [x.astype(np.float32) for x in xs] for xs in random_batch(rng, 2, 4, 3, 3, 3, True)
    )
    policies = control.construct_policies([3], 3)
    G, _ = kernels.neg_efe_numba(qs, A, B, C, policies, [[0]], [[0]])
    G64, _ = control.neg_efe(
        *([x.astype(np.float64) for x in xs] for xs in (qs, A, B, C)), policies, [[0]], [[0]]
    )
    assert G.dtype == np.float32
    np.testing.assert_allclose(G, G64, rtol=1e-5, atol=1e-5)


def test_policy_tree_shares_prefixes():
    tree = control.policy_tree(control.construct_policies([3], 4))
    assert [len(parent) for parent, _, _ in tree] == [3, 9, 27, 81]
    parent, controls, node = tree[1]
    assert (
        parent.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] and controls[:, 0].tolist() == [0, 1, 2] * 3
    )
    assert node.tolist() == np.repeat(np.arange(9), 9).tolist()


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_custom_policy_subsets_match_the_full_set(rng, kernel):
    """A shuffled subset of policies (ragged prefix tree) gives the same G per policy."""
    A, B, C, D = line_world_model()
    q = rng.dirichlet(np.ones(5))
    full = Agent(A, B, C, D, policy_len=3, kernel=kernel)
    pick = rng.permutation(27)[:11]
    sub = Agent(A, B, C, D, policies=full.policies[pick], kernel=kernel)
    np.testing.assert_allclose(
        sub.infer_policies(q)[1], full.infer_policies(q)[1][pick], rtol=1e-13
    )


def test_custom_policy_subsets_multifactor(rng):
    S, U = [3, 2], [2, 3]
    A = [rng.dirichlet(np.ones(4), size=(3, 2)).transpose(2, 0, 1), rng.dirichlet(np.ones(2), 2).T]
    B = [rng.dirichlet(np.ones(S[f]), size=(S[f], U[f])).transpose(2, 0, 1) for f in range(2)]
    C = [rng.normal(size=4), rng.normal(size=2)]
    D = [rng.dirichlet(np.ones(s)) for s in S]
    kw = dict(A_dependencies=[[0, 1], [1]], pA=[a * 3 for a in A], use_param_info_gain=True)
    full = Agent(A, B, C, D, policy_len=2, **kw)
    pick = rng.permutation(len(full.policies))[:9]
    sub = Agent(A, B, C, D, policies=full.policies[pick], **kw)
    q = [rng.dirichlet(np.ones(s)) for s in S]
    np.testing.assert_allclose(
        sub.infer_policies(q)[1], full.infer_policies(q)[1][pick], rtol=1e-13
    )


def test_numpy_kernel_matches_pymdp_goldens(golden_dir):
    golden = json.loads((golden_dir / "active_inference_pymdp.json").read_text())
    A, B, C, D = line_world_model()
    agents = {k: Agent(A, B, C, D, policy_len=4, num_iter=1, kernel=k) for k in ("numpy", "auto")}
    for case in golden["cases"]:
        for kernel, agent in agents.items():
            qs = agent.infer_states(np.asarray(case["obs"]), np.asarray(case["prior"]))
            q_pi, G = agent.infer_policies(qs)
            assert rel_error(G, case["neg_efe_G"]) <= 1e-10, (kernel, case["name"])
            assert rel_error(q_pi, case["q_pi"]) <= 1e-10, (kernel, case["name"])


def test_kernel_argument_is_checked():
    A, B, C, D = line_world_model()
    with pytest.raises(ValueError, match="kernel"):
        Agent(A, B, C, D, kernel="fortran")
    agent = Agent([A], [B, B], [C], [D, D], A_dependencies=[[0]], kernel="numba")
    with pytest.raises(ValueError, match="kernel"):
        agent.infer_policies([D, D])
    with pytest.raises(ValueError, match="neg_efe_numba"):
        kernels.neg_efe_numba([D[None]] * 2, [A[None]], [B[None]] * 2, [C[None]], agent.policies,
                              [[0]], [[0], [1]])  # fmt: skip
