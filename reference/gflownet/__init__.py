"""Chapter 4: stochastic GFlowNets in NumPy (TF-Bind-8 with sticky actions).

Modules: :mod:`.models` (policy and dynamics networks), :mod:`.losses` (flow matching,
detailed balance, trajectory balance, SubTB, ZVar, stochastic detailed balance, dynamics
cross-entropy), :mod:`.train` (rollouts, replay, training loop), :mod:`.envs`, :mod:`.data`,
:mod:`.metrics`, :mod:`.experiments`, :mod:`.plots`, :mod:`.vectors`.
"""
