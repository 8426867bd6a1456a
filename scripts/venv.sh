#!/usr/bin/env bash
# Create (once) and print the path of the virtualenv the tests and tools use.
# The venv lives outside the work tree so a fresh clone reuses it; set
# KNCP_VENV to put it elsewhere. torch and tensorflow are large: installing
# them is the slow part of a first run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KNCP_VENV:-$HOME/.cache/kerasncp-go/venv}"
req="$here/tests_py/requirements.txt"
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
