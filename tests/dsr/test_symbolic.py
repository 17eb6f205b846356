"""ALRNN symbolic codes: bits and codes, the transition graph by hand, the affine piece of a
subregion (eq. 3.33) against the model's step and Jacobian, fixed points, and the codes of
the authors' pretrained Lorenz-63 model."""

import numpy as np
import pytest

from reference.dsr import data, metrics, symbolic
from reference.dsr.models import ALRNN

from .test_metrics import pretrained


def test_bits_and_codes_read_the_last_P_units():
    Z = np.array([[5.0, -1.0, 2.0, -3.0], [0.0, 1.0, -2.0, 0.5], [1.0, 1.0, 0.0, 0.0]])
    bits = symbolic.subregion_bits(2, Z)
    assert bits.tolist() == [[True, False], [False, True], [False, False]]
    assert symbolic.subregion_codes(2, Z).tolist() == [2, 1, 0]
    assert symbolic.code_string(2, 2) == "10" and symbolic.code_string(1, 3) == "001"
    batch = np.stack([Z, -Z], axis=1)  # (T, batch, M)
    assert symbolic.subregion_codes(3, batch).shape == (3, 2)


def test_transition_graph_by_hand():
    codes = np.array([0, 0, 1, 3, 1, 0, 0, 3])
    g = symbolic.transition_graph(codes)
    assert g["nodes"].tolist() == [0, 1, 3]
    assert g["visits"].tolist() == [4, 2, 2]
    want = np.array([[2, 1, 1], [1, 0, 1], [0, 1, 0]])
    assert np.array_equal(g["counts"], want)
    assert g["counts"].sum() == codes.size - 1
    assert np.allclose(g["probabilities"], want / want.sum(axis=1, keepdims=True))
    assert np.allclose(g["stationary"], [0.5, 0.25, 0.25])
    # H = -sum_i pi_i sum_j P_ij ln P_ij: row 0 (1/2, 1/4, 1/4), row 1 (1/2, 1/2), row 2 (1)
    h0 = -(0.5 * np.log(0.5) + 2 * 0.25 * np.log(0.25))
    assert g["entropy_rate"] == pytest.approx(0.5 * h0 + 0.25 * np.log(2))


def test_a_deterministic_cycle_has_zero_entropy_rate():
    g = symbolic.transition_graph(np.tile([0, 2, 3], 10))
    assert g["entropy_rate"] == 0.0
    assert np.array_equal(g["probabilities"], [[0, 1, 0], [0, 0, 1], [1, 0, 0]])


def test_symbol_sequence_collapses_repeats():
    s, dwell = symbolic.symbol_sequence(np.array([1, 1, 1, 0, 2, 2, 1]))
    assert s.tolist() == [1, 0, 2, 1] and dwell.tolist() == [3, 1, 2, 1]


def test_region_affine_map_is_the_model_inside_its_region(rng):
    model = ALRNN(6, 2, num_relus=3)
    params = model.init_params(rng)
    params["W"] = rng.normal(scale=0.3, size=(6, 6))
    params["h"] = rng.normal(size=6)
    z = rng.normal(size=(40, 6))
    codes = symbolic.subregion_codes(model, z)
    for zi, c in zip(z, codes, strict=True):
        J, h = symbolic.region_affine_map(model, params, c)
        assert np.allclose(model.step(params, zi[None])[0], J @ zi + h, atol=1e-13)
        assert np.allclose(model.jacobian(params, zi[None])[0], J, atol=1e-14)


def test_real_fixed_points_are_fixed_points_of_the_model(golden_dir):
    model, params = pretrained(golden_dir)
    fps = symbolic.subregion_fixed_points(model, params)
    assert [f["code"] for f in fps] == [0, 1, 2, 3]
    real = [f for f in fps if f["real"]]
    assert real, "the Lorenz model should have real fixed points (the lobes' centres)"
    for f in real:
        assert np.allclose(model.step(params, f["z"][None])[0], f["z"], atol=1e-10)
    for f in fps:
        if not f["real"]:
            assert symbolic.subregion_codes(model, f["z"]) != f["code"]


def test_pretrained_lorenz_model_codes(golden_dir):
    """Along a generated Lorenz orbit the P = 2 model moves between its subregions; the
    graph is consistent (every visit counted, every move counted once)."""
    model, params = pretrained(golden_dir)
    x = data.lorenz63(3000, np.random.default_rng(0))
    Z = metrics.free_run(model, params, model.initial_state(params, x[:1]), 3000)[:, 0]
    codes = symbolic.subregion_codes(model, Z)
    g = symbolic.transition_graph(codes)
    assert len(g["nodes"]) >= 3
    assert g["visits"].sum() == 3000 and g["counts"].sum() == 2999
    rows = g["probabilities"].sum(axis=1)
    assert np.allclose(rows[rows > 0], 1.0)
    assert 0 < g["entropy_rate"] < np.log(4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: symbolic.subregion_codes(0, np.zeros((3, 4))), "model_or_P"),
        (lambda: symbolic.subregion_codes(5, np.zeros((3, 4))), "Z"),
        (lambda: symbolic.transition_graph(np.array([1])), "codes"),
        (lambda: symbolic.transition_graph(np.array([0.5, 1.0])), "codes"),
        (lambda: symbolic.transition_graph(np.array([-1, 1])), "codes"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_region_code_out_of_range(rng):
    model = ALRNN(4, 2, num_relus=2)
    with pytest.raises(ValueError, match="code"):
        symbolic.region_affine_map(model, model.init_params(rng), 4)
