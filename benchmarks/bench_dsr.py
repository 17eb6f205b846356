"""Seconds per training epoch of chapter 3: NumPy BPTT, numba kernel, PyTorch (autograd).

One *epoch* is the source recipe's unit of work: 50 updates, each on a batch of 16 random
windows of length 200 of standardised Lorenz-63 data, forward with teacher forcing, loss
(3.10), backward through time and one RAdam step. Two workloads:

* ``ALRNN STF``: ALRNN M = 20, P = 2, sparse teacher forcing tau = 16 (the ALRNN recipe);
* ``shPLRNN GTF``: clipped shallow PLRNN M = 3, L = 100, generalized teacher forcing
  alpha = 0.2 at every step (the GTF recipe's model, with alpha fixed for timing).

Rows: ``numpy`` (``forcing.forced_rollout_loss``, readable vectorised BPTT), ``numba``
(``kernels.rollout_loss``, the compiled twin) and ``torch``: the same model and forcing
written for this benchmark in PyTorch (float64 like ours, autograd for the backward,
``torch.optim.RAdam``), with ``torch.set_num_threads(1)``, when torch is importable. Before
timing, the torch loss and gradients at the initial parameters are compared with ours (the
table's note prints the largest relative difference), so the rows compute the same thing.

Timing: one untimed warm-up epoch per row (includes numba's compile or cache load), then
``--epochs`` timed epochs per row, rows interleaved round by round so that load from other
processes hits every row alike; the median is reported. Usage::

    .venv/bin/python benchmarks/bench_dsr.py              # 3 timed epochs per row
    .venv/bin/python benchmarks/bench_dsr.py --epochs 1   # quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from common import base_machine_info, busy_cpu_s, own_cpu_s  # noqa: E402

from reference import gradcheck, nn  # noqa: E402
from reference.dsr import data, forcing, kernels, models  # noqa: E402
from reference.dsr.train import sample_windows  # noqa: E402

BATCHES, BATCH, SEQ = 50, 16, 200

WORKLOADS = {
    "ALRNN STF (M=20, P=2, tau=16)": (lambda: models.ALRNN(20, 3, 2), 1.0, 16),
    "shPLRNN GTF (clipped, M=3, L=100, alpha=0.2)": (
        lambda: models.ShallowPLRNN(3, 3, 100, clipped=True),
        0.2,
        1,
    ),
}


# --------------------------------------------------------------------------- PyTorch twin


def torch_step_fn(torch, model):
    """The latent step of ``model`` in PyTorch, row-major like ours."""
    if isinstance(model, models.ALRNN):
        n_lin = model.M - model.P

        def step(p, z):
            phi = torch.cat([z[:, :n_lin], torch.relu(z[:, n_lin:])], dim=1)
            return p["A"] * z + phi @ p["W"] + p["h"]

    else:

        def step(p, z):
            v = z @ p["W2"]
            r = torch.relu(v + p["h2"])
            if model.clipped:
                r = r - torch.relu(v)
            return p["A"] * z + r @ p["W1"] + p["h1"]

    return step


def torch_loss(torch, model, step, p, x, y, alpha, tau):
    """Loss (3.10) with forcing (3.9); ``x, y: (batch, T, N)`` tensors. Out-of-place forcing
    (``torch.cat``), so autograd sees the (1 - alpha) scaling of eq. (3.11)."""
    N = model.N
    x0 = x[:, 0]
    z = torch.cat([x0, (x0 @ p["B"])[:, N:]], dim=1)
    preds = []
    for t in range(x.shape[1]):
        if t > 0 and t % tau == 0:
            z = torch.cat([alpha * x[:, t] + (1 - alpha) * z[:, :N], z[:, N:]], dim=1)
        z = step(p, z)
        preds.append(z[:, :N])
    return torch.mean((torch.stack(preds, dim=1) - y) ** 2)


# --------------------------------------------------------------------------- rows


def make_rows(model, params, alpha, tau, series, torch):
    rows = {}

    def ours(fn):
        state = {
            "params": dict(params),
            "opt": nn.RAdam().init(params),
            "rng": np.random.default_rng(0),
        }
        opt = nn.RAdam(lr=1e-3)

        def epoch():
            for _ in range(BATCHES):
                x, y = sample_windows(series, BATCH, SEQ, state["rng"])
                _, grads, _ = fn(model, state["params"], x, y, alpha, tau)
                state["params"], state["opt"] = opt.step(state["params"], grads, state["opt"])

        return epoch

    rows["numpy"] = ours(forcing.forced_rollout_loss)
    rows["numba"] = ours(kernels.rollout_loss)
    if torch is not None:
        step = torch_step_fn(torch, model)
        tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        opt = torch.optim.RAdam(list(tp.values()), lr=1e-3)
        rng = np.random.default_rng(0)

        def epoch():
            for _ in range(BATCHES):
                x, y = sample_windows(series, BATCH, SEQ, rng)
                opt.zero_grad()
                loss = torch_loss(
                    torch, model, step, tp, torch.from_numpy(x), torch.from_numpy(y), alpha, tau
                )
                loss.backward()
                opt.step()

        rows["torch"] = epoch
    return rows


def torch_agreement(torch, model, params, alpha, tau, series):
    """Largest relative difference of torch's gradients from ours on one batch."""
    x, y = sample_windows(series, BATCH, SEQ, np.random.default_rng(1))
    _, grads, _ = forcing.forced_rollout_loss(model, params, x, y, alpha, tau)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss = torch_loss(
        torch,
        model,
        torch_step_fn(torch, model),
        tp,
        torch.from_numpy(x),
        torch.from_numpy(y),
        alpha,
        tau,
    )
    loss.backward()
    return max(gradcheck.rel_error(tp[k].grad.numpy(), grads[k]) for k in grads)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per row (default 3)")
    args = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
        torch.set_default_dtype(torch.float64)
    except ImportError:
        torch = None
    info = base_machine_info()
    busy0, own0, t0 = busy_cpu_s(), own_cpu_s(), time.perf_counter()
    series = data.lorenz63(20_000, np.random.default_rng(0))
    lines = [
        "| workload | path | median s/epoch | min | speed-up vs torch |",
        "|---|---|---:|---:|---:|",
    ]
    notes = []
    for name, (build, alpha, tau) in WORKLOADS.items():
        model = build()
        params = model.init_params(np.random.default_rng(0))
        rows = make_rows(model, params, alpha, tau, series, torch)
        start = time.perf_counter()
        rows["numba"]()  # warm-up (compile or cache load)
        notes.append(
            f"{name}: first numba epoch (incl. compile/cache) {time.perf_counter() - start:.2f} s"
        )
        for key in rows:
            if key != "numba":
                rows[key]()
        times = {k: [] for k in rows}
        for r in range(args.epochs):
            order = list(rows)[r % len(rows) :] + list(rows)[: r % len(rows)]
            for key in order:
                start = time.perf_counter()
                rows[key]()
                times[key].append(time.perf_counter() - start)
        base = statistics.median(times["torch"]) if "torch" in times else None
        for key, ts in times.items():
            med = statistics.median(ts)
            speed = f"{base / med:.1f}x" if base else "torch not installed"
            lines.append(f"| {name} | {key} | {med:.3f} | {min(ts):.3f} | {speed} |")
        if torch is not None:
            err = torch_agreement(torch, model, params, alpha, tau, series)
            notes.append(f"{name}: torch vs our gradients, max relative difference {err:.1e}")
    wall = time.perf_counter() - t0
    busy1, own1 = busy_cpu_s(), own_cpu_s()
    print("\n".join(lines))
    print()
    print(
        f"One epoch = {BATCHES} updates x batch {BATCH} x windows of {SEQ} steps "
        f"(forward + loss + BPTT + RAdam), float64; median over {args.epochs} epochs."
    )
    for n in notes:
        print(n)
    tv = torch.__version__ if torch is not None else "not installed"
    print(
        f"machine: {info['cpu_model']}, os.cpu_count() = {info['cpu_count']}, python "
        f"{info['python']}, numpy {info['numpy']}, numba {info['numba']}, torch {tv} "
        f"(1 thread); OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    )
    load = os.getloadavg()
    print(
        f"load average before: {' '.join(f'{v:.2f}' for v in info['load_average'])}; "
        f"after: {' '.join(f'{v:.2f}' for v in load)}"
    )
    if busy0 is not None and busy1 is not None:
        others = (busy1 - busy0) - (own1 - own0)
        print(
            f"other processes used {others:.1f} CPU-s during the {wall:.0f} s run "
            f"({info['cpu_count']} cores)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
