#!/usr/bin/env python3
"""Benchmark: the loader's CPU per REGISTER over TCP and TLS, against
sipp over TCP (Debian's sipp has no TLS), in the same run.

Every generator sends REGISTER at the same fixed rate to the same
registrar, proxy-stateful (one worker, no auth, TCP and TLS listeners),
pinned to CPU SRV_CPU; the generator runs on GEN_CPU (taskset).  We
measure each generator's CPU (user + sys from wait4, start-up and
shutdown included) per REGISTER and its failures; median of REPS runs.

Two groups, each at its own rate:
- one connection: the loader over TCP and over TLS with --conn
  persistent (one thread, one connection), sipp -t t1 (one socket);
- a connection per REGISTER: the loader --conn per-request over TCP,
  over TLS with resumption and without (--tls-resume off), sipp -t tn
  (a socket per call).  Its rate is lower: every connection leaves a
  TIME_WAIT port behind on the generator's side for 60 s.

Usage: bench_loader_conn.py [RATE] [PER_REQUEST_RATE] [SECONDS] [REPS]
       (defaults 2000 300 5 3)
Env: BIN (bin dir, default bin), GEN_CPU (0), SRV_CPU (1).
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

import benchlib
from benchlib import run

top, bindir = benchlib.TOP, benchlib.BIN
gen_cpu, srv_cpu = benchlib.cpus()
args = sys.argv[1:]
rate = int(args[0]) if len(args) > 0 else 2000
pr_rate = int(args[1]) if len(args) > 1 else 300
secs = int(args[2]) if len(args) > 2 else 5
reps = int(args[3]) if len(args) > 3 else 3


def free_port():
    return benchlib.free_port(socket.SOCK_STREAM)


def certs(d):
    """ca.pem, srv.pem/srv.key for 127.0.0.1, with the openssl command."""
    sh = ("set -e\n"
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
          " -nodes -days 2 -subj /CN=BenchCA -keyout ca.key -out ca.pem\n"
          "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
          " -nodes -subj /CN=localhost -keyout srv.key -out srv.csr\n"
          "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf\n"
          "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
          "-CAcreateserial -days 2 -extfile ext.cnf -out srv.pem\n")
    subprocess.run(["sh", "-c", sh], cwd=d, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def registrar(cwd):
    port, tport = free_port(), free_port()
    argv = ["taskset", "-c", srv_cpu, os.path.join(bindir, "proxy-stateful"),
            "--listen", "udp:127.0.0.1:%d" % port,
            "--listen", "tcp:127.0.0.1:%d" % port,
            "--listen", "tls:127.0.0.1:%d" % tport,
            "--tls-cert", "srv.pem", "--tls-key", "srv.key",
            "--domain", "example.com", "--workers", "1", "--auth", "none"]
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    time.sleep(0.5)
    return p, port, tport


def loader(server, conn, extra=()):
    def gen(cwd, r):
        rc, cpu, wall, out = run(
            ["taskset", "-c", gen_cpu, os.path.join(bindir, "loader"),
             "--test", "register", "--server", server,
             "--users", "A100000-A199999", "--rate", str(r),
             "--duration", str(secs), "--threads", "1", "--conn", conn,
             "--tls-ca", "ca.pem", "--json"] + list(extra), cwd)
        j = json.loads(out.strip().splitlines()[-1])
        return cpu, j["attempts"], j["failures"], wall, j["connections"]
    return gen


def sipp(port, mode):
    def gen(cwd, r):
        n = int(r * secs)
        benchlib.remove(os.path.join(cwd, "uac.csv"))
        rc, cpu, wall, out = run(
            ["taskset", "-c", gen_cpu, "sipp", "-sf",
             os.path.join(top, "tests/sipp/uac_register.xml"),
             "-i", "127.0.0.1", "-t", mode, "-max_socket", "10000",
             "-r", str(int(r)),
             "-m", str(n), "-nostdin", "-timeout", "%ds" % (3 * secs + 10),
             "-trace_stat", "-stf", "uac.csv", "127.0.0.1:%d" % port], cwd)
        ok = benchlib.sipp_counts(os.path.join(cwd, "uac.csv"), n, rc)[0]
        return cpu, n, n - ok, wall, None
    return gen


def group(title, r, gens, cwd, peer):
    res = {name: [] for name, _ in gens}
    for i in range(reps):
        for name, fn in gens:
            cpu, n, failed, wall, conns = fn(cwd, r)
            us = cpu / n * 1e6 if n else float("nan")
            res[name].append((us, n, failed))
            extra = ""
            if conns:
                extra = "  conns %d (full %d, resumed %d)" % (
                    conns["opened"], conns["tls_full"],
                    conns["tls_resumed"])
            print("  run %d %-22s %6d tx %5d failed %6.2f s cpu %6.3f s "
                  "%7.2f us/tx%s" % (i + 1, name, n, failed, wall, cpu, us,
                                     extra), flush=True)
    med = {k: statistics.median(x[0] for x in v) for k, v in res.items()}
    print("%s: REGISTER at %d/s for %d s, generator on CPU %s, "
          "proxy-stateful on CPU %s, median of %d" %
          (title, r, secs, gen_cpu, srv_cpu, reps))
    print("| generator | CPU us per REGISTER | vs %s | failures |" % peer)
    print("| --- | --- | --- | --- |")
    for name, _ in gens:
        print("| %s | %.2f | %.2f | %s |" % (
            name, med[name], med[name] / med[peer],
            "/".join(str(x[2]) for x in res[name])))
    print(flush=True)


def main():
    with tempfile.TemporaryDirectory() as d:
        certs(d)
        srv, port, tport = registrar(d)
        tcp = "tcp:127.0.0.1:%d" % port
        tls = "tls:127.0.0.1:%d" % tport
        try:
            group("one connection", rate,
                  [("loader tcp persistent", loader(tcp, "persistent")),
                   ("loader tls persistent", loader(tls, "persistent")),
                   ("sipp -t t1", sipp(port, "t1"))], d, "sipp -t t1")
            group("a connection per REGISTER", pr_rate,
                  [("loader tcp per-request", loader(tcp, "per-request")),
                   ("loader tls per-request", loader(tls, "per-request")),
                   ("loader tls no resume", loader(
                       tls, "per-request", ("--tls-resume", "off"))),
                   ("sipp -t tn", sipp(port, "tn"))], d, "sipp -t tn")
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(timeout=10)


if __name__ == "__main__":
    main()
