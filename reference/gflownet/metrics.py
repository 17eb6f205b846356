"""Exact evaluation: the sampler's terminal distribution over all V^L sequences, and what it
says about a trained GFlowNet.

With L = 8 and V = 4 every sequence can be enumerated, so the distribution a policy induces
under the sticky dynamics (4.3) is computed exactly, by one pass down the prefix tree::

    (4.5)   p_theta(x) = prod_{t=1}^{L} q(x_t | x_<t),
            q(v | s) = (1 - alpha) pi(v | s) + alpha / V

Level t holds the V^t prefixes of length t in code order (eq. 4.1); the child of prefix c
with token v has code c V + v, so ``log p_{t+1} = (log p_t[:, None] + log q_t).ravel()``.
The policy is called once per level on all prefixes of that length (21,845 prefixes for
TF-Bind-8, in chunks of ``batch_size``).

Against the target p*(x) = Rtilde(x) / Z with Rtilde(x) = max(R(x)^beta, r_min) (the reward
the losses see, eq. 4.6), we report::

    (4.7)   L1 = sum_x |p_theta(x) - p*(x)|                       (torchgfn's convention)
    (4.8)   H[p] = - sum_x p(x) log p(x),   ratio H[p_theta] / H[p*]
    (4.9)   KL(p* || p_theta) = sum_x p* log(p* / p_theta),  KL(p_theta || p*) likewise

and, from samples: the top-k mean reward, the diversity of the top k and the modes found,

    (4.17)  div = 1 / (k (k - 1)) sum_{i != j} lev(x_i, x_j)     (mean pairwise edit distance)

Modes are the strict Hamming-1 local maxima of R (335 on TF-Bind-8); the exact twin of the
number found is the expected number of distinct modes among n draws,
``sum_m 1 - (1 - p_theta(m))^n``.

A policy is any callable ``log_policy(prefixes) -> (N, V)``: ``prefixes`` (N, t) int64 realized
tokens, all of one length t; the output is log-probabilities (or logits: each row is
log-softmax-normalised here) over the intended token.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, xlogy

from .data import LENGTH, VOCAB, code_to_sequence, hamming_neighbours, sequence_to_code
from .envs import _check_alpha, _check_rng

REWARD_FLOOR = 1e-32  # r_min: the losses use log max(Rtilde, r_min) (the source's clamp)


# --------------------------------------------------------------------------- the tree


def level_prefixes(t, vocab=VOCAB):
    """All prefixes of length ``t`` in code order: (vocab^t, t) int64."""
    return code_to_sequence(np.arange(vocab**t), t, vocab)


def log_realized(log_pi, alpha):
    """Eq. (4.5)'s q in log space: ``log((1 - alpha) pi + alpha / V)``, stable for any alpha."""
    alpha = _check_alpha(alpha)
    V = log_pi.shape[-1]
    with np.errstate(divide="ignore"):
        return np.logaddexp(np.log1p(-alpha) + log_pi, np.log(alpha / V))


def terminal_log_probs(log_policy, alpha, length=LENGTH, vocab=VOCAB, batch_size=4096):
    """Eq. (4.5): ``log p_theta(x)`` for every sequence, (vocab^length,) in code order.

    One pass over the prefix tree, level by level; ``log_policy`` is called on at most
    ``batch_size`` prefixes at a time.
    """
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    log_p = np.zeros(1)
    for t in range(length):
        prefixes = level_prefixes(t, vocab)
        log_pi = np.concatenate(
            [
                policy_log_probs(log_policy, prefixes[i : i + batch_size], vocab)
                for i in range(0, len(prefixes), batch_size)
            ]
        )
        log_p = (log_p[:, None] + log_realized(log_pi, alpha)).ravel()
    return log_p


def terminal_distribution(log_policy, alpha, length=LENGTH, vocab=VOCAB, batch_size=4096):
    """Eq. (4.5) as probabilities: ``exp(terminal_log_probs(...))``."""
    return np.exp(terminal_log_probs(log_policy, alpha, length, vocab, batch_size))


def policy_log_probs(log_policy, prefixes, vocab=VOCAB):
    """``log_softmax(log_policy(prefixes))`` as float64 (N, V), shape- and NaN-checked."""
    out = np.asarray(log_policy(prefixes), dtype=np.float64)
    if out.shape != (len(prefixes), vocab):
        raise ValueError(
            f"log_policy: expected an output of shape ({len(prefixes)}, {vocab}) for prefixes "
            f"of shape {tuple(np.shape(prefixes))}, got {out.shape}"
        )
    if np.isnan(out).any() or np.isposinf(out).any() or np.isneginf(out).all(axis=1).any():
        raise ValueError("log_policy: returned NaN, +inf, or a row that is -inf everywhere")
    return log_softmax(out, axis=1)


def tabular_policy(tables):
    """A ``log_policy`` from per-level tables: ``tables[t]`` (V^t, V) of log-probabilities
    indexed by prefix code (eq. 4.1)."""
    tables = [np.asarray(tb, dtype=np.float64) for tb in tables]
    for t, tb in enumerate(tables):
        if tb.ndim != 2 or tb.shape[0] != tb.shape[1] ** t:
            raise ValueError(f"tables[{t}]: expected shape (V^{t}, V), got {tb.shape}")

    def log_policy(prefixes):
        prefixes = np.asarray(prefixes)
        t = prefixes.shape[1]
        codes = sequence_to_code(prefixes, tables[t].shape[1]) if t else np.zeros(len(prefixes))
        return tables[t][codes.astype(np.int64)]

    return log_policy


# --------------------------------------------------------------------------- the target


def target_distribution(scores, beta, r_min=REWARD_FLOOR):
    """``p*(x) = max(R(x)^beta, r_min) / Z`` over all sequences (eq. 4.6)."""
    R = _check_scores(scores)
    if not (np.isfinite(beta) and beta > 0):
        raise ValueError(f"beta: expected a positive exponent, got {beta!r}")
    if not r_min >= 0:
        raise ValueError(f"r_min: expected a floor >= 0, got {r_min!r}")
    Rt = np.maximum(R**beta, r_min)
    if Rt.sum() <= 0:
        raise ValueError("scores: every reward is 0, the target is undefined")
    return Rt / Rt.sum()


def prefix_marginals(p, length=LENGTH, vocab=VOCAB):
    """``[m_0, ..., m_L]``: ``m_t[c]`` = probability that x_<=t has code c, (V^t,) each."""
    p = _check_distribution(p, "p", vocab**length)
    return [p.reshape(vocab**t, -1).sum(axis=1) for t in range(length + 1)]


def conditionals(p, length=LENGTH, vocab=VOCAB):
    """``p(x_t = v | x_<t)`` per level, (V^t, V) each; uniform where the prefix has mass 0."""
    marg = prefix_marginals(p, length, vocab)
    out = []
    for t in range(length):
        joint = marg[t + 1].reshape(vocab**t, vocab)
        with np.errstate(invalid="ignore", divide="ignore"):
            cond = joint / marg[t][:, None]
        out.append(np.where(marg[t][:, None] > 0, cond, 1.0 / vocab))
    return out


def deconvolve(cond, alpha):
    """The intended policy that best undoes eq. (4.3) for wanted realized conditionals.

    ``cond`` (..., V): rows of wanted realized distributions q. Where every entry is at least
    alpha / V the exact inverse ``pi = (q - alpha / V) / (1 - alpha)`` exists; otherwise the
    negative parts are clipped and the row renormalised, ``pi ∝ max(q - alpha / V, 0)``
    (the same formula: the exact inverse already sums to 1). At alpha = 1 the policy does not
    matter and the uniform one is returned.
    """
    alpha = _check_alpha(alpha)
    q = np.asarray(cond, dtype=np.float64)
    if q.ndim < 1 or q.shape[-1] < 2:
        raise ValueError(f"cond: expected shape (..., V) with V >= 2, got {q.shape}")
    if q.size and (q.min() < 0 or np.abs(q.sum(-1) - 1).max() > 1e-9):
        raise ValueError("cond: expected non-negative rows summing to 1")
    V = q.shape[-1]
    if alpha == 1.0:
        return np.full(q.shape, 1.0 / V)
    d = np.maximum(q - alpha / V, 0.0)
    return d / d.sum(axis=-1, keepdims=True)


def attainability(p_star, alpha, length=LENGTH, vocab=VOCAB):
    """How far the sticky dynamics keep the target out of reach.

    Returns ``violated_fraction``: the share of the V (V^L - 1) / (V - 1) (prefix, token)
    pairs whose target conditional is below alpha / V (eq. 4.3 cannot produce it), and two
    realizable references (upper bounds on the best L1 any policy can reach):
    ``l1_naive`` with pi = p*(. | s) as the intended policy, and ``l1_deconvolved`` with
    pi = max(p*(. | s) - alpha / V, 0) renormalised (exact whenever nothing is violated).
    """
    alpha = _check_alpha(alpha)
    cond = conditionals(p_star, length, vocab)
    floor = alpha / vocab
    violated = sum(int((c < floor - 1e-15).sum()) for c in cond)
    total = sum(c.size for c in cond)
    with np.errstate(divide="ignore"):
        naive = tabular_policy([np.log(c) for c in cond])
        deconv = tabular_policy([np.log(deconvolve(c, alpha)) for c in cond])
    p_naive = terminal_distribution(naive, alpha, length, vocab)
    p_deconv = terminal_distribution(deconv, alpha, length, vocab)
    return {
        "violated_fraction": violated / total,
        "violated": violated,
        "pairs": total,
        "l1_naive": l1_distance(p_naive, p_star),
        "l1_deconvolved": l1_distance(p_deconv, p_star),
    }


# --------------------------------------------------------------------------- divergences


def l1_distance(p, q):
    """Eq. (4.7): ``sum |p - q|`` (in [0, 2])."""
    p = _check_distribution(p, "p")
    q = _check_distribution(q, "q", p.size)
    return float(np.abs(p - q).sum())


def entropy(p):
    """Eq. (4.8) in nats, with 0 log 0 = 0."""
    p = _check_distribution(p, "p")
    return float(-xlogy(p, p).sum())


def kl_divergence(p, q):
    """Eq. (4.9): ``KL(p || q) = sum p log(p / q)`` in nats; inf where q = 0 < p."""
    p = _check_distribution(p, "p")
    q = _check_distribution(q, "q", p.size)
    if np.any((q == 0) & (p > 0)):
        return float("inf")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = xlogy(p, p) - xlogy(p, q)
    return float(terms.sum())


# --------------------------------------------------------------------------- modes


def local_maxima(scores, length=LENGTH, vocab=VOCAB):
    """Codes whose score is strictly above all ``length * (vocab - 1)`` Hamming-1 neighbours."""
    R = _check_scores(scores, vocab**length)
    codes = np.arange(R.size)
    best_neighbour = R[hamming_neighbours(codes, length, vocab)].max(axis=1)
    return codes[R > best_neighbour]


def modes_found(sample_codes, mode_codes):
    """How many distinct modes occur among ``sample_codes``."""
    return int(np.isin(mode_codes, np.asarray(sample_codes)).sum())


def expected_modes_found(p, mode_codes, n):
    """Exact expected number of distinct modes among ``n`` i.i.d. draws from ``p``."""
    p = _check_distribution(p, "p")
    pm = p[np.asarray(mode_codes)]
    return float(np.sum(-np.expm1(n * np.log1p(-np.minimum(pm, 1.0)))))


# --------------------------------------------------------------------------- samples


def sample_codes(p, n, rng):
    """``n`` i.i.d. codes from the exact distribution ``p`` (the sampler's own law)."""
    _check_rng(rng)
    p = _check_distribution(p, "p")
    cdf = np.cumsum(p)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), p.size - 1)


def top_k(sample_codes_, scores, k=100):
    """The ``k`` best samples (duplicates kept, as the source does): codes sorted by score."""
    codes = np.asarray(sample_codes_)
    R = _check_scores(scores)
    if not 1 <= k <= codes.size:
        raise ValueError(f"k: expected 1 <= k <= {codes.size} (the number of samples), got {k}")
    order = np.argsort(-R[codes], kind="stable")
    return codes[order[:k]]


def levenshtein_matrix(sequences):
    """Pairwise edit distances of equal-length token sequences (N, L) -> (N, N) int64.

    The Wagner-Fischer recursion, vectorised over all pairs (loops over the L x L table).
    """
    s = np.asarray(sequences)
    if s.ndim != 2:
        raise ValueError(f"sequences: expected shape (N, L), got {s.shape}")
    N, L = s.shape
    a, b = s[:, None, :], s[None, :, :]
    prev = np.broadcast_to(np.arange(L + 1), (N, N, L + 1)).copy()  # row i = 0
    for i in range(1, L + 1):
        cur = np.empty_like(prev)
        cur[..., 0] = i
        for j in range(1, L + 1):
            sub = prev[..., j - 1] + (a[..., i - 1] != b[..., j - 1])
            cur[..., j] = np.minimum(np.minimum(prev[..., j] + 1, cur[..., j - 1] + 1), sub)
        prev = cur
    return prev[..., L]


def diversity(codes, length=LENGTH, vocab=VOCAB):
    """Eq. (4.17): mean pairwise Levenshtein distance over the distinct pairs of ``codes``."""
    codes = np.asarray(codes)
    if codes.size < 2:
        raise ValueError(f"codes: expected at least 2 sequences, got {codes.size}")
    D = levenshtein_matrix(code_to_sequence(codes, length, vocab))
    n = codes.size
    return float(D.sum() / (n * (n - 1)))


# --------------------------------------------------------------------------- report


def evaluate(
    log_p, scores, alpha, beta, rng, n_samples=2048, k=100, modes=None, r_min=REWARD_FLOOR
):
    """Every figure of the chapter for a sampler with exact ``log_p`` (from
    :func:`terminal_log_probs`): exact L1, entropies, KLs, expected reward and modes, and the
    sample-based top-k mean/median, diversity and modes found of ``n_samples`` draws."""
    R = _check_scores(scores)
    p = np.exp(np.asarray(log_p, dtype=np.float64))
    p_star = target_distribution(R, beta, r_min)
    modes = local_maxima(R) if modes is None else np.asarray(modes)
    codes = sample_codes(p, n_samples, rng)
    best = top_k(codes, R, k)
    H, H_star = entropy(p), entropy(p_star)
    return {
        "alpha": float(alpha),
        "beta": float(beta),
        "l1": l1_distance(p, p_star),
        "entropy": H,
        "entropy_target": H_star,
        "entropy_ratio": H / H_star,
        "kl_forward": kl_divergence(p_star, p),
        "kl_reverse": kl_divergence(p, p_star),
        "expected_reward": float(p @ R),
        "expected_modes": expected_modes_found(p, modes, n_samples),
        "modes_found": modes_found(codes, modes),
        "num_modes": int(modes.size),
        "top_k_mean": float(R[best].mean()),
        "top_k_median": float(np.median(R[best])),
        "diversity": diversity(best),
    }


# --------------------------------------------------------------------------- checks


def _check_scores(scores, size=None):
    R = np.asarray(scores, dtype=np.float64)
    if R.ndim != 1 or (size is not None and R.size != size):
        want = f"({size},)" if size is not None else "(N,)"
        raise ValueError(f"scores: expected shape {want}, got {R.shape}")
    if not np.all(np.isfinite(R)) or R.min() < 0:
        raise ValueError("scores: expected finite non-negative rewards")
    return R


def _check_distribution(p, name, size=None):
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or (size is not None and p.size != size):
        raise ValueError(f"{name}: expected shape ({size or 'N'},), got {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name}: expected a probability vector (non-negative, sum 1)")
    return p
