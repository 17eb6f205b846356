"""Exercise 3.2: the binned state-space divergence D_stsp (eqs. 3.20-3.21).

Check your solution with ``python -m exercises.check ex03_2``.
"""

import numpy as np  # noqa: F401


def state_space_divergence(x_true, x_gen, n_bins):
    """KL(p_true || p_gen) between the occupation histograms of two orbits.

    Inputs
        x_true  (T, N): the ground-truth series (it alone defines the box)
        x_gen   (T', N): the generated series (any length)
        n_bins  bins per dimension (30 in the papers)

    Returns D_stsp, a float.

    The box: per dimension i, [lo_i, hi_i] = [min_i - 0.1 sd_i, max_i + 0.1 sd_i] of x_true.
    A point x falls in bin k_i = floor(n_bins (x_i - lo_i) / (hi_i - lo_i)) along dimension
    i; it is counted when 0 <= k_i < n_bins in every dimension, and DROPPED otherwise (never
    clipped into an edge bin). With h the counts of a series in the n_bins^N bins:

        (3.20)  p = (h + alpha) / (sum h + alpha n_bins^N),      alpha = 1e-5
        (3.21)  D_stsp = sum_bins p_true log(p_true / p_gen)

    Check: compared with ``reference.dsr.metrics.state_space_divergence`` (the default,
    Julia-style binning) on Lorenz-63 orbits, a generated series of another length, half of
    it outside the box, points in the first bin, 2-D and 1-D data and identical series;
    relative error
    (``reference.gradcheck.rel_error``) <= 1e-8.
    """
    raise NotImplementedError("Exercise 3.2: implement state_space_divergence (eqs. 3.20-3.21)")
