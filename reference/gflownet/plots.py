"""Figures of chapter 4: the exact terminal distribution against the target, metrics over
training per method, and method comparisons. NumPy in, :class:`matplotlib.figure.Figure` out
(no pyplot, no window), as in chapters 1 and 2.

Inputs are plain containers so that any training loop can feed them:

* a *history* is ``{"step": (S,), metric: (S,) or (seeds, S)}`` (several seeds give a mean
  line and a min-max band);
* a *table* is ``{method: {metric: sequence over seeds}}``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

LABELS = {
    "l1": "exact L1 to target (4.7)",
    "entropy_ratio": "H[p_theta] / H[p*] (4.8)",
    "kl_forward": "KL(p* || p_theta) (4.9)",
    "kl_reverse": "KL(p_theta || p*) (4.9)",
    "expected_modes": "expected distinct modes (n draws)",
    "modes_found": "modes found among the samples",
    "top_k_mean": "top-100 mean reward",
    "diversity": "top-100 diversity",
    "expected_reward": "E[R] under p_theta",
    "loss": "training loss",
}


def _figure(ncols, width=4.2, height=3.4):
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    return fig, list(fig.subplots(1, ncols, squeeze=False)[0])


def _reference_lines(ax, floors, metric):
    """Dotted horizontal lines: ``floors[metric]`` is a number or ``{label: number}``."""
    if not floors or metric not in floors:
        return
    lines = floors[metric]
    if not isinstance(lines, dict):
        lines = {"reference": lines}
    for i, (label, value) in enumerate(lines.items()):
        ax.axhline(value, color="k", ls=(":", "--", "-.")[i % 3], lw=1, label=label)


def distribution_vs_target(p, p_star, scores, modes=None, title=None, bins=20):
    """Left: p_theta(x) against p*(x) for all sequences (log-log, modes marked). Right: the
    probability mass each distribution puts in each reward bin."""
    p, p_star, R = (np.asarray(a, dtype=np.float64) for a in (p, p_star, scores))
    if not p.shape == p_star.shape == R.shape or p.ndim != 1:
        raise ValueError(
            f"p, p_star, scores: expected three (N,) arrays, got {p.shape}, {p_star.shape}, "
            f"{R.shape}"
        )
    fig, (ax, bx) = _figure(2)
    tiny = 1e-12
    ax.scatter(np.maximum(p_star, tiny), np.maximum(p, tiny), s=1, alpha=0.15, lw=0, c="C0")
    if modes is not None:
        modes = np.asarray(modes)
        ax.scatter(p_star[modes], p[modes], s=6, c="C3", lw=0, label=f"{modes.size} modes")
        ax.legend(frameon=False, loc="upper left")
    lo = max(np.quantile(np.concatenate([p_star, p]), 0.001) / 2, tiny)  # a few outliers off
    hi = 2 * max(p_star.max(), p.max())
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="target p*(x)", ylabel="sampler p_theta(x)")
    ax.set(xlim=(lo, hi), ylim=(lo, hi))
    ax.set_title(title or "every sequence, exactly")
    edges = np.linspace(R.min(), R.max(), bins + 1)
    which = np.clip(np.digitize(R, edges) - 1, 0, bins - 1)
    mass = np.bincount(which, weights=p, minlength=bins)
    mass_star = np.bincount(which, weights=p_star, minlength=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    bx.bar(centres, mass_star, width=width, color="0.75", label="target p*")
    bx.step(centres, mass, where="mid", color="C0", lw=1.5, label="sampler p_theta")
    bx.set(xlabel="reward R(x)", ylabel="probability mass", title="mass per reward bin")
    bx.legend(frameon=False)
    return fig


def training_curves(histories, metrics=("l1", "entropy_ratio", "expected_modes"), floors=None):
    """One panel per metric, one line per method (mean over seeds, min-max band).

    ``histories``: ``{method: {"step": (S,), metric: (S,) or (seeds, S)}}``; ``floors``:
    optional ``{metric: value or {label: value}}`` drawn as reference lines (e.g. the
    attainability references).
    """
    if not histories:
        raise ValueError("histories: expected at least one method")
    fig, axes = _figure(len(metrics))
    for i, (method, hist) in enumerate(histories.items()):
        steps = np.asarray(hist["step"])
        for ax, metric in zip(axes, metrics, strict=True):
            if metric not in hist:
                raise ValueError(f"histories[{method!r}]: no {metric!r} entry")
            y = np.atleast_2d(np.asarray(hist[metric], dtype=np.float64))
            if y.shape[1] != steps.size:
                raise ValueError(
                    f"histories[{method!r}][{metric!r}]: expected {steps.size} values per "
                    f"seed, got shape {y.shape}"
                )
            ax.plot(steps, y.mean(axis=0), color=f"C{i}", lw=1.5, label=method)
            if y.shape[0] > 1:
                ax.fill_between(steps, y.min(0), y.max(0), color=f"C{i}", alpha=0.2, lw=0)
    for ax, metric in zip(axes, metrics, strict=True):
        _reference_lines(ax, floors, metric)
        ax.set(xlabel="training iteration", ylabel=LABELS.get(metric, metric))
    axes[0].legend(frameon=False)
    return fig


def method_bars(
    table, metrics=("l1", "entropy_ratio", "expected_modes", "top_k_mean"), floors=None
):
    """Mean over seeds per method (bars), each seed a dot; one panel per metric."""
    if not table:
        raise ValueError("table: expected at least one method")
    methods = list(table)
    fig, axes = _figure(len(metrics), width=3.4)
    x = np.arange(len(methods))
    for ax, metric in zip(axes, metrics, strict=True):
        for i, method in enumerate(methods):
            if metric not in table[method]:
                raise ValueError(f"table[{method!r}]: no {metric!r} entry")
            vals = np.atleast_1d(np.asarray(table[method][metric], dtype=np.float64))
            ax.bar(i, vals.mean(), color=f"C{i}", alpha=0.7, width=0.7)
            ax.plot(np.full(vals.size, i), vals, "k.", ms=4)
        _reference_lines(ax, floors, metric)
        ax.set_xticks(x, methods, rotation=30, ha="right")
        ax.set_ylabel(LABELS.get(metric, metric))
    return fig


def alpha_bars(
    summary,
    metrics=("l1", "entropy_ratio", "top_k_mean", "modes_found"),
    methods=None,
    floors=None,
):
    """Methods side by side at every alpha: one panel per metric, for each method one bar per
    alpha (mean over seeds, hatched for the second alpha and so on), each seed a dot.

    ``summary``: ``{alpha: {method: {metric: sequence over seeds}}}`` (as
    ``experiments.summarize`` returns it); ``methods``: which and in what order (default:
    those of the first alpha); ``floors``: ``{metric: value or {label: value}}``.
    """
    if not summary:
        raise ValueError("summary: expected at least one alpha")
    alphas = list(summary)
    methods = list(methods or summary[alphas[0]])
    fig, axes = _figure(len(metrics), width=3.6)
    width = 0.8 / len(alphas)
    x = np.arange(len(methods))
    for ax, metric in zip(axes, metrics, strict=True):
        for j, alpha in enumerate(alphas):
            for i, method in enumerate(methods):
                if method not in summary[alpha] or metric not in summary[alpha][method]:
                    raise ValueError(f"summary[{alpha!r}]: no {metric!r} for {method!r}")
                vals = np.atleast_1d(np.asarray(summary[alpha][method][metric], dtype=float))
                xi = i - 0.4 + width * (j + 0.5)
                ax.bar(xi, vals.mean(), width=0.9 * width, color=f"C{i}", alpha=0.75,
                       hatch=(None, "//", "..", "xx")[j % 4], edgecolor="white",
                       label=f"alpha {alpha}" if i == 0 else None)  # fmt: skip
                ax.plot(np.full(vals.size, xi), vals, "k.", ms=3)
        _reference_lines(ax, floors, metric)
        ax.set_xticks(x, methods, rotation=30, ha="right")
        ax.set_ylabel(LABELS.get(metric, metric))
    axes[0].legend(frameon=False, fontsize="small", loc="upper right")
    return fig


def sweep(results, x_key, metric="l1", floors=None, xlabel=None):
    """A metric against a swept setting (e.g. alpha), one line per method.

    ``results``: ``{method: {x_value: sequence over seeds}}`` (x values may be strings such as
    the summary's ``"0.1"``); ``floors``: ``{x_value: v}`` or ``{label: {x_value: v}}``.
    """
    fig, (ax,) = _figure(1, width=5.0)
    for i, (method, by_x) in enumerate(results.items()):
        keys = sorted(by_x, key=float)
        vals = [np.atleast_1d(np.asarray(by_x[v], dtype=np.float64)) for v in keys]
        ax.errorbar(
            [float(v) for v in keys],
            [v.mean() for v in vals],
            yerr=[v.std() for v in vals],
            color=f"C{i}",
            marker="o",
            capsize=3,
            label=method,
        )
    if floors:
        if not isinstance(next(iter(floors.values())), dict):
            floors = {"attainable reference": floors}
        for j, (label, by_x) in enumerate(floors.items()):
            keys = sorted(by_x, key=float)
            ax.plot([float(v) for v in keys], [by_x[v] for v in keys], color="k",
                    ls=(":", "--", "-.")[j % 3], marker="x", label=label)  # fmt: skip
    ax.set(xlabel=xlabel or x_key, ylabel=LABELS.get(metric, metric))
    ax.legend(frameon=False)
    return fig


def half_step_diagram(alpha=0.25, vocab=4):
    """The two half-steps of one transition: prefix s -> afterstates (s, a) with pi(a | s) ->
    children s + v with T(v | a) (4.2); edge widths follow the kernel."""
    from .envs import sticky_kernel

    T = sticky_kernel(alpha, vocab)
    fig, (ax,) = _figure(1, width=6.4, height=3.6)
    ys = np.linspace(1, -1, vocab)
    nodes = {"s": (0.0, 0.0)}
    nodes.update({f"a{a}": (1.0, ys[a]) for a in range(vocab)})
    nodes.update({f"x{v}": (2.0, ys[v]) for v in range(vocab)})
    for a in range(vocab):
        ax.annotate(
            "",
            nodes[f"a{a}"],
            nodes["s"],
            arrowprops=dict(arrowstyle="->", color="C0", shrinkA=8, shrinkB=24),
        )
        for v in range(vocab):
            ax.annotate(
                "",
                nodes[f"x{v}"],
                nodes[f"a{a}"],
                arrowprops=dict(
                    arrowstyle="->",
                    color="C3",
                    lw=0.4 + 3 * T[a, v],
                    alpha=0.8,
                    shrinkA=24,
                    shrinkB=20,
                ),
            )
    ax.text(*nodes["s"], "s", ha="center", va="center", bbox=dict(boxstyle="circle", fc="w"))
    for a in range(vocab):
        ax.text(*nodes[f"a{a}"], f"(s, a={a})", ha="center", va="center",
                bbox=dict(boxstyle="square", fc="w"), fontsize=8)  # fmt: skip
    for v in range(vocab):
        ax.text(*nodes[f"x{v}"], f"s + {v}", ha="center", va="center",
                bbox=dict(boxstyle="round", fc="w"), fontsize=8)  # fmt: skip
    ax.text(0.5, 1.25, "agent: pi(a | s)", ha="center", color="C0")
    ax.text(1.5, 1.25, f"environment: T(v | a), alpha = {alpha}", ha="center", color="C3")
    ax.set(xlim=(-0.3, 2.4), ylim=(-1.3, 1.45))
    ax.axis("off")
    return fig
