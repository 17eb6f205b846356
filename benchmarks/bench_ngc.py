"""Milliseconds per NGC learning call (settle T steps + local updates): NumPy, numba, ngc-learn.

One *call* is what the ANGC agent does per circuit and environment step: settle a batch
with both ends clamped for ``T`` steps (Eqs. 5.1-5.4) and compute the Hebbian updates
(5.7)-(5.8). Rows, float64 throughout, with their threads stated:

* ``numpy``: ``circuit.settle`` + ``hebbian.hebbian_updates`` (the readable code), 1 thread;
* ``numba``: ``kernels.settle_fast`` + ``kernels.hebbian_fast`` (the compiled twins), 1 thread;
* ``numba, 2 BLAS threads``: the same in a child process started with
  ``OPENBLAS_NUM_THREADS=2`` (set before NumPy and SciPy load: numba's ``np.dot`` calls
  SciPy's OpenBLAS), so the matrix products may use both cores, as XLA's do;
* ``ngc-learn``: the same circuit wired from ngc-learn 3.x components (``RateCell``,
  ``GaussianErrorCell``, ``HebbianSynapse``, ``DenseSynapse``; ``ngclearn_ngc_circuit.py``),
  one compiled settling step scanned over ``T`` plus the W synapses' ``evolve``, in a child
  process of ``--ngclearn-python`` (its own venv: ``python3 -m venv /tmp/ngc_venv &&
  /tmp/ngc_venv/bin/pip install ngclearn``), XLA free to use every core; it has no
  modulation and no learned E, so it does slightly less work than our rows. Its settled
  errors are compared with ours (printed under the table);
* ``ngc-learn, 1 core``: the same child pinned to one core (CPU affinity, as ``taskset -c``)
  with ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``;
* ``matrix-product floor``: only the matrix products one numba call makes (same shapes,
  same number, float64, through numba's ``np.dot`` = the same BLAS as the kernel), on fixed
  random arrays, at 1 BLAS thread (and at 2 in the 2-thread child). Its time bounds what any
  implementation doing these products on as many threads can reach: ngc-learn's time over
  the 1-thread floor is the most a single-threaded float64 implementation could beat it by.

Plus ``agent step``: one full ``ANGCAgent.observe`` (epistemic settle of the transition,
replay sample, controller and world-model settle + update, optimiser) on MountainCar-sized
circuits, NumPy vs numba kernels.

Timing: every row of a circuit (child processes included) is timed in the same rounds: each
round runs every row (starting row rotating) for one untimed call and a burst of timed ones,
so load from elsewhere hits all rows alike; the table gives the median and interquartile
range of the per-call times, and ``cores busy``: the CPU seconds of the row's process (all
threads) over the wall seconds of its bursts. The load average is printed: on a shared
machine the absolute numbers move, the ratios less.

Usage::

    .venv/bin/python benchmarks/bench_ngc.py --ngclearn-python /tmp/ngc_venv/bin/python
    .venv/bin/python benchmarks/bench_ngc.py --quick
"""

from __future__ import annotations

import os

# 1 BLAS thread here; the 2-thread child sets this variable itself, before NumPy loads.
os.environ["OPENBLAS_NUM_THREADS"] = os.environ.get("NGC_BENCH_BLAS_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.common import base_machine_info, percentile  # noqa: E402
from reference.ngc import angc, circuit, experiments, hebbian, kernels  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent

#: (label, dims J_0..J_L, batch, T)
CASES = [
    ("golden circuit (3,5,4,2), batch 2, T 20", (3, 5, 4, 2), 2, 20),
    ("ANGC controller (3,64,64,2), batch 64, T 10", (3, 64, 64, 2), 64, 10),
    ("ANGC world model (2,64,5), batch 64, T 10", (2, 64, 5), 64, 10),
    ("wide (10,256,256,20), batch 256, T 20", (10, 256, 256, 20), 256, 20),
]
BETA, GAMMA_V, BETA_E, GAMMA_E = 0.1, 0.001, 0.5, 0.95
NGC_ALL, NGC_ONE = "ngc-learn (JAX), all cores", "ngc-learn (JAX), 1 core"
NUMBA_ROWS = ("numba, 1 BLAS thread", "numba, 2 BLAS threads")
ONE_CORE_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def workload(dims, batch, seed=0):
    rng = np.random.default_rng(seed)
    params = circuit.init_params(dims, rng)
    x_i = rng.normal(size=(batch, dims[-1]))
    x_o = rng.normal(size=(batch, dims[0]))
    return params, x_i, x_o


# --------------------------------------------------------------------------- rows


def timed(fn):
    """``step(n)``: ``n`` timed calls of ``fn`` -> (per-call seconds, CPU s, wall s)."""

    def step(n):
        times, w0, c0 = [], time.perf_counter(), time.process_time()
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return times, time.process_time() - c0, time.perf_counter() - w0

    return step


def ours(params, x_i, x_o, T):
    """The two library rows: readable NumPy and the numba kernels."""

    def numpy_call():
        s = circuit.settle(params, x_i, x_o, T, BETA, GAMMA_V, BETA_E)
        return hebbian.hebbian_updates(params, s, GAMMA_E)

    def numba_call():
        s = kernels.settle_fast(params, x_i, x_o, T, BETA, GAMMA_V, BETA_E)
        return kernels.hebbian_fast(params, s, GAMMA_E)

    return numpy_call, numba_call


def product_shapes(dims, batch, T):
    """``(m, k, n, count)`` of the products ``(m, k) @ (k, n)`` in one numba call (settle +
    Hebbian), and ``(m, k, n)`` of the Hebbian ones, whose left factor is a transpose."""
    L, B = len(dims) - 1, batch
    # every prediction once, then per step the ones from hidden layers and the feedbacks
    plain = [(B, dims[l + 1], dims[l], 1 + (T if l < L - 1 else 0)) for l in range(L)]
    plain += [(B, dims[l - 1], dims[l], T) for l in range(1, L)]
    return plain, [(dims[l + 1], B, dims[l]) for l in range(L)]


@njit(nogil=True)
def _products(As, Bs, Outs, counts, Ats, Bts, Outts):
    for i in range(len(As)):
        for _ in range(counts[i]):
            np.dot(As[i], Bs[i], Outs[i])
    for i in range(len(Ats)):
        np.dot(Ats[i].T, Bts[i], Outts[i])


def product_floor(dims, batch, T):
    """The call's matrix products alone on fixed random arrays (reused, so if anything
    cache-friendlier than in the kernel): a lower bound for any implementation of them."""
    rng = np.random.default_rng(1)
    plain, hebb = product_shapes(dims, batch, T)
    r = lambda *s: rng.standard_normal(s)  # noqa: E731
    args = (
        tuple(r(m, k) for m, k, _, _ in plain),
        tuple(r(k, n) for _, k, n, _ in plain),
        tuple(np.empty((m, n)) for m, _, n, _ in plain),
        np.array([c for *_, c in plain], dtype=np.int64),
        tuple(r(k, m) for m, k, _ in hebb),
        tuple(r(k, n) for _, k, n in hebb),
        tuple(np.empty((m, n)) for m, _, n in hebb),
    )
    return lambda: _products(*args)


def floor_size(dims, batch, T):
    """(number of products, MFLOP) of one call."""
    plain, hebb = product_shapes(dims, batch, T)
    n = sum(c for *_, c in plain) + len(hebb)
    flop = sum(2 * m * k * q * c for m, k, q, c in plain) + sum(2 * m * k * q for m, k, q in hebb)
    return n, flop / 1e6


class Child:
    """A row timed in another process, driven line by line (see ngclearn_ngc_circuit.py)."""

    def __init__(self, argv, env=None, cpus=None):
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        self.ready = self._read()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        self.err.seek(0)
        last = (self.err.read().strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"child failed: {last}")

    def row(self, name=None):
        def step(n):
            self.proc.stdin.write(f"{name} {n}\n" if name else f"{n}\n")
            self.proc.stdin.flush()
            out = self._read()
            return out["times"], out["cpu_s"], out["wall_s"]

        return step

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        self.err.close()


def blas_threads():
    """OpenBLAS threads of each loaded BLAS (threadpoolctl), else the environment variable."""
    try:
        from threadpoolctl import threadpool_info

        return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
    except ImportError:
        return [os.environ.get("OPENBLAS_NUM_THREADS")]


def worker(src):
    """``--worker IN.npz``: numba and floor rows here, ``NGC_BENCH_BLAS_THREADS`` threads."""
    d = dict(np.load(src))
    L, T = int(d["L"]), int(d["T"])
    params = {k: v for k, v in d.items() if k[0] in "WE"}
    dims = (d["x_o"].shape[1], *(d[f"W{l}"].shape[0] for l in range(1, L + 1)))
    rows = {
        "numba": timed(ours(params, d["x_i"], d["x_o"], T)[1]),
        "floor": timed(product_floor(dims, d["x_i"].shape[0], T)),
    }
    for step in rows.values():
        step(1)
    print("@@" + json.dumps({"blas_threads": blas_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        name, n = line.split()
        times, cpu, wall = rows[name](int(n))
        print("@@" + json.dumps({"times": times, "cpu_s": cpu, "wall_s": wall}), flush=True)
    return 0


# --------------------------------------------------------------------------- timing


def interleave(rows, rounds, burst, warmup):
    """Time ``rows`` (name -> step) in rounds; -> name -> (per-call ms, cores busy)."""
    for step in rows.values():
        step(warmup)
    names, acc = list(rows), {name: ([], 0.0, 0.0) for name in rows}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            rows[name](1)
            t, c, w = rows[name](burst)
            ts, cs, ws = acc[name]
            acc[name] = (ts + [1e3 * x for x in t], cs + c, ws + w)
    return {name: (ts, cs / ws) for name, (ts, cs, ws) in acc.items()}


def case_rows(label, dims, batch, T, python, tmp):
    """The rows of one circuit, the children to close, and notes (errors, threads)."""
    params, x_i, x_o = workload(dims, batch)
    numpy_call, numba_call = ours(params, x_i, x_o, T)
    rows = {
        "numpy, 1 thread": timed(numpy_call),
        "numba, 1 BLAS thread": timed(numba_call),
        "matrix-product floor, 1 BLAS thread": timed(product_floor(dims, batch, T)),
    }
    src = os.path.join(tmp, "in.npz")
    consts = dict(beta=BETA, gamma_v=GAMMA_V, beta_e=BETA_E, T=T)
    np.savez(src, L=len(dims) - 1, x_i=x_i, x_o=x_o, **consts, **params)
    children, notes = [], []
    here = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", src]
    two = Child(here, env={"NGC_BENCH_BLAS_THREADS": "2"})
    children.append(two)
    rows["numba, 2 BLAS threads"] = two.row("numba")
    rows["matrix-product floor, 2 BLAS threads"] = two.row("floor")
    notes.append(f"BLAS threads: here {blas_threads()}, child {two.ready['blas_threads']}")
    if not python:
        notes.append("ngc-learn: not run (no --ngclearn-python)")
        return rows, children, notes
    s = circuit.settle(params, x_i, x_o, T, BETA, GAMMA_V, BETA_E)
    one = sorted(os.sched_getaffinity(0))[:1]
    for name, env, cpus in (
        (NGC_ALL, None, None),
        (NGC_ONE, {"XLA_FLAGS": ONE_CORE_XLA_FLAGS}, one),
    ):
        try:
            child = Child([python, str(HERE / "ngclearn_ngc_circuit.py"), src], env, cpus)
        except (OSError, RuntimeError) as exc:
            notes.append(f"{name}: could not run: {exc}")
            continue
        children.append(child)
        rows[name] = child.row()
        r = child.ready
        diff = max(
            float(np.abs(a - np.asarray(b)).max()) for a, b in zip(s["e"], r["errors"], strict=True)
        )
        notes.append(
            f"{name}: ngclearn {r['ngclearn']}, jax {r['jax']}, {r['threads']} OS threads, "
            f"CPUs {r['affinity']}, XLA_FLAGS '{r['xla_flags']}', first call (compile) "
            f"{r['compile_s']:.1f} s; settled errors vs ours: max abs diff {diff:.1e}"
        )
    return rows, children, notes


def agent_call(kernel):
    """One ``ANGCAgent.observe`` on MountainCar-sized circuits (learning every step)."""
    rng = np.random.default_rng(0)
    cfg = experiments.angc_settings("MountainCar-v0", kernel=kernel, learn_start=64)
    agent = angc.make_angc_agent(2, 3, cfg, rng)
    obs = rng.uniform([-1.2, -0.07], [0.6, 0.07], size=(100_000, 2))
    i = [0]

    def call():
        o, o2 = obs[i[0] % 99_999], obs[i[0] % 99_999 + 1]
        i[0] += 1
        agent.observe(o, int(rng.integers(3)), -1.0, o2, False, False, rng)

    for _ in range(64):  # fill the replay memory up to learn_start
        call()
    return call


def print_case(label, res):
    ref = percentile(res[NGC_ALL][0], 0.5) if NGC_ALL in res else None
    print(f"\n## {label}\n")
    print("| row | ms per call (median) | IQR | cores busy | ngc-learn (all cores) / row |")
    print("|---|---:|---:|---:|---:|")
    for name, (ts, cores) in res.items():
        med = percentile(ts, 0.5)
        ratio = f"{ref / med:.2f}x" if ref else "-"
        iqr = f"{percentile(ts, 0.25):.3f}-{percentile(ts, 0.75):.3f}"
        print(f"| {name} | {med:.3f} | {iqr} | {cores:.2f} | {ratio} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ngclearn-python", default=None, help="interpreter with ngclearn")
    p.add_argument("--reps", type=int, default=30, help="timed calls per row (default 30)")
    p.add_argument("--rounds", type=int, default=6, help="timing rounds (default 6)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    p.add_argument("--quick", action="store_true", help="few repetitions, small cases only")
    p.add_argument("--json", default=None, help="also write the numbers here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    reps, rounds = (4, 2) if args.quick else (args.reps, args.rounds)
    burst = math.ceil(reps / rounds)
    cases = CASES[:2] if args.quick else CASES
    info = base_machine_info()
    print(
        f"# NGC settle + update, ms per call, float64; {info['cpu_model']}, "
        f"{info['cpu_count']} CPUs; numpy {info['numpy']}, numba {info['numba']}"
    )
    print(f"# {rounds} rounds x {burst} timed calls per row; load at start {info['load_average']}")
    results, summary = {}, []
    for label, dims, batch, T in cases:
        with tempfile.TemporaryDirectory() as tmp:
            rows, children, notes = case_rows(label, dims, batch, T, args.ngclearn_python, tmp)
            try:
                res = interleave(rows, rounds, burst, args.warmup)
            finally:
                for child in children:
                    child.close()
        print_case(label, res)
        n, mflop = floor_size(dims, batch, T)
        fl = percentile(res["matrix-product floor, 1 BLAS thread"][0], 0.5)
        notes.insert(0, f"floor: {n} products, {mflop:.3g} MFLOP per call")
        if NGC_ALL in res:
            bound = percentile(res[NGC_ALL][0], 0.5) / fl
            notes.append(
                f"bound: ngc-learn (all cores) / 1-thread floor = {bound:.2f}x: the most any "
                "single-threaded float64 implementation of these products could beat it by"
            )
            summary.append((label, res, bound))
        print()
        for note in notes:
            print(f"* {note}")
        print(f"* load average now: {os.getloadavg()}")
        results[label] = {k: {"ms": ts, "cores": c} for k, (ts, c) in res.items()}
    res = interleave(
        {f"agent step ({k} kernels)": timed(agent_call(k)) for k in ("numpy", "numba")},
        rounds,
        burst,
        args.warmup,
    )
    print_case("ANGC agent step, one observe, MountainCar sizes", res)
    results["agent step"] = {k: {"ms": ts, "cores": c} for k, (ts, c) in res.items()}
    if summary:
        print("\n## summary: medians in ms (speed-up of numba over ngc-learn, all cores)\n")
        print("| circuit | numba 1 thr | numba 2 thr | ngc-learn all | ngc-learn 1 core | "
              "floor 1 thr | floor 2 thr | bound |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, r, bound in summary:
            m = {k: percentile(ts, 0.5) for k, (ts, _) in r.items()}
            ref, fl = m[NGC_ALL], "matrix-product floor"
            cells = [f"{m[k]:.3g} ({ref / m[k]:.2g}x)" for k in NUMBA_ROWS]
            cells += [f"{ref:.3g}", f"{m[NGC_ONE]:.3g}" if NGC_ONE in m else "-"]
            cells += [f"{m[f'{fl}, 1 BLAS thread']:.3g}", f"{m[f'{fl}, 2 BLAS threads']:.3g}"]
            cells.append(f"{bound:.2g}x")
            print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\n# load average at the end: {os.getloadavg()}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"machine": info, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
