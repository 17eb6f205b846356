"""The library still reproduces the maths of the committed headline (recorded at 1dd2663).

``recorded_short_run.json`` holds the final exact metrics, the mean loss and a parameter
checksum of a 60-iteration run of every headline method, computed with the library at the
commit that produced ``reference/gflownet/results/headline.*``. Any later change to the
training or evaluation maths shows up here; refactors must leave it untouched.
"""

import json
import pathlib

import numpy as np
import pytest

from reference.gflownet import data, experiments, metrics

RECORD = json.loads((pathlib.Path(__file__).parent / "recorded_short_run.json").read_text())


@pytest.fixture(scope="module")
def inputs():
    scores = data.load_scores()
    return scores, data.offline_codes(scores), metrics.local_maxima(scores)


@pytest.mark.parametrize("method", sorted(RECORD["runs"]))
def test_short_headline_run_reproduces_the_record(inputs, method):
    hc = experiments.headline_config(
        fast=True, iterations=60, eval_every=30, hidden=64, n_samples=256
    )
    run, state = experiments.run_one(hc, method, 0.25, 0, *inputs)
    want = RECORD["runs"][method]
    got_sum = float(sum(float(np.sum(v)) for v in state.policy.values()))
    np.testing.assert_allclose(run["last_loss"], want["last_loss"], rtol=1e-8)
    np.testing.assert_allclose(got_sum, want["psum"], rtol=1e-8)
    assert set(run["final"]) >= set(want["final"])
    for key, value in want["final"].items():
        np.testing.assert_allclose(run["final"][key], value, rtol=1e-8, err_msg=key)
