"""Language-neutral test vectors: inputs and outputs of the library's public functions.

A port of a chapter to JAX, PyTorch, Julia or C checks itself against these files instead of
against this Python package. ``python -m reference vectors OUT/`` writes, for every
registered :class:`Case`,

* ``OUT/<name>.json`` -- what the case is: the function, the equation it implements, a
  description of the call, the shape and dtype of every array and the non-array arguments;
* ``OUT/<name>.npz``  -- the arrays, float64, under the keys ``inputs.<path>`` and
  ``outputs.<path>`` (nested dicts such as ``params`` are flattened with dots:
  ``inputs.params.W1``);

and ``OUT/index.json`` listing every case (name, chapter, function, equation, files, shapes).

Registering: each chapter has a ``vectors.py`` module with a builder, a function that takes no
arguments and returns a list of :class:`Case`, registered under the chapter's name::

    from reference.vectors import Case, register

    @register("residual-dynamics")
    def cases():
        return [Case(name=..., function=..., equation=..., description=...,
                     inputs={...}, compute=lambda inp: {...})]

``compute`` maps the inputs to the outputs with the library; the writer calls it to produce
the outputs and :func:`verify` calls it again on the inputs read back from disk, so the files
are checked, not just written. Add the chapter's module to :data:`MODULES` so that the
command line finds it.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference import backend

#: Modules that register cases when imported, in the order their chapters appear.
MODULES = (
    "reference.nn_vectors",
    "reference.residual_dynamics.vectors",
    "reference.active_inference.vectors",
    "reference.dsr.vectors",
    "reference.gflownet.vectors",
    "reference.gflownet.vectors_models",
    "reference.ngc.vectors",
)

_BUILDERS: dict[str, list[Callable[[], list]]] = {}


@dataclass(frozen=True)
class Case:
    """One test vector: a call of ``function`` on ``inputs``.

    ``inputs`` is a (nested) dict of arrays and JSON scalars (ints, floats, strings, bools,
    and lists of them such as shapes);
    ``compute(inputs)`` returns the outputs in the same form. Arrays are stored as float64.
    """

    name: str
    function: str
    equation: str
    description: str
    inputs: dict
    compute: Callable[[dict], dict]


def register(chapter: str, builder: Callable[[], list] | None = None):
    """Register ``builder`` (returns a list of :class:`Case`) under ``chapter``.

    Usable as ``register(chapter, builder)`` or as the decorator ``@register(chapter)``.
    """

    def add(fn):
        if not callable(fn):
            raise ValueError(f"builder: expected a function returning cases, got {fn!r}")
        _BUILDERS.setdefault(chapter, [])
        if fn not in _BUILDERS[chapter]:
            _BUILDERS[chapter].append(fn)
        return fn

    return add if builder is None else add(builder)


def load_modules():
    """Import every module in :data:`MODULES` so that their cases are registered."""
    for name in MODULES:
        importlib.import_module(name)


def chapters() -> list[str]:
    """Names of the chapters (and ``core``) that registered cases."""
    load_modules()
    return list(_BUILDERS)


def cases(chapter: str | None = None) -> list[Case]:
    """All registered cases, or those of one chapter."""
    load_modules()
    if chapter is not None and chapter not in _BUILDERS:
        raise ValueError(f"chapter: expected one of {list(_BUILDERS)}, got {chapter!r}")
    names = [chapter] if chapter is not None else list(_BUILDERS)
    out = []
    for ch in names:
        for builder in _BUILDERS[ch]:
            out.extend(builder())
    seen = set()
    for case in out:
        if case.name in seen:
            raise ValueError(f"duplicate test-vector name {case.name!r}")
        seen.add(case.name)
    return out


# --------------------------------------------------------------------------- flattening


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _is_json_scalar(value):
    return isinstance(value, (bool, int, float, str)) or value is None


def _flatten(tree, prefix=""):
    """``{"params": {"W1": a}}`` -> ``({"params.W1": a}, scalars)`` with scalars kept apart."""
    arrays, scalars = {}, {}
    for key, value in tree.items():
        if not isinstance(key, str) or "." in key:
            raise ValueError(f"test-vector keys must be strings without '.', got {key!r}")
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            a, s = _flatten(value, path + ".")
            arrays.update(a)
            scalars.update(s)
        elif _is_array(value):
            arrays[path] = np.asarray(backend.asnumpy(value), dtype=np.float64)
        elif _is_json_scalar(value):
            scalars[path] = value
        elif isinstance(value, (list, tuple)) and all(_is_json_scalar(v) for v in value):
            scalars[path] = list(value)  # e.g. a shape
        else:
            raise ValueError(
                f"test-vector value at {path!r}: expected an array, dict or "
                f"JSON scalar, got {type(value).__name__}"
            )
    return arrays, scalars


def _unflatten(flat):
    tree = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


# --------------------------------------------------------------------------- files


def write_case(out_dir, case: Case, chapter: str):
    """Write ``<name>.json`` and ``<name>.npz`` for one case; return its index entry."""
    in_arrays, in_scalars = _flatten(case.inputs)
    outputs = case.compute(_unflatten({**in_arrays, **in_scalars}))
    out_arrays, out_scalars = _flatten(outputs)
    npz = {f"inputs.{k}": v for k, v in in_arrays.items()}
    npz.update({f"outputs.{k}": v for k, v in out_arrays.items()})
    np.savez(os.path.join(out_dir, f"{case.name}.npz"), **npz)
    doc = {
        "name": case.name,
        "chapter": chapter,
        "function": case.function,
        "equation": case.equation,
        "description": case.description,
        "npz": f"{case.name}.npz",
        "dtype": "float64",
        "inputs": {k: {"key": f"inputs.{k}", "shape": list(v.shape)} for k, v in in_arrays.items()},
        "outputs": {
            k: {"key": f"outputs.{k}", "shape": list(v.shape)} for k, v in out_arrays.items()
        },
        "input_scalars": in_scalars,
        "output_scalars": out_scalars,
    }
    with open(os.path.join(out_dir, f"{case.name}.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    shapes = {f"inputs.{k}": list(v.shape) for k, v in in_arrays.items()}
    shapes.update({f"outputs.{k}": list(v.shape) for k, v in out_arrays.items()})
    return {
        "name": case.name,
        "chapter": chapter,
        "function": case.function,
        "equation": case.equation,
        "files": [f"{case.name}.json", f"{case.name}.npz"],
        "shapes": shapes,
    }


def write(out_dir, chapter: str | None = None):
    """Write every case (or one chapter's) and ``index.json`` into ``out_dir``; return the index."""
    load_modules()
    os.makedirs(out_dir, exist_ok=True)
    names = [chapter] if chapter is not None else list(_BUILDERS)
    index = []
    for ch in names:
        for case in cases(ch):
            index.append(write_case(out_dir, case, ch))
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"format": "reference-test-vectors/1", "cases": index}, f, indent=2)
    return index


def read(out_dir, name):
    """``(inputs, outputs, doc)`` of one written case, with the nesting of the original dicts."""
    with open(os.path.join(out_dir, f"{name}.json"), encoding="utf-8") as f:
        doc = json.load(f)
    with np.load(os.path.join(out_dir, doc["npz"])) as z:
        arrays = {k: z[k] for k in z.files}
    inputs = {k: arrays[v["key"]] for k, v in doc["inputs"].items()}
    outputs = {k: arrays[v["key"]] for k, v in doc["outputs"].items()}
    inputs.update(doc["input_scalars"])
    outputs.update(doc["output_scalars"])
    return _unflatten(inputs), _unflatten(outputs), doc


def verify(out_dir, tol=1e-12):
    """Recompute every case in ``out_dir/index.json`` from its stored inputs.

    Returns ``{name: largest relative error over the outputs}`` and raises ``ValueError``
    naming the first case whose outputs differ by more than ``tol`` (or whose output keys or
    scalars differ).
    """
    from reference.gradcheck import rel_error

    with open(os.path.join(out_dir, "index.json"), encoding="utf-8") as f:
        index = json.load(f)["cases"]
    by_name = {c.name: c for c in cases()}
    errors = {}
    for entry in index:
        name = entry["name"]
        if name not in by_name:
            raise ValueError(f"{name}: not a registered test vector")
        inputs, stored, _ = read(out_dir, name)
        got_arrays, got_scalars = _flatten(by_name[name].compute(inputs))
        want_arrays, want_scalars = _flatten(stored)
        if set(got_arrays) != set(want_arrays) or got_scalars != want_scalars:
            raise ValueError(f"{name}: outputs differ in keys or scalars")
        err = max(
            (rel_error(got_arrays[k], want_arrays[k], nan_equal=True) for k in want_arrays),
            default=0.0,
        )
        if err > tol:
            raise ValueError(f"{name}: recomputed outputs differ, relative error {err:.2e}")
        errors[name] = err
    return errors
