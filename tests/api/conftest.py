"""A live `portableq serve` per backend for the API tests (real socket, real database)."""
import os
import re
import secrets
import subprocess
import tempfile
import time
import urllib.request

import pytest

BIN = os.environ.get("PORTABLEQ_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/portableq"))


def databases():
    out = [("sqlite", None)]
    pg = os.environ.get("PORTABLEQ_TEST_POSTGRES_URL")
    if pg:
        out.append(("postgres", pg))
    elif os.environ.get("PORTABLEQ_REQUIRE_POSTGRES") == "1":
        out.append(("postgres", "MISSING"))
    return out


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTABLEQ_") and k != "DATABASE_URL"}
    env.update(extra or {})
    return env


class Server:
    def __init__(self, url, proc, log):
        self.url, self.proc, self.log = url, proc, log

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.status, r.headers, r.read().decode()

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()


@pytest.fixture(params=databases(), ids=lambda p: p[0], scope="module")
def server(request):
    name, base = request.param
    if base == "MISSING":
        pytest.fail("PORTABLEQ_REQUIRE_POSTGRES=1 but PORTABLEQ_TEST_POSTGRES_URL is not set")
    tmp = tempfile.mkdtemp(prefix="pq-api-")
    if base is None:
        db = f"sqlite://{tmp}/api.db"
    else:
        db = base + ("&" if "?" in base else "?") + "schema=api_" + secrets.token_hex(6)
        subprocess.run([BIN, "migrate", "--database", db], check=True, env=clean_env(), capture_output=True)
    log = open(os.path.join(tmp, "serve.log"), "w+")
    proc = subprocess.Popen([BIN, "serve", "--database", db, "--addr", "127.0.0.1:0"], stdout=log, stderr=log,
                            env=clean_env())
    url = None
    for _ in range(300):
        log.seek(0)
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read())
        if m:
            url = m.group(1)
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if url is None:
        log.seek(0)
        proc.kill()
        pytest.fail("serve did not start: " + log.read())
    s = Server(url, proc, log)
    s.db = db
    # Some history so every metric family has samples: successes and a failure.
    for body in ['{"job_type":"noop"}', '{"job_type":"echo","payload_json":{"a":1}}',
                 '{"job_type":"fail_me","max_attempts":1,"queue":"other"}']:
        s.post("/jobs", body)
    deadline = time.time() + 20
    while time.time() < deadline:
        _, _, text = s.get("/jobs?status=queued")
        if '"total":0' in text:
            break
        time.sleep(0.1)
    yield s
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
