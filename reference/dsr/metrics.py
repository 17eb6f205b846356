"""How good is a reconstruction? The chapter's evaluation metrics (eqs. 3.20-3.26).

A reconstructed system is judged by the *long-term* statistics of the orbits it generates,
not by how well it predicts the next step: chaotic orbits separate exponentially, so a
perfect model and the truth disagree pointwise after a few Lyapunov times anyway.

* :func:`state_space_divergence` -- D_stsp, the KL divergence between the occupation
  measures of the true and the generated orbit in observation space: binned (eqs. 3.20-3.21)
  below six dimensions, a Gaussian-mixture Monte-Carlo estimate (eq. 3.22) above;
* :func:`hellinger_spectrum_distance` -- D_H, the Hellinger distance between smoothed power
  spectra, averaged over dimensions (eq. 3.23);
* :func:`prediction_error` -- PE(n), the n-step-ahead prediction error (eq. 3.24);
* :func:`evaluate` -- the fixed-length protocol (eq. 3.26): generate 1.25 T steps from the
  first test point, drop the first 0.25 T, compare with the T test points; and
  :func:`summarise` for mean, sd, SEM, median and MAD over runs;
* the Lyapunov spectrum (eq. 3.25) lives in :mod:`reference.dsr.lyapunov`
  (:func:`~reference.dsr.lyapunov.lyapunov_spectrum`,
  :func:`~reference.dsr.lyapunov.lyapunov_from_jacobians`,
  :func:`~reference.dsr.lyapunov.qr_step`) and is re-exported here, so
  ``metrics.lyapunov_spectrum`` keeps working; the input checks are in
  :mod:`reference.dsr.checks`.

The binned histogram: the authors' Julia code and their Python code differ. Both put 30 bins
per dimension on a box derived from the true data; the Julia code uses the box
[min - 0.1 sd, max + 0.1 sd] and keeps every point inside it, the Python code uses
[min, max] and keeps only bin indices ``0 < k < n_bins`` -- so every point of the *first*
bin along any dimension is dropped (an off-by-one: bin 0 is empty by construction), and so is
the maximum. ``variant="julia"`` (the default, and the one we call correct) and
``variant="python"`` (source-compatible, for comparing with numbers quoted from the Python
code) implement the two. The values differ by a few per cent on Lorenz-63.

Models are used through the latent-step interface: ``model.step(params, z)`` and
``model.jacobian(params, z)`` on ``(batch, M)`` states. Observations are the first N latent
units (identity observation model); the initial state of an observation x is
``model.initial_state(params, x)`` when the model has one, else ``z = x @ B`` with the first
N units replaced by x when ``params`` has the initial-state map ``B: (N, M)``, else x.

Backends: the statistics (histograms, FFTs, QR) run on the host in float64. Every public
function that takes a series or an array accepts NumPy or CuPy arrays (or nested lists): it
converts them once, at entry, with :func:`reference.backend.asnumpy`, and returns Python
floats or NumPy arrays. The model itself runs on its own array module (``reference.backend.xp``):
:func:`initial_state`, :func:`free_run` and :func:`generate` stay on that backend and return
its arrays, and :func:`prediction_errors` and :func:`evaluate` move the test series there
with ``xp.asarray`` and each model output back with ``asnumpy``.
"""

from __future__ import annotations

import math

import numpy as np

from reference.backend import asnumpy, xp
from reference.dsr.checks import positive_int, series, series_pair
from reference.dsr.lyapunov import lyapunov_from_jacobians as lyapunov_from_jacobians
from reference.dsr.lyapunov import lyapunov_spectrum as lyapunov_spectrum
from reference.dsr.lyapunov import qr_step as qr_step

LAPLACE_ALPHA = 1e-5  # Laplace smoothing of the binned occupation histograms
BOX_MARGIN_SD = 0.1  # Julia box: [min - 0.1 sd, max + 0.1 sd] of the true data
GMM_MAX_POINTS = 10_000  # mixture centres per trajectory
GMM_SAMPLES = 1000  # Monte-Carlo samples from the true mixture
BINNED_MAX_DIM = 5  # binned D_stsp up to 5 dimensions, GMM from 6 on
VARIANTS = ("julia", "python")


# --------------------------------------------------------------------------- D_stsp binned


def bounding_box(x_true, variant="julia"):
    """Per-dimension ``(lo, hi)`` of the histogram box, from the true data only."""
    x_true = series("x_true", x_true)
    lo, hi = x_true.min(axis=0), x_true.max(axis=0)
    if variant == "julia":
        sd = x_true.std(axis=0)
        return lo - BOX_MARGIN_SD * sd, hi + BOX_MARGIN_SD * sd
    if variant == "python":
        return lo, hi
    raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")


def occupation_histogram(x, lo, hi, n_bins=30, variant="julia"):
    """Counts of ``x: (T, N)`` in ``n_bins`` bins per dimension on ``[lo, hi)``, (n_bins,)*N.

    Bin k of dimension i is ``lo_i + [k, k + 1) (hi_i - lo_i) / n_bins``. ``variant="julia"``
    keeps ``0 <= k < n_bins``; ``variant="python"`` keeps ``0 < k < n_bins`` (bin 0 dropped,
    the source's off-by-one).
    """
    n_bins = positive_int("n_bins", n_bins)
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    x = series("x", x, min_len=1)
    lo = np.asarray(asnumpy(lo), dtype=np.float64)
    width = np.asarray(asnumpy(hi), dtype=np.float64) - lo
    if width.shape != (x.shape[1],) or not np.all(width > 0):
        raise ValueError(f"hi: expected hi > lo in each of the {x.shape[1]} dimensions")
    k = np.floor(n_bins * (x - lo) / width)
    first = 1 if variant == "python" else 0
    inside = np.all((k >= first) & (k < n_bins), axis=1)
    flat = np.ravel_multi_index(k[inside].astype(np.int64).T, (n_bins,) * x.shape[1])
    counts = np.bincount(flat, minlength=n_bins ** x.shape[1]).astype(np.float64)
    return counts.reshape((n_bins,) * x.shape[1])


def laplace_smoothed(counts, alpha=LAPLACE_ALPHA):
    """Eq. (3.20): p = (h + alpha) / (sum h + alpha * number of bins); None for no counts."""
    counts = np.asarray(asnumpy(counts), dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return None
    return (counts + alpha) / (total + alpha * counts.size)


def binned_state_space_divergence(x_true, x_gen, n_bins=30, variant="julia"):
    """Eqs. (3.20)-(3.21): KL(p_true || p_gen) of Laplace-smoothed occupation histograms.

    NaN when no generated point lies in the box (the model left the attractor's region).
    """
    x_true, x_gen = series_pair(x_true, x_gen)
    lo, hi = bounding_box(x_true, variant)
    p = laplace_smoothed(occupation_histogram(x_true, lo, hi, n_bins, variant))
    q = laplace_smoothed(occupation_histogram(x_gen, lo, hi, n_bins, variant))
    if p is None or q is None:
        return math.nan
    return float(np.sum(p * np.log(p / q)))


# --------------------------------------------------------------------------- D_stsp GMM


def _mixture_log_density(samples, centres, variance):
    """log (1/K) sum_k N(sample; centre_k, variance I), for each sample, in chunks."""
    n, d = centres.shape
    c2 = np.sum(centres**2, axis=1)
    out = np.empty(samples.shape[0])
    for start in range(0, samples.shape[0], 100):
        s = samples[start : start + 100]
        sq = np.sum(s**2, axis=1)[:, None] - 2.0 * s @ centres.T + c2[None, :]
        e = -0.5 * np.maximum(sq, 0.0) / variance
        m = e.max(axis=1, keepdims=True)
        out[start : start + 100] = m[:, 0] + np.log(np.exp(e - m).sum(axis=1))
    return out - np.log(n) - 0.5 * d * np.log(2.0 * np.pi * variance)


def gmm_state_space_divergence(
    x_true, x_gen, variance=1.0, n_samples=GMM_SAMPLES, max_points=GMM_MAX_POINTS, rng=None
):
    """Eq. (3.22): Monte-Carlo KL between isotropic Gaussian mixtures on the two orbits.

    One Gaussian of ``variance`` on each of the first ``max_points`` points of each orbit;
    ``n_samples`` samples from the true mixture (``rng``, default seed 0); the mean of
    log p - log q over the samples where both densities are positive (Hershey & Olsen 2007).
    """
    x_true, x_gen = series_pair(x_true, x_gen)
    if not (np.isfinite(variance) and variance > 0):
        raise ValueError(f"variance: expected a positive number, got {variance!r}")
    n_samples = positive_int("n_samples", n_samples)
    max_points = positive_int("max_points", max_points)
    rng = np.random.default_rng(0) if rng is None else rng
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    p_centres, q_centres = x_true[:max_points], x_gen[:max_points]
    pick = rng.integers(p_centres.shape[0], size=n_samples)
    samples = p_centres[pick] + math.sqrt(variance) * rng.standard_normal(
        (n_samples, x_true.shape[1])
    )
    log_p = _mixture_log_density(samples, p_centres, variance)
    log_q = _mixture_log_density(samples, q_centres, variance)
    ok = np.isfinite(log_p) & np.isfinite(log_q)
    return float(np.mean(log_p[ok] - log_q[ok])) if ok.any() else math.nan


def state_space_divergence(x_true, x_gen, n_bins=30, *, variant="julia", variance=1.0, rng=None):
    """D_stsp: binned (eqs. 3.20-3.21) for N <= 5 dimensions, GMM (eq. 3.22) for N >= 6.

    ``variant`` chooses the Julia (default) or the source-compatible Python binning;
    ``variance`` and ``rng`` go to the GMM estimate.
    """
    x_true, x_gen = series_pair(x_true, x_gen)
    if x_true.shape[1] <= BINNED_MAX_DIM:
        return binned_state_space_divergence(x_true, x_gen, n_bins, variant)
    return gmm_state_space_divergence(x_true, x_gen, variance, rng=rng)


# --------------------------------------------------------------------------- D_H


def gaussian_smooth(x, sigma, truncate=4.0):
    """Gaussian filter along the last axis with half-sample-symmetric ("reflect") padding.

    The same result as ``scipy.ndimage.gaussian_filter1d(x, sigma, mode="reflect",
    truncate=4.0)``: kernel radius ``int(truncate sigma + 0.5)``, weights normalised to 1.
    """
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma: expected a positive number of frequency bins, got {sigma!r}")
    radius = int(truncate * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * (offsets / sigma) ** 2)
    w /= w.sum()
    x = np.asarray(asnumpy(x), dtype=np.float64)
    pad = [(0, 0)] * (x.ndim - 1) + [(radius, radius)]
    # numpy's "symmetric" repeats the edge sample (d c b a | a b c d), scipy's "reflect";
    # a pad longer than the signal needs repeated reflection, which np.pad does.
    xp_ = np.pad(x, pad, mode="symmetric")
    out = np.zeros_like(x)
    n = x.shape[-1]
    for j, wj in enumerate(w):
        out += wj * xp_[..., j : j + n]
    return out


def power_spectra(x, sigma=20):
    """Eq. (3.23), first part: per dimension, the z-scored series' |rfft|^2, Gaussian-smoothed
    with ``sigma`` frequency bins, clipped at 0 and normalised to sum 1. ``(N, T//2 + 1)``."""
    x = series("x", x)
    std = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    P = np.abs(np.fft.rfft(z, axis=0).T) ** 2
    P = np.maximum(gaussian_smooth(P, sigma), 0.0)
    return P / P.sum(axis=1, keepdims=True)


def hellinger_spectrum_distance(x_true, x_gen, sigma=20, return_per_dim=False):
    """Eq. (3.23): D_H = mean over dimensions of sqrt(1 - sum_f sqrt(p_f q_f)).

    ``x_true`` and ``x_gen`` must have the same length (the spectra then share frequencies).
    The Bhattacharyya coefficient is clipped at 1 against rounding (else sqrt of -1e-17).
    """
    x_true, x_gen = series_pair(x_true, x_gen)
    if x_true.shape[0] != x_gen.shape[0]:
        raise ValueError(
            f"x_gen: expected the length of x_true ({x_true.shape[0]}), "
            f"got {x_gen.shape[0]}; generate exactly T steps"
        )
    bc = np.sum(np.sqrt(power_spectra(x_true, sigma) * power_spectra(x_gen, sigma)), axis=1)
    per_dim = np.sqrt(np.maximum(1.0 - bc, 0.0))
    return per_dim if return_per_dim else float(per_dim.mean())


# --------------------------------------------------------------------------- model helpers


def initial_state(model, params, x):
    """Latent states ``(B, M)`` for observations ``x: (B, N)`` (see the module docstring)."""
    if hasattr(model, "initial_state"):
        return model.initial_state(params, x)
    x = xp.asarray(x)
    if "B" in params:
        z = x @ params["B"]
        return xp.concatenate([x, z[:, x.shape[1] :]], axis=1)
    return x


def free_run(model, params, z0, n_steps):
    """Iterate ``model.step`` ``n_steps`` times from ``z0: (B, M)``; ``(n_steps, B, M)``
    holding z_1 .. z_n (the initial state is not included)."""
    n_steps = positive_int("n_steps", n_steps)
    z = xp.asarray(z0)
    if z.ndim != 2:
        raise ValueError(f"z0: expected (batch, M), got shape {z.shape}")
    out = xp.empty((n_steps,) + z.shape, dtype=z.dtype)
    for t in range(n_steps):
        z = model.step(params, z)
        out[t] = z
    return out


def generate(model, params, x0, n_steps):
    """Observations ``(n_steps, N)`` of the orbit started at the observation ``x0: (N,)``."""
    x0 = xp.asarray(x0)
    if x0.ndim != 1:
        raise ValueError(f"x0: expected one observation (N,), got shape {x0.shape}")
    Z = free_run(model, params, initial_state(model, params, x0[None]), n_steps)
    return Z[:, 0, : x0.shape[0]]


# --------------------------------------------------------------------------- PE(n)


def prediction_errors(model, params, x, n=20):
    """PE(k) for k = 1..n, ``(n,)`` (eq. 3.24): from every z_t = init(x_t) iterate k steps
    and average the squared error of the first N units against x_{t+k} over t and dims."""
    x = series("x", x)
    n = positive_int("n", n)
    if x.shape[0] <= n:
        raise ValueError(f"x: expected more than n = {n} time steps, got {x.shape[0]}")
    N, starts = x.shape[1], x.shape[0] - n
    z = initial_state(model, params, xp.asarray(x[:starts]))
    pe = np.empty(n)
    for k in range(1, n + 1):
        z = model.step(params, z)
        pe[k - 1] = float(np.mean((asnumpy(z[:, :N]) - x[k : k + starts]) ** 2))
    return pe


def prediction_error(model, params, x, n=20):
    """PE(n) (eq. 3.24): the n-step-ahead mean squared error, starts t = 0..T-n-1."""
    return float(prediction_errors(model, params, x, n)[-1])


# --------------------------------------------------------------------------- protocol


def evaluate(model, params, x_test, n_bins=30, sigma=20, pe_steps=20, variant="julia"):
    """Eq. (3.26), the fixed-length protocol against a test series ``x_test: (T, N)``.

    Generates 1.25 T steps from x_test[0], drops the first 0.25 T, and returns
    ``{"D_stsp", "D_H", "PE", "x_gen"}``; D_stsp and D_H are NaN when the generated orbit
    diverges (non-finite values).
    """
    x_test = series("x_test", x_test)
    T = x_test.shape[0]
    drop = T // 4
    x_gen = np.asarray(asnumpy(generate(model, params, x_test[0], T + drop)))[drop:]
    out = {"x_gen": x_gen, "PE": prediction_error(model, params, x_test, pe_steps)}
    if np.all(np.isfinite(x_gen)):
        out["D_stsp"] = state_space_divergence(x_test, x_gen, n_bins, variant=variant)
        out["D_H"] = hellinger_spectrum_distance(x_test, x_gen, sigma)
    else:
        out["D_stsp"] = out["D_H"] = math.nan
    return out


def ground_truth_floor(x_a, x_b, n_bins=30, sigma=20, variant="julia"):
    """D_stsp and D_H between two independent true series of the same lengths: the values
    a perfect model would get at these lengths (clearly above zero for finite T)."""
    return {
        "D_stsp": state_space_divergence(x_a, x_b, n_bins, variant=variant),
        "D_H": hellinger_spectrum_distance(x_a, x_b, sigma),
    }


def summarise(values):
    """Mean, sd, SEM, median and MAD (median absolute deviation) over runs, NaN dropped."""
    v = np.asarray(asnumpy(values), dtype=np.float64).ravel()
    kept = v[np.isfinite(v)]
    n = kept.size
    if n == 0:
        return {
            "n": 0,
            "n_nan": int(v.size),
            "mean": math.nan,
            "sd": math.nan,
            "sem": math.nan,
            "median": math.nan,
            "mad": math.nan,
        }
    sd = float(kept.std(ddof=1)) if n > 1 else 0.0
    med = float(np.median(kept))
    return {
        "n": int(n),
        "n_nan": int(v.size - n),
        "mean": float(kept.mean()),
        "sd": sd,
        "sem": sd / math.sqrt(n),
        "median": med,
        "mad": float(np.median(np.abs(kept - med))),
    }
