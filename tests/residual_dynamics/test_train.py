"""Training loop: the loss goes down; checkpoints resume bit-identically."""

import numpy as np
import pytest

from reference import gradcheck, nn
from reference.residual_dynamics import model as rd
from reference.residual_dynamics.train import train


def small_setup(seed=0, T=20, B=4, m=3, H=16):
    rng = np.random.default_rng(seed)
    params = rd.init_params(m, H, rng)
    return (params, rd.default_alpha(m), *rd.make_inputs(T, B, m, rng))


def test_training_lowers_the_loss():
    result = train(*small_setup(), steps=60, lr=3e-3, progress=False)
    loss = result.history["loss"]
    assert loss.shape == (60,)
    assert loss[-5:].mean() < loss[:5].mean() - 0.01
    assert np.all(result.history["grad_norm"] > 0)


def test_train_equals_manual_loop():
    """train() is exactly loss_and_grads -> clip_grad_norm -> Adam.step, repeated."""
    setup = small_setup()
    result = train(*setup, steps=5, kernel="numpy", progress=False)
    params = dict(setup[0])
    opt = nn.Adam(lr=1e-3)
    state = opt.init(params)
    for _ in range(5):
        _, grads = rd.loss_and_grads(params, *setup[1:])
        clipped, _ = nn.clip_grad_norm(grads, 1.0)
        params, state = opt.step(params, clipped, state)
    for k in params:
        assert np.array_equal(result.params[k], params[k])


@pytest.mark.parametrize("learn_alpha", [False, True])
def test_resume_from_checkpoint_is_bit_identical(tmp_path, learn_alpha):
    setup = small_setup()
    straight = train(*setup, steps=6, learn_alpha=learn_alpha, progress=False)
    path = tmp_path / "ckpt.npz"
    train(
        *setup,
        steps=4,
        learn_alpha=learn_alpha,
        checkpoint_path=path,
        checkpoint_every=2,
        progress=False,
    )
    resumed = train(
        *setup, steps=6, learn_alpha=learn_alpha, checkpoint_path=path, resume=True, progress=False
    )
    for k in straight.params:
        assert np.array_equal(straight.params[k], resumed.params[k])
    assert np.array_equal(straight.history["loss"], resumed.history["loss"])
    assert np.array_equal(np.asarray(straight.alpha), np.asarray(resumed.alpha))


def test_learnable_alpha_moves_and_is_clipped_with_the_rest():
    setup = small_setup()
    result = train(*setup, steps=10, learn_alpha=True, kernel="numpy", progress=False)
    assert result.history["alpha"].shape == (10, 3)
    assert gradcheck.rel_error(result.alpha, setup[1]) > 1e-4
    assert set(result.params) == {"W1", "b1", "W2", "b2", "W3", "b3"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        train(*small_setup(), steps=-1, progress=False)
    with pytest.raises(ValueError, match="max_norm"):
        train(*small_setup(), steps=1, max_norm=0, progress=False)
