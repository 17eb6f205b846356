"""The chapter's experiments (recorded training, diagnostics, ablation) and its figures."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from reference.residual_dynamics import experiments, model, plots
from reference.residual_dynamics.train import train

SMALL = experiments.source_config(T=12, B=3, H=8, steps=7, record_every=3)


def test_source_config_defaults_are_the_source():
    c = experiments.source_config()
    assert (c.T, c.m, c.B, c.H, c.steps, c.lr, c.max_norm) == (360, 3, 32, 64, 200, 1e-3, 1.0)
    fast = experiments.source_config(fast=True)
    assert fast.T < c.T and fast.steps < c.steps
    with pytest.raises(ValueError, match="T"):
        experiments.source_config(T=0)


def test_recorded_run_equals_one_train_call():
    run = experiments.run_source(SMALL, kernel="numpy", progress=False)
    params0, alpha0, inputs = experiments.setup(SMALL)
    direct = train(params0, alpha0, *inputs, steps=SMALL.steps, kernel="numpy", progress=False)
    np.testing.assert_array_equal(run.result.history["loss"], direct.history["loss"])
    for k in direct.params:
        np.testing.assert_array_equal(run.result.params[k], direct.params[k])
    # recorded after 0, 3, 6 and 7 updates; the loss at step k is the loss before update k
    np.testing.assert_array_equal(run.curves["step"], [0, 3, 6, 7])
    np.testing.assert_allclose(
        run.curves["loss"][:3], direct.history["loss"][[0, 3, 6]], rtol=1e-12
    )


def test_diagnostics_split_the_loss():
    params, alpha, inputs = experiments.setup(SMALL)
    d = experiments.diagnostics(params, alpha, inputs, entropy_weight=0.3)
    expected = float(model.loss(params, alpha, *inputs, entropy_weight=0.3))
    assert d["loss"] == pytest.approx(expected, rel=1e-12)
    assert d["mean_g2"] - 0.3 * d["mean_entropy"] == pytest.approx(expected, rel=1e-12)
    assert d["g2_t"].shape == d["entropy_t"].shape == (SMALL.T,)
    assert d["g2_t"].mean() == pytest.approx(d["mean_g2"], rel=1e-12)


def test_ablation_reuses_a_run_and_shares_the_start():
    base = experiments.run_source(SMALL, kernel="numpy", progress=False)
    runs = experiments.entropy_ablation(
        SMALL, weights=(0.0, 0.1), kernel="numpy", reuse={0.1: base}
    )
    assert runs[0.1] is base
    for k in base.params0:
        np.testing.assert_array_equal(runs[0.0].params0[k], base.params0[k])
    assert runs[0.0].entropy_weight == 0.0


def test_losses_at_the_printed_steps():
    assert experiments.losses_at(np.arange(200.0)) == {0: 0, 50: 50, 100: 100, 150: 150, 199: 199}
    assert experiments.losses_at(np.arange(3.0)) == {0: 0.0, 2: 2.0}


def test_simplex_projection_puts_corners_and_centre_in_place():
    xy = plots.simplex_xy(np.eye(3))
    np.testing.assert_allclose(np.linalg.norm(xy[0] - xy[1]), 1.0)
    np.testing.assert_allclose(np.linalg.norm(xy[0] - xy[2]), 1.0)
    np.testing.assert_allclose(plots.simplex_xy(np.full(3, 1 / 3)), xy.mean(axis=0))
    with pytest.raises(ValueError, match="P"):
        plots.simplex_xy(np.ones((2, 4)) / 4)


def test_every_figure_builds():
    run = experiments.run_source(SMALL, kernel="numpy", learn_alpha=True, progress=False)
    Ns = np.concatenate([run.inputs[0][None], run.final["Ns"]])
    *_, Nbars, _ = model.backprop_through_time(run.params0, run.alpha0, *run.inputs)
    figures = [
        plots.training_curves(
            run.result.history["loss"], run.curves, experiments.SOURCE_LOSSES, m=3
        ),
        plots.training_curves(run.result.history["loss"]),
        plots.loss_curves({"a": run.result.history["loss"]}),
        plots.adjoint_norms({"initial": Nbars}),
        plots.ternary({"trained": Ns}),
        plots.entropy_ablation({0.1: run.curves}, m=3),
        plots.alpha_trajectory(
            run.result.history["alpha"], run.alpha0, losses={"learned": run.result.history["loss"]}
        ),
        plots.computational_graph(),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    assert run.result.history["alpha"].shape == (SMALL.steps, 3)
