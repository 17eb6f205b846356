"""Figures of chapter 5: learning curves over seeds, the epistemic signal, the ablation.

Every function takes ``results = {agent name: [RunResult, ...]}`` (one run per seed, as
returned by :func:`reference.ngc.run.compare`) and draws on a given matplotlib ``ax`` or on a
new figure; it returns the figure. Bands are the spread over seeds (mean +- one standard
deviation of the per-seed moving averages, clipped to the per-seed extremes).
"""

from __future__ import annotations

import numpy as np

from .run import moving_average, solved_episode, threshold_of


def _ax(ax, figsize=(7.0, 4.0)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _stack(arrays):
    """Stack per-seed 1-D arrays, cutting them to the shortest."""
    n = min(len(a) for a in arrays)
    return np.stack([np.asarray(a[:n], dtype=np.float64) for a in arrays])


def mean_band(curves):
    """``(mean, lo, hi)`` over the rows of ``curves: (seeds, T)``; the band is mean +- sd
    clipped to the rows' minimum and maximum (a single seed gives a zero-width band)."""
    curves = np.asarray(curves, dtype=np.float64)
    if curves.ndim != 2 or curves.shape[0] < 1:
        raise ValueError(f"curves: expected shape (seeds, T), got {curves.shape}")
    mean = np.nanmean(curves, axis=0)
    sd = np.nanstd(curves, axis=0, ddof=1) if curves.shape[0] > 1 else np.zeros_like(mean)
    lo = np.maximum(mean - sd, np.nanmin(curves, axis=0))
    hi = np.minimum(mean + sd, np.nanmax(curves, axis=0))
    return mean, lo, hi


def _band(ax, y, label, color=None):
    mean, lo, hi = mean_band(y)
    x = np.arange(1, mean.size + 1)
    (line,) = ax.plot(x, mean, label=label, color=color, lw=1.6)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    return line.get_color()


def learning_curves(results, window=100, threshold=None, ax=None, title=None, markers=True):
    """Moving-average return (``window`` episodes) per agent: mean and band over seeds.

    A dashed line marks the solve ``threshold`` (default: the environment's); with
    ``markers``, a triangle on the x axis marks each seed's solved episode.
    """
    fig, ax = _ax(ax)
    env_id = next(iter(results.values()))[0].env_id
    threshold = threshold_of(env_id) if threshold is None else threshold
    for name, runs in results.items():
        color = _band(ax, _stack([moving_average(r.returns, window) for r in runs]), name)
        if markers:
            solved = [solved_episode(r.returns, threshold, window) for r in runs]
            xs = [s for s in solved if s is not None]
            ax.plot(
                xs,
                [0.0] * len(xs),
                "v",
                color=color,
                ms=8,
                clip_on=False,
                transform=ax.get_xaxis_transform(),
            )
    ax.axhline(threshold, ls="--", color="0.3", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("episode")
    ax.set_ylabel(f"return, {window}-episode moving average")
    ax.set_title(title or env_id)
    ax.legend(frameon=False, fontsize=8)
    return fig


def signal_over_time(
    results, key="epistemic", reduce="sum", window=1, ax=None, log=True, ylabel=None
):
    """A per-episode diagnostic (default: the episode's summed epistemic signal) over seeds.

    ``reduce`` picks ``RunResult.diag_sum`` or ``diag_mean``; agents that never reported
    ``key`` are skipped. ``window > 1`` smooths with a trailing moving average.
    """
    fig, ax = _ax(ax)
    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce: expected 'sum' or 'mean', got {reduce!r}")
    drawn = 0
    for name, runs in results.items():
        table = [getattr(r, f"diag_{reduce}").get(key) for r in runs]
        if any(t is None for t in table):
            continue
        y = _stack([moving_average(np.nan_to_num(t), window) if window > 1 else t for t in table])
        _band(ax, y, name)
        drawn += 1
    if drawn == 0:
        raise ValueError(f"key: no agent in results reported {key!r}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("episode")
    ax.set_ylabel(ylabel or f"{key} per episode ({reduce})")
    ax.legend(frameon=False, fontsize=8)
    return fig


def terminal_rate(results, window=100, ax=None, ylabel="episodes reaching the goal"):
    """Fraction of the last ``window`` episodes that ended in a terminal state (the goal)."""
    fig, ax = _ax(ax)
    for name, runs in results.items():
        _band(ax, _stack([moving_average(r.terminated.astype(float), window) for r in runs]), name)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("episode")
    ax.set_ylabel(f"{ylabel} (last {window})")
    ax.legend(frameon=False, fontsize=8)
    return fig


def ablation(rows, threshold=None, ax=None, title=None):
    """Bars of the mean return of the last episodes (+- sd over seeds), one per variant.

    ``rows`` are :func:`reference.ngc.run.compare`'s; each seed's value is not stored there,
    so the error bar is the row's ``sd_last``. The solved episodes are written on the bars.
    """
    fig, ax = _ax(ax, figsize=(max(4.0, 1.3 * len(rows)), 3.6))
    names = list(rows)
    mean = [rows[n]["mean_last"] for n in names]
    sd = [rows[n]["sd_last"] for n in names]
    x = np.arange(len(names))
    bottom = min(min(mean) - max(sd) - 10.0, threshold if threshold is not None else np.inf)
    ax.bar(x, np.asarray(mean) - bottom, bottom=bottom, yerr=sd, capsize=4, color="C0", alpha=0.7)
    for xi, n in zip(x, names, strict=True):
        solved = rows[n]["solved"]
        text = "solved: " + ", ".join("-" if s is None else str(s) for s in solved)
        ax.annotate(
            text,
            (xi, rows[n]["mean_last"] + rows[n]["sd_last"]),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="0.3", lw=1)
    ax.set_xticks(x, names, rotation=20, ha="right")
    w = next(iter(rows.values())).get("window", 100)
    ax.set_ylabel(f"mean return, last {w} episodes")
    if title:
        ax.set_title(title)
    return fig


#: Tasks whose terminal state is the goal (elsewhere, e.g. CartPole, it is a failure).
GOAL_TASKS = ("MountainCar-v0", "Acrobot-v1")


def overview(results, key="epistemic", window=100):
    """Learning curves, the goal rate (tasks in :data:`GOAL_TASKS`) and, if any agent
    reports ``key``, the epistemic signal, side by side."""
    import matplotlib.pyplot as plt

    has_signal = any(key in r.diag_sum for runs in results.values() for r in runs)
    has_goal = next(iter(results.values()))[0].env_id in GOAL_TASKS
    n = 1 + has_goal + has_signal
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 3.8), squeeze=False)
    axes = list(axes[0])
    learning_curves(results, window=window, ax=axes.pop(0))
    if has_goal:
        terminal_rate(results, window=window, ax=axes.pop(0))
    if has_signal:
        only = {k: v for k, v in results.items() if all(key in r.diag_sum for r in v)}
        signal_over_time(only, key=key, ax=axes.pop(0))
    fig.tight_layout()
    return fig
