"""reference.nn against PyTorch 2.13 itself: clip_grad_norm_, Adam (with and without weight
decay) and RAdam, float64.

The golden arrays in ``golden/torch_optim.npz`` were written by ``golden/make_torch_optim.py``
(see its docstring); torch is not needed here.

Parity is to round-off, not to the bit (normwise relative error, max |ours - torch| / max
|torch|, measured on the golden's machine): parameters <= 1.2e-17 (at most 3 elements per
step off, by one unit in the last place), optimiser state <= 3.2e-16, clipped gradients
7.2e-16, pre-clip norm 5.0e-16; below max_norm the gradients are untouched, bit for bit.
The reasons: torch's CPU kernels for ``lerp_`` (exp_avg), ``addcmul_`` (exp_avg_sq) and
``add(alpha=)`` (weight decay) use fused multiply-add on AVX2/AVX-512 machines (we follow
the association of ``addcmul_``, ``v + (s * g) * g``, and ``addcdiv_``, ``p + (s * m) / d``,
which makes us bit-identical to torch's non-FMA CPU kernels); and the norm inside
``clip_grad_norm_`` is a lane-wise reduction whose order NumPy's pairwise sum does not
follow.
"""

import numpy as np
import pytest

from reference import nn

RTOL = 1e-15
OPTIMISERS = {
    "adam": (nn.Adam(lr=1e-3), 5),
    "adam_wd": (nn.Adam(lr=1e-3, weight_decay=0.01), 5),
    "radam": (nn.RAdam(lr=1e-3), 8),
}
OPT_KEYS = ("W", "b", "tiny")
CLIP_KEYS = ("W1", "b1", "W2")


@pytest.fixture(scope="module")
def golden(golden_dir):
    return np.load(golden_dir / "torch_optim.npz")


def rel_err(ours, ref):
    """Normwise relative error: max |ours - ref| / max |ref|."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    return float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))


def test_golden_cases_are_what_they_claim(golden):
    assert golden["clip_above__total"] > 1.0 > golden["clip_below__total"]
    rho = golden["radam__rho"]
    assert rho[4] < 5.0 < rho[5]  # rectification switches on at step 6 (beta2 = 0.999)
    # tiny gradients: sqrt(v_hat) stays far below eps for all steps, so eps sets the step
    k = np.arange(1, 6).reshape(-1, 1, 1)
    v_hat = golden["adam__exp_avg_sq__tiny"] / (1 - 0.999**k)
    assert np.sqrt(v_hat).max() < 1e-3 * nn.Adam().eps


@pytest.mark.parametrize("case", ["clip_above", "clip_below"])
def test_clip_grad_norm_matches_torch(golden, case):
    grads = {k: golden[f"{case}__grad__{k}"] for k in CLIP_KEYS}
    clipped, total = nn.clip_grad_norm(grads, max_norm=1.0)
    assert rel_err(total, golden[f"{case}__total"]) <= RTOL
    for k in CLIP_KEYS:
        assert rel_err(clipped[k], golden[f"{case}__clipped__{k}"]) <= RTOL, k
    if case == "clip_below":  # untouched, bit for bit, in ours and in torch
        for k in CLIP_KEYS:
            assert np.array_equal(clipped[k], grads[k])
            assert np.array_equal(golden[f"{case}__clipped__{k}"], grads[k])


def test_rho_matches_torch(golden):
    """RAdam's rho_k, evaluated with the same operations as reference.nn.RAdam.step."""
    beta2 = 0.999
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    ours = [rho_inf - 2.0 * k * (beta2**k) / (1.0 - beta2**k) for k in range(1, 9)]
    assert np.array_equal(ours, golden["radam__rho"])


@pytest.mark.parametrize("case", list(OPTIMISERS))
def test_optimiser_trajectory_matches_torch(golden, case):
    opt, steps = OPTIMISERS[case]
    params = {k: golden[f"{case}__p0__{k}"] for k in OPT_KEYS}
    state = opt.init(params)
    for s in range(steps):
        grads = {k: golden[f"{case}__grads__{k}"][s] for k in OPT_KEYS}
        params, state = opt.step(params, grads, state)
        assert state["step"] == s + 1
        for k in OPT_KEYS:
            for ours, what in (
                (params[k], "params"),
                (state["m"][k], "exp_avg"),
                (state["v"][k], "exp_avg_sq"),
            ):
                ref = golden[f"{case}__{what}__{k}"][s]
                assert rel_err(ours, ref) <= RTOL, f"step {s + 1}, {what} of {k}"
