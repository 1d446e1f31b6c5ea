"""Several imgapi processes on one PostgreSQL: a real server (Debian's postgresql, started here
on a temporary data directory and a free loopback port), the store's unit tests on it, then
gateways as separate processes sharing keys, ledger and idempotency; a gateway killed with
SIGKILL mid-job (its reservation released by the others, never charged); two gateways and two
workers (--role gateway / worker): jobs spread over the workers and follow loaded models, a
worker killed mid-job (retried on the other, charged once), killed twice (502, released);
PostgreSQL restarted mid-run (clean 5xx answers, then recovery without restarting imgapi); a
stream behind a gateway gets the worker's step previews."""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from harness import Server, free_port, main, run_cli, test  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PGTEMP = os.path.join(ROOT, "tests", "support", "pgtemp.sh")
UNIT = os.environ.get("IMGAPI_UNIT_BIN", os.path.join(ROOT, "build", "unit_tests"))


class Postgres:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="imgapi-pg-")
        self.port = free_port()
        self.url = subprocess.run([PGTEMP, "start", self.dir, str(self.port)], check=True,
                                  capture_output=True, text=True, timeout=120).stdout.strip()

    def sql(self, query):
        return subprocess.run(["psql", self.url, "-qAtc", query], check=True, capture_output=True,
                              text=True, timeout=30).stdout.strip()

    def reset(self):
        self.sql("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    def stop(self):
        subprocess.run([PGTEMP, "stop", self.dir], check=True, timeout=60)

    def start(self):
        subprocess.run([PGTEMP, "start", self.dir, str(self.port)], check=True,
                       capture_output=True, timeout=120)

    def drop(self):
        subprocess.run([PGTEMP, "drop", self.dir], timeout=60)


PG = None


def pg():
    global PG
    if PG is None:
        PG = Postgres()
    return PG


def gateway(store, args=("--workers", "2", "--queue-size", "8"), **env):
    """A server on the shared store (by default --role all: it generates too)."""
    return Server(env=dict(env, IMGAPI_STORE=store), args=list(args)).start()


def cli(store, *args):
    return run_cli(list(args) + ["--store", store], tempfile.gettempdir())


def new_key(store, credits="1", *extra):
    return cli(store, "keys", "create", "--credits", credits, *extra).stdout.strip().splitlines()[-1]


def ledger(store, key):
    out = dict(line.split(": ", 1) for line in cli(store, "credits", "show", key).stdout.splitlines()
               if ": " in line)
    l = {k: int(round(float(out[k]) * 1e6)) for k in ("granted", "balance", "reserved", "charged")}
    assert l["granted"] == l["balance"] + l["reserved"] + l["charged"], l
    return l


BODY = {"prompt": "a red circle", "size": "1024x1024", "quality": "low"}


class Worker:
    """An `imgapi serve --role worker` process (no HTTP): it shows up in the workers table."""

    def __init__(self, pgs, slots=1, env=None, args=()):
        self.dir = tempfile.mkdtemp(prefix="imgapi-worker-")
        e = dict(os.environ, IMGAPI_STORE=pgs.url)
        e.update(env or {})
        self.log = open(os.path.join(self.dir, "worker.log"), "ab")
        self.proc = subprocess.Popen(
            [os.environ.get("IMGAPI_BIN", "build/imgapi-testserver"), "serve", "--role", "worker",
             "--workers", str(slots), "--data-dir", self.dir, *args],
            env=e, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            assert self.proc.poll() is None, self.read_log()
            if pgs.sql(f"SELECT count(*) FROM workers WHERE pid = {self.proc.pid}") == "1":
                self.id = pgs.sql(f"SELECT id FROM workers WHERE pid = {self.proc.pid}")
                return
            time.sleep(0.1)
        raise AssertionError("worker did not register: " + self.read_log())

    def read_log(self):
        with open(os.path.join(self.dir, "worker.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.log.close()
        text = self.read_log()
        for marker in ("Sanitizer", "runtime error:"):
            assert marker not in text, "sanitizer report in the worker log:\n" + text[-4000:]
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


def role_gateway(pgs, **env):
    """`--role gateway`: jobs go to the workers."""
    return gateway(pgs.url, ["--role", "gateway", "--workers", "16", "--queue-size", "32"], **env)


def jobs_by_worker(pgs):
    rows = pgs.sql("SELECT worker, count(*) FROM jobs WHERE status = 'collected' GROUP BY worker")
    return {w: int(n) for w, n in (r.split("|") for r in rows.splitlines() if r)}


@test
def test_store_unit_tests_on_postgres():
    p = pg()
    r = subprocess.run([UNIT, "store"], env=dict(os.environ, IMGAPI_TEST_PG=p.url),
                       capture_output=True, text=True, timeout=300)
    print(r.stdout, end="")
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"^(\d+) passed, 0 failed$", r.stdout, re.M)
    assert m and int(m.group(1)) >= 7, r.stdout  # every store test, the shared-database one too


@test
def test_gateways_share_keys_ledger_and_idempotency():
    p = pg()
    p.reset()
    a, b = gateway(p.url), gateway(p.url)
    try:
        key = new_key(p.url, "1", "--concurrency", "12")
        statuses = []

        def hit(s, i):
            r = s.post("/v1/gpt-image-1-mini", dict(BODY, seed=i), key=key)
            statuses.append(r.status_code)

        th = [threading.Thread(target=hit, args=(a if i % 2 else b, i)) for i in range(12)]
        [t.start() for t in th]
        [t.join() for t in th]
        assert statuses == [200] * 12, statuses
        l = ledger(p.url, key)
        assert l["charged"] == 12 * 5000 and l["reserved"] == 0, l  # low 1024x1024: $0.005
        # an Idempotency-Key answered by one gateway is replayed by the other, charged once
        h = {"Idempotency-Key": "order-1"}
        r1 = a.post("/v1/gpt-image-1-mini", BODY, key=key, headers=h)
        r2 = b.post("/v1/gpt-image-1-mini", BODY, key=key, headers=h)
        assert r1.status_code == r2.status_code == 200 and r1.content == r2.content
        assert ledger(p.url, key)["charged"] == 13 * 5000
        # a key revoked through one gateway's store is refused by the other at once
        cli(p.url, "keys", "revoke", key)
        assert b.post("/v1/gpt-image-1-mini", BODY, key=key).status_code == 403
    finally:
        a.cleanup()
        b.cleanup()


@test
def test_rate_and_concurrency_limits_hold_across_gateways():
    p = pg()
    p.reset()
    # the request windows are minutes of the database's clock: keep the test inside one
    while time.gmtime().tm_sec > 30:
        time.sleep(1)
    a = gateway(p.url, IMGAPI_TEST_STEP_MS="400")  # 1.6 s jobs
    b = gateway(p.url)
    try:
        key = new_key(p.url, "1", "--rpm", "5", "--concurrency", "1")
        # one job running through a: b refuses a second one for the same key
        res = {}
        t = threading.Thread(target=lambda: res.update(r=a.post("/v1/gpt-image-1-mini", BODY, key=key)))
        t.start()
        deadline = time.time() + 10
        while ledger(p.url, key)["reserved"] == 0 and time.time() < deadline:
            time.sleep(0.05)
        r = b.post("/v1/gpt-image-1-mini", BODY, key=key)
        assert r.status_code == 429 and r.json()["code"] == "concurrency_limit_exceeded", r.text
        assert int(r.headers["Retry-After"]) >= 1
        t.join()
        assert res["r"].status_code == 200
        # 5 requests a minute for the key, whichever gateway they reach (the one above counted)
        codes = [(b if i % 2 else a).post("/v1/gpt-image-1-mini", dict(BODY, seed=i), key=key).status_code
                 for i in range(5)]
        assert codes == [200] * 4 + [429], codes
        r = b.post("/v1/gpt-image-1-mini", BODY, key=key)
        assert r.status_code == 429 and r.json()["code"] == "rate_limit_exceeded", r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert ledger(p.url, key)["charged"] == 5 * 5000
    finally:
        a.cleanup()
        b.cleanup()


@test
def test_sigkilled_gateway_reservation_released_by_the_others():
    p = pg()
    p.reset()
    a = gateway(p.url, IMGAPI_TEST_STEP_MS="3000")  # a 12 s job
    b = gateway(p.url)
    try:
        key = new_key(p.url, "1")
        def doomed():  # its gateway dies under it: the connection drops
            try:
                a.post("/v1/gpt-image-1-mini", BODY, key=key, timeout=60)
            except requests.RequestException:
                pass

        t = threading.Thread(target=doomed)
        t.start()
        deadline = time.time() + 10
        while ledger(p.url, key)["reserved"] == 0 and time.time() < deadline:
            time.sleep(0.1)
        assert ledger(p.url, key)["reserved"] == 5000
        a.kill()
        t.join()
        # b's heartbeat finds a dead (no beat for 30 s) and returns what it held: once
        deadline = time.time() + 60
        while ledger(p.url, key)["reserved"] and time.time() < deadline:
            time.sleep(0.5)
        l = ledger(p.url, key)
        assert l == {"granted": 1000000, "balance": 1000000, "reserved": 0, "charged": 0}, l
        assert b.post("/v1/gpt-image-1-mini", BODY, key=key).status_code == 200
        assert ledger(p.url, key)["charged"] == 5000
    finally:
        a.cleanup()
        b.cleanup()


@test
def test_workers_share_the_jobs_and_follow_loaded_models():
    p = pg()
    p.reset()
    g1, g2 = role_gateway(p), role_gateway(p)
    w1 = Worker(p, env={"IMGAPI_TEST_STEP_MS": "100"})
    w2 = Worker(p, env={"IMGAPI_TEST_STEP_MS": "100"})
    try:
        key = new_key(p.url, "1", "--concurrency", "20")
        out = []
        th = [threading.Thread(target=lambda i=i: out.append(
            (g1 if i % 2 else g2).post("/v1/gpt-image-1-mini", dict(BODY, seed=i), key=key)))
            for i in range(10)]
        [t.start() for t in th]
        [t.join() for t in th]
        assert [r.status_code for r in out] == [200] * 10, [r.text for r in out]
        # the images are the ones the generator makes for each seed (not mixed up)
        again = g1.post("/v1/gpt-image-1-mini", dict(BODY, seed=3), key=key)
        first = [r for r in out if r.json()["data"][0]["b64_json"] == again.json()["data"][0]["b64_json"]]
        assert len(first) == 1, "seed 3's image must come back identical, once"
        spread = jobs_by_worker(p)
        assert set(spread) == {w1.id, w2.id} and sum(spread.values()) == 11, spread
        # test-model-2 is loaded by whichever worker takes it first; later jobs for it go there
        m2 = dict(BODY, model="test-model-2")
        assert g2.post("/v1/images/generations", m2, key=key).status_code == 200
        owner = p.sql("SELECT worker FROM jobs WHERE model = 'test-model-2'")
        time.sleep(1.5)  # its next advertisement lists the model as loaded
        for _ in range(4):
            assert g1.post("/v1/images/generations", m2, key=key).status_code == 200
        workers = p.sql("SELECT DISTINCT worker FROM jobs WHERE model = 'test-model-2'")
        assert workers == owner, (workers, owner)
        assert p.sql("SELECT loaded FROM workers WHERE id = '%s'" % owner).count("test-model-2") == 1
        # the asynchronous route and a stream work behind a gateway too: submitted to g1,
        # polled on g2 (the request lives in the shared store)
        r = g1.post("/v2/gpt-image-1-mini", dict(BODY, seed=77), key=key)
        assert r.status_code == 200, r.text
        rid, deadline, st = r.json()["request_id"], time.time() + 30, None
        while time.time() < deadline:
            st = requests.get(g2.url(f"/v2/requests/{rid}/status"), headers={"x-api-key": key},
                              timeout=30).json()["status"]
            if st in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.1)
        assert st == "COMPLETED", st
        res = requests.get(g2.url(f"/v2/requests/{rid}"), headers={"x-api-key": key}, timeout=30)
        assert res.status_code == 200 and res.json()["output"]["data"][0]["seed"] == 77, res.text[:200]
        sr = requests.post(g2.url("/v1/images/generations"), headers={"x-api-key": key},
                           json=dict(BODY, stream=True), stream=True, timeout=60)
        events = [line for line in sr.iter_lines() if line.startswith(b"data:")]
        assert sr.status_code == 200 and b"image_generation.completed" in events[-1], events[-1:]
        l = ledger(p.url, key)
        assert l["charged"] == 18 * 5000 and l["reserved"] == 0, l
    finally:
        g1.cleanup()
        g2.cleanup()
        w1.stop()
        w2.stop()


@test
def test_stream_previews_cross_from_worker_to_gateway():
    """A stream behind a gateway gets the worker's step previews as partial images (the test
    generator's preview after step k is grey 60*k), not only the final image."""
    import base64
    import io
    import json
    from PIL import Image
    p = pg()
    p.reset()
    g = role_gateway(p)
    w = Worker(p, env={"IMGAPI_TEST_STEP_MS": "300"})
    try:
        key = new_key(p.url, "1")
        sr = requests.post(g.url("/v1/images/generations"), headers={"x-api-key": key},
                           json=dict(BODY, stream=True, partial_images=2, output_format="png",
                                     size="1024x1024"), stream=True, timeout=60)
        assert sr.status_code == 200, sr.text
        events = [json.loads(line[5:]) for line in sr.iter_lines() if line.startswith(b"data:")]
        kinds = [e["type"] for e in events]
        assert kinds == ["image_generation.partial_image"] * 2 + ["image_generation.completed"], kinds
        greys = []
        for e in events[:2]:
            im = Image.open(io.BytesIO(base64.b64decode(e["b64_json"]))).convert("L")
            lo, hi = im.getextrema()
            assert lo == hi, (lo, hi)  # one grey level: the relayed preview, resized
            greys.append(lo)
        # partial 1 once 2 of 4 steps are done, partial 2 after 3 (relayed at most 0.25 s late)
        assert greys[0] in (120, 180, 240) and greys[1] in (180, 240) and greys[1] >= greys[0], greys
        step, steps, pstep = map(int, p.sql("SELECT step, steps, preview_step FROM jobs").split("|"))
        assert steps == 4 and 3 <= step <= 4 and 3 <= pstep <= 4, (step, steps, pstep)
        assert p.sql("SELECT preview IS NULL FROM jobs") == "t"  # not kept once finished
        l = ledger(p.url, key)
        assert l["charged"] > 0 and l["reserved"] == 0, l
    finally:
        g.cleanup()
        w.stop()


def kill_worker_running(p, workers, job_filter="status = 'running'", timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        wid = p.sql(f"SELECT worker FROM jobs WHERE {job_filter}")
        for w in workers:
            if w.id == wid and w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
                return w
        time.sleep(0.05)
    raise AssertionError("no worker ran the job")


@test
def test_edits_cross_from_gateway_to_worker():
    """An edit behind a gateway: its input image and mask travel to a worker through the job
    row, the result comes back, the row's copy of the input is dropped once collected; a
    two-image edit's second image travels too."""
    import base64
    import io
    import numpy as np
    from PIL import Image
    p = pg()
    p.reset()
    g = role_gateway(p)
    w = Worker(p)
    try:
        key = new_key(p.url, "1")
        a = np.zeros((64, 96, 3), np.uint8)
        a[:, :48] = (220, 30, 30)
        a[:, 48:] = (30, 30, 220)
        png, mpng = io.BytesIO(), io.BytesIO()
        Image.fromarray(a).save(png, "PNG")
        alpha = np.full((64, 96), 255, np.uint8)
        alpha[:, :48] = 0
        Image.fromarray(np.dstack([a, alpha]), "RGBA").save(mpng, "PNG")
        r = requests.post(g.url("/v1/images/edits"), headers={"Authorization": f"Bearer {key}"}, timeout=60,
                          files={"image": ("a.png", png.getvalue(), "image/png"),
                                 "mask": ("m.png", mpng.getvalue(), "image/png")},
                          data={"prompt": "p", "quality": "low"})
        assert r.status_code == 200, r.text[:300]
        px = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["data"][0]["b64_json"]))).convert("RGB"))
        assert px.shape == (1024, 1536, 3), px.shape
        # the test backend inverts its input: the masked left half inverted, the right half kept
        assert np.abs(px[512, 1300].astype(int) - (30, 30, 220)).max() < 8, px[512, 1300]
        assert np.abs(px[512, 200].astype(int) - (35, 225, 225)).max() < 8, px[512, 200]
        assert p.sql("SELECT count(*) FROM jobs WHERE input IS NOT NULL OR input_mask IS NOT NULL") == "0"
        assert p.sql("SELECT count(DISTINCT worker) FROM jobs") == "1"
        # the JSON edit of the seed route
        body = {"prompt": "p", "quality": "low", "image": base64.b64encode(png.getvalue()).decode()}
        assert g.post("/v1/gpt-image-1-mini", body, key=key).status_code == 200
        # a two-image edit: the second image's pixels travel after the first's in the row (the
        # test backend paints the last image's mean colour top left)
        b2 = io.BytesIO()
        Image.new("RGB", (50, 30), (10, 160, 90)).save(b2, "PNG")
        r = requests.post(g.url("/v1/images/edits"), headers={"Authorization": f"Bearer {key}"}, timeout=60,
                          files=[("image[]", ("a.png", png.getvalue(), "image/png")),
                                 ("image[]", ("b.png", b2.getvalue(), "image/png"))],
                          data={"prompt": "p", "quality": "low", "model": "test-model-2", "size": "1024x1024"})
        assert r.status_code == 200, r.text[:300]
        px = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["data"][0]["b64_json"]))).convert("RGB"))
        assert np.abs(px[8, 8].astype(int) - (10, 160, 90)).max() <= 3, px[8, 8]
        assert p.sql("SELECT count(*) FROM jobs WHERE input IS NOT NULL OR input_mask IS NOT NULL") == "0"
        l = ledger(p.url, key)
        assert l["reserved"] == 0 and l["charged"] > 2 * 7000, l
    finally:
        g.cleanup()
        w.stop()


@test
def test_a1111_settings_cross_from_gateway_to_worker():
    """An A1111 txt2img behind a gateway: its steps, sampler and scheduler reach the worker (the
    test backend marks its image with them), and the ledger charges it once."""
    import base64
    import io
    import numpy as np
    from PIL import Image
    p = pg()
    p.reset()
    g = gateway(p.url, ["--role", "gateway", "--workers", "4", "--queue-size", "8"])
    w = Worker(p)
    try:
        key = new_key(p.url, "1")
        r = g.post("/sdapi/v1/txt2img", {"prompt": "a red circle", "seed": 4, "steps": 9, "sampler_name": "Euler a",
                                         "scheduler": "karras", "width": 512, "height": 512}, key=key)
        assert r.status_code == 200, r.text[:300]
        px = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))).convert("RGB"))
        assert np.abs(px[4, 508].astype(int) - (45, 80, 80)).max() <= 2, px[4, 508]
        led = ledger(p.url, key)
        assert led["charged"] > 0 and led["reserved"] == 0, led
    finally:
        g.cleanup()
        w.stop()


def test_loras_cross_from_gateway_to_worker():
    """Adapters named by a request behind a gateway reach the worker (the test backend marks its
    image with them); one the worker cannot apply comes back as the 400 naming it, and costs
    nothing; an unknown one is refused by the gateway before anything is queued."""
    import base64
    import io
    import numpy as np
    from PIL import Image
    p = pg()
    p.reset()
    lora_dir = tempfile.mkdtemp(prefix="imgapi-loras-")
    for name in ("style", "misfit"):
        with open(os.path.join(lora_dir, name + ".safetensors"), "wb") as f:
            f.write(b"x")  # the gateway checks the names; the test backend applies nothing
    g = gateway(p.url, ["--role", "gateway", "--workers", "4", "--queue-size", "8", "--lora-dir", lora_dir])
    w = Worker(p)
    try:
        key = new_key(p.url, "1")
        r = g.post("/v1/gpt-image-1-mini", dict(BODY, prompt="a red circle <lora:style:0.5>"), key=key)
        assert r.status_code == 200, r.text[:300]
        px = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["data"][0]["b64_json"]))).convert("RGB"))
        assert np.abs(px[20, 20].astype(int) - (40, 50, 50)).max() <= 2, px[20, 20]
        before = ledger(p.url, key)
        r = g.post("/v1/gpt-image-1-mini", dict(BODY, loras=[{"name": "misfit"}]), key=key)
        assert r.status_code == 400 and "misfit" in r.text and "does not fit" in r.text, r.text
        assert "worker" not in r.text, r.text
        r = g.post("/v1/gpt-image-1-mini", dict(BODY, loras=[{"name": "nowhere"}]), key=key)
        assert r.status_code == 400 and "Unknown LoRA 'nowhere'" in r.text, r.text
        assert ledger(p.url, key) == before
    finally:
        g.cleanup()
        w.stop()
        shutil.rmtree(lora_dir, ignore_errors=True)


@test
def test_killed_worker_job_retried_once_then_502_and_released():
    p = pg()
    p.reset()
    g = role_gateway(p)
    env = {"IMGAPI_TEST_STEP_MS": "750"}  # 3 s jobs, 2 s leases
    args = ("--job-lease-seconds", "2")
    w1, w2 = Worker(p, env=env, args=args), Worker(p, env=env, args=args)
    try:
        key = new_key(p.url, "1")
        res = {}
        t = threading.Thread(target=lambda: res.update(r=g.post("/v1/gpt-image-1-mini", BODY, key=key)))
        t.start()
        dead = kill_worker_running(p, [w1, w2])
        t.join()
        # the other worker took it after the lease ran out: one answer, charged once
        assert res["r"].status_code == 200, res["r"].text
        assert p.sql("SELECT attempts FROM jobs") == "2"
        l = ledger(p.url, key)
        assert l["charged"] == 5000 and l["reserved"] == 0, l
        live = w2 if dead is w1 else w1
        # both workers die on the next job: the gateway answers 502 and releases the credits
        w3 = Worker(p, env=env, args=args)
        p.sql("DELETE FROM jobs")
        t = threading.Thread(target=lambda: res.update(r=g.post("/v1/gpt-image-1-mini", BODY, key=key)))
        t.start()
        kill_worker_running(p, [live, w3])
        kill_worker_running(p, [live, w3], "status = 'running' AND attempts = 2")
        t.join()
        assert res["r"].status_code == 502 and res["r"].json()["code"] == "generation_failed", res["r"].text
        l = ledger(p.url, key)
        assert l["charged"] == 5000 and l["reserved"] == 0 and l["balance"] == 995000, l
        w1.stop(), w2.stop(), w3.stop()
    finally:
        g.cleanup()
        for w in (w1, w2):
            if w.proc.poll() is None:
                w.stop()


@test
def test_deployment_files_match_the_binary():
    """deploy/: every flag and IMGAPI_* variable the manifests and the unit pass is one that
    `imgapi serve` knows, secrets referenced exist, and the KEDA queue-depth query runs on the
    migrated schema."""
    import yaml
    known = set(re.findall(r"^  --([a-z0-9-]+)", subprocess.run(
        [os.environ.get("IMGAPI_PROD_BIN", "build/imgapi"), "serve", "--help"], capture_output=True,
        text=True, check=True).stdout, re.M)) | {"config"}
    deploy = os.path.join(ROOT, "deploy")
    docs = {}
    for name in sorted(os.listdir(os.path.join(deploy, "kubernetes"))):
        with open(os.path.join(deploy, "kubernetes", name)) as f:
            docs[name] = [d for d in yaml.safe_load_all(f) if d]
    secret_keys = {k for d in docs["secret.yaml"] for k in d["stringData"]}
    kinds = [d["kind"] for ds in docs.values() for d in ds]
    for k in ("Deployment", "Service", "Secret", "HorizontalPodAutoscaler", "ScaledObject"):
        assert k in kinds, kinds
    roles = set()
    for ds in docs.values():
        for d in ds:
            if d["kind"] != "Deployment":
                continue
            for c in d["spec"]["template"]["spec"]["containers"]:
                args = c["args"]
                assert args[0] == "serve"
                roles.add(args[args.index("--role") + 1])
                for a in args:
                    if a.startswith("--"):
                        assert a[2:] in known, a
                for e in c.get("env", []):
                    assert e["name"].startswith("IMGAPI_"), e
                    assert e["name"][7:].lower().replace("_", "-") in known, e
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["name"] == "imgapi-store" and ref["key"] in secret_keys, ref
    assert roles == {"gateway", "worker"}, roles
    with open(os.path.join(deploy, "systemd", "imgapi@.service")) as f:
        unit = f.read()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    for a in re.findall(r"--([a-z0-9-]+)", exec_start):
        assert a in known, a
    p = pg()
    p.reset()
    cli(p.url, "keys", "list")  # migrates the schema
    query = [d for d in docs["keda-worker-scaler.yaml"] if d["kind"] == "ScaledObject"][0]
    assert p.sql(query["spec"]["triggers"][0]["metadata"]["query"]) == "0"


def restart_case(p, a):
    key = new_key(p.url, "1")
    assert a.post("/v1/gpt-image-1-mini", BODY, key=key).status_code == 200
    p.stop()
    try:
        r = a.post("/v1/gpt-image-1-mini", BODY, key=key, timeout=30)
        assert r.status_code in (500, 502, 503), (r.status_code, r.text)
        assert "error" in r.json(), r.text
        rd = requests.get(a.url("/readyz"), timeout=30)
        assert rd.status_code == 502 and rd.json()["store"] is False, rd.text
    finally:
        p.start()
    # the next requests reconnect: no imgapi restart
    deadline = time.time() + 30
    code = 0
    while time.time() < deadline:
        code = a.post("/v1/gpt-image-1-mini", BODY, key=key).status_code
        if code == 200:
            break
        time.sleep(0.5)
    assert code == 200, code
    l = ledger(p.url, key)
    assert l["charged"] == 2 * 5000 and l["reserved"] == 0, l


@test
def test_postgres_restart_fails_cleanly_and_recovers():
    p = pg()
    p.reset()
    a = gateway(p.url)
    try:
        restart_case(p, a)
    finally:
        a.cleanup()
    # the same with the job queue between a gateway and a worker
    p.reset()
    g, w = role_gateway(p), None
    try:
        w = Worker(p)
        restart_case(p, g)
    finally:
        g.cleanup()
        if w:
            w.stop()


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        if PG:
            PG.drop()
    sys.exit(rc)
