"""Input checks of the GFlowNet objectives (``losses.py``): each raises ``ValueError``
naming the argument, what was expected and what it received.

Inputs may be lists or arrays (converted with ``xp.asarray``). NaN and infinities are
errors, also on padding (``0 * inf`` is NaN in a masked sum), except where -inf means a
probability of zero: entries that the masks of flow matching (4.10) switch off, and tokens
other than the realized one in the rows of ``dyn_logprobs`` (4.15). Autograd boxes (a
gradient check tracing a loss) get the shape checks only.
"""

from __future__ import annotations

import numpy as np

from reference.backend import xp

LOGNORM_TOL = 1e-6  # |logsumexp| allowed for a row of dyn_logprobs


def traced(a):
    """True for an autograd box (a gradient check tracing the loss): not converted or checked."""
    return type(a).__module__.startswith("autograd")


def floats(name, a, shape=None, where=None):
    """``a`` as an ``xp`` float array of ``shape`` (None: any) with finite values where
    ``where`` is True (None: everywhere)."""
    if not traced(a):
        a = xp.asarray(a)
        a = a if a.dtype.kind == "f" else a.astype(float)
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(a.shape)}")
    if not traced(a):
        bad = ~xp.isfinite(a) if where is None else ~xp.isfinite(a) & where
        if bool(xp.any(bad)):
            first = tuple(int(i) for i in xp.argwhere(bad)[0])
            raise ValueError(
                f"{name}: expected finite values, found {float(a[first])} at index {first}"
            )
    return a


def check_rows(mask, name, shape):
    """A mask of (4.10) as booleans of ``shape`` with a True in every row."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {mask.shape}")
    if mask.ndim != 2 or not mask.any(axis=1).all():
        raise ValueError(f"{name}: expected (N, k) booleans with a True in every row")
    return mask


def check_fm(log_in, in_mask, log_out, out_mask):
    """The arguments of flow matching (4.10): finite where the masks are True."""
    in_mask = check_rows(in_mask, "in_mask", np.shape(log_in))
    out_mask = check_rows(out_mask, "out_mask", np.shape(log_out))
    if out_mask.shape[0] != in_mask.shape[0]:
        raise ValueError(f"log_out: expected {in_mask.shape[0]} rows, got {out_mask.shape[0]}")
    log_in = floats("log_in", log_in, where=in_mask)
    return log_in, in_mask, floats("log_out", log_out, where=out_mask), out_mask


def check_trajectories(log_pf, log_pb, log_reward, mask):
    """The arguments of TB (4.12) and ZVar (4.14), converted and checked."""
    log_pf = floats("log_pf", log_pf)
    log_pb = floats("log_pb", log_pb, log_pf.shape)
    log_reward = floats("log_reward", log_reward, log_pf.shape[1:])
    return log_pf, log_pb, log_reward, check_mask(mask, log_pf.shape)


def check_cross_entropy(logits, realized, mask):
    """``(realized, mask as floats)`` for (4.16) after checking shapes and token range."""
    realized = np.asarray(realized)
    if realized.shape != tuple(logits.shape[:-1]):
        raise ValueError(
            f"realized: expected shape {tuple(logits.shape[:-1])}, got {realized.shape}"
        )
    m = np.ones(realized.shape) if mask is None else np.asarray(mask, dtype=float)
    if m.shape != realized.shape or m.sum() <= 0:
        raise ValueError(f"mask: expected shape {realized.shape} with a nonzero entry")
    V = logits.shape[-1]
    if realized.size and (realized.min() < 0 or realized.max() >= V):
        raise ValueError(f"realized: expected tokens in 0..{V - 1}")
    return realized, m


def check_mask(mask, shape):
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise ValueError(f"mask: expected shape {tuple(shape)}, got {m.shape}")
    if not np.isin(m, (0, 1)).all() or m.sum() == 0:
        raise ValueError("mask: expected zeros and ones with at least one 1")
    return m.astype(float)


def check_sdb_inputs(log_flows, fwd_logits, bwd_logits, dyn_logprobs, intended, realized,
                     log_reward, mask):  # fmt: skip
    """The arguments of (4.15), converted (``xp`` floats, NumPy integer tokens, mask as
    floats) and checked: shapes, token ranges, finite values. ``dyn_logprobs`` (None or
    ``(K - 1, B, V)``) may hold -inf for a token the dynamics rule out, never for the
    realized token, and every row must be log-normalised within ``LOGNORM_TOL``."""
    fwd_logits = floats("fwd_logits", fwd_logits)
    if fwd_logits.ndim != 3:
        raise ValueError(f"fwd_logits: expected (K, B, V), got shape {tuple(fwd_logits.shape)}")
    K, B, V = fwd_logits.shape
    if K < 2:
        raise ValueError(f"fwd_logits: expected a chain of K >= 2 prefixes, got K = {K}")
    bwd_logits = floats("bwd_logits", bwd_logits, (K, B, V))
    log_flows = floats("log_flows", log_flows, (K, B))
    log_reward = floats("log_reward", log_reward, (B,))
    tokens = []
    for name, tok in (("intended", intended), ("realized", realized)):
        tok = np.asarray(tok)
        if tok.shape != (K, B) or not np.issubdtype(tok.dtype, np.integer):
            raise ValueError(f"{name}: expected integer tokens of shape {(K, B)}")
        if tok.min() < 0 or tok.max() >= V:
            raise ValueError(f"{name}: expected tokens in 0..{V - 1}")
        tokens.append(tok)
    mask = check_mask(mask, (K - 1, B))
    if dyn_logprobs is not None:
        dyn_logprobs = check_log_normalised(dyn_logprobs, tokens[1][1:], (K - 1, B, V))
    return (log_flows, fwd_logits, bwd_logits, dyn_logprobs, *tokens, log_reward, mask)


def check_log_normalised(logp, realized, shape):
    """``dyn_logprobs``: rows of log-probabilities, -inf allowed except at ``realized``."""
    name = "dyn_logprobs"
    if traced(logp):
        return floats(name, logp, shape)
    logp = floats(name, logp, shape, where=~np.isneginf(np.asarray(logp)))
    picked = np.take_along_axis(np.asarray(logp), realized[..., None], axis=-1)[..., 0]
    if np.isneginf(picked).any():
        first = tuple(int(i) for i in np.argwhere(np.isneginf(picked))[0])
        raise ValueError(
            f"{name}: the realized token {int(realized[first])} has log-probability -inf at "
            f"(k, b) = {first}: a transition the dynamics rule out cannot have happened"
        )
    top = xp.max(logp, axis=-1, keepdims=True)  # finite: the realized entry is
    lse = top[..., 0] + xp.log(xp.sum(xp.exp(logp - top), axis=-1))
    worst = float(xp.max(xp.abs(lse)))
    if worst > LOGNORM_TOL:
        raise ValueError(
            f"{name}: expected rows of log-probabilities (|logsumexp over the last axis| <= "
            f"{LOGNORM_TOL:g}), worst row off by {worst:.3g}"
        )
    return logp
