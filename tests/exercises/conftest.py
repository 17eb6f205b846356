"""Make the repository root importable so that ``import exercises`` finds the exercise package
(``reference`` is installed; ``exercises`` is not, and plain ``pytest`` does not add the root)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
