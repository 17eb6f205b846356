"""The packaged TF-Bind-8 table: checksum, facts of the landscape, code <-> sequence helpers."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.gflownet import data

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "tfbind8"


@pytest.fixture(scope="module")
def scores():
    return data.load_scores()


def test_table_facts(scores):
    """The numbers stated in the data README (and the chapter brief), from the table itself."""
    assert scores.shape == (65536,) and scores.dtype == np.float64
    assert scores.min() == 0.0 and scores.max() == 1.0
    assert np.count_nonzero(scores == 0.0) == 1
    assert round(float(scores.mean()), 3) == 0.464
    assert round(float(np.median(scores)), 3) == 0.439
    assert round(float(np.sort(scores)[-100:].mean()), 3) == 0.984
    assert abs(scores.sum() - 30393.41) < 0.01
    assert abs((scores**3).sum() - 9504.89) < 0.01


def test_scores_are_reverse_complement_symmetric(scores):
    seqs = data.all_sequences()
    rc = data.sequence_to_code(data.reverse_complement(seqs))
    assert np.array_equal(scores, scores[rc])
    assert np.count_nonzero(rc == np.arange(65536)) == 256  # the palindromes


def test_table_is_read_only_and_float32_exact(scores):
    with pytest.raises(ValueError, match="read-only"):
        scores[0] = 1.0
    as32 = data.load_scores(dtype=np.float32)
    assert as32.dtype == np.float32 and np.array_equal(as32.astype(np.float64), scores)


def test_checksum_mismatch_is_a_clear_error(tmp_path):
    bad = tmp_path / "scores.npy"
    shutil.copy(data.SCORES_FILE, bad)
    raw = bytearray(bad.read_bytes())
    raw[-1] ^= 0xFF  # flip one byte of the last score
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="^path: SHA-256 mismatch"):
        data.load_scores(bad)
    # the caller may opt out for a table of their own
    table = data.load_scores(bad, expected_sha256=None)
    assert table[-1] != data.load_scores()[-1]


def test_missing_or_malformed_table(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TF-Bind-8 score table"):
        data.load_scores(tmp_path / "nope.npy")
    short = tmp_path / "short.npy"
    np.save(short, np.zeros(10, dtype=np.float32))
    with pytest.raises(ValueError, match=r"^path: expected a float array of shape \(65536,\)"):
        data.load_scores(short, expected_sha256=None)
    with pytest.raises(ValueError, match="dtype"):
        data.load_scores(dtype=np.int64)


def test_packaged_file_matches_its_readme():
    readme = (data.DATA_DIR / "README.md").read_text()
    assert data.SCORES_SHA256 in readme
    assert data.sha256_of(data.SCORES_FILE) == data.SCORES_SHA256


@pytest.mark.skipif(not SHARED.is_dir(), reason="the Design-Bench source files are not here")
def test_table_rebuilds_from_the_design_bench_files(scores):
    x = np.load(SHARED / "tf_bind_8-x-0.npy")
    y = np.load(SHARED / "tf_bind_8-y-0.npy")
    table = data.scores_from_design_bench(x, y)
    assert table.dtype == np.float32 and np.array_equal(table, scores)


def test_scores_from_design_bench_validation():
    x = data.all_sequences()
    y = np.arange(65536, dtype=np.float32)[:, None]
    assert np.array_equal(data.scores_from_design_bench(x[::-1], y[::-1]), y[:, 0])
    with pytest.raises(ValueError, match="missing"):
        data.scores_from_design_bench(x[1:], y[1:])
    dup_x = np.concatenate([x, x[:1]])
    dup_y = np.concatenate([y, y[:1] + 1])
    with pytest.raises(ValueError, match="different scores"):
        data.scores_from_design_bench(dup_x, dup_y)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 8\)"):
        data.scores_from_design_bench(x[:, :7], y)
    with pytest.raises(ValueError, match="y: expected shape"):
        data.scores_from_design_bench(x, y[:10])


def test_codes_known_values():
    assert data.sequence_to_code([0] * 8) == 0
    assert data.sequence_to_code([3] * 8) == 65535
    assert data.sequence_to_code([1, 0, 0, 0, 0, 0, 0, 0]) == 4**7  # first token most significant
    assert data.sequence_to_code([0, 0, 0, 0, 0, 0, 0, 2]) == 2
    assert np.array_equal(data.code_to_sequence(4**7 + 2), [1, 0, 0, 0, 0, 0, 0, 2])
    seqs = data.all_sequences()
    assert np.array_equal(data.sequence_to_code(seqs), np.arange(65536))
    # code order is lexicographic order
    assert all(tuple(seqs[i]) < tuple(seqs[i + 1]) for i in range(0, 65535, 4099))


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 9),
    vocab=st.integers(2, 5),
    shape=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    seed=st.integers(0, 2**32 - 1),
)
def test_code_round_trip_random_shapes(length, vocab, shape, seed):
    rng = np.random.default_rng(seed)
    seqs = rng.integers(0, vocab, size=(*shape, length))
    codes = data.sequence_to_code(seqs, vocab)
    assert codes.shape == tuple(shape)
    assert np.array_equal(data.code_to_sequence(codes, length, vocab), seqs)


def test_code_validation():
    with pytest.raises(ValueError, match=r"sequences: expected tokens in \[0, 4\)"):
        data.sequence_to_code([0, 1, 4, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="sequences: expected tokens"):
        data.sequence_to_code([-1, 0])
    with pytest.raises(ValueError, match="fractions"):
        data.sequence_to_code([0.5, 1.0])
    with pytest.raises(ValueError, match="integer array"):
        data.sequence_to_code(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="shape"):
        data.sequence_to_code(np.int64(3))
    with pytest.raises(ValueError, match=r"codes: expected values in \[0, 4\^8\)"):
        data.code_to_sequence([65536])
    with pytest.raises(ValueError, match="codes: expected an integer array"):
        data.code_to_sequence([1.0])


def test_hamming_neighbours():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 65536, size=50)
    nb = data.hamming_neighbours(codes)
    assert nb.shape == (50, 24)
    seqs = data.code_to_sequence(codes)
    nseqs = data.code_to_sequence(nb)
    diff = (nseqs != seqs[:, None, :]).sum(-1)
    assert np.all(diff == 1)  # each differs in exactly one position
    assert all(len(set(row)) == 24 for row in nb)  # and they are all different
    # brute force on one code
    brute = set()
    for i in range(8):
        for v in range(4):
            if v != seqs[0, i]:
                s = seqs[0].copy()
                s[i] = v
                brute.add(int(data.sequence_to_code(s)))
    assert brute == set(nb[0].tolist())


def test_offline_set_is_the_bottom_half(scores):
    codes = data.offline_codes()
    assert codes.size == 32768 and np.all(np.diff(codes) > 0)
    assert scores[codes].max() <= np.median(scores) < np.delete(scores, codes).min()
    with pytest.raises(ValueError, match="scores: expected shape"):
        data.offline_codes(np.zeros(5))
