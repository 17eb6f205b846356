"""Dense layers, activations and optimisers with hand-written backward passes.

Conventions used in every chapter:

* a batch of vectors is ``(batch, features)``; a linear layer is ``y = x @ W + b`` with
  ``W: (in, out)`` (PyTorch stores ``(out, in)``; transpose when importing its weights);
* parameters and gradients are plain dicts ``{name: array}`` with the same keys;
* each forward function sits next to its backward, which takes the upstream adjoint
  ``dout = dL/d(output)`` and returns the adjoints of the inputs;
* the optimisers reproduce ``torch.nn.utils.clip_grad_norm_``, ``torch.optim.Adam`` and
  ``torch.optim.RAdam`` operation by operation, so a NumPy run tracks a PyTorch run to
  floating-point round-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reference.backend import xp

# --------------------------------------------------------------------------- layers


def linear(x, W, b):
    """Affine map ``x @ W + b`` for ``x: (batch, in)``, ``W: (in, out)``, ``b: (out,)``."""
    return x @ W + b


def linear_backward(x, W, dout):
    """Adjoints of :func:`linear`: returns ``(dx, dW, db)`` for ``dout = dL/dy: (batch, out)``."""
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def relu(x):
    """max(x, 0), elementwise."""
    return xp.maximum(x, 0.0)


def relu_backward(out, dout):
    """dL/dx for ``out = relu(x)``: the adjoint passes where the unit is active (``x > 0``).

    At ``x = 0`` the derivative is taken as 0, as in PyTorch.
    """
    return dout * (out > 0)


def tanh(x):
    return xp.tanh(x)


def tanh_backward(out, dout):
    """dL/dx for ``out = tanh(x)``: ``dout * (1 - out**2)``."""
    return dout * (1.0 - out * out)


def identity(x):
    return x


def identity_backward(out, dout):
    return dout


ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "tanh": (tanh, tanh_backward),
    "identity": (identity, identity_backward),
}


def softmax(z, axis=-1):
    """softmax(z)_i = exp(z_i - max z) / sum_j exp(z_j - max z) along ``axis``."""
    e = xp.exp(z - xp.max(z, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def softmax_backward(s, dout, axis=-1):
    """Vector-Jacobian product of the softmax: ``dz = s * (dout - <dout, s>)``.

    ``s`` is the softmax output. The ``m x m`` Jacobian ``diag(s) - s s^T`` is never formed.
    """
    return s * (dout - xp.sum(dout * s, axis=axis, keepdims=True))


def log_softmax(z, axis=-1):
    """log softmax(z) = z - logsumexp(z), computed stably."""
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def log_softmax_backward(logp, dout, axis=-1):
    """Vector-Jacobian product of log_softmax: ``dz = dout - softmax(z) * sum(dout)``."""
    return dout - xp.exp(logp) * xp.sum(dout, axis=axis, keepdims=True)


# --------------------------------------------------------------------------- MLP


def init_linear(fan_in, fan_out, rng, dtype="float64"):
    """PyTorch's default ``nn.Linear`` initialisation in ``x @ W + b`` form.

    Both ``W: (fan_in, fan_out)`` and ``b: (fan_out,)`` are drawn from
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (kaiming-uniform with a = sqrt(5) reduces to this
    bound). The numbers differ from PyTorch's because the random streams differ.
    """
    _check_rng(rng)
    if int(fan_in) < 1 or int(fan_out) < 1:
        raise ValueError(f"fan_in, fan_out: expected positive sizes, got {fan_in}, {fan_out}")
    bound = 1.0 / math.sqrt(fan_in)
    W = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(dtype)
    b = rng.uniform(-bound, bound, size=(fan_out,)).astype(dtype)
    return xp.asarray(W), xp.asarray(b)


def init_mlp(sizes, rng, dtype="float64"):
    """``{W1, b1, ..., WL, bL}`` for layer widths ``sizes = (in, h1, ..., out)``."""
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least (in, out), got {tuple(sizes)}")
    params = {}
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{k}"], params[f"b{k}"] = init_linear(fan_in, fan_out, rng, dtype)
    return params


def mlp_num_layers(params):
    """Number of layers L of an MLP stored as ``{W1, b1, ..., WL, bL}``."""
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L == 0:
        raise ValueError(f"params: expected keys W1, b1, ...; got {sorted(params)}")
    return L


def mlp_forward(params, x, activation="relu", out_activation="identity"):
    """``h_k = act(h_{k-1} @ W_k + b_k)``, the last layer with ``out_activation``.

    Returns ``(out, cache)``; ``cache`` holds what :func:`mlp_backward` needs (the input and
    every post-activation).
    """
    act, _ = ACTIVATIONS[activation]
    out_act, _ = ACTIVATIONS[out_activation]
    L = mlp_num_layers(params)
    hs = [x]
    h = x
    for k in range(1, L + 1):
        a = linear(h, params[f"W{k}"], params[f"b{k}"])
        h = out_act(a) if k == L else act(a)
        hs.append(h)
    return h, {"hs": hs, "activation": activation, "out_activation": out_activation}


def mlp_backward(params, cache, dout, need_dx=True):
    """Backward of :func:`mlp_forward`: returns ``(grads, dx)`` for ``dout = dL/d(out)``.

    ``grads`` has the same keys as ``params``; ``dx`` is ``None`` when ``need_dx`` is False.
    """
    _, act_back = ACTIVATIONS[cache["activation"]]
    _, out_act_back = ACTIVATIONS[cache["out_activation"]]
    hs = cache["hs"]
    L = len(hs) - 1
    grads = {}
    dh = dout
    for k in range(L, 0, -1):
        da = out_act_back(hs[k], dh) if k == L else act_back(hs[k], dh)
        grads[f"W{k}"] = hs[k - 1].T @ da
        grads[f"b{k}"] = da.sum(axis=0)
        if k > 1 or need_dx:
            dh = da @ params[f"W{k}"].T
    return grads, (dh if need_dx else None)


# --------------------------------------------------------------------------- optimisers


def global_norm(grads):
    """The L2 norm of all gradients together, as ``clip_grad_norm_`` computes it.

    PyTorch takes the norm of each tensor first and then the norm of those norms; we do the
    same. The sums inside each norm are reduced in a different order than PyTorch's
    vectorised kernel, so the result agrees to a few ulp (5e-16 relative in the tests), not
    bit for bit.
    """
    norms = xp.stack([xp.sqrt(xp.sum(g * g)) for g in grads.values()])
    return xp.sqrt(xp.sum(norms * norms))


def clip_grad_norm(grads, max_norm):
    """``torch.nn.utils.clip_grad_norm_`` (norm type 2) on a dict of gradients.

    ``total = ||all gradients||_2``; ``coef = max_norm / (total + 1e-6)``; if ``coef < 1``
    every gradient is multiplied by ``coef``, otherwise the gradients are returned untouched.
    Returns ``(clipped, total)`` where ``total`` is the norm *before* clipping. The input dict
    is not modified.
    """
    if not (max_norm > 0):
        raise ValueError(f"max_norm: expected a positive number, got {max_norm}")
    total = global_norm(grads)
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        return {k: g * coef for k, g in grads.items()}, total
    return dict(grads), total


def _check_rng(rng):
    import numpy

    if not isinstance(rng, numpy.random.Generator):
        raise ValueError(
            f"rng: expected a numpy.random.Generator (numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )


def _lerp(start, end, weight):
    """``torch.lerp`` as PyTorch evaluates it (two branches, for round-off parity)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


@dataclass(frozen=True)
class Adam:
    """``torch.optim.Adam`` (amsgrad off), step by step::

        k = k + 1
        m = lerp(m, g, 1 - beta1)                     # = beta1 m + (1 - beta1) g
        v = beta2 v + (1 - beta2) g^2
        theta = theta - lr / (1 - beta1^k) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)

    ``eps`` is added *after* the bias correction of ``sqrt(v)``. ``weight_decay`` adds
    ``weight_decay * theta`` to the gradient first (PyTorch's L2 form, not AdamW).
    """

    lr: float = 1e-3
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self):
        _check_hyper(self.lr, self.betas, self.eps, self.weight_decay)

    def init(self, params):
        """Fresh state: step 0 and zero moments shaped like ``params``."""
        return {
            "step": 0,
            "m": {k: xp.zeros_like(p) for k, p in params.items()},
            "v": {k: xp.zeros_like(p) for k, p in params.items()},
        }

    def step(self, params, grads, state):
        """One update. Returns new ``(params, state)``; the inputs are not modified."""
        _check_same_keys(params, grads)
        beta1, beta2 = self.betas
        k = state["step"] + 1
        bias_correction1 = 1.0 - beta1**k
        bias_correction2_sqrt = math.sqrt(1.0 - beta2**k)
        step_size = self.lr / bias_correction1
        new_params, new_m, new_v = {}, {}, {}
        for name, theta in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * theta
            m = _lerp(state["m"][name], g, 1.0 - beta1)
            v = state["v"][name] * beta2 + ((1.0 - beta2) * g) * g  # addcmul_ order
            denom = xp.sqrt(v) / bias_correction2_sqrt + self.eps
            new_params[name] = theta - (step_size * m) / denom  # addcdiv_ order
            new_m[name], new_v[name] = m, v
        return new_params, {"step": k, "m": new_m, "v": new_v}


@dataclass(frozen=True)
class RAdam:
    """``torch.optim.RAdam`` (rectified Adam, Liu et al. 2020), step by step::

        k = k + 1;  m = lerp(m, g, 1 - beta1);  v = beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^k)
        rho_inf = 2 / (1 - beta2) - 1;  rho_k = rho_inf - 2 k beta2^k / (1 - beta2^k)
        if rho_k > 5:
            r = sqrt((rho_k - 4)(rho_k - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_k))
            theta = theta - lr * m_hat * r * sqrt(1 - beta2^k) / (sqrt(v) + eps)
        else:
            theta = theta - lr * m_hat                 # un-adapted SGD with momentum

    Unlike Adam, PyTorch's RAdam adds ``eps`` to the *uncorrected* ``sqrt(v)``.
    """

    lr: float = 1e-3
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self):
        _check_hyper(self.lr, self.betas, self.eps, self.weight_decay)

    init = Adam.init

    def step(self, params, grads, state):
        """One update. Returns new ``(params, state)``; the inputs are not modified."""
        _check_same_keys(params, grads)
        beta1, beta2 = self.betas
        k = state["step"] + 1
        bias_correction1 = 1.0 - beta1**k
        bias_correction2 = 1.0 - beta2**k
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_k = rho_inf - 2.0 * k * (beta2**k) / bias_correction2
        rect = None
        if rho_k > 5.0:
            rect = math.sqrt(
                (rho_k - 4) * (rho_k - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_k)
            )
        new_params, new_m, new_v = {}, {}, {}
        for name, theta in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * theta
            m = _lerp(state["m"][name], g, 1.0 - beta1)
            v = state["v"][name] * beta2 + ((1.0 - beta2) * g) * g  # addcmul_ order
            m_hat = m / bias_correction1
            if rect is None:
                new_params[name] = theta - m_hat * self.lr
            else:
                adaptive_lr = math.sqrt(bias_correction2) / (xp.sqrt(v) + self.eps)
                new_params[name] = theta - m_hat * self.lr * adaptive_lr * rect
            new_m[name], new_v[name] = m, v
        return new_params, {"step": k, "m": new_m, "v": new_v}


def _check_hyper(lr, betas, eps, weight_decay):
    if not (lr >= 0):
        raise ValueError(f"lr: expected >= 0, got {lr}")
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"betas: expected two numbers in [0, 1), got {betas}")
    if not (eps >= 0):
        raise ValueError(f"eps: expected >= 0, got {eps}")
    if not (weight_decay >= 0):
        raise ValueError(f"weight_decay: expected >= 0, got {weight_decay}")


def _check_same_keys(params, grads):
    if set(params) != set(grads):
        raise ValueError(
            f"grads: expected the same keys as params {sorted(params)}, got {sorted(grads)}"
        )
