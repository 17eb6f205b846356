"""Check an exercise: run the student's function and the library's on the same cases.

Usage::

    python -m exercises.check ex01_1            # one PASS/FAIL line per case; exit status 0 or 1
    python -m exercises.check ex01_1 ex01_2     # several exercises in one run
    python -m exercises.check --list            # every registered exercise

From Python (a notebook, a test)::

    from exercises.check import check
    result = check("ex01_1")                    # loads the stub file in exercises/01-.../
    result = check("ex01_1", my_softmax_vjp)    # or checks any function with the same signature
    print(result.message)                       # PASS/FAIL lines, relative errors, hints
    result.passed                               # True when every case is within tolerance

How a verdict is reached. Every exercise is an :class:`ExerciseSpec` in :data:`REGISTRY`.
``spec.cases(rng)`` returns random cases (drawn from ``numpy.random.default_rng(seed)``) and
adversarial ones, each built to expose one known pitfall; ``spec.reference(case)`` computes the
library's answer; ``spec.outputs`` names the arrays to compare. A case passes when every named
output has the library's shape, no NaN/inf where the library's answer is finite, and
``reference.gradcheck.rel_error(yours, library) <= spec.tol``. When a case fails, the student's
output is compared with each registered :class:`Mistake` (a known wrong variant); every match
adds that mistake's hint to the verdict. The student's function gets copies of the inputs and must
not modify them.

Adding the exercises of another chapter: write stubs ``exercises/NN-topic/exK_name.py`` (one
function whose body raises ``NotImplementedError``), write ``exercises/chapterNN.py`` that calls
:func:`register` once per exercise, add that module's name to :data:`SPEC_MODULES`, and register
the pytest marker ``exNN_K`` in ``pyproject.toml``.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import inspect
import math
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reference import backend
from reference.gradcheck import rel_error

EXERCISES_DIR = Path(__file__).resolve().parent

# Modules that register specs when imported; each chapter appends its own.
SPEC_MODULES = (
    "exercises.chapter01",
    "exercises.chapter02",
    "exercises.chapter03",
    "exercises.chapter04",
    "exercises.chapter05",
)

REGISTRY: dict[str, ExerciseSpec] = {}

_ID_PATTERN = re.compile(r"^ex\d{2}_\d+$")


class ContractError(ValueError):
    """The student's return value does not have the structure the docstring promises."""


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Case:
    """One check: ``args`` go to the student's function (as deep copies); ``context`` holds
    whatever else the reference needs (e.g. the forward cache a library backward takes)."""

    name: str
    args: tuple
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Mistake:
    """A known wrong variant with the exercise's signature, and the hint shown when a
    student's output matches it (within the exercise's tolerance) on a failing case."""

    hint: str
    fn: Callable


def single_output(output, case):
    """Default ``ExerciseSpec.outputs``: the return value is one array, named ``output``."""
    return {"output": output}


def named_outputs(*names):
    """An ``ExerciseSpec.outputs`` for functions that return a tuple of arrays, one per name."""
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"names: expected one or more non-empty strings, got {names!r}")

    def outputs(output, case):
        if not isinstance(output, tuple | list) or len(output) != len(names):
            raise ContractError(
                f"expected a tuple of {len(names)} arrays ({', '.join(names)}), "
                f"got {_describe(output)}"
            )
        return dict(zip(names, output, strict=True))

    return outputs


@dataclass(frozen=True)
class ExerciseSpec:
    """Everything :func:`check` needs to know about one exercise.

    ``exercise_id`` is ``exNN_K`` (chapter NN, exercise K; also its pytest marker). ``path`` is
    the stub relative to ``exercises/`` and ``function`` the name it defines. ``reference(case)``
    returns the library's answer, ``cases(rng)`` the list of :class:`Case`, and
    ``outputs(return_value, case)`` a dict ``{name: array}`` (raising :class:`ContractError` for
    a malformed return value). ``tol`` bounds the relative error of every output.
    """

    exercise_id: str
    title: str
    path: str
    function: str
    reference: Callable[[Case], Any]
    cases: Callable[[np.random.Generator], list[Case]]
    tol: float
    outputs: Callable[[Any, Case], dict[str, Any]] = single_output
    mistakes: tuple[Mistake, ...] = ()
    seed: int = 0

    @property
    def stub_path(self) -> Path:
        return EXERCISES_DIR / self.path


def register(spec):
    """Add ``spec`` to :data:`REGISTRY` (each id once) and return it."""
    if not isinstance(spec, ExerciseSpec):
        raise TypeError(f"spec: expected an ExerciseSpec, got {type(spec).__name__}")
    if not _ID_PATTERN.match(spec.exercise_id):
        raise ValueError(f"exercise_id: expected the form 'ex01_1', got {spec.exercise_id!r}")
    if spec.exercise_id in REGISTRY:
        raise ValueError(f"exercise_id: {spec.exercise_id!r} is already registered")
    if not (isinstance(spec.tol, float | int) and 0 < spec.tol < 1):
        raise ValueError(f"tol: expected a number in (0, 1), got {spec.tol!r}")
    for name in ("reference", "cases", "outputs"):
        if not callable(getattr(spec, name)):
            raise TypeError(f"{name}: expected a callable, got {type(getattr(spec, name))}")
    if not all(isinstance(m, Mistake) for m in spec.mistakes):
        raise TypeError("mistakes: expected a tuple of Mistake")
    REGISTRY[spec.exercise_id] = spec
    return spec


def get_spec(exercise_id):
    """The registered :class:`ExerciseSpec` for ``exercise_id`` (e.g. ``"ex01_1"``)."""
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id: expected a string such as 'ex01_1', got {exercise_id!r}")
    for module in SPEC_MODULES:
        importlib.import_module(module)
    if exercise_id not in REGISTRY:
        raise ValueError(f"unknown exercise {exercise_id!r}; registered: {exercise_ids()}")
    return REGISTRY[exercise_id]


def exercise_ids():
    """The registered exercise ids, sorted."""
    for module in SPEC_MODULES:
        importlib.import_module(module)
    return sorted(REGISTRY)


def load_stub(exercise_id):
    """Import the exercise's file afresh (so edits are picked up) and return its function.

    The chapter folders are named like ``01-residual-dynamics`` (not importable as packages),
    so the file is loaded by path.
    """
    spec = get_spec(exercise_id)
    path = spec.stub_path
    if not path.is_file():
        raise FileNotFoundError(f"{exercise_id}: no exercise file at {path}")
    module_spec = importlib.util.spec_from_file_location(f"_exercise_{exercise_id}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    fn = getattr(module, spec.function, None)
    if not callable(fn):
        raise AttributeError(f"{path.name}: expected a function named {spec.function!r}")
    return fn


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CaseResult:
    """The verdict on one case: ``error`` is the worst relative error (inf or nan when the
    outputs could not be compared), ``detail`` says which output or what went wrong, and
    ``hints`` are those of the known mistakes that the output matches."""

    case: str
    passed: bool
    error: float
    tol: float
    detail: str
    hints: tuple[str, ...] = ()

    def line(self, exercise_id):
        text = f"{'PASS' if self.passed else 'FAIL'} {exercise_id} [{self.case}]: {self.detail}"
        return text + "".join(f"\n     hint: {h}" for h in self.hints)


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one exercise. ``attempted`` is False while the stub still raises
    ``NotImplementedError``; ``message`` is the full printable report."""

    exercise_id: str
    passed: bool
    attempted: bool
    message: str
    cases: tuple[CaseResult, ...] = ()

    def __str__(self):
        return self.message


# --------------------------------------------------------------------------- checking


def check(exercise_id, student_fn=None, *, seed=None):
    """Check ``student_fn`` (default: the function in the exercise's stub file).

    Returns a :class:`CheckResult`; it never raises for a wrong, crashing or unfinished
    solution (those are verdicts), only for bad arguments to ``check`` itself.
    """
    spec = get_spec(exercise_id)
    if student_fn is not None and not callable(student_fn):
        raise TypeError(f"student_fn: expected a function, got {type(student_fn).__name__}")
    if seed is None:
        seed = spec.seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    if student_fn is None:
        try:
            student_fn = load_stub(exercise_id)
        except Exception as exc:  # a syntax error or a renamed function in the student's file
            message = f"FAIL {exercise_id}: could not load {spec.path}: {type(exc).__name__}: {exc}"
            return CheckResult(exercise_id, False, True, message)

    results = []
    with backend.using(np):
        for case in spec.cases(np.random.default_rng(seed)):
            try:
                results.append(_run_case(spec, student_fn, case))
            except NotImplementedError as exc:
                if not results:  # the untouched stub
                    return CheckResult(exercise_id, False, False, _not_attempted(spec, exc))
                detail = f"your function raised NotImplementedError: {exc}"
                results.append(_failed(case, spec.tol, detail))
    passed = all(r.passed for r in results)
    n_ok = sum(r.passed for r in results)
    lines = [r.line(exercise_id) for r in results]
    lines.append(
        f"{'PASSED' if passed else 'FAILED'} {exercise_id} ({spec.title}): "
        f"{n_ok}/{len(results)} cases within tolerance {spec.tol:.0e}"
    )
    return CheckResult(exercise_id, passed, True, "\n".join(lines), tuple(results))


def _run_case(spec, fn, case):
    """Run one case; lets ``NotImplementedError`` through (the stub is not attempted)."""
    expected = _as_arrays(spec.outputs(spec.reference(copy.deepcopy(case)), case))
    args = copy.deepcopy(case.args)
    try:
        with np.errstate(all="ignore"):
            output = fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:
        detail = f"your function raised {type(exc).__name__}: {exc}"
        return _failed(case, spec.tol, detail, _diagnose(spec, case, raised=exc))
    changed = _mutated_argument(fn, case.args, args)
    if changed is not None:
        detail = f"your function modified its input {changed} in place; return new arrays"
        return _failed(case, spec.tol, detail)
    try:
        got = _as_arrays(spec.outputs(output, case))
    except ContractError as exc:
        return _failed(case, spec.tol, f"unexpected return value: {exc}")
    passed, error, detail = _compare(got, expected, spec.tol)
    hints = () if passed else _diagnose(spec, case, got=got)
    return CaseResult(case.name, passed, error, spec.tol, detail, hints)


def _failed(case, tol, detail, hints=()):
    return CaseResult(case.name, False, math.inf, tol, detail, hints)


def _not_attempted(spec, exc):
    return (
        f"NOT ATTEMPTED {spec.exercise_id} ({spec.title}): not attempted yet -- "
        f"{spec.function} still raises NotImplementedError({str(exc)!r}). "
        f"Replace the `raise` in exercises/{spec.path} with your solution and run the check again."
    )


def _as_arrays(named):
    """``{name: float64 ndarray}``; :class:`ContractError` for a non-numeric value."""
    arrays = {}
    for name, value in named.items():
        try:
            arrays[name] = np.asarray(backend.asnumpy(value), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ContractError(
                f"{name}: expected a numeric array, got {_describe(value)}"
            ) from exc
    return arrays


def _compare(got, expected, tol):
    """``(passed, worst relative error, detail)`` over the named outputs."""
    errors = {}
    for name, want in expected.items():
        have = got.get(name)
        if have is None:
            return False, math.inf, f"missing output {name!r}"
        if have.shape != want.shape:
            return False, math.inf, f"{name}: shape {have.shape}, expected {want.shape}"
        bad = ~np.isfinite(have) & np.isfinite(want)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            detail = (
                f"{name}: {int(bad.sum())} NaN/inf entries where the library's answer is "
                f"finite (first at index {first})"
            )
            return False, math.inf, detail
        errors[name] = rel_error(have, want)
    worst_name = max(errors, key=lambda n: (math.isnan(errors[n]), errors[n]))  # NaN is worst
    worst = errors[worst_name]
    label = ""
    if len(expected) > 1:
        label = f"worst output {worst_name}: " if worst > 0 else f"all {len(expected)} outputs: "
    return worst <= tol, worst, f"{label}relative error {worst:.1e} (tolerance {tol:.0e})"


def _diagnose(spec, case, got=None, raised=None):
    """The hints of the mistakes whose output matches ``got`` on this case (or that raise
    the student's exception: same type and message). Several can match: e.g. when the norm
    is just below max_norm, every variant that fails to clip gives the same numbers."""
    hints = []
    for mistake in spec.mistakes:
        try:
            with np.errstate(all="ignore"):
                output = mistake.fn(*copy.deepcopy(case.args))
        except Exception as exc:
            if raised is not None and (type(exc), str(exc)) == (type(raised), str(raised)):
                hints.append(mistake.hint)
            continue
        if got is None:
            continue
        try:
            theirs = _as_arrays(spec.outputs(output, case))
        except ContractError:
            continue
        if _matches(got, theirs, spec.tol):
            hints.append(mistake.hint)
    return tuple(hints)


def _matches(a, b, tol):
    """Same names and shapes, the same non-finite entries, finite entries within ``tol``."""
    if set(a) != set(b):
        return False
    for name in a:
        x, y = a[name], b[name]
        if x.shape != y.shape:
            return False
        fx, fy = np.isfinite(x), np.isfinite(y)
        if not np.array_equal(fx, fy) or not np.array_equal(x[~fx], y[~fy], equal_nan=True):
            return False
        if fx.any() and not rel_error(x[fx], y[fy]) <= tol:
            return False
    return True


def _mutated_argument(fn, before, after):
    """Name of the first argument that differs from its original copy, else ``None``."""
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        if not _same(a, b):
            return repr(names[i]) if i < len(names) else f"#{i + 1}"
    return None


def _same(a, b):
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=True)
        )
    return bool(a == b)


def _describe(value):
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} of shape {shape}" if shape is not None else type(value).__name__


# --------------------------------------------------------------------------- CLI


def main(argv=None):
    """``python -m exercises.check EXERCISE [EXERCISE ...]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m exercises.check",
        description="Check exercise solutions against the library (PASS/FAIL per case).",
    )
    parser.add_argument("exercise_ids", nargs="*", metavar="EXERCISE", help="e.g. ex01_1")
    parser.add_argument("--list", action="store_true", help="list the registered exercises")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random cases")
    args = parser.parse_args(argv)
    if args.list:
        for eid in exercise_ids():
            spec = REGISTRY[eid]
            print(f"{eid}  {spec.title}  (exercises/{spec.path}: {spec.function})")
        return 0
    if not args.exercise_ids:
        parser.error("give an exercise id such as ex01_1 (or --list)")
    unknown = [eid for eid in args.exercise_ids if eid not in exercise_ids()]
    if unknown:
        parser.error(f"unknown exercise(s) {unknown}; registered: {exercise_ids()}")
    status = 0
    for eid in args.exercise_ids:
        result = check(eid, seed=args.seed)
        print(result.message)
        status = status if result.passed else 1
    return status


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the spec modules register
    # into ``exercises.check.REGISTRY``.
    from exercises.check import main as _main

    sys.exit(_main())
