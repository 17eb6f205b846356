"""Figures of chapter 3. NumPy in, :class:`matplotlib.figure.Figure` out (no pyplot, no window).

* :func:`attractor` -- the true and the generated orbit in 3-D, side by side;
* :func:`power_spectra` -- the smoothed, normalised spectra behind D_H (eq. 3.23) per dimension;
* :func:`training_curves` -- loss (and GTF alpha) per update, D_stsp / D_H over training;
* :func:`lyapunov` -- a spectrum next to the true system's, and running estimates;
* :func:`gradient_norms` -- gradient norm vs sequence length for several forcing schemes;
* :func:`symbolic_graph` -- the ALRNN subregion transition graph (eq. 3.34);
* :func:`orbit_by_code` -- an orbit coloured by the subregion it is in.

Plotting uses ``numpy`` directly (arrays are converted with ``reference.backend.asnumpy``).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from reference.backend import asnumpy

from . import metrics
from .symbolic import code_string

TRUE_COLOUR, GEN_COLOUR = "0.25", "tab:red"


def _np(x):
    return np.asarray(asnumpy(x), dtype=np.float64)


def _figure(ncols, width=4.2, height=3.4, nrows=1, **kw):
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def attractor(x_true, x_gen, titles=("ground truth", "generated"), n_points=20_000,
              labels=("x", "y", "z")):  # fmt: skip
    """Two 3-D panels: the first 3 dimensions of ``x_true`` and ``x_gen`` (up to
    ``n_points`` samples each), on the same axis limits."""
    fig = Figure(figsize=(8.4, 3.8), layout="constrained")
    series = [_np(x_true)[:n_points, :3], _np(x_gen)[:n_points, :3]]
    lo = np.min([s.min(axis=0) for s in series], axis=0)
    hi = np.max([s.max(axis=0) for s in series], axis=0)
    for i, (s, title, colour) in enumerate(
        zip(series, titles, (TRUE_COLOUR, GEN_COLOUR), strict=True)
    ):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        ax.plot(s[:, 0], s[:, 1], s[:, 2], lw=0.3, color=colour)
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), zlim=(lo[2], hi[2]), title=title)
        ax.set(xlabel=labels[0], ylabel=labels[1], zlabel=labels[2])
    return fig


def power_spectra(x_true, x_gen, sigma=20, dt=0.01, max_freq=3.0, labels=("x", "y", "z")):
    """Per dimension, the smoothed normalised power spectra of eq. (3.23) against frequency
    (cycles per time unit), with each panel's Hellinger distance in its title."""
    x_true, x_gen = _np(x_true), _np(x_gen)
    P, Q = metrics.power_spectra(x_true, sigma), metrics.power_spectra(x_gen, sigma)
    H = metrics.hellinger_spectrum_distance(x_true, x_gen, sigma, return_per_dim=True)
    f = np.fft.rfftfreq(x_true.shape[0], d=dt)
    keep = f <= max_freq
    n = x_true.shape[1]
    fig, axes = _figure(n, width=3.4, height=2.8)
    for i, ax in enumerate(axes[0]):
        ax.semilogy(f[keep], P[i, keep], color=TRUE_COLOUR, lw=1.2, label="ground truth")
        ax.semilogy(f[keep], Q[i, keep], color=GEN_COLOUR, lw=1.0, ls="--", label="generated")
        name = labels[i] if i < len(labels) else f"x{i}"
        ax.set(title=f"{name}: H = {H[i]:.3f}", xlabel="frequency (1 / time unit)")
    axes[0][0].set_ylabel("normalised power")
    axes[0][0].legend(frameon=False, fontsize=8)
    return fig


def training_curves(history, metric_history=None):
    """Left: the loss per update (log scale) with the GTF alpha on a twin axis when it
    varies. Right (when ``metric_history`` = ``{"epoch", "D_stsp", "D_H"}`` is given):
    D_stsp and D_H over training, with an optional ``"floor"`` dict drawn as dotted lines."""
    ncols = 1 if metric_history is None else 2
    fig, axes = _figure(ncols, width=4.4, height=3.2)
    ax = axes[0][0]
    loss = _np(history["loss"])
    ax.semilogy(np.arange(1, loss.size + 1), loss, lw=0.8, color="tab:blue")
    ax.set(xlabel="update", ylabel="teacher-forced MSE (3.10)", title="training loss")
    alpha = _np(history.get("alpha", []))
    if alpha.size and np.ptp(alpha) > 0:
        tw = ax.twinx()
        tw.plot(np.arange(1, alpha.size + 1), alpha, color="tab:orange", lw=1.0)
        tw.set_ylabel("GTF alpha", color="tab:orange")
    if metric_history is not None:
        ax = axes[0][1]
        epochs = _np(metric_history["epoch"])
        (l1,) = ax.plot(epochs, _np(metric_history["D_stsp"]), "o-", ms=3, label="D_stsp")
        ax.set(xlabel="epoch", ylabel="D_stsp", title="reconstruction quality (validation)")
        tw = ax.twinx()
        (l2,) = tw.plot(epochs, _np(metric_history["D_H"]), "s-", ms=3, color="tab:green",
                        label="D_H")  # fmt: skip
        tw.set_ylabel("D_H", color="tab:green")
        floor = metric_history.get("floor")
        if floor:
            ax.axhline(floor["D_stsp"], ls=":", color="tab:blue", lw=1)
            tw.axhline(floor["D_H"], ls=":", color="tab:green", lw=1)
        ax.legend(handles=[l1, l2], frameon=False, loc="best", fontsize=8)
    return fig


def lyapunov(spectra, dt=0.01, history=None, n_show=6):
    """Left: Lyapunov spectra per unit time (``spectra``: ``{label: per-step exponents}``),
    the first ``n_show`` exponents each. Right (with ``history``, running per-step
    estimates ``(n_steps, M)`` of one model): how the largest exponents converge."""
    ncols = 1 if history is None else 2
    fig, axes = _figure(ncols, width=4.4, height=3.2)
    ax = axes[0][0]
    width = 0.8 / max(len(spectra), 1)
    for k, (label, lam) in enumerate(spectra.items()):
        lam = _np(lam)[:n_show] / dt
        ax.bar(np.arange(lam.size) + k * width, lam, width=width, label=label)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xlabel="exponent index i", ylabel="lambda_i (1 / time unit)",
           title="Lyapunov spectrum")  # fmt: skip
    ax.legend(frameon=False, fontsize=8)
    if history is not None:
        ax = axes[0][1]
        h = _np(history)
        h = h[:, np.argsort(-h[-1])[:3]] / dt
        steps = np.arange(1, h.shape[0] + 1)
        for i in range(h.shape[1]):
            ax.plot(steps * dt, h[:, i], lw=1.0, label=f"lambda_{i + 1}")
        ax.axhline(0, color="k", lw=0.6)
        ax.set(xlabel="time units", ylabel="running estimate (1 / time unit)",
               title="convergence of the QR iteration")  # fmt: skip
        ax.legend(frameon=False, fontsize=8)
    return fig


def gradient_norms(lengths, norms, title="gradient norm vs sequence length"):
    """``norms = {scheme: (len(lengths),) or (len(lengths), repeats)}`` on a log axis; with
    repeats, the median and the 10-90 % band."""
    fig, axes = _figure(1, width=5.2, height=3.4)
    ax = axes[0][0]
    lengths = _np(lengths)
    for label, g in norms.items():
        g = _np(g)
        if g.ndim == 1:
            ax.semilogy(lengths, g, "o-", ms=3, label=label)
            continue
        med = np.median(g, axis=1)
        (line,) = ax.semilogy(lengths, med, "o-", ms=3, label=label)
        lo, hi = np.percentile(g, [10, 90], axis=1)
        ax.fill_between(lengths, lo, hi, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="sequence length T~", ylabel="||dL/dtheta||", title=title)
    ax.legend(frameon=False, fontsize=8)
    return fig


def symbolic_graph(graph, P, min_probability=0.0, title="subregion transition graph"):
    """Nodes (visited codes, area ~ visits) on a circle; arrows i -> j (i != j) with width
    ~ transition probability; self-transition probabilities printed under each node."""
    nodes, visits, probs = _np(graph["nodes"]), _np(graph["visits"]), _np(graph["probabilities"])
    n = nodes.size
    angle = 2 * np.pi * np.arange(n) / max(n, 1) + np.pi / 2
    pos = np.c_[np.cos(angle), np.sin(angle)]
    fig, axes = _figure(1, width=4.6, height=4.2)
    ax = axes[0][0]
    size = 300 + 2500 * visits / visits.max()
    ax.scatter(pos[:, 0], pos[:, 1], s=size, color="tab:blue", alpha=0.35, zorder=2)
    for i in range(n):
        ax.annotate(code_string(nodes[i], P), pos[i], ha="center", va="center", fontsize=9)
        ax.annotate(f"stay {probs[i, i]:.2f}", pos[i] - [0, 0.22], ha="center", fontsize=7)
        for j in range(n):
            if i == j or probs[i, j] <= min_probability:
                continue
            ax.add_patch(FancyArrowPatch(pos[i], pos[j], arrowstyle="-|>", mutation_scale=12,
                                         connectionstyle="arc3,rad=0.15", shrinkA=16,
                                         shrinkB=16, lw=0.5 + 4 * probs[i, j],
                                         color="0.3", zorder=1))  # fmt: skip
    ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", title=title)
    ax.axis("off")
    return fig


def orbit_by_code(X, codes, P, n_points=10_000, labels=("x", "y", "z")):
    """The first three coordinates of an orbit, each point coloured by its subregion code."""
    X, codes = _np(X)[:n_points], np.asarray(codes)[:n_points]
    fig = Figure(figsize=(4.8, 4.0), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    for c in np.unique(codes):
        m = codes == c
        ax.scatter(X[m, 0], X[m, 1], X[m, 2], s=0.4, label=code_string(c, P))
    ax.set(xlabel=labels[0], ylabel=labels[1], zlabel=labels[2], title="orbit by subregion")
    ax.legend(frameon=False, markerscale=12, fontsize=8, title="code")
    return fig
