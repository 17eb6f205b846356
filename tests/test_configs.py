from dataclasses import dataclass

import numpy as np
import pytest

from reference.configs import make_config


@dataclass(frozen=True)
class Toy:
    widths: tuple = (4, 4)
    low: tuple | None = None
    lr: float = 1e-3


def test_from_none_dict_config_and_overrides():
    assert make_config(Toy) == Toy()
    assert make_config(Toy, {"lr": 0.5}) == Toy(lr=0.5)
    base = Toy(lr=0.5)
    assert make_config(Toy, base, widths=[8]) == Toy(widths=(8,), lr=0.5)
    assert base == Toy(lr=0.5)  # the given config is not modified


def test_sequences_become_tuples_for_tuple_fields():
    config = make_config(Toy, {"widths": [2, 3], "low": np.array([-1.0, 0.0])})
    assert config.widths == (2, 3) and config.low == (-1.0, 0.0)
    assert make_config(Toy, low=None).low is None
    hash(config)  # still hashable


def test_unknown_names_and_wrong_types_are_errors():
    with pytest.raises(ValueError, match="unknown Toy settings \\['lrate'\\]"):
        make_config(Toy, lrate=1.0)
    with pytest.raises(ValueError, match="config: expected None, a dict or a Toy"):
        make_config(Toy, [("lr", 1.0)])
