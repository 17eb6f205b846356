"""Local updates (5.7)-(5.9): each synapse = presynaptic activity x postsynaptic error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.gradcheck import rel_error
from reference.ngc import circuit, hebbian


def settled(rng, dims, batch=4, phi="relu", T=10):
    params = circuit.init_params(dims, rng)
    x_i = rng.normal(size=(batch, dims[-1]))
    x_o = rng.normal(size=(batch, dims[0]))
    return params, circuit.settle(params, x_i, x_o, T, 0.1, 0.01, 0.5, phi)


@settings(max_examples=20, deadline=None)
@given(
    dims=st.lists(st.integers(1, 5), min_size=3, max_size=5),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
    gamma_e=st.floats(0.5, 1.0),
)
def test_each_synapse_is_pre_times_post(dims, batch, seed, gamma_e):
    """Unmodulated: dW^l[i, j] = sum_b phi(z^l)[b, i] e^{l-1}[b, j], dE^l = gamma_e dW^l.T.

    Only the two units a synapse connects enter its update: no global loss, no chain rule.
    """
    rng = np.random.default_rng(seed)
    params, s = settled(rng, dims, batch)
    dW, dE = hebbian.hebbian_updates(params, s, gamma_e, modulate=False)
    L = len(dims) - 1
    for l in range(1, L + 1):
        pre, post = s["phi_z"][l], s["e"][l - 1]
        for i in range(dims[l]):
            for j in range(dims[l - 1]):
                hebb = sum(pre[b, i] * post[b, j] for b in range(batch))
                assert abs(dW[f"W{l}"][i, j] - hebb) <= 1e-12 * (1 + abs(hebb))
                if l < L:
                    assert abs(dE[f"E{l}"][j, i] - gamma_e * hebb) <= 1e-12 * (1 + abs(hebb))
    assert set(dW) == {f"W{l}" for l in range(1, L + 1)}
    assert set(dE) == {f"E{l}" for l in range(1, L)}


def test_modulation_on_hand_made_weights():
    W = np.array([[1.0, -2.0, 0.5], [-1.0, 2.0, 0.0], [2.0, 0.0, 0.5]])
    # |column sums| = 4, 4, 1 -> min(2 m / 4, 1) = 1, 1, 0.5; signed sums = 2, 0, 1 -> 1, 0, 1
    np.testing.assert_array_equal(hebbian.modulation(W), np.tile([1.0, 1.0, 0.5], (3, 1)))
    np.testing.assert_array_equal(
        hebbian.modulation(W, use_abs=False), np.tile([1.0, 0.0, 1.0], (3, 1))
    )
    with pytest.raises(ValueError, match="A"):
        hebbian.modulation(np.zeros((2, 2)))


def test_modulated_updates_scale_columns(rng):
    params, s = settled(rng, (3, 6, 4, 2))
    raw_W, raw_E = hebbian.hebbian_updates(params, s, 0.9, modulate=False)
    for use_abs in (True, False):
        dW, dE = hebbian.hebbian_updates(params, s, 0.9, use_abs=use_abs)
        for l in (1, 2, 3):
            M = hebbian.modulation(params[f"W{l}"], use_abs)
            assert rel_error(dW[f"W{l}"], raw_W[f"W{l}"] * M) <= 1e-15
        for l in (1, 2):
            ME = hebbian.modulation(params[f"E{l}"], use_abs)
            assert rel_error(dE[f"E{l}"], 0.9 * dW[f"W{l}"].T * ME) <= 1e-15


def test_phi_z_recomputed_when_missing(rng):
    params, s = settled(rng, (3, 5, 4, 2), phi="tanh")
    a = hebbian.hebbian_updates(params, s, 0.95)
    b = hebbian.hebbian_updates(params, {"z": s["z"], "e": s["e"]}, 0.95, phi="tanh")
    for x, y in zip(a, b, strict=True):
        for k in x:
            assert rel_error(x[k], y[k]) == 0.0


def test_normalisations(rng):
    params, s = settled(rng, (3, 6, 4, 2))
    dW, dE = hebbian.hebbian_updates(params, s, 0.95)
    unit = hebbian.normalize_update({**dW, **dE})
    for d in unit.values():
        assert abs(np.linalg.norm(d) - 1.0) <= 1e-5
    renorm = hebbian.renormalize_frobenius(params, 2.0)
    for A in renorm.values():
        assert abs(np.linalg.norm(A) - 2.0) <= 1e-5
    big = {k: 3.0 * v for k, v in params.items()}
    clipped = hebbian.clip_columns(big, 1.0)
    for k, A in clipped.items():
        n_before = np.linalg.norm(big[k], axis=0)
        n = np.linalg.norm(A, axis=0)
        assert np.all(n <= 1.0 + 1e-12)
        keep = n_before <= 1.0
        np.testing.assert_array_equal(A[:, keep], big[k][:, keep])


@pytest.mark.parametrize("normalization", ["none", "frobenius", "clip"])
def test_apply_updates_is_ascent(rng, normalization):
    """A small Hebbian step on the output synapses lowers the output error e^0 (ascent sign)."""
    params, s = settled(rng, (3, 6, 4, 2), T=10)
    dW, dE = hebbian.hebbian_updates(params, s, 0.95, modulate=False)
    dW = {k: (v if k == "W1" else 0 * v) for k, v in dW.items()}
    dE = {k: 0 * v for k, v in dE.items()}
    new = hebbian.apply_updates(params, dW, dE, 1e-3, normalization)
    z = s["z"]
    e_new, _ = circuit.errors(new, z, 0.5)
    if normalization == "none":
        assert np.sum(e_new[0] ** 2) < np.sum(s["e"][0] ** 2)
    assert set(new) == set(params)
    with pytest.raises(ValueError, match="normalization"):
        hebbian.apply_updates(params, dW, dE, 1e-3, "l1")


def test_state_must_match_params(rng):
    params, s = settled(rng, (3, 5, 4, 2))
    with pytest.raises(ValueError, match="state"):
        hebbian.hebbian_updates(params, {"phi_z": s["phi_z"][:-1], "e": s["e"]}, 0.95)
