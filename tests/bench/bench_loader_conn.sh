#!/bin/sh
# The loader's CPU per REGISTER over TCP and TLS, persistent and per
# request, against sipp over TCP (bench_loader_conn.py).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v sipp >/dev/null || { echo "SKIP: sipp not installed"; exit 0; }
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 0; }
exec python3 "$here/bench_loader_conn.py" "$@"
