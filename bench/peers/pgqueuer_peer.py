#!/usr/bin/env python3
"""Peer "pgqueuer" (Python, Postgres, asyncpg).

  enqueue: Queries.enqueue with lists of 100 jobs per call (one INSERT per call), from
           --workers concurrent producers, each on its own connection.
  process: --workers consumer processes, each running pgqueuer's normal worker
           (QueueManager.run, batch_size=100, mode=drain) with a no-op entrypoint. A finished
           job is deleted from the queue table and logged to pgqueuer_log, in batches, by
           pgqueuer's status buffer. Timed from the moment all consumers are connected and told
           to start until the last one has drained the queue and exited.

  bench/peers/pgqueuer_peer.py --url postgres://postgres@127.0.0.1:PORT/postgres [--jobs N]
"""

import asyncio
import multiprocessing as mp
import os
import sys
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _peerlib as P  # noqa: E402

SYSTEM = "pgqueuer"


def consumer(url: str, batch: int, max_tasks: int, ready, go) -> None:
    import asyncpg
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries
    from pgqueuer import types

    async def main():
        conn = await asyncpg.connect(url)
        qm = QueueManager(Queries.from_asyncpg_connection(conn))

        @qm.entrypoint("noop")
        async def noop(job) -> None:
            return None

        ready.release()
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        # dequeue_timeout only bounds the idle wait at the end of the drain (default 30 s).
        await qm.run(batch_size=batch, mode=types.QueueExecutionMode.drain,
                     max_concurrent_tasks=max_tasks or None, dequeue_timeout=timedelta(seconds=0.1))
        await conn.close()

    asyncio.run(main())


def main():
    a = P.args(__doc__, postgres=True, extra=lambda p: p.add_argument(
        "--max-concurrent-tasks", type=int, default=0,
        help="QueueManager.run max_concurrent_tasks per consumer (default 0: unlimited, pgqueuer's default)"))

    def body():
        import asyncpg
        import pgqueuer
        from pgqueuer.queries import Queries

        with P.PeerDatabase(a.url, "bench_pgqueuer") as db:
            sync = db.durability()

            async def setup_and_enqueue() -> float:
                conn = await asyncpg.connect(db.url)
                await Queries.from_asyncpg_connection(conn).install()
                await conn.close()
                conns = [await asyncpg.connect(db.url) for _ in range(a.workers)]
                payload = P.PAYLOAD.encode()
                batches = [min(a.batch, a.jobs - i) for i in range(0, a.jobs, a.batch)]

                async def producer(conn):
                    q = Queries.from_asyncpg_connection(conn)
                    while batches:
                        n = batches.pop()
                        await q.enqueue(["noop"] * n, [payload] * n, [0] * n)

                with P.Timer() as t:
                    await asyncio.gather(*(producer(c) for c in conns))
                for c in conns:
                    await c.close()
                return t.seconds

            enqueue_s = asyncio.run(setup_and_enqueue())
            P.log(f"{SYSTEM}: enqueued {a.jobs} in {enqueue_s:.2f} s")

            ctx = mp.get_context("spawn")
            ready, go = ctx.Semaphore(0), ctx.Event()
            procs = [ctx.Process(target=consumer, args=(db.url, a.batch, a.max_concurrent_tasks, ready, go))
                     for _ in range(a.workers)]
            for p in procs:
                p.start()
            for _ in procs:
                if not ready.acquire(timeout=60):
                    raise RuntimeError("consumers did not start")
            with P.Timer() as t:
                go.set()
                for p in procs:
                    p.join()
            process_s = t.seconds
            if any(p.exitcode != 0 for p in procs):
                raise RuntimeError(f"consumer exit codes {[p.exitcode for p in procs]}")
            left = int(P.psql(db.url, "SELECT count(*) FROM pgqueuer"))
            ok = int(P.psql(db.url, "SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'"))
            if left != 0 or ok != a.jobs:
                raise RuntimeError(f"after the run: {left} jobs left in pgqueuer, {ok} logged successful (expected {a.jobs})")
            P.log(f"{SYSTEM}: processed {a.jobs} in {process_s:.2f} s")
            P.result(SYSTEM, "postgres", a.jobs, a.jobs / enqueue_s, a.jobs / process_s, workers=a.workers, batch=a.batch,
                     sync=sync, notes=f"pgqueuer {pgqueuer.__version__ if hasattr(pgqueuer, '__version__') else ''}; "
                                      f"{a.workers} QueueManager processes, batch_size={a.batch}")

    P.run_guarded(SYSTEM, "postgres", a.jobs, body)


if __name__ == "__main__":
    main()
