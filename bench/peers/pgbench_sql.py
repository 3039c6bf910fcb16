#!/usr/bin/env python3
"""Peer "pgbench-sql": the hand-written SQL limit on Postgres, driven by pgbench.

A minimal jobs table (partial index on queued rows) and an attempts table.
  enqueue: one INSERT of 100 rows per transaction (4 clients); enqueue_jps = pgbench tps * 100.
  process: one transaction per job (4 clients): claim one queued row with
           UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id,
           insert its attempt row, mark it done; process_jps = pgbench tps.
It is not a queue: no lease committed before the job runs (claim and ack share one commit),
no retries, no history, no notifications. It is the cost of the smallest durable
claim-and-ack of one job per transaction; a queue that claims and acks in batches can pass it.

  --claim-batch B: claim B jobs per transaction, then record their attempts and mark them done
           in a second one (system pgbench-sql-batchB): the limit for a queue that batches.

  bench/peers/pgbench_sql.py --url postgres://postgres@127.0.0.1:PORT/postgres [--jobs N] [--workers 4] [--claim-batch B]
"""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _peerlib as P  # noqa: E402

SYSTEM = "pgbench-sql"

SCHEMA = """
CREATE TABLE jobs (
  id bigserial PRIMARY KEY,
  queue text NOT NULL,
  job_type text NOT NULL,
  state text NOT NULL DEFAULT 'queued',
  payload jsonb NOT NULL,
  attempts int NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  locked_at timestamptz,
  done_at timestamptz
);
CREATE INDEX jobs_queued ON jobs (queue, run_at, id) WHERE state = 'queued';
CREATE TABLE attempts (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL,
  attempt int NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  outcome text NOT NULL
);
"""

PROCESS = """\
BEGIN;
UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_at = now()
  WHERE id = (SELECT id FROM jobs WHERE queue = 'bench' AND state = 'queued' AND run_at <= now()
              ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING id AS job_id, attempts AS attempt \\gset
INSERT INTO attempts (job_id, attempt, started_at, finished_at, outcome) VALUES (:job_id, :attempt, now(), now(), 'ok');
UPDATE jobs SET state = 'done', done_at = now(), locked_at = NULL WHERE id = :job_id;
COMMIT;
"""


# The same with batches, as a batching queue runs it: one transaction claims up to B rows (the
# lease commits before the jobs run), a second one records their attempts and marks them done.
PROCESS_BATCH = """\
WITH c AS (UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_at = now()
  WHERE id IN (SELECT id FROM jobs WHERE queue = 'bench' AND state = 'queued' AND run_at <= now()
               ORDER BY run_at, id LIMIT {batch} FOR UPDATE SKIP LOCKED)
  RETURNING id, attempts)
SELECT coalesce(array_agg(id), '{{}}') AS ids FROM c \\gset
BEGIN;
INSERT INTO attempts (job_id, attempt, started_at, finished_at, outcome)
  SELECT id, attempts, now(), now(), 'ok' FROM jobs WHERE id = ANY(:ids::bigint[]);
UPDATE jobs SET state = 'done', done_at = now(), locked_at = NULL WHERE id = ANY(:ids::bigint[]);
COMMIT;
"""


def pgbench(url: str, script: str, clients: int, per_client: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        cmd = [P.pg_tool("pgbench"), "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
               "-t", str(per_client), "-f", path, url]
        out = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(path)
    sys.stderr.write(out.stdout + out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench exited {out.returncode}: {out.stderr.strip().splitlines()[-1:] or ''}")
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out.stdout)
    if not m:
        raise RuntimeError("no tps in pgbench output")
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    if failed and int(failed.group(1)) > 0:
        raise RuntimeError(f"pgbench: {failed.group(1)} failed transactions")
    return float(m.group(1))


def main():
    a = P.args(__doc__, postgres=True, extra=lambda p: p.add_argument(
        "--claim-batch", type=int, default=1, help="jobs claimed per transaction in the process phase (default 1)"))
    clients, batch = a.workers, a.batch
    enqueue_tx = -(-a.jobs // batch)           # transactions of `batch` rows
    per_client = -(-enqueue_tx // clients)
    jobs = per_client * clients * batch        # rounded up so every client does the same work
    rows = ",\n".join(f"('bench', 'noop', '{P.PAYLOAD}')" for _ in range(batch))
    enqueue = f"INSERT INTO jobs (queue, job_type, payload) VALUES\n{rows};\n"

    claim_batch = a.claim_batch
    system = SYSTEM if claim_batch == 1 else f"{SYSTEM}-batch{claim_batch}"
    process_script = PROCESS if claim_batch == 1 else PROCESS_BATCH.format(batch=claim_batch)
    process_tx = jobs // clients if claim_batch == 1 else -(-jobs // (clients * claim_batch))

    def body():
        with P.PeerDatabase(a.url, "bench_pgbench_sql") as db:
            sync = db.durability()
            P.psql(db.url, SCHEMA)
            P.log(f"{SYSTEM}: enqueue {jobs} rows, {clients} clients x {per_client} tx of {batch}")
            enqueue_tps = pgbench(db.url, enqueue, clients, per_client)
            P.psql(db.url, "ANALYZE jobs")
            P.log(f"{system}: process {jobs} jobs, {clients} clients x {process_tx} scripts of {claim_batch}")
            process_tps = pgbench(db.url, process_script, clients, process_tx) * claim_batch
            done = int(P.psql(db.url, "SELECT count(*) FROM jobs WHERE state = 'done'"))
            attempts = int(P.psql(db.url, "SELECT count(*) FROM attempts"))
            if done != jobs or attempts != jobs:
                raise RuntimeError(f"expected {jobs} done jobs and attempts, found {done} and {attempts}")
            notes = ("1 job per process tx (claim+attempt+done, one commit)" if claim_batch == 1 else
                     f"claim {claim_batch} per tx, then attempts+done in a second tx")
            P.result(system, "postgres", jobs, enqueue_tps * batch, process_tps, workers=clients, batch=claim_batch, sync=sync,
                     notes=f"pgbench -M prepared -c {clients}; {notes}")

    P.run_guarded(system, "postgres", jobs, body)


if __name__ == "__main__":
    main()
