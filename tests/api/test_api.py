"""The admin API checked by reference tools: the OpenAPI validator, the Prometheus client's
parser, and schemathesis fuzzing the live server against the document."""
import json
import os
import re
import subprocess
import time
import urllib.request

from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from conftest import BIN, clean_env


def test_openapi_document_is_valid(server):
    status, _, body = server.get("/openapi.json")
    assert status == 200
    doc = json.loads(body)
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for path in ["/jobs", "/jobs/{id}", "/jobs/batch", "/dlq", "/metrics", "/metrics/prom", "/health", "/queues",
                 "/workers", "/ingest/decisions", "/policy/decisions"]:
        assert path in doc["paths"], path


def test_prometheus_exposition_parses(server):
    status, headers, body = server.get("/metrics/prom")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert families["portableq_jobs"].type == "gauge"
    assert families["portableq_oldest_runnable_age_seconds"].type == "gauge"
    assert families["portableq_attempts"].type == "counter"  # portableq_attempts_total
    assert families["portableq_job_duration_seconds"].type == "histogram"
    outcomes = {(s.labels["queue"], s.labels["outcome"]) for s in families["portableq_attempts"].samples
                if s.name == "portableq_attempts_total"}
    assert ("default", "succeeded") in outcomes
    assert ("other", "failed") in outcomes
    dlq = [s.value for s in families["portableq_jobs"].samples if s.labels == {"queue": "other", "status": "dlq"}]
    assert dlq == [1.0]
    buckets = [s for s in families["portableq_job_duration_seconds"].samples if s.name.endswith("_bucket")]
    assert buckets and buckets[-1].labels["le"] == "+Inf"


def samples(text):
    """Every sample, parsed by the reference parser: {(name, frozenset(labels)): value}."""
    return {(smp.name, frozenset(smp.labels.items())): smp.value
            for fam in text_string_to_metric_families(text) for smp in fam.samples}


def test_a_queue_whose_jobs_all_succeeded_keeps_its_series(server):
    # The fixture's "default" queue holds only succeeded jobs by now.
    _, _, body = server.get("/metrics/prom")
    s = samples(body)
    for status in ["queued", "scheduled", "running", "dlq"]:
        assert s[("portableq_jobs", frozenset({"queue": "default", "status": status}.items()))] == 0.0
    q = frozenset({"queue": "default"}.items())
    for name in ["portableq_oldest_runnable_age_seconds", "portableq_queue_jobs_per_second",
                 "portableq_queue_retry_ratio", "portableq_workers"]:
        assert (name, q) in s, name
    assert s[("portableq_queue_jobs_per_second", q)] > 0
    assert s[("portableq_workers", q)] >= 1  # serve's built-in worker serves every queue
    assert ("portableq_queue_start_latency_seconds", frozenset({"queue": "default", "quantile": "0.99"}.items())) in s


def test_cli_metrics_prom_parses(server):
    r = subprocess.run([BIN, "metrics", "--prom", "--database", server.db], capture_output=True, text=True,
                       env=clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    s = samples(r.stdout)
    assert s[("portableq_jobs", frozenset({"queue": "other", "status": "dlq"}.items()))] == 1.0
    assert s[("portableq_queue_retry_ratio", frozenset({"queue": "other"}.items()))] == 1.0


def test_a_worker_endpoint_parses_and_its_counters_move(server, tmp_path):
    log = open(tmp_path / "work.log", "w+")
    proc = subprocess.Popen([BIN, "work", "--database", server.db, "--metrics-addr", "127.0.0.1:0",
                             "--exec", "pyonly=true", "--poll-interval-ms", "50"], stdout=log, stderr=log, env=clean_env())
    try:
        url = None
        for _ in range(300):
            log.seek(0)
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read())
            if m:
                url = m.group(1)
                break
            time.sleep(0.05)
        assert url, "work did not listen"
        for _ in range(2):
            server.post("/jobs", '{"job_type":"pyonly","queue":"py"}')
        key = ("portableq_attempts_total", frozenset({"queue": "py", "outcome": "succeeded"}.items()))
        s = {}
        deadline = time.time() + 30
        while time.time() < deadline:
            with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
                assert r.headers["Content-Type"].startswith("text/plain")
                s = samples(r.read().decode())
            if s.get(key) == 2.0:
                break
            time.sleep(0.1)
        assert s.get(key) == 2.0, s
        assert s[("portableq_jobs_claimed_total", frozenset({"queue": "py"}.items()))] == 2.0
        assert s[("portableq_job_duration_seconds_count", frozenset({"queue": "py"}.items()))] == 2.0
        with urllib.request.urlopen(url + "/metrics/prom", timeout=10) as r:
            samples(r.read().decode())
        for probe in ["/health/live", "/health/ready"]:
            with urllib.request.urlopen(url + probe, timeout=10) as r:
                assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_schemathesis_finds_nothing(server):
    # positive_data_acceptance is left out: one rule cannot be written in OpenAPI (an
    # Idempotency-Key header that differs from the body's idempotency_key is a 422). The
    # coverage phase is left out because schemathesis 4 crashes inside hypothesis on it. One
    # worker: with two threads hypothesis sometimes fails on its own ("dictionary changed size
    # during iteration" while it reads sys.modules), a tool error that says nothing of the API.
    examples = os.environ.get("PORTABLEQ_SCHEMATHESIS_EXAMPLES", "25")
    r = subprocess.run(["schemathesis", "run", server.url + "/openapi.json", "--checks", "all",
                        "--exclude-checks", "positive_data_acceptance", "--phases", "examples,fuzzing,stateful",
                        "--max-examples", examples, "--workers", "1", "--seed", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
