#!/bin/sh
# The highest REGISTER rate proxy-stateful sustains with < 0.1 % failures
# (no auth, memory, UDP), driven by the project's loader so that the
# generator is not the limit: proxy-stateful with one worker on CPU 0,
# the loader with one thread on CPU 1, STEP_SECS per step.  A step is
# clean when failures are under 0.1 % of attempts; the loader's own CPU
# and generator_bound flag say whether it, not the server, was the limit.
# Run it under `flock /tmp/sipstone-bench.lock`.
set -eu
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-"10000 20000 30000 40000 50000 60000"}
STEP_SECS=${STEP_SECS:-5}
out=$(mktemp -d)
port=$(python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
taskset -c 0 bin/proxy-stateful --listen "udp:127.0.0.1:$port" \
	--domain example.com --workers 1 >"$out/proxy.log" 2>&1 &
proxy=$!
trap 'kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null; rm -rf "$out"' EXIT
sleep 0.5
echo "rate attempts failures retransmissions loader_cpu generator_bound p99_us clean"
for rate in $STEPS; do
	taskset -c 1 timeout $((STEP_SECS + 30)) bin/loader --test register \
		--server "udp:127.0.0.1:$port" --users A100000-A199999 \
		--domain example.com --rate "$rate" --duration "$STEP_SECS" \
		--threads 1 --json >"$out/step.json" 2>"$out/step.err" || true
	python3 - "$rate" "$out/step.json" <<'PY'
import json, sys
rate, path = sys.argv[1], sys.argv[2]
j = json.load(open(path))
att, fail = j["attempts"], j["failures"]
clean = att > 0 and fail * 1000 < att
print(rate, att, fail, j["retransmissions"], "%.2f" % j["cpu"],
      j["generator_bound"], j["rtt_us"]["p99"], "yes" if clean else "no")
PY
done
