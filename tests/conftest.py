"""Shared pytest configuration: float64 checks, headless matplotlib, GPU marker handling."""

import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

GOLDEN = pathlib.Path(__file__).parent / "golden"


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def golden_dir():
    return GOLDEN


def pytest_collection_modifyitems(config, items):
    from reference.backend import cupy_device_available

    if cupy_device_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy with a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
