#!/usr/bin/env python3
"""What a user gets from the worker: time one `portableq work --until-empty` process draining N
no-op jobs, on SQLite and Postgres, beside `portableq bench` (the real Worker in-process) and
`portableq bench --loop` (a bare claim/ack loop) and the hand-written SQLite loop in bench/peers,
all in one run on the same box.

  bench/worker_drain.py --bin PATH [--bin-before PATH] [--jobs 60000] [--concurrency 100]
                        [--matched 400] [--postgres URL] [--rounds 1]

The backlog is enqueued through `POST /jobs/batch` of `serve --no-worker` (1,000 jobs a
request), as an application would; the drain is timed from the worker's start to its exit
(process start-up included). With --bin-before, the same drain runs with that binary too, so
before/after figures come from one run. Prints one line per figure and a summary table.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def serve(bin_path, url):
    """`serve --no-worker` on a free loopback port; returns (process, base URL)."""
    p = subprocess.Popen([bin_path, "serve", "--no-worker", "--addr", "127.0.0.1:0", "--database", url],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    seen = ""
    while time.time() < deadline:
        line = p.stderr.readline()
        seen += line
        m = re.search(r"listening on (?:http://)?([0-9.]+:[0-9]+)", line) or re.search(r"127\.0\.0\.1:([0-9]+)", line)
        if m:
            addr = m.group(1) if ":" in m.group(1) else "127.0.0.1:" + m.group(1)
            return p, "http://" + addr
        if p.poll() is not None:
            break
    p.kill()
    raise RuntimeError("serve did not start:\n" + seen)


def enqueue(bin_path, url, queue, jobs):
    subprocess.run([bin_path, "migrate", "--database", url], check=True, capture_output=True)
    p, base = serve(bin_path, url)
    try:
        left = jobs
        while left > 0:
            n = min(1000, left)
            body = json.dumps({"jobs": [{"queue": queue, "job_type": "noop", "payload_json": {}} for _ in range(n)]}).encode()
            req = urllib.request.Request(base + "/jobs/batch", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                if r.status != 201:
                    raise RuntimeError(f"POST /jobs/batch: {r.status}")
            left -= n
    finally:
        p.terminate()
        p.wait(timeout=30)


def fresh_schema(pg):
    """Each Postgres measurement gets a new schema: rows and dead tuples left by an earlier one
    (and autovacuum catching up on them) would otherwise slow the next by up to 3x."""
    return pg + ("&" if "?" in pg else "?") + f"schema=drain_{os.getpid()}_{int(time.time() * 1000) % 10**9}"


def drop_schema(url):
    m = re.search(r"[?&]schema=([A-Za-z0-9_]+)", url)
    if m and shutil.which("psql"):
        base = re.sub(r"[?&]schema=[A-Za-z0-9_]+", "", url)
        subprocess.run(["psql", base, "-qc", f"DROP SCHEMA IF EXISTS {m.group(1)} CASCADE"], capture_output=True)


def rss_peak_mb(pid_status_text):
    m = re.search(r"VmHWM:\s+(\d+) kB", pid_status_text)
    return int(m.group(1)) / 1024 if m else 0.0


def drain(bin_path, url, queue, concurrency, jobs, batch=None):
    """Times one `work --until-empty`; returns (jobs/s, seconds, peak RSS MB)."""
    args = [bin_path, "work", "--database", url, "--queues", queue, "--concurrency", str(concurrency), "--until-empty",
            "--poll-interval-ms", "100"] + (["--batch-size", str(batch)] if batch else [])
    t0 = time.time()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                peak = max(peak, rss_peak_mb(f.read()))
        except OSError:
            pass
        time.sleep(0.05)
    seconds = time.time() - t0
    err = p.stderr.read()
    if p.returncode != 0:
        raise RuntimeError(f"work exited {p.returncode}:\n{err[-2000:]}")
    return jobs / seconds, seconds, peak


def bench(bin_path, url, jobs, loop):
    subprocess.run([bin_path, "migrate", "--database", url], capture_output=True, check=True)
    args = [bin_path, "bench", "--database", url, "--jobs", str(jobs), "--workers", "4", "--trickle", "0"]
    if loop:
        args.append("--loop")
    out = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH_RESULT")), None)
    if not line:
        raise RuntimeError(f"bench failed:\n{out.stderr[-2000:]}")
    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
    return float(fields["process_jps"]), line


def handwritten(jobs, workdir):
    out = subprocess.run([sys.executable, os.path.join(HERE, "peers", "sqlite_handwritten.py"), "--jobs", str(jobs),
                          "--synchronous", "full", "--dir", workdir], capture_output=True, text=True, timeout=1800)
    line = next((l for l in out.stdout.splitlines() if l.startswith("PEER_RESULT")), "")
    m = re.search(r"process_jps=([0-9.]+)", line)
    if not m:
        raise RuntimeError("sqlite_handwritten failed:\n" + out.stderr[-2000:] + out.stdout[-500:])
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--bin-before")
    ap.add_argument("--jobs", type=int, default=60000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--matched", type=int, default=400,
                    help="also drain with this concurrency: the bench loop's jobs in flight (4 loops x 100); 0 = skip")
    ap.add_argument("--postgres")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="worker-drain-")
    rows = []

    def say(s):
        print(s, flush=True)

    try:
        backends = [("sqlite", None)] + ([("postgres", a.postgres)] if a.postgres else [])
        for rnd in range(a.rounds):
            for backend, pg in backends:
                def one_drain(label, binary, concurrency):
                    db = f"{work}/drain-{label}-{concurrency}-{rnd}.db"
                    url = f"sqlite://{db}" if backend == "sqlite" else fresh_schema(pg)
                    queue = f"drain-{label}-{rnd}-{int(time.time())}"
                    enqueue(a.bin, url, queue, a.jobs)
                    jps, secs, peak = drain(binary, url, queue, concurrency, a.jobs)
                    say(f"DRAIN backend={backend} binary={label} jobs={a.jobs} concurrency={concurrency} "
                        f"seconds={secs:.2f} jobs_per_s={jps:.0f} peak_rss_mb={peak:.1f}")
                    rows.append((backend, f"work --until-empty --concurrency {concurrency} ({label})", jps, peak))
                    if backend == "sqlite":
                        os.unlink(db)
                    else:
                        drop_schema(url)

                one_drain("after", a.bin, a.concurrency)
                if a.bin_before:
                    one_drain("before", a.bin_before, a.concurrency)
                if a.matched:
                    one_drain("after", a.bin, a.matched)
                for loop in (False, True):
                    url = f"sqlite://{work}/bench-{rnd}-{loop}.db" if backend == "sqlite" else fresh_schema(pg)
                    jps, line = bench(a.bin, url, a.jobs, loop)
                    if backend != "sqlite":
                        drop_schema(url)
                    say(line)
                    rows.append((backend, "bench --loop" if loop else "bench (Worker)", jps, None))
            hw = handwritten(a.jobs, work)
            say(f"PEER sqlite-handwritten-full process_jps={hw:.0f}")
            rows.append(("sqlite", "hand-written SQLite loop", hw, None))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| backend | what | jobs/s | peak RSS MB |")
    print("|---|---|---|---|")
    for backend, what, jps, peak in rows:
        print(f"| {backend} | {what} | {jps:,.0f} | {'' if peak is None else f'{peak:.1f}'} |")


if __name__ == "__main__":
    main()
