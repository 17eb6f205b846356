# Every target bootstraps .venv from nothing; rerunning reuses it until pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
export MPLBACKEND := Agg
export NUMBA_CACHE_DIR := $(CURDIR)/.venv/numba-cache
# Small matrices: OpenBLAS threads only compete with ours (and with pytest-xdist workers).
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: test book bench lint vectors clean help

help:
	@echo "make test   - unit, golden, gradient, twin, notebook and exercise tests (fast mode)"
	@echo "make book   - build the Jupyter Book with every chapter executed (offline, -W)"
	@echo "make bench  - timing tables (installs the CPU build of PyTorch for the side-by-side)"
	@echo "make lint   - ruff"

$(VENV)/.stamp-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e '.[dev]'
	touch $@

$(VENV)/.stamp-book: $(VENV)/.stamp-dev
	$(PIP) -e '.[dev,book]'
	touch $@

$(VENV)/.stamp-bench: $(VENV)/.stamp-dev
	$(PIP) 'torch==2.13.0' || echo "torch could not be installed: benchmarks run without it"
	touch $@

test: $(VENV)/.stamp-dev
	REFERENCE_FAST=1 $(BIN)/python -m pytest -n 2 --dist loadfile

book: $(VENV)/.stamp-book book/vendor_static/mathjax/tex-mml-chtml.js
	rm -rf book/_build/html  # Sphinx never deletes stale pages
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml \
		--path-output book -W -n --keep-going
	$(BIN)/python book/check_offline.py book/_build/html
	@echo "Book built: file://$(CURDIR)/book/_build/html/index.html"

# MathJax 3 is served from the book itself so the HTML has no external URLs.
book/vendor_static/mathjax/tex-mml-chtml.js:
	mkdir -p book/vendor_static/.npm
	cd book/vendor_static/.npm && npm install --silent --no-audit --no-fund mathjax@3
	rm -rf book/vendor_static/mathjax
	cp -r book/vendor_static/.npm/node_modules/mathjax/es5 book/vendor_static/mathjax
	rm -rf book/vendor_static/.npm

bench: $(VENV)/.stamp-bench
	$(BIN)/python benchmarks/bench_residual_dynamics.py
	$(BIN)/python benchmarks/bench_active_inference.py
	$(BIN)/python benchmarks/bench_dsr.py
	$(BIN)/python benchmarks/bench_gflownet.py
	$(BIN)/python benchmarks/bench_ngc.py --ngclearn-python "$(NGCLEARN_PYTHON)"  # e.g. /tmp/ngc_venv/bin/python

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check reference tests exercises benchmarks book
	$(BIN)/ruff format --check reference tests exercises benchmarks

vectors: $(VENV)/.stamp-dev
	$(BIN)/python -m reference vectors out/vectors

clean:
	rm -rf book/_build .pytest_cache .ruff_cache out
