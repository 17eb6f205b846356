"""Test vectors of chapter 1 (registered as ``residual-dynamics``); see :mod:`reference.vectors`.

Sizes T=6, B=5, m=4, H=7 are all different so that a transposed weight or a swapped axis
in a port shows up as a shape error rather than as a silently wrong number.
"""

from __future__ import annotations

import math

import numpy as np

from reference.residual_dynamics import model
from reference.residual_dynamics.train import train
from reference.vectors import Case, register

SEED = 1
T, B, M, H = 6, 5, 4, 7
_FN = "reference.residual_dynamics.model."


def _problem():
    rng = np.random.default_rng(SEED)
    params = model.init_params(M, H, rng)
    N0, g0, ys, rs = model.make_inputs(T, B, M, rng)
    g0 = 0.1 * rng.normal(size=(B, M))  # a non-zero g0 exercises the alpha g_{t-1} path
    return rng, params, model.default_alpha(M), N0, g0, ys, rs


def _state(inp):
    return inp["params"], inp["alpha"], inp["N0"], inp["g0"], inp["ys"], inp["rs"]


def _init_shapes(inp):
    params = model.init_params(inp["m"], inp["hidden"], np.random.default_rng(0))
    return {
        "shapes": {k: list(v.shape) for k, v in params.items()},
        "bounds": {k: 1.0 / math.sqrt(params[f"W{k[1]}"].shape[0]) for k in params},
    }


def _step(inp):
    N_t, g_t, z_t, _ = model.step(
        inp["params"], inp["alpha"], inp["N_prev"], inp["g_prev"], inp["y_t"], inp["r_t"]
    )
    return {"N_t": N_t, "g_t": g_t, "z_t": z_t}


def _step_backward(inp):
    args = (inp["params"], inp["alpha"], inp["N_prev"], inp["g_prev"])
    N_t, _, _, cache = model.step(*args, inp["y_t"], inp["r_t"])
    grads, Nbar_prev, gbar_prev, alphabar = model.step_backward(
        *args, inp["y_t"], N_t, cache, inp["Nbar_t"], inp["gbar_t"]
    )
    return {
        "N_t": N_t,
        "grads": grads,
        "Nbar_prev": Nbar_prev,
        "gbar_prev": gbar_prev,
        "alphabar": alphabar,
    }


def _bptt(inp):
    value, grads, alphabar, Nbars, gbars = model.backprop_through_time(
        *_state(inp), entropy_weight=inp["entropy_weight"]
    )
    return {
        "loss": np.asarray(value),
        "grads": grads,
        "alphabar": alphabar,
        "Nbars": Nbars,
        "gbars": gbars,
    }


def _loss_and_grads(inp):
    value, grads = model.loss_and_grads(
        *_state(inp), kernel="numpy", learn_alpha=True, entropy_weight=inp["entropy_weight"]
    )
    return {"loss": np.asarray(value), "grads": grads}


def _train(inp):
    result = train(
        *_state(inp),
        steps=inp["steps"],
        lr=inp["lr"],
        max_norm=inp["max_norm"],
        kernel="numpy",
        learn_alpha=True,
        progress=False,
    )
    return {
        "loss": result.history["loss"],
        "grad_norm": result.history["grad_norm"],
        "params": result.params,
        "alpha": result.alpha,
    }


@register("residual-dynamics")
def cases():
    rng, params, alpha, N0, g0, ys, rs = _problem()
    state = {"params": params, "alpha": alpha, "N0": N0, "g0": g0, "ys": ys, "rs": rs}
    Ns, gs, _ = model.forward(*_state(state))
    c = 1.0 / (T * B)
    one_step = {
        "params": params,
        "alpha": alpha,
        "N_prev": N0,
        "g_prev": g0,
        "y_t": ys[0],
        "r_t": rs[0],
    }
    sizes = f"T={T}, B={B}, m={M}, H={H}; weights in x @ W + b form (W1: (4m, H))"
    return [
        Case(
            "residual_dynamics.init_params",
            _FN + "init_params",
            "",
            "parameter shapes for m=4, hidden=7 and the bound 1/sqrt(fan_in) of the uniform "
            "init of each layer (the numbers themselves depend on the RNG and are not "
            "portable)",
            {"m": M, "hidden": H},
            _init_shapes,
        ),
        Case(
            "residual_dynamics.default_alpha",
            _FN + "default_alpha",
            "(1.5)",
            "the source's filter constants linspace(0.1, 0.9, m)",
            {"m": M},
            lambda inp: {"alpha": model.default_alpha(inp["m"])},
        ),
        Case(
            "residual_dynamics.step",
            _FN + "step",
            "(1.1)-(1.5)",
            "one time step from (N_prev, g_prev) with inputs y_t, r_t: MLP input "
            "[N_prev, y_t, r_t, g_prev], residual logits z_t = log(N_prev + 1e-9) + d_t, "
            f"N_t = softmax(z_t), g_t = alpha g_prev + (N_t - alpha N_prev) y_t. {sizes}",
            one_step,
            _step,
        ),
        Case(
            "residual_dynamics.forward",
            _FN + "forward",
            "(1.1)-(1.5)",
            f"the whole rollout t = 1..T; outputs (T, B, m), N0 and g0 not included. {sizes}",
            state,
            lambda inp: dict(zip(("Ns", "gs", "logits"), model.forward(*_state(inp)), strict=True)),
        ),
        Case(
            "residual_dynamics.entropy",
            _FN + "entropy",
            "(1.6)",
            "H(N) = -sum_m N log(N + 1e-9) over the last axis",
            {"N": Ns},
            lambda inp: {"H": model.entropy(inp["N"])},
        ),
        Case(
            "residual_dynamics.objective",
            _FN + "objective",
            "(1.6)",
            "mean over (t, b) of sum_m g^2 minus entropy_weight times the mean entropy",
            {"Ns": Ns, "gs": gs, "entropy_weight": 0.1},
            lambda inp: {
                "loss": np.asarray(model.objective(inp["Ns"], inp["gs"], inp["entropy_weight"]))
            },
        ),
        Case(
            "residual_dynamics.loss_adjoints",
            _FN + "loss_adjoints",
            "(1.7)",
            "direct adjoints of the loss at one step, c = 1/(T B): gbar = 2 c g_t, "
            "Nbar = w c (log(N_t + eps) + N_t / (N_t + eps))",
            {"N_t": Ns[-1], "g_t": gs[-1], "c": c, "entropy_weight": 0.1},
            lambda inp: dict(
                zip(
                    ("Nbar", "gbar"),
                    model.loss_adjoints(inp["N_t"], inp["g_t"], inp["c"], inp["entropy_weight"]),
                    strict=True,
                )
            ),
        ),
        Case(
            "residual_dynamics.step_backward",
            _FN + "step_backward",
            "(1.8)-(1.11)",
            "adjoint of one step: the forward step is recomputed from the inputs (its MLP "
            "activations are the cache), then given total adjoints Nbar_t, gbar_t of its "
            "outputs, returns the MLP gradients of this step, this step's contributions to "
            "the adjoints of N_prev and g_prev, and to dL/dalpha",
            {**one_step, "Nbar_t": rng.normal(size=(B, M)), "gbar_t": rng.normal(size=(B, M))},
            _step_backward,
        ),
        Case(
            "residual_dynamics.backprop_through_time",
            _FN + "backprop_through_time",
            "(1.6)-(1.11)",
            "loss, MLP gradients, dL/dalpha and the total state adjoints Nbars[t-1] = dL/dN_t,"
            f" gbars[t-1] = dL/dg_t. {sizes}",
            {**state, "entropy_weight": 0.1},
            _bptt,
        ),
        Case(
            "residual_dynamics.loss_and_grads",
            _FN + "loss_and_grads",
            "(1.6)-(1.11)",
            "loss and gradients with learn_alpha=True (grads has an 'alpha' entry) and "
            "entropy weight 0.5",
            {**state, "entropy_weight": 0.5},
            _loss_and_grads,
        ),
        Case(
            "residual_dynamics.train",
            "reference.residual_dynamics.train.train",
            "",
            "three training steps, each: loss and gradients (alpha learned), "
            "clip_grad_norm(max_norm) over all gradients, one Adam step (lr); loss and "
            "grad_norm are recorded before each update",
            {**state, "steps": 3, "lr": 1e-2, "max_norm": 1.0},
            _train,
        ),
    ]
