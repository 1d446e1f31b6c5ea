"""Regressions for the outside probe's defects (issue: hardening, second round), black-box.

Each test covers the class a defect belongs to, not only the probe's example:
1. slow headers hold no slot: a total header deadline, a per-address cap that makes room by
   closing that address's oldest connection still sending headers, /healthz served throughout;
2. every echoed value is cut on character boundaries (unknown field names, model names, on every
   route), so a 400 never becomes a 500;
3. nothing a client sends can forge or split a log line (control bytes in the path, headers);
4. no API key secret reaches a response or the log (admin routes address keys by id);
5. every money path is bounded and checked (grants, balances, key creation, prices, limits);
6. webhook targets: every IPv4-in-IPv6 embedding and reserved IPv6 range is refused;
7. one JSON reader on every route: duplicate keys refused everywhere (v2 with webhook_url too);
8. a NUL in any string or field name is refused, never matched as a prefix;
9. a chunked body over the limit gets its 413;
and the smaller ones: the 406 message's balance, `user` counted in characters, HEAD on GET
routes, conflicting Content-Length, limits that do not fit. Only loopback; every loop is bounded."""
import json
import os
import socket
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check_invariant, main, run_cli, test  # noqa: E402

ADMIN = {"x-admin-token": "admin-secret"}


def _raw(port, data, timeout=5.0, read=True):
    """Sends raw bytes on a new connection and returns what the server answers before closing."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(data)
        if not read:
            return c
        out = b""
        c.settimeout(timeout)
        while True:
            try:
                d = c.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:") and len(body) >= int(line.split(b":")[1]):
                        return out
        return out
    finally:
        if read:
            c.close()


def _closed_within(c, seconds):
    """True when the server closes (or resets) connection c within seconds."""
    c.settimeout(0.2)
    end = time.time() + seconds
    while time.time() < end:
        try:
            if c.recv(4096) == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError, OSError):
            return True
    return False


@test
def test_slow_headers_never_starve_healthz_with_defaults():
    # the default configuration: 200 connections from this address each send a header line every
    # second and never finish; /healthz (same address) is answered within 1 s throughout
    s = Server().start()
    socks = []
    try:
        for _ in range(200):
            try:
                c = socket.create_connection(("127.0.0.1", s.port), timeout=2)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                socks.append(c)
            except OSError:
                pass
        answered = 0
        for i in range(12):
            for c in socks:
                try:
                    c.sendall(b"X-Drip: %d\r\n" % i)
                except OSError:
                    pass
            r = requests.get(s.url("/healthz"), timeout=1)  # a timeout here fails the test
            assert r.status_code == 200
            answered += 1
            time.sleep(0.5)
        m = requests.get(s.url("/metrics"), timeout=1).text
        assert 'imgapi_connections_closed_total{reason="evicted"}' in m, m[-600:]
        print(f"  /healthz answered {answered}/12 times within 1 s beside 200 dripping header connections")
    finally:
        for c in socks:
            c.close()
        s.cleanup()


@test
def test_header_deadline_per_address_cap_and_body_rate():
    s = Server(args=["--header-timeout-seconds", "2", "--max-connections-per-ip", "4",
                     "--max-connections", "8", "--body-min-rate", "200"]).start()
    socks = []
    try:
        # a header line every 0.5 s never idles, yet the headers' total deadline closes it
        c = socket.create_connection(("127.0.0.1", s.port))
        socks.append(c)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0, closed = time.time(), False
        for i in range(20):
            try:
                c.sendall(b"X-Drip: %d\r\n" % i)
            except OSError:
                closed = True
                break
            if _closed_within(c, 0.5):
                closed = True
                break
        assert closed, "a connection dripping header lines was never closed"
        assert time.time() - t0 < 8
        # the address cap: a fifth connection still sending headers closes the oldest such one
        first = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(4)]
        socks += first
        for c in first:
            c.sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(0.05)
        fifth = socket.create_connection(("127.0.0.1", s.port))
        socks.append(fifth)
        assert _closed_within(first[0], 1.5), "the oldest header-phase connection was not closed for room"
        fifth.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        fifth.settimeout(2)
        assert fifth.recv(4096).startswith(b"HTTP/1.1 200")
        # a body that falls under the minimum rate after its grace period is closed
        key = s.new_key("1")
        c = socket.create_connection(("127.0.0.1", s.port))
        socks.append(c)
        c.sendall(b"POST /v1/gpt-image-1-mini HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"x-api-key: " + key.encode() + b"\r\nContent-Length: 5000\r\n\r\n{")
        cut = False
        for _ in range(40):  # 10 bytes/s, far under 200 bytes/s
            try:
                c.sendall(b" " * 10)
            except OSError:
                cut = True
                break
            if _closed_within(c, 0.25):
                cut = True
                break
        assert cut, "a body under the minimum rate was never cut"
        m = requests.get(s.url("/metrics"), timeout=2).text
        for reason in ("slow_headers", "slow_body", "evicted"):
            line = [x for x in m.splitlines() if f'reason="{reason}"' in x and not x.startswith("#")]
            assert line and int(line[0].split()[-1]) >= 1, (reason, line)
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
    finally:
        for c in socks:
            c.close()
        s.cleanup()


def _multibyte_cuts():
    """Names and values whose 64-byte or 128-byte cut falls inside a multi-byte character."""
    out = []
    for ch in ("é", "€", "😀"):
        for n in list(range(58, 66)) + list(range(122, 130)) + [195, 198, 199, 200, 201]:
            out.append("a" * n + ch * 3)
    return out


@test
def test_echoed_values_cut_on_character_boundaries():
    s = Server().start()
    try:
        key = s.new_key("1")
        hk = {"x-api-key": key, "Content-Type": "application/json"}
        checked = 0
        for name in _multibyte_cuts():
            # the probe's first example, and the same on every route that validates fields
            for path in ("/v1/gpt-image-1-mini", "/v1/images/generations", "/v2/gpt-image-1-mini"):
                r = requests.post(s.url(path), data=json.dumps({"prompt": "a", name: 1}).encode(), headers=hk,
                                  timeout=10)
                assert r.status_code == 400, (path, len(name), r.status_code, r.text[:200])
                j = r.json()
                err = j["error"] if isinstance(j["error"], dict) else j
                assert err.get("code") == "unknown_parameter", j
                checked += 1
            # the probe's second example: a model name
            r = requests.post(s.url("/v1/images/generations"), json={"prompt": "a", "model": name[:128]},
                              headers=hk, timeout=10)
            assert r.status_code in (400, 404) and r.json()["error"]["message"], (len(name), r.text[:200])
            # an admin field name
            r = requests.post(s.url("/admin/keys"), data=json.dumps({name: 1}).encode(),
                              headers={**ADMIN, "Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 400 and r.json()["error"], r.text[:200]
            checked += 2
        print(f"  {checked} echoed names and values cut inside a character: every answer a JSON 400/404")
    finally:
        s.cleanup()


@test
def test_no_client_bytes_forge_or_split_log_lines():
    s = Server().start()
    try:
        key = s.new_key("1")
        paths = ["/x%0aFORGED-LINE-1", "/x%0d%0aFORGED-LINE-2", "/x%1b[31mFORGED-3", "/x%0bFORGED-4%7f",
                 "/v1/%0aFORGED-5", "/admin/keys/%0aFORGED-6/revoke", "/x%c2%85FORGED-7", "/x%ffFORGED-8"]
        for p in paths:
            _raw(s.port, b"GET " + p.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        # a job that fails logs the request id and the engine's message; a prompt is never logged
        s.post("/v1/gpt-image-1-mini", {"prompt": "x\nFORGED-9 [fail]", "quality": "low"}, key)
        time.sleep(0.3)
        log = open(os.path.join(s.data_dir, "server.log"), "rb").read()
        for line in log.split(b"\n"):
            assert not line.startswith(b"FORGED"), line
            assert b"\r" not in line and b"\x1b" not in line and b"\x0b" not in line and b"\x7f" not in line, line
            assert b"\xc2\x85" not in line, line
            line.decode("utf-8")  # every line is valid UTF-8
        assert b"\\nFORGED-LINE-1" in log and b"\\x1B[31mFORGED-3" in log, log[-2000:]
        assert b"\\u0085FORGED-7" in log and b"\\xFFFORGED-8" in log, log[-2000:]
    finally:
        s.cleanup()


@test
def test_secrets_never_in_responses_or_log():
    s = Server().start()
    try:
        r = requests.post(s.url("/admin/keys"), json={"credits": "1"}, headers=ADMIN, timeout=10)
        assert r.status_code == 200, r.text
        kid, secret = r.json()["id"], r.json()["key"]
        answers = []
        # addressed by id: the way documented
        answers.append(requests.get(s.url(f"/admin/keys/{kid}"), headers=ADMIN, timeout=10))
        answers.append(requests.post(s.url(f"/admin/keys/{kid}/credits"), json={"usd": "1"}, headers=ADMIN, timeout=10))
        # by secret (old scripts): accepted, but the secret is echoed nowhere and redacted in the log
        answers.append(requests.get(s.url(f"/admin/keys/{secret}"), headers=ADMIN, timeout=10))
        answers.append(requests.post(s.url(f"/admin/keys/{secret}/credits"), json={"usd": "1"}, headers=ADMIN, timeout=10))
        answers.append(requests.post(s.url(f"/admin/keys/{secret}/revoke"), headers=ADMIN, timeout=10))
        answers.append(requests.post(s.url(f"/admin/keys/{secret}x/revoke"), headers=ADMIN, timeout=10))
        answers.append(requests.post(s.url("/v1/gpt-image-1-mini"), json={"prompt": "a"},
                                     headers={"x-api-key": secret}, timeout=10))
        for a in answers[:5]:
            assert a.status_code == 200, a.text
        assert answers[4].json() == {"id": kid, "revoked": True}, answers[4].text
        assert answers[5].status_code == 404 and answers[6].status_code == 403
        for a in answers:
            assert secret not in a.text and secret[3:] not in a.text, a.text
            assert all(secret not in v for v in a.headers.values())
        time.sleep(0.2)
        log = s.read_log()
        assert secret not in log and secret[3:40] not in log, "a secret reached the log"
        assert "sk-[redacted]" in log
        p = run_cli(["keys", "list"], s.data_dir)
        assert secret not in p.stdout
    finally:
        s.cleanup()


@test
def test_money_paths_bounded_and_checked():
    s = Server().start()
    try:
        r = requests.post(s.url("/admin/keys"), json={"credits": "1"}, headers=ADMIN, timeout=10)
        kid = r.json()["id"]
        key = r.json()["key"]
        # the probe: ten grants of a trillion dollars; each is refused, nothing moves
        for _ in range(10):
            g = requests.post(s.url(f"/admin/keys/{kid}/credits"), json={"usd": "1000000000000"}, headers=ADMIN,
                              timeout=10)
            assert g.status_code == 400 and g.json()["param"] == "usd", g.text
        # grants up to the bound pass; one more cent does not, and says why
        for amount in ("499999999", "500000000"):
            g = requests.post(s.url(f"/admin/keys/{kid}/credits"), json={"usd": amount}, headers=ADMIN, timeout=10)
            assert g.status_code == 200, g.text
        g = requests.post(s.url(f"/admin/keys/{kid}/credits"), json={"usd": "0.01"}, headers=ADMIN, timeout=10)
        assert g.status_code == 400 and g.json()["code"] == "grant_limit_exceeded", g.text
        for bad in (-1, "-1", "1e3", "abc", 1e300, "0." + "0" * 70 + "1", "1" * 80, None, [], {}):
            g = requests.post(s.url(f"/admin/keys/{kid}/credits"), json={"usd": bad}, headers=ADMIN, timeout=10)
            assert g.status_code == 400, (bad, g.text)
        l = check_invariant(s, key)
        assert l["granted"] == 1_000_000_000 * 1_000_000, l
        # charges still move the balance exactly at the top of the range
        assert s.post("/v1/gpt-image-1-mini", {"prompt": "a", "quality": "low"}, key).status_code == 200
        l2 = check_invariant(s, key)
        assert l2["balance"] == l["balance"] - 5000 and l2["charged"] == 5000, l2
        # the CLI path: the same bound
        p = run_cli(["credits", "add", kid, "1"], s.data_dir, check=False)
        assert p.returncode != 0 and "range" in p.stderr, p.stderr
        p = run_cli(["keys", "create", "--credits", "1000000001"], s.data_dir, check=False)
        assert p.returncode != 0, p.stdout
        # key creation and limits: values that do not fit are refused, never wrapped
        for body in ({"credits": "1000000001"}, {"rpm": 4294967296}, {"rpm": -1}, {"rpm": "10"},
                     {"concurrency": 2 ** 63 - 1}, {"models": 5}, {"credits": "1", "extra": 1}):
            c = requests.post(s.url("/admin/keys"), json=body, headers=ADMIN, timeout=10)
            assert c.status_code == 400, (body, c.text)
        for flag, value in (("--rpm", "4294967296"), ("--concurrency", "-1"), ("--rpm", "1e3")):
            p = run_cli(["keys", "create", flag, value], s.data_dir, check=False)
            assert p.returncode == 2 and flag in p.stderr, (flag, value, p.stderr)
    finally:
        s.cleanup()
    # prices that would overflow a cost are refused at start
    for args in (["--price.high.1024x1024", "10000000"], ["--rpm", "4294967296"]):
        p = run_cli(["serve", "--listen", "127.0.0.1:1", *args], "/tmp/imgapi-probe-nodir", check=False)
        assert p.returncode == 2, (args, p.returncode, p.stderr)


@test
def test_webhook_targets_with_embedded_or_reserved_addresses_refused():
    s = Server().start()
    try:
        key = s.new_key("1")
        hosts = ["[::127.0.0.1]", "[::ffff:127.0.0.1]", "[::ffff:0:127.0.0.1]", "[64:ff9b::7f00:1]",
                 "[64:ff9b::a00:1]", "[64:ff9b:1::1]", "[2002:7f00:1::]", "[2002:c0a8:101::1]",
                 "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[fec0::1]", "[fe80::1]", "[fd00::1]", "[::1]", "[::]",
                 "[ff02::1]", "[2001:db8::1]", "[100::1]", "127.0.0.1", "10.1.2.3", "169.254.169.254",
                 "192.0.2.1", "0.0.0.0", "[::ffff:a9fe:a9fe]"]
        for h in hosts:
            r = s.post("/v2/gpt-image-1-mini", {"prompt": "a", "quality": "low", "webhook_url": f"http://{h}/hook"}, key)
            assert r.status_code == 400 and r.json()["param"] == "webhook_url", (h, r.status_code, r.text[:200])
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
    finally:
        s.cleanup()


BAD_BODIES = [
    (b'{"prompt":"a","prompt":"b"}', "duplicate"),
    (b'{"prompt":"a","quality":"low","quality":"high"}', "duplicate"),
    (b'{"prompt":"a","size":"1024x1024\\u0000junk"}', "NUL"),
    (b'{"prompt":"a","output_format":"png\\u0000x"}', "NUL"),
    (b'{"prompt":"a","quality":"low\\u0000"}', "NUL"),
    (b'{"prompt":"a\\u0000b"}', "NUL"),
    (b'{"prompt":"a","negative_prompt":"\\u0000"}', "NUL"),
    (b'{"prompt\\u0000x":"a"}', "NUL"),
    (b'{"prompt":"a","size\\u0000":"1024x1024"}', "NUL"),
]


@test
def test_one_json_reader_on_every_route():
    s = Server().start()
    try:
        key = s.new_key("1")
        hk = {"x-api-key": key, "Content-Type": "application/json"}
        routes = ["/v1/gpt-image-1-mini", "/v1/images/generations", "/v2/gpt-image-1-mini"]
        extra = [(b'{"prompt":"a","model":"gpt-image-1-mini\\u0000x"}', "/v1/images/generations"),
                 (b'{"prompt":"a","user":"u\\u0000"}', "/v1/images/generations")]
        cases = [(b, r) for b, _ in BAD_BODIES for r in routes] + extra
        # v2 with a webhook_url: the body was once re-read without the duplicate check
        for b, _ in BAD_BODIES:
            cases.append((b[:-1] + b',"webhook_url":"https://example.com/h"}', "/v2/gpt-image-1-mini"))
        cases.append((b'{"prompt":"a","webhook_url":"https://example.com/h","webhook_url":"https://x.example/"}',
                      "/v2/gpt-image-1-mini"))
        for body, route in cases:
            r = requests.post(s.url(route), data=body, headers=hk, timeout=10)
            assert r.status_code == 400, (route, body, r.status_code, r.text[:200])
        # admin bodies: the same reader
        for body in (b'{"credits":"1","credits":"2"}', b'{"models":"a\\u0000b"}'):
            r = requests.post(s.url("/admin/keys"), data=body, headers={**ADMIN, "Content-Type": "application/json"},
                              timeout=10)
            assert r.status_code == 400, (body, r.text)
        r = requests.post(s.url("/admin/keys"), json={"credits": "1"}, headers=ADMIN, timeout=10)
        kid = r.json()["id"]
        r = requests.post(s.url(f"/admin/keys/{kid}/credits"), data=b'{"usd":"1","usd":"1000"}',
                          headers={**ADMIN, "Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 400, r.text
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
        print(f"  {len(cases) + 3} bad bodies refused with 400 across every route")
    finally:
        s.cleanup()


@test
def test_chunked_body_over_the_limit_gets_413():
    s = Server(args=["--max-edit-body", "1048576"]).start()  # the model route's limit (JSON edits)
    try:
        key = s.new_key("1")
        for total in (2 << 20, 20 << 20):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"POST /v1/gpt-image-1-mini HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"x-api-key: " + key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
            sent = 0
            try:
                while sent < total:
                    c.sendall(chunk)
                    sent += 0x10000
                c.sendall(b"0\r\n\r\n")
            except OSError:
                pass
            c.settimeout(10)
            got = b""
            try:
                while b"\r\n\r\n" not in got:
                    d = c.recv(4096)
                    if not d:
                        break
                    got += d
            except OSError:
                pass
            c.close()
            assert got.startswith(b"HTTP/1.1 413"), (total, got[:200])
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
    finally:
        s.cleanup()


@test
def test_smaller_defects():
    s = Server().start()
    try:
        key = s.new_key("0.006")
        # the 406 message quotes the balance the refusal saw (read again at the refusal)
        r1 = s.post("/v1/gpt-image-1-mini", {"prompt": "a", "quality": "low"}, key)
        assert r1.status_code == 200
        r2 = s.post("/v1/gpt-image-1-mini", {"prompt": "a", "quality": "low"}, key)
        assert r2.status_code == 406, r2.text
        assert "balance is $0.001000" in r2.json()["error"], r2.json()
        # `user` is counted in characters
        big = s.new_key("1")
        r = s.post("/v1/images/generations", {"prompt": "a", "quality": "low", "user": "é" * 256}, big)
        assert r.status_code == 200, r.text
        r = s.post("/v1/images/generations", {"prompt": "a", "quality": "low", "user": "é" * 257}, big)
        assert r.status_code == 400 and r.json()["error"]["param"] == "user", r.text
        # HEAD on GET routes is GET without a body
        for path in ("/healthz", "/readyz", "/metrics", "/", "/openapi.json"):
            h = requests.head(s.url(path), timeout=5)
            assert h.status_code == 200 and h.content == b"", (path, h.status_code)
        h = requests.head(s.url("/v1/models"), headers={"Authorization": f"Bearer {big}"}, timeout=5)
        assert h.status_code == 200 and h.content == b""
        r = requests.delete(s.url("/healthz"), timeout=5)
        assert r.status_code == 405 and "HEAD" in r.headers["Allow"], r.headers
        # conflicting Content-Length headers (and Content-Length beside chunked) are refused
        body = b'{"prompt":"a","quality":"low"}'
        head = (b"POST /v1/gpt-image-1-mini HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"x-api-key: " + big.encode() + b"\r\n")
        out = _raw(s.port, head + b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n" % len(body) + body)
        assert out.startswith(b"HTTP/1.1 400"), out[:200]
        out = _raw(s.port, head + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(body) + body)
        assert out.startswith(b"HTTP/1.1 400"), out[:200]
        out = _raw(s.port, head + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(body), len(body)) + body)
        assert out.startswith(b"HTTP/1.1 200"), out[:200]
        l = check_invariant(s, big)
        assert l["reserved"] == 0, l
    finally:
        s.cleanup()


if __name__ == "__main__":
    sys.exit(main())
