"""The chapter-5 experiments: ANGC against a backprop DQN twin and a random agent.

:func:`headline` runs, for each task, every agent of :func:`factories` on every seed with the
same episode budget, caching each ``(task, agent, seed)`` run as JSON under ``out/runs`` so
an interrupted run resumes, and writes per task a Markdown table (:func:`run.format_table`),
the runs (``<task>.json``, :func:`run.results_to_json` format) and a figure. The agents:

* ``ANGC`` -- :mod:`reference.ngc.angc` with :data:`ANGC_PRESETS` (Hebbian, backprop-free);
* ``ANGC, no epistemic term`` -- the same with ``alpha_e = 0`` (the ablation);
* ``DQN (backprop)`` -- :mod:`reference.ngc.dqn` with its presets, same replay/target/epsilon;
* ``random`` -- uniform actions.

:func:`circuit_check` is the quick demonstration: settle the golden circuit and compare with
ngc-learn's numbers.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from . import run

TASKS = ("MountainCar-v0", "CartPole-v1")
SHORT = {"MountainCar-v0": "mountaincar", "CartPole-v1": "cartpole"}

#: Scaling boxes for the observations (the Box bounds where finite; CartPole's velocities
#: are unbounded, so typical ranges are used there).
OBS_BOUNDS = {
    "MountainCar-v0": ((-1.2, -0.07), (0.6, 0.07)),
    "CartPole-v1": ((-2.4, -3.0, -0.21, -3.5), (2.4, 3.0, 0.21, 3.5)),
}

#: ANGC settings per task (tuned here; the chapter lists the runs that chose them).
_ANGC_COMMON = dict(
    hidden=(64, 64),
    world_hidden=(64,),
    optimizer="adam",
    lr=1e-3,
    world_lr=1e-3,
    modulate=False,
    T=10,
    beta=0.02,
    reward_scale=0.1,
    learn_start=1_000,
    target_sync=500,
    kernel="numba",
)
ANGC_PRESETS = {
    "MountainCar-v0": {**_ANGC_COMMON, "epsilon_decay_steps": 20_000},
    "CartPole-v1": {**_ANGC_COMMON, "epsilon_decay_steps": 10_000},
}

#: Settings that shrink a run for tests and ``--fast``.
FAST = dict(hidden=(16, 16), world_hidden=(16,), learn_start=64, batch_size=16, T=5)

AGENTS = ("ANGC", "ANGC, no epistemic term", "DQN (backprop)", "random")

#: Further ANGC variants (``--agents`` names): settings changed from the preset.
ABLATIONS = {
    "ANGC, modulation on": dict(modulate=True),
    "ANGC, T = 3": dict(T=3),
    "ANGC, T = 20": dict(T=20),
    "ANGC, g = identity": dict(g="identity"),
    "ANGC, alpha_e = 10": dict(alpha_e=10.0),
    # Tuned on MountainCar-v0 seed 0 *after* the headline (see results/README.md):
    "ANGC, alpha_e = 30": dict(alpha_e=30.0),
    "ANGC, alpha_e = 50, gamma = 0.995, eps 10k": dict(
        alpha_e=50.0, gamma=0.995, epsilon_decay_steps=10_000
    ),
}


def angc_settings(env_id, fast=False, **overrides):
    """The ANGC config dict for ``env_id`` (preset, observation box, ``overrides``)."""
    cfg = dict(ANGC_PRESETS.get(env_id, {}))
    if env_id in OBS_BOUNDS:
        cfg["obs_low"], cfg["obs_high"] = OBS_BOUNDS[env_id]
    if fast:
        cfg.update(FAST)
    cfg.update(overrides)
    return cfg


def dqn_settings(env_id, fast=False):
    from .dqn import PRESETS

    cfg = dict(PRESETS.get(env_id, {}))
    if fast:
        cfg.update(hidden=(16, 16), learn_start=64, batch_size=16)
    return cfg


def factories(env_id, agents=AGENTS, fast=False):
    """``{name: factory}`` for the requested ``agents`` (names from :data:`AGENTS`)."""
    table = {
        "ANGC": lambda: run.agent_factory("angc", angc_settings(env_id, fast)),
        "ANGC, no epistemic term": lambda: run.agent_factory(
            "angc", angc_settings(env_id, fast, alpha_e=0.0)
        ),
        "DQN (backprop)": lambda: run.agent_factory("dqn", dqn_settings(env_id, fast)),
        "random": lambda: run.agent_factory("random"),
    }
    for name, overrides in ABLATIONS.items():
        table[name] = lambda o=overrides: run.agent_factory(
            "angc", angc_settings(env_id, fast, **o)
        )
    unknown = [a for a in agents if a not in table]
    if unknown:
        raise ValueError(f"agents: unknown {unknown}; expected names from {sorted(table)}")
    return {a: table[a]() for a in agents}


def _rounded(data, digits=5):
    """``data`` with every float rounded to ``digits`` significant digits (smaller JSON)."""
    if isinstance(data, dict):
        return {k: _rounded(v, digits) for k, v in data.items()}
    if isinstance(data, list):
        return [_rounded(v, digits) for v in data]
    if isinstance(data, float) and data != 0.0 and np.isfinite(data):
        return float(f"{data:.{digits}g}")
    return data


def _slug(text):
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_").lower()


def run_cached(env_id, name, factory, seed, n_episodes, out_dir, progress=True):
    """One run, read from ``out_dir/runs`` if it was done before with the same budget."""
    path = pathlib.Path(out_dir) / "runs" / f"{_slug(env_id)}__{_slug(name)}__{seed}.json"
    if path.exists():
        cached = run.results_from_json(json.loads(path.read_text()))[name][0]
        if cached.returns.size == n_episodes:
            return cached
    result = run.run_episodes(env_id, factory, n_episodes, seed, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run.results_to_json({name: [result]})))
    return result


def compare_task(env_id, seeds, n_episodes, out_dir, agents=AGENTS, fast=False, progress=True):
    """Every agent on every seed of one task; returns ``(rows, results)`` like ``run.compare``."""
    fs = factories(env_id, agents, fast)
    results = {name: [] for name in fs}
    for s in seeds:  # seed-major, so an interrupted run leaves comparable partial results
        for name, f in fs.items():
            results[name].append(run_cached(env_id, name, f, s, n_episodes, out_dir, progress))
    threshold = run.threshold_of(env_id)
    w = min(100, int(n_episodes))
    rows = {n: run.summarize(rs, threshold, 100) | {"window": w} for n, rs in results.items()}
    return rows, results


def headline(tasks, seeds, episodes, out_dir, agents=AGENTS, fast=False, progress=True):
    """Run :func:`compare_task` for each task; write tables, JSON and figures to ``out_dir``.

    ``episodes`` maps a task to its episode budget. Returns ``{task: rows}``.
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for env_id in tasks:
        rows, results = compare_task(env_id, seeds, episodes[env_id], out, agents, fast, progress)
        summary[env_id] = rows
        short = SHORT.get(env_id, _slug(env_id))
        table = run.format_table(rows, run.threshold_of(env_id))
        (out / f"{short}.md").write_text(f"## {env_id}\n\n{table}\n")
        (out / f"{short}.json").write_text(json.dumps(_rounded(run.results_to_json(results))))
        try:
            import matplotlib

            matplotlib.use("Agg")
            from . import plots

            fig = plots.overview(results)
            fig.savefig(out / f"{short}.png", dpi=120)
            matplotlib.pyplot.close(fig)
        except ImportError:  # plotting is optional for the numbers
            pass
    return summary


def circuit_check(golden_path):
    """Settle the golden circuit (numpy and numba) and return the largest errors vs ngc-learn."""
    from . import circuit, hebbian, kernels

    d = np.load(golden_path)
    g = {k[2:]: d[k] for k in d.files if k.startswith("A_")}
    params = {"W1": g["W1"], "W2": g["W2"], "W3": g["W3"], "E1": g["E1_used"], "E2": g["E2_used"]}
    args = (params, g["x_i"], g["x_o"], int(g["T"]), float(g["beta"]), float(g["gamma_v"]))
    out = {}
    for label, s in (
        ("numpy", circuit.settle(*args, float(g["beta_e"]))),
        ("numba", kernels.settle_fast(*args, float(g["beta_e"]))),
    ):
        dW, dE = hebbian.hebbian_updates(params, s, float(g["gamma_e"]))
        errs = [np.abs(s["e"][l] - g[f"e{l}"]).max() for l in range(3)]
        errs += [np.abs(s["zbar"][l] - g[f"zbar{l}"]).max() for l in range(3)]
        errs += [np.abs(s["phi_z"][l] - np.maximum(g[f"z{l}"], 0)).max() for l in (1, 2)]
        errs += [np.abs(dW[f"W{l}"] - g[f"dW{l}_mod"]).max() for l in (1, 2, 3)]
        errs += [np.abs(dE[f"E{l}"] - g[f"dE{l}_mod"]).max() for l in (1, 2)]
        out[label] = float(max(errs))
    return out
