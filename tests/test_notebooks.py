"""Every chapter executes from top to bottom in fast mode (REFERENCE_FAST=1).

The chapters are jupytext MyST markdown notebooks; ``.md`` files without a notebook header
are not chapters and are skipped. Each runs in its own folder, as it does in the book build.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(ROOT.glob("chapters/*.md"))


def _is_notebook(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    header = text[3:].split("\n---", 1)[0]
    return "jupytext:" in header or "kernelspec:" in header


NOTEBOOKS = [p for p in CHAPTERS if _is_notebook(p)]
PARAMS = [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [
    pytest.param(None, id="no-chapters", marks=pytest.mark.skip(reason="no chapters yet"))
]


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")
@pytest.mark.parametrize("chapter", PARAMS)
def test_chapter_executes(chapter, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")

    # The kernel inherits this process's environment when it starts.
    monkeypatch.setenv("REFERENCE_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")

    nb = jupytext.read(chapter)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=1200,
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    client.execute()
