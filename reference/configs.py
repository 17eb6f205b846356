"""Frozen dataclass configurations built from ``None``, a dict or a config, plus overrides.

Agents and training loops take their hyper-parameters as a frozen dataclass; users pass a
dict (e.g. read from JSON), an existing config or nothing, and change single settings by
keyword. :func:`make_config` is that one conversion, shared by every chapter.
"""

from __future__ import annotations

import dataclasses


def make_config(cls, config=None, /, **overrides):
    """An instance of the dataclass ``cls`` from ``config`` (``None``, a dict or a ``cls``)
    with ``overrides`` applied.

    Unknown setting names raise ``ValueError`` (a typo must not be silently ignored); lists
    given for tuple-typed fields (JSON has no tuples) become tuples, so the config stays
    hashable and comparable. Range checks belong to the dataclass's ``__post_init__``.
    """
    name = cls.__name__
    if config is None:
        base = {}
    elif isinstance(config, cls):
        base = dataclasses.asdict(config)
    elif isinstance(config, dict):
        base = dict(config)
    else:
        raise ValueError(f"config: expected None, a dict or a {name}, got {type(config)}")
    base.update(overrides)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(base) - set(fields)
    if unknown:
        raise ValueError(f"config: unknown {name} settings {sorted(unknown)}")
    for key, value in base.items():
        if "tuple" in str(fields[key].type) and value is not None and not isinstance(value, tuple):
            base[key] = tuple(value)
    return cls(**base)
