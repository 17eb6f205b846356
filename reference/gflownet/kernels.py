"""Numba twins of the places where a training iteration loses time outside BLAS.

Profiling one SDB iteration at width 256 (batch 32, 9 prefixes) puts most of the time in
matrix products, which NumPy already hands to BLAS; numba cannot do better there. These
parts are dominated by interpreter and temporary-array overhead instead:

* the Adam update (six elementwise passes over every parameter, each a new temporary):
  :func:`adam_plain` is one fused loop, in place, with PyTorch's operation order (the same
  as ``reference.nn.Adam``); :func:`clip_adam_plain` adds gradient-norm clipping;
* the rollout (8 sequential steps on 16 rows, each a few small products plus sampling):
  :func:`rollout_plain` runs the policy MLP (depth 2) and the sticky environment for all
  steps in one call, with the first layer as a sum of rows of W1 (the input is one-hot).
  It consumes random numbers drawn beforehand by :func:`rollout_randoms_plain` (or its
  compiled twin) in the order ``envs.StickySequenceEnv.rollout`` draws them, so both give
  the same tokens for the same seed;
* the stochastic detailed balance loss (4.15) and its gradient (:func:`sdb_grad_plain`);
* the depth-2 MLP forward and backward of both networks, the log-softmax and the dynamics
  cross-entropy (4.16): in ``mlp_kernels.py``, re-exported here so that ``mlp=kernels``
  works in ``models``.

Each ``*_plain`` function is undecorated Python over NumPy arrays (the readable twin, used
by the tests and by ``NUMBA_DISABLE_JIT=1``); ``*_jit`` is the compiled version. The public
wrappers check their arguments; ``compiled.py`` (``train(kernel="numba")``) checks once per
run and calls the ``*_jit`` kernels directly.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .mlp_kernels import (  # noqa: F401  (the MLP twins, importable from here as before)
    dynamics_ce_jit,
    dynamics_ce_plain,
    dynamics_cross_entropy,
    mlp2_backward_jit,
    mlp2_backward_plain,
    mlp2_forward_jit,
    mlp2_forward_plain,
    mlp_backward,
    mlp_forward,
)

# --------------------------------------------------------------------------- Adam


def adam_plain(theta, g, m, v, lr, beta1, beta2, eps, step):
    """One ``torch.optim.Adam`` step on flat float arrays, in place (``step`` counts from 1)."""
    bias_correction1 = 1.0 - beta1**step
    bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
    step_size = lr / bias_correction1
    w = 1.0 - beta1
    for i in range(theta.size):
        gi = g[i]
        if w < 0.5:  # torch.lerp's two branches, as nn._lerp
            mi = m[i] + w * (gi - m[i])
        else:
            mi = gi - (gi - m[i]) * (1.0 - w)
        vi = v[i] * beta2 + ((1.0 - beta2) * gi) * gi
        denom = math.sqrt(vi) / bias_correction2_sqrt + eps
        theta[i] = theta[i] - (step_size * mi) / denom
        m[i] = mi
        v[i] = vi


# error_model="numpy": IEEE division (no zero-divisor check, which stops LLVM from
# vectorising the loop); the denominators here are >= eps > 0, so the numbers are the same.
adam_jit = njit(cache=True, error_model="numpy")(adam_plain)


def adam_step(opt, params, grads, state, jit=True):
    """``nn.Adam.step`` done in place by :func:`adam_jit` (or the plain twin).

    ``params`` and the moment arrays in ``state`` are overwritten; returns ``(params,
    state)`` like ``nn.Adam.step``. Weight decay is not supported here.
    """
    if opt.weight_decay:
        raise ValueError("opt: the fused Adam kernel has no weight decay")
    fn = adam_jit if jit else adam_plain
    k = state["step"] + 1
    for name, theta in params.items():
        fn(theta.reshape(-1), np.ascontiguousarray(grads[name]).reshape(-1),
           state["m"][name].reshape(-1), state["v"][name].reshape(-1),
           opt.lr, opt.betas[0], opt.betas[1], opt.eps, k)  # fmt: skip
    state["step"] = k
    return params, state


def clip_adam_plain(thetas, grads, ms, vs, max_norm, lr, beta1, beta2, eps, step):
    """``nn.clip_grad_norm`` (torch's ``clip_grad_norm_``: the norm of the per-tensor norms,
    ``coef = max_norm / (total + 1e-6)`` applied if below 1) followed by the Adam step of
    :func:`adam_plain`, in place, on tuples of flat arrays. Returns the norm before clipping."""
    sq = 0.0
    for j in range(len(grads)):
        n = math.sqrt(np.dot(grads[j], grads[j]))  # the per-tensor norm (BLAS ddot)
        sq += n * n
    total = math.sqrt(sq)
    coef = max_norm / (total + 1e-6)
    clip = coef < 1.0
    bias_correction1 = 1.0 - beta1**step
    bias_correction2_sqrt = math.sqrt(1.0 - beta2**step)
    step_size = lr / bias_correction1
    w = 1.0 - beta1
    for j in range(len(grads)):
        theta, g, m, v = thetas[j], grads[j], ms[j], vs[j]
        for i in range(theta.size):
            gi = g[i] * coef if clip else g[i]
            if w < 0.5:
                mi = m[i] + w * (gi - m[i])
            else:
                mi = gi - (gi - m[i]) * (1.0 - w)
            vi = v[i] * beta2 + ((1.0 - beta2) * gi) * gi
            denom = math.sqrt(vi) / bias_correction2_sqrt + eps
            theta[i] = theta[i] - (step_size * mi) / denom
            m[i] = mi
            v[i] = vi
    return total


clip_adam_jit = njit(cache=True, error_model="numpy")(clip_adam_plain)  # as adam_jit


def clip_adam_step(opt, params, grads, state, max_norm, jit=True):
    """``nn.clip_grad_norm(grads, max_norm)`` then ``opt.step`` in one compiled call (or the
    plain twin), parameters and moments overwritten in place. Returns ``(params, state,
    norm before clipping)``."""
    if opt.weight_decay:
        raise ValueError("opt: the fused Adam kernel has no weight decay")
    if not (max_norm > 0):
        raise ValueError(f"max_norm: expected a positive number, got {max_norm}")
    names = list(params)
    flat = lambda d: tuple(d[k].reshape(-1) for k in names)  # noqa: E731
    g = tuple(np.ascontiguousarray(grads[k], dtype=np.float64).reshape(-1) for k in names)
    k = state["step"] + 1
    fn = clip_adam_jit if jit else clip_adam_plain
    norm = fn(flat(params), g, flat(state["m"]), flat(state["v"]), float(max_norm), opt.lr,
              opt.betas[0], opt.betas[1], opt.eps, k)  # fmt: skip
    state["step"] = k
    return params, state, norm


# --------------------------------------------------------------------------- rollout


def rollout_randoms_plain(rng, batch, length, vocab, epsilon, n_offline=0, batch_offline=0):
    """Uniforms and tokens in ``StickySequenceEnv.rollout``'s order, each ``(length, batch)``:
    ``(u_policy, u_explore, explore_tokens, u_stick, stick_tokens)``, then the draws that
    ``train`` makes next for ``batch_offline`` offline sequences out of ``n_offline``: the
    picked indices ``(batch_offline,)`` (``rng.choice(codes, size)`` draws
    ``rng.integers(0, n_offline, size)``) and ``fabricate_intended``'s noise tokens and
    uniforms ``(batch_offline, length)`` (empty when either count is 0). The compiled twin
    :func:`rollout_randoms_jit` draws from the same ``Generator`` (numba shares its bit
    generator's state and NumPy's algorithms), so both give the same numbers and leave
    ``rng`` in the same state; it saves the 40-odd Python-level draws."""
    shape = (length, batch)
    u_policy, u_explore, explore_tokens = (
        np.empty(shape),
        np.zeros(shape),
        np.zeros(shape, np.int64),
    )
    u_stick, stick_tokens = np.empty(shape), np.empty(shape, np.int64)
    for t in range(length):
        u_policy[t] = rng.random(batch)
        if epsilon > 0.0:
            u_explore[t] = rng.random(batch)
            explore_tokens[t] = rng.integers(0, vocab, size=batch)
        u_stick[t] = rng.random(batch)
        stick_tokens[t] = rng.integers(0, vocab, size=batch)
    n_off = batch_offline if n_offline > 0 else 0
    pick = np.zeros(n_off, np.int64)
    noise, u_noise = np.zeros((n_off, length), np.int64), np.zeros((n_off, length))
    if n_off > 0:
        pick[:] = rng.integers(0, n_offline, size=n_off)
        noise[:] = rng.integers(0, vocab, size=(n_off, length))
        u_noise[:] = rng.random((n_off, length))
    return u_policy, u_explore, explore_tokens, u_stick, stick_tokens, pick, noise, u_noise


rollout_randoms_jit = njit(cache=True)(rollout_randoms_plain)


def rollout_plain(W1, b1, W2, b2, W3f, b3f, vocab, scale, epsilon, alpha, u_policy, u_explore,
                  explore_tokens, u_stick, stick_tokens):  # fmt: skip
    """Sampled trajectories of the depth-2 policy network in the sticky environment (4.2).

    At step t every row's realized prefix goes through the network (layer 1 as
    ``b1 + sum_{s < t} W1[s V + x_s]``, a running sum over the steps), the intended token
    is drawn from ``softmax(scale * forward logits)`` by inverse CDF on ``u_policy[t]``,
    replaced by ``explore_tokens[t]`` where ``u_explore[t] < epsilon``, and the realized
    token is ``stick_tokens[t]`` where ``u_stick[t] < alpha``. ``W3f, b3f`` are the forward-logit
    columns of the output layer. Returns ``(realized, intended)`` (B, L).
    """
    L, B = u_policy.shape
    H = W1.shape[1]
    realized = np.zeros((B, L), dtype=np.int64)
    intended = np.zeros((B, L), dtype=np.int64)
    a1 = np.empty((B, H))  # layer-1 pre-activations of the current prefixes
    a1[:] = b1
    h1 = np.empty((B, H))
    p = np.empty(vocab)
    for t in range(L):
        for b in range(B):
            for j in range(H):
                if t > 0:  # add the token appended at step t - 1
                    a1[b, j] += W1[(t - 1) * vocab + realized[b, t - 1], j]
                h1[b, j] = a1[b, j] if a1[b, j] > 0.0 else 0.0
        h2 = np.maximum(h1 @ W2 + b2, 0.0)
        logits = h2 @ W3f + b3f
        for b in range(B):
            top = -np.inf
            for v in range(vocab):
                top = max(top, scale * logits[b, v])
            total = 0.0
            for v in range(vocab):
                p[v] = math.exp(scale * logits[b, v] - top)
                total += p[v]
            cdf = 0.0
            for v in range(vocab):  # envs.sample_categorical: cdf of softmax, u * cdf[-1]
                p[v] = p[v] / total
                cdf += p[v]
            u = u_policy[t, b] * cdf
            a = 0
            cdf = 0.0
            for v in range(vocab):
                cdf += p[v]
                if u >= cdf:
                    a += 1
            a = min(a, vocab - 1)
            if epsilon > 0.0 and u_explore[t, b] < epsilon:
                a = explore_tokens[t, b]
            intended[b, t] = a
            realized[b, t] = stick_tokens[t, b] if u_stick[t, b] < alpha else a
    return realized, intended


rollout_jit = njit(cache=True)(rollout_plain)


def rollout(params, alpha, batch, rng, length, vocab, epsilon=0.0, scale=1.0, jit=True):
    """Twin of ``StickySequenceEnv(alpha, length, vocab).rollout`` for the policy network
    ``params`` (depth 2): ``(realized, intended)``, each ``(batch, length)`` int64."""
    if set(params) != {"W1", "b1", "W2", "b2", "W3", "b3"}:
        raise ValueError(f"params: expected a depth-2 policy network, got keys {sorted(params)}")
    draw = rollout_randoms_jit if jit else rollout_randoms_plain
    r = draw(rng, int(batch), int(length), int(vocab), float(epsilon))[:5]
    fn = rollout_jit if jit else rollout_plain
    w = [params["W1"], params["b1"], params["W2"], params["b2"], params["W3"][:, :vocab],
         params["b3"][:vocab]]  # fmt: skip
    w = [np.ascontiguousarray(x, dtype=np.float64) for x in w]
    return fn(*w, vocab, float(scale), float(epsilon), float(alpha), *r)


# --------------------------------------------------------------------------- (4.15) SDB


def sdb_grad_plain(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized,
                   log_reward, mask):  # fmt: skip
    """Stochastic detailed balance (4.15) and its gradient in one pass over (k, b).

    Same arguments as ``losses.stochastic_db_grad`` (``dyn_logprobs`` an array: zeros give
    plain DB), all float64 / int64. With ``a = a_{k+1}``, ``x = x_{k+1}``, ``n = sum(mask)``::

        r_k = log F_k + log softmax(fwd_k)[a] + log Phat_k[x] - g_k - log softmax(bwd_{k+1})[a]
        d r_k / d fwd_k = e_a - softmax(fwd_k),   d r_k / d bwd_{k+1} = softmax(bwd_{k+1}) - e_a

    each scaled by ``2 mask r_k / n``. Returns ``(loss, r, d_flows, d_fwd, d_bwd, d_log_reward)``.
    """
    K, B, V = fwd_logits.shape
    r = np.zeros((K - 1, B))
    d_flows = np.zeros((K, B))
    d_fwd = np.zeros((K, B, V))
    d_bwd = np.zeros((K, B, V))
    d_log_reward = np.zeros(B)
    n = 0.0
    for k in range(K - 1):
        for b in range(B):
            n += mask[k, b]
    total = 0.0
    for k in range(K - 1):
        for b in range(B):
            a = intended[k + 1, b]
            top_f = fwd_logits[k, b, 0]
            top_b = bwd_logits[k + 1, b, 0]
            for v in range(1, V):
                top_f = max(top_f, fwd_logits[k, b, v])
                top_b = max(top_b, bwd_logits[k + 1, b, v])
            sum_f = 0.0
            sum_b = 0.0
            for v in range(V):
                sum_f += math.exp(fwd_logits[k, b, v] - top_f)
                sum_b += math.exp(bwd_logits[k + 1, b, v] - top_b)
            lse_f = top_f + math.log(sum_f)
            lse_b = top_b + math.log(sum_b)
            log_pf = fwd_logits[k, b, a] - lse_f + dyn_logprobs[k, b, realized[k + 1, b]]
            log_pb = bwd_logits[k + 1, b, a] - lse_b
            g_to = log_flows[k + 1, b] if k < K - 2 else log_reward[b]
            rk = log_flows[k, b] + log_pf - g_to - log_pb
            r[k, b] = rk
            total += mask[k, b] * rk * rk
            g = 2.0 * mask[k, b] * rk / n
            d_flows[k, b] += g
            if k < K - 2:
                d_flows[k + 1, b] -= g
            else:
                d_log_reward[b] = -g
            for v in range(V):
                d_fwd[k, b, v] = -g * math.exp(fwd_logits[k, b, v] - lse_f)
                d_bwd[k + 1, b, v] = g * math.exp(bwd_logits[k + 1, b, v] - lse_b)
            d_fwd[k, b, a] += g
            d_bwd[k + 1, b, a] -= g
    return total / n, r, d_flows, d_fwd, d_bwd, d_log_reward


sdb_grad_jit = njit(cache=True)(sdb_grad_plain)


def stochastic_db_grad(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized,
                       log_reward, mask, jit=True):  # fmt: skip
    """Twin of ``losses.stochastic_db_grad`` (same arguments, ``(loss, residuals, grads)``)
    computed by :func:`sdb_grad_jit` (or the plain twin); ``dyn_logprobs=None``: plain DB."""
    from .checks import check_sdb_inputs

    log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized, log_reward, mask = (
        check_sdb_inputs(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended,
                                realized, log_reward, mask)
    )  # fmt: skip
    if dyn_logprobs is None:
        dyn_logprobs = np.zeros((fwd_logits.shape[0] - 1, *fwd_logits.shape[1:]))
    f64 = lambda x: np.ascontiguousarray(x, dtype=np.float64)  # noqa: E731
    i64 = lambda x: np.ascontiguousarray(x, dtype=np.int64)  # noqa: E731
    fn = sdb_grad_jit if jit else sdb_grad_plain
    loss, r, d_flows, d_fwd, d_bwd, d_R = fn(
        f64(log_flows), f64(fwd_logits), f64(bwd_logits), f64(dyn_logprobs), i64(intended),
        i64(realized), f64(log_reward), f64(mask),
    )  # fmt: skip
    grads = {"log_flows": d_flows, "fwd_logits": d_fwd, "bwd_logits": d_bwd, "log_reward": d_R}
    return float(loss), r, grads
