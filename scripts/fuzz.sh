#!/usr/bin/env bash
# Runs every Go fuzz target for FUZZTIME each (default 60s; scripts/test.sh
# runs them for 5s), one after the other, on at most FUZZ_PARALLEL workers.
#
#   bash scripts/fuzz.sh               # 60 s per target
#   FUZZTIME=10m bash scripts/fuzz.sh  # a long run
#   bash scripts/fuzz.sh FuzzReader    # only the targets named
#
# The seed corpora live in <package>/testdata/fuzz/<Target>/ (plain `go test`
# runs them); what the fuzzer finds and fails on is written there too: commit
# it with the fix. The run is under an address-space limit (FUZZ_MEM_KB,
# default 4 GiB per process) so that a fuzzed size the library accepts as
# fitting the machine still cannot take a shared machine's memory: under the
# limit, the library's own memory checks refuse it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${FUZZTIME:-60s}"
parallel="${FUZZ_PARALLEL:-2}"
targets=(
	"./npz FuzzDecodeNPY"
	"./npz FuzzReader"
	"./core FuzzLoadNPZ"
	"./core FuzzLoadNPZMember"
	"./wiring FuzzNew"
	"./tests_go FuzzForwardNPZ"
	"./tests_go FuzzWiringNew"
	"./tests_go FuzzWiringFromMatrices"
)
ulimit -v "${FUZZ_MEM_KB:-4194304}"
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
		continue
	fi
	echo "== fuzz $pkg $name ($fuzztime)"
	go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$parallel"
done
