"""Fail if the built book would reach the network.

Usage: python book/check_offline.py book/_build/html

The book must read offline, so the built HTML may contain no external URLs. An external URL is
one with a scheme and a host (``http://``, ``https://``, ``ftp://``...) or a protocol-relative
``//host/...``; ``data:``, ``mailto:``, ``#anchor`` and relative paths are fine.

What is an error (exit status 1):

* HTML: any external URL in a URL-bearing attribute (``src``, ``href``, ``srcset``, ``data``,
  ``action``, ``poster``, ``xlink:href``...) of any element. This includes ``<a href>`` in the
  prose: cite with ``{cite}`` and ``book/references.bib`` rather than linking out. The theme
  adds no such links with ``book/_config.yml`` as it is, so there is nothing to allow-list.
  Also ``url(...)`` / ``@import`` in ``style`` attributes and ``<style>`` blocks, a
  ``<meta http-equiv="refresh">`` to an external URL, and any absolute URL written as a string
  inside an inline ``<script>`` (this is how sphinx-thebe would load its CDN bundle).
* CSS: ``url(...)`` and ``@import`` of an external URL.
* JS: an external URL loaded by code, i.e. a string literal passed to ``import(...)``,
  ``importScripts(...)``, ``fetch(...)``, named after ``import ... from``, or assigned to a
  ``.src`` / ``.href``. Other URL strings in bundled theme scripts (XML namespaces such as
  ``http://www.w3.org/2000/svg``, licence comments, help text) load nothing and are ignored.

The vendored MathJax (``_static/mathjax/``) is skipped: it is the npm ``mathjax@3`` ``es5``
build, loaded from a local path, and its sources contain CDN names it only uses when it was
itself loaded from that CDN.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

SKIP_DIRS = ("_static/mathjax",)
URL_ATTRS = {
    "src", "href", "srcset", "data", "action", "formaction", "poster", "background",
    "cite", "longdesc", "manifest", "ping", "xlink:href", "imagesrcset",
}  # fmt: skip
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.\-]*:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)['"]""", re.IGNORECASE)
ABS_URL_STRING = re.compile(r"""['"`]((?:[a-z][a-z0-9+.\-]*:)?//[^'"`\s]+)""", re.IGNORECASE)
JS_LOAD = re.compile(
    r"""(?:\bimport\s*\(|\bimportScripts\s*\(|\bfetch\s*\(|\bfrom|\.(?:src|href)\s*=)\s*"""
    r"""['"`]((?:[a-z][a-z0-9+.\-]*:)?//[^'"`\s]+)""",
    re.IGNORECASE,
)


def is_external(url: str) -> bool:
    return bool(EXTERNAL.match(url))  # data:, mailto:, #x and relative paths have no "//"


def css_urls(text: str) -> list[str]:
    return [a or b for a, b in CSS_URL.findall(text) if is_external(a or b)]


class _PageScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in = None  # "script" or "style" while inside one

    def handle_starttag(self, tag, attrs):
        attrs = {k.lower(): v or "" for k, v in attrs}
        for name, value in attrs.items():
            if name in URL_ATTRS:
                urls = [value]
                if name in ("srcset", "imagesrcset"):  # "a.png 1x, b.png 2x"
                    urls = [c.split()[0] for c in value.split(",") if c.strip()]
                self.found += [f"<{tag} {name}> {u.strip()}" for u in urls if is_external(u)]
            elif name == "style":
                self.found += [f"<{tag} style> {u}" for u in css_urls(value)]
        if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh":
            target = attrs.get("content", "").partition("url=")[2]
            if is_external(target):
                self.found.append(f"<meta refresh> {target}")
        if tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.found += [f"<style> {u}" for u in css_urls(data)]
        elif self._in == "script":
            self.found += [f"<script> {u}" for u in ABS_URL_STRING.findall(data)]


def scan_file(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        scanner = _PageScanner()
        scanner.feed(text)
        scanner.close()
        return scanner.found
    if path.suffix == ".css":
        return [f"css {u}" for u in css_urls(text)]
    return [f"js load {u}" for u in JS_LOAD.findall(text)]


def scan(root: Path) -> dict[Path, list[str]]:
    problems = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in (".html", ".css", ".js") or not path.is_file():
            continue
        if any(rel == d or rel.startswith(d + "/") for d in SKIP_DIRS):
            continue
        found = scan_file(path)
        if found:
            problems[path] = found
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print("usage: python book/check_offline.py BUILT_HTML_DIR", file=sys.stderr)
        return 2
    root = Path(argv[1])
    if not (root / "_static" / "mathjax" / "tex-mml-chtml.js").is_file():
        print(f"FAIL: {root}/_static/mathjax/tex-mml-chtml.js is missing (MathJax not vendored)")
        return 1
    problems = scan(root)
    for path, found in problems.items():
        print(f"{path.relative_to(root)}:")
        for item in sorted(set(found)):
            print(f"    {item}")
    if problems:
        n = sum(len(set(f)) for f in problems.values())
        print(f"FAIL: {n} external URL(s) in {len(problems)} file(s) under {root}")
        return 1
    print(f"OK: no external URLs in the built book under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
