"""Training a GFlowNet in the sticky sequence environment: rollouts, losses, optimiser steps.

One iteration (the source's loop, with the fixes listed below):

1. roll out ``batch_online`` trajectories: the intended token is drawn from the policy
   ``softmax(behaviour_scale * forward logits)``, replaced by a uniform token with
   probability ``epsilon``, and then the environment applies the sticky kernel (4.2);
2. add ``batch_offline`` sequences from the offline set with *fabricated* intended tokens:
   each realized token is replaced by a uniform one with probability alpha. (This is the
   posterior P(a | x) of the intended token under a uniform prior on a, not a sample of how
   the data arose; the source does the same);
3. evaluate the policy network at every prefix of every sequence and take one Adam step
   (gradient-norm clipping) on the method's loss:

   * ``"sdb"``: stochastic detailed balance (4.15) with the learned dynamics Phat and a
     learned P_B over the intended token;
   * ``"db"``: detailed balance (4.11);
   * ``"tb"``: trajectory balance (4.12) with a learned log Z (its own Adam, ``lr_log_Z``);
   * ``"zvar"``: the log-partition variance (4.14), a reverse-KL / VarGrad objective.

   DB, TB and ZVar ignore the stochasticity. With ``actions="realized"`` (default) they
   see the sequence tree a standard GFlowNet would see: the action is the token that was
   appended, P_F = pi(x | s), P_B = 1. With ``actions="intended"`` the action is the intended
   token and P_B is the learned head over intended tokens: the source's DB baseline, which
   is SDB without the Phat term. (That parameterisation is under-determined: any P_B(a | s')
   below 1 on the observed token is consistent with its constraints and tilts the sampler.)
4. for ``"sdb"``, one Adam step of the dynamics cross-entropy (4.16) on environment
   transitions of the online trajectories only (the offline intended tokens are made up):
   the current batch (``dynamics="on-policy"``) or a minibatch from a FIFO replay buffer
   (``dynamics="replay"``); ``dynamics="known"`` uses the true kernel instead (an oracle).

The reward is ``Rtilde = max(R^beta(t), r_min)`` with the source's ramp
``beta(t) = 1 + (beta - 1)(1 - 1 / (1 + t / rho))`` and floor ``r_min = 1e-32``.

Fixes relative to the source (each is a switch): the first transition, from the empty
prefix, is in the loss (``include_empty_prefix``); the behaviour policy is pi itself
(``behaviour_scale = 1``; the source samples from softmax(5 x logits)); one output layer.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from reference import io, nn

from . import models, steps
from .envs import StickySequenceEnv
from .steps import (  # noqa: F401  (importable from here as before)
    dynamics_inputs,
    known_dynamics_logprobs,
    learned_kernel_error,
    policy_loss_and_grads,
)

METHODS = ("sdb", "db", "tb", "zvar")
REWARD_FLOOR = 1e-32


@dataclass(frozen=True)
class TrainConfig:
    method: str = "sdb"
    alpha: float = 0.1
    iterations: int = 2000
    batch_online: int = 16
    batch_offline: int = 16
    hidden: int = 256
    depth: int = 2
    lr: float = 1e-3
    lr_log_Z: float = 0.1
    lr_dynamics: float = 1e-3
    clip: float = 10.0
    epsilon: float = 0.001
    behaviour_scale: float = 1.0
    beta: float = 3.0
    rho: float = 3.0
    reward_floor: float = REWARD_FLOOR
    include_empty_prefix: bool = True
    actions: str = "realized"
    dynamics: str = "on-policy"
    replay_size: int = 8192
    dynamics_batch: int = 128
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}")
        if self.actions not in ("realized", "intended"):
            raise ValueError(f"actions: expected 'realized' or 'intended', got {self.actions!r}")
        if self.dynamics not in ("on-policy", "replay", "known"):
            raise ValueError(
                f"dynamics: expected 'on-policy', 'replay' or 'known', got {self.dynamics!r}"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha: expected a probability in [0, 1], got {self.alpha}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon: expected a probability in [0, 1], got {self.epsilon}")
        if self.batch_online < 1 or self.batch_offline < 0:
            raise ValueError(
                f"batch_online, batch_offline: expected >= 1 and >= 0, got "
                f"{self.batch_online}, {self.batch_offline}"
            )
        if self.iterations < 0:
            raise ValueError(f"iterations: expected >= 0, got {self.iterations}")
        if not (self.beta > 0 and self.rho > 0 and self.reward_floor > 0):
            raise ValueError("beta, rho, reward_floor: expected positive numbers")


def reward_exponent(t, beta, rho):
    """The source's ramp ``beta(t) = 1 + (beta - 1)(1 - 1 / (1 + t / rho))``: 1 at t = 0."""
    return 1.0 + (beta - 1.0) * (1.0 - 1.0 / (1.0 + t / rho))


def log_reward(scores, exponent, floor=REWARD_FLOOR):
    """``log max(max(R, 0)^exponent, floor)``; NaN or infinite scores count as 0."""
    R = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.log(np.maximum(np.maximum(R, 0.0) ** exponent, floor))


def fabricate_intended(realized, alpha, rng, vocab):
    """The source's made-up intended tokens for offline data: each token replaced by a
    uniform one with probability ``alpha``."""
    noise = rng.integers(0, vocab, size=realized.shape)
    return np.where(rng.random(realized.shape) < alpha, noise, realized)


@dataclass
class TrainState:
    """Everything a run carries from one iteration to the next (checkpointed as a tree)."""

    policy: dict
    policy_opt: dict
    log_Z: np.ndarray
    log_Z_opt: dict
    dynamics: dict
    dynamics_opt: dict
    iteration: int = 0
    replay: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    rng_state: dict | None = None  # the Generator's bit_generator.state after `iteration`


def init_state(config, length, vocab, rng):
    policy = models.init_policy(length, vocab, config.hidden, config.depth, rng)
    dynamics = models.init_dynamics(length, vocab, config.hidden, config.depth, rng)
    log_Z = {"log_Z": np.zeros(())}
    return TrainState(
        policy=policy,
        policy_opt=nn.Adam(lr=config.lr).init(policy),
        log_Z=log_Z["log_Z"],
        log_Z_opt=nn.Adam(lr=config.lr_log_Z).init(log_Z),
        dynamics=dynamics,
        dynamics_opt=nn.Adam(lr=config.lr_dynamics).init(dynamics),
        history={k: [] for k in ("loss", "grad_norm", "dynamics_ce", "beta", "log_Z", "reward")},
    )


def make_log_policy(params, length, vocab, scale=1.0):
    """``log_policy(prefixes (N, t)) -> (N, V)`` forward logits (times ``scale``)."""

    def log_policy(prefixes):
        fwd, _, _, _ = models.policy_forward(params, models.encode_partial(prefixes, length, vocab))
        return scale * fwd

    return log_policy


def train(config, scores, offline_codes=None, length=8, vocab=4, progress=True, callback=None,
          checkpoint_path=None, state=None, kernel="numpy", checkpoint_every=None):  # fmt: skip
    """Run ``config.iterations`` iterations on the reward table ``scores`` (V^L,), indexed by
    the base-4 code (4.1). ``offline_codes`` are codes of offline sequences (None or empty:
    on-policy only). ``callback(iteration, state)`` runs after every iteration.
    ``kernel="numba"`` runs the same iteration through ``compiled.CompiledRun`` (the rollout,
    batch assembly, both networks' forward and backward, the SDB loss and gradient, the
    dynamics cross-entropy and clipping + Adam in compiled kernels; same random stream, same
    numbers up to round-off); depth-2 networks.
    ``checkpoint_path``: where :func:`save_checkpoint` writes the state at the end and, with
    ``checkpoint_every = n``, also after every n-th iteration (the same file, overwritten;
    before ``callback`` runs). ``state``: continue from it (``load_checkpoint``) up to
    ``config.iterations``; with its ``rng_state`` (every checkpoint has one) the random
    stream continues too, so a resumed run is bit-identical to an uninterrupted one, on
    either kernel; without it the stream restarts from ``config.seed``.
    Returns the final :class:`TrainState` (its ``history`` holds per-iteration values)."""
    from tqdm.auto import tqdm

    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (vocab**length,):
        raise ValueError(f"scores: expected shape ({vocab**length},), got {scores.shape}")
    if kernel not in ("numpy", "numba"):
        raise ValueError(f"kernel: expected 'numpy' or 'numba', got {kernel!r}")
    if checkpoint_every is not None and not (
        isinstance(checkpoint_every, int) and checkpoint_every >= 1 and checkpoint_path
    ):
        raise ValueError(
            f"checkpoint_every: expected None or an int >= 1 with a checkpoint_path, got "
            f"{checkpoint_every!r} (checkpoint_path={checkpoint_path!r})"
        )
    rng = np.random.default_rng(config.seed)
    if state is None:
        state = init_state(config, length, vocab, rng)
    elif state.rng_state is not None:
        rng.bit_generator.state = state.rng_state
    use_offline = offline_codes is not None and len(offline_codes) and config.batch_offline > 0
    offline = np.asarray(offline_codes) if use_offline else np.zeros(0, dtype=np.int64)
    if kernel == "numba":
        from .compiled import CompiledRun

        run = CompiledRun(config, state, scores, offline, length, vocab)
    env = StickySequenceEnv(config.alpha, length, vocab)
    place = vocab ** np.arange(length - 1, -1, -1)
    opt, opt_Z, opt_dyn = (nn.Adam(lr=config.lr), nn.Adam(lr=config.lr_log_Z),
                           nn.Adam(lr=config.lr_dynamics))  # fmt: skip
    step = lambda o, p, g, s: steps.clip_step(o, p, g, s, config.clip)  # noqa: E731
    bar = tqdm(range(state.iteration, config.iterations), disable=not progress, desc=config.method)
    for it in bar:
        exponent = reward_exponent(it, config.beta, config.rho)
        if kernel == "numba":
            loss, norm, ce, reward = run.iteration(state, rng, exponent)
        else:
            log_policy = make_log_policy(state.policy, length, vocab, config.behaviour_scale)
            online = env.rollout(log_policy, config.batch_online, rng, epsilon=config.epsilon)
            realized, intended = online.realized, online.intended
            if use_offline:
                off = (rng.choice(offline, size=config.batch_offline)[:, None] // place) % vocab
                realized = np.concatenate([realized, off])
                fabricated = fabricate_intended(off, config.alpha, rng, vocab)
                intended = np.concatenate([intended, fabricated])
            log_R = log_reward(scores[realized @ place], exponent, config.reward_floor)

            codes = models.encode_prefixes(realized, length, vocab)  # once per iteration
            dyn_logprobs, ce = None, float("nan")
            if config.method == "sdb" and config.dynamics == "known":
                dyn_logprobs = steps.known_dynamics_logprobs(
                    intended, config.alpha, vocab, config.include_empty_prefix
                )
            elif config.method == "sdb":
                inputs, _ = steps.dynamics_inputs(realized, intended, vocab,
                                                  config.include_empty_prefix, codes)  # fmt: skip
                logits, _ = models.dynamics_forward(state.dynamics, inputs)
                dyn_logprobs = nn.log_softmax(logits)
            loss, grads, d_log_Z = steps.policy_loss_and_grads(
                config, state, realized, intended, log_R, dyn_logprobs, codes
            )
            state.policy, state.policy_opt, norm = step(opt, state.policy, grads, state.policy_opt)
            if config.method == "tb":
                new, state.log_Z_opt = opt_Z.step(
                    {"log_Z": state.log_Z}, {"log_Z": np.asarray(d_log_Z)}, state.log_Z_opt
                )
                state.log_Z = new["log_Z"]
            if config.method == "sdb" and config.dynamics != "known":
                n = len(online.realized)  # the online rows come first
                ce = steps.dynamics_step(config, state, online.realized, online.intended, vocab,
                                         rng, opt_dyn, step, codes[:, :n])  # fmt: skip
            reward = float(scores[online.realized @ place].mean())
        state.iteration = it + 1
        h = state.history
        h["loss"].append(loss)
        h["grad_norm"].append(float(norm))
        h["dynamics_ce"].append(ce)
        h["beta"].append(exponent)
        h["log_Z"].append(float(state.log_Z))
        h["reward"].append(reward)
        if progress and it % 50 == 0:
            bar.set_postfix(loss=f"{loss:.3g}", R=f"{reward:.3f}")
        if checkpoint_every is not None and state.iteration % checkpoint_every == 0:
            state.rng_state = rng.bit_generator.state
            save_checkpoint(checkpoint_path, config, state)
        if callback is not None:
            callback(it, state)
    state.rng_state = rng.bit_generator.state
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, config, state)
    return state


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path, config, state):
    """Parameters, optimiser states, log Z, the replay buffer, the random generator's state
    and the history in one ``.npz`` (``reference.io``): all a run needs to resume exactly."""
    tree = {
        "policy": state.policy,
        "policy_opt": state.policy_opt,
        "log_Z": np.asarray(state.log_Z),
        "log_Z_opt": state.log_Z_opt,
        "dynamics": state.dynamics,
        "dynamics_opt": state.dynamics_opt,
        "iteration": int(state.iteration),
        "replay": state.replay,
        "rng_state": state.rng_state,
        "history": {k: np.asarray(v, dtype=np.float64) for k, v in state.history.items()},
    }
    return io.save(path, tree, metadata={"config": dataclasses.asdict(config),
                                         "saved_at": time.time()})  # fmt: skip


def load_checkpoint(path):
    """Inverse of :func:`save_checkpoint`: ``(TrainConfig, TrainState)``; training resumes
    from it with ``train(config, ..., state=state)``, bit-identically (random stream
    included) when the checkpoint holds ``rng_state``."""
    tree, meta = io.load(path)
    config = TrainConfig(**meta["config"])
    state = TrainState(
        policy=tree["policy"],
        policy_opt=tree["policy_opt"],
        log_Z=np.asarray(tree["log_Z"]),
        log_Z_opt=tree["log_Z_opt"],
        dynamics=tree["dynamics"],
        dynamics_opt=tree["dynamics_opt"],
        iteration=int(tree["iteration"]),
        replay=tree.get("replay", {}),
        rng_state=tree.get("rng_state"),
        history={k: list(v) for k, v in tree["history"].items()},
    )
    return config, state
