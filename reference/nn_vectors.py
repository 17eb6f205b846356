"""Test vectors of the shared core (:mod:`reference.nn`), registered as chapter ``core``.

Softmax and log-softmax with their vector-Jacobian products, the MLP forward and backward,
``clip_grad_norm`` above and below the threshold, and three Adam / seven RAdam updates (the
first steps are where the bias corrections and the eps placement matter most).
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.vectors import Case, register

SEED = 20240601


def _adam_like(opt_cls, doc_name, steps, description):
    rng = np.random.default_rng(SEED + steps)
    params = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,))}
    grads = {}
    for k in range(1, steps + 1):
        g = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,))}
        g["b"][0] = 1e-10 * (k % 2 * 2 - 1)  # a tiny gradient: exposes where eps is added
        grads[f"step{k}"] = g

    def compute(inp):
        opt = opt_cls(lr=inp["lr"])
        theta, state = inp["params"], opt.init(inp["params"])
        out = {}
        for k in range(1, inp["steps"] + 1):
            theta, state = opt.step(theta, inp["grads"][f"step{k}"], state)
            out[f"step{k}"] = {"params": theta, "m": state["m"], "v": state["v"]}
        out["final_step"] = state["step"]
        return out

    return Case(
        name=f"core.{doc_name}",
        function=f"reference.nn.{opt_cls.__name__}.step",
        equation="",
        description=description,
        inputs={"params": params, "grads": grads, "lr": 1e-3, "steps": steps},
        compute=compute,
    )


@register("core")
def cases():
    rng = np.random.default_rng(SEED)
    z = rng.normal(size=(5, 4)) * 3.0
    z[1] += 1000.0  # large logits: only the max-shifted form stays finite
    dout = rng.normal(size=(5, 4))
    s = nn.softmax(z)
    logp = nn.log_softmax(z)
    mlp = nn.init_mlp((6, 7, 7, 3), rng)
    x = rng.normal(size=(5, 6))
    dmlp = rng.normal(size=(5, 3))
    big = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=(3,))}  # norm well above 1
    small = {k: 1e-3 * v for k, v in big.items()}  # norm well below 1

    def mlp_both(inp):
        out, cache = nn.mlp_forward(inp["params"], inp["x"], activation="relu")
        grads, dx = nn.mlp_backward(inp["params"], cache, inp["dout"])
        return {"out": out, "grads": grads, "dx": dx}

    def clip(inp):
        clipped, total = nn.clip_grad_norm(inp["grads"], inp["max_norm"])
        return {"clipped": clipped, "total_norm": np.asarray(total)}

    return [
        Case(
            "core.softmax",
            "reference.nn.softmax",
            "",
            "softmax over the last axis, exp(z - max z) / sum exp(z - max z); row 1 has "
            "logits near 1000",
            {"z": z},
            lambda inp: {"s": nn.softmax(inp["z"])},
        ),
        Case(
            "core.softmax_backward",
            "reference.nn.softmax_backward",
            "",
            "vector-Jacobian product of the softmax, dz = s * (dout - <dout, s>) per row",
            {"s": s, "dout": dout},
            lambda inp: {"dz": nn.softmax_backward(inp["s"], inp["dout"])},
        ),
        Case(
            "core.log_softmax",
            "reference.nn.log_softmax",
            "",
            "log softmax over the last axis, z - logsumexp(z)",
            {"z": z},
            lambda inp: {"logp": nn.log_softmax(inp["z"])},
        ),
        Case(
            "core.log_softmax_backward",
            "reference.nn.log_softmax_backward",
            "",
            "vector-Jacobian product of log_softmax, dz = dout - exp(logp) * sum(dout)",
            {"logp": logp, "dout": dout},
            lambda inp: {"dz": nn.log_softmax_backward(inp["logp"], inp["dout"])},
        ),
        Case(
            "core.mlp",
            "reference.nn.mlp_forward / reference.nn.mlp_backward",
            "",
            "MLP 6-7-7-3, relu hidden layers, identity output, layers x @ W + b with W "
            "(in, out); backward of dout gives the parameter gradients and dx",
            {"params": mlp, "x": x, "dout": dmlp},
            mlp_both,
        ),
        Case(
            "core.clip_grad_norm.clipped",
            "reference.nn.clip_grad_norm",
            "",
            "torch.nn.utils.clip_grad_norm_ (norm type 2): total = global L2 norm of all "
            "gradients; coef = max_norm / (total + 1e-6); scale by coef when coef < 1. "
            "Here total > max_norm",
            {"grads": big, "max_norm": 1.0},
            clip,
        ),
        Case(
            "core.clip_grad_norm.unclipped",
            "reference.nn.clip_grad_norm",
            "",
            "as core.clip_grad_norm.clipped with total < max_norm: gradients returned "
            "bit-identical",
            {"grads": small, "max_norm": 1.0},
            clip,
        ),
        _adam_like(
            nn.Adam,
            "adam",
            3,
            "torch.optim.Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8 added after the "
            "bias correction of sqrt(v); state starts at zero, step counter k = 1 on the "
            "first update. grads.stepK is the gradient of update K; outputs.stepK the "
            "parameters and moments after it. b[0] has a 1e-10 gradient.",
        ),
        _adam_like(
            nn.RAdam,
            "radam",
            7,
            "torch.optim.RAdam, lr 1e-3, betas (0.9, 0.999), eps 1e-8 added to the "
            "uncorrected sqrt(v); the rectification switches on when rho_k > 5 (k >= 6 "
            "here), before that the update is lr * m_hat.",
        ),
    ]
