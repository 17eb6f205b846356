"""``python -m reference dsr --fast``: the chapter-3 run writes its outputs, consistently."""

import json
from dataclasses import replace

import numpy as np
import pytest

from reference import io
from reference.dsr import experiments, train


def test_dsr_command_writes_its_outputs(tmp_path, run_cli):
    out = tmp_path / "dsr"
    stdout = run_cli("dsr", "--fast", "--no-progress", "--out", out, "--seed", 1)
    assert "T=2000: D_stsp" in stdout and "largest Lyapunov exponent" in stdout
    names = ["training.png", "attractor.png", "spectra.png", "lyapunov.png"]
    for name in names + ["checkpoint.npz", "model.npz", "summary.json"]:
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fast"] is True and summary["config"]["train"]["seed"] == 1
    assert summary["config"]["train"]["epochs"] == 4
    assert set(summary["evaluation"]) == {"2000"} and set(summary["ground_truth_floor"]) == {"2000"}
    for key in ("D_stsp", "D_H", "PE"):
        assert np.isfinite(summary["evaluation"]["2000"][key])
    assert summary["pretrained_alrnn_m20_p2"]["2000"]["D_H"] < 0.1  # the anchor is sane
    assert summary["monitor"]["epoch"] == [2, 4]
    # the checkpoint holds the parameters after the last epoch
    params, _, epoch, _, _ = train.load_checkpoint(out / "checkpoint.npz")
    assert epoch == 4 and params["W1"].shape == (10, 3)
    tree, meta = io.load(out / "model.npz")
    assert meta["selected_epoch"] == summary["monitor"]["selected_epoch"] in (2, 4)
    assert set(tree["params"]) == set(params)


def test_configs():
    full = experiments.config(full=True)
    assert full.train.epochs == 1000 and full.restarts == 2 and full.workers == 2
    assert full.monitor_length == 100_000
    assert full.train.tau == 1 and full.train.adaptive_alpha
    assert full.build_model().num_params() == 3 + 2 * 150 + 3 + 50  # A, W1, W2, h1, h2
    alrnn = experiments.config(full=True, recipe="alrnn")
    assert alrnn.build_model().num_params() == 491 and alrnn.train.tau == 16
    assert alrnn.train.noise == 0.05 and not alrnn.train.adaptive_alpha
    assert experiments.config(fast=True, recipe="alrnn").latent_dim == 8
    with pytest.raises(ValueError, match="recipe"):
        experiments.config(recipe="lstm")
    assert experiments.config(epochs=7, latent_dim=5).train.epochs == 7
    with pytest.raises(ValueError, match="fast, full"):
        experiments.config(fast=True, full=True)
    with pytest.raises(ValueError, match="restarts"):
        experiments.ExperimentConfig(restarts=0)
    with pytest.raises(ValueError, match="eval_lengths"):
        experiments.ExperimentConfig(eval_lengths=(10,), n_test=5)


def test_bad_epochs_are_refused(run_cli, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "reference", "dsr", "--epochs", "0",
                           "--out", str(tmp_path)], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0 and "--epochs" in proc.stderr


def test_gradient_norms_vs_length():
    rng = np.random.default_rng(0)
    from reference.dsr import models

    model = models.ALRNN(3, 3, 1)  # fully observed: forcing reaches every unit
    params = model.init_params(rng)
    params["A"] = np.full(3, 1.2)
    x = np.cumsum(0.05 * rng.standard_normal((400, 3)), axis=0)
    norms = experiments.gradient_norms_vs_length(
        model, params, x, [10, 80], {"free": (1.0, 10**6), "GTF": (0.6, 1)}
    )
    assert norms["free"][1] > 100 * norms["free"][0]
    assert norms["GTF"][1] < 10 * norms["GTF"][0]


def test_alrnn_recipe_in_process(tmp_path, capsys):
    from reference.__main__ import main

    out = tmp_path / "alrnn"
    assert main(["dsr", "--fast", "--recipe", "alrnn", "--no-progress", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["model"] == "ALRNN" and summary["num_params"] == 8 * 10 + 3 * 5
    assert "T=2000" in capsys.readouterr().out


def test_restarts_keep_the_best_run(tmp_path):
    cfg = experiments.config(fast=True, restarts=2)
    run = experiments.run(cfg, progress=False, checkpoint_path=str(tmp_path / "ck.npz"))
    m = run.monitor
    assert m["restart"] == [0, 0, 1, 1] and m["epoch"] == [2, 4, 2, 4]
    scores = np.asarray(m["D_stsp"]) + 10 * np.asarray(m["D_H"])
    best = int(np.argmin(scores))
    assert (m["selected_restart"], m["selected_epoch"]) == (m["restart"][best], m["epoch"][best])
    assert len(run.results) == 2 and run.result is run.results[m["selected_restart"]]
    assert (tmp_path / "ck_restart0.npz").exists() and (tmp_path / "ck_restart1.npz").exists()
    assert not np.array_equal(run.results[0].params["W1"], run.results[1].params["W1"])
    # two worker processes compute exactly the same runs
    par = experiments.run(replace(cfg, workers=2), progress=False)
    assert par.monitor == run.monitor
    for k in run.params:
        assert np.array_equal(par.params[k], run.params[k])
