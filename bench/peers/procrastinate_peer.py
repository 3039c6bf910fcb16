#!/usr/bin/env python3
"""Peer "procrastinate" (Python, Postgres, psycopg 3).

  enqueue: task.batch_defer_async with 100 jobs per call, from --workers concurrent producers
           sharing the app's connection pool.
  process: one procrastinate worker (App.run_worker_async) with concurrency=--workers and
           wait=False, so it returns once the queue is empty. Procrastinate fetches one job per
           query and records each job's end (status succeeded) with its own statement.
           Timed from the worker's start until it returns.

  bench/peers/procrastinate_peer.py --url postgres://postgres@127.0.0.1:PORT/postgres [--jobs N]
"""

import asyncio
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _peerlib as P  # noqa: E402

SYSTEM = "procrastinate"


def main():
    a = P.args(__doc__, postgres=True)

    def body():
        import procrastinate
        from importlib.metadata import version

        logging.getLogger("procrastinate").setLevel(logging.WARNING)
        with P.PeerDatabase(a.url, "bench_procrastinate") as db:
            sync = db.durability()
            pool = max(4, a.workers + 2)
            app = procrastinate.App(connector=procrastinate.PsycopgConnector(
                conninfo=db.url, min_size=pool, max_size=pool))

            @app.task(name="noop", queue="bench")
            async def noop(p=None):
                return None

            async def run():
                async with app.open_async():
                    await app.schema_manager.apply_schema_async()
                    batches = [min(a.batch, a.jobs - i) for i in range(0, a.jobs, a.batch)]

                    async def producer():
                        while batches:
                            n = batches.pop()
                            await noop.batch_defer_async(*({"p": P.PAYLOAD[1:-1]} for _ in range(n)))

                    with P.Timer() as enq:
                        await asyncio.gather(*(producer() for _ in range(a.workers)))
                    P.log(f"{SYSTEM}: enqueued {a.jobs} in {enq.seconds:.2f} s")
                    with P.Timer() as proc:
                        await app.run_worker_async(queues=["bench"], concurrency=a.workers, wait=False,
                                                   install_signal_handlers=False)
                    P.log(f"{SYSTEM}: processed {a.jobs} in {proc.seconds:.2f} s")
                    return enq.seconds, proc.seconds

            enqueue_s, process_s = asyncio.run(run())
            ok = int(P.psql(db.url, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"))
            if ok != a.jobs:
                raise RuntimeError(f"{ok} jobs succeeded, expected {a.jobs}")
            P.result(SYSTEM, "postgres", a.jobs, a.jobs / enqueue_s, a.jobs / process_s, workers=a.workers,
                     batch=a.batch, sync=sync,
                     notes=f"procrastinate {version('procrastinate')}; one worker, concurrency={a.workers}; "
                           f"batch_defer of {a.batch}; claims one job per query")

    P.run_guarded(SYSTEM, "postgres", a.jobs, body)


if __name__ == "__main__":
    main()
