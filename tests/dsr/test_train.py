"""Training loop: windows, learning-rate decay, RAdam updates, kernels agree, adaptive alpha,
regularisers, checkpoints, NaN stop."""

import numpy as np
import pytest

from reference import gradcheck, nn
from reference.dsr import forcing, models
from reference.dsr import train as tr


def lorenz_series(n=3000, dt=0.01, seed=0):
    """A small standardised Lorenz-63 series (RK4) for the tests only."""

    def f(v):
        x, y, z = v
        return np.array([10 * (y - x), x * (28 - z) - y, x * y - 8 / 3 * z])

    v = np.random.default_rng(seed).standard_normal(3) + [0, 0, 20]
    out = np.empty((n + 500, 3))
    for t in range(n + 500):
        k1 = f(v)
        k2 = f(v + dt / 2 * k1)
        k3 = f(v + dt / 2 * k2)
        k4 = f(v + dt * k3)
        v = v + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[t] = v
    out = out[500:]
    return (out - out.mean(0)) / out.std(0)


@pytest.fixture(scope="module")
def series():
    return lorenz_series()


def test_learning_rate_decays_exponentially():
    cfg = tr.TrainConfig(epochs=5, lr_start=1e-3, lr_end=1e-5)
    lrs = [tr.learning_rate(cfg, e) for e in range(5)]
    assert np.isclose(lrs[0], 1e-3) and np.isclose(lrs[-1], 1e-5)
    assert np.allclose(np.diff(np.log(lrs)), np.log(1e-2) / 4)
    assert tr.learning_rate(tr.TrainConfig(epochs=1), 0) == 1e-3


def test_sample_windows(series, rng):
    x, y = tr.sample_windows(series, 7, 50, rng)
    assert x.shape == y.shape == (7, 50, 3)
    assert np.array_equal(x[:, 1:], y[:, :-1])
    starts = [np.flatnonzero(np.all(series == x[b, 0], axis=1))[0] for b in range(7)]
    for b, s in enumerate(starts):
        assert np.array_equal(x[b], series[s : s + 50])
    xn, yn = tr.sample_windows(series, 7, 50, np.random.default_rng(1), noise=0.05)
    assert np.array_equal(xn[:, 1:], yn[:, :-1])  # noise shared by teacher and target
    with pytest.raises(ValueError, match="data"):
        tr.sample_windows(series[:10], 2, 10, rng)


@pytest.mark.parametrize("kind", ["alrnn", "shplrnn"])
def test_numba_and_numpy_training_agree(series, kind):
    model = models.ALRNN(6, 3, 2) if kind == "alrnn" else models.ShallowPLRNN(3, 3, 8)
    params = model.init_params(np.random.default_rng(0))
    out = {}
    for kernel in ("numba", "numpy"):
        cfg = tr.TrainConfig(epochs=2, batches_per_epoch=3, batch_size=4, seq_len=30, tau=5,
                             kernel=kernel, lam_l2=1e-3)  # fmt: skip
        out[kernel] = tr.train(model, params, series, cfg, progress=False)
    for k in params:
        assert gradcheck.rel_error(out["numba"].params[k], out["numpy"].params[k]) <= 1e-10
    assert np.allclose(out["numba"].history["loss"], out["numpy"].history["loss"], rtol=1e-10)


def test_one_update_is_one_radam_step(series):
    model = models.ALRNN(5, 3, 1)
    params = model.init_params(np.random.default_rng(3))
    cfg = tr.TrainConfig(epochs=1, batches_per_epoch=1, batch_size=3, seq_len=20, tau=4,
                         lam_mar=0.1, lam_ar=0.2, noise=0.05, seed=9)  # fmt: skip
    result = tr.train(model, params, series, cfg, progress=False)
    x, y = tr.sample_windows(series, 3, 20, np.random.default_rng(9), 0.05)
    loss, grads, _ = forcing.forced_rollout_loss(model, params, x, y, 1.0, 4)
    for value, g in (forcing.mar_penalty(model, params, 0.1, 0.5),
                     forcing.ar_epsilon_penalty(model, params, 0.2, 0.05)):  # fmt: skip
        loss += float(value)
        grads = {k: grads[k] + g.get(k, 0) for k in grads}
    expected, _ = nn.RAdam(lr=1e-3).step(params, grads, nn.RAdam().init(params))
    for k in params:
        assert gradcheck.rel_error(result.params[k], expected[k]) <= 1e-12, k
    assert np.isclose(result.history["loss"][0], loss, rtol=1e-12)
    assert np.all(np.diag(result.params["W"]) != 0)  # ALRNN: full W


def test_training_reduces_the_loss(series):
    model = models.ShallowPLRNN(3, 3, 20)
    params = model.init_params(np.random.default_rng(0))
    cfg = tr.TrainConfig(epochs=20, batches_per_epoch=10, batch_size=8, seq_len=40, tau=5,
                         lr_start=3e-3, lr_end=1e-3)  # fmt: skip
    result = tr.train(model, params, series, cfg, progress=False)
    loss = result.history["epoch_loss"]
    assert loss[-3:].mean() < 0.5 * loss[:3].mean()
    assert result.history["lr"].shape == (20,) and not result.diverged


def test_adaptive_alpha_follows_the_estimate(series):
    model = models.ShallowPLRNN(3, 3, 20, clipped=True)
    params = model.init_params(np.random.default_rng(0))
    cfg = tr.TrainConfig(epochs=1, batches_per_epoch=6, batch_size=4, seq_len=20, tau=1,
                         adaptive_alpha=True, alpha=1.0, alpha_every=3)  # fmt: skip
    result = tr.train(model, params, series, cfg, progress=False)
    alphas = result.history["alpha"]
    x, _ = tr.sample_windows(series, 4, 20, np.random.default_rng(0))
    first = forcing.anneal_alpha(1.0, forcing.estimate_alpha(model, params, x))
    assert np.isclose(alphas[0], first) and alphas[0] < 1.0
    assert alphas[1] == alphas[2] == alphas[0] and np.all((0 <= alphas) & (alphas <= 1))


def test_plrnn_keeps_w_off_diagonal(series):
    model = models.PLRNN(5, 3)
    cfg = tr.TrainConfig(epochs=1, batches_per_epoch=4, batch_size=2, seq_len=10)
    result = tr.train(model, model.init_params(np.random.default_rng(0)), series, cfg,
                      progress=False)  # fmt: skip
    assert np.all(np.diag(result.params["W"]) == 0)
    assert np.array_equal(result.params["B"][:, :3], np.eye(3))


def test_divergence_stops_training(series):
    model = models.PLRNN(3, 3, mean_centering=False)
    params = model.init_params(np.random.default_rng(0))
    params["A"] = np.full(3, 3.0)
    cfg = tr.TrainConfig(epochs=3, batches_per_epoch=2, batch_size=2, seq_len=900, tau=1000)
    with np.errstate(all="ignore"):
        result = tr.train(model, params, series, cfg, progress=False)
    assert result.diverged and len(result.history["epoch_loss"]) == 1


def test_checkpoint_roundtrip(series, tmp_path):
    model = models.ALRNN(4, 3, 1)
    cfg = tr.TrainConfig(epochs=2, batches_per_epoch=2, batch_size=2, seq_len=10)
    path = tmp_path / "ckpt.npz"
    calls = []
    result = tr.train(model, model.init_params(np.random.default_rng(0)), series, cfg,
                      progress=False, checkpoint_path=str(path),
                      callback=lambda e, p, a: calls.append(e))  # fmt: skip
    params, state, epoch, alpha, config = tr.load_checkpoint(path)
    assert epoch == 2 and alpha == 1.0 and config["tau"] == 16 and calls == [1, 2]
    for k in params:
        assert np.array_equal(params[k], result.params[k])
    assert state["step"] == 4


CONFIG_ERRORS = [
    ({"epochs": -1}, "epochs"),
    ({"tau": 0}, "tau"),
    ({"lr_end": 1.0}, "lr_end"),
    ({"alpha": 2.0}, "alpha"),
    ({"kernel": "jax"}, "kernel"),
    ({"alpha_method": "x"}, "alpha_method"),
    ({"noise": -0.05}, "^noise:"),
    ({"noise": float("nan")}, "^noise:"),
    ({"lam_l2": -1.0}, "^lam_l2:"),
    ({"lam_mar": -1e-3}, "^lam_mar:"),
    ({"lam_ar": -1.0}, "^lam_ar:"),
    ({"ar_epsilon": -0.1}, "^ar_epsilon:"),
    ({"mar_fraction": 1.5}, "^mar_fraction:"),
    ({"mar_fraction": -0.1}, "^mar_fraction:"),
    ({"max_grad_norm": 0.0}, "^max_grad_norm:"),
]


def test_config_accepts_the_boundaries():
    cfg = tr.TrainConfig(noise=0.0, lam_l2=0.0, lam_mar=0.0, lam_ar=0.0, mar_fraction=0.0)
    assert tr.TrainConfig(mar_fraction=1.0, max_grad_norm=1.0).mar_fraction == 1.0
    assert cfg.noise == 0.0


@pytest.mark.parametrize("kw,match", CONFIG_ERRORS)
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        tr.TrainConfig(**kw)


def test_data_validation():
    model = models.ALRNN(4, 2, 1)
    params = model.init_params(np.random.default_rng(0))
    with pytest.raises(ValueError, match="data"):
        tr.train(model, params, np.zeros((100, 3)), tr.TrainConfig(), progress=False)
