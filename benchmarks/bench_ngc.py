"""Milliseconds per NGC learning step (settle T steps + local updates): NumPy, numba, ngc-learn.

One *step* is what the ANGC agent does per circuit and environment step: settle a batch
with both ends clamped for ``T`` steps (Eqs. 5.1-5.4) and compute the Hebbian updates
(5.7)-(5.8). Rows, float64 throughout:

* ``numpy``: ``circuit.settle`` + ``hebbian.hebbian_updates`` (the readable code);
* ``numba``: ``kernels.settle_fast`` + ``kernels.hebbian_fast`` (the compiled twins);
* ``ngc-learn``: the same circuit wired from ngc-learn 3.x components (``RateCell``,
  ``GaussianErrorCell``, ``HebbianSynapse``, ``DenseSynapse``; see
  ``ngclearn_ngc_circuit.py``), one compiled settling step scanned over ``T`` plus the W
  synapses' ``evolve``, in a child process of ``--ngclearn-python`` (a separate venv:
  ``python3 -m venv /tmp/ngc_venv && /tmp/ngc_venv/bin/pip install ngclearn``). It has no
  modulation and no learned E, so it does slightly less work than our rows (which include
  both). Its settled errors are compared with ours (printed under the table).

Plus ``agent step``: one full ``ANGCAgent.observe`` (epistemic settle of the transition,
replay sample, controller and world-model settle + update, optimiser) on MountainCar-sized
circuits, NumPy vs numba kernels.

Timing: ``--warmup`` untimed calls (compilation), then ``--reps`` timed calls; median and
interquartile range. The machine's load is printed: on a shared machine the numbers move.

Usage::

    .venv/bin/python benchmarks/bench_ngc.py --ngclearn-python /tmp/ngc_venv/bin/python
    .venv/bin/python benchmarks/bench_ngc.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

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


def workload(dims, batch, seed=0):
    rng = np.random.default_rng(seed)
    params = circuit.init_params(dims, rng)
    x_i = rng.normal(size=(batch, dims[-1]))
    x_o = rng.normal(size=(batch, dims[0]))
    return params, x_i, x_o


def time_calls(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def ours(dims, batch, T, warmup, reps):
    params, x_i, x_o = workload(dims, batch)

    def numpy_step():
        s = circuit.settle(params, x_i, x_o, T, BETA, GAMMA_V, BETA_E)
        return hebbian.hebbian_updates(params, s, GAMMA_E)

    def numba_step():
        s = kernels.settle_fast(params, x_i, x_o, T, BETA, GAMMA_V, BETA_E)
        return kernels.hebbian_fast(params, s, GAMMA_E)

    s = circuit.settle(params, x_i, x_o, T, BETA, GAMMA_V, BETA_E)
    return {
        "numpy": time_calls(numpy_step, warmup, reps),
        "numba": time_calls(numba_step, warmup, reps),
    }, s["e"]


def ngclearn(python, dims, batch, T, warmup, reps):
    """Times from the ngc-learn child, or a reason string when it cannot run."""
    if not python:
        return "no --ngclearn-python given", None
    params, x_i, x_o = workload(dims, batch)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.json")
        np.savez(
            src,
            L=len(dims) - 1,
            x_i=x_i,
            x_o=x_o,
            beta=BETA,
            gamma_v=GAMMA_V,
            beta_e=BETA_E,
            T=T,
            reps=warmup + reps,
            **params,
        )
        try:
            proc = subprocess.run(
                [python, str(HERE / "ngclearn_ngc_circuit.py"), src, dst],
                capture_output=True,
                text=True,
                timeout=1800,
                cwd=tmp,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"could not run: {exc}", None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return f"failed: {last}", None
        out = json.loads(pathlib.Path(dst).read_text())
    return out["times"][warmup:], {
        "errors": [np.asarray(e) for e in out["errors"]],
        "versions": f"ngclearn {out['ngclearn']}, jax {out['jax']}",
        "compile_s": out["compile_s"],
    }


def agent_step(kernel, warmup, reps):
    """ms per ``ANGCAgent.observe`` on MountainCar-sized circuits (learning every step)."""
    rng = np.random.default_rng(0)
    cfg = experiments.angc_settings("MountainCar-v0", kernel=kernel, learn_start=64)
    agent = angc.make_angc_agent(2, 3, cfg, rng)
    obs = rng.uniform([-1.2, -0.07], [0.6, 0.07], size=(warmup + reps + 66, 2))

    def step(i=[0]):  # noqa: B006 -- a counter
        o, o2 = obs[i[0]], obs[i[0] + 1]
        i[0] += 1
        agent.observe(o, int(rng.integers(3)), -1.0, o2, False, False, rng)

    for _ in range(64):  # fill the replay memory up to learn_start
        step()
    return time_calls(step, warmup, reps)


def stats(times):
    ms = [1e3 * t for t in times]
    return percentile(ms, 0.5), percentile(ms, 0.25), percentile(ms, 0.75)


def cell(times):
    if isinstance(times, str):
        return times
    m, lo, hi = stats(times)
    return f"{m:.3f} ({lo:.3f}-{hi:.3f})"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ngclearn-python", default=None, help="interpreter with ngclearn")
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="few repetitions, small cases only")
    p.add_argument("--json", default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    reps = 5 if args.quick else args.reps
    cases = CASES[:2] if args.quick else CASES
    info = base_machine_info()
    print(
        f"# NGC settle + update, ms per call (median, IQR); {info['cpu_model']}, "
        f"{info['cpu_count']} CPUs, load average at start {info['load_average']}"
    )
    print()
    print("| circuit | numpy | numba | ngc-learn (JAX) | numba speed-up vs ngc-learn |")
    print("|---|---|---|---|---|")
    results, notes = {}, []
    for label, dims, batch, T in cases:
        r, e_ours = ours(dims, batch, T, args.warmup, reps)
        r["ngc-learn"], extra = ngclearn(args.ngclearn_python, dims, batch, T, args.warmup, reps)
        speed = "-"
        if not isinstance(r["ngc-learn"], str):
            speed = f"{stats(r['ngc-learn'])[0] / stats(r['numba'])[0]:.1f}x"
            diff = max(
                float(np.abs(a - b).max()) for a, b in zip(e_ours, extra["errors"], strict=True)
            )
            notes.append(
                f"{label}: settled errors, ngc-learn vs ours: max abs diff {diff:.1e} "
                f"({extra['versions']}; first call incl. compile {extra['compile_s']:.1f} s)"
            )
        print(
            f"| {label} | {cell(r['numpy'])} | {cell(r['numba'])} | {cell(r['ngc-learn'])} "
            f"| {speed} |"
        )
        results[label] = {
            k: (v if isinstance(v, str) else [1e3 * t for t in v]) for k, v in r.items()
        }
    for kernel in ("numpy", "numba"):
        t = agent_step(kernel, args.warmup, reps)
        print(
            f"| ANGC agent step, MountainCar ({kernel} kernels) | "
            + (f"{cell(t)} | | | |" if kernel == "numpy" else f" | {cell(t)} | | |")
        )
        results[f"agent step ({kernel})"] = [1e3 * x for x in t]
    print()
    for n in notes:
        print(f"* {n}")
    print(f"* load average at the end: {os.getloadavg()}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"machine": info, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
