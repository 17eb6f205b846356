"""Fast checks that keep the book in step with the library.

* every entry of ``book/_toc.yml`` exists;
* every ``literalinclude`` with ``:pyobject:`` in a chapter names an existing file and a
  class, function or method (``Class.method``) defined in it, as Sphinx would look it up;
* every ``{cite}`` key used in a chapter is in ``book/references.bib``.
"""

import ast
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(ROOT.glob("chapters/*.md"))
SUFFIXES = (".md", ".ipynb", ".rst")

# ```{literalinclude} path   (or a ::: colon fence), followed by its :option: lines
INCLUDE = re.compile(
    r"^[ \t]*(?:`{3,}|:{3,})\{literalinclude\}[ \t]+(?P<path>\S+)[ \t]*\n"
    r"(?P<options>(?:[ \t]*:[\w-]+:.*\n)*)",
    re.MULTILINE,
)
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


def _toc_files(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("root", "file"):
                yield value
            else:
                yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def _includes():
    for chapter in CHAPTERS:
        for m in INCLUDE.finditer(chapter.read_text(encoding="utf-8")):
            options = dict(re.findall(r":([\w-]+):[ \t]*(.*)", m["options"]))
            if "pyobject" not in options:
                continue
            # Sphinx: relative to the chapter, or to the source root when it starts with "/"
            base = ROOT if m["path"].startswith("/") else chapter.parent
            path = base / m["path"].lstrip("/")
            name = options["pyobject"].strip()
            yield pytest.param(chapter, path, name, id=f"{chapter.stem}:{name}")


def _defines(tree: ast.Module, dotted: str) -> bool:
    body = tree.body
    for part in dotted.split("."):
        kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        found = [n for n in body if isinstance(n, kinds) and n.name == part]
        if not found:
            return False
        body = found[-1].body
    return True


INCLUDES = list(_includes()) or [
    pytest.param(None, None, None, id="none", marks=pytest.mark.skip(reason="no literalincludes"))
]


def test_toc_entries_exist():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    files = list(_toc_files(toc))
    assert files, "book/_toc.yml lists no files"
    missing = [f for f in files if not any((ROOT / (f + s)).is_file() for s in SUFFIXES)]
    assert not missing, f"book/_toc.yml names files that do not exist: {missing}"


def test_config_files_exist():
    config = yaml.safe_load((BOOK / "_config.yml").read_text(encoding="utf-8"))
    for bib in config["bibtex_bibfiles"]:
        assert (ROOT / bib).is_file(), f"bibtex file {bib} is missing"
    # Jupyter Book v1 injects every .js/.css under a root _static/ as a tag on every page.
    assert not (ROOT / "_static").exists(), "keep static files in book/vendor_static, not _static"


@pytest.mark.parametrize("chapter, path, name", INCLUDES)
def test_literalinclude_pyobject_exists(chapter, path, name):
    assert path.is_file(), f"{chapter.name}: literalinclude file {path} does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert _defines(tree, name), f"{chapter.name}: {name!r} is not defined in {path}"


def test_cited_keys_are_in_bibliography():
    bib = (BOOK / "references.bib").read_text(encoding="utf-8")
    known = set(re.findall(r"@\w+\{\s*([^,\s]+)\s*,", bib))
    cited = {
        (chapter.name, key.strip())
        for chapter in CHAPTERS
        for keys in CITE.findall(chapter.read_text(encoding="utf-8"))
        for key in keys.split(",")
    }
    missing = sorted(f"{name}: {key}" for name, key in cited if key not in known)
    assert not missing, f"cited but not in book/references.bib: {missing}"
