#!/usr/bin/env python3
"""Benchmark: the loader against sipp as REGISTER generators.

Same rate (default): every generator sends REGISTER over UDP at the same
fixed rate to the same responder, in the same run, pinned to CPU GEN_CPU
(taskset) with the responder on SRV_CPU.  We measure each generator's
CPU (user + sys from wait4, start-up and shutdown included) per
transaction and its failures; median of REPS runs.  The generators:
the loader (1 thread, and 2 threads on both cores when the machine has
two), sipp (tests/sipp/uac_register.xml) and raw_uac (no SIP stack: the
kernel's floor for a UDP generator, tests/bench/raw_uac.c).

--max: the highest rate each generator sustains (1 thread, one core)
with < 0.1% failures, < 0.1% retransmissions (answers lost or late) and
at least 99% of the asked rate achieved (sipp: its calls over its run
time, as it makes its -m calls however long that takes): rates
step up by STEP (1.25x) from START until a step fails; each step SECONDS
long.  The responder is reg_responder (batched, one core) unless
RESPONDER=sipp.

--threads: the same steps for the loader with 1 thread on CPU 0 and
with 2 threads on CPUs 0 and 1 (taskset -c 0,1), reg_responder on
SRV_CPU all along: each step gives the CPU per transaction of both at
the same total rate, and the last passing step the highest rate of
each.  The machine may have only two cores: then the second thread
shares its core with the responder, whose CPU is printed per step
(from /proc), and the ratio says what two cores give with a responder
on one of them, not what two free cores would.

Usage: bench_loader.py [RATE] [SECONDS] [REPS]     (defaults 5000 10 3)
       bench_loader.py --max [SECONDS] [START]     (defaults 5 5000)
       bench_loader.py --threads [SECONDS] [START] (defaults 5 5000)
Env: BIN (bin dir, default bin), BENCH (bench binaries, build/rel/bench),
GEN_CPU (0), SRV_CPU (1), RESPONDER (sipp for the same-rate runs,
fast for --max: fast = reg_responder).
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
    sys.argv, ("--max", "--threads"), (5000, 10, 3), (5, 5000))
max_mode = mode is not None
start = rate
responder_kind = benchlib.responder_kind(max_mode)
run = benchlib.runner(3 * secs + 30)


def responder(cwd):
    return benchlib.start_responder(
        responder_kind,
        ["-sf", os.path.join(top, "tests/sipp/uas_register.xml")],
        srv_cpu, cwd)


def loader(port, cwd, r, threads=1, cpus=None):
    rc, cpu, wall, out = run(
        ["taskset", "-c", cpus or gen_cpu, os.path.join(bindir, "loader"),
         "--test", "register", "--server", "udp:127.0.0.1:%d" % port,
         "--users", "A100000-A199999", "--rate", str(r),
         "--duration", str(secs), "--threads", str(threads), "--json"], cwd)
    j = json.loads(out.strip().splitlines()[-1])
    return cpu, j["attempts"], j["failures"], wall, j["attempts"] / secs, \
        j["retransmissions"]


def loader2(port, cwd, r):
    return loader(port, cwd, r, 2, "0,1")


def sipp_uac(port, cwd, r):
    n = int(r * secs)
    benchlib.remove(os.path.join(cwd, "uac.csv"))
    rc, cpu, wall, out = run(
        ["taskset", "-c", gen_cpu, "sipp", "-sf",
         os.path.join(top, "tests/sipp/uac_register.xml"),
         "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(int(r)),
         "-m", str(n), "-nostdin", "-timeout", "%ds" % (3 * secs + 10),
         "-trace_stat", "-stf", "uac.csv",
         "127.0.0.1:%d" % port], cwd)
    ok, failed, retrans = benchlib.sipp_counts(
        os.path.join(cwd, "uac.csv"), n, rc)
    # sipp makes its -m calls however long it takes: its rate is the
    # calls over the time it took (less the 0.1 s it waits to start)
    # (calls not ended by the timeout count as failed)
    return cpu, ok + failed, n - ok, wall, \
        (ok + failed) / max(wall - 0.1, 0.001), retrans


def raw(port, cwd, r):
    rc, cpu, wall, out = run(
        ["taskset", "-c", gen_cpu, os.path.join(benchdir, "raw_uac"),
         str(port), str(r), str(secs)], cwd)
    f = out.split()
    sent, answered = int(f[1]), int(f[3])
    return cpu, sent, sent - answered, wall, sent / secs, 0


def same_rate():
    gens = [("loader", loader), ("sipp", sipp_uac), ("raw_uac", raw)]
    if (os.cpu_count() or 1) >= 2:
        gens.insert(1, ("loader x2", loader2))
    with tempfile.TemporaryDirectory() as d:
        srv, port = responder(d)
        try:
            res = benchlib.rounds(gens, reps, port, d, rate,
                                  "  run %d %-9s %7d tx  %5d failed  "
                                  "%6.2f s  cpu %6.3f s  %6.2f us/tx")
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(timeout=10)
    med = {k: statistics.median(r[0] for r in v) for k, v in res.items()}
    print("REGISTER at %d/s for %d s, UDP, generator on CPU %s (loader x2: "
          "2 threads on CPUs 0,1), responder %s on CPU %s, median of %d" %
          (rate, secs, gen_cpu, responder_kind, srv_cpu, reps))
    print("| generator | CPU us per REGISTER | failures |")
    print("| --- | --- | --- |")
    for name, _ in gens:
        print("| %s | %.2f | %s |" % (name, med[name], "/".join(
            str(r[2]) for r in res[name])))
    print("ratio loader/sipp = %.3f (goal <= 0.33); loader/raw_uac = %.2f; "
          "raw_uac/sipp = %.3f" % (med["loader"] / med["sipp"],
                                   med["loader"] / med["raw_uac"],
                                   med["raw_uac"] / med["sipp"]))


def highest(gens, what):
    best = {}
    with tempfile.TemporaryDirectory() as d:
        srv, port = responder(d)
        try:
            for name, fn in gens:
                def trial(r):
                    srv0 = benchlib.cpu_of(srv.pid)
                    cpu, n, failed, wall, achieved, retr = fn(port, d, r)
                    srv_cpu_s = benchlib.cpu_of(srv.pid) - srv0
                    good = benchlib.passes(n, failed, retr, achieved, r)
                    print("  %-9s asked %8.0f/s achieved %8.0f/s  %7d tx "
                          "%6d failed %6d retr  cpu %5.1f%% %6.2f us/tx  "
                          "responder %5.1f%%  %s" %
                          (name, r, achieved, n, failed, retr,
                           100 * cpu / max(wall, 0.001),
                           1e6 * cpu / max(n, 1),
                           100 * srv_cpu_s / max(wall, 0.001),
                           "ok" if good else "FAIL"), flush=True)
                    return good
                best[name] = benchlib.step_up(start, trial)
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(timeout=10)
    print("highest REGISTER rate with < 0.1%% failures, < 0.1%% "
          "retransmissions and >= 99%% of the asked rate, %d s steps of "
          "x1.25 from %d/s, %s, responder %s on CPU %s:" %
          (secs, start, what, responder_kind, srv_cpu))
    for k, v in best.items():
        print("  %s: %s/s" % (k, v if v else "< %d" % start))
    a, b = gens[0][0], gens[1][0]
    if best.get(a) and best.get(b):
        print("ratio %s/%s = %.2f (goal %s)" %
              (b, a, best[b] / best[a], ">= 1.8" if mode == "--threads"
               else ">= 3"))


if __name__ == "__main__":
    if mode == "--max":
        # sipp first in the ratio's denominator: loader/sipp
        highest([("sipp", sipp_uac), ("loader", loader)],
                "one core each (CPU %s)" % gen_cpu)
    elif mode == "--threads":
        highest([("loader", loader), ("loader x2", loader2)],
                "1 thread on CPU %s, 2 threads on CPUs 0,1" % gen_cpu)
    else:
        same_rate()
