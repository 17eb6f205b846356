"""``python -m reference gflownet [--fast | --full] [--out DIR]``: the chapter-4 headline.

Trains stochastic DB (with a learned dynamics model) and DB, TB and ZVar (which ignore the
sticky actions) on TF-Bind-8 with the same budget, evaluates every sampler exactly over all
65,536 sequences, and writes ``table.md``, ``summary.json`` and figures to ``--out``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time


def add_parser(sub):
    p = sub.add_parser(
        "gflownet",
        help="chapter 4: stochastic DB vs DB/TB/ZVar on TF-Bind-8 with sticky actions, exact "
        "evaluation",
        description="Train stochastic detailed balance (learned dynamics) and DB, TB, ZVar "
        "(ignoring the sticky actions) on TF-Bind-8 with the same budget at each alpha and "
        "seed; evaluate each sampler exactly (L1 to R^3/Z, entropy ratio, KL, top-100 "
        "reward, modes found). Also runs the one-step toy (rewards 1:2, alpha 0.5).",
    )
    p.add_argument("--fast", action="store_true", help="a preview: alpha 0.1, 1 seed, 40 steps")
    p.add_argument("--full", action="store_true", help="alpha 0.1 and 0.25, 3 seeds, 2500 steps")
    p.add_argument("--iterations", type=int, default=None, help="override the iterations")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (0..n-1)")
    p.add_argument("--alphas", type=float, nargs="+", default=None, help="sticky probabilities")
    p.add_argument("--hidden", type=int, default=None, help="MLP width (default 256)")
    p.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="method labels (default: sdb db-intended db tb zvar; also sdb-known, the "
        "oracle with the true sticky kernel)",
    )
    p.add_argument(
        "--no-offline",
        action="store_true",
        help="32 on-policy sequences per iteration instead of 16 + 16 offline ones (whose "
        "intended tokens are fabricated)",
    )
    p.add_argument(
        "--out", default=os.path.join("out", "gflownet"), help="output folder (out/gflownet)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def run(args):
    from . import experiments, plots

    if args.fast and args.full:
        raise SystemExit("--fast and --full: choose at most one")
    overrides = {}
    if args.iterations is not None:
        if args.iterations < 1:
            raise SystemExit(f"--iterations: expected a positive integer, got {args.iterations}")
        overrides["iterations"] = args.iterations
        overrides["eval_every"] = max(1, args.iterations // 6)
    if args.seeds is not None:
        if args.seeds < 1:
            raise SystemExit(f"--seeds: expected a positive integer, got {args.seeds}")
        overrides["seeds"] = tuple(range(args.seeds))
    if args.alphas is not None:
        if not all(0.0 <= a <= 1.0 for a in args.alphas):
            raise SystemExit(f"--alphas: expected probabilities, got {args.alphas}")
        overrides["alphas"] = tuple(args.alphas)
    if args.hidden is not None:
        overrides["hidden"] = args.hidden
    if args.no_offline:
        overrides["batch_online"] = 32
        overrides["batch_offline"] = 0
    if args.methods is not None:
        try:
            for label in args.methods:
                experiments.method_settings(label)
        except ValueError as err:
            raise SystemExit(f"--methods: {err}") from None
        overrides["methods"] = tuple(args.methods)
    hc = experiments.headline_config(fast=args.fast, full=args.full, **overrides)
    os.makedirs(args.out, exist_ok=True)

    start = time.perf_counter()
    toy = experiments.run_toy(iterations=100 if args.fast else 600)
    print(
        "toy (R 1:2, alpha 0.5): target "
        + " ".join(f"{v:.3f}" for v in toy["target"])
        + "; "
        + "; ".join(f"{m} {toy[m][0]:.3f} {toy[m][1]:.3f}" for m in toy if m != "target")
    )

    def report(r):
        f = r["final"]
        print(
            f"alpha {r['alpha']} seed {r['seed']} {r['method']:>4}: L1 {f['l1']:.3f}  "
            f"H/H* {f['entropy_ratio']:.3f}  top-100 {f['top_k_mean']:.3f}  modes "
            f"{f['modes_found']}  ({r['seconds']:.0f} s)",
            flush=True,
        )

    result = experiments.run_headline(hc, progress=not args.no_progress, on_result=report)
    seconds = time.perf_counter() - start
    summary = experiments.summarize(result["runs"])
    table = experiments.table_markdown(summary, result["attainability"])
    print(table)

    figures = {}
    for alpha in hc.alphas:
        floor = {"l1": result["attainability"][str(alpha)]["l1_deconvolved"]}
        figures[f"curves_alpha{alpha}.png"] = plots.training_curves(
            experiments.histories(result["runs"], alpha),
            metrics=("l1", "entropy_ratio", "expected_modes"),
            floors=floor,
        )
        figures[f"bars_alpha{alpha}.png"] = plots.method_bars(summary[str(alpha)], floors=floor)
    if len(hc.alphas) > 1:
        by_method = {m: {a: summary[str(a)][m]["l1"] for a in hc.alphas} for m in hc.methods}
        floors = {a: result["attainability"][str(a)]["l1_deconvolved"] for a in hc.alphas}
        figures["l1_vs_alpha.png"] = plots.sweep(by_method, "alpha", "l1", floors=floors)
    for name, fig in figures.items():
        fig.savefig(os.path.join(args.out, name), dpi=120)

    with open(os.path.join(args.out, "table.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    doc = {
        "config": {**dataclasses.asdict(hc), "fast": args.fast, "full": args.full},
        "toy": toy,
        "summary": summary,
        "attainability": result["attainability"],
        "target": result["target"],
        "runs": result["runs"],
        "seconds": seconds,
        "figures": sorted(figures),
    }
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    print(f"{len(result['runs'])} runs in {seconds:.0f} s; wrote {args.out}/"
          f"{{{', '.join(sorted(figures))}, table.md, summary.json}}")  # fmt: skip
    return 0
