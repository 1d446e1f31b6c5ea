#!/usr/bin/env python3
"""Throughput of the gateway/worker split with the built-in model: jobs per second through one
gateway with 1 worker, then with 2 workers, in one run on this machine.

    bench/cluster_throughput.py [--imgapi build/imgapi] [--jobs 24] [--clients 4]
                                [--threads 1] [--quality high]

Starts a throw-away PostgreSQL (tests/support/pgtemp.sh), a gateway and the workers (each
--workers 1 --threads THREADS), sends JOBS requests of the seed's default request (its prompt,
1024x1024, the given quality, PNG) from CLIENTS concurrent clients after one warm-up request
per worker, and prints jobs/s and the median latency for each setup."""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PROMPT = ("Design a pop-art urban street-inspired cover. Bright yellow, red, cyan with black/white "
          "contrast. Include graffiti textures, comic-style murals, playful stickers, and "
          "hand-drawn typography. Bold, energetic, and vibrant style, ideal for street festivals, "
          "concerts, or city cultural events.")  # the seed's example


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(url, key, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "x-api-key": key})
    t0 = time.time()
    with urllib.request.urlopen(req, timeout=600) as r:
        r.read()
        assert r.status == 200
    return time.time() - t0


def run(args, url, nworkers, tmp):
    env = dict(os.environ, IMGAPI_STORE=url)
    subprocess.run(["psql", url, "-qc", "SET client_min_messages = warning;"
                    " DROP SCHEMA public CASCADE; CREATE SCHEMA public"], check=True)
    key = subprocess.run([args.imgapi, "keys", "create", "--credits", "1000", "--rpm", "100000",
                          "--concurrency", "1000"], env=env, capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    port = free_port()
    procs = [subprocess.Popen([args.imgapi, "serve", "--role", "gateway", "--listen",
                               f"127.0.0.1:{port}", "--workers", "32", "--queue-size", "256",
                               "--data-dir", tmp], env=env, stderr=subprocess.DEVNULL)]
    for _ in range(nworkers):
        procs.append(subprocess.Popen([args.imgapi, "serve", "--role", "worker", "--workers", "1",
                                       "--threads", str(args.threads), "--route-grace-ms", "0",
                                       "--data-dir", tmp], env=env, stderr=subprocess.DEVNULL))
    try:
        api = f"http://127.0.0.1:{port}/v1/gpt-image-1-mini"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        body = {"prompt": PROMPT, "size": "1024x1024", "quality": args.quality,
                "output_format": "png"}
        # warm-up: every worker loads the model
        warm = [threading.Thread(target=post, args=(api, key, dict(body, seed=10_000 + i)))
                for i in range(nworkers * 2)]
        [t.start() for t in warm]
        [t.join() for t in warm]
        lat, lock = [], threading.Lock()
        todo = list(range(args.jobs))

        def client():
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                dt = post(api, key, dict(body, seed=i))
                with lock:
                    lat.append(dt)

        t0 = time.time()
        th = [threading.Thread(target=client) for _ in range(args.clients)]
        [t.start() for t in th]
        [t.join() for t in th]
        wall = time.time() - t0
        return args.jobs / wall, statistics.median(lat), wall
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgapi", default=os.path.join(ROOT, "build", "imgapi"))
    ap.add_argument("--jobs", type=int, default=24)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quality", default="high")
    args = ap.parse_args()
    pgdir = tempfile.mkdtemp(prefix="imgapi-bench-pg-")
    tmp = tempfile.mkdtemp(prefix="imgapi-bench-")
    url = subprocess.run([os.path.join(ROOT, "tests", "support", "pgtemp.sh"), "start", pgdir,
                          str(free_port())], check=True, capture_output=True,
                         text=True).stdout.strip()
    try:
        print(f"{args.jobs} jobs ({args.quality}, 1024x1024 PNG), {args.clients} clients, "
              f"workers with 1 slot and {args.threads} engine thread(s), {os.cpu_count()} cores")
        base = None
        for n in (1, 2):
            rate, med, wall = run(args, url, n, tmp)
            base = base or rate
            print(f"{n} worker(s): {rate:.2f} jobs/s ({wall:.1f} s), median latency {med:.2f} s,"
                  f" {rate / base:.2f}x")
    finally:
        subprocess.run([os.path.join(ROOT, "tests", "support", "pgtemp.sh"), "drop", pgdir])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
