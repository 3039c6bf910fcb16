#!/usr/bin/env python3
"""Turns BENCH_RESULT / BENCH_ERROR / PEER_RESULT lines (stdin or a file) into a markdown table.

  python3 bench/results_table.py [--jobs N] [bench/results/latest.txt]

--jobs is the run's N: rows with fewer jobs (portableq's batch-1 runs use N/10) say so.
"""

import argparse
import shlex
import sys

COLUMNS = ["system", "backend", "workers", "batch", "jobs", "sync", "enqueue jobs/s", "process jobs/s",
           "p50 ms", "p99 ms", "RSS MB", "notes"]


def parse(line: str):
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    if not words:
        return None
    kind, fields = words[0], {}
    for w in words[1:]:
        if "=" in w:
            k, v = w.split("=", 1)
            fields[k] = v
    if kind in ("BENCH_RESULT", "BENCH_ERROR"):
        fields.setdefault("system", "portableq")
    elif kind != "PEER_RESULT":
        return None
    return fields


def num(v, digits=0):
    if v in (None, "", "NA"):
        return ""
    try:
        x = float(v)
    except ValueError:
        return v
    return f"{x:,.{digits}f}" if digits else f"{x:,.0f}"


def row(f, n):
    notes = []
    jobs = f.get("jobs", "")
    if n and jobs.isdigit() and int(jobs) < n and f.get("system") == "portableq":
        notes.append(f"N/{n // int(jobs)} jobs" if int(jobs) and n % int(jobs) == 0 else "fewer jobs")
    if f.get("notes"):
        notes.append(f["notes"])
    if f.get("error"):
        notes.append("**error:** " + f["error"])
    cells = [f.get("system", ""), f.get("backend", ""), f.get("workers", ""), f.get("batch", ""), jobs,
             f.get("sync", ""), num(f.get("enqueue_jps")), num(f.get("process_jps")),
             num(f.get("p50_ms"), 2), num(f.get("p99_ms"), 2), num(f.get("rss_mb"), 1), "; ".join(notes)]
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=0)
    p.add_argument("file", nargs="?")
    a = p.parse_args()
    lines = open(a.file).read().splitlines() if a.file else sys.stdin.read().splitlines()
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join("---:" if c not in ("system", "backend", "sync", "notes") else "---" for c in COLUMNS) + "|")
    for line in lines:
        f = parse(line.strip())
        if f is not None:
            print(row(f, a.jobs))


if __name__ == "__main__":
    main()
