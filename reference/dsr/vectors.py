"""Test vectors of chapter 3 (registered as ``dsr``); see :mod:`reference.vectors`.

Sizes differ on purpose (latent M = 5, observed N = 3, hidden L = 7, ReLU units P = 2,
batch 4, window T = 6) so that a transposed weight or a swapped axis in a port is a shape
error. Parameters are stored as the library stores them, for row vectors (``z @ W``): a
port written for column vectors transposes every matrix. Model hyper-parameters travel as
scalars (``model``, ``num_relus``, ``clipped``, ``mean_centering``); forcing windows are
batch-major ``(batch, T, N)`` like ``reference.dsr.forcing``. Integer outputs (codes,
counts) are stored as float64.
"""

from __future__ import annotations

import numpy as np

from reference.dsr import data, forcing, metrics, symbolic
from reference.dsr.models import ALRNN, PLRNN, ShallowPLRNN
from reference.vectors import Case, register

SEED = 3
M, N, L, P, BATCH, T = 5, 3, 7, 2, 4, 6
_FN = "reference.dsr."


def _model(inp):
    name = inp["model"]
    if name == "PLRNN":
        return PLRNN(M, N, mean_centering=bool(inp["mean_centering"]))
    if name == "ALRNN":
        return ALRNN(M, N, num_relus=int(inp["num_relus"]))
    return ShallowPLRNN(M, N, L, clipped=bool(inp["clipped"]))


def _params(model, rng):
    """Initialised parameters with every entry perturbed (biases non-zero, W full)."""
    params = model.init_params(rng)
    return {k: v + 0.3 * rng.normal(size=v.shape) for k, v in params.items()}


_MODELS = {
    "plrnn": {"model": "PLRNN", "mean_centering": True},
    "alrnn": {"model": "ALRNN", "num_relus": P},
    "clipped_shplrnn": {"model": "shPLRNN", "clipped": True},
}
_EQ = {"plrnn": "(3.1)-(3.2)", "alrnn": "(3.3)", "clipped_shplrnn": "(3.4)-(3.5)"}


def _model_cases(rng):
    out = []
    for tag, hyper in _MODELS.items():
        model = _model(hyper)
        params = _params(model, rng)
        z, g = rng.normal(size=(BATCH, M)), rng.normal(size=(BATCH, M))
        base = {**hyper, "params": params, "z": z}

        def vjp(inp):
            zbar, grads = _model(inp).vjp(inp["params"], inp["z"], inp["g"])
            return {"zbar": zbar, "grads": grads}

        out += [
            Case(f"dsr.{tag}.step", _FN + "models.step", _EQ[tag],
                 f"one step of the {hyper['model']} on a batch (batch, M)", base,
                 lambda inp: {"z_next": _model(inp).step(inp["params"], inp["z"])}),
            Case(f"dsr.{tag}.jacobian", _FN + "models.jacobian", _EQ[tag],
                 "Jacobians (batch, M, M) in paper orientation J[b, i, j] = dz'_i/dz_j", base,
                 lambda inp: {"J": _model(inp).jacobian(inp["params"], inp["z"])}),
            Case(f"dsr.{tag}.vjp", _FN + "models.vjp", _EQ[tag],
                 "g^T dz'/dz per row and parameter gradients summed over the batch",
                 {**base, "g": g}, vjp),
        ]  # fmt: skip
    return out


def _forcing_cases(rng):
    out = []
    x = rng.normal(size=(BATCH, T + 1, N)).cumsum(axis=1) * 0.3
    for tag, alpha, tau, hyper in [
        ("alrnn_gtf", 0.3, 1, _MODELS["alrnn"]),
        ("alrnn_stf", 1.0, 3, _MODELS["alrnn"]),
        ("clipped_shplrnn_gtf", 0.2, 2, _MODELS["clipped_shplrnn"]),
    ]:
        params = _params(_model(hyper), rng)

        def compute(inp):
            loss, grads, Zhat = forcing.forced_rollout_loss(
                _model(inp), inp["params"], inp["x"], inp["y"], inp["alpha"], int(inp["tau"])
            )
            return {"loss": np.asarray(loss), "grads": grads, "Zhat": Zhat}

        out.append(Case(
            f"dsr.forced_rollout_loss.{tag}", _FN + "forcing.forced_rollout_loss",
            "(3.7), (3.9)-(3.12)",
            f"teacher-forced window, alpha={alpha}, tau={tau}: loss (3.10) on the prediction "
            "before forcing, BPTT gradients (forced units pass (1 - alpha)), Zhat "
            "(batch, T, M); x, y = windows x_0..x_{T-1} and x_1..x_T",
            {**hyper, "params": params, "x": x[:, :-1], "y": x[:, 1:], "alpha": alpha,
             "tau": tau},
            compute,
        ))  # fmt: skip
    return out


def _data_cases(rng):
    states = {
        "lorenz63": rng.normal(size=(BATCH, 3)) * 5 + [0, 0, 25],
        "roessler": rng.normal(size=(BATCH, 3)) * 3,
        "lorenz96": 8 + rng.normal(size=(BATCH, 6)),
    }
    out = []
    for system, x in states.items():
        dt = data.DEFAULT_DT[system]
        out += [
            Case(f"dsr.vector_field.{system}", _FN + "data.vector_field", "(3.30)-(3.32)",
                 f"f(x) of {system} with the default parameters {data.DEFAULT_PARAMS[system]}",
                 {"system": system, "x": x},
                 lambda inp: {"f": data.vector_field(inp["system"], inp["x"])}),
            Case(f"dsr.rk4_step.{system}", _FN + "data.rk4_step", "(3.30)-(3.32)",
                 f"the time-dt map (dt={dt}) by 4 RK4 substeps and its exact Jacobian",
                 {"system": system, "x": x, "dt": dt},
                 lambda inp: {
                     "x_next": data.rk4_step(inp["system"], inp["x"], inp["dt"]),
                     "J": data.rk4_step_jacobian(inp["system"], inp["x"], inp["dt"]),
                 }),
        ]  # fmt: skip
    return out


def _metric_cases(rng):
    x_true = data.lorenz63(1200, np.random.default_rng(SEED))
    x_gen = 0.9 * data.lorenz63(1000, np.random.default_rng(SEED + 1)) + 0.1
    same_len = x_gen[:1000], x_true[:1000]
    model = _model(_MODELS["alrnn"])
    params = _params(model, rng)
    params = {**params, "A": 0.5 * np.tanh(params["A"]), "W": 0.2 * params["W"]}  # stable
    Js = rng.normal(size=(40, 4, 4))
    return [
        Case("dsr.state_space_divergence", _FN + "metrics.state_space_divergence",
             "(3.20)-(3.21)",
             "binned D_stsp, n_bins bins on [min - 0.1 sd, max + 0.1 sd] of x_true (julia) "
             "and the Python source's variant ([min, max], bin 0 dropped)",
             {"x_true": x_true, "x_gen": x_gen, "n_bins": 12},
             lambda inp: {v: np.asarray(metrics.state_space_divergence(
                 inp["x_true"], inp["x_gen"], int(inp["n_bins"]), variant=v))
                 for v in metrics.VARIANTS}),
        Case("dsr.hellinger_spectrum_distance", _FN + "metrics.hellinger_spectrum_distance",
             "(3.23)", "D_H and its per-dimension values, sigma = 20, plus the normalised "
             "smoothed spectra (N, T//2 + 1) of both series",
             {"x_true": same_len[1], "x_gen": same_len[0], "sigma": 20.0},
             lambda inp: {
                 "D_H": np.asarray(metrics.hellinger_spectrum_distance(
                     inp["x_true"], inp["x_gen"], inp["sigma"])),
                 "per_dim": metrics.hellinger_spectrum_distance(
                     inp["x_true"], inp["x_gen"], inp["sigma"], return_per_dim=True),
                 "p_true": metrics.power_spectra(inp["x_true"], inp["sigma"]),
                 "p_gen": metrics.power_spectra(inp["x_gen"], inp["sigma"]),
             }),
        Case("dsr.gaussian_smooth", _FN + "metrics.gaussian_smooth", "(3.23)",
             "Gaussian filter along the last axis, reflect padding, radius int(4 sigma + 0.5) "
             "(= scipy.ndimage.gaussian_filter1d)",
             {"x": rng.random((2, 30)), "sigma": 3.5},
             lambda inp: {"y": metrics.gaussian_smooth(inp["x"], inp["sigma"])}),
        Case("dsr.lyapunov_from_jacobians", _FN + "metrics.lyapunov_from_jacobians", "(3.25)",
             "per-step exponents (descending) of 40 random 4 x 4 Jacobians by QR iteration",
             {"jacobians": Js},
             lambda inp: {"exponents": metrics.lyapunov_from_jacobians(inp["jacobians"])}),
        Case("dsr.lyapunov_spectrum.alrnn", _FN + "metrics.lyapunov_spectrum", "(3.25)",
             "ALRNN spectrum from z0 (2, M): 10 transient steps, then 100 QR steps",
             {**_MODELS["alrnn"], "params": params, "z0": rng.normal(size=(2, M))},
             lambda inp: {"exponents": metrics.lyapunov_spectrum(
                 _model(inp), inp["params"], inp["z0"], 100, n_transient=10)}),
        Case("dsr.prediction_errors.alrnn", _FN + "metrics.prediction_errors", "(3.24)",
             "PE(1..5) of the ALRNN on a 30-step series, z_t = init(x_t) (eq. 3.7)",
             {**_MODELS["alrnn"], "params": params, "x": x_true[:30]},
             lambda inp: {"pe": metrics.prediction_errors(
                 _model(inp), inp["params"], inp["x"], 5)}),
    ]  # fmt: skip


def _symbolic_cases(rng):
    model = _model(_MODELS["alrnn"])
    params = _params(model, rng)
    codes = rng.integers(0, 4, size=40)
    return [
        Case("dsr.subregion_codes", _FN + "symbolic.subregion_codes", "(3.33)",
             "codes sum_j 1[z_{M-P+j} > 0] 2^(P-1-j) of states (T, M), P = 2",
             {"num_relus": P, "Z": rng.normal(size=(12, M))},
             lambda inp: {"codes": symbolic.subregion_codes(
                 int(inp["num_relus"]), inp["Z"]).astype(float)}),
        Case("dsr.transition_graph", _FN + "symbolic.transition_graph", "(3.34)",
             "visited codes, visits, transition counts and probabilities, entropy rate",
             {"codes": codes.astype(float)},
             lambda inp: {k: np.asarray(v, dtype=float) for k, v in
                          symbolic.transition_graph(inp["codes"].astype(np.int64)).items()}),
        Case("dsr.region_affine_map", _FN + "symbolic.region_affine_map", "(3.33)",
             "J_d and h of every subregion d = 0..3 of an ALRNN (paper orientation)",
             {**_MODELS["alrnn"], "params": params},
             lambda inp: {f"J{c}": symbolic.region_affine_map(
                 _model(inp), inp["params"], c)[0] for c in range(2**P)}),
    ]  # fmt: skip


@register("dsr")
def cases():
    rng = np.random.default_rng(SEED)
    return (
        _model_cases(rng)
        + _forcing_cases(rng)
        + _data_cases(rng)
        + _metric_cases(rng)
        + _symbolic_cases(rng)
    )
