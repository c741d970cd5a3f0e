#!/usr/bin/env python3
"""Memory of proxy-stateful per binding and per transaction at 100k
bindings: one worker, bindings in memory, sipp (pinned to LOAD_CPU)
registers USERS distinct users over UDP at RATE/s.  The proxy's
`heap_bytes` counter (glibc mallinfo2: bytes handed out and not given
back) is read through its --control channel:

  h0  after start, nothing stored
  h1  right after the last 200: USERS bindings plus every REGISTER
      server transaction still waiting out Timer J (64*T1 = 32 s)
  h2  once transactions_alive is back to 0: the bindings alone

  bytes per binding     = (h2 - h0) / bindings
  bytes per transaction = (h1 - h2) / transactions alive at h1

VmRSS is printed too (the allocator keeps freed memory, so RSS does not
fall back).  Median of RUNS.

  python3 tests/bench/stateful_memory.py   (USERS=100000 RATE=10000 RUNS=3)
"""
import json, os, select, subprocess, sys, tempfile, time

import benchlib

top = benchlib.TOP
binp = os.environ.get("SIPSTONE_BIN", os.path.join(top, "bin"))
USERS = int(os.environ.get("USERS", "100000"))
RATE = int(os.environ.get("RATE", "10000"))
RUNS = int(os.environ.get("RUNS", "3"))
PROXY_CPU = os.environ.get("PROXY_CPU", "0")
LOAD_CPU = os.environ.get("LOAD_CPU", "1")


class Proxy:
    def __init__(self, port, log):
        self.p = subprocess.Popen(
            ["taskset", "-c", PROXY_CPU, os.path.join(binp, "proxy-stateful"),
             "--listen", "udp:127.0.0.1:%d" % port, "--domain", "bench.test",
             "--workers", "1", "--control"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        self.buf = b""
        self.id = 0
        self.wait(lambda o: o.get("event") == "ready", 10)

    def line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
                raise RuntimeError("proxy-stateful: no answer")
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("proxy-stateful exited")
            self.buf += chunk
        l, self.buf = self.buf.split(b"\n", 1)
        return json.loads(l)

    def wait(self, pred, secs):
        deadline = time.time() + secs
        while True:
            o = self.line(deadline)
            if pred(o):
                return o

    def stats(self):
        self.id += 1
        self.p.stdin.write(b'{"cmd": "stats", "id": %d}\n' % self.id)
        self.p.stdin.flush()
        o = self.wait(lambda o: o.get("id") == self.id, 5)
        return o.get("stats", o)

    def rss(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1]) * 1024
        return 0

    def stop(self):
        benchlib.close_and_wait(self.p)


def one(tmp, port):
    with open(os.path.join(tmp, "ps.log"), "ab") as log:
        px = Proxy(port, log)
        try:
            # the child of taskset is the proxy itself (taskset execs)
            s0 = px.stats()
            h0 = s0["heap_bytes"]
            r = subprocess.run(
                ["taskset", "-c", LOAD_CPU, "sipp", "-sf",
                 os.path.join(top, "tests/sipp/stateful_register.xml"),
                 "-inf", os.path.join(tmp, "users.csv"), "-m", str(USERS),
                 "-r", str(RATE), "-l", "5000", "-i", "127.0.0.1",
                 "-nostdin", "-timeout", "120s", "-max_retrans", "3",
                 "127.0.0.1:%d" % port],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            s1 = px.stats()
            h1, t1, b1, rss1 = (s1["heap_bytes"], s1["transactions_alive"],
                                s1["bindings"], px.rss())
            deadline = time.time() + 60
            while time.time() < deadline:
                time.sleep(2)
                s2 = px.stats()
                if s2["transactions_alive"] == 0:
                    break
            h2, b2 = s2["heap_bytes"], s2["bindings"]
            rss2 = px.rss()
        finally:
            px.stop()
    if r.returncode != 0 or b2 != USERS or s2["transactions_alive"]:
        print("  run failed: sipp %d, bindings %d, transactions %d" %
              (r.returncode, b2, s2["transactions_alive"]))
    return ((h2 - h0) / b2, (h1 - h2) / t1 if t1 else 0, t1, b1, rss1, rss2)


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def main():
    tmp = tempfile.mkdtemp(prefix="bench-sfmem.")
    with open(os.path.join(tmp, "users.csv"), "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(USERS):
            f.write("user%d;bench.test;x;127.0.0.1;%d\n" % (i, 20000 + i % 1000))
    res = []
    for r in range(RUNS):
        port = 20000 + (os.getpid() + r) % 20000
        res.append(one(tmp, port))
        print("  run %d: %.0f B/binding, %.0f B/transaction (%d alive, "
              "%d bindings), RSS %.1f MB then %.1f MB" %
              (r + 1, res[-1][0], res[-1][1], res[-1][2], res[-1][3],
               res[-1][4] / 1e6, res[-1][5] / 1e6))
    print("memory at %d bindings (REGISTER over UDP at %d/s, 1 worker):" %
          (USERS, RATE))
    print("  per binding:     %.0f bytes" % median([x[0] for x in res]))
    print("  per transaction: %.0f bytes (REGISTER server transaction "
          "in Completed, Timer J)" % median([x[1] for x in res]))
    for p in os.listdir(tmp):
        os.unlink(os.path.join(tmp, p))
    os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())
