"""Training, evaluation and the planning rollout of the encoder tutorial.

The source recipe: plain SGD ``theta <- theta - 1e-3 grad`` for 200 steps, each on a
minibatch of 16 training sequences drawn without replacement, the gradient of eq. (2.30)
from :mod:`.encoder`. Evaluation aligns the encoder's labels with the true states by the
best of the K! permutations (the encoder may name the clusters in any order); the rollout
runs the planning agent (policy_len 4) for 8 steps from state 0 on encoded observations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from reference import backend
from reference.backend import xp

from . import encoder as enc
from .agent import Agent
from .envs import GAUSSIAN_MEANS, GAUSSIAN_SCALE, emit, env_step, line_world_model

STEPS = 200
LR = 1e-3
BATCH_SIZE = 16
ROLLOUT_HORIZON = 8
START_STATE = 0


@dataclass
class TrainResult:
    """Final encoder ``params`` and ``history``: per-step arrays ``total``, ``vfe``, ``kl``
    (minibatch values *before* that step's update) and, when validation data was given,
    ``val_step``, ``val_total``, ``val_vfe``, ``val_kl`` on the whole validation set."""

    params: dict
    history: dict = field(default_factory=dict)


def sgd_step(params, grads, lr):
    """``theta - lr * grad`` for every array (new dict; the inputs are not modified)."""
    return {k: p - lr * grads[k] for k, p in params.items()}


def evaluate_objective(params, data, **model):
    """Eq. (2.30) and its two parts on a whole data set (no gradient): a dict of floats."""
    logits = enc.encoder_logits(params, xp.asarray(data["x"]))
    total, vfe, kl, _ = enc.objective_forward(logits, data["actions"], **model)
    return {"total": float(total), "vfe": float(vfe), "kl": float(kl)}


def train(
    params,
    train_data,
    rng,
    steps=STEPS,
    lr=LR,
    batch_size=BATCH_SIZE,
    val_data=None,
    eval_every=20,
    progress=True,
    **model,
):
    """Train the encoder with the tutorial's SGD recipe; returns a :class:`TrainResult`.

    ``train_data`` is a dict from :func:`.envs.gaussian_sequences` (``x`` (T, N, 2),
    ``actions`` (T-1, N)); ``rng`` a ``numpy.random.Generator`` that draws the minibatches.
    ``model`` may override ``A``, ``B``, ``D``, ``temperature`` or ``kl_weight``.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps: expected a non-negative integer, got {steps}")
    if not (lr > 0):
        raise ValueError(f"lr: expected a positive number, got {lr}")
    n = train_data["x"].shape[1]
    if int(batch_size) != batch_size or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size: expected an integer in [1, {n}], got {batch_size}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    x_all = xp.asarray(train_data["x"])
    acts_all = np.asarray(train_data["actions"])
    hist = {k: [] for k in ("total", "vfe", "kl", "val_step", "val_total", "val_vfe", "val_kl")}

    def record_val(step):
        if val_data is not None:
            v = evaluate_objective(params, val_data, **model)
            hist["val_step"].append(step)
            for k in ("total", "vfe", "kl"):
                hist[f"val_{k}"].append(v[k])

    bar = tqdm(range(steps), desc="encoder", disable=not progress)
    for k in bar:
        if k % eval_every == 0:
            record_val(k)
        idx = rng.choice(n, size=batch_size, replace=False)
        _, parts, grads = enc.loss_and_grads(params, x_all[:, idx], acts_all[:, idx], **model)
        params = sgd_step(params, grads, lr)
        for key in ("total", "vfe", "kl"):
            hist[key].append(parts[key])
        bar.set_postfix(loss=f"{parts['total']:.3f}")
    record_val(steps)
    history = {k: np.asarray(v) for k, v in hist.items() if v or not k.startswith("val")}
    return TrainResult(params=params, history=history)


def train_restarts(train_data, val_data, rng, restarts=4, sizes=enc.ENCODER_SIZES, **kwargs):
    """Beyond the source: ``restarts`` independent inits, keep the lowest *validation objective*.

    The tutorial recipe is seed-sensitive: from about half of the inits (pymdp's too: 2 of 12
    JAX seeds) SGD settles in a local optimum where two Gaussian clusters share one label
    (aligned accuracy 0.58-0.78, validation objective above 8.5, against 6.1-6.9 for the
    good runs). The objective separates the two without labels, so selecting on it is
    legitimate. Returns ``(best TrainResult, validation objectives of all restarts)``.
    """
    if int(restarts) != restarts or restarts < 1:
        raise ValueError(f"restarts: expected a positive integer, got {restarts}")
    model = {k: v for k, v in kwargs.items() if k in ("A", "B", "D", "temperature", "kl_weight")}
    best, scores = None, []
    for _ in range(int(restarts)):
        res = train(enc.init_encoder(rng, sizes), train_data, rng, val_data=val_data, **kwargs)
        scores.append(evaluate_objective(res.params, val_data, **model)["total"])
        if best is None or scores[-1] < min(scores[:-1]):
            best = res
    return best, np.asarray(scores)


# --------------------------------------------------------------------------- metrics


def aligned_accuracy(true_labels, pred_labels, K=5):
    """Best accuracy over the K! relabellings ``perm[pred]``; returns ``(acc, perm)``.

    Ties keep the first permutation in ``itertools.permutations`` order (as the tutorial).
    """
    t = np.asarray(backend.asnumpy(true_labels)).reshape(-1)
    p = np.asarray(backend.asnumpy(pred_labels)).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"pred_labels: expected {t.shape[0]} labels, got {p.shape[0]}")
    perms = np.asarray(list(itertools.permutations(range(K))))  # (K!, K)
    accs = (perms[:, p] == t[None]).mean(axis=1)
    best = int(np.argmax(accs))
    return float(accs[best]), tuple(int(i) for i in perms[best])


def confusion_matrix(true_labels, pred_labels, K=5):
    """Row-normalised confusion: ``cm[i, j]`` = share of true state i predicted as j."""
    t = np.asarray(backend.asnumpy(true_labels)).reshape(-1)
    p = np.asarray(backend.asnumpy(pred_labels)).reshape(-1)
    cm = np.zeros((K, K))
    np.add.at(cm, (t, p), 1.0)
    return cm / np.maximum(cm.sum(axis=1, keepdims=True), 1.0)


def evaluate(params, data, K=5, **model):
    """Encoder and inferred-state accuracies (aligned) and confusion matrices on ``data``.

    The encoder's label is the argmax of its logits at every point; the inferred state is the
    argmax of the filtered q_t (eq. 2.26) with the true actions. Confusions use the aligned
    labels.
    """
    temperature = model.get("temperature", enc.TEMPERATURE)
    model_abd = {k: v for k, v in model.items() if k in ("A", "B", "D")}
    x = xp.asarray(data["x"])
    enc_pred = backend.asnumpy(xp.argmax(enc.encoder_logits(params, x), axis=-1))
    q = enc.filtered_beliefs(params, x, data["actions"], temperature=temperature, **model_abd)
    q_pred = backend.asnumpy(xp.argmax(q, axis=-1))
    out = {}
    for name, pred in (("encoder", enc_pred), ("state", q_pred)):
        acc, perm = aligned_accuracy(data["states"], pred, K)
        out[f"{name}_accuracy"], out[f"{name}_perm"] = acc, perm
        out[f"{name}_confusion"] = confusion_matrix(data["states"], np.asarray(perm)[pred], K)
    return out


# --------------------------------------------------------------------------- rollout


def rollout(
    params,
    rng,
    horizon=ROLLOUT_HORIZON,
    start=START_STATE,
    policy_len=4,
    means=GAUSSIAN_MEANS,
    scale=GAUSSIAN_SCALE,
):
    """The tutorial's closed loop: encode x_t, infer q_t, plan, act, move by argmax B.

    Prior one-hot(start); at each of ``horizon`` steps x_t ~ N(mu_{s_t}, scale^2 I), o_t from
    the encoder (eq. 2.24), q_t = agent.infer_states(o_t, prior), deterministic action from
    the 3^policy_len policies, s_{t+1} = argmax B[:, s_t, a_t], prior <- B_{a_t} q_t.
    Returns a dict: ``states`` (horizon+1,), ``actions``, ``x`` (horizon, 2), ``obs`` and
    ``qs`` (horizon, K).
    """
    A, B, C, D = line_world_model()
    agent = Agent(A, B, C, D, policy_len=policy_len, num_iter=1)
    K = A.shape[0]
    s = int(start)
    prior = np.eye(K)[s]
    states, actions, xs, obs, qs = [s], [], [], [], []
    for _ in range(int(horizon)):
        x = emit(np.array([s]), rng, means, scale)  # (1, 2)
        o = backend.asnumpy(enc.observation(enc.encoder_logits(params, xp.asarray(x))))[0]
        q = backend.asnumpy(agent.infer_states(o, prior))
        q_pi, _ = agent.infer_policies(q)
        a = agent.sample_action(q_pi)
        s = int(env_step(s, int(a[0]), B))
        prior = backend.asnumpy(agent.update_empirical_prior(a, q))
        states.append(s)
        actions.append(int(a[0]))
        xs.append(x[0])
        obs.append(o)
        qs.append(q)
    return {
        "states": np.asarray(states),
        "actions": np.asarray(actions),
        "x": np.asarray(xs),
        "obs": np.asarray(obs),
        "qs": np.asarray(qs),
    }
