"""Test vectors of chapter 4, part 2: the networks, the reward schedule, the sample metrics.

Registered under ``gflownet`` next to :mod:`reference.gflownet.vectors` (same conventions:
V = 3 tokens, L = 4 positions, B = 2 sequences; integer arrays stored as float64).
"""

from __future__ import annotations

import numpy as np

from reference.gflownet import metrics, models, train
from reference.vectors import Case, register

SEED = 5
_FN = "reference.gflownet."


def _int(x):
    return np.asarray(x).astype(np.int64)


def _encodings(inp):
    codes = models.encode_prefixes(_int(inp["sequences"]), inp["length"], inp["vocab"])
    dyn = models.encode_dynamics_inputs(codes[:-1], _int(inp["intended"]).T, inp["vocab"])
    return {"prefix_codes": codes, "dynamics_inputs": dyn}


def _policy(inp):
    fwd, bwd, log_F, cache = models.policy_forward(inp["params"], inp["codes"])
    grads = models.policy_backward(inp["params"], cache, inp["d_fwd"], inp["d_bwd"],
                                   inp["d_log_flow"])  # fmt: skip
    return {"fwd_logits": fwd, "bwd_logits": bwd, "log_flow": log_F, "grads": grads}


def _dynamics(inp):
    logits, cache = models.dynamics_forward(inp["params"], inp["inputs"])
    grads = models.dynamics_backward(inp["params"], cache, inp["d_logits"])
    return {"logits": logits, "grads": grads}


def _reward(inp):
    beta, rho = inp["beta"], inp["rho"]
    return {
        "exponent": np.array([train.reward_exponent(t, beta, rho) for t in inp["t"]]),
        "log_reward": train.log_reward(inp["scores"], inp["exponent"], inp["floor"]),
    }


def _samples(inp):
    L, V, codes, R = inp["length"], inp["vocab"], _int(inp["codes"]), inp["scores"]
    return {
        "top_k": metrics.top_k(codes, R, inp["k"]).astype(np.float64),
        "diversity": np.asarray(metrics.diversity(codes, L, V)),
        "expected_modes_found": np.asarray(
            metrics.expected_modes_found(inp["p"], _int(inp["mode_codes"]), inp["n"])
        ),
    }


@register("gflownet")
def model_cases():
    rng = np.random.default_rng(SEED)
    V, L, B = 3, 4, 2
    scores = rng.uniform(0.0, 1.0, size=V**L)
    sample = rng.integers(0, V**L, size=7)
    sample[3] = sample[0]  # a duplicate: top_k keeps it, diversity counts the pair at 0
    small = {
        "sequences": rng.integers(0, V, size=(B, L)).astype(np.float64),
        "intended": rng.integers(0, V, size=(B, L)).astype(np.float64),
        "length": L,
        "vocab": V,
    }
    codes = models.encode_prefixes(_int(small["sequences"]), L, V)
    dyn_inputs = models.encode_dynamics_inputs(codes[:-1], _int(small["intended"]).T, V)
    policy = models.init_policy(L, V, 5, 2, rng)
    dynamics = models.init_dynamics(L, V, 5, 2, rng)
    return [
        Case(
            "gflownet.encode_prefixes",
            _FN + "models.encode_prefixes",
            "(4.1)",
            "one-hot prefix codes (L + 1, B, L V) of 2 sequences (L 4, V 3): row k has the "
            "one-hots of tokens 1..k in slots 0..k-1 and zeros after; and the dynamics inputs "
            "[code of prefix k, one-hot of the intended token k + 1] (L, B, (L + 1) V)",
            small,
            _encodings,
        ),
        Case(
            "gflownet.policy_network",
            _FN + "models.policy_forward",
            "(4.11)",
            "policy MLP 12 -> 5 -> 5 -> 7 (ReLU; W: (in, out)) on the prefix codes (5, 2, 12): "
            "forward logits o[:3], backward logits o[3:6], log F = o[6]; policy_backward: "
            "parameter gradients for given adjoints of the three heads",
            {
                "params": policy,
                "codes": codes,
                "d_fwd": rng.normal(size=(L + 1, B, V)),
                "d_bwd": rng.normal(size=(L + 1, B, V)),
                "d_log_flow": rng.normal(size=(L + 1, B)),
            },
            _policy,
        ),
        Case(
            "gflownet.dynamics_network",
            _FN + "models.dynamics_forward",
            "(4.16)",
            "dynamics MLP 15 -> 5 -> 5 -> 3 (ReLU) on the dynamics inputs (4, 2, 15): "
            "realized-token logits; dynamics_backward: parameter gradients for given logit "
            "adjoints",
            {"params": dynamics, "inputs": dyn_inputs, "d_logits": rng.normal(size=(L, B, V))},
            _dynamics,
        ),
        Case(
            "gflownet.reward",
            _FN + "train.log_reward",
            "(4.6)",
            "the reward exponent ramp beta(t) = 1 + (beta - 1)(1 - 1 / (1 + t / rho)) "
            "(beta 3, rho 3) at 5 iterations, and log max(max(R, 0)^2, 1e-32) of 6 scores, "
            "NaN and inf counted as 0",
            {
                "t": np.array([0.0, 1.0, 3.0, 10.0, 1000.0]),
                "beta": 3.0,
                "rho": 3.0,
                "scores": np.array([0.5, 1.0, 0.0, -0.3, np.nan, np.inf]),
                "exponent": 2.0,
                "floor": 1e-32,
            },
            _reward,
        ),
        Case(
            "gflownet.sample_metrics",
            _FN + "metrics.top_k",
            "(4.17)",
            "of 7 sampled codes of 3^4 sequences (one duplicated): the top 3 by score "
            "(duplicates kept, stable order), the mean Levenshtein distance over distinct pairs "
            "(diversity), and the exact expected number of distinct modes among n = 50 draws "
            "from p, sum over modes of 1 - (1 - p_m)^n (expected_modes_found)",
            {
                "codes": sample.astype(np.float64),
                "scores": scores,
                "k": 3,
                "length": L,
                "vocab": V,
                "p": rng.dirichlet(np.ones(V**L)),
                "mode_codes": metrics.local_maxima(scores, L, V).astype(np.float64),
                "n": 50,
            },
            _samples,
        ),
    ]
