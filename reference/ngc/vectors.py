"""Test vectors of chapter 5 (registered as ``ngc-angc``); see :mod:`reference.vectors`.

Sizes differ on purpose (a circuit with layers J = 3, 6, 5, 4 and a batch of 2; a DQN with
3 inputs, hidden 5 and 4 actions) so that a swapped axis in a port is a shape error. Lists
of per-layer arrays are stored as dicts ``{"l0": ..., "l1": ...}`` indexed by the layer;
integer arrays (actions) as float64.
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.vectors import Case, register

from . import angc, circuit, dqn, hebbian

SEED = 5
BATCH = 2
DIMS = (3, 6, 5, 4)  # J_0 (bottom, x^o) .. J_3 (top, x^i)
_FN = "reference.ngc."
SETTLE = {"T": 12, "beta": 0.1, "gamma_v": 0.01, "beta_e": 0.3}


def _layers(xs):
    return {f"l{i}": x for i, x in enumerate(xs)}


def _unlayers(d):
    return [d[f"l{i}"] for i in range(len(d))]


def _settle(inp):
    out = circuit.settle(
        inp["params"],
        inp["x_i"],
        inp["x_o"],
        int(inp["T"]),
        inp["beta"],
        inp["gamma_v"],
        inp["beta_e"],
        inp["phi"],
    )
    return {k: _layers(out[k]) for k in ("z", "e", "zbar", "phi_z")}


def _project(inp):
    return {"z": _layers(circuit.project(inp["params"], inp["x_i"], inp["phi"]))}


def _hebbian(inp):
    state = {"phi_z": _unlayers(inp["phi_z"]), "e": _unlayers(inp["e"])}
    dW, dE = hebbian.hebbian_updates(
        inp["params"], state, inp["gamma_e"], modulate=inp["modulate"], use_abs=inp["use_abs"]
    )
    return {"dW": dW, "dE": dE}


def _apply(inp):
    new = hebbian.apply_updates(
        inp["params"], inp["dW"], inp["dE"], inp["eta"], normalization=inp["normalization"]
    )
    return {"params": new}


def _epistemic(inp):
    m = float(inp["running_max"])
    r = []
    for d in np.asarray(inp["discrepancy"]):
        value, m = angc.epistemic_reward(float(d), m)
        r.append(value)
    return {"r_ep": np.array(r), "running_max": np.asarray(m)}


def _td_loss(inp):
    loss, grads, info = dqn.td_loss_and_grads(
        inp["params"],
        inp["obs"],
        inp["actions"].astype(np.int64),
        inp["targets"],
        inp["loss"],
        inp["kappa"],
    )
    return {"loss": np.asarray(loss), "grads": grads, "q": info["q"]}


@register("ngc-angc")
def cases():
    rng = np.random.default_rng(SEED)
    params = circuit.init_params(DIMS, rng)
    x_i = rng.normal(size=(BATCH, DIMS[-1]))
    x_o = rng.normal(size=(BATCH, DIMS[0]))
    base = {"params": params, "x_i": x_i, "x_o": x_o, **SETTLE}
    state = circuit.settle(params, x_i, x_o, phi="relu", **SETTLE)
    mixed = rng.normal(size=(4, 5))
    mixed[:, 0] = [2.0, -2.0, 1.0, -1.0]  # signed column sum 0: the two variants differ
    upd = hebbian.hebbian_updates(params, state, 0.95)
    dq_params = nn.init_mlp((3, 5, 4), rng)
    obs = rng.normal(size=(6, 3))
    actions = rng.integers(0, 4, size=6)
    targets = 2.5 * rng.normal(size=6)  # both Huber branches
    next_q = rng.normal(size=(6, 4))
    return [
        Case(
            name="ngc.settle.relu",
            function=_FN + "circuit.settle",
            equation="(5.1)-(5.4)",
            description="12 settling steps from z = 0, both ends clamped, phi = ReLU; z, errors, "
            "predictions and phi(z) per layer (raw z of inactive units sinks with the leak)",
            inputs={**base, "phi": "relu"},
            compute=_settle,
        ),
        Case(
            name="ngc.settle.tanh",
            function=_FN + "circuit.settle",
            equation="(5.1)-(5.4)",
            description="the same circuit and inputs with phi = tanh",
            inputs={**base, "phi": "tanh"},
            compute=_settle,
        ),
        Case(
            name="ngc.project",
            function=_FN + "circuit.project",
            equation="(5.5)",
            description="the fast top-down projection from x^i (z^0 is the prediction of x^o)",
            inputs={"params": params, "x_i": x_i, "phi": "relu"},
            compute=_project,
        ),
        Case(
            name="ngc.hebbian_updates",
            function=_FN + "hebbian.hebbian_updates",
            equation="(5.7)-(5.9)",
            description="local updates of W1..W3, E1..E2 from a settled state, modulated with "
            "absolute column sums, gamma_e = 0.95",
            inputs={
                "params": params,
                "phi_z": _layers(state["phi_z"]),
                "e": _layers(state["e"]),
                "gamma_e": 0.95,
                "modulate": True,
                "use_abs": True,
            },
            compute=_hebbian,
        ),
        Case(
            name="ngc.modulation.abs",
            function=_FN + "hebbian.modulation",
            equation="(5.9)",
            description="modulation matrix, m_j = sum_i |A_ij| (ngc-learn)",
            inputs={"A": mixed},
            compute=lambda inp: {"M": hebbian.modulation(inp["A"], True)},
        ),
        Case(
            name="ngc.modulation.signed",
            function=_FN + "hebbian.modulation",
            equation="(5.9)",
            description="modulation matrix with signed sums, m_j = sum_i A_ij (pcrl)",
            inputs={"A": np.abs(mixed) + mixed},  # non-negative, one zero column
            compute=lambda inp: {"M": hebbian.modulation(inp["A"], False)},
        ),
        *[
            Case(
                name=f"ngc.apply_updates.{norm}",
                function=_FN + "hebbian.apply_updates",
                equation="(5.7)-(5.8)",
                description=f"Hebbian ascent A + eta Delta A, eta = 0.05, normalization {norm!r}",
                inputs={
                    "params": params,
                    "dW": upd[0],
                    "dE": upd[1],
                    "eta": 0.05,
                    "normalization": norm,
                },
                compute=_apply,
            )
            for norm in ("none", "frobenius", "clip")
        ],
        Case(
            name="ngc.angc.epistemic_reward",
            function=_FN + "angc.epistemic_reward",
            equation="(5.10)",
            description="epistemic rewards of a sequence of world-model discrepancies, in order, "
            "each divided by the running maximum including itself (starting at 1)",
            inputs={"discrepancy": np.array([0.4, 2.5, 1.0, 3.0, 0.0, 2.9]), "running_max": 1.0},
            compute=_epistemic,
        ),
        Case(
            name="ngc.angc.td_target_vector",
            function=_FN + "angc.td_target_vector",
            equation="(5.13)",
            description="the controller's clamped bottom: Q with the taken action's entry moved "
            "toward y by at most td_clip = 1",
            inputs={
                "q": next_q,
                "actions": actions.astype(np.float64),
                "y": 3.0 * rng.normal(size=6),
                "td_clip": 1.0,
            },
            compute=lambda inp: {
                "target": angc.td_target_vector(
                    inp["q"], inp["actions"].astype(np.int64), inp["y"], inp["td_clip"]
                )
            },
        ),
        Case(
            name="ngc.dqn.td_targets",
            function=_FN + "dqn.td_targets",
            equation="(5.14)",
            description="y = r + gamma (1 - D) max_a Q'(o', a), gamma = 0.99, two terminals",
            inputs={
                "rewards": rng.normal(size=6),
                "next_q": next_q,
                "terminated": np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0]),
                "gamma": 0.99,
            },
            compute=lambda inp: {
                "y": dqn.td_targets(inp["rewards"], inp["next_q"], inp["terminated"], inp["gamma"])
            },
        ),
        Case(
            name="ngc.dqn.td_loss_and_grads",
            function=_FN + "dqn.td_loss_and_grads",
            equation="(5.15)-(5.16)",
            description="Huber TD loss (kappa = 1) of an MLP 3-5-4 (ReLU) on the taken actions "
            "and its gradient w.r.t. W1, b1, W2, b2",
            inputs={
                "params": dq_params,
                "obs": obs,
                "actions": actions.astype(np.float64),
                "targets": targets,
                "loss": "huber",
                "kappa": 1.0,
            },
            compute=_td_loss,
        ),
    ]
