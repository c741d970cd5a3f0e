#!/bin/sh
# proxy_stateless.sh - CPU cost per relayed request of proxy-stateless
# against Kamailio as a stateless dispatcher (kamailio-dispatcher.cfg)
# and a minimal UDP reflector (sl_reflector.c: the raw limit), in the
# same run, at the same fixed rate below saturation; and, with the same
# traffic, proxy-stateful's own cost (the second stage the first must
# never limit: as registrar for REGISTER, as a stateful proxy to the
# registered callees for calls).
#
# Every element runs alone on core PROXY_CPU (one worker); the sipp
# loader and the sipp responders share core LOAD_CPU.  CPU is the time
# on CPU of every thread (and, for Kamailio, every child process) from
# /proc/PID/task/TID/schedstat (ns; the same quantity as utime+stime
# without the 10 ms tick), read before and after the load, divided by
# the REGISTERs or calls sipp completed.  The element's voluntary
# context switches over the same interval, per REGISTER or call, count
# its wake-ups: at these rates the cost is mostly a fixed price per
# wake-up, which is why it is printed.  Median of RUNS runs.
#
#   sh tests/bench/proxy_stateless.sh          (make bench runs it)
#   RATE=2000 CALL_RATE=400 SECS=8 RUNS=3 PROXY_CPU=0 LOAD_CPU=1 ...
#   KINDS="reg call" TARGETS="reflector proxy kamailio stateful"
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench/benchlib.sh"
out=${OUT:-build/rel}
refl="$top/$out/bench/sl_reflector"
RATE=${RATE:-2000}
CALL_RATE=${CALL_RATE:-400}
SECS=${SECS:-8}
RUNS=${RUNS:-3}
KINDS=${KINDS:-"reg call"}
TARGETS=${TARGETS:-"reflector proxy kamailio stateful"}

bench_require sipp kamailio taskset
[ -x "$refl" ] || { echo "proxy_stateless: build $refl first (make bench)"; exit 1; }
case " $TARGETS " in
*" stateful "*)
	[ -x "$bin/proxy-stateful" ] ||
		{ echo "proxy_stateless: build $bin/proxy-stateful first"; exit 1; } ;;
esac

bench_tmp /tmp/bench-pxsl.XXXXXX

base=$((20000 + $$ % 20000))
P=$base U0=$((base + 1)) U1=$((base + 2)) C=$((base + 3))
V0=$((base + 4)) V1=$((base + 5))
sc="$top/tests/sipp"

python3 - "$tmp" "$V0" "$V1" <<'PY'
import sys
d = sys.argv[1]
with open(d + "/users.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(10000):
        f.write("sipuser%d;\n" % i)
# For the stateful proxy's calls: each user registered at a responder.
with open(d + "/contacts.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(10000):
        f.write("sipuser%d;%s;\n" % (i, sys.argv[2 + i % 2]))
PY
printf '1 sip:127.0.0.1:%s\n1 sip:127.0.0.1:%s\n' "$U0" "$U1" > "$tmp/ds.list"
sed -e "s|@PORT@|$P|" -e "s|@LIST@|$tmp/ds.list|" \
	"$top/tests/bench/kamailio-dispatcher.cfg" > "$tmp/kamailio.cfg"

# Responders: REGISTER on U0/U1, calls on V0/V1 (OPTIONS probes: -aa).
start_bg uas0 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U0" -aa -nostdin
start_bg uas1 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U1" -aa -nostdin
start_bg uasc0 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_call.xml" \
	-i 127.0.0.1 -p "$V0" -aa -nostdin
start_bg uasc1 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_call.xml" \
	-i 127.0.0.1 -p "$V1" -aa -nostdin
sleep 0.5

# Voluntary context switches (wake-ups) of the same threads.
wakeups() {
	all="$1 $(pgrep -P "$1" 2>/dev/null | tr '\n' ' ')"
	cat $(for p in $all; do echo /proc/$p/task/*/status; done) \
		2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2}
		END {printf "%.0f", s}'
}

start_target() { # target, kind (reg|call)
	if [ "$2" = reg ]; then s0=$U0 s1=$U1; else s0=$V0 s1=$V1; fi
	case $1 in
	reflector)
		start_bg target taskset -c "$PROXY_CPU" "$refl" "$P" "$s0" "$s1" ;;
	proxy)
		start_bg target taskset -c "$PROXY_CPU" "$bin/proxy-stateless" \
			--listen "udp:127.0.0.1:$P" --next "udp:127.0.0.1:$s0" \
			--next "udp:127.0.0.1:$s1" --workers 1 ;;
	kamailio)
		printf '1 sip:127.0.0.1:%s\n1 sip:127.0.0.1:%s\n' "$s0" "$s1" \
			> "$tmp/ds.list"
		start_bg target taskset -c "$PROXY_CPU" kamailio \
			-f "$tmp/kamailio.cfg" -D -E -w "$tmp" -m 64 -M 8 ;;
	stateful)
		start_bg target taskset -c "$PROXY_CPU" "$bin/proxy-stateful" \
			--listen "udp:127.0.0.1:$P" --domain example.com \
			--db-mode memory --auth none --workers 1 ;;
	esac
	target=$last
	sleep 1
	if [ "$1" = stateful ] && [ "$2" = call ]; then
		# Not measured: every callee registered at a responder.
		taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uac_register_at.xml" \
			-inf "$tmp/contacts.csv" -i 127.0.0.1 -p "$C" \
			"127.0.0.1:$P" -m 10000 -r 5000 -timeout 30s \
			-nostdin > "$tmp/prereg.out" 2>&1 ||
			echo "proxy_stateless: registering the callees failed" >&2
	fi
}

stop_target() {
	kill "$target" 2>/dev/null || true
	i=0
	while kill -0 "$target" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -9 "$target" 2>/dev/null || true
	sleep 0.3
}

# One measurement: prints "us_per_request ok failed wakeups_per_request".
measure() { # target, kind
	start_target "$1" "$2"
	if [ "$2" = reg ]; then
		scen="$sc/pxsl_uac_register.xml" rate=$RATE
	else
		scen="$sc/pxsl_uac_call.xml" rate=$CALL_RATE
	fi
	n=$((rate * SECS))
	c0=$(cpu_ns "$target")
	w0=$(wakeups "$target")
	taskset -c "$LOAD_CPU" sipp -sf "$scen" -inf "$tmp/users.csv" \
		-i 127.0.0.1 -p "$C" "127.0.0.1:$P" -m "$n" -r "$rate" \
		-timeout $((SECS + 30))s -nostdin > "$tmp/uac.out" 2>&1 || true
	c1=$(cpu_ns "$target")
	w1=$(wakeups "$target")
	stop_target
	ok=$(sipp_count "$tmp/uac.out" "Successful call")
	bad=$(sipp_count "$tmp/uac.out" "Failed call")
	awk -v a="$c0" -v b="$c1" -v ok="$ok" -v bad="$bad" -v w="$((w1 - w0))" \
		'BEGIN {printf "%.2f %d %d %.2f\n", ok ? (b - a) / 1000 / ok : 0,
			ok, bad, ok ? w / ok : 0}'
}

echo "proxy_stateless: REGISTER $RATE/s and calls $CALL_RATE/s for ${SECS}s," \
	"$RUNS runs, element on cpu $PROXY_CPU, load on cpu $LOAD_CPU"
for kind in $KINDS; do
	for t in $TARGETS; do : > "$tmp/res.$kind.$t"; done
	r=1
	while [ $r -le "$RUNS" ]; do
		for t in $TARGETS; do
			m=$(measure "$t" "$kind")
			echo "  run $r $kind $t: $m (us/req ok failed wakeups/req)"
			echo "$m" >> "$tmp/res.$kind.$t"
		done
		r=$((r + 1))
	done
done

echo
echo "| traffic | element | CPU us per REGISTER or per call (median) | runs | wake-ups per REGISTER or call (median) | failed |"
echo "| --- | --- | --- | --- | --- | --- |"
for kind in $KINDS; do
	unit="REGISTER $RATE/s"
	[ $kind = call ] && unit="call (INVITE..BYE) $CALL_RATE/s"
	for t in $TARGETS; do
		med=$(cut -d' ' -f1 "$tmp/res.$kind.$t" | median)
		runs=$(cut -d' ' -f1 "$tmp/res.$kind.$t" | tr '\n' ' ')
		wk=$(cut -d' ' -f4 "$tmp/res.$kind.$t" | median)
		bad=$(awk '{s += $3} END {print s + 0}' "$tmp/res.$kind.$t")
		echo "| $unit | $t | $med | $runs| $wk | $bad |"
		eval "med_${kind}_$t=$med"
	done
done
echo
# Ratios of the medians; 0 where an element was not in TARGETS.
for kind in $KINDS; do
	eval "p=\${med_${kind}_proxy:-0} k=\${med_${kind}_kamailio:-0}" \
		"x=\${med_${kind}_reflector:-0} s=\${med_${kind}_stateful:-0}"
	awk -v p="$p" -v k="$k" -v x="$x" -v s="$s" -v kind="$kind" 'BEGIN {
		printf "%s: proxy-stateless / kamailio = %.2f, / reflector = %.2f, / proxy-stateful = %.2f; kamailio / reflector = %.2f\n",
			kind, (k > 0 ? p / k : 0), (x > 0 ? p / x : 0),
			(s > 0 ? p / s : 0), (x > 0 ? k / x : 0) }'
done
