"""The numba kernels equal their plain twins and the readable circuit / Hebbian code."""

import numpy as np
import pytest

from reference.gradcheck import rel_error
from reference.ngc import circuit, hebbian, kernels


def case(rng, dims, batch=4):
    params = circuit.init_params(dims, rng)
    return params, rng.normal(size=(batch, dims[-1])), rng.normal(size=(batch, dims[0]))


@pytest.mark.parametrize("phi", circuit.PHIS)
@pytest.mark.parametrize("dims", [(3, 5, 2), (3, 5, 4, 2), (2, 7, 6, 5, 3)])
@pytest.mark.parametrize("jit", [True, False])
def test_settle_twins(rng, dims, phi, jit):
    params, x_i, x_o = case(rng, dims)
    ref = circuit.settle(params, x_i, x_o, 7, 0.1, 0.01, 0.5, phi)
    got = kernels.settle_fast(params, x_i, x_o, 7, 0.1, 0.01, 0.5, phi, jit=jit)
    for key in ("e", "zbar", "phi_z", "z"):
        for a, b in zip(got[key], ref[key], strict=True):
            assert rel_error(a, b) <= 1e-13, key


@pytest.mark.parametrize("g", circuit.GS)
@pytest.mark.parametrize("jit", [True, False])
def test_settle_from_given_states(rng, jit, g):
    params, x_i, x_o = case(rng, (3, 6, 5, 2))
    z0 = circuit.project(params, x_i)[1:-1]
    ref = circuit.settle(params, x_i, x_o, 5, 0.2, 0.0, 0.4, z_init=z0, g=g)
    got = kernels.settle_fast(params, x_i, x_o, 5, 0.2, 0.0, 0.4, z_init=z0, jit=jit, g=g)
    assert all(rel_error(a, b) <= 1e-13 for a, b in zip(got["e"], ref["e"], strict=True))
    assert rel_error(z0[0], circuit.project(params, x_i)[1]) == 0.0  # inputs untouched


@pytest.mark.parametrize("modulate, use_abs", [(False, True), (True, True), (True, False)])
@pytest.mark.parametrize("jit", [True, False])
def test_hebbian_twins(rng, modulate, use_abs, jit):
    params, x_i, x_o = case(rng, (3, 6, 5, 2), batch=5)
    s = circuit.settle(params, x_i, x_o, 10, 0.1, 0.01, 0.5)
    ref = hebbian.hebbian_updates(params, s, 0.95, modulate, use_abs)
    got = kernels.hebbian_fast(params, s, 0.95, modulate, use_abs, jit=jit)
    for a, b in zip(got, ref, strict=True):
        assert set(a) == set(b)
        for k in a:
            assert rel_error(a[k], b[k]) <= 1e-13, k


def test_golden_through_the_kernels(golden_dir):
    d = np.load(golden_dir / "ngc_ngclearn.npz")
    g = {k[2:]: d[k] for k in d.files if k.startswith("A_")}
    params = {"W1": g["W1"], "W2": g["W2"], "W3": g["W3"], "E1": g["E1_used"], "E2": g["E2_used"]}
    s = kernels.settle_fast(params, g["x_i"], g["x_o"], 20, 0.1, 0.01, 0.5)
    for l in range(3):
        assert rel_error(s["e"][l], g[f"e{l}"]) <= 1e-10
    dW, dE = kernels.hebbian_fast(params, s, 0.95)
    assert all(rel_error(dW[f"W{l}"], g[f"dW{l}_mod"]) <= 1e-10 for l in (1, 2, 3))
    assert all(rel_error(dE[f"E{l}"], g[f"dE{l}_mod"]) <= 1e-10 for l in (1, 2))


def test_float32_stays_float32(rng):
    params, x_i, x_o = case(rng, (3, 5, 4, 2))
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    s = kernels.settle_fast(p32, x_i.astype(np.float32), x_o.astype(np.float32), 5, 0.1, 0.01, 0.5)
    ref = circuit.settle(params, x_i, x_o, 5, 0.1, 0.01, 0.5)
    assert all(e.dtype == np.float32 for e in s["e"])
    np.testing.assert_allclose(s["e"][0], ref["e"][0], rtol=1e-4, atol=1e-5)
    dW, _ = kernels.hebbian_fast(p32, s, 0.95)
    assert dW["W1"].dtype == np.float32


def test_kernel_checks_its_arguments(rng):
    params, x_i, x_o = case(rng, (3, 5, 2))
    with pytest.raises(ValueError, match="x_o"):
        kernels.settle_fast(params, x_i, x_o[:, :2], 5, 0.1, 0.01, 0.5)
    with pytest.raises(ValueError, match="phi"):
        kernels.settle_fast(params, x_i, x_o, 5, 0.1, 0.01, 0.5, phi="elu")


@pytest.mark.parametrize("jit", [True, False])
def test_hebbian_kernel_rejects_a_matrix_without_positive_column_sum(rng, jit):
    params, x_i, x_o = case(rng, (3, 5, 2))
    s = circuit.settle(params, x_i, x_o, 5, 0.1, 0.01, 0.5)
    bad = {**params, "W2": -np.abs(params["W2"])}  # every column sums below zero
    with pytest.raises(ValueError, match="W2: modulation needs a positive"):
        kernels.hebbian_fast(bad, s, 0.95, modulate=True, use_abs=False, jit=jit)
    with pytest.raises(ValueError, match="W2: modulation needs a positive"):
        hebbian.hebbian_updates(bad, s, 0.95, modulate=True, use_abs=False)
    kernels.hebbian_fast(bad, s, 0.95, modulate=True, use_abs=True, jit=jit)  # |A| sums are fine
