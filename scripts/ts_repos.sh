#!/usr/bin/env bash
# Real repositories for the tree-sitter measurements (issue 24: dependency order, syntax signal), one
# folder per repository under $TS_REPOS_DIR (default /tmp/ts-repos), from the package registries only:
# Debian packages that ship sources (Go, Rust), npm tarballs (Java, JavaScript, TypeScript) and PyPI
# sdists (C, C++, C#). Python (and more C++ headers) come from the project's own .venv.
#   bash scripts/ts_repos.sh            # then: python -m pipelines.bench_treesitter (or `make bench`)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
DIR="${TS_REPOS_DIR:-/tmp/ts-repos}"
DEBS=(golang-github-spf13-cobra-dev=1.6.1-1 golang-github-prometheus-client-golang-dev=1.14.0-3
      librust-regex-syntax-dev=0.6.27-1 librust-serde-json-dev=1.0.87-1)
NPM=(cordova-android@12.0.1 express@4.19.2 eslint@8.57.0 rxjs@7.8.1)
PYPI=(zstandard==0.23.0 greenlet==3.1.1 pythonnet==3.0.5)

mkdir -p "$DIR/dl" "$DIR/repos"
cd "$DIR/dl"
apt-get download "${DEBS[@]}"
for d in *.deb; do n="${d%%_*}"; rm -rf "x/$n"; mkdir -p "x/$n"; dpkg-deb -x "$d" "x/$n"; done
for p in "${NPM[@]}"; do npm pack --silent "$p" >/dev/null; done
for p in "${PYPI[@]}"; do "$PY" -m pip download --no-binary :all: --no-deps --no-build-isolation -q -d . "$p"; done
R="$DIR/repos"; X="$DIR/dl/x"
rm -rf "${R:?}"/*
cp -rL "$X/golang-github-spf13-cobra-dev/usr/share/gocode/src/github.com/spf13/cobra" "$R/go-cobra"
cp -rL "$X/golang-github-prometheus-client-golang-dev/usr/share/gocode/src/github.com/prometheus/client_golang" "$R/go-prometheus-client"
cp -rL "$X"/librust-regex-syntax-dev/usr/share/cargo/registry/regex-syntax-* "$R/rust-regex-syntax"
cp -rL "$X"/librust-serde-json-dev/usr/share/cargo/registry/serde_json-* "$R/rust-serde-json"
for t in *.tgz; do n="${t%.tgz}"; mkdir -p "$R/npm-$n"; tar -xzf "$t" -C "$R/npm-$n" --strip-components=1; done
for t in *.tar.gz; do n="${t%.tar.gz}"; mkdir -p "$R/pypi-$n"; tar -xzf "$t" -C "$R/pypi-$n" --strip-components=1; done
du -sh "$R"/*
