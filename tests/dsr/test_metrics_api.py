"""The public surface of ``reference.dsr.metrics``: names kept after the split into
``metrics``, ``lyapunov`` and ``checks``."""

import pytest

from reference.dsr import checks, lyapunov, metrics

# Every public name metrics.py had before lyapunov.py and checks.py were split off.
PUBLIC = (
    "LAPLACE_ALPHA BOX_MARGIN_SD GMM_MAX_POINTS GMM_SAMPLES BINNED_MAX_DIM VARIANTS "
    "bounding_box occupation_histogram laplace_smoothed binned_state_space_divergence "
    "gmm_state_space_divergence state_space_divergence gaussian_smooth power_spectra "
    "hellinger_spectrum_distance initial_state free_run generate prediction_errors "
    "prediction_error qr_step lyapunov_from_jacobians lyapunov_spectrum evaluate "
    "ground_truth_floor summarise"
).split()


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_is_still_importable_from_metrics(name):
    assert callable(getattr(metrics, name)) or name.isupper()


@pytest.mark.parametrize("name", ["qr_step", "lyapunov_from_jacobians", "lyapunov_spectrum"])
def test_lyapunov_functions_are_reexported_not_copied(name):
    assert getattr(metrics, name) is getattr(lyapunov, name)


def test_checks_name_the_argument():
    with pytest.raises(ValueError, match="n_steps"):
        checks.positive_int("n_steps", 0)
    with pytest.raises(ValueError, match="x_gen"):
        checks.series_pair([[0.0], [1.0]], [[0.0, 1.0], [1.0, 2.0]])
