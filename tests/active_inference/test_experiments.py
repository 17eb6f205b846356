"""Runs of chapter 2 (experiments.py): the temperature / KL-weight sensitivity study."""

import numpy as np
import pytest

from reference.active_inference import experiments

TINY = experiments.tutorial_config(fast=True, steps=5, n_train=32, n_val=16)


@pytest.fixture(scope="module")
def study():
    return experiments.sensitivity_study(
        TINY, temperatures=(0.15, 0.5), kl_weights=(0, 8), seeds=(3, 4)
    )


def test_sensitivity_study_shapes_and_ranges(study):
    np.testing.assert_array_equal(study["temperature"], [0.15, 0.5])
    np.testing.assert_array_equal(study["kl_weight"], [0, 8])
    np.testing.assert_array_equal(study["seed"], [3, 4])
    for key in ("encoder_accuracy", "state_accuracy", "val_objective", "val_vfe", "val_kl"):
        assert study[key].shape == (2, 2, 2)
        assert np.all(np.isfinite(study[key]))
    for key in ("encoder_accuracy", "state_accuracy"):
        assert np.all((study[key] >= 0.2) & (study[key] <= 1.0))  # aligned: at least 1/K
    # (2.30): total = vfe + kl_weight * kl, cell by cell at the cell's own weight
    w = study["kl_weight"][None, :, None]
    np.testing.assert_allclose(study["val_objective"], study["val_vfe"] + w * study["val_kl"])


def test_default_cell_matches_seed_study(study):
    """At (0.15, 8), the source's values, the cell is the seed study's run of that seed."""
    ref = experiments.seed_study((3, 4), TINY)
    for key in ("encoder_accuracy", "state_accuracy", "val_objective"):
        np.testing.assert_allclose(study[key][0, 1], ref[key], rtol=0, atol=1e-12)


def test_kl_weight_zero_drops_the_kl_term(study):
    """With kl_weight 0 the objective is the VFE alone (the KL part is still reported)."""
    np.testing.assert_allclose(study["val_objective"][:, 0], study["val_vfe"][:, 0])
    assert np.all(study["val_kl"] >= 0)


def test_temperature_reaches_training():
    """Different temperatures give different encoders from the same data and init."""
    one = experiments.sensitivity_study(TINY, temperatures=(0.05, 0.5), kl_weights=(8,))
    assert not np.allclose(one["val_vfe"][0], one["val_vfe"][1])


@pytest.mark.parametrize(
    "kwargs",
    [dict(temperatures=()), dict(kl_weights=()), dict(seeds=()), dict(temperatures=[[0.1]])],
)
def test_sensitivity_study_rejects_empty_grids(kwargs):
    with pytest.raises(ValueError):
        experiments.sensitivity_study(TINY, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(temperatures=(0.0,)), dict(kl_weights=(-1.0,))])
def test_sensitivity_study_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        experiments.sensitivity_study(TINY, **kwargs)
