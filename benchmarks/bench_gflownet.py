"""Milliseconds per training iteration of chapter 4 (stochastic DB on TF-Bind-8): NumPy,
NumPy + numba kernels, and PyTorch (CPU) running the same model.

One *iteration* is what ``reference.gflownet.train.train`` does per step for the method
``"sdb"``: roll out 16 trajectories in the sticky environment (alpha 0.1, 8 sequential
policy calls, epsilon 0.001), add 16 offline sequences with fabricated intended tokens,
evaluate the policy network (32 -> H -> H -> 9, ReLU) at all 9 prefixes of the 32
sequences and the dynamics network (36 -> H -> H -> 4) at their 8 transitions, the SDB
loss (4.15) and its gradient, gradient-norm clipping and an Adam step; then one Adam step
of the dynamics cross-entropy (4.16) on the 128 online transitions (the ``numba`` and
``torch`` rows take its forward from the online rows of the SDB term's dynamics forward,
whose parameters have not changed since; the ``numpy`` row evaluates it again). Rows:

* ``numpy``: the library's ``train.train(..., kernel="numpy")`` (readable NumPy, float64);
* ``numba``: ``kernel="numba"``: the same iteration through ``compiled.CompiledRun`` (the
  random draws, rollout, batch assembly, both networks, SDB loss and gradient, cross-entropy
  and clipping + Adam in the compiled twins of ``reference/gflownet/{kernels,mlp_kernels,
  compiled}.py``, arguments checked once per run); the matrix products stay with BLAS;
* ``torch``: the same model, loss and loop written in PyTorch for this benchmark
  (``torch.nn.Linear``, autograd, ``clip_grad_norm_``, ``torch.optim.Adam``,
  ``torch.multinomial``), float64 and float32, when torch is importable.

Everything runs single-threaded (``OPENBLAS_NUM_THREADS=1``, ``torch.set_num_threads(1)``):
the reference machine has 2 cores shared with other work. Rows are timed in rounds: each
round runs every row (starting row rotating) for one untimed iteration and a burst of
``--burst`` timed ones, so load from elsewhere hits all rows alike; the table reports the
median and interquartile range of the per-iteration times over all bursts. The load average
before and after is printed: on a busy machine the absolute numbers mean little, the ratios
somewhat more. Two more rows, timed in the same rounds, run the iteration's matrix products
alone on random matrices of the same shapes (NumPy, float64 and float32): the *BLAS floor*,
which bounds what any implementation of the same products can reach.

Usage::

    .venv/bin/python benchmarks/bench_gflownet.py                 # width 256, ~1-2 min
    .venv/bin/python benchmarks/bench_gflownet.py --hidden 2048 --rounds 3 --burst 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from common import base_machine_info, percentile  # noqa: E402

L, V, ALPHA, EPSILON, B_ON, B_OFF, CLIP = 8, 4, 0.1, 0.001, 16, 16, 10.0


# --------------------------------------------------------------------------- ours


def ours(kernel, hidden):
    from reference.gflownet import data, train

    scores = data.load_scores()
    offline = data.offline_codes(scores)
    config = train.TrainConfig(method="sdb", alpha=ALPHA, hidden=hidden, iterations=0)
    state = train.init_state(config, L, V, np.random.default_rng(0))
    box = {"state": state, "n": 0}

    def step(n):
        box["n"] += n
        cfg = train.TrainConfig(method="sdb", alpha=ALPHA, hidden=hidden, iterations=box["n"],
                                seed=box["n"])  # fmt: skip
        box["state"] = train.train(cfg, scores, offline, progress=False, state=box["state"],
                                   kernel=kernel)  # fmt: skip

    return step


# --------------------------------------------------------------------------- torch


def torch_impl(hidden, dtype):
    import torch

    from reference.gflownet import data

    torch.set_num_threads(1)
    dt = {"float64": torch.float64, "float32": torch.float32}[dtype]
    torch.manual_seed(0)
    mlp = lambda n_in, n_out: torch.nn.Sequential(
        torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(), torch.nn.Linear(hidden, n_out)).to(dt)  # fmt: skip
    policy, dynamics = mlp(L * V, 2 * V + 1), mlp((L + 1) * V, V)
    opt_p = torch.optim.Adam(policy.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(dynamics.parameters(), lr=1e-3)
    scores = torch.as_tensor(np.array(data.load_scores()), dtype=dt)
    offline = torch.as_tensor(data.offline_codes(np.asarray(scores)))
    place = V ** torch.arange(L - 1, -1, -1)
    keep = (torch.arange(L)[None, :] < torch.arange(L + 1)[:, None]).to(dt)  # (L+1, L)
    eye = torch.eye(V, dtype=dt)

    def codes_of(seq):  # (B, L) -> (L + 1, B, L V): one-hot prefixes 0..L
        return (keep[:, None, :, None] * eye[seq][None]).reshape(L + 1, seq.shape[0], L * V)

    def rollout():
        x = torch.zeros(B_ON, L * V, dtype=dt)
        realized = torch.zeros(B_ON, L, dtype=torch.long)
        intended = torch.zeros(B_ON, L, dtype=torch.long)
        with torch.no_grad():
            for t in range(L):
                probs = torch.softmax(policy(x)[:, :V], dim=1)
                a = torch.multinomial(probs, 1)[:, 0]
                explore = torch.rand(B_ON) < EPSILON
                a = torch.where(explore, torch.randint(0, V, (B_ON,)), a)
                stick = torch.rand(B_ON) < ALPHA
                xt = torch.where(stick, torch.randint(0, V, (B_ON,)), a)
                intended[:, t], realized[:, t] = a, xt
                x[torch.arange(B_ON), t * V + xt] = 1.0
        return realized, intended

    def iteration(it):
        on_r, on_i = rollout()
        off = (offline[torch.randint(0, len(offline), (B_OFF,))][:, None] // place) % V
        off_i = torch.where(torch.rand(B_OFF, L) < ALPHA, torch.randint(0, V, (B_OFF, L)), off)
        realized, intended = torch.cat([on_r, off]), torch.cat([on_i, off_i])
        beta = 1.0 + 2.0 * (1.0 - 1.0 / (1.0 + it / 3.0))
        log_R = torch.log(torch.clamp(scores[realized @ place] ** beta, min=1e-32))
        codes = codes_of(realized)  # (9, 32, 32)
        dyn_in = torch.cat([codes[:-1], eye[intended.T]], dim=-1)  # (8, 32, 36)
        logits_on = dynamics(dyn_in[:, :B_ON])  # online rows: kept for the CE step below
        with torch.no_grad():
            logits = torch.cat([logits_on, dynamics(dyn_in[:, B_ON:])], dim=1)
            log_phat = torch.log_softmax(logits, dim=-1)
        out = policy(codes)
        lpi = torch.log_softmax(out[..., :V], -1)
        lpb = torch.log_softmax(out[..., V : 2 * V], -1)
        log_F = out[..., 2 * V]
        a, x = intended.T[..., None], realized.T[..., None]
        g = torch.cat([log_F[1:-1], log_R[None]])
        d = (log_F[:-1] + lpi[:-1].gather(-1, a)[..., 0] + log_phat.gather(-1, x)[..., 0]
             - g - lpb[1:].gather(-1, a)[..., 0])  # fmt: skip
        loss = (d * d).mean()
        opt_p.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), CLIP)
        opt_p.step()
        ce = torch.nn.functional.cross_entropy(logits_on.reshape(-1, V),
                                               realized[:B_ON].T.reshape(-1))  # fmt: skip
        opt_d.zero_grad()
        ce.backward()
        torch.nn.utils.clip_grad_norm_(dynamics.parameters(), CLIP)
        opt_d.step()

    box = {"it": 0}

    def step(n):
        for _ in range(n):
            iteration(box["it"])
            box["it"] += 1

    return step


# --------------------------------------------------------------------------- BLAS floor


def gemm_shapes(hidden):
    """``(m, k, n)`` of the matrix products in one iteration (both networks, depth 2)."""
    H, P, D = hidden, 2 * V + 1, (L + 1) * V
    s = [(B_ON, L * V, H), (B_ON, H, H), (B_ON, H, P)] * L  # rollout: L policy calls
    rows_p, rows_d, rows_ce = (L + 1) * (B_ON + B_OFF), L * (B_ON + B_OFF), L * B_ON
    s += [(rows_d, D, H), (rows_d, H, H), (rows_d, H, V)]  # dynamics forward, SDB term and CE
    s += [(rows_p, L * V, H), (rows_p, H, H), (rows_p, H, P)]  # policy forward
    s += [(H, rows_p, P), (rows_p, P, H), (H, rows_p, H), (rows_p, H, H), (L * V, rows_p, H)]
    s += [(H, rows_ce, V), (rows_ce, V, H), (H, rows_ce, H), (rows_ce, H, H), (D, rows_ce, H)]
    return s


def gemm_floor(hidden, dtype):
    """``step(n)``: the iteration's matrix products alone (NumPy/BLAS), ``n`` times; its
    time is a lower bound for any implementation of the same products, ours or PyTorch's."""
    rng = np.random.default_rng(0)
    mats = [(rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))
            for m, k, n in gemm_shapes(hidden)]  # fmt: skip

    def step(n):
        for _ in range(n):
            for a, b in mats:
                a @ b

    return step


# --------------------------------------------------------------------------- timing


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, default=256, help="MLP width (default 256)")
    p.add_argument("--rounds", type=int, default=8, help="timing rounds (default 8)")
    p.add_argument("--burst", type=int, default=10, help="timed iterations per burst")
    p.add_argument("--warmup", type=int, default=10, help="untimed iterations first")
    args = p.parse_args(argv)

    rows = {"numpy float64": ours("numpy", args.hidden),
            "numba float64": ours("numba", args.hidden)}  # fmt: skip
    try:
        import torch

        torch_version = torch.__version__
        for dtype in ("float64", "float32"):
            rows[f"torch {dtype}"] = torch_impl(args.hidden, dtype)
    except ImportError:
        torch_version = None
    for dtype in ("float64", "float32"):
        rows[f"BLAS floor {dtype}"] = gemm_floor(args.hidden, dtype)
    info = base_machine_info()
    print(f"# chapter 4 benchmark: SDB iteration, width {args.hidden}, batch {B_ON}+{B_OFF}")
    versions = f"numpy {info['numpy']}, numba {info['numba']}, torch {torch_version}"
    print(f"# {info['cpu_model']}, {info['cpu_count']} CPUs; {versions}")
    print(f"# load average before: {info['load_average']}")
    first = {}
    for name, step in rows.items():
        t = time.perf_counter()
        step(1)  # includes numba's compile (or cache load) on the first call
        first[name] = time.perf_counter() - t
        step(args.warmup)
    times = {name: [] for name in rows}
    names = list(rows)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            rows[name](1)
            t = time.perf_counter()
            rows[name](args.burst)
            times[name].append(1e3 * (time.perf_counter() - t) / args.burst)
    ref = "torch float64" if "torch float64" in times else None
    print()
    print("| implementation | ms / iteration (median) | IQR | first call (s) | vs torch float64 |")
    print("|---|---|---|---|---|")
    for name in names:
        ts = times[name]
        med = percentile(ts, 0.5)
        ratio = f"{percentile(times[ref], 0.5) / med:.2f}x" if ref else "-"
        print(f"| {name} | {med:.2f} | {percentile(ts, 0.25):.2f}-{percentile(ts, 0.75):.2f} | "
              f"{first[name]:.2f} | {ratio} |")  # fmt: skip
    mflop = sum(2 * m * k * n for m, k, n in gemm_shapes(args.hidden)) / 1e6
    floor = {dt: percentile(times[f"BLAS floor {dt}"], 0.5) for dt in ("float64", "float32")}
    print(f"\n# BLAS floor: the {len(gemm_shapes(args.hidden))} matrix products of one "
          f"iteration ({mflop:.0f} MFLOP) alone take {floor['float64']:.2f} ms in float64, "
          f"{floor['float32']:.2f} ms in float32 (NumPy, 1 thread)")  # fmt: skip
    if ref:
        best = percentile(times[ref], 0.5) / floor["float64"]
        print(f"# so no float64 implementation of these products can beat torch float64 here by "
              f"more than {best:.2f}x")  # fmt: skip
    print(f"# load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
