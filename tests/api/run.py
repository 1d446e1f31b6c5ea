"""Black-box HTTP tests of the API contract (SPEC sections 1-7, 9) against real servers."""
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PROD_BIN, Server, check_invariant, decode_image, main, openai_error,  # noqa: E402
                     run_cli, seed_error, test)

SHARED = None


def shared():
    global SHARED
    if SHARED is None:
        SHARED = Server().start()
    return SHARED


# --- the seed's snippet and the success shape -------------------------------------------------

@test
def test_seed_snippet_returns_png_1024():
    s = shared()
    key = s.new_key("10")
    # The seed page's Python snippet, with only the URL changed.
    url = s.url("/v1/gpt-image-1-mini")
    headers = {"x-api-key": key, "Content-Type": "application/json"}
    data = {
        "prompt": "Design a pop-art urban street-inspired cover. Bright yellow, red, cyan with black/white contrast. Include graffiti textures, comic-style murals, playful stickers, and hand-drawn typography. Bold, energetic, and vibrant style, ideal for street festivals, concerts, or city cultural events.",
        "size": "1024x1024",
        "quality": "high",
        "moderation": "auto",
        "background": "opaque",
        "output_compression": 100,
        "output_format": "png",
    }
    response = requests.post(url, headers=headers, json=data)
    assert response.status_code == 200, response.text
    result = response.json()
    im = decode_image(result["data"][0]["b64_json"])
    assert im.format == "PNG" and im.size == (1024, 1024) and im.mode == "RGB", (im.format, im.size, im.mode)
    im.load()
    assert result["size"] == "1024x1024" and result["quality"] == "high"
    assert result["background"] == "opaque" and result["output_format"] == "png"
    assert isinstance(result["created"], int)
    u = result["usage"]
    assert u["output_tokens"] == 4160 and u["input_tokens"] > 0
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]
    assert u["input_tokens_details"] == {"text_tokens": u["input_tokens"], "image_tokens": 0}
    assert 0 <= result["data"][0]["seed"] < 2 ** 32
    assert response.headers["x-credits-charged"] == "0.036000"
    assert response.headers["x-remaining-credits"] == "9.964000"
    assert response.headers["x-request-id"]
    l = check_invariant(s, key)
    assert l["charged"] == 36000 and l["reserved"] == 0


@test
def test_every_size_quality_format_combination():
    s = shared()
    key = s.new_key("100")
    prices = {"low": (5000, 6000, 6000), "medium": (11000, 15000, 15000), "high": (36000, 52000, 52000)}
    sizes = ["1024x1024", "1536x1024", "1024x1536"]
    expected_total = 0
    for route in ("/v1/gpt-image-1-mini", "/v1/images/generations"):
        for si, size in enumerate(sizes):
            for quality in ("low", "medium", "high"):
                for fmt in ("png", "jpeg", "webp"):
                    r = s.post(route, {"prompt": "a red circle", "size": size, "quality": quality,
                                       "output_format": fmt, "output_compression": 80}, key)
                    assert r.status_code == 200, r.text
                    j = r.json()
                    im = decode_image(j["data"][0]["b64_json"])
                    w, h = map(int, size.split("x"))
                    assert im.size == (w, h), (im.size, size)
                    assert im.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
                    assert j["size"] == size and j["quality"] == quality and j["output_format"] == fmt
                    assert int(round(float(r.headers["x-credits-charged"]) * 1e6)) == prices[quality][si]
                    expected_total += prices[quality][si]
    l = check_invariant(s, key)
    assert l["charged"] == expected_total and l["reserved"] == 0


@test
def test_auto_values_resolved_and_echoed():
    s = shared()
    key = s.new_key("10")
    r = s.post("/v1/images/generations", {"prompt": "x", "size": "auto", "quality": "auto"}, key)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["size"] == "1024x1024" and j["quality"] == "medium" and j["background"] == "opaque"
    # OpenAI route defaults are auto: resolved by the model's profile (test-model-2: 1536x1024, low, transparent)
    r = s.post("/v1/images/generations", {"prompt": "x", "model": "test-model-2"}, key)
    j = r.json()
    assert r.status_code == 200 and j["size"] == "1536x1024" and j["quality"] == "low"
    assert j["background"] == "transparent"
    assert decode_image(j["data"][0]["b64_json"]).mode == "RGBA"
    r = s.post("/v1/test-model-2", {"prompt": "x", "size": "auto", "quality": "auto"}, key)
    assert r.status_code == 200 and r.json()["size"] == "1536x1024"


@test
def test_n_images_and_seed_reproducible():
    s = shared()
    key = s.new_key("10")
    body = {"prompt": "blue square", "n": 3, "seed": 1234, "quality": "low"}
    a = s.post("/v1/gpt-image-1-mini", body, key)
    b = s.post("/v1/gpt-image-1-mini", body, key)
    assert a.status_code == 200 and b.status_code == 200
    da, db = a.json()["data"], b.json()["data"]
    assert len(da) == 3 and [d["seed"] for d in da] == [1234, 1235, 1236]
    assert [d["b64_json"] for d in da] == [d["b64_json"] for d in db]
    assert da[0]["b64_json"] != da[1]["b64_json"]
    assert a.headers["x-credits-charged"] == "0.015000"
    assert a.json()["usage"]["output_tokens"] == 272 * 3


@test
def test_transparent_background_has_alpha():
    s = shared()
    key = s.new_key("10")
    for fmt in ("png", "webp"):
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "a disc", "background": "transparent",
                                            "output_format": fmt, "quality": "low"}, key)
        assert r.status_code == 200, r.text
        im = decode_image(r.json()["data"][0]["b64_json"]).convert("RGBA")
        assert im.getpixel((5, 5))[3] == 0  # background corner
        assert im.getpixel((512, 512))[3] == 255  # the object in the middle
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "a disc", "background": "opaque"}, key)
    assert decode_image(r.json()["data"][0]["b64_json"]).mode == "RGB"


@test
def test_openai_route_with_bearer_and_models():
    s = shared()
    key = s.new_key("10")
    h = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    r = requests.post(s.url("/v1/images/generations"), headers=h,
                      json={"model": "gpt-image-1-mini", "prompt": "x", "size": "1024x1024",
                            "quality": "low", "user": "u-1", "stream": False})
    assert r.status_code == 200, r.text
    r = requests.get(s.url("/v1/models"), headers={"Authorization": f"Bearer {key}"})
    j = r.json()
    assert j["object"] == "list"
    ids = [m["id"] for m in j["data"]]
    assert ids == ["gpt-image-1-mini", "test-model", "test-model-2"] and all(m["object"] == "model" for m in j["data"])
    r = requests.post(s.url("/v1/images/generations"), headers=h, json={"model": "nope", "prompt": "x"})
    openai_error(r, 404, "model_not_found", "model")


# --- errors (SPEC section 5) ---------------------------------------------------------------------

@test
def test_400_validation_both_routes():
    s = shared()
    key = s.new_key("10")
    cases = [
        ({"prompt": "x", "output_compression": "90"}, "output_compression"),
        ({"prompt": "x", "n": 1.5}, "n"),
        ({"prompt": "x", "n": 11}, "n"),
        ({"prompt": "x", "size": "512x512"}, "size"),
        ({"prompt": "x", "quality": "ultra"}, "quality"),
        ({"prompt": "x", "moderation": "none"}, "moderation"),
        ({"prompt": "x", "output_format": "gif"}, "output_format"),
        ({"prompt": "x", "output_compression": 101}, "output_compression"),
        ({"prompt": "x", "background": "transparent", "output_format": "jpeg"}, "background"),
        ({"prompt": "x", "colour": "red"}, "colour"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 32001}, "prompt"),
        ({}, "prompt"),
        ({"prompt": "x", "seed": -5}, "seed"),
    ]
    before = s.ledger(key)
    for body, param in cases:
        r = s.post("/v1/gpt-image-1-mini", body, key)
        j = seed_error(r, 400, param=param)
        assert param in j["error"], j
        r = s.post("/v1/images/generations", body, key)
        j = openai_error(r, 400, param=param)
        assert j["type"] == "invalid_request_error"
    # not JSON: the message gives the byte offset
    r = requests.post(s.url("/v1/gpt-image-1-mini"), data=b'{"prompt": "x",, }',
                      headers={"x-api-key": key, "Content-Type": "application/json"})
    j = seed_error(r, 400, "invalid_json")
    assert re.search(r"byte offset \d+", j["error"]), j
    # missing or wrong Content-Type
    r = requests.post(s.url("/v1/gpt-image-1-mini"), data=b'{"prompt":"x"}', headers={"x-api-key": key})
    seed_error(r, 400, "invalid_content_type")
    r = requests.post(s.url("/v1/images/generations"), data=b'{"prompt":"x"}',
                      headers={"x-api-key": key, "Content-Type": "text/plain"})
    openai_error(r, 400, "invalid_content_type")
    # the seed route has no `background: auto`; the OpenAI route does
    seed_error(s.post("/v1/gpt-image-1-mini", {"prompt": "x", "background": "auto"}, key), 400, param="background")
    assert s.post("/v1/images/generations", {"prompt": "x", "background": "auto", "quality": "low"}, key).status_code == 200
    after = s.ledger(key)
    assert after["charged"] - before["charged"] == 5000  # only the one valid request was charged


@test
def test_401_403_auth():
    s = shared()
    key = s.new_key("10", "--models", "test-model-2")
    seed_error(s.post("/v1/gpt-image-1-mini", {"prompt": "x"}), 401, "missing_api_key")
    seed_error(s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, "sk-" + "0" * 64), 401, "invalid_api_key")
    seed_error(s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, "garbage"), 401, "invalid_api_key")
    r = requests.post(s.url("/v1/images/generations"), json={"prompt": "x"},
                      headers={"Authorization": "Bearer nope"})
    openai_error(r, 401, "invalid_api_key")
    assert requests.get(s.url("/v1/get-user-credits")).status_code == 401
    # not allowed this model (the default is test-model)
    seed_error(s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key), 403, "model_not_allowed")
    assert s.post("/v1/test-model-2", {"prompt": "x", "quality": "low"}, key).status_code == 200
    # revoked
    run_cli(["keys", "revoke", key], s.data_dir)
    seed_error(s.post("/v1/test-model-2", {"prompt": "x"}, key), 403, "key_revoked")
    check_invariant(s, key)


@test
def test_404_405():
    s = shared()
    key = s.new_key("1")
    seed_error(s.post("/v1/no-such-model", {"prompt": "x"}, key), 404, "model_not_found")
    r = requests.get(s.url("/nope"))
    seed_error(r, 404, "not_found")
    r = requests.get(s.url("/v1/gpt-image-1-mini"))
    seed_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST"
    r = requests.post(s.url("/v1/models"), json={})
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    r = requests.delete(s.url("/healthz"))
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"


@test
def test_406_insufficient_credits_reserves_nothing():
    s = shared()
    key = s.new_key("0.04")
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "x", "quality": "high", "n": 2}, key)
    j = seed_error(r, 406, "insufficient_credits")
    assert "0.072" in j["error"]
    r = s.post("/v1/images/generations", {"prompt": "x", "quality": "high", "n": 2}, key)
    openai_error(r, 406, "insufficient_credits")
    l = check_invariant(s, key)
    assert l["balance"] == 40000 and l["reserved"] == 0
    assert s.post("/v1/gpt-image-1-mini", {"prompt": "x", "quality": "high"}, key).status_code == 200
    r = requests.get(s.url("/v1/get-user-credits"), headers={"x-api-key": key})
    assert r.json() == {"credits": 0.004, "free-credits": 0.0}


@test
def test_413_body_too_large():
    # OpenAI's generations route: 1 MiB; a model's route (JSON edits carry images): max_edit_body
    s = Server(args=["--max-edit-body", "2097152"]).start()
    try:
        key = s.new_key("1")
        body = json.dumps({"prompt": "x" * (1024 * 1024 + 10)}).encode()
        r = requests.post(s.url("/v1/images/generations"), data=body,
                          headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large", r.text[:200]
        r = requests.post(s.url("/v1/gpt-image-1-mini"), data=body,
                          headers={"x-api-key": key, "Content-Type": "application/json"})
        seed_error(r, 400, "string_above_max_length", "prompt")  # under max_edit_body: read, then refused
        body = json.dumps({"prompt": "x", "image": "A" * (3 << 20)}).encode()
        for route in ("/v1/gpt-image-1-mini", "/v2/gpt-image-1-mini"):
            r = requests.post(s.url(route), data=body, headers={"x-api-key": key, "Content-Type": "application/json"})
            seed_error(r, 413, "body_too_large")
            assert "max_edit_body" in r.json()["error"]
        assert check_invariant(s, key)["charged"] == 0
    finally:
        s.cleanup()


@test
def test_429_rate_limit_headers():
    s = shared()
    key = s.new_key("10", "--rpm", "3")
    codes = []
    for _ in range(4):
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "x", "quality": "low"}, key)
        codes.append(r.status_code)
        assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert "x-ratelimit-remaining-requests" in r.headers and "x-ratelimit-reset-requests" in r.headers
    assert codes == [200, 200, 200, 429], codes
    seed_error(r, 429, "rate_limit_exceeded")
    assert int(r.headers["Retry-After"]) >= 1 and r.headers["x-ratelimit-remaining-requests"] == "0"
    l = check_invariant(s, key)
    assert l["charged"] == 15000 and l["reserved"] == 0


@test
def test_429_concurrency_and_queue_full_and_recovery():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "150"}, args=["--queue-size", "1", "--workers", "1"]).start()
    try:
        key = s.new_key("10", "--concurrency", "1")
        other = s.new_key("10")
        third = s.new_key("10")
        results = {}

        def go(name, k):
            results[name] = s.post("/v1/gpt-image-1-mini", {"prompt": name, "quality": "low"}, k)

        t1 = threading.Thread(target=go, args=("first", key))
        t1.start()
        time.sleep(0.2)
        # same key, second concurrent job: concurrency limit
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "x", "quality": "low"}, key)
        seed_error(r, 429, "concurrency_limit_exceeded")
        assert r.headers["Retry-After"]
        # another key fills the one queue slot; a third finds the queue full
        t2 = threading.Thread(target=go, args=("second", other))
        t2.start()
        time.sleep(0.2)
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "x", "quality": "low"}, third)
        seed_error(r, 429, "queue_full")
        assert int(r.headers["Retry-After"]) >= 1
        t1.join()
        t2.join()
        assert results["first"].status_code == 200 and results["second"].status_code == 200
        # recovered
        assert s.post("/v1/gpt-image-1-mini", {"prompt": "x", "quality": "low"}, third).status_code == 200
        for k in (key, other, third):
            assert check_invariant(s, k)["reserved"] == 0
    finally:
        s.cleanup()


@test
def test_502_model_failure_releases_credits():
    s = shared()
    key = s.new_key("1")
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "please [fail]"}, key)
    seed_error(r, 502, "generation_failed")
    r = s.post("/v1/images/generations", {"prompt": "please [fail]"}, key)
    openai_error(r, 502, "generation_failed")
    l = check_invariant(s, key)
    assert l["balance"] == 1000000 and l["charged"] == 0 and l["reserved"] == 0


@test
def test_504_deadline_releases_credits():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "500"}, args=["--max-deadline-seconds", "1"]).start()
    try:
        key = s.new_key("1")
        t0 = time.time()
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "slow"}, key, headers={"x-timeout-seconds": "5"})
        seed_error(r, 504, "deadline_exceeded")
        assert time.time() - t0 < 1.9  # clamped to the server maximum of 1 s
        seed_error(s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key, headers={"x-timeout-seconds": "soon"}),
                   400, param="x-timeout-seconds")
        l = check_invariant(s, key)
        assert l["charged"] == 0 and l["reserved"] == 0
    finally:
        s.cleanup()


@test
def test_client_disconnect_cancels_job():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "400"}).start()
    try:
        key = s.new_key("1")
        body = json.dumps({"prompt": "abandoned"}).encode()
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"POST /v1/gpt-image-1-mini HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"x-api-key: {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.3)
        assert s.ledger(key)["reserved"] == 36000
        sock.close()
        deadline = time.time() + 5
        while time.time() < deadline and s.ledger(key)["reserved"]:
            time.sleep(0.1)
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0 and l["balance"] == 1000000
        m = requests.get(s.url("/metrics")).text
        assert 'imgapi_job_duration_seconds_count{outcome="cancelled"} 1' in m, m
    finally:
        s.cleanup()


@test
def test_500_store_unavailable_loses_nothing():
    import sqlite3
    s = Server(args=["--store-busy-timeout-ms", "200"]).start()
    try:
        key = s.new_key("1")
        # Another process holds the database's write lock: the ledger cannot be written.
        db = sqlite3.connect(os.path.join(s.data_dir, "imgapi.db"), timeout=5, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        try:
            r = s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key)
            j = seed_error(r, 500, "internal_error")
            assert "SQL" not in j["error"] and "imgapi.db" not in j["error"] and "/" not in j["error"]
            r = s.post("/v1/images/generations", {"prompt": "x"}, key)
            openai_error(r, 500, "internal_error")
            assert requests.get(s.url("/readyz")).status_code == 200  # reads still work
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key).status_code == 200
        l = check_invariant(s, key)
        assert l["charged"] == 36000 and l["reserved"] == 0
    finally:
        s.cleanup()


@test
def test_moderation_blocks_costs_nothing_and_is_counted():
    s = shared()
    key = s.new_key("1")
    before = s.ledger(key)
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "a g0ry d e c a p i t a t e d body"}, key)
    j = seed_error(r, 400, "moderation_blocked", "prompt")
    assert "violence" in j["error"]
    r = s.post("/v1/images/generations", {"prompt": "explicit p o r n"}, key)
    j = openai_error(r, 400, "moderation_blocked", "prompt")
    assert "sexual" in j["message"]
    # low relaxes everything but minors in a sexual context
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "a gory battlefield", "moderation": "low", "quality": "low"}, key)
    assert r.status_code == 200, r.text
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "a 12 year old girl naked", "moderation": "low"}, key)
    j = seed_error(r, 400, "moderation_blocked")
    assert "sexual_minors" in j["error"]
    # a negative prompt that takes the clothes from a child is refused, naming that parameter;
    # an ordinary negative list is not
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "a 10 year old girl lying on a bed", "moderation": "low",
                                        "negative_prompt": "clothes, clothing"}, key)
    j = seed_error(r, 400, "moderation_blocked", "negative_prompt")
    assert "sexual_minors" in j["error"]
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "a kid flying a kite", "quality": "low",
                                        "negative_prompt": "nsfw, nude, child, blood, lowres"}, key)
    assert r.status_code == 200, r.text
    # ordinary prompts with risky substrings pass
    for p in ("Scunthorpe at dawn", "a shooting star", "a cocktail bar", "breast stroke swimming"):
        assert s.post("/v1/gpt-image-1-mini", {"prompt": p, "quality": "low"}, key).status_code == 200, p
    after = check_invariant(s, key)
    assert after["charged"] - before["charged"] == 6 * 5000  # only the six generated images
    m = requests.get(s.url("/metrics")).text
    assert 'imgapi_moderation_refusals_total{category="violence"}' in m
    assert 'imgapi_moderation_refusals_total{category="sexual_minors"}' in m


# --- idempotency -------------------------------------------------------------------------------

@test
def test_idempotency_key_replays_and_charges_once():
    s = shared()
    key = s.new_key("1")
    body = {"prompt": "same", "quality": "low"}
    a = s.post("/v1/gpt-image-1-mini", body, key, headers={"Idempotency-Key": "abc-1"})
    b = s.post("/v1/gpt-image-1-mini", body, key, headers={"Idempotency-Key": "abc-1"})
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json() and b.headers["Idempotent-Replayed"] == "true"
    assert b.headers["x-credits-charged"] == "0.000000"
    assert check_invariant(s, key)["charged"] == 5000
    r = s.post("/v1/gpt-image-1-mini", {"prompt": "different"}, key, headers={"Idempotency-Key": "abc-1"})
    seed_error(r, 400, "idempotency_key_reused")
    # an error is replayed too (406), and costs nothing
    poor = s.new_key("0.001")
    a = s.post("/v1/gpt-image-1-mini", body, poor, headers={"Idempotency-Key": "k"})
    b = s.post("/v1/gpt-image-1-mini", body, poor, headers={"Idempotency-Key": "k"})
    assert a.status_code == b.status_code == 406 and a.json() == b.json()
    # a 5xx is not recorded: a retry runs again
    a = s.post("/v1/gpt-image-1-mini", {"prompt": "[fail]"}, key, headers={"Idempotency-Key": "f"})
    assert a.status_code == 502
    b = s.post("/v1/gpt-image-1-mini", {"prompt": "[fail]"}, key, headers={"Idempotency-Key": "f"})
    assert b.status_code == 502 and "Idempotent-Replayed" not in b.headers


@test
def test_idempotency_concurrent_duplicates_charge_once():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "100"}).start()
    try:
        key = s.new_key("1")
        body = {"prompt": "dup", "quality": "low"}
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            rs = list(ex.map(lambda _: s.post("/v1/gpt-image-1-mini", body, key,
                                              headers={"Idempotency-Key": "dup-1"}), range(4)))
        assert all(r.status_code == 200 for r in rs), [r.status_code for r in rs]
        assert len({r.text for r in rs}) == 1
        assert check_invariant(s, key)["charged"] == 5000
    finally:
        s.cleanup()


# --- crash safety, load, shutdown ---------------------------------------------------------------

@test
def test_sigkill_mid_job_then_restart_releases_reservation():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "1000"}).start()
    try:
        key = s.new_key("1")
        t = threading.Thread(target=lambda: _swallow(lambda: s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key)))
        t.start()
        deadline = time.time() + 5
        while time.time() < deadline and s.ledger(key)["reserved"] == 0:
            time.sleep(0.05)
        assert s.ledger(key)["reserved"] == 36000
        s.kill()
        t.join()
        l = check_invariant(s, key)  # holds even with the process dead
        assert l["reserved"] == 36000
        s.env["IMGAPI_TEST_STEP_MS"] = "0"
        s.start()
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["balance"] == 1000000 and l["charged"] == 0
        assert s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key).status_code == 200
        assert check_invariant(s, key)["charged"] == 36000
    finally:
        s.cleanup()


def _swallow(fn):
    try:
        fn()
    except requests.RequestException:
        pass


@test
def test_100_concurrent_requests_small_queue():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "5"}, args=["--queue-size", "4", "--workers", "2"]).start()
    try:
        keys = [s.new_key("5", "--rpm", "1000", "--concurrency", "100") for _ in range(4)]

        def one(i):
            return s.post("/v1/gpt-image-1-mini", {"prompt": f"p{i}", "quality": "low"}, keys[i % 4]).status_code

        with concurrent.futures.ThreadPoolExecutor(100) as ex:
            codes = list(ex.map(one, range(100)))
        assert set(codes) <= {200, 429}, codes
        assert codes.count(200) >= 4, codes
        charged = 0
        for k in keys:
            l = check_invariant(s, k)
            assert l["reserved"] == 0, l
            charged += l["charged"]
        assert charged == 5000 * codes.count(200)
        m = requests.get(s.url("/metrics")).text
        assert f'imgapi_http_requests_total{{route="v1_model",status="200"}} {codes.count(200)}' in m
        assert "imgapi_queue_depth 0" in m
    finally:
        s.cleanup()


@test
def test_sigterm_finishes_running_job_and_exits_cleanly():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "200"}).start()
    try:
        key = s.new_key("1")
        out = {}
        t = threading.Thread(target=lambda: out.update(r=s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key)))
        t.start()
        time.sleep(0.3)
        code = s.stop(signal.SIGTERM)
        t.join()
        assert code == 0
        assert out["r"].status_code == 200  # finished within the grace period
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 36000
    finally:
        s.cleanup()


@test
def test_sigterm_past_grace_cancels_and_releases():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "2000"}, args=["--shutdown-grace-seconds", "0"]).start()
    try:
        key = s.new_key("1")
        out = {}
        t = threading.Thread(target=lambda: out.update(r=s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key)))
        t.start()
        time.sleep(0.3)
        assert s.stop(signal.SIGTERM) == 0
        t.join()
        seed_error(out["r"], 502, "server_shutting_down")
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0
    finally:
        s.cleanup()


# --- operations ---------------------------------------------------------------------------------

@test
def test_health_ready_metrics():
    s = shared()
    r = requests.get(s.url("/healthz"))
    assert r.status_code == 200 and r.headers["x-request-id"]
    r = requests.get(s.url("/readyz"))
    assert r.status_code == 200 and r.json()["status"] == "ready"
    m = requests.get(s.url("/metrics"))
    assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain")
    for series in ("imgapi_http_requests_total{", "imgapi_queue_depth ", "imgapi_job_duration_seconds_bucket{",
                   "imgapi_credits_charged_usd_total "):
        assert series in m.text, series


@test
def test_server_log_has_access_lines_without_secrets():
    s = shared()
    key = s.new_key("1")
    s.post("/v1/gpt-image-1-mini", {"prompt": "a very private prompt", "quality": "low"}, key)
    requests.get(s.url("/healthz"))
    time.sleep(0.2)
    log = s.read_log()
    assert re.search(r"POST /v1/gpt-image-1-mini 200 \d+ms id=[0-9a-f-]{36}", log), log[-2000:]
    assert "GET /healthz 200" in log
    assert key not in log and key[3:] not in log and "very private prompt" not in log


@test
def test_admin_route_guarded_by_token():
    s = shared()
    assert requests.get(s.url("/admin/keys")).status_code == 401
    assert requests.get(s.url("/admin/keys"), headers={"x-admin-token": "wrong"}).status_code == 401
    client = s.new_key("1")
    assert requests.get(s.url("/admin/keys"), headers={"Authorization": f"Bearer {client}"}).status_code == 401
    h = {"x-admin-token": "admin-secret"}
    r = requests.post(s.url("/admin/keys"), json={"credits": "2.5", "rpm": 5}, headers=h)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["key"].startswith("sk-") and new["id"].startswith("key_")
    r = requests.post(s.url(f"/admin/keys/{new['id']}/credits"), json={"usd": "1.25"}, headers=h)
    assert r.status_code == 200 and r.json()["balance"] == 3.75
    r = requests.get(s.url("/admin/keys"), headers=h)
    assert new["key"] not in r.text and new["id"] in r.text  # never the secret
    r = requests.get(s.url(f"/admin/keys/{new['id']}"), headers=h)
    assert r.json()["usage"] == {"requests": 0, "images": 0}
    assert requests.post(s.url(f"/admin/keys/{new['id']}/revoke"), headers=h).status_code == 200
    assert s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, new["key"]).status_code == 403
    assert requests.get(s.url("/admin/keys/key_nope"), headers=h).status_code == 404
    assert requests.post(s.url("/admin/keys/key_nope/credits"), json={"usd": "1"}, headers=h).status_code == 404
    assert requests.post(s.url(f"/admin/keys/{new['id']}/credits"), json={"usd": "-1"}, headers=h).status_code == 400


def wait_for_log(s, text, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if text in s.read_log():
            return s.read_log()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n" + s.read_log())


@test
def test_default_model_preloaded_in_the_background():
    # preload_model (default on): the default model loads after the server starts listening
    s = Server(env={"IMGAPI_TEST_LOAD_MS": "400"}).start()
    try:
        key = s.new_key("1")
        log = wait_for_log(s, "imgapi: model 'test-model' loaded in ")
        assert log.count("loaded in") == 1, log
        assert s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key).status_code == 200
    finally:
        s.cleanup()
    # off: nothing is loaded until a request needs it
    s = Server(env={"IMGAPI_TEST_LOAD_MS": "400"}, args=["--preload-model", "0"]).start()
    try:
        key = s.new_key("1")
        assert s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key).status_code == 200
        assert "loaded in" not in s.read_log() and "preload" not in s.read_log()
    finally:
        s.cleanup()
    # the load fails: said in the log, the server keeps serving; the request that needs the
    # model gets the failure and is not charged, another model still works
    s = Server(env={"IMGAPI_TEST_LOAD_FAIL": "test-model"}).start()
    try:
        key = s.new_key("1")
        log = wait_for_log(s, "could not preload model 'test-model': test load failure of 'test-model' "
                              "(it loads on first use)")
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, key)
        assert r.status_code == 502 and r.json()["code"] == "generation_failed", (r.status_code, r.text)
        assert s.post("/v1/images/generations", {"prompt": "x", "model": "test-model-2"}, key).status_code == 200
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 6000, l  # test-model-2's 1536x1024 low only
    finally:
        s.cleanup()
    # stopped while the model is still loading: it waits for the load, then exits cleanly
    s = Server(env={"IMGAPI_TEST_LOAD_MS": "1500"}).start()
    try:
        assert s.stop() == 0
        log = s.read_log()
        assert -1 < log.find("model 'test-model' loaded in") < log.find("imgapi: stopped"), log
    finally:
        s.cleanup()


@test
def test_cli_keys_and_credits():
    d = tempfile.mkdtemp(prefix="imgapi-cli-")
    p = run_cli(["keys", "create", "--credits", "3", "--rpm", "7"], d)
    key = p.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"sk-[0-9a-f]{64}", key), p.stdout
    p = run_cli(["keys", "list"], d)
    assert key not in p.stdout and key[3:19] in p.stdout
    p = run_cli(["credits", "add", key, "1.5"], d)
    assert "balance: 4.500000" in p.stdout and "granted: 4.500000" in p.stdout
    p = run_cli(["credits", "show", key[3:19].join(["key_", ""])], d)
    assert "balance: 4.500000" in p.stdout
    assert run_cli(["credits", "add", key, "lots"], d, check=False).returncode == 2
    assert run_cli(["credits", "show", "key_unknown"], d, check=False).returncode == 1
    assert run_cli(["keys", "frobnicate"], d, check=False).returncode == 2
    assert run_cli(["keys", "create", "--bogus", "1"], d, check=False).returncode == 2
    p = run_cli(["keys", "revoke", key], d)
    assert "revoked" in p.stdout
    p = subprocess.run([PROD_BIN, "serve", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--queue-size" in p.stdout and "default: 16" in p.stdout
    # with the built-in model turned off and none configured it refuses to serve and says why
    p = subprocess.run([PROD_BIN, "serve", "--data-dir", d, "--listen", "127.0.0.1:0", "--builtin-model", "0"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "no model is installed" in p.stderr, p.stderr
    # configuration by file and environment
    cfg = os.path.join(d, "imgapi.conf")
    with open(cfg, "w") as f:
        f.write("queue_size = 0\n")
    p = subprocess.run([PROD_BIN, "serve", "--config", cfg], capture_output=True, text=True)
    assert p.returncode == 1 and "queue_size" in p.stderr
    p = subprocess.run([PROD_BIN, "serve"], capture_output=True, text=True, env=dict(os.environ, IMGAPI_WORKERS="x"))
    assert p.returncode == 2 and "workers" in p.stderr


@test
def test_cli_generate_writes_image():
    d = tempfile.mkdtemp(prefix="imgapi-gen-")
    out = os.path.join(d, "x.webp")
    from harness import BIN
    p = subprocess.run([BIN, "generate", "a red circle", "-o", out, "--size", "1024x1536", "--format", "webp",
                        "--seed", "5"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    from PIL import Image
    im = Image.open(out)
    assert im.size == (1024, 1536) and im.format == "WEBP"
    p = subprocess.run([BIN, "generate", "x", "--size", "9x9"], capture_output=True, text=True)
    assert p.returncode == 2
    p = subprocess.run([BIN, "generate", "a gory beheading", "-o", out], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "refused by moderation (category: violence)" in p.stderr, p.stderr
    p = subprocess.run([BIN, "generate", "a gory beheading", "-o", out, "--moderation", "low"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr


@test
def test_cli_progress_bars_on_a_terminal_and_lines_in_logs():
    """`imgapi generate` shows model loading and sampling as bars redrawn in place when standard
    error is a terminal, and as plain lines otherwise (the test backend loads in four quarters
    of 200 ms and samples four steps of 100 ms)."""
    import pty
    from harness import BIN
    d = tempfile.mkdtemp(prefix="imgapi-progress-")
    env = dict(os.environ, IMGAPI_TEST_LOAD_MS="800", IMGAPI_TEST_STEP_MS="100")
    args = [BIN, "generate", "a red circle", "-o", os.path.join(d, "p.png"), "--data-dir", d]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    assert "\r" not in p.stderr and "[#" not in p.stderr, p.stderr
    assert [l.split(" (")[0] for l in lines if l.startswith("loading the model:")] == \
        ["loading the model: 25%", "loading the model: 50%", "loading the model: 75%", "loading the model: 100%"], lines
    steps = [int(l.split()[1].split("/")[0]) for l in lines if l.startswith("step ")]
    assert steps and steps == sorted(set(steps)) and steps[-1] == 4, lines  # the steps seen, in order
    # the same with standard error on a pseudo-terminal
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stderr=slave, stdout=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = out.decode()
    assert "\rloading the model [" in text and "] 100%" in text, repr(text)
    assert "\rsampling          [" in text and "step 4/4" in text, repr(text)
    assert text.count("\r\n") >= 3, repr(text)  # each bar's line is closed before the next one


if __name__ == "__main__":
    try:
        code = main()
    finally:
        if SHARED:
            SHARED.cleanup()
    sys.exit(code)
