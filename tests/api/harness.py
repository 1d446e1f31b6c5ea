"""Black-box test harness: starts real imgapi servers on loopback and drives them over HTTP.

Only loopback addresses are used. Every server gets its own temporary data directory."""
import base64
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import requests
from PIL import Image

BIN = os.environ.get("IMGAPI_BIN", "build/imgapi-testserver")
PROD_BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_cli(args, data_dir, check=True, binary=None):
    p = subprocess.run([binary or BIN] + args + ["--data-dir", data_dir],
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"imgapi {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


class Server:
    """One imgapi-testserver process (or `binary`) with its own data directory."""

    def __init__(self, data_dir=None, env=None, args=None, binary=None):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="imgapi-test-")
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.args = args or []
        self.binary = binary
        self.proc = None
        self.port = None

    def start(self):
        self.port = free_port()
        self.log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [self.binary or BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
             "--admin-token", "admin-secret"] + self.args,
            env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited at start: " + self.read_log())
            try:
                if requests.get(self.url("/healthz"), timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        raise AssertionError("server did not start")

    def read_log(self):
        with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
            text = self.read_log()
            # A sanitizer build reports memory errors, leaks and undefined behaviour in the log.
            for marker in ("Sanitizer", "runtime error:"):
                if marker in text:
                    raise AssertionError("sanitizer report in the server log:\n" + text[-4000:])
        return code

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # helpers
    def new_key(self, credits="10", *extra):
        p = run_cli(["keys", "create", "--credits", str(credits), *extra], self.data_dir,
                    binary=self.binary)
        return p.stdout.strip().splitlines()[-1]

    def ledger(self, key):
        p = run_cli(["credits", "show", key], self.data_dir, binary=self.binary)
        out = {}
        for line in p.stdout.splitlines():
            k, _, v = line.partition(": ")
            out[k] = v
        return {k: int(round(float(out[k]) * 1e6)) for k in ("granted", "balance", "reserved", "charged")}

    def post(self, path, body, key=None, headers=None, **kw):
        h = {"Content-Type": "application/json"}
        if key:
            h["x-api-key"] = key
        h.update(headers or {})
        return requests.post(self.url(path), json=body, headers=h, timeout=kw.pop("timeout", 60), **kw)


def check_invariant(server, key):
    l = server.ledger(key)
    assert l["granted"] == l["balance"] + l["reserved"] + l["charged"], l
    return l


def decode_image(b64):
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def seed_error(resp, status, code=None, param=None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    j = resp.json()
    assert isinstance(j["error"], str) and j["error"], j
    assert "code" in j and "param" in j, j
    if code:
        assert j["code"] == code, j
    if param is not None:
        assert j["param"] == param, j
    assert resp.headers.get("x-request-id"), resp.headers
    return j


def openai_error(resp, status, code=None, param=None):
    assert resp.status_code == status, (resp.status_code, resp.text)
    j = resp.json()["error"]
    assert j["message"] and j["type"], j
    if code:
        assert j["code"] == code, j
    if param is not None:
        assert j["param"] == param, j
    return j


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    passed = failed = 0
    for fn in TESTS:
        if only and only not in fn.__name__:
            continue
        t0 = time.time()
        try:
            fn()
            passed += 1
            print(f"ok   {fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {fn.__name__}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
