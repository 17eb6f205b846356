"""Test vectors of chapter 4 (registered as ``gflownet``); see :mod:`reference.vectors`.

The networks, the reward schedule and the sample metrics are in
:mod:`reference.gflownet.vectors_models`.

Small problems with sizes that differ on purpose (V = 3 tokens, L = 4 positions, B = 2 or 3
sequences, K = 5 prefixes) so that a swapped axis in a port is a shape error. Integer arrays
(tokens, codes) are stored as float64 and cast back to int64 here; lists of per-level tables
are dicts ``{"t0": ..., "t1": ...}``. Arrays are time-major where the losses are.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from reference.gflownet import data, envs, losses, metrics
from reference.vectors import Case, register

SEED = 4
_FN = "reference.gflownet."


def _int(x):
    return np.asarray(x).astype(np.int64)


def _tables(inp):
    return [inp["tables"][f"t{t}"] for t in range(len(inp["tables"]))]


def _tree(inp):
    tables = _tables(inp)
    V, L = tables[0].shape[1], len(tables)
    log_p = metrics.terminal_log_probs(metrics.tabular_policy(tables), inp["alpha"], L, V)
    return {"log_p": log_p}


def _divergences(inp):
    p, q = inp["p"], inp["q"]
    return {
        "l1": np.asarray(metrics.l1_distance(p, q)),
        "entropy_p": np.asarray(metrics.entropy(p)),
        "kl_p_q": np.asarray(metrics.kl_divergence(p, q)),
        "kl_q_p": np.asarray(metrics.kl_divergence(q, p)),
    }


def _landscape(inp):
    R, L, V = inp["scores"], inp["length"], inp["vocab"]
    p_star = metrics.target_distribution(R, inp["beta"], inp["r_min"])
    modes = metrics.local_maxima(R, L, V)
    at = metrics.attainability(p_star, inp["alpha"], L, V)
    return {
        "p_star": p_star,
        "modes": modes.astype(np.float64),
        "violated_fraction": np.asarray(at["violated_fraction"]),
        "l1_naive": np.asarray(at["l1_naive"]),
        "l1_deconvolved": np.asarray(at["l1_deconvolved"]),
    }


def _hypergrid(inp):
    grid = envs.HyperGrid(int(inp["ndim"]), int(inp["height"]), inp["R0"], inp["R1"], inp["R2"])
    log_pf, log_F = grid.balanced_log_pf()
    return {
        "log_reward": grid.log_reward(grid.all_states()),
        "balanced_pf": np.exp(log_pf),  # probabilities: 0 (not -inf) off the grid
        "log_F": log_F,
        "p_exit": grid.terminal_distribution(log_pf),
        "p_exit_sticky": grid.terminal_distribution(log_pf, alpha=inp["alpha"]),
    }


def _sdb(inp, grad=True):
    args = (
        inp["log_flows"],
        inp["fwd_logits"],
        inp["bwd_logits"],
        inp.get("dyn_logprobs"),
        _int(inp["intended"]),
        _int(inp["realized"]),
        inp["log_reward"],
        inp["mask"],
    )
    if not grad:
        loss, r = losses.stochastic_db_loss(*args)
        return {"loss": np.asarray(loss), "residuals": r}
    loss, r, g = losses.stochastic_db_grad(*args)
    return {"loss": np.asarray(loss), "residuals": r, "grads": g}


def _tb_zvar(inp):
    a = (inp["log_pf"], inp["log_pb"], inp["log_reward"], inp["mask"])
    tb, r_tb, g_tb = losses.trajectory_balance_grad(inp["log_Z"], *a)
    zv, c, g_zv = losses.log_partition_variance_grad(*a)
    return {
        "tb_loss": np.asarray(tb),
        "tb_residuals": r_tb,
        "tb_grads": {k: np.asarray(v) for k, v in g_tb.items()},
        "zvar_loss": np.asarray(zv),
        "zvar_centred": c,
        "zvar_grads": {k: np.asarray(v) for k, v in g_zv.items()},
    }


def _subtb(inp):
    loss, _, g = losses.subtrajectory_balance_grad(
        inp["log_F"], inp["log_pf"], inp["log_pb"], inp["mask"], inp["lam"]
    )
    return {"loss": np.asarray(loss), "grads": g}


def _flow_matching(inp):
    in_mask, out_mask = inp["in_mask"] > 0, inp["out_mask"] > 0
    loss, r, g = losses.flow_matching_grad(inp["log_in"], in_mask, inp["log_out"], out_mask)
    return {"loss": np.asarray(loss), "residuals": r, "grads": g}


def _transition_logprobs(inp):
    fwd, bwd, a = inp["fwd_logits"], inp["bwd_logits"], _int(inp["intended"])
    log_pf, log_pb = losses.transition_logprobs(fwd, bwd, a)
    d_fwd, d_bwd = losses.transition_logprobs_backward(fwd, bwd, a, inp["d_log_pf"],
                                                       inp["d_log_pb"])  # fmt: skip
    return {"log_pf": log_pf, "log_pb": log_pb, "d_fwd_logits": d_fwd, "d_bwd_logits": d_bwd}


def _dyn_ce(inp):
    loss, d = losses.dynamics_cross_entropy(inp["logits"], _int(inp["realized"]), inp["mask"])
    return {"loss": np.asarray(loss), "d_logits": d}


@register("gflownet")
def cases():
    rng = np.random.default_rng(SEED)
    V, L, B, K = 3, 4, 2, 5

    seqs = rng.integers(0, 4, size=(3, 8))
    codes_inp = {"sequences": seqs.astype(np.float64)}
    tables = {f"t{t}": 2.0 * rng.normal(size=(V**t, V)) for t in range(L)}
    tables["t2"][4, 1] = -np.inf  # a token the policy never intends: still realized by noise
    scores = rng.uniform(0.0, 1.0, size=V**L)
    scores[7] = 0.0  # a zero reward: the floor r_min keeps the target's support full
    p = rng.dirichlet(np.ones(6))
    q = rng.dirichlet(np.ones(6))

    intended = rng.integers(0, V, size=(K, B))
    realized = np.where(rng.random((K, B)) < 0.4, rng.integers(0, V, (K, B)), intended)
    mask = np.ones((K - 1, B))
    mask[0, 1] = 0.0  # the source's call leaves the first transition out of some chains
    sdb = {
        "log_flows": rng.normal(size=(K, B)),
        "fwd_logits": rng.normal(size=(K, B, V)),
        "bwd_logits": rng.normal(size=(K, B, V)),
        "dyn_logprobs": log_softmax(rng.normal(size=(K - 1, B, V)), axis=-1),
        "intended": intended.astype(np.float64),
        "realized": realized.astype(np.float64),
        "log_reward": np.log(rng.uniform(0.1, 1.0, size=B)),
        "mask": mask,
    }
    T3 = 6
    tmask = (np.arange(T3)[:, None] < np.array([6, 3, 4])[None, :]).astype(np.float64)
    traj = {
        "log_Z": 0.3,
        "log_pf": np.log(rng.uniform(0.1, 1.0, size=(T3, 3))),
        "log_pb": np.log(rng.uniform(0.1, 1.0, size=(T3, 3))),
        "log_reward": np.log(rng.uniform(0.1, 2.0, size=3)),
        "mask": tmask,
    }
    subtb = {
        "log_F": rng.normal(size=(T3 + 1, 3)),
        **{k: traj[k] for k in ("log_pf", "log_pb", "mask")},
        "lam": 0.9,
    }

    fm = {
        "log_in": rng.normal(size=(3, 2)),
        "in_mask": np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),
        "log_out": rng.normal(size=(3, 3)),
        "out_mask": np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]),
    }
    fm["log_in"][1, 1] = -np.inf  # a missing parent: any value, ignored by its mask

    return [
        Case(
            "gflownet.sequence_to_code",
            _FN + "data.sequence_to_code",
            "(4.1)",
            "codes of 8-mers over 4 tokens, first token most significant: sum x_i 4^(7-i); "
            "also the inverse and the 24 Hamming-1 neighbours (grouped by position, token "
            "increasing by 1..3 modulo 4)",
            codes_inp,
            lambda inp: {
                "codes": data.sequence_to_code(_int(inp["sequences"])).astype(np.float64),
                "round_trip": data.code_to_sequence(data.sequence_to_code(_int(inp["sequences"]))),
                "neighbours": data.hamming_neighbours(
                    data.sequence_to_code(_int(inp["sequences"]))
                ).astype(np.float64),
            },
        ),
        Case(
            "gflownet.sticky_kernel",
            _FN + "envs.sticky_kernel",
            "(4.2)-(4.3)",
            "T[a, v] = (1 - alpha) [v = a] + alpha / V for alpha 0.25, V 3; and the realized "
            "log-probabilities log((1 - alpha) pi + alpha / V) of two policies "
            "in log space; deconvolve (the inverse of the mixing) of those realized "
            "distributions (gives the policies back) and of rows with entries below alpha / V "
            "(clipped and renormalised)",
            {
                "alpha": 0.25,
                "vocab": 3,
                "log_pi": log_softmax(rng.normal(size=(2, 3)), -1),
                "sharp": np.array([[0.9, 0.1, 0.0], [0.05, 0.05, 0.9]]),
            },
            lambda inp: {
                "T": envs.sticky_kernel(inp["alpha"], inp["vocab"]),
                "log_q": metrics.log_realized(inp["log_pi"], inp["alpha"]),
                "deconvolved_q": metrics.deconvolve(
                    np.exp(metrics.log_realized(inp["log_pi"], inp["alpha"])), inp["alpha"]
                ),
                "deconvolved_sharp": metrics.deconvolve(inp["sharp"], inp["alpha"]),
            },
        ),
        Case(
            "gflownet.terminal_log_probs",
            _FN + "metrics.terminal_log_probs",
            "(4.5)",
            "exact log p(x) of all 3^4 sequences for a tabular policy (tables[t]: logits "
            "(3^t, 3) indexed by prefix code; one -inf logit) under sticky noise alpha 0.3",
            {"tables": tables, "alpha": 0.3},
            _tree,
        ),
        Case(
            "gflownet.divergences",
            _FN + "metrics.l1_distance",
            "(4.7)-(4.9)",
            "L1 = sum |p - q|, entropy -sum p log p, KL(p || q) and KL(q || p) of two random "
            "distributions over 6 outcomes",
            {"p": p, "q": q},
            _divergences,
        ),
        Case(
            "gflownet.landscape",
            _FN + "metrics.target_distribution",
            "(4.6)",
            "target max(R^beta, r_min) / Z (beta 3, r_min 1e-32, one zero reward) on a random "
            "3^4 landscape; its strict Hamming-1 local maxima; attainability at alpha 0.5 "
            "(share of target conditionals below alpha / V, L1 of the naive and deconvolved "
            "realizable policies)",
            {
                "scores": scores,
                "beta": 3.0,
                "r_min": 1e-32,
                "alpha": 0.5,
                "length": L,
                "vocab": V,
            },
            _landscape,
        ),
        Case(
            "gflownet.levenshtein",
            _FN + "metrics.levenshtein_matrix",
            "(4.17)",
            "pairwise edit distances of 5 sequences of length 8 (one a cyclic shift of "
            "another) and their mean over distinct pairs (diversity)",
            {"sequences": np.vstack([seqs, np.roll(seqs[:1], 1, axis=1), seqs[1:2]])},
            lambda inp: {
                "D": metrics.levenshtein_matrix(_int(inp["sequences"])).astype(np.float64),
            },
        ),
        Case(
            "gflownet.hypergrid_exact",
            _FN + "envs.HyperGrid.terminal_distribution",
            "(4.4)",
            "torchgfn's HyperGrid (D 2, H 4; R0 1e-3, R1 0.5, R2 2; states in row-major index "
            "order, actions +1 on axis 0, +1 on axis 1, exit): log R, the balanced forward "
            "policy's probabilities (uniform P_B; 0 off the grid) and its log-flows, its "
            "exact exit distribution (= R / Z) and the one under sticky moves (alpha 0.25: a "
            "move is replaced by one along a uniformly chosen valid axis)",
            {"ndim": 2, "height": 4, "R0": 1e-3, "R1": 0.5, "R2": 2.0, "alpha": 0.25},
            _hypergrid,
        ),
        Case(
            "gflownet.stochastic_db",
            _FN + "losses.stochastic_db_grad",
            "(4.15)",
            "SDB along K = 5 prefixes, B = 2, V = 3 (index k + 1 holds the token appended after "
            "prefix k); residuals, masked mean of squares and gradients w.r.t. log_flows, "
            "fwd_logits, bwd_logits, log_reward (dyn_logprobs constant)",
            sdb,
            _sdb,
        ),
        Case(
            "gflownet.detailed_balance_chain",
            _FN + "losses.stochastic_db_loss",
            "(4.11)",
            "the same chain without the dynamics term (deterministic DB)",
            {k: v for k, v in sdb.items() if k != "dyn_logprobs"},
            lambda inp: _sdb(inp, grad=False),
        ),
        Case(
            "gflownet.tb_zvar",
            _FN + "losses.trajectory_balance_grad",
            "(4.12), (4.14)",
            "TB (log Z 0.3) and ZVar for 3 trajectories of lengths 6, 3, 4 (time-major, "
            "padded with mask 0): losses, residuals and gradients",
            traj,
            _tb_zvar,
        ),
        Case(
            "gflownet.subtb",
            _FN + "losses.subtrajectory_balance_grad",
            "(4.13)",
            "SubTB(lambda = 0.9) of the same 3 trajectories with state flows log_F (T + 1, B)",
            subtb,
            _subtb,
        ),
        Case(
            "gflownet.dynamics_cross_entropy",
            _FN + "losses.dynamics_cross_entropy",
            "(4.16)",
            "masked mean of -log softmax(logits)[x] over (K - 1, B) = (4, 2) and its gradient",
            {
                "logits": rng.normal(size=(K - 1, B, V)),
                "realized": realized[1:].astype(np.float64),
                "mask": mask,
            },
            _dyn_ce,
        ),
        Case(
            "gflownet.flow_matching",
            _FN + "losses.flow_matching_grad",
            "(4.10)",
            "FM for 3 states: log edge flows in (3, 2) and out (3, 3; the last column is the "
            "log reward) with masks of the real entries (1 = real; a masked entry, -inf here, "
            "is ignored); mean of (logsumexp in - logsumexp out)^2, residuals and gradients",
            fm,
            _flow_matching,
        ),
        Case(
            "gflownet.transition_logprobs",
            _FN + "losses.transition_logprobs",
            "(4.11)",
            "log pi_k[a_{k+1}] = log_softmax(fwd_logits[k])[a_{k+1}] and log P_B,{k+1}[a_{k+1}] "
            "= log_softmax(bwd_logits[k + 1])[a_{k+1}] along K = 5 prefixes, B = 2, V = 3, and "
            "transition_logprobs_backward: the logits' adjoints for given output adjoints "
            "(zero for the last forward and the first backward row)",
            {
                "fwd_logits": sdb["fwd_logits"],
                "bwd_logits": sdb["bwd_logits"],
                "intended": sdb["intended"],
                "d_log_pf": rng.normal(size=(K - 1, B)),
                "d_log_pb": rng.normal(size=(K - 1, B)),
            },
            _transition_logprobs,
        ),
    ]
