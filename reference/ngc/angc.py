"""Active neural generative coding (ANGC): a backprop-free Q-learning agent.

Two NGC circuits (:mod:`reference.ngc.circuit`), both trained only with the local updates
of :mod:`reference.ngc.hebbian`:

* the **world model** predicts ``o_{t+1}`` (bottom, ``x^o``) from ``[o_t, onehot(a_t)]``
  (top, ``x^i``). Its settled total discrepancy (5.6) on a transition, divided by the
  largest value seen so far (initialised at 1), is the *epistemic* reward, Eq. (5.10);
* the **controller** predicts one value per action (bottom) from ``[o_t, 1]`` (top); it acts
  epsilon-greedily on its fast projection (5.5), and learns by settling with its bottom
  clamped to a TD target vector, Eqs. (5.11)-(5.13)::

    (5.10) r^ep_t = D_t / max(1, max_{s<=t} D_s),     D_t = sum_l ||e^l||^2 of the world model
    (5.11) r_t    = s ( alpha_e r^ep_t + alpha_i r^in_t )               s = reward_scale
    (5.12) y      = r + gamma (1 - done) max_a Q'(o_{t+1}, a)         (Q' = target controller)
    (5.13) x^o    = Q(o_t) + onehot(a_t) (.) clip(y - Q(o_t, a_t), -c, c)

  so actions not taken get zero error and the taken action's error is clipped at ``c``
  (the local analogue of DQN's Huber loss; ``td_clip=None`` turns it off).

Every step: act, store ``(o_t, a_t, r_t, o_{t+1}, done)`` in a replay memory (``r_t`` with
the epistemic term *in* it, unlike the authors' released code, whose TD target ignores it),
sample a minibatch, settle both circuits on it (from their fast projections) and apply
(5.7)-(5.8) averaged over the batch, by plain ascent or through Adam (``-Delta`` handed to
an optimiser that subtracts; Adam is elementwise, so each synapse still sees only its own
pre x post product). The target controller is a copy refreshed every ``target_sync`` steps.
No loss is differentiated anywhere.

What it took to make the Hebbian controller learn (each measured in this repository; the
chapter shows the runs):

* ``g = phi`` on hidden predictions and settling from the projection (pre-activations): the
  projection is then a fixed point, so only the TD error moves the circuit. With ``g`` =
  identity every silent ReLU unit carries a permanent error that drags the weights (CartPole
  seed 0: last-100 mean 15.9, no better than random, against 70.9);
* ``E^l`` starts as ``(W^l)^T`` (``feedback_init``) and learns by (5.8); a small settling
  rate (``beta = 0.02``, T = 10) keeps the explicit settling stable as the output weights
  grow (it diverges once ``beta`` times the feedback gain ``||W^1 E^1|| / (2 beta_e)``
  exceeds 2); ``reward_scale = 0.1`` keeps those weights moderate;
* a constant input unit (``bias_input``): the circuits have no biases, and a bias-free ReLU
  controller is positively homogeneous (``Q(0) = 0``, ``Q(c o) = c Q(o)``);
* modulation (5.9) is off by default (``modulate=False``): with Adam it only rescales each
  column's step. It is not what breaks or makes learning: on CartPole-v1 (seed 0, 500
  episodes) the agent with it on reached a last-100 mean of 105.9 against 70.9 without,
  inside the seed-to-seed spread (+-42 over three seeds).

Observations are scaled to ``[-1, 1]`` with ``obs_low``/``obs_high`` when given.

Agent protocol (shared with :mod:`reference.ngc.dqn` and :mod:`reference.ngc.run`)::

    agent = make_angc_agent(obs_dim, n_actions, config, rng)
    a = agent.act(obs, rng)                                  # -> int
    diag = agent.observe(obs, a, r, next_obs, terminated, truncated, rng)   # learns
    agent.end_episode()

``diag`` holds ``epistemic`` (r^ep_t, Eq. 5.10), ``discrepancy`` (D_t), ``epsilon`` and,
on learning steps, ``td_error`` (mean |y - Q|) and ``world_error`` (mean D of the batch).
``done`` is 1 only for a terminal state (a time-limit truncation bootstraps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference import nn
from reference.configs import make_config

from . import circuit, hebbian
from .replay import ReplayMemory


@dataclass(frozen=True)
class ANGCConfig:
    """Hyper-parameters of :class:`ANGCAgent` (defaults: tuned here on CartPole/MountainCar)."""

    hidden: tuple = (64, 64)
    world_hidden: tuple = (64,)
    phi: str = "relu"
    g: str = "phi"
    T: int = 10
    beta: float = 0.02
    gamma_v: float = 0.001
    beta_e: float = 0.5
    gamma_e: float = 0.95
    settle_init: str = "projection"
    feedback_init: str = "transpose"
    modulate: bool = False
    use_abs: bool = True
    normalization: str = "none"
    optimizer: str = "adam"
    lr: float = 1e-3
    world_lr: float = 1e-3
    alpha_e: float = 1.0
    alpha_i: float = 1.0
    reward_scale: float = 1.0
    bias_input: bool = True
    td_clip: float | None = 1.0
    gamma: float = 0.99
    batch_size: int = 64
    replay_capacity: int = 100_000
    learn_start: int = 1_000
    train_every: int = 1
    target_sync: int = 500
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 10_000
    obs_low: tuple | None = None
    obs_high: tuple | None = None
    kernel: str = "numpy"

    def __post_init__(self):
        for name in ("hidden", "world_hidden"):
            h = getattr(self, name)
            if not h or any(int(x) != x or x < 1 for x in h):
                raise ValueError(f"{name}: expected positive layer widths, got {h}")
        if self.phi not in circuit.PHIS:
            raise ValueError(f"phi: expected one of {circuit.PHIS}, got {self.phi!r}")
        if self.g not in circuit.GS:
            raise ValueError(f"g: expected one of {circuit.GS}, got {self.g!r}")
        if self.settle_init not in ("projection", "zero"):
            raise ValueError(
                f"settle_init: expected 'projection' or 'zero', got {self.settle_init!r}"
            )
        if self.feedback_init not in ("transpose", "random"):
            raise ValueError(
                f"feedback_init: expected 'transpose' or 'random', got {self.feedback_init!r}"
            )
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {self.optimizer!r}")
        if self.normalization not in ("none", "frobenius", "clip"):
            raise ValueError(
                f"normalization: expected none|frobenius|clip, got {self.normalization!r}"
            )
        if self.kernel not in ("numpy", "numba"):
            raise ValueError(f"kernel: expected 'numpy' or 'numba', got {self.kernel!r}")
        for name in ("T", "batch_size", "replay_capacity", "train_every", "target_sync"):
            v = getattr(self, name)
            if int(v) != v or v < (0 if name == "T" else 1):
                raise ValueError(f"{name}: expected a positive integer, got {v}")
        for name in ("beta", "beta_e", "lr", "world_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: expected > 0, got {getattr(self, name)}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma: expected a number in [0, 1], got {self.gamma}")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a probability, got {getattr(self, name)}")
        if not self.reward_scale > 0:
            raise ValueError(f"reward_scale: expected > 0, got {self.reward_scale}")
        if self.td_clip is not None and not self.td_clip > 0:
            raise ValueError(f"td_clip: expected > 0 or None, got {self.td_clip}")
        if (self.obs_low is None) != (self.obs_high is None):
            raise ValueError("obs_low, obs_high: give both or neither")


def angc_config(config=None, **overrides) -> ANGCConfig:
    """An :class:`ANGCConfig` from ``None``, a dict or a config, with ``overrides`` applied."""
    return make_config(ANGCConfig, config, **overrides)


def epistemic_reward(discrepancy, running_max):
    """Eq. (5.10): ``(r_ep, new_running_max)`` with ``running_max`` initialised at 1."""
    if discrepancy < 0:
        raise ValueError(f"discrepancy: expected >= 0, got {discrepancy}")
    new_max = max(float(running_max), float(discrepancy))
    return float(discrepancy) / new_max, new_max


def td_target_vector(q, actions, y, td_clip=None):
    """Eq. (5.13): ``Q`` with the taken action's entry moved toward ``y`` (clipped at c)."""
    rows = np.arange(q.shape[0])
    delta = y - q[rows, actions]
    if td_clip is not None:
        delta = np.clip(delta, -td_clip, td_clip)
    target = q.copy()
    target[rows, actions] += delta
    return target


class Circuit:
    """One NGC circuit with its settling constants, optimiser state and learning step."""

    def __init__(self, dims, config: ANGCConfig, lr, rng):
        self.config = config
        self.params = circuit.init_params(dims, rng)
        if config.feedback_init == "transpose":  # E^l starts as (W^l)^T, then learns by (5.8)
            for l in range(1, len(dims) - 1):
                self.params[f"E{l}"] = self.params[f"W{l}"].T.copy()
        self.optimizer = nn.Adam(lr=lr) if config.optimizer == "adam" else None
        self.lr = lr
        self.opt_state = self.optimizer.init(self.params) if self.optimizer else None

    def project(self, x_i):
        return circuit.project(self.params, x_i, self.config.phi)[0]

    def settle(self, x_i, x_o):
        c = self.config
        z_init = None
        if c.settle_init == "projection":
            z_init = circuit.project(self.params, x_i, c.phi)[1:-1]
        if c.kernel == "numba":
            from .kernels import settle_fast

            return settle_fast(
                self.params, x_i, x_o, c.T, c.beta, c.gamma_v, c.beta_e, c.phi, z_init, g=c.g
            )
        return circuit.settle(
            self.params, x_i, x_o, c.T, c.beta, c.gamma_v, c.beta_e, c.phi, z_init=z_init, g=c.g
        )

    def learn(self, state, batch_size):
        """Apply Eqs. (5.7)-(5.8), averaged over the batch, by ascent or Adam."""
        c = self.config
        if c.kernel == "numba":
            from .kernels import hebbian_fast

            dW, dE = hebbian_fast(self.params, state, c.gamma_e, c.modulate, c.use_abs)
        else:
            dW, dE = hebbian.hebbian_updates(self.params, state, c.gamma_e, c.modulate, c.use_abs)
        delta = {k: v / batch_size for k, v in {**dW, **dE}.items()}
        if c.normalization == "frobenius":
            delta = hebbian.normalize_update(delta)
        if self.optimizer is None:
            new = {k: A + self.lr * delta[k] for k, A in self.params.items()}
        else:
            grads = {k: -d for k, d in delta.items()}  # Adam subtracts: hand it -Delta
            new, self.opt_state = self.optimizer.step(self.params, grads, self.opt_state)
        if c.normalization == "frobenius":
            new = hebbian.renormalize_frobenius(new)
        elif c.normalization == "clip":
            new = hebbian.clip_columns(new)
        self.params = new


class ANGCAgent:
    """The ANGC agent (module docstring): world model, controller, replay, target copy."""

    def __init__(self, obs_dim, n_actions, config: ANGCConfig, rng):
        if int(obs_dim) != obs_dim or obs_dim < 1:
            raise ValueError(f"obs_dim: expected a positive integer, got {obs_dim}")
        if int(n_actions) != n_actions or n_actions < 2:
            raise ValueError(f"n_actions: expected an integer >= 2, got {n_actions}")
        c = config
        self.config, self.obs_dim, self.n_actions = c, int(obs_dim), int(n_actions)
        if c.obs_low is not None:
            low, high = np.asarray(c.obs_low, float), np.asarray(c.obs_high, float)
            if low.shape != (obs_dim,) or high.shape != (obs_dim,) or not np.all(high > low):
                raise ValueError(f"obs_low, obs_high: expected ({obs_dim},) with high > low")
            self._center, self._half = (high + low) / 2, (high - low) / 2
        else:
            self._center, self._half = np.zeros(obs_dim), np.ones(obs_dim)
        top = obs_dim + (1 if c.bias_input else 0)
        self.controller = Circuit((n_actions, *c.hidden, top), c, c.lr, rng)
        self.world = Circuit((obs_dim, *c.world_hidden, obs_dim + n_actions), c, c.world_lr, rng)
        self.target = dict(self.controller.params)
        self.memory = ReplayMemory(c.replay_capacity, obs_dim)
        self.running_max = 1.0
        self.steps = 0
        self.updates = 0

    # ---------------------------------------------------------------- helpers
    def scale(self, obs):
        return (np.asarray(obs, dtype=np.float64) - self._center) / self._half

    def controller_input(self, obs_scaled):
        """The controller's top clamp: the scaled observation and, with ``bias_input``, a 1."""
        if not self.config.bias_input:
            return obs_scaled
        return np.concatenate([obs_scaled, np.ones((obs_scaled.shape[0], 1))], axis=1)

    def world_input(self, obs_scaled, actions):
        onehot = np.zeros((obs_scaled.shape[0], self.n_actions))
        onehot[np.arange(obs_scaled.shape[0]), actions] = 1.0
        return np.concatenate([obs_scaled, onehot], axis=1)

    @property
    def epsilon(self):
        c = self.config
        frac = min(self.steps / c.epsilon_decay_steps, 1.0)
        return c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)

    def q(self, obs):
        """Q-values from the controller's fast projection, ``(n_actions,)`` or batched."""
        x = self.scale(obs)
        single = x.ndim == 1
        q = self.controller.project(self.controller_input(x[None] if single else x))
        return q[0] if single else q

    def discrepancy(self, obs, actions, next_obs):
        """Settled world-model discrepancy D per transition (Eq. 5.6), ``(batch,)``."""
        x_i = self.world_input(self.scale(obs), actions)
        state = self.world.settle(x_i, self.scale(next_obs))
        return circuit.discrepancy_per_row(state["e"]), state

    # ---------------------------------------------------------------- protocol
    def act(self, obs, rng):
        if rng.random() < self.epsilon:
            return int(rng.integers(self.n_actions))
        return int(np.argmax(self.q(obs)))

    def observe(self, obs, action, reward, next_obs, terminated, truncated, rng):
        c = self.config
        D, _ = self.discrepancy(
            np.asarray(obs)[None], np.array([action]), np.asarray(next_obs)[None]
        )
        r_ep, self.running_max = epistemic_reward(float(D[0]), self.running_max)
        r = c.reward_scale * (c.alpha_e * r_ep + c.alpha_i * float(reward))  # (5.11)
        self.memory.add(obs, action, r, next_obs, terminated)
        self.steps += 1
        diag = {"epistemic": r_ep, "discrepancy": float(D[0]), "epsilon": self.epsilon}
        if len(self.memory) >= max(c.learn_start, c.batch_size) and self.steps % c.train_every == 0:
            diag.update(self.learn(self.memory.sample(c.batch_size, rng)))
        if self.steps % c.target_sync == 0:
            self.target = dict(self.controller.params)
        return diag

    def learn(self, batch):
        """One local learning step of both circuits on a replay ``batch``."""
        c = self.config
        obs, next_obs = self.scale(batch["obs"]), self.scale(batch["next_obs"])
        a = batch["actions"]
        next_q = circuit.project(self.target, self.controller_input(next_obs), c.phi)[0]
        y = batch["rewards"] + c.gamma * (1.0 - batch["terminated"]) * next_q.max(axis=1)  # (5.12)
        x_i = self.controller_input(obs)
        q = self.controller.project(x_i)
        x_o = td_target_vector(q, a, y, c.td_clip)  # (5.13)
        state = self.controller.settle(x_i, x_o)
        self.controller.learn(state, len(a))
        w_state = self.world.settle(self.world_input(obs, a), next_obs)
        self.world.learn(w_state, len(a))
        self.updates += 1
        return {
            "td_error": float(np.mean(np.abs(y - q[np.arange(len(a)), a]))),
            "world_error": float(np.mean(circuit.discrepancy_per_row(w_state["e"]))),
        }

    def end_episode(self):
        return None


def make_angc_agent(obs_dim, n_actions, config, rng):
    """The agent factory used by :func:`reference.ngc.run.run_episodes`."""
    return ANGCAgent(obs_dim, n_actions, angc_config(config), rng)
