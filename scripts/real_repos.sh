#!/usr/bin/env bash
# Issue 10's measured run on real public repositories, reproducible from the package registries only:
#   Debian binary packages that ship sources (Go, Rust crates, Lua, Haskell examples/templates, LaTeX),
#   an npm tarball (TypeScript sources) and PyPI sdists (C, Cython/Lua, Jupyter notebooks).
# Lays them out under $REAL_DIR (default /tmp/realrepos), plants one HumanEval solution in a copy of
# one repository, runs pipelines/examples/real_repos.yaml and measures the output.
#
#   bash scripts/real_repos.sh [OUT]          # OUT defaults to /tmp/real_run
# Needs: apt-get (root, `apt-get update` done), npm, the project's .venv. Input: ~60 MB unpacked.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
REAL_DIR="${REAL_DIR:-/tmp/realrepos}"
OUT="${1:-/tmp/real_run}"
SHARED="${CORPUS_SHARED_DIR:-$ROOT/../shared}"
[ -d "$SHARED/benchmarks" ] || SHARED=/work/shared

DEBS=(
  golang-github-spf13-cobra-dev=1.6.1-1     # Go
  golang-gopkg-yaml.v3-dev=3.0.1-3          # Go
  librust-serde-json-dev=1.0.87-1           # Rust (crate source under /usr/share/cargo/registry)
  librust-regex-dev=1.7.1-1                 # Rust
  lua-penlight=1.13.1-3                     # Lua
  happy=1.20.0-1                            # Haskell (examples, templates), Yacc-style grammars
  alex=3.2.7.1-3                            # Haskell templates, Alex lexers
  hlint=3.3.6-1+b4                          # Haskell + YAML data files
  texlive-latex-base=2022.20230122-3        # TeX / LaTeX
)
NPM=(rxjs@7.8.1)                            # TypeScript (ships src/)
PYPI=(cffi==1.17.1 lupa==2.4 nbformat==5.10.4 jupytext==1.16.4)   # C; Cython/C/Lua; notebooks (.ipynb)

mkdir -p "$REAL_DIR/deb" "$REAL_DIR/dl" "$REAL_DIR/tarballs"
cd "$REAL_DIR/deb"
apt-get download "${DEBS[@]}"
for d in *.deb; do n="${d%%_*}"; rm -rf "x/$n"; mkdir -p "x/$n"; dpkg-deb -x "$d" "x/$n"; done
cd "$REAL_DIR/dl"
for p in "${NPM[@]}"; do npm pack --silent "$p"; done
for p in "${PYPI[@]}"; do "$PY" -m pip download --no-binary :all: --no-deps -q -d . "$p"; done
cp -f ./*.tgz ./*.tar.gz "$REAL_DIR/tarballs/"

# one folder per repository (copies, symlinks resolved)
X="$REAL_DIR/deb/x"; R="$REAL_DIR/repos"
rm -rf "$R"; mkdir -p "$R/haskell-happy" "$R/haskell-alex"
cp -rL "$X/golang-github-spf13-cobra-dev/usr/share/gocode/src/github.com/spf13/cobra" "$R/go-cobra"
cp -rL "$X/golang-gopkg-yaml.v3-dev/usr/share/gocode/src/gopkg.in/yaml.v3" "$R/go-yaml-v3"
cp -rL "$X"/librust-serde-json-dev/usr/share/cargo/registry/serde_json-* "$R/rust-serde-json"
cp -rL "$X"/librust-regex-dev/usr/share/cargo/registry/regex-* "$R/rust-regex"
cp -rL "$X/lua-penlight/usr/share/lua/5.4/pl" "$R/lua-penlight"
cp -rL "$X/happy/usr/share/doc/happy/examples" "$X/happy/usr/share/happy" "$R/haskell-happy/"
cp -rL "$X/alex/usr/share/alex" "$X/alex/usr/share/doc/alex/examples" "$R/haskell-alex/"
cp -rL "$X/hlint/usr/share/hlint" "$R/hlint" 2>/dev/null || cp -rL "$(find "$X/hlint" -type d -name data | head -1)" "$R/hlint"
cp -rL "$X/texlive-latex-base/usr/share/texlive/texmf-dist" "$R/texlive-latex-base"

# plant HumanEval/10 (prompt + canonical solution) as one Python file of the Go repository
"$PY" - "$SHARED/benchmarks/HumanEval.jsonl.gz" "$R/go-cobra/tools/palindrome_helper.py" <<'EOF'
import gzip, json, os, sys
rows = [json.loads(line) for line in gzip.open(sys.argv[1])]
row = next(r for r in rows if r["task_id"] == "HumanEval/10")
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
open(sys.argv[2], "w").write(row["prompt"] + row["canonical_solution"])
EOF

cd "$ROOT"
CONFIG=pipelines/examples/real_repos.yaml
if [ "$REAL_DIR" != /tmp/realrepos ] || [ "$SHARED" != /work/shared ]; then   # the config names the default places
  CONFIG="$REAL_DIR/real_repos.yaml"
  sed -e "s#/tmp/realrepos#$REAL_DIR#g" -e "s#/work/shared#$SHARED#g" pipelines/examples/real_repos.yaml > "$CONFIG"
fi
"$ROOT/.venv/bin/corpus" run "$CONFIG" --output "$OUT" --num-cpus "${NUM_CPUS:-2}"
"$PY" pipelines/examples/measure_run.py "$OUT" --json "$OUT/reports/measure.json" --negative-check
