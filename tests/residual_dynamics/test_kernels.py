"""The numba kernel equals its plain twin and the readable NumPy model."""

import numpy as np
import pytest

from reference import gradcheck
from reference.residual_dynamics import kernels
from reference.residual_dynamics import model as rd
from tests.residual_dynamics.test_model import random_problem


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_jit_equals_plain_equals_model(rng, threads):
    params, alpha, N0, g0, ys, rs = random_problem(rng, T=6, B=5, m=3, H=8)
    loss, grads, alphabar, Nbars, _ = rd.backprop_through_time(params, alpha, N0, g0, ys, rs)
    Ns, gs, logits = rd.forward(params, alpha, N0, g0, ys, rs)
    for jit in (True, False):
        out = kernels.forward_numba(
            params, alpha, N0, g0, ys, rs, rd.ENTROPY_WEIGHT, jit=jit, threads=threads
        )
        assert abs(out["loss"] - loss) <= 1e-12 * abs(loss)
        for k in grads:
            assert gradcheck.rel_error(out[k], grads[k]) <= 1e-12, (jit, k)
        assert gradcheck.rel_error(out["alpha"], alphabar) <= 1e-12
        assert gradcheck.rel_error(out["Ns"][1:], Ns) <= 1e-12
        assert np.array_equal(out["Ns"][0], N0) and np.array_equal(out["gs"][0], g0)
        assert gradcheck.rel_error(out["gs"][1:], gs) <= 1e-12
        assert gradcheck.rel_error(out["logits"], logits) <= 1e-12
        assert gradcheck.rel_error(out["Nbars"], Nbars) <= 1e-12


def test_jit_equals_plain_bitwise_single_block(rng):
    """One block: the compiled and the interpreted kernel run the same operations."""
    args = random_problem(rng, T=5, B=3, m=4, H=6)
    a = kernels.forward_numba(*args, rd.ENTROPY_WEIGHT, jit=True, threads=1)
    b = kernels.forward_numba(*args, rd.ENTROPY_WEIGHT, jit=False, threads=1)
    for k in a:
        assert gradcheck.rel_error(a[k], b[k]) <= 1e-14, k


def test_float32_stays_float32(rng):
    args = random_problem(rng, T=5, B=4, m=3, H=6, dtype="float32")
    loss64, grads64 = rd.loss_and_grads(*random_problem(np.random.default_rng(0)), kernel="numba")
    out = kernels.forward_numba(*args, rd.ENTROPY_WEIGHT)
    assert all(out[k].dtype == np.float32 for k in ("W1", "Ns", "Nbars"))
    ref_loss, ref_grads = rd.loss_and_grads(*args, kernel="numpy")
    for k in ref_grads:
        assert gradcheck.rel_error(out[k], ref_grads[k]) < 1e-4
    assert np.isfinite(loss64)


def test_threads_validation(rng):
    with pytest.raises(ValueError, match="threads"):
        kernels.forward_numba(*random_problem(rng), rd.ENTROPY_WEIGHT, threads=0)


def test_reused_workspace_does_not_leak_between_calls(rng):
    """Outputs of one call are not overwritten by the next call with the same sizes."""
    first_args = random_problem(rng, T=5, B=4, m=3, H=6)
    second_args = random_problem(rng, T=5, B=4, m=3, H=6)
    first = kernels.forward_numba(*first_args, rd.ENTROPY_WEIGHT, threads=2)
    snapshot = {k: np.copy(v) for k, v in first.items()}
    kernels.forward_numba(*second_args, rd.ENTROPY_WEIGHT, threads=2)
    again = kernels.forward_numba(*first_args, rd.ENTROPY_WEIGHT, threads=2)
    for k in first:
        assert np.array_equal(first[k], snapshot[k]), k
        assert np.array_equal(again[k], snapshot[k]), k


def test_workspace_shapes():
    X, H1, H2, A1bar, A2bar, Zbar = kernels.make_workspace(7, 3, 4, 5, np.float32)
    assert X.shape == (7, 3, 16) and H1.shape == A2bar.shape == (7, 3, 5)
    assert Zbar.shape == (7, 3, 4) and X.dtype == np.float32
