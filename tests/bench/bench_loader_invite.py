#!/usr/bin/env python3
"""Benchmark: the loader against sipp as INVITE call generators.

Same rate (default): both generators make calls (INVITE, 180/200, ACK,
BYE/200, no hold) at the same fixed rate to the same callee, in the same
run.  The callee is pinned to one core, each generator in turn to the
other (taskset).  We measure the generator's CPU (user + sys from wait4)
per call and its failures; median of REPS runs.

--max: the highest call rate each generator (1 thread, one core)
sustains with < 0.1% failed calls, < 0.1% retransmissions per call and
at least 99% of the asked rate achieved (sipp: its calls over the time
it took): rates step up by x1.25 from START until a step fails, SECONDS
a step.  The callee is reg_responder (180 and 200 to an INVITE, 200 to
a BYE, batched, one core) so that it is not the limit.

Usage: bench_loader_invite.py [RATE] [SECONDS] [REPS]  (defaults 2000 10 3)
       bench_loader_invite.py --max [SECONDS] [START]  (defaults 4 2000)
Env: BIN (bin dir, default bin), BENCH (bench binaries, build/rel/bench),
GEN_CPU (default 0), SRV_CPU (1), RESPONDER (the callee: sipp, sipp -sn
uas, for the same-rate runs, fast, reg_responder, for --max).
"""
import json
import os
import signal
import statistics
import sys
import tempfile
import time

import benchlib
from benchlib import free_port

top, bindir, benchdir = benchlib.TOP, benchlib.BIN, benchlib.BENCH
gen_cpu, srv_cpu = benchlib.cpus()
mode, rate, secs, reps = benchlib.rate_args(
    sys.argv, ("--max",), (2000, 10, 3), (4, 2000))
max_mode = mode is not None
start = rate
responder_kind = benchlib.responder_kind(max_mode)
run = benchlib.runner(3 * secs + 30)


def callee(cwd):
    return benchlib.start_responder(responder_kind, ["-sn", "uas"], srv_cpu,
                                    cwd)


def loader(port, cwd, rate):
    rc, cpu, wall, out = run(
        ["taskset", "-c", gen_cpu, os.path.join(bindir, "loader"),
         "--test", "invite", "--server", "udp:127.0.0.1:%d" % port,
         "--users", "A100000-A199999", "--rate", str(rate),
         "--duration", str(secs), "--threads", "1", "--hold-ms", "0",
         "--json"], cwd)
    j = json.loads(out.strip().splitlines()[-1])
    return cpu, j["attempts"], j["failures"], wall, j["attempts"] / secs, \
        j["retransmissions"]


def sipp_uac(port, cwd, rate):
    n = int(rate * secs)
    stat = os.path.join(cwd, "uac.csv")
    benchlib.remove(stat)
    rc, cpu, wall, out = run(
        ["taskset", "-c", gen_cpu, "sipp", "-sn", "uac", "-d", "0",
         "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(int(rate)),
         "-m", str(n), "-nostdin", "-timeout", "%ds" % (3 * secs + 10),
         "-trace_stat", "-stf", stat,
         "127.0.0.1:%d" % port], cwd)
    ok, failed, retrans = benchlib.sipp_counts(stat, n, rc)
    # sipp makes its -m calls however long it takes: its rate is the
    # calls over the time it took (less the 0.1 s it waits to start);
    # calls not ended by the timeout count as failed
    return cpu, ok + failed, n - ok, wall, \
        (ok + failed) / max(wall - 0.1, 0.001), retrans


def same_rate():
    with tempfile.TemporaryDirectory() as d:
        srv, port = callee(d)
        try:
            res = benchlib.rounds((("loader", loader), ("sipp", sipp_uac)),
                                  reps, port, d, rate,
                                  "  run %d %-6s %7d calls %5d failed  "
                                  "%6.2f s  cpu %6.3f s  %7.2f us/call")
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(timeout=10)
    lo = statistics.median(r[0] for r in res["loader"])
    sp = statistics.median(r[0] for r in res["sipp"])
    print("INVITE calls (no hold) at %d/s for %d s, UDP, generator pinned "
          "to CPU %s, callee %s on CPU %s, median of %d" %
          (rate, secs, gen_cpu, responder_kind, srv_cpu, reps))
    print("| generator | CPU us per call | failures |")
    print("| --- | --- | --- |")
    for name, key in (("loader (1 thread)", "loader"),
                      ("sipp -sn uac", "sipp")):
        med = lo if key == "loader" else sp
        print("| %s | %.2f | %s |" % (name, med, "/".join(
            str(r[2]) for r in res[key])))
    print("ratio loader/sipp = %.3f (goal <= 0.33)" % (lo / sp))


def highest():
    best = {}
    with tempfile.TemporaryDirectory() as d:
        srv, port = callee(d)
        try:
            for name, fn in (("loader", loader), ("sipp", sipp_uac)):
                def trial(r):
                    cpu, n, failed, wall, achieved, retr = fn(port, d, r)
                    good = benchlib.passes(n, failed, retr, achieved, r)
                    print("  %-6s asked %7.0f/s achieved %7.0f/s  %7d calls "
                          "%6d failed %6d retr  cpu %5.1f%%  %s" %
                          (name, r, achieved, n, failed, retr,
                           100 * cpu / max(wall, 0.001),
                           "ok" if good else "FAIL"), flush=True)
                    return good
                best[name] = benchlib.step_up(start, trial)
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(timeout=10)
    print("highest INVITE call rate (no hold) with < 0.1%% failed calls, "
          "< 0.1%% retransmissions and >= 99%% of the asked rate, %d s "
          "steps of x1.25 from %d/s, one core each (CPU %s), callee %s on "
          "CPU %s:" % (secs, start, gen_cpu, responder_kind, srv_cpu))
    for k, v in best.items():
        print("  %s: %s/s" % (k, v if v else "< %d" % start))
    if best.get("loader") and best.get("sipp"):
        print("ratio loader/sipp = %.2f (goal >= 3)" %
              (best["loader"] / best["sipp"]))


if __name__ == "__main__":
    highest() if max_mode else same_rate()
