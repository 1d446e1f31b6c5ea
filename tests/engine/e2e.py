"""End to end with the real engine: tiny complete checkpoints assembled from the golden parts
(random weights, so the images are noise-like but every stage runs), through `imgapi generate`
and through `imgapi serve` with the seed's snippet at every size, quality and format."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from harness import Server, check_invariant, decode_image, main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.environ.get("IMGAPI_GOLDEN", os.path.join(HERE, "..", "..", "..", "shared", "golden"))
TMP = tempfile.mkdtemp(prefix="imgapi-e2e-")
CONF = os.path.join(TMP, "imgapi.conf")


def setup():
    for fam in ("sd1", "sd2"):
        subprocess.run([sys.executable, os.path.join(HERE, "make_tiny_checkpoint.py"), GOLDEN, fam,
                        os.path.join(TMP, f"tiny_{fam}.safetensors")], check=True)
    tok = os.path.join(GOLDEN, "tokenizer", "bpe_simple_vocab_16e6.txt.gz")
    subprocess.run([sys.executable, os.path.join(HERE, "make_tiny_decoder.py"), os.path.join(TMP, "taesd.safetensors"),
                    "--ups", "2"], check=True)
    with open(CONF, "w") as f:
        f.write(f"model.tiny-sd1.checkpoint = {TMP}/tiny_sd1.safetensors\n"
                f"model.tiny-sd1.tokenizer = {tok}\nmodel.tiny-sd1.native = 64\n"
                f"model.tiny-sd1.description = tiny random SD1 checkpoint (tests)\n"
                f"model.tiny-sd2.checkpoint = {TMP}/tiny_sd2.safetensors\n"
                f"model.tiny-sd2.tokenizer = {tok}\nmodel.tiny-sd2.native = 64\n"
                f"model.tiny-sd2.profile = turbo\nmodel.tiny-sd2.prediction = v\n"
                f"model.tiny-sd2.tiny_decoder = {TMP}/taesd.safetensors\n"
                "threads = 2\n")


def generate(*args, check=True):
    conf = [] if "--config" in args else ["--config", CONF]
    p = subprocess.run([BIN, "generate", *args, *conf], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(p.stderr)
    return p


@test
def test_cli_generate_deterministic_and_sized():
    a, b, c = (os.path.join(TMP, n) for n in ("a.png", "b.png", "c.png"))
    generate("a red circle on a blue background", "-o", a, "--seed", "42", "--quality", "low")
    generate("a red circle on a blue background", "-o", b, "--seed", "42", "--quality", "low")
    generate("a red circle on a blue background", "-o", c, "--seed", "43", "--quality", "low")
    assert open(a, "rb").read() == open(b, "rb").read(), "same seed, same request: same bytes"
    assert open(a, "rb").read() != open(c, "rb").read()
    im = Image.open(a)
    assert im.size == (1024, 1024)
    assert Image.open(a).convert("L").getextrema() != (0, 0)  # not blank
    # quality low on a model with a tiny decoder decodes with it: a different image, same size
    lo, hi = os.path.join(TMP, "lo.png"), os.path.join(TMP, "hi.png")
    p = generate("x", "-o", lo, "--model", "tiny-sd2", "--seed", "5", "--quality", "low")
    assert "step 1/1" in p.stderr and "done in" in p.stderr, p.stderr  # progress lines off a terminal
    generate("x", "-o", hi, "--model", "tiny-sd2", "--seed", "5", "--quality", "high")
    assert Image.open(lo).size == Image.open(hi).size == (1024, 1024)
    assert open(lo, "rb").read() != open(hi, "rb").read()
    pv = os.path.join(TMP, "previews")
    os.makedirs(pv)
    generate("x", "-o", hi, "--model", "tiny-sd2", "--seed", "5", "--quality", "high", "--previews", pv)
    shots = sorted(os.listdir(pv))
    assert shots and shots[-1] == "step-004.png", shots  # the tiny decoder's view after the last step
    assert Image.open(os.path.join(pv, shots[-1])).size == (64, 64)
    for size, fmt in (("1536x1024", "jpeg"), ("1024x1536", "webp")):
        out = os.path.join(TMP, f"s.{fmt}")
        generate("x", "-o", out, "--size", size, "--format", fmt, "--model", "tiny-sd2", "--seed", "1")
        w, h = map(int, size.split("x"))
        assert Image.open(out).size == (w, h)


@test
def test_weights_q8_model_generates_close_to_its_file_weights():
    """A model configured with `weights = q8` (every matrix and convolution in 8 bits) generates
    the same picture as the file's weights within a few levels, not the same bytes; a bad value
    is a clear configuration error."""
    conf = os.path.join(TMP, "q8.conf")
    with open(CONF) as f, open(conf, "w") as g:
        text = f.read()
        g.write(text + text.replace("model.tiny-sd1.", "model.tiny-sd1-q8.").split("model.tiny-sd2.")[0]
                + "model.tiny-sd1-q8.weights = q8\n")
    a, b = os.path.join(TMP, "q8-file.png"), os.path.join(TMP, "q8-q8.png")
    generate("a red circle", "-o", a, "--seed", "7", "--quality", "low", "--size", "1024x1024", "--config", conf)
    generate("a red circle", "-o", b, "--seed", "7", "--quality", "low", "--size", "1024x1024", "--config", conf,
             "--model", "tiny-sd1-q8")
    x = list(Image.open(a).convert("RGB").getdata())
    y = list(Image.open(b).convert("RGB").getdata())
    diff = sum(abs(p - q) for u, v in zip(x, y) for p, q in zip(u, v)) / (3 * len(x))
    print(f"     tiny SD1, weights q8 against the file's: mean difference {diff:.2f} of 255")
    assert 0 < diff < 6, diff
    with open(conf, "a") as g:
        g.write("model.tiny-sd1-q8.weights = q4\n")
    p = generate("x", "-o", a, "--config", conf, check=False)
    assert p.returncode != 0 and "must be 'auto', 'file' or 'q8'" in p.stderr, p.stderr


@test
def test_models_lists_configured_checkpoints():
    p = subprocess.run([BIN, "models", "--config", CONF], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "tiny-sd1" in p.stdout and "tiny-sd2" in p.stdout, p.stdout
    bad = os.path.join(TMP, "bad.conf")
    with open(bad, "w") as f:
        f.write(f"model.broken.checkpoint = {TMP}/missing.safetensors\nmodel.broken.tokenizer = /nope\n")
    p = generate("x", "--config", bad, check=False)
    reasons = [l for l in p.stderr.splitlines() if l.startswith("imgapi: ")]
    assert p.returncode == 1 and len(reasons) == 1 and "cannot open" in reasons[0], p.stderr
    assert "done in" not in p.stderr


FAKE_SDCPP = """#!/usr/bin/env python3
# A stand-in for stable-diffusion.cpp's CLI (tests only): checks the arguments imgapi passes and
# prints the stage lines imgapi parses, or fails when told to.
import sys
a = sys.argv[1:]
opt = dict(zip(a[::2], a[1::2]))
assert opt["-W"] == opt["-H"] == "64" and opt["--steps"] == "1" and opt["-t"] == "2", a
if "fail" in sys.argv[0]:
    print("[ERROR] model.cpp: tensor 'x' not found"); sys.exit(1)
print("[INFO ] stable-diffusion.cpp: get_learned_condition completed, taking 2.00s")
print("[INFO ] stable-diffusion.cpp: sampling completed, taking 8.00s")
print("[INFO ] stable-diffusion.cpp: decode_first_stage completed, taking 4.00s")
"""


def bench(*args):
    return subprocess.run([BIN, "bench", "--config", CONF, "--model", "tiny-sd2", "--size", "1024x1024",
                           "--quality", "low", *args], capture_output=True, text=True, timeout=300)


@test
def test_bench_reports_every_stage_against_the_peak_and_sdcpp():
    p = bench("--runs", "2")
    assert p.returncode == 0, p.stderr
    rows = {l[:14].strip(): l[14:].split() for l in p.stdout.splitlines()}
    for stage in ("load", "tokenize", "resize", "encode png"):
        assert float(rows[stage][0]) >= 0, p.stdout
    for stage in ("text encoder", "unet step", "decoder"):  # seconds, GFLOP, GFLOP/s, % of the peak
        sec, gflop, rate, share = rows[stage]
        assert float(sec) > 0 and float(gflop) >= 0 and float(rate) > 0, p.stdout
        assert share.endswith("%") and 0 < float(share[:-1]) < 1000, p.stdout
    assert "medians of 2 run(s)" in p.stdout and "1 step(s)" in p.stdout, p.stdout
    lo, hi = map(float, p.stdout.split("ranged ")[1].split(" GFLOP/s")[0].split("-"))
    assert 0 < lo <= hi, p.stdout
    assert float(rows["total"][0]) > 0 and "peak RSS" in p.stdout
    # against a stand-in for stable-diffusion.cpp: its stages parsed, ratios of the medians
    fake, failing = os.path.join(TMP, "sd-cli"), os.path.join(TMP, "sd-cli-fail")
    for path in (fake, failing):
        with open(path, "w") as f:
            f.write(FAKE_SDCPP)
        os.chmod(path, 0o755)
    p = bench("--runs", "1", "--vs-sdcpp", fake)
    assert p.returncode == 0, p.stderr
    cmp = {l[:14].strip(): l[14:].split() for l in p.stdout.split("stable-diffusion.cpp (")[1].splitlines()[2:]}
    ours = {l[:14].strip(): l[14:].split() for l in p.stdout.split("stable-diffusion.cpp (")[0].splitlines()}
    for stage, theirs in (("text encoder", 2.0), ("unet step", 8.0), ("decoder", 4.0)):
        s_sd, s_us, ratio = map(float, cmp[stage][:3])
        assert s_sd == theirs and abs(s_us - float(ours[stage][0])) < 0.0011, p.stdout
        assert abs(ratio - s_us / s_sd) < 0.01, p.stdout
    assert "peak RSS MB" in cmp, p.stdout
    # it fails: no comparison, its log on stderr, still our figures and exit 0
    p = bench("--runs", "1", "--vs-sdcpp", failing)
    assert p.returncode == 0 and "did not run to the end; no comparison" in p.stdout, p.stdout
    assert "tensor 'x' not found" in p.stderr and "unet step" in p.stdout, p.stderr
    # bad arguments: exit 2, nothing run
    for bad in (["--runs", "0"], ["--runs", "51"], ["--quality", "ultra"], ["--size", "7x7"]):
        p = bench(*bad)
        assert p.returncode == 2 and "bad --size, --quality or --runs" in p.stderr, (bad, p.stderr)
    for bad in (["--edit", "0"], ["--edit", "1.5"], ["--edit", "x"]):
        p = bench(*bad)
        assert p.returncode == 2 and "bad --edit" in p.stderr, (bad, p.stderr)
    # --edit: image to image from the generated image, with the encoder's own figures (the
    # built-in model: its tiny encoder)
    p = subprocess.run([BIN, "bench", "--config", "/dev/null", "--runs", "1", "--edit", "0.5"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    edit = {l[:14].strip(): l[14:].split() for l in p.stdout.split("image to image from")[1].splitlines()[1:]}
    assert "at strength 0.50" in p.stdout and float(edit["image encoder"][0]) > 0, p.stdout
    for stage in ("text encoder", "unet step", "decoder", "edit total"):
        assert float(edit[stage][0]) > 0, p.stdout
    assert "edit / generation" in p.stdout, p.stdout
    p = subprocess.run([BIN, "bench", "--config", CONF, "--model", "nope"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "nope" in p.stderr, p.stderr
    # a model configured without its tokenizer: a clear error, not a crash
    notok = os.path.join(TMP, "notok.conf")
    with open(notok, "w") as f:
        f.write(f"model.nt.checkpoint = {TMP}/tiny_sd2.safetensors\nmodel.nt.native = 64\n")
    p = subprocess.run([BIN, "bench", "--config", notok, "--model", "nt", "--runs", "1"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 1 and "no tokenizer given (model.ID.tokenizer" in p.stderr, (p.returncode, p.stderr)
    # precision bf16: on the portable kernels anywhere; on the best kernels only with AVX512-BF16
    p = bench("--runs", "1", "--precision", "bf16", "--isa", "portable")
    assert p.returncode == 0 and "precision bf16;" in p.stdout and "unet step" in p.stdout, (p.stdout, p.stderr)
    assert "the mean of the fp32 peaks" in p.stdout, p.stdout  # the portable kernels: no bf16 unit
    p = bench("--runs", "1", "--precision", "bf16")
    if " avx512_bf16" in open("/proc/cpuinfo").read():
        assert p.returncode == 0 and ("the mean of the bf16 peaks" in p.stdout or "the mean of the amx peaks" in p.stdout), (p.stdout, p.stderr)
    else:
        assert p.returncode == 1 and "precision 'bf16' needs a CPU with AVX512-BF16" in p.stderr, p.stderr


@test
def test_server_seed_snippet_every_size_quality_format_with_engine():
    s = Server(args=["--config", CONF], binary=BIN)  # the production binary with the real engine
    try:
        s.start()
        key = s.new_key("50")
        total = 0
        for size in ("1024x1024", "1536x1024", "1024x1536"):
            for quality in ("low", "medium", "high", "auto"):
                for fmt in ("png", "jpeg", "webp"):
                    data = {"prompt": "a red circle on a blue background", "size": size, "quality": quality,
                            "moderation": "auto", "background": "opaque", "output_compression": 90,
                            "output_format": fmt}
                    r = requests.post(s.url("/v1/gpt-image-1-mini"), json=data,
                                      headers={"x-api-key": key, "Content-Type": "application/json"}, timeout=300)
                    assert r.status_code == 200, r.text
                    j = r.json()
                    im = decode_image(j["data"][0]["b64_json"])
                    assert im.size == tuple(map(int, size.split("x"))), (im.size, size)
                    assert j["quality"] == ("medium" if quality == "auto" else quality)
                    assert j["usage"]["input_tokens"] == 7  # real BPE tokens of the prompt
                    total += 1
        assert total == 36
        # the OpenAI route with the turbo model, and a transparent background
        r = s.post("/v1/images/generations", {"prompt": "x", "model": "tiny-sd2", "background": "transparent",
                                              "quality": "high"}, key)
        assert r.status_code == 200, r.text
        assert decode_image(r.json()["data"][0]["b64_json"]).mode == "RGBA"
        l = check_invariant(s, key)
        assert l["reserved"] == 0
    finally:
        s.cleanup()


@test
def test_server_engine_cancel_and_deadline_release_credits():
    slow = os.path.join(TMP, "slow.conf")
    with open(CONF) as f, open(slow, "w") as g:
        g.write(f.read().replace("model.tiny-sd1.native = 64", "model.tiny-sd1.native = 256"))
    s = Server(args=["--config", slow], binary=BIN)
    try:
        s.start()
        key = s.new_key("1")
        t0 = time.time()
        r = s.post("/v1/gpt-image-1-mini", {"prompt": "x", "quality": "high"}, key, headers={"x-timeout-seconds": "1"})
        assert r.status_code == 504, r.text
        assert time.time() - t0 < 30
        # client goes away mid-generation: the job stops at the next step, credits come back
        body = b'{"prompt": "x", "quality": "high"}'
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"POST /v1/gpt-image-1-mini HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"x-api-key: {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.5)
        sock.close()
        deadline = time.time() + 60
        while time.time() < deadline and s.ledger(key)["reserved"]:
            time.sleep(0.2)
        l = check_invariant(s, key)
        assert l["reserved"] == 0 and l["charged"] == 0, l
    finally:
        s.cleanup()


if __name__ == "__main__":
    setup()
    try:
        code = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(code)
