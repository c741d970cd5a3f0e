#!/bin/sh
# The loader against sipp: REGISTER (bench_loader.py) and INVITE calls
# (bench_loader_invite.py) at the same fixed rate, CPU per transaction
# and per call, median of 3 (about 4 min in all).  raw_uac and
# reg_responder come from make's bench build ($OUT/bench).  The longer
# stepped runs are not run here; see docs/perf-loader.md:
#	python3 tests/bench/bench_loader.py --max 4 5000
#	python3 tests/bench/bench_loader.py --threads 4 5000
#	python3 tests/bench/bench_loader_invite.py --max 4 2000
# Run every one under flock /tmp/sipstone-bench.lock on a shared machine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v sipp >/dev/null || { echo "SKIP: sipp not installed"; exit 0; }
BENCH=${BENCH:-$here/../../${OUT:-build/rel}/bench}
export BENCH
python3 "$here/bench_loader.py" "$@"
python3 "$here/bench_loader_invite.py"
