#!/usr/bin/env bash
# Runs every test: Go (the core tests run both the AVX2 assembly and the
# portable kernels), then pytest against the reference packages. Installs
# what it needs (Go modules, the test virtualenv with keras-ncp 2.1.0,
# ncps 1.0.1, torch, tensorflow) on first use.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="$(bash scripts/venv.sh)"

echo "== go vet"
go vet ./...
GOARCH=arm64 go vet ./core/ ./wiring/...   # the portable-kernel build

echo "== staticcheck"
go tool staticcheck ./...   # pinned in go.mod's tool block

echo "== go test"
go test ./...

echo "== build libkerasncp"
bash scripts/build-lib.sh >/dev/null

echo "== pytest"
export PYTHONPATH="$here/python${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL=2
"$venv/bin/python" -m pytest -q tests_py "$@"

echo "== pytest (paddle venv: paddle cannot share a process with tensorflow)"
paddle_venv="$(bash scripts/paddle-venv.sh)"
"$paddle_venv/bin/python" -m pytest -q tests_py/test_paddle.py "$@"
