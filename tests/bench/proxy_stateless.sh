#!/bin/sh
# proxy_stateless.sh - CPU cost per relayed request of proxy-stateless
# against Kamailio as a stateless dispatcher (kamailio-dispatcher.cfg)
# and a minimal UDP reflector (sl_reflector.c: the raw limit), in the
# same run, at the same fixed rate below saturation.
#
# The element under test runs alone on core PROXY_CPU (one worker); the
# sipp loader and the two sipp responders share core LOAD_CPU.  CPU is
# the time on CPU of every thread (and, for Kamailio, every child
# process) from /proc/PID/task/TID/schedstat (ns; the same quantity as
# utime+stime without the 10 ms tick), read before and after the load,
# divided by the requests sipp completed.  Median of RUNS runs.
#
#   sh tests/bench/proxy_stateless.sh          (make bench runs it)
#   RATE=2000 CALL_RATE=400 SECS=10 RUNS=3 PROXY_CPU=0 LOAD_CPU=1 ...
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-build/rel}
bin=${SIPSTONE_BIN:-$top/bin}
refl="$top/$out/bench/sl_reflector"
RATE=${RATE:-2000}
CALL_RATE=${CALL_RATE:-400}
SECS=${SECS:-10}
RUNS=${RUNS:-3}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
TARGETS=${TARGETS:-"reflector proxy kamailio"}

for t in sipp kamailio taskset; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "proxy_stateless: SKIP: $t is not installed"
		exit 0
	fi
done
[ -x "$refl" ] || { echo "proxy_stateless: build $refl first (make bench)"; exit 1; }

tmp=$(mktemp -d /tmp/bench-pxsl.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

base=$((20000 + $$ % 20000))
P=$base U0=$((base + 1)) U1=$((base + 2)) C=$((base + 3))
V0=$((base + 4)) V1=$((base + 5))
sc="$top/tests/sipp"

python3 - "$tmp" <<'PY'
import sys
d = sys.argv[1]
with open(d + "/users.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(10000):
        f.write("sipuser%d;\n" % i)
PY
printf '1 sip:127.0.0.1:%s\n1 sip:127.0.0.1:%s\n' "$U0" "$U1" > "$tmp/ds.list"
sed -e "s|@PORT@|$P|" -e "s|@LIST@|$tmp/ds.list|" \
	"$top/tests/bench/kamailio-dispatcher.cfg" > "$tmp/kamailio.cfg"

# Responders: REGISTER on U0/U1, calls on V0/V1 (OPTIONS probes: -aa).
start_bg() { # name, command...
	name=$1; shift
	"$@" > "$tmp/$name.out" 2>&1 &
	pids="$pids $!"
	last=$!
}
start_bg uas0 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U0" -aa -nostdin
start_bg uas1 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U1" -aa -nostdin
start_bg uasc0 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_call.xml" \
	-i 127.0.0.1 -p "$V0" -aa -nostdin
start_bg uasc1 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_call.xml" \
	-i 127.0.0.1 -p "$V1" -aa -nostdin
sleep 0.5

# Time on CPU (ns) of a process's threads and of its children's.
cpu_ns() {
	all="$1 $(pgrep -P "$1" 2>/dev/null | tr '\n' ' ')"
	cat $(for p in $all; do echo /proc/$p/task/*/schedstat; done) \
		2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
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
	esac
	target=$last
	sleep 1
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

# One measurement: prints "us_per_request ok failed".
measure() { # target, kind
	start_target "$1" "$2"
	if [ "$2" = reg ]; then
		scen="$sc/pxsl_uac_register.xml" rate=$RATE
	else
		scen="$sc/pxsl_uac_call.xml" rate=$CALL_RATE
	fi
	n=$((rate * SECS))
	c0=$(cpu_ns "$target")
	taskset -c "$LOAD_CPU" sipp -sf "$scen" -inf "$tmp/users.csv" \
		-i 127.0.0.1 -p "$C" "127.0.0.1:$P" -m "$n" -r "$rate" \
		-timeout $((SECS + 30))s -nostdin > "$tmp/uac.out" 2>&1 || true
	c1=$(cpu_ns "$target")
	stop_target
	ok=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$tmp/uac.out")
	bad=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$tmp/uac.out")
	awk -v a="$c0" -v b="$c1" -v ok="$ok" -v bad="$bad" \
		'BEGIN {printf "%.2f %d %d\n", ok ? (b - a) / 1000 / ok : 0, ok, bad}'
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "proxy_stateless: REGISTER $RATE/s and calls $CALL_RATE/s for ${SECS}s," \
	"$RUNS runs, element on cpu $PROXY_CPU, load on cpu $LOAD_CPU"
for kind in reg call; do
	for t in $TARGETS; do : > "$tmp/res.$kind.$t"; done
	r=1
	while [ $r -le "$RUNS" ]; do
		for t in $TARGETS; do
			m=$(measure "$t" "$kind")
			echo "  run $r $kind $t: $m (us/req ok failed)"
			echo "$m" >> "$tmp/res.$kind.$t"
		done
		r=$((r + 1))
	done
done

echo
echo "| traffic | element | CPU us per REGISTER or per call (median) | runs | failed |"
echo "| --- | --- | --- | --- | --- |"
for kind in reg call; do
	unit=REGISTER; [ $kind = call ] && unit="call (INVITE..BYE)"
	for t in $TARGETS; do
		med=$(cut -d' ' -f1 "$tmp/res.$kind.$t" | median)
		runs=$(cut -d' ' -f1 "$tmp/res.$kind.$t" | tr '\n' ' ')
		bad=$(awk '{s += $3} END {print s + 0}' "$tmp/res.$kind.$t")
		echo "| $unit | $t | $med | $runs| $bad |"
		eval "med_${kind}_$t=$med"
	done
done
echo
for kind in reg call; do
	eval "p=\${med_${kind}_proxy:-0} k=\${med_${kind}_kamailio:-0} x=\${med_${kind}_reflector:-0}"
	awk -v p="$p" -v k="$k" -v x="$x" -v kind="$kind" 'BEGIN {
		printf "%s: proxy-stateless / kamailio = %.2f, proxy-stateless / reflector = %.2f\n",
			kind, (k > 0 ? p / k : 0), (x > 0 ? p / x : 0) }'
done
