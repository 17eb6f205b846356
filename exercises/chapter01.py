"""Checker specs for the chapter 1 exercises (residual-logit dynamics on the simplex).

Each spec compares the student's function with the library (``reference.nn`` and
``reference.residual_dynamics.model``) on seeded random cases and on adversarial cases, and
lists known wrong variants (:class:`~exercises.check.Mistake`) whose hints are shown when a
student's output matches one of them. Equation numbers refer to
``reference/residual_dynamics/model.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from exercises.check import (
    Case,
    ContractError,
    ExerciseSpec,
    Mistake,
    named_outputs,
    register,
)
from reference import nn
from reference.gradcheck import rel_error
from reference.residual_dynamics import model as rd

CHAPTER_DIR = "01-residual-dynamics"
EPS = rd.EPS
TOL = 1e-8  # relative error (reference.gradcheck.rel_error) allowed for every exercise


def _simplex(rng, shape, scale=1.0):
    """Rows on the probability simplex: softmax of normal draws (times ``scale``)."""
    return nn.softmax(scale * rng.normal(size=shape))


def _with_entry(N, value, column=0):
    """Set one entry per row to ``value`` and renormalise the rest so rows sum to 1."""
    rest = np.delete(N, column, axis=-1)
    rest = rest / rest.sum(axis=-1, keepdims=True) * (1.0 - value)
    return np.insert(rest, column, value, axis=-1)


# --------------------------------------------------------------------------- 1.1 softmax VJP


def _ex1_cases(rng):
    def case(name, shape, logit_scale=1.0, shift=0.0):
        s = _simplex(rng, shape, logit_scale)
        return Case(name, (s, rng.normal(size=shape) + shift))

    # Near one-hot rows have dz ~ 0; rel_error scales by the largest entry of the whole
    # array, so ordinary rows are mixed in to keep that scale O(1) (round-off stays ~1e-16).
    spiky = np.concatenate([_simplex(rng, (3, 4), 1e3), _simplex(rng, (3, 4))])

    return [
        case("random rows (B=4, m=3)", (4, 3)),
        case("random rows (B=2, m=7)", (2, 7)),
        case("time-major (T=3, B=4, m=5): reduce over the last axis", (3, 4, 5)),
        case("square batch (B = m = 4)", (4, 4)),
        Case(
            "large logits (|z| ~ 1e3) in half the rows: s has exact 0s and 1s",
            (spiky, rng.normal(size=spiky.shape)),
        ),
        case("dout shifted by 1e3 (dz must not change)", (3, 5), shift=1e3),
        case("one row, m = 2", (1, 2)),
    ]


register(
    ExerciseSpec(
        exercise_id="ex01_1",
        title="Exercise 1.1: softmax backward (eq. 1.8)",
        path=f"{CHAPTER_DIR}/ex1_softmax_backward.py",
        function="softmax_vjp",
        reference=lambda case: nn.softmax_backward(*case.args),
        cases=_ex1_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the '- <dout, s>' term is missing: dz = s * (dout - sum(dout * s)) "
                "(eq. 1.8); the Jacobian is diag(s) - s s^T, not diag(s).",
                lambda s, dout: s * dout,
            ),
            Mistake(
                "looks like you subtracted sum(dout) instead of the weighted sum <dout, s> = "
                "sum(dout * s).",
                lambda s, dout: s * (dout - dout.sum(axis=-1, keepdims=True)),
            ),
            Mistake(
                "looks like <dout, s> was summed over the wrong axis: one softmax per row, so sum "
                "over the last axis (axis=-1).",
                lambda s, dout: s * (dout - np.sum(dout * s, axis=0, keepdims=True)),
            ),
            Mistake(
                "looks like the row sums lost their axis and broadcast across columns: use "
                "keepdims=True (or [..., None]) so each row subtracts its own <dout, s>.",
                lambda s, dout: s * (dout - np.sum(dout * s, axis=-1)),
            ),
        ),
        seed=101,
    )
)


# --------------------------------------------------------------------------- 1.2 entropy


def _ex2_reference(case):
    N, c, w = case.args
    return rd.loss_adjoints(N, np.zeros_like(N), c, w)[0]


def _ex2_cases(rng):
    T, B, m = 3, 4, 5
    c = 1.0 / (T * B)
    tiny = _with_entry(_simplex(rng, (B, m)), 1e-12)
    tiny[1, 2:] = np.array([1e-10, 1e-8, 0.5])  # a range of tiny entries
    tiny[1] /= tiny[1].sum()
    zeros = _with_entry(_simplex(rng, (B, m)), 0.0, column=1)
    zeros[0] = np.eye(m)[3]  # a vertex: one 1 and four exact zeros
    return [
        Case("random simplex rows (T=3, B=4, m=5), w = 0.1", (_simplex(rng, (T, B, m)), c, 0.1)),
        Case("random rows (B=6, m=3), w = 1, c = 1", (_simplex(rng, (6, 3)), 1.0, 1.0)),
        Case("exact zero probabilities (log needs the eps)", (zeros, c, 0.1)),
        Case("tiny probabilities (1e-12..1e-8): N/(N+eps) is far from 1", (tiny, c, 0.1)),
        Case("near one-hot rows (logits ~ 30)", (_simplex(rng, (B, m), 30.0), c, 0.1)),
    ]


def _entropy_wrong(term):
    return lambda N, c, w: w * c * term(N)


register(
    ExerciseSpec(
        exercise_id="ex01_2",
        title="Exercise 1.2: entropy gradient with eps (eq. 1.7)",
        path=f"{CHAPTER_DIR}/ex2_entropy_gradient.py",
        function="entropy_direct_adjoint",
        reference=_ex2_reference,
        cases=_ex2_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like log(N) + 1: keep the eps, d/dN [N log(N + eps)] = log(N + eps) + "
                "N / (N + eps) (eq. 1.7); log(0) = -inf at a vertex of the simplex.",
                _entropy_wrong(lambda N: np.log(N) + 1.0),
            ),
            Mistake(
                "looks like N / (N + eps) was replaced by 1: that holds only for N >> eps, and "
                "tiny probabilities show the difference.",
                _entropy_wrong(lambda N: np.log(N + EPS) + 1.0),
            ),
            Mistake(
                "sign: the loss is mean[sum g^2] - w H with H = -sum N log(N + eps), so the "
                "adjoint is +w c (log(N + eps) + N / (N + eps)).",
                _entropy_wrong(lambda N: -(np.log(N + EPS) + N / (N + EPS))),
            ),
            Mistake(
                "looks like the scale c = 1 / (T B) (or the weight w) is missing: the loss is a "
                "mean over (t, b) and the entropy enters with weight w.",
                lambda N, c, w: w * (np.log(N + EPS) + N / (N + EPS)),
            ),
            Mistake(
                "looks like the weight w is missing (or fixed at 0.1): use the argument w.",
                lambda N, c, w: 0.1 * c * (np.log(N + EPS) + N / (N + EPS)),
            ),
        ),
        seed=102,
    )
)


# --------------------------------------------------------------------------- 1.3 step adjoint


def _ex3_case(name, rng, B, m, H=5, N_prev=None, alpha=None):
    """A step of the library model whose MLP cannot see its input (W1 = 0), so the
    library's step_backward returns exactly the direct terms of eqs. (1.10)-(1.11)."""
    params = rd.init_params(m, H, rng)
    params["W1"] = np.zeros_like(params["W1"])  # x_t @ W1 = 0, hence xbar = a1bar @ W1.T = 0
    N_prev = _simplex(rng, (B, m)) if N_prev is None else N_prev
    alpha = rng.uniform(0.05, 0.95, size=m) if alpha is None else alpha
    g_prev = 0.1 * rng.normal(size=(B, m))
    y_t, r_t = rng.random((B, m)), rng.random((B, m))
    N_t, _, _, cache = rd.step(params, alpha, N_prev, g_prev, y_t, r_t)
    Nbar_t, gbar_t = rng.normal(size=(B, m)), rng.normal(size=(B, m))
    zbar = nn.softmax_backward(N_t, Nbar_t)
    context = {"params": params, "g_prev": g_prev, "N_t": N_t, "cache": cache, "Nbar_t": Nbar_t}
    return Case(name, (zbar, N_prev, y_t, alpha, gbar_t), context)


def _ex3_reference(case):
    zbar, N_prev, y_t, alpha, gbar_t = case.args
    ctx = case.context
    if np.any(ctx["params"]["W1"]):
        raise RuntimeError("checker bug: ex01_3 needs W1 = 0 so the MLP-input path vanishes")
    _, Nbar_prev, gbar_prev, _ = rd.step_backward(
        ctx["params"],
        alpha,
        N_prev,
        ctx["g_prev"],
        y_t,
        ctx["N_t"],
        ctx["cache"],
        ctx["Nbar_t"],
        gbar_t,
    )
    return Nbar_prev, gbar_prev


def _ex3_cases(rng):
    return [
        _ex3_case("random (B=4, m=3)", rng, 4, 3),
        _ex3_case("random (B=3, m=6)", rng, 3, 6, H=4),
        _ex3_case("one row (B=1, m=4)", rng, 1, 4),
        _ex3_case(
            "tiny entries in N_prev (1e-12): the eps in 1/(N_prev + eps) matters",
            rng,
            3,
            4,
            N_prev=_with_entry(_simplex(rng, (3, 4)), 1e-12, column=2),
        ),
        _ex3_case(
            "an exact zero in N_prev", rng, 2, 3, N_prev=_with_entry(_simplex(rng, (2, 3)), 0.0)
        ),
        _ex3_case("alpha at its extremes (0 and 1)", rng, 3, 3, alpha=np.array([0.0, 0.5, 1.0])),
    ]


register(
    ExerciseSpec(
        exercise_id="ex01_3",
        title="Exercise 1.3: adjoint of one residual-logit step (eqs. 1.10-1.11)",
        path=f"{CHAPTER_DIR}/ex3_step_backward.py",
        function="residual_step_adjoint",
        reference=_ex3_reference,
        cases=_ex3_cases,
        tol=TOL,
        outputs=named_outputs("Nbar_prev", "gbar_prev"),
        mistakes=(
            Mistake(
                "looks like log(N_{t-1} + eps) was treated as a constant (a silent "
                "stop-gradient): z_t = log(N_{t-1} + eps) + d_t passes zbar / (N_{t-1} + eps) "
                "back to N_{t-1} (eq. 1.10).",
                lambda zbar, N, y, a, gbar: (-a * y * gbar, a * gbar),
            ),
            Mistake(
                "looks like the eps is missing: the derivative of log(N_{t-1} + eps) is "
                "1 / (N_{t-1} + eps), finite even where N_{t-1} is 0.",
                lambda zbar, N, y, a, gbar: (zbar / N - a * y * gbar, a * gbar),
            ),
            Mistake(
                "sign of the g path: g_t contains -alpha N_{t-1} y_t, so N_{t-1} receives "
                "-alpha y_t gbar_t (eq. 1.10).",
                lambda zbar, N, y, a, gbar: (zbar / (N + EPS) + a * y * gbar, a * gbar),
            ),
            Mistake(
                "looks like the y_t factor is missing from the g path: d g_t / d N_{t-1} = "
                "-alpha y_t (elementwise).",
                lambda zbar, N, y, a, gbar: (zbar / (N + EPS) - a * gbar, a * gbar),
            ),
            Mistake(
                "g_{t-1} enters g_t multiplied by alpha, so gbar_{t-1} = alpha gbar_t "
                "(eq. 1.11); alpha is missing.",
                lambda zbar, N, y, a, gbar: (zbar / (N + EPS) - a * y * gbar, gbar),
            ),
        ),
        seed=103,
    )
)


# --------------------------------------------------------------------------- 1.4 g adjoint


def _g_adjoint_autograd(alpha, gbar_direct):
    """d/du of sum_t <gbar_direct_t, g_t> for the linear recursion g_t = alpha g_{t-1} + u_t,
    g_0 = 0: since u_t enters g_t with weight 1, this is the total adjoint dL/dg_t."""
    import autograd
    import autograd.numpy as anp

    def objective(u):
        g, total = anp.zeros(u.shape[1:]), 0.0
        for t in range(u.shape[0]):
            g = alpha * g + u[t]
            total = total + anp.sum(gbar_direct[t] * g)
        return total

    return autograd.grad(objective)(np.zeros_like(gbar_direct))


def _g_adjoint_closed_form(alpha, gbar_direct):
    """gbar_t = sum_{s >= t} alpha^(s - t) gbar_direct_s, all t at once."""
    T = gbar_direct.shape[0]
    lag = np.arange(T)[None, :] - np.arange(T)[:, None]  # s - t
    weights = np.where(lag[..., None] >= 0, alpha ** np.maximum(lag, 0)[..., None], 0.0)
    return np.einsum("tsm,sbm->tbm", weights, gbar_direct)


def _ex4_reference(case):
    """Autograd, cross-checked against the closed form and (when given) the library's BPTT."""
    alpha, gbar_direct = case.args
    gbars = _g_adjoint_autograd(alpha, gbar_direct)
    others = {"closed form": _g_adjoint_closed_form(alpha, gbar_direct)}
    if "library_gbars" in case.context:
        others["library backprop_through_time"] = case.context["library_gbars"]
    for name, other in others.items():
        if not rel_error(gbars, other) <= 1e-10:
            raise RuntimeError(f"checker bug: ex01_4 autograd and {name} disagree")
    return gbars


def _ex4_library_case(rng, T=5, B=2, m=3, H=4):
    """gbar_direct = 2 c g_t from a model run whose MLP ignores g_{t-1} (W1's g rows = 0),
    so the library's total adjoints gbars obey exactly the recursion of the exercise."""
    params = rd.init_params(m, H, rng)
    params["W1"][3 * m :] = 0.0
    alpha = rd.default_alpha(m)
    N0, g0, ys, rs = rd.make_inputs(T, B, m, rng)
    g0 = 0.1 * rng.normal(size=g0.shape)
    Ns, gs, _ = rd.forward(params, alpha, N0, g0, ys, rs)
    _, gbar_direct = rd.loss_adjoints(Ns, gs, 1.0 / (T * B))
    gbars = rd.backprop_through_time(params, alpha, N0, g0, ys, rs)[4]
    name = "library BPTT (W1's g rows = 0, gbar_direct = 2 c g_t)"
    return Case(name, (alpha, gbar_direct), {"library_gbars": gbars})


def _ex4_cases(rng):
    def case(name, T, B, alpha):
        alpha = np.asarray(alpha, dtype=np.float64)
        return Case(name, (alpha, rng.normal(size=(T, B, alpha.size))))

    return [
        case("random (T=6, B=3, m=4)", 6, 3, rng.uniform(0.1, 0.9, size=4)),
        case("one batch row (T=5, B=1, m=3)", 5, 1, rng.uniform(0.1, 0.9, size=3)),
        case("T = 1 (nothing to carry)", 1, 2, rng.uniform(0.1, 0.9, size=3)),
        case("alpha in {0, 1} (no carry / no decay), T = 20", 20, 2, [0.0, 1.0, 0.5]),
        case("long horizon T = 200", 200, 2, [0.1, 0.5, 0.9, 0.99]),
        _ex4_library_case(rng),
    ]


def _g_adjoint_wrong(carry):
    """A backward loop gbar_t = gbar_direct_t + carry(alpha, gbar_direct_{t+1}, gbar_{t+1})."""

    def fn(alpha, gbar_direct):
        gbars = np.array(gbar_direct, dtype=np.float64, copy=True)
        for t in range(gbars.shape[0] - 2, -1, -1):
            gbars[t] = gbar_direct[t] + carry(alpha, gbar_direct[t + 1], gbars[t + 1])
        return gbars

    return fn


def _g_adjoint_forward_in_time(alpha, gbar_direct):
    gbars = np.array(gbar_direct, dtype=np.float64, copy=True)
    for t in range(1, gbars.shape[0]):
        gbars[t] = gbar_direct[t] + alpha * gbars[t - 1]
    return gbars


register(
    ExerciseSpec(
        exercise_id="ex01_4",
        title="Exercise 1.4: adjoint of the g recursion over a sequence (eq. 1.11)",
        path=f"{CHAPTER_DIR}/ex4_g_adjoint.py",
        function="g_adjoint",
        reference=_ex4_reference,
        cases=_ex4_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like alpha is missing from the carry: g_{t+1} = alpha g_t + ..., so "
                "gbar_t = gbar_direct_t + alpha gbar_{t+1}.",
                _g_adjoint_wrong(lambda a, direct_next, total_next: total_next),
            ),
            Mistake(
                "looks like the carry uses only the direct part of the next adjoint: carry the "
                "total gbar_{t+1} (which already contains everything after t + 1).",
                _g_adjoint_wrong(lambda a, direct_next, total_next: a * direct_next),
            ),
            Mistake(
                "looks like the recursion runs forward in time: adjoints run backwards, from "
                "gbar_T = gbar_direct_T down to t = 1.",
                _g_adjoint_forward_in_time,
            ),
            Mistake(
                "you returned the direct term only; add the carried alpha * gbar_{t+1}.",
                lambda alpha, gbar_direct: np.array(gbar_direct, dtype=np.float64),
            ),
        ),
        seed=104,
    )
)


# --------------------------------------------------------------------------- 1.5 clip + Adam

BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2)}


def _ex5_reference(case):
    params, grads, state, lr, max_norm = case.args
    clipped, _ = nn.clip_grad_norm(grads, max_norm)
    return nn.Adam(lr=lr).step(params, clipped, state)


def _ex5_outputs(output, case):
    """``step``, the parameter update ``new - old`` (where Adam's eps shows even for tiny
    steps), and the moments ``m``, ``v`` (where the clip shows even at k = 1)."""
    params = case.args[0]
    if not isinstance(output, tuple | list) or len(output) != 2:
        raise ContractError("expected a pair (params, state)")
    new_params, state = output
    _require_keys(new_params, "params", params)
    if not isinstance(state, Mapping) or not {"step", "m", "v"} <= set(state):
        raise ContractError("state: expected a dict with keys 'step', 'm' and 'v'")
    _require_keys(state["m"], "state['m']", params)
    _require_keys(state["v"], "state['v']", params)
    named = {"state['step']": state["step"]}
    for k in params:
        try:
            new = np.asarray(new_params[k], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ContractError(f"params[{k!r}]: expected a numeric array") from exc
        if new.shape != params[k].shape:
            raise ContractError(f"params[{k!r}]: shape {new.shape}, expected {params[k].shape}")
        named[f"update[{k!r}]"] = new - params[k]
    named.update({f"state['m'][{k!r}]": state["m"][k] for k in params})
    named.update({f"state['v'][{k!r}]": state["v"][k] for k in params})
    return named


def _require_keys(d, name, params):
    if not isinstance(d, Mapping) or set(d) != set(params):
        got = sorted(d) if isinstance(d, Mapping) else type(d).__name__
        raise ContractError(f"{name}: expected a dict with keys {sorted(params)}, got {got}")


def _grads(rng, norm=None, scales=None):
    """Random gradients, optionally rescaled to global norm ``norm`` or per tensor."""
    grads = {k: rng.normal(size=s) for k, s in SHAPES.items()}
    if scales is not None:
        grads = {k: g * scales[k] / np.sqrt(np.sum(g * g)) for k, g in grads.items()}
    if norm is not None:
        total = float(nn.global_norm(grads))
        grads = {k: g * (norm / total) for k, g in grads.items()}
    return grads


def _state_after(rng, params, updates, lr, max_norm):
    """Adam state after ``updates`` library steps on random gradients (for k > 1 cases)."""
    opt = nn.Adam(lr=lr)
    state = opt.init(params)
    for _ in range(updates):
        clipped, _ = nn.clip_grad_norm(_grads(rng, norm=2.0), max_norm)
        params, state = opt.step(params, clipped, state)
    return params, state


def _ex5_cases(rng):
    def case(name, grads, updates=0, lr=1e-3, max_norm=1.0):
        params = {k: rng.normal(size=s) for k, s in SHAPES.items()}
        params, state = _state_after(rng, params, updates, lr, max_norm)
        return Case(name, (params, grads, state, lr, max_norm))

    just_below = 1.0 - 2e-7  # total + 1e-6 > max_norm: torch still clips
    return [
        case("k = 1, global norm 3 > max_norm 1 (clipped)", _grads(rng, norm=3.0)),
        case("k = 1, lr = 0.01 (bias correction at k = 1)", _grads(rng, norm=0.5), lr=1e-2),
        case("k = 3, global norm 5 > max_norm 1", _grads(rng, norm=5.0), updates=2),
        case("k = 2, norm 0.5 < max_norm 1 (untouched)", _grads(rng, norm=0.5), updates=1),
        case(
            "k = 1, norm 1 - 2e-7: coef = max_norm / (norm + 1e-6) < 1, so torch clips",
            _grads(rng, norm=just_below),
        ),
        case(
            "k = 3, one tensor much larger than the others (global, not per-tensor clip)",
            _grads(rng, scales={"W1": 10.0, "b1": 0.05, "W2": 0.3}),
            updates=2,
        ),
        case(
            "k = 1, tiny gradients (1e-12): shows where eps is added",
            _grads(rng, norm=1e-12),
            lr=0.1,
        ),
        case("k = 4, max_norm = 5, norm 8", _grads(rng, norm=8.0), updates=3, max_norm=5.0),
    ]


def _adam_variant(clip="global", eps_order="torch", bias_correction=True, k_offset=1):
    """clip + Adam written out, with one knob per known mistake (defaults are correct)."""

    def fn(params, grads, state, lr, max_norm):
        if clip == "global":
            total = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
            coef = max_norm / (total + 1e-6)
            grads = {k: g * coef for k, g in grads.items()} if coef < 1 else grads
        elif clip == "per tensor":
            grads = {
                k: g * min(1.0, max_norm / (np.sqrt(np.sum(g * g)) + 1e-6))
                for k, g in grads.items()
            }
        elif clip == "strict":
            total = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
            grads = (
                {k: g * (max_norm / total) for k, g in grads.items()} if total > max_norm else grads
            )
        elif clip == "value":
            grads = {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}
        b1, b2 = BETAS
        k_used = state["step"] + k_offset
        bc1 = 1.0 - b1**k_used if bias_correction else 1.0
        bc2 = 1.0 - b2**k_used if bias_correction else 1.0
        new_params, m_new, v_new = {}, {}, {}
        for name, theta in params.items():
            g = grads[name]
            m = b1 * state["m"][name] + (1 - b1) * g
            v = b2 * state["v"][name] + (1 - b2) * g * g
            if eps_order == "torch":
                step = (m / bc1) / (np.sqrt(v / bc2) + ADAM_EPS)
            else:  # eps added to the uncorrected sqrt(v), corrections folded into the step size
                step = (math.sqrt(bc2) / bc1) * m / (np.sqrt(v) + ADAM_EPS)
            new_params[name], m_new[name], v_new[name] = theta - lr * step, m, v
        return new_params, {"step": state["step"] + 1, "m": m_new, "v": v_new}

    return fn


register(
    ExerciseSpec(
        exercise_id="ex01_5",
        title="Exercise 1.5: global-norm clipping and one Adam step (torch semantics)",
        path=f"{CHAPTER_DIR}/ex5_clip_and_adam.py",
        function="adam_step_with_clip",
        reference=_ex5_reference,
        cases=_ex5_cases,
        tol=TOL,
        outputs=_ex5_outputs,
        mistakes=(
            Mistake(
                "looks like you clipped per tensor: clip_grad_norm_ computes ONE norm over all "
                "gradients (weights and biases together) and scales them all by the same coef.",
                _adam_variant(clip="per tensor"),
            ),
            Mistake(
                "looks like the clip tested total > max_norm (or dropped the 1e-6): torch uses "
                "coef = max_norm / (total + 1e-6) and scales when coef < 1.",
                _adam_variant(clip="strict"),
            ),
            Mistake(
                "looks like a value clip (np.clip): clip_grad_norm_ rescales all gradients by "
                "one factor, it never clips entries.",
                _adam_variant(clip="value"),
            ),
            Mistake(
                "looks like eps was added before the bias correction (to the uncorrected "
                "sqrt(v)): torch divides sqrt(v) by sqrt(1 - beta2^k) first, then adds eps.",
                _adam_variant(eps_order="folded"),
            ),
            Mistake(
                "looks like the bias corrections 1 / (1 - beta1^k) and 1 / sqrt(1 - beta2^k) "
                "are missing.",
                _adam_variant(bias_correction=False),
            ),
            Mistake(
                "looks like the bias correction used the old step count: increment k first, "
                "so k = 1 on the first update (and return state['step'] = k).",
                _adam_variant(k_offset=0),
            ),
        ),
        seed=105,
    )
)
