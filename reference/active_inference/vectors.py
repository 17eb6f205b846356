"""Test vectors of chapter 2 (registered as ``active-inference``); see :mod:`reference.vectors`.

Every array carries the chapter's leading batch axis (batch 2). Sizes differ on purpose (two
factors of 3 and 4 states, modalities of 2 and 5 outcomes, 3 and 2 controls) so that a
swapped axis in a port is a shape error. Lists of arrays (one per modality or factor) are
stored as dicts ``{"m0": ..., "m1": ...}`` / ``{"f0": ...}``; dependencies as lists of
factor indices under the same keys; integer arrays (actions, policies) as float64.
"""

from __future__ import annotations

import numpy as np

from reference.active_inference import control, encoder, inference, learning
from reference.vectors import Case, register

SEED = 2
BATCH = 2
_FN = "reference.active_inference."


def _dirichlet_columns(rng, shape):
    """Random distributions over axis 1 (after the batch axis) of an array of ``shape``."""
    x = rng.gamma(1.0, size=shape)
    return x / x.sum(axis=1, keepdims=True)


def _simplex(rng, shape):
    x = rng.gamma(1.0, size=shape)
    return x / x.sum(axis=-1, keepdims=True)


def _lst(d, prefix):
    return [d[f"{prefix}{i}"] for i in range(len(d))]


def _dct(xs, prefix):
    return {f"{prefix}{i}": x for i, x in enumerate(xs)}


def _deps(d):
    return [[int(i) for i in d[f"m{m}"]] for m in range(len(d))]


def _fpi(inp):
    qs = inference.fpi(
        _lst(inp["A"], "m"),
        _lst(inp["obs"], "m"),
        _lst(inp["prior"], "f"),
        _deps(inp["A_dependencies"]),
        inp["num_iter"],
    )
    return {"qs": _dct(qs, "f")}


def _vfe(inp):
    F, parts = inference.vfe(
        _lst(inp["qs"], "f"),
        _lst(inp["prior"], "f"),
        _lst(inp["A"], "m"),
        _lst(inp["obs"], "m"),
        _deps(inp["A_dependencies"]),
    )
    keep = ("accuracy_t", "neg_entropy_t", "prior_cross_entropy_t")
    return {"F": F, **{k: parts[k] for k in keep}}


def _neg_efe(inp):
    B_deps = [[int(i) for i in inp["B_dependencies"][f"f{f}"]] for f in range(len(inp["B"]))]
    G, terms = control.neg_efe(
        _lst(inp["qs"], "f"),
        _lst(inp["A"], "m"),
        _lst(inp["B"], "f"),
        _lst(inp["C"], "m"),
        np.asarray(inp["policies"]).astype(np.int64),
        _deps(inp["A_dependencies"]),
        B_deps,
        use_param_info_gain=True,
        pA=_lst(inp["pA"], "m"),
        pB=_lst(inp["pB"], "f"),
    )
    q_pi = control.policy_posterior(G, inp["E"], inp["gamma"])
    return {"G": G, "q_pi": q_pi, "terms": terms}


def _update_pA(inp):
    pA, A = learning.update_pA(
        _lst(inp["pA"], "m"),
        _lst(inp["obs_seq"], "m"),
        _lst(inp["qs_seq"], "f"),
        _deps(inp["A_dependencies"]),
        lr=inp["lr"],
    )
    return {"pA": _dct(pA, "m"), "A": _dct(A, "m")}


def _update_pB(inp):
    B_deps = [[int(i) for i in inp["B_dependencies"][f"f{f}"]] for f in range(len(inp["pB"]))]
    pB, B = learning.update_pB(
        _lst(inp["pB"], "f"),
        _lst(inp["qs_seq"], "f"),
        np.asarray(inp["actions"]).astype(np.int64),
        B_deps,
        lr=inp["lr"],
    )
    return {"pB": _dct(pB, "f"), "B": _dct(B, "f")}


def _objective(inp):
    total, vfe, kl, _ = encoder.objective_forward(
        inp["logits"],
        np.asarray(inp["actions"]).astype(np.int64),
        inp["A"],
        inp["B"],
        inp["D"],
        inp["temperature"],
        inp["kl_weight"],
    )
    return {"total": np.asarray(total), "mean_vfe": np.asarray(vfe), "temporal_kl": np.asarray(kl)}


def _objective_grad(inp):
    total, _, grad = encoder.objective_and_grad(
        inp["logits"],
        np.asarray(inp["actions"]).astype(np.int64),
        inp["A"],
        inp["B"],
        inp["D"],
        inp["temperature"],
        inp["kl_weight"],
    )
    return {"total": np.asarray(total), "dlogits": grad}


@register("active-inference")
def cases():
    rng = np.random.default_rng(SEED)
    S, O, U = [3, 4], [2, 5], [3, 2]
    A_deps = {"m0": [0, 1], "m1": [1]}
    A = [
        _dirichlet_columns(rng, (BATCH, O[0], S[0], S[1])),
        _dirichlet_columns(rng, (BATCH, O[1], S[1])),
    ]
    A[0][0, :, 0, 0] = [1.0, 0.0]  # an exact zero exercises ln+ and xlogy
    obs = [_simplex(rng, (BATCH, O[0])), np.eye(O[1])[[1, 3]]]  # soft and one-hot
    prior = [_simplex(rng, (BATCH, S[0])), _simplex(rng, (BATCH, S[1]))]
    one = {  # the one-factor sub-problem: modality 1 sees factor 1 only
        "A": {"m0": A[1]},
        "obs": {"m0": obs[1] * 0.7 + 0.3 / O[1]},
        "prior": {"f0": prior[1]},
        "A_dependencies": {"m0": [0]},
        "num_iter": 16,
    }
    multi = {
        "A": _dct(A, "m"),
        "obs": _dct(obs, "m"),
        "prior": _dct(prior, "f"),
        "A_dependencies": A_deps,
        "num_iter": 16,
    }
    qs = inference.fpi(A, obs, prior, [[0, 1], [1]], 16)

    # Control and learning: factor 0 depends on itself, factor 1 on both (coupled transitions)
    B_deps = {"f0": [0], "f1": [1, 0]}
    B = [
        _dirichlet_columns(rng, (BATCH, S[0], S[0], U[0])),
        _dirichlet_columns(rng, (BATCH, S[1], S[1], S[0], U[1])),
    ]
    pA = [10.0 * a + rng.uniform(0.0, 1.0, a.shape) for a in A]
    pA[1][:, 0, 2] = 0.0  # a structural zero: masked out of the novelty, back via eps in E[A]
    pB = [5.0 * b + rng.uniform(0.0, 1.0, b.shape) for b in B]
    policies = control.construct_policies(U, policy_len=2)  # (36, 2, 2)
    C = [rng.normal(size=(BATCH, O[0])), rng.normal(size=(BATCH, 2, O[1]))]  # C[1] time-indexed
    T = 3
    qs_seq = [_simplex(rng, (BATCH, T, s)) for s in S]
    obs_seq = [_simplex(rng, (BATCH, T, O[0])), np.eye(O[1])[rng.integers(0, O[1], (BATCH, T))]]
    actions = np.stack(
        [rng.integers(0, U[0], (BATCH, T - 1)), rng.integers(0, U[1], (BATCH, T - 1))], -1
    )
    actions[1, 0, 1] = -1  # an invalid action contributes nothing

    # Encoder objective: a random one-factor model (not the line world), T=4, N=3, K=5
    Te, N, K = 4, 3, 5
    enc_inp = {
        "logits": 3.0 * rng.normal(size=(Te, N, K)),
        "actions": rng.integers(0, 3, size=(Te - 1, N)),
        "A": rng.dirichlet(np.ones(K), size=K).T,  # (O, S), columns sum to 1
        "B": rng.dirichlet(np.ones(K), size=(K, 3)).transpose(2, 0, 1),
        "D": rng.dirichlet(np.ones(K)),
        "temperature": 0.3,
        "kl_weight": 8.0,
    }

    return [
        Case(
            "active_inference.fpi.one_factor",
            _FN + "inference.fpi",
            "(2.1), (2.5)-(2.6)",
            "one factor (4 states), one modality (5 outcomes), soft observation: "
            "q = softmax(sum_o o[o] ln+ A[o, :] + ln+ prior), exact in one pass (num_iter "
            "ignored); ln+ x = ln max(x, 2.220446049250313e-16). Arrays (batch, ...)",
            one,
            _fpi,
        ),
        Case(
            "active_inference.fpi.two_factors",
            _FN + "inference.fpi",
            "(2.1), (2.5), (2.7)",
            "two factors (3, 4 states), modality 0 (2 outcomes) sees both, modality 1 "
            "(5 outcomes, one-hot) sees factor 1; start from uniform q, 16 Jacobi sweeps "
            "(every factor from the previous iterate), A[m0] has an exact zero",
            multi,
            _fpi,
        ),
        Case(
            "active_inference.vfe",
            _FN + "inference.vfe",
            "(2.8)",
            "F = sum_f q_f.ln+ q_f - sum_f q_f.ln+ p_f - sum_m E_q[LL_m] for the fpi "
            "posterior of the two-factor problem; also its three parts (p is the empirical "
            "prior passed in)",
            {**{k: v for k, v in multi.items() if k != "num_iter"}, "qs": _dct(qs, "f")},
            _vfe,
        ),
        Case(
            "active_inference.neg_efe",
            _FN + "control.neg_efe",
            "(2.12)-(2.19)",
            "G (negative EFE, larger is better) of all 36 policies (policy_len 2, controls "
            "(3, 2), itertools.product order) with utility (raw C; C[m1] time-indexed), state "
            "information gain and Dirichlet novelty of A and B (exact weight 2.17; pA has a "
            "structural zero); factor 1's transitions depend on factors 1 and 0; "
            "q_pi = softmax(gamma G + ln+ E) with gamma 1.5 and a non-uniform E",
            {
                "qs": _dct(qs, "f"),
                "A": _dct(A, "m"),
                "B": _dct(B, "f"),
                "C": _dct(C, "m"),
                "pA": _dct(pA, "m"),
                "pB": _dct(pB, "f"),
                "policies": policies.astype(np.float64),
                "A_dependencies": A_deps,
                "B_dependencies": B_deps,
                "E": _simplex(rng, (BATCH, policies.shape[0])),
                "gamma": 1.5,
            },
            _neg_efe,
        ),
        Case(
            "active_inference.update_pA",
            _FN + "learning.update_pA",
            "(2.20)-(2.21)",
            "pA_m += lr sum_t o_{m,t} (x) q_t(deps(m)) over T=3 steps, then A = "
            "max(pA, eps) / sum_o max(pA, eps) (the structural zero comes back as ~eps)",
            {
                "pA": _dct(pA, "m"),
                "obs_seq": _dct(obs_seq, "m"),
                "qs_seq": _dct(qs_seq, "f"),
                "A_dependencies": A_deps,
                "lr": 0.5,
            },
            _update_pA,
        ),
        Case(
            "active_inference.update_pB",
            _FN + "learning.update_pB",
            "(2.20), (2.22)",
            "pB_f += lr sum_t q_{t+1,f} (x) q_t(Bdeps(f)) (x) onehot(a_{t,f}) over T-1=2 "
            "transitions (an action of -1 adds nothing), then B = E[Dir(pB)]",
            {
                "pB": _dct(pB, "f"),
                "qs_seq": _dct(qs_seq, "f"),
                "actions": actions.astype(np.float64),
                "B_dependencies": B_deps,
                "lr": 2.0,
            },
            _update_pB,
        ),
        Case(
            "active_inference.encoder_objective",
            _FN + "encoder.objective_forward",
            "(2.23)-(2.30)",
            "the tutorial objective mean VFE + w temporal KL of time-major logits (T=4, N=3, "
            "K=5) with a random model A (K, K), B (K, K, 3), D, temperature 0.3, w = 8",
            enc_inp,
            _objective,
        ),
        Case(
            "active_inference.encoder_gradient",
            _FN + "encoder.objective_and_grad",
            "(2.31)-(2.36)",
            "dL/dlogits of the same problem by the hand-derived adjoints",
            enc_inp,
            _objective_grad,
        ),
    ]
