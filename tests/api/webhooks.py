"""Black-box tests of webhooks (SPEC §10): a receiver on loopback (allowed by the test
configuration) gets each finished request's payload once, signed with HMAC-SHA256 under the
key's secret; a failing receiver is retried with backoff and then given up on, without holding
up other jobs; the SSRF guard refuses loopback, private and non-http targets by default."""
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check_invariant, decode_image, main, run_cli, seed_error, test  # noqa: E402

ALLOW = ["--webhook-allow-private", "1", "--webhook-retry-ms", "100", "--webhook-max-attempts", "3"]


class Receiver:
    """A webhook receiver on 127.0.0.1 that records what it gets and answers `status`."""

    def __init__(self, status=200):
        self.status = status
        self.hits = []
        self.gate = threading.Event()
        self.gate.set()
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                rec.hits.append((time.monotonic(), dict(self.headers), body))
                rec.gate.wait(30)
                self.send_response(rec.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_hits(self, n, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline and len(self.hits) < n:
            time.sleep(0.02)
        assert len(self.hits) >= n, f"{len(self.hits)} deliveries, wanted {n}"
        return self.hits

    def close(self):
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def secret_of(s, key, *args):
    p = run_cli(["keys", "webhook", key, *args, *ALLOW[:2]], s.data_dir)
    return dict(line.split(": ", 1) for line in p.stdout.splitlines())["secret"]


def wait_done(s, key, rid):
    import requests
    deadline = time.time() + 20
    while time.time() < deadline:
        j = requests.get(s.url(f"/v2/requests/{rid}/status"), headers={"x-api-key": key}, timeout=10).json()
        if j["status"] in ("COMPLETED", "FAILED"):
            return j
        time.sleep(0.05)
    raise AssertionError("not finished")


def log_rows(s, key):
    p = run_cli(["webhooks", "log", "--key", key], s.data_dir)
    return [line.split() for line in p.stdout.splitlines()[1:]]


@test
def test_signed_payload_delivered_once():
    rcv = Receiver()
    s = Server(args=ALLOW).start()
    try:
        key = s.new_key("1")
        secret = secret_of(s, key)
        r = s.post("/v2/gpt-image-1-mini", {"prompt": "a red circle", "quality": "low", "seed": 3,
                                             "webhook_url": rcv.url}, key)
        assert r.status_code == 200, r.text
        rid = r.json()["request_id"]
        assert wait_done(s, key, rid)["status"] == "COMPLETED"
        t, headers, body = rcv.wait_hits(1)[0]
        want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-imgapi-signature"] == want, (headers, want)
        assert headers["x-imgapi-request-id"] == rid and headers["Content-Type"] == "application/json"
        j = json.loads(body)
        assert j["request_id"] == rid and j["status"] == "COMPLETED"
        assert decode_image(j["output"]["data"][0]["b64_json"]).size == (1024, 1024)
        assert j["output"]["data"][0]["seed"] == 3
        time.sleep(0.5)
        assert len(rcv.hits) == 1  # once
        rows = log_rows(s, key)
        assert len(rows) == 1 and rows[0][1] == rid and rows[0][3] == "delivered" and rows[0][4] == "1", rows
        # a failed generation is delivered too, with its error
        rid2 = s.post("/v2/gpt-image-1-mini", {"prompt": "x [fail]", "webhook_url": rcv.url}, key).json()["request_id"]
        wait_done(s, key, rid2)
        j = json.loads(rcv.wait_hits(2)[1][2])
        assert j["status"] == "FAILED" and j["error"]["code"] == "generation_failed" and "output" not in j
        check_invariant(s, key)
    finally:
        s.cleanup()
        rcv.close()


@test
def test_failing_receiver_retried_with_backoff_then_given_up_without_delaying_jobs():
    rcv = Receiver(status=500)
    s = Server(args=ALLOW).start()
    try:
        key = s.new_key("1")
        rcv.gate.clear()  # the receiver holds the first delivery open
        rid = s.post("/v2/gpt-image-1-mini", {"prompt": "x", "quality": "low", "webhook_url": rcv.url},
                     key).json()["request_id"]
        rcv.wait_hits(1)
        # while the sender is stuck on the receiver, other jobs run: sync and async
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "y", "quality": "low"}, key)
        assert r.status_code == 200, r.text
        other = s.post("/v2/gpt-image-1-mini", {"prompt": "z", "quality": "low"}, key).json()["request_id"]
        assert wait_done(s, key, other)["status"] == "COMPLETED"
        assert len(rcv.hits) == 1  # still the first attempt
        rcv.gate.set()
        hits = rcv.wait_hits(3)
        gaps = [hits[1][0] - hits[0][0], hits[2][0] - hits[1][0]]
        assert gaps[0] >= 0.1 and gaps[1] >= 0.2, gaps  # 100 ms, then doubled
        time.sleep(1.0)
        assert len(rcv.hits) == 3  # given up after max attempts
        rows = log_rows(s, key)
        assert rows[0][1] == rid and rows[0][3] == "gave_up" and rows[0][4] == "3" and rows[0][5] == "500", rows
        assert wait_done(s, key, rid)["status"] == "COMPLETED"  # the request itself is unaffected
    finally:
        s.cleanup()
        rcv.close()


@test
def test_undelivered_webhook_survives_a_restart():
    rcv = Receiver(status=503)
    s = Server(args=["--webhook-allow-private", "1", "--webhook-retry-ms", "300", "--webhook-max-attempts", "50"]).start()
    try:
        key = s.new_key("1")
        rid = s.post("/v2/gpt-image-1-mini", {"prompt": "x", "quality": "low", "webhook_url": rcv.url},
                     key).json()["request_id"]
        rcv.wait_hits(1)
        s.kill()
        rcv.status = 200
        s.start()
        hits = rcv.wait_hits(2)
        assert all(h[1]["x-imgapi-request-id"] == rid for h in hits)
        deadline = time.time() + 10
        while time.time() < deadline and log_rows(s, key)[0][3] != "delivered":
            time.sleep(0.05)
        rows = log_rows(s, key)
        assert len(rows) == 1 and rows[0][3] == "delivered" and rows[0][5] == "200", rows
    finally:
        s.cleanup()
        rcv.close()


@test
def test_registered_key_webhook_and_secret_rotation():
    rcv = Receiver()
    s = Server(args=ALLOW).start()
    try:
        key = s.new_key("1")
        first = secret_of(s, key, "--url", rcv.url)
        second = secret_of(s, key, "--rotate-secret", "1")
        assert first != second and second.startswith("whsec_")
        rid = s.post("/v2/gpt-image-1-mini", {"prompt": "x", "quality": "low"}, key).json()["request_id"]
        _, headers, body = rcv.wait_hits(1)[0]
        assert headers["x-imgapi-request-id"] == rid
        assert headers["x-imgapi-signature"] == "sha256=" + hmac.new(second.encode(), body, hashlib.sha256).hexdigest()
        secret_of(s, key, "--url", "none")
        rid = s.post("/v2/gpt-image-1-mini", {"prompt": "x", "quality": "low"}, key).json()["request_id"]
        wait_done(s, key, rid)
        time.sleep(0.4)
        assert len(rcv.hits) == 1  # unregistered: nothing sent
    finally:
        s.cleanup()
        rcv.close()


@test
def test_ssrf_guard_refuses_private_targets_by_default():
    s = Server().start()
    try:
        key = s.new_key("1")
        for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x", "http://10.1.2.3/",
                    "http://169.254.169.254/latest/meta-data", "http://192.168.0.1/", "ftp://example.com/x",
                    "http://user:pw@example.com/", "not a url"):
            r = s.post("/v2/gpt-image-1-mini", {"prompt": "x", "webhook_url": url}, key)
            seed_error(r, 400, param="webhook_url")
        seed_error(s.post("/v2/gpt-image-1-mini", {"prompt": "x", "webhook_url": 5}, key), 400, param="webhook_url")
        # webhook_url belongs to the async route only
        seed_error(s.post("/v1/gpt-image-1-mini", {"prompt": "x", "webhook_url": "http://example.com/"}, key), 400)
        p = run_cli(["keys", "webhook", key, "--url", "http://127.0.0.1:9/x"], s.data_dir, check=False)
        assert p.returncode == 2 and "loopback" in p.stderr, p.stderr
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0
    finally:
        s.cleanup()


if __name__ == "__main__":
    sys.exit(main())
