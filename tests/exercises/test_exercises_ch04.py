"""The chapter 4 exercise checkers (stochastic GFlowNets): stubs, library solutions,
independent solutions and known wrong variants, mirroring ``test_exercises_ch02.py``.

Students: ``pytest -m ex04_1 tests/exercises`` selects everything about exercise 4.1;
``test_your_solution`` (in ``test_exercise_contract.py``) is the verdict on your file.
"""

import itertools

import numpy as np
import pytest
from checker_suite import checker_tests, marked
from scipy.special import logsumexp, softmax

from exercises import check as harness
from reference.gflownet import envs, losses, metrics

EXERCISE_IDS = ("ex04_1", "ex04_2", "ex04_3", "ex04_4", "ex04_5", "ex04_6")


# --------------------------------------------------------------------------- solutions


def library_tree(tables, alpha):
    V, L = tables[0].shape[1], len(tables)
    return metrics.terminal_distribution(metrics.tabular_policy(tables), alpha, L, V)


def library_sdb(*args):
    K, B = args[0].shape
    return losses.stochastic_db_loss(*args, np.ones((K - 1, B)))[1]


def library_tb(pf_logits, pb_logits, log_Z, states, actions, log_reward):
    spec = harness.get_spec("ex04_5")
    args = (pf_logits, pb_logits, log_Z, states, actions, log_reward)
    return spec.reference(harness.Case("library", args))


LIBRARY = {
    "ex04_1": envs.sticky_kernel,
    "ex04_2": metrics.log_realized,
    "ex04_3": library_tree,
    "ex04_4": library_sdb,
    "ex04_5": library_tb,
    "ex04_6": metrics.deconvolve,
}


def textbook_kernel(alpha, vocab, variant=None):
    T = np.empty((vocab, vocab))
    for a in range(vocab):
        for v in range(vocab):
            noise = alpha / (vocab - 1) * (v != a) if variant == "different" else alpha / vocab
            T[a, v] = (1 - alpha) * (v == a) + noise
    return T


def textbook_realized(log_pi, alpha, variant=None):
    V = log_pi.shape[-1]
    if variant == "naive":
        return np.log((1 - alpha) * np.exp(log_pi) + alpha / V)
    stacked = np.stack([log_pi, np.zeros_like(log_pi)])
    weights = np.array([1 - alpha, alpha / V]).reshape(2, *([1] * log_pi.ndim))
    with np.errstate(divide="ignore"):
        return logsumexp(stacked, axis=0, b=weights)


def textbook_tree(tables, alpha, variant=None):
    """Brute force: sum over every intended sequence of prod pi(a_t | x_<t) T(x_t | a_t)."""
    V, L = tables[0].shape[1], len(tables)
    T = textbook_kernel(alpha, V)
    if variant == "no noise":
        T = np.eye(V)
    pis = [softmax(tb, axis=1) for tb in tables]
    p = np.zeros(V**L)
    for x in itertools.product(range(V), repeat=L):
        codes = [sum(x[i] * V ** (t - 1 - i) for i in range(t)) for t in range(L)]
        total = 0.0
        for a in itertools.product(range(V), repeat=L):
            total += np.prod([pis[t][codes[t], a[t]] * T[a[t], x[t]] for t in range(L)])
        code = sum(x[i] * V ** (L - 1 - i) for i in range(L))
        if variant == "last significant":
            code = sum(x[i] * V**i for i in range(L))
        p[code] = total
    return p


def textbook_sdb(log_flows, fwd, bwd, dyn, intended, realized, log_reward, variant=None):
    K, B = log_flows.shape
    r = np.empty((K - 1, B))
    for b in range(B):
        for k in range(K - 1):
            a, x = intended[k + 1, b], realized[k + 1, b]
            a_pi = x if variant == "realized in pi" else a
            log_pi = fwd[k, b, a_pi] - logsumexp(fwd[k, b])
            log_pb = bwd[k + 1, b, a_pi] - logsumexp(bwd[k + 1, b])
            log_phat = 0.0 if dyn is None else dyn[k, b, x]
            target = log_reward[b] if k == K - 2 else log_flows[k + 1, b]
            r[k, b] = log_flows[k, b] + log_pi + log_phat - target - log_pb
    return r


def textbook_tb(pf_logits, pb_logits, log_Z, states, actions, log_reward, variant=None):
    D = pb_logits.shape[1]
    H = round(pf_logits.shape[0] ** (1 / D))
    index = lambda s: int(sum(s[i] * H ** (D - 1 - i) for i in range(D)))

    def log_prob(logits, allowed, choice):
        allowed = [i for i in range(len(logits)) if allowed[i]]
        return logits[choice] - logsumexp(logits[allowed])

    r = log_Z - log_reward
    for k, a in enumerate(actions):
        s = states[k]
        allowed_f = [True] * (D + 1) if variant == "no mask" else [*(s < H - 1), True]
        r += log_prob(pf_logits[index(s)], allowed_f, a)
        if a != D:
            child = states[k + 1]
            r -= log_prob(pb_logits[index(child)], list(child > 0), a)
    return r


def textbook_deconvolve(cond, alpha, variant=None):
    """Row by row: the exact inverse where it is a policy, else clip and renormalise."""
    V = cond.shape[-1]
    rows = cond.reshape(-1, V)
    out = np.empty_like(rows)
    for i, q in enumerate(rows):
        if alpha == 1.0:
            out[i] = 1.0 / V
        elif q.min() >= alpha / V or variant == "unclipped":
            out[i] = (q - alpha / V) / (1 - alpha)
        else:
            d = np.array([max(v - alpha / V, 0.0) for v in q])
            out[i] = d / d.sum()
    return out.reshape(cond.shape)


TEXTBOOK = {
    "ex04_1": textbook_kernel,
    "ex04_2": textbook_realized,
    "ex04_3": textbook_tree,
    "ex04_4": textbook_sdb,
    "ex04_5": textbook_tb,
    "ex04_6": textbook_deconvolve,
}


# Known wrong variants, written independently of the checker's own list, with a fragment of
# the hint the checker must print for them.
WRONG = [
    marked("ex04_1", lambda a, V: textbook_kernel(a, V, "different"), "DIFFERENT token"),
    marked("ex04_2", lambda lp, a: textbook_realized(lp, a, "naive"), "underflows"),
    marked("ex04_3", lambda tb, a: textbook_tree(tb, a, "no noise"), "noise is missing"),
    marked("ex04_3", lambda tb, a: textbook_tree(tb, a, "last significant"), "wrong order"),
    marked("ex04_4", lambda *a: textbook_sdb(*a, variant="realized in pi"), "REALIZED token"),
    marked("ex04_5", lambda *a: textbook_tb(*a, variant="no mask"), "forward log-softmax"),
    marked("ex04_6", lambda c, a: textbook_deconvolve(c, a, "unclipped"), "without clipping"),
]


# --------------------------------------------------------------------------- per exercise


globals().update(checker_tests(EXERCISE_IDS, LIBRARY, TEXTBOOK, WRONG, min_mistakes=3))


# --------------------------------------------------------------------------- the premises


@pytest.mark.ex04_2
def test_underflow_case_really_underflows():
    """The alpha = 0 case separates the direct formula from the log-space one."""
    spec = harness.get_spec("ex04_2")
    case = next(c for c in spec.cases(np.random.default_rng(0)) if "-1000" in c.name)
    with np.errstate(divide="ignore"):
        naive = textbook_realized(*case.args, variant="naive")
    assert np.isneginf(naive).any() and np.isfinite(metrics.log_realized(*case.args)).all()


@pytest.mark.ex04_5
def test_tb_cases_touch_the_walls():
    """At least one case has a state on the far wall, where masking changes P_F."""
    spec = harness.get_spec("ex04_5")
    for case in spec.cases(np.random.default_rng(0)):
        pf, pb = case.args[0], case.args[1]
        H = round(pf.shape[0] ** (1 / pb.shape[1]))
        if (case.args[3] == H - 1).any():
            return
    pytest.fail("no case reaches the wall x_i = H - 1")


@pytest.mark.ex04_6
def test_deconvolve_cases_include_unattainable_rows():
    """At least one case needs the clip (an entry below alpha / V), and attainable cases are
    inverted exactly: the realized distribution of the answer is the input."""
    spec = harness.get_spec("ex04_6")
    clipped = 0
    for case in spec.cases(np.random.default_rng(0)):
        cond, alpha = case.args
        V = cond.shape[-1]
        if alpha < 1 and (cond < alpha / V).any():
            clipped += 1
        elif alpha < 1:
            pi = metrics.deconvolve(cond, alpha)
            np.testing.assert_allclose(envs.realized_probs(pi, alpha), cond, atol=1e-12)
    assert clipped >= 2


@pytest.mark.ex04_4
def test_db_case_equals_library_detailed_balance():
    """With dyn_logprobs None the residuals are DB's (4.11) along the chain."""
    spec = harness.get_spec("ex04_4")
    case = next(c for c in spec.cases(np.random.default_rng(0)) if "None" in c.name)
    log_flows, fwd, bwd, _, intended, _, log_reward = case.args
    log_pf, log_pb = losses.transition_logprobs(fwd, bwd, intended)
    F_to = np.concatenate([log_flows[1:-1], log_reward[None]])
    _, r = losses.detailed_balance(log_flows[:-1], log_pf, F_to, log_pb, np.ones_like(log_pf))
    np.testing.assert_allclose(library_sdb(*case.args), r, rtol=1e-13)


def test_registry_lists_every_chapter_four_exercise():
    assert set(EXERCISE_IDS) <= set(harness.exercise_ids())
    for eid in EXERCISE_IDS:
        spec = harness.get_spec(eid)
        assert spec.stub_path.is_file() and spec.path.startswith("04-stochastic-gflownets/")
