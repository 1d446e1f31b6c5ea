"""POST /v1/images/edits (SPEC §11), black-box with multipart bodies as clients send them: the
answer's shape, price and usage, compositing, capabilities, and every kind of bad input -- each
a 400 or 413 naming the field, with nothing reserved or charged."""
import io
import json
import os
import socket
import struct
import sys
import zlib

import numpy as np
import requests
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check_invariant, main, test  # noqa: E402


def png_bytes(w=64, h=48, alpha=None, fmt="PNG"):
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (220, 30, 30)
    a[:, w // 2:] = (30, 30, 220)
    im = Image.fromarray(np.dstack([a, alpha]) if alpha is not None else a, "RGBA" if alpha is not None else "RGB")
    b = io.BytesIO()
    im.save(b, fmt)
    return b.getvalue()


def bomb_png():
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def post(s, key, files, data, **kw):
    return requests.post(s.url("/v1/images/edits"), headers={"Authorization": f"Bearer {key}"}, files=files,
                         data=data, timeout=60, **kw)


def err(r, status, param=None):
    assert r.status_code == status, (r.status_code, r.text[:300])
    e = r.json()["error"]
    assert e["message"] and e["type"], e
    if param is not None:
        assert e["param"] == param, e
    return e


@test
def test_edit_answer_price_usage_and_capabilities():
    s = Server().start()
    try:
        key = s.new_key("1")
        r = post(s, key, {"image": ("in.png", png_bytes(96, 64), "image/png")},
                 {"prompt": "make it green", "quality": "low", "n": "2", "seed": "5", "output_format": "webp"})
        assert r.status_code == 200, r.text[:300]
        j = r.json()
        assert j["size"] == "1536x1024" and j["quality"] == "low" and len(j["data"]) == 2, j.keys()
        assert j["usage"]["input_tokens_details"]["image_tokens"] > 0
        assert Image.open(io.BytesIO(__import__("base64").b64decode(j["data"][0]["b64_json"]))).format == "WEBP"
        # price: the generation's (low 1536x1024 = $0.006 each) plus $0.001 an input image
        assert r.headers["x-credits-charged"] == "0.013000", r.headers["x-credits-charged"]
        l = check_invariant(s, key)
        assert l["charged"] == 13000 and l["reserved"] == 0, l
        m = requests.get(s.url("/v1/models"), headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
        caps = {d["id"]: d.get("capabilities") for d in m["data"]}
        assert caps["test-model"] == {"generate": True, "edit": True, "inpaint": True, "max_input_images": 1}, caps
        assert caps["test-model-2"]["inpaint"] is False and caps["test-model-2"]["max_input_images"] == 2
        # input_fidelity and strength are validated; the same edit twice with one seed is the same image
        r1 = post(s, key, {"image": ("in.png", png_bytes(), "image/png")}, {"prompt": "p", "seed": "9", "strength": "0.3"})
        r2 = post(s, key, {"image": ("in.png", png_bytes(), "image/png")}, {"prompt": "p", "seed": "9", "strength": "0.3"})
        assert r1.json()["data"][0]["b64_json"] == r2.json()["data"][0]["b64_json"]
        err(post(s, key, {"image": ("in.png", png_bytes(), "image/png")}, {"prompt": "p", "strength": "1.5"}), 400, "strength")
        err(post(s, key, {"image": ("in.png", png_bytes(), "image/png")}, {"prompt": "p", "input_fidelity": "max"}), 400,
            "input_fidelity")
        # moderation runs on the edit's prompt, free of charge
        before = check_invariant(s, key)
        e = err(post(s, key, {"image": ("in.png", png_bytes(), "image/png")}, {"prompt": "naked child in a bedroom"}), 400,
                "prompt")
        assert e["code"] == "moderation_blocked"
        assert check_invariant(s, key) == before
        # an idempotent retry with another image is not the first answer replayed
        h = {"Authorization": f"Bearer {key}", "Idempotency-Key": "edit-1"}
        a = requests.post(s.url("/v1/images/edits"), headers=h, files={"image": ("a.png", png_bytes(), "image/png")},
                          data={"prompt": "p", "seed": "1"}, timeout=60)
        b = requests.post(s.url("/v1/images/edits"), headers=h, files={"image": ("a.png", png_bytes(), "image/png")},
                          data={"prompt": "p", "seed": "1"}, timeout=60)
        c = requests.post(s.url("/v1/images/edits"), headers=h, files={"image": ("b.png", png_bytes(80, 48), "image/png")},
                          data={"prompt": "p", "seed": "1"}, timeout=60)
        assert a.status_code == b.status_code == 200 and b.headers.get("Idempotent-Replayed") == "true"
        assert c.status_code == 400 and c.json()["error"]["code"] == "idempotency_key_reused", c.text
    finally:
        s.cleanup()


@test
def test_bad_edits_refused_naming_the_field_and_costing_nothing():
    s = Server().start()
    try:
        key = s.new_key("1")
        good = ("in.png", png_bytes(), "image/png")
        alpha = np.full((48, 64), 255, np.uint8)
        alpha[10:20, 10:20] = 0
        jpeg = png_bytes(fmt="JPEG")
        webp = png_bytes(fmt="WEBP")
        cases = [
            ({"image": ("x.png", b"hello, not an image", "image/png")}, {"prompt": "p"}, 400, "image"),
            ({"image": ("t.png", png_bytes()[:100], "image/png")}, {"prompt": "p"}, 400, "image"),
            ({"image": ("t.jpg", jpeg[: len(jpeg) // 2], "image/jpeg")}, {"prompt": "p"}, 400, "image"),
            ({"image": ("t.webp", webp[: len(webp) // 2], "image/webp")}, {"prompt": "p"}, 400, "image"),
            ({"image": ("b.png", bomb_png(), "image/png")}, {"prompt": "p"}, 400, "image"),
            ({"image": good, "mask": ("m.png", png_bytes(), "image/png")}, {"prompt": "p"}, 400, "mask"),  # no alpha
            ({"image": good, "mask": ("m.png", png_bytes(32, 32, np.zeros((32, 32), np.uint8)), "image/png")},
             {"prompt": "p"}, 400, "mask"),  # another size
            ([("image[]", good)] * 17, {"prompt": "p"}, 400, "image"),
            ([("image[]", good)] * 2, {"prompt": "p"}, 400, "image"),  # the model takes 1
            ({"image": good, "mask": ("m.png", png_bytes(64, 48, alpha), "image/png")}, {"prompt": "p", "model": "test-model-2"},
             400, "mask"),  # test-model-2 cannot inpaint
            ({"image": good}, {}, 400, "prompt"),
            ({"image": good}, {"prompt": "   "}, 400, "prompt"),
            ({}, {"prompt": "p"}, 400, "image"),
            ({"image": good}, {"prompt": "p", "colour": "red"}, 400, "colour"),
            ({"image": good}, {"prompt": "p", "n": "x"}, 400, "n"),
            ({"image": good}, {"prompt": "p", "n": "11"}, 400, "n"),
            ({"image": good}, [("prompt", "a"), ("prompt", "b")], 400, "prompt"),
            ({"image": good, "prompt": ("p.txt", b"a file", "text/plain")}, {}, 400, "prompt"),
            ({"image": good}, {"prompt": "p", "model": "no-such-model"}, 404, "model"),
        ]
        for files, data, status, param in cases:
            r = post(s, key, files, data)
            err(r, status, param)
        # not multipart, no boundary, a boundary that never closes
        r = requests.post(s.url("/v1/images/edits"), headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                          data=b'{"prompt":"p"}', timeout=30)
        err(r, 400)
        r = requests.post(s.url("/v1/images/edits"), headers={"Authorization": f"Bearer {key}",
                                                              "Content-Type": "multipart/form-data"}, data=b"--x\r\n", timeout=30)
        err(r, 400)
        body = (b"--BOUND\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nhello\r\n--BOUND\r\n"
                b"Content-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n" + png_bytes())
        r = requests.post(s.url("/v1/images/edits"), headers={"Authorization": f"Bearer {key}",
                                                              "Content-Type": "multipart/form-data; boundary=BOUND"},
                          data=body, timeout=30)
        err(r, 400)
        # a part over 50 MB: 413, read and dropped without keeping it
        big = b"\x89PNG\r\n\x1a\n" + b"\0" * (51 * 1024 * 1024)
        r = post(s, key, {"image": ("big.png", big, "image/png")}, {"prompt": "p"})
        err(r, 413)
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
        print(f"     {len(cases) + 4} bad edits refused; nothing reserved or charged")
    finally:
        s.cleanup()


@test
def test_edit_body_limit_is_enforced_while_reading():
    s = Server(args=["--max-edit-body", "1048576"]).start()
    try:
        key = s.new_key("1")
        # a declared length over the limit: answered before the body is read
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(b"POST /v1/images/edits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() +
                  b"\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 999999999\r\n\r\n")
        head = c.recv(4096)
        c.close()
        assert head.startswith(b"HTTP/1.1 413"), head[:100]
        r = post(s, key, {"image": ("in.png", png_bytes(), "image/png"), "pad": ("p.bin", b"\0" * (2 << 20), "x/y")},
                 {"prompt": "p"})
        err(r, 413)
        assert check_invariant(s, key)["reserved"] == 0
    finally:
        s.cleanup()


if __name__ == "__main__":
    sys.exit(main())
