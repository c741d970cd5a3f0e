#!/bin/sh
# proxy-stateful vs Kamailio with their bindings in MariaDB (one private
# mariadbd for both, same settings: the defaults but a 32 MB buffer pool,
# so every commit is flushed to disk), each server with one worker
# pinned to PROXY_CPU, sipp on LOAD_CPU.  Two rows:
#
#  auth-wb  CPU per registration (REGISTER, 401, REGISTER with
#           credentials, 200) with digest auth for USERS users and
#           write-back bindings (proxy-stateful --db-mode write-back
#           --flush-ms 1000; Kamailio usrloc db_mode 2, timer 1 s,
#           auth_db), at RATE registrations/s, N of them.  CPU: every
#           thread and child process of the server (schedstat, ns)
#           over the load, divided by the registrations completed.
#  wt       write-through throughput: no auth, proxy-stateful
#           --db-mode write-through (the 200 after the commit, bindings
#           committed in groups) vs Kamailio db_mode 1; sipp keeps
#           WT_LIMIT REGISTERs outstanding (closed loop), WT_N of them;
#           throughput = completed / wall time.
#
# Runs alternate between the servers; median of RUNS.
#
#   sh tests/bench/stateful_db.sh   (ROWS="auth-wb wt" RATE=2500 N=15000
#                                    WT_N=20000 WT_LIMIT=200 RUNS=3)
#   PERF=DIR: perf profiles of proxy-stateful's load (DIR/auth-wb.data,
#   DIR/wt.data); KEEP=1: the temporary directory (logs) is kept.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/bench/benchlib.sh"
ROWS=${ROWS:-"auth-wb wt"}
RATE=${RATE:-2500}
N=${N:-15000}
WT_N=${WT_N:-20000}
WT_LIMIT=${WT_LIMIT:-200}
RUNS=${RUNS:-3}
USERS=${USERS:-10000}
ksql=/usr/share/kamailio/mysql
bench_require sipp kamailio taskset mariadbd mariadb-install-db mariadb
dbpid=""
bench_tmp /tmp/bench-sfdb.XXXXXX
# The database last, after the servers that write to it.
bench_cleanup_extra() {
	[ -z "$dbpid" ] && return 0
	kill "$dbpid" 2>/dev/null
	sleep 1
	kill -9 "$dbpid" 2>/dev/null
}

base=$((20000 + $$ % 20000))
P=$base DBPORT=$((base + 1))
mkdir "$tmp/db" "$tmp/dbtmp"
mariadb-install-db --no-defaults --datadir="$tmp/db" --tmpdir="$tmp/dbtmp" \
	--auth-root-authentication-method=normal --skip-test-db --user=root \
	> "$tmp/install.log" 2>&1
mariadbd --no-defaults --datadir="$tmp/db" --tmpdir="$tmp/dbtmp" \
	--socket="$tmp/db/sock" --port="$DBPORT" --bind-address=127.0.0.1 \
	--user=root --pid-file="$tmp/db/pid" --skip-log-bin \
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
python3 - "$tmp" "$USERS" <<'PY'
import hashlib, sys
d, n = sys.argv[1], int(sys.argv[2])
with open(d + "/users.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n):
        f.write("user%d;bench.test;pw%d;127.0.0.1;%d;[authentication username=user%d password=pw%d]\n" % (i, i, 30000 + i % 1000, i, i))
rows = []
for i in range(n):
    ha1 = hashlib.md5(("user%d:bench.test:pw%d" % (i, i)).encode()).hexdigest()
    rows.append("('user%d','bench.test','%s')" % (i, ha1))
with open(d + "/sps.sql", "w") as f:
    f.write("INSERT INTO subscriber (username, domain, ha1) VALUES %s;\n" % ",".join(rows))
with open(d + "/kam.sql", "w") as f:
    f.write("INSERT INTO subscriber (username, domain, ha1) VALUES %s;\n" % ",".join(rows))
PY
sql -e 'CREATE DATABASE sps; CREATE DATABASE kam'
sql sps < "$top/proxy-stateful/schema.sql"
sql sps < "$tmp/sps.sql"
cat "$ksql/standard-create.sql" "$ksql/usrloc-create.sql" \
	"$ksql/auth_db-create.sql" | sql kam
sql kam < "$tmp/kam.sql"
url="mysql://root@127.0.0.1:$DBPORT"

start() { # server row
	sql sps -e 'DELETE FROM location'
	# The users' own flag: challenged in auth-wb only (as Kamailio).
	if [ "$2" = auth-wb ]; then
		sql sps -e 'UPDATE subscriber SET auth_required = 1'
	else
		sql sps -e 'UPDATE subscriber SET auth_required = 0'
	fi
	sql kam -e 'DELETE FROM location'
	case $1 in
	proxy-stateful)
		if [ "$2" = auth-wb ]; then
			a="--db-mode write-back --flush-ms 1000 --auth register"
		else
			a="--db-mode write-through"
		fi
		# shellcheck disable=SC2086
		taskset -c "$PROXY_CPU" "$bin/proxy-stateful" \
			--listen "udp:127.0.0.1:$P" --domain bench.test \
			--workers 1 --db "$url/sps" $a 2> "$tmp/ps.log" &
		spid=$! ;;
	kamailio)
		if [ "$2" = auth-wb ]; then
			set -- -A WITH_AUTH -A DBMODE=2
		else
			set -- -A DBMODE=1
		fi
		taskset -c "$PROXY_CPU" kamailio \
			-f "$top/tests/bench/kamailio-stateful.cfg" -DD -E -n 1 \
			-l "udp:127.0.0.1:$P" -Y "$tmp" -w "$tmp" -A WITH_DB \
			-A "DBURL=\"$url/kam\"" "$@" \
			> "$tmp/k.out" 2> "$tmp/k.log" &
		spid=$! ;;
	esac
	pids="$pids $spid"
	sleep 2
}

stat_of() { # column
	awk -F';' -v c="$1" 'NR==1 {for (i=1;i<=NF;i++) h[$i]=i} END {print $h[c]}' "$tmp/stat.csv"
}

# PERF=DIR: a perf profile of proxy-stateful's load in DIR/ROW.data.
perf_start() { # row
	ppid=
	if [ -n "${PERF:-}" ] && [ "$1" = proxy-stateful ]; then
		perf record -g -o "$PERF/$2.data" -p "$spid" 			> /dev/null 2>&1 &
		ppid=$!
		sleep 0.5
	fi
}
perf_stop() {
	if [ -n "$ppid" ]; then kill -INT "$ppid"; wait "$ppid" || true; fi
}

# After a measurement: stops perf and the server; sets ok and bad
# (sipp's counts) and rows (the location rows in the server's database).
finish() { # server
	perf_stop
	kill $spid; wait $spid 2>/dev/null || true
	ok=$(stat_of "SuccessfulCall(C)") bad=$(stat_of "FailedCall(C)")
	rm -f "$tmp/stat.csv"
	db=sps; [ "$1" = kamailio ] && db=kam
	rows=$(sql $db -e 'SELECT COUNT(*) FROM location')
}

one_auth() { # server -> "us_per_registration ok failed rows"
	start "$1" auth-wb
	perf_start "$1" auth-wb
	c0=$(cpu_ns $spid)
	taskset -c "$LOAD_CPU" sipp -sf "$sc/stateful_register_users.xml" \
		-inf "$tmp/users.csv" -m "$N" -r "$RATE" -l 5000 \
		-i 127.0.0.1 -nostdin -timeout 120s -max_retrans 3 \
		-trace_stat -stf "$tmp/stat.csv" "127.0.0.1:$P" \
		> "$tmp/sipp.out" 2>&1 || true
	c1=$(cpu_ns $spid)
	finish "$1"
	awk -v d=$((c1 - c0)) -v n="$ok" -v b="$bad" -v r="$rows" \
		'BEGIN { printf "%.1f %d %d %d\n", n ? d / 1000 / n : 0, n, b, r }'
}

one_wt() { # server -> "registers_per_s ok failed rows"
	start "$1" wt
	perf_start "$1" wt
	t0=$(date +%s.%N)
	taskset -c "$LOAD_CPU" sipp -sf "$sc/stateful_register.xml" \
		-inf "$tmp/users.csv" -m "$WT_N" -r 100000 -l "$WT_LIMIT" \
		-i 127.0.0.1 -nostdin -timeout 120s -max_retrans 3 \
		-trace_stat -stf "$tmp/stat.csv" "127.0.0.1:$P" \
		> "$tmp/sipp.out" 2>&1 || true
	t1=$(date +%s.%N)
	finish "$1"
	awk -v t0="$t0" -v t1="$t1" -v n="$ok" -v b="$bad" -v r="$rows" \
		'BEGIN { printf "%.0f %d %d %d\n", n / (t1 - t0), n, b, r }'
}

one_of_row() { # server: this row's measurement
	if [ $row = auth-wb ]; then one_auth "$1"; else one_wt "$1"; fi
}

for row in $ROWS; do
	bench_alternate one_of_row proxy-stateful kamailio
	if [ $row = auth-wb ]; then
		bench_pair_report "REGISTER with digest auth, write-back DB, UDP, $RATE/s x $N, $USERS users, 1 worker pinned:" \
			us/registration "value ok failed rows" "goal <= 0.5"
	else
		bench_pair_report "REGISTER write-through throughput, UDP, $WT_N, $WT_LIMIT outstanding, 1 worker pinned:" \
			REGISTER/s "value ok failed rows" "goal >= 5"
	fi
done
