"""The committed headline run (reference/dsr/results/) is what the library computes.

The stored parameters are re-evaluated by the library's own protocol on the regenerated test
series (same seed, same length, so the same standardisation) at T = 10^4 (about a second).
Everything is deterministic NumPy on the same inputs, so the numbers must agree to rounding:
relative tolerance 1e-6 (bit-equal on the machine that wrote them).
"""

import numpy as np
import pytest

from reference.dsr import data, experiments

RTOL = 1e-6


@pytest.fixture(scope="module")
def committed():
    return experiments.load_full_result()


def test_committed_config_is_the_full_recipe(committed):
    cfg, model, params, summary = committed
    full = experiments.config(full=True)
    assert cfg == full
    assert model.num_params() == summary["num_params"] == 356
    assert set(params) == {"A", "W1", "W2", "h1", "h2", "B"}
    assert summary["provenance"]["command"].startswith("python -m reference dsr --full")


def test_committed_params_reproduce_stored_metrics_at_1e4(committed):
    cfg, model, params, summary = committed
    x_test = data.lorenz63(cfg.n_test, np.random.default_rng(cfg.test_seed))
    T = 10_000
    got = experiments.evaluate_lengths(model, params, x_test, (T,))[str(T)]
    stored = summary["evaluation"][str(T)]
    for key in ("D_stsp", "D_H", "PE"):
        np.testing.assert_allclose(got[key], stored[key], rtol=RTOL, err_msg=key)
