"""Contract tests shared by every registered exercise, whatever the chapter.

For each exercise: the student's verdict (skipped while the stub is untouched), the blank
stub still raises ``NotImplementedError`` naming the exercise, and its docstring states the
contract (what is checked, the tolerance, the error measure). The chapter files
(``test_exercises.py``, ``test_exercises_ch02.py``) test the checkers themselves.
"""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from checker_suite import marked

from exercises import check as harness

ROOT = Path(__file__).resolve().parents[2]
EXERCISE_IDS = harness.exercise_ids()


def _edited_in_working_tree(path):
    """True when git reports local modifications of ``path`` (a student's edited copy).

    Untracked or newly added files, and trees without git, count as unedited."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "M" in out.stdout[:2]


def _chapter(eid):
    """``"ex02_3"`` -> ``2``."""
    return int(re.fullmatch(r"ex(\d\d)_\d+", eid).group(1))


@pytest.mark.parametrize("eid", [marked(e) for e in EXERCISE_IDS])
def test_your_solution(eid):
    """The student's verdict: skipped while the stub is untouched, else must pass."""
    result = harness.check(eid)
    if not result.attempted:
        pytest.skip(f"{eid} not attempted yet (the stub raises NotImplementedError)")
    assert result.passed, "\n" + result.message


@pytest.mark.parametrize("eid", [marked(e) for e in EXERCISE_IDS])
def test_stub_still_raises(eid):
    spec = harness.get_spec(eid)
    if _edited_in_working_tree(spec.stub_path):
        pytest.skip(f"{spec.path} is edited locally; the blank copy is checked in CI")
    stub = harness.load_stub(eid)
    case = spec.cases(np.random.default_rng(0))[0]
    with pytest.raises(NotImplementedError, match=rf"Exercise {_chapter(eid)}\.\d"):
        stub(*case.args)
    result = harness.check(eid)
    assert not result.attempted and not result.passed
    assert "not attempted yet" in result.message and spec.path in result.message


@pytest.mark.parametrize("eid", [marked(e) for e in EXERCISE_IDS])
def test_stub_docstring_is_a_contract(eid):
    doc = harness.load_stub(eid).__doc__
    assert doc and "Check" in doc and "1e-8" in doc and "rel_error" in doc
    assert f"({_chapter(eid)}." in doc or f"eq. {_chapter(eid)}." in doc or _chapter(eid) == 1


def test_every_chapter_module_registers_exercises():
    assert {_chapter(e) for e in EXERCISE_IDS} >= {1, 2}
