"""What the python benchmarks under tests/bench/ share: where the
programs are, the CPUs they are pinned to (GEN_CPU, SRV_CPU), free ports
on 127.0.0.1, running a generator to its end with the CPU it used, and
stopping a server by its PID.

Env: BIN (bin dir, default bin), BENCH (bench binaries, default
build/rel/bench), GEN_CPU, SRV_CPU (defaults given by each benchmark).
"""
import os
import socket
import subprocess
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BIN = os.environ.get("BIN", os.path.join(TOP, "bin"))
BENCH = os.environ.get("BENCH", os.path.join(TOP, "build/rel/bench"))


def cpus(gen="0", srv="1"):
    """(GEN_CPU, SRV_CPU) from the environment, with these defaults."""
    return os.environ.get("GEN_CPU", gen), os.environ.get("SRV_CPU", srv)


def free_port(kind=socket.SOCK_DGRAM):
    """A port on 127.0.0.1 that a socket of kind could bind right now."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(argv, cwd, kill_after=None):
    """Runs argv to completion (killed after kill_after seconds when
    given: sipp can stall on one lost answer whatever its -timeout says);
    returns (rc, cpu_s, wall_s, stdout), cpu_s being user + sys from
    wait4, start-up and shutdown included."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    killer = threading.Timer(kill_after, p.kill) if kill_after else None
    if killer:
        killer.start()
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    if killer:
        killer.cancel()
    rc = os.waitstatus_to_exitcode(status)
    return (rc, ru.ru_utime + ru.ru_stime, time.monotonic() - t0,
            out.decode(errors="replace"))


def cpu_of(pid):
    """User + system CPU seconds of a running process, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc, grace=5):
    """SIGTERM to proc (a Popen) if it still runs, SIGKILL after grace
    seconds; reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def close_and_wait(proc, grace=10):
    """Closes proc's stdin (the control protocol's stop, docs/agents.md),
    waits grace seconds, then SIGKILL; reaps it."""
    proc.stdin.close()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def remove(path):
    """Removes path if it is there (a stale sipp statistics file)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def sipp_counts(stat, n, rc):
    """(successful, failed, retransmissions) from the last row of sipp's
    -trace_stat file stat; without one, all n calls succeeded if sipp
    exited 0 and none did otherwise."""
    try:
        with open(stat) as f:
            rows = [x.split(";") for x in f.read().splitlines() if x]
        hdr, last = rows[0], rows[-1]
        return (int(last[hdr.index("SuccessfulCall(C)")]),
                int(last[hdr.index("FailedCall(C)")]),
                int(last[hdr.index("Retransmissions(C)")]))
    except (OSError, ValueError, IndexError):
        ok = n if rc == 0 else 0
        return ok, n - ok, 0


def rate_args(argv, modes, fixed, searched):
    """The command line of a generator benchmark: argv[1] may be one of
    modes (then [SECONDS] [START] follow, defaults searched = (secs,
    start)), else [RATE] [SECONDS] [REPS] (defaults fixed = (rate, secs,
    reps)).  Returns (mode or None, rate or start, secs, reps)."""
    mode = argv[1] if len(argv) > 1 and argv[1] in modes else None
    args = argv[2:] if mode else argv[1:]
    if mode:
        secs = int(args[0]) if len(args) > 0 else searched[0]
        start = float(args[1]) if len(args) > 1 else searched[1]
        return mode, start, secs, 1
    return (None, int(args[0]) if len(args) > 0 else fixed[0],
            int(args[1]) if len(args) > 1 else fixed[1],
            int(args[2]) if len(args) > 2 else fixed[2])


def runner(kill_after):
    """run() with that kill_after: sipp can stall on one lost answer
    whatever its -timeout says (3 * SECONDS + 30 s in the generator
    benchmarks)."""
    return lambda argv, cwd: run(argv, cwd, kill_after)


def responder_kind(searching):
    """RESPONDER from the environment: sipp for the same-rate runs,
    fast (reg_responder) while searching a highest rate."""
    return os.environ.get("RESPONDER", "fast" if searching else "sipp")


def start_responder(kind, sipp_scenario, cpu, cwd):
    """Starts the UAS on a free UDP port of 127.0.0.1, pinned to cpu:
    sipp with sipp_scenario (its -sf/-sn arguments) when kind is "sipp",
    else reg_responder.  Returns (process, port) once it had 0.5 s to
    bind; the caller stops it (stop())."""
    port = free_port()
    if kind == "sipp":
        argv = ["sipp"] + sipp_scenario + [
            "-i", "127.0.0.1", "-p", str(port), "-nostdin"]
    else:
        argv = [os.path.join(BENCH, "reg_responder"), str(port), "3600"]
    p = subprocess.Popen(["taskset", "-c", cpu] + argv, cwd=cwd,
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    time.sleep(0.5)
    return p, port


def passes(n, failed, retr, achieved, asked):
    """A step of a highest-rate search passes with < 0.1% failures,
    < 0.1% retransmissions (lost answers show as retransmissions
    first) and at least 99% of the asked rate achieved."""
    return bool(n) and failed <= 0.001 * n and retr <= 0.001 * n and \
        achieved >= 0.99 * asked


def step_up(start, trial, steps=16):
    """Rates from start up by x1.25 while trial(rate) passes, at most
    steps trials; returns the last rate that passed, or None."""
    r, ok = start, None
    for _ in range(steps):
        if not trial(r):
            break
        ok = r
        r = round(r * 1.25)
    return ok


def rounds(gens, reps, port, cwd, rate, line):
    """Runs each generator (name, fn(port, cwd, rate)) in turn, reps
    rounds, printing line % (round, name, n, failed, wall, cpu, us) after
    each; returns {name: [(us per transaction, n, failed, wall), ...]}."""
    res = {name: [] for name, _ in gens}
    for i in range(reps):
        for name, fn in gens:
            cpu, n, failed, wall, _, _ = fn(port, cwd, rate)
            us = cpu / n * 1e6 if n else float("nan")
            res[name].append((us, n, failed, wall))
            print(line % (i + 1, name, n, failed, wall, cpu, us), flush=True)
    return res
