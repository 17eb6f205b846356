"""The two networks of a stochastic GFlowNet on sequences, forward and hand-derived backward.

Sequences have ``L`` positions over a vocabulary of ``V`` tokens (TF-Bind-8: L = 8, V = 4).
A *prefix* of length k holds the realized tokens x_1..x_k.

Prefix encoding (both networks)::

    e(x_<=k) = [onehot(x_1), ..., onehot(x_k), 0, ..., 0]   in R^{L V}

slot t (entries ``t V .. t V + V - 1``) is the one-hot of token t for t < k and zero
otherwise, so the empty prefix is the zero vector and every prefix of every length has its
own code. The dynamics network also sees the intended token: ``[e(x_<=k), onehot(a)]`` in
R^{(L + 1) V}.

Policy network (one trunk, three heads read from one output layer)::

    h = relu(... relu(e W_1 + b_1) ...)                       trunk, ``depth`` hidden layers
    o = h W_out + b_out                                       (.., 2V + 1)
    forward logits = o[:V],  backward logits = o[V:2V],  log F = o[2V]

The source stacks two Linear layers without a nonlinearity at the output (an inherited
quirk: the product of two matrices is one matrix); we use one output layer.

Dynamics network ``Phat(x_{k+1} = . | x_<=k, a)``: an MLP of the same shape with V logits.

Both are ``reference.nn`` MLPs; their backward is :func:`reference.nn.mlp_backward` fed with
the adjoints of the three heads.
"""

from __future__ import annotations

import numpy as np

from reference import nn
from reference.backend import xp

# --------------------------------------------------------------------------- encodings


def encode_prefixes(sequences, length, vocab):
    """One-hot codes of the prefixes of lengths 0..L of each sequence, time-major.

    ``sequences``: ``(B, L)`` integer tokens in ``0..vocab-1`` (L = ``length``).
    Returns ``(L + 1, B, L * vocab)``: row k encodes the prefix x_1..x_k (row 0 is zeros).
    """
    seq = _check_tokens(sequences, "sequences", length, vocab)
    onehot = np.eye(vocab)[seq].reshape(seq.shape[0], length * vocab)  # (B, L V)
    keep = np.arange(length)[None, :] < np.arange(length + 1)[:, None]  # (L+1, L): slot t < k
    codes = np.repeat(keep, vocab, axis=1)[:, None, :] * onehot[None]  # (L+1, B, L V)
    return xp.asarray(codes)


def encode_partial(prefixes, length, vocab):
    """One-hot codes ``(N, L V)`` of realized prefixes ``(N, t)`` of one length t <= L."""
    prefixes = np.asarray(prefixes)
    if prefixes.ndim != 2 or prefixes.shape[1] > length:
        raise ValueError(
            f"prefixes: expected shape (N, t) with t <= {length}, got {prefixes.shape}"
        )
    N, t = prefixes.shape
    padded = np.zeros((N, length), dtype=np.int64)
    padded[:, :t] = prefixes
    return encode_prefixes(padded, length, vocab)[t]


def encode_dynamics_inputs(prefix_codes, intended, vocab):
    """``[e(prefix), onehot(a)]`` for the dynamics network.

    ``prefix_codes``: ``(..., L V)`` from :func:`encode_prefixes`; ``intended``: integer
    tokens of the same leading shape. Returns ``(..., (L + 1) V)``.
    """
    intended = np.asarray(intended)
    if intended.shape != tuple(prefix_codes.shape[:-1]):
        raise ValueError(
            f"intended: expected shape {tuple(prefix_codes.shape[:-1])}, got {intended.shape}"
        )
    if intended.size and (intended.min() < 0 or intended.max() >= vocab):
        raise ValueError(f"intended: expected tokens in 0..{vocab - 1}")
    a = np.eye(vocab)[intended]
    return xp.concatenate([prefix_codes, xp.asarray(a, dtype=prefix_codes.dtype)], axis=-1)


# --------------------------------------------------------------------------- policy


def init_policy(length, vocab, hidden, depth, rng, dtype="float64"):
    """Parameters of the policy network: ``L V -> hidden x depth -> 2 V + 1``."""
    _check_sizes(length, vocab, hidden, depth)
    return nn.init_mlp((length * vocab, *([hidden] * depth), 2 * vocab + 1), rng, dtype)


def policy_forward(params, codes, mlp=nn):
    """Heads of the policy network for prefix codes ``(..., L V)``; ``mlp``: ``reference.nn``
    or a module with the same ``mlp_forward``/``mlp_backward`` (``gflownet.kernels``).

    Returns ``(fwd_logits (..., V), bwd_logits (..., V), log_flow (...), cache)``.
    """
    lead = tuple(codes.shape[:-1])
    out, cache = mlp.mlp_forward(params, codes.reshape(-1, codes.shape[-1]), activation="relu")
    V = (out.shape[-1] - 1) // 2
    out = out.reshape(*lead, 2 * V + 1)
    return out[..., :V], out[..., V : 2 * V], out[..., 2 * V], {"mlp": cache, "lead": lead}


def policy_backward(params, cache, d_fwd, d_bwd, d_log_flow, mlp=nn):
    """Parameter gradients from the adjoints of the three heads (any may be ``None``)."""
    lead = cache["lead"]
    V = (params[f"W{nn.mlp_num_layers(params)}"].shape[1] - 1) // 2
    dims = {"d_fwd": (d_fwd, V), "d_bwd": (d_bwd, V), "d_log_flow": (d_log_flow, None)}
    parts = []
    for name, (d, width) in dims.items():
        shape = lead + ((width,) if width else ())
        if d is None:
            d = xp.zeros(shape)
        elif tuple(d.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(d.shape)}")
        parts.append(d.reshape(-1, width or 1))
    grads, _ = mlp.mlp_backward(params, cache["mlp"], xp.concatenate(parts, axis=1), need_dx=False)
    return grads


# --------------------------------------------------------------------------- dynamics


def init_dynamics(length, vocab, hidden, depth, rng, dtype="float64"):
    """Parameters of the dynamics network: ``(L + 1) V -> hidden x depth -> V``."""
    _check_sizes(length, vocab, hidden, depth)
    return nn.init_mlp(((length + 1) * vocab, *([hidden] * depth), vocab), rng, dtype)


def dynamics_forward(params, inputs, mlp=nn):
    """Realized-token logits ``(..., V)`` for inputs ``(..., (L + 1) V)``; ``(logits, cache)``."""
    lead = tuple(inputs.shape[:-1])
    out, cache = mlp.mlp_forward(params, inputs.reshape(-1, inputs.shape[-1]), activation="relu")
    return out.reshape(*lead, out.shape[-1]), {"mlp": cache, "lead": lead}


def dynamics_backward(params, cache, d_logits, mlp=nn):
    """Parameter gradients of the dynamics network from ``dL/dlogits (..., V)``."""
    grads, _ = mlp.mlp_backward(
        params, cache["mlp"], d_logits.reshape(-1, d_logits.shape[-1]), need_dx=False
    )
    return grads


# --------------------------------------------------------------------------- checks


def _check_sizes(length, vocab, hidden, depth):
    for name, value, low in (("length", length, 1), ("vocab", vocab, 2), ("hidden", hidden, 1),
                             ("depth", depth, 1)):  # fmt: skip
        if int(value) != value or value < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {value}")


def _check_tokens(tokens, name, length, vocab):
    tokens = np.asarray(tokens)
    if tokens.ndim != 2 or tokens.shape[1] != length:
        raise ValueError(f"{name}: expected shape (batch, {length}), got {tokens.shape}")
    if not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"{name}: expected integer tokens, got dtype {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab):
        raise ValueError(f"{name}: expected tokens in 0..{vocab - 1}")
    return tokens
