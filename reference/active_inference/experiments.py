"""Runs of chapter 2 shared by the book and the command line.

* :func:`run_tutorial`: the source's encoder tutorial end to end (data, encoder, SGD through
  state inference, evaluation before and after, the planning rollout), optionally with the
  restarts remedy of :func:`.train_encoder.train_restarts`;
* :func:`seed_study`: the same recipe from many random initialisations (how often it works);
* :func:`sensitivity_study`: the same recipe over a grid of temperatures and KL weights;
* :func:`learn_transitions`: beyond the source, the agent learns B by Dirichlet updates
  (eqs. 2.20, 2.22) from its own rollouts in the line world, starting from flat counts.

Every run is seeded by one ``numpy.random.Generator`` and consumes it in a fixed order, so
equal configurations give equal numbers.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np

from reference import backend

from . import encoder as enc
from . import envs
from . import train_encoder as te
from .agent import Agent


@dataclass(frozen=True)
class TutorialConfig:
    """Sizes of the encoder tutorial. The defaults are the source's (seed 3: a good init)."""

    seed: int = 3
    restarts: int = 1
    steps: int = te.STEPS
    lr: float = te.LR
    batch_size: int = te.BATCH_SIZE
    n_train: int = envs.N_TRAIN
    n_val: int = envs.N_VAL
    eval_every: int = 20
    horizon: int = te.ROLLOUT_HORIZON
    gif_grid: int = 200


def tutorial_config(fast: bool = False, **overrides) -> TutorialConfig:
    """The source sizes, or (``fast``) a small preview: 30 steps on 128/64 sequences."""
    base = {}
    if fast:
        base = dict(steps=30, n_train=128, n_val=64, eval_every=10, horizon=4, gif_grid=40)
    base.update(overrides)
    config = TutorialConfig(**base)
    for name in ("restarts", "n_train", "n_val", "horizon", "eval_every", "gif_grid"):
        value = getattr(config, name)
        if int(value) != value or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value}")
    if config.steps < 0:
        raise ValueError(f"steps: expected a non-negative integer, got {config.steps}")
    return config


@dataclass
class TutorialRun:
    """Everything :func:`run_tutorial` produced (arrays are NumPy)."""

    config: TutorialConfig
    train_data: dict
    val_data: dict
    params0: dict  # the first initialisation (the one a single run trains)
    result: te.TrainResult  # the kept run (the best restart by validation objective)
    restart_scores: np.ndarray  # validation objective of every restart
    before: dict  # te.evaluate of params0 on the validation set
    after: dict  # te.evaluate of the trained encoder on the validation set
    objective_before: dict
    objective_after: dict
    rollout: dict
    seconds: float
    extra: dict = field(default_factory=dict)


def run_tutorial(config: TutorialConfig, progress: bool = False) -> TutorialRun:
    """Data, encoder, SGD (``restarts`` inits, the lowest validation objective kept), rollout.

    One generator ``default_rng(seed)`` draws, in this order, the training and validation
    sequences, the initialisation(s) and minibatches, and the rollout's observations. With
    ``restarts=1`` this is the source recipe; with more, the first restart is that same run.
    """
    rng = np.random.default_rng(config.seed)
    train_data, val_data = envs.tutorial_datasets(rng, config.n_train, config.n_val)
    params0 = enc.init_encoder(copy.deepcopy(rng))  # what the first restart will draw
    kwargs = dict(steps=config.steps, lr=config.lr, batch_size=config.batch_size, progress=progress)
    start = time.perf_counter()
    if config.restarts == 1:  # the source recipe, with validation curves recorded
        result = te.train(
            enc.init_encoder(rng), train_data, rng, val_data=val_data,
            eval_every=config.eval_every, **kwargs
        )  # fmt: skip
        scores = np.asarray([te.evaluate_objective(result.params, val_data)["total"]])
    else:  # train_restarts records no validation curves (it does not pass val_data on)
        result, scores = te.train_restarts(
            train_data, val_data, rng, restarts=config.restarts, **kwargs
        )
    seconds = time.perf_counter() - start
    roll = te.rollout(result.params, rng, horizon=config.horizon)
    return TutorialRun(
        config=config,
        train_data=train_data,
        val_data=val_data,
        params0=params0,
        result=result,
        restart_scores=scores,
        before=te.evaluate(params0, val_data),
        after=te.evaluate(result.params, val_data),
        objective_before=te.evaluate_objective(params0, val_data),
        objective_after=te.evaluate_objective(result.params, val_data),
        rollout=roll,
        seconds=seconds,
    )


def _train_and_score(seed, config: TutorialConfig, **model):
    """One source-recipe run from ``seed`` (data, init, SGD), scored on its validation set.

    ``model`` (``temperature``, ``kl_weight``, ...) is passed to training and evaluation.
    Returns ``(encoder_accuracy, state_accuracy, validation objective parts)``.
    """
    rng = np.random.default_rng(int(seed))
    train_data, val_data = envs.tutorial_datasets(rng, config.n_train, config.n_val)
    res = te.train(
        enc.init_encoder(rng),
        train_data,
        rng,
        steps=config.steps,
        lr=config.lr,
        batch_size=config.batch_size,
        progress=False,
        **model,
    )
    ev = te.evaluate(res.params, val_data, **model)
    obj = te.evaluate_objective(res.params, val_data, **model)
    return ev["encoder_accuracy"], ev["state_accuracy"], obj


def seed_study(seeds, config: TutorialConfig | None = None):
    """The source recipe (one init) for every seed: a dict of arrays over seeds.

    Keys: ``seed``, ``encoder_accuracy``, ``state_accuracy`` (aligned, validation set) and
    ``val_objective`` (eq. 2.30 on the validation set, needs no labels).
    """
    config = config or tutorial_config()
    out = {k: [] for k in ("seed", "encoder_accuracy", "state_accuracy", "val_objective")}
    for seed in seeds:
        enc_acc, state_acc, obj = _train_and_score(seed, config)
        out["seed"].append(int(seed))
        out["encoder_accuracy"].append(enc_acc)
        out["state_accuracy"].append(state_acc)
        out["val_objective"].append(obj["total"])
    return {k: np.asarray(v) for k, v in out.items()}


def sensitivity_study(
    config: TutorialConfig | None = None,
    temperatures=(0.05, 0.15, 0.5),
    kl_weights=(0, 2, 8, 32),
    seeds=(3,),
):
    """The source recipe over a grid of logit temperatures (2.23) and KL weights (2.30).

    For every seed the data and the initialisation are the same in every cell (each cell
    re-seeds ``default_rng(seed)``), so the cells differ only by the two hyperparameters.
    Returns a dict: ``temperature`` (T,), ``kl_weight`` (W,), ``seed`` (S,) and arrays of
    shape (T, W, S): ``encoder_accuracy``, ``state_accuracy`` (aligned, validation set; the
    inferred state filtered at the cell's temperature), ``val_objective``, ``val_vfe`` and
    ``val_kl`` (eq. 2.30 and its parts at the cell's own settings, so the objective is not
    comparable across cells).
    """
    config = config or tutorial_config()
    temps = np.asarray(temperatures, dtype=float)
    weights = np.asarray(kl_weights, dtype=float)
    seeds = np.asarray([int(s) for s in seeds])
    if temps.ndim != 1 or weights.ndim != 1 or not temps.size or not weights.size:
        raise ValueError("temperatures, kl_weights: expected non-empty 1-D sequences")
    if not seeds.size:
        raise ValueError("seeds: expected at least one seed")
    shape = (temps.size, weights.size, seeds.size)
    keys = ("encoder_accuracy", "state_accuracy", "val_objective", "val_vfe", "val_kl")
    out = {k: np.zeros(shape) for k in keys}
    for i, tau in enumerate(temps):
        for j, w in enumerate(weights):
            for k, seed in enumerate(seeds):
                enc_acc, state_acc, obj = _train_and_score(
                    seed, config, temperature=float(tau), kl_weight=float(w)
                )
                out["encoder_accuracy"][i, j, k] = enc_acc
                out["state_accuracy"][i, j, k] = state_acc
                for part in ("total", "vfe", "kl"):
                    out["val_objective" if part == "total" else f"val_{part}"][i, j, k] = obj[part]
    return {"temperature": temps, "kl_weight": weights, "seed": seeds, **out}


def bayes_accuracy(data, means=envs.GAUSSIAN_MEANS, scale=envs.GAUSSIAN_SCALE):
    """Accuracy of the Bayes-optimal pointwise classifier (equal priors, known Gaussians).

    The best any encoder that sees one point at a time can do on ``data`` (in expectation).
    """
    x = np.asarray(data["x"])
    d2 = ((x[..., None, :] - np.asarray(means)) ** 2).sum(-1)
    return float(np.mean(np.argmin(d2, axis=-1) == np.asarray(data["states"])))


# --------------------------------------------------------------------------- learning B


@dataclass
class LearningRun:
    """:func:`learn_transitions`' output: true and learned B, counts and the error curve."""

    B_true: np.ndarray  # (S, S, U)
    B_learned: np.ndarray  # (S, S, U), E[Dir(pB)] at the end
    pB: np.ndarray  # final Dirichlet counts
    visits: np.ndarray  # (S, U): how often the agent took action u in (believed) state s
    error: np.ndarray  # (episodes + 1,): mean |B_learned - B_true| over all columns
    states: list  # one array of visited states per episode
    actions: list


def learn_transitions(
    episodes=30,
    steps=12,
    seed=0,
    prior_count=1.0,
    policy_len=2,
    use_utility=True,
    use_param_info_gain=True,
):
    """Beyond the source: learn the line world's B from the agent's own experience.

    The agent knows A (near-identity) and C (goal at the last state) but starts from flat
    Dirichlet counts ``pB = prior_count`` for every transition, i.e. B uniform. Each episode
    starts in a random state; at each step the world emits o ~ A[:, s], the agent infers q
    (fpi, prior B q_prev), plans (utility + state information gain + novelty of B, eq. 2.16),
    acts deterministically, and the world moves by s' ~ B_true[:, s, a]. After every step it
    updates its counts online with eq. (2.22), ``pB[:, :, a] += q_{t+1} (x) q_t``, and its B
    becomes E[Dir(pB)] (2.20). Returns a :class:`LearningRun`.
    """
    A, B_true, C, D = envs.line_world_model()
    S, U = B_true.shape[0], B_true.shape[2]
    rng = np.random.default_rng(seed)
    pB0 = np.full((S, S, U), float(prior_count))
    agent = Agent(
        A,
        pB0 / pB0.sum(axis=0, keepdims=True),
        C if use_utility else np.zeros_like(C),
        D,
        pB=pB0,
        policy_len=policy_len,
        num_iter=1,
        use_param_info_gain=use_param_info_gain,
    )
    visits = np.zeros((S, U))
    errors = [float(np.abs(backend.asnumpy(agent.B[0][0]) - B_true).mean())]
    all_states, all_actions = [], []
    for _ in range(int(episodes)):
        s = int(rng.integers(S))
        prior, q_prev, a_prev = D, None, None
        states, actions = [s], []
        for _ in range(int(steps)):
            o = int(rng.choice(S, p=A[:, s]))
            q = backend.asnumpy(agent.infer_states(np.array(o), prior))
            if q_prev is not None:
                agent.update_B([q_prev, q], [a_prev])
            q_pi, _ = agent.infer_policies(q)
            a = agent.sample_action(q_pi)
            visits[int(np.argmax(q)), int(a[0])] += 1
            prior = backend.asnumpy(agent.update_empirical_prior(a, q))
            s = int(rng.choice(S, p=B_true[:, s, int(a[0])]))
            q_prev, a_prev = q, a
            states.append(s)
            actions.append(int(a[0]))
        all_states.append(np.asarray(states))
        all_actions.append(np.asarray(actions))
        errors.append(float(np.abs(backend.asnumpy(agent.B[0][0]) - B_true).mean()))
    return LearningRun(
        B_true=B_true,
        B_learned=np.asarray(backend.asnumpy(agent.B[0][0])),
        pB=np.asarray(backend.asnumpy(agent.pB[0][0])),
        visits=visits,
        error=np.asarray(errors),
        states=all_states,
        actions=all_actions,
    )
