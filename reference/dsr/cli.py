"""``python -m reference dsr``: train a Lorenz-63 reconstruction, evaluate it, write figures.

Three sizes (see :func:`reference.dsr.experiments.config`): ``--fast`` (seconds), the default
book demo (minutes) and ``--full`` (the headline run, about 10 minutes on two cores). Writes
``training.png`` (loss and the monitored D_stsp / D_H), ``attractor.png`` (true vs generated,
3-D), ``spectra.png`` (smoothed power spectra per dimension), ``lyapunov.png``, the
checkpoint of the last epoch, ``model.npz`` (the parameters selected on validation data) and
``summary.json`` with the protocol metrics at fixed lengths, the ground-truth floors and the
authors' pretrained AL-RNN evaluated by the same code.
"""

from __future__ import annotations

import json
import os
import time


def add_parser(sub):
    p = sub.add_parser(
        "dsr",
        help="chapter 3: reconstruct Lorenz-63 with a clipped shPLRNN (GTF + BPTT), evaluate",
        description="Train the chapter-3 latent model (clipped shallow PLRNN) on standardised "
        "Lorenz-63 data with adaptive generalized teacher forcing, evaluate D_stsp and D_H "
        "with the fixed-length protocol (generate 1.25 T, drop 0.25 T), and write figures "
        "and a JSON summary.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument("--fast", action="store_true", help="tiny run for tests (seconds)")
    size.add_argument("--full", action="store_true", help="headline run (2 x 1000 epochs)")
    p.add_argument("--recipe", choices=("shplrnn", "alrnn"), default="shplrnn",
                   help="clipped shPLRNN with adaptive GTF (default) or ALRNN M=20, P=2 with "
                   "sparse teacher forcing")  # fmt: skip
    p.add_argument("--epochs", type=int, default=None, help="override the epochs per run")
    p.add_argument("--restarts", type=int, default=None,
                   help="independent runs; the best on validation is kept "
                   "(default: 2 with --full, else 1)")  # fmt: skip
    p.add_argument("--out", default=os.path.join("out", "dsr"), help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed for initialisation and windows")
    p.add_argument("--kernel", choices=("numba", "numpy"), default="numba",
                   help="BPTT implementation (default: the numba kernel)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def run(args):
    from reference import io
    from reference.dsr import experiments

    if args.epochs is not None and args.epochs < 1:
        raise SystemExit(f"--epochs: expected a positive integer, got {args.epochs}")
    overrides = {"seed": args.seed, "kernel": args.kernel}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.restarts is not None:
        if args.restarts < 1:
            raise SystemExit(f"--restarts: expected a positive integer, got {args.restarts}")
        overrides["restarts"] = args.restarts
    cfg = experiments.config(fast=args.fast, full=args.full, recipe=args.recipe, **overrides)
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    result = experiments.run(cfg, progress=not args.no_progress,
                             checkpoint_path=os.path.join(args.out, "checkpoint.npz"))  # fmt: skip
    figures = write_figures(result, args.out)
    io.save(os.path.join(args.out, "model.npz"), {"params": result.params},
            {"selected_epoch": result.monitor["selected_epoch"]})  # fmt: skip
    summary = result.summary()
    summary["figures"] = sorted(figures)
    summary["fast"], summary["full"] = bool(args.fast), bool(args.full)
    summary["seconds_total"] = time.perf_counter() - start
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    per_run = ", ".join(f"{r.seconds:.1f}" for r in result.results)
    print(f"{result.model.num_params()} parameters, {cfg.restarts} x {cfg.train.epochs} epochs "
          f"({cfg.workers} worker(s); s per run: {per_run}; whole command "
          f"{result.seconds:.1f} s); selected: run {result.monitor['selected_restart']}, "
          f"epoch {result.monitor['selected_epoch']}")  # fmt: skip
    for T, m in result.evaluation.items():
        floor = result.floors[T]
        anchor = result.pretrained.get(T)
        line = (f"T={T}: D_stsp {m['D_stsp']:.3f}  D_H {m['D_H']:.3f}  PE(20) {m['PE']:.4f}"
                f"   | floor {floor['D_stsp']:.3f} / {floor['D_H']:.3f}")  # fmt: skip
        if anchor:
            line += f"   | pretrained AL-RNN {anchor['D_stsp']:.3f} / {anchor['D_H']:.3f}"
        print(line)
    lam = result.lyapunov[0] / experiments.DT
    print(f"largest Lyapunov exponent {lam:.3f} per time unit (Lorenz-63: "
          f"{experiments.LAMBDA_MAX_LORENZ})")  # fmt: skip
    print(f"wrote {args.out}/{{{', '.join(sorted(figures))}, checkpoint.npz (last epoch), "
          "model.npz (selected parameters), summary.json}")  # fmt: skip
    return 0


def write_figures(result, out):
    """Save the figures of a run (made by :mod:`reference.dsr.plots`); returns their names."""
    from reference.dsr import plots

    keep = [i for i, r in enumerate(result.monitor["restart"])
            if r == result.monitor["selected_restart"]]  # fmt: skip
    monitor = {k: [result.monitor[k][i] for i in keep] for k in ("epoch", "D_stsp", "D_H")}
    monitor["floor"] = result.monitor["floor"]
    figs = {
        "training.png": plots.training_curves(result.result.history, monitor),
        "attractor.png": plots.attractor(result.x_test, result.x_gen),
        "spectra.png": plots.power_spectra(result.x_test, result.x_gen),
        "lyapunov.png": plots.lyapunov({"model": result.lyapunov}),
    }
    for name, fig in figs.items():
        fig.savefig(os.path.join(out, name), dpi=110)
    return list(figs)
