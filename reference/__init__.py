"""reference: a NumPy-first course book of five learning-dynamics models.

Shared core: :mod:`reference.backend` (NumPy/CuPy), :mod:`reference.nn` (layers and
optimisers with hand-written backward), :mod:`reference.gradcheck`, :mod:`reference.io`.
One sub-package per chapter, each with the same rooms (model, kernels, train, plots).
"""

__version__ = "0.1.0"
