"""The array backend: one name, ``xp``, for NumPy or CuPy.

Chapter code writes ``xp.exp(z)`` and never ``np.exp(z)``, so the same function runs on
NumPy (the default, and what the tests use), on CuPy when a CUDA device is present, and on
``autograd.numpy`` while a gradient check traces it (see :func:`using`).

``xp`` is a thin proxy: attribute access is forwarded to whichever array module is active,
so ``from reference.backend import xp`` stays valid after :func:`use` switches modules.

Selection order: :func:`use` at run time; otherwise the environment variable
``REFERENCE_BACKEND`` (``numpy`` or ``cupy``) read at import; otherwise NumPy.
CuPy is chosen only if it imports *and* ``cupy.cuda.is_available()`` reports a device;
a successful ``import cupy`` on a machine without a GPU is not enough (its first array
operation would fail), so in that case we warn and stay on NumPy.
"""

from __future__ import annotations

import contextlib
import os
import types
import warnings

import numpy

BACKENDS = ("numpy", "cupy")

_active: types.ModuleType = numpy


class _ArrayModuleProxy:
    """Forwards every attribute to the active array module (``numpy``, ``cupy``, ...)."""

    def __getattr__(self, name):
        return getattr(_active, name)

    def __repr__(self) -> str:
        return f"<reference.backend.xp -> {_active.__name__}>"

    def __dir__(self):
        return dir(_active)


xp = _ArrayModuleProxy()


def cupy_device_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
    except Exception:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:
        return False


def use(name: str) -> str:
    """Select the array module by name (``"numpy"`` or ``"cupy"``); return the name in use.

    ``use("cupy")`` falls back to NumPy with a ``RuntimeWarning`` when no CUDA device is
    available, so notebooks written for a GPU still run on a laptop.
    """
    global _active
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"backend name: expected one of {BACKENDS}, got {name!r}")
    name = name.lower()
    if name == "cupy":
        if cupy_device_available():
            import cupy

            _active = cupy
            return "cupy"
        warnings.warn(
            "use('cupy'): CuPy is not installed or reports no CUDA device; staying on NumPy",
            RuntimeWarning,
            stacklevel=2,
        )
    _active = numpy
    return "numpy"


def name() -> str:
    """The name of the active array module's top-level package (``numpy``, ``cupy``, ...)."""
    return _active.__name__.split(".")[0]


def active_module() -> types.ModuleType:
    """The active array module itself (not the proxy)."""
    return _active


@contextlib.contextmanager
def using(module: types.ModuleType):
    """Temporarily make ``module`` the array module, e.g. ``autograd.numpy`` for tracing.

    >>> import autograd.numpy as anp
    >>> with using(anp):
    ...     pass  # library code called here builds an autograd graph
    """
    global _active
    previous = _active
    _active = module
    try:
        yield module
    finally:
        _active = previous


def asnumpy(a):
    """Return ``a`` as a NumPy array (copying from the GPU when it is a CuPy array)."""
    if hasattr(a, "get") and type(a).__module__.startswith("cupy"):
        return a.get()
    return numpy.asarray(a)


def asarray(a, dtype=None):
    """Move ``a`` to the active backend (NumPy -> CuPy on a GPU), keeping its dtype."""
    return _active.asarray(a, dtype=dtype)


def get_array_module(*arrays) -> types.ModuleType:
    """The module that owns ``arrays``: CuPy if any of them is a CuPy array, else NumPy."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy

            return cupy
    return numpy


def _select_from_environment() -> None:
    requested = os.environ.get("REFERENCE_BACKEND", "").strip().lower()
    if requested:
        if requested not in BACKENDS:
            raise ValueError(f"REFERENCE_BACKEND: expected one of {BACKENDS}, got {requested!r}")
        use(requested)


_select_from_environment()
