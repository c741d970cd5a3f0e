#!/bin/sh
# proxy-stateful vs Kamailio: CPU per REGISTER (no auth, bindings in
# memory), same sipp load at a fixed rate below saturation, each server
# with one worker pinned to CPU 0, sipp pinned to CPU 1.  CPU is the
# time on CPU of every thread and child process of the server
# (/proc/PID/task/TID/schedstat, ns: utime+stime without the 10 ms
# tick) divided by the REGISTERs sipp completed.  Runs alternate between
# the servers; median of RUNS runs.
#
#   sh tests/bench/stateful_register.sh   (RATE=5000 N=30000 RUNS=3)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench/benchlib.sh"
: "${RATE:=5000}" "${N:=30000}" "${RUNS:=3}" "${USERS:=1000}"
bench_require sipp kamailio taskset
bench_tmp
bench_cleanup_extra() { [ -z "${spid:-}" ] || kill "$spid" 2>/dev/null; }

awk -v n="$USERS" 'BEGIN { print "SEQUENTIAL"; for (i = 0; i < n; i++)
	printf "user%d;bench.test;x;127.0.0.1;%d\n", i, 20000 + i % 1000 }' \
	> "$tmp/users.csv"

run_sipp() { # port
	taskset -c 1 sipp -sf "$top/tests/sipp/stateful_register.xml" \
		-inf "$tmp/users.csv" -m "$N" -r "$RATE" -l 5000 \
		-i 127.0.0.1 -nostdin -timeout 60s -max_retrans 3 \
		"127.0.0.1:$1" > "$tmp/sipp.out" 2>&1 || echo "sipp rc=$?" >&2
}

one() { # server -> prints µs per request
	port=$(free_port)
	case $1 in
	proxy-stateful)
		taskset -c 0 "$bin/proxy-stateful" --listen "udp:127.0.0.1:$port" \
			--domain bench.test --workers 1 2> "$tmp/ps.log" &
		spid=$! ;;
	kamailio)
		taskset -c 0 kamailio -f "$top/tests/bench/kamailio-stateful.cfg" \
			-DD -E -n 1 -l "udp:127.0.0.1:$port" -Y "$tmp" -w "$tmp" \
			> "$tmp/k.out" 2> "$tmp/k.log" &
		spid=$! ;;
	esac
	sleep 1
	c0=$(cpu_ns $spid)
	run_sipp "$port"
	c1=$(cpu_ns $spid)
	kill $spid; wait $spid 2>/dev/null || true
	spid=
	ok=$(sipp_count "$tmp/sipp.out" "Successful call")
	awk -v d=$((c1 - c0)) -v n="${ok:-0}" \
		'BEGIN { printf "%.1f\n", n ? d / 1000 / n : 0 }'
}

bench_alternate one proxy-stateful kamailio
bench_pair_report "REGISTER no auth, memory, UDP, $RATE/s x $N, 1 worker pinned:" \
	us/request us "goal <= 0.5"
