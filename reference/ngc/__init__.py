"""Chapter 5: neural generative coding (NGC) and a backprop-free active NGC agent in NumPy.

Modules: :mod:`.circuit` (settling, Eqs. (5.1)-(5.4), and the fast projection),
:mod:`.hebbian` (local updates, modulation, normalisation), :mod:`.kernels` (numba twins),
:mod:`.angc` (the ANGC agent), :mod:`.dqn` (a NumPy DQN baseline), :mod:`.run` (episode
loops and comparisons), :mod:`.experiments`, :mod:`.plots`, :mod:`.vectors`, :mod:`.cli`.
"""
