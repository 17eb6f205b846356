"""``python -m reference``: the chapter-1 run writes its outputs; test vectors are checked.

The vectors are not only written: a few are recomputed here by calling the library (or plain
NumPy formulas) directly on the stored inputs, and ``vectors.verify`` recomputes all of them.
"""

import json

import numpy as np
import pytest

from reference import gradcheck, io, nn, vectors
from reference.__main__ import main
from reference.residual_dynamics import experiments, model
from reference.residual_dynamics.train import train


def test_help_lists_the_chapters(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "residual-dynamics" in out and "vectors" in out


def test_residual_dynamics_command_writes_its_outputs(tmp_path, run_cli):
    out = tmp_path / "run"
    stdout = run_cli("residual-dynamics", "--fast", "--steps", 3, "--out", out)
    assert "Step 0: loss=" in stdout and "Step 2: loss=" in stdout
    for name in (
        "training_curves.png",
        "ternary.png",
        "adjoint_norms.png",
        "checkpoint.npz",
        "summary.json",
    ):
        assert (out / name).stat().st_size > 0, name

    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["steps"] == 3 and summary["config"]["fast"] is True
    assert set(summary["printed_losses"]) == {"0", "2"}

    # The checkpoint holds exactly what an uninterrupted train() call produces.
    params, _, step, _, _ = io.load_training_state(out / "checkpoint.npz")
    config = experiments.source_config(fast=True, steps=3)
    params0, alpha0, inputs = experiments.setup(config)
    direct = train(params0, alpha0, *inputs, steps=3, kernel="numba", progress=False)
    assert step == 3
    for k, v in direct.params.items():
        np.testing.assert_array_equal(params[k], v)
    assert summary["printed_losses"]["0"] == pytest.approx(direct.history["loss"][0], rel=1e-12)


def test_learn_alpha_run_in_process(tmp_path, capsys):
    out = tmp_path / "alpha"
    assert (
        main(
            [
                "residual-dynamics",
                "--fast",
                "--steps",
                "2",
                "--kernel",
                "numpy",
                "--learn-alpha",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "alpha.png").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["learn_alpha"] is True
    assert not np.allclose(summary["alpha"], model.default_alpha(3))  # alpha was trained
    assert "Step 1: loss=" in capsys.readouterr().out


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors")
    assert main(["vectors", str(out)]) == 0
    return out


def test_vectors_index_lists_existing_files(vector_dir):
    index = json.loads((vector_dir / "index.json").read_text())["cases"]
    names = {entry["name"] for entry in index}
    for required in (
        "residual_dynamics.step",
        "residual_dynamics.forward",
        "residual_dynamics.objective",
        "residual_dynamics.loss_adjoints",
        "residual_dynamics.step_backward",
        "residual_dynamics.loss_and_grads",
        "residual_dynamics.init_params",
        "core.softmax",
        "core.softmax_backward",
        "core.log_softmax",
        "core.log_softmax_backward",
        "core.clip_grad_norm.clipped",
        "core.adam",
        "core.radam",
    ):
        assert required in names, required
    for entry in index:
        for f in entry["files"]:
            assert (vector_dir / f).exists(), f
        doc = json.loads((vector_dir / f"{entry['name']}.json").read_text())
        assert doc["description"] and doc["function"].startswith("reference.")
        with np.load(vector_dir / doc["npz"]) as z:
            for key, shape in entry["shapes"].items():
                assert list(z[key].shape) == shape and z[key].dtype == np.float64


def test_every_vector_recomputes(vector_dir):
    errors = vectors.verify(vector_dir)
    assert len(errors) == len(json.loads((vector_dir / "index.json").read_text())["cases"])
    assert max(errors.values()) <= 1e-12


def test_forward_and_bptt_vectors_by_direct_calls(vector_dir):
    inp, out, doc = vectors.read(vector_dir, "residual_dynamics.forward")
    assert doc["equation"] == "(1.1)-(1.5)"
    Ns, gs, logits = model.forward(
        inp["params"], inp["alpha"], inp["N0"], inp["g0"], inp["ys"], inp["rs"]
    )
    np.testing.assert_array_equal(Ns, out["Ns"])
    np.testing.assert_array_equal(logits, out["logits"])
    np.testing.assert_allclose(out["Ns"].sum(axis=-1), 1.0, atol=1e-12)

    inp, out, _ = vectors.read(vector_dir, "residual_dynamics.loss_and_grads")
    state = (inp["alpha"], inp["N0"], inp["g0"], inp["ys"], inp["rs"])

    def f(p):
        mlp = {k: p[k] for k in model.PARAM_SHAPES}
        return model.loss(mlp, p["alpha"], *state[1:], entropy_weight=inp["entropy_weight"])

    auto = gradcheck.autograd_grads(f, {**inp["params"], "alpha": inp["alpha"]})
    assert gradcheck.max_rel_error(auto, out["grads"])["max"] < 1e-12
    assert float(out["loss"]) == pytest.approx(
        float(f({**inp["params"], "alpha": inp["alpha"]})), rel=1e-14
    )


def test_core_vectors_against_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "core.softmax")
    z = inp["z"] - inp["z"].max(axis=1, keepdims=True)
    np.testing.assert_allclose(
        out["s"], np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), rtol=1e-14, atol=1e-300
    )

    inp, out, _ = vectors.read(vector_dir, "core.clip_grad_norm.clipped")
    total = np.sqrt(sum(np.sum(g * g) for g in inp["grads"].values()))
    assert float(out["total_norm"]) == pytest.approx(total, rel=1e-14) and total > 1.0
    for k, g in inp["grads"].items():
        np.testing.assert_allclose(
            out["clipped"][k], g * inp["max_norm"] / (total + 1e-6), rtol=1e-14
        )

    inp, out, _ = vectors.read(vector_dir, "core.adam")
    theta = inp["params"]
    m = {k: np.zeros_like(v) for k, v in theta.items()}
    v = {k: np.zeros_like(x) for k, x in theta.items()}
    for k in range(1, inp["steps"] + 1):
        for name in theta:
            g = inp["grads"][f"step{k}"][name]
            m[name] = 0.9 * m[name] + 0.1 * g
            v[name] = 0.999 * v[name] + 0.001 * g * g
            denom = np.sqrt(v[name]) / np.sqrt(1 - 0.999**k) + 1e-8
            theta = {**theta, name: theta[name] - inp["lr"] / (1 - 0.9**k) * m[name] / denom}
        for name in theta:
            np.testing.assert_allclose(out[f"step{k}"]["params"][name], theta[name], rtol=1e-13)
    assert out["final_step"] == inp["steps"]


def test_verify_rejects_a_tampered_vector(tmp_path):
    vectors.write(tmp_path, chapter="core")
    path = tmp_path / "core.softmax_backward.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["outputs.dz"] = arrays["outputs.dz"] * (1 + 1e-6)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="core.softmax_backward"):
        vectors.verify(tmp_path)


def test_register_adds_a_chapter():
    def builder():
        return [
            vectors.Case(
                "demo.relu",
                "reference.nn.relu",
                "",
                "relu of a vector",
                {"x": np.array([-1.0, 2.0])},
                lambda inp: {"y": nn.relu(inp["x"])},
            )
        ]

    try:
        vectors.register("demo-chapter", builder)
        assert "demo-chapter" in vectors.chapters()
        assert [c.name for c in vectors.cases("demo-chapter")] == ["demo.relu"]
    finally:
        vectors._BUILDERS.pop("demo-chapter", None)
