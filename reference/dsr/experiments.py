"""Chapter 3 experiments, shared by the chapter and ``python -m reference dsr``.

* :func:`config` -- the Lorenz-63 reconstruction in three sizes: ``fast`` (seconds, tests),
  the default (a book-sized demo) and ``full`` (the headline run, about 3 minutes on two
  quiet cores; committed in ``results/``, loaded by :func:`load_full_result`);
* :func:`run` -- simulate train/validation/test data, train, monitor D_stsp and D_H on the
  validation series during training (and, with ``select_best``, keep the parameters with the
  lowest ``D_stsp + 10 D_H`` there: early stopping on held-out data), then evaluate the
  fixed-length protocol (generate 1.25 T from the first test point, drop 0.25 T) at every
  length in ``eval_lengths``, next to the ground-truth floor at the same lengths and the
  authors' pretrained AL-RNN evaluated by the same code (its weights ship with the package,
  ``results/pretrained_alrnn_m20_p2.npz``; see :func:`pretrained_alrnn`);
* :func:`gradient_norms_vs_length` -- the gradient norm of loss (3.10) against the window
  length for free running, sparse and generalized teacher forcing (the "exploding gradients"
  figure).
"""

from __future__ import annotations

import os
import pathlib
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from reference.dsr import data, forcing, metrics, models
from reference.dsr.train import TrainConfig, train

DT = 0.01  # Lorenz-63 sampling step of the data sets
LAMBDA_MAX_LORENZ = 0.906  # largest Lyapunov exponent of Lorenz-63 per unit time
RESULTS = pathlib.Path(__file__).resolve().parent / "results"  # committed headline run
PRETRAINED = RESULTS / "pretrained_alrnn_m20_p2.npz"  # the authors' AL-RNN, package data


@dataclass(frozen=True)
class ExperimentConfig:
    """One Lorenz-63 reconstruction: model, training recipe, data and evaluation lengths."""

    model: str = "clipped_shPLRNN"
    latent_dim: int = 3
    hyper: tuple = (("hidden_dim", 50),)
    train: TrainConfig = field(default_factory=TrainConfig)
    n_train: int = 100_000
    n_test: int = 100_000
    noise: float = 0.0
    eval_lengths: tuple = (10_000, 100_000)
    monitor_every: int = 50
    monitor_length: int = 10_000
    data_seed: int = 1
    test_seed: int = 2
    floor_seed: int = 3
    val_seed: int = 4
    select_best: bool = True
    restarts: int = 1
    workers: int = 1

    def __post_init__(self):
        for name in ("restarts", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if max(self.eval_lengths) > self.n_test or self.monitor_length > self.n_test:
            raise ValueError(
                f"eval_lengths: every length must be <= n_test = {self.n_test}, got "
                f"{self.eval_lengths} (monitor_length {self.monitor_length})"
            )

    def build_model(self):
        return models.from_config(self.model, self.latent_dim, 3, **dict(self.hyper))


#: The two training recipes: the GTF paper's (clipped shPLRNN, adaptive GTF) and the ALRNN
#: paper's (M = 20, P = 2, sparse forcing tau = 16 with 5 % noise on the training windows).
RECIPES = {
    "shplrnn": {
        "model": "clipped_shPLRNN",
        "latent_dim": 3,
        "hyper": (("hidden_dim", 50),),
        "train": TrainConfig(tau=1, alpha=1.0, adaptive_alpha=True, lr_end=1e-5),
    },
    "alrnn": {
        "model": "ALRNN",
        "latent_dim": 20,
        "hyper": (("num_relus", 2),),
        "train": TrainConfig(tau=16, noise=0.05, lr_end=1e-5),
    },
}


def config(fast=False, full=False, recipe="shplrnn", **overrides):
    """The chapter's configurations (``overrides`` replace fields of the result).

    ``recipe="shplrnn"`` (the default) trains a clipped shallow PLRNN (M = 3, L = 50, every
    unit observed) with adaptive generalized teacher forcing (alpha from the product bound
    (3.14), annealed by (3.15), starting at 1); ``recipe="alrnn"`` an ALRNN (M = 20, P = 2)
    with sparse teacher forcing (tau = 16, 5 % window noise). Both use RAdam with the
    learning rate decaying from 1e-3 to 1e-5, 50 batches of 16 windows of length 200 per
    epoch, and:

    * ``full``: two independent runs (seeds ``seed`` and ``seed + 1``) of 1000 epochs each,
      one per core (the headline run), validated on a series as long as the longest test
      length (10^5), keeping the best parameters of both: a model can look right for 10^4
      steps and then collapse onto a cycle, which only a long validation orbit reveals, and
      some seeds never leave such models (measured: seed 1 of a single 1000-epoch run);
    * default: 150 epochs (the book's demo, a few minutes);
    * ``fast``: 4 epochs of 5 batches of 8 windows of length 50, a narrower model (L = 10 or
      M = 8), short series (seconds; tests).
    """
    if fast and full:
        raise ValueError("fast, full: choose at most one")
    if recipe not in RECIPES:
        raise ValueError(f"recipe: expected one of {sorted(RECIPES)}, got {recipe!r}")
    base = dict(RECIPES[recipe])
    train_recipe = base.pop("train")
    if full:
        cfg = ExperimentConfig(**base, train=replace(train_recipe, epochs=1000), restarts=2,
                               workers=2, monitor_every=50, monitor_length=100_000)  # fmt: skip
    elif fast:
        small = {"hyper": (("hidden_dim", 10),)} if recipe == "shplrnn" else {"latent_dim": 8}
        cfg = ExperimentConfig(
            **{**base, **small},
            train=replace(train_recipe, epochs=4, batches_per_epoch=5, batch_size=8, seq_len=50),
            n_train=3000,
            n_test=3000,
            eval_lengths=(2000,),
            monitor_every=2,
            monitor_length=1000,
        )
    else:
        cfg = ExperimentConfig(**base, train=replace(train_recipe, epochs=150),
                               eval_lengths=(10_000,), n_test=20_000, monitor_every=25)  # fmt: skip
    train_fields = {
        k: overrides.pop(k) for k in list(overrides) if k in TrainConfig.__dataclass_fields__
    }
    if train_fields:
        overrides["train"] = replace(cfg.train, **train_fields)
    return replace(cfg, **overrides)


@dataclass
class Run:
    """What :func:`run` returns."""

    config: ExperimentConfig
    model: object
    params: dict
    params0: dict
    result: object
    monitor: dict
    evaluation: dict
    floors: dict
    pretrained: dict
    lyapunov: np.ndarray
    x_test: np.ndarray
    x_gen: np.ndarray
    seconds: float
    results: list = field(default_factory=list)

    def summary(self):
        return {
            "config": asdict(self.config),
            "num_params": self.model.num_params(),
            "train_seconds": self.result.seconds,
            "train_seconds_per_run": [r.seconds for r in self.results],
            "diverged": self.result.diverged,
            "final_epoch_loss": float(self.result.history["epoch_loss"][-1]),
            "evaluation": self.evaluation,
            "ground_truth_floor": self.floors,
            "pretrained_alrnn_m20_p2": self.pretrained,
            "monitor": {
                k: v if isinstance(v, dict) else np.asarray(v).tolist()
                for k, v in self.monitor.items()
            },  # fmt: skip
            "lyapunov_per_time_unit": (np.asarray(self.lyapunov) / DT).tolist(),
            "lyapunov_max_true": LAMBDA_MAX_LORENZ,
            "seconds": self.seconds,
        }


def lorenz_data(cfg):
    """``(x_train, x_test, x_floor)``: three independent standardised Lorenz-63 series."""
    x_train = data.lorenz63(cfg.n_train, np.random.default_rng(cfg.data_seed), noise=cfg.noise)
    x_test = data.lorenz63(cfg.n_test, np.random.default_rng(cfg.test_seed))
    x_floor = data.lorenz63(cfg.n_test, np.random.default_rng(cfg.floor_seed))
    return x_train, x_test, x_floor


def evaluate_lengths(model, params, x_test, lengths):
    """``{T: {"D_stsp", "D_H", "PE"}}`` of the protocol at each test length T."""
    out = {}
    for T in lengths:
        r = metrics.evaluate(model, params, x_test[:T])
        out[str(T)] = {k: float(r[k]) for k in ("D_stsp", "D_H", "PE")}
    return out


def pretrained_alrnn(path=None):
    """The authors' pretrained M = 20, P = 2 AL-RNN as ``(model, params)``.

    Reads :data:`PRETRAINED` (``results/pretrained_alrnn_m20_p2.npz``, installed with the
    package; provenance in ``results/README.md``) or ``path``, any ``.npz`` with the arrays
    ``pretrained_lorenz_m20_p2__{A,W,h,B,P}`` (``tests/golden/dsr_pretrained_alrnn.npz``,
    the file it was copied from, is one). Returns None when the file does not exist, so a
    run without the anchor still completes (its summary then has no pretrained entries).
    """
    path = pathlib.Path(path) if path else PRETRAINED
    if not path.exists():
        return None
    tag = "pretrained_lorenz_m20_p2__"
    with np.load(path) as f:
        A, W, h, B, P = (f[tag + k] for k in "AWhBP")
    model = models.ALRNN(A.size, 3, int(P))
    return model, {"A": A, "W": W.T, "h": h, "B": B}  # their W acts on column vectors


def train_monitored(cfg, restart, x_train, x_val, progress=True, checkpoint_path=None):
    """One training run (seed ``cfg.train.seed + restart``) with D_stsp and D_H monitored on
    ``x_val`` every ``monitor_every`` epochs. Returns ``(init, result, monitor, best)`` where
    ``best = {"score", "params", "epoch"}`` has the lowest ``D_stsp + 10 D_H`` seen."""
    model = cfg.build_model()
    tcfg = replace(cfg.train, seed=cfg.train.seed + restart)
    monitor = {"restart": [], "epoch": [], "D_stsp": [], "D_H": [], "alpha": []}
    best = {"score": np.inf, "params": None, "epoch": 0}

    def record(epoch, params, alpha):
        if epoch % cfg.monitor_every and epoch != tcfg.epochs:
            return
        r = metrics.evaluate(model, params, x_val)
        for key, value in (("restart", restart), ("epoch", epoch), ("D_stsp", r["D_stsp"]),
                           ("D_H", r["D_H"]), ("alpha", alpha)):  # fmt: skip
            monitor[key].append(value if key in ("restart", "epoch") else float(value))
        score = r["D_stsp"] + 10.0 * r["D_H"]
        if np.isfinite(score) and score < best["score"]:
            best.update(score=float(score), params={k: v.copy() for k, v in params.items()},
                        epoch=epoch)  # fmt: skip

    init = model.init_params(np.random.default_rng(tcfg.seed))
    result = train(model, init, x_train, tcfg, progress=progress,
                   checkpoint_path=checkpoint_path, callback=record)  # fmt: skip
    return init, result, monitor, best


def run(cfg, progress=True, checkpoint_path=None):
    """Train and evaluate one configuration (see the module docstring); returns a Run.

    With ``cfg.restarts > 1`` the runs are independent; ``cfg.workers > 1`` trains them in
    that many worker processes at once (one core each)."""
    start = time.perf_counter()
    x_train, x_test, x_floor = lorenz_data(cfg)
    x_val = data.lorenz63(cfg.monitor_length, np.random.default_rng(cfg.val_seed))
    model = cfg.build_model()
    paths = [checkpoint_path] * cfg.restarts
    if checkpoint_path is not None and cfg.restarts > 1:
        stem = str(checkpoint_path).replace(".npz", "")
        paths = [f"{stem}_restart{r}.npz" for r in range(cfg.restarts)]
    jobs = [(cfg, r, x_train, x_val, progress and cfg.workers == 1, paths[r])
            for r in range(cfg.restarts)]  # fmt: skip
    if cfg.workers > 1 and cfg.restarts > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # no forked BLAS or numba state
        with ProcessPoolExecutor(min(cfg.workers, cfg.restarts), mp_context=ctx) as pool:
            outs = list(pool.map(train_monitored, *zip(*jobs, strict=True)))
    else:
        outs = [train_monitored(*job) for job in jobs]
    monitor = {k: [v for out in outs for v in out[2][k]] for k in outs[0][2]}
    inits = [out[0] for out in outs]
    results = [out[1] for out in outs]
    scores = [out[3]["score"] for out in outs]
    chosen = int(np.argmin(scores))
    if cfg.select_best and outs[chosen][3]["params"] is not None:
        params = outs[chosen][3]["params"]
        monitor["selected_epoch"] = outs[chosen][3]["epoch"]
    else:
        chosen, params = cfg.restarts - 1, results[-1].params
        monitor["selected_epoch"] = len(results[-1].history["epoch_loss"])
    monitor["selected_restart"] = chosen
    result, params0 = results[chosen], inits[chosen]
    evaluation = evaluate_lengths(model, params, x_test, cfg.eval_lengths)
    floors = {str(T): metrics.ground_truth_floor(x_test[:T], x_floor[:T])
              for T in cfg.eval_lengths}  # fmt: skip
    monitor["floor"] = metrics.ground_truth_floor(x_val, x_floor[: cfg.monitor_length])
    anchor = pretrained_alrnn()
    pretrained = {} if anchor is None else evaluate_lengths(*anchor, x_test, cfg.eval_lengths)
    T = max(cfg.eval_lengths)
    x_gen = metrics.evaluate(model, params, x_test[:T])["x_gen"]
    z0 = model.initial_state(params, x_test[:1])
    n_lyap = 20_000 if cfg.n_test >= 10_000 else 200  # 200 time units at dt = 0.01
    try:
        lyap = metrics.lyapunov_spectrum(model, params, z0[0], n_lyap, n_transient=500)
    except ValueError:
        lyap = np.full(model.M, np.nan)
    return Run(cfg, model, params, params0, result, monitor, evaluation, floors, pretrained,
               lyap, x_test[:T], x_gen, time.perf_counter() - start, results)  # fmt: skip


def load_full_result(name="lorenz63_full"):
    """The committed headline run (``results/<name>.json`` + ``<name>_model.npz``, written by
    ``python -m reference dsr --full``; see ``results/README.md``).

    Returns ``(cfg, model, params, summary)``: the run's :class:`ExperimentConfig` (so the
    data it was evaluated on can be regenerated with :func:`lorenz_data`), the model, the
    selected parameters and the stored summary dict.
    """
    import json

    from reference import io

    summary = json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))
    fields = dict(summary["config"])
    fields["train"] = TrainConfig(**fields["train"])
    for key in ("hyper", "eval_lengths"):
        fields[key] = tuple(tuple(v) if isinstance(v, list) else v for v in fields[key])
    cfg = ExperimentConfig(**fields)
    tree, _ = io.load(RESULTS / f"{name}_model.npz")
    return cfg, cfg.build_model(), tree["params"], summary


def gradient_norms_vs_length(model, params, x, lengths, schemes, batch=8, seed=0):
    """``{label: (len(lengths),)}``: norm of the gradient of (3.10) w.r.t. all parameters for
    windows of each length; ``schemes = {label: (alpha, tau)}`` (free: ``(1.0, huge)``)."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, x.shape[0] - max(lengths) - 1, size=batch)
    out = {label: np.empty(len(lengths)) for label in schemes}
    for i, T in enumerate(lengths):
        w = x[starts[:, None] + np.arange(T + 1)[None, :]]
        for label, (alpha, tau) in schemes.items():
            _, g, _ = forcing.forced_rollout_loss(model, params, w[:, :-1], w[:, 1:], alpha, tau)
            out[label][i] = float(np.sqrt(sum(np.sum(v * v) for v in g.values())))
    return out


def fast_mode() -> bool:
    """True when the environment asks for small runs (``REFERENCE_FAST=1``)."""
    return os.environ.get("REFERENCE_FAST") == "1"
