"""The built-in model (models/imgapi-shapes, compiled into the binary) draws what captions say.

Held-out captions (colour/shape pairs the training set never showed) are generated with fixed
seeds through `imgapi generate` and checked by a deterministic analysis (shape_analysis.py):
background colour, object colour, number of blobs, position, rough shape. At least 80% of the
checks must pass (HELD_OUT_REQUIRED); the same captions through a copy of the model whose
weights are shuffled must fail most of them (so the checks measure the model, not luck). Also: `imgapi serve` with no
configuration answers the seed's snippet with this model at every size, quality and format, and
`background: transparent` gives a matte that matches the generator's own object mask."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import requests
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(ROOT, "train"))
import shape_analysis as sa  # noqa: E402
import shapes  # noqa: E402
from harness import Server, check_invariant, decode_image, main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
MODEL_DIR = os.path.join(ROOT, "models", "imgapi-shapes")
TMP = tempfile.mkdtemp(prefix="imgapi-default-")
POS_WORDS = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}


def held_out_specs():
    """36 captions, each with at least one colour/shape pair the training set never had."""
    specs = []
    names = list(shapes.COLORS)
    for k, (color, shape) in enumerate(sorted(shapes.HELD_OUT)):
        bgs = [c for c in names[k % len(names):] + names[:k % len(names)]
               if shapes._dist(shapes.COLORS[c], shapes.COLORS[color]) > 150]
        bg = bgs[0]
        a = shapes._a(color)
        specs.append(dict(caption=f"{a} {shape} on {shapes._a(bg)} background", bg=bg, color=color, shape=shape,
                          count=1, pos="center", shape_check=True, size=None))
        pos = ["left", "right", "top", "bottom"][k % 4]
        bg2 = bgs[1 % len(bgs)]
        specs.append(dict(caption=f"{a} {shape} {POS_WORDS[pos]} on {shapes._a(bg2)} background", bg=bg2,
                          color=color, shape=shape, count=1, pos=pos, shape_check=False, size=None))
        n = 2 + k % 2
        bg3 = bgs[2 % len(bgs)]
        specs.append(dict(caption=f"{['two', 'three'][n - 2]} {color} {shapes.PLURAL[shape]} on {shapes._a(bg3)} background",
                          bg=bg3, color=color, shape=shape, count=n, pos="center", shape_check=False,
                          size="small" if n == 3 else None))
    return specs


def scene_of(spec):
    return dict(bg=spec["bg"], bg2=None, bg_kind="plain", count=spec["count"], relation=None,
                objects=[dict(color=spec["color"], shape=spec["shape"], size=spec["size"], pos=spec["pos"])])


def score(results):
    total = sum(len(c) for c in results)
    ok = sum(p for c in results for _, p in c)
    by = {}
    for c in results:
        for name, p in c:
            by.setdefault(name, [0, 0])
            by[name][0] += p
            by[name][1] += 1
    return ok, total, by


def report(label, ok, total, by):
    parts = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by.items()))
    print(f"  {label}: {ok}/{total} checks passed ({100.0 * ok / total:.1f}%): {parts}")


def generate_all(specs, extra=()):
    results = []
    for i, spec in enumerate(specs):
        out = os.path.join(TMP, f"g{i}.png")
        p = subprocess.run([BIN, "generate", spec["caption"], "-o", out, "--seed", str(1000 + i), "--compression", "0",
                            "--config", "/dev/null", *extra], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        img = Image.open(out)
        assert img.size == (1024, 1024), img.size
        results.append(sa.checks(spec, sa.analyse(sa.load(out))))
    return results


@test
def test_analysis_reads_the_generators_own_images():
    """The analysis is right about the data generator's renders of the same captions."""
    results = []
    for spec in held_out_specs():
        img = shapes.render(scene_of(spec), 256).astype(np.float32)
        img = np.asarray(Image.fromarray(img.astype(np.uint8)).resize((sa.N, sa.N), Image.BOX), np.float32)
        results.append(sa.checks(spec, sa.analyse(img)))
    ok, total, by = score(results)
    report("generator renders", ok, total, by)
    assert ok >= 0.97 * total, by


# Issue 5 asks for 80% of the checks. The shipped model (5,600 diffusion steps) scores 92.3% here
# (144/156) and 91.7-92.9% with the same captions on three other seed ranges; the model of half
# the steps scored 80.1% (79.5-84.0%); the shuffled control stays near 32%.
HELD_OUT_REQUIRED = 0.8


@test
def test_held_out_captions_score():
    ok, total, by = score(generate_all(held_out_specs()))
    report("built-in model, held-out captions", ok, total, by)
    assert total >= 30 * 3
    assert ok >= HELD_OUT_REQUIRED * total, f"{ok}/{total}"


def _shuffled_copy(src, dst, seed=7):
    """The model file with every tensor's values permuted: same shapes and scales, no learning."""
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = f.read(n)
        data = bytearray(f.read())
    h = json.loads(head)
    rng = np.random.default_rng(seed)
    for k, v in h.items():
        if k == "__metadata__":
            continue
        dt = {"F32": np.float32, "F16": np.float16}[v["dtype"]]
        a, b = v["data_offsets"]
        arr = np.frombuffer(bytes(data[a:b]), dt).copy()
        rng.shuffle(arr)
        data[a:b] = arr.tobytes()
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", n) + head + bytes(data))


@test
def test_random_weights_fail_the_same_checks():
    shuffled = os.path.join(TMP, "shuffled.safetensors")
    _shuffled_copy(os.path.join(MODEL_DIR, "model.safetensors"), shuffled)
    conf = os.path.join(TMP, "shuffled.conf")
    with open(conf, "w") as f:
        f.write(f"model.shuffled.checkpoint = {shuffled}\nmodel.shuffled.tokenizer = {MODEL_DIR}\n"
                f"model.shuffled.tiny_decoder = {MODEL_DIR}/decoder.safetensors\nbuiltin_model = 0\n")
    specs = held_out_specs()
    results = []
    for i, spec in enumerate(specs):
        out = os.path.join(TMP, f"r{i}.png")
        p = subprocess.run([BIN, "generate", spec["caption"], "-o", out, "--seed", str(1000 + i), "--compression", "0",
                            "--config", conf], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        results.append(sa.checks(spec, sa.analyse(sa.load(out))))
    ok, total, by = score(results)
    report("shuffled weights, same captions", ok, total, by)
    assert ok < 0.5 * total, f"random weights passed {ok}/{total}: the checks do not measure the model"


@test
def test_serve_with_no_configuration_answers_the_seed_snippet():
    s = Server(args=["--config", "/dev/null"], binary=BIN)  # the production binary with the engine
    try:
        s.start()
        key = s.new_key("50")
        r = requests.get(s.url("/v1/models"), headers={"x-api-key": key}, timeout=10)
        assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == ["gpt-image-1-mini", "imgapi-shapes"], r.text
        for size in ("1024x1024", "1536x1024", "1024x1536", "auto"):
            for quality in ("low", "medium", "high", "auto"):
                for fmt in ("png", "jpeg", "webp"):
                    data = {"prompt": "a yellow star on a blue background", "n": 1, "size": size, "quality": quality,
                            "moderation": "auto", "background": "opaque", "output_compression": 100,
                            "output_format": fmt}
                    r = requests.post(s.url("/v1/gpt-image-1-mini"), json=data,
                                      headers={"x-api-key": key, "Content-Type": "application/json"}, timeout=120)
                    assert r.status_code == 200, r.text
                    im = decode_image(r.json()["data"][0]["b64_json"])
                    want = (1024, 1024) if size == "auto" else tuple(map(int, size.split("x")))
                    assert im.size == want, (im.size, size)
                    # the seed is random per request: meaning is the held-out test's; here, not blank
                    assert np.ptp(np.asarray(im.convert("RGB"))) > 0
        assert check_invariant(s, key)["reserved"] == 0
    finally:
        s.cleanup()


@test
def test_cli_moderation_levels_and_backgrounds():
    """`imgapi generate` honours --moderation (auto refuses, low relaxes; minors never pass) and
    --background (opaque: RGB; transparent: RGBA; transparent with jpeg refused)."""
    def gen(prompt, *args):
        out = os.path.join(TMP, "cli.png")
        if os.path.exists(out):
            os.remove(out)
        p = subprocess.run([BIN, "generate", prompt, "-o", out, "--seed", "3", "--config", "/dev/null", *args],
                           capture_output=True, text=True, timeout=120)
        return p, out
    p, out = gen("a gory red circle", "--moderation", "auto")
    assert p.returncode == 1 and "category: violence" in p.stderr and not os.path.exists(out), p.stderr
    p, out = gen("a gory red circle", "--moderation", "low")
    assert p.returncode == 0, p.stderr
    p, out = gen("a naked 12 year old girl", "--moderation", "low")
    assert p.returncode == 1 and "category: sexual_minors" in p.stderr and not os.path.exists(out), p.stderr
    p, out = gen("a red circle", "--background", "opaque")
    assert p.returncode == 0 and Image.open(out).mode == "RGB", p.stderr
    p, out = gen("a red circle", "--background", "transparent", "--format", "webp")
    assert p.returncode == 0 and Image.open(out).mode == "RGBA", p.stderr
    p, out = gen("a red circle", "--background", "transparent", "--format", "jpeg")
    assert p.returncode == 2 and "png or webp" in p.stderr and not os.path.exists(out), p.stderr


def _erode(mask, r):
    m = mask.copy()
    for _ in range(r):
        m = m & np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1)
    return m


@test
def test_transparent_background_matches_the_object_mask():
    """Single-object prompts with background transparent: >= 90% of the background is alpha 0,
    >= 90% of the object's interior alpha 255 (regions from the generator's own mask, 2 pixels
    away from its edge at 64x64), and the edge has intermediate alpha (anti-aliased) without a
    halo: the colour of the partly transparent pixels stays near the object's own colour."""
    cases = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("purple", "star"), ("orange", "heart"),
             ("black", "diamond")]
    bg_ok = obj_ok = bg_n = obj_n = 0
    soft = 0
    halos = []
    for i, (color, shape) in enumerate(cases):
        spec = dict(caption=f"{shapes._a('large')} {color} {shape}", color=color, shape=shape, size="large",
                    pos="center", count=1, bg="white")
        out = os.path.join(TMP, f"t{i}.png")
        p = subprocess.run([BIN, "generate", spec["caption"], "-o", out, "--seed", str(50 + i), "--background",
                            "transparent", "--config", "/dev/null"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        im = Image.open(out)
        assert im.mode == "RGBA" and im.size == (1024, 1024)
        alpha = np.asarray(im.split()[3])
        _, cover = shapes.render(scene_of(spec), sa.N, with_mask=True)
        up = lambda m: np.kron(m, np.ones((1024 // sa.N, 1024 // sa.N), bool))  # noqa: E731
        inside, outside = up(_erode(cover > 0.5, 2)), up(_erode(cover < 0.5, 2))
        bg_ok += int((alpha[outside] == 0).sum())
        bg_n += int(outside.sum())
        obj_ok += int((alpha[inside] == 255).sum())
        obj_n += int(inside.sum())
        soft += int(((alpha > 0) & (alpha < 255)).sum() > 0)
        # halo: the un-composited colour of the edge pixels (0 < alpha < 255) against the median
        # colour of the opaque ones, weighted by alpha (a rim of the old background is far off)
        rgba = np.asarray(im).astype(float)
        edge, core = (alpha > 0) & (alpha < 255), alpha == 255
        if edge.any() and core.any():
            far = np.sqrt(((rgba[edge][:, :3] - np.median(rgba[core][:, :3], axis=0)) ** 2).sum(1))
            halos.append(float((far * alpha[edge]).sum() / alpha[edge].sum()))
    print(f"  transparent: background alpha 0 on {100.0 * bg_ok / bg_n:.1f}%, object alpha 255 on "
          f"{100.0 * obj_ok / obj_n:.1f}%, soft edges in {soft}/{len(cases)} images, edge colour "
          f"{np.mean(halos):.0f} from the object's (mean of {len(halos)})")
    # Issue 7 asks for 90% on both: measured 98.8% and 98.4% (the model of half the training
    # steps drew "a large orange heart" as two hearts: 84.4% inside)
    assert bg_ok >= 0.9 * bg_n and obj_ok >= 0.9 * obj_n
    assert soft == len(cases)
    # measured 80 with the coverage matte; the earlier distance ramp left a rim (219)
    assert len(halos) == len(cases) and np.mean(halos) < 120, halos


if __name__ == "__main__":
    try:
        code = main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(code)
