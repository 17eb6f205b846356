"""The MountainCar-v0 screen of 2026-12-02: ANGC variants, one run per (variant, seed).

A record of what was run for ``README.md`` ("Screen of 2026-12-02"), not part of the
library. Most variants are preset overrides (:func:`reference.ngc.experiments.angc_settings`);
five change the agent itself and are patched in here, because none of them made it into the
library (none helped):

* ``n_step``: n-step returns, ``r_t + gamma r_{t+1} + ... + gamma^{n-1} r_{t+n-1}``
  bootstrapped with ``gamma^n`` (the tail of an episode is stored with the same ``gamma^n``,
  a small bias at truncation);
* ``fresh_bonus``: the replay memory stores the task reward only; the epistemic reward is
  recomputed at learning time from the current world model's discrepancy on the batch;
* ``cap``: the stored reward ``s (alpha_e r_ep + alpha_i r_in)`` is capped at ``cap``;
* ``separate_head``: the controller has a second output per action for the epistemic reward,
  bootstrapped through the end of the episode (as random network distillation treats its
  intrinsic reward); the agent acts on the sum of the two heads;
* ``forgetting_max``: the running maximum of (5.10) decays by ``decay`` per step and starts
  at ``init`` instead of 1.

A run stops when its 100-episode mean is below -192 at episode 250, 275, ... (hopeless).
Usage (repository root)::

    python reference/ngc/results/mountaincar_screen.py n5_ts100 1 --out screen.jsonl
    python reference/ngc/results/mountaincar_screen.py probe 0 --episodes 120
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque

import numpy as np

from reference.ngc import angc, circuit, dqn, experiments
from reference.ngc.replay import ReplayMemory

#: The best ANGC row of the headline table (tuned on seed 0 after the headline).
BEST = dict(alpha_e=50.0, gamma=0.995, epsilon_decay_steps=10_000)
BEST_TS100 = dict(BEST, target_sync=100)

#: The released agent's schedule (target copy every 50 steps, epsilon to 0.01), our sizes.
ANCHOR_SCHEDULE = dict(
    target_sync=50, lr=2e-3, batch_size=128, gamma=0.99, epsilon_decay_steps=40_000,
    epsilon_end=0.01,
)  # fmt: skip

#: name -> (agent kind, config overrides, patches)
VARIANTS = {
    "ts100": ("angc", BEST_TS100, {}),
    "batch128": ("angc", dict(BEST, batch_size=128), {}),
    "eps_end_0.01": ("angc", dict(BEST, epsilon_end=0.01), {}),
    "hidden128": ("angc", dict(BEST, hidden=(128, 128)), {}),
    "lr2e-3": ("angc", dict(BEST, lr=2e-3), {}),
    "T20": ("angc", dict(BEST, T=20), {}),
    "beta0.05": ("angc", dict(BEST, beta=0.05), {}),
    "reward_scale0.3": ("angc", dict(BEST, reward_scale=0.3), {}),
    "forget_ae1": ("angc", dict(alpha_e=1.0), {"forgetting_max": (0.999, 1e-8)}),
    "forget_ae0.3": ("angc", dict(alpha_e=0.3), {"forgetting_max": (0.999, 1e-8)}),
    "forget_0.9999_ae1": ("angc", dict(alpha_e=1.0), {"forgetting_max": (0.9999, 1e-8)}),
    "n5_ts100": ("angc", BEST_TS100, {"n_step": 5}),
    "n10_ts100": ("angc", BEST_TS100, {"n_step": 10}),
    "fresh_ts100": ("angc", BEST_TS100, {"fresh_bonus": True}),
    "fresh_ae200_ts100": ("angc", dict(BEST_TS100, alpha_e=200.0), {"fresh_bonus": True}),
    "fresh_gamma0.99_ts100": ("angc", dict(BEST_TS100, gamma=0.99), {"fresh_bonus": True}),
    "cap0_ts100": ("angc", BEST_TS100, {"cap": 0.0}),
    "two_heads_ts100": ("angc", BEST_TS100, {"separate_head": 0.995}),
    "two_heads_gint0.99_ts100": ("angc", BEST_TS100, {"separate_head": 0.99}),
    "dqn_anchor_schedule": (
        "dqn",
        dict(
            hidden=(64, 64), lr=2e-3, batch_size=128, target_sync=50, gamma=0.99,
            train_every=1, gradient_steps=1, epsilon_decay_steps=40_000,
            epsilon_end=0.01, replay_capacity=100_000,
        ),
        {},
    ),
    "anchor_schedule": ("angc", ANCHOR_SCHEDULE, {}),
    "anchor_schedule_ae50": ("angc", dict(ANCHOR_SCHEDULE, alpha_e=50.0), {}),
    "anchor_size": (
        "angc",
        dict(
            hidden=(256, 256), batch_size=512, lr=2e-3, target_sync=50, gamma=0.99,
            epsilon_decay_steps=40_000, epsilon_end=0.01,
        ),
        {},
    ),
}  # fmt: skip


def n_step(agent, n, gamma):
    """Store n-step transitions; returns ``flush`` to call at the end of every episode."""
    window, add = deque(), agent.memory.add

    def emit():
        reward = sum(gamma**k * t[2] for k, t in enumerate(window))
        add(window[0][0], window[0][1], reward, window[-1][3], window[-1][4])
        window.popleft()

    def add_n(obs, action, reward, next_obs, terminated):
        window.append((obs, action, reward, next_obs, terminated))
        if len(window) == n:
            emit()

    def flush():
        while window:
            emit()

    agent.memory.add = add_n
    return flush


def cap(agent, ceiling):
    add = agent.memory.add
    agent.memory.add = lambda o, a, r, o2, d: add(o, a, min(r, ceiling), o2, d)


def forgetting_max(agent, decay, init):
    agent.running_max = init

    def epistemic(D, running_max):
        new = max(decay * float(running_max), float(D))
        return float(D) / new, new

    angc.epistemic_reward = epistemic  # the agent looks it up in the module at every step


class BonusMemory(ReplayMemory):
    """A replay memory with one more column: the scaled epistemic reward of the transition."""

    def __init__(self, capacity, obs_dim):
        super().__init__(capacity, obs_dim)
        self.bonus = np.zeros(self.capacity)

    def add_with_bonus(self, obs, action, reward, next_obs, terminated, bonus):
        self.bonus[self._next] = bonus
        self.add(obs, action, reward, next_obs, terminated)

    def sample(self, batch_size, rng):
        idx = rng.integers(0, self.size, size=batch_size)
        return {
            "obs": self.obs[idx],
            "actions": self.actions[idx],
            "rewards": self.rewards[idx],
            "bonus": self.bonus[idx],
            "next_obs": self.next_obs[idx],
            "terminated": self.terminated[idx],
        }


def _observe_split(agent, learn):
    """An ``observe`` that stores task reward and epistemic reward apart, then ``learn``s."""
    c = agent.config

    def observe(obs, action, reward, next_obs, terminated, truncated, rng):
        D, _ = agent.discrepancy(
            np.asarray(obs)[None], np.array([action]), np.asarray(next_obs)[None]
        )
        r_ep, agent.running_max = angc.epistemic_reward(float(D[0]), agent.running_max)
        r_in = c.reward_scale * c.alpha_i * float(reward)
        agent.memory.add_with_bonus(
            obs, action, r_in, next_obs, terminated, c.reward_scale * c.alpha_e * r_ep
        )
        agent.steps += 1
        diag = {"epistemic": r_ep}
        if len(agent.memory) >= max(c.learn_start, c.batch_size):
            diag.update(learn(agent.memory.sample(c.batch_size, rng)))
        if agent.steps % c.target_sync == 0:
            agent.target = dict(agent.controller.params)
        return diag

    agent.memory = BonusMemory(c.replay_capacity, agent.obs_dim)
    agent.observe = observe


def fresh_bonus(agent):
    c = agent.config

    def learn(batch):
        obs, next_obs, a = (
            agent.scale(batch["obs"]),
            agent.scale(batch["next_obs"]),
            batch["actions"],
        )
        w_state = agent.world.settle(agent.world_input(obs, a), next_obs)
        D = circuit.discrepancy_per_row(w_state["e"])
        r = batch["rewards"] + c.reward_scale * c.alpha_e * D / agent.running_max
        next_q = circuit.project(agent.target, agent.controller_input(next_obs), c.phi)[0]
        y = r + c.gamma * (1.0 - batch["terminated"]) * next_q.max(axis=1)
        x_i = agent.controller_input(obs)
        q = agent.controller.project(x_i)
        agent.controller.learn(
            agent.controller.settle(x_i, angc.td_target_vector(q, a, y, c.td_clip)), len(a)
        )
        agent.world.learn(w_state, len(a))
        return {"td_error": float(np.mean(np.abs(y - q[np.arange(len(a)), a])))}

    _observe_split(agent, learn)


def separate_head(agent, gamma_int, rng):
    c, n = agent.config, agent.n_actions
    top = agent.obs_dim + (1 if c.bias_input else 0)
    agent.controller = angc.Circuit((2 * n, *c.hidden, top), c, c.lr, rng)
    agent.target = dict(agent.controller.params)

    def q(obs):
        x = agent.scale(obs)
        both = agent.controller.project(agent.controller_input(np.atleast_2d(x)))
        total = both[:, :n] + both[:, n:]
        return total[0] if x.ndim == 1 else total

    def learn(batch):
        obs, next_obs, a = (
            agent.scale(batch["obs"]),
            agent.scale(batch["next_obs"]),
            batch["actions"],
        )
        rows = np.arange(len(a))
        nq = circuit.project(agent.target, agent.controller_input(next_obs), c.phi)[0]
        best = np.argmax(nq[:, :n] + nq[:, n:], axis=1)
        y_task = batch["rewards"] + c.gamma * (1.0 - batch["terminated"]) * nq[rows, best]
        y_bonus = batch["bonus"] + gamma_int * nq[rows, n + best]  # through the episode's end
        x_i = agent.controller_input(obs)
        qs = agent.controller.project(x_i)
        x_o = qs.copy()
        x_o[rows, a] += np.clip(y_task - qs[rows, a], -c.td_clip, c.td_clip)
        x_o[rows, n + a] += np.clip(y_bonus - qs[rows, n + a], -c.td_clip, c.td_clip)
        agent.controller.learn(agent.controller.settle(x_i, x_o), len(a))
        w_state = agent.world.settle(agent.world_input(obs, a), next_obs)
        agent.world.learn(w_state, len(a))
        return {"td_error": float(np.mean(np.abs(y_task - qs[rows, a])))}

    agent.q = q
    _observe_split(agent, learn)


def run(name, seed, episodes=400):
    import gymnasium as gym

    kind, overrides, patches = VARIANTS[name]
    overrides = dict(overrides)
    gamma = overrides.get("gamma", 0.99)
    if "n_step" in patches:
        overrides["gamma"] = gamma ** patches["n_step"]
    rng = np.random.default_rng(seed)  # one generator for the agent and the episodes
    if kind == "dqn":
        agent = dqn.make_dqn_agent(2, 3, {**dqn.PRESETS["MountainCar-v0"], **overrides}, rng)
    else:
        agent = angc.make_angc_agent(
            2, 3, experiments.angc_settings("MountainCar-v0", **overrides), rng
        )
    flush = n_step(agent, patches["n_step"], gamma) if "n_step" in patches else None
    if "cap" in patches:
        cap(agent, patches["cap"])
    if "forgetting_max" in patches:
        forgetting_max(agent, *patches["forgetting_max"])
    if "fresh_bonus" in patches:
        fresh_bonus(agent)
    if "separate_head" in patches:
        separate_head(agent, patches["separate_head"], rng)
    env = gym.make("MountainCar-v0")
    returns, flags, start = [], [], time.perf_counter()
    for e in range(episodes):
        obs, _ = env.reset(seed=seed if e == 0 else None)
        total, done = 0.0, False
        while not done:
            action = agent.act(obs, rng)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(obs, action, float(reward), next_obs, terminated, truncated, rng)
            total, obs, done = total + reward, next_obs, terminated or truncated
        if flush is not None:
            flush()
        returns.append(total)
        flags.append(bool(terminated))
        if e + 1 >= 250 and (e + 1) % 25 == 0 and np.mean(returns[-100:]) < -192:
            break
    r = np.array(returns)
    window = np.convolve(r, np.ones(100) / 100, "valid") if len(r) >= 100 else r[-1:] * np.nan
    solved = int(np.argmax(window >= -110)) + 100 if (window >= -110).any() else None
    controller = getattr(agent, "controller", None)  # a checksum of the final controller
    checksum = sum(float(v.sum()) for v in controller.params.values()) if controller else None
    return dict(
        name=name, seed=seed, episodes=len(r), last100=float(r[-100:].mean()),
        best100=float(window.max()), flag=float(np.mean(flags)), solved=solved,
        seconds=time.perf_counter() - start, checksum=checksum,
    )  # fmt: skip


def probe(seed=0, episodes=120, batch=4096):
    """The diagnosis of the README: train ``ts100`` for ``episodes``, then look at a replay batch.

    Returns percentiles of the stored rewards, of Q(o, a) and of the TD error, and the mean
    absolute TD error on terminal transitions (the flag).
    """
    import gymnasium as gym

    rng = np.random.default_rng(seed)
    cfg = experiments.angc_settings("MountainCar-v0", **BEST_TS100)
    agent, env = angc.make_angc_agent(2, 3, cfg, rng), gym.make("MountainCar-v0")
    for e in range(episodes):
        obs, _ = env.reset(seed=seed if e == 0 else None)
        done = False
        while not done:
            action = agent.act(obs, rng)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(obs, action, float(reward), next_obs, terminated, truncated, rng)
            obs, done = next_obs, terminated or truncated
    c, b = agent.config, agent.memory.sample(batch, rng)
    obs, next_obs, a = agent.scale(b["obs"]), agent.scale(b["next_obs"]), b["actions"]
    next_q = circuit.project(agent.target, agent.controller_input(next_obs), c.phi)[0]
    y = b["rewards"] + c.gamma * (1 - b["terminated"]) * next_q.max(axis=1)
    q = agent.controller.project(agent.controller_input(obs))[np.arange(batch), a]
    end = b["terminated"] > 0
    pct = [0, 5, 50, 95, 100]
    return {
        "rewards": np.percentile(b["rewards"], [0, 50, 90, 99, 100]).tolist(),
        "q": np.percentile(q, pct).tolist(),
        "td": np.percentile(y - q, pct).tolist(),
        "terminal_fraction": float(end.mean()),
        "terminal_abs_td": float(np.abs(y - q)[end].mean()) if end.any() else None,
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variant", choices=sorted(VARIANTS) + ["probe"])
    p.add_argument("seed", type=int)
    p.add_argument("--episodes", type=int, default=400)
    p.add_argument("--out", default=None, help="append the result as a JSON line to this file")
    args = p.parse_args()
    if args.variant == "probe":  # python ... probe 0 --episodes 120
        result = probe(args.seed, args.episodes)
    else:
        result = run(args.variant, args.seed, args.episodes)
    print(json.dumps(result))
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")
