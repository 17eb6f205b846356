"""The NGC circuit and its local updates against ngc-learn 3.2 components (float64).

``ngc_ngclearn.npz`` wires ngc-learn's RateCell / GaussianErrorCell / synapses to Eqs.
(5.1)-(5.9): a 4-layer circuit (dims 3, 5, 4, 2), ReLU, untied random E, T = 20. Raw ``z``
of ReLU units with negative drive drift (bounded only by the leak), so we compare
``phi(z)``, errors and predictions; the trajectories are compared too (they are exact here).
Tolerance: 1e-10 relative to the largest entry.
"""

import numpy as np
import pytest

from reference.gradcheck import rel_error
from reference.ngc import circuit, hebbian

TOL = 1e-10


@pytest.fixture(scope="module")
def golden(golden_dir):
    d = np.load(golden_dir / "ngc_ngclearn.npz")
    return {k[2:]: d[k] for k in d.files if k.startswith("A_")}


@pytest.fixture(scope="module")
def params(golden):
    return {
        "W1": golden["W1"],
        "W2": golden["W2"],
        "W3": golden["W3"],
        "E1": golden["E1_used"],
        "E2": golden["E2_used"],
    }


@pytest.fixture(scope="module")
def state(golden, params):
    return circuit.settle(
        params,
        golden["x_i"],
        golden["x_o"],
        int(golden["T"]),
        float(golden["beta"]),
        float(golden["gamma_v"]),
        float(golden["beta_e"]),
        phi="relu",
        return_trajectory=True,
    )


def test_layer_sizes(golden, params):
    assert circuit.layer_sizes(params) == tuple(golden["dims"])


@pytest.mark.parametrize("l", [1, 2])
def test_settled_phi_z(golden, state, l):
    assert rel_error(state["phi_z"][l], np.maximum(golden[f"z{l}"], 0.0)) <= TOL
    assert rel_error(state["trajectory"][l - 1], golden[f"z{l}_traj"]) <= TOL


@pytest.mark.parametrize("l", [0, 1, 2])
def test_errors_and_predictions(golden, state, l):
    assert rel_error(state["e"][l], golden[f"e{l}"]) <= TOL
    assert rel_error(state["zbar"][l], golden[f"zbar{l}"]) <= TOL


def test_total_discrepancy(golden, state):
    assert abs(circuit.total_discrepancy(state["e"]) - golden["total_discrepancy"]) <= TOL * abs(
        golden["total_discrepancy"]
    )


@pytest.mark.parametrize("l", [1, 2, 3])
def test_modulation_matrices_both_variants(golden, params, l):
    assert rel_error(hebbian.modulation(params[f"W{l}"]), golden[f"MW{l}"]) <= TOL
    assert (
        rel_error(hebbian.modulation(params[f"W{l}"], use_abs=False), golden[f"MW{l}_noabs"]) <= TOL
    )
    if l < 3:
        assert rel_error(hebbian.modulation(params[f"E{l}"]), golden[f"ME{l}"]) <= TOL


@pytest.mark.parametrize("modulate", [False, True])
def test_updates(golden, params, state, modulate):
    dW, dE = hebbian.hebbian_updates(params, state, float(golden["gamma_e"]), modulate=modulate)
    suffix = "_mod" if modulate else ""
    for l in (1, 2, 3):
        assert rel_error(dW[f"W{l}"], golden[f"dW{l}{suffix}"]) <= TOL
    for l in (1, 2):
        assert rel_error(dE[f"E{l}"], golden[f"dE{l}{suffix}"]) <= TOL
