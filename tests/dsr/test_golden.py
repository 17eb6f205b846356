"""Chapter-3 models and forcing against the DurstewitzLab PyTorch code (float64 goldens).

The golden file stores column-vector weights (``W @ phi(z)``); our matrices act on row
vectors, so every matrix is transposed on the way in. Tolerance: 1e-10 relative.
"""

import numpy as np
import pytest

from reference import gradcheck
from reference.dsr import forcing, models
from reference.dsr.dendritic import DendPLRNN

TOL = 1e-10


@pytest.fixture(scope="module")
def golden(golden_dir):
    with np.load(golden_dir / "dsr_durstewitzlab.npz") as f:
        return {k: f[k] for k in f.files}


def _check(model, params, z0, Z_ref, S=None):
    Z = model.generate(params, z0, Z_ref.shape[0] - 1, S)
    err = gradcheck.rel_error(Z, Z_ref)
    assert err <= TOL, err
    return err


@pytest.mark.parametrize("tag,mc", [("plrnn", False), ("mcplrnn", True)])
def test_plrnn_trajectories(golden, tag, mc):
    g = {k.split("__")[1]: v for k, v in golden.items() if k.startswith(tag + "__")}
    M = g["A"].size
    model = models.PLRNN(M, 2, mean_centering=mc)
    _check(model, {"A": g["A"], "W": g["W"].T, "h": g["h"]}, g["z0"], g["Z"])


@pytest.mark.parametrize("tag,clipped", [("dendplrnn", False), ("clipped_dendplrnn", True)])
def test_dendplrnn_trajectories(golden, tag, clipped):
    g = {k.split("__")[1]: v for k, v in golden.items() if k.startswith(tag + "__")}
    M, nb = g["thetas"].shape
    model = DendPLRNN(M, 2, nb, clipped=clipped)
    params = {"A": g["A"], "W": g["W"].T, "h": g["h"], "alphas": g["alphas"],
              "thetas": g["thetas"]}  # fmt: skip
    _check(model, params, g["z0"], g["Z"])


@pytest.mark.parametrize("tag,offdiag", [("alrnn", False), ("alrnn_offdiagW", True)])
def test_alrnn_trajectories_and_initial_state(golden, tag, offdiag):
    g = {k.split("__")[1]: v for k, v in golden.items() if k.startswith(tag + "__")}
    M, N, P = g["A"].size, int(g["N"]), int(g["P"])
    model = models.ALRNN(M, N, P, off_diagonal_W=offdiag)
    params = {"A": g["A"], "W": g["W"].T, "h": g["h"], "B": g["B"]}
    _check(model, params, g["z0"], g["Z"])
    # predict_free_sequence: z_0 from x_0, then z_1..z_T (z_0 itself not returned)
    z0 = model.initial_state(params, g["x0"])
    Z = model.generate(params, z0, g["Z_from_x0"].shape[1])[1:]
    assert gradcheck.rel_error(np.swapaxes(Z, 0, 1), g["Z_from_x0"]) <= TOL


@pytest.mark.parametrize("clipped", [False, True])
@pytest.mark.parametrize("variant", ["noinput", "input", "fixedC"])
def test_shplrnn_trajectories(golden, clipped, variant):
    tag = ("clipped_" if clipped else "") + "shplrnn"
    g = {k[len(tag) + 2 :]: v for k, v in golden.items() if k.startswith(tag + "__")}
    M, L = g["W1"].shape
    K = g["C"].shape[1]
    params = {"A": g["A"], "W1": g["W1"].T, "W2": g["W2"].T, "h1": g["h1"], "h2": g["h2"]}
    if variant == "noinput":
        model = models.ShallowPLRNN(M, 2, L, clipped=clipped)
        S = None
    else:
        learnable = variant == "input"
        model = models.ShallowPLRNN(M, 2, L, clipped=clipped, input_dim=K, learnable_C=learnable)
        if learnable:
            params["C"] = g["C"].T
        else:
            assert np.array_equal(model.fixed_C(), g["C_fixed"].T)
        S = g["S"]
    _check(model, params, g["z0"], g[f"{variant}__Z"], S)


TF_TAGS = {"stf_tau16": (1.0, 16), "gtf_a0.3_tau1": (0.3, 1), "gtf_a0.3_tau5": (0.3, 5),
           "free_tau1000": (1.0, 1000)}  # fmt: skip


@pytest.mark.parametrize("tag", sorted(TF_TAGS))
def test_alrnn_teacher_forcing(golden, tag):
    alpha, tau = TF_TAGS[tag]
    pre = "alrnn_tf__rand__"
    A, W, h, B = (golden[pre + k] for k in "AWhB")
    P = int(golden[pre + "P"])
    model = models.ALRNN(A.size, B.shape[0], P)
    params = {"A": A, "W": W.T, "h": h, "B": B}
    x, y = golden["alrnn_tf__x"], golden["alrnn_tf__y"]
    loss, grads, Zhat = forcing.forced_rollout_loss(model, params, x, y, alpha, tau)
    ref = {k: golden[f"{pre}{tag}__{k}"] for k in ("Zhat", "loss", "grad_A", "grad_W",
                                                  "grad_h", "grad_B")}  # fmt: skip
    assert gradcheck.rel_error(Zhat, ref["Zhat"]) <= TOL
    assert abs(loss - ref["loss"]) <= TOL * abs(ref["loss"])
    assert gradcheck.rel_error(grads["A"], ref["grad_A"]) <= TOL
    assert gradcheck.rel_error(grads["W"], ref["grad_W"].T) <= TOL
    assert gradcheck.rel_error(grads["h"], ref["grad_h"]) <= TOL
    assert gradcheck.rel_error(grads["B"], ref["grad_B"]) <= TOL
