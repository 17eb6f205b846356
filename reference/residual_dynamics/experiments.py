"""Chapter 1 experiments, shared by the chapter and ``python -m reference residual-dynamics``.

Everything here is a thin layer over :mod:`~reference.residual_dynamics.model` and
:func:`~reference.residual_dynamics.train.train`:

* :func:`source_config` -- the source notebook's configuration (or a small one for tests);
* :func:`setup` -- initial parameters, alpha and inputs, all drawn from one seed;
* :func:`run_source` -- train it, recording the two parts of the loss every few steps;
* :func:`entropy_ablation` -- the same run for several entropy weights;
* :func:`diagnostics` -- mean ``sum g^2`` and mean entropy (the two parts of eq. 1.6),
  overall and per time step, for one set of parameters.

The training loop records the loss and the gradient norm at every step; the two parts of the
loss are evaluated with :func:`diagnostics` every ``record_every`` steps through ``train``'s
``callback``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np

from reference import backend
from reference.residual_dynamics import model
from reference.residual_dynamics.train import TrainResult, train

#: The losses the source notebook printed at steps 0, 50, 100, 150 (its own random init).
SOURCE_LOSSES = {0: 0.3087, 50: -0.0112, 100: -0.0411, 150: -0.0641}


@dataclass(frozen=True)
class SourceConfig:
    """Sizes and optimiser settings of one run; the defaults are the source notebook's."""

    T: int = 360
    m: int = 3
    B: int = 32
    H: int = 64
    steps: int = 200
    lr: float = 1e-3
    max_norm: float = 1.0
    seed: int = 0
    record_every: int = 10

    def __post_init__(self):
        for name in ("T", "B", "H", "steps", "record_every"):
            value = getattr(self, name)
            if int(value) != value or value < (0 if name == "steps" else 1):
                raise ValueError(f"{name}: expected a positive integer, got {value}")
        if int(self.m) != self.m or self.m < 2:
            raise ValueError(f"m: expected an integer >= 2, got {self.m}")


def fast_mode() -> bool:
    """True when the environment asks for small runs (``REFERENCE_FAST=1``, used by the tests)."""
    return os.environ.get("REFERENCE_FAST") == "1"


def source_config(fast: bool = False, **overrides) -> SourceConfig:
    """The source configuration (T=360, m=3, B=32, H=64, 200 Adam steps at lr 1e-3).

    ``fast=True`` shrinks it to T=60, B=8, 20 steps (seconds, for tests and previews).
    Keyword ``overrides`` replace single fields, e.g. ``source_config(steps=50)``.
    """
    config = SourceConfig(T=60, B=8, steps=20, record_every=5) if fast else SourceConfig()
    return replace(config, **overrides)


def setup(config: SourceConfig, dtype="float64"):
    """``(params, alpha, inputs)`` for ``config``: one seed draws the weights, then the inputs.

    ``inputs = (N0, g0, ys, rs)``; alpha is the source's ``linspace(0.1, 0.9, m)``. Runs with
    the same seed share weights and inputs, so they differ only in what the caller changes.
    """
    rng = np.random.default_rng(config.seed)
    params = model.init_params(config.m, config.H, rng, dtype)
    inputs = model.make_inputs(config.T, config.B, config.m, rng, dtype)
    return params, model.default_alpha(config.m, dtype), inputs


def diagnostics(params, alpha, inputs, entropy_weight=model.ENTROPY_WEIGHT):
    """The two parts of the loss (1.6) for one set of parameters.

    Returns a dict with the scalars ``loss``, ``mean_g2`` (mean over t, b of ``sum_m g^2``),
    ``mean_entropy`` (mean of H(N_t)), the per-time-step curves ``g2_t`` and ``entropy_t``
    (``(T,)``, averaged over the batch) and the states ``Ns``, ``gs`` (``(T, B, m)``).
    """
    Ns, gs, _ = model.forward(params, alpha, *inputs)
    mean_g2 = model.objective(Ns, gs, entropy_weight=0.0)  # the g part of eq. (1.6)
    H = model.entropy(Ns)  # (T, B)
    out = {
        "loss": float(mean_g2) - entropy_weight * float(np.mean(backend.asnumpy(H))),
        "mean_g2": float(mean_g2),
        "mean_entropy": float(np.mean(backend.asnumpy(H))),
        "g2_t": np.mean(np.sum(backend.asnumpy(gs) ** 2, axis=-1), axis=1),
        "entropy_t": np.mean(backend.asnumpy(H), axis=1),
        "Ns": backend.asnumpy(Ns),
        "gs": backend.asnumpy(gs),
    }
    return out


@dataclass
class SourceRun:
    """One training run: the :class:`TrainResult`, its inputs and what was recorded.

    ``curves`` holds ``step`` (the number of updates done), ``loss``, ``mean_g2`` and
    ``mean_entropy`` at every ``record_every`` steps and at the end; ``initial`` and ``final``
    are :func:`diagnostics` of the first and last parameters.
    """

    config: SourceConfig
    result: TrainResult
    inputs: tuple
    params0: dict
    alpha0: object
    entropy_weight: float
    learn_alpha: bool
    curves: dict = field(default_factory=dict)
    initial: dict = field(default_factory=dict)
    final: dict = field(default_factory=dict)


def run_source(
    config: SourceConfig,
    kernel="numba",
    learn_alpha=False,
    entropy_weight=model.ENTROPY_WEIGHT,
    progress=True,
    checkpoint_path=None,
):
    """Train the source model on ``config``; returns a :class:`SourceRun`.

    :func:`diagnostics` is evaluated every ``config.record_every`` steps through ``train``'s
    callback. ``checkpoint_path`` (optional) receives the final checkpoint.
    """
    params0, alpha0, inputs = setup(config)
    recorded = {"step": [], "loss": [], "mean_g2": [], "mean_entropy": []}
    first = diagnostics(params0, alpha0, inputs, entropy_weight)
    _record(recorded, 0, first)

    def record(done, params, alpha):
        if done % config.record_every == 0 or done == config.steps:
            _record(recorded, done, diagnostics(params, alpha, inputs, entropy_weight))

    result = train(
        params0,
        alpha0,
        *inputs,
        steps=config.steps,
        lr=config.lr,
        max_norm=config.max_norm,
        kernel=kernel,
        learn_alpha=learn_alpha,
        entropy_weight=entropy_weight,
        checkpoint_path=checkpoint_path,
        checkpoint_every=max(config.steps, 1),
        progress=progress,
        callback=record,
    )
    last = diagnostics(result.params, result.alpha, inputs, entropy_weight)
    return SourceRun(
        config=config,
        result=result,
        inputs=inputs,
        params0=params0,
        alpha0=alpha0,
        entropy_weight=entropy_weight,
        learn_alpha=learn_alpha,
        curves={k: np.asarray(v) for k, v in recorded.items()},
        initial=first,
        final=last,
    )


def _record(recorded, step, diag):
    recorded["step"].append(step)
    for key in ("loss", "mean_g2", "mean_entropy"):
        recorded[key].append(diag[key])


def entropy_ablation(
    config: SourceConfig, weights=(0.0, 0.1, 1.0), kernel="numba", progress=False, reuse=None
):
    """:func:`run_source` once per entropy weight; returns ``{weight: SourceRun}``.

    All runs share the initial weights and inputs (same seed). ``reuse`` maps a weight to a
    run already done (e.g. the main run at 0.1) so it is not trained twice.
    """
    reuse = dict(reuse or {})
    runs = {}
    for w in weights:
        w = float(w)
        runs[w] = reuse.get(w) or run_source(
            config, kernel=kernel, entropy_weight=w, progress=progress
        )
    return runs


def losses_at(history_loss, steps=(0, 50, 100, 150)):
    """``{step: loss}`` at the steps the source printed, plus the last step."""
    loss = np.asarray(history_loss)
    wanted = [s for s in steps if s < len(loss)]
    if len(loss):
        wanted.append(len(loss) - 1)
    return {int(s): float(loss[s]) for s in dict.fromkeys(wanted)}
