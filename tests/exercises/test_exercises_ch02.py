"""The chapter 2 exercise checkers (discrete active inference): stubs, library solutions,
independent solutions and known wrong variants, mirroring ``test_exercises.py``.

Students: ``pytest -m ex02_1 tests/exercises`` selects everything about exercise 2.1;
``test_your_solution`` (in ``test_exercise_contract.py``) is the verdict on your file.
"""

import numpy as np
import pytest
from checker_suite import checker_tests, marked
from scipy.special import logsumexp, xlogy

from exercises import check as harness
from reference.active_inference import control, inference, learning
from reference.active_inference.maths import EPS

EXERCISE_IDS = ("ex02_1", "ex02_2", "ex02_3", "ex02_4", "ex02_5")


# --------------------------------------------------------------------------- solutions


def library_vfe(q, A, obs, D, B, q_prev, action):
    prior = (
        [D] if q_prev is None else inference.empirical_prior([B], [q_prev], action[:, None], [[0]])
    )
    return inference.vfe([q], prior, [A], [obs], [[0]])[0]


def library_policy(G, E, gamma, policies):
    q_pi = control.policy_posterior(G, E, gamma)
    num_controls = list(np.asarray(policies).max(axis=(0, 1)) + 1)
    return q_pi, control.select_action(q_pi, policies, num_controls)


LIBRARY = {
    "ex02_1": lambda A, obs, prior: inference.fpi(A, obs, [prior], [[0]] * len(A))[0],
    "ex02_2": library_vfe,
    "ex02_3": lambda q, A, B, C, policy: control.neg_efe(
        [q], [A], [B], [C], np.reshape(policy, (1, -1, 1)), [[0]], [[0]]
    )[0][:, 0],
    "ex02_4": lambda pA, o, qs, lr: tuple(
        x[0] for x in learning.update_pA([pA], [o], [qs], [[0]], lr)
    ),
    "ex02_5": library_policy,
}


def ln_plus(x):
    return np.log(np.clip(x, EPS, None))


def textbook_fpi(A, obs, prior):
    """Per batch row, per state, in loops; the normaliser via logsumexp."""
    batch, S = prior.shape
    q = np.empty((batch, S))
    for b in range(batch):
        z = np.array(
            [
                ln_plus(prior[b, s])
                + sum(
                    float(o_m[b] @ ln_plus(A_m[b, :, s])) for A_m, o_m in zip(A, obs, strict=True)
                )
                for s in range(S)
            ]
        )
        q[b] = np.exp(z - logsumexp(z))
    return q


def textbook_vfe(q, A, obs, D, B, q_prev, action, variant=None):
    """F = -H[q] + H[q, p] - E_q[LL] with xlogy for q ln q, one batch row at a time."""
    F = np.empty(q.shape[0])
    for b in range(q.shape[0]):
        if q_prev is None or variant == "D":
            p = D[b]
        else:
            p = B[b, :, :, action[b]] @ q_prev[b]
        LL = obs[b] @ ln_plus(A[b])
        if variant == "log sum":
            LL = ln_plus(obs[b] @ A[b])
        # xlogy(q, q) is exact 0 at q == 0 but ln q (not ln+ q) for 0 < q < eps: same to 1e-16
        F[b] = np.sum(xlogy(q[b], q[b])) - q[b] @ ln_plus(p) - q[b] @ LL
    return F


def textbook_efe(q, A, B, C, policy, variant=None):
    batch = q.shape[0]
    G = np.zeros(batch)
    for b in range(batch):
        s = q[b]
        ambiguity = np.array([-(A[b, :, j] @ ln_plus(A[b, :, j])) for j in range(A.shape[2])])
        for u in policy:
            s = B[b, :, :, u] @ s
            qo = A[b] @ s
            C_b = C[b] - logsumexp(C[b]) if variant == "log-softmax C" else C[b]
            G[b] += qo @ C_b
            if variant != "no info gain":
                G[b] += -(qo @ ln_plus(qo)) - s @ ambiguity
    return G


def textbook_pA(pA, obs_seq, qs_seq, lr, variant=None):
    new = pA.copy()
    for t in range(obs_seq.shape[1]):
        new = new + lr * obs_seq[:, t, :, None] * qs_seq[:, t, None, :]
    A = np.clip(new, EPS, None) if variant != "no clip" else new
    axis = 2 if variant == "wrong axis" else 1
    return new, A / A.sum(axis=axis, keepdims=True)


def textbook_policy(G, E, gamma, policies, variant=None):
    gamma = np.reshape(np.asarray(gamma, dtype=np.float64), (-1, 1))
    z = gamma * G + ln_plus(E)
    q_pi = np.exp(z - logsumexp(z, axis=-1, keepdims=True))
    actions = []
    for row in q_pi:
        best = [p for p in range(row.size) if row[p] == row.max()]
        idx = best[-1] if variant == "last index" else best[0]
        actions.append(np.asarray(policies)[idx, 0])
    return q_pi, np.array(actions)


TEXTBOOK = {
    "ex02_1": textbook_fpi,
    "ex02_2": textbook_vfe,
    "ex02_3": textbook_efe,
    "ex02_4": textbook_pA,
    "ex02_5": textbook_policy,
}


def unclipped_fpi(A, obs, prior):
    z = np.log(prior) + sum(
        np.einsum("bo,bos->bs", o, np.log(a)) for a, o in zip(A, obs, strict=True)
    )
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_of_mixture_fpi(A, obs, prior):
    z = ln_plus(prior) + sum(
        ln_plus(np.einsum("bo,bos->bs", o, a)) for a, o in zip(A, obs, strict=True)
    )
    return np.exp(z - logsumexp(z, axis=-1, keepdims=True))


def unclipped_vfe(q, A, obs, D, B, q_prev, action):
    if q_prev is None:
        p = D
    else:
        p = np.einsum("bij,bj->bi", B[np.arange(q.shape[0]), :, :, action], q_prev)
    LL = np.einsum("bo,bos->bs", obs, np.log(A))
    return np.sum(q * (np.log(q) - np.log(p) - LL), axis=-1)


def unclipped_efe(q, A, B, C, policy):
    with np.errstate(all="ignore"):
        G = np.zeros(q.shape[0])
        s = q
        H_A = -np.sum(A * np.log(A), axis=1)
        for u in policy:
            s = np.einsum("bij,bj->bi", B[..., u], s)
            qo = np.einsum("bos,bs->bo", A, s)
            G = G + np.sum(qo * C, -1) - np.sum(qo * np.log(qo), -1) - np.sum(s * H_A, -1)
        return G


# Known wrong variants, written independently of the checker's own list, with a fragment of
# the hint the checker must print for them.
WRONG = [
    marked("ex02_1", unclipped_fpi, "np.log without the clip"),
    marked("ex02_1", log_of_mixture_fpi, "EXPECTED log-likelihood"),
    marked(
        "ex02_1",
        lambda A, obs, prior: textbook_fpi(A, obs, np.ones_like(prior)),
        "the prior is missing",
    ),
    marked(
        "ex02_2",
        lambda *a: textbook_vfe(*a, variant="D"),
        "looks like D was used as the prior",
    ),
    marked(
        "ex02_2",
        lambda *a: textbook_vfe(*a, variant="log sum"),
        "EXPECTED log-likelihood",
    ),
    marked("ex02_2", unclipped_vfe, "np.log without the clip"),
    marked(
        "ex02_3",
        lambda *a: textbook_efe(*a, variant="log-softmax C"),
        "C was log-softmaxed",
    ),
    marked(
        "ex02_3",
        lambda *a: textbook_efe(*a, variant="no info gain"),
        "state information gain is missing",
    ),
    marked("ex02_3", unclipped_efe, "np.log without the clip"),
    marked(
        "ex02_4",
        lambda *a: textbook_pA(*a, variant="no clip"),
        "normalised without the clip",
    ),
    marked(
        "ex02_4",
        lambda *a: textbook_pA(*a, variant="wrong axis"),
        "normalised over the states",
    ),
    marked(
        "ex02_5",
        lambda *a: textbook_policy(*a, variant="last index"),
        "LAST maximal index",
    ),
    marked(
        "ex02_5",
        lambda G, E, gamma, policies: textbook_policy(-np.asarray(G), E, gamma, policies),
        "G is the NEGATIVE expected free energy",
    ),
]


# --------------------------------------------------------------------------- per exercise


globals().update(checker_tests(EXERCISE_IDS, LIBRARY, TEXTBOOK, WRONG, min_mistakes=4))


# --------------------------------------------------------------------------- the premises


@pytest.mark.ex02_1
def test_fpi_case_needs_max_not_plus_eps():
    """The 1e-16 case separates ln max(x, eps) from ln(x + eps): the hint must name it."""

    def plus_eps(A, obs, prior):
        z = np.log(prior + EPS) + sum(
            np.einsum("bo,bos->bs", o, np.log(a + EPS)) for a, o in zip(A, obs, strict=True)
        )
        return np.exp(z - logsumexp(z, axis=-1, keepdims=True))

    result = harness.check("ex02_1", plus_eps)
    by_name = {r.case: r for r in result.cases}
    assert by_name["random, one modality (batch=3, O=4, S=3), hard observation"].passed
    contradiction = next(r for name, r in by_name.items() if "1e-16" in name)
    assert not contradiction.passed
    assert any("ln(x + eps)" in h for h in contradiction.hints)


@pytest.mark.ex02_2
def test_vfe_of_the_exact_posterior_is_minus_log_evidence():
    """F(q*) = -ln Z at the exact posterior (eq. 2.10): the quantity the exercise computes."""
    spec = harness.get_spec("ex02_2")
    for case in spec.cases(np.random.default_rng(3)):
        q, A, obs, D, B, q_prev, action = case.args
        prior = (
            D
            if q_prev is None
            else inference.empirical_prior([B], [q_prev], action[:, None], [[0]])[0]
        )
        post, log_Z = inference.exact_update([A], [obs], [prior], [[0]])
        F = textbook_vfe(post[0], A, obs, D, B, q_prev, action)
        assert np.allclose(F, -log_Z, rtol=1e-10, atol=1e-10), case.name


@pytest.mark.ex02_3
def test_log_softmaxed_C_shifts_G_by_a_policy_independent_constant(rng):
    """Why the C hint says q_pi is unchanged: every policy's G moves by the same amount."""
    spec = harness.get_spec("ex02_3")
    q, A, B, C, _ = spec.cases(rng)[1].args
    U = B.shape[-1]
    shifts = [
        textbook_efe(q, A, B, C, [u, v], "log-softmax C") - textbook_efe(q, A, B, C, [u, v])
        for u in range(U)
        for v in range(U)
    ]
    assert np.allclose(shifts, shifts[0], rtol=0, atol=1e-12)
    assert np.all(np.abs(shifts[0]) > 1e-3)


@pytest.mark.ex02_5
def test_ties_are_exact_in_the_tie_case():
    """The tie case really ties (bitwise-equal q_pi entries), so first vs last index shows."""
    spec = harness.get_spec("ex02_5")
    case = next(c for c in spec.cases(np.random.default_rng(0)) if "ties" in c.name)
    q_pi, _ = LIBRARY["ex02_5"](*case.args)
    for row in q_pi:
        assert np.sum(row == row.max()) >= 2


def test_registry_lists_every_chapter_two_exercise():
    assert set(EXERCISE_IDS) <= set(harness.exercise_ids())
    for eid in EXERCISE_IDS:
        spec = harness.get_spec(eid)
        assert spec.stub_path.is_file() and spec.path.startswith("02-active-inference/")
