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


@pytest.fixture
def run_cli():
    """Run ``python -m reference <args>`` headless from the repository root; return stdout.

    Fails the test (with the command's stderr) when the command exits non-zero.
    """
    import subprocess
    import sys

    def run(*args, timeout=300):
        proc = subprocess.run(
            [sys.executable, "-m", "reference", *map(str, args)],
            cwd=GOLDEN.parents[1],
            env={**os.environ, "MPLBACKEND": "Agg"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    return run
