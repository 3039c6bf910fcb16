"""Shared helpers for the peer benchmarks in bench/peers/ (standard library only).

Every peer measures the workload of `portableq bench`: N no-op jobs, enqueue (batched where
the system allows), then process them through the system's normal claim -> run -> done path,
with durable commits (fsync on, synchronous_commit=on / SQLite synchronous=FULL unless a peer
says otherwise). Each peer prints exactly one line on stdout:

    PEER_RESULT system=<name> backend=<postgres|sqlite> jobs=N enqueue_jps=X process_jps=Y
                [workers=W] [batch=B] [sync=S] [notes="..."] [error="..."]

and exits 0 even when it fails (then with error="..."), so a matrix of peers keeps going.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
import traceback
import urllib.parse

PAYLOAD = '"' + "x" * 14 + '"'  # 16 bytes of JSON, as `portableq bench --payload-bytes 16`


def log(msg: str) -> None:
    print(f"peer: {msg}", file=sys.stderr, flush=True)


def args(description: str, postgres: bool = False, sqlite: bool = False, workers: int = 4, batch: int = 100, extra=None):
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=int(os.environ.get("BENCH_JOBS", "20000")))
    p.add_argument("--workers", type=int, default=workers, help="concurrent consumers (default %(default)s)")
    p.add_argument("--batch", type=int, default=batch, help="enqueue/claim batch where the system has one")
    if postgres:
        p.add_argument("--url", default=os.environ.get("PORTABLEQ_BENCH_POSTGRES_URL"),
                       help="admin URL of a Postgres server (default $PORTABLEQ_BENCH_POSTGRES_URL); "
                            "the peer creates and drops a database of its own there")
    if sqlite:
        p.add_argument("--dir", default=None, help="directory for the SQLite file (default: a new temp dir)")
    if extra:
        extra(p)
    a = p.parse_args()
    if a.jobs <= 0 or a.workers <= 0 or a.batch <= 0:
        p.error("--jobs, --workers and --batch must be positive")
    if postgres and not a.url:
        p.error("--url or PORTABLEQ_BENCH_POSTGRES_URL is required")
    return a


def _fmt(v) -> str:
    s = str(v)
    if s == "" or any(c in s for c in ' "\t\n='):
        return '"' + s.replace("\\", "\\\\").replace('"', "'").replace("\n", " ") + '"'
    return s


def result(system: str, backend: str, jobs: int, enqueue_jps=None, process_jps=None, *, error=None, **extra) -> None:
    fields = [("system", system), ("backend", backend), ("jobs", jobs),
              ("enqueue_jps", "%.0f" % enqueue_jps if enqueue_jps is not None else "NA"),
              ("process_jps", "%.0f" % process_jps if process_jps is not None else "NA")]
    fields += [(k, v) for k, v in extra.items() if v is not None]
    if error is not None:
        fields.append(("error", error))
    print("PEER_RESULT " + " ".join(f"{k}={_fmt(v)}" for k, v in fields), flush=True)


def run_guarded(system: str, backend: str, jobs_hint, body) -> None:
    """Runs body(); any exception becomes a PEER_RESULT with error=..., exit status 0."""
    try:
        body()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - the matrix must go on
        traceback.print_exc(file=sys.stderr)
        result(system, backend, jobs_hint, error=f"{type(e).__name__}: {e}"[:300])
    sys.exit(0)


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


# --- Postgres -----------------------------------------------------------------------------

def pg_tool(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")])
    if found:
        return found[-1]
    w = shutil.which(name)
    if w:
        return w
    raise RuntimeError(f"{name} not found (apt-get install postgresql-client)")


def psql(url: str, sql: str) -> str:
    out = subprocess.run([pg_tool("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                         capture_output=True, text=True,
                         env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


def db_url(admin_url: str, dbname: str) -> str:
    u = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, u.fragment))


class PeerDatabase:
    """A database of the peer's own (bench_<name>), created fresh and dropped afterwards."""

    def __init__(self, admin_url: str, name: str):
        self.admin_url, self.name = admin_url, name
        self.url = db_url(admin_url, name)

    def __enter__(self):
        psql(self.admin_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        psql(self.admin_url, f"CREATE DATABASE {self.name}")
        return self

    def __exit__(self, *exc):
        try:
            psql(self.admin_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except Exception as e:  # noqa: BLE001
            log(f"could not drop database {self.name}: {e}")

    def durability(self) -> str:
        """'on' when fsync and synchronous_commit are both on, else what they are."""
        fsync = psql(self.url, "SHOW fsync")
        sc = psql(self.url, "SHOW synchronous_commit")
        return "on" if fsync == "on" and sc == "on" else f"fsync:{fsync},synchronous_commit:{sc}"
