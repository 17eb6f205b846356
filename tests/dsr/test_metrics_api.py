"""The public surface of ``reference.dsr.metrics``: the names kept after the split into
``metrics``, ``lyapunov`` and ``checks``, and array arguments from any backend (NumPy, CuPy)
converted once at entry."""

import numpy as np
import pytest

from reference import backend
from reference.dsr import checks, data, experiments, lyapunov, metrics

# Every public name metrics.py had before lyapunov.py and checks.py were split off.
PUBLIC = (
    "LAPLACE_ALPHA BOX_MARGIN_SD GMM_MAX_POINTS GMM_SAMPLES BINNED_MAX_DIM VARIANTS "
    "bounding_box occupation_histogram laplace_smoothed binned_state_space_divergence "
    "gmm_state_space_divergence state_space_divergence gaussian_smooth power_spectra "
    "hellinger_spectrum_distance initial_state free_run generate prediction_errors "
    "prediction_error qr_step lyapunov_from_jacobians lyapunov_spectrum evaluate "
    "ground_truth_floor summarise"
).split()


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_is_still_importable_from_metrics(name):
    assert callable(getattr(metrics, name)) or name.isupper()


@pytest.mark.parametrize("name", ["qr_step", "lyapunov_from_jacobians", "lyapunov_spectrum"])
def test_lyapunov_functions_are_reexported_not_copied(name):
    assert getattr(metrics, name) is getattr(lyapunov, name)


def test_checks_name_the_argument():
    with pytest.raises(ValueError, match="n_steps"):
        checks.positive_int("n_steps", 0)
    with pytest.raises(ValueError, match="x_gen"):
        checks.series_pair([[0.0], [1.0]], [[0.0, 1.0], [1.0, 2.0]])


# --------------------------------------------------------------------------- backend arrays


class DeviceArray:
    """A stand-in for a CuPy array on a machine without a GPU: NumPy cannot convert it
    implicitly (CuPy raises ``TypeError`` there too), :func:`reference.backend.asnumpy`
    copies it to the host with ``.get()`` as it does for CuPy."""

    __module__ = "cupy_standin"  # reference.backend recognises device arrays by module

    def __init__(self, a):
        self._a = np.array(a, dtype=np.float64)

    def get(self):
        return self._a.copy()

    def __array__(self, *args, **kwargs):
        raise TypeError("implicit conversion of a device array to NumPy; use .get()")


@pytest.fixture(scope="module")
def case():
    """Two short Lorenz-63 series, the authors' pretrained AL-RNN and a Jacobian sequence."""
    x = data.lorenz63(600, np.random.default_rng(1))
    y = data.lorenz63(600, np.random.default_rng(2))
    model, params = experiments.pretrained_alrnn()
    z0 = model.initial_state(params, x[:2])
    J = np.stack([model.jacobian(params, z0 + 0.01 * t) for t in range(30)])
    return x, y, model, params, z0, J


def _all_metrics(x, y, model, params, z0, J, to):
    """Every public entry point of metrics (and lyapunov), with array arguments wrapped by
    ``to``; returns a flat dict of the results as returned."""
    lo, hi = metrics.bounding_box(to(x))
    counts = metrics.occupation_histogram(to(y), to(lo), to(hi), 12)
    x6, y6 = np.hstack([x, y]), np.hstack([y, x])
    out = {
        "lo": lo,
        "hi": hi,
        "counts": counts,
        "p": metrics.laplace_smoothed(to(counts)),
        "smooth": metrics.gaussian_smooth(to(x.T), 3.5),
        "spectra": metrics.power_spectra(to(x)),
        "D_H": metrics.hellinger_spectrum_distance(to(x), to(y), return_per_dim=True),
        "gmm": metrics.gmm_state_space_divergence(to(x6), to(y6), n_samples=50),
        "D_stsp_gmm": metrics.state_space_divergence(to(x6), to(y6)),
        "floor": list(metrics.ground_truth_floor(to(x), to(y)).values()),
        "pe": metrics.prediction_errors(model, params, to(x), n=5),
        "pe5": metrics.prediction_error(model, params, to(x), n=5),
        "lyap_J": metrics.lyapunov_from_jacobians(to(J)),
        "lyap": metrics.lyapunov_spectrum(model, params, to(z0), 40, n_transient=5),
        "summary": list(metrics.summarise(to([1.0, 2.0, np.nan, 5.0])).values()),
    }
    for variant in metrics.VARIANTS:
        out[variant] = metrics.state_space_divergence(to(x), to(y), variant=variant)
        out[f"{variant}_binned"] = metrics.binned_state_space_divergence(to(x), to(y), 12, variant)
    r = metrics.evaluate(model, params, to(x[:400]))
    out.update({f"evaluate_{k}": v for k, v in r.items()})
    return out


@pytest.mark.parametrize("to", [backend.asarray, DeviceArray], ids=["active_backend", "device"])
def test_metrics_accept_backend_arrays_and_return_the_numpy_result(case, to):
    """Arrays on the active backend (NumPy here, CuPy on a GPU) and device arrays are
    converted once at entry; the results are bitwise those of NumPy inputs."""
    want = _all_metrics(*case, to=np.asarray)
    got = _all_metrics(*case, to=to)
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert type(got[key]) is type(value) and type(value) in (float, np.ndarray, list), key
        assert np.array_equal(got[key], value, equal_nan=True), key


@pytest.mark.gpu
def test_metrics_take_cupy_arrays_with_the_model_on_the_gpu(case):
    """With CuPy active the model runs on the device; the statistics of CuPy inputs equal
    those of the same NumPy inputs, and short-horizon model quantities agree closely."""
    import cupy

    x, y, model, params, z0, J = case
    want = _all_metrics(*case, to=np.asarray)
    backend.use("cupy")
    try:
        dev = {k: cupy.asarray(v) for k, v in params.items()}
        assert metrics.hellinger_spectrum_distance(cupy.asarray(x), y) == want["D_H"].mean()
        assert metrics.state_space_divergence(cupy.asarray(x), cupy.asarray(y)) == want["julia"]
        assert np.array_equal(metrics.lyapunov_from_jacobians(cupy.asarray(J)), want["lyap_J"])
        pe = metrics.prediction_errors(model, dev, cupy.asarray(x), n=5)
        assert type(pe) is np.ndarray and np.allclose(pe, want["pe"], rtol=1e-9, atol=0)
        lam = metrics.lyapunov_spectrum(model, dev, cupy.asarray(z0), 40, n_transient=5)
        assert type(lam) is np.ndarray and np.allclose(lam, want["lyap"], rtol=1e-9, atol=1e-12)
        r = metrics.evaluate(model, dev, cupy.asarray(x[:400]))
        assert type(r["x_gen"]) is np.ndarray and r["x_gen"].shape == (400, 3)
        assert np.isfinite(r["D_stsp"]) and np.isfinite(r["D_H"])
    finally:
        backend.use("numpy")
