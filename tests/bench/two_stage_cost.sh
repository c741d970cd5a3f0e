#!/bin/sh
# Where the two-stage cost goes (issue 13): proxy-stateful as the demo's
# registrar (digest auth on REGISTER, write-back bindings in a private
# MariaDB) receiving REGISTERs
#   direct  from the loader, or
#   relay   through one proxy-stateless (--record-route, hash on user),
# at the same offered rate of registrations.  Each proxy runs one worker.
#
# MODE=callgrind (default): every proxy under valgrind's callgrind,
# counters zeroed when the load starts and dumped when it ends, so that
# the user-space instructions of the load alone are counted (the kernel's
# are not: see NATIVE).  The count is repeatable whatever else runs on
# the machine; the rate only changes how many requests share a wake-up.
# MODE=native: the proxies run as they are, pinned; CPU from schedstat
# and wake-ups (voluntary context switches) over the load.
#
#   sh tests/bench/two_stage_cost.sh   (SETUPS="direct relay" RATE=50
#       N=10000 registrations, USERS=1000, RUNS=1, OUT=dir for callgrind
#       files)
# The loader, the proxy-stateless and proxy-stateful are pinned to
# LOAD_CPU, SL_CPU and SF_CPU (1, 1, 0).
#
# TESTBED=STATE (native mode): on hosts of a namespace testbed that is up
# (scripts/testbed up --cpu F proxy1 lb1 loader1 db, its STATE
# directory): the registrar on proxy1, the relay on lb1 (both in their
# hosts' CPU-capped cgroups), the loader on loader1, MariaDB on db, so
# that the bridge, the veths and the quotas are the demo's.
# DBMODE=write-through: the registrar commits each binding before its 200
# (in groups) instead of write-back's flush every second.
# PERF=DIR (native mode): a perf profile (cpu-clock, call graphs, kernel
# included) of each proxy over the load, DIR/sf-SETUP.data and
# DIR/sl-SETUP.data.
# SEARCH=1: instead of the fixed rate, the loader's RFC 7502 search for
# the highest rate without failures (--search rfc7502, TRIAL_S seconds
# a trial, from START_RATE): the registrar's capacity direct and relayed.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
SETUPS=${SETUPS:-"direct relay"}
MODE=${MODE:-callgrind}
RATE=${RATE:-50}
N=${N:-10000}
USERS=${USERS:-1000}
SF_CPU=${SF_CPU:-0}
SL_CPU=${SL_CPU:-1}
LOAD_CPU=${LOAD_CPU:-1}
bin=${SIPSTONE_BIN:-$top/bin}
TESTBED=${TESTBED:-}
SEARCH=${SEARCH:-}
DBMODE=${DBMODE:-write-back}
TRIAL_S=${TRIAL_S:-3}
START_RATE=${START_RATE:-1000}
for t in taskset mariadbd mariadb-install-db mariadb; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 0; }
done
if [ "$MODE" = callgrind ]; then
	command -v valgrind >/dev/null 2>&1 || { echo "SKIP: no valgrind"; exit 0; }
fi
tmp=$(mktemp -d /tmp/bench-2stage.XXXXXX)
OUT=${OUT:-$tmp}
mkdir -p "$OUT"
pids=""
dbpid=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -n "$dbpid" ] && kill "$dbpid" 2>/dev/null || true
	sleep 1
	for p in $pids $dbpid; do kill -9 "$p" 2>/dev/null || true; done
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM

base=$((20000 + $$ % 20000))
SF=$base SL=$((base + 1)) DBPORT=$((base + 2))
# Addresses and the way into each host: loopback, or the testbed's.
A_SF=127.0.0.1 A_SL=127.0.0.1 A_LD=127.0.0.1 A_DB=127.0.0.1
addr_of() { awk -v n="$1" '$1 == n {print $2}' "$TESTBED/hosts.list"; }
cg=""
if [ -n "$TESTBED" ]; then
	[ "$MODE" = native ] || { echo "TESTBED needs MODE=native"; exit 2; }
	A_SF=$(addr_of proxy1) A_SL=$(addr_of lb1) A_LD=$(addr_of loader1) A_DB=$(addr_of db)
	[ -n "$A_SF" ] && [ -n "$A_SL" ] && [ -n "$A_LD" ] && [ -n "$A_DB" ] ||
		{ echo "testbed $TESTBED lacks proxy1 lb1 loader1 db"; exit 2; }
	P=${SIPSTONE_TESTBED_PREFIX:-sstb}
	for d in /sys/fs/cgroup/sipstone-$P /sys/fs/cgroup/cpu/sipstone-$P; do
		[ -d "$d" ] && cg=$d
	done
fi
# in_host NAME cmd...: runs cmd in the host's namespace (the testbed's).
in_host() {
	h=$1
	shift
	if [ -n "$TESTBED" ]; then
		ip netns exec "$P-$h" "$@"
	else
		"$@"
	fi
}
# to_cgroup NAME PID: into the host's capped cgroup, if it has one.
to_cgroup() {
	if [ -n "$cg" ] && [ -d "$cg/$1" ]; then echo "$2" > "$cg/$1/cgroup.procs"; fi
}
DOMAIN=example.com PW=secret
mkdir "$tmp/db" "$tmp/dbtmp"
mariadb-install-db --no-defaults --datadir="$tmp/db" --tmpdir="$tmp/dbtmp" \
	--auth-root-authentication-method=normal --skip-test-db --user=root \
	> "$tmp/install.log" 2>&1
ns_db=""
[ -n "$TESTBED" ] && ns_db="ip netns exec $P-db"
$ns_db mariadbd --no-defaults --datadir="$tmp/db" --tmpdir="$tmp/dbtmp" \
	--socket="$tmp/db/sock" --port="$DBPORT" --bind-address="$A_DB" \
	--user=root --pid-file="$tmp/db/pid" --skip-log-bin --skip-name-resolve \
	--innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
	> "$tmp/mariadbd.log" 2>&1 &
dbpid=$!
sql() { mariadb --no-defaults --socket="$tmp/db/sock" -uroot -N -B "$@"; }
i=0
until sql -e 'SELECT 1' > /dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "mariadbd did not start"; cat "$tmp/mariadbd.log"; exit 1; }
	sleep 0.1
done
python3 - "$tmp" "$USERS" "$DOMAIN" "$PW" <<'PY'
import hashlib, sys
d, n, dom, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = []
for i in range(n):
    u = "A%d" % (1000 + i)
    ha1 = hashlib.md5(("%s:%s:%s" % (u, dom, pw)).encode()).hexdigest()
    ha1b = hashlib.sha256(("%s:%s:%s" % (u, dom, pw)).encode()).hexdigest()
    rows.append("('%s','%s','%s','%s',1)" % (u, dom, ha1, ha1b))
with open(d + "/users.sql", "w") as f:
    f.write("INSERT INTO subscriber (username, domain, ha1, ha1b, auth_required) VALUES %s;\n" % ",".join(rows))
PY
sql -e 'CREATE DATABASE sps'
sql sps < "$top/proxy-stateful/schema.sql"
sql sps < "$tmp/users.sql"
url="mysql://root@127.0.0.1:$DBPORT/sps"
if [ -n "$TESTBED" ]; then
	sql -e "CREATE USER 'sps'@'%'; GRANT ALL ON sps.* TO 'sps'@'%'"
	url="mysql://sps@$A_DB:$DBPORT/sps"
fi

cpu_ns() { # pid -> ns on CPU of all its threads
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
}
throttled() { # host -> "periods throttled throttled_ms" of its cgroup
	if [ -n "$cg" ] && [ -f "$cg/$1/cpu.stat" ]; then
		awk '/^nr_periods/ {p = $2} /^nr_throttled/ {n = $2}
			/^throttled_time/ {t = $2 / 1e6} /^throttled_usec/ {t = $2 / 1e3}
			END {printf "%d %d %.0f", p, n, t}' "$cg/$1/cpu.stat"
	else
		echo "0 0 0"
	fi
}
vcsw() { # pid -> voluntary context switches of all its threads
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'
}

# run_under CPU HOST NAME cmd...: starts cmd pinned (on the host),
# under callgrind in that mode; the pid in $started.
run_under() {
	cpu=$1 host=$2 name=$3
	shift 3
	if [ "$MODE" = callgrind ]; then
		taskset -c "$cpu" valgrind --tool=callgrind --separate-threads=yes \
			--callgrind-out-file="$OUT/$name.cg.%p" "$@" \
			2> "$tmp/$name.log" &
	elif [ -n "$TESTBED" ]; then
		# Not through in_host: $! must be the program itself (ip
		# netns exec execs it), not a subshell.
		ip netns exec "$P-$host" taskset -c "$cpu" "$@" 2> "$tmp/$name.log" &
	else
		taskset -c "$cpu" "$@" 2> "$tmp/$name.log" &
	fi
	started=$!
	to_cgroup "$host" "$started"
	pids="$pids $started"
}

ready() { # address port: an OPTIONS answered (from the loader's host)
	in_host loader1 python3 - "$1" "$2" <<'PY'
import socket, sys, time
a, p = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
s.connect((a, p))
la, lp = s.getsockname()
m = ("OPTIONS sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bKready%d\r\n"
     "Max-Forwards: 70\r\nFrom: <sip:probe@example.com>;tag=1\r\nTo: <sip:%s:%d>\r\n"
     "Call-ID: ready%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (a, p, la, lp, lp, a, p, lp))
for i in range(240):
    try:
        s.send(m.encode())
        s.recv(4096)
        sys.exit(0)
    except socket.timeout:
        pass
    except OSError:  # refused: not listening yet
        time.sleep(0.5)
sys.exit(1)
PY
}

one() { # setup
	setup=$1
	sql sps -e 'DELETE FROM location'
	run_under "$SF_CPU" proxy1 "sf-$setup" "$bin/proxy-stateful" \
		--listen "udp:$A_SF:$SF" --domain "$DOMAIN" --workers 1 \
		--db "$url" --db-mode "$DBMODE" --auth register --record-route
	sf=$started
	target=$SF ta=$A_SF
	sl=""
	if [ "$setup" = relay ]; then
		run_under "$SL_CPU" lb1 "sl-$setup" "$bin/proxy-stateless" \
			--listen "udp:$A_SL:$SL" --next "udp:$A_SF:$SF" \
			--hash user --record-route --probe-interval 500 --workers 1
		sl=$started
		target=$SL ta=$A_SL
	fi
	ready "$A_SF" $SF || { echo "proxy-stateful did not answer"; cat "$tmp/sf-$setup.log"; exit 1; }
	ready "$ta" $target || { echo "proxy-stateless did not answer"; cat "$tmp/sl-$setup.log"; exit 1; }
	sleep 1
	secs=$(( (N + RATE - 1) / RATE ))
	for p in $sf $sl; do
		if [ "$MODE" = callgrind ]; then
			callgrind_control -z "$p" > /dev/null
		else
			eval "c0_$p=\$(cpu_ns $p) w0_$p=\$(vcsw $p)"
		fi
	done
	th0_sf=$(throttled proxy1) th0_sl=$(throttled lb1)
	perfs=""
	if [ -n "${PERF:-}" ] && [ "$MODE" = native ]; then
		mkdir -p "$PERF"
		perf record -q -e cpu-clock -g -p "$sf" -o "$PERF/sf-$setup.data" > /dev/null 2>&1 &
		perfs=$!
		if [ -n "$sl" ]; then
			perf record -q -e cpu-clock -g -p "$sl" -o "$PERF/sl-$setup.data" > /dev/null 2>&1 &
			perfs="$perfs $!"
		fi
	fi
	if [ -n "$SEARCH" ]; then
		set -- --search rfc7502 --trial-s "$TRIAL_S" --start-rate "$START_RATE" \
			--granularity-pct 5 --max-trials "${MAX_TRIALS:-12}" --timer-b-ms 1000
	else
		set -- --rate "$RATE" --duration "$secs" --timer-b-ms 32000
	fi
	in_host loader1 taskset -c "$LOAD_CPU" "$bin/loader" --test register \
		--server "udp:$ta:$target" --users "A1000-A$((1000 + USERS - 1))" \
		--domain "$DOMAIN" --password "$PW" "$@" --local "$A_LD" \
		--drain-ms 3000 --json > "$tmp/loader-$setup.json" 2> "$tmp/loader-$setup.log" || true
	for p in $perfs; do kill -INT "$p"; wait "$p" || true; done
	for p in $sf $sl; do
		if [ "$MODE" = callgrind ]; then
			callgrind_control -d "load-$setup" "$p" > /dev/null
		else
			eval "c1=\$(cpu_ns $p) w1=\$(vcsw $p) c0=\$c0_$p w0=\$w0_$p"
			who=registrar
			[ "$p" = "$sl" ] && who=relay
			echo "$setup $who: cpu_ns $((c1 - c0)) wakeups $((w1 - w0)) $(awk '{print "utime", $14, "stime", $15, "ticks"}' /proc/$p/stat)"
		fi
	done
	if [ -n "$cg" ]; then
		for h in sf sl; do
			eval "a=\$th0_$h"
			hn=proxy1
			[ $h = sl ] && hn=lb1
			echo "$a $(throttled $hn)" | awk -v h=$hn \
				'{printf "  %s quota periods %d, throttled in %d, held back %.0f ms\n", h, $4 - $1, $5 - $2, $6 - $3}'
		done
	fi
	python3 - "$tmp/loader-$setup.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def walk(o, path=""):
    if isinstance(o, dict):
        for k, v in o.items():
            walk(v, path + "." + k)
    elif isinstance(o, list):
        return
    elif isinstance(o, (int, float, bool)) and any(w in path for w in ("attempt", "success", "fail", "retrans", "sent", "recv", "timeout", "401", "challeng", "p50", "p99", "rate", "confirmed", "margin", "capacity")):
        print("  loader%s = %s" % (path, o))
walk(d)
PY
	for p in $sl $sf; do kill "$p"; wait "$p" 2>/dev/null || true; done
	pids=""
	echo "  location rows: $(sql sps -e 'SELECT COUNT(*) FROM location')"
}

r=0
while [ $r -lt "${RUNS:-1}" ]; do
	for s in $SETUPS; do
		if [ -n "$SEARCH" ]; then
			echo "== $s: RFC 7502 search from $START_RATE/s, $TRIAL_S s trials, $USERS users, digest + $DBMODE"
		else
			echo "== $s: $N registrations at $RATE/s, $USERS users, digest + $DBMODE ($MODE)"
		fi
		one "$s"
	done
	r=$((r + 1))
done
[ "$MODE" = callgrind ] && ls "$OUT"/*.cg.* 2>/dev/null | sed 's/^/callgrind: /'
exit 0
