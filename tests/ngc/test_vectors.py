"""Chapter-5 test vectors: written, read back and recomputed; a few checked by plain formulas."""

import json

import numpy as np
import pytest

from reference import vectors
from reference.__main__ import main

NAMES = {
    "ngc.settle.relu",
    "ngc.settle.tanh",
    "ngc.project",
    "ngc.hebbian_updates",
    "ngc.modulation.abs",
    "ngc.modulation.signed",
    "ngc.apply_updates.none",
    "ngc.apply_updates.frobenius",
    "ngc.apply_updates.clip",
    "ngc.angc.epistemic_reward",
    "ngc.angc.td_target_vector",
    "ngc.dqn.td_targets",
    "ngc.dqn.td_loss_and_grads",
}


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors")
    assert main(["vectors", str(out), "--chapter", "ngc-angc"]) == 0
    return out


def test_chapter_vectors_are_written_and_recompute(vector_dir):
    index = json.loads((vector_dir / "index.json").read_text())["cases"]
    assert {entry["name"] for entry in index} == NAMES
    for entry in index:
        assert entry["chapter"] == "ngc-angc" and entry["equation"].startswith("(5.")
        for f in entry["files"]:
            assert (vector_dir / f).exists(), f
    errors = vectors.verify(vector_dir)
    assert set(errors) == NAMES and max(errors.values()) <= 1e-12


def test_settle_vector_is_a_fixed_sequence_of_plain_steps(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "ngc.settle.relu")
    p, x_i, x_o = inp["params"], inp["x_i"], inp["x_o"]
    relu = lambda v: np.maximum(v, 0.0)
    z1, z2 = np.zeros((x_i.shape[0], 6)), np.zeros((x_i.shape[0], 5))

    def errs(z1, z2):
        s = 2.0 * inp["beta_e"]
        return (
            (x_o - relu(z1) @ p["W1"]) / s,
            (relu(z1) - relu(z2) @ p["W2"]) / s,
            (relu(z2) - x_i @ p["W3"]) / s,
        )

    for _ in range(inp["T"]):
        e0, e1, e2 = errs(z1, z2)
        z1, z2 = (
            z1 + inp["beta"] * (-inp["gamma_v"] * z1 - e1 + e0 @ p["E1"]),
            z2 + inp["beta"] * (-inp["gamma_v"] * z2 - e2 + e1 @ p["E2"]),
        )
    for got, want in zip([out["e"][f"l{i}"] for i in range(3)], errs(z1, z2), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out["phi_z"]["l1"], relu(z1), rtol=1e-12, atol=1e-14)


def test_modulation_and_td_vectors_by_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "ngc.modulation.abs")
    m = np.abs(inp["A"]).sum(axis=0)
    np.testing.assert_allclose(out["M"][0], np.minimum(2 * m / m.max(), 1.0), rtol=1e-15)
    assert np.all(out["M"] == out["M"][0])

    inp, out, _ = vectors.read(vector_dir, "ngc.dqn.td_targets")
    want = inp["rewards"] + inp["gamma"] * (1 - inp["terminated"]) * inp["next_q"].max(axis=1)
    np.testing.assert_allclose(out["y"], want, rtol=1e-15)

    inp, out, _ = vectors.read(vector_dir, "ngc.dqn.td_loss_and_grads")
    rows = np.arange(inp["obs"].shape[0])
    delta = out["q"][rows, inp["actions"].astype(int)] - inp["targets"]
    assert (np.abs(delta) > 1).any() and (np.abs(delta) < 1).any()
    huber = np.where(np.abs(delta) <= 1, 0.5 * delta**2, np.abs(delta) - 0.5)
    assert float(out["loss"]) == pytest.approx(huber.mean(), rel=1e-14)


def test_agent_vectors_by_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "ngc.angc.epistemic_reward")
    D = inp["discrepancy"]
    running = np.maximum.accumulate(np.maximum(D, inp["running_max"]))
    np.testing.assert_allclose(out["r_ep"], D / running, rtol=1e-15)
    assert float(out["running_max"]) == D.max()

    inp, out, _ = vectors.read(vector_dir, "ngc.angc.td_target_vector")
    rows, a = np.arange(6), inp["actions"].astype(int)
    want = inp["q"].copy()
    want[rows, a] += np.clip(inp["y"] - inp["q"][rows, a], -1.0, 1.0)
    np.testing.assert_allclose(out["target"], want, rtol=1e-15)
    assert (np.abs(inp["y"] - inp["q"][rows, a]) > 1).any()  # the clip is exercised
