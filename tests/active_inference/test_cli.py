"""``python -m reference active-inference`` writes its outputs; chapter-2 test vectors check.

The vectors are recomputed by ``vectors.verify`` and a few of them independently here: by plain
NumPy formulas (fpi, VFE, the Dirichlet updates) and by autograd (the encoder gradient).
"""

import json

import numpy as np
import pytest

from reference import gradcheck, vectors
from reference.__main__ import main
from reference.active_inference import encoder, experiments
from reference.active_inference.maths import EPS

NAMES = (
    "active_inference.fpi.one_factor",
    "active_inference.fpi.two_factors",
    "active_inference.vfe",
    "active_inference.neg_efe",
    "active_inference.update_pA",
    "active_inference.update_pB",
    "active_inference.encoder_objective",
    "active_inference.encoder_gradient",
)


def lnp(x):
    return np.log(np.maximum(x, EPS))


def test_help_lists_active_inference(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "active-inference" in capsys.readouterr().out


def test_active_inference_command_writes_its_outputs(tmp_path, run_cli):
    out = tmp_path / "run"
    stdout = run_cli("active-inference", "--fast", "--steps", 5, "--no-progress", "--out", out)
    assert "encoder aligned accuracy:" in stdout and "rollout states: [0," in stdout
    for name in (
        "training_curves.png",
        "confusion.png",
        "rollout_density.gif",
        "rollout_decisions.gif",
        "summary.json",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["steps"] == 5 and summary["config"]["fast"] is True
    assert summary["config"]["seed"] == 3 and summary["config"]["restarts"] == 1
    assert len(summary["rollout"]["states"]) == summary["config"]["horizon"] + 1
    cm = np.asarray(summary["state_confusion"])
    assert cm.shape == (5, 5)
    np.testing.assert_allclose(cm.sum(axis=1), 1.0)

    # The summary holds what the experiment function computes for the same configuration.
    config = experiments.tutorial_config(fast=True, steps=5)
    run = experiments.run_tutorial(config)
    assert summary["encoder_accuracy"]["after"] == run.after["encoder_accuracy"]
    assert summary["rollout"]["states"] == run.rollout["states"].tolist()


def test_restarts_keep_the_lowest_validation_objective(tmp_path):
    out = tmp_path / "restarts"
    args = ["active-inference", "--fast", "--steps", "3", "--restarts", "2"]
    assert main(args + ["--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    scores = summary["restart_val_objectives"]
    assert len(scores) == 2
    assert summary["objective_after"]["total"] == pytest.approx(min(scores), rel=1e-12)


def test_bad_restarts_is_rejected(tmp_path):
    with pytest.raises(SystemExit, match="--restarts"):
        main(["active-inference", "--fast", "--restarts", "0", "--out", str(tmp_path)])


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors")
    assert main(["vectors", str(out), "--chapter", "active-inference"]) == 0
    return out


def test_chapter_vectors_are_written_and_recompute(vector_dir):
    index = json.loads((vector_dir / "index.json").read_text())["cases"]
    assert {entry["name"] for entry in index} == set(NAMES)
    for entry in index:
        assert entry["chapter"] == "active-inference" and entry["equation"].startswith("(2.")
        for f in entry["files"]:
            assert (vector_dir / f).exists(), f
    errors = vectors.verify(vector_dir)
    assert set(errors) == set(NAMES) and max(errors.values()) <= 1e-12


def test_fpi_and_vfe_vectors_by_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "active_inference.fpi.one_factor")
    logits = np.einsum("bo,bos->bs", inp["obs"]["m0"], lnp(inp["A"]["m0"]))
    logits = logits + lnp(inp["prior"]["f0"])
    q = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(out["qs"]["f0"], q / q.sum(-1, keepdims=True), rtol=1e-13)

    # two factors: the fixed point satisfies the Jacobi update up to 16 sweeps' residual
    inp, out, _ = vectors.read(vector_dir, "active_inference.vfe")
    q0, q1 = inp["qs"]["f0"], inp["qs"]["f1"]
    p0, p1 = inp["prior"]["f0"], inp["prior"]["f1"]
    LL0 = np.einsum("bo,bokl->bkl", inp["obs"]["m0"], lnp(inp["A"]["m0"]))
    LL1 = np.einsum("bo,bol->bl", inp["obs"]["m1"], lnp(inp["A"]["m1"]))
    accuracy = np.einsum("bkl,bk,bl->b", LL0, q0, q1) + np.einsum("bl,bl->b", LL1, q1)
    F = sum((q * (lnp(q) - lnp(p))).sum(-1) for q, p in ((q0, p0), (q1, p1))) - accuracy
    np.testing.assert_allclose(out["F"], F, rtol=1e-13)
    np.testing.assert_allclose(out["accuracy_t"], accuracy, rtol=1e-13)


def test_dirichlet_vectors_by_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "active_inference.update_pB")
    q0, q1 = inp["qs_seq"]["f0"], inp["qs_seq"]["f1"]
    a = inp["actions"].astype(int)
    pB1 = inp["pB"]["f1"].copy()  # factor 1: (batch, S1, S1, S0, U1), deps [1, 0]
    for b in range(a.shape[0]):
        for t in range(a.shape[1]):
            if a[b, t, 1] >= 0:
                pB1[b, :, :, :, a[b, t, 1]] += inp["lr"] * np.einsum(
                    "i,j,k->ijk", q1[b, t + 1], q1[b, t], q0[b, t]
                )
    np.testing.assert_allclose(out["pB"]["f1"], pB1, rtol=1e-14)
    clipped = np.maximum(pB1, EPS)
    np.testing.assert_allclose(out["B"]["f1"], clipped / clipped.sum(1, keepdims=True), rtol=1e-14)

    inp, out, _ = vectors.read(vector_dir, "active_inference.update_pA")
    o, q1 = inp["obs_seq"]["m1"], inp["qs_seq"]["f1"]
    want = inp["pA"]["m1"] + inp["lr"] * np.einsum("bto,bts->bos", o, q1)
    np.testing.assert_allclose(out["pA"]["m1"], want, rtol=1e-14)
    assert out["A"]["m1"].min() > 0.0  # the structural zero of pA comes back as ~eps


def test_neg_efe_vector_decomposes(vector_dir):
    _, out, _ = vectors.read(vector_dir, "active_inference.neg_efe")
    terms = out["terms"]
    np.testing.assert_allclose(out["G"], sum(terms.values()), rtol=1e-13)
    assert np.all(terms["novelty_A"] > 0) and np.all(terms["novelty_B"] > 0)
    np.testing.assert_allclose(out["q_pi"].sum(-1), 1.0, rtol=1e-14)


def test_encoder_gradient_vector_against_autograd(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "active_inference.encoder_gradient")
    model = {k: inp[k] for k in ("A", "B", "D", "temperature", "kl_weight")}
    actions = inp["actions"].astype(int)

    def f(p):
        return encoder.objective(p["logits"], actions, **model)

    auto = gradcheck.autograd_grads(f, {"logits": inp["logits"]})["logits"]
    assert gradcheck.rel_error(auto, out["dlogits"]) <= 1e-12
    _, obj, _ = vectors.read(vector_dir, "active_inference.encoder_objective")
    assert float(obj["total"]) == pytest.approx(float(out["total"]), rel=1e-15)
