#!/usr/bin/env bash
# Create (once) and print the path of the virtualenv for the PaddlePaddle tests
# (tests_py/test_paddle.py, bench/paddle_compare.py). It is separate from the
# main test venv (scripts/venv.sh) because paddle crashes when it is imported
# after tensorflow in the same process; see tests_py/requirements-paddle.txt.
# Set KNCP_PADDLE_VENV to put it elsewhere.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KNCP_PADDLE_VENV:-$HOME/.cache/kerasncp-go/venv-paddle}"
req="$here/tests_py/requirements-paddle.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" >&2
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$venv"
