"""Several imgapi processes on one PostgreSQL: a real server (Debian's postgresql, started here
on a temporary data directory and a free loopback port), the store's unit tests on it, then
gateways as separate processes sharing keys, ledger and idempotency; a gateway killed with
SIGKILL mid-job (its reservation released by the others, never charged); PostgreSQL restarted
mid-run (clean 5xx answers, then recovery without restarting imgapi)."""
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


def gateway(store, **env):
    e = {"IMGAPI_STORE": store}
    e.update(env)
    return Server(env=e, args=["--workers", "2", "--queue-size", "8"]).start()


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
def test_sigkilled_gateway_reservation_released_by_the_others():
    p = pg()
    p.reset()
    a = gateway(p.url, IMGAPI_TEST_STEP_MS="3000")  # a 12 s job
    b = gateway(p.url)
    try:
        key = new_key(p.url, "1")
        t = threading.Thread(target=lambda: a.post("/v1/gpt-image-1-mini", BODY, key=key, timeout=60))
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
def test_postgres_restart_fails_cleanly_and_recovers():
    p = pg()
    p.reset()
    a = gateway(p.url)
    try:
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
    finally:
        a.cleanup()


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        if PG:
            PG.drop()
    sys.exit(rc)
