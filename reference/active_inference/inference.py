"""State inference: expected log-likelihoods, fixed-point iteration, VFE, the exact filter.

Equations (one time step, batch axis omitted; ``deps(m)`` are the factors modality m sees)::

    (2.5)  LL_m[s] = sum_o o_m[o] ln+ A_m[o, s]            expected log-likelihood
    (2.6)  q = sigma( sum_m LL_m + ln+ p )                 one factor: exact in one pass
    (2.7)  L_f <- sum_{m : f in deps(m)} E_{prod_{g != f} q_g}[LL_m] + ln+ p_f,
           q_f = sigma(L_f)                                several factors: Jacobi sweeps
    (2.8)  F = sum_f sum_s q_f ln+ q_f - sum_f sum_s q_f ln+ p_f - sum_m E_q[LL_m]
             = neg_entropy + prior_cross_entropy - accuracy
    (2.9)  ln Z = ln sum_s exp(sum_m LL_m[s] + sum_f ln+ p_f(s_f))   (= ln p(o), hard o)
           post = exp(sum_m LL_m + sum_f ln+ p_f - ln Z)            exact joint posterior
    (2.10) F(q) = KL(q || post) - ln Z                               for every factorised q
    (2.11) p_{t+1, f} = E_{prod_{g in Bdeps(f)} q_g}[ B_f[:, ..., a_f] ]   empirical prior

A soft observation ``o_m`` enters (2.5) as an *expected* log-likelihood, i.e. a geometric
mixture of rows of ln A, not ``ln sum_o o[o] A[o, s]`` (pymdp's convention). The prior ``p``
of (2.6)-(2.8) is the empirical prior passed in, not D.
"""

from __future__ import annotations

from reference.backend import xp

from .maths import factor_dot, log_stable, softmax

VFE_COMPONENTS = (
    "accuracy_t",
    "neg_entropy_t",
    "parameter_kl",
    "parameter_kl_A",
    "parameter_kl_B",
    "prior_cross_entropy_t",
    "state_vfe",
    "transition_cross_entropy_t",
)


def log_likelihoods(A, obs):
    """Eq. (2.5) per modality: ``LL[m]`` (batch, *S_deps(m)) from ``obs[m]`` (batch, O_m)."""
    out = []
    for A_m, o_m in zip(A, obs, strict=True):
        o = o_m.reshape(o_m.shape + (1,) * (A_m.ndim - 2))
        out.append(xp.sum(o * log_stable(A_m), axis=1))
    return out


def _expand_to_joint(LL_m, deps, num_states):
    """Broadcast a (batch, *S_deps) array to the full joint (batch, S_0, ..., S_{F-1})."""
    order = sorted(range(len(deps)), key=lambda i: deps[i])
    x = xp.transpose(LL_m, (0, *[1 + i for i in order]))
    shape = [LL_m.shape[0]] + [num_states[f] if f in deps else 1 for f in range(len(num_states))]
    return x.reshape(shape)


def marginal_log_likelihood(LL_m, deps, qs, factor):
    """E over the other factors of ``LL_m`` (eq. 2.7's inner term), kept on ``factor``."""
    i = deps.index(factor)
    moved = xp.moveaxis(LL_m, 1 + i, 1)
    others = [qs[g] for g in deps if g != factor]
    return factor_dot(moved, others, n_keep=1)


def fpi(A, obs, prior, A_dependencies, num_iter=16):
    """Fixed-point iteration, eqs. (2.6)-(2.7). Returns ``qs``: list of (batch, S_f).

    One factor: eq. (2.6), exact in one pass; ``num_iter`` is ignored (as in pymdp).
    Several factors: start from ``L_f = 0`` (uniform q), then ``num_iter`` Jacobi sweeps of
    eq. (2.7): every factor is updated from the *previous* iterate, no convergence test.
    """
    LL = log_likelihoods(A, obs)
    log_prior = [log_stable(p) for p in prior]
    if len(prior) == 1:
        total = LL[0]
        for LL_m in LL[1:]:
            total = total + LL_m
        return [softmax(total + log_prior[0])]
    log_q = [xp.zeros_like(lp) for lp in log_prior]
    for _ in range(int(num_iter)):
        q = [softmax(L) for L in log_q]
        new = [xp.zeros_like(lp) for lp in log_prior]
        for LL_m, deps in zip(LL, A_dependencies, strict=True):
            for f in deps:
                new[f] = new[f] + marginal_log_likelihood(LL_m, deps, q, f)
        log_q = [n + lp for n, lp in zip(new, log_prior, strict=True)]
    return [softmax(L) for L in log_q]


def vfe(qs, prior, A, obs, A_dependencies):
    """Eq. (2.8): variational free energy per batch element and its parts.

    Returns ``(F, parts)`` with ``F``: (batch,) and ``parts`` a dict keyed like pymdp's
    ``vfe_components`` (``neg_entropy_t``, ``prior_cross_entropy_t``, ``accuracy_t`` =
    E_q[ln p(o|s)], ``state_vfe`` = F; the transition and Dirichlet terms are zero for the
    one-step methods).
    """
    neg_entropy = 0.0
    prior_ce = 0.0
    for q_f, p_f in zip(qs, prior, strict=True):
        neg_entropy = neg_entropy + xp.sum(q_f * log_stable(q_f), axis=-1)
        prior_ce = prior_ce - xp.sum(q_f * log_stable(p_f), axis=-1)
    accuracy = 0.0
    for LL_m, deps in zip(log_likelihoods(A, obs), A_dependencies, strict=True):
        accuracy = accuracy + factor_dot(LL_m, [qs[f] for f in deps], n_keep=0)
    F = neg_entropy + prior_ce - accuracy
    zero = xp.zeros_like(F)
    parts = {
        "accuracy_t": accuracy,
        "neg_entropy_t": neg_entropy,
        "parameter_kl": zero,
        "parameter_kl_A": zero,
        "parameter_kl_B": zero,
        "prior_cross_entropy_t": prior_ce,
        "state_vfe": F,
        "transition_cross_entropy_t": zero,
    }
    return F, parts


def exact_posterior(A, obs, prior, A_dependencies):
    """Eq. (2.9): the exact joint posterior over all factors and the log evidence.

    The prior over the joint is the product of the given marginals. Returns
    ``(joint, log_Z)``: ``joint`` (batch, S_0, ..., S_{F-1}), ``log_Z`` (batch,). For a hard
    observation and entries above eps, ``log_Z = ln p(o)``; for a soft one it is the log
    normaliser of the geometric-mixture likelihood of eq. (2.5).
    """
    num_states = [p.shape[-1] for p in prior]
    batch = prior[0].shape[0]
    log_joint = xp.zeros([batch] + num_states, dtype=prior[0].dtype)
    for f, p_f in enumerate(prior):
        log_joint = log_joint + _expand_to_joint(log_stable(p_f), [f], num_states)
    for LL_m, deps in zip(log_likelihoods(A, obs), A_dependencies, strict=True):
        log_joint = log_joint + _expand_to_joint(LL_m, list(deps), num_states)
    flat = log_joint.reshape(batch, -1)
    top = xp.max(flat, axis=-1, keepdims=True)
    log_Z = (top + xp.log(xp.sum(xp.exp(flat - top), axis=-1, keepdims=True)))[:, 0]
    joint = xp.exp(flat - log_Z[:, None]).reshape(log_joint.shape)
    return joint, log_Z


def joint_marginals(joint):
    """Marginals of a joint (batch, S_0, ..., S_{F-1}) -> list of (batch, S_f)."""
    F = joint.ndim - 1
    return [xp.sum(joint, axis=tuple(1 + g for g in range(F) if g != f)) for f in range(F)]


def exact_update(A, obs, prior, A_dependencies):
    """Bayes' rule as a state-inference method: marginals of eq. (2.9) and ``log_Z``.

    With one factor this is the exact filter's update step; fpi's eq. (2.6) gives the same q.
    """
    joint, log_Z = exact_posterior(A, obs, prior, A_dependencies)
    return joint_marginals(joint), log_Z


def empirical_prior(B, qs, action, B_dependencies):
    """Eq. (2.11): next-step prior. ``action``: integer array (batch, F).

    ``B[f][b, :, ..., action[b, f]]`` contracted with the current q of the factors in
    ``B_dependencies[f]`` (mean-field, as pymdp does for coupled transitions).
    """
    out = []
    for f, (B_f, deps) in enumerate(zip(B, B_dependencies, strict=True)):
        batch = B_f.shape[0]
        B_sel = xp.moveaxis(B_f, -1, 1)[xp.arange(batch), action[:, f]]  # (batch, S_f, *deps)
        out.append(factor_dot(B_sel, [qs[g] for g in deps], n_keep=1))
    return out


def exact_filter(A, B, D, obs_seq, actions, A_dependencies=None, B_dependencies=None):
    """The exact Bayesian filter of a one-factor model over a sequence, eqs. (2.9), (2.11).

    ``obs_seq[t]``: list over modalities of (batch, O_m); ``actions``: (batch, T-1, 1).
    Returns ``(qs_seq, log_evidence)``: ``qs_seq`` (batch, T, S) filtered posteriors and
    ``log_evidence`` (batch,) = sum_t ln Z_t = ln p(o_1..T | actions) for hard observations.
    """
    if len(D) != 1:
        raise ValueError(f"D: the exact filter needs exactly one factor, got {len(D)}")
    A_dependencies = A_dependencies or [[0]] * len(A)
    B_dependencies = B_dependencies or [[0]]
    prior, qs_seq, log_ev = D, [], 0.0
    for t, obs_t in enumerate(obs_seq):
        qs, log_Z = exact_update(A, obs_t, prior, A_dependencies)
        qs_seq.append(qs[0])
        log_ev = log_ev + log_Z
        if t < len(obs_seq) - 1:
            prior = empirical_prior(B, qs, actions[:, t], B_dependencies)
    return xp.stack(qs_seq, axis=1), log_ev
