"""Chapter 5 figures: the band statistics exactly, and every figure draws what it says."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from reference.ngc import plots, run


def _fake(env_id, seed, returns, epistemic=None, terminated=None):
    returns = np.asarray(returns, dtype=float)
    res = run.RunResult(
        env_id,
        seed,
        returns,
        np.full(returns.size, 200),
        np.zeros(returns.size, bool) if terminated is None else np.asarray(terminated),
    )
    if epistemic is not None:
        res.diag_sum["epistemic"] = np.asarray(epistemic, dtype=float)
    return res


def test_mean_band_exact():
    y = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    mean, lo, hi = plots.mean_band(y)
    np.testing.assert_allclose(mean, [2.0, 1.0])
    np.testing.assert_allclose(lo, [0.0, 1.0])  # mean - sd = 0, clipped at min 0
    np.testing.assert_allclose(hi, [4.0, 1.0])
    m1, lo1, hi1 = plots.mean_band(y[:1])
    np.testing.assert_array_equal(lo1, m1)
    with pytest.raises(ValueError, match="curves"):
        plots.mean_band(np.zeros(3))


def test_learning_curves_draw_mean_threshold_and_markers():
    a = _fake("MountainCar-v0", 0, [-200.0] * 50 + [-100.0] * 150)
    b = _fake("MountainCar-v0", 1, [-200.0] * 200)
    fig = plots.learning_curves({"angc": [a, b]}, window=100)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    mean = lines["angc"].get_ydata()
    np.testing.assert_allclose(
        mean, (run.moving_average(a.returns) + run.moving_average(b.returns)) / 2
    )
    assert lines["solved (-110)"].get_ydata()[0] == -110
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    assert markers[0].get_xdata().tolist() == [run.solved_episode(a.returns, -110)]


def test_signal_terminal_rate_ablation_and_overview():
    runs = [
        _fake(
            "MountainCar-v0",
            s,
            -200 + np.arange(30.0),
            np.linspace(100, 1, 30),
            np.arange(30) % 2 == 0,
        )
        for s in range(2)
    ]
    results = {"angc": runs, "random": [_fake("MountainCar-v0", 0, [-200.0] * 30)]}
    fig = plots.signal_over_time(results)
    assert [ln.get_label() for ln in fig.axes[0].get_lines()] == ["angc"]
    assert fig.axes[0].get_yscale() == "log"
    fig = plots.terminal_rate(results, window=2)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata()[1:], 0.5)
    rows = {n: run.summarize(r, -110, 100) | {"window": 30} for n, r in results.items()}
    fig = plots.ablation(rows, threshold=-110)
    assert len(fig.axes[0].patches) == 2
    assert [t.get_text() for t in fig.axes[0].texts] == ["solved: -, -", "solved: -"]
    assert len(plots.overview(results).axes) == 3
    cartpole = {"dqn": [_fake("CartPole-v1", 0, np.arange(30.0))]}
    assert len(plots.overview(cartpole).axes) == 1  # no goal panel, no epistemic signal
    with pytest.raises(ValueError, match="key"):
        plots.signal_over_time({"random": results["random"]})
