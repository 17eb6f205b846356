"""Checker specs for the chapter 4 exercises (stochastic GFlowNets, sticky actions).

Each spec compares the student's function with the library (``reference.gflownet``: ``envs``,
``metrics``, ``losses``) on seeded random cases and adversarial ones (alpha = 0 and 1,
log-probabilities of -1000 and -inf, logits of size 50, trajectories along the grid's walls,
a trajectory that exits at once), and lists known wrong variants whose hints are shown when a
student's output matches one. Equation numbers (4.k) are those of the module docstrings of
``reference/gflownet/{data,envs,metrics,losses}.py``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from exercises.check import Case, ExerciseSpec, Mistake, register
from reference.gflownet import envs, losses, metrics

CHAPTER_DIR = "04-stochastic-gflownets"
TOL = 1e-8  # relative error (reference.gradcheck.rel_error) allowed for every exercise


# --------------------------------------------------------------------------- 4.1 kernel


def _ex1_cases(rng):
    return [
        Case("TF-Bind-8's setting (alpha = 0.1, V = 4)", (0.1, 4)),
        Case("alpha drawn at random, V = 4", (float(rng.uniform(0.05, 0.95)), 4)),
        Case("alpha = 0: the environment always obeys", (0.0, 4)),
        Case("alpha = 1: the action is ignored", (1.0, 4)),
        Case("two tokens (V = 2), alpha = 0.37", (0.37, 2)),
        Case("V = 7, alpha = 0.5", (0.5, 7)),
    ]


def _ex1_variant(off_diagonal):
    def fn(alpha, vocab):
        return (1.0 - alpha) * np.eye(vocab) + off_diagonal(alpha, vocab)

    return fn


def _ex1_different_token(alpha, vocab):
    return (1.0 - alpha) * np.eye(vocab) + alpha / (vocab - 1) * (1.0 - np.eye(vocab))


register(
    ExerciseSpec(
        exercise_id="ex04_1",
        title="Exercise 4.1: the sticky transition kernel (eq. 4.2)",
        path=f"{CHAPTER_DIR}/ex1_sticky_kernel.py",
        function="sticky_kernel",
        reference=lambda case: envs.sticky_kernel(*case.args),
        cases=_ex1_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the noise replaces the action by a DIFFERENT token (alpha / (V - 1) "
                "off the diagonal): the noise token is drawn uniformly from ALL V tokens and may "
                "equal the intended one, so T[a, a] = 1 - alpha + alpha / V (eq. 4.2).",
                _ex1_different_token,
            ),
            Mistake(
                "looks like alpha was added without the 1 / V: the noise spreads its probability "
                "alpha over V tokens, alpha / V each, so every row sums to 1 (eq. 4.2).",
                _ex1_variant(lambda alpha, vocab: alpha * np.ones((vocab, vocab))),
            ),
            Mistake(
                "alpha and 1 - alpha are swapped: alpha is the probability that the "
                "environment IGNORES the action (eq. 4.2).",
                lambda alpha, vocab: alpha * np.eye(vocab) + (1.0 - alpha) / vocab,
            ),
        ),
        seed=401,
    )
)


# --------------------------------------------------------------------------- 4.2 log space


def _ex2_cases(rng):
    def normalised(shape, scale=1.0):
        return log_softmax(scale * rng.normal(size=shape), axis=-1)

    with np.errstate(divide="ignore"):
        sharp = np.log(np.array([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]))
    tiny = np.array([[0.0, -1000.0, -1000.0, -1000.0], [-1000.0, 0.0, -1000.0, -1000.0]])
    return [
        Case("random policies (N = 5, V = 4), alpha = 0.1", (normalised((5, 4)), 0.1)),
        Case("random, V = 3, alpha = 0.6", (normalised((4, 3), 3.0), 0.6)),
        Case("leading batch axes (2, 3, 4), alpha = 0.25", (normalised((2, 3, 4)), 0.25)),
        Case("-inf entries (tokens the policy never picks), alpha = 0.1", (sharp, 0.1)),
        Case(
            "alpha = 0 and log-probabilities of -1000: exp underflows, the answer is -1000",
            (tiny, 0.0),
        ),
        Case("alpha = 1: log(1 / V) whatever the policy", (normalised((3, 4), 5.0), 1.0)),
    ]


def _ex2_naive(log_pi, alpha):
    return np.log((1.0 - alpha) * np.exp(log_pi) + alpha / log_pi.shape[-1])


register(
    ExerciseSpec(
        exercise_id="ex04_2",
        title="Exercise 4.2: realized-token log-probabilities in log space (eq. 4.3)",
        path=f"{CHAPTER_DIR}/ex2_realized_log_probs.py",
        function="realized_log_probs",
        reference=lambda case: metrics.log_realized(*case.args),
        cases=_ex2_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like log((1 - alpha) exp(log pi) + alpha / V) computed directly: exp "
                "underflows to 0 for log pi = -1000, giving -inf where the answer is -1000 "
                "(alpha = 0). Combine the two terms with np.logaddexp (log1p(-alpha) + log pi, "
                "log(alpha / V)).",
                _ex2_naive,
            ),
            Mistake(
                "looks like the mixture was taken in log space, (1 - alpha) log pi + alpha "
                "log(1 / V): eq. (4.3) mixes PROBABILITIES, the log comes after.",
                lambda log_pi, alpha: (1 - alpha) * log_pi - alpha * np.log(log_pi.shape[-1]),
            ),
            Mistake(
                "looks like alpha was added without the 1 / V: each token gets alpha / V of "
                "the noise (eq. 4.3).",
                lambda log_pi, alpha: np.log((1.0 - alpha) * np.exp(log_pi) + alpha),
            ),
        ),
        seed=402,
    )
)


# --------------------------------------------------------------------------- 4.3 exact tree


def _ex3_reference(case):
    tables, alpha = case.args
    V, L = tables[0].shape[1], len(tables)
    return metrics.terminal_distribution(metrics.tabular_policy(tables), alpha, L, V)


def _ex3_cases(rng):
    def tables(L, V, scale=1.0):
        return [scale * rng.normal(size=(V**t, V)) for t in range(L)]

    impossible = tables(3, 3)
    impossible[1][:, 0] = -np.inf  # the policy never proposes token 0 at step 2
    return [
        Case("L = 3, V = 2, alpha = 0.3", (tables(3, 2), 0.3)),
        Case("L = 2, V = 4, alpha = 0.1 (first token most significant)", (tables(2, 4), 0.1)),
        Case("L = 4, V = 3, alpha = 0.25", (tables(4, 3), 0.25)),
        Case("alpha = 0: the plain autoregressive product", (tables(3, 3), 0.0)),
        Case("alpha = 1: uniform whatever the policy", (tables(3, 2, 4.0), 1.0)),
        Case(
            "unnormalised logits of size ~50: normalise each row (log-softmax)",
            (tables(3, 2, 50.0), 0.2),
        ),
        Case("-inf logits: token never intended, still realized by the noise", (impossible, 0.4)),
    ]


def _tree(tables, alpha, mix, order="first", normalise=True):
    V = tables[0].shape[1]
    p = np.ones(1)
    for table in tables:
        logp = log_softmax(table, axis=1) if normalise else table
        joint = p[:, None] * mix(logp, alpha, V)  # (V^t, V): prefix code c, token v
        p = joint.ravel() if order == "first" else joint.T.ravel()
    return p


def _sticky(logp, alpha, V):
    return (1.0 - alpha) * np.exp(logp) + alpha / V


register(
    ExerciseSpec(
        exercise_id="ex04_3",
        title="Exercise 4.3: the exact terminal distribution of a tiny tree (eqs. 4.1, 4.5)",
        path=f"{CHAPTER_DIR}/ex3_terminal_distribution.py",
        function="exact_terminal_distribution",
        reference=_ex3_reference,
        cases=_ex3_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the sticky noise is missing: each realized token has probability "
                "q = (1 - alpha) pi + alpha / V (eq. 4.3), not pi.",
                lambda tables, alpha: _tree(tables, alpha, lambda lp, a, V: np.exp(lp)),
            ),
            Mistake(
                "the codes come out in the wrong order: the child of prefix code c with token v "
                "has code c V + v (first token most significant, eq. 4.1), so a level's joint "
                "(V^t, V) array flattens row by row.",
                lambda tables, alpha: _tree(tables, alpha, _sticky, order="last"),
            ),
            Mistake(
                "looks like the tables were used as log-probabilities without normalising: they "
                "are logits; pi = softmax of each row.",
                lambda tables, alpha: _tree(tables, alpha, _sticky, normalise=False),
            ),
        ),
        seed=403,
    )
)


# --------------------------------------------------------------------------- 4.4 (S)DB


def _ex4_reference(case):
    args = case.args
    K, B = args[0].shape
    return losses.stochastic_db_loss(*args, np.ones((K - 1, B)))[1]


def _ex4_cases(rng):
    def chain(K, B, V=4, dynamics=True, scale=1.0, noisy=0.5):
        flows = rng.normal(size=(K, B))
        fwd = scale * rng.normal(size=(K, B, V))
        bwd = scale * rng.normal(size=(K, B, V))
        dyn = log_softmax(rng.normal(size=(K - 1, B, V)), axis=-1) if dynamics else None
        intended = rng.integers(0, V, size=(K, B))
        realized = np.where(rng.random((K, B)) < noisy, rng.integers(0, V, (K, B)), intended)
        log_reward = np.log(rng.uniform(0.01, 1.0, size=B))
        return (flows, fwd, bwd, dyn, intended, realized, log_reward)

    return [
        Case("the source's chain: K = 8 prefixes (lengths 1..8), B = 5", chain(8, 5)),
        Case("K = 9 (empty prefix included), B = 3", chain(9, 3)),
        Case("deterministic DB (dyn_logprobs is None), B = 4", chain(8, 4, dynamics=False)),
        Case("K = 2: one transition, straight to the reward", chain(2, 6)),
        Case("intended != realized almost everywhere", chain(6, 4, noisy=1.0)),
        Case("logits of size ~50 (normalise with a stable log-softmax)", chain(5, 3, scale=50.0)),
    ]


def _ex4_variant(pf_token="intended", dyn_token="realized", pb_index=1, final="reward", norm=True):
    def fn(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized, log_reward):
        K, B = log_flows.shape
        tokens = {"intended": intended, "realized": realized}
        lsm = (lambda z: log_softmax(z, axis=-1)) if norm else (lambda z: z)
        lpf, lpb = lsm(fwd_logits), lsm(bwd_logits)
        b = np.arange(B)
        out = np.zeros((K - 1, B))
        for k in range(K - 1):
            a_pf, a_dyn = tokens[pf_token][k + 1], tokens[dyn_token][k + 1]
            a_pb = tokens[pf_token][k + 1]
            r = log_flows[k] + lpf[k, b, a_pf] - lpb[k + pb_index, b, a_pb]
            if dyn_logprobs is not None:
                r = r + dyn_logprobs[k, b, a_dyn]
            last = k == K - 2 and final == "reward"
            out[k] = r - (log_reward if last else log_flows[k + 1])
        return out

    return fn


register(
    ExerciseSpec(
        exercise_id="ex04_4",
        title="Exercise 4.4: stochastic detailed-balance residuals (eq. 4.15; DB is eq. 4.11)",
        path=f"{CHAPTER_DIR}/ex4_sdb_residuals.py",
        function="sdb_residuals",
        reference=_ex4_reference,
        cases=_ex4_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the REALIZED token was scored by the policy and P_B: pi and P_B "
                "are distributions over the INTENDED token a (the agent's half-step); only the "
                "dynamics model scores the realized token x (eq. 4.15).",
                _ex4_variant(pf_token="realized"),
            ),
            Mistake(
                "looks like the dynamics model was read at the intended token: Phat(x | s, a) is "
                "the probability of the REALIZED token x (eq. 4.15).",
                _ex4_variant(dyn_token="intended"),
            ),
            Mistake(
                "looks like P_B was read at the parent prefix k: the backward policy lives at "
                "the CHILD prefix k + 1 (it chooses the parent of s'), eq. (4.15).",
                _ex4_variant(pb_index=0),
            ),
            Mistake(
                "looks like the last transition used the network's flow: at the end the target "
                "is log R (F(x) := R(x)), not log F of the full sequence.",
                _ex4_variant(final="flow"),
            ),
            Mistake(
                "looks like the logits were used as log-probabilities: apply log-softmax to "
                "each head first.",
                _ex4_variant(norm=False),
            ),
        ),
        seed=404,
    )
)


# --------------------------------------------------------------------------- 4.5 TB, grid


def _grid_of(pf_logits, pb_logits):
    """The HyperGrid whose tables these are: D + 1 forward actions, H^D states."""
    D = pb_logits.shape[1]
    return envs.HyperGrid(ndim=D, height=round(pf_logits.shape[0] ** (1 / D)))


def _ex5_reference(case):
    pf_logits, pb_logits, log_Z, states, actions, log_reward = case.args
    grid = _grid_of(pf_logits, pb_logits)
    idx = grid.index(states)
    valid_b = grid.backward_mask(grid.all_states())
    valid_b[0] = True  # s_0 has no parent; its row is never read
    log_pf = losses.masked_log_softmax(pf_logits, grid.forward_mask(grid.all_states()))
    log_pb = losses.masked_log_softmax(pb_logits, valid_b)
    n = len(actions)
    pf = log_pf[idx, actions][:, None]
    pb = np.zeros((n, 1))
    pb[:-1, 0] = log_pb[idx[1:], actions[:-1]]  # the exit (last action) has no P_B term
    return losses.trajectory_balance(log_Z, pf, pb, np.array([log_reward]), np.ones((n, 1)))[1][0]


def _random_trajectory(rng, grid, hug_wall=False, exit_prob=0.15):
    x = np.zeros(grid.ndim, dtype=np.int64)
    states, actions = [x.copy()], []
    while True:
        valid = np.flatnonzero(grid.forward_mask(x)[: grid.ndim])
        if valid.size == 0 or rng.random() < exit_prob:
            actions.append(grid.exit_action)
            break
        a = int(valid[0] if hug_wall else rng.choice(valid))
        x = grid.step(x, a)
        states.append(x.copy())
        actions.append(a)
    return np.array(states), np.array(actions)


def _ex5_cases(rng):
    def case(name, ndim, height, traj=None, hug_wall=False, scale=1.0, exit_prob=0.15):
        grid = envs.HyperGrid(ndim=ndim, height=height)
        pf = scale * rng.normal(size=(grid.n_states, ndim + 1))
        pb = scale * rng.normal(size=(grid.n_states, ndim))
        states, actions = traj or _random_trajectory(rng, grid, hug_wall, exit_prob)
        log_Z = float(rng.normal())
        return Case(name, (pf, pb, log_Z, states, actions, float(grid.log_reward(states[-1]))))

    wall = envs.HyperGrid(2, 5)
    corner = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [4, 1], [4, 2], [4, 3], [4, 4]])
    corner_actions = np.array([0, 0, 0, 0, 1, 1, 1, 1, wall.exit_action])
    return [
        Case(
            "torchgfn-like: 5 x 5 grid to the far corner (masked moves at both walls)",
            (
                rng.normal(size=(25, 3)),
                rng.normal(size=(25, 2)),
                0.37,
                corner,
                corner_actions,
                float(wall.log_reward(corner[-1])),
            ),
        ),
        case("random trajectory, 2-D grid of height 6", 2, 6),
        case("random trajectory, 3-D grid of height 4", 3, 4),
        case("along the wall x_0 = H - 1 (the +1 move there is masked)", 2, 5, hug_wall=True),
        case("exit at once from s_0 (one action: only P_F(exit | s_0))", 2, 4, exit_prob=1.0),
        case("logits of size ~30", 2, 5, scale=30.0),
    ]


def _ex5_variant(mask_f=True, mask_b=True, exit_in_pf=True, pb_at_parent=False, sign_R=-1.0):
    def fn(pf_logits, pb_logits, log_Z, states, actions, log_reward):
        grid = _grid_of(pf_logits, pb_logits)
        all_s = grid.all_states()
        vf = grid.forward_mask(all_s) if mask_f else np.ones(pf_logits.shape, bool)
        vb = grid.backward_mask(all_s) if mask_b else np.ones(pb_logits.shape, bool)
        vb[~vb.any(axis=1)] = True
        lpf = log_softmax(np.where(vf, pf_logits, -np.inf), axis=1)
        lpb = log_softmax(np.where(vb, pb_logits, -np.inf), axis=1)
        idx = grid.index(states)
        n = len(actions) if exit_in_pf else len(actions) - 1
        total = log_Z + lpf[idx[:n], actions[:n]].sum()
        child = idx[:-1] if pb_at_parent else idx[1:]
        total -= lpb[child, actions[:-1]].sum()
        return total + sign_R * log_reward

    return fn


register(
    ExerciseSpec(
        exercise_id="ex04_5",
        title="Exercise 4.5: trajectory balance on a HyperGrid, torchgfn's conventions (eq. 4.12)",
        path=f"{CHAPTER_DIR}/ex5_tb_residual.py",
        function="tb_residual",
        reference=_ex5_reference,
        cases=_ex5_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the forward log-softmax ran over every action: a +1 move off the "
                "grid (x_i = H - 1) is invalid and gets probability 0 (masked log-softmax).",
                _ex5_variant(mask_f=False),
            ),
            Mistake(
                "looks like the backward log-softmax ran over every action: undoing axis i is "
                "impossible where x_i = 0 (masked log-softmax).",
                _ex5_variant(mask_b=False),
            ),
            Mistake(
                "looks like the exit action was left out of the forward sum: P_F(exit | x) "
                "counts in sum log P_F (torchgfn's convention); only P_B has no exit term.",
                _ex5_variant(exit_in_pf=False),
            ),
            Mistake(
                "looks like P_B was read at the parent: P_B(s | s') is the backward policy AT "
                "the child s' (the state after the move).",
                _ex5_variant(pb_at_parent=True),
            ),
            Mistake(
                "sign of the reward: r = log Z + sum log P_F - sum log P_B - log R(x) (eq. 4.12).",
                _ex5_variant(sign_R=1.0),
            ),
        ),
        seed=405,
    )
)


# --------------------------------------------------------------------------- 4.6 deconvolve


def _ex6_cases(rng):
    def attainable(n, V, alpha):
        return envs.realized_probs(rng.dirichlet(np.ones(V), size=n), alpha)

    violated = rng.dirichlet(0.3 * np.ones(4), size=6)  # sparse rows: entries below alpha / V
    with_zero = np.array([[0.7, 0.3, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    return [
        Case(
            "attainable rows (V = 4, alpha = 0.1): the exact inverse", (attainable(5, 4, 0.1), 0.1)
        ),
        Case("attainable rows, V = 3, alpha = 0.6", (attainable(4, 3, 0.6), 0.6)),
        Case("rows with entries below alpha / V: clip, then renormalise", (violated, 0.25)),
        Case("exact zeros and a point mass (alpha = 0.2)", (with_zero, 0.2)),
        Case("alpha = 0: the identity", (rng.dirichlet(np.ones(5), size=3), 0.0)),
        Case("alpha = 1: the uniform policy", (with_zero, 1.0)),
        Case(
            "leading batch axes (2, 3, 4), alpha = 0.3",
            (attainable(6, 4, 0.3).reshape(2, 3, 4), 0.3),
        ),
    ]


def _ex6_unclipped(cond, alpha):
    return (cond - alpha / cond.shape[-1]) / (1.0 - alpha)


def _ex6_minus_alpha(cond, alpha):
    d = np.maximum(cond - alpha, 0.0)
    return d / d.sum(axis=-1, keepdims=True)


def _ex6_no_renormalise(cond, alpha):
    return np.maximum(cond - alpha / cond.shape[-1], 0.0) / (1.0 - alpha)


register(
    ExerciseSpec(
        exercise_id="ex04_6",
        title="Exercise 4.6: the deconvolved policy, undoing the sticky mixing (eq. 4.3)",
        path=f"{CHAPTER_DIR}/ex6_deconvolve.py",
        function="deconvolve",
        reference=lambda case: metrics.deconvolve(*case.args),
        cases=_ex6_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the exact inverse (q - alpha / V) / (1 - alpha) without clipping: "
                "where q < alpha / V it is negative, not a policy; clip at 0 and renormalise.",
                _ex6_unclipped,
            ),
            Mistake(
                "looks like the clipped row was divided by 1 - alpha instead of renormalised: "
                "after clipping the row no longer sums to 1 - alpha.",
                _ex6_no_renormalise,
            ),
            Mistake(
                "looks like alpha was subtracted instead of alpha / V: the noise puts alpha / V "
                "on every token (eq. 4.3).",
                _ex6_minus_alpha,
            ),
        ),
        seed=406,
    )
)
