"""Episodes in Gymnasium environments, the "solved" criterion and multi-seed comparisons.

Every agent of chapter 5 (ANGC, the DQN twin, the random baseline) follows one protocol::

    agent = factory(obs_dim, n_actions, rng)
    a = agent.act(obs, rng)
    diagnostics = agent.observe(obs, a, r, next_obs, terminated, truncated, rng)
    agent.end_episode()

:func:`run_episodes` drives that loop. A run is reproducible from its seed alone: the
environment is reset with ``seed`` once (its own generator then carries on from episode to
episode) and one ``numpy.random.default_rng(seed)`` is handed to the factory and to every
``act`` / ``observe`` call, in a fixed order.

A task is *solved* (Gymnasium's convention) when the mean return over ``window = 100``
consecutive episodes reaches the environment's threshold: -110 for MountainCar-v0, 475 for
CartPole-v1. :func:`solved_episode` returns the number of the episode that *ends* the first
such window (1-based: "solved after 437 episodes").
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

#: Gymnasium's reward thresholds for the tasks used in the chapter.
THRESHOLDS = {
    "MountainCar-v0": -110.0,
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "LunarLander-v3": 200.0,
}


@dataclass
class RunResult:
    """What :func:`run_episodes` measured, one entry per episode.

    ``diag_mean[key]`` / ``diag_sum[key]`` are the per-episode mean and sum of the numbers an
    agent's ``observe`` returned under ``key`` (NaN in episodes where it returned none).
    ``terminated[e]`` is True when episode ``e`` ended in a terminal state (for MountainCar:
    the car reached the flag) rather than by the time limit.
    """

    env_id: str
    seed: int
    returns: np.ndarray
    lengths: np.ndarray
    terminated: np.ndarray
    diag_mean: dict = field(default_factory=dict)
    diag_sum: dict = field(default_factory=dict)
    seconds: float = 0.0
    gymnasium_version: str = ""

    @property
    def steps(self):
        return int(self.lengths.sum())


def _check_spaces(env, env_id):
    from gymnasium import spaces

    if not isinstance(env.observation_space, spaces.Box) or len(env.observation_space.shape) != 1:
        raise ValueError(f"env_id: {env_id} must have a 1-D Box observation space")
    if not isinstance(env.action_space, spaces.Discrete):
        raise ValueError(f"env_id: {env_id} must have a Discrete action space")
    return int(env.observation_space.shape[0]), int(env.action_space.n)


def _number(value):
    """``float(value)`` for a finite real scalar (Python or 0-d array), else None."""
    if isinstance(value, numbers.Real) or (
        getattr(value, "ndim", None) == 0 and value.dtype.kind in "fiub"
    ):
        value = float(value)
        return value if math.isfinite(value) else None
    return None


def run_episodes(env_id, agent_factory, n_episodes, seed, progress=True, env_kwargs=None):
    """Let ``agent_factory(obs_dim, n_actions, rng)``'s agent play ``n_episodes`` episodes.

    Returns a :class:`RunResult`. ``progress`` shows a tqdm bar with the latest return and
    the moving average over (at most) the last 100 episodes.
    """
    import gymnasium as gym
    from tqdm import tqdm

    if int(n_episodes) != n_episodes or n_episodes < 1:
        raise ValueError(f"n_episodes: expected a positive integer, got {n_episodes}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed}")
    n_episodes, seed = int(n_episodes), int(seed)
    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        obs_dim, n_actions = _check_spaces(env, env_id)
        rng = np.random.default_rng(seed)
        agent = agent_factory(obs_dim, n_actions, rng)
        returns = np.zeros(n_episodes)
        lengths = np.zeros(n_episodes, dtype=np.int64)
        terminal = np.zeros(n_episodes, dtype=bool)
        sums, counts = {}, {}
        start = time.perf_counter()
        bar = tqdm(range(n_episodes), desc=env_id, disable=not progress, leave=False)
        for e in bar:
            obs, _ = env.reset(seed=seed if e == 0 else None)
            obs = np.asarray(obs, dtype=np.float64)
            done = False
            while not done:
                action = agent.act(obs, rng)
                next_obs, reward, terminated, truncated, _ = env.step(action)
                next_obs = np.asarray(next_obs, dtype=np.float64)
                diag = agent.observe(
                    obs, action, float(reward), next_obs, terminated, truncated, rng
                )
                for key, value in (diag or {}).items():
                    value = _number(value)
                    if value is not None:
                        sums.setdefault(key, np.zeros(n_episodes))[e] += value
                        counts.setdefault(key, np.zeros(n_episodes))[e] += 1
                returns[e] += reward
                lengths[e] += 1
                obs, done = next_obs, terminated or truncated
            terminal[e] = bool(terminated)
            agent.end_episode()
            if progress:
                bar.set_postfix(
                    ret=f"{returns[e]:.0f}", avg100=f"{returns[max(0, e - 99) : e + 1].mean():.1f}"
                )
        seconds = time.perf_counter() - start
    finally:
        env.close()
    with np.errstate(invalid="ignore", divide="ignore"):
        diag_mean = {k: np.where(counts[k] > 0, sums[k] / counts[k], np.nan) for k in sums}
    diag_sum = {k: np.where(counts[k] > 0, sums[k], np.nan) for k in sums}
    return RunResult(
        env_id, seed, returns, lengths, terminal, diag_mean, diag_sum, seconds, gym.__version__
    )


def moving_average(x, window=100):
    """Trailing mean ``mean(x[max(0, t - window + 1) : t + 1])`` for every ``t``.

    The first ``window - 1`` entries average over the episodes seen so far.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x: expected a 1-D array, got shape {x.shape}")
    if int(window) != window or window < 1:
        raise ValueError(f"window: expected a positive integer, got {window}")
    c = np.concatenate([[0.0], np.cumsum(x)])
    t = np.arange(1, x.size + 1)
    lo = np.maximum(t - window, 0)
    return (c[t] - c[lo]) / (t - lo)


def solved_episode(returns, threshold, window=100):
    """Number of the episode ending the first ``window`` whose mean return is ``>= threshold``.

    Episodes are counted from 1; only full windows count. Returns ``None`` if never solved.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns: expected a 1-D array, got shape {r.shape}")
    if int(window) != window or window < 1:
        raise ValueError(f"window: expected a positive integer, got {window}")
    if r.size < window:
        return None
    c = np.concatenate([[0.0], np.cumsum(r)])
    means = (c[window:] - c[:-window]) / window  # means[i] covers episodes i+1 .. i+window
    hits = np.flatnonzero(means >= threshold)
    return int(hits[0]) + window if hits.size else None


def threshold_of(env_id):
    """The solve threshold of ``env_id`` (:data:`THRESHOLDS`, else Gymnasium's registry)."""
    if env_id in THRESHOLDS:
        return THRESHOLDS[env_id]
    import gymnasium as gym

    value = gym.spec(env_id).reward_threshold
    if value is None:
        raise ValueError(f"env_id: {env_id} has no reward threshold; pass threshold=")
    return float(value)


# --------------------------------------------------------------------------- factories


def agent_factory(kind, config=None):
    """A factory ``(obs_dim, n_actions, rng) -> agent`` for ``kind`` in dqn | angc | random."""
    if kind == "random":
        from .dqn import make_random_agent

        return lambda obs_dim, n_actions, rng: make_random_agent(n_actions)
    if kind == "dqn":
        from .dqn import make_dqn_agent as make
    elif kind == "angc":
        from .angc import make_angc_agent as make
    else:
        raise ValueError(f"kind: expected 'dqn', 'angc' or 'random', got {kind!r}")
    return lambda obs_dim, n_actions, rng: make(obs_dim, n_actions, config, rng)


# --------------------------------------------------------------------------- comparisons


def summarize(results, threshold, window=100):
    """One row of numbers over the seeds of one agent (list of :class:`RunResult`)."""
    last = np.array([r.returns[-window:].mean() for r in results])
    solved = [solved_episode(r.returns, threshold, window) for r in results]
    return {
        "seeds": [r.seed for r in results],
        "episodes": int(results[0].returns.size),
        "mean_last": float(last.mean()),
        "sd_last": float(last.std(ddof=1)) if len(last) > 1 else 0.0,
        "best": float(max(r.returns.max() for r in results)),
        "terminal_rate": float(np.mean([r.terminated.mean() for r in results])),
        "solved": solved,
        "seconds": float(sum(r.seconds for r in results)),
        "steps": int(sum(r.steps for r in results)),
    }


def compare(env_id, factories, seeds, n_episodes, window=100, threshold=None, progress=True):
    """Run every factory of ``factories = {name: factory}`` on every seed.

    Returns ``(rows, results)``: ``rows[name]`` from :func:`summarize` (the last-``window``
    statistics use ``min(window, n_episodes)`` episodes) and ``results[name]`` the list of
    :class:`RunResult` (one per seed, in the order of ``seeds``).
    """
    if not factories:
        raise ValueError("factories: expected at least one {name: factory}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    threshold = threshold_of(env_id) if threshold is None else float(threshold)
    results = {
        name: [run_episodes(env_id, f, n_episodes, s, progress=progress) for s in seeds]
        for name, f in factories.items()
    }
    w = min(window, int(n_episodes))
    rows = {name: summarize(rs, threshold, window) | {"window": w} for name, rs in results.items()}
    return rows, results


def results_to_json(results):
    """``{name: [RunResult]}`` as plain JSON data (lists of floats), for committed summaries.

    The chapter plots ``reference/ngc/results/cartpole.json`` and ``mountaincar.json`` in
    this format when they exist (written by the full runs), instead of short previews.
    """
    out = {}
    for name, runs in results.items():
        out[name] = [
            {
                "env_id": r.env_id,
                "seed": r.seed,
                "returns": [float(x) for x in r.returns],
                "lengths": [int(x) for x in r.lengths],
                "terminated": [bool(x) for x in r.terminated],
                "diag_mean": {k: _floats(v) for k, v in r.diag_mean.items()},
                "diag_sum": {k: _floats(v) for k, v in r.diag_sum.items()},
                "seconds": float(r.seconds),
                "gymnasium_version": r.gymnasium_version,
            }
            for r in runs
        ]
    return out


def results_from_json(data):
    """Inverse of :func:`results_to_json` (NaN stored as ``null``)."""
    arr = lambda v: np.array([np.nan if x is None else x for x in v], dtype=np.float64)
    return {
        name: [
            RunResult(
                d["env_id"],
                int(d["seed"]),
                np.asarray(d["returns"], dtype=np.float64),
                np.asarray(d["lengths"], dtype=np.int64),
                np.asarray(d["terminated"], dtype=bool),
                {k: arr(v) for k, v in d.get("diag_mean", {}).items()},
                {k: arr(v) for k, v in d.get("diag_sum", {}).items()},
                float(d.get("seconds", 0.0)),
                d.get("gymnasium_version", ""),
            )
            for d in runs
        ]
        for name, runs in data.items()
    }


def _floats(v):
    return [None if not np.isfinite(x) else float(x) for x in np.asarray(v, dtype=np.float64)]


def format_table(rows, threshold=None):
    """A Markdown table of :func:`compare`'s rows."""
    head = (
        "| agent | seeds | episodes | mean return, last {w} (+-sd over seeds) | best | "
        "terminal episodes | solved at episode | steps/s |"
    )
    w = next(iter(rows.values()))["window"]
    lines = [head.format(w=w), "|" + "---|" * 8]  # solved: full 100-episode windows only
    for name, r in rows.items():
        solved = ", ".join("-" if s is None else str(s) for s in r["solved"])
        rate = r["steps"] / r["seconds"] if r["seconds"] > 0 else float("nan")
        lines.append(
            f"| {name} | {len(r['seeds'])} | {r['episodes']} | {r['mean_last']:.1f} +- "
            f"{r['sd_last']:.1f} | {r['best']:.0f} | {100 * r['terminal_rate']:.1f} % | "
            f"{solved} | {rate:.0f} |"
        )
    if threshold is not None:
        lines.append(f"\nsolved: mean return over 100 consecutive episodes >= {threshold:g}")
    return "\n".join(lines)
