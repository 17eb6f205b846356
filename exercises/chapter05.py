"""Checker specs for the chapter 5 exercises (neural generative coding and active NGC).

Each spec compares the student's function with the library (``reference.ngc``: ``circuit``,
``hebbian``, ``angc``, ``dqn``) on seeded random cases and on adversarial ones (inactive ReLU
units, negative clamped inputs, beta_e != 1/2, columns of zeros, Huber's linear branch,
terminal transitions), and lists known wrong variants whose hints are shown when a student's
output matches one of them. Equation numbers (5.k) are those of the module docstrings of
``reference/ngc/{circuit,hebbian,angc,dqn}.py``.

Layout (the chapter's): row-major batches ``(batch, J_l)``; a circuit with three weight
matrices ``W1: (J1, J0), W2: (J2, J1), W3: (J3, J2)`` and error synapses ``E1: (J0, J1)``,
``E2: (J1, J2)``; ``phi = ReLU``; the clamped ends ``x^o = z^0`` and ``x^i = z^3`` enter as
themselves.
"""

from __future__ import annotations

import numpy as np

from exercises.check import Case, ExerciseSpec, Mistake, named_outputs, register
from reference.ngc import angc, circuit, dqn, hebbian

CHAPTER_DIR = "05-ngc-angc"
TOL = 1e-8  # relative error (reference.gradcheck.rel_error) allowed for every exercise


def _relu(x):
    return np.maximum(x, 0.0)


def _params(rng, dims, scale=None):
    return circuit.init_params(dims, rng, scale=scale)


# --------------------------------------------------------------------------- 5.1 settling step


def _ex1_reference(case):
    params, x_i, x_o, z1, z2, beta, gamma_v, beta_e = case.args
    out = circuit.settle(params, x_i, x_o, 1, beta, gamma_v, beta_e, "relu", z_init=[z1, z2])
    return tuple(out["z"][1:3])


def _ex1_cases(rng):
    def case(
        name,
        dims=(3, 5, 4, 2),
        batch=3,
        start="random",
        beta=0.1,
        gamma_v=0.01,
        beta_e=0.3,
        shift=0.0,
    ):
        p = _params(rng, dims)
        x_i = rng.normal(size=(batch, dims[3])) + shift
        x_o = rng.normal(size=(batch, dims[0])) + shift
        if start == "zero":
            z1, z2 = np.zeros((batch, dims[1])), np.zeros((batch, dims[2]))
        elif start == "projection":
            z = circuit.project(p, x_i)
            z1, z2 = z[1], z[2]
        elif start == "negative":  # about half the hidden units inactive
            z1 = rng.normal(size=(batch, dims[1])) - 0.3
            z2 = rng.normal(size=(batch, dims[2])) - 0.3
        else:
            z1 = rng.normal(size=(batch, dims[1]))
            z2 = rng.normal(size=(batch, dims[2]))
        return Case(name, (p, x_i, x_o, z1, z2, beta, gamma_v, beta_e))

    return [
        case("random states (batch=3, J = 3, 5, 4, 2)"),
        case("the first step, from z = 0", start="zero"),
        case("from the fast projection (5.5)", start="projection"),
        case("many inactive ReLU units (negative z)", start="negative"),
        case("negative clamped ends: x^o and x^i enter without phi", shift=-1.0),
        case("beta_e = 1, no leak, large beta", beta=0.9, gamma_v=0.0, beta_e=1.0),
        case("batch = 1, wider layers (J = 6, 8, 7, 5)", dims=(6, 8, 7, 5), batch=1),
    ]


def _ex1_variant(
    phi_top=False,
    phi_bottom=False,
    raw_z_error=False,
    phi_prime=False,
    sequential=False,
    no_scale=False,
    flip=False,
):
    def errors(p, x_i, x_o, z1, z2, beta_e):
        f1 = z1 if raw_z_error else _relu(z1)
        f2 = z2 if raw_z_error else _relu(z2)
        s = 1.0 if no_scale else 2.0 * beta_e
        top = _relu(x_i) if phi_top else x_i
        bottom = _relu(x_o) if phi_bottom else x_o
        e0 = (bottom - _relu(z1) @ p["W1"]) / s
        e1 = (f1 - _relu(z2) @ p["W2"]) / s
        e2 = (f2 - top @ p["W3"]) / s
        return e0, e1, e2

    def fn(p, x_i, x_o, z1, z2, beta, gamma_v, beta_e):
        e0, e1, e2 = errors(p, x_i, x_o, z1, z2, beta_e)
        sign = -1.0 if flip else 1.0
        d1 = sign * (-e1 + e0 @ p["E1"])
        if phi_prime:
            d1 = d1 * (z1 > 0)
        z1_new = z1 + beta * (-gamma_v * z1 + d1)
        if sequential:
            e0, e1, e2 = errors(p, x_i, x_o, z1_new, z2, beta_e)
        d2 = sign * (-e2 + e1 @ p["E2"])
        if phi_prime:
            d2 = d2 * (z2 > 0)
        return z1_new, z2 + beta * (-gamma_v * z2 + d2)

    return fn


register(
    ExerciseSpec(
        exercise_id="ex05_1",
        title="Exercise 5.1: one settling step of an NGC circuit (eqs. 5.1-5.4)",
        path=f"{CHAPTER_DIR}/ex1_settle_step.py",
        function="settle_step",
        reference=_ex1_reference,
        cases=_ex1_cases,
        tol=TOL,
        outputs=named_outputs("z1", "z2"),
        mistakes=(
            Mistake(
                "looks like a phi'(z) factor in the update: the ANGC rule (5.3) is "
                "d = -e^l + e^{l-1} E^l with no derivative of phi (it is not the exact "
                "gradient of an energy).",
                _ex1_variant(phi_prime=True),
            ),
            Mistake(
                "looks like layer 2 was updated with errors recomputed after layer 1 moved: "
                "every hidden layer is updated from the errors of the PREVIOUS step "
                "(a Jacobi, not Gauss-Seidel, sweep).",
                _ex1_variant(sequential=True),
            ),
            Mistake(
                "looks like the errors compare z^l, not phi(z^l), with the prediction: "
                "e^l = (phi(z^l) - zbar^l) / (2 beta_e) (eq. 5.2).",
                _ex1_variant(raw_z_error=True),
            ),
            Mistake(
                "looks like phi was applied to the clamped top x^i: the top enters the "
                "prediction zbar^{L-1} = x^i W^L as itself.",
                _ex1_variant(phi_top=True),
            ),
            Mistake(
                "looks like phi was applied to the clamped bottom x^o: e^0 = (x^o - zbar^0) "
                "/ (2 beta_e), x^o is the target itself.",
                _ex1_variant(phi_bottom=True),
            ),
            Mistake(
                "looks like the errors are not divided by 2 beta_e (eq. 5.2).",
                _ex1_variant(no_scale=True),
            ),
            Mistake(
                "looks like the sign of d is flipped: d^l = -e^l + e^{l-1} E^l (eq. 5.3) "
                "moves z^l toward its prediction and toward explaining the layer below.",
                _ex1_variant(flip=True),
            ),
        ),
        seed=501,
    )
)


# --------------------------------------------------------------------------- 5.2 Hebbian update


def _ex2_reference(case):
    pre, err, W, E, gamma_e, modulate = case.args
    batch, J1 = pre.shape
    params = {"W1": W, "W2": np.ones((1, J1)), "E1": E}
    state = {"phi_z": [err, pre, np.zeros((batch, 1))], "e": [err, np.zeros((batch, J1))]}
    dW, dE = hebbian.hebbian_updates(params, state, gamma_e, modulate=modulate, use_abs=True)
    return dW["W1"], dE["E1"]


def _ex2_cases(rng):
    def case(
        name, batch=4, J0=3, J1=5, gamma_e=0.95, modulate=True, inactive=0.0, negative_cols=False
    ):
        pre = _relu(rng.normal(size=(batch, J1)) - inactive)
        err = rng.normal(size=(batch, J0))
        W = rng.normal(size=(J1, J0))
        E = rng.normal(size=(J0, J1))
        if negative_cols:  # columns whose signed sum is small but absolute sum is not
            W[:, 0] = np.abs(W[:, 0]) * np.array([1, -1] * (J1 // 2) + [1] * (J1 % 2))
            E[:, -1] = -np.abs(E[:, -1])
        W[:, -1] *= 0.1  # one weak column: its updates are scaled down
        return Case(name, (pre, err, W, E, gamma_e, modulate))

    return [
        case("random (batch=4, J0=3, J1=5), modulated"),
        case("without modulation: plain products", modulate=False),
        case("inactive presynaptic units (phi(z) = 0 rows)", inactive=0.8),
        case("columns with mixed signs: the modulation sums |A|", negative_cols=True),
        case("gamma_e = 1, batch = 1", batch=1, gamma_e=1.0),
        case("wide (J0=7, J1=2)", J0=7, J1=2, batch=6),
    ]


def _ex2_variant(
    mod_W=True, mod_E=True, use_abs=True, mean=False, E_from_raw=False, E_mod_transposed=False
):
    def M(A):
        return hebbian.modulation(A, use_abs)

    def fn(pre, err, W, E, gamma_e, modulate):
        raw = pre.T @ err
        if mean:
            raw = raw / pre.shape[0]
        dW = raw * M(W) if (modulate and mod_W) else raw
        base = raw if E_from_raw else dW
        dE = gamma_e * base.T
        if modulate and mod_E:
            dE = dE * (M(W).T if E_mod_transposed else M(E))
        return dW, dE

    return fn


register(
    ExerciseSpec(
        exercise_id="ex05_2",
        title="Exercise 5.2: the Hebbian updates of one synapse pair (eqs. 5.7-5.8)",
        path=f"{CHAPTER_DIR}/ex2_hebbian_update.py",
        function="hebbian_pair",
        reference=_ex2_reference,
        cases=_ex2_cases,
        tol=TOL,
        outputs=named_outputs("dW", "dE"),
        mistakes=(
            Mistake(
                "looks like the batch was averaged: (5.7) sums phi(z)^T e over the batch "
                "rows (any averaging belongs to the learning rate).",
                _ex2_variant(mean=True),
            ),
            Mistake(
                "looks like the modulation of W was left out: Delta W = (phi(z)^T e) (.) "
                "M_W(W) when modulate is True (eq. 5.7).",
                _ex2_variant(mod_W=False),
            ),
            Mistake(
                "looks like Delta E was built from the unmodulated product: Delta E = "
                "gamma_e (Delta W)^T (.) M_E(E), with Delta W already modulated (eq. 5.8).",
                _ex2_variant(E_from_raw=True),
            ),
            Mistake(
                "looks like E was modulated with M_W(W) transposed: each matrix has its own "
                "modulation, M_E(E) from E's column sums (eq. 5.9).",
                _ex2_variant(E_mod_transposed=True),
            ),
            Mistake(
                "looks like the modulation summed signed weights: m_j = sum_i |A_ij| "
                "(ngc-learn's variant, eq. 5.9).",
                _ex2_variant(use_abs=False),
            ),
        ),
        seed=502,
    )
)


# --------------------------------------------------------------------------- 5.3 modulation


def _ex3_cases(rng):
    A = rng.normal(size=(4, 6))
    zero_col = rng.normal(size=(5, 4))
    zero_col[:, 2] = 0.0
    equal = np.tile(rng.normal(size=(3, 1)), (1, 5))
    dominant = rng.normal(size=(6, 3))
    dominant[:, 1] *= 50.0
    positive = rng.uniform(0.0, 1.0, size=(5, 5)) - 0.1  # positive column sums
    mixed = rng.normal(size=(4, 4))
    mixed[:, 0] = [3.0, -3.0, 2.0, -2.0]  # signed sum 0, absolute sum 10
    return [
        Case("random (4 x 6), absolute values", (A, True)),
        Case("a column of zeros gets no update", (zero_col, True)),
        Case("equal columns: every factor is 1", (equal, True)),
        Case("one dominant column: the others are scaled down", (dominant, True)),
        Case("signed variant (use_abs=False), positive column sums", (positive, False)),
        Case("a column whose signed sum cancels (|.| matters)", (mixed, True)),
        Case("a single row (1 x 5)", (rng.normal(size=(1, 5)), True)),
    ]


def _ex3_variant(axis=0, factor=2.0, cap=True, abs_=None, norm="max"):
    def fn(A, use_abs):
        a = np.abs(A) if (use_abs if abs_ is None else abs_) else A
        m = a.sum(axis=axis)
        scale = m.max() if norm == "max" else m.sum()
        M = factor * m / scale
        if cap:
            M = np.minimum(M, 1.0)
        return np.broadcast_to(M[None, :] if axis == 0 else M[:, None], A.shape).copy()

    return fn


register(
    ExerciseSpec(
        exercise_id="ex05_3",
        title="Exercise 5.3: the modulation matrix (eq. 5.9)",
        path=f"{CHAPTER_DIR}/ex3_modulation.py",
        function="modulation_matrix",
        reference=lambda case: hebbian.modulation(*case.args),
        cases=_ex3_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the cap at 1 is missing: M = min(2 m_j / max_k m_k, 1) (eq. 5.9).",
                _ex3_variant(cap=False),
            ),
            Mistake(
                "looks like the factor 2 is missing: units at half the strongest unit's "
                "strength or more get the full update, M = min(2 m_j / max m, 1).",
                _ex3_variant(factor=1.0),
            ),
            Mistake(
                "looks like rows were summed: m_j sums column j over the presynaptic index i "
                "(axis 0), and M is constant down each column.",
                _ex3_variant(axis=1),
            ),
            Mistake(
                "looks like the absolute value was skipped with use_abs=True: m_j = sum_i |A_ij|.",
                _ex3_variant(abs_=False),
            ),
            Mistake(
                "looks like m was divided by its sum: the scale is the LARGEST column sum.",
                _ex3_variant(norm="sum"),
            ),
        ),
        seed=503,
    )
)


# --------------------------------------------------------------------------- 5.4 epistemic


def _ex4_reference(case):
    params, x_i, x_o, T, beta, gamma_v, beta_e, running_max = case.args
    state = circuit.settle(params, x_i, x_o, T, beta, gamma_v, beta_e, "relu")
    D = circuit.discrepancy_per_row(state["e"])
    r_ep = np.empty(D.shape[0])
    for t, d in enumerate(D):
        r_ep[t], running_max = angc.epistemic_reward(float(d), running_max)
    return r_ep, np.float64(running_max)


def _ex4_cases(rng):
    def case(name, dims=(2, 8, 5), n=6, T=10, running_max=1.0, scale=1.0, order=None):
        p = _params(rng, dims)
        x_i = scale * rng.normal(size=(n, dims[-1]))  # D scales as scale^2 (ReLU, z = 0 start)
        x_o = scale * rng.normal(size=(n, dims[0]))
        if order == "increasing":  # each transition more surprising than the last
            x_o = x_o * np.linspace(0.5, 4.0, n)[:, None]
        return Case(name, (p, x_i, x_o, T, 0.1, 0.001, 0.5, running_max))

    return [
        case("world model 5 -> 8 -> 2, six transitions, running max 1"),
        case("small errors: every D < 1, so the floor of 1 divides", scale=0.05),
        case("growing surprise: the running max moves at every step", order="increasing"),
        case("a running max carried over from earlier (50)", running_max=50.0, scale=3.0),
        case("one transition, K = 20, two hidden layers", dims=(3, 6, 7, 4), n=1, T=20),
        case("K = 0: the errors of the initial state", T=0, scale=2.0),
    ]


def _ex4_variant(
    old_max=False, no_square=False, bottom_only=False, batch_max=False, T0=False, no_floor=False
):
    def fn(params, x_i, x_o, T, beta, gamma_v, beta_e, running_max):
        state = circuit.settle(params, x_i, x_o, 0 if T0 else T, beta, gamma_v, beta_e, "relu")
        errs = state["e"][:1] if bottom_only else state["e"]
        D = sum((e * e).sum(axis=1) for e in errs)
        if no_square:
            D = np.sqrt(D)
        if batch_max:
            m = max(running_max, D.max())
            return D / m, np.float64(m)
        m = 0.0 if no_floor else running_max
        r = np.empty(D.shape[0])
        for t, d in enumerate(D):
            new = max(m, d)
            r[t] = d / (m if old_max and m > 0 else new)
            m = new
        return r, np.float64(m)

    return fn


register(
    ExerciseSpec(
        exercise_id="ex05_4",
        title="Exercise 5.4: the epistemic signal of a world model (eqs. 5.6, 5.10)",
        path=f"{CHAPTER_DIR}/ex4_epistemic_signal.py",
        function="epistemic_signal",
        reference=_ex4_reference,
        cases=_ex4_cases,
        tol=TOL,
        outputs=named_outputs("r_ep", "running_max"),
        mistakes=(
            Mistake(
                "looks like each D_t was divided by the running max BEFORE it was updated with "
                "D_t: r^ep_t = D_t / max(1, max_{s<=t} D_s) includes t itself, so r^ep <= 1.",
                _ex4_variant(old_max=True),
            ),
            Mistake(
                "looks like the norms were not squared: D = sum_l ||e^l||^2 (eq. 5.6).",
                _ex4_variant(no_square=True),
            ),
            Mistake(
                "looks like only the bottom error e^0 was used: D sums the squared errors of "
                "every layer 0..L-1 (eq. 5.6).",
                _ex4_variant(bottom_only=True),
            ),
            Mistake(
                "looks like every transition was divided by the largest D of the whole batch: "
                "the maximum runs over the transitions seen SO FAR, in order.",
                _ex4_variant(batch_max=True),
            ),
            Mistake(
                "looks like the circuit was not settled: compute D after K settling steps "
                "(circuit.settle with T = K), not from the initial state.",
                _ex4_variant(T0=True),
            ),
            Mistake(
                "looks like the running max ignores its starting value: it starts at "
                "running_max (1 for a new agent), so a D below 1 is divided by 1, not by itself.",
                _ex4_variant(no_floor=True),
            ),
        ),
        seed=504,
    )
)


# --------------------------------------------------------------------------- 5.5 TD gradient


def _ex5_reference(case):
    q, actions, rewards, next_q, terminated, gamma, kappa = case.args
    y = dqn.td_targets(rewards, next_q, terminated, gamma)
    _, dq, _ = dqn.td_loss_grad_q(q, actions, y, "huber", kappa)
    return y, dq


def _ex5_cases(rng):
    def case(name, n=5, A=3, kappa=1.0, spread=1.0, done=0.3, gamma=0.99):
        q = spread * rng.normal(size=(n, A))
        actions = rng.integers(0, A, size=n)
        rewards = spread * rng.normal(size=n)
        next_q = spread * rng.normal(size=(n, A))
        terminated = (rng.random(n) < done).astype(float)
        return Case(name, (q, actions, rewards, next_q, terminated, gamma, kappa))

    all_done = case("every transition terminal: y = r", done=1.1)
    ties = case("ties in max Q'", done=0.0)
    ties.args[3][:, :] = 1.5
    return [
        case("random (N=5, 3 actions), mostly in Huber's quadratic zone", spread=0.3),
        case("large TD errors: Huber's linear branch clips at kappa", spread=4.0),
        case("kappa = 0.25", kappa=0.25, spread=1.0),
        all_done,
        ties,
        case("N = 1, 2 actions, gamma = 0.5", n=1, A=2, gamma=0.5),
        case("N = 32, 4 actions", n=32, A=4, spread=2.0),
    ]


def _ex5_variant(
    all_actions=False, no_mean=False, ignore_done=False, mse=False, flip=False, min_next=False
):
    def fn(q, actions, rewards, next_q, terminated, gamma, kappa):
        best = next_q.min(axis=1) if min_next else next_q.max(axis=1)
        y = rewards + gamma * (1.0 if ignore_done else 1.0 - terminated) * best
        rows = np.arange(q.shape[0])
        delta = q[rows, actions] - y
        if flip:
            delta = -delta
        g = delta if mse else np.clip(delta, -kappa, kappa)
        if not no_mean:
            g = g / q.shape[0]
        dq = np.zeros_like(q)
        if all_actions:
            dq = (q - y[:, None]) if mse else np.clip(q - y[:, None], -kappa, kappa)
            dq = dq if no_mean else dq / q.shape[0]
        else:
            dq[rows, actions] = g
        return y, dq

    return fn


register(
    ExerciseSpec(
        exercise_id="ex05_5",
        title="Exercise 5.5: the DQN target and the TD-loss gradient at the output (eqs. "
        "5.14-5.16)",
        path=f"{CHAPTER_DIR}/ex5_td_gradient.py",
        function="td_target_and_grad",
        reference=_ex5_reference,
        cases=_ex5_cases,
        tol=TOL,
        outputs=named_outputs("y", "dq"),
        mistakes=(
            Mistake(
                "looks like every action's output got an error: only the taken action's "
                "Q(o_i, a_i) is in the loss (5.15), so dL/dQ is zero elsewhere (5.16).",
                _ex5_variant(all_actions=True),
            ),
            Mistake(
                "looks like the 1/N of the batch mean is missing (eq. 5.16).",
                _ex5_variant(no_mean=True),
            ),
            Mistake(
                "looks like terminal transitions bootstrap: y = r + gamma (1 - D) max Q' "
                "(eq. 5.14); after a terminal state there is no future value.",
                _ex5_variant(ignore_done=True),
            ),
            Mistake(
                "looks like the squared loss's gradient (delta) instead of Huber's "
                "clip(delta, -kappa, kappa).",
                _ex5_variant(mse=True),
            ),
            Mistake(
                "looks like the sign is flipped: delta = Q(o, a) - y, the gradient of the "
                "loss, not the direction of the update.",
                _ex5_variant(flip=True),
            ),
        ),
        seed=505,
    )
)


# --------------------------------------------------------------------------- 5.6 target vector


def _ex6_cases(rng):
    def case(name, n=5, A=3, spread=1.0, clip=1.0):
        q = rng.normal(size=(n, A))
        actions = rng.integers(0, A, size=n)
        y = q[np.arange(n), actions] + spread * rng.normal(size=n)
        return Case(name, (q, actions, y, clip))

    repeated = case("the same action in every row", n=6, spread=2.0)
    repeated.args[1][:] = 2
    return [
        case("small TD errors (inside the clip)", spread=0.3),
        case("large TD errors: clipped at c = 1", spread=5.0),
        case("no clipping (td_clip = None)", spread=5.0, clip=None),
        case("c = 0.1", spread=1.0, clip=0.1),
        repeated,
        case("one transition, two actions", n=1, A=2, spread=3.0),
    ]


def _ex6_variant(zeros_elsewhere=False, clip_target=False, no_clip=False, all_actions=False):
    def fn(q, actions, y, td_clip):
        rows = np.arange(q.shape[0])
        if all_actions:
            return np.repeat(y[:, None], q.shape[1], axis=1)
        target = np.zeros_like(q) if zeros_elsewhere else q.copy()
        if clip_target and td_clip is not None:
            target[rows, actions] = np.clip(y, -td_clip, td_clip)
            return target
        delta = y - q[rows, actions]
        if td_clip is not None and not no_clip:
            delta = np.clip(delta, -td_clip, td_clip)
        target[rows, actions] = q[rows, actions] + delta
        return target

    return fn


register(
    ExerciseSpec(
        exercise_id="ex05_6",
        title="Exercise 5.6: the controller's TD target vector (eq. 5.13)",
        path=f"{CHAPTER_DIR}/ex6_td_target_vector.py",
        function="td_target_vector",
        reference=lambda case: angc.td_target_vector(*case.args),
        cases=_ex6_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the actions not taken got a target of 0: they keep their own "
                "prediction Q(o_t, a), so their error is zero and they do not learn toward 0.",
                _ex6_variant(zeros_elsewhere=True),
            ),
            Mistake(
                "looks like y itself was clipped: clip the DIFFERENCE y - Q(o_t, a_t) at c and "
                "add it to Q(o_t, a_t) (eq. 5.13).",
                _ex6_variant(clip_target=True),
            ),
            Mistake(
                "looks like the clip is missing: with td_clip = c the taken entry moves by at "
                "most c toward y (the local analogue of the Huber gradient).",
                _ex6_variant(no_clip=True),
            ),
            Mistake(
                "looks like every action got the target y: only the taken action's entry "
                "changes (eq. 5.13).",
                _ex6_variant(all_actions=True),
            ),
        ),
        seed=506,
    )
)
