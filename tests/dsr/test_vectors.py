"""Chapter-3 porting vectors: written by the CLI, recomputed by ``vectors.verify``, and a few
checked independently here by plain formulas (column-vector maths, scipy, loops)."""

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from reference import vectors
from reference.__main__ import main
from reference.dsr import forcing
from reference.dsr.models import ALRNN


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors")
    assert main(["vectors", str(out), "--chapter", "dsr"]) == 0
    return out


def test_chapter_vectors_are_written_and_recompute(vector_dir):
    index = json.loads((vector_dir / "index.json").read_text())["cases"]
    names = {entry["name"] for entry in index}
    assert len(names) == 27 and all(n.startswith("dsr.") for n in names)
    for entry in index:
        assert entry["chapter"] == "dsr" and entry["equation"].startswith("(3.")
        for f in entry["files"]:
            assert (vector_dir / f).exists(), f
    errors = vectors.verify(vector_dir)
    assert set(errors) == names and max(errors.values()) <= 1e-12


def test_alrnn_step_in_column_form(vector_dir):
    """z' = A z + W_p [z_lin, relu(z_P)] + h with W_p = W.T, one column vector at a time."""
    inp, out, _ = vectors.read(vector_dir, "dsr.alrnn.step")
    p, P = inp["params"], int(inp["num_relus"])
    for z, z_next in zip(inp["z"], out["z_next"], strict=True):
        phi = np.r_[z[:-P], np.maximum(z[-P:], 0)]
        assert np.allclose(p["A"] * z + p["W"].T @ phi + p["h"], z_next, atol=1e-14)


def test_forced_loss_matches_the_forward_only_loss(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "dsr.forced_rollout_loss.alrnn_stf")
    model = ALRNN(5, 3, num_relus=int(inp["num_relus"]))
    loss = forcing.forced_loss(model, inp["params"], inp["x"], inp["y"], 1.0, int(inp["tau"]))
    assert float(loss) == pytest.approx(float(out["loss"]), rel=1e-13)


def test_smoothing_and_lorenz_field_by_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "dsr.gaussian_smooth")
    assert np.allclose(gaussian_filter1d(inp["x"], inp["sigma"]), out["y"], atol=1e-14)
    inp, out, _ = vectors.read(vector_dir, "dsr.vector_field.lorenz63")
    x, y, z = inp["x"].T
    f = np.c_[10 * (y - x), x * (28 - z) - y, x * y - 8 / 3 * z]
    assert np.allclose(f, out["f"], atol=1e-12)


def test_transition_counts_by_loop(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "dsr.transition_graph")
    codes = inp["codes"].astype(int)
    nodes = list(out["nodes"].astype(int))
    counts = np.zeros((len(nodes), len(nodes)))
    for a, b in zip(codes[:-1], codes[1:], strict=True):
        counts[nodes.index(a), nodes.index(b)] += 1
    assert np.array_equal(counts, out["counts"])
