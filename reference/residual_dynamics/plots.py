"""Figures of chapter 1. Every function takes NumPy arrays and returns a matplotlib Figure.

The figures are plain :class:`matplotlib.figure.Figure` objects, not registered with pyplot:
nothing here calls ``plt.show()``, opens a window or saves a file. The chapter displays them
(a notebook shows a figure that is a cell's last expression), the command line writes them
with ``fig.savefig``. Plotting is the one place where the library uses ``numpy`` directly
instead of ``reference.backend.xp``.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from reference.backend import asnumpy


def _figure(ncols, width=4.2, height=3.3):
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)
    return fig, list(axes[0])


# --------------------------------------------------------------------------- training


def training_curves(loss, curves=None, source_losses=None, m=None):
    """The loss at every step and, if ``curves`` is given, its two parts along training.

    ``loss``: ``(steps,)``, the loss before each update. ``curves``: a dict with ``step``,
    ``mean_g2`` and ``mean_entropy`` (as recorded by ``experiments.run_source``).
    ``source_losses``: ``{step: loss}`` printed by the source notebook, drawn as markers.
    ``m``: the simplex size; the maximal entropy ``log m`` is drawn as a dashed line.
    """
    fig, axes = _figure(3 if curves is not None else 1)
    ax = axes[0]
    ax.plot(np.arange(len(loss)), asnumpy(loss), lw=1.5, label="this run")
    if source_losses:
        steps = sorted(source_losses)
        ax.plot(
            steps,
            [source_losses[s] for s in steps],
            "o",
            color="k",
            ms=5,
            label="source notebook (its own init)",
        )
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.set(xlabel="training step", ylabel="loss (1.6)", title="Loss")
    ax.legend(frameon=False)
    if curves is not None:
        axes[1].plot(curves["step"], curves["mean_g2"], "o-", ms=3, color="C1")
        axes[1].set(
            xlabel="training step", ylabel=r"mean $\sum_m g^2$", title=r"Penalty part: $g^2$"
        )
        axes[2].plot(curves["step"], curves["mean_entropy"], "o-", ms=3, color="C2")
        if m is not None:
            axes[2].axhline(math.log(m), color="0.5", ls="--", lw=1, label=r"$\log m$")
            axes[2].legend(frameon=False, loc="lower right")
        axes[2].set(xlabel="training step", ylabel=r"mean $H(N_t)$", title="Entropy part")
    return fig


def loss_curves(losses, ylabel="loss (1.6)", title=None):
    """Several loss histories on one axis: ``losses = {label: (steps,) array}``."""
    fig, (ax,) = _figure(1, width=5.0)
    for label, values in losses.items():
        ax.plot(np.arange(len(values)), asnumpy(values), lw=1.5, label=label)
    ax.set(xlabel="training step", ylabel=ylabel, title=title)
    ax.legend(frameon=False)
    return fig


# --------------------------------------------------------------------------- gradients


def adjoint_norms(Nbars):
    """``||dL/dN_t||_2`` over t, on a log scale, for one or more parameter sets.

    ``Nbars = {label: (T, B, m) array}``, the total adjoints returned by
    ``model.backprop_through_time``. The line is the batch mean of the per-row norm, the band
    the 10-90 % range over the batch.
    """
    fig, (ax,) = _figure(1, width=6.0)
    for k, (label, nbar) in enumerate(Nbars.items()):
        norms = np.linalg.norm(asnumpy(nbar), axis=-1)  # (T, B)
        t = np.arange(1, norms.shape[0] + 1)
        lo, hi = np.percentile(norms, [10, 90], axis=1)
        ax.fill_between(t, lo, hi, color=f"C{k}", alpha=0.2, lw=0)
        ax.plot(t, norms.mean(axis=1), color=f"C{k}", lw=1.5, label=label)
    ax.set_yscale("log")
    ax.set(
        xlabel="time step t",
        ylabel=r"$\|\partial L / \partial N_t\|_2$",
        title="Adjoint of the state over time",
    )
    ax.legend(frameon=False)
    return fig


# --------------------------------------------------------------------------- simplex

_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3.0) / 2.0]])


def simplex_xy(P):
    """Barycentric projection of points on the 2-simplex to the plane: ``P @ corners``.

    ``P``: ``(..., 3)`` with rows summing to one. Corner k of the equilateral triangle is the
    point where all mass sits on component k.
    """
    P = asnumpy(P)
    if P.shape[-1] != 3:
        raise ValueError(f"P: expected points on the 2-simplex, shape (..., 3), got {P.shape}")
    return P @ _CORNERS


def _triangle(ax, labels):
    ax.fill(*_CORNERS.T, color="0.97", zorder=0)
    ax.plot(*np.vstack([_CORNERS, _CORNERS[:1]]).T, color="0.3", lw=1)
    centre = _CORNERS.mean(axis=0)
    for corner, label in zip(_CORNERS, labels, strict=True):
        ax.text(*(corner + 0.1 * (corner - centre)), label, ha="center", va="center")
    ax.plot(*centre, "+", color="k", ms=9, zorder=4)  # the uniform distribution
    ax.set(xlim=(-0.12, 1.12), ylim=(-0.1, 0.98), aspect="equal")
    ax.axis("off")


def ternary(trajectories, labels=("$N^{(1)}$", "$N^{(2)}$", "$N^{(3)}$"), rows=4, transient=25):
    """States N_t on the 2-simplex, one panel per entry of ``trajectories``.

    ``trajectories = {title: (T+1, B, 3) array}`` with N_0 first. Grey dots: every state of
    every trajectory (where the dynamics live). Coloured lines: the first ``transient`` steps
    of the first ``rows`` trajectories, from a circle (N_0) to a square. The cross marks the
    uniform distribution, where the entropy is largest.
    """
    fig, axes = _figure(len(trajectories), width=3.6, height=3.6)
    for ax, (title, P) in zip(axes, trajectories.items(), strict=True):
        _triangle(ax, labels)
        xy = simplex_xy(P)  # (T+1, B, 2)
        cloud = xy[1:].reshape(-1, 2)
        ax.plot(cloud[:, 0], cloud[:, 1], ".", color="0.55", ms=1.0, alpha=0.25, zorder=1)
        for b in range(min(rows, xy.shape[1])):
            path = xy[: transient + 1, b]
            colour = f"C{b % 10}"
            ax.plot(path[:, 0], path[:, 1], color=colour, lw=1.0, zorder=2)
            ax.plot(*path[0], "o", color=colour, ms=4, zorder=3)
            ax.plot(*path[-1], "s", color=colour, ms=4, mec="k", mew=0.5, zorder=3)
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- ablations


def entropy_ablation(curves_by_weight, m=None):
    """The two parts of the loss along training, one line per entropy weight.

    ``curves_by_weight = {w: curves}`` with ``curves`` as in :func:`training_curves`. The
    third panel places each run's final (penalty, entropy) pair: the trade-off curve.
    """
    fig, axes = _figure(3)
    for k, (w, c) in enumerate(sorted(curves_by_weight.items())):
        label = f"w = {w:g}"
        axes[0].plot(c["step"], c["mean_g2"], "o-", ms=3, color=f"C{k}", label=label)
        axes[1].plot(c["step"], c["mean_entropy"], "o-", ms=3, color=f"C{k}", label=label)
        axes[2].plot(c["mean_g2"][-1], c["mean_entropy"][-1], "o", color=f"C{k}", ms=8, label=label)
    if m is not None:
        for ax in axes[1:]:
            ax.axhline(math.log(m), color="0.5", ls="--", lw=1)
    axes[0].set(xlabel="training step", ylabel=r"mean $\sum_m g^2$", title="Penalty")
    axes[1].set(xlabel="training step", ylabel=r"mean $H(N_t)$", title="Entropy")
    axes[2].set(
        xlabel=r"final mean $\sum_m g^2$",
        ylabel=r"final mean $H(N_t)$",
        title="Trade-off after training",
    )
    for ax in axes:
        ax.legend(frameon=False)
    return fig


def alpha_trajectory(alpha_history, alpha_fixed, losses=None):
    """Learned alpha components over training, with the fixed values dashed.

    ``alpha_history``: ``(steps, m)``, alpha used at each step. ``losses`` (optional):
    ``{label: (steps,) array}`` drawn in a second panel (e.g. fixed vs learned alpha).
    """
    alpha_history = asnumpy(alpha_history)
    alpha_fixed = asnumpy(alpha_fixed)
    fig, axes = _figure(2 if losses else 1)
    ax = axes[0]
    for j in range(alpha_history.shape[1]):
        ax.plot(alpha_history[:, j], color=f"C{j}", lw=1.5, label=rf"$\alpha_{j + 1}$")
        ax.axhline(alpha_fixed[j], color=f"C{j}", ls="--", lw=0.8)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(xlabel="training step", ylabel=r"$\alpha$", title="Learned filter constants")
    ax.legend(frameon=False, loc="center right")
    if losses:
        for label, values in losses.items():
            axes[1].plot(asnumpy(values), lw=1.5, label=label)
        axes[1].set(xlabel="training step", ylabel="loss (1.6)", title="Loss")
        axes[1].legend(frameon=False)
    return fig


# --------------------------------------------------------------------------- the graph

_PATH_COLOURS = {"residual": "C0", "mlp": "C1", "g": "C2", "entropy": "C3"}


def computational_graph():
    """The computational graph of two consecutive steps, with the four paths into N_{t-1}.

    Each coloured edge leaves N_{t-1}; in the backward pass each one sends an adjoint back
    into it: the residual log (1.3), the MLP input (1.1), the g recursion (1.5) at steps t-1
    and t, and the entropy term of the loss (1.6) at step t-1.
    """
    nodes = {
        "N1": (0.0, 2.0, r"$N_{t-1}$"),
        "g1": (0.0, 0.0, r"$g_{t-1}$"),
        "L1": (-1.5, 1.0, r"$\ell_{t-1}$"),
        "yr": (0.6, 3.6, r"$y_t, r_t$"),
        "d": (2.0, 3.1, r"$d_t$"),
        "z": (3.6, 2.0, r"$z_t$"),
        "N": (5.2, 2.0, r"$N_t$"),
        "g": (5.2, 0.0, r"$g_t$"),
        "L": (6.7, 1.0, r"$\ell_t$"),
        "N0": (-1.5, 2.8, r"$\cdots$"),
        "g0": (-1.5, -0.8, r"$\cdots$"),
    }
    fig = Figure(figsize=(8.4, 4.4), layout="constrained")
    ax = fig.subplots()

    def edge(a, b, colour="0.55", label=None, rad=0.0, lw=1.2, offset=(0, 0)):
        (xa, ya, _), (xb, yb, _) = nodes[a], nodes[b]
        ax.annotate(
            "",
            xy=(xb, yb),
            xytext=(xa, ya),
            arrowprops={
                "arrowstyle": "-|>",
                "color": colour,
                "lw": lw,
                "shrinkA": 17,
                "shrinkB": 17,
                "connectionstyle": f"arc3,rad={rad}",
            },
        )
        if label:
            ax.text(
                (xa + xb) / 2 + offset[0],
                (ya + yb) / 2 + offset[1],
                label,
                color=colour,
                fontsize=9,
                ha="center",
                va="center",
                bbox={"fc": "white", "ec": "none", "pad": 0.5},
            )

    c = _PATH_COLOURS
    edge("N0", "N1", lw=0.8)
    edge("g0", "g1", lw=0.8)
    edge("yr", "d")
    edge("g1", "d", label="input", offset=(0.35, -0.65))
    edge("g1", "g", label=r"$\alpha\,g_{t-1}$", offset=(0.0, -0.25))
    edge("d", "z")
    edge("z", "N", label="softmax", offset=(0.0, 0.22))
    edge("N", "g", label=r"$+y_t$", offset=(0.3, 0.0))
    edge("N", "L")
    edge("g", "L")
    edge("g1", "L1")
    edge("N1", "z", c["residual"], r"$\log(N_{t-1}+\varepsilon)$", lw=2.2, offset=(0.5, -0.22))
    edge("N1", "d", c["mlp"], "MLP input", lw=2.2, offset=(0.55, -0.1))
    edge("N1", "g", c["g"], r"$-\alpha\, y_t$", lw=2.2, offset=(0.9, -0.05))
    edge("N1", "g1", c["g"], r"$+y_{t-1}$", lw=2.2, offset=(-0.35, 0.3))
    edge("N1", "L1", c["entropy"], r"$-w\,H$", lw=2.2, offset=(-0.45, 0.25))
    for x, y, text in nodes.values():
        plain = text == r"$\cdots$"
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=13,
            zorder=3,
            bbox=None if plain else {"boxstyle": "circle,pad=0.3", "fc": "white", "ec": "0.2"},
        )
    ax.text(-0.2, -1.25, "step t-1", ha="center", color="0.4")
    ax.text(3.6, -1.25, "step t", ha="center", color="0.4")
    ax.set(xlim=(-2.2, 7.4), ylim=(-1.5, 4.1))
    ax.axis("off")
    return fig
