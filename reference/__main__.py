"""Command line: ``python -m reference <chapter> [options]``, ``python -m reference vectors OUT``.

Each chapter adds one sub-command: a function that declares its options (``_add_*``) and one
that runs it (``_run_*``), registered in :data:`COMMANDS`. ``python -m reference --help``
lists them.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
import time

# --------------------------------------------------------------------------- chapter 1


def _add_residual_dynamics(sub):
    p = sub.add_parser(
        "residual-dynamics",
        help="chapter 1: train the source model (residual logits on the simplex)",
        description="Train the chapter-1 model in the source configuration (T=360, m=3, "
        "B=32, H=64, Adam lr 1e-3, clip 1.0), print the loss like the source notebook and "
        "write figures, a checkpoint and a JSON summary.",
    )
    p.add_argument(
        "--steps", type=int, default=None, help="training steps (default 200; 20 with --fast)"
    )
    p.add_argument("--fast", action="store_true", help="small sizes (T=60, B=8) for a preview")
    p.add_argument(
        "--out",
        default=os.path.join("out", "residual-dynamics"),
        help="output folder (default: out/residual-dynamics)",
    )
    p.add_argument(
        "--kernel",
        choices=("numpy", "numba"),
        default="numba",
        help="backward pass: readable NumPy or the fused numba kernel (default)",
    )
    p.add_argument("--learn-alpha", action="store_true", help="train alpha with the MLP")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and inputs")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _run_residual_dynamics(args):
    import numpy as np

    from reference.residual_dynamics import experiments, model, plots

    if args.steps is not None and args.steps < 0:
        raise SystemExit(f"--steps: expected a non-negative integer, got {args.steps}")
    overrides = {"seed": args.seed}
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = experiments.source_config(fast=args.fast, **overrides)
    os.makedirs(args.out, exist_ok=True)
    checkpoint = os.path.join(args.out, "checkpoint.npz")

    start = time.perf_counter()
    run = experiments.run_source(
        config,
        kernel=args.kernel,
        learn_alpha=args.learn_alpha,
        progress=not args.no_progress,
        checkpoint_path=checkpoint,
    )
    seconds = time.perf_counter() - start
    loss = run.result.history["loss"]
    printed = experiments.losses_at(loss)
    for step, value in printed.items():
        print(f"Step {step}: loss={value:.4f}")

    figures = {
        "training_curves.png": plots.training_curves(
            loss, run.curves, experiments.SOURCE_LOSSES if not args.fast else None, m=config.m
        ),
        "ternary.png": plots.ternary(
            {
                "initial parameters": _with_N0(run.inputs[0], run.initial["Ns"]),
                "after training": _with_N0(run.inputs[0], run.final["Ns"]),
            }
        ),
    }
    nbars = {}
    for label, params, alpha in (
        ("initial", run.params0, run.alpha0),
        ("trained", run.result.params, run.result.alpha),
    ):
        nbars[label] = model.backprop_through_time(
            params, alpha, *run.inputs, entropy_weight=run.entropy_weight
        )[3]
    figures["adjoint_norms.png"] = plots.adjoint_norms(nbars)
    if args.learn_alpha:
        figures["alpha.png"] = plots.alpha_trajectory(run.result.history["alpha"], run.alpha0)
    for name, fig in figures.items():
        fig.savefig(os.path.join(args.out, name), dpi=120)

    summary = {
        "config": {
            **dataclasses.asdict(config),
            "kernel": args.kernel,
            "learn_alpha": args.learn_alpha,
            "fast": args.fast,
        },
        "printed_losses": {str(k): v for k, v in printed.items()},
        "source_losses": {str(k): v for k, v in experiments.SOURCE_LOSSES.items()},
        "loss_after_training": float(run.final["loss"]),
        "initial": {k: run.initial[k] for k in ("loss", "mean_g2", "mean_entropy")},
        "final": {k: run.final[k] for k in ("loss", "mean_g2", "mean_entropy")},
        "alpha": np.asarray(run.result.alpha).tolist(),
        "grad_norm_first_last": [
            float(run.result.history["grad_norm"][0]),
            float(run.result.history["grad_norm"][-1]),
        ]
        if len(loss)
        else [],
        "seconds": seconds,
        "checkpoint": checkpoint if os.path.exists(checkpoint) else None,
        "figures": sorted(figures),
    }
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(
        f"{config.steps} steps in {seconds:.1f} s; wrote {args.out}/"
        f"{{{', '.join(sorted(figures))}, checkpoint.npz, summary.json}}"
    )
    return 0


def _with_N0(N0, Ns):
    """Prepend N_0 to the states N_1..N_T: ``(T+1, B, m)`` for the ternary plot."""
    import numpy as np

    return np.concatenate([np.asarray(N0)[None], Ns], axis=0)


# --------------------------------------------------------------------------- chapter 2


def _add_active_inference(sub):
    p = sub.add_parser(
        "active-inference",
        help="chapter 2: train the encoder through state inference, evaluate, roll out",
        description="The chapter-2 encoder tutorial: 640/320 Gaussian sequences of the "
        "five-state line world, an MLP encoder (2-256-256-256-5, tanh) trained by plain SGD "
        "(lr 1e-3, 200 steps) on mean VFE + 8 x temporal KL, aligned accuracies and confusion "
        "matrices on the validation set, and an 8-step planning rollout from state 0. Writes "
        "figures, two GIFs and a JSON summary.",
    )
    p.add_argument("--fast", action="store_true", help="small sizes (30 steps, 128/64 sequences)")
    p.add_argument(
        "--out",
        default=os.path.join("out", "active-inference"),
        help="output folder (default: out/active-inference)",
    )
    p.add_argument(
        "--seed", type=int, default=3, help="seed for data, inits, minibatches (default 3)"
    )
    p.add_argument(
        "--restarts",
        type=int,
        default=1,
        help="independent inits; keep the lowest validation objective (default 1, the source "
        "recipe; 4 makes a stuck init unlikely)",
    )
    p.add_argument("--steps", type=int, default=None, help="SGD steps (default 200; 30 --fast)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _run_active_inference(args):
    import numpy as np

    from reference.active_inference import experiments, plots

    if args.restarts < 1:
        raise SystemExit(f"--restarts: expected a positive integer, got {args.restarts}")
    if args.steps is not None and args.steps < 0:
        raise SystemExit(f"--steps: expected a non-negative integer, got {args.steps}")
    overrides = {"seed": args.seed, "restarts": args.restarts}
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = experiments.tutorial_config(fast=args.fast, **overrides)
    os.makedirs(args.out, exist_ok=True)

    start = time.perf_counter()
    run = experiments.run_tutorial(config, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    for name in ("encoder", "state"):
        print(
            f"{name} aligned accuracy: {run.before[f'{name}_accuracy']:.3f} -> "
            f"{run.after[f'{name}_accuracy']:.3f}"
        )
    print(f"rollout states: {run.rollout['states'].tolist()}")

    figures = {
        "training_curves.png": plots.training_curves(run.result.history),
        "confusion.png": plots.confusion_matrices(
            [run.after["encoder_confusion"], run.after["state_confusion"]],
            ["encoder (argmax logits)", "inferred state (argmax q)"],
        ),
    }
    for name, fig in figures.items():
        fig.savefig(os.path.join(args.out, name), dpi=120)
    gifs = {
        "rollout_density.gif": lambda path: plots.rollout_density_animation(
            run.rollout, path=path, grid=config.gif_grid
        ),
        "rollout_decisions.gif": lambda path: plots.rollout_decision_animation(
            run.result.params, run.rollout, path=path, grid=config.gif_grid
        ),
    }
    for name, make in gifs.items():
        make(os.path.join(args.out, name))

    summary = {
        "config": {**dataclasses.asdict(config), "fast": args.fast},
        "encoder_accuracy": {"before": run.before["encoder_accuracy"],
                             "after": run.after["encoder_accuracy"]},
        "state_accuracy": {"before": run.before["state_accuracy"],
                           "after": run.after["state_accuracy"]},
        "encoder_confusion": np.asarray(run.after["encoder_confusion"]).tolist(),
        "state_confusion": np.asarray(run.after["state_confusion"]).tolist(),
        "objective_before": run.objective_before,
        "objective_after": run.objective_after,
        "restart_val_objectives": run.restart_scores.tolist(),
        "rollout": {
            "states": run.rollout["states"].tolist(),
            "actions": run.rollout["actions"].tolist(),
            "reached_goal": bool(run.rollout["states"][-1] == 4),
        },
        "train_seconds": run.seconds,
        "seconds": seconds,
        "figures": sorted(figures),
        "gifs": sorted(gifs),
    }  # fmt: skip
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(
        f"{config.restarts} x {config.steps} steps in {run.seconds:.1f} s; wrote {args.out}/"
        f"{{{', '.join(sorted(figures) + sorted(gifs))}, summary.json}}"
    )
    return 0


# --------------------------------------------------------------------------- vectors


def _add_vectors(sub):
    p = sub.add_parser(
        "vectors",
        help="write language-neutral test vectors (JSON + npz) of every public function",
        description="Write OUT/<case>.json, OUT/<case>.npz and OUT/index.json for every "
        "registered test vector, so a port to another language can check itself.",
    )
    p.add_argument("out", help="output folder")
    p.add_argument("--chapter", default=None, help="only this chapter's vectors (or 'core')")
    p.add_argument(
        "--verify",
        action="store_true",
        help="recompute the vectors already in OUT and compare instead of writing",
    )
    return p


def _run_vectors(args):
    from reference import vectors

    if args.verify:
        errors = vectors.verify(args.out)
        worst = max(errors.values(), default=0.0)
        print(
            f"{len(errors)} test vectors in {args.out} recomputed; largest relative "
            f"error {worst:.1e}"
        )
        return 0
    index = vectors.write(args.out, chapter=args.chapter)
    print(f"wrote {len(index)} test vectors to {args.out} (index.json lists them)")
    return 0


# --------------------------------------------------------------------------- entry point


def _chapter_cli(module):
    """``(add, run)`` for a chapter whose sub-command lives in its own ``cli.py`` module,
    which defines ``add_parser(sub)`` and ``run(args)``; imported only when used."""

    def add(sub):
        return importlib.import_module(module).add_parser(sub)

    def run(args):
        return importlib.import_module(module).run(args)

    return add, run


#: sub-command name -> (declare options, run). Chapters add themselves here.
COMMANDS = {
    "residual-dynamics": (_add_residual_dynamics, _run_residual_dynamics),
    "active-inference": (_add_active_inference, _run_active_inference),
    "vectors": (_add_vectors, _run_vectors),
    "gflownet": _chapter_cli("reference.gflownet.cli"),
    "dsr": _chapter_cli("reference.dsr.cli"),
    "ngc": _chapter_cli("reference.ngc.cli"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m reference",
        description="Reference implementations of the course book, one sub-command per "
        "chapter, plus test-vector export.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command][1](args)


if __name__ == "__main__":
    sys.exit(main())
