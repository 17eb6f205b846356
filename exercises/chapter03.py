"""Checker specs for the chapter 3 exercises (dynamical systems reconstruction).

Each spec compares the student's function with the library (``reference.dsr``: ``metrics``,
``models``, ``forcing``) on seeded random cases and on adversarial ones (odd lengths, a
non-zero mean, generated points outside the box, products of Jacobians that overflow,
negative determinants, inactive ReLU units, a clipped shallow PLRNN, partial forcing), and
lists known wrong variants whose hints are shown when a student's output matches one of
them. Equation numbers (3.k) are those of the module docstrings of
``reference/dsr/{models,forcing,metrics,lyapunov}.py``.

Layout (the chapter's): a time series is ``(T, N)``; a batch of latent states ``(batch, M)``;
matrices are stored for row vectors (``z @ W``), Jacobians are returned in paper orientation
``J[b, i, j] = dz'_i / dz_j``.
"""

from __future__ import annotations

import numpy as np

from exercises.check import Case, ExerciseSpec, Mistake, named_outputs, register
from reference.dsr import data, forcing, metrics
from reference.dsr.models import PLRNN, ShallowPLRNN

CHAPTER_DIR = "03-dsr"
TOL = 1e-8  # relative error (reference.gradcheck.rel_error) allowed for every exercise


def _lorenz(rng, T, noise=0.0):
    return data.lorenz63(T, rng, noise=noise, transient=20.0)


def _smooth(P, sigma):
    return metrics.gaussian_smooth(P, sigma)


# --------------------------------------------------------------------------- 3.1 D_H


def _ex1_reference(case):
    x_true, x_gen, sigma = case.args
    return np.asarray(metrics.hellinger_spectrum_distance(x_true, x_gen, sigma))


def _ex1_cases(rng):
    t = np.arange(1001)[:, None]
    return [
        Case("two Lorenz-63 series (T = 2000, N = 3), sigma = 20",
             (_lorenz(rng, 2000), _lorenz(rng, 2000), 20)),  # fmt: skip
        Case("Lorenz vs its 5 % noisy version, sigma = 5",
             (_lorenz(rng, 1500), _lorenz(rng, 1500, noise=0.05), 5)),  # fmt: skip
        Case("odd length T = 1001 (rfft has T // 2 + 1 bins), a non-zero mean",
             (np.sin(0.07 * t) + 3.0, np.sin(0.08 * t) + 0.1 * rng.normal(size=t.shape), 3)),
        Case("different scales and offsets (z-score each series first)",
             (rng.normal(size=(800, 2)).cumsum(0), 10 + 5 * rng.normal(size=(800, 2)), 8)),
        Case("one dimension, sigma = 1 (little smoothing)",
             (_lorenz(rng, 600)[:, :1], _lorenz(rng, 600)[:, 2:], 1)),
        Case("short series, kernel radius (4 sigma) longer than the spectrum",
             (rng.normal(size=(40, 3)), rng.normal(size=(40, 3)), 20)),
    ]  # fmt: skip


def _ex1_variant(centre=True, square=True, smooth=True, hellinger_sqrt=True, mean=True):
    def spectrum(x, sigma):
        x = (x - x.mean(0)) / x.std(0) if centre else x / x.std(0)
        P = np.abs(np.fft.rfft(x, axis=0).T)
        P = P**2 if square else P
        P = np.maximum(_smooth(P, sigma), 0) if smooth else P
        return P / P.sum(1, keepdims=True)

    def fn(x_true, x_gen, sigma):
        bc = np.sum(np.sqrt(spectrum(x_true, sigma) * spectrum(x_gen, sigma)), axis=1)
        h = np.sqrt(np.maximum(1 - bc, 0)) if hellinger_sqrt else 1 - bc
        return np.asarray(h.mean() if mean else h.sum())

    return fn


register(
    ExerciseSpec(
        exercise_id="ex03_1",
        title="Exercise 3.1: Hellinger distance of smoothed power spectra, D_H (eq. 3.23)",
        path=f"{CHAPTER_DIR}/ex1_hellinger_spectrum.py",
        function="hellinger_spectrum_distance",
        reference=_ex1_reference,
        cases=_ex1_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the mean was not subtracted: z-score each dimension "
                "(x - mean) / sd before the FFT, or the zero-frequency bin dominates.",
                _ex1_variant(centre=False),
            ),  # fmt: skip
            Mistake("looks like |rfft| instead of the power |rfft|^2.", _ex1_variant(square=False)),
            Mistake(
                "looks like the spectra were not smoothed: Gaussian filter with sigma "
                "frequency bins, reflect padding, truncated at 4 sigma (as scipy's "
                "gaussian_filter1d).",
                _ex1_variant(smooth=False),
            ),  # fmt: skip
            Mistake(
                "looks like 1 - BC without the square root: H = sqrt(1 - sum sqrt(p q)).",
                _ex1_variant(hellinger_sqrt=False),
            ),  # fmt: skip
            Mistake(
                "looks like the per-dimension distances were summed: D_H is their MEAN.",
                _ex1_variant(mean=False),
            ),  # fmt: skip
        ),
        seed=301,
    )
)


# --------------------------------------------------------------------------- 3.2 D_stsp


def _ex2_reference(case):
    x_true, x_gen, n_bins = case.args
    return np.asarray(metrics.state_space_divergence(x_true, x_gen, n_bins))


def _ex2_cases(rng):
    x = _lorenz(rng, 3000)
    return [
        Case("Lorenz-63 vs an independent Lorenz-63 series, 30 bins",
             (x, _lorenz(rng, 3000), 30)),  # fmt: skip
        Case("generated series of another length, shrunk by 0.8 (KL(p_true || p_gen))",
             (x, 0.8 * _lorenz(rng, 1700), 12)),  # fmt: skip
        Case("half the generated points lie outside the box (drop them, don't clip)",
             (x, _lorenz(rng, 2000) + np.array([3.0, 0.0, 0.0]), 10)),  # fmt: skip
        Case("points of the first bin along every axis (bin 0 counts too)",
             (x, np.r_[x[:500], np.tile(x.min(0), (400, 1))], 10)),  # fmt: skip
        Case("two dimensions, 5 bins", (rng.normal(size=(500, 2)),
                                        rng.normal(0.3, 1.2, size=(700, 2)), 5)),
        Case("one dimension, 30 bins", (rng.gamma(2.0, size=(900, 1)),
                                        rng.gamma(2.5, size=(900, 1)), 30)),
        Case("identical series: exactly 0", (x[:1000], x[:1000].copy(), 30)),
    ]  # fmt: skip


def _ex2_variant(first=0, margin=0.1, smoothing=1e-5, reverse=False):
    def fn(x_true, x_gen, n_bins):
        sd = x_true.std(0)
        lo, hi = x_true.min(0) - margin * sd, x_true.max(0) + margin * sd

        def hist(x):
            k = np.floor(n_bins * (x - lo) / (hi - lo))
            k = np.where(x == hi, n_bins - 1, k)  # a [min, max] box keeps the max (histogramdd)
            k = k[np.all((k >= first) & (k < n_bins), axis=1)].astype(int)
            h = np.zeros((n_bins,) * x.shape[1])
            np.add.at(h, tuple(k.T), 1)
            return (h + smoothing) / (h.sum() + smoothing * h.size)

        p, q = hist(x_true), hist(x_gen)
        p, q = (q, p) if reverse else (p, q)
        with np.errstate(all="ignore"):
            return np.asarray(np.nansum(p * np.log(p / q)))

    return fn


def _ex2_clipped(x_true, x_gen, n_bins):
    sd = x_true.std(0)
    lo, hi = x_true.min(0) - 0.1 * sd, x_true.max(0) + 0.1 * sd
    x_gen = np.clip(x_gen, lo, hi - 1e-9 * (hi - lo))
    return _ex2_variant()(x_true, x_gen, n_bins)


register(
    ExerciseSpec(
        exercise_id="ex03_2",
        title="Exercise 3.2: binned state-space divergence D_stsp (eqs. 3.20-3.21)",
        path=f"{CHAPTER_DIR}/ex2_state_space_divergence.py",
        function="state_space_divergence",
        reference=_ex2_reference,
        cases=_ex2_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like bin 0 was dropped (indices 0 < k < n_bins): that is the "
                "Python source's off-by-one; keep 0 <= k < n_bins.",
                _ex2_variant(first=1),
            ),  # fmt: skip
            Mistake(
                "looks like the box was [min, max] of the true data: it is "
                "[min - 0.1 sd, max + 0.1 sd] per dimension.",
                _ex2_variant(margin=0.0),
            ),
            Mistake(
                "looks like KL(p_gen || p_true): D_stsp is KL(p_true || p_gen), the "
                "true occupation in front.",
                _ex2_variant(reverse=True),
            ),  # fmt: skip
            Mistake(
                "looks like generated points outside the box were clipped into the edge "
                "bins: drop them.",
                _ex2_clipped,
            ),  # fmt: skip
            Mistake(
                "looks like no Laplace smoothing (empty bins give log 0): p = (h + 1e-5) "
                "/ (sum h + 1e-5 n_bins^N).",
                _ex2_variant(smoothing=0.0),
            ),  # fmt: skip
        ),
        seed=302,
    )
)


# --------------------------------------------------------------------------- 3.3 Lyapunov


def _ex3_reference(case):
    return metrics.lyapunov_from_jacobians(case.args[0])


def _ex3_cases(rng):
    fm = data.FlowMap("lorenz63", substeps=1)
    z = data.integrate("lorenz63", rng.normal(size=3) + [0, 0, 25], 300, 0.01)[-1][None]
    Js = []
    for _ in range(400):
        Js.append(fm.jacobian(fm.init_params(), z)[0])
        z = fm.step(fm.init_params(), z)
    theta = rng.uniform(0, 2 * np.pi, size=300)
    rot = np.empty((300, 2, 2))
    rot[:, 0, 0], rot[:, 0, 1] = np.cos(theta), -np.sin(theta)
    rot[:, 1, 0], rot[:, 1, 1] = np.sin(theta), np.cos(theta)
    rot = rot @ np.diag([2.0, 0.5])
    return [
        Case("Lorenz-63 RK4 Jacobians along an orbit (T = 400, M = 3)", (np.stack(Js),)),
        Case("constant diagonal map with negative entries (abs of diag R)",
             (np.broadcast_to(np.diag([-2.0, 0.5, 1.0]), (50, 3, 3)).copy(),)),
        Case("non-normal, 2000 steps: the plain product overflows",
             (np.broadcast_to([[3.0, 7.0], [0.0, 0.5]], (2000, 2, 2)).copy(),)),
        Case("random rotations times a stretch (eigenvalues mislead, QR does not)", (rot,)),
        Case("random Gaussian Jacobians (T = 100, M = 5)",
             (rng.normal(size=(100, 5, 5)),)),
        Case("one step (T = 1)", (rng.normal(size=(1, 4, 4)),)),
    ]  # fmt: skip


def _ex3_eigen(J):
    return -np.sort(-np.mean(np.log(np.abs(np.linalg.eigvals(J))), axis=0))


def _ex3_singular(J):
    return -np.sort(-np.mean(np.log(np.linalg.svd(J, compute_uv=False)), axis=0))


def _ex3_no_abs(J):
    Q, total = np.eye(J.shape[-1]), 0.0
    with np.errstate(invalid="ignore"):
        for J_t in J:
            Q, R = np.linalg.qr(J_t @ Q)
            total = total + np.log(np.diag(R))
    return -np.sort(-total / J.shape[0])


def _ex3_product(J):
    P = np.eye(J.shape[-1])
    with np.errstate(all="ignore"):
        for J_t in J:
            P = J_t @ P
        return -np.sort(-np.log(np.linalg.svd(P, compute_uv=False)) / J.shape[0])


def _ex3_unsorted(J):
    Q, total = np.eye(J.shape[-1]), 0.0
    for J_t in J:
        Q, R = np.linalg.qr(J_t @ Q)
        total = total + np.log(np.abs(np.diag(R)))
    return total / J.shape[0]


register(
    ExerciseSpec(
        exercise_id="ex03_3",
        title="Exercise 3.3: Lyapunov spectrum by QR iteration (eq. 3.25)",
        path=f"{CHAPTER_DIR}/ex3_lyapunov.py",
        function="lyapunov_exponents",
        reference=_ex3_reference,
        cases=_ex3_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the average of log|eigenvalues| of each J_t: the exponents "
                "are growth rates of the PRODUCT J_T .. J_1; use Q_t R_t = J_t Q_{t-1}.",
                _ex3_eigen,
            ),  # fmt: skip
            Mistake(
                "looks like the average of log singular values of each J_t: orient the "
                "stretching with Q (re-orthonormalise), eq. (3.25).",
                _ex3_singular,
            ),
            Mistake(
                "looks like log(diag R) without the absolute value: the signs of R's "
                "diagonal are a QR convention; use log|R_ii|.",
                _ex3_no_abs,
            ),  # fmt: skip
            Mistake(
                "looks like the product of all Jacobians was formed: it over/underflows "
                "within a few hundred steps; re-orthonormalise at every step.",
                _ex3_product,
            ),  # fmt: skip
            Mistake(
                "looks like the exponents are not sorted: return them in descending order.",
                _ex3_unsorted,
            ),  # fmt: skip
            Mistake(
                "looks like ascending order: the exponents are not sorted largest first.",
                lambda J: np.sort(metrics.lyapunov_from_jacobians(J)),
            ),
        ),
        seed=303,
    )
)


# --------------------------------------------------------------------------- 3.4 shPLRNN J


def _ex4_reference(case):
    A, W1, W2, h2, z, clipped = case.args
    model = ShallowPLRNN(A.size, 1, h2.size, clipped=clipped)
    params = {"A": A, "W1": W1, "W2": W2, "h1": np.zeros_like(A), "h2": h2,
              "B": np.zeros((1, A.size))}  # fmt: skip
    return model.jacobian(params, z)


def _ex4_cases(rng):
    def case(name, M=4, L=7, batch=3, clipped=False, h2_shift=0.0, z_scale=1.0):
        return Case(name, (rng.uniform(0.2, 0.9, M), rng.normal(size=(L, M)) / np.sqrt(L),
                           rng.normal(size=(M, L)) / np.sqrt(M),
                           rng.normal(size=L) + h2_shift, z_scale * rng.normal(size=(batch, M)),
                           clipped))  # fmt: skip

    return [
        case("shPLRNN (M = 4, L = 7, batch = 3)"),
        case("clipped shPLRNN: D = 1[z W2 + h2 > 0] - 1[z W2 > 0]", clipped=True),
        case("large h2 (most hidden units on): the bias matters", h2_shift=2.0),
        case(
            "clipped, small states (the bracket is mostly zero)", clipped=True, z_scale=0.05
        ),  # fmt: skip
        case("M = 1, L = 3, batch = 5", M=1, L=3, batch=5),
        case("M = 6, L = 2 (a narrow hidden layer)", M=6, L=2, clipped=True),
    ]


def _ex4_variant(transpose=False, with_A=True, use_h2=True, clip_term=True):
    def fn(A, W1, W2, h2, z, clipped):
        v = z @ W2
        d = (v + (h2 if use_h2 else 0) > 0).astype(float)
        if clipped and clip_term:
            d = d - (v > 0)
        J = np.einsum("lm,bl,kl->bmk", W1, d, W2)  # W1_p D W2_p, paper orientation
        if with_A:
            J = J + np.diag(A)[None]
        return np.swapaxes(J, 1, 2) if transpose else J

    return fn


register(
    ExerciseSpec(
        exercise_id="ex03_4",
        title="Exercise 3.4: the (clipped) shallow PLRNN's Jacobian (eqs. 3.4-3.5)",
        path=f"{CHAPTER_DIR}/ex4_shplrnn_jacobian.py",
        function="shplrnn_jacobian",
        reference=_ex4_reference,
        cases=_ex4_cases,
        tol=TOL,
        mistakes=(
            Mistake(
                "looks like the transpose: J[b, i, j] = dz'_i/dz_j is the paper "
                "orientation, diag(A) + W1_p D W2_p with W1_p = W1.T, W2_p = W2.T.",
                _ex4_variant(transpose=True),
            ),  # fmt: skip
            Mistake(
                "looks like diag(A) is missing: the linear term A * z contributes diag(A).",
                _ex4_variant(with_A=False),
            ),  # fmt: skip
            Mistake(
                "looks like the mask ignores h2: D = 1[z @ W2 + h2 > 0], the "
                "pre-activation including the bias.",
                _ex4_variant(use_h2=False),
            ),
            Mistake(
                "looks like the clipped model's second ReLU was ignored: its bracket "
                "relu(z W2 + h2) - relu(z W2) has D = 1[z W2 + h2 > 0] - 1[z W2 > 0].",
                _ex4_variant(clip_term=False),
            ),  # fmt: skip
        ),
        seed=304,
    )
)


# --------------------------------------------------------------------------- 3.5 GTF step


def _ex5_reference(case):
    z, x_t, alpha, zbar_tilde = case.args
    N = x_t.shape[1]
    zbar = zbar_tilde.copy()
    zbar[:, :N] *= 1.0 - alpha  # eq. (3.11): the forced units pass (1 - alpha) of the adjoint
    return forcing.force(z, x_t, alpha), zbar


def _ex5_cases(rng):
    def case(name, B=3, M=5, N=3, alpha=0.3):
        return Case(name, (rng.normal(size=(B, M)), rng.normal(size=(B, N)), alpha,
                           rng.normal(size=(B, M))))  # fmt: skip

    return [
        case("partial forcing (M = 5, N = 3), alpha = 0.3"),
        case("alpha = 1 (sparse/identity forcing): no gradient through forced units", alpha=1.0),
        case("alpha = 0: no forcing at all", alpha=0.0),
        case("M = N = 3: every unit observed", M=3, N=3, alpha=0.75),
        case("batch 1, M = 20, N = 3 (the ALRNN's Lorenz set-up)", B=1, M=20, alpha=0.1),
    ]


def _ex5_variant(all_units=False, scale="1-a", swap=False):
    def fn(z, x_t, alpha, zbar_tilde):
        N = x_t.shape[1]
        a = 1 - alpha if swap else alpha
        z_new = z.copy()
        if all_units:
            z_new = a * np.pad(x_t, ((0, 0), (0, z.shape[1] - N))) + (1 - a) * z
        else:
            z_new[:, :N] = a * x_t + (1 - a) * z[:, :N]
        zbar = zbar_tilde.copy()
        zbar[:, :N] *= {"1-a": 1 - alpha, "a": alpha, "1": 1.0}[scale]
        return z_new, zbar

    return fn


register(
    ExerciseSpec(
        exercise_id="ex03_5",
        title="Exercise 3.5: the GTF forcing step and its backward (eqs. 3.9, 3.11)",
        path=f"{CHAPTER_DIR}/ex5_gtf_step.py",
        function="gtf_step",
        reference=_ex5_reference,
        cases=_ex5_cases,
        tol=TOL,
        outputs=named_outputs("z_tilde", "zbar"),
        mistakes=(
            Mistake(
                "looks like every latent unit was forced: only the first N (observed) "
                "units are mixed with the data.",
                _ex5_variant(all_units=True),
            ),
            Mistake(
                "looks like the adjoint was passed through unscaled: d z_tilde / d z = "
                "(1 - alpha) on the forced units (none at alpha = 1).",
                _ex5_variant(scale="1"),
            ),  # fmt: skip
            Mistake(
                "looks like the adjoint was scaled by alpha: the state's share in "
                "z_tilde is (1 - alpha).",
                _ex5_variant(scale="a"),
            ),  # fmt: skip
            Mistake(
                "looks like alpha and 1 - alpha were swapped in the forward: "
                "z_tilde = alpha x_t + (1 - alpha) z on the observed units.",
                _ex5_variant(swap=True),
            ),  # fmt: skip
        ),
        seed=305,
    )
)


# --------------------------------------------------------------------------- 3.6 PLRNN VJP


def _ex6_reference(case):
    A, W, h, z, g, mean_centering = case.args
    model = PLRNN(A.size, 1, mean_centering=mean_centering)
    zbar, grads = model.vjp({"A": A, "W": W, "h": h, "B": np.zeros((1, A.size))}, z, g)
    return zbar, grads["A"], grads["W"], grads["h"]


def _ex6_cases(rng):
    def case(name, M=5, B=4, mc=True, shift=0.0):
        W = rng.normal(scale=0.5, size=(M, M))
        np.fill_diagonal(W, 0.0)
        return Case(
            name,
            (
                rng.uniform(0.3, 0.9, M),
                W,
                rng.normal(size=M),
                rng.normal(size=(B, M)) + shift,
                rng.normal(size=(B, M)),
                mc,
            ),
        )

    return [
        case("mean-centred PLRNN (M = 5, batch = 4)"),
        case("plain PLRNN (mean_centering = False)", mc=False),
        case("plain PLRNN, states mostly negative (most ReLUs off)", mc=False, shift=-1.5),
        case("mean-centred, M = 2, batch = 1", M=2, B=1),
        case("mean-centred, M = 8, batch = 6", M=8, B=6),
    ]  # fmt: skip


def _ex6_variant(zero_diag=True, project=True, transpose_W=False):
    def fn(A, W, h, z, g, mean_centering):
        c = z - z.mean(1, keepdims=True) if mean_centering else z
        gc = (g @ (W if transpose_W else W.T)) * (c > 0)
        if mean_centering and project:
            gc = gc - gc.mean(1, keepdims=True)
        gW = np.maximum(c, 0).T @ g
        if zero_diag:
            gW = gW - np.diag(np.diag(gW))
        return A * g + gc, np.sum(g * z, 0), gW, g.sum(0)

    return fn


register(
    ExerciseSpec(
        exercise_id="ex03_6",
        title="Exercise 3.6: one backpropagation step through the PLRNN (eqs. 3.1-3.2)",
        path=f"{CHAPTER_DIR}/ex6_plrnn_vjp.py",
        function="plrnn_step_vjp",
        reference=_ex6_reference,
        cases=_ex6_cases,
        tol=TOL,
        outputs=named_outputs("zbar", "grad_A", "grad_W", "grad_h"),
        mistakes=(
            Mistake(
                "looks like grad_W keeps its diagonal: W is off-diagonal (the self-"
                "coupling lives in A), so zero the diagonal of its gradient.",
                _ex6_variant(zero_diag=False),
            ),  # fmt: skip
            Mistake(
                "looks like the centring was ignored in the backward: c = Q z with "
                "Q = I - 11^T/M, so subtract the mean of (g W^T) * 1[c > 0] over units.",
                _ex6_variant(project=False),
            ),  # fmt: skip
            Mistake(
                "looks like g @ W instead of g @ W.T: the forward is relu(c) @ W, so "
                "its adjoint is (g @ W.T) * 1[c > 0].",
                _ex6_variant(transpose_W=True),
            ),
        ),
        seed=306,
    )
)
