#!/usr/bin/env python3
"""Benchmark: the loader against sipp as INVITE call generators.

Both generators make calls (INVITE, 180/200, ACK, BYE/200, no hold) at
the same fixed rate to the same callee (sipp -sn uas), in the same run.
The callee is pinned to one core, each generator in turn to the other
(taskset).  We measure the generator's CPU (user + sys from wait4) per
call and its failures; median of REPS runs.

Usage: bench_loader_invite.py [RATE] [SECONDS] [REPS]  (defaults 2000 10 3)
Env: BIN (bin dir, default bin), GEN_CPU (default 0), SRV_CPU (1).
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

top = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
bindir = os.environ.get("BIN", os.path.join(top, "bin"))
gen_cpu = os.environ.get("GEN_CPU", "0")
srv_cpu = os.environ.get("SRV_CPU", "1")
rate = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
secs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(argv, cwd):
    """Runs argv to completion; returns (rc, cpu_s, wall_s, stdout)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    return (rc, ru.ru_utime + ru.ru_stime, time.monotonic() - t0,
            out.decode(errors="replace"))


def callee(cwd):
    port = free_port()
    p = subprocess.Popen(
        ["taskset", "-c", srv_cpu, "sipp", "-sn", "uas",
         "-i", "127.0.0.1", "-p", str(port), "-nostdin"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL)
    time.sleep(0.5)
    return p, port


def loader(port, cwd):
    rc, cpu, wall, out = run(
        ["taskset", "-c", gen_cpu, os.path.join(bindir, "loader"),
         "--test", "invite", "--server", "udp:127.0.0.1:%d" % port,
         "--users", "A100000-A199999", "--rate", str(rate),
         "--duration", str(secs), "--threads", "1", "--hold-ms", "0",
         "--json"], cwd)
    j = json.loads(out.strip().splitlines()[-1])
    return cpu, j["attempts"], j["failures"], wall


def sipp_uac(port, cwd):
    n = rate * secs
    stat = os.path.join(cwd, "uac.csv")
    if os.path.exists(stat):
        os.unlink(stat)
    rc, cpu, wall, out = run(
        ["taskset", "-c", gen_cpu, "sipp", "-sn", "uac", "-d", "0",
         "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate),
         "-m", str(n), "-nostdin", "-trace_stat", "-stf", stat,
         "127.0.0.1:%d" % port], cwd)
    try:
        with open(stat) as f:
            rows = [r.split(";") for r in f.read().splitlines() if r]
        hdr, last = rows[0], rows[-1]
        failed = int(last[hdr.index("FailedCall(C)")])
        ok = int(last[hdr.index("SuccessfulCall(C)")])
    except (OSError, ValueError, IndexError):
        ok = n if rc == 0 else 0
        failed = n - ok
    return cpu, ok + failed, failed, wall


def main():
    res = {"loader": [], "sipp": []}
    with tempfile.TemporaryDirectory() as d:
        srv, port = callee(d)
        try:
            for i in range(reps):
                for name, fn in (("loader", loader), ("sipp", sipp_uac)):
                    cpu, n, failed, wall = fn(port, d)
                    us = cpu / n * 1e6 if n else float("nan")
                    res[name].append((us, n, failed, wall))
                    print("  run %d %-6s %7d calls %5d failed  %6.2f s  "
                          "cpu %6.3f s  %7.2f us/call" %
                          (i + 1, name, n, failed, wall, cpu, us),
                          flush=True)
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(timeout=10)
    lo = statistics.median(r[0] for r in res["loader"])
    sp = statistics.median(r[0] for r in res["sipp"])
    print("INVITE calls (no hold) at %d/s for %d s, UDP, generator pinned "
          "to CPU %s, callee sipp -sn uas on CPU %s, median of %d" %
          (rate, secs, gen_cpu, srv_cpu, reps))
    print("| generator | CPU us per call | failures |")
    print("| --- | --- | --- |")
    for name, key in (("loader (1 thread)", "loader"),
                      ("sipp -sn uac", "sipp")):
        med = lo if key == "loader" else sp
        print("| %s | %.2f | %s |" % (name, med, "/".join(
            str(r[2]) for r in res[key])))
    print("ratio loader/sipp = %.3f (goal <= 0.33)" % (lo / sp))


if __name__ == "__main__":
    main()
