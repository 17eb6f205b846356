"""Chapter 3 metrics: D_stsp (binned, both variants, and GMM), D_H, PE(n), Lyapunov spectra
(linear maps, Lorenz-63 through its own Jacobian, the authors' pretrained AL-RNN), the
evaluation protocol and the summary statistics."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import gaussian_filter1d

from reference.dsr import data, metrics
from reference.dsr.models import ALRNN
from reference.gradcheck import rel_error

DT = 0.01
LORENZ_LAMBDA_MAX = 0.906  # per time unit (sigma 10, rho 28, beta 8/3)


@pytest.fixture(scope="module")
def lorenz():
    """Two independent standardised Lorenz-63 series of 10^4 steps."""
    return (
        data.lorenz63(10_000, np.random.default_rng(1)),
        data.lorenz63(10_000, np.random.default_rng(2)),
    )


def pretrained(golden_dir, tag="pretrained_lorenz_m20_p2"):
    """The authors' AL-RNN; the golden file stores column-form W (z' = A z + W phi(z) + h),
    we store row form, hence the transpose."""
    g = np.load(golden_dir / "dsr_pretrained_alrnn.npz")
    A, W, h, B = (g[f"{tag}__{k}"] for k in "AWhB")
    model = ALRNN(A.size, B.shape[0], int(g[f"{tag}__P"]))
    return model, {"A": A, "W": W.T.copy(), "h": h, "B": B}


class LinearMap:
    """z' = z @ L (row form), Jacobian L^T."""

    def __init__(self, L):
        self.L = L

    def step(self, params, z, s=None):
        return z @ self.L

    def jacobian(self, params, z):
        return np.broadcast_to(self.L.T, (z.shape[0],) + self.L.shape)


# --------------------------------------------------------------------------- D_H


@pytest.mark.parametrize(("n", "sigma"), [(1000, 20), (101, 3.5), (30, 20), (7, 2)])
def test_gaussian_smooth_equals_scipy(n, sigma):
    x = np.random.default_rng(n).random((3, n))
    assert rel_error(metrics.gaussian_smooth(x, sigma), gaussian_filter1d(x, sigma)) < 1e-13


def textbook_dh(x, y, sigma):
    hs = []
    for i in range(x.shape[1]):
        ps = []
        for s in (x[:, i], y[:, i]):
            P = gaussian_filter1d(np.abs(np.fft.rfft((s - s.mean()) / s.std())) ** 2, sigma)
            P = np.clip(P, 0, None)
            ps.append(P / P.sum())
        hs.append(np.sqrt(max(1 - np.sum(np.sqrt(ps[0] * ps[1])), 0.0)))
    return np.mean(hs)


def test_hellinger_spectrum_distance_definition(lorenz):
    x, y = lorenz
    d = metrics.hellinger_spectrum_distance(x, y)
    assert abs(d - textbook_dh(x, y, 20)) < 1e-12
    assert d == pytest.approx(metrics.hellinger_spectrum_distance(y, x), abs=1e-14)
    assert metrics.hellinger_spectrum_distance(x, x) < 1e-7
    per_dim = metrics.hellinger_spectrum_distance(x, y, return_per_dim=True)
    assert per_dim.shape == (3,) and np.all((per_dim >= 0) & (per_dim <= 1))


def test_hellinger_distance_sees_the_frequency():
    t = np.arange(4096)[:, None]
    slow, fast = np.sin(0.05 * t), np.sin(0.5 * t)
    assert metrics.hellinger_spectrum_distance(slow, 3 * slow + 1) < 1e-7  # z-scored
    assert metrics.hellinger_spectrum_distance(slow, fast) > 0.99


# --------------------------------------------------------------------------- D_stsp


def textbook_histogram(x, lo, hi, n_bins, python_variant):
    counts = np.zeros((n_bins,) * x.shape[1])
    for row in x:
        k = [int(np.floor(n_bins * (v - a) / (b - a))) for v, a, b in zip(row, lo, hi, strict=True)]
        first = 1 if python_variant else 0
        if all(first <= ki < n_bins for ki in k):
            counts[tuple(k)] += 1
    return counts


@pytest.mark.parametrize("variant", metrics.VARIANTS)
def test_binned_histogram_and_kl_by_hand(variant, lorenz):
    x, y = lorenz[0][:3000], lorenz[1][:3000] * 1.1
    lo, hi = metrics.bounding_box(x, variant)
    n = 8
    h = metrics.occupation_histogram(y, lo, hi, n, variant)
    assert np.array_equal(h, textbook_histogram(y, lo, hi, n, variant == "python"))
    hx = textbook_histogram(x, lo, hi, n, variant == "python")
    p = (hx + 1e-5) / (hx.sum() + 1e-5 * n**3)
    q = (h + 1e-5) / (h.sum() + 1e-5 * n**3)
    want = sum(pi * math.log(pi / qi) for pi, qi in zip(p.ravel(), q.ravel(), strict=True))
    got = metrics.state_space_divergence(x, y, n, variant=variant)
    assert got == pytest.approx(want, rel=1e-12)


def test_python_variant_drops_the_first_bin_and_julia_keeps_every_true_point(lorenz):
    x = lorenz[0]
    lo, hi = metrics.bounding_box(x, "python")
    h = metrics.occupation_histogram(x, lo, hi, 30, "python")
    assert h[0].sum() == h[:, 0].sum() == h[:, :, 0].sum() == 0
    assert h.sum() < len(x)
    lo, hi = metrics.bounding_box(x, "julia")
    assert metrics.occupation_histogram(x, lo, hi, 30, "julia").sum() == len(x)


def test_state_space_divergence_properties(lorenz):
    x, y = lorenz
    assert metrics.state_space_divergence(x, x) == 0.0
    d = metrics.state_space_divergence(x, y)
    assert 0 < d < metrics.state_space_divergence(x, 0.7 * y)
    assert math.isnan(metrics.state_space_divergence(x, y + 100.0))  # nothing in the box


def test_gmm_divergence_of_two_point_masses_is_the_gaussian_kl():
    """One centre per orbit: KL(N(a, v I) || N(b, v I)) = |a - b|^2 / (2 v)."""
    a, b = np.zeros((5, 6)), np.full((5, 6), 0.5)
    want = 6 * 0.25 / 2
    got = metrics.gmm_state_space_divergence(
        a, b, variance=1.0, n_samples=20_000, rng=np.random.default_rng(0)
    )
    assert got == pytest.approx(want, rel=0.03)
    assert metrics.state_space_divergence(a, a) == 0.0  # 6 dims: the GMM branch


# --------------------------------------------------------------------------- PE and models


def test_prediction_error_is_zero_for_the_true_map_and_grows_for_a_wrong_one():
    x = data.lorenz63(2000, np.random.default_rng(0), standardise=False)
    fm = data.FlowMap("lorenz63")
    assert metrics.prediction_error(fm, fm.init_params(), x, n=20) < 1e-20
    pe = metrics.prediction_errors(fm, {"rho": 27.0}, x, n=20)
    assert pe.shape == (20,) and np.all(np.diff(pe) > 0)
    assert metrics.prediction_error(fm, {"rho": 27.0}, x, n=20) == pe[-1]


def test_pretrained_alrnn_predicts_and_generates_lorenz(golden_dir, lorenz):
    """The authors' model on our data: a small PE(20), and D_stsp / D_H at T = 10^4 within a
    small factor of the ground-truth floor at the same lengths."""
    model, params = pretrained(golden_dir)
    x, y = lorenz
    r = metrics.evaluate(model, params, x)
    floor = metrics.ground_truth_floor(x, y)
    assert r["x_gen"].shape == x.shape
    assert r["PE"] < 0.1
    assert floor["D_stsp"] < r["D_stsp"] < 6.0
    assert floor["D_H"] < r["D_H"] < 0.15
    worse = metrics.evaluate(model, dict(params, A=0.98 * params["A"]), x)
    assert worse["D_stsp"] > 2 * r["D_stsp"] and worse["D_H"] > 2 * r["D_H"]
    with np.errstate(all="ignore"):  # a larger bias makes the orbit diverge: NaN, not a number
        assert math.isnan(metrics.evaluate(model, dict(params, h=params["h"] + 0.3), x)["D_H"])


# --------------------------------------------------------------------------- Lyapunov


def test_lyapunov_of_linear_maps():
    diag = LinearMap(np.diag([0.5, -2.0, 1.0]))
    lam = metrics.lyapunov_spectrum(diag, {}, np.ones(3), 50, n_transient=0)
    assert np.allclose(lam, np.log([2.0, 1.0, 0.5]), atol=1e-12)
    # non-normal: the exponents are the log moduli of the eigenvalues, not the singular values
    L = np.array([[0.9, 5.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, -1.2]])
    lam, hist = metrics.lyapunov_spectrum(
        LinearMap(L), {}, np.ones((2, 3)), 3000, n_transient=0, return_history=True
    )
    assert lam.shape == (2, 3) and hist.shape == (3000, 2, 3)
    assert np.allclose(lam, np.log([1.2, 0.9, 0.3]), atol=2e-3)


def test_lyapunov_from_jacobians_survives_where_the_product_overflows(rng):
    """3000 steps of a non-normal map with entries ~3: the plain product overflows, the QR
    iteration gives log|eigenvalues|; a batch axis gives one spectrum per sequence; along a
    model orbit it equals lyapunov_spectrum."""
    L = np.array([[3.0, 7.0], [0.0, 0.5]])
    J = np.broadcast_to(L, (3000, 2, 2))
    product = np.eye(2)
    with np.errstate(over="ignore", invalid="ignore"):
        for J_t in J[:700]:
            product = J_t @ product
    assert not np.all(np.isfinite(product))
    assert np.allclose(metrics.lyapunov_from_jacobians(J), np.log([3.0, 0.5]), atol=2e-3)
    fm = data.FlowMap("roessler", substeps=1)
    z0 = rng.normal(size=(2, 3))
    z, Js = z0, []
    for _ in range(200):
        Js.append(fm.jacobian({}, z))
        z = fm.step({}, z)
    lam = metrics.lyapunov_from_jacobians(np.stack(Js))
    assert lam.shape == (2, 3)
    assert np.allclose(lam, metrics.lyapunov_spectrum(fm, {}, z0, 200, n_transient=0), atol=1e-14)


def test_lorenz63_lyapunov_spectrum_through_its_own_jacobian():
    """lambda_1 ~ 0.906, lambda_2 ~ 0 and the sum equals the constant divergence
    -(sigma + 1 + beta) of the flow."""
    fm = data.FlowMap("lorenz63", substeps=1)
    z0 = np.random.default_rng(0).normal(size=(16, 3)) + [0.0, 0.0, 25.0]
    lam = metrics.lyapunov_spectrum(fm, fm.init_params(), z0, 3000, n_transient=300) / DT
    assert abs(lam[:, 0].mean() - LORENZ_LAMBDA_MAX) < 0.06
    assert abs(lam[:, 1].mean()) < 0.05
    assert np.allclose(lam.sum(axis=1), -(10 + 1 + 8 / 3), atol=1e-3)


def test_pretrained_alrnn_lyapunov_spectrum(golden_dir, lorenz):
    """The authors' model: a largest exponent near Lorenz-63's 0.00906 per step and a
    near-zero second one."""
    model, params = pretrained(golden_dir)
    z0 = model.initial_state(params, lorenz[0][:4])
    lam = metrics.lyapunov_spectrum(model, params, z0, 3000).mean(axis=0)
    assert lam.shape == (20,)
    assert 0.006 < lam[0] < 0.013 and abs(lam[1]) < 0.003 and lam[2] < -0.005


# --------------------------------------------------------------------------- protocol


def test_evaluate_drops_the_first_quarter(golden_dir, lorenz):
    model, params = pretrained(golden_dir)
    x = lorenz[0][:400]
    r = metrics.evaluate(model, params, x)
    full = metrics.generate(model, params, x[0], 500)
    assert np.array_equal(r["x_gen"], full[100:])


def test_summarise_drops_nan():
    s = metrics.summarise([1.0, 2.0, 3.0, 10.0, math.nan])
    assert s["n"] == 4 and s["n_nan"] == 1
    assert s["mean"] == 4.0 and s["median"] == 2.5 and s["mad"] == 1.0
    assert s["sd"] == pytest.approx(np.std([1, 2, 3, 10], ddof=1))
    assert s["sem"] == pytest.approx(s["sd"] / 2)
    assert metrics.summarise([math.nan])["n"] == 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x: metrics.state_space_divergence(x, x[:, :2]), "x_gen"),
        (lambda x: metrics.state_space_divergence(x[:, 0], x), "x_true"),
        (lambda x: metrics.state_space_divergence(x, x, variant="torch"), "variant"),
        (lambda x: metrics.state_space_divergence(x, x, n_bins=0), "n_bins"),
        (lambda x: metrics.hellinger_spectrum_distance(x, x[:-1]), "x_gen"),
        (lambda x: metrics.hellinger_spectrum_distance(x, x, sigma=0), "sigma"),
        (lambda x: metrics.state_space_divergence(x, np.full_like(x, np.nan)), "finite"),
        (
            lambda x: metrics.gmm_state_space_divergence(x, x, variance=-1.0),
            "variance",
        ),
        (lambda x: metrics.lyapunov_spectrum(LinearMap(np.eye(3)), {}, x[0], 0), "n_steps"),
        (lambda x: metrics.lyapunov_spectrum(LinearMap(np.eye(3)), {}, x, 5), "z0"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, match):
    x = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match=match):
        call(x if match != "z0" else x[None])


# --------------------------------------------------------------------------- random shapes


@settings(max_examples=25, deadline=None)
@given(
    n_dim=st.integers(1, 3),
    n_bins=st.integers(1, 9),
    n_true=st.integers(2, 200),
    n_gen=st.integers(2, 200),
    seed=st.integers(0, 2**31 - 1),
)
def test_julia_histogram_equals_histogramdd_on_random_shapes(n_dim, n_bins, n_true, n_gen, seed):
    """Counts on edges linspace(lo, hi, n_bins + 1) (no point lies on hi: the box has a
    margin); KL of the smoothed histograms is >= 0 and 0 for identical data."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_true, n_dim)) * rng.uniform(0.5, 3, n_dim)
    y = 1.3 * rng.normal(size=(n_gen, n_dim))
    lo, hi = metrics.bounding_box(x)
    edges = [np.linspace(a, b, n_bins + 1) for a, b in zip(lo, hi, strict=True)]
    if np.ptp(x, axis=0).min() == 0:
        return
    want, _ = np.histogramdd(y, bins=edges)
    assert np.array_equal(metrics.occupation_histogram(y, lo, hi, n_bins), want)
    d = metrics.state_space_divergence(x, y, n_bins)
    assert math.isnan(d) or d >= -1e-12
    assert metrics.state_space_divergence(x, x, n_bins) == 0.0


@settings(max_examples=20, deadline=None)
@given(n=st.integers(8, 300), n_dim=st.integers(1, 4), sigma=st.floats(0.5, 30),
       seed=st.integers(0, 2**31 - 1))  # fmt: skip
def test_hellinger_distance_equals_scipy_definition_on_random_shapes(n, n_dim, sigma, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, n_dim)).cumsum(0), rng.normal(size=(n, n_dim))
    d = metrics.hellinger_spectrum_distance(x, y, sigma)
    # sqrt(1 - BC) loses digits when BC ~ 1: agreement to 1e-9 absolute
    assert abs(d - textbook_dh(x, y, sigma)) < 1e-9 and 0 <= d <= 1
