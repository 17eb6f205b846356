"""TF-Bind-8: the binding score of every DNA 8-mer, as one table indexed by a base-4 code.

A sequence is 8 tokens in {0, 1, 2, 3} (opaque labels; A, C, G, T in Design-Bench's order).
Its code is the base-4 number with the first token most significant::

    (4.1)   c(x) = sum_{i=0}^{7} x_i 4^(7 - i),        0 <= c < 4^8 = 65,536

and ``scores[c(x)]`` is its score R(x) in [0, 1]. The table ships with the package
(``reference/gflownet/tfbind8/scores.npy``, float32, 262 kB, provenance in the README next to
it); :func:`load_scores` checks its SHA-256 before returning it, so a corrupted or swapped file
stops with a clear error instead of changing every number in the chapter.

The table was built from Design-Bench's ``tf_bind_8-x-0.npy`` / ``tf_bind_8-y-0.npy`` with
:func:`scores_from_design_bench` (65,792 rows: every 8-mer once, plus 256 duplicated rows of
the reverse-complement palindromes, whose scores agree). Scores are symmetric under the
reverse complement (complement 0 <-> 3, 1 <-> 2), see :func:`reverse_complement`.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

VOCAB = 4
LENGTH = 8
NUM_SEQUENCES = VOCAB**LENGTH  # 65,536

DATA_DIR = Path(__file__).resolve().parent / "tfbind8"
SCORES_FILE = DATA_DIR / "scores.npy"
SCORES_SHA256 = "34a387381da955dc6763f0f8cc20ead175568e6d0aad60e72b46c83dfa3cc5e4"

#: 4^(L-1-i): the place value of position i (eq. 4.1)
PLACE_VALUES = VOCAB ** np.arange(LENGTH - 1, -1, -1, dtype=np.int64)


def sha256_of(path):
    """Hex SHA-256 digest of the bytes of the file at ``path``."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_scores(path=None, dtype=np.float64, expected_sha256=SCORES_SHA256):
    """All 65,536 TF-Bind-8 scores, ``scores[c]`` for the sequence with code ``c`` (eq. 4.1).

    ``path`` defaults to the packaged table; its SHA-256 must equal ``expected_sha256``
    (pass ``None`` to skip the check for a table of your own). Returns a read-only array of
    shape (65536,) in ``dtype`` (float64 by default; the stored values are float32, so the
    conversion is exact).
    """
    path = SCORES_FILE if path is None else Path(path)
    table = _load_verified(str(path), expected_sha256)
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype: expected a floating dtype, got {np.dtype(dtype)}")
    out = table.astype(dtype)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=4)
def _load_verified(path, expected_sha256):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"path: no TF-Bind-8 score table at {path} (the package ships "
            f"{SCORES_FILE.relative_to(DATA_DIR.parents[2])})"
        )
    if expected_sha256 is not None:
        digest = sha256_of(path)
        if digest != expected_sha256:
            raise ValueError(
                f"path: SHA-256 mismatch for {path}, expected {expected_sha256}, got {digest}; the "
                f"score table is corrupted or not the TF-Bind-8 table (see {DATA_DIR}/README.md)"
            )
    table = np.load(path, allow_pickle=False)
    if table.shape != (NUM_SEQUENCES,) or table.dtype.kind != "f":
        raise ValueError(
            f"path: expected a float array of shape ({NUM_SEQUENCES},) in {path}, "
            f"got {table.dtype} {table.shape}"
        )
    table.setflags(write=False)
    return table


# --------------------------------------------------------------------------- codes


def check_tokens(tokens, name="tokens", vocab=VOCAB):
    """``tokens`` as an int64 array; ValueError unless every entry is an integer in [0, vocab)."""
    arr = np.asarray(tokens)
    if arr.dtype.kind == "f":
        if arr.size and not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: expected integer tokens in [0, {vocab}), got fractions")
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an integer array, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= vocab):
        raise ValueError(
            f"{name}: expected tokens in [0, {vocab}), got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def sequence_to_code(sequences, vocab=VOCAB):
    """Eq. (4.1): codes of ``sequences`` (..., L) -> int64 array (...); first token most
    significant, so codes sort like the sequences do lexicographically."""
    seqs = check_tokens(sequences, "sequences", vocab)
    if seqs.ndim < 1 or seqs.shape[-1] < 1:
        raise ValueError(f"sequences: expected shape (..., L) with L >= 1, got {seqs.shape}")
    place = vocab ** np.arange(seqs.shape[-1] - 1, -1, -1, dtype=np.int64)
    return seqs @ place


def code_to_sequence(codes, length=LENGTH, vocab=VOCAB):
    """Inverse of eq. (4.1): int codes (...) -> tokens (..., length), int64."""
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise ValueError(f"codes: expected an integer array, got dtype {codes.dtype}")
    codes = codes.astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= vocab**length):
        raise ValueError(
            f"codes: expected values in [0, {vocab}^{length}), "
            f"got values in [{codes.min()}, {codes.max()}]"
        )
    place = vocab ** np.arange(length - 1, -1, -1, dtype=np.int64)
    return (codes[..., None] // place) % vocab


def all_sequences(length=LENGTH, vocab=VOCAB):
    """Every sequence in code order: (vocab^length, length) int64, row c has code c."""
    return code_to_sequence(np.arange(vocab**length), length, vocab)


def reverse_complement(sequences):
    """Reverse the sequence and complement each token (0 <-> 3, 1 <-> 2): ``3 - x[::-1]``."""
    seqs = check_tokens(sequences, "sequences", VOCAB)
    return (VOCAB - 1 - seqs)[..., ::-1]


def hamming_neighbours(codes, length=LENGTH, vocab=VOCAB):
    """Codes of the ``length * (vocab - 1)`` single-substitution neighbours of each code.

    ``codes`` (N,) -> (N, length * (vocab - 1)) int64, grouped by position (position 0
    first), the substituted token increasing within a position.
    """
    seqs = code_to_sequence(codes, length, vocab)  # validates codes
    place = vocab ** np.arange(length - 1, -1, -1, dtype=np.int64)
    shift = np.arange(1, vocab)  # add 1..V-1 modulo V: every other token exactly once
    new_tok = (seqs[..., :, None] + shift) % vocab  # (N, L, V-1)
    delta = (new_tok - seqs[..., :, None]) * place[:, None]
    out = np.asarray(codes, dtype=np.int64)[..., None, None] + delta
    return out.reshape(*out.shape[:-2], length * (vocab - 1))


# --------------------------------------------------------------------------- building


def scores_from_design_bench(x, y):
    """The dense table from Design-Bench's raw arrays: ``x`` (N, 8) tokens, ``y`` (N, 1) or (N,).

    Every one of the 65,536 sequences must appear, and duplicated rows must carry identical
    scores (ValueError otherwise). Returns float32 (65536,), the dtype of the source scores.
    """
    x = check_tokens(x, "x")
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[1] != LENGTH:
        raise ValueError(f"x: expected shape (N, {LENGTH}), got {x.shape}")
    y = y.reshape(len(y), -1) if y.ndim else y
    if y.ndim != 2 or y.shape != (x.shape[0], 1):
        raise ValueError(f"y: expected shape ({x.shape[0]}, 1) or ({x.shape[0]},), got {y.shape}")
    codes = sequence_to_code(x)
    table = np.full(NUM_SEQUENCES, np.nan, dtype=np.float32)
    table[codes] = y[:, 0]
    missing = int(np.isnan(table).sum())
    if missing:
        raise ValueError(f"x: expected every 8-mer at least once, {missing} are missing")
    if not np.array_equal(table[codes], y[:, 0].astype(np.float32)):
        raise ValueError("y: duplicated sequences carry different scores")
    return table


def offline_codes(scores=None):
    """Codes of the Design-Bench offline set of ``TFBind8-Exact-v0``: the bottom half of the
    scores (``score <= median``; 32,768 sequences for the packaged table), sorted."""
    scores = load_scores() if scores is None else np.asarray(scores)
    if scores.shape != (NUM_SEQUENCES,):
        raise ValueError(f"scores: expected shape ({NUM_SEQUENCES},), got {scores.shape}")
    return np.flatnonzero(scores <= np.median(scores))
