"""``python -m reference ngc``: the chapter-5 circuit check and the ANGC comparisons.

Without options: settle the golden circuit and compare with ngc-learn, then one seed of
every agent on CartPole-v1 for a short budget. ``--fast``: the same, tiny. ``--full``: the
headline, >= 3 seeds of MountainCar-v0 (700 episodes) and CartPole-v1 (500 episodes) for
ANGC, the ANGC ablation without the epistemic term, the backprop DQN twin and a random
agent, with tables, JSON runs and figures in ``--out``.
"""

from __future__ import annotations

import json
import os
import pathlib
import time

GOLDEN = pathlib.Path(__file__).parents[2] / "tests" / "golden" / "ngc_ngclearn.npz"


def add_parser(sub):
    p = sub.add_parser(
        "ngc",
        help="chapter 5: NGC circuit check; ANGC vs DQN vs random on Gymnasium tasks",
        description="Settle the golden NGC circuit and compare with ngc-learn; run the "
        "backprop-free ANGC agent, its no-epistemic ablation, a NumPy DQN and a random agent "
        "at the same episode budget. --full: the chapter's headline (>= 3 seeds, "
        "MountainCar-v0 and CartPole-v1).",
    )
    p.add_argument("--fast", action="store_true", help="tiny networks and budgets (tests)")
    p.add_argument("--full", action="store_true", help="the headline runs (hours on 2 cores)")
    p.add_argument("--out", default=os.path.join("out", "ngc"), help="output folder")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (full: 0 1 2)")
    p.add_argument("--episodes", type=int, default=None, help="episodes per run (all tasks)")
    p.add_argument(
        "--tasks", nargs="+", default=None, help="Gymnasium ids (full: MountainCar-v0 CartPole-v1)"
    )
    p.add_argument(
        "--agents",
        nargs="+",
        default=None,
        help="subset of: ANGC | 'ANGC, no epistemic term' | 'DQN (backprop)' | random",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def run(args):
    from . import experiments

    if args.fast and args.full:
        raise SystemExit("--fast and --full: choose one")
    if args.episodes is not None and args.episodes < 1:
        raise SystemExit(f"--episodes: expected a positive integer, got {args.episodes}")
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    errs = experiments.circuit_check(GOLDEN)
    for k, v in errs.items():
        print(f"NGC circuit vs ngc-learn ({k}): max abs error {v:.1e}")

    if args.full:
        tasks = args.tasks or list(experiments.TASKS)
        seeds = args.seeds or [0, 1, 2]
        budget = {"MountainCar-v0": 700, "CartPole-v1": 500}
    elif args.fast:
        tasks, seeds, budget = args.tasks or ["CartPole-v1"], args.seeds or [0], {}
    else:
        tasks, seeds, budget = args.tasks or ["CartPole-v1"], args.seeds or [0], {}
    default = 3 if args.fast else 60
    episodes = {t: args.episodes or budget.get(t, default) for t in tasks}
    agents = tuple(args.agents) if args.agents else experiments.AGENTS
    summary = experiments.headline(
        tasks, seeds, episodes, args.out, agents, fast=args.fast, progress=not args.no_progress
    )
    for task in summary:
        print((pathlib.Path(args.out) / f"{experiments.SHORT.get(task, task)}.md").read_text())
    meta = {
        "circuit_check": errs,
        "tasks": tasks,
        "seeds": seeds,
        "episodes": episodes,
        "agents": list(agents),
        "fast": args.fast,
        "full": args.full,
        "seconds": time.perf_counter() - start,
        "summary": summary,
    }
    (pathlib.Path(args.out) / "summary.json").write_text(json.dumps(meta, indent=1, default=str))
    print(f"wrote {args.out}/ in {meta['seconds']:.0f} s")
    return 0
