#!/usr/bin/env python3
"""Benchmark: NOTIFYs delivered per second by a presence server.

P presentities (B1000..), W watcher dialogs each (the callhandler's
--watch, subscribed before the measurement), the loader's publish test
at RATE PUBLISH/s for SECS seconds (PIDF bodies of BODY bytes): the
server must send RATE x W NOTIFYs per second.  We count what the
watchers received as new publications (bodies_new: every watcher,
every publication, checked) over the publish phase plus the settling
time, the server's CPU (every thread and child process, from
/proc/PID/task/TID/schedstat) per NOTIFY delivered, and the
publish-to-notify delay.  The server is pinned to SRV_CPU (one UDP
worker), the loader and the callhandler to GEN_CPU.  Median of REPS
runs, servers alternating when SERVER=both.

SERVER=kamailio  Kamailio 5.6 presence + presence_xml
                 (tests/kamailio/presence.cfg, in memory, force_active)
SERVER=ours      bin/proxy-stateful --presence (OURS_ARGS: its flags
                 after --listen; default "--presence --domain 127.0.0.1
                 --workers 1")
SERVER=both      both, in the same run, with the ratio

Usage: presence.py [RATE] [SECS] [REPS]   (defaults 500 10 3)
Env: P (1000), W (10), BODY (500), BIN (bin), SRV_CPU (0), GEN_CPU (1).
KEEP_LOGS=FILE keeps the last server log.  Run it under
`flock /tmp/sipstone-bench.lock`.
"""
import glob
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import free_port, stop

top, bindir = benchlib.TOP, benchlib.BIN
gen_cpu, srv_cpu = benchlib.cpus(gen="1", srv="0")
npres = int(os.environ.get("P", "1000"))
wpp = int(os.environ.get("W", "10"))
body = int(os.environ.get("BODY", "500"))
which = os.environ.get("SERVER", "kamailio")
ours_args = os.environ.get(
    "OURS_ARGS", "--presence --domain 127.0.0.1 --workers 1").split()
rate = int(sys.argv[1]) if len(sys.argv) > 1 else 500
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
kam_modules = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


def cpu_ns(pid):
    """Time on CPU of pid's threads and of its children's threads."""
    pids = [str(pid)]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                             text=True).stdout
        pids += out.split()
    except OSError:
        pass
    total = 0
    for p in pids:
        for f in glob.glob("/proc/%s/task/*/schedstat" % p):
            try:
                with open(f) as fh:
                    total += int(fh.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def answers_options(port):
    msg = ("OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKprobe;rport\r\n"
           "From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\n"
           "Call-ID: probe\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n").encode()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(msg, ("127.0.0.1", port))
        return len(s.recv(4096)) > 0
    except OSError:
        return False
    finally:
        s.close()


def start_server(kind, port, tmp):
    log = open(os.path.join(tmp, kind + ".log"), "w")
    if kind == "kamailio":
        db = os.path.join(tmp, "kamdb")
        shutil.rmtree(db, ignore_errors=True)
        shutil.copytree(os.path.join(top, "tests/kamailio/presence-db"), db)
        argv = ["taskset", "-c", srv_cpu, "kamailio",
                "-f", os.path.join(top, "tests/kamailio/presence.cfg"),
                "-L", kam_modules, "-DD", "-E",
                "-l", "udp:127.0.0.1:%d" % port, "-m", "256", "-M", "8",
                "-Y", tmp, "-A", 'DB_URL="text://%s"' % db,
                "-A", 'SERVER_ADDRESS="sip:127.0.0.1:%d"' % port,
                "-A", "CHILDREN=1", "-A", "DEBUG_LEVEL=1"]
    else:
        argv = ["taskset", "-c", srv_cpu,
                os.path.join(bindir, "proxy-stateful"),
                "--listen", "udp:127.0.0.1:%d" % port] + ours_args
    proc = subprocess.Popen(argv, stdout=log, stderr=log)
    for _ in range(50):
        if answers_options(port):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop(proc)
    sys.exit("%s did not start (see %s)" % (kind, log.name))


class Control:
    """The callhandler's JSON-lines control channel (docs/agents.md)."""

    def __init__(self, argv, log):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=log,
                                  text=True, bufsize=1)
        self.id = 0

    def wait_event(self, name, timeout):
        end = time.time() + timeout
        while time.time() < end:
            line = self.p.stdout.readline()
            if not line:
                return None
            j = json.loads(line)
            if j.get("event") == name:
                return j
        return None

    def stats(self):
        self.id += 1
        self.p.stdin.write(json.dumps({"cmd": "stats", "id": self.id}) +
                           "\n")
        while True:
            line = self.p.stdout.readline()
            if not line:
                sys.exit("callhandler ended")
            j = json.loads(line)
            if j.get("id") == self.id:
                return j["watch"]

    def close(self):
        benchlib.close_and_wait(self.p)


def one(kind, tmp):
    port = free_port()
    srv = start_server(kind, port, tmp)
    log = open(os.path.join(tmp, "callhandler.log"), "w")
    ch = Control(["taskset", "-c", gen_cpu,
                  os.path.join(bindir, "callhandler"), "--control",
                  "--listen", "udp:127.0.0.1:%d" % free_port(),
                  "--threads", "1", "--domain", "127.0.0.1",
                  "--watch", "B%d-B%d" % (1000, 1000 + npres - 1),
                  "--watchers-per-presentity", str(wpp),
                  "--watch-via", "udp:127.0.0.1:%d" % port,
                  "--watch-users", "W10000-W19999", "--watch-rate", "2000"],
                 log)
    try:
        ev = ch.wait_event("watching", 60)
        if not ev or ev["active"] != npres * wpp:
            sys.exit("%s: watchers not all active: %s" % (kind, ev))
        time.sleep(0.5)  # the initial NOTIFYs
        w0 = ch.stats()
        c0 = cpu_ns(srv.pid)
        g0 = cpu_ns(ch.p.pid)
        t0 = time.time()
        ld = subprocess.run(
            ["taskset", "-c", gen_cpu, os.path.join(bindir, "loader"),
             "--test", "publish", "--server", "udp:127.0.0.1:%d" % port,
             "--users", "B%d-B%d" % (1000, 1000 + npres - 1),
             "--domain", "127.0.0.1", "--rate", str(rate),
             "--duration", str(secs), "--threads", "1",
             "--body-bytes", str(body), "--expires", "3600", "--json"],
            capture_output=True, text=True, timeout=secs + 60)
        pubs = json.loads(ld.stdout.splitlines()[-1])
        want = pubs["successes"] * wpp
        # settle: until every NOTIFY came, none came for 3 s, or 15 s
        # (the rate's interval ends at the last NOTIFY seen, not at the
        # end of the wait for lost ones)
        last, still, polls = -1, 0, 0
        while True:
            w1 = ch.stats()
            got = w1["bodies_new"] - w0["bodies_new"]
            polls += 1
            if got != last:
                t1 = time.time()
            if got >= want or still >= 30 or polls >= 150:
                break
            still = still + 1 if got == last else 0
            last = got
            time.sleep(0.1)
        c1 = cpu_ns(srv.pid)
        g1 = cpu_ns(ch.p.pid)
    finally:
        ch.close()
        stop(srv)
        if os.environ.get("KEEP_LOGS"):
            shutil.copy(os.path.join(tmp, kind + ".log"), os.environ["KEEP_LOGS"])
    got = w1["bodies_new"] - w0["bodies_new"]
    d = w1["delay_us"]
    return {
        "publishes": pubs["attempts"], "pub_ok": pubs["successes"],
        "pub_fail": pubs["failures"], "want": want, "notifies": got,
        "notify_per_s": got / (t1 - t0),
        "cpu_us_per_notify": (c1 - c0) / 1000 / got if got else 0,
        "server_cores": (c1 - c0) / 1e9 / (t1 - t0),
        "watchers_cores": (g1 - g0) / 1e9 / (t1 - t0),
        "stale": w1["bodies_stale"] - w0["bodies_stale"],
        "repeat": w1["bodies_repeat"] - w0["bodies_repeat"],
        "terminated": w1["terminated"] - w0["terminated"],
        "active_end": w1["active"],
        "mismatch": w1["bodies_mismatch"] - w0["bodies_mismatch"],
        "delay_p50_ms": d["p50"] / 1e3, "delay_p99_ms": d["p99"] / 1e3,
    }


def main():
    for t in ("taskset", "pgrep"):
        if not shutil.which(t):
            print("SKIP: %s not installed" % t)
            return 0
    kinds = ["kamailio", "ours"] if which == "both" else [which]
    if "kamailio" in kinds and (not shutil.which("kamailio") or
                                not os.path.exists(kam_modules +
                                                   "/presence_xml.so")):
        print("SKIP: kamailio with presence_xml not installed")
        return 0
    if "ours" in kinds:
        h = subprocess.run([os.path.join(bindir, "proxy-stateful"),
                            "--help"], capture_output=True, text=True)
        if "--presence" not in h.stdout + h.stderr:
            print("SKIP: bin/proxy-stateful has no --presence yet")
            return 0
    res = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            for k in kinds:
                r = one(k, tmp)
                res[k].append(r)
                print(k, json.dumps(r), flush=True)
    print("PUBLISH %d/s x %g s, %d presentities x %d watchers, %d-byte "
          "PIDF, UDP, 1 worker pinned:" % (rate, secs, npres, wpp, body))
    med = {}
    for k in kinds:
        m = {f: statistics.median(r[f] for r in res[k])
             for f in ("notify_per_s", "cpu_us_per_notify",
                       "delay_p50_ms", "delay_p99_ms", "server_cores",
                       "watchers_cores")}
        lost = sum(r["want"] - r["notifies"] for r in res[k])
        med[k] = m
        print("  %-8s %9.0f NOTIFY/s  %6.1f us CPU/NOTIFY  delay p50 "
              "%.2f p99 %.2f ms  lost %d  server %.2f cores, watchers "
              "%.2f  (runs: %s)" %
              (k, m["notify_per_s"], m["cpu_us_per_notify"],
               m["delay_p50_ms"], m["delay_p99_ms"], lost,
               m["server_cores"], m["watchers_cores"],
               " ".join("%.0f" % r["notify_per_s"] for r in res[k])))
    if len(kinds) == 2 and med["kamailio"]["notify_per_s"]:
        print("  ratio ours/kamailio: %.2fx NOTIFY/s (goal >= 2x), "
              "%.2f CPU per NOTIFY" %
              (med["ours"]["notify_per_s"] / med["kamailio"]["notify_per_s"],
               med["ours"]["cpu_us_per_notify"] /
               med["kamailio"]["cpu_us_per_notify"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
