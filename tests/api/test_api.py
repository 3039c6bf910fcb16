"""The admin API checked by reference tools: the OpenAPI validator, the Prometheus client's
parser, and schemathesis fuzzing the live server against the document."""
import json
import os
import subprocess

from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families


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


def test_schemathesis_finds_nothing(server):
    # positive_data_acceptance is left out: one rule cannot be written in OpenAPI (an
    # Idempotency-Key header that differs from the body's idempotency_key is a 422). The
    # coverage phase is left out because schemathesis 4 crashes inside hypothesis on it.
    examples = os.environ.get("PORTABLEQ_SCHEMATHESIS_EXAMPLES", "25")
    r = subprocess.run(["schemathesis", "run", server.url + "/openapi.json", "--checks", "all",
                        "--exclude-checks", "positive_data_acceptance", "--phases", "examples,fuzzing,stateful",
                        "--max-examples", examples, "--workers", "2", "--seed", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
