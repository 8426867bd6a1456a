#!/usr/bin/env bash
# The main job on a fresh machine: install kerasncp-go into a light
# virtualenv and train a model.
#
#   bash scripts/main.sh [kerasncp-go train options]
#   bash scripts/main.sh --task irregular --out runs/plant
#
# Creates ~/.cache/kerasncp-go/venv-main (set KNCP_MAIN_VENV to put it
# elsewhere) with numpy, tqdm, matplotlib and networkx only (no torch or
# TensorFlow), pip-installs this repository into it (pip builds the Go
# library through setup.py, so Go >= 1.26 must be on PATH), then runs
# `kerasncp-go train "$@"` in the current folder. The install is redone only
# when the sources change. The first run takes a minute or two (downloads and
# the Go build); later runs start at once.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KNCP_MAIN_VENV:-$HOME/.cache/kerasncp-go/venv-main}"

if ! command -v go >/dev/null; then
  echo "main.sh: Go is not on PATH; installing kerasncp-go builds its library with Go >= 1.26 (https://go.dev/dl/)" >&2
  exit 1
fi
# pip's output goes to a log that is shown only when pip fails.
piplog="$(mktemp)"
trap 'rm -f "$piplog"' EXIT
pip_install() {
  if ! "$venv/bin/python" -m pip install "$@" >"$piplog" 2>&1; then
    cat "$piplog" >&2
    echo "main.sh: pip install $* failed" >&2
    exit 1
  fi
}

if [[ ! -x "$venv/bin/python" ]]; then
  echo "main.sh: creating the virtualenv $venv" >&2
  python3 -m venv "$venv" >&2
  pip_install --upgrade pip
  pip_install numpy tqdm matplotlib networkx
fi

# Reinstall when any source that goes into the package changed.
stamp="$venv/.kerasncp-go-source.sha256"
want="$(cd "$here" && find capi core internal npz wiring python/kerasncp_go go.mod go.sum setup.py pyproject.toml \
          -type f \( -name '*.go' -o -name '*.s' -o -name '*.h' -o -name '*.py' -o -name '*.typed' \
          -o -name 'go.mod' -o -name 'go.sum' -o -name '*.toml' \) -not -path '*/_native/*' -print0 \
        | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! "$venv/bin/python" -c "import kerasncp_go" 2>/dev/null; then
  echo "main.sh: installing kerasncp-go from $here (building the Go library)" >&2
  # Build from a copy so that the work tree gets no build/ or *.egg-info.
  src="$(mktemp -d)"
  trap 'rm -f "$piplog"; rm -rf "$src"' EXIT
  (cd "$here" && tar --exclude=./.git --exclude=./runs --exclude=./build --exclude=./dist \
      --exclude='*.egg-info' --exclude=./python/kerasncp_go/_native -cf - .) | tar -xf - -C "$src"
  pip_install --force-reinstall --no-deps "$src"
  echo "$want" > "$stamp"
fi

log="$(mktemp)"
"$venv/bin/kerasncp-go" train "$@" | tee "$log"
out="$(sed -n 's/^outputs in \(.*\): .*/\1/p' "$log")"
rm -f "$log"
if [[ -n "$out" ]]; then
  echo
  echo "The model (model.npz, model.json) and the plots are in $(cd "$out" && pwd)"
  echo "Inspect it with: $venv/bin/kerasncp-go info $out"
fi
