#!/bin/sh
# proxy-stateful vs Kamailio (tm t_relay, record_route, location lookup;
# tests/bench/kamailio-stateful.cfg): CPU per INVITE call
# (INVITE/100/180/200/ACK/BYE/200 through the transaction layer with
# Record-Route) at a fixed rate below saturation.  Each server runs one
# worker pinned to PROXY_CPU; the sipp caller and the sipp callee (which
# registers first) share LOAD_CPU.  CPU is the time on CPU of every
# thread and child process of the server (/proc/PID/task/TID/schedstat,
# ns) over the load, divided by the calls sipp completed.  Runs
# alternate between the servers; median of RUNS.
#
#   sh tests/bench/stateful_calls.sh   (RATE=1000 N=10000 RUNS=3)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench/benchlib.sh"
: "${RATE:=1000}" "${N:=10000}" "${RUNS:=3}"
bench_require sipp kamailio taskset
bench_tmp /tmp/bench-sfcalls.XXXXXX

base=$((20000 + $$ % 20000))
P=$base U=$((base + 1))
echo "SEQUENTIAL" > "$tmp/callee.csv"
echo "bob;bench.test;x;127.0.0.1;$U" >> "$tmp/callee.csv"
echo "SEQUENTIAL" > "$tmp/caller.csv"
echo "alice;bench.test" >> "$tmp/caller.csv"

taskset -c "$LOAD_CPU" sipp -sn uas -i 127.0.0.1 -p "$U" -nostdin \
	> "$tmp/uas.out" 2>&1 &
pids="$pids $!"

one() { # server -> prints "us_per_call ok failed"
	case $1 in
	proxy-stateful)
		taskset -c "$PROXY_CPU" "$bin/proxy-stateful" \
			--listen "udp:127.0.0.1:$P" --domain bench.test \
			--record-route --workers 1 2> "$tmp/ps.log" &
		spid=$! ;;
	kamailio)
		taskset -c "$PROXY_CPU" kamailio \
			-f "$top/tests/bench/kamailio-stateful.cfg" -DD -E -n 1 \
			-l "udp:127.0.0.1:$P" -Y "$tmp" -w "$tmp" \
			> "$tmp/k.out" 2> "$tmp/k.log" &
		spid=$! ;;
	esac
	pids="$pids $spid"
	sleep 1
	taskset -c "$LOAD_CPU" sipp -sf "$sc/stateful_register.xml" \
		-inf "$tmp/callee.csv" -m 1 -i 127.0.0.1 -nostdin \
		-timeout 10s "127.0.0.1:$P" > "$tmp/reg.out" 2>&1 ||
		echo "register failed" >&2
	c0=$(cpu_ns $spid)
	taskset -c "$LOAD_CPU" sipp -sf "$sc/stateful_uac.xml" \
		-inf "$tmp/caller.csv" -s bob -m "$N" -r "$RATE" -l 5000 \
		-i 127.0.0.1 -nostdin -timeout 120s -max_retrans 3 \
		-trace_stat -stf "$tmp/stat.csv" "127.0.0.1:$P" \
		> "$tmp/sipp.out" 2>&1 || true
	c1=$(cpu_ns $spid)
	kill $spid; wait $spid 2>/dev/null || true
	ok=$(awk -F';' 'NR==1 {for (i=1;i<=NF;i++) h[$i]=i} END {print $h["SuccessfulCall(C)"]}' "$tmp/stat.csv")
	bad=$(awk -F';' 'NR==1 {for (i=1;i<=NF;i++) h[$i]=i} END {print $h["FailedCall(C)"]}' "$tmp/stat.csv")
	rm -f "$tmp/stat.csv"
	awk -v d=$((c1 - c0)) -v n="$ok" -v b="$bad" \
		'BEGIN { printf "%.1f %d %d\n", n ? d / 1000 / n : 0, n, b }'
}

bench_alternate one proxy-stateful kamailio
bench_pair_report "INVITE calls with Record-Route, UDP, $RATE/s x $N, 1 worker pinned:" \
	us/call "us ok failed" "goal <= 0.4"
