"""The chapter 5 exercise checkers (NGC and active NGC): library solutions, independent
solutions and known wrong variants.

Students: ``pytest -m ex05_1 tests/exercises`` selects everything about exercise 5.1;
``test_your_solution`` (in ``test_exercise_contract.py``) is the verdict on your file.
"""

import numpy as np
import pytest
from checker_suite import checker_tests, marked

from exercises import check as harness
from reference.ngc import angc, circuit, dqn, hebbian

EXERCISE_IDS = ("ex05_1", "ex05_2", "ex05_3", "ex05_4", "ex05_5", "ex05_6")


# --------------------------------------------------------------------------- solutions


def library_settle_step(params, x_i, x_o, z1, z2, beta, gamma_v, beta_e):
    out = circuit.settle(params, x_i, x_o, 1, beta, gamma_v, beta_e, "relu", z_init=[z1, z2])
    return out["z"][1], out["z"][2]


def library_hebbian_pair(pre, err, W, E, gamma_e, modulate):
    d = pre.T @ err
    if modulate:
        d = d * hebbian.modulation(W)
    dE = gamma_e * d.T
    if modulate:
        dE = dE * hebbian.modulation(E)
    return d, dE


def library_td(q, actions, rewards, next_q, terminated, gamma, kappa):
    y = dqn.td_targets(rewards, next_q, terminated, gamma)
    return y, dqn.td_loss_grad_q(q, actions, y, "huber", kappa)[1]


def library_epistemic(params, x_i, x_o, T, beta, gamma_v, beta_e, running_max):
    state = circuit.settle(params, x_i, x_o, T, beta, gamma_v, beta_e, "relu")
    r = []
    for d in circuit.discrepancy_per_row(state["e"]):
        value, running_max = angc.epistemic_reward(float(d), running_max)
        r.append(value)
    return np.array(r), running_max


LIBRARY = {
    "ex05_1": library_settle_step,
    "ex05_2": library_hebbian_pair,
    "ex05_3": hebbian.modulation,
    "ex05_4": library_epistemic,
    "ex05_5": library_td,
    "ex05_6": angc.td_target_vector,
}


def textbook_settle_step(params, x_i, x_o, z1, z2, beta, gamma_v, beta_e, variant=None):
    """Layer lists and an explicit loop over layers; all errors first, then all updates."""
    relu = lambda v: np.where(v > 0, v, 0.0)
    z = [x_o, z1, z2, x_i]
    act = [x_o, relu(z1), relu(z2), x_i]
    W = [None, params["W1"], params["W2"], params["W3"]]
    E = [None, params["E1"], params["E2"]]
    e = [(act[l] - act[l + 1] @ W[l + 1]) / (2.0 * beta_e) for l in range(3)]
    new = []
    for l in (1, 2):
        d = -e[l] + e[l - 1] @ E[l]
        if variant == "phi prime":
            d = d * (z[l] > 0)
        new.append((1.0 - beta * gamma_v) * z[l] + beta * d)
    return tuple(new)


def textbook_hebbian_pair(pre, err, W, E, gamma_e, modulate, variant=None):
    """Entry by entry: dW[i, j] = sum_b pre[b, i] err[b, j]."""
    J1, J0 = W.shape
    raw = np.zeros((J1, J0))
    for i in range(J1):
        for j in range(J0):
            raw[i, j] = np.dot(pre[:, i], err[:, j])
    if variant == "mean":
        raw = raw / pre.shape[0]

    def factors(A):
        strength = np.array([sum(abs(a) for a in A[:, j]) for j in range(A.shape[1])])
        return np.array([[min(1.0, 2.0 * s / strength.max()) for s in strength]] * A.shape[0])

    dW = raw * factors(W) if modulate else raw
    dE = gamma_e * dW.T * (factors(E) if modulate else 1.0)
    return dW, dE


def textbook_modulation(A, use_abs, variant=None):
    cols = np.abs(A) if use_abs else A
    m = np.array([cols[:, j].sum() for j in range(A.shape[1])])
    factor = 1.0 if variant == "no 2" else 2.0
    return np.vstack([np.minimum(factor * m / m.max(), 1.0)] * A.shape[0])


def textbook_td(q, actions, rewards, next_q, terminated, gamma, kappa, variant=None):
    N = q.shape[0]
    y = np.array(
        [rewards[i] + (0.0 if terminated[i] else gamma * max(next_q[i])) for i in range(N)]
    )
    dq = np.zeros_like(q)
    for i in range(N):
        delta = q[i, actions[i]] - y[i]
        g = delta if variant == "mse" else max(-kappa, min(kappa, delta))
        dq[i, actions[i]] = g / N
    return y, dq


def textbook_epistemic(params, x_i, x_o, T, beta, gamma_v, beta_e, running_max, variant=None):
    """Settle row by row with the step of textbook_settle_step generalised to L layers."""
    relu = lambda v: np.where(v > 0, v, 0.0)
    L = sum(k.startswith("W") for k in params)
    r = []
    for row in range(x_i.shape[0]):
        z = [x_o[row : row + 1]]
        z += [np.zeros((1, params[f"W{l}"].shape[0])) for l in range(1, L)]
        z.append(x_i[row : row + 1])

        def errs(z):
            act = [z[0], *[relu(v) for v in z[1:L]], z[L]]
            return [(act[l] - act[l + 1] @ params[f"W{l + 1}"]) / (2 * beta_e) for l in range(L)]

        for _ in range(T):
            e = errs(z)
            z = (
                [z[0]]
                + [
                    z[l] + beta * (-gamma_v * z[l] - e[l] + e[l - 1] @ params[f"E{l}"])
                    for l in range(1, L)
                ]
                + [z[L]]
            )
        D = sum(float(np.sum(el**2)) for el in errs(z))
        prev = running_max
        running_max = max(running_max, D)
        r.append(D / (prev if variant == "old max" else running_max))
    return np.array(r), running_max


def textbook_target_vector(q, actions, y, td_clip, variant=None):
    out = np.array(q, dtype=float)
    for i, a in enumerate(actions):
        if variant == "zeros":
            out[i] = 0.0
        delta = y[i] - q[i, a]
        if td_clip is not None:
            delta = min(td_clip, max(-td_clip, delta))
        out[i, a] = q[i, a] + delta
    return out


TEXTBOOK = {
    "ex05_1": textbook_settle_step,
    "ex05_2": textbook_hebbian_pair,
    "ex05_3": textbook_modulation,
    "ex05_4": textbook_epistemic,
    "ex05_5": textbook_td,
    "ex05_6": textbook_target_vector,
}


def phi_top_settle_step(params, x_i, x_o, z1, z2, beta, gamma_v, beta_e):
    return textbook_settle_step(params, np.maximum(x_i, 0.0), x_o, z1, z2, beta, gamma_v, beta_e)


def row_modulation(A, use_abs):
    m = (np.abs(A) if use_abs else A).sum(axis=1, keepdims=True)
    return np.broadcast_to(np.minimum(2 * m / m.max(), 1.0), A.shape)


def bootstrap_terminal_td(q, actions, rewards, next_q, terminated, gamma, kappa):
    return textbook_td(q, actions, rewards, next_q, np.zeros_like(terminated), gamma, kappa)


# Known wrong variants, written independently of the checker's own list, with a fragment of
# the hint the checker must print for them.
WRONG = [
    marked("ex05_1", lambda *a: textbook_settle_step(*a, variant="phi prime"), "phi'(z)"),
    marked("ex05_1", phi_top_settle_step, "clamped top"),
    marked(
        "ex05_2",
        lambda *a: textbook_hebbian_pair(*a, variant="mean"),
        "batch was averaged",
    ),
    marked(
        "ex05_2",
        lambda pre, err, W, E, g, m: textbook_hebbian_pair(pre, err, W, E, g, False),
        "modulation of W was left out",
    ),
    marked("ex05_3", lambda A, u: textbook_modulation(A, u, variant="no 2"), "factor 2"),
    marked("ex05_3", row_modulation, "rows were summed"),
    marked("ex05_4", lambda *a: textbook_epistemic(*a, variant="old max"), "BEFORE it was"),
    marked(
        "ex05_4",
        lambda p, xi, xo, T, b, g, be, m: textbook_epistemic(p, xi, xo, 0, b, g, be, m),
        "was not settled",
    ),
    marked("ex05_5", lambda *a: textbook_td(*a, variant="mse"), "squared loss"),
    marked("ex05_5", bootstrap_terminal_td, "terminal transitions bootstrap"),
    marked("ex05_6", lambda *a: textbook_target_vector(*a, variant="zeros"), "target of 0"),
    marked(
        "ex05_6",
        lambda q, a, y, c: textbook_target_vector(q, a, y, None),
        "clip is missing",
    ),
]


# --------------------------------------------------------------------------- per exercise


globals().update(checker_tests(EXERCISE_IDS, LIBRARY, TEXTBOOK, WRONG, min_mistakes=4))


# --------------------------------------------------------------------------- the premises


@pytest.mark.ex05_1
def test_settle_step_cases_separate_the_pitfalls():
    """Inactive units and negative clamped ends occur in the cases, so the hints can fire."""
    spec = harness.get_spec("ex05_1")
    cases = {c.name: c for c in spec.cases(np.random.default_rng(spec.seed))}
    neg = next(c for n, c in cases.items() if "negative clamped" in n)
    _, x_i, x_o, *_ = neg.args
    assert (x_i < 0).any() and (x_o < 0).any()
    inactive = next(c for n, c in cases.items() if "inactive" in n)
    assert 0.2 < np.mean(inactive.args[3] < 0) < 0.9


@pytest.mark.ex05_1
def test_one_step_matches_settle_repeatedly():
    """Iterating the exercise's step T times is settle(..., T) from the same start."""
    rng = np.random.default_rng(5)
    p = circuit.init_params((3, 5, 4, 2), rng)
    x_i, x_o = rng.normal(size=(2, 2)), rng.normal(size=(2, 3))
    z1, z2 = np.zeros((2, 5)), np.zeros((2, 4))
    for _ in range(7):
        z1, z2 = textbook_settle_step(p, x_i, x_o, z1, z2, 0.1, 0.01, 0.5)
    out = circuit.settle(p, x_i, x_o, 7, 0.1, 0.01, 0.5, "relu")
    np.testing.assert_allclose(z1, out["z"][1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z2, out["z"][2], rtol=1e-12, atol=1e-14)


@pytest.mark.ex05_2
def test_checker_reference_is_the_library_rule():
    """The checker's reference (hebbian_updates on a padded circuit) = the plain formula."""
    spec = harness.get_spec("ex05_2")
    for case in spec.cases(np.random.default_rng(0)):
        want = library_hebbian_pair(*case.args)
        got = spec.reference(case)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.ex05_5
def test_td_cases_cover_both_huber_branches():
    spec = harness.get_spec("ex05_5")
    deltas = []
    for case in spec.cases(np.random.default_rng(spec.seed)):
        q, actions, rewards, next_q, terminated, gamma, kappa = case.args
        y = dqn.td_targets(rewards, next_q, terminated, gamma)
        deltas.append(np.abs(q[np.arange(q.shape[0]), actions] - y) / kappa)
    deltas = np.concatenate(deltas)
    assert (deltas < 1).any() and (deltas > 1).any()


@pytest.mark.ex05_4
def test_epistemic_cases_exercise_the_running_max():
    """Some case has every D < 1 (the floor decides) and some has D rising past the max."""
    spec = harness.get_spec("ex05_4")
    cases = spec.cases(np.random.default_rng(spec.seed))
    Ds = []
    for case in cases:
        p, x_i, x_o, T, beta, gamma_v, beta_e, _ = case.args
        Ds.append(
            circuit.discrepancy_per_row(circuit.settle(p, x_i, x_o, T, beta, gamma_v, beta_e)["e"])
        )
    assert any(np.all(D < 1) for D in Ds)
    assert any(np.sum(np.diff(np.maximum.accumulate(D)) > 0) >= 2 for D in Ds)
    r, m = library_epistemic(*cases[0].args)
    assert np.all(r <= 1.0) and m >= 1.0


def test_registry_lists_every_chapter_five_exercise():
    assert set(EXERCISE_IDS) <= set(harness.exercise_ids())
    for eid in EXERCISE_IDS:
        spec = harness.get_spec(eid)
        assert spec.stub_path.is_file() and spec.path.startswith("05-ngc-angc/")
