#!/usr/bin/env python3
"""The scale check of docs/BENCHMARKING.md: do enqueue, claim and the dashboard's job list stay
as fast with 1,000,000 jobs in the table as with 20,000?

For each backend it makes a fresh database, seeds it with SMALL rows (half a succeeded history
with one attempt each, half a queued backlog in another queue), measures, then seeds up to LARGE
rows in the same proportions and measures again:
  - `portableq bench` (its own queue: enqueue and the full claim/ack path), and
  - GET /jobs?status=queued&limit=50 (newest first, with its capped total), GET /jobs?status=
    queued&queue=backlog, GET /queues, each the median of 30 requests to `portableq serve`.
Rows are seeded with SQL in the database (that is not what is measured). Prints a table and
one SCALE_RESULT line per backend and metric.

  bench/scale.py --bin .build/release/portableq [--postgres URL] [--small 20000] [--large 1000000]
"""

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import _peerlib as P  # noqa: E402

NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000


def seed_sql(backend: str, start: int, count: int, large: int) -> str:
    """SQL that adds rows start..<start+count: even i succeeded (with an attempt), odd i queued
    in queue 'backlog'. Ids are UUIDv7 text from a time 20 days back, so they sort before
    anything the bench makes."""
    base = NOW_MS - 20 * DAY_MS
    if backend == "sqlite":
        series = f"WITH RECURSIVE s(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM s WHERE i < {start + count - 1})"
        uid = (f"printf('%08x-%04x-7%03x-8%03x-%012x', ({base} + i) >> 16, ({base} + i) & 65535, i % 4096, "
               f"(i / 4096) % 4096, i)")
        ms = f"({base} + i)"
        return f"""
            BEGIN;
            {series}
            INSERT INTO jobs (id, queue, job_type, payload, priority, run_at, status, attempts, created_at, started_at, finished_at)
            SELECT {uid}, CASE WHEN i % 2 = 0 THEN 'history' ELSE 'backlog' END, 'noop', '"xxxxxxxxxxxxxx"', 0,
                   {ms}, CASE WHEN i % 2 = 0 THEN 'succeeded' ELSE 'queued' END, i % 2 = 0, {ms},
                   CASE WHEN i % 2 = 0 THEN {ms} END, CASE WHEN i % 2 = 0 THEN {ms} + 5 END FROM s;
            {series}
            INSERT INTO attempts (job_id, attempt, queue, lease_token, worker_id, started_at, finished_at, outcome, wait_ms)
            SELECT {uid}, 1, 'history', {uid}, 'seed', {ms}, {ms} + 5, 'succeeded', 0 FROM s WHERE i % 2 = 0;
            COMMIT;
            ANALYZE;
            """
    ts = f"(timestamptz 'epoch' + ({base} + i) * interval '1 millisecond')"
    hx = f"lpad(to_hex({base} + i), 12, '0')"
    uid = (f"(substr({hx}, 1, 8) || '-' || substr({hx}, 9, 4) || '-7' || lpad(to_hex(i % 4096), 3, '0') || '-8' || "
           f"lpad(to_hex((i / 4096) % 4096), 3, '0') || '-' || lpad(to_hex(i), 12, '0'))::uuid")
    return f"""
        SET search_path TO portableq;
        BEGIN;
        INSERT INTO jobs (id, queue, job_type, payload, priority, run_at, status, attempts, created_at, started_at, finished_at)
        SELECT {uid}, CASE WHEN i % 2 = 0 THEN 'history' ELSE 'backlog' END, 'noop', '"xxxxxxxxxxxxxx"', 0,
               {ts}, CASE WHEN i % 2 = 0 THEN 'succeeded' ELSE 'queued' END, (i % 2 = 0)::int, {ts},
               CASE WHEN i % 2 = 0 THEN {ts} END, CASE WHEN i % 2 = 0 THEN {ts} + interval '5 ms' END
        FROM generate_series({start}, {start + count - 1}) AS i;
        INSERT INTO attempts (job_id, attempt, queue, lease_token, worker_id, started_at, finished_at, outcome, wait_ms)
        SELECT {uid}, 1, 'history', {uid}, 'seed', {ts}, {ts} + interval '5 ms', 'succeeded', 0
        FROM generate_series({start}, {start + count - 1}) AS i WHERE i % 2 = 0;
        COMMIT;
        """


def seed(backend: str, url: str, path: str, start: int, count: int, large: int):
    sql = seed_sql(backend, start, count, large)
    if backend == "sqlite":
        out = subprocess.run(["sqlite3", path], input=sql, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"sqlite3: {out.stderr.strip()}")
    else:
        P.psql(url, sql)
        P.psql(url, "VACUUM ANALYZE portableq.jobs")  # not inside the seeding transaction
        P.psql(url, "VACUUM ANALYZE portableq.attempts")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_requests(port: int, path: str, n: int = 30) -> float:
    """Median wall time in ms of n GETs on one keep-alive connection (after 3 warm-ups)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for k in range(n + 3):
        t0 = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status} {body[:200]!r}")
        if k >= 3:
            times.append((time.perf_counter() - t0) * 1000)
    c.close()
    return statistics.median(times)


def measure(binary: str, url: str, env: dict, jobs: int) -> dict:
    out = {}
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--no-worker", "--addr", f"127.0.0.1:{port}", "--database", url],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        out["list_queued_ms"] = time_requests(port, "/jobs?status=queued&limit=50")
        out["list_queued_queue_ms"] = time_requests(port, "/jobs?status=queued&queue=backlog&limit=50")
        out["queues_ms"] = time_requests(port, "/queues")
    finally:
        server.terminate()
        server.wait(timeout=30)
    r = subprocess.run([binary, "bench", "--database", url, "--jobs", str(jobs), "--workers", "4", "--trickle", "0"],
                       env=env, capture_output=True, text=True)
    m = re.search(r"enqueue_jps=(\d+) process_jps=(\d+)", r.stdout)
    if not m:
        raise RuntimeError(f"portableq bench failed: {r.stderr[-500:]}")
    out["enqueue_jps"], out["process_jps"] = int(m.group(1)), int(m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=".build/release/portableq")
    ap.add_argument("--postgres", default=os.environ.get("PORTABLEQ_BENCH_POSTGRES_URL"),
                    help="admin URL of a Postgres server (database bench_scale is made and dropped)")
    ap.add_argument("--small", type=int, default=20_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=20_000, help="jobs per portableq bench run")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    env = {**os.environ, "PORTABLEQ_MIGRATE_ON_STARTUP": "on", "PORTABLEQ_LOG_LEVEL": "error"}
    rows = []
    backends = ["sqlite"] + (["postgres"] if a.postgres else [])
    for backend in backends:
        tmp = tempfile.mkdtemp(prefix="portableq-scale-")
        path = os.path.join(tmp, "scale.db")
        if backend == "sqlite":
            url = f"sqlite://{path}"
            db = None
        else:
            db = P.PeerDatabase(a.postgres, "bench_scale").__enter__()
            url = db.url
        try:
            subprocess.run([binary, "migrate", "--database", url], env=env, check=True, capture_output=True)
            P.log(f"{backend}: seeding {a.small} rows")
            seed(backend, url, path, 0, a.small, a.large)
            small = measure(binary, url, env, a.jobs)
            P.log(f"{backend}: {small}; seeding up to {a.large} rows")
            t0 = time.time()
            step = 250_000
            for start in range(a.small, a.large, step):
                seed(backend, url, path, start, min(step, a.large - start), a.large)
            P.log(f"{backend}: seeded in {time.time() - t0:.0f} s")
            large = measure(binary, url, env, a.jobs)
            P.log(f"{backend}: {large}")
            for k in small:
                higher_is_better = k.endswith("_jps")
                ratio = (large[k] / small[k]) if higher_is_better else (small[k] / large[k] if large[k] else 1)
                rows.append((backend, k, small[k], large[k], ratio))
                print(f"SCALE_RESULT backend={backend} metric={k} small={small[k]:.2f} large={large[k]:.2f} "
                      f"small_rows={a.small} large_rows={a.large} kept={ratio:.2f}", flush=True)
        finally:
            if db:
                db.__exit__(None, None, None)
            subprocess.run(["rm", "-rf", tmp])
    print()
    print(f"| backend | metric | {a.small:,} rows | {a.large:,} rows | kept |")
    print("|---|---|---:|---:|---:|")
    for backend, k, s, l, ratio in rows:
        unit = "jobs/s" if k.endswith("_jps") else "ms"
        fmt = (lambda v: f"{v:,.0f} {unit}") if unit == "jobs/s" else (lambda v: f"{v:.2f} {unit}")
        print(f"| {backend} | {k} | {fmt(s)} | {fmt(l)} | {ratio:.0%} |")
    print()
    print("kept: the 1M figure as a share of the 20k figure (for times, 20k time / 1M time); the target is at least 80%.")


if __name__ == "__main__":
    main()
