#!/usr/bin/env bash
# Runs every test: Go (the core tests run both the AVX2 assembly and the
# portable kernels), the Python static checks (ruff, mypy), then pytest
# against the reference packages (and the README's examples). Installs
# what it needs (Go modules, the test virtualenv with keras-ncp 2.1.0,
# ncps 1.0.1, torch, tensorflow) on first use.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="$(bash scripts/venv.sh)"

echo "== go vet"
go vet ./...
GOARCH=arm64 go vet ./core/... ./wiring/... ./internal/... ./npz/...   # the portable-kernel build

echo "== staticcheck"
go tool staticcheck ./...   # pinned in go.mod's tool block

echo "== go test"
go test ./...

echo "== go fuzz (every target for 5 s; scripts/fuzz.sh runs them longer)"
FUZZTIME="${FUZZTIME:-5s}" bash scripts/fuzz.sh

echo "== build libkerasncp"
bash scripts/build-lib.sh >/dev/null

echo "== ruff (rules in pyproject.toml [tool.ruff])"
"$venv/bin/ruff" check .

echo "== mypy (the package; pyproject.toml [tool.mypy])"
"$venv/bin/mypy"

echo "== pytest (tests_py/test_readme.py runs the README's code blocks)"
export PYTHONPATH="$here/python${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL=2
# Files that load a framework which cannot share a process with the others
# run in pytest processes of their own: paddle crashes when it is imported
# after tensorflow (paddlepaddle 3.0-3.3.1, tensorflow 2.21), and torch's
# triton aborts when it is first imported after tensorflow.
own_process=(tests_py/test_datasets.py tests_py/test_paddle.py)
"$venv/bin/python" -m pytest -q tests_py "${own_process[@]/#/--ignore=}" "$@"

"$venv/bin/python" -c "import paddle" || { echo "test.sh: paddlepaddle does not import in $venv" >&2; exit 1; }
for f in "${own_process[@]}"; do
  echo "== pytest $f (own process)"
  "$venv/bin/python" -m pytest -q "$f" "$@"
done
