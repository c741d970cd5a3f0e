#!/bin/sh
# The loader against sipp as REGISTER generators (bench_loader.py).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v sipp >/dev/null || { echo "SKIP: sipp not installed"; exit 0; }
exec python3 "$here/bench_loader.py" "$@"
