"""The chapter-5 NGC circuit built from ngc-learn 3.x components, timed (run in ngc-learn's venv).

Started by ``bench_ngc.py`` as ``python ngclearn_ngc_circuit.py IN.npz``; needs ``ngclearn``
(JAX), so it runs in a separate interpreter. IN holds the weights ``W1..WL``, ``E1..E(L-1)``,
the batch ``x_i, x_o`` and the constants. The child builds the circuit, makes one call
(compilation) and prints a JSON line starting with ``@@`` (versions, compile time, thread
count and CPU affinity, the settled errors so the caller can check that this is the same
circuit); then, for every line ``n`` read from stdin, it makes ``n`` timed calls and prints
``@@{"times": [...], "cpu_s": ..., "wall_s": ...}`` (CPU seconds of all its threads over
the wall seconds of the burst: the cores it kept busy). An empty line or EOF ends it. This
lets the caller interleave these calls with its own rows, so load hits all of them alike.

Wiring (Eqs. 5.1-5.4, see ``reference/ngc/circuit.py``): a ``RateCell`` per hidden layer
(``tau_m = 1 / beta``, Gaussian prior with leak ``gamma_v``, ReLU) driven only through
an identity activation (so its bottom-up input ``j = e^{l-1} E^l`` is not gated by a
``phi'`` factor) plus ``j_td = -e^l`` (the error cell's ``dtarget``), followed by a stateless
ReLU ``RateCell`` giving ``phi(z^l)``; a ``GaussianErrorCell`` per layer with
``Sigma = 2 beta_e`` (``dmu = e^l``); ``HebbianSynapse`` for each ``W^l`` (pre ``phi(z^l)``,
post ``e^{l-1}``, ``w_bound = 0``) and a ``DenseSynapse`` for each ``E^l``. One settling step
is one compiled ``MethodProcess`` (E synapses, rate cells, W synapses, error cells, in that
order), scanned over T steps; the Hebbian step is the W synapses' ``evolve``. ngc-learn 3
has no modulation matrices, so the timed update is the unmodulated rule (5.7).
"""

import json
import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)  # float64, like the NumPy side

from jax import numpy as jnp  # noqa: E402
from ngclearn import Context, MethodProcess  # noqa: E402
from ngclearn.components import (  # noqa: E402
    DenseSynapse,
    GaussianErrorCell,
    HebbianSynapse,
    RateCell,
)
from ngcsimlib.global_state import stateManager  # noqa: E402


def build(d, batch):
    L = int(d["L"])
    beta, gamma_v, beta_e = float(d["beta"]), float(d["gamma_v"]), float(d["beta_e"])
    dims = [d["W1"].shape[1]] + [d[f"W{l}"].shape[0] for l in range(1, L + 1)]
    with Context("ngc_bench") as ctx:
        z = {
            l: RateCell(
                f"z{l}",
                n_units=dims[l],
                tau_m=1.0 / beta,
                prior=("gaussian", gamma_v),
                act_fx="identity",
                batch_size=batch,
            )
            for l in range(1, L)
        }
        a = {  # stateless cells: a^l = relu(z^l)
            l: RateCell(f"a{l}", n_units=dims[l], tau_m=0.0, act_fx="relu", batch_size=batch)
            for l in range(1, L)
        }
        e = {
            l: GaussianErrorCell(f"e{l}", n_units=dims[l], batch_size=batch, sigma=2.0 * beta_e)
            for l in range(L)
        }
        W = {
            l: HebbianSynapse(
                f"W{l}",
                shape=(dims[l], dims[l - 1]),
                eta=1e-3,
                w_bound=0.0,
                sign_value=-1.0,
                batch_size=batch,
            )
            for l in range(1, L + 1)
        }
        E = {
            l: DenseSynapse(f"E{l}", shape=(dims[l - 1], dims[l]), batch_size=batch)
            for l in range(1, L)
        }
        for l in range(1, L + 1):
            if l < L:  # the clamped top x^i is set directly on W^L
                a[l].zF >> W[l].inputs
                a[l].zF >> W[l].pre
            W[l].outputs >> e[l - 1].mu
            e[l - 1].dmu >> W[l].post
        for l in range(1, L):
            z[l].z >> a[l].j
            a[l].zF >> e[l].target
            e[l - 1].dmu >> E[l].inputs
            E[l].outputs >> z[l].j  # identity cell: dfx = 1, so no phi'(z) gate
            e[l].dtarget >> z[l].j_td  # -e^l
        step = MethodProcess("step")
        for l in range(1, L):
            step >> E[l].advance_state
        for l in range(1, L):
            step >> z[l].advance_state
        for l in range(1, L):
            step >> a[l].advance_state
        for l in range(1, L + 1):
            step >> W[l].advance_state
        for l in range(L):
            step >> e[l].advance_state
        predict = MethodProcess("predict")
        for l in range(1, L):
            predict >> a[l].advance_state
        for l in range(1, L + 1):
            predict >> W[l].advance_state
        for l in range(L):
            predict >> e[l].advance_state
        evolve = MethodProcess("evolve")
        for l in range(1, L + 1):
            evolve >> W[l].evolve
        reset = MethodProcess("reset")
        for comp in (*z.values(), *a.values(), *e.values(), *W.values(), *E.values()):
            reset >> comp.reset
    return ctx, dict(
        z=z, e=e, W=W, E=E, step=step, predict=predict, evolve=evolve, reset=reset, L=L, dims=dims
    )


def settle_and_update(c, d, T):
    L = c["L"]
    c["reset"].run()
    for l in range(1, L + 1):
        c["W"][l].weights.set(jnp.asarray(d[f"W{l}"]))
    for l in range(1, L):
        c["E"][l].weights.set(jnp.asarray(d[f"E{l}"]))
    c["W"][L].inputs.set(jnp.asarray(d["x_i"]))
    c["W"][L].pre.set(jnp.asarray(d["x_i"]))
    c["e"][0].target.set(jnp.asarray(d["x_o"]))
    c["predict"].run(t=0.0, dt=1.0)
    rows = jnp.array(c["step"].pack_rows(T, t=lambda i: float(i), dt=1.0))
    stateManager.state, _ = c["step"].scan(rows)
    c["evolve"].run(t=float(T), dt=1.0)
    return [np.asarray(c["e"][l].dmu.get()) for l in range(L)]


def threads():
    """Number of threads of this process (Linux), else None."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    except (OSError, StopIteration, ValueError):
        return None


def say(obj):
    print("@@" + json.dumps(obj), flush=True)


def main(src):
    import os

    import ngclearn

    d = dict(np.load(src))
    T = int(d["T"])
    _, c = build(d, d["x_i"].shape[0])
    t0 = time.perf_counter()
    errs = settle_and_update(c, d, T)  # compiles
    compile_s = time.perf_counter() - t0
    say(
        {
            "compile_s": compile_s,
            "errors": [e.tolist() for e in errs],
            "ngclearn": getattr(ngclearn, "__version__", "?"),
            "jax": jax.__version__,
            "threads": threads(),
            "affinity": sorted(os.sched_getaffinity(0)),
            "xla_flags": os.environ.get("XLA_FLAGS", ""),
        }
    )
    for line in sys.stdin:
        if not line.strip():
            break
        times = []
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(int(line)):
            t0 = time.perf_counter()
            errs = settle_and_update(c, d, T)  # returns NumPy arrays: JAX has finished
            times.append(time.perf_counter() - t0)
        wall = time.perf_counter() - w0
        say({"times": times, "cpu_s": time.process_time() - c0, "wall_s": wall})


if __name__ == "__main__":
    main(sys.argv[1])
