"""Checker specs for the chapter 2 exercises (discrete active inference, pymdp's conventions).

Each spec compares the student's function with the library (``reference.active_inference``:
``inference``, ``control``, ``learning``) on seeded random cases and on adversarial cases
(zeros in A, B or q, entries of A below eps, soft observations, exact ties), and lists known
wrong variants (:class:`~exercises.check.Mistake`) whose hints are shown when a student's
output matches one of them. Equation numbers (2.k) are those of the module docstrings of
``reference/active_inference/{maths,inference,control,learning}.py``.

Layout (the chapter's): every array carries a leading batch axis; one factor with S states,
one modality with O outcomes (exercise 2.1 takes a list of modalities).
"""

from __future__ import annotations

import numpy as np

from exercises.check import Case, ExerciseSpec, Mistake, named_outputs, register
from reference import nn
from reference.active_inference import control, inference, learning
from reference.active_inference.maths import EPS

CHAPTER_DIR = "02-active-inference"
TOL = 1e-8  # relative error (reference.gradcheck.rel_error) allowed for every exercise


# --------------------------------------------------------------------------- helpers


def _ln(x):
    """Eq. (2.1), ln+(x) = ln(max(x, eps)), for the wrong variants and case builders."""
    return np.log(np.maximum(x, EPS))


def _cat(rng, shape, axis=-1, scale=1.0):
    """Categorical distributions along ``axis``: softmax of (``scale`` times) normal draws."""
    return nn.softmax(scale * rng.normal(size=shape), axis=axis)


def _likelihood(rng, batch, O, S, scale=1.0):
    """A (batch, O, S), every column A[b, :, s] a distribution over outcomes."""
    return _cat(rng, (batch, O, S), axis=1, scale=scale)


def _transitions(rng, batch, S, U, scale=1.0):
    """B (batch, S, S, U), every B[b, :, s, u] a distribution over next states."""
    return _cat(rng, (batch, S, S, U), axis=1, scale=scale)


def _one_hot(rng, batch, n):
    return np.eye(n)[rng.integers(n, size=batch)]


def _renormalise(x, axis):
    return x / x.sum(axis=axis, keepdims=True)


def _with_zeros_in_A(rng, batch, O, S):
    """A with exact zeros in every column (a third of the outcomes ruled out per state)."""
    A = _likelihood(rng, batch, O, S)
    mask = rng.random((batch, O, S)) < 0.35
    mask[:, 0, :] = False  # keep every column non-empty
    return _renormalise(np.where(mask, 0.0, A), axis=1)


def _contradiction_model(batch, S, tiny=1e-16):
    """A = identity with off-diagonal entries ``tiny`` (< eps), one-hot observations of state
    0, and a prior that rules state 0 out: the posterior is decided by how ln+ clips."""
    A = np.broadcast_to(
        np.eye(S) * (1.0 - (S - 1) * tiny) + tiny * (1.0 - np.eye(S)), (batch, S, S)
    )
    obs = np.zeros((batch, S))
    obs[:, 0] = 1.0
    prior = np.zeros((batch, S))
    prior[:, 1:] = 1.0 / (S - 1)
    return A.copy(), obs, prior


def _ll(A, o):
    """Eq. (2.5), one modality: sum_o o[o] ln+ A[o, s] -> (batch, S)."""
    return np.einsum("bo,bos->bs", o, _ln(A))


# --------------------------------------------------------------------------- 2.1 fpi update


def _ex1_reference(case):
    A, obs, prior = case.args
    return inference.fpi(list(A), list(obs), [prior], [[0]] * len(A))[0]


def _ex1_cases(rng):
    def model(batch, S, Os, soft=(), scale=1.0):
        A = [_likelihood(rng, batch, O, S, scale) for O in Os]
        obs = [
            _cat(rng, (batch, O)) if m in soft else _one_hot(rng, batch, O)
            for m, O in enumerate(Os)
        ]
        return A, obs, _cat(rng, (batch, S))

    zeros_A = [_with_zeros_in_A(rng, 3, 4, 3), _with_zeros_in_A(rng, 3, 2, 3)]
    zeros_obs = [_one_hot(rng, 3, 4), _one_hot(rng, 3, 2)]

    impossible = _likelihood(rng, 4, 3, 4)
    impossible[:, 0, :] = 0.0  # outcome 0 has probability 0 under every state
    impossible = _renormalise(impossible, axis=1)
    impossible_obs = np.zeros((4, 3))
    impossible_obs[:, 0] = 1.0

    A_c, obs_c, prior_c = _contradiction_model(2, 3)

    return [
        Case("random, one modality (batch=3, O=4, S=3), hard observation", model(3, 3, (4,))),
        Case(
            "two modalities (O = 4 and 2, S = 5): sum the log-likelihoods",
            model(2, 5, (4, 2)),
        ),
        Case(
            "soft observation: expected log-likelihood, not ln sum_o o A",
            model(3, 4, (5,), soft=(0,)),
        ),
        Case(
            "three modalities, one soft (O = 3, 4, 2; S = 3)",
            model(2, 3, (3, 4, 2), soft=(1,)),
        ),
        Case(
            "exact zeros in A (0 * ln+ 0 = 0, never 0 * -inf)",
            (zeros_A, zeros_obs, _cat(rng, (3, 3))),
        ),
        Case(
            "an outcome A says is impossible in every state is observed (q = prior)",
            ([impossible], [impossible_obs], _cat(rng, (4, 4))),
        ),
        Case(
            "near-deterministic A (entries ~1e-26 < eps)",
            model(3, 4, (4,), scale=30.0),
        ),
        Case(
            "A entries 1e-16 (< eps) and a prior that rules out the observed state: "
            "ln max(x, eps), not ln(x + eps)",
            ([A_c], [obs_c], prior_c),
        ),
    ]


def _ex1_variant(loglik=_ll, log_prior=_ln, modalities=slice(None)):
    def fn(A, obs, prior):
        total = sum(
            loglik(A_m, o_m) for A_m, o_m in zip(A[modalities], obs[modalities], strict=True)
        )
        return nn.softmax(total + log_prior(prior), axis=-1)

    return fn


register(
    ExerciseSpec(
        exercise_id="ex02_1",
        title="Exercise 2.1: single-factor fpi update (eqs. 2.5-2.6)",
        path=f"{CHAPTER_DIR}/ex1_fpi_update.py",
        function="fpi_posterior",
        reference=_ex1_reference,
        cases=_ex1_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like np.log without the clip: ln+(x) = ln(max(x, eps)) (eq. 2.1) is "
                "finite (entries below eps count as eps), so 0 * ln+ 0 = 0; np.log(0) = -inf gives "
                "0 * -inf = NaN.",
                _ex1_variant(
                    loglik=lambda A, o: np.einsum("bo,bos->bs", o, np.log(A)), log_prior=np.log
                ),
            ),
            Mistake(
                "looks like ln(x + eps) instead of ln(max(x, eps)) (eq. 2.1): they differ for "
                "entries near eps, and the library clips, as pymdp does.",
                _ex1_variant(
                    loglik=lambda A, o: np.einsum("bo,bos->bs", o, np.log(A + EPS)),
                    log_prior=lambda p: np.log(p + EPS),
                ),
            ),
            Mistake(
                "looks like ln sum_o o[o] A[o, s] (or Bayes' rule on o @ A): a soft observation "
                "enters as the EXPECTED log-likelihood sum_o o[o] ln+ A[o, s] (eq. 2.5), a "
                "geometric mixture of rows of ln A.",
                _ex1_variant(loglik=lambda A, o: _ln(np.einsum("bo,bos->bs", o, A))),
            ),
            Mistake(
                "looks like the prior is missing: q = softmax(sum_m LL_m + ln+ p) (eq. 2.6).",
                _ex1_variant(log_prior=np.zeros_like),
            ),
            Mistake(
                "looks like only the first modality was used: sum LL_m over all modalities "
                "(eq. 2.6).",
                _ex1_variant(modalities=slice(0, 1)),
            ),
        ),
        seed=201,
    )
)


# --------------------------------------------------------------------------- 2.2 VFE


def _empirical_prior(B, q_prev, action):
    """Eq. (2.11), one factor: p[b] = B[b, :, :, action[b]] @ q_prev[b]."""
    B_a = B[np.arange(B.shape[0]), :, :, action]  # (batch, S, S)
    return np.einsum("bij,bj->bi", B_a, q_prev)


def _ex2_reference(case):
    q, A, obs, D, B, q_prev, action = case.args
    if q_prev is None:
        prior = D
    else:
        prior = inference.empirical_prior([B], [q_prev], np.asarray(action)[:, None], [[0]])[0]
    return inference.vfe([q], [prior], [A], [obs], [[0]])[0]


def _ex2_cases(rng):
    def case(name, batch=3, S=4, O=3, U=2, A=None, obs=None, q=None, B=None, first=False):
        A = _likelihood(rng, batch, O, S) if A is None else A
        obs = _one_hot(rng, batch, O) if obs is None else obs
        q = _cat(rng, (batch, S)) if q is None else q
        B = _transitions(rng, batch, S, U) if B is None else B
        q_prev = None if first else _cat(rng, (batch, S))
        action = rng.integers(U, size=batch)
        return Case(name, (q, A, obs, _cat(rng, (batch, S)), B, q_prev, action))

    q_zeros = _cat(rng, (3, 4))
    q_zeros[:, 2:] = 0.0
    q_zeros = _renormalise(q_zeros, axis=-1)

    # A deterministic B (a permutation per action): the empirical prior is one-hot, while q
    # still puts mass on states the prior rules out (a finite KL through ln+ 0 = ln eps).
    perms = np.stack([np.eye(4)[:, [1, 2, 3, 0]], np.eye(4)[:, [0, 0, 1, 2]]], axis=-1)
    B_det = np.broadcast_to(perms, (3, 4, 4, 2)).copy()

    A_c, obs_c, _ = _contradiction_model(3, 4)
    q_c = _cat(rng, (3, 4))  # mass on states whose A entry for the observed outcome is 1e-16

    return [
        case("t >= 1, random belief, hard observation (batch=3, S=4, O=3)"),
        case("t = 0 (q_prev is None): the prior is D", first=True),
        case("soft observation: expected log-likelihood", obs=_cat(rng, (3, 3))),
        case("q with exact zeros: 0 ln+ 0 = 0 (xlogy semantics)", q=q_zeros),
        case("exact zeros in A", A=_with_zeros_in_A(rng, 3, 5, 4), O=5),
        case("deterministic B: the empirical prior has exact zeros where q has mass", B=B_det),
        case("A entries 1e-16 (< eps): ln max(x, eps), not ln(x + eps)", A=A_c, obs=obs_c, q=q_c),
        case("batch = 1, S = 2, O = 2, U = 3", batch=1, S=2, O=2, U=3),
    ]


def _ex2_variant(
    ln=_ln, prior_of=_empirical_prior, accuracy_sign=1.0, loglik=None, reverse_kl=False
):
    def fn(q, A, obs, D, B, q_prev, action):
        p = D if q_prev is None or prior_of is None else prior_of(B, q_prev, action)
        LL = np.einsum("bo,bos->bs", obs, ln(A)) if loglik is None else loglik(A, obs)
        kl = np.sum(p * (ln(p) - ln(q)), -1) if reverse_kl else np.sum(q * (ln(q) - ln(p)), -1)
        return kl - accuracy_sign * np.sum(q * LL, axis=-1)

    return fn


register(
    ExerciseSpec(
        exercise_id="ex02_2",
        title="Exercise 2.2: variational free energy of a belief (eqs. 2.8, 2.11)",
        path=f"{CHAPTER_DIR}/ex2_free_energy.py",
        function="variational_free_energy",
        reference=_ex2_reference,
        cases=_ex2_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like np.log without the clip: with ln+(x) = ln(max(x, eps)) (eq. 2.1) "
                "every product q ln+ x is finite and 0 where q == 0 (entries below eps count as "
                "eps); np.log gives 0 * -inf = NaN and an infinite KL where the prior is 0.",
                _ex2_variant(ln=np.log),
            ),
            Mistake(
                "looks like ln(x + eps) instead of ln(max(x, eps)) (eq. 2.1): they differ for "
                "entries near eps.",
                _ex2_variant(ln=lambda x: np.log(x + EPS)),
            ),
            Mistake(
                "looks like D was used as the prior at t >= 1: F's prior is the empirical prior "
                "p = B[:, :, a] q_prev (eq. 2.11) the belief was inferred with; D is the prior "
                "only at t = 0.",
                _ex2_variant(prior_of=None),
            ),
            Mistake(
                "looks like B was contracted over the wrong axis: B[s', s, u] is normalised over "
                "the NEXT state s' (axis 1 after the batch axis), so p[s'] = sum_s B[s', s, a] "
                "q_prev[s] (eq. 2.11).",
                _ex2_variant(
                    prior_of=lambda B, q_prev, action: np.einsum(
                        "bji,bj->bi", B[np.arange(B.shape[0]), :, :, action], q_prev
                    )
                ),
            ),
            Mistake(
                "looks like ln sum_o o[o] A[o, s]: the accuracy uses the EXPECTED "
                "log-likelihood sum_o o[o] ln+ A[o, s] (eq. 2.5), which differs for soft "
                "observations.",
                _ex2_variant(loglik=lambda A, o: _ln(np.einsum("bo,bos->bs", o, A))),
            ),
            Mistake(
                "sign of the accuracy: F = KL(q || p) - E_q[ln p(o | s)] (eq. 2.8); the "
                "expected log-likelihood is subtracted.",
                _ex2_variant(accuracy_sign=-1.0),
            ),
            Mistake(
                "looks like KL(p || q): the complexity term is KL(q || p) = sum_s q (ln+ q - "
                "ln+ p), an expectation under the belief q (eq. 2.8).",
                _ex2_variant(reverse_kl=True),
            ),
        ),
        seed=202,
    )
)


# --------------------------------------------------------------------------- 2.3 EFE


def _ex3_reference(case):
    q, A, B, C, policy = case.args
    policies = np.asarray(policy).reshape(1, -1, 1)
    G, _ = control.neg_efe([q], [A], [B], [C], policies, [[0]], [[0]])
    return G[:, 0]


def _ex3_cases(rng):
    def case(name, batch=3, S=3, O=4, U=2, H=1, A=None, B=None, C=None, q=None, policy=None):
        A = _likelihood(rng, batch, O, S) if A is None else A
        B = _transitions(rng, batch, S, U) if B is None else B
        C = 2.0 * rng.normal(size=(batch, O)) if C is None else C
        q = _cat(rng, (batch, S)) if q is None else q
        policy = rng.integers(U, size=H) if policy is None else np.asarray(policy)
        return Case(name, (q, A, B, C, policy))

    B_zeros = _transitions(rng, 2, 4, 3)
    mask = rng.random(B_zeros.shape) < 0.4
    mask[:, 0] = False  # keep every column non-empty
    B_zeros = _renormalise(np.where(mask, 0.0, B_zeros), axis=1)

    shift = np.broadcast_to(np.eye(4)[:, [3, 0, 1, 2]][..., None], (2, 4, 4, 1)).copy()
    q_onehot = np.eye(4)[[0, 2]]

    return [
        case("one step (H = 1), random model (batch=3, S=3, O=4, U=2)"),
        case("three steps (H = 3): roll the beliefs forward, sum over tau", H=3, U=3),
        case(
            "exact zeros in A and B (0 ln+ 0 = 0 in both entropies)",
            batch=2,
            S=4,
            O=5,
            U=3,
            H=2,
            A=_with_zeros_in_A(rng, 2, 5, 4),
            B=B_zeros,
        ),
        case(
            "near-deterministic A (entries ~1e-26 < eps), H = 2",
            S=4,
            O=4,
            H=2,
            A=_likelihood(rng, 3, 4, 4, scale=30.0),
        ),
        case(
            "one-hot q, B a cyclic shift (deterministic rollout), H = 2",
            batch=2,
            S=4,
            O=3,
            U=1,
            B=shift,
            q=q_onehot,
            policy=[0, 0],
        ),
        case(
            "raw preferences C of size ~10 (not log-softmaxed)",
            O=3,
            C=np.array([[10.0, 0.0, -10.0]]).repeat(3, axis=0),
        ),
        case("batch = 1, O = 2, S = 5, U = 4, H = 2", batch=1, S=5, O=2, U=4, H=2),
    ]


def _ex3_variant(
    ln=_ln,
    utility_C=lambda C: C,
    info_gain=True,
    ambiguity_sign=-1.0,
    obs_before_transition=False,
    transpose_B=False,
    steps=slice(None),
):
    def fn(q, A, B, C, policy):
        H_A = -np.sum(A * ln(A), axis=1)  # (batch, S)
        s, G = q, 0.0
        for tau, u in enumerate(np.asarray(policy)):
            B_u = B[..., int(u)]
            s_next = np.einsum("bji,bj->bi" if transpose_B else "bij,bj->bi", B_u, s)
            s_obs = s if obs_before_transition else s_next
            qo = np.einsum("bos,bs->bo", A, s_obs)
            term = np.sum(qo * utility_C(C), axis=-1)
            if info_gain:
                term = term - np.sum(qo * ln(qo), axis=-1)
                term = term + ambiguity_sign * np.sum(s_obs * H_A, axis=-1)
            if tau in range(len(policy))[steps]:
                G = G + term
            s = s_next
        return G

    return fn


register(
    ExerciseSpec(
        exercise_id="ex02_3",
        title="Exercise 2.3: negative expected free energy of one policy (eqs. 2.12-2.18)",
        path=f"{CHAPTER_DIR}/ex3_expected_free_energy.py",
        function="neg_expected_free_energy",
        reference=_ex3_reference,
        cases=_ex3_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like C was log-softmaxed: pymdp 1.0 uses C RAW in the utility qo . C "
                "(eq. 2.14). ln softmax(C) shifts every policy's G by the same constant per "
                "step, so q_pi is unchanged, but G is not (pymdp issue #439).",
                _ex3_variant(utility_C=lambda C: nn.log_softmax(C, axis=-1)),
            ),
            Mistake(
                "looks like np.log without the clip: H[x] = -sum x ln+ x with ln+ = ln max(x, "
                "eps) (eq. 2.1) is 0 where x == 0; np.log gives 0 * -inf = NaN.",
                _ex3_variant(ln=np.log),
            ),
            Mistake(
                "looks like the state information gain is missing: G adds H[qo] - E_s[H[A[:, "
                "s]]] (eq. 2.15) to the utility at every step.",
                _ex3_variant(info_gain=False),
            ),
            Mistake(
                "sign of the ambiguity: info_gain = H[qo] - E_s[H[A[:, s]]] (eq. 2.15); the "
                "expected entropy of the likelihood is subtracted.",
                _ex3_variant(ambiguity_sign=+1.0),
            ),
            Mistake(
                "looks like the ambiguity term E_s[H[A[:, s]]] is missing from the information "
                "gain (eq. 2.15): H[qo] alone rewards noisy outcomes.",
                _ex3_variant(ambiguity_sign=0.0),
            ),
            Mistake(
                "looks like the outcomes were predicted from the belief BEFORE the transition: "
                "step tau first moves s_{tau+1} = B[:, :, u_tau] s_tau (eq. 2.12), then "
                "qo = A s_{tau+1} (eq. 2.13).",
                _ex3_variant(obs_before_transition=True),
            ),
            Mistake(
                "looks like B was contracted over the wrong axis: B[s', s, u] is normalised over "
                "the next state s' (axis 1 after the batch axis), s_{tau+1}[s'] = sum_s "
                "B[s', s, u] s_tau[s] (eq. 2.12).",
                _ex3_variant(transpose_B=True),
            ),
            Mistake(
                "looks like only the first step was scored: G sums utility + info_gain over "
                "every step tau = 0..H-1 of the policy (eq. 2.18).",
                _ex3_variant(steps=slice(0, 1)),
            ),
            Mistake(
                "looks like only the last step was scored: G sums utility + info_gain over "
                "every step tau = 0..H-1 of the policy (eq. 2.18).",
                _ex3_variant(steps=slice(-1, None)),
            ),
        ),
        seed=203,
    )
)


# --------------------------------------------------------------------------- 2.4 Dirichlet A


def _ex4_reference(case):
    pA, obs_seq, qs_seq, lr = case.args
    new_pA, new_A = learning.update_pA([pA], [obs_seq], [qs_seq], [[0]], lr)
    return new_pA[0], new_A[0]


def _ex4_cases(rng):
    def case(name, batch=2, T=3, O=3, S=4, lr=1.0, pA=None, obs=None, qs=None, soft=False):
        pA = rng.uniform(0.1, 3.0, size=(batch, O, S)) if pA is None else pA
        if obs is None:
            obs = _cat(rng, (batch, T, O)) if soft else np.eye(O)[rng.integers(O, size=(batch, T))]
        qs = _cat(rng, (batch, T, S)) if qs is None else qs
        return Case(name, (pA, obs, qs, lr))

    # State 0 is never believed in and its column of counts is empty: A[:, 0] = 0 / 0
    # without the clip, uniform with it.
    pA_empty = rng.uniform(0.1, 3.0, size=(2, 3, 4))
    pA_empty[:, :, 0] = 0.0
    qs_empty = _cat(rng, (2, 3, 4))
    qs_empty[..., 0] = 0.0
    qs_empty = _renormalise(qs_empty, axis=-1)

    pA_struct = rng.uniform(0.5, 2.0, size=(2, 3, 4))
    pA_struct[:, 2, :] = 0.0  # outcome 2 never observed below: its entries stay exactly 0
    obs_struct = np.eye(3)[rng.integers(2, size=(2, 4))]

    return [
        case("random (batch=2, T=3, O=3, S=4), hard observations, lr = 1"),
        case("soft observations, lr = 0.5", soft=True, lr=0.5),
        case(
            "a state with no counts at all (all-zero column): clip at eps, then normalise",
            pA=pA_empty,
            qs=qs_empty,
        ),
        case(
            "structural zeros in pA (outcome never observed): they come back as eps / sum",
            T=4,
            pA=pA_struct,
            obs=obs_struct,
        ),
        case("O = S = 3 (square): counts[o, s] = o[o] q[s]", O=3, S=3, T=2),
        case("T = 1, lr = 2, batch = 1", batch=1, T=1, lr=2.0),
        case(
            "large prior counts (pA ~ 1e3), lr = 0.1, T = 5",
            T=5,
            lr=0.1,
            pA=rng.uniform(500.0, 1500.0, size=(2, 3, 4)),
        ),
    ]


def _ex4_variant(
    clip=True, norm_axis=1, transpose=False, use_lr=True, last_only=False, scale_all=False
):
    def fn(pA, obs_seq, qs_seq, lr):
        o, q = (obs_seq[:, -1:], qs_seq[:, -1:]) if last_only else (obs_seq, qs_seq)
        counts = np.einsum("bts,bto->bos", o, q) if transpose else np.einsum("bto,bts->bos", o, q)
        rate = lr if use_lr else 1.0
        p = rate * (pA + counts) if scale_all else pA + rate * counts
        clipped = np.maximum(p, EPS) if clip else p
        return p, clipped / clipped.sum(axis=norm_axis, keepdims=True)

    return fn


register(
    ExerciseSpec(
        exercise_id="ex02_4",
        title="Exercise 2.4: Dirichlet update of pA and the expected A (eqs. 2.20-2.21)",
        path=f"{CHAPTER_DIR}/ex4_dirichlet_update.py",
        function="update_dirichlet_A",
        reference=_ex4_reference,
        cases=_ex4_cases,
        tol=TOL,
        outputs=named_outputs("new_pA", "new_A"),
        mistakes=(
            Mistake(
                "looks like pA was normalised without the clip: A = max(pA, eps) / sum_o "
                "max(pA, eps) (eq. 2.20), so a column with no counts comes back uniform, not "
                "0 / 0 = NaN.",
                _ex4_variant(clip=False),
            ),
            Mistake(
                "looks like A was normalised over the states: every column A[:, s] is a "
                "distribution over OUTCOMES, so divide by the sum over o (axis 1 after the "
                "batch axis) (eq. 2.20).",
                _ex4_variant(norm_axis=2),
            ),
            Mistake(
                "looks like the outer product is transposed: counts[o, s] = sum_t o_t[o] q_t[s] "
                "(eq. 2.21), outcomes first, like A.",
                _ex4_variant(transpose=True),
            ),
            Mistake(
                "looks like the learning rate is missing: pA <- pA + lr * sum_t o_t (x) q_t "
                "(eq. 2.21).",
                _ex4_variant(use_lr=False),
            ),
            Mistake(
                "looks like lr scaled the prior counts too: only the new counts are scaled, "
                "pA <- pA + lr * sum_t o_t (x) q_t (eq. 2.21).",
                _ex4_variant(scale_all=True),
            ),
            Mistake(
                "looks like only the last time step was counted: sum o_t (x) q_t over every t "
                "of the sequence (eq. 2.21).",
                _ex4_variant(last_only=True),
            ),
        ),
        seed=204,
    )
)


# --------------------------------------------------------------------------- 2.5 q_pi, action


def _ex5_reference(case):
    G, E, gamma, policies = case.args
    q_pi = control.policy_posterior(G, E, gamma)
    num_controls = [int(u) + 1 for u in np.asarray(policies).max(axis=(0, 1))]
    return q_pi, control.select_action(q_pi, policies, num_controls)


def _ex5_cases(rng):
    one_step = control.construct_policies([4], 1)  # (4, 1, 1)

    def case(name, G, E=None, gamma=1.0, policies=one_step):
        E = np.full_like(G, 1.0 / G.shape[-1]) if E is None else E
        return Case(name, (G, E, gamma, policies))

    ties = np.array([[1.0, 3.0, 0.5, 3.0], [-2.0, -2.0, -2.0, -2.0], [0.0, 0.0, -1.0, 0.0]])
    two_factor = control.construct_policies([2, 3], 2)  # (36, 2, 2)
    G_big = np.array([[0.0, 40.0, 1.0, -1.0], [2.0, 45.0, 0.0, 0.0]])
    E_zero = np.array([[0.4, 0.0, 0.4, 0.2], [0.5, 0.0, 0.25, 0.25]])

    return [
        case(
            "random G, uniform E, gamma = 1 (batch=3, 4 one-step policies)", rng.normal(size=(3, 4))
        ),
        case("exact ties in G: the FIRST maximal index wins", ties),
        case(
            "gamma = 16, non-uniform E",
            0.3 * rng.normal(size=(3, 4)),
            E=_cat(rng, (3, 4)),
            gamma=16.0,
        ),
        case(
            "E with a zero: ln+ 0 = -36.04, so a policy 40 nats better still wins",
            G_big,
            E=E_zero,
        ),
        case(
            "G shifted by -1e3 (what ln softmax(C) does to G): q_pi must not change",
            rng.normal(size=(2, 4)) - 1e3,
        ),
        case(
            "two factors, two-step policies (36): the action is the policy's FIRST step",
            rng.normal(size=(2, 36)),
            E=_cat(rng, (2, 36)),
            policies=two_factor,
        ),
        case(
            "per-batch precision gamma (batch,) = (0.5, 4, 16)",
            rng.normal(size=(3, 4)),
            E=_cat(rng, (3, 4)),
            gamma=np.array([0.5, 4.0, 16.0]),
        ),
    ]


def _ex5_variant(
    logits=lambda G, E, gamma: gamma * G + _ln(E),
    softmax=lambda z: nn.softmax(z, axis=-1),
    last_index=False,
    step=0,
):
    def fn(G, E, gamma, policies):
        gamma = np.asarray(gamma, dtype=np.float64)
        gamma = gamma[:, None] if gamma.ndim == 1 else gamma
        q_pi = softmax(logits(G, E, gamma))
        idx = np.argmax(q_pi, axis=-1)
        if last_index:
            idx = q_pi.shape[-1] - 1 - np.argmax(q_pi[:, ::-1], axis=-1)
        return q_pi, np.asarray(policies)[idx, step, :]

    return fn


def _naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


register(
    ExerciseSpec(
        exercise_id="ex02_5",
        title="Exercise 2.5: policy posterior and deterministic action selection (eq. 2.19)",
        path=f"{CHAPTER_DIR}/ex5_policy_posterior.py",
        function="policy_posterior_and_action",
        reference=_ex5_reference,
        cases=_ex5_cases,
        tol=TOL,
        outputs=named_outputs("q_pi", "action"),
        mistakes=(
            Mistake(
                "looks like ties went to the LAST maximal index: np.argmax returns the first "
                "one, and so does pymdp (ties are real: equal B columns give equal G).",
                _ex5_variant(last_index=True),
            ),
            Mistake(
                "sign: G is the NEGATIVE expected free energy (larger is better), so q_pi = "
                "softmax(gamma G + ln+ E) (eq. 2.19), not softmax(-gamma G + ...).",
                _ex5_variant(logits=lambda G, E, gamma: -gamma * G + _ln(E)),
            ),
            Mistake(
                "looks like gamma also multiplied ln+ E: q_pi = softmax(gamma G + ln+ E) "
                "(eq. 2.19); the habit prior is not scaled by the precision.",
                _ex5_variant(logits=lambda G, E, gamma: gamma * (G + _ln(E))),
            ),
            Mistake(
                "looks like np.log(E) without the clip: ln+ 0 = ln eps = -36.04 (eq. 2.1), so "
                "a policy with E = 0 can still win when its G is more than 36 nats better.",
                _ex5_variant(logits=lambda G, E, gamma: gamma * G + np.log(E)),
            ),
            Mistake(
                "looks like E entered as is: the habit enters through its log, + ln+ E (eq. 2.19).",
                _ex5_variant(logits=lambda G, E, gamma: gamma * G + E),
            ),
            Mistake(
                "looks like exp without subtracting the max: G ~ -1e3 underflows to 0 / 0. "
                "Compute softmax(z) as exp(z - max z) / sum exp(z - max z).",
                _ex5_variant(softmax=_naive_softmax),
            ),
            Mistake(
                "looks like the action came from the policy's LAST step: act on its first "
                "step, policies[idx, 0, :].",
                _ex5_variant(step=-1),
            ),
        ),
        seed=205,
    )
)
