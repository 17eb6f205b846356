"""The array-module dispatch, tested without a GPU."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from reference import backend
from reference.backend import xp


def test_default_is_numpy():
    assert backend.name() == "numpy"
    assert xp.exp is np.exp
    assert isinstance(xp.zeros(3), np.ndarray)


def test_use_numpy_returns_name():
    assert backend.use("numpy") == "numpy"
    assert backend.use("NumPy") == "numpy"


def test_use_rejects_unknown_name():
    with pytest.raises(ValueError, match="backend name"):
        backend.use("jax")


def test_cupy_without_device_falls_back_with_warning(monkeypatch):
    monkeypatch.setattr(backend, "cupy_device_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="staying on NumPy"):
        assert backend.use("cupy") == "numpy"
    assert backend.name() == "numpy"


def test_using_swaps_module_and_restores():
    import autograd.numpy as anp

    with backend.using(anp):
        assert backend.name() == "autograd"
        assert xp.exp is anp.exp
    assert backend.name() == "numpy"


def test_using_restores_after_exception():
    import autograd.numpy as anp

    with pytest.raises(RuntimeError), backend.using(anp):
        raise RuntimeError("boom")
    assert backend.name() == "numpy"


def test_asnumpy_and_get_array_module():
    a = np.arange(3.0)
    assert backend.asnumpy(a) is a or np.array_equal(backend.asnumpy(a), a)
    assert backend.get_array_module(a) is np
    assert backend.asnumpy([1.0, 2.0]).dtype == np.float64


@pytest.mark.parametrize("value, expected", [("numpy", "numpy"), ("cupy", "numpy")])
def test_environment_variable(value, expected):
    code = (
        "import warnings; warnings.simplefilter('ignore'); "
        "from reference import backend; print(backend.name())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "REFERENCE_BACKEND": value},
    )
    if value == "cupy" and backend.cupy_device_available():
        expected = "cupy"
    assert out.stdout.strip() == expected


def test_environment_variable_rejects_unknown():
    import os

    out = subprocess.run(
        [sys.executable, "-c", "import reference.backend"],
        capture_output=True,
        text=True,
        env={**os.environ, "REFERENCE_BACKEND": "tensorflow"},
    )
    assert out.returncode != 0
    assert "REFERENCE_BACKEND" in out.stderr


@pytest.mark.gpu
def test_cupy_roundtrip_on_device():
    import cupy

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backend.use("cupy") == "cupy"
    try:
        a = xp.arange(4.0)
        assert isinstance(a, cupy.ndarray)
        assert np.array_equal(backend.asnumpy(a), np.arange(4.0))
    finally:
        backend.use("numpy")
