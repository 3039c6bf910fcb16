#!/usr/bin/env python3
"""Peer "sqlite-handwritten-<full|normal>": a hand-written job loop on one SQLite file
(Python's sqlite3, WAL mode), one writer, as a reference point for portableq's SQLite backend.

  enqueue: BEGIN IMMEDIATE; INSERT 100 rows; COMMIT.
  process: per transaction, mark the previous batch done (UPDATE + one attempts row per job)
           and claim the next 100 queued rows (UPDATE ... RETURNING); COMMIT; then run a no-op
           for each claimed job. So a claim is durable before its jobs run, and one commit per
           100 jobs covers the ack of one batch and the claim of the next (as portableq's
           completeAndLease does).

  bench/peers/sqlite_handwritten.py --synchronous full|normal [--jobs N] [--dir DIR]
"""

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _peerlib as P  # noqa: E402

SCHEMA = """
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  job_type TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued',
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  run_at REAL NOT NULL,
  created_at REAL NOT NULL,
  locked_by TEXT,
  locked_until REAL,
  done_at REAL
);
CREATE INDEX jobs_queued ON jobs (queue, run_at, id) WHERE state = 'queued';
CREATE TABLE attempts (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  started_at REAL NOT NULL,
  finished_at REAL NOT NULL,
  outcome TEXT NOT NULL
);
"""

CLAIM = """
UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = ?, locked_until = ?
 WHERE id IN (SELECT id FROM jobs WHERE queue = ? AND state = 'queued' AND run_at <= ?
              ORDER BY run_at, id LIMIT ?)
 RETURNING id, job_type, payload, attempts
"""


def noop(job_type, payload):
    return None


def main():
    a = P.args(__doc__, sqlite=True, workers=1, extra=lambda p: p.add_argument(
        "--synchronous", choices=["full", "normal"], default="full", help="PRAGMA synchronous (default %(default)s)"))
    system = f"sqlite-handwritten-{a.synchronous}"
    batch = a.batch

    def body():
        if a.workers != 1:
            raise ValueError("this peer is a single writer (--workers 1)")
        d = a.dir or tempfile.mkdtemp(prefix="bench-sqlite-hw-")
        path = os.path.join(d, f"{system}.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={a.synchronous.upper()}")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)

            with P.Timer() as enq:
                left = a.jobs
                while left > 0:
                    n = min(batch, left)
                    now = time.time()
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany("INSERT INTO jobs (queue, job_type, payload, run_at, created_at) VALUES (?, ?, ?, ?, ?)",
                                   [("bench", "noop", P.PAYLOAD, now, now)] * n)
                    db.execute("COMMIT")
                    left -= n

            done = 0
            with P.Timer() as proc:
                held = []
                while True:
                    now = time.time()
                    db.execute("BEGIN IMMEDIATE")
                    if held:
                        ids = [j[0] for j in held]
                        db.execute(f"UPDATE jobs SET state = 'done', done_at = ?, locked_by = NULL, locked_until = NULL "
                                   f"WHERE id IN ({','.join('?' * len(ids))})", [now, *ids])
                        db.executemany("INSERT INTO attempts (job_id, attempt, started_at, finished_at, outcome) "
                                       "VALUES (?, ?, ?, ?, 'ok')", [(j[0], j[3], j[4], j[5]) for j in held])
                        done += len(held)
                    claimed = db.execute(CLAIM, ("w1", now + 60, "bench", now, batch)).fetchall()
                    db.execute("COMMIT")
                    if not claimed:
                        break
                    held = []
                    for job_id, job_type, payload, attempt in claimed:
                        started = time.time()
                        noop(job_type, json.loads(payload))
                        held.append((job_id, job_type, payload, attempt, started, time.time()))

            n_done = db.execute("SELECT count(*) FROM jobs WHERE state = 'done'").fetchone()[0]
            if n_done != a.jobs or done != a.jobs:
                raise RuntimeError(f"expected {a.jobs} done jobs, found {n_done}")
        finally:
            db.close()
            if a.dir:
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.unlink(path + suffix)
            else:
                shutil.rmtree(d, ignore_errors=True)
        P.result(system, "sqlite", a.jobs, a.jobs / enq.seconds, a.jobs / proc.seconds, workers=1, batch=batch,
                 sync=a.synchronous, notes="Python sqlite3 %s, WAL, one writer" % sqlite3.sqlite_version)

    P.run_guarded(system, "sqlite", a.jobs, body)


if __name__ == "__main__":
    main()
