"""The chapter's experiments: the one-step toy and the TF-Bind-8 headline, evaluated exactly.

* :func:`run_toy`: one token out of two, rewards 1 : 2, sticky probability 1/2 (the source
  paper's motivating example). The target is (1/3, 2/3); a GFlowNet that ignores the
  stochasticity learns the intended policy (1/3, 2/3) and realizes (5/12, 7/12).
* :func:`run_headline`: stochastic DB (learned dynamics) against DB, TB and ZVar that
  ignore the stochasticity, on TF-Bind-8 at several alpha, several seeds, the same budget
  (iterations, batch, network) for every method. Every ``eval_every`` iterations the
  sampler's exact distribution over all 65,536 sequences is computed (``metrics``) and
  scored: L1 to the target R^beta / Z, entropy ratio, KL, top-100 reward and modes found
  among 2048 samples, expected modes.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data, metrics, train
from .envs import StickySequenceEnv

REPORTED = ("l1", "entropy_ratio", "kl_forward", "top_k_mean", "modes_found", "expected_modes",
            "expected_reward", "diversity")  # fmt: skip


#: method labels of the headline: ``"db-intended"`` is the source's DB baseline (intended
#: token as the action, learned P_B, no Phat); ``db``, ``tb``, ``zvar`` use the sequence tree
#: (the appended token is the action, P_B = 1); ``sdb`` learns the dynamics.
METHODS = ("sdb", "db-intended", "db", "tb", "zvar")


def method_settings(label):
    """``TrainConfig`` fields of a method label: ``"tb"``, ``"db-intended"``, ``"sdb"``,
    ``"sdb-known"`` (SDB with the true sticky kernel instead of the learned dynamics)."""
    method, _, suffix = label.partition("-")
    if method == "sdb" and suffix in ("", "known"):
        return {"method": "sdb", "actions": "intended",
                "dynamics": "known" if suffix else "on-policy"}  # fmt: skip
    if method in train.METHODS and suffix in ("", "intended", "realized"):
        return {"method": method, "actions": suffix or "realized"}
    raise ValueError(f"method: expected a label like 'tb', 'db-intended' or 'sdb-known', "
                     f"got {label!r}")  # fmt: skip


@dataclass(frozen=True)
class HeadlineConfig:
    methods: tuple = METHODS
    alphas: tuple = (0.1, 0.25)
    seeds: tuple = (0, 1, 2)
    iterations: int = 2500
    eval_every: int = 500
    hidden: int = 256
    depth: int = 2
    beta: float = 3.0
    lr: float = 1e-3
    batch_online: int = 16
    batch_offline: int = 16
    epsilon: float = 0.001
    n_samples: int = 2048
    top_k: int = 100


def headline_config(fast=False, full=False, **overrides):
    """Default: alpha 0.1 and 0.25, one seed, 1000 iterations. ``full``: three seeds and
    2500 iterations. ``fast``: a preview (alpha 0.1, one seed, 40 iterations, width 64)."""
    if fast and full:
        raise ValueError("fast, full: choose at most one")
    if fast:
        base = dict(alphas=(0.1,), seeds=(0,), iterations=40, eval_every=20, hidden=64,
                    n_samples=512)  # fmt: skip
    elif full:
        base = {}
    else:
        base = dict(seeds=(0,), iterations=1000, eval_every=250)
    return HeadlineConfig(**{**base, **overrides})


def train_config(hc, label, alpha, seed):
    return train.TrainConfig(
        **method_settings(label), alpha=alpha, iterations=hc.iterations,
        hidden=hc.hidden, depth=hc.depth, beta=hc.beta, lr=hc.lr,
        batch_online=hc.batch_online, batch_offline=hc.batch_offline, epsilon=hc.epsilon,
        seed=seed,
    )  # fmt: skip


def evaluate_policy(params, scores, alpha, beta, rng, modes, n_samples=2048, k=100):
    """Exact metrics of the sampler ``pi`` under the sticky dynamics (``metrics.evaluate``)."""
    L, V = data.LENGTH, data.VOCAB
    log_p = metrics.terminal_log_probs(train.make_log_policy(params, L, V), alpha, L, V)
    return metrics.evaluate(log_p, scores, alpha, beta, rng, n_samples=n_samples, k=k,
                            modes=modes), log_p  # fmt: skip


def run_one(hc, method, alpha, seed, scores, offline, modes, progress=False):
    """One training run with exact evaluations along the way. Returns a JSON-able dict."""
    config = train_config(hc, method, alpha, seed)
    curve = {"step": [], **{m: [] for m in REPORTED}}
    eval_rng = np.random.default_rng(10_000 + seed)

    def record(step, params):
        ev, _ = evaluate_policy(params, scores, alpha, hc.beta, eval_rng, modes,
                                hc.n_samples, hc.top_k)  # fmt: skip
        curve["step"].append(step)
        for m in REPORTED:
            curve[m].append(ev[m])
        return ev

    def callback(it, state):
        if (it + 1) % hc.eval_every == 0 and it + 1 < hc.iterations:
            record(it + 1, state.policy)

    start = time.perf_counter()
    state0 = train.init_state(config, data.LENGTH, data.VOCAB, np.random.default_rng(seed))
    record(0, state0.policy)
    state = train.train(config, scores, offline, progress=progress, callback=callback,
                        state=state0)  # fmt: skip
    final = record(hc.iterations, state.policy)
    seconds = time.perf_counter() - start
    last_loss = float(np.mean(state.history["loss"][-50:]))
    out = {"method": method, "alpha": alpha, "seed": seed, "final": final, "curve": curve,
           "seconds": seconds, "last_loss": last_loss}  # fmt: skip
    if config.method == "sdb":
        rng = np.random.default_rng(seed)
        env_batch = StickySequenceEnv(alpha).rollout(
            train.make_log_policy(state.policy, data.LENGTH, data.VOCAB), 256, rng
        )
        out["dynamics_kl_to_true_kernel"] = train.learned_kernel_error(
            state, env_batch.realized, env_batch.intended, alpha, data.VOCAB
        )
    return out, state


def run_headline(hc, progress=True, on_result=None):
    """Every (alpha, method, seed) of ``hc``. Returns ``{"config", "runs", "attainability"}``;
    ``on_result(run)`` is called after each run (to print or save partial results)."""
    scores = data.load_scores()
    offline = data.offline_codes(scores)
    modes = metrics.local_maxima(scores)
    p_star = metrics.target_distribution(scores, hc.beta)
    attain = {str(a): metrics.attainability(p_star, a) for a in hc.alphas}
    runs = []
    for alpha in hc.alphas:
        for seed in hc.seeds:
            for method in hc.methods:
                run, _ = run_one(hc, method, alpha, seed, scores, offline, modes, progress)
                runs.append(run)
                if on_result is not None:
                    on_result(run)
    target = {"entropy": metrics.entropy(p_star), "num_modes": int(modes.size)}
    return {"config": dataclasses.asdict(hc), "runs": runs, "attainability": attain,
            "target": target}  # fmt: skip


def summarize(runs):
    """``{alpha: {method: {metric: [value per seed]}}}`` of the final evaluations."""
    out = {}
    for r in runs:
        per = out.setdefault(str(r["alpha"]), {}).setdefault(r["method"], {})
        for m in REPORTED:
            per.setdefault(m, []).append(r["final"][m])
    return out


def histories(runs, alpha):
    """``{method: {"step", metric: (seeds, S)}}`` for ``plots.training_curves``."""
    out = {}
    for r in runs:
        if r["alpha"] != alpha:
            continue
        h = out.setdefault(r["method"], {"step": r["curve"]["step"]})
        for m in REPORTED:
            h.setdefault(m, []).append(r["curve"][m])
    return out


TABLE_COLUMNS = ("l1", "entropy_ratio", "kl_forward", "top_k_mean", "modes_found",
                 "expected_modes")  # fmt: skip


def table_markdown(summary, attainability=None, cols=TABLE_COLUMNS):
    """A Markdown table: mean +- std (population sd) over seeds per (alpha, method), from
    the per-seed values of ``summary`` (:func:`summarize`); ``cols`` start with ``"l1"``."""
    if not cols or cols[0] != "l1":
        raise ValueError(f"cols: expected metric names starting with 'l1', got {cols!r}")
    head = "| alpha | method | seeds | " + " | ".join(cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 3)]
    for alpha, by_method in summary.items():
        for method, vals in by_method.items():
            cells = []
            for c in cols:
                v = np.asarray(vals[c], dtype=float)
                cells.append(f"{v.mean():.3f} ± {v.std():.3f}" if v.size > 1 else f"{v[0]:.3f}")
            lines.append(f"| {alpha} | {method} | {len(vals['l1'])} | " + " | ".join(cells) + " |")
        if attainability and alpha in attainability:
            a = attainability[alpha]
            lines.append(
                f"| {alpha} | reference: pi = deconvolved target | - | "
                f"{a['l1_deconvolved']:.4f} |" + "  |" * (len(cols) - 1)
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------- toy


def run_toy(methods=("sdb", "db-intended", "tb"), alpha=0.5, rewards=(1.0, 2.0), iterations=600,
            seed=0, progress=False):  # fmt: skip
    """The one-step example: V = 2 tokens, L = 1, sticky probability ``alpha``.

    Returns ``{"target": p*, method: realized distribution (1 - alpha) pi + alpha / V}``.
    """
    R = np.asarray(rewards, dtype=float)
    out = {"target": (R / R.sum()).tolist()}
    for label in methods:
        config = train.TrainConfig(
            **method_settings(label), alpha=alpha, iterations=iterations, hidden=16,
            depth=1, lr=1e-2, lr_dynamics=1e-2, batch_online=32, batch_offline=0,
            epsilon=0.0, beta=1.0, seed=seed,
        )  # fmt: skip
        state = train.train(config, R, None, length=1, vocab=2, progress=progress)
        log_pi = train.make_log_policy(state.policy, 1, 2)(np.zeros((1, 0), dtype=np.int64))
        pi = np.exp(log_pi[0] - np.logaddexp.reduce(log_pi[0]))
        out[label] = ((1 - alpha) * pi + alpha / 2).tolist()
    return out


# --------------------------------------------------------------------------- reference fit


def fit_target_policy(alpha, beta=3.0, iterations=2500, batch=32, hidden=256, depth=2, lr=1e-3,
                      clip=10.0, seed=0, eval_every=None):  # fmt: skip
    """A supervised yardstick for the headline: the same policy network, batch, optimiser
    and number of steps, but trained by cross-entropy against the *known* answer.

    Each step draws ``batch`` sequences from the target p* = R^beta / Z and fits pi at every
    prefix to the deconvolved target conditional ``max(p*(. | s) - alpha / V, 0)``
    (renormalised), the intended-token policy whose sticky mixture is closest to p*. Its
    exact L1 after the same budget shows how much of a GFlowNet's L1 is the budget and the
    network rather than the objective. Returns ``{"step": [...], "l1": [...]}``.
    """
    from reference import nn

    from . import models

    L, V = data.LENGTH, data.VOCAB
    scores = data.load_scores()
    p_star = metrics.target_distribution(scores, beta)
    d = [np.maximum(c - alpha / V, 0.0) for c in metrics.conditionals(p_star, L, V)]
    d = [x / x.sum(axis=1, keepdims=True) for x in d]
    rng = np.random.default_rng(seed)
    params = models.init_policy(L, V, hidden, depth, rng)
    opt = nn.Adam(lr=lr)
    state = opt.init(params)
    place = [V ** np.arange(t - 1, -1, -1) for t in range(L)]
    eval_every = eval_every or max(1, iterations // 5)
    curve = {"step": [], "l1": []}

    def record(step):
        log_p = metrics.terminal_log_probs(train.make_log_policy(params, L, V), alpha, L, V)
        curve["step"].append(step)
        curve["l1"].append(metrics.l1_distance(np.exp(log_p), p_star))

    record(0)
    for it in range(iterations):
        seq = data.code_to_sequence(metrics.sample_codes(p_star, batch, rng), L, V)
        codes = models.encode_prefixes(seq, L, V)[:-1]  # prefixes 0..L-1
        target = np.stack([d[t][seq[:, :t] @ place[t]] for t in range(L)])  # (L, B, V)
        fwd, _, _, cache = models.policy_forward(params, codes)
        p = nn.softmax(fwd)
        d_fwd = (p - target) / batch  # CE(target, softmax(fwd)) summed over t, mean over b
        grads, _ = nn.clip_grad_norm(models.policy_backward(params, cache, d_fwd, None, None),
                                     clip)  # fmt: skip
        params, state = opt.step(params, grads, state)
        if (it + 1) % eval_every == 0:
            record(it + 1)
    return curve


# --------------------------------------------------------------------------- committed results

#: committed runs of the full headline (``results/<name>.json``, :func:`compact_results` format)
RESULTS = Path(__file__).parent / "results"
RUN_KEYS = ("method", "alpha", "seed", "final", "curve", "seconds", "last_loss")
FINAL_KEYS = REPORTED + ("entropy", "kl_reverse")


def _rounded(data, digits=5):
    """``data`` with every float rounded to ``digits`` significant digits (smaller JSON)."""
    if isinstance(data, dict):
        return {k: _rounded(v, digits) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_rounded(v, digits) for v in data]
    if isinstance(data, float) and data != 0.0 and np.isfinite(data):
        return float(f"{data:.{digits}g}")
    return data


def compact_results(doc, provenance, digits=5):
    """The part of a ``summary.json`` (written by ``python -m reference gflownet``) that a
    table and a figure need: config, per-run final metrics and curves, attainability and
    target, floats rounded to ``digits`` significant digits. The per-(alpha, method) table is
    *not* stored: :func:`summarize` recomputes it from the per-seed values. ``provenance``:
    ``{"command", "commit", "date", "wall_seconds", ...}``. The dynamics error is kept only
    for ``sdb`` (the oracle ``sdb-known`` never trains its dynamics network)."""
    missing = {"command", "commit", "date", "wall_seconds"} - set(provenance)
    if missing:
        raise ValueError(f"provenance: missing {sorted(missing)}")
    runs = []
    for r in doc["runs"]:
        run = {k: r[k] for k in RUN_KEYS}
        run["final"] = {k: r["final"][k] for k in FINAL_KEYS}
        if r["method"] == "sdb":
            run["dynamics_kl_to_true_kernel"] = r["dynamics_kl_to_true_kernel"]
        runs.append(run)
    out = {"provenance": dict(provenance), "config": doc["config"], "runs": runs,
           "attainability": doc["attainability"], "target": doc["target"]}  # fmt: skip
    return _rounded(out, digits)


def load_results(name, folder=None):
    """The committed results ``<folder>/<name>.json`` (default folder :data:`RESULTS`), or
    ``None`` if there are none."""
    path = Path(folder or RESULTS) / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


#: the chapter's table: exact L1, entropy ratio, top-100 reward and modes found
RESULT_COLUMNS = ("l1", "entropy_ratio", "top_k_mean", "modes_found")


def results_markdown(doc, cols=RESULT_COLUMNS):
    """The table of committed results ``doc`` (:func:`load_results`), recomputed from its
    per-seed values, with the command that produced them."""
    p = doc["provenance"]
    table = table_markdown(summarize(doc["runs"]), doc["attainability"], cols)
    return (f"{table}\n\nmean ± sd over seeds; `{p['command']}` (commit {p['commit'][:10]}, "
            f"{p['date']}, {p['wall_seconds']} s)\n")  # fmt: skip
