"""Save and load parameters and optimiser state, bit-exactly (npz + JSON metadata).

A checkpoint is one ``.npz`` file. Nested dicts of arrays are flattened with ``/`` in the
key (``params/W1``, ``opt/m/W1``); scalars that are not arrays (the optimiser's step
counter, hyper-parameters, the training step) go into a JSON document stored under the key
``__metadata__``. Loading rebuilds the same nesting with arrays of the same dtype and bits.
"""

from __future__ import annotations

import json
import os

import numpy as np

from reference import backend

_META = "__metadata__"


def _flatten(tree, prefix, arrays, scalars):
    for key, value in tree.items():
        if not isinstance(key, str) or "/" in key:
            raise ValueError(f"checkpoint keys must be strings without '/', got {key!r}")
        path = f"{prefix}/{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(value, path, arrays, scalars)
        elif hasattr(value, "shape") and hasattr(value, "dtype"):
            arrays[path] = np.asarray(backend.asnumpy(value))
        elif isinstance(value, (bool, int, float, str)) or value is None:
            scalars[path] = value
        else:
            raise ValueError(
                f"checkpoint value at {path!r}: expected an array, dict or JSON scalar, "
                f"got {type(value).__name__}"
            )


def _set(tree, path, value):
    *parents, leaf = path.split("/")
    node = tree
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


def save(path, tree, metadata=None):
    """Write the nested dict ``tree`` (arrays and JSON scalars) to ``path`` (``.npz``).

    ``metadata`` (a JSON-serialisable dict) is stored alongside and returned by :func:`load`.
    The file is written to a temporary name and renamed, so a crash never leaves half a file.
    """
    arrays, scalars = {}, {}
    _flatten(tree, "", arrays, scalars)
    doc = json.dumps({"scalars": scalars, "metadata": metadata or {}}, sort_keys=True)
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays, **{_META: np.array(doc)})
    os.replace(tmp, path)
    return path


def load(path):
    """Read a checkpoint written by :func:`save`; returns ``(tree, metadata)``.

    Arrays are NumPy arrays; pass them through ``reference.backend.asarray`` to move them to
    the GPU backend.
    """
    with np.load(os.fspath(path), allow_pickle=False) as f:
        if _META not in f.files:
            raise ValueError(f"path: {path} is not a reference checkpoint (no {_META} entry)")
        doc = json.loads(str(f[_META]))
        tree = {}
        for key in f.files:
            if key != _META:
                _set(tree, key, f[key])
    for key, value in doc["scalars"].items():
        _set(tree, key, value)
    return tree, doc["metadata"]


def save_training_state(path, params, opt_state, step, history=None, metadata=None):
    """Checkpoint a training run: parameters, optimiser state, step and loss history."""
    tree = {"params": params, "opt": opt_state, "step": int(step)}
    if history is not None:
        tree["history"] = np.asarray(history, dtype=np.float64)
    return save(path, tree, metadata)


def load_training_state(path):
    """Inverse of :func:`save_training_state`: ``(params, opt_state, step, history, metadata)``."""
    tree, metadata = load(path)
    history = tree.get("history")
    return tree["params"], tree["opt"], tree["step"], history, metadata
