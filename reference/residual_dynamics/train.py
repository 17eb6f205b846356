"""Training loop of chapter 1: the source recipe, Adam + global-norm clipping, 200 steps.

Each step: forward, loss (1.6), backward through time, ``clip_grad_norm(max_norm=1)``,
one Adam step -- exactly ``optimizer.zero_grad(); loss.backward();
clip_grad_norm_(model.parameters(), 1.0); optimizer.step()`` of the source notebook.
The inputs (N0, g0, ys, rs) are drawn once and reused at every step, as in the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from reference import backend, io, nn
from reference.residual_dynamics.model import ENTROPY_WEIGHT, loss_and_grads


@dataclass
class TrainResult:
    """What :func:`train` returns: final parameters, alpha, optimiser state and history.

    ``history["loss"][k]`` is the loss at step k *before* that step's update (what the
    source prints); ``history["grad_norm"][k]`` the global gradient norm before clipping;
    ``history["alpha"]`` is ``(steps, m)`` when alpha is learned.
    """

    params: dict
    alpha: object
    opt_state: dict
    history: dict = field(default_factory=dict)


def train(
    params,
    alpha,
    N0,
    g0,
    ys,
    rs,
    steps=200,
    lr=1e-3,
    max_norm=1.0,
    kernel="numba",
    learn_alpha=False,
    entropy_weight=ENTROPY_WEIGHT,
    checkpoint_path=None,
    checkpoint_every=50,
    resume=False,
    progress=True,
    callback=None,
):
    """Train the MLP (and alpha if ``learn_alpha``) for ``steps`` Adam steps.

    ``checkpoint_path`` (an ``.npz`` path) saves parameters, optimiser state and history every
    ``checkpoint_every`` steps and at the end; with ``resume=True`` an existing checkpoint
    there is loaded first and training continues to ``steps`` in total (bit-identical to an
    uninterrupted run). ``callback(step, params, alpha)``, if given, is called after every
    update with the number of updates done and the new parameters (to record diagnostics).
    Returns a :class:`TrainResult`.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps: expected a non-negative integer, got {steps}")
    if not (max_norm > 0):
        raise ValueError(f"max_norm: expected a positive number, got {max_norm}")
    opt = nn.Adam(lr=lr)
    theta = dict(params)
    if learn_alpha:
        theta["alpha"] = alpha
    state = opt.init(theta)
    history = {"loss": [], "grad_norm": [], "alpha": []}
    start = 0
    if resume and checkpoint_path is not None and _exists(checkpoint_path):
        theta, state, start, saved, _ = io.load_training_state(checkpoint_path)
        theta = {k: backend.asarray(v) for k, v in theta.items()}
        state["m"] = {k: backend.asarray(v) for k, v in state["m"].items()}
        state["v"] = {k: backend.asarray(v) for k, v in state["v"].items()}
        history = {k: list(np.asarray(saved[k])) for k in history if k in saved}
        history.setdefault("alpha", [])

    bar = tqdm(
        range(start, steps),
        desc="residual dynamics",
        disable=not progress,
        initial=start,
        total=steps,
    )
    for k in bar:
        mlp = {name: theta[name] for name in params}
        a = theta["alpha"] if learn_alpha else alpha
        value, grads = loss_and_grads(
            mlp,
            a,
            N0,
            g0,
            ys,
            rs,
            kernel=kernel,
            learn_alpha=learn_alpha,
            entropy_weight=entropy_weight,
        )
        grads = {name: backend.asarray(g) for name, g in grads.items()}
        clipped, total_norm = nn.clip_grad_norm(grads, max_norm)
        theta, state = opt.step(theta, clipped, state)
        history["loss"].append(float(value))
        history["grad_norm"].append(float(total_norm))
        if learn_alpha:
            history["alpha"].append(backend.asnumpy(a).copy())
        bar.set_postfix(loss=f"{float(value):.4f}")
        done = k + 1
        if callback is not None:
            callback(
                done,
                {name: theta[name] for name in params},
                theta["alpha"] if learn_alpha else alpha,
            )
        if checkpoint_path is not None and (done % checkpoint_every == 0 or done == steps):
            _save_history(checkpoint_path, theta, state, done, history, lr, max_norm)

    final_alpha = theta.pop("alpha") if learn_alpha else alpha
    out = {"loss": np.asarray(history["loss"]), "grad_norm": np.asarray(history["grad_norm"])}
    if learn_alpha:
        out["alpha"] = np.asarray(history["alpha"])
    return TrainResult(params=theta, alpha=final_alpha, opt_state=state, history=out)


def _save_history(path, theta, state, step, history, lr, max_norm):
    tree = {
        "params": theta,
        "opt": state,
        "step": int(step),
        "history": {
            "loss": np.asarray(history["loss"]),
            "grad_norm": np.asarray(history["grad_norm"]),
            "alpha": np.asarray(history["alpha"]),
        },
    }
    io.save(path, tree, {"lr": lr, "max_norm": max_norm})


def _exists(path):
    import os

    return os.path.exists(path) or os.path.exists(str(path) + ".npz")
