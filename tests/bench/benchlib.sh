# benchlib.sh - what the shell benchmarks under tests/bench/ share.
# Source it once $top (the checkout) is set:
#	. "$top/tests/bench/benchlib.sh"
# Every process a benchmark starts is its own, ended by its PID.

bin=${SIPSTONE_BIN:-$top/bin}
sc="$top/tests/sipp"
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

# Exits 0 with "SKIP: ..." unless every tool named is installed (a
# benchmark is no test: a machine without sipp or kamailio skips it).
bench_require() {
	for _tool in "$@"; do
		command -v "$_tool" >/dev/null 2>&1 ||
			{ echo "${0##*/}: SKIP: $_tool not installed"; exit 0; }
	done
}

# A temporary directory in $tmp (mktemp template $1, optional) and the
# trap that, on exit or interrupt, ends the PIDs in $pids (SIGTERM, then
# SIGKILL 0.3 s later), runs the function bench_cleanup_extra if the
# benchmark defines one, and removes $tmp (kept when KEEP is set).
bench_tmp() {
	tmp=$(mktemp -d ${1:+"$1"})
	pids=""
	trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
	for _p in $pids; do kill "$_p" 2>/dev/null || true; done
	sleep 0.3
	for _p in $pids; do kill -9 "$_p" 2>/dev/null || true; done
	if command -v bench_cleanup_extra >/dev/null 2>&1; then
		bench_cleanup_extra || true
	fi
	if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}

# Starts a command in the background, its output in $tmp/NAME.out; its
# PID in $last and added to $pids.
start_bg() { # name, command...
	_name=$1; shift
	"$@" > "$tmp/$_name.out" 2>&1 &
	pids="$pids $!"
	last=$!
}

# Time on CPU (ns) of the processes' threads and of their children's
# (/proc/PID/task/TID/schedstat: utime+stime without the 10 ms tick).
cpu_ns() { # pid...
	_all=""
	for _p in "$@"; do
		_all="$_all $_p $(pgrep -P "$_p" 2>/dev/null | tr '\n' ' ')"
	done
	cat $(for _p in $_all; do echo /proc/$_p/task/*/schedstat; done) \
		2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'
}

# A UDP port on 127.0.0.1 free right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The median of the numbers on standard input, one a line.
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# The last count of sipp's screen row ROW ("Successful call", "Failed
# call") in sipp's output FILE; 0 without one.
sipp_count() { # file row
	awk -F'|' -v row="$2" '$0 ~ row {gsub(/ /, "", $3); v = $3} END {print v + 0}' "$1"
}

# Runs "FN SERVER" RUNS times for each SERVER in turn (alternating, so
# that a drift of the machine touches them alike).  Each output line
# goes to $tmp/SERVER.runs, its first field to $tmp/SERVER.res.
bench_alternate() { # fn server...
	_fn=$1; shift
	for _s in "$@"; do : > "$tmp/$_s.res"; : > "$tmp/$_s.runs"; done
	_r=0
	while [ $_r -lt "$RUNS" ]; do
		for _s in "$@"; do
			"$_fn" "$_s" | tee -a "$tmp/$_s.runs" | cut -d' ' -f1 \
				>> "$tmp/$_s.res"
		done
		_r=$((_r + 1))
	done
}

# Prints a / b with printf's format (e.g. "  ratio: %.2f (goal <= 0.5)").
bench_ratio() { # a b format
	awk -v a="$1" -v b="$2" -v f="$3\n" 'BEGIN { printf f, a / b }'
}

# The report of a proxy-stateful vs kamailio benchmark run through
# bench_alternate: the title, each server's median and runs, the ratio.
bench_pair_report() { # title unit runs-label goal
	_ps=$(median < "$tmp/proxy-stateful.res")
	_ka=$(median < "$tmp/kamailio.res")
	echo "$1"
	echo "  proxy-stateful: $_ps $2 (runs: $3: $(tr '\n' ',' < "$tmp/proxy-stateful.runs"))"
	echo "  kamailio:       $_ka $2 (runs: $3: $(tr '\n' ',' < "$tmp/kamailio.runs"))"
	bench_ratio "$_ps" "$_ka" "  ratio: %.2f ($4)"
}
