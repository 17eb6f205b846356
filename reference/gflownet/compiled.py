"""``train(kernel="numba")``: the training iteration of ``train.py`` in compiled pieces.

Same iteration, same random stream and the same numbers up to round-off as the readable
loop (``tests/gflownet/test_kernels.py`` checks the two runs agree to 1e-10), arranged so
that little time is left outside the kernels:

* all random numbers of an iteration come from one compiled call (the rollout's, then the
  offline picks and fabricated intended tokens: ``kernels.rollout_randoms_jit``);
* the batch (offline sequences decoded, intended tokens fabricated, log-rewards, the chain
  tokens of the losses) is assembled in one compiled call, :func:`assemble_jit`, and the
  prefix codes and dynamics inputs are written by another, :func:`encode_jit`;
* the networks, the log-softmax, the SDB loss (4.15), the cross-entropy (4.16) and clipping
  + Adam are the ``*_jit`` kernels of ``kernels.py`` and ``mlp_kernels.py``, called directly:
  :class:`CompiledRun` checks the arguments once per run and keeps flat views of the
  parameters and Adam moments, which the kernels update in place.

The cross-entropy step of ``dynamics="on-policy"`` reuses the online rows of the SDB term's
dynamics forward (the dynamics parameters have not changed in between). Methods other than
SDB, and the replay buffer, go through ``steps.py`` with the compiled MLP.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from reference import nn

from . import kernels, steps
from .mlp_kernels import MLP_KEYS, dynamics_ce_jit, log_softmax_jit, mlp2_backward_jit
from .mlp_kernels import mlp2_forward_jit as forward_jit

# --------------------------------------------------------------------------- batch kernels


def assemble_plain(on_realized, on_intended, offline_codes, pick, noise, u_noise, alpha, scores,
                   exponent, floor, vocab):  # fmt: skip
    """The iteration's batch: the online sequences ``(B_on, L)`` followed by the offline
    sequences ``offline_codes[pick]`` (base-``vocab`` digits, as ``(code // place) % vocab``)
    whose intended tokens are ``noise`` where ``u_noise < alpha`` (``fabricate_intended``).

    Returns ``(realized, intended, log_R, reward, intended_chain, realized_chain)``:
    ``log_R = log max(max(R, 0)^exponent, floor)`` with non-finite scores counted as 0
    (``train.log_reward``), ``reward`` the mean raw score of the online sequences, and the
    chains ``(L + 1, B)`` time-major with a zero row 0
    (``steps._chain`` with the empty prefix)."""
    B_on, L = on_realized.shape
    B = B_on + pick.size
    realized = np.empty((B, L), np.int64)
    intended = np.empty((B, L), np.int64)
    realized[:B_on] = on_realized
    intended[:B_on] = on_intended
    for i in range(pick.size):
        code = offline_codes[pick[i]]
        for t in range(L - 1, -1, -1):
            realized[B_on + i, t] = code % vocab
            code //= vocab
        for t in range(L):
            fake = u_noise[i, t] < alpha
            intended[B_on + i, t] = noise[i, t] if fake else realized[B_on + i, t]
    log_R, reward = np.empty(B), 0.0
    a_chain, x_chain = np.zeros((L + 1, B), np.int64), np.zeros((L + 1, B), np.int64)
    for b in range(B):
        code = 0
        for t in range(L):
            code = code * vocab + realized[b, t]
            a_chain[t + 1, b] = intended[b, t]
            x_chain[t + 1, b] = realized[b, t]
        R = scores[code]
        if b < B_on:
            reward += R
        R = R if math.isfinite(R) else 0.0
        log_R[b] = math.log(max(max(R, 0.0) ** exponent, floor))
    return realized, intended, log_R, reward / B_on, a_chain, x_chain


def encode_plain(realized, intended, vocab):
    """``models.encode_prefixes(realized)`` ``(L + 1, B, L V)`` and the dynamics inputs
    ``models.encode_dynamics_inputs(codes[:-1], intended.T)`` ``(L, B, (L + 1) V)``."""
    B, L = realized.shape
    codes = np.zeros((L + 1, B, L * vocab))
    inputs = np.zeros((L, B, (L + 1) * vocab))
    for k in range(L + 1):
        for b in range(B):
            for t in range(k):
                codes[k, b, t * vocab + realized[b, t]] = 1.0
                if k < L:
                    inputs[k, b, t * vocab + realized[b, t]] = 1.0
            if k < L:
                inputs[k, b, L * vocab + intended[b, k]] = 1.0
    return codes, inputs


assemble_jit = njit(cache=True)(assemble_plain)
encode_jit = njit(cache=True)(encode_plain)


# --------------------------------------------------------------------------- one run


class _ClipAdam:
    """Clipping + Adam (``kernels.clip_adam_jit``) on one network: flat views of its
    parameters and moments, made once, are updated in place."""

    def __init__(self, opt, params, opt_state, max_norm):
        self.opt_state = opt_state
        self.views = [tuple(d[k].reshape(-1) for k in MLP_KEYS)
                      for d in (params, opt_state["m"], opt_state["v"])]  # fmt: skip
        self.hyper = (float(max_norm), opt.lr, opt.betas[0], opt.betas[1], opt.eps)

    def __call__(self, grads):
        """``grads``: the six gradients in ``MLP_KEYS`` order. Returns the norm before clipping."""
        k = self.opt_state["step"] + 1
        theta, m, v = self.views
        flat = tuple(g.reshape(-1) for g in grads)
        norm = kernels.clip_adam_jit(theta, flat, m, v, *self.hyper, k)
        self.opt_state["step"] = k
        return norm

    def step(self, opt, params, grads, opt_state):
        """The ``step`` signature of ``steps.dynamics_step``."""
        return params, opt_state, self(tuple(grads[k] for k in MLP_KEYS))


def _owned(params, opt_state, name):
    """C-contiguous float64 copies of a network's parameters and Adam moments (the kernels
    write into them), after checking it is a depth-2 MLP."""
    if tuple(sorted(params)) != tuple(sorted(MLP_KEYS)):
        raise ValueError(f"state.{name}: expected a depth-2 MLP (W1..b3), got {sorted(params)}")
    own = lambda d: {k: np.array(d[k], dtype=np.float64, order="C") for k in MLP_KEYS}  # noqa: E731
    return own(params), {"step": int(opt_state["step"]), "m": own(opt_state["m"]),
                         "v": own(opt_state["v"])}  # fmt: skip


class CompiledRun:
    """One ``train(..., kernel="numba")`` call: checks once, then :meth:`iteration` per step.

    ``state``'s networks and Adam states are replaced by owned copies that the kernels
    update in place; ``offline`` holds the offline codes (empty: on-policy only)."""

    def __init__(self, config, state, scores, offline, length, vocab):
        if config.depth != 2:
            raise ValueError(f"kernel: 'numba' needs depth 2, got depth {config.depth}")
        if not config.clip > 0:
            raise ValueError(f"clip: expected a positive number, got {config.clip}")
        self.config, self.scores, self.L, self.V = config, scores, length, vocab
        self.offline = np.ascontiguousarray(offline, dtype=np.int64)
        if self.offline.size and (self.offline.min() < 0 or self.offline.max() >= scores.size):
            raise ValueError(f"offline_codes: expected codes in 0..{scores.size - 1}")
        state.policy, state.policy_opt = _owned(state.policy, state.policy_opt, "policy")
        state.dynamics, state.dynamics_opt = _owned(state.dynamics, state.dynamics_opt, "dynamics")
        self.policy_adam = _ClipAdam(nn.Adam(lr=config.lr), state.policy, state.policy_opt,
                                     config.clip)  # fmt: skip
        self.dynamics_adam = _ClipAdam(nn.Adam(lr=config.lr_dynamics), state.dynamics,
                                       state.dynamics_opt, config.clip)  # fmt: skip
        self.opt_Z = nn.Adam(lr=config.lr_log_Z)
        self.start = 0 if config.include_empty_prefix else 1  # first prefix in the losses
        B = config.batch_online + (config.batch_offline if self.offline.size else 0)
        self.mask = np.ones((length - self.start, B))  # every transition counts
        self.ce_mask = np.ones((length - self.start) * config.batch_online)

    def iteration(self, state, rng, exponent):
        """One iteration at reward exponent ``exponent``: ``(loss, grad norm, dynamics CE or
        NaN, mean raw reward of the online sequences)``."""
        c, L, V, P = self.config, self.L, self.V, state.policy
        r = kernels.rollout_randoms_jit(rng, c.batch_online, L, V, c.epsilon, self.offline.size,
                                        c.batch_offline)  # fmt: skip
        on_r, on_i = kernels.rollout_jit(
            P["W1"], P["b1"], P["W2"], P["b2"], np.ascontiguousarray(P["W3"][:, :V]),
            np.ascontiguousarray(P["b3"][:V]), V, float(c.behaviour_scale), float(c.epsilon),
            float(c.alpha), *r[:5],
        )  # fmt: skip
        realized, intended, log_R, reward, a_chain, x_chain = assemble_jit(
            on_r, on_i, self.offline, *r[5:], float(c.alpha), self.scores, exponent,
            float(c.reward_floor), V,
        )  # fmt: skip
        codes, inputs = encode_jit(realized, intended, V)
        if c.method != "sdb":
            loss, grads, d_log_Z = steps.policy_loss_and_grads(
                c, state, realized, intended, log_R, None, codes, mlp=kernels
            )
            norm = self.policy_adam(tuple(grads[k] for k in MLP_KEYS))
            if c.method == "tb":
                new, state.log_Z_opt = self.opt_Z.step(
                    {"log_Z": state.log_Z}, {"log_Z": np.asarray(d_log_Z)}, state.log_Z_opt
                )
                state.log_Z = new["log_Z"]
            return loss, norm, float("nan"), reward
        s, D = self.start, state.dynamics
        if c.dynamics == "known":
            dyn_logprobs = steps.known_dynamics_logprobs(intended, c.alpha, V, s == 0)
        else:
            x_d = inputs[s:].reshape(-1, inputs.shape[-1])
            h1_d, h2_d, logits = forward_jit(x_d, *(D[k] for k in MLP_KEYS))
            dyn_logprobs = log_softmax_jit(logits).reshape(L - s, -1, V)
        loss, norm = self._policy_step(state, codes[s:], dyn_logprobs, a_chain[s:],
                                       x_chain[s:], log_R)  # fmt: skip
        ce = float("nan")
        if c.dynamics == "on-policy":
            n = len(on_r)  # the online rows come first in every prefix block
            ce = self._dynamics_step(D, (x_d, h1_d, h2_d, dyn_logprobs), x_chain[s + 1 :, :n])
        elif c.dynamics == "replay":
            ce = steps.dynamics_step(c, state, on_r, on_i, V, rng, None, self.dynamics_adam.step,
                                     codes[:, : len(on_r)], kernels,
                                     kernels.dynamics_cross_entropy)  # fmt: skip
        return loss, norm, ce, reward

    def _policy_step(self, state, codes, dyn_logprobs, a_chain, x_chain, log_R):
        """SDB (4.15) on the heads of one policy forward, its gradient, clipping + Adam."""
        P, V = state.policy, self.V
        x = codes.reshape(-1, codes.shape[-1])
        h1, h2, out = forward_jit(x, *(P[k] for k in MLP_KEYS))
        o = out.reshape(codes.shape[0], codes.shape[1], 2 * V + 1)
        loss, _, d_F, d_fwd, d_bwd, _ = kernels.sdb_grad_jit(
            o[..., 2 * V], o[..., :V], o[..., V : 2 * V], dyn_logprobs, a_chain, x_chain, log_R,
            self.mask,
        )  # fmt: skip
        dout = np.empty_like(o)
        dout[..., :V], dout[..., V : 2 * V], dout[..., 2 * V] = d_fwd, d_bwd, d_F
        grads = mlp2_backward_jit(x, h1, h2, P["W2"], P["W3"], dout.reshape(out.shape))
        return float(loss), self.policy_adam(grads)

    def _dynamics_step(self, D, forward, targets):
        """(4.16) on the online rows of a dynamics forward ``(x, h1, h2, log-probabilities)``
        (rows k-major over all sequences), its gradient, clipping + Adam. Returns the loss."""
        K1, n = targets.shape
        x, h1, h2, logp = (
            np.ascontiguousarray(h.reshape(K1, -1, h.shape[-1])[:, :n]).reshape(K1 * n, -1)
            for h in forward
        )
        ce, d_logits = dynamics_ce_jit(logp, np.ascontiguousarray(targets).reshape(-1),
                                       self.ce_mask)  # fmt: skip
        self.dynamics_adam(mlp2_backward_jit(x, h1, h2, D["W2"], D["W3"], d_logits))
        return float(ce)
