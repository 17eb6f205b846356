"""Chapter 3 figures: each builds a Figure with the expected panels from small inputs."""

import numpy as np
from matplotlib.figure import Figure

from reference.dsr import data, metrics, plots, symbolic


def test_figures_build():
    rng = np.random.default_rng(0)
    x = data.lorenz63(1200, rng)
    y = data.lorenz63(1200, np.random.default_rng(1))
    fig = plots.attractor(x, y)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fig = plots.power_spectra(x, y)
    assert len(fig.axes) == 3 and "H = " in fig.axes[0].get_title()
    hist = {"loss": np.linspace(1, 0.1, 30), "alpha": np.linspace(1, 0.2, 30)}
    mh = {"epoch": [1, 2, 3], "D_stsp": [5, 3, 2], "D_H": [0.5, 0.3, 0.2],
          "floor": metrics.ground_truth_floor(x, y)}  # fmt: skip
    assert len(plots.training_curves(hist, mh).axes) == 4
    fm = data.FlowMap("lorenz63", substeps=1)
    lam, h = metrics.lyapunov_spectrum(fm, fm.init_params(), x[0] * 8 + [0, 0, 25], 50,
                                       n_transient=0, return_history=True)  # fmt: skip
    assert len(plots.lyapunov({"Lorenz-63": lam}, history=h).axes) == 2
    fig = plots.gradient_norms([10, 20, 40], {"free": rng.random((3, 4)), "GTF": [1, 1, 1]})
    assert len(fig.axes[0].lines) == 2
    codes = np.array([0, 0, 1, 3, 1, 0, 2, 2, 0])
    g = symbolic.transition_graph(codes)
    fig = plots.symbolic_graph(g, 2)
    assert len(fig.axes[0].patches) == int(np.sum((g["counts"] > 0) & ~np.eye(4, dtype=bool)))
    assert isinstance(plots.orbit_by_code(x[:9], codes, 2), Figure)
