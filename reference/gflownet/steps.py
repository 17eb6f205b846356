"""One training iteration's pieces for the readable loop of ``train.py``: the method's loss
and policy gradients on a batch of complete sequences, the dynamics inputs, the dynamics
cross-entropy step (4.16) and gradient-norm clipping + Adam.

``train(kernel="numba")`` runs the same iteration through ``compiled.py`` and falls back on
these functions (with the compiled MLP and cross-entropy) where it has no fused version.
"""

from __future__ import annotations

import numpy as np

from reference import nn

from . import losses, models


def _chain(tokens_bm, include_empty):
    """Time-major chain tokens for the losses: row k + 1 is the token appended at prefix k."""
    tm = tokens_bm.T
    return np.concatenate([np.zeros_like(tm[:1]), tm]) if include_empty else tm


def policy_loss_and_grads(config, state, realized, intended, log_R, dyn_logprobs=None,
                          codes=None, sdb_grad=losses.stochastic_db_grad, mlp=nn):  # fmt: skip
    """The method's loss on complete sequences ``(B, L)`` and its gradients.

    ``codes`` may pass in ``models.encode_prefixes(realized, L, V)`` when already computed;
    ``sdb_grad``: ``losses.stochastic_db_grad`` or its fused twin ``kernels.stochastic_db_grad``;
    ``mlp``: ``reference.nn`` or its depth-2 twin ``kernels`` (``mlp_forward``/``mlp_backward``).
    Returns ``(loss, policy_grads, d_log_Z)``.
    """
    B, L = realized.shape
    V = state.policy["W1"].shape[0] // L
    if codes is None:
        codes = models.encode_prefixes(realized, L, V)  # (L + 1, B, L V)
    if not config.include_empty_prefix:
        codes = codes[1:]  # the source: prefixes of lengths 1..L
    fwd, bwd, log_F, cache = models.policy_forward(state.policy, codes, mlp)
    a, x = (
        _chain(intended, config.include_empty_prefix),
        _chain(realized, config.include_empty_prefix),
    )
    mask = np.ones((fwd.shape[0] - 1, B))
    d_log_Z, d_F = 0.0, None
    if config.method == "sdb":
        loss, _, g = sdb_grad(log_F, fwd, bwd, dyn_logprobs, a, x, log_R, mask)
        d_fwd, d_bwd, d_F = g["fwd_logits"], g["bwd_logits"], g["log_flows"]
    else:
        tree = config.actions == "realized"
        actions = x if tree else a
        log_pf, log_pb = losses.transition_logprobs(fwd, bwd, actions)
        if tree:  # the appended token names the parent: P_B = 1
            log_pb = np.zeros_like(log_pf)
        if config.method == "db":
            log_F_to = np.concatenate([log_F[1:-1], log_R[None, :]])
            loss, _, g = losses.detailed_balance_grad(log_F[:-1], log_pf, log_F_to, log_pb, mask)
            zero = np.zeros((1, B))
            d_F = np.concatenate([g["log_F_from"], zero]) + np.concatenate(
                [zero, g["log_F_to"][:-1], zero]
            )
        elif config.method == "tb":
            loss, _, g = losses.trajectory_balance_grad(state.log_Z, log_pf, log_pb, log_R, mask)
            d_log_Z = g["log_Z"]
        else:
            loss, _, g = losses.log_partition_variance_grad(log_pf, log_pb, log_R, mask)
        d_pb = np.zeros_like(log_pf) if tree else g["log_pb"]
        d_fwd, d_bwd = losses.transition_logprobs_backward(fwd, bwd, actions, g["log_pf"], d_pb)
    grads = models.policy_backward(state.policy, cache, d_fwd, d_bwd, d_F, mlp)
    return float(loss), grads, d_log_Z


def dynamics_inputs(realized, intended, vocab, include_empty=True, codes=None):
    """Dynamics-network inputs ``(K - 1, B, (L + 1) V)`` and targets ``(K - 1, B)`` for the
    transitions of complete sequences (prefix k, intended a_{k+1}) -> realized x_{k+1}."""
    B, L = realized.shape
    if codes is None:
        codes = models.encode_prefixes(realized, L, vocab)
    inputs = models.encode_dynamics_inputs(codes[:-1], intended.T, vocab)  # prefixes 0..L-1
    targets = realized.T
    if not include_empty:
        inputs, targets = inputs[1:], targets[1:]
    return inputs, targets


def known_dynamics_logprobs(intended, alpha, vocab, include_empty=True):
    """``log T(. | a_{k+1})`` of the true sticky kernel (4.2) in the layout of ``dyn_logprobs``:
    the oracle that the learned dynamics approximates (``dynamics="known"``)."""
    T = (1.0 - alpha) * np.eye(vocab) + alpha / vocab
    with np.errstate(divide="ignore"):
        logT = np.log(T)[np.asarray(intended).T]  # (L, B, V)
    return logT if include_empty else logT[1:]


def clip_step(opt, params, grads, state, max_norm):
    """Gradient-norm clipping then one optimiser step: ``(params, state, norm)``."""
    grads, norm = nn.clip_grad_norm(grads, max_norm)
    params, state = opt.step(params, grads, state)
    return params, state, norm


def dynamics_step(config, state, realized, intended, vocab, rng, opt, step, codes=None, mlp=nn,
                  cross_entropy=losses.dynamics_cross_entropy):  # fmt: skip
    """One optimiser step of the dynamics cross-entropy (4.16) on the transitions of the
    online sequences ``realized``, ``intended`` (B, L): this batch (``dynamics="on-policy"``)
    or a minibatch of the replay buffer ``state.replay`` (``"replay"``). ``step(opt, params,
    grads, opt_state) -> (params, opt_state, norm)``. Returns the cross-entropy."""
    inputs, targets = dynamics_inputs(realized, intended, vocab, config.include_empty_prefix,
                                      codes)  # fmt: skip
    inputs, targets = inputs.reshape(-1, inputs.shape[-1]), targets.reshape(-1)
    if config.dynamics == "replay":
        buf = state.replay
        buf["inputs"] = np.concatenate([buf.get("inputs", inputs[:0]), inputs])[
            -config.replay_size :
        ]
        buf["targets"] = np.concatenate([buf.get("targets", targets[:0]), targets])[
            -config.replay_size :
        ]
        pick = rng.integers(0, len(buf["targets"]), size=config.dynamics_batch)
        inputs, targets = buf["inputs"][pick], buf["targets"][pick]
    logits, cache = models.dynamics_forward(state.dynamics, inputs, mlp)
    ce, d_logits = cross_entropy(logits, targets)
    grads = models.dynamics_backward(state.dynamics, cache, d_logits, mlp)
    state.dynamics, state.dynamics_opt, _ = step(opt, state.dynamics, grads, state.dynamics_opt)
    return float(ce)


def learned_kernel_error(state, realized, intended, alpha, vocab):
    """Mean KL(T(. | a) || Phat(. | prefix, a)) over the transitions of the given sequences:
    how close the learned dynamics are to the true sticky kernel (4.2)."""
    inputs, targets = dynamics_inputs(realized, intended, vocab)
    logits, _ = models.dynamics_forward(state.dynamics, inputs)
    logq = nn.log_softmax(logits)
    a = np.asarray(intended).T
    T = (1 - alpha) * np.eye(vocab)[a] + alpha / vocab
    return float(np.mean(np.sum(T * (np.log(T) - logq), axis=-1)))
