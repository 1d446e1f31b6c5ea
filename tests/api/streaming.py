"""OpenAI streaming (`stream: true`) on /v1/images/generations: server-sent events as OpenAI sends
them, partial images from the step previews, one completed event per image with usage, an error
event when the job fails or passes its deadline, and the ledger settled exactly once in every
case (charged on completion, released on failure, deadline or a client that hangs up)."""
import base64
import io
import json
import os
import socket
import sys
import time

import requests
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check_invariant, main, openai_error, seed_error, test  # noqa: E402


def sse(resp):
    """[(event, data)] of a server-sent event stream."""
    out, event, data = [], None, []
    for raw in resp.iter_lines():
        line = raw.decode()
        if not line:
            if event or data:
                out.append((event, json.loads("\n".join(data))))
            event, data = None, []
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
    return out


def stream(s, key, body, **kw):
    b = dict({"prompt": "a red circle", "stream": True, "quality": "low"}, **body)
    return requests.post(s.url("/v1/images/generations"), json=b, headers=dict({"Authorization": "Bearer " + key}, **kw),
                         stream=True, timeout=60)


@test
def test_stream_events_partials_and_usage():
    # Partial k is due once sampling passes k/(partials+1) of the fake's four steps, and a job
    # that ends first sends fewer (as OpenAI documents). Each step must outlast encoding one
    # full-size WebP partial, which under ASan on a busy 2-core machine took more than 30 ms.
    s = Server(env={"IMGAPI_TEST_STEP_MS": "250"}).start()
    try:
        key = s.new_key("10")
        for partials in range(4):
            r = stream(s, key, {"partial_images": partials, "size": "1536x1024", "output_format": "webp"})
            assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
            assert "x-request-id" in r.headers and "x-ratelimit-limit-requests" in r.headers
            ev = sse(r)
            kinds = [e for e, _ in ev]
            assert kinds == ["image_generation.partial_image"] * partials + ["image_generation.completed"], kinds
            for i, (e, d) in enumerate(ev):
                assert d["type"] == e
                assert d["size"] == "1536x1024" and d["quality"] == "low" and d["output_format"] == "webp"
                assert d["background"] == "opaque" and isinstance(d["created_at"], int)
                im = Image.open(io.BytesIO(base64.b64decode(d["b64_json"])))
                assert im.format == "WEBP" and im.size == (1536, 1024)
                if e == "image_generation.partial_image":
                    assert d["partial_image_index"] == i
            u = ev[-1][1]["usage"]
            assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"] and u["input_tokens"] > 0
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 4 * 6000, l
        # n=2: one completed event per image, the prompt's tokens counted once
        ev = sse(stream(s, key, {"n": 2, "partial_images": 1}))
        done = [d for e, d in ev if e == "image_generation.completed"]
        assert len(done) == 2 and done[0]["usage"]["input_tokens"] > 0 and done[1]["usage"]["input_tokens"] == 0
        assert check_invariant(s, key)["charged"] == 4 * 6000 + 2 * 5000
    finally:
        s.cleanup()


@test
def test_stream_failures_are_error_events_and_release():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "300"}).start()
    try:
        key = s.new_key("10")
        # the generation fails: an error event in OpenAI's shape, nothing charged
        ev = sse(stream(s, key, {"prompt": "x [fail]", "partial_images": 1}))
        assert ev[-1][0] == "error", ev
        err = ev[-1][1]["error"]
        assert err["code"] == "generation_failed" and err["message"] and ev[-1][1]["type"] == "error"
        # past its deadline (x-timeout-seconds 1, four 300 ms steps): a 504-coded error event
        ev = sse(stream(s, key, {"partial_images": 3}, **{"x-timeout-seconds": "1"}))
        assert ev[-1][0] == "error" and ev[-1][1]["error"]["code"] == "deadline_exceeded", ev
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
        # the client hangs up mid-stream: the job is cancelled and the reservation released
        c = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps({"prompt": "long", "stream": True, "partial_images": 3, "quality": "low"}).encode()
        c.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: " + str(len(body)).encode() +
                  b"\r\n\r\n" + body)
        c.settimeout(10)
        got = c.recv(65536)
        assert got.startswith(b"HTTP/1.1 200"), got[:80]
        deadline = time.time() + 5
        while time.time() < deadline and s.ledger(key)["reserved"] == 0:
            time.sleep(0.02)
        assert s.ledger(key)["reserved"] > 0
        c.close()
        deadline = time.time() + 10
        while time.time() < deadline and s.ledger(key)["reserved"] > 0:
            time.sleep(0.05)
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
        m = requests.get(s.url("/metrics"), timeout=10).text
        # outcomes so far: one failed, one timeout, this one cancelled
        for outcome in ("failed", "timeout", "cancelled"):
            assert f'imgapi_job_duration_seconds_count{{outcome="{outcome}"}} 1' in m, (outcome, m)
    finally:
        s.cleanup()


@test
def test_stream_refusals_before_the_stream():
    s = Server().start()
    try:
        key = s.new_key("10")
        # errors found at admission are ordinary JSON answers, not streams
        r = stream(s, key, {"n": 11})
        openai_error(r, 400, param="n")
        r = stream(s, key, {"partial_images": 4})
        openai_error(r, 400, param="partial_images")
        r = stream(s, key, {}, **{"Idempotency-Key": "k1"})
        openai_error(r, 400, param="Idempotency-Key")
        # the seed route has no stream field
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "x", "stream": True}, key)
        seed_error(r, 400, param="stream")
        poor = s.new_key("0.001")
        openai_error(stream(s, poor, {}), 406)
        assert check_invariant(s, key)["reserved"] == 0
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
