"""Figures of the encoder tutorial (chapter 2). NumPy in, matplotlib Figure / animation out.

As in chapter 1 the figures are plain :class:`matplotlib.figure.Figure` objects (no pyplot,
no window). The two animations of the source are :class:`matplotlib.animation.FuncAnimation`
objects; pass ``path`` to write them as GIFs with ``PillowWriter`` (Pillow is a matplotlib
dependency). Plotting uses ``numpy`` directly, not ``reference.backend.xp``.
"""

from __future__ import annotations

import numpy as np
from matplotlib import animation
from matplotlib.figure import Figure

from reference.backend import asnumpy, xp

from . import encoder as enc
from .envs import GAUSSIAN_MEANS, GAUSSIAN_SCALE

ACTION_NAMES = ("back", "stay", "forward")


def _figure(ncols, width=4.2, height=3.4, **kw):
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False, **kw)
    return fig, list(axes[0])


def training_curves(history):
    """Minibatch total / VFE / KL per step (and the validation total if recorded)."""
    fig, (ax,) = _figure(1, width=6.0)
    steps = np.arange(len(history["total"]))
    ax.plot(steps, history["total"], lw=1.2, label="train total (2.30)")
    ax.plot(steps, history["vfe"], "--", lw=1.0, label="train mean VFE")
    ax.plot(steps, history["kl"], "--", lw=1.0, label="train temporal KL")
    if "val_total" in history:
        ax.plot(history["val_step"], history["val_total"], "o-", ms=3, label="validation total")
    ax.set(xlabel="SGD step", ylabel="objective", title="Training curves")
    ax.legend(frameon=False)
    return fig


def confusion_matrices(matrices, titles):
    """Row-normalised confusion matrices side by side (true state down, prediction across)."""
    fig, axes = _figure(len(matrices), width=3.6, height=3.4)
    im = None
    for ax, cm, title in zip(axes, matrices, titles, strict=True):
        cm = np.asarray(cm)
        im = ax.imshow(cm, vmin=0.0, vmax=1.0, cmap="viridis")
        for i, j in np.ndindex(cm.shape):
            ax.text(
                j,
                i,
                f"{cm[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="w" if cm[i, j] < 0.5 else "k",
            )
        ax.set(title=title, xlabel="predicted state (aligned)", ylabel="true state")
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig


# --------------------------------------------------------------------------- animations


def _bounds(means, scale):
    pad = 3.0 * scale
    return (
        means[:, 0].min() - pad,
        means[:, 0].max() + pad,
        means[:, 1].min() - pad,
        means[:, 1].max() + pad,
    )


def density_grid(means=GAUSSIAN_MEANS, scale=GAUSSIAN_SCALE, n=200):
    """Mixture density on a grid, capped at one component's peak and scaled to [0, 1]."""
    x0, x1, y0, y1 = _bounds(means, scale)
    xx, yy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    d2 = ((np.stack([xx, yy], -1)[:, :, None] - means) ** 2).sum(-1) / scale**2
    peak = 1.0 / (2.0 * np.pi * scale**2)
    dens = np.minimum(peak * np.exp(-0.5 * d2).sum(-1), peak)
    return (dens - dens.min()) / max(dens.max() - dens.min(), 1e-12)


def decision_grid(params, means=GAUSSIAN_MEANS, scale=GAUSSIAN_SCALE, n=200):
    """``argmax`` of the encoder's logits on a grid: its decision regions, (n, n) ints."""
    x0, x1, y0, y1 = _bounds(means, scale)
    xx, yy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    pts = xp.asarray(np.stack([xx.ravel(), yy.ravel()], -1))
    return asnumpy(xp.argmax(enc.encoder_logits(params, pts), axis=-1)).reshape(n, n)


def _rollout_animation(roll, background, left_title, means, scale, path, fps, region=False):
    states, actions = np.asarray(roll["states"]), np.asarray(roll["actions"])
    xs, qs, obs = np.asarray(roll["x"]), np.asarray(roll["qs"]), np.asarray(roll["obs"])
    K, horizon = qs.shape[1], len(actions)
    fig, (ax_l, ax_r) = _figure(2, width=5.6, height=4.6)
    x0, x1, y0, y1 = _bounds(means, scale)
    cmap = "tab10" if region else "seismic"
    vmin, vmax = (-0.5, 9.5) if region else (0.0, 1.0)
    ax_l.imshow(
        background,
        extent=(x0, x1, y0, y1),
        origin="lower",
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        alpha=0.72 if region else 0.8,
        aspect="auto",
        interpolation="nearest" if region else "antialiased",
    )
    ax_l.plot(means[:, 0], means[:, 1], "k--", alpha=0.35, lw=1.0)
    ax_l.scatter(
        means[:, 0],
        means[:, 1],
        s=150,
        c=np.arange(K),
        cmap="tab10",
        vmin=-0.5,
        vmax=9.5,
        edgecolors="k",
        zorder=3,
    )
    for s in range(K):
        ax_l.text(means[s, 0] + 0.1, means[s, 1] + 0.1, f"s{s}", fontsize=9)
    (path_line,) = ax_l.plot([], [], "-o", color="tab:red", lw=2.0, ms=5, zorder=4)
    obs_dots = ax_l.scatter(
        np.empty(0), np.empty(0), s=90, marker="x", zorder=5, color="k" if region else "green"
    )
    ax_l.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="$x_1$", ylabel="$x_2$", title=left_title)
    ax_l.set_aspect("equal", adjustable="box")
    heat = ax_r.imshow(
        np.full((K, horizon), np.nan),
        vmin=0.0,
        vmax=1.0,
        cmap="viridis",
        origin="lower",
        aspect="auto",
    )
    ax_r.set(
        title="Inference: $q(s_t)$",
        xlabel="time step",
        ylabel="state",
        xticks=range(horizon),
        yticks=range(K),
    )
    fig.colorbar(heat, ax=ax_r, fraction=0.046)
    title = fig.suptitle("", fontsize=10)

    def update(frame):
        path_line.set_data(means[states[: frame + 1], 0], means[states[: frame + 1], 1])
        obs_dots.set_offsets(xs[: frame + 1])
        arr = np.full((K, horizon), np.nan)
        arr[:, : frame + 1] = qs[: frame + 1].T
        heat.set_data(arr)
        last = "none" if frame == 0 else ACTION_NAMES[int(actions[frame - 1])]
        title.set_text(
            f"t={frame} | true state {states[frame]} | encoder label {int(np.argmax(obs[frame]))}"
            f" | inferred state {int(np.argmax(qs[frame]))} | last action: {last}"
        )
        return path_line, obs_dots, heat

    ani = animation.FuncAnimation(fig, update, frames=horizon, interval=900, blit=False)
    if path is not None:
        ani.save(str(path), writer=animation.PillowWriter(fps=fps))
    return ani


def rollout_density_animation(
    roll, path=None, means=GAUSSIAN_MEANS, scale=GAUSSIAN_SCALE, fps=1, grid=200
):
    """GIF 1 of the source: state path and samples over the mixture density, and q(s_t).

    ``roll`` is :func:`.train_encoder.rollout`'s dict; ``grid`` the background resolution.
    Returns the ``FuncAnimation``; writes a GIF to ``path`` when given.
    """
    means = np.asarray(means)
    return _rollout_animation(
        roll,
        density_grid(means, scale, grid),
        "Path over observation density",
        means,
        scale,
        path,
        fps,
    )


def rollout_decision_animation(
    params, roll, path=None, means=GAUSSIAN_MEANS, scale=GAUSSIAN_SCALE, fps=1, grid=200
):
    """GIF 2 of the source: the same path over the encoder's decision regions, and q(s_t)."""
    means = np.asarray(means)
    return _rollout_animation(
        roll,
        decision_grid(params, means, scale, grid),
        "Path over encoder decision regions",
        means,
        scale,
        path,
        fps,
        region=True,
    )


# --------------------------------------------------------------------------- chapter extras


def transition_matrices(B_rows, row_titles, action_names=ACTION_NAMES):
    """Rows of B tensors (S, S, U) as heat maps, one panel per action: B[s', s, u]."""
    U = np.asarray(B_rows[0]).shape[-1]
    fig = Figure(figsize=(3.2 * U, 2.9 * len(B_rows)), layout="constrained")
    axes = fig.subplots(len(B_rows), U, squeeze=False)
    im = None
    for r, (B, title) in enumerate(zip(B_rows, row_titles, strict=True)):
        B = np.asarray(B)
        for u in range(U):
            ax = axes[r, u]
            im = ax.imshow(B[:, :, u], vmin=0.0, vmax=1.0, cmap="viridis", origin="lower")
            ax.set(
                title=f"{title}: {action_names[u]}",
                xlabel="state s",
                ylabel="next state s'",
                xticks=range(B.shape[1]),
                yticks=range(B.shape[0]),
            )
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig


def learning_curves(errors, steps_per_episode):
    """Mean |B_learned - B_true| after each episode, one line per labelled run."""
    fig, (ax,) = _figure(1, width=6.0)
    for label, err in errors.items():
        err = np.asarray(err)
        ax.plot(np.arange(len(err)) * steps_per_episode, err, lw=1.4, label=label)
    ax.set(xlabel="agent steps", ylabel="mean |B - B_true|", title="Learning B from rollouts")
    ax.legend(frameon=False)
    return fig


def seed_study(study):
    """Validation objective (no labels) against aligned accuracy, one point per init."""
    fig, (ax,) = _figure(1, width=6.0)
    ax.scatter(study["val_objective"], study["encoder_accuracy"], label="encoder")
    ax.scatter(study["val_objective"], study["state_accuracy"], marker="x", label="inferred state")
    for seed, obj, acc in zip(
        study["seed"], study["val_objective"], study["encoder_accuracy"], strict=True
    ):
        ax.annotate(str(seed), (obj, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(
        xlabel="validation objective (2.30)",
        ylabel="aligned accuracy (validation)",
        title="One SGD run per initialisation",
    )
    ax.legend(frameon=False)
    return fig


def sensitivity_study(study):
    """Heat maps of the aligned accuracies over (temperature, KL weight), mean over seeds."""
    temps, weights = np.asarray(study["temperature"]), np.asarray(study["kl_weight"])
    panels = (("encoder_accuracy", "encoder"), ("state_accuracy", "inferred state"))
    fig, axes = _figure(len(panels), width=4.0, height=3.0)
    for ax, (key, title) in zip(axes, panels, strict=True):
        acc = np.asarray(study[key]).mean(axis=-1)  # (T, W)
        im = ax.imshow(acc, vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(acc):
            color = "black" if value > 0.8 else "white"
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=8, color=color)
        ax.set_xticks(range(weights.size), [f"{w:g}" for w in weights])
        ax.set_yticks(range(temps.size), [f"{t:g}" for t in temps])
        n = np.asarray(study["seed"]).size
        ax.set(xlabel="KL weight", ylabel="temperature", title=f"{title} ({n} seed(s))")
    fig.colorbar(im, ax=axes, shrink=0.8, label="aligned accuracy (validation)")
    return fig
