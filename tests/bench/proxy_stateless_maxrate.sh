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
# CAP=F (a fraction of a core, 0.02 or more; root) runs each element in a
# CPU cgroup capped at F (cgroup v2 cpu.max or v1 cfs quota, a 50 ms
# period), as the testbed caps its proxy hosts: the capped element
# saturates at rates one sipp can offer, and its CPU per REGISTER at
# and near saturation, where it reads many messages per wake-up, is its
# real cost per request; capacity per core is about the highest clean
# step / F.  Each step prints the element's CPU per REGISTER and how
# many periods it was throttled.  proxy-stateful (TARGETS=stateful) is
# measured as the registrar of the same REGISTERs; TARGETS=reflector is
# sl_reflector (see proxy_stateless.sh): the kernel's share alone.
#
#   sh tests/bench/proxy_stateless_maxrate.sh
#   STEPS="2000 4000 6000 8000 10000 12000" STEP_SECS=5 ...
#   CAP=0.05 STEPS="500 1000 2000 3000 4000 5000" TARGETS="proxy kamailio stateful"
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench/benchlib.sh"
STEPS=${STEPS:-"2000 4000 6000 8000 10000 12000 14000"}
STEP_SECS=${STEP_SECS:-5}
TARGETS=${TARGETS:-"proxy kamailio"}
CAP=${CAP:-}

bench_require sipp kamailio taskset

cg=""
bench_tmp /tmp/bench-pxslmax.XXXXXX
bench_cleanup_extra() { [ -z "$cg" ] || rmdir "$cg" 2>/dev/null; }

# The capped CPU cgroup the element runs in (v2 cpu.max, else v1).
if [ -n "$CAP" ]; then
	quota=$(awk -v f="$CAP" 'BEGIN { printf "%d", f * 50000 }')
	if [ "$quota" -lt 1000 ]; then
		echo "proxy_stateless_maxrate: CAP=$CAP is below 0.02" >&2
		exit 1
	fi
	if [ -f /sys/fs/cgroup/cgroup.controllers ] &&
	    grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
		cg=/sys/fs/cgroup/sipstone-bench-$$
		mkdir "$cg"
		echo "$quota 50000" > "$cg/cpu.max"
	elif [ -d /sys/fs/cgroup/cpu ]; then
		cg=/sys/fs/cgroup/cpu/sipstone-bench-$$
		mkdir "$cg"
		echo 50000 > "$cg/cpu.cfs_period_us"
		echo "$quota" > "$cg/cpu.cfs_quota_us"
	else
		echo "proxy_stateless_maxrate: SKIP: no CPU cgroup for CAP"
		exit 0
	fi
fi
throttled() {
	[ -n "$cg" ] && awk '$1 == "nr_throttled" {print $2}' "$cg/cpu.stat" ||
		echo 0
}

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

start_bg uas0 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U0" -aa -nostdin
uas0=$last
start_bg uas1 taskset -c "$LOAD_CPU" sipp -sf "$sc/pxsl_uas_register.xml" \
	-i 127.0.0.1 -p "$U1" -aa -nostdin
uas1=$last
sleep 0.5

# The element's command, in the capped cgroup when CAP is set (the
# shell joins it and execs: Kamailio's children are forked inside).
# Only for start_bg: it execs, so that $! is the element itself.
in_cg() {
	if [ -n "$cg" ]; then
		exec sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
	fi
	exec "$@"
}

echo "proxy_stateless_maxrate: steps $STEPS, ${STEP_SECS}s each," \
	"element on cpu $PROXY_CPU${CAP:+ capped at $CAP of a core}"
for t in $TARGETS; do
	case $t in
	proxy)
		start_bg target in_cg taskset -c "$PROXY_CPU" \
			"$bin/proxy-stateless" --listen "udp:127.0.0.1:$P" \
			--next "udp:127.0.0.1:$U0" --next "udp:127.0.0.1:$U1" \
			--workers 1 ;;
	kamailio)
		start_bg target in_cg taskset -c "$PROXY_CPU" kamailio \
			-f "$tmp/kamailio.cfg" -D -E -w "$tmp" -m 64 -M 8 ;;
	stateful)
		start_bg target in_cg taskset -c "$PROXY_CPU" \
			"$bin/proxy-stateful" --listen "udp:127.0.0.1:$P" \
			--domain example.com --db-mode memory --auth none \
			--workers 1 ;;
	reflector)
		start_bg target in_cg taskset -c "$PROXY_CPU" \
			"$top/${OUT:-build/rel}/bench/sl_reflector" "$P" "$U0" "$U1" ;;
	esac
	target=$last
	sleep 1
	best=0
	for rate in $STEPS; do
		n=$((rate * STEP_SECS))
		e0=$(cpu_ns "$target"); l0=$(cpu_ns "$uas0" "$uas1")
		th0=$(throttled)
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
		th1=$(throttled)
		ok=$(awk -F'|' '/Successful call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$tmp/uac.out")
		bad=$(awk -F'|' '/Failed call/ {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$tmp/uac.out")
		tt=$(awk -F'|' '/Call Rate/ {v = $3} END {print v}' "$tmp/uac.out" | tr -s ' ')
		awk -v t="$t" -v r="$rate" -v ok="$ok" -v bad="$bad" -v s="$STEP_SECS" \
			-v e="$((e1 - e0))" -v l="$((l1 - l0))" -v u="$u" \
			-v th="$((th1 - th0))" 'BEGIN {
			printf "  %s %d/s: ok %d failed %d; element cpu %.1f%% (%.2f us per REGISTER, throttled %d times), sipp uac %.0f%% + uas %.0f%% of a core\n",
				t, r, ok, bad, e / s / 1e7, ok ? e / 1000 / ok : 0,
				th, u / s / 1e7, l / s / 1e7 }'
		if [ "$ok" -eq 0 ] || [ $((bad * 1000)) -ge $((ok + bad)) ] || [ $((ok + bad)) -lt "$n" ]; then
			break
		fi
		best=$rate
	done
	echo "$t: highest clean step $best/s"
	kill "$target" 2>/dev/null || true
	sleep 0.5
	kill -9 "$target" 2>/dev/null || true
done
