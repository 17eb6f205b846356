"""Milliseconds per training step of chapter 1 on the source workload: NumPy, numba, PyTorch.

One *training step* is what the source notebook's loop does once: forward over T steps, the
loss, the backward pass, ``clip_grad_norm(1.0)`` and one Adam step (lr 1e-3). Workload: the
source's T = 360, m = 3, B = 32, hidden width 64, inputs drawn once. Rows:

* ``numpy``: ``loss_and_grads(kernel="numpy")`` + ``nn.clip_grad_norm`` + ``nn.Adam``;
* ``numba``: ``kernels.loss_and_grads_numba(threads=1 or 2)`` (the kernel splits the batch
  into row blocks run on that many threads) + the same clip and Adam;
* ``torch``: a PyTorch twin of the source model (``nn.Linear`` layers, the source's loop
  with ``clip_grad_norm_`` and ``torch.optim.Adam``), started from the same weights, with
  ``torch.set_num_threads`` as stated. float32 is the source's dtype and the baseline of the
  speed-up column; rows say "not installed" without torch.

Threads. ``OPENBLAS_NUM_THREADS`` is read once, when NumPy loads OpenBLAS, so every BLAS
setting runs in its own child process, with the variable set. Two settings are measured:
1 and the CPU count (OpenBLAS's default). At these matrix sizes multi-threaded BLAS buys
nothing (on an idle 2-core machine the two settings agree within noise), but OpenBLAS
threads spin while waiting for work: with the numba kernel's own threads on top, or another
busy process on the machine, they compete for the cores, and in a run with one of two cores
taken by another process, the multi-threaded rows (BLAS 2, torch 2) became 3 to 20 times
slower while the single-threaded ones lost about 30 %. Recommended:
``OPENBLAS_NUM_THREADS=1``, with all parallelism explicit (numba ``threads``,
``torch.set_num_threads``). Torch does not use OpenBLAS (its BLAS is MKL, governed by
``set_num_threads``); its rows run in children of their own, one per thread count, with
``OPENBLAS_NUM_THREADS=1`` (NumPy only builds the inputs there), so torch's OpenMP pool never
shares a process with OpenBLAS threads. The parent warns when other processes keep the
machine busy at the start, and reports how much CPU they used during the run.

Timing. Each child runs every row of its group: ``--warmup`` untimed steps per row (the
first step is timed on its own and reported as the first call), then ``--steps`` timed steps
per row in rounds: in each round every row (the starting row rotating) runs one untimed step,
which brings its data back into the caches after the other rows ran, and then up to
``BURST`` consecutive timed steps, as a training loop would, so that a burst of load from
elsewhere hits all rows alike. The parent runs the children ``--repeats`` times,
alternating their order, and reports the median and the interquartile range (p75 - p25) over
all timed steps of a row. The first child gets an empty numba cache, so its first numba call
per dtype is the real compile time; later children load the compiled kernel from that cache
(``--quick`` uses numba's usual cache).

Usage::

    .venv/bin/python benchmarks/bench_residual_dynamics.py            # full table, ~2 min
    .venv/bin/python benchmarks/bench_residual_dynamics.py --quick    # smoke run, ~20 s
    .venv/bin/python benchmarks/bench_residual_dynamics.py --steps 20 --repeats 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from common import NCPU, base_machine_info, busy_cpu_s, own_cpu_s, percentile

T, M, B, HIDDEN = 360, 3, 32, 64
LR, MAX_NORM, SEED = 1e-3, 1.0, 0
BURST = 5  # consecutive timed steps of one row before the next row runs


@dataclass(frozen=True)
class Row:
    path: str  # "numpy", "numba" or "torch"
    dtype: str  # "float32" or "float64"
    threads: int  # numba kernel threads, torch intra-op threads; 1 for numpy
    blas: int | None  # OPENBLAS_NUM_THREADS of the child process; None for torch

    @property
    def key(self):
        return f"{self.path}/{self.dtype}/t{self.threads}/blas{self.blas}"

    @property
    def threads_label(self):
        if self.path == "torch":
            return f"torch {self.threads}"
        if self.path == "numba":
            return f"kernel {self.threads}, BLAS {self.blas}"
        return f"BLAS {self.blas}"


def all_rows():
    rows = []
    for blas in sorted({1, NCPU}):
        for dtype in ("float64", "float32"):
            rows.append(Row("numpy", dtype, 1, blas))
            for threads in sorted({1, 2}):
                rows.append(Row("numba", dtype, threads, blas))
    for dtype in ("float32", "float64"):
        for threads in sorted({1, NCPU}):
            rows.append(Row("torch", dtype, threads, None))
    return rows


BASELINE = Row("torch", "float32", NCPU, None)  # the source as it runs: float32, default threads


# --------------------------------------------------------------------------- the workload


def workload(dtype):
    """Source-sized parameters and inputs, the same numbers for every path."""
    import numpy as np

    from reference.residual_dynamics import model as rd

    rng = np.random.default_rng(SEED)
    params = rd.init_params(M, HIDDEN, rng, dtype)
    return params, rd.default_alpha(M, dtype), *rd.make_inputs(T, B, M, rng, dtype)


def numpy_trainer(row):
    """A function doing one training step of the NumPy or numba path, in place of the loop."""
    from reference import nn
    from reference.residual_dynamics import kernels
    from reference.residual_dynamics import model as rd

    params, alpha, N0, g0, ys, rs = workload(row.dtype)
    opt = nn.Adam(lr=LR)
    state = {"params": params, "opt": opt.init(params)}

    def step():
        p = state["params"]
        if row.path == "numpy":
            _, grads = rd.loss_and_grads(p, alpha, N0, g0, ys, rs, kernel="numpy")
        else:
            _, grads, _ = kernels.loss_and_grads_numba(
                p, alpha, N0, g0, ys, rs, rd.ENTROPY_WEIGHT, threads=row.threads
            )
        clipped, _ = nn.clip_grad_norm(grads, MAX_NORM)
        state["params"], state["opt"] = opt.step(p, clipped, state["opt"])

    def check_dtype():  # a silent promotion to float64 would make a float32 row meaningless
        bad = {k: str(v.dtype) for k, v in state["params"].items() if str(v.dtype) != row.dtype}
        assert not bad, f"{row.key}: parameters changed dtype: {bad}"

    return step, check_dtype


def torch_trainer(row):
    """The source's training loop on a PyTorch twin of its model (our own code)."""
    import torch
    import torch.nn.functional as F

    dtype = getattr(torch, row.dtype)
    params, alpha, N0, g0, ys, rs = workload(row.dtype)

    class DeltaLogitNet(torch.nn.Module):  # 4m -> H -> H -> m, relu, relu, linear
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(4 * M, HIDDEN)
            self.fc2 = torch.nn.Linear(HIDDEN, HIDDEN)
            self.out = torch.nn.Linear(HIDDEN, M)

        def forward(self, x):
            return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = DeltaLogitNet().to(dtype)
    with torch.no_grad():  # same starting point as the NumPy rows; Linear weight = W.T
        for i, layer in enumerate((net.fc1, net.fc2, net.out), start=1):
            layer.weight.copy_(torch.from_numpy(params[f"W{i}"].T.copy()))
            layer.bias.copy_(torch.from_numpy(params[f"b{i}"]))
    alpha, N0, g0, ys, rs = (torch.from_numpy(a) for a in (alpha, N0, g0, ys, rs))
    opt = torch.optim.Adam(net.parameters(), lr=LR)

    def step():
        opt.zero_grad()
        N, g, Ns, gs = N0, g0, [], []
        for y, r in zip(ys, rs, strict=True):
            delta = net(torch.cat([N, y, r, g], dim=-1))
            N_next = F.softmax(torch.log(N + 1e-9) + delta, dim=-1)
            g = alpha * g + (N_next - alpha * N) * y
            N = N_next
            Ns.append(N)
            gs.append(g)
        Ns, gs = torch.stack(Ns), torch.stack(gs)
        entropy = -(Ns * torch.log(Ns + 1e-9)).sum(dim=-1)
        loss = gs.pow(2).sum(dim=-1).mean() - 0.1 * entropy.mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), MAX_NORM)
        opt.step()

    def check_dtype():
        assert all(p.dtype == dtype for p in net.parameters()), row.key

    return step, check_dtype


# --------------------------------------------------------------------------- child process


def run_rows(rows, steps, warmup, burst=BURST):
    """Time each row in this process. Returns ``{key: {...}}`` with per-step times in ms.

    After each row's warm-up, the timed steps are interleaved in rounds: each round runs
    every row (the starting row rotating) for one untimed step, which brings its data back
    into the caches, then ``burst`` timed consecutive steps, as in a training loop. A burst
    of load on the machine is thus shared by all rows instead of landing on one.
    """
    results, trainers = {}, {}
    for row in rows:
        if row.path == "torch":
            if not have_torch():
                results[row.key] = {"status": "not installed"}
                continue
            set_torch_threads(row.threads)
            step, check_dtype = torch_trainer(row)
        else:
            step, check_dtype = numpy_trainer(row)
        info = {"status": "ok", "times_ms": []}
        if row.path == "numba":
            from reference.residual_dynamics import kernels

            misses = sum(kernels.bptt_jit.stats.cache_misses.values())
        t0 = time.perf_counter()
        step()
        info["first_call_s"] = time.perf_counter() - t0
        if row.path == "numba":
            compiled = sum(kernels.bptt_jit.stats.cache_misses.values()) > misses
            info["first_call_kind"] = "compile" if compiled else "cached"
        for _ in range(max(warmup - 1, 0)):
            step()
        results[row.key], trainers[row.key] = info, (row, step, check_dtype)

    active = list(trainers.values())
    rounds = -(-steps // burst) if active else 0
    for s in range(rounds):
        for row, step, _ in active[s % len(active) :] + active[: s % len(active)]:
            if row.path == "torch":
                set_torch_threads(row.threads)
            step()  # untimed: brings this row's data back into the caches
            for _ in range(min(burst, steps - s * burst)):
                t0 = time.perf_counter()
                step()
                results[row.key]["times_ms"].append((time.perf_counter() - t0) * 1e3)
    for _, _, check_dtype in active:
        check_dtype()
    return results


def have_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def set_torch_threads(n):
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def run_child(rows, blas, steps, warmup, numba_cache):
    """Run :func:`run_rows` in a fresh interpreter with ``OPENBLAS_NUM_THREADS=blas``."""
    env = dict(os.environ)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = numba_cache
    if blas is not None:
        env["OPENBLAS_NUM_THREADS"] = str(blas)
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        spec = json.dumps(
            {"rows": [asdict(r) for r in rows], "steps": steps, "warmup": warmup, "out": out.name}
        )
        subprocess.run([sys.executable, __file__, "--worker", spec], env=env, check=True)
        return json.load(out)


# --------------------------------------------------------------------------- report


def machine_info():
    info = {**base_machine_info(), "blas": _numpy_blas(), "torch": None}
    if have_torch():
        import torch

        info["torch"] = torch.__version__
        info["torch_default_threads"] = torch.get_num_threads()
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def _numpy_blas():
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        return "unknown"


def summarise(rows, merged):
    table = []
    for row in rows:
        r = merged[row.key]
        entry = {"row": asdict(row), "key": row.key, "status": r["status"]}
        if r["status"] == "ok":
            xs = r["times_ms"]
            entry.update(
                median_ms=statistics.median(xs),
                iqr_ms=percentile(xs, 0.75) - percentile(xs, 0.25),
                n=len(xs),
                first_call_s=r["first_call_s"],
                times_ms=xs,
            )
        table.append(entry)
    base = next((e for e in table if e["key"] == BASELINE.key and e["status"] == "ok"), None)
    for e in table:
        if base is not None and e["status"] == "ok":
            e["speedup_vs_torch_f32"] = base["median_ms"] / e["median_ms"]
    return table


def markdown(rows, table, info, first_calls):
    names = {
        "numpy": "NumPy (kernel='numpy')",
        "numba": "numba (loss_and_grads_numba)",
        "torch": "PyTorch twin of the source",
    }
    out = [
        "| path | dtype | threads | median ms/step | IQR ms | speed-up vs PyTorch float32 |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row, e in zip(rows, table, strict=True):
        if e["status"] != "ok":
            out.append(
                f"| {names[row.path]} | {row.dtype} | {row.threads_label} | {e['status']} | | |"
            )
            continue
        speed = e.get("speedup_vs_torch_f32")
        speed = f"{speed:.2f}x" if speed is not None else "n/a"
        out.append(
            f"| {names[row.path]} | {row.dtype} | {row.threads_label} | "
            f"{e['median_ms']:.1f} | {e['iqr_ms']:.1f} | {speed} |"
        )
    n = table[0].get("n", 0)
    out += [
        "",
        f"Median and IQR over {n} timed steps per row (workload T={T}, m={M}, B={B}, "
        f"hidden {HIDDEN}; forward + loss + backward + clip_grad_norm({MAX_NORM}) + Adam).",
        f"Baseline: PyTorch float32 with torch.set_num_threads({BASELINE.threads}) "
        "(the source's dtype and torch's default thread count).",
        "numba first call (excluded from the timings): "
        + ", ".join(f"{dt} {v['compile']}" for dt, v in first_calls.items()),
        "",
        f"machine: {info['cpu_model']}, os.cpu_count() = {info['cpu_count']} "
        f"(affinity {info['cpu_affinity']}), python {info['python']}",
        f"numpy {info['numpy']} (BLAS: {info['blas']}), numba {info['numba']}, "
        + (
            f"torch {info['torch']} (CPU capability {info.get('torch_cpu_capability')}, "
            f"default threads {info.get('torch_default_threads')})"
            if info["torch"]
            else "torch not installed"
        ),
        "BLAS threads: OPENBLAS_NUM_THREADS set per child process, as in the threads column; "
        "torch rows: MKL/OpenMP via torch.set_num_threads.",
        "load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}; "
        "after: {:.2f} {:.2f} {:.2f}".format(*info["load_average"], *info["load_after"]),
    ]
    if "other_cpu_s" in info:
        out.append(
            f"other processes used {max(info['other_cpu_s'], 0):.1f} CPU-s during the "
            f"{info['run_wall_s']:.0f} s run ({info['cpu_count']} cores; "
            f"{max(info['other_cores_at_start'], 0):.2f} cores busy at the start; "
            "load from outside this machine, e.g. a shared host, is not visible here)"
        )
    return "\n".join(out)


def first_call_summary(rows, child_results):
    """Per dtype: the compile time (first child, empty cache) and a cached load time."""
    summary = {}
    for dtype in ("float64", "float32"):
        compile_s, cached_s = [], []
        for res in child_results:
            for row in rows:
                r = res.get(row.key)
                if row.path == "numba" and row.dtype == dtype and r and "first_call_kind" in r:
                    (compile_s if r["first_call_kind"] == "compile" else cached_s).append(
                        r["first_call_s"]
                    )
        parts = []
        if compile_s:
            parts.append(f"compile {compile_s[0]:.1f} s")
        if cached_s:
            parts.append(f"cache load {statistics.median(cached_s):.2f} s")
        summary[dtype] = {
            "compile": " / ".join(parts) or "n/a",
            "compile_s": compile_s[:1],
            "cached_s": cached_s,
        }
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10, help="timed steps per row and child")
    ap.add_argument("--repeats", type=int, default=3, help="children per BLAS setting")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps (incl. first call)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 steps, 1 repeat")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:  # child process: run the rows given, write their timings, exit
        spec = json.loads(args.worker)
        rows = [Row(**r) for r in spec["rows"]]
        with open(spec["out"], "w") as f:
            json.dump(run_rows(rows, spec["steps"], spec["warmup"]), f)
        return

    if args.quick:
        args.steps, args.repeats, args.warmup = 3, 1, 1
    rows = all_rows()
    info = machine_info()
    busy = busy_cpu_s()
    if busy is not None:  # how busy is the machine without us? sample one second
        own = own_cpu_s()
        time.sleep(1.0)
        info["other_cores_at_start"] = (busy_cpu_s() - busy) - (own_cpu_s() - own)
        if info["other_cores_at_start"] > 0.25:
            print(
                f"warning: other processes keep {info['other_cores_at_start']:.1f} of "
                f"{NCPU} cores busy; multi-threaded rows will be much slower than on an "
                "idle machine",
                file=sys.stderr,
                flush=True,
            )
    groups = {}  # one child per BLAS setting, and one per torch thread count
    torch_ok = have_torch()
    for row in rows:
        if row.path == "torch" and not torch_ok:
            continue
        group = ("torch", row.threads) if row.path == "torch" else ("blas", row.blas)
        groups.setdefault(group, []).append(row)
    order = sorted(groups)
    child_results = []
    busy_before, own_before, wall_before = busy_cpu_s(), own_cpu_s(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        if args.quick:  # keep whatever cache numba would use, so a smoke run skips compiling
            cache = None
        for rep in range(args.repeats):
            for group in order if rep % 2 == 0 else order[::-1]:
                blas = group[1] if group[0] == "blas" else 1  # torch children: numpy idle
                print(
                    f"repeat {rep + 1}/{args.repeats}: {group[0]} {group[1]}, "
                    f"OPENBLAS_NUM_THREADS={blas}, {len(groups[group])} rows",
                    file=sys.stderr,
                    flush=True,
                )
                child_results.append(run_child(groups[group], blas, args.steps, args.warmup, cache))
    wall = time.monotonic() - wall_before
    if busy_before is not None:
        info["other_cpu_s"] = (busy_cpu_s() - busy_before) - (own_cpu_s() - own_before)
        info["run_wall_s"] = wall
    info["load_after"] = os.getloadavg()

    merged = {
        row.key: {"status": "not installed"} for row in rows if row.path == "torch" and not torch_ok
    }
    for res in child_results:
        for key, r in res.items():
            m = merged.setdefault(key, {"status": r["status"], "times_ms": []})
            if r["status"] == "ok":
                m["times_ms"] += r["times_ms"]
                m.setdefault("first_call_s", r["first_call_s"])
    table = summarise(rows, merged)
    first_calls = first_call_summary(rows, child_results)
    print(markdown(rows, table, info, first_calls))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "rows": table,
                    "numba_first_call": first_calls,
                    "settings": {
                        "steps": args.steps,
                        "repeats": args.repeats,
                        "warmup": args.warmup,
                        "T": T,
                        "m": M,
                        "B": B,
                        "hidden": HIDDEN,
                    },
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
