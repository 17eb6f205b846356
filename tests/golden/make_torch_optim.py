"""Write the PyTorch parity goldens for the optimisers and for a short training run.

Run once, by hand, with the CPU build of torch 2.13 (``make bench`` installs it)::

    .venv/bin/python tests/golden/make_torch_optim.py

It writes two files next to itself; the tests that read them need NumPy only:

``torch_optim.npz`` (read by ``tests/test_nn_torch_parity.py``), float64 throughout:

* ``clip_{above,below}__...``: ``torch.nn.utils.clip_grad_norm_`` on three gradient tensors,
  once with a global norm above ``max_norm`` and once below; the inputs ``grad__K``, the
  clipped gradients ``clipped__K`` and the returned (pre-clip) norm ``total``.
* ``adam__...``: ``torch.optim.Adam(lr=1e-3)`` (all other arguments at their defaults) for
  5 steps; ``adam_wd__...``: the same with ``weight_decay=0.01``; ``radam__...``:
  ``torch.optim.RAdam(lr=1e-3)`` for 8 steps, long enough for the variance rectification to
  switch on (``rho_k > 5`` first at step 6 for beta2 = 0.999; stored as ``radam__rho``).
  Each case has ``p0__K`` (initial values), ``grads__K`` ``(steps, *shape)`` (the gradient fed
  at each step, drawn in advance), ``params__K`` ``(steps, *shape)`` (the parameter *after*
  each step) and the optimiser state after each step, ``exp_avg__K`` and ``exp_avg_sq__K``.
  Tensor ``tiny`` gets gradients of scale 1e-12, where ``sqrt(v)`` is far below ``eps`` and
  the placement of ``eps`` decides the update.

``torch_train_traj.npz`` (read by ``tests/residual_dynamics/test_train_parity.py``): the
source recipe (forward, loss, backward, ``clip_grad_norm_(1.0)``, ``Adam(lr=1e-3)``) for 20
steps in float64, starting from the weights and inputs of ``residual_dynamics_torch.npz``.
``loss`` and ``grad_norm`` ``(20,)`` are the values at each step before its update (what
``train`` records), ``param_K`` the final weights in our ``x @ W`` layout.

All random inputs come from ``numpy.random.default_rng(SEED)``, never from torch's generator.
Torch runs on one thread. Its CPU kernels for ``lerp`` and ``addcmul`` use fused multiply-add
on AVX2/AVX-512 machines, so the last bit of the goldens depends on the CPU capability that
torch dispatched to; it is stored as ``cpu_capability`` next to ``torch_version``.
"""

from __future__ import annotations

import pathlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = pathlib.Path(__file__).parent
SEED = 20240601
KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
EPS = 1e-9


def meta():
    return {
        "torch_version": np.array(torch.__version__),
        "cpu_capability": np.array(torch.backends.cpu.get_cpu_capability()),
    }


# --------------------------------------------------------------------------- optimisers


def clip_case(rng, scale):
    """Three gradient tensors shaped like W1, b1 and W2 of the source model, times ``scale``."""
    grads = {
        "W1": rng.normal(size=(12, 64)) * scale,
        "b1": rng.normal(size=(64,)) * scale,
        "W2": rng.normal(size=(64, 64)) * scale,
    }
    params = {
        k: torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for k, g in grads.items()
    }
    for k, p in params.items():
        p.grad = torch.tensor(grads[k])
    total = torch.nn.utils.clip_grad_norm_(list(params.values()), max_norm=1.0)
    out = {"total": total.numpy().copy()}
    for k in grads:
        out[f"grad__{k}"] = grads[k]
        out[f"clipped__{k}"] = params[k].grad.numpy().copy()
    return out


def optimiser_case(rng, make_optimiser, steps):
    """Run ``make_optimiser(params)`` for ``steps`` steps on pre-drawn gradients."""
    p0 = {
        "W": rng.normal(size=(12, 16)),
        "b": rng.normal(size=(16,)) * 0.1,
        "tiny": rng.normal(size=(7, 3)),
    }
    grad_scale = {"W": 1.0, "b": 0.3, "tiny": 1e-12}
    grads = {k: rng.normal(size=(steps, *p.shape)) * grad_scale[k] for k, p in p0.items()}
    params = {k: torch.tensor(p, requires_grad=True) for k, p in p0.items()}
    opt = make_optimiser(list(params.values()))
    record = {f"{what}__{k}": [] for what in ("params", "exp_avg", "exp_avg_sq") for k in p0}
    for s in range(steps):
        for k, p in params.items():
            p.grad = torch.tensor(grads[k][s])
        opt.step()
        for k, p in params.items():
            state = opt.state[p]
            record[f"params__{k}"].append(p.detach().numpy().copy())
            record[f"exp_avg__{k}"].append(state["exp_avg"].numpy().copy())
            record[f"exp_avg_sq__{k}"].append(state["exp_avg_sq"].numpy().copy())
    out = {f"p0__{k}": v for k, v in p0.items()}
    out.update({f"grads__{k}": v for k, v in grads.items()})
    out.update({k: np.stack(v) for k, v in record.items()})
    return out


def radam_rho(steps, beta2=0.999):
    """rho_k of RAdam for k = 1..steps, computed exactly as torch's RAdam does."""
    rho_inf = 2 / (1 - beta2) - 1
    return np.array(
        [rho_inf - 2 * k * beta2**k / (1 - beta2**k) for k in map(float, range(1, steps + 1))]
    )


def make_optim_goldens(rng):
    cases = {
        "clip_above": clip_case(rng, scale=0.2),  # global norm about 14 > 1: scaled
        "clip_below": clip_case(rng, scale=0.01),  # about 0.7 < 1: untouched
        "adam": optimiser_case(rng, lambda p: torch.optim.Adam(p, lr=1e-3), steps=5),
        "adam_wd": optimiser_case(
            rng, lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=0.01), steps=5
        ),
        "radam": optimiser_case(rng, lambda p: torch.optim.RAdam(p, lr=1e-3), steps=8),
    }
    assert cases["clip_above"]["total"] > 1.0 > cases["clip_below"]["total"]
    rho = radam_rho(8)
    first = int(np.argmax(rho > 5.0)) + 1
    assert first == 6, f"rho_k first exceeds 5 at step {first}, expected 6: {rho}"
    out = {f"{case}__{k}": v for case, arrays in cases.items() for k, v in arrays.items()}
    out["radam__rho"] = rho
    return out


# --------------------------------------------------------------------------- training run


class ResidualStepNet(torch.nn.Module):
    """The source's delta-logit network: 4m -> H -> H -> m, relu, relu, linear."""

    def __init__(self, m, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(4 * m, hidden)
        self.fc2 = torch.nn.Linear(hidden, hidden)
        self.out = torch.nn.Linear(hidden, m)

    def forward(self, x):
        return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))


def rollout(net, alpha, N0, g0, ys, rs):
    """N_t = softmax(log(N_{t-1} + eps) + net([N, y, r, g])), g_t filter; stacked over t."""
    N, g = N0, g0
    Ns, gs = [], []
    for y, r in zip(ys, rs, strict=True):
        delta = net(torch.cat([N, y, r, g], dim=-1))
        N_next = F.softmax(torch.log(N + EPS) + delta, dim=-1)
        g = alpha * g + (N_next - alpha * N) * y
        N = N_next
        Ns.append(N)
        gs.append(g)
    return torch.stack(Ns), torch.stack(gs)


def source_loss(Ns, gs):
    entropy = -(Ns * torch.log(Ns + EPS)).sum(dim=-1)
    return gs.pow(2).sum(dim=-1).mean() - 0.1 * entropy.mean()


def load_net(d):
    """A float64 net holding the golden weights (torch Linear weight = our W transposed)."""
    m, hidden = d["param_W3"].shape[1], d["param_W1"].shape[1]
    net = ResidualStepNet(m, hidden).double()
    layers = (net.fc1, net.fc2, net.out)
    with torch.no_grad():
        for i, layer in enumerate(layers, start=1):
            layer.weight.copy_(torch.from_numpy(d[f"param_W{i}"].T))
            layer.bias.copy_(torch.from_numpy(d[f"param_b{i}"]))
    return net, layers


def make_train_golden(steps=20):
    d = np.load(HERE / "residual_dynamics_torch.npz")
    net, layers = load_net(d)
    inputs = [torch.from_numpy(d[k]) for k in ("alpha", "N0", "g0", "ys", "rs")]

    # the twin must reproduce the existing forward/gradient golden before we trust it
    Ns, gs = rollout(net, *inputs)
    loss = source_loss(Ns, gs)
    loss.backward()
    np.testing.assert_allclose(Ns.detach().numpy(), d["Ns"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(loss.item(), d["loss"], rtol=1e-14)
    for i, layer in enumerate(layers, start=1):
        np.testing.assert_allclose(layer.weight.grad.numpy().T, d[f"grad_W{i}"], atol=1e-15)
    net.zero_grad()

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses, norms = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = source_loss(*rollout(net, *inputs))
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0).item())
        opt.step()
        losses.append(loss.item())
    out = {"loss": np.array(losses), "grad_norm": np.array(norms), "steps": np.array(steps)}
    for i, layer in enumerate(layers, start=1):
        out[f"param_W{i}"] = layer.weight.detach().numpy().T.copy()
        out[f"param_b{i}"] = layer.bias.detach().numpy().copy()
    return out


def main():
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(SEED)
    np.savez(HERE / "torch_optim.npz", **make_optim_goldens(rng), **meta())
    np.savez(HERE / "torch_train_traj.npz", **make_train_golden(), **meta())
    print(
        f"wrote torch_optim.npz and torch_train_traj.npz with torch {torch.__version__} "
        f"({torch.backends.cpu.get_cpu_capability()})"
    )


if __name__ == "__main__":
    main()
