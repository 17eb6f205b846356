"""Chapter 4: stochastic GFlowNets in NumPy (TF-Bind-8 with sticky actions).

Modules: :mod:`.models` (policy and dynamics networks), :mod:`.losses` (flow matching,
detailed balance, trajectory balance, SubTB, ZVar, stochastic detailed balance, dynamics
cross-entropy), :mod:`.train` (configuration, state, training loop, checkpoints), :mod:`.steps` (one
iteration's losses, gradients, dynamics and optimiser steps), :mod:`.envs`, :mod:`.data`,
:mod:`.metrics`, :mod:`.experiments`, :mod:`.plots`, :mod:`.vectors`; numba twins in
:mod:`.kernels` (Adam, rollout, SDB), :mod:`.mlp_kernels` (MLP, log-softmax, cross-entropy)
and :mod:`.compiled` (``train(kernel="numba")``).
"""
