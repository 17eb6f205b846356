"""``Agent``: the discrete active inference agent with pymdp's names, in plain arrays.

The agent holds the generative model (A, B, C, D, E and optional Dirichlet counts pA, pB)
and calls the pure functions of :mod:`.inference`, :mod:`.control` and :mod:`.learning`.

Formats. A single array means one modality (A: (O, S...)) or one factor (B: (S, S, U));
a list means several. Outputs follow the inputs: a single array in, a single array out.
Arrays may carry a leading batch axis (then *every* model array does; a batch axis of 1
broadcasts); the agent notices it from the number of axes of B and A. Observations are
integer indices (one-hot) or float categorical distributions (soft observations).

Differences from pymdp: ``qs`` is the current belief (batch, S_f), not a history
(batch, T, S_f); stochastic draws come from a ``numpy.random.Generator``, not JAX's PRNG.
"""

from __future__ import annotations

import numpy as np

from reference import backend
from reference.backend import xp

from . import control, inference, learning
from .checks import NORM_TOL, as_list, check_dependencies, check_simplex, float_array
from .maths import dirichlet_expected_value, one_hot

INFERENCE_ALGOS = ("fpi", "exact")
KERNELS = ("auto", "numpy", "numba")


class Agent:
    """Discrete active inference agent (pymdp 1.0 JAX backend semantics, eqs. 2.5-2.22).

    ``kernel`` chooses the code of the expected free energy in :meth:`infer_policies`:
    ``"numpy"`` the readable ``control.neg_efe``; ``"numba"`` its compiled twin
    ``kernels.neg_efe_numba`` (one factor, one modality, no parameter information gain);
    ``"auto"`` (default) the twin where it applies. Both give the same numbers to ~1e-15.
    """

    def __init__(
        self,
        A,
        B,
        C=None,
        D=None,
        E=None,
        pA=None,
        pB=None,
        A_dependencies=None,
        B_dependencies=None,
        policy_len=1,
        policies=None,
        gamma=1.0,
        alpha=1.0,
        inference_algo="fpi",
        num_iter=16,
        action_selection="deterministic",
        sampling_mode="full",
        use_utility=True,
        use_states_info_gain=True,
        use_param_info_gain=False,
        lr_pA=1.0,
        lr_pB=1.0,
        kernel="auto",
    ):
        self.single_modality = not isinstance(A, list | tuple)
        self.single_factor = not isinstance(B, list | tuple)
        A_np = [float_array(a, f"A[{m}]") for m, a in enumerate(as_list(A))]
        B_np = [float_array(b, f"B[{f}]") for f, b in enumerate(as_list(B))]
        F, M = len(B_np), len(A_np)
        self.num_factors, self.num_modalities = F, M
        self.A_dependencies = check_dependencies(A_dependencies, M, F, "A_dependencies", all_=True)
        self.B_dependencies = check_dependencies(B_dependencies, F, F, "B_dependencies", all_=False)

        extra = B_np[0].ndim - (2 + len(self.B_dependencies[0]))
        if extra not in (0, 1):
            raise ValueError(
                f"B[0]: expected (S, *S_deps, U) or (batch, S, *S_deps, U), got {B_np[0].shape}"
            )
        self.batched = bool(extra)
        b = int(self.batched)
        self.num_states = [x.shape[b] for x in B_np]
        self.num_controls = [x.shape[-1] for x in B_np]
        self.num_obs = [x.shape[b] for x in A_np]
        for f, (x, deps) in enumerate(zip(B_np, self.B_dependencies, strict=True)):
            want = (self.num_states[f], *[self.num_states[g] for g in deps], self.num_controls[f])
            if x.ndim != b + len(want) or x.shape[b:] != want:
                raise ValueError(f"B[{f}]: expected shape {want} (+ batch), got {x.shape}")
            check_simplex(x, b, f"B[{f}]", "columns over the next state")
        for m, (x, deps) in enumerate(zip(A_np, self.A_dependencies, strict=True)):
            want = (self.num_obs[m], *[self.num_states[f] for f in deps])
            if x.ndim != b + len(want) or x.shape[b:] != want:
                raise ValueError(f"A[{m}]: expected shape {want} (+ batch), got {x.shape}")
            check_simplex(x, b, f"A[{m}]", "columns over outcomes")

        if policies is None:
            if int(policy_len) != policy_len or policy_len < 1:
                raise ValueError(f"policy_len: expected a positive integer, got {policy_len}")
            policies = control.construct_policies(self.num_controls, int(policy_len))
        self.policies = np.asarray(policies, dtype=np.int64)
        if self.policies.ndim != 3 or self.policies.shape[2] != F:
            raise ValueError(f"policies: expected (P, H, {F}), got {self.policies.shape}")
        if np.any(self.policies < 0) or np.any(self.policies >= np.array(self.num_controls)):
            raise ValueError(
                f"policies: controls out of range for num_controls {self.num_controls}"
            )
        self.policy_len = self.policies.shape[1]
        P = self.policies.shape[0]

        C_np = self._model_list(C, M, "C", lambda m: np.zeros(self.num_obs[m]))
        for m, x in enumerate(C_np):
            ok = [(self.num_obs[m],), (self.policy_len, self.num_obs[m])]
            if x.shape[b:] not in ok or x.ndim - b not in (1, 2):
                raise ValueError(f"C[{m}]: expected shape one of {ok} (+ batch), got {x.shape}")
        D_np = self._model_list(
            D, F, "D", lambda f: np.full(self.num_states[f], 1.0 / self.num_states[f])
        )
        for f, x in enumerate(D_np):
            if x.shape[b:] != (self.num_states[f],):
                raise ValueError(f"D[{f}]: expected shape ({self.num_states[f]},), got {x.shape}")
            check_simplex(x, -1, f"D[{f}]", "a distribution")
        E_np = np.full(P, 1.0 / P) if E is None else float_array(E, "E")
        if E_np.shape[-1:] != (P,) or E_np.ndim not in (1, 1 + b) or np.any(E_np < 0):
            raise ValueError(f"E: expected {P} non-negative policy weights, got shape {E_np.shape}")
        for name, v in (("gamma", gamma), ("alpha", alpha)):
            if not np.all(np.isfinite(np.asarray(v, dtype=float))):
                raise ValueError(f"{name}: expected a finite precision, got {v}")
        if inference_algo not in INFERENCE_ALGOS:
            raise ValueError(
                f"inference_algo: expected one of {INFERENCE_ALGOS}, got {inference_algo!r}"
            )
        if use_param_info_gain and pA is None and pB is None:
            raise ValueError("use_param_info_gain: requires pA or pB, got neither")

        all_batch = [x.shape[0] for x in A_np + B_np + C_np + D_np] if b else [1]
        N = max(all_batch)
        if any(n not in (1, N) for n in all_batch):
            raise ValueError(
                f"A, B, C, D: batch sizes must be 1 or equal, got {sorted(set(all_batch))}"
            )
        self.batch_size = N
        dtype = np.result_type(*A_np, *B_np)
        self.dtype = dtype if dtype.kind == "f" else np.float64
        self.A = [self._to_batch(x) for x in A_np]
        self.B = [self._to_batch(x) for x in B_np]
        self.C = [self._to_batch(x) for x in C_np]
        self.D = [self._to_batch(x) for x in D_np]
        self.E = self._to_batch(E_np if b and E_np.ndim == 2 else (E_np[None] if b else E_np))
        self.pA = self._params(pA, M, "pA", [a.shape for a in self.A])
        self.pB = self._params(pB, F, "pB", [x.shape for x in self.B])
        self.gamma = xp.asarray(np.broadcast_to(np.asarray(gamma, dtype=self.dtype), (N,)))
        self.alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (N,))
        self.inference_algo, self.num_iter = inference_algo, int(num_iter)
        self.action_selection, self.sampling_mode = action_selection, sampling_mode
        self.use_utility, self.use_states_info_gain = use_utility, use_states_info_gain
        self.use_param_info_gain = use_param_info_gain
        self.lr_pA, self.lr_pB = lr_pA, lr_pB
        control.check_selection(action_selection, sampling_mode)
        if kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
        self.kernel = kernel

    # ------------------------------------------------------------------ formats

    def _model_list(self, x, n, name, default):
        if x is None:
            return [default(i) for i in range(n)]
        single = self.single_modality if name == "C" else self.single_factor
        xs = [x] if single else list(x)
        if len(xs) != n:
            raise ValueError(f"{name}: expected {n} arrays, got {len(xs)}")
        return [float_array(v, f"{name}[{i}]") for i, v in enumerate(xs)]

    def _params(self, p, n, name, shapes):
        if p is None:
            return None
        single = self.single_modality if name == "pA" else self.single_factor
        ps = [p] if single else list(p)
        if len(ps) != n:
            raise ValueError(f"{name}: expected {n} arrays (or None entries), got {len(ps)}")
        out = []
        for i, v in enumerate(ps):
            if v is None:
                out.append(None)
                continue
            v = self._to_batch(float_array(v, f"{name}[{i}]"))
            if v.shape != shapes[i] or bool(xp.any(v < 0)):
                raise ValueError(f"{name}[{i}]: expected non-negative counts of shape {shapes[i]}")
            out.append(v)
        return out

    def _to_batch(self, x):
        """A model array as an owned (batch, ...) copy in the agent's dtype."""
        x = np.asarray(x, dtype=self.dtype)
        if not self.batched:
            x = x[None]
        return xp.asarray(np.broadcast_to(x, (self.batch_size,) + x.shape[1:]).copy())

    def _as_batch(self, x):
        """A per-step input (belief, observation, q_pi) as (batch, ...): a view, not a copy."""
        x = np.asarray(x, dtype=self.dtype)
        if not self.batched:
            x = x[None]
        if x.shape[0] != self.batch_size:
            x = np.broadcast_to(x, (self.batch_size,) + x.shape[1:])
        return xp.asarray(x)

    def _beliefs_in(self, qs, name):
        qs = [qs] if self.single_factor else list(qs)
        if len(qs) != self.num_factors:
            raise ValueError(f"{name}: expected {self.num_factors} factors, got {len(qs)}")
        out = []
        for f, q in enumerate(qs):
            q = float_array(q, f"{name}[{f}]")
            if q.shape[-1:] != (self.num_states[f],) or q.ndim != 1 + int(self.batched):
                raise ValueError(
                    f"{name}[{f}]: expected ({self.num_states[f]},) (+ batch), got {q.shape}"
                )
            check_simplex(q, -1, f"{name}[{f}]", "a distribution")
            out.append(self._as_batch(q))
        return out

    def _obs_in(self, obs):
        obs = [obs] if self.single_modality else list(obs)
        if len(obs) != self.num_modalities:
            raise ValueError(f"obs: expected {self.num_modalities} modalities, got {len(obs)}")
        out = []
        for m, o in enumerate(obs):
            o = np.asarray(backend.asnumpy(o))
            O = self.num_obs[m]
            if o.dtype.kind in "iub":
                if o.ndim != int(self.batched) or np.any(o < 0) or np.any(o >= O):
                    raise ValueError(f"obs[{m}]: expected index(es) in [0, {O}), got {o!r}")
                out.append(one_hot(np.broadcast_to(o, (self.batch_size,)), O, self.dtype))
            else:
                o = float_array(o, f"obs[{m}]")
                if o.shape[-1:] != (O,) or o.ndim != 1 + int(self.batched):
                    raise ValueError(
                        f"obs[{m}]: expected a distribution over {O} outcomes, got {o.shape}"
                    )
                check_simplex(o, -1, f"obs[{m}]", "a distribution")
                out.append(self._as_batch(o))
        return out

    def _action_in(self, action):
        a = np.asarray(backend.asnumpy(action))
        if a.dtype.kind not in "iu":
            raise ValueError(f"action: expected integer controls, got dtype {a.dtype}")
        a = a.reshape((self.batch_size if self.batched else 1, self.num_factors))
        if np.any(a < 0) or np.any(a >= np.array(self.num_controls)):
            raise ValueError(
                f"action: expected controls below {self.num_controls}, got {a.tolist()}"
            )
        return np.broadcast_to(a, (self.batch_size, self.num_factors))

    def _out(self, xs, single):
        xs = [x if self.batched else x[0] for x in xs]
        return xs[0] if single else xs

    # ------------------------------------------------------------------ inference

    def infer_states(self, obs, prior=None, return_info=False):
        """Posterior beliefs q(s) given ``obs`` and the empirical ``prior`` (default D).

        fpi: eqs. (2.5)-(2.7); exact: Bayes' rule on the joint, eq. (2.9). With
        ``return_info`` also returns ``{"vfe": F, "vfe_components": {...}}`` (eq. 2.8), plus
        ``"log_evidence"`` (ln Z of eq. 2.9) for the exact method.
        """
        o = self._obs_in(obs)
        p = self.D if prior is None else self._beliefs_in(prior, "prior")
        if self.inference_algo == "fpi":
            qs = inference.fpi(self.A, o, p, self.A_dependencies, self.num_iter)
            log_Z = None
        else:
            qs, log_Z = inference.exact_update(self.A, o, p, self.A_dependencies)
        out = self._out(qs, self.single_factor)
        if not return_info:
            return out
        F, parts = inference.vfe(qs, p, self.A, o, self.A_dependencies)
        strip = (lambda v: v) if self.batched else (lambda v: v[0])
        info = {"vfe": strip(F), "vfe_components": {k: strip(v) for k, v in parts.items()}}
        if log_Z is not None:
            info["log_evidence"] = strip(log_Z)
        return out, info

    def update_empirical_prior(self, action, qs):
        """Eq. (2.11): the prior for the next step after taking ``action`` from belief ``qs``."""
        q = self._beliefs_in(qs, "qs")
        a = xp.asarray(self._action_in(action))
        return self._out(
            inference.empirical_prior(self.B, q, a, self.B_dependencies), self.single_factor
        )

    # ------------------------------------------------------------------ control

    def infer_policies(self, qs, return_terms=False):
        """Eqs. (2.12)-(2.19): ``(q_pi, G)``, each (P,) (or (batch, P)); G is the negative EFE.

        With ``return_terms`` also the EFE decomposition (utility, info_gain, novelty_A/B).
        """
        q = self._beliefs_in(qs, "qs")
        G, terms = self._neg_efe()(
            q,
            self.A,
            self.B,
            self.C,
            self.policies,
            self.A_dependencies,
            self.B_dependencies,
            use_utility=self.use_utility,
            use_states_info_gain=self.use_states_info_gain,
            use_param_info_gain=self.use_param_info_gain,
            pA=self.pA,
            pB=self.pB,
        )
        q_pi = control.policy_posterior(G, self.E, self.gamma)
        q_pi, G = self._out([q_pi, G], False)
        if return_terms:
            return q_pi, G, {k: self._out([v], True) for k, v in terms.items()}
        return q_pi, G

    def _neg_efe(self):
        """``control.neg_efe``, or its compiled twin ``kernels.neg_efe_numba`` (same numbers
        to ~1e-15) for ``kernel="numba"``, and for ``"auto"`` when the model has one factor,
        one modality and no parameter information gain (the tutorial agent)."""
        if self.kernel == "numpy":
            return control.neg_efe
        from . import kernels  # numba compiles (or loads from its cache) on first use

        fits = kernels.supports(
            self.A, self.B, self.A_dependencies, self.B_dependencies, self.use_param_info_gain
        )
        if self.kernel == "numba" and not fits:
            raise ValueError(
                "kernel: 'numba' needs one factor, one modality and no parameter information "
                "gain on NumPy; use 'numpy' or 'auto'"
            )
        return kernels.neg_efe_numba if fits else control.neg_efe

    def _q_pi_in(self, q_pi):
        q = float_array(q_pi, "q_pi")
        P = self.policies.shape[0]
        if q.shape[-1:] != (P,) or q.ndim != 1 + int(self.batched):
            raise ValueError(f"q_pi: expected ({P},) (+ batch), got {q.shape}")
        return self._as_batch(q)

    def action_marginals(self, q_pi):
        """P(u_f) for each control factor (a single array for one factor)."""
        m = control.action_marginals(self._q_pi_in(q_pi), self.policies, self.num_controls)
        return self._out(m, self.single_factor)

    def sample_action(self, q_pi, rng=None):
        """An action per factor, (F,) (or (batch, F)); ``rng`` a numpy Generator if stochastic."""
        a = control.select_action(
            self._q_pi_in(q_pi),
            self.policies,
            self.num_controls,
            self.action_selection,
            self.sampling_mode,
            self.alpha,
            rng,
        )
        return a if self.batched else a[0]

    # ------------------------------------------------------------------ learning

    def update_A(self, obs, qs):
        """Eqs. (2.21), (2.20) for one step: add ``obs (x) qs`` to pA; A becomes E[Dir(pA)]."""
        if self.pA is None:
            raise ValueError("pA: update_A needs Dirichlet counts pA, got None")
        o = [x[:, None] for x in self._obs_in(obs)]
        q = [x[:, None] for x in self._beliefs_in(qs, "qs")]
        pA, A = learning.update_pA(self.pA, o, q, self.A_dependencies, self.lr_pA)
        self.pA = pA
        self.A = [a if a is not None else old for a, old in zip(A, self.A, strict=True)]
        return self._out(self.A, self.single_modality)

    def update_B(self, qs_seq, actions):
        """Eqs. (2.22), (2.20): ``qs_seq`` a sequence of T beliefs, ``actions`` the T-1 actions."""
        if self.pB is None:
            raise ValueError("pB: update_B needs Dirichlet counts pB, got None")
        qs_seq = list(qs_seq)
        if len(qs_seq) < 2:
            raise ValueError(f"qs_seq: expected at least 2 time steps, got {len(qs_seq)}")
        acts = [self._action_in(a) for a in actions]  # first axis is time
        if len(acts) != len(qs_seq) - 1:
            raise ValueError(f"actions: expected {len(qs_seq) - 1} actions, got {len(acts)}")
        beliefs = [self._beliefs_in(q, f"qs_seq[{t}]") for t, q in enumerate(qs_seq)]
        q = [xp.stack([b[f] for b in beliefs], axis=1) for f in range(self.num_factors)]
        a = xp.asarray(np.stack(acts, axis=1))
        pB, B = learning.update_pB(self.pB, q, a, self.B_dependencies, self.lr_pB)
        self.pB = pB
        self.B = [b if b is not None else old for b, old in zip(B, self.B, strict=True)]
        return self._out(self.B, self.single_factor)


__all__ = ["Agent", "KERNELS", "NORM_TOL", "dirichlet_expected_value"]
