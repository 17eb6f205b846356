"""Write ``active_inference_pymdp_multifactor.json``: a two-factor, three-modality pymdp check.

The shared golden file covers the one-factor tutorial agent only. This one exercises what it
does not: Jacobi fpi over two factors (``num_iter = 7``), sparse ``A_dependencies`` and a
coupled ``B_dependencies`` entry, soft observations, parameter information gain from pA and
pB (one structural zero in pA), and the Dirichlet updates of A and B. Run once, by hand, in
a separate environment with ``pip install inferactively-pymdp==1.0.4`` (JAX on CPU)::

    python tests/golden/make_pymdp_multifactor.py

Random inputs come from ``numpy.random.default_rng(0)``; the agent runs in float64
(``jax_enable_x64``). The test reading the file (``tests/active_inference/test_golden.py``)
needs NumPy only.
"""

import json
import pathlib

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from pymdp import learning  # noqa: E402
from pymdp.agent import Agent  # noqa: E402

OUT = pathlib.Path(__file__).with_name("active_inference_pymdp_multifactor.json")


def norm(x):
    return x / x.sum(0, keepdims=True)


def main():
    rng = np.random.default_rng(0)
    S, U, O = [3, 4], [2, 3], [5, 3, 4]
    Adeps, Bdeps = [[0, 1], [1], [0]], [[0], [0, 1]]
    A = [norm(rng.random((O[m], *[S[f] for f in Adeps[m]])) ** 3) for m in range(3)]
    B = [norm(rng.random((S[f], *[S[g] for g in Bdeps[f]], U[f])) ** 2) for f in range(2)]
    C = [rng.normal(size=O[m]) for m in range(3)]
    D = [norm(rng.random(S[f])) for f in range(2)]
    pA = [A[m] * rng.uniform(0.5, 3, size=A[m].shape) for m in range(3)]
    pA[1][0, 0] = 0.0
    pB = [B[f] * rng.uniform(0.5, 3, size=B[f].shape) for f in range(2)]
    obs = [rng.dirichlet(np.ones(O[m])) for m in range(3)]
    prior = [norm(rng.random(S[f])) for f in range(2)]

    def batch(xs):
        return [jnp.asarray(x)[None] for x in xs]

    agent = Agent(
        A=batch(A), B=batch(B), C=batch(C), D=batch(D), pA=batch(pA), pB=batch(pB),
        A_dependencies=Adeps, B_dependencies=Bdeps, num_controls=U, policy_len=2,
        categorical_obs=True, inference_algo="fpi", num_iter=7, use_param_info_gain=True,
        batch_size=1, learn_A=False, learn_B=False,
    )  # fmt: skip
    qs, info = agent.infer_states(batch(obs), empirical_prior=batch(prior), return_info=True)
    q_pi, G = agent.infer_policies(qs)
    qs_last = [np.asarray(q)[0, -1] for q in qs]

    # Dirichlet learning on a 3-step sequence of beliefs (the learning functions directly).
    T = 3
    obs_seq = [rng.dirichlet(np.ones(O[m]), size=T) for m in range(3)]
    qs_seq = [rng.dirichlet(np.ones(S[f]), size=T) for f in range(2)]
    actions = np.stack([rng.integers(0, U[f], size=T - 1) for f in range(2)], axis=-1)
    new_pA, new_A = learning.update_obs_likelihood_dirichlet(
        pA=[jnp.asarray(p) for p in pA], A=[jnp.asarray(a) for a in A],
        obs=[jnp.asarray(o) for o in obs_seq], qs=[jnp.asarray(q) for q in qs_seq],
        A_dependencies=Adeps, categorical_obs=True, num_obs=O, lr=0.7,
    )  # fmt: skip
    joint = [[qs_seq[f][1:]] + [qs_seq[g][:-1] for g in Bdeps[f]] for f in range(2)]
    new_pB, new_B = learning.update_state_transition_dirichlet(
        pB=[jnp.asarray(p) for p in pB], B=[jnp.asarray(b) for b in B],
        joint_beliefs=[[jnp.asarray(x) for x in j] for j in joint],
        actions=jnp.asarray(actions), num_controls=U, lr=0.7,
    )  # fmt: skip

    def tolist(xs):
        return [np.asarray(x).tolist() for x in xs]

    data = {
        "about": "pymdp 1.0.4 (JAX, float64): two factors S=[3,4], controls U=[2,3], three "
        "modalities O=[5,3,4] with A_dependencies [[0,1],[1],[0]] and B_dependencies "
        "[[0],[0,1]]; fpi num_iter 7, soft obs, policy_len 2, gamma=alpha=1, "
        "use_param_info_gain with pA (pA[1][0,0]=0) and pB; Dirichlet updates with lr 0.7 "
        "on a 3-step belief sequence. Written by tests/golden/make_pymdp_multifactor.py.",
        "num_states": S, "num_controls": U, "num_obs": O,
        "A_dependencies": Adeps, "B_dependencies": Bdeps,
        "A": tolist(A), "B": tolist(B), "C": tolist(C), "D": tolist(D),
        "pA": tolist(pA), "pB": tolist(pB), "obs": tolist(obs), "prior": tolist(prior),
        "policies": np.asarray(agent.policies.policy_arr).tolist(),
        "qs": tolist(qs_last), "vfe": float(np.asarray(info["vfe"]).ravel()[-1]),
        "q_pi": np.asarray(q_pi)[0].tolist(), "neg_efe_G": np.asarray(G)[0].tolist(),
        "learning": {
            "lr": 0.7, "obs_seq": tolist(obs_seq), "qs_seq": tolist(qs_seq),
            "actions": actions.tolist(), "pA": tolist(new_pA), "A": tolist(new_A),
            "pB": tolist(new_pB), "B": tolist(new_B),
        },
    }  # fmt: skip
    OUT.write_text(json.dumps(data, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
