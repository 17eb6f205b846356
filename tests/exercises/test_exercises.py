"""The exercise harness: every stub still raises, every checker accepts the library's solution
and an independently written one, and rejects known wrong variants with a helpful hint.

Students: ``pytest -m ex01_1 tests/exercises`` selects everything about exercise 1.1;
``test_your_solution`` (in ``test_exercise_contract.py``) is the verdict on your file.
"""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from checker_suite import checker_tests, marked

from exercises import check as harness
from reference import nn
from reference.gradcheck import rel_error
from reference.residual_dynamics import model as rd

ROOT = Path(__file__).resolve().parents[2]
EXERCISE_IDS = ("ex01_1", "ex01_2", "ex01_3", "ex01_4", "ex01_5")
EPS = rd.EPS


# --------------------------------------------------------------------------- solutions


def library_g_adjoint(alpha, gbar_direct):
    """Ex 1.4 from the library's own step_backward: with W1 = 0 and Nbar_t = 0 it returns
    exactly gbar_{t-1} = alpha gbar_t (eq. 1.11), carried from t = T down to 1."""
    T, B, m = gbar_direct.shape
    params = rd.init_params(m, 2, np.random.default_rng(0))
    params["W1"] = np.zeros_like(params["W1"])
    N, zeros = np.full((B, m), 1.0 / m), np.zeros((B, m))
    N_t, _, _, cache = rd.step(params, alpha, N, zeros, zeros, zeros)
    gbars, carry = np.empty_like(gbar_direct), zeros
    for t in range(T - 1, -1, -1):
        gbars[t] = gbar_direct[t] + carry
        _, _, carry, _ = rd.step_backward(
            params, alpha, N, zeros, zeros, N_t, cache, zeros, gbars[t]
        )
    return gbars


LIBRARY = {
    "ex01_1": nn.softmax_backward,
    "ex01_2": lambda N, c, w: rd.loss_adjoints(N, np.zeros_like(N), c, w)[0],
    "ex01_3": lambda zbar, N, y, a, gbar: (zbar / (N + rd.EPS) - a * y * gbar, a * gbar),
    "ex01_4": library_g_adjoint,
    "ex01_5": lambda p, g, s, lr, max_norm: nn.Adam(lr=lr).step(
        p, nn.clip_grad_norm(g, max_norm)[0], s
    ),
}


def textbook_softmax_vjp(s, dout):
    jacobian = (
        np.einsum("...i,ij->...ij", s, np.eye(s.shape[-1])) - s[..., :, None] * s[..., None, :]
    )
    return np.einsum("...ij,...j->...i", jacobian, dout)


def textbook_g_adjoint(alpha, gbar_direct):
    gbars = [gbar_direct[-1]]
    for direct in gbar_direct[-2::-1]:
        gbars.append(direct + alpha * gbars[-1])
    return np.stack(gbars[::-1])


def textbook_adam(params, grads, state, lr, max_norm, variant=None):
    """Clip + Adam in textbook form; ``variant`` switches on one known mistake."""
    flat = np.concatenate([g.ravel() for g in grads.values()])
    if variant == "per tensor":
        grads = {k: g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for k, g in grads.items()}
    else:
        coef = max_norm / (np.linalg.norm(flat) + 1e-6)
        grads = {k: g * min(coef, 1.0) for k, g in grads.items()}
    k = state["step"] if variant == "stale step" else state["step"] + 1
    b1, b2, eps = 0.9, 0.999, 1e-8
    new_params, ms, vs = {}, {}, {}
    for name, theta in params.items():
        g = grads[name]
        ms[name] = b1 * state["m"][name] + (1 - b1) * g
        vs[name] = b2 * state["v"][name] + (1 - b2) * g**2
        m_hat, v_hat = ms[name] / (1 - b1**k), vs[name] / (1 - b2**k)
        if variant == "eps first":
            lr_t = lr * math.sqrt(1 - b2**k) / (1 - b1**k)
            new_params[name] = theta - lr_t * ms[name] / (np.sqrt(vs[name]) + eps)
        elif variant == "no bias correction":
            new_params[name] = theta - lr * ms[name] / (np.sqrt(vs[name]) + eps)
        else:
            new_params[name] = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return new_params, {"step": state["step"] + 1, "m": ms, "v": vs}


TEXTBOOK = {
    "ex01_1": textbook_softmax_vjp,
    "ex01_2": lambda N, c, w: w * c * (np.log(N + EPS) + 1.0 - EPS / (N + EPS)),
    "ex01_3": lambda zbar, N, y, a, gbar: (
        zbar * np.reciprocal(N + EPS) - y * (a * gbar),
        gbar * a,
    ),
    "ex01_4": textbook_g_adjoint,
    "ex01_5": textbook_adam,
}

# Known wrong variants, written independently of the checker's own list, with a fragment of
# the hint the checker must print for them.
WRONG = [
    marked("ex01_1", lambda s, dout: s * dout, "'- <dout, s>' term is missing"),
    marked(
        "ex01_1",
        lambda s, dout: s * (dout - (dout * s).sum(axis=-1)),
        "keepdims=True",
    ),
    marked("ex01_2", lambda N, c, w: w * c * (np.log(N) + 1), "looks like log(N) + 1"),
    marked(
        "ex01_2",
        lambda N, c, w: w * c * (np.log(N + EPS) + 1),
        "N / (N + eps) was replaced by 1",
    ),
    marked(
        "ex01_3",
        lambda zbar, N, y, a, gbar: (-a * y * gbar, a * gbar),
        "stop-gradient",
    ),
    marked(
        "ex01_3",
        lambda zbar, N, y, a, gbar: (zbar / (N + EPS) - a * y * gbar, gbar),
        "gbar_{t-1} = alpha gbar_t",
    ),
    marked(
        "ex01_4",
        lambda alpha, d: textbook_g_adjoint(np.ones_like(alpha), d),
        "alpha is missing from the carry",
    ),
    marked(
        "ex01_4",
        lambda alpha, d: textbook_g_adjoint(alpha, d[::-1])[::-1],
        "runs forward in time",
    ),
    marked(
        "ex01_5",
        lambda *a: textbook_adam(*a, variant="per tensor"),
        "clipped per tensor",
    ),
    marked(
        "ex01_5",
        lambda *a: textbook_adam(*a, variant="eps first"),
        "eps was added before the bias correction",
    ),
    marked(
        "ex01_5",
        lambda *a: textbook_adam(*a, variant="no bias correction"),
        "bias corrections 1 / (1 - beta1^k) and 1 / sqrt(1 - beta2^k) are missing",
    ),
    marked(
        "ex01_5",
        lambda *a: textbook_adam(*a, variant="stale step"),
        "used the old step count",
    ),
]


# --------------------------------------------------------------------------- per exercise


globals().update(checker_tests(EXERCISE_IDS, LIBRARY, TEXTBOOK, WRONG, min_mistakes=1))


# --------------------------------------------------------------------------- the premises


@pytest.mark.ex01_3
def test_zero_first_layer_removes_the_mlp_input_path(rng):
    """ex01_3 checks against step_backward with W1 = 0: then xbar = a1bar @ W1.T = 0."""
    params = rd.init_params(3, 5, rng)
    params["W1"] = np.zeros_like(params["W1"])
    _, cache = nn.mlp_forward(params, rng.normal(size=(4, 12)))
    _, xbar = nn.mlp_backward(params, cache, rng.normal(size=(4, 3)))
    assert not np.any(xbar)


@pytest.mark.ex01_4
def test_g_adjoint_reference_agrees_with_library_bptt():
    """The library case of ex01_4 cross-checks autograd against backprop_through_time."""
    spec = harness.get_spec("ex01_4")
    cases = [c for c in spec.cases(np.random.default_rng(0)) if "library_gbars" in c.context]
    assert cases
    for case in cases:
        assert rel_error(spec.reference(case), case.context["library_gbars"]) <= 1e-12


# --------------------------------------------------------------------------- the machinery


@pytest.mark.ex01_1
def test_crash_shape_and_nan_are_failures_not_exceptions():
    def crashes(s, dout):
        raise ZeroDivisionError("boom")

    result = harness.check("ex01_1", crashes)
    assert not result.passed and "raised ZeroDivisionError: boom" in result.message
    result = harness.check("ex01_1", lambda s, dout: (s * dout).sum(axis=-1))
    assert not result.passed and "shape" in result.message
    result = harness.check("ex01_1", lambda s, dout: np.full_like(s, np.nan))
    assert not result.passed and "NaN/inf" in result.message


@pytest.mark.ex01_1
def test_not_implemented_later_is_a_failed_case():
    def partial(s, dout):
        if s.ndim > 2:
            raise NotImplementedError("only 2-D")
        return nn.softmax_backward(s, dout)

    result = harness.check("ex01_1", partial)
    assert result.attempted and not result.passed
    assert "raised NotImplementedError: only 2-D" in result.message


@pytest.mark.ex01_5
def test_in_place_modification_is_reported():
    def in_place(params, grads, state, lr, max_norm):
        grads["W1"] *= 0.5  # mutates the caller's gradients
        return LIBRARY["ex01_5"](params, grads, state, lr, max_norm)

    result = harness.check("ex01_5", in_place)
    assert not result.passed and "modified its input 'grads' in place" in result.message


@pytest.mark.ex01_5
def test_malformed_return_value_is_reported():
    result = harness.check("ex01_5", lambda p, g, s, lr, max_norm: p)
    assert not result.passed and "unexpected return value" in result.message


@pytest.mark.ex01_1
def test_results_are_reproducible():
    a = harness.check("ex01_1", textbook_softmax_vjp)
    b = harness.check("ex01_1", textbook_softmax_vjp)
    assert a.message == b.message


def test_check_validates_its_arguments():
    with pytest.raises(ValueError, match="unknown exercise"):
        harness.check("ex99_1")
    with pytest.raises(TypeError, match="exercise_id"):
        harness.check(1)
    with pytest.raises(TypeError, match="student_fn"):
        harness.check("ex01_1", student_fn="not a function")
    with pytest.raises(ValueError, match="seed"):
        harness.check("ex01_1", nn.softmax_backward, seed=-1)
    with pytest.raises(ValueError, match="already registered"):
        harness.register(harness.get_spec("ex01_1"))
    with pytest.raises(ValueError, match="names"):
        harness.named_outputs()


def test_registry_lists_every_chapter_one_exercise():
    assert set(EXERCISE_IDS) <= set(harness.exercise_ids())
    for eid in EXERCISE_IDS:
        assert harness.get_spec(eid).stub_path.is_file()


@pytest.mark.ex01_1
def test_cli_exit_status_and_output(monkeypatch, capsys):
    monkeypatch.setattr(harness, "load_stub", lambda eid: LIBRARY[eid])
    assert harness.main(["ex01_1"]) == 0
    assert "PASSED ex01_1" in capsys.readouterr().out
    monkeypatch.setattr(harness, "load_stub", lambda eid: lambda s, dout: s * dout)
    assert harness.main(["ex01_1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL ex01_1" in out and "hint:" in out
    with pytest.raises(SystemExit) as exc:
        harness.main(["ex99_9"])
    assert exc.value.code == 2


def test_cli_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "exercises.check", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert all(eid in out.stdout for eid in EXERCISE_IDS)
