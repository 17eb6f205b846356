"""Chapter 2: discrete active inference in NumPy, with pymdp 1.0's numbers.

Modules: :mod:`.maths` (eps, ln+, entropies, contractions), :mod:`.inference` (fpi, VFE,
exact posterior and filter), :mod:`.control` (policies, expected free energy, action
selection), :mod:`.learning` (Dirichlet updates of A and B), :mod:`.agent` (``Agent``);
the encoder tutorial: :mod:`.envs` (line world, Gaussian data), :mod:`.encoder` (objective
and its hand-derived gradient), :mod:`.train_encoder` (SGD, metrics, rollout), :mod:`.plots`.
Equations are numbered (2.1)-(2.36) in the module docstrings; :mod:`.experiments` and
:mod:`.vectors` serve the chapter, the command line and the porting vectors.
"""

from .agent import Agent
from .maths import EPS

__all__ = ["Agent", "EPS"]
