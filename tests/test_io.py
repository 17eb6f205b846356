import numpy as np
import pytest

from reference import io, nn


def test_roundtrip_is_bit_exact(tmp_path, rng):
    params = nn.init_mlp((4, 5, 3), rng)
    params["f32"] = rng.normal(size=(2, 3)).astype(np.float32)
    opt = nn.Adam(lr=1e-2)
    state = opt.init(params)
    grads = {k: rng.normal(size=v.shape).astype(v.dtype) for k, v in params.items()}
    params, state = opt.step(params, grads, state)
    path = io.save_training_state(
        tmp_path / "ckpt", params, state, step=7, history=[1.0, 0.5], metadata={"note": "test"}
    )
    p2, s2, step, hist, meta = io.load_training_state(path)
    assert step == 7 and meta == {"note": "test"} and s2["step"] == 1
    np.testing.assert_array_equal(hist, [1.0, 0.5])
    for k in params:
        assert p2[k].dtype == params[k].dtype
        assert np.array_equal(p2[k], params[k])
        assert np.array_equal(s2["m"][k], state["m"][k])
        assert np.array_equal(s2["v"][k], state["v"][k])


def test_rejects_bad_values(tmp_path):
    with pytest.raises(ValueError, match="checkpoint value"):
        io.save(tmp_path / "x.npz", {"a": object()})
    with pytest.raises(ValueError, match="without '/'"):
        io.save(tmp_path / "x.npz", {"a/b": np.zeros(1)})


def test_load_rejects_foreign_npz(tmp_path):
    np.savez(tmp_path / "foreign.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not a reference checkpoint"):
        io.load(tmp_path / "foreign.npz")
