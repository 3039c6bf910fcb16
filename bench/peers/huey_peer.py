#!/usr/bin/env python3
"""Peer "huey" (Python, SQLite: SqliteHuey on a file, WAL, fsync=True i.e. synchronous=FULL).

  enqueue: one task call per job; huey has no batch enqueue, so each job is its own
           transaction (from one producer thread).
  process: huey's consumer in this process with --workers worker threads. A huey worker
           dequeues by deleting the task row (one transaction per job) and then runs it; a
           task returning None stores no result, so "done" leaves no row. Timed from the
           consumer's start until the no-op task has run N times.

  bench/peers/huey_peer.py [--jobs N] [--workers 4] [--dir DIR]
"""

import logging
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _peerlib as P  # noqa: E402

SYSTEM = "huey"


def main():
    a = P.args(__doc__, sqlite=True, batch=1)

    def body():
        from huey import SqliteHuey
        from importlib.metadata import version

        logging.getLogger("huey").setLevel(logging.WARNING)
        d = a.dir or tempfile.mkdtemp(prefix="bench-huey-")
        path = os.path.join(d, "huey.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        try:
            huey = SqliteHuey("bench", filename=path, fsync=True, journal_mode="wal")
            lock, count, all_done = threading.Lock(), [0], threading.Event()

            @huey.task()
            def noop(p=None):
                with lock:
                    count[0] += 1
                    if count[0] >= a.jobs:
                        all_done.set()

            with P.Timer() as enq:
                for _ in range(a.jobs):
                    noop(P.PAYLOAD[1:-1])
            P.log(f"{SYSTEM}: enqueued {a.jobs} in {enq.seconds:.2f} s")

            consumer = huey.create_consumer(workers=a.workers, worker_type="thread", periodic=False,
                                            initial_delay=0.01, max_delay=0.1, check_worker_health=False)
            with P.Timer() as proc:
                consumer.start()
                finished = all_done.wait(timeout=max(600.0, a.jobs / 20))
            consumer.stop(graceful=True)
            if not finished:
                raise RuntimeError(f"only {count[0]} of {a.jobs} tasks ran before the time limit")
            P.log(f"{SYSTEM}: processed {a.jobs} in {proc.seconds:.2f} s")
            left = huey.pending_count()
            if left:
                raise RuntimeError(f"{left} tasks still queued")
        finally:
            if a.dir:
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.unlink(path + suffix)
            else:
                shutil.rmtree(d, ignore_errors=True)
        P.result(SYSTEM, "sqlite", a.jobs, a.jobs / enq.seconds, a.jobs / proc.seconds, workers=a.workers, batch=1,
                 sync="full", notes=f"huey {version('huey')} SqliteHuey; no batch enqueue; {a.workers} consumer threads; "
                                    f"dequeue deletes the task (no done record)")

    P.run_guarded(SYSTEM, "sqlite", a.jobs, body)


if __name__ == "__main__":
    main()
