"""/openapi.json describes the server: every route the server answers is in it, and real
responses (successes and errors, both route styles, sync, async and admin) validate against
the schemas it gives for their path, method and status. Request bodies are checked both ways:
what the document allows the server accepts, and what it forbids the server refuses with 400."""
import base64
import json
import os
import sys
import time

import jsonschema
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main, test  # noqa: E402


class Doc:
    def __init__(self, doc):
        self.doc = doc
        self.checked = set()

    def validator(self, schema):
        # refs are "#/components/schemas/...": resolve them against the whole document
        resolver = jsonschema.RefResolver.from_schema(self.doc)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)

    def response_schema(self, template, method, status):
        op = self.doc["paths"][template][method]
        resp = op["responses"].get(str(status))
        assert resp, f"{method.upper()} {template} does not document status {status}"
        return resp["content"]["application/json"]["schema"]

    def check(self, template, method, r):
        """Validates a real response against the document; returns its JSON."""
        assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
        body = r.json()
        errors = list(self.validator(self.response_schema(template, method, r.status_code)).iter_errors(body))
        assert not errors, f"{method.upper()} {template} {r.status_code}: {errors[0].message} in {str(body)[:300]}"
        self.checked.add((template, method, r.status_code))
        return body

    def request_ok(self, schema_name, body):
        v = self.validator({"$ref": f"#/components/schemas/{schema_name}"})
        return not list(v.iter_errors(body))


@test
def test_openapi_document_matches_the_server():
    s = Server(env={"IMGAPI_TEST_STEP_MS": "0"}).start()
    try:
        r = requests.get(s.url("/openapi.json"), timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
        d = Doc(r.json())
        assert d.doc["openapi"].startswith("3.1")
        jsonschema.Draft202012Validator.check_schema({"$defs": d.doc["components"]["schemas"]})
        # every route the server has is documented (the server's 404 for unknown paths aside)
        routes = {("/", "get"), ("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"), ("/openapi.json", "get"),
                  ("/v1/models", "get"), ("/v1/get-user-credits", "get"), ("/v1/images/generations", "post"),
                  ("/v1/images/edits", "post"), ("/v1/images/variations", "post"), ("/v1/{model}", "post"), ("/v1/gpt-image-1-mini", "post"), ("/v1/requests/{id}", "get"),
                  ("/v2/{model}", "post"), ("/v2/requests/{id}/status", "get"), ("/v2/requests/{id}", "get"),
                  ("/v2/requests/{id}", "delete"), ("/admin/keys", "post"), ("/admin/keys", "get"),
                  ("/admin/keys/{id}", "get"), ("/admin/keys/{id}/revoke", "post"), ("/admin/keys/{id}/credits", "post"),
                  ("/sdapi/v1/txt2img", "post"), ("/sdapi/v1/sd-models", "get"), ("/sdapi/v1/samplers", "get"),
                  ("/sdapi/v1/schedulers", "get"), ("/sdapi/v1/loras", "get"), ("/sdapi/v1/progress", "get"),
                  ("/sdapi/v1/options", "get"), ("/sdapi/v1/options", "post"), ("/sdapi/v1/interrupt", "post"),
                  ("/sdapi/v1/img2img", "post"), ("/sdapi/v1/skip", "post")}
        documented = {(p, m) for p, ops in d.doc["paths"].items() for m in ops}
        assert routes == documented, (routes ^ documented)

        key = s.new_key("10")
        H = {"x-api-key": key}
        B = {"Authorization": "Bearer " + key}
        body = {"prompt": "a red circle", "quality": "low", "seed": 7, "output_format": "webp", "n": 2}
        assert d.request_ok("ImageRequest", body)
        d.check("/v1/gpt-image-1-mini", "post", s.post("/v1/gpt-image-1-mini", body, key))
        d.check("/v1/{model}", "post", s.post("/v1/test-model", {"prompt": "x", "quality": "low"}, key))
        import base64
        import io
        from PIL import Image
        png = io.BytesIO()
        Image.new("RGB", (48, 32), (200, 30, 30)).save(png, "PNG")
        edit = {"prompt": "x", "image": base64.b64encode(png.getvalue()).decode(), "quality": "low", "strength": 0.5}
        assert d.request_ok("ImageRequest", edit)
        d.check("/v1/{model}", "post", s.post("/v1/test-model", edit, key))
        d.check("/v1/images/variations", "post", requests.post(
            s.url("/v1/images/variations"), headers=B, files={"image": ("a.png", png.getvalue(), "image/png")},
            data={"quality": "low"}, timeout=30))
        d.check("/v1/images/variations", "post", requests.post(
            s.url("/v1/images/variations"), headers=B, files={"image": ("a.png", png.getvalue(), "image/png")},
            data={"n": "1", "size": "1024x1024"}, timeout=30))
        oai = {"prompt": "x", "model": "gpt-image-1-mini", "quality": "low", "background": "auto", "user": "u1"}
        assert d.request_ok("OpenAIImageRequest", oai)
        d.check("/v1/images/generations", "post", requests.post(s.url("/v1/images/generations"), json=oai, headers=B, timeout=30))
        # a stream's events validate against StreamEvent
        r = requests.post(s.url("/v1/images/generations"), json=dict(oai, stream=True, partial_images=2), headers=B,
                          stream=True, timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
        events = [json.loads(line[6:]) for line in r.iter_lines(decode_unicode=True) if line.startswith("data: ")]
        # (partials may be fewer than asked when the image is done first, as with OpenAI)
        assert [e["type"] for e in events][-1] == "image_generation.completed" and len(events) <= 3
        for ev in events:
            assert d.request_ok("StreamEvent", ev), ev["type"]
        d.check("/v1/models", "get", requests.get(s.url("/v1/models"), headers=H, timeout=10))
        for path in ("/sdapi/v1/sd-models", "/sdapi/v1/samplers", "/sdapi/v1/schedulers", "/sdapi/v1/loras",
                     "/sdapi/v1/progress", "/sdapi/v1/options"):
            d.check(path, "get", requests.get(s.url(path), headers=H, timeout=10))
        d.check("/sdapi/v1/options", "post", requests.post(s.url("/sdapi/v1/options"), json={"sd_model_checkpoint": "test-model"},
                                                           headers=H, timeout=10))
        d.check("/sdapi/v1/txt2img", "post", requests.post(s.url("/sdapi/v1/txt2img"), json={"prompt": "a cat", "seed": 3},
                                                           headers=H, timeout=30))
        d.check("/sdapi/v1/txt2img", "post", requests.post(s.url("/sdapi/v1/txt2img"), json={"prompt": "a cat", "sampler_name": "x"},
                                                           headers=H, timeout=30))
        d.check("/sdapi/v1/interrupt", "post", requests.post(s.url("/sdapi/v1/interrupt"), headers=H, timeout=10))
        d.check("/sdapi/v1/skip", "post", requests.post(s.url("/sdapi/v1/skip"), headers=H, timeout=10))
        png = base64.b64encode(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "samples.png"), "rb").read()).decode()
        d.check("/sdapi/v1/img2img", "post", requests.post(s.url("/sdapi/v1/img2img"), json={"prompt": "a cat", "init_images": [png]},
                                                           headers=H, timeout=30))
        d.check("/sdapi/v1/img2img", "post", requests.post(s.url("/sdapi/v1/img2img"), json={"prompt": "a cat", "init_images": []},
                                                           headers=H, timeout=30))
        d.check("/v1/get-user-credits", "get", requests.get(s.url("/v1/get-user-credits"), headers=H, timeout=10))
        d.check("/healthz", "get", requests.get(s.url("/healthz"), timeout=10))
        d.check("/readyz", "get", requests.get(s.url("/readyz"), timeout=10))
        # errors, both styles
        bad = [{"prompt": "x", "n": 11}, {"prompt": "x", "size": "2x2"}, {"prompt": "x", "output_compression": "90"},
               {"prompt": "x", "colour": "red"}, {"prompt": ""}, {"prompt": "x", "background": "transparent", "output_format": "jpeg"}]
        for b in bad[:-1]:  # the document forbids these too (the last is a cross-field rule)
            assert not d.request_ok("ImageRequest", b), b
        for b in bad:
            d.check("/v1/gpt-image-1-mini", "post", s.post("/v1/gpt-image-1-mini", b, key))
            d.check("/v1/images/generations", "post", requests.post(s.url("/v1/images/generations"), json=b, headers=B, timeout=10))
        d.check("/v1/gpt-image-1-mini", "post", s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, None))
        d.check("/v1/gpt-image-1-mini", "post", s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, "sk-wrong"))
        d.check("/v1/images/generations", "post", requests.post(s.url("/v1/images/generations"), json={"prompt": "x"}, timeout=10))
        poor = s.new_key("0.001")
        d.check("/v1/gpt-image-1-mini", "post", s.post("/v1/gpt-image-1-mini", {"prompt": "x"}, poor))
        d.check("/v1/gpt-image-1-mini", "post", s.post("/v1/gpt-image-1-mini", {"prompt": "x [fail]", "quality": "low"}, key))
        d.check("/v1/models", "get", requests.get(s.url("/v1/models"), timeout=10))
        # async
        sub = d.check("/v2/{model}", "post", s.post("/v2/gpt-image-1-mini", {"prompt": "x", "quality": "low"}, key))
        rid = sub["request_id"]
        for _ in range(100):
            st = d.check("/v2/requests/{id}/status", "get", requests.get(s.url(f"/v2/requests/{rid}/status"), headers=H, timeout=10))
            if st["status"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.05)
        res = d.check("/v2/requests/{id}", "get", requests.get(s.url(f"/v2/requests/{rid}"), headers=H, timeout=10))
        assert res["status"] == "COMPLETED" and res["output"]["data"]
        d.check("/v1/requests/{id}", "get", requests.get(s.url(f"/v1/requests/{rid}"), headers=H, timeout=10))
        d.check("/v2/requests/{id}", "delete", requests.delete(s.url(f"/v2/requests/{rid}"), headers=H, timeout=10))
        d.check("/v2/requests/{id}", "get", requests.get(s.url("/v2/requests/nope"), headers=H, timeout=10))
        d.check("/v2/{model}", "post", s.post("/v2/gpt-image-1-mini", {"prompt": "x", "webhook_url": "ftp://x"}, key))
        # admin
        A = {"x-admin-token": "admin-secret"}
        made = d.check("/admin/keys", "post", requests.post(s.url("/admin/keys"), json={"credits": 5}, headers=A, timeout=10))
        d.check("/admin/keys", "get", requests.get(s.url("/admin/keys"), headers=A, timeout=10))
        d.check("/admin/keys/{id}", "get", requests.get(s.url(f"/admin/keys/{made['id']}"), headers=A, timeout=10))
        d.check("/admin/keys/{id}/credits", "post", requests.post(s.url(f"/admin/keys/{made['id']}/credits"), json={"usd": 2}, headers=A, timeout=10))
        d.check("/admin/keys/{id}/revoke", "post", requests.post(s.url(f"/admin/keys/{made['id']}/revoke"), headers=A, timeout=10))
        d.check("/admin/keys", "get", requests.get(s.url("/admin/keys"), headers={"x-admin-token": "wrong"}, timeout=10))
        statuses = sorted({c for _, _, c in d.checked})
        print(f"  {len(d.checked)} (route, method, status) combinations validated against /openapi.json; statuses {statuses}")
        assert {200, 400, 401, 404, 406, 502} <= set(statuses)
    finally:
        s.cleanup()


if __name__ == "__main__":
    main()
