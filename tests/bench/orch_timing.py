#!/usr/bin/env python3
"""The orchestrator's own performance goals (issue 6), on the local
inventory:

  - time from `run` to the first load (the baseline) and to step 1,
  - populating the users (the run's own "[db] ... N users in S s"),
  - the orchestrator's CPU while it samples (the steps), in % of a core.

    python3 tests/bench/orch_timing.py [TOPOLOGY] [USERS] [RUNS]

Runs `bin/orchestrator run` RUNS times (default 3) with USERS users
(default 100000), timestamps each line of its output and reads its
utime+stime from /proc at each line; prints each run and the medians.
Run it under flock /tmp/sipstone-bench.lock, as root (managed mariadbd).
"""
import os
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return None


def one(topo, users, results):
    argv = [f"{TOP}/bin/orchestrator", "run", topo, "--hosts",
            f"{TOP}/topologies/hosts/local.json", "--users", str(users),
            "--rate", "1000:1000:2000", "--max-rate", "2000", "--step-s",
            "10", "--warmup-s", "1",
            "--baseline-s", "2", "--results", results]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        lines.append((time.monotonic() - t0, cpu_s(p.pid), line.rstrip()))
    rc = p.wait()
    if rc != 0:
        sys.stdout.write("\n".join(l for _, _, l in lines) + "\n")
        raise SystemExit(f"orchestrator exited {rc}")

    def at(pattern, last=False):
        hits = [x for x in lines if re.search(pattern, x[2])]
        return hits[-1] if last else hits[0]

    db = re.search(r"users in ([0-9.]+) s", at(r"\[db\] .* users in")[2])
    base_start = at(r"\[start\] \S+-baseline ", last=True)
    base = at(r"^\[baseline\]")
    last_step = at(r"^\[step \d+\]", last=True)
    nsteps = int(re.search(r"\[step (\d+)\]", last_step[2]).group(1))
    # Step 1 begins when the baseline loaders have been stopped.
    step1 = at(r"\[stop\] \S+-baseline ended", last=True)
    sampling = last_step[0] - step1[0]
    cpu = (last_step[1] - step1[1]) / sampling * 100
    return {
        "users_s": float(db.group(1)),
        "to_first_load_s": base_start[0],
        "to_step1_s": step1[0],
        "steps": nsteps,
        "sampling_s": sampling,
        "cpu_pct": cpu,
        "total_s": lines[-1][0],
    }


def main():
    topo = sys.argv[1] if len(sys.argv) > 1 else f"{TOP}/topologies/s2p2.json"
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    results = f"/tmp/sipstone-orch-timing-{os.getpid()}"
    got = []
    for i in range(runs):
        r = one(topo, users, results)
        got.append(r)
        print(f"run {i + 1}: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in r.items()), flush=True)
    subprocess.run(["rm", "-rf", results])
    print("median: " + ", ".join(
        f"{k} {statistics.median(r[k] for r in got):.2f}"
        for k in got[0]))


if __name__ == "__main__":
    main()
