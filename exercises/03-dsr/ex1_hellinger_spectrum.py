"""Exercise 3.1: the Hellinger distance of smoothed power spectra, D_H (eq. 3.23).

Check your solution with ``python -m exercises.check ex03_1``.
"""

import numpy as np  # noqa: F401
from scipy.ndimage import gaussian_filter1d  # noqa: F401  (allowed: mode "reflect", truncate 4)


def hellinger_spectrum_distance(x_true, x_gen, sigma):
    """D_H between two time series of the same length.

    Inputs
        x_true  (T, N): the ground-truth series
        x_gen   (T, N): the generated series (same T)
        sigma   the width of the Gaussian smoothing, in frequency bins (e.g. 20)

    Returns D_H, a float.

    Per dimension n, for each series x[:, n]:

        1. z-score it: (x - mean) / sd
        2. power spectrum P = |rfft(.)|^2            (T // 2 + 1 frequencies)
        3. smooth P with a Gaussian of ``sigma`` bins (reflect padding, truncated at
           4 sigma -- exactly ``scipy.ndimage.gaussian_filter1d(P, sigma)``), clip at 0
        4. normalise: p = P / sum P

    and with p, q the normalised spectra of x_true and x_gen:

        (3.23)  H_n = sqrt(1 - sum_f sqrt(p_f q_f)),     D_H = mean_n H_n

    (Clip 1 - sum sqrt(p q) at 0 before the square root: rounding can make it -1e-17.)

    Check: compared with ``reference.dsr.metrics.hellinger_spectrum_distance`` on Lorenz-63
    series, noisy data, odd lengths, series with a non-zero mean and different scales, one
    dimension, and series shorter than the smoothing kernel; relative error
    (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 3.1: implement hellinger_spectrum_distance (eq. 3.23)")
