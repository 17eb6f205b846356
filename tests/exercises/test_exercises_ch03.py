"""The chapter 3 exercise checkers (dynamical systems reconstruction): stubs, library
solutions, independent solutions and known wrong variants, mirroring ``test_exercises.py``.

Students: ``pytest -m ex03_1 tests/exercises`` selects everything about exercise 3.1;
``test_your_solution`` (in ``test_exercise_contract.py``) is the verdict on your file.
"""

import numpy as np
import pytest
from checker_suite import checker_tests, marked
from scipy.ndimage import gaussian_filter1d

from exercises import check as harness
from reference.dsr import forcing, metrics
from reference.dsr.models import PLRNN, ShallowPLRNN

EXERCISE_IDS = ("ex03_1", "ex03_2", "ex03_3", "ex03_4", "ex03_5", "ex03_6")


# --------------------------------------------------------------------------- solutions


def library_shplrnn_jacobian(A, W1, W2, h2, z, clipped):
    model = ShallowPLRNN(A.size, 1, h2.size, clipped=clipped)
    params = {"A": A, "W1": W1, "W2": W2, "h1": 0 * A, "h2": h2, "B": np.zeros((1, A.size))}
    return model.jacobian(params, z)


def library_gtf_step(z, x_t, alpha, zbar_tilde):
    zbar = zbar_tilde.copy()
    zbar[:, : x_t.shape[1]] *= 1.0 - alpha
    return forcing.force(z, x_t, alpha), zbar


def library_plrnn_vjp(A, W, h, z, g, mean_centering):
    model = PLRNN(A.size, 1, mean_centering=mean_centering)
    zbar, gr = model.vjp({"A": A, "W": W, "h": h, "B": np.zeros((1, A.size))}, z, g)
    return zbar, gr["A"], gr["W"], gr["h"]


LIBRARY = {
    "ex03_1": lambda x, y, s: metrics.hellinger_spectrum_distance(x, y, s),
    "ex03_2": lambda x, y, n: metrics.state_space_divergence(x, y, n),
    "ex03_3": metrics.lyapunov_from_jacobians,
    "ex03_4": library_shplrnn_jacobian,
    "ex03_5": library_gtf_step,
    "ex03_6": library_plrnn_vjp,
}


def textbook_dh(x_true, x_gen, sigma, variant=None):
    hs = []
    for n in range(x_true.shape[1]):
        spectra = []
        for s in (x_true[:, n], x_gen[:, n]):
            s = (s - s.mean()) / s.std() if variant != "no centring" else s / s.std()
            P = np.abs(np.fft.rfft(s)) ** 2
            P = np.clip(gaussian_filter1d(P, sigma, mode="reflect", truncate=4.0), 0, None)
            spectra.append(P / P.sum())
        bc = np.sum(np.sqrt(spectra[0] * spectra[1]))
        hs.append(np.sqrt(max(1.0 - bc, 0.0)) if variant != "no sqrt" else 1.0 - bc)
    return float(np.mean(hs))


def textbook_dstsp(x_true, x_gen, n_bins, variant=None):
    sd = x_true.std(axis=0)
    margin = 0.0 if variant == "minmax box" else 0.1
    edges = [
        np.linspace(lo - margin * s, hi + margin * s, n_bins + 1)
        for lo, hi, s in zip(x_true.min(0), x_true.max(0), sd, strict=True)
    ]
    p, _ = np.histogramdd(x_true, bins=edges)
    q, _ = np.histogramdd(x_gen, bins=edges)
    a = 1e-5
    p = (p + a) / (p.sum() + a * p.size)
    q = (q + a) / (q.sum() + a * q.size)
    if variant == "reversed":
        p, q = q, p
    return float(np.sum(p * np.log(p / q)))


def gram_schmidt_lyapunov(jacobians, variant=None):
    T, M, _ = jacobians.shape
    Q = np.eye(M)
    total = np.zeros(M)
    for J in jacobians:
        V = J @ Q
        Q = np.zeros((M, M))
        for i in range(M):  # modified Gram-Schmidt; |R_ii| = the norm left after projection
            v = V[:, i].copy()
            for k in range(i):
                v -= (Q[:, k] @ v) * Q[:, k]
            norm = np.linalg.norm(v)
            total[i] += np.log(norm)
            Q[:, i] = v / norm
        if variant == "no reorthonormalisation":
            Q = V
    return np.sort(total / T)[::-1]


def loop_shplrnn_jacobian(A, W1, W2, h2, z, clipped, variant=None):
    B, M = z.shape
    L = h2.size
    J = np.zeros((B, M, M))
    for b in range(B):
        v = z[b] @ W2
        for i in range(M):
            for j in range(M):
                s = A[i] if i == j and variant != "no A" else 0.0
                for l_ in range(L):
                    d = float(v[l_] + h2[l_] > 0) - (float(v[l_] > 0) if clipped else 0.0)
                    s += W1[l_, i] * d * W2[j, l_]
                J[b, i, j] = s
    return np.swapaxes(J, 1, 2) if variant == "transposed" else J


def masked_gtf_step(z, x_t, alpha, zbar_tilde, variant=None):
    N = x_t.shape[1]
    observed = np.zeros(z.shape[1], dtype=bool)
    observed[:N] = True
    padded = np.zeros_like(z)
    padded[:, :N] = x_t
    z_tilde = np.where(observed, alpha * padded + (1 - alpha) * z, z)
    scale = {"unscaled": 1.0, "alpha": alpha}.get(variant, 1 - alpha)
    return z_tilde, np.where(observed, scale * zbar_tilde, zbar_tilde)


def explicit_q_plrnn_vjp(A, W, h, z, g, mean_centering, variant=None):
    M = A.size
    Q = np.eye(M) - np.ones((M, M)) / M if mean_centering else np.eye(M)
    c = z @ Q  # Q is symmetric
    D = (c > 0).astype(float)
    if variant == "no Q in backward":
        Q = np.eye(M)
    zbar = A * g + ((g @ W.T) * D) @ Q
    gW = np.einsum("bi,bj->ij", np.maximum(c, 0), g)
    if variant != "diag kept":
        gW = gW * (1 - np.eye(M))
    return zbar, np.einsum("bi,bi->i", g, z), gW, g.sum(axis=0)


TEXTBOOK = {
    "ex03_1": textbook_dh,
    "ex03_2": textbook_dstsp,
    "ex03_3": gram_schmidt_lyapunov,
    "ex03_4": loop_shplrnn_jacobian,
    "ex03_5": masked_gtf_step,
    "ex03_6": explicit_q_plrnn_vjp,
}

# Known wrong variants, written independently of the checker's own list, with a fragment of
# the hint the checker must print for them.
WRONG = [
    marked("ex03_1", lambda *a: textbook_dh(*a, variant="no centring"), "mean was not subtracted"),
    marked("ex03_1", lambda *a: textbook_dh(*a, variant="no sqrt"), "without the square root"),
    marked("ex03_2", lambda *a: textbook_dstsp(*a, variant="minmax box"), "[min, max]"),
    marked("ex03_2", lambda *a: textbook_dstsp(*a, variant="reversed"), "KL(p_gen || p_true)"),
    marked(
        "ex03_3",
        lambda J: -np.sort(-np.mean(np.log(np.abs(np.linalg.eigvals(J))), axis=0)),
        "log|eigenvalues|",
    ),
    marked("ex03_3", lambda J: gram_schmidt_lyapunov(J)[::-1], "not sorted"),
    marked("ex03_4", lambda *a: loop_shplrnn_jacobian(*a, variant="transposed"), "transpose"),
    marked("ex03_4", lambda *a: loop_shplrnn_jacobian(*a, variant="no A"), "diag(A) is missing"),
    marked("ex03_5", lambda *a: masked_gtf_step(*a, variant="unscaled"), "unscaled"),
    marked("ex03_5", lambda *a: masked_gtf_step(*a, variant="alpha"), "scaled by alpha"),
    marked("ex03_6", lambda *a: explicit_q_plrnn_vjp(*a, variant="diag kept"), "diagonal"),
    marked(
        "ex03_6",
        lambda *a: explicit_q_plrnn_vjp(*a, variant="no Q in backward"),
        "centring was ignored",
    ),
]


globals().update(checker_tests(EXERCISE_IDS, LIBRARY, TEXTBOOK, WRONG, min_mistakes=3))


# --------------------------------------------------------------------------- the premises


@pytest.mark.ex03_2
def test_python_binning_differs_from_the_checked_definition():
    """The source-compatible binning (bin 0 dropped) is a different number on the checker's
    cases: the exercise really pins the Julia definition."""
    spec = harness.get_spec("ex03_2")
    case = spec.cases(np.random.default_rng(0))[3]
    x, y, n = case.args
    julia = metrics.state_space_divergence(x, y, n)
    python = metrics.state_space_divergence(x, y, n, variant="python")
    assert abs(julia - python) > 1e-3 * abs(julia)


@pytest.mark.ex03_3
def test_the_overflow_case_overflows():
    spec = harness.get_spec("ex03_3")
    (J,) = next(c for c in spec.cases(np.random.default_rng(0)) if "overflow" in c.name).args
    P = np.eye(2)
    with np.errstate(all="ignore"):
        for J_t in J:
            P = J_t @ P
    assert not np.all(np.isfinite(P))


@pytest.mark.ex03_5
def test_gtf_backward_is_the_derivative_of_the_forward(rng):
    """Finite differences of <zbar_tilde, z_tilde(z)> give the checker's zbar."""
    z, x, zbar_t = rng.normal(size=(2, 5)), rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    _, zbar = library_gtf_step(z, x, 0.3, zbar_t)
    eps = 1e-6
    fd = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[idx] = eps
        up = np.sum(zbar_t * forcing.force(z + e, x, 0.3))
        down = np.sum(zbar_t * forcing.force(z - e, x, 0.3))
        fd[idx] = (up - down) / (2 * eps)
    assert np.allclose(fd, zbar, atol=1e-8)


def test_registry_lists_every_chapter_three_exercise():
    assert set(EXERCISE_IDS) <= set(harness.exercise_ids())
    for eid in EXERCISE_IDS:
        spec = harness.get_spec(eid)
        assert spec.stub_path.is_file() and spec.path.startswith("03-dsr/")
