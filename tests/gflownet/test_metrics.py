"""Exact evaluation (eqs. 4.5-4.9): the prefix-tree pass against brute-force enumeration,
analytic cases, Monte Carlo, and the facts of the TF-Bind-8 landscape."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.gflownet import data, envs
from reference.gflownet import metrics as m


@pytest.fixture(scope="module")
def scores():
    return data.load_scores()


def random_tables(rng, length, vocab, sharp=1.0):
    return [sharp * rng.normal(size=(vocab**t, vocab)) for t in range(length)]


def brute_force(tables, alpha, length, vocab):
    """p(x) = sum over every intended sequence a of prod_t pi(a_t | x_<t) T(x_t | a_t)."""
    T = envs.sticky_kernel(alpha, vocab)
    pis = [np.exp(tb) / np.exp(tb).sum(1, keepdims=True) for tb in tables]
    p = np.zeros(vocab**length)
    for x in itertools.product(range(vocab), repeat=length):
        total = 0.0
        for a in itertools.product(range(vocab), repeat=length):
            prob = 1.0
            for t in range(length):
                prefix = int(data.sequence_to_code(x[:t], vocab)) if t else 0
                prob *= pis[t][prefix, a[t]] * T[a[t], x[t]]
            total += prob
        p[data.sequence_to_code(x, vocab)] = total
    return p


# --------------------------------------------------------------------------- the tree pass


@pytest.mark.parametrize(("length", "vocab", "alpha"), [(3, 2, 0.3), (2, 3, 0.1), (3, 3, 0.5)])
def test_tree_pass_equals_brute_force_enumeration(length, vocab, alpha):
    rng = np.random.default_rng(length * 10 + vocab)
    tables = random_tables(rng, length, vocab, sharp=2.0)
    p = m.terminal_distribution(m.tabular_policy(tables), alpha, length, vocab)
    np.testing.assert_allclose(p, brute_force(tables, alpha, length, vocab), rtol=1e-12)
    assert abs(p.sum() - 1) < 1e-13


@settings(max_examples=25, deadline=None)
@given(
    length=st.integers(1, 5),
    vocab=st.integers(2, 4),
    alpha=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_tree_pass_equals_product_of_eq_4_3(length, vocab, alpha, seed):
    """Random shapes: every log p(x) equals the sum along x of log((1-a) pi + a/V)."""
    rng = np.random.default_rng(seed)
    tables = random_tables(rng, length, vocab, sharp=3.0)
    log_p = m.terminal_log_probs(m.tabular_policy(tables), alpha, length, vocab, batch_size=7)
    x = data.all_sequences(length, vocab)
    direct = np.zeros(len(x))
    for t in range(length):
        codes = data.sequence_to_code(x[:, :t], vocab) if t else np.zeros(len(x), int)
        pi = np.exp(tables[t]) / np.exp(tables[t]).sum(1, keepdims=True)
        direct += np.log((1 - alpha) * pi[codes, x[:, t]] + alpha / vocab)
    np.testing.assert_allclose(log_p, direct, rtol=1e-10, atol=1e-10)
    assert abs(np.exp(log_p).sum() - 1) < 1e-12


def test_uniform_policy_gives_the_uniform_distribution():
    uniform = lambda p: np.zeros((len(p), 4))
    for alpha in (0.0, 0.1, 0.5, 1.0):
        p = m.terminal_distribution(uniform, alpha)
        np.testing.assert_allclose(p, 1 / 65536, rtol=1e-12)
        assert m.entropy(p) == pytest.approx(8 * np.log(4), rel=1e-12)


def test_alpha_one_ignores_the_policy():
    rng = np.random.default_rng(0)
    tables = random_tables(rng, 4, 4, sharp=5.0)
    p = m.terminal_distribution(m.tabular_policy(tables), 1.0, 4, 4)
    np.testing.assert_allclose(p, 1 / 256, rtol=1e-12)


def test_alpha_zero_deterministic_policy_is_a_point_mass():
    target = np.array([2, 0, 3, 1, 1, 0, 2, 3])

    def spell(prefixes):
        t = prefixes.shape[1]
        out = np.full((len(prefixes), 4), -np.inf)
        out[:, target[t]] = 0.0
        return out

    p = m.terminal_distribution(spell, 0.0)
    assert p[data.sequence_to_code(target)] == 1.0 and p.sum() == 1.0
    # with noise: the target keeps (1 - a + a/V)^L, the floor of every other sequence > 0
    p = m.terminal_distribution(spell, 0.2)
    assert p[data.sequence_to_code(target)] == pytest.approx(0.85**8, rel=1e-12)
    assert p.min() == pytest.approx(0.05**8, rel=1e-12)


def test_tree_pass_matches_monte_carlo_rollouts():
    rng = np.random.default_rng(11)
    tables = random_tables(rng, 3, 4, sharp=1.5)
    policy = m.tabular_policy(tables)
    p = m.terminal_distribution(policy, 0.25, 3, 4)
    env = envs.StickySequenceEnv(alpha=0.25, length=3, vocab=4)
    n = 100_000
    codes = env.rollout(policy, n, np.random.default_rng(12)).codes()
    freq = np.bincount(codes, minlength=64) / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_batch_size_and_validation():
    rng = np.random.default_rng(1)
    policy = m.tabular_policy(random_tables(rng, 4, 3))
    a = m.terminal_log_probs(policy, 0.3, 4, 3, batch_size=5)
    b = m.terminal_log_probs(policy, 0.3, 4, 3, batch_size=10_000)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="batch_size"):
        m.terminal_log_probs(policy, 0.3, 4, 3, batch_size=0)
    with pytest.raises(ValueError, match=r"log_policy: expected an output of shape \(1, 4\)"):
        m.terminal_log_probs(lambda p: np.zeros((len(p), 3)), 0.1)
    with pytest.raises(ValueError, match="NaN"):
        m.terminal_log_probs(lambda p: np.full((len(p), 4), np.nan), 0.1)
    with pytest.raises(ValueError, match="alpha"):
        m.terminal_log_probs(policy, -0.1, 4, 3)
    with pytest.raises(ValueError, match=r"tables\[1\]"):
        m.tabular_policy([np.zeros((1, 3)), np.zeros((2, 3))])


def test_logits_are_normalised_and_minus_inf_is_allowed():
    shift = lambda p: np.tile([3.0, 1.0, -np.inf, 0.5], (len(p), 1)) + 100.0
    pi = np.array([np.e**3, np.e, 0, np.e**0.5]) / (np.e**3 + np.e + np.e**0.5)
    p = m.terminal_distribution(shift, 0.0, 2, 4)
    expect = (pi[:, None] * pi[None, :]).ravel()
    np.testing.assert_allclose(p, expect, rtol=1e-12)


# --------------------------------------------------------------------------- divergences


def test_divergences_known_values():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    assert m.l1_distance(p, q) == pytest.approx(1.0)
    assert m.entropy(p) == pytest.approx(np.log(2))
    assert m.kl_divergence(p, q) == pytest.approx(np.log(2))
    assert m.kl_divergence(q, p) == np.inf
    assert m.kl_divergence(q, q) == 0.0
    with pytest.raises(ValueError, match="q: expected a probability vector"):
        m.l1_distance(p, np.array([0.5, 0.6, 0.0]))
    with pytest.raises(ValueError, match=r"q: expected shape \(3,\)"):
        m.kl_divergence(p, np.array([1.0]))


def test_target_distribution(scores):
    p1 = m.target_distribution(scores, 1.0)
    p3 = m.target_distribution(scores, 3.0)
    assert m.entropy(p1) == pytest.approx(11.02, abs=0.005)
    assert m.entropy(p3) == pytest.approx(10.59, abs=0.005)
    assert p3[np.argmax(scores)] == pytest.approx(1 / 9504.892904, rel=1e-6)
    assert p3[np.argmin(scores)] == pytest.approx(1e-32 / 9504.892904, rel=1e-6)
    assert m.target_distribution(scores, 3.0, r_min=0)[np.argmin(scores)] == 0.0
    with pytest.raises(ValueError, match="beta"):
        m.target_distribution(scores, 0.0)
    with pytest.raises(ValueError, match="scores"):
        m.target_distribution(-scores, 1.0)


def test_conditionals_rebuild_the_distribution():
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(81))
    p[3] = 0.0
    p /= p.sum()
    cond = m.conditionals(p, 4, 3)
    with np.errstate(divide="ignore"):
        rebuilt = m.terminal_distribution(m.tabular_policy([np.log(c) for c in cond]), 0.0, 4, 3)
    np.testing.assert_allclose(rebuilt, p, rtol=1e-12, atol=1e-15)
    marg = m.prefix_marginals(p, 4, 3)
    assert [mm.size for mm in marg] == [1, 3, 9, 27, 81] and marg[0][0] == pytest.approx(1.0)


def test_attainability_on_tf_bind_8(scores):
    """The brief's violated fractions, and the realizable references."""
    expected = {(1, 0.25): 0.0004, (1, 0.5): 0.011, (3, 0.1): 0.014, (3, 0.25): 0.062}
    for (beta, alpha), frac in expected.items():
        at = m.attainability(m.target_distribution(scores, beta), alpha)
        assert at["pairs"] == 87380
        assert round(at["violated_fraction"], 4 if frac < 0.001 else 3) == frac
        assert 0 < at["l1_deconvolved"] < at["l1_naive"]
    # nothing violated -> the deconvolved policy is exact
    flat = m.target_distribution(np.ones(256), 1.0)
    at = m.attainability(flat, 0.5, 4, 4)
    assert at["violated"] == 0 and at["l1_deconvolved"] < 1e-12


# --------------------------------------------------------------------------- modes, samples


def test_modes_are_the_335_local_maxima(scores):
    modes = m.local_maxima(scores)
    assert modes.size == 335
    assert int((scores[modes] > np.percentile(scores, 90)).sum()) == 110
    assert int((scores[modes] > np.percentile(scores, 99)).sum()) == 37
    assert np.argmax(scores) in modes
    # brute force on a sample of codes, through the sequences
    rng = np.random.default_rng(0)
    for c in np.concatenate([modes[:20], rng.integers(0, 65536, 200)]):
        x = data.code_to_sequence(c)
        better = True
        for i in range(8):
            for v in range(4):
                if v != x[i]:
                    y = x.copy()
                    y[i] = v
                    better &= scores[c] > scores[data.sequence_to_code(y)]
        assert better == (c in modes)


def test_modes_found_and_expected():
    modes = np.array([1, 5, 9])
    assert m.modes_found([5, 5, 2, 9], modes) == 2
    p = np.full(10, 0.1)
    assert m.expected_modes_found(p, modes, 1) == pytest.approx(0.3)
    assert m.expected_modes_found(p, modes, 20) == pytest.approx(3 * (1 - 0.9**20))
    # Monte Carlo agreement
    rng = np.random.default_rng(3)
    found = [m.modes_found(m.sample_codes(p, 5, rng), modes) for _ in range(4000)]
    assert np.mean(found) == pytest.approx(3 * (1 - 0.9**5), abs=0.04)


def test_sample_codes_follow_p():
    p = np.array([0.0, 0.2, 0.5, 0.0, 0.3])
    codes = m.sample_codes(p, 100_000, np.random.default_rng(0))
    freq = np.bincount(codes, minlength=5) / 1e5
    assert freq[0] == 0 and freq[3] == 0
    np.testing.assert_allclose(freq, p, atol=0.01)
    with pytest.raises(ValueError, match="rng"):
        m.sample_codes(p, 3, 0)


def python_levenshtein(a, b):
    d = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, cb in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (ca != cb))
    return d[-1]


def test_levenshtein_matches_a_plain_implementation():
    rng = np.random.default_rng(2)
    seqs = rng.integers(0, 4, size=(30, 8))
    seqs[1] = np.roll(seqs[0], 1)  # a shift: edit distance 2, Hamming up to 8
    D = m.levenshtein_matrix(seqs)
    for i in range(30):
        for j in range(30):
            assert D[i, j] == python_levenshtein(seqs[i].tolist(), seqs[j].tolist())
    assert D[0, 1] <= 2 and np.array_equal(D, D.T) and np.all(np.diag(D) == 0)


def test_top_k_and_diversity(scores):
    codes = np.array([0, 65535, 123, 65535, 4000])
    best = m.top_k(codes, scores, 3)
    assert list(scores[best]) == sorted(scores[codes], reverse=True)[:3]
    assert m.diversity(np.array([0, 0])) == 0.0
    assert m.diversity(np.array([0, 65535])) == 8.0
    with pytest.raises(ValueError, match="k"):
        m.top_k(codes, scores, 6)
    with pytest.raises(ValueError, match="at least 2"):
        m.diversity(np.array([3]))


def test_evaluate_report(scores):
    p_star = m.target_distribution(scores, 3.0)
    report = m.evaluate(np.log(p_star), scores, 0.1, 3.0, np.random.default_rng(0))
    assert report["l1"] < 1e-14 and report["entropy_ratio"] == pytest.approx(1.0, abs=1e-14)
    assert abs(report["kl_forward"]) < 1e-14 and abs(report["kl_reverse"]) < 1e-14
    assert report["num_modes"] == 335 and 0 < report["modes_found"] <= 335
    assert report["expected_modes"] == pytest.approx(
        m.expected_modes_found(p_star, m.local_maxima(scores), 2048)
    )
    uni = m.evaluate(np.full(65536, -np.log(65536)), scores, 0.1, 3.0, np.random.default_rng(0))
    assert uni["entropy_ratio"] > 1 and uni["l1"] > 0.5
    assert uni["expected_reward"] == pytest.approx(scores.mean())
    assert report["top_k_mean"] > uni["top_k_mean"]


# --------------------------------------------------------------------------- plots


def test_plots_render(tmp_path, scores):
    from reference.gflownet import plots

    p_star = m.target_distribution(scores, 3.0)
    uniform = np.full(65536, 1 / 65536)
    modes = m.local_maxima(scores)
    plots.distribution_vs_target(uniform, p_star, scores, modes).savefig(tmp_path / "a.png")
    steps = np.arange(5)
    hist = {
        "DB": {"step": steps, "l1": np.ones((3, 5)), "entropy_ratio": np.ones(5)},
        "SDB": {"step": steps, "l1": np.zeros(5), "entropy_ratio": np.ones(5)},
    }
    fig = plots.training_curves(hist, ("l1", "entropy_ratio"), floors={"l1": 0.1})
    fig.savefig(tmp_path / "b.png")
    table = {"DB": {"l1": [0.5, 0.6]}, "SDB": {"l1": [0.2, 0.3]}}
    floors = {"l1": {"naive": 0.2, "deconvolved": 0.01}}
    plots.method_bars(table, ("l1",), floors=floors).savefig(tmp_path / "c.png")
    plots.sweep({"DB": {0.1: [0.5], 0.25: [0.7]}}, "alpha", floors={0.1: 0.08}).savefig(
        tmp_path / "d.png"
    )
    two = {"naive": {"0.1": 0.08, "0.25": 0.2}, "deconvolved": {"0.1": 0.001, "0.25": 0.01}}
    plots.sweep({"SDB": {"0.25": [0.4, 0.5], "0.1": [0.3]}}, "alpha", floors=two).savefig(
        tmp_path / "e.png"
    )
    assert all((tmp_path / f"{n}.png").stat().st_size > 1000 for n in "abcd")
    with pytest.raises(ValueError, match="no 'kl_forward' entry"):
        plots.training_curves(hist, ("kl_forward",))
    with pytest.raises(ValueError, match="expected 5 values per seed"):
        plots.training_curves({"X": {"step": steps, "l1": np.ones(4)}}, ("l1",))
    with pytest.raises(ValueError, match="p, p_star, scores"):
        plots.distribution_vs_target(uniform[:5], p_star, scores)


def test_half_step_diagram_renders(tmp_path):
    from reference.gflownet import plots

    plots.half_step_diagram(0.25, 4).savefig(tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="alpha"):
        plots.half_step_diagram(2.0)


def test_deconvolve_inverts_eq_4_3_where_possible():
    rng = np.random.default_rng(4)
    pi = rng.dirichlet(np.ones(4), size=10)
    for alpha in (0.0, 0.1, 0.5, 0.9):
        q = envs.realized_probs(pi, alpha)
        np.testing.assert_allclose(m.deconvolve(q, alpha), pi, rtol=0, atol=1e-12)
    q = np.array([[0.9, 0.1, 0.0, 0.0]])  # two entries below alpha / V = 0.05
    d = m.deconvolve(q, 0.2)
    np.testing.assert_allclose(d, [[0.85 / 0.9, 0.05 / 0.9, 0, 0]], rtol=1e-12)
    assert np.array_equal(m.deconvolve(q, 1.0), np.full((1, 4), 0.25))
    with pytest.raises(ValueError, match="cond"):
        m.deconvolve(np.array([0.5, 0.6]), 0.1)
