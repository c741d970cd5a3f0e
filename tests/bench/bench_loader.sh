#!/bin/sh
# The loader against sipp as REGISTER generators (bench_loader.py);
# raw_uac and reg_responder come from make's bench build ($OUT/bench).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v sipp >/dev/null || { echo "SKIP: sipp not installed"; exit 0; }
BENCH=${BENCH:-$here/../../${OUT:-build/rel}/bench}
export BENCH
exec python3 "$here/bench_loader.py" "$@"
