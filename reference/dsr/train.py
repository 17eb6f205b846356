"""Training loop of chapter 3: random windows, teacher-forced BPTT, RAdam, exponential decay.

One epoch is ``batches_per_epoch`` updates; each update draws ``batch_size`` windows
``x_0 .. x_T~`` uniformly (with replacement) from the training series, optionally adds
Gaussian noise to the window (used as teacher and target alike), computes loss (3.10) and its
gradient with the forcing of :mod:`reference.dsr.forcing` (numba kernel or NumPy), adds the
regularisers (3.13a-c) and takes one RAdam step. The learning rate decays exponentially from
``lr_start`` at the first epoch to ``lr_end`` at the last. With ``adaptive_alpha`` the GTF
strength follows (3.14)-(3.15), re-estimated every ``alpha_every`` updates (alpha starts at
``alpha``). Training stops early if a parameter becomes non-finite.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from reference import io, nn
from reference.dsr import forcing, kernels


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train` (defaults: the ALRNN/GTF source recipes)."""

    epochs: int = 100
    batches_per_epoch: int = 50
    batch_size: int = 16
    seq_len: int = 200
    lr_start: float = 1e-3
    lr_end: float = 1e-5
    alpha: float = 1.0
    tau: int = 16
    adaptive_alpha: bool = False
    alpha_method: str = "product_upper_bound"
    alpha_every: int = 5
    noise: float = 0.0
    lam_l2: float = 0.0
    lam_mar: float = 0.0
    mar_fraction: float = 0.5
    lam_ar: float = 0.0
    ar_epsilon: float = 0.05
    max_grad_norm: float | None = None
    kernel: str = "numba"
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batches_per_epoch", "batch_size", "seq_len", "tau",
                     "alpha_every"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not 0 < self.lr_end <= self.lr_start:
            raise ValueError(
                f"lr_end: expected 0 < lr_end <= lr_start = {self.lr_start}, got {self.lr_end}"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha: expected a number in [0, 1], got {self.alpha}")
        if self.kernel not in ("numba", "numpy"):
            raise ValueError(f"kernel: expected 'numba' or 'numpy', got {self.kernel!r}")
        for name in ("noise", "lam_l2", "lam_mar", "lam_ar", "ar_epsilon"):
            value = getattr(self, name)
            if not value >= 0.0:  # also rejects NaN
                raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
        if not 0.0 <= self.mar_fraction <= 1.0:
            raise ValueError(
                f"mar_fraction: expected a number in [0, 1], got {self.mar_fraction!r}"
            )
        if self.max_grad_norm is not None and not self.max_grad_norm > 0.0:
            raise ValueError(
                f"max_grad_norm: expected None or a number > 0, got {self.max_grad_norm!r}"
            )
        if self.alpha_method not in forcing.ALPHA_METHODS:
            raise ValueError(f"alpha_method: expected one of {forcing.ALPHA_METHODS}")


@dataclass
class TrainResult:
    """Final parameters, optimiser state, history per update (``loss``, ``alpha``) and per
    epoch (``epoch_loss``, ``lr``), seconds, and whether training stopped on a NaN."""

    params: dict
    opt_state: dict
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    diverged: bool = False


def learning_rate(config, epoch):
    """Exponential decay: ``lr_start (lr_end / lr_start)^(epoch / (epochs - 1))``."""
    if config.epochs <= 1:
        return config.lr_start
    return config.lr_start * (config.lr_end / config.lr_start) ** (epoch / (config.epochs - 1))


def sample_windows(data, batch_size, seq_len, rng, noise=0.0):
    """``(x, y)``: ``batch_size`` windows of ``data: (T, N)`` as ``(batch, seq_len, N)``
    inputs and their one-step-ahead targets; start indices uniform with replacement."""
    T = data.shape[0]
    if T < seq_len + 1:
        raise ValueError(f"data: needs at least seq_len + 1 = {seq_len + 1} steps, got {T}")
    starts = rng.integers(0, T - seq_len, size=batch_size)
    windows = data[starts[:, None] + np.arange(seq_len + 1)[None, :]]
    if noise > 0:
        windows = windows + noise * rng.standard_normal(windows.shape)
    return windows[:, :-1], windows[:, 1:]


def loss_and_grads(model, params, x, y, alpha, config):
    """Loss (3.10) + regularisers (3.13) and the summed gradients."""
    if config.kernel == "numba" and kernels.supports(model):
        loss, grads, _ = kernels.rollout_loss(model, params, x, y, alpha, config.tau)
    else:
        loss, grads, _ = forcing.forced_rollout_loss(model, params, x, y, alpha, config.tau)
    terms = []
    if config.lam_l2:
        terms.append(forcing.line_attractor_l2(model, params, config.lam_l2))
    if config.lam_mar:
        terms.append(forcing.mar_penalty(model, params, config.lam_mar, config.mar_fraction))
    if config.lam_ar:
        terms.append(forcing.ar_epsilon_penalty(model, params, config.lam_ar, config.ar_epsilon))
    for value, g in terms:
        loss += float(value)
        for k, v in g.items():
            grads[k] = grads[k] + v
    return loss, grads


def train(model, params, data, config, progress=True, checkpoint_path=None,
          checkpoint_every=50, callback=None):  # fmt: skip
    """Train ``params`` of ``model`` on the series ``data: (T, N)``; returns a TrainResult.

    ``callback(epoch, params, alpha)`` runs after every epoch (e.g. to record metrics);
    ``checkpoint_path`` saves parameters, optimiser state, the epoch and alpha every
    ``checkpoint_every`` epochs and at the end (``reference.io`` format; the history is in
    the returned TrainResult only, not in the checkpoint).
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != model.N:
        raise ValueError(f"data: expected shape (T, {model.N}), got {data.shape}")
    rng = np.random.default_rng(config.seed)
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    state = nn.RAdam().init(params)
    alpha = float(config.alpha)
    hist = {"loss": [], "alpha": [], "epoch_loss": [], "lr": [], "grad_norm": []}
    diverged = False
    start = time.perf_counter()
    bar = tqdm(range(config.epochs), desc="dsr", disable=not progress)
    for epoch in bar:
        lr = learning_rate(config, epoch)
        opt = nn.RAdam(lr=lr)
        losses = []
        for b in range(config.batches_per_epoch):
            x, y = sample_windows(data, config.batch_size, config.seq_len, rng, config.noise)
            if config.adaptive_alpha and b % config.alpha_every == 0:
                est = forcing.estimate_alpha(model, params, x, config.alpha_method)
                alpha = forcing.anneal_alpha(alpha, est)
            loss, grads = loss_and_grads(model, params, x, y, alpha, config)
            norm = nn.global_norm(grads)
            if config.max_grad_norm is not None:
                grads, _ = nn.clip_grad_norm(grads, config.max_grad_norm)
            params, state = opt.step(params, grads, state)
            losses.append(loss)
            hist["loss"].append(loss)
            hist["alpha"].append(alpha)
            hist["grad_norm"].append(float(norm))
            if not all(np.all(np.isfinite(v)) for v in params.values()):
                diverged = True
                break
        hist["epoch_loss"].append(float(np.mean(losses)))
        hist["lr"].append(lr)
        bar.set_postfix(loss=f"{hist['epoch_loss'][-1]:.4f}", alpha=f"{alpha:.3f}")
        if diverged:
            break
        if callback is not None:
            callback(epoch + 1, params, alpha)
        done = epoch + 1
        if checkpoint_path is not None and (done % checkpoint_every == 0
                                            or done == config.epochs):  # fmt: skip
            save_checkpoint(checkpoint_path, params, state, done, alpha, config)
    history = {k: np.asarray(v) for k, v in hist.items()}
    return TrainResult(params, state, history, time.perf_counter() - start, diverged)


def save_checkpoint(path, params, state, epoch, alpha, config):
    """Parameters, RAdam state, epoch and alpha (``reference.io`` npz + JSON metadata)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tree = {"params": params, "opt": state, "epoch": int(epoch), "alpha": float(alpha)}
    return io.save(path, tree, {"config": asdict(config)})


def load_checkpoint(path):
    """``(params, opt_state, epoch, alpha, config_dict)`` from :func:`save_checkpoint`."""
    tree, meta = io.load(path)
    return tree["params"], tree["opt"], tree["epoch"], tree["alpha"], meta["config"]
