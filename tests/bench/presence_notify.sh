#!/bin/sh
# proxy-stateful --presence vs Kamailio (presence + presence_xml, all in
# memory: tests/bench/kamailio-presence.cfg): PUBLISH fan-out.  P
# presentities with W watchers each (one sipp answering every NOTIFY);
# a second sipp publishes at RATE publications/s, each one published
# and then removed (two changes: 2*W NOTIFYs).  Each server runs one
# worker pinned to CPU 0 (Kamailio: -n 1, its timer and helper processes
# counted too), both sipps on CPU 1.  CPU is the time on CPU of every
# thread and child process of the server while the publisher runs
# (/proc/PID/task/TID/schedstat), divided by the NOTIFYs the watchers
# answered meanwhile: the server's capacity in NOTIFYs per CPU-second.
# Runs alternate between the servers; median of RUNS.
#
#   flock /tmp/sipstone-bench.lock sh tests/bench/presence_notify.sh
#   (P=100 W=10 RATE=50 N=1500 RUNS=3 SERVERS="proxy-stateful kamailio")
#   FILTER=1: proxy-stateful with --presence-filter (every watcher
#   allowed the published tuples through a "*" line: the same NOTIFYs,
#   each body composed per watcher), to measure what filtering costs.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench/benchlib.sh"
P=${P:-100}
W=${W:-10}
RATE=${RATE:-50}
N=${N:-1500}
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-proxy-stateful kamailio}
FILTER=${FILTER:-}
bench_require sipp kamailio taskset
bench_tmp
bench_cleanup_extra() {
	[ -z "${wpid:-}" ] || kill "$wpid" 2>/dev/null
	[ -z "${spid:-}" ] || kill "$spid" 2>/dev/null
}

awk -v n="$P" 'BEGIN { print "SEQUENTIAL"
	for (i = 0; i < n; i++) printf "pres%d;bench.test\n", i }' > "$tmp/pres.csv"

# NOTIFYs the watchers received: sipp's -trace_counts file (written
# every second), the column of its loop's recv.
notifies() {
	f=$(ls "$tmp"/presence_bench_watcher_*_counts.csv 2>/dev/null | head -1)
	[ -n "$f" ] || { echo 0; return; }
	awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "2_NOTIFY_Recv") c = i }
		END { print (c ? $c : 0) + 0 }' "$f"
}

one() { # server -> prints "NOTIFYs-per-CPU-second us-per-NOTIFY delivered expected"
	port=$(free_port)
	case $1 in
	proxy-stateful)
		printf '# everyone may see the bench tuple\n* t1 t2\n' \
			> "$tmp/filter.txt"
		taskset -c 0 "$bin/proxy-stateful" --listen "udp:127.0.0.1:$port" \
			--domain bench.test --workers 1 --presence \
			${FILTER:+--presence-filter "$tmp/filter.txt"} \
			2> "$tmp/ps.log" &
		spid=$! ;;
	kamailio)
		rm -rf "$tmp/db"
		mkdir "$tmp/db"
		for f in version presentity active_watchers watchers xcap; do
			cp "/usr/share/kamailio/dbtext/kamailio/$f" "$tmp/db/"
		done
		taskset -c 0 kamailio -f "$top/tests/bench/kamailio-presence.cfg" \
			-A "DB_URL=\"text://$tmp/db\"" \
			-DD -E -n 1 -l "udp:127.0.0.1:$port" -Y "$tmp" -w "$tmp" \
			> "$tmp/k.out" 2> "$tmp/k.log" &
		spid=$! ;;
	esac
	sleep 1
	# Watchers: P*W subscriptions, kept until the end.
	rm -f "$tmp"/presence_bench_watcher_*_counts.csv
	(cd "$tmp" && exec taskset -c 1 sipp \
		-sf "$top/tests/sipp/presence_bench_watcher.xml" \
		-inf "$tmp/pres.csv" -m $((P * W)) -r 1000 -l $((P * W)) \
		-i 127.0.0.1 -nostdin -timeout 180s -trace_counts -fd 1 \
		"127.0.0.1:$port" > "$tmp/w.out" 2>&1) &
	wpid=$!
	# Until every subscription has had its first NOTIFY (bounded).
	i=0
	while [ $i -lt 60 ] && [ "$(notifies)" -lt $((P * W)) ]; do
		sleep 0.5
		i=$((i + 1))
	done
	sleep 1.2
	n0=$(notifies)
	c0=$(cpu_ns $spid)
	taskset -c 1 sipp -sf "$top/tests/sipp/presence_bench_publisher.xml" \
		-inf "$tmp/pres.csv" -m "$N" -r "$RATE" -l 2000 \
		-i 127.0.0.1 -nostdin -timeout 60s -max_retrans 3 \
		"127.0.0.1:$port" > "$tmp/p.out" 2>&1 || echo "publisher rc=$?" >&2
	sleep 1
	c1=$(cpu_ns $spid)
	sleep 1.2
	n1=$(notifies)
	kill $wpid; wait $wpid 2>/dev/null || true
	wpid=
	kill $spid; wait $spid 2>/dev/null || true
	spid=
	awk -v d=$((c1 - c0)) -v n=$((n1 - n0)) -v want=$((N * 2 * W)) \
		'BEGIN { if (!n) n = 1; printf "%.0f %.1f %d %d\n", n / (d / 1e9), d / 1000 / n, n, want }'
}

: > "$tmp/proxy-stateful.res"
: > "$tmp/kamailio.res"
bench_alternate one $SERVERS
echo "PUBLISH + remove, $P presentities x $W watchers, $RATE/s x $N (2x$W NOTIFYs each), UDP, 1 worker pinned${FILTER:+, proxy-stateful with --presence-filter}:"
for s in $SERVERS; do
	echo "  $s: $(median < "$tmp/$s.res") NOTIFYs per CPU-second (runs, NOTIFYs/CPU-s us/NOTIFY delivered expected: $(tr '\n' ';' < "$tmp/$s.runs"))"
done
[ -s "$tmp/proxy-stateful.res" ] && [ -s "$tmp/kamailio.res" ] || exit 0
bench_ratio "$(median < "$tmp/proxy-stateful.res")" \
	"$(median < "$tmp/kamailio.res")" "  ratio: %.2fx (goal >= 2x)"
