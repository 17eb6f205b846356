import numpy as np
import pytest

from reference import gradcheck


def test_rel_error_zero_for_equal_and_scale_free():
    a = np.array([1.0, -2.0, 3.0])
    assert gradcheck.rel_error(a, a) == 0.0
    assert gradcheck.rel_error(a * 1e-20, (a + [0, 0, 1e-3]) * 1e-20) == pytest.approx(
        gradcheck.rel_error(a, a + [0, 0, 1e-3])
    )
    assert gradcheck.rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_rel_error_nan_never_passes():
    a = np.array([1.0, 2.0])
    assert gradcheck.rel_error(a, np.array([1.0, np.nan])) == np.inf
    assert gradcheck.rel_error(np.array([np.nan]), np.array([np.nan])) == np.inf
    assert gradcheck.rel_error(np.array([np.nan]), np.array([np.nan]), nan_equal=True) == 0.0
    # the same infinity in the same place is equal; the finite rest is compared as usual
    assert gradcheck.rel_error(np.array([-np.inf, 1.0]), np.array([-np.inf, 1.0])) == 0.0
    assert gradcheck.rel_error(np.array([-np.inf, 1.0]), np.array([np.inf, 1.0])) == np.inf
    assert gradcheck.rel_error(np.array([-np.inf, 1.0]), np.array([0.0, 1.0])) == np.inf
    # the NaN cannot hide behind a smaller error in a max over several arrays
    errors = gradcheck.max_rel_error({"x": a, "y": a}, {"x": a, "y": a + np.nan})
    assert errors["max"] == np.inf


def test_rel_error_shape_mismatch():
    with pytest.raises(ValueError, match="shapes differ"):
        gradcheck.rel_error(np.zeros(3), np.zeros(4))


def test_numerical_and_autograd_on_a_known_function(rng):
    from reference.backend import xp

    params = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}

    def f(p):
        return xp.sum(xp.tanh(p["a"]) ** 2) + xp.sum(p["b"] ** 3)

    exact = {
        "a": 2 * np.tanh(params["a"]) * (1 - np.tanh(params["a"]) ** 2),
        "b": 3 * params["b"] ** 2,
    }
    num = gradcheck.numerical_grads(f, params)
    auto = gradcheck.autograd_grads(f, params)
    assert gradcheck.max_rel_error(num, exact)["max"] < 1e-8
    assert gradcheck.max_rel_error(auto, exact)["max"] < 1e-14


def test_sparse_numerical_grads_need_rng(rng):
    params = {"a": rng.normal(size=(10, 10))}
    with pytest.raises(ValueError, match="rng"):
        gradcheck.numerical_grads(lambda p: float(np.sum(p["a"])), params, max_entries=5)
    g = gradcheck.numerical_grads(
        lambda p: float(np.sum(p["a"] ** 2)), params, max_entries=5, rng=rng
    )
    checked = ~np.isnan(g["a"])
    assert checked.sum() == 5
    np.testing.assert_allclose(g["a"][checked], 2 * params["a"][checked], rtol=1e-7)


def test_compare_reports_verdict():
    ok, msg = gradcheck.compare("x", np.ones(2), np.ones(2) + 1e-3, tol=1e-6)
    assert not ok and "MISMATCH" in msg and "x" in msg
