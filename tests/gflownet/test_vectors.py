"""Chapter-4 porting vectors: written by the CLI, recomputed by ``vectors.verify``, and a few
checked independently here by plain formulas (loops, brute force)."""

import itertools
import json

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from reference import vectors
from reference.__main__ import main
from tests.gflownet.test_metrics import python_levenshtein

NAMES = {
    "gflownet.sequence_to_code",
    "gflownet.sticky_kernel",
    "gflownet.terminal_log_probs",
    "gflownet.divergences",
    "gflownet.landscape",
    "gflownet.levenshtein",
    "gflownet.hypergrid_exact",
    "gflownet.stochastic_db",
    "gflownet.detailed_balance_chain",
    "gflownet.tb_zvar",
    "gflownet.subtb",
    "gflownet.dynamics_cross_entropy",
    "gflownet.flow_matching",
    "gflownet.transition_logprobs",
    "gflownet.encode_prefixes",
    "gflownet.policy_network",
    "gflownet.dynamics_network",
    "gflownet.reward",
    "gflownet.sample_metrics",
}


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors")
    assert main(["vectors", str(out), "--chapter", "gflownet"]) == 0
    return out


def test_chapter_vectors_are_written_and_recompute(vector_dir):
    index = json.loads((vector_dir / "index.json").read_text())["cases"]
    assert {entry["name"] for entry in index} == NAMES
    for entry in index:
        assert entry["chapter"] == "gflownet" and entry["equation"].startswith("(4.")
        for f in entry["files"]:
            assert (vector_dir / f).exists(), f
    errors = vectors.verify(vector_dir)
    assert set(errors) == NAMES and all(e <= 1e-12 for e in errors.values()), errors


def test_codes_and_kernel_by_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "gflownet.sequence_to_code")
    for seq, code in zip(inp["sequences"].astype(int), out["codes"], strict=True):
        assert code == int("".join(map(str, seq)), 4)
    inp, out, _ = vectors.read(vector_dir, "gflownet.sticky_kernel")
    a, V = float(inp["alpha"]), int(inp["vocab"])
    T = [[(1 - a) * (i == j) + a / V for j in range(V)] for i in range(V)]
    np.testing.assert_allclose(out["T"], T, rtol=1e-15)
    np.testing.assert_allclose(
        out["log_q"], np.log(np.exp(inp["log_pi"]) @ np.array(T)), rtol=1e-13
    )
    np.testing.assert_allclose(out["deconvolved_q"], np.exp(inp["log_pi"]), rtol=1e-12)
    clipped = np.maximum(inp["sharp"] - a / V, 0)
    np.testing.assert_allclose(out["deconvolved_sharp"], clipped / clipped.sum(1, keepdims=True))


def test_tree_by_brute_force(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "gflownet.terminal_log_probs")
    tables = [inp["tables"][f"t{t}"] for t in range(4)]
    alpha, V = float(inp["alpha"]), 3
    pis = [softmax(tb, axis=1) for tb in tables]
    for x in itertools.product(range(V), repeat=4):
        p = 1.0
        for t in range(4):
            c = int("".join(map(str, x[:t])) or "0", 3)
            p *= (1 - alpha) * pis[t][c, x[t]] + alpha / V
        assert np.log(p) == pytest.approx(out["log_p"][int("".join(map(str, x)), 3)], rel=1e-12)


def test_divergences_by_hand(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "gflownet.divergences")
    p, q = inp["p"], inp["q"]
    assert out["l1"] == pytest.approx(sum(abs(a - b) for a, b in zip(p, q, strict=True)))
    assert out["kl_p_q"] == pytest.approx(sum(a * np.log(a / b) for a, b in zip(p, q, strict=True)))
    assert out["entropy_p"] == pytest.approx(-sum(a * np.log(a) for a in p))


def test_sdb_by_loops(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "gflownet.stochastic_db")
    F, fwd, bwd, dyn = inp["log_flows"], inp["fwd_logits"], inp["bwd_logits"], inp["dyn_logprobs"]
    a, x, m = inp["intended"].astype(int), inp["realized"].astype(int), inp["mask"]
    K, B = F.shape
    r = np.zeros((K - 1, B))
    for b in range(B):
        for k in range(K - 1):
            target = inp["log_reward"][b] if k == K - 2 else F[k + 1, b]
            r[k, b] = (
                F[k, b]
                + fwd[k, b, a[k + 1, b]] - logsumexp(fwd[k, b])
                + dyn[k, b, x[k + 1, b]]
                - target
                - (bwd[k + 1, b, a[k + 1, b]] - logsumexp(bwd[k + 1, b]))
            )  # fmt: skip
    np.testing.assert_allclose(out["residuals"], r, rtol=1e-12)
    assert out["loss"] == pytest.approx((m * r**2).sum() / m.sum(), rel=1e-12)


def test_hypergrid_vectors_by_hand(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "gflownet.hypergrid_exact")
    R = np.exp(out["log_reward"])
    np.testing.assert_allclose(out["p_exit"], R / R.sum(), rtol=1e-12)
    assert out["log_F"][0] == pytest.approx(np.log(R.sum()), rel=1e-12)
    pf = out["balanced_pf"]
    np.testing.assert_allclose(pf.sum(axis=1), 1.0, rtol=1e-12)
    assert pf[3, 1] == 0 and pf[12, 0] == 0  # (0, 3) cannot move on axis 1, (3, 0) on axis 0


def test_reward_and_sample_metrics_by_plain_formulas(vector_dir):
    inp, out, _ = vectors.read(vector_dir, "gflownet.reward")
    for t, e in zip(inp["t"], out["exponent"], strict=True):
        assert e == pytest.approx(1 + 2 * (1 - 1 / (1 + t / 3)), rel=1e-15)
    expected = [np.log(0.25), 0.0, *[np.log(1e-32)] * 4]  # 0, -0.3, NaN, inf -> floor
    np.testing.assert_allclose(out["log_reward"], expected, rtol=1e-15)
    inp, out, _ = vectors.read(vector_dir, "gflownet.sample_metrics")
    codes, R = inp["codes"].astype(int), inp["scores"]
    assert sorted(R[out["top_k"].astype(int)]) == sorted(R[codes])[-3:]
    pm = inp["p"][inp["mode_codes"].astype(int)]
    assert out["expected_modes_found"] == pytest.approx(np.sum(1 - (1 - pm) ** 50), rel=1e-12)
    seqs = [np.base_repr(c, 3).zfill(4) for c in codes]
    pairs = [(a, b) for i, a in enumerate(seqs) for b in seqs[i + 1 :]]
    assert out["diversity"] == pytest.approx(
        np.mean([python_levenshtein(a, b) for a, b in pairs]), rel=1e-14
    )
