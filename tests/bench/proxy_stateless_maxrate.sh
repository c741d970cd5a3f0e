#!/bin/sh
# proxy_stateless_maxrate.sh - the highest REGISTER rate with < 0.1%
# failures through proxy-stateless (one worker on PROXY_CPU) and
# through Kamailio (kamailio-dispatcher.cfg) in the same run: steps of
# STEPS requests/s, STEP_SECS each, stopping at the first step that
# fails.  sipp (loader and both responders) runs on LOAD_CPU; its CPU is
# printed per step, because on a 2-core machine the loader is what
# saturates first: a step where sipp's core is full says nothing about
# the element.
#
#   sh tests/bench/proxy_stateless_maxrate.sh
#   STEPS="2000 4000 6000 8000 10000 12000" STEP_SECS=5 ...
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SIPSTONE_BIN:-$top/bin}
STEPS=${STEPS:-"2000 4000 6000 8000 10000 12000 14000"}
STEP_SECS=${STEP_SECS:-5}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
TARGETS=${TARGETS:-"proxy kamailio"}

for t in sipp kamailio taskset; do
	if ! command -v $t >/dev/null 2>&1; then
		echo "proxy_stateless_maxrate: SKIP: $t is not installed"
		exit 0
	fi
done

tmp=$(mktemp -d /tmp/bench-pxslmax.XXXXXX)
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
sc="$top/tests/sipp"
python3 - "$tmp" <<'PY'
import sys
with open(sys.argv[1] + "/users.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(10000):
        f.write("sipuser%d;\n" % i)
PY
printf '1 sip:127.0.0.1:%s\n1 sip:127.0.0.1:%s\n' "$U0" "$U1" > "$tmp/ds.list"
sed -e "s|@PORT@|$P|" -e "s|@LIST@|$tmp/ds.list|" \
	"$top/tests/bench/kamailio-dispatcher.cfg" > "$tmp/kamailio.cfg"

start_bg() {
	name=$1; shift
	"$@" > "$tmp/$name.out" 2>&1 &
	pids="$pids $!"
	last=$!
}
start_bg uas0 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U0" -aa -nostdin
uas0=$last
start_bg uas1 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U1" -aa -nostdin
uas1=$last
sleep 0.5

cpu_ns() {
	all=""
	for p in "$@"; do all="$all $p $(pgrep -P "$p" 2>/dev/null | tr '\n' ' ')"; done
	cat $(for p in $all; do echo /proc/$p/task/*/schedstat; done) \
		2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
}

for t in $TARGETS; do
	case $t in
	proxy)
		start_bg target taskset -c "$PROXY_CPU" "$bin/proxy-stateless" \
			--listen "udp:127.0.0.1:$P" --next "udp:127.0.0.1:$U0" \
			--next "udp:127.0.0.1:$U1" --workers 1 ;;
	kamailio)
		start_bg target taskset -c "$PROXY_CPU" kamailio \
			-f "$tmp/kamailio.cfg" -D -E -w "$tmp" -m 64 -M 8 ;;
	esac
	target=$last
	sleep 1
	best=0
	for rate in $STEPS; do
		n=$((rate * STEP_SECS))
		e0=$(cpu_ns "$target"); l0=$(cpu_ns "$uas0" "$uas1")
		taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uac_register.xml" \
			-inf "$tmp/users.csv" -i 127.0.0.1 -p "$C" \
			"127.0.0.1:$P" -m "$n" -r "$rate" -timeout $((STEP_SECS + 30))s \
			-nostdin > "$tmp/uac.out" 2>&1 &
		uac=$!
		u=0
		while kill -0 $uac 2>/dev/null; do
			v=$(cpu_ns $uac); [ -n "$v" ] && [ "$v" != 0 ] && u=$v
			sleep 0.5
		done
		wait $uac || true
		e1=$(cpu_ns "$target"); l1=$(cpu_ns "$uas0" "$uas1")
		ok=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$tmp/uac.out")
		bad=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$tmp/uac.out")
		tt=$(awk -F'|' '/Call Rate/ {v = $3} END {print v}' "$tmp/uac.out" | tr -s ' ')
		awk -v t="$t" -v r="$rate" -v ok="$ok" -v bad="$bad" -v s="$STEP_SECS" \
			-v e="$((e1 - e0))" -v l="$((l1 - l0))" -v u="$u" 'BEGIN {
			printf "  %s %d/s: ok %d failed %d; element cpu %.0f%%, sipp uac %.0f%% + uas %.0f%% of a core\n",
				t, r, ok, bad, e / s / 1e7, u / s / 1e7, l / s / 1e7 }'
		if [ "$ok" -eq 0 ] || [ $((bad * 1000)) -ge $((ok + bad)) ] || [ "$ok" -lt "$n" ]; then
			break
		fi
		best=$rate
	done
	echo "$t: highest clean step $best/s"
	kill "$target" 2>/dev/null || true
	sleep 0.5
	kill -9 "$target" 2>/dev/null || true
done
