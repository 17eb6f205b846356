"""The checker tests every chapter runs on its exercises, written once.

A chapter's test file defines its solutions and known-wrong variants and then calls::

    globals().update(checker_tests(EXERCISE_IDS, LIBRARY, TEXTBOOK, WRONG))

which adds, per exercise: the checker accepts the library solution and an independently
written one (also on other seeds), rejects each wrong variant with its hint, and rejects
every mistake registered with the exercise.
"""

import pytest

from exercises import check as harness


def marked(eid, *values):
    """A parametrize entry carrying the exercise's pytest marker (``-m ex01_1`` selects it)."""
    return pytest.param(eid, *values, marks=getattr(pytest.mark, eid), id=eid)


def checker_tests(exercise_ids, library, textbook, wrong, min_mistakes=1):
    """The test functions for one chapter, keyed by their ``test_*`` names."""
    each = pytest.mark.parametrize("eid", [marked(e) for e in exercise_ids])

    @each
    def test_checker_accepts_library_solution(eid):
        result = harness.check(eid, library[eid])
        assert result.passed, "\n" + result.message
        assert len(result.cases) >= 5 and all(r.error <= r.tol for r in result.cases)
        assert result.message.splitlines()[-1].startswith(f"PASSED {eid}")

    @each
    def test_checker_accepts_independent_solution(eid):
        result = harness.check(eid, textbook[eid])
        assert result.passed, "\n" + result.message

    @each
    def test_checker_accepts_solutions_with_other_seeds(eid):
        for seed in (1, 2):
            assert harness.check(eid, library[eid], seed=seed).passed
            assert harness.check(eid, textbook[eid], seed=seed).passed

    @pytest.mark.parametrize(("eid", "wrong", "hint"), wrong)
    def test_checker_rejects_wrong_variant_with_hint(eid, wrong, hint):
        result = harness.check(eid, wrong)
        assert result.attempted and not result.passed
        failing = [r for r in result.cases if not r.passed]
        assert any(hint in h for r in failing for h in r.hints), "\n" + result.message
        assert "FAIL" in result.message and "tolerance 1e-08" in result.message

    @each
    def test_checker_rejects_every_registered_mistake(eid):
        spec = harness.get_spec(eid)
        assert len(spec.mistakes) >= min_mistakes
        for mistake in spec.mistakes:
            result = harness.check(eid, mistake.fn)
            assert not result.passed, mistake.hint
            assert mistake.hint in result.message, mistake.hint

    return {name: fn for name, fn in locals().items() if name.startswith("test_")}
