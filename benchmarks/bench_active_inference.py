"""Milliseconds per agent step of chapter 2 (the tutorial agent): NumPy, numba, pymdp (JAX).

One *step* is ``infer_states`` + ``infer_policies`` of the source tutorial's agent: the
five-state line world of ``envs.line_world_model``, policy_len 4 (81 policies), fpi,
categorical (soft) observations, timed at batch 1 and at batch 1024 (1024 agents in one
call). The same observations and empirical priors are fed to every implementation. Rows:

* ``numba``: ``Agent(..., kernel="auto")``, the default: the expected free energy runs in
  the compiled twin ``kernels.neg_efe_numba`` (one factor, one modality), the rest in NumPy;
* ``numpy``: ``Agent(..., kernel="numpy")``, the readable vectorised ``control.neg_efe``;
* ``pymdp``: ``pymdp.agent.Agent`` 1.0.x (JAX backend), jitted two ways: ``filter_jit``
  (``equinox.filter_jit`` of a step taking the agent as an argument, pymdp's own idiom; it
  flattens the agent's pytree at every call) and ``jit, agent closed over`` (``jax.jit`` of a
  step that closes over the agent, so its arrays are compile-time constants: the fastest
  call JAX offers). float32 is JAX's default; float64 runs with ``jax_enable_x64``.
  pymdp runs in a child process of ``--pymdp-python`` (default: this interpreter); rows say
  "not installed" when that interpreter cannot import pymdp. Keep pymdp out of the
  project's venv, e.g. ``python3 -m venv /tmp/pymdpenv && /tmp/pymdpenv/bin/pip install
  inferactively-pymdp``, then pass ``--pymdp-python /tmp/pymdpenv/bin/python``.
* ``encoder training (200 SGD steps)``: the tutorial's training (200 minibatch steps of 16
  sequences + 11 validation evaluations), timed whole, when ``reference.active_inference``
  has the training code (``encoder.train`` or ``train_encoder.train``), else "not available
  yet". pymdp's figure (22.6 s on 2 cores) is quoted from the issue, not measured here.

Memory. At batch 1024 the NumPy rows spend a large share of their time in minor page
faults (thousands per step in a VM): glibc returns freed blocks above its mmap threshold to
the system, and every new temporary of a few MB is faulted in again. ``--malloc-tuned``
runs our children with ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` raised (glibc
tunables; no code change), which removes them; the default leaves malloc alone.

Threads. ``OPENBLAS_NUM_THREADS`` is read once, when NumPy loads OpenBLAS, so each BLAS
setting (1 and the CPU count) runs in its own child process. JAX keeps its default (XLA's
own thread pool over all cores). Numba runs single-threaded.

Timing. As in ``bench_residual_dynamics.py``: in each child every row gets ``--warmup``
untimed steps (the first call, which includes numba's or XLA's compilation, is timed on its
own), then the timed steps run in rounds; each round runs every row (the starting row
rotating) for one untimed step and then a burst of consecutive timed steps, so a burst of
load from elsewhere hits all rows alike. The parent runs the children ``--repeats`` times
in alternating order and reports the median and the interquartile range over all timed
steps of a row. The first ours-child gets an empty numba cache (its first numba call is the
real compile time). Each child also returns G of the first agent, so the table's note can
state how far the implementations' numbers are apart.

Usage::

    .venv/bin/python benchmarks/bench_active_inference.py --pymdp-python /tmp/pymdpenv/bin/python
    .venv/bin/python benchmarks/bench_active_inference.py --quick          # smoke run, ~30 s
    .venv/bin/python benchmarks/bench_active_inference.py --steps 20 --repeats 3 --json out.json
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

BATCHES = (1, 1024)
SEED = 0
SMALL_STEPS = 20  # batch-1 rows time this many times more steps (a step is ~0.2 ms)
PYMDP_ISSUE = {"batch 1": "0.21 ms", "batch 1024": "30-46 ms", "training": 22.6}
TRAIN_GOAL_S = 5.0
MALLOC_TUNED = {"MALLOC_MMAP_THRESHOLD_": str(2**26), "MALLOC_TRIM_THRESHOLD_": str(2**28)}


@dataclass(frozen=True)
class Row:
    impl: str  # "numba", "numpy" or "pymdp"
    dtype: str  # "float64" or "float32"
    batch: int
    variant: str = ""  # pymdp: "filter_jit" or "jit_closed"
    blas: int | None = None  # OPENBLAS_NUM_THREADS of the child; None for pymdp

    @property
    def key(self):
        return f"{self.impl}/{self.variant}/{self.dtype}/b{self.batch}/blas{self.blas}"

    @property
    def config(self):  # one table line per config: both batch sizes side by side
        return (self.impl, self.variant, self.dtype, self.blas)


def our_rows(blas):
    return [
        Row(impl, dtype, batch, blas=blas)
        for impl in ("numba", "numpy")
        for dtype in ("float64", "float32")
        for batch in BATCHES
    ]


def pymdp_rows(dtype):
    return [
        Row("pymdp", dtype, batch, variant)
        for variant in ("filter_jit", "jit_closed")
        for batch in BATCHES
    ]


# --------------------------------------------------------------------------- the workload


def workload(batch):
    """The tutorial model and one step's soft observations and empirical priors (float64)."""
    import numpy as np

    from reference.active_inference.envs import POLICY_LEN, line_world_model

    A, B, C, D = line_world_model()
    rng = np.random.default_rng(SEED)  # batch 1 gets the first agent of batch 1024
    obs = rng.dirichlet(np.ones(A.shape[0]), size=max(BATCHES))[:batch]
    prior = rng.dirichlet(np.ones(A.shape[1]), size=max(BATCHES))[:batch]
    return {"A": A, "B": B, "C": C, "D": D, "policy_len": POLICY_LEN, "obs": obs, "prior": prior}


def our_stepper(row, work):
    """One agent step of our Agent: ``(step, check)``; ``check`` returns G of agent 0."""
    import numpy as np

    from reference.active_inference import Agent

    dt = np.dtype(row.dtype)
    model = [np.asarray(work[k], dtype=dt) for k in "ABCD"]
    obs, prior = (np.asarray(work[k], dtype=dt) for k in ("obs", "prior"))
    if row.batch == 1:  # the plain single-agent API: no batch axis anywhere
        obs, prior = obs[0], prior[0]
    else:
        model = [np.broadcast_to(x, (row.batch,) + x.shape) for x in model]
    kernel = "auto" if row.impl == "numba" else "numpy"
    agent = Agent(*model, policy_len=work["policy_len"], num_iter=1, kernel=kernel)

    def step():
        qs = agent.infer_states(obs, prior)
        return agent.infer_policies(qs)

    def check():
        q_pi, G = step()
        assert G.dtype == dt, f"{row.key}: G has dtype {G.dtype}"
        return np.asarray(G, dtype=np.float64).reshape(-1, G.shape[-1])[0].tolist()

    return step, check


def pymdp_stepper(row, work):
    """One step of pymdp's Agent, jitted as ``row.variant`` says (JAX must be configured)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np
    from pymdp.agent import Agent

    dt = jnp.float64 if row.dtype == "float64" else jnp.float32
    N = row.batch

    def batched(x):
        return jnp.asarray(np.broadcast_to(np.asarray(x), (N,) + np.shape(x)), dtype=dt)

    agent = Agent(
        [batched(work["A"])], [batched(work["B"])], [batched(work["C"])], [batched(work["D"])],
        policy_len=work["policy_len"], categorical_obs=True, inference_algo="fpi",
        num_iter=1, batch_size=N,
    )  # fmt: skip
    obs = [jnp.asarray(np.asarray(work["obs"])[:N], dtype=dt)]
    prior = [jnp.asarray(np.asarray(work["prior"])[:N], dtype=dt)]

    def agent_step(agent, obs, prior):
        qs = agent.infer_states(obs, prior)
        return agent.infer_policies(qs)

    if row.variant == "filter_jit":
        jitted = eqx.filter_jit(agent_step)

        def step():
            return jax.block_until_ready(jitted(agent, obs, prior))
    else:
        closed = jax.jit(lambda o, p: agent_step(agent, o, p))

        def step():
            return jax.block_until_ready(closed(obs, prior))

    def check():
        q_pi, G = step()
        assert G.dtype == dt, f"{row.key}: G has dtype {G.dtype}"
        return np.asarray(G, dtype=np.float64)[0].tolist()

    return step, check


# --------------------------------------------------------------------------- child process


def run_rows(rows, steps, warmup, workloads):
    """Time each row in this process; returns ``{key: {...}}`` with per-step times in ms.

    After each row's warm-up the timed steps are interleaved in rounds: each round runs
    every row (the starting row rotating) for one untimed step, then a burst of timed
    consecutive steps. Batch-1 rows run ``SMALL_STEPS`` times as many steps, in longer bursts.
    """
    results, steppers = {}, []
    for row in rows:
        if row.impl == "pymdp" and not have("pymdp"):
            results[row.key] = {"status": "not installed"}
            continue
        maker = pymdp_stepper if row.impl == "pymdp" else our_stepper
        step, check = maker(row, workloads[str(row.batch)])
        info = {"status": "ok", "times_ms": []}
        t0 = time.perf_counter()
        step()
        info["first_call_s"] = time.perf_counter() - t0
        for _ in range(max(warmup - 1, 0)):
            step()
        info["G0"] = check()
        scale = SMALL_STEPS if row.batch == 1 else 1
        results[row.key] = info
        steppers.append((row, step, steps * scale, 5 * scale))
    for s in range(-(-steps // 5) if steppers else 0):
        for row, step, n, burst in steppers[s % len(steppers) :] + steppers[: s % len(steppers)]:
            step()  # untimed: brings this row's data back into the caches
            times = results[row.key]["times_ms"]
            for _ in range(min(burst, n - len(times))):
                t0 = time.perf_counter()
                step()
                times.append((time.perf_counter() - t0) * 1e3)
    return results


def run_training(repeats):
    """Seconds for the tutorial's whole training run, ``repeats`` times (or a status)."""
    import importlib

    train = None
    for name in ("encoder", "train_encoder"):
        try:
            mod = importlib.import_module(f"reference.active_inference.{name}")
        except ImportError:
            continue
        train = train or getattr(mod, "train", None)
    if train is None:
        return {"status": "not available yet"}
    import numpy as np

    from reference.active_inference import encoder, envs

    times = []
    try:
        for r in range(repeats):
            rng = np.random.default_rng(SEED + r)
            train_data, val_data = envs.tutorial_datasets(rng)
            params = encoder.init_encoder(rng)
            t0 = time.perf_counter()
            result = train(params, train_data, rng, val_data=val_data, progress=False)
            times.append(time.perf_counter() - t0)
        final = {k: float(v[-1]) for k, v in result.history.items() if len(v)}
    except Exception as err:  # the training code is still being written elsewhere
        return {"status": f"failed: {type(err).__name__}: {err}"[:120]}
    return {"status": "ok", "times_s": times, "final": final}


def have(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def run_child(python, spec, env_extra):
    """Run a worker in a fresh interpreter; returns its JSON result."""
    env = dict(os.environ, **env_extra)
    with tempfile.TemporaryDirectory() as tmp:
        spec_file, out_file = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
        with open(spec_file, "w") as f:
            json.dump(dict(spec, out=out_file), f)
        try:
            proc = subprocess.run([python, __file__, "--worker", spec_file], env=env)
        except OSError as err:  # e.g. a --pymdp-python that does not exist
            return {"error": f"not installed ({type(err).__name__})"}
        if proc.returncode != 0:
            return {"error": f"worker exited with {proc.returncode}"}
        with open(out_file) as f:
            return json.load(f)


def worker(spec):
    if spec["kind"] == "training":
        result = run_training(spec["repeats"])
    else:
        if spec["kind"] == "pymdp" and spec["dtype"] == "float64" and have("jax"):
            import jax

            jax.config.update("jax_enable_x64", True)
        rows = [Row(**r) for r in spec["rows"]]
        result = run_rows(rows, spec["steps"], spec["warmup"], spec["workloads"])
        if spec["kind"] == "pymdp" and have("pymdp"):
            import jax
            import pymdp

            ver = getattr(pymdp, "__version__", None) or _dist_version("inferactively-pymdp")
            result["_versions"] = {"pymdp": ver, "jax": jax.__version__}
    with open(spec["out"], "w") as f:
        json.dump(result, f)


def _dist_version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- report


def machine_info():
    return base_machine_info()


NAMES = {
    ("numba", ""): "ours, Agent(kernel='auto'): numba EFE",
    ("numpy", ""): "ours, Agent(kernel='numpy'): NumPy EFE",
    ("pymdp", "filter_jit"): "pymdp, eqx.filter_jit(step)(agent, ...)",
    ("pymdp", "jit_closed"): "pymdp, jax.jit, agent closed over",
}


def summarise(rows, merged):
    entries = {}
    for row in rows:
        r = merged.get(row.key, {"status": "missing"})
        e = {"row": asdict(row), "status": r["status"]}
        if r["status"] == "ok":
            xs = r["times_ms"]
            e.update(
                median_ms=statistics.median(xs),
                iqr_ms=percentile(xs, 0.75) - percentile(xs, 0.25),
                n=len(xs),
                first_call_s=r["first_call_s"],
                G0=r["G0"],
            )
        entries[row.key] = e
    return entries


def _cell(e, digits):
    if e["status"] != "ok":
        return e["status"], ""
    return f"{e['median_ms']:.{digits}f}", f"{e['iqr_ms']:.{digits}f}"


def markdown(rows, entries, info, training):
    out = [
        "| implementation | dtype | threads | batch 1: ms/step | IQR | "
        "batch 1024: ms/step | IQR | us/agent | first call s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    seen = []
    for row in rows:
        if row.config in seen:
            continue
        seen.append(row.config)
        e1 = entries[Row(row.impl, row.dtype, 1, row.variant, row.blas).key]
        eN = entries[Row(row.impl, row.dtype, BATCHES[-1], row.variant, row.blas).key]
        m1, i1 = _cell(e1, 3)
        mN, iN = _cell(eN, 1)
        per = f"{eN['median_ms'] / BATCHES[-1] * 1e3:.1f}" if eN["status"] == "ok" else ""
        firsts = [e["first_call_s"] for e in (e1, eN) if e["status"] == "ok"]
        first = f"{max(firsts):.2f}" if firsts else ""
        threads = f"BLAS {row.blas}" if row.impl != "pymdp" else "XLA default"
        out.append(
            f"| {NAMES[(row.impl, row.variant)]} | {row.dtype} | {threads} | "
            f"{m1} | {i1} | {mN} | {iN} | {per} | {first} |"
        )
    n1 = next((e["n"] for e in entries.values() if e.get("n") and e["row"]["batch"] == 1), 0)
    nN = next((e["n"] for e in entries.values() if e.get("n") and e["row"]["batch"] > 1), 0)
    out += [
        "",
        f"One step = infer_states + infer_policies of the tutorial agent (line world, K=5, "
        f"81 policies of length 4, fpi, soft observations). Median and IQR over {n1} (batch 1) "
        f"and {nN} (batch {BATCHES[-1]}) timed steps per row; first call (excluded) includes "
        "compilation (numba: cold cache in the first child; XLA: every child).",
        "pymdp measured in the issue on 2 cores: jitted "
        f"{PYMDP_ISSUE['batch 1']} (batch 1), {PYMDP_ISSUE['batch 1024']} (batch 1024).",
        _agreement(entries),
    ]
    if training is not None:
        out += ["", "| workload | ours | pymdp (issue, 2 cores) | goal |", "|---|---:|---:|---:|"]
        for label, t in training:
            if t.get("status") == "ok":
                xs = t["times_s"]
                ours = f"{statistics.median(xs):.2f} s (n={len(xs)}, {label})"
            else:
                ours = f"{t.get('status')} ({label})"
            out.append(
                f"| encoder training (200 SGD steps) | {ours} | "
                f"{PYMDP_ISSUE['training']} s | <= {TRAIN_GOAL_S:g} s |"
            )
    out += [
        "",
        f"machine: {info['cpu_model']}, os.cpu_count() = {info['cpu_count']} "
        f"(affinity {info['cpu_affinity']}), python {info['python']}, numpy {info['numpy']}, "
        f"numba {info['numba']}, "
        + (
            f"pymdp {info['pymdp']['pymdp']} / jax {info['pymdp']['jax']} "
            f"(python {info['pymdp_python']})"
            if info.get("pymdp")
            else "pymdp not installed"
        ),
        f"malloc (our children): {info['malloc']}",
        "load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}; "
        "after: {:.2f} {:.2f} {:.2f}".format(*info["load_average"], *info["load_after"]),
    ]
    if "other_cpu_s" in info:
        out.append(
            f"other processes used {max(info['other_cpu_s'], 0):.1f} CPU-s during the "
            f"{info['run_wall_s']:.0f} s run ({info['cpu_count']} cores; "
            f"{max(info['other_cores_at_start'], 0):.2f} cores busy at the start)"
        )
    return "\n".join(out)


def _agreement(entries):
    """Largest |G| difference of agent 0 between each implementation and ours (float64)."""
    ref = entries.get(Row("numpy", "float64", 1, blas=1).key)
    if not ref or ref["status"] != "ok":
        return ""
    parts = []
    for e in entries.values():
        if e["status"] != "ok" or e["row"] == ref["row"]:
            continue
        d = max(abs(a - b) for a, b in zip(e["G0"], ref["G0"], strict=True))
        parts.append(((e["row"]["impl"], e["row"]["dtype"]), d))
    worst = {}
    for k, d in parts:
        worst[k] = max(worst.get(k, 0.0), d)
    return (
        "max |G - G(ours, NumPy, float64, batch 1)| over the 81 policies of agent 0 "
        + ("(both batch sizes, all variants): ")
        + ", ".join(f"{impl} {dtype} {d:.1e}" for (impl, dtype), d in sorted(worst.items()))
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30, help="timed steps per batch-1024 row")
    ap.add_argument("--repeats", type=int, default=3, help="children per group")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps (incl. first call)")
    ap.add_argument("--pymdp-python", default=sys.executable, help="interpreter with pymdp")
    ap.add_argument("--blas", default=f"1,{NCPU}", help="OPENBLAS_NUM_THREADS settings")
    ap.add_argument("--malloc-tuned", action="store_true", help="raise glibc's mmap threshold")
    ap.add_argument("--no-training", action="store_true", help="skip the encoder training row")
    ap.add_argument("--quick", action="store_true", help="smoke run: 5 steps, 1 repeat")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:  # child process: run what the spec file says, write the result, exit
        with open(args.worker) as f:
            worker(json.load(f))
        return

    if args.quick:
        args.steps, args.repeats, args.warmup = 5, 1, 1
    blas_settings = sorted({int(b) for b in args.blas.split(",")})
    malloc = MALLOC_TUNED if args.malloc_tuned else {}
    info = machine_info()
    info["malloc"] = " ".join(f"{k}={v}" for k, v in malloc.items()) or "glibc defaults"
    info["pymdp_python"] = args.pymdp_python
    busy = busy_cpu_s()
    if busy is not None:  # how busy is the machine without us? sample one second
        own = own_cpu_s()
        time.sleep(1.0)
        info["other_cores_at_start"] = (busy_cpu_s() - busy) - (own_cpu_s() - own)
        if info["other_cores_at_start"] > 0.25:
            print(
                f"warning: other processes keep {info['other_cores_at_start']:.1f} of {NCPU} "
                "cores busy; timings will be slower and noisier than on an idle machine",
                file=sys.stderr,
                flush=True,
            )
    workloads = {}
    for batch in BATCHES:
        w = workload(batch)
        workloads[str(batch)] = {k: getattr(v, "tolist", lambda v=v: v)() for k, v in w.items()}

    groups = {("ours", b): our_rows(b) for b in blas_settings}
    for dtype in ("float32", "float64"):
        groups[("pymdp", dtype)] = pymdp_rows(dtype)
    rows = [r for g in groups.values() for r in g]
    order = sorted(groups)
    child_results = []
    busy_before, own_before, wall_before = busy_cpu_s(), own_cpu_s(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        for rep in range(args.repeats):
            for group in order if rep % 2 == 0 else order[::-1]:
                kind, setting = group
                print(f"repeat {rep + 1}/{args.repeats}: {kind} {setting}", file=sys.stderr)
                spec = {
                    "kind": kind,
                    "dtype": setting if kind == "pymdp" else None,
                    "rows": [asdict(r) for r in groups[group]],
                    "steps": args.steps,
                    "warmup": args.warmup,
                    "workloads": workloads,
                }
                if kind == "pymdp":
                    python = args.pymdp_python
                    env = {"OPENBLAS_NUM_THREADS": "1"}  # NumPy idle there; XLA does the work
                else:
                    python = sys.executable
                    env = {"OPENBLAS_NUM_THREADS": str(setting), **malloc}
                    if not args.quick:
                        env["NUMBA_CACHE_DIR"] = cache
                res = run_child(python, spec, env)
                if "error" in res:
                    res = {r.key: {"status": res["error"]} for r in groups[group]}
                child_results.append(res)
        training = None
        if not args.no_training:
            training = []
            for b in blas_settings:
                print(f"encoder training, OPENBLAS_NUM_THREADS={b}", file=sys.stderr)
                spec = {"kind": "training", "repeats": max(1, min(args.repeats, 3))}
                env = {"OPENBLAS_NUM_THREADS": str(b), **malloc}
                res = run_child(sys.executable, spec, env)
                training.append((f"BLAS {b}", res if "error" not in res else {"status": "error"}))
    wall = time.monotonic() - wall_before
    if busy_before is not None:
        info["other_cpu_s"] = (busy_cpu_s() - busy_before) - (own_cpu_s() - own_before)
        info["run_wall_s"] = wall
    info["load_after"] = os.getloadavg()

    merged = {}
    for res in child_results:
        if "_versions" in res:
            info["pymdp"] = res["_versions"]
        for key, r in res.items():
            if key.startswith("_"):
                continue
            m = merged.setdefault(key, {"status": r["status"], "times_ms": []})
            if r["status"] == "ok":
                m["status"] = "ok"
                m["times_ms"] += r["times_ms"]
                m.setdefault("first_call_s", r["first_call_s"])
                m.setdefault("G0", r["G0"])
    entries = summarise(rows, merged)
    print(markdown(rows, entries, info, training))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "rows": list(entries.values()),
                    "training": training,
                    "settings": vars(args),
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
