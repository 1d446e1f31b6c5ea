"""Black-box tests of the asynchronous API (SPEC §10): POST /v2/{model}, status, result, the v1
poll_url, per-key visibility, cancellation, expiry, and restarts mid-queue, against real servers."""
import os
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check_invariant, decode_image, main, seed_error, test  # noqa: E402

COST_HIGH_1024 = 36000  # micro-dollars (SPEC §6)
COST_LOW_1024 = 5000


def submit(s, key, body, model="gpt-image-1-mini"):
    return s.post(f"/v2/{model}", body, key)


def get(s, path, key):
    return requests.get(s.url(path), headers={"x-api-key": key} if key else {}, timeout=30)


def wait_status(s, key, rid, want=("COMPLETED", "FAILED"), timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = get(s, f"/v2/requests/{rid}/status", key)
        assert r.status_code == 200, r.text
        j = r.json()
        if j["status"] in want:
            return j
        time.sleep(0.05)
    raise AssertionError(f"request {rid} did not reach {want}: {j}")


@test
def test_submit_poll_result_every_size_and_format():
    s = Server().start()
    try:
        key = s.new_key("10")
        for size in ("1024x1024", "1536x1024", "1024x1536", "auto"):
            for fmt in ("png", "jpeg", "webp"):
                r = submit(s, key, {"prompt": "a red circle", "size": size, "output_format": fmt, "quality": "low",
                                    "seed": 7})
                assert r.status_code == 200, r.text
                assert r.headers.get("x-ratelimit-limit-requests")
                j = r.json()
                rid = j["request_id"]
                assert j["status"] == "QUEUED" and r.headers["x-request-id"] == rid
                base = f"http://127.0.0.1:{s.port}"
                assert j["poll_url"] == f"{base}/v1/requests/{rid}"
                assert j["status_url"] == f"{base}/v2/requests/{rid}/status"
                assert j["response_url"] == f"{base}/v2/requests/{rid}"
                st = wait_status(s, key, rid)
                assert st["status"] == "COMPLETED" and "output" not in st, st
                assert st["request_id"] == rid and st["metrics"]["inference_time"] >= 0
                for url in (j["response_url"], j["poll_url"]):
                    res = requests.get(url, headers={"x-api-key": key}, timeout=30)
                    assert res.status_code == 200, res.text
                    out = res.json()
                    assert out["status"] == "COMPLETED" and out["request_id"] == rid
                    o = out["output"]
                    assert o["output_format"] == fmt and o["quality"] == "low"
                    im = decode_image(o["data"][0]["b64_json"])
                    want = (1024, 1024) if size == "auto" else tuple(map(int, size.split("x")))
                    assert im.size == want and im.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
                    assert o["data"][0]["seed"] == 7 and o["usage"]["output_tokens"] > 0
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] > 0
        # the same image as the synchronous route for the same request and seed
        sync = s.post("/v1/gpt-image-1-mini", {"prompt": "a red circle", "quality": "low", "seed": 7}, key).json()
        rid = submit(s, key, {"prompt": "a red circle", "quality": "low", "seed": 7}).json()["request_id"]
        wait_status(s, key, rid)
        out = get(s, f"/v2/requests/{rid}", key).json()["output"]
        assert out["data"][0]["b64_json"] == sync["data"][0]["b64_json"]
        # the public base URL, when configured, is what the links use
        s2 = Server(args=["--public-base-url", "https://img.example.com/"]).start()
        try:
            k2 = s2.new_key("1")
            j = submit(s2, k2, {"prompt": "x", "quality": "low"}).json()
            assert j["status_url"] == f"https://img.example.com/v2/requests/{j['request_id']}/status", j
        finally:
            s2.cleanup()
    finally:
        s.cleanup()


@test
def test_submission_fails_exactly_like_the_sync_route():
    s = Server().start()
    try:
        key = s.new_key("0.01")
        seed_error(submit(s, key, {"prompt": "x", "size": "2x2"}), 400, param="size")
        seed_error(submit(s, key, {"prompt": "x", "webhook": 1}), 400)
        seed_error(submit(s, key, {"prompt": "a gory battlefield"}), 400, "moderation_blocked", "prompt")
        seed_error(submit(s, None, {"prompt": "x"}), 401, "missing_api_key")
        seed_error(submit(s, key, {"prompt": "x"}, model="no-such-model"), 404, "model_not_found")
        seed_error(submit(s, key, {"prompt": "x", "quality": "high"}), 406, "insufficient_credits")
        r = requests.post(s.url("/v2/gpt-image-1-mini"), data="{}", headers={"x-api-key": key}, timeout=10)
        seed_error(r, 400, "invalid_content_type")
        l = check_invariant(s, key)
        assert l["charged"] == 0 and l["reserved"] == 0
        m = get(s, "/metrics", None).text
        assert 'route="v2_model"' in m
    finally:
        s.cleanup()


@test
def test_another_key_cannot_read_or_cancel():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "300"}, args=["--workers", "1"]).start()
    try:
        a, b = s.new_key("1"), s.new_key("1")
        busy = submit(s, a, {"prompt": "x", "quality": "low"}).json()["request_id"]
        rid = submit(s, a, {"prompt": "x", "quality": "low"}).json()["request_id"]
        for path in (f"/v2/requests/{rid}/status", f"/v2/requests/{rid}", f"/v1/requests/{rid}"):
            seed_error(get(s, path, b), 404, "request_not_found")
            seed_error(get(s, path, None), 401, "missing_api_key")
        r = requests.delete(s.url(f"/v2/requests/{rid}"), headers={"x-api-key": b}, timeout=10)
        seed_error(r, 404, "request_not_found")
        seed_error(get(s, "/v2/requests/00000000-0000-4000-8000-000000000000", a), 404, "request_not_found")
        assert wait_status(s, a, rid)["status"] == "COMPLETED"  # b's attempts changed nothing
        assert wait_status(s, a, busy)["status"] == "COMPLETED"
        assert check_invariant(s, a)["charged"] == 2 * COST_LOW_1024
        assert check_invariant(s, b)["charged"] == 0
    finally:
        s.cleanup()


@test
def test_cancel_a_queued_request_releases_its_credits():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "400"}, args=["--workers", "1"]).start()
    try:
        key = s.new_key("1")
        running = submit(s, key, {"prompt": "x"}).json()["request_id"]
        queued = submit(s, key, {"prompt": "x"}).json()["request_id"]
        wait_status(s, key, running, want=("PROCESSING",))
        assert check_invariant(s, key)["reserved"] == 2 * COST_HIGH_1024
        r = requests.delete(s.url(f"/v2/requests/{queued}"), headers={"x-api-key": key}, timeout=10)
        assert r.status_code == 200, r.text
        j = r.json()
        assert j["status"] == "FAILED" and j["error"]["code"] == "request_cancelled", j
        assert check_invariant(s, key)["reserved"] == COST_HIGH_1024
        r = requests.delete(s.url(f"/v2/requests/{running}"), headers={"x-api-key": key}, timeout=10)
        seed_error(r, 400, "request_not_cancellable")
        assert wait_status(s, key, running)["status"] == "COMPLETED"
        time.sleep(0.3)  # the cancelled job leaves the queue without running
        assert get(s, f"/v2/requests/{queued}", key).json()["status"] == "FAILED"
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == COST_HIGH_1024 and l["balance"] == 1000000 - COST_HIGH_1024
    finally:
        s.cleanup()


@test
def test_results_expire_and_unstarted_requests_expire_released():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "600"}, args=["--workers", "1", "--async-result-seconds", "2"]).start()
    try:
        key = s.new_key("1")
        first = submit(s, key, {"prompt": "x"}).json()["request_id"]  # runs about 2.4 s
        late = submit(s, key, {"prompt": "x"}).json()["request_id"]   # cannot start within 2 s
        assert wait_status(s, key, first, timeout=10)["status"] == "COMPLETED"
        seed_error(get(s, f"/v2/requests/{late}/status", key), 404, "request_not_found")
        time.sleep(2.2)
        seed_error(get(s, f"/v2/requests/{first}", key), 404, "request_not_found")
        seed_error(get(s, f"/v1/requests/{first}", key), 404, "request_not_found")
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == COST_HIGH_1024, l
    finally:
        s.cleanup()


@test
def test_failed_generation_is_failed_and_released():
    s = Server().start()
    try:
        key = s.new_key("1")
        rid = submit(s, key, {"prompt": "x [fail]"}).json()["request_id"]
        j = wait_status(s, key, rid)
        assert j["status"] == "FAILED"
        err = get(s, f"/v2/requests/{rid}", key).json()["error"]
        assert err["code"] == "generation_failed" and "/" not in err["message"], err
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0
    finally:
        s.cleanup()


@test
def test_queue_full_is_429_at_submission():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "500"}, args=["--workers", "1", "--queue-size", "1"]).start()
    try:
        key = s.new_key("1")
        codes = [submit(s, key, {"prompt": "x", "quality": "low"}).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and 429 in codes[2:], codes
        r = submit(s, key, {"prompt": "x", "quality": "low"})
        if r.status_code == 429:
            assert r.headers.get("Retry-After")
    finally:
        s.cleanup()


@test
def test_sigkill_mid_queue_then_restart_loses_nothing():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "500"}, args=["--workers", "1"]).start()
    try:
        key = s.new_key("1")
        ids = [submit(s, key, {"prompt": f"x{i}", "seed": i}).json()["request_id"] for i in range(3)]
        wait_status(s, key, ids[0], want=("PROCESSING",))
        s.kill()
        l = check_invariant(s, key)
        assert l["reserved"] == 3 * COST_HIGH_1024
        s.env["IMGAPI_TEST_STEP_MS"] = "0"
        s.start()
        # the running one failed with its credits released; the queued ones resume and complete
        j = wait_status(s, key, ids[0])
        assert j["status"] == "FAILED"
        assert get(s, f"/v2/requests/{ids[0]}", key).json()["error"]["code"] == "generation_failed"
        for rid, seed in zip(ids[1:], (1, 2)):
            assert wait_status(s, key, rid)["status"] == "COMPLETED"
            assert get(s, f"/v2/requests/{rid}", key).json()["output"]["data"][0]["seed"] == seed
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 2 * COST_HIGH_1024, l
    finally:
        s.cleanup()


@test
def test_sigterm_keeps_queued_requests_for_the_next_start():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "300"}, args=["--workers", "1", "--shutdown-grace-seconds", "0"]).start()
    try:
        key = s.new_key("1")
        ids = [submit(s, key, {"prompt": "x", "quality": "low"}).json()["request_id"] for _ in range(3)]
        wait_status(s, key, ids[0], want=("PROCESSING",))
        assert s.stop() == 0
        s.start()
        states = [wait_status(s, key, rid)["status"] for rid in ids]
        # the running one was stopped (FAILED, released) unless it finished first; the rest resumed
        assert states[0] in ("FAILED", "COMPLETED") and states[1:] == ["COMPLETED", "COMPLETED"], states
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == states.count("COMPLETED") * COST_LOW_1024, (l, states)
    finally:
        s.cleanup()


@test
def test_cli_generate_as_a_client_sync_and_async():
    import subprocess
    import tempfile
    from harness import BIN
    from PIL import Image
    s = Server(env={"IMGAPI_TEST_STEP_MS": "50"}).start()
    d = tempfile.mkdtemp()
    try:
        key = s.new_key("1")
        base = s.url("")

        def gen(*args, env_key=True):
            env = dict(os.environ, IMGAPI_API_KEY=key) if env_key else {k: v for k, v in os.environ.items()
                                                                         if k != "IMGAPI_API_KEY"}
            return subprocess.run([BIN, "generate", "a red circle", "--server", base, *args], capture_output=True,
                                  text=True, timeout=60, env=env)
        for mode in ((), ("--async",)):
            out = os.path.join(d, f"x{len(mode)}.webp")
            p = gen(*mode, "-o", out, "--size", "1536x1024", "--quality", "low", "--format", "webp", "--seed", "9")
            assert p.returncode == 0, p.stderr
            im = Image.open(out)
            assert im.size == (1536, 1024) and im.format == "WEBP"
            if mode:
                assert "COMPLETED" in p.stderr, p.stderr
        a, b = (open(os.path.join(d, f"x{i}.webp"), "rb").read() for i in (0, 1))
        assert a == b  # the same seed through either route
        p = gen("--async", "--size", "2x2", "-o", os.path.join(d, "bad.png"))
        assert p.returncode == 1 and "400 (invalid_value)" in p.stderr and not os.path.exists(os.path.join(d, "bad.png"))
        p = gen("--moderation", "auto", "--async", "-o", os.path.join(d, "ok.png"))
        assert p.returncode == 0, p.stderr  # innocent prompt
        p = subprocess.run([BIN, "generate", "a gory battlefield", "--server", base, "--async", "--api-key", key],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "moderation_blocked" in p.stderr, p.stderr
        p = gen("--async", "-o", os.path.join(d, "nokey.png"), env_key=False)
        assert p.returncode == 2 and "API key" in p.stderr
        p = subprocess.run([BIN, "generate", "x [fail]", "--server", base, "--async", "--api-key", key],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "generation_failed" in p.stderr, p.stderr
        l = check_invariant(s, key)
        assert l["reserved"] == 0
    finally:
        s.cleanup()
        import shutil
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
