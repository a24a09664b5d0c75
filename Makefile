# The README's two commands: `make corpus` and `make test`. Every target installs what it needs first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out
CONFIG ?=
STEPS ?= 300

.PHONY: setup system-deps corpus lint test train bench gpu-check clean

setup: $(VENV)/.installed system-deps

# Debian's Chromium + ChromeDriver for the run report's browser test (tests/corpus/runreport/test_run_report.py).
# Installed when apt-get can (root, Debian); otherwise the test skips and says why.
system-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium + chromium-driver (apt-get)"; \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver) >/dev/null \
		|| echo "WARNING: chromium could not be installed; the browser test will skip"; \
	else echo "NOTE: no chromium and no root apt-get: the report's browser test will skip"; fi
	@# The HTML manuals web recall is measured on (docs/recall.md, "Measured on real pages"); absent ones are listed as missing.
	@# Which are development and which test sources: SPLIT_RULE in corpus/stages/recall/page_eval.py.
	@if [ -d /usr/share/doc/maxima-doc/html ] && [ -d /usr/share/doc/python-mpmath-doc/html ] && [ -d /usr/share/doc/debian-history ] \
		&& [ -d /usr/share/doc/python3.11/html ] && [ -d /usr/share/doc/sbcl/sbcl-internals ] && [ -d /usr/share/doc/r-doc-html/manual ] \
		&& [ -d /usr/share/doc/octave/octave.html ] && [ -d /usr/share/doc/debian/FAQ ] && [ -d /usr/share/doc/installation-guide-amd64 ] \
		&& [ -d /usr/share/doc/tuxpaint-data ] && [ -d /usr/share/doc/gnubg ] && [ -d /usr/share/doc/mit-scheme-doc/html ] \
		&& [ -d /usr/share/doc/git-doc ] && [ -d /usr/share/doc/sqlite3/c3ref ] && [ -d /usr/share/gap/doc/ref ] \
		&& [ -d /usr/share/doc/python-scipy-doc/html ] && [ -d /usr/share/gimp/2.0/help/en ] && [ -d /usr/share/doc/kicad/help/en ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing the recall evaluation's HTML manuals (apt-get)"; \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends maxima-doc python-mpmath-doc debian-history \
			python3.11-doc sbcl-doc r-doc-html octave-doc debian-faq installation-guide-amd64 tuxpaint-data gnubg-data \
			mit-scheme-doc git-doc sqlite3-doc gap-doc python-scipy-doc gimp-help-en kicad-doc-en) >/dev/null \
		|| echo "WARNING: the recall evaluation's manuals could not be installed; page_eval lists them as missing"; \
	else echo "NOTE: no root apt-get: the recall evaluation's missing manuals are listed as missing"; fi

# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

corpus: setup
	$(BIN)/corpus run $(CONFIG) --output $(OUT)

# ruff's rules are in pyproject.toml ([tool.ruff]); `make test` (and so CI) fails on a finding.
lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/python -m pytest tests

train: setup
	$(BIN)/corpus train --shards $(OUT)/shards --out $(OUT)/train --preset tiny --steps $(STEPS) --device cpu

bench: setup
	@[ -d $${TS_REPOS_DIR:-/tmp/ts-repos}/repos ] || PY=$(BIN)/python bash scripts/ts_repos.sh >/dev/null \
		|| echo "NOTE: scripts/ts_repos.sh failed: the tree-sitter bench measures the venv's Python distributions only"
	$(BIN)/python -m pipelines.bench --output $(OUT)
gpu-check: setup ; OUT=$(OUT) scripts/gpu_check.sh  # small preset on 1 GPU and on all GPUs -> $(OUT)/gpu_check.json (docs/pretrain.md)

clean:
	rm -rf $(OUT)
