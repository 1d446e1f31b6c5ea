"""The built-in model edits: its encoder (models/imgapi-shapes/encoder.safetensors, trained by
train/train_encoder.py for the shipped decoder's latent space) computes what PyTorch computes,
and edits through `imgapi edit` with no configuration do what their prompt says.

Scenes are drawn by the training data generator (train/shapes.py) from fixed seeds and read back
by the same deterministic analysis as the generation test (shape_analysis.py):
- inpainting: one shape off centre, a square mask around it, the prompt naming a new colour: the
  shape inside the mask must take that colour and every pixel outside the mask and its seam must
  be the input's exactly; the same edit whose prompt keeps the old colour is the control (the
  colour must stay, so the change comes from the prompt, not from repainting anything);
- image to image: one shape, the prompt naming a new colour: the colour changes, the shape stays
  where it was.
"""
import base64
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "api"))
sys.path.insert(0, os.path.join(ROOT, "train"))
import shape_analysis as sa  # noqa: E402
import shapes  # noqa: E402
from golden import load  # noqa: E402
from harness import Server, check_invariant, main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
TMP = tempfile.mkdtemp(prefix="imgapi-builtin-edit-")
CHECK = os.path.join(HERE, "data", "shapes_encoder_check.safetensors")
SIDE = 1024  # input and output pictures; the edit works at the model's 64 px and is resampled back
SEAM = 9    # the feathered seam around the mask (8 px) and one for rounding


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, (args, p.stderr)
    return p


def colours_apart(rng, avoid, k):
    """k colours, each far from every colour in avoid and from each other."""
    out = []
    names = list(shapes.COLORS)
    for c in rng.permutation(names):
        c = str(c)
        if all(shapes._dist(shapes.COLORS[c], shapes.COLORS[a]) > 150 for a in list(avoid) + out):
            out.append(c)
        if len(out) == k:
            return out
    return None


def one_shape(rng, positions=("left", "right", "top", "bottom", "center")):
    """A scene of one shape on a plain background and a second colour far from both."""
    while True:
        bg = str(rng.choice(list(shapes.COLORS)))
        cs = colours_apart(rng, [bg], 2)
        if cs:
            break
    shape, pos = str(rng.choice(shapes.SHAPES)), str(rng.choice(positions))
    scene = dict(bg=bg, bg2=None, bg_kind="plain", count=1, relation=None,
                 objects=[dict(color=cs[0], shape=shape, size="large" if pos == "center" else None, pos=pos)])
    return scene, cs[1]


def caption_of(scene, colour):
    o = scene["objects"][0]
    words = {"left": " on the left", "right": " on the right", "top": " at the top", "bottom": " at the bottom",
             "center": ""}[o["pos"]]
    return f"{shapes._a(colour)} {o['shape']}{words} on {shapes._a(scene['bg'])} background"


def object_colour(img, bg_name):
    """The colour of what differs from the background in img (float RGB), or None."""
    bg = np.array(shapes.COLORS[bg_name], np.float32)
    far = np.sqrt(((img - bg) ** 2).sum(-1))
    px = img[far > 70]
    if len(px) < 8:
        return None
    core = px[np.sqrt(((px - bg) ** 2).sum(-1)) >= np.percentile(np.sqrt(((px - bg) ** 2).sum(-1)), 50)]
    return sa.nearest_color(np.median(core, 0))


@test
def test_builtin_encoder_matches_pytorch():
    ref = load(CHECK)
    inp = os.path.join(TMP, "enc-in.safetensors")
    out = os.path.join(TMP, "enc-out.safetensors")
    from golden import save
    save(inp, {"image": ref["image"]}, {})
    run("debug", "tiny-encoder", "--weights", "builtin:imgapi-shapes/encoder.safetensors", "--inputs", inp,
        "--out", out)
    got, want = load(out)["latent"], ref["latent"]
    assert got.shape == want.shape, (got.shape, want.shape)
    rel = float(np.abs(got - want).max() / np.abs(want).max())
    print(f"     built-in encoder vs PyTorch: max error {rel:.1e} of the largest value")
    assert rel < 1e-4, rel


def inpaint_case(i, rng):
    """One shape, a square mask around it (a 0.5 side: the shape and some background)."""
    scene, new = one_shape(rng, ("left", "right", "top", "bottom"))
    arr = shapes.render(scene, SIDE, supersample=1)
    cx, cy = shapes.POSITIONS[scene["objects"][0]["pos"]]
    half = SIDE // 4
    x0, y0 = int(cx * SIDE) - half, int(cy * SIDE) - half
    box = (slice(y0, y0 + 2 * half), slice(x0, x0 + 2 * half))
    src = os.path.join(TMP, f"inp{i}.png")
    Image.fromarray(arr).save(src)
    alpha = np.full((SIDE, SIDE), 255, np.uint8)
    alpha[box] = 0
    mask = os.path.join(TMP, f"inp{i}-mask.png")
    Image.fromarray(np.dstack([arr, alpha]), "RGBA").save(mask)
    keep = np.ones((SIDE, SIDE), bool)
    keep[y0 - SEAM:y0 + 2 * half + SEAM, x0 - SEAM:x0 + 2 * half + SEAM] = False
    res = {}
    for tag, colour in (("edit", new), ("control", scene["objects"][0]["color"])):
        o = os.path.join(TMP, f"inp{i}-{tag}.png")
        run("edit", src, caption_of(scene, colour), "--mask", mask, "--seed", str(40 + i), "--size", f"{SIDE}x{SIDE}",
            "--quality", "low", "--config", "/dev/null", "-o", o)
        out = np.asarray(Image.open(o).convert("RGB"))
        assert (out[keep] == arr[keep]).all(), f"case {i} {tag}: {int((out[keep] != arr[keep]).any(-1).sum())} " \
                                               "unmasked pixels changed"
        inside = np.asarray(Image.fromarray(out[box]).resize((32, 32), Image.BOX), np.float32)
        res[tag] = (object_colour(inside, scene["bg"]), colour)
    return scene, res


# Measured with the shipped encoder (quality low): 12/12 recoloured, 12/12 controls kept, 8/8
# image to image (also at quality medium); the bar leaves room for a retrained model of the same
# quality. These follow the prompt; what shows the encoder is test_builtin_light_edit_gives_the_
# image_back below (a shuffled encoder passes the recolouring checks but fails that one).
EDIT_REQUIRED = 0.75


@test
def test_builtin_inpainting_recolours_the_masked_shape_and_keeps_the_rest():
    rng = np.random.default_rng(2026)
    edits = controls = 0
    n = 12
    lines = []
    for i in range(n):
        scene, res = inpaint_case(i, rng)
        edits += res["edit"][0] == res["edit"][1]
        controls += res["control"][0] == res["control"][1]
        lines.append(f"{scene['objects'][0]['color']}->{res['edit'][1]}: {res['edit'][0]}, kept {res['control'][0]}")
    print(f"     recoloured {edits}/{n}, control kept its colour {controls}/{n} ({'; '.join(lines)})")
    assert edits >= EDIT_REQUIRED * n and controls >= EDIT_REQUIRED * n, (edits, controls)


@test
def test_builtin_image_to_image_recolours_in_place():
    rng = np.random.default_rng(7)
    ok = 0
    n = 8
    got = []
    for i in range(n):
        scene, new = one_shape(rng, ("left", "right", "center"))
        src = os.path.join(TMP, f"one{i}.png")
        Image.fromarray(shapes.render(scene, SIDE, supersample=1)).save(src)
        o = os.path.join(TMP, f"one{i}-out.png")
        run("edit", src, caption_of(scene, new), "--strength", "0.75", "--quality", "low",
            "--seed", str(i), "--size", f"{SIDE}x{SIDE}", "--config", "/dev/null", "-o", o)
        before, after = sa.analyse(sa.load(src)), sa.analyse(sa.load(o))
        moved = abs(after.get("cx", -9) - before["cx"]) + abs(after.get("cy", -9) - before["cy"])
        good = after.get("color") == new and after["background"] == scene["bg"] and moved < 0.15
        ok += good
        got.append(f"{scene['objects'][0]['color']}->{new}: {after.get('color')}")
    print(f"     image to image: {ok}/{n} recoloured in place ({'; '.join(got)})")
    assert ok >= EDIT_REQUIRED * n, ok


def light_edits(config, tag):
    """Edits at strength 0.3 whose prompt is the picture's own caption: (kept, mean differences)."""
    rng = np.random.default_rng(7)
    kept, diffs = 0, []
    for i in range(8):
        scene, _ = one_shape(rng)
        src = os.path.join(TMP, f"light{i}.png")
        Image.fromarray(shapes.render(scene, SIDE, supersample=1)).save(src)
        o = os.path.join(TMP, f"light{i}-{tag}.png")
        run("edit", src, caption_of(scene, scene["objects"][0]["color"]), "--strength", "0.3", "--quality", "low",
            "--seed", str(i), "--size", f"{SIDE}x{SIDE}", "--config", config, "-o", o)
        before, after = sa.analyse(sa.load(src)), sa.analyse(sa.load(o))
        moved = abs(after.get("cx", -9) - before["cx"]) + abs(after.get("cy", -9) - before["cy"])
        kept += (after["background"] == before["background"] and after.get("color") == before.get("color")
                 and after["count"] == before["count"] and moved < 0.1)
        diffs.append(float(np.abs(sa.load(o) - sa.load(src)).mean()))
    return kept, diffs


@test
def test_builtin_light_edit_gives_the_image_back():
    """What the image-to-image start point is made of: at strength 0.3 with the picture's own
    caption the result is the picture (same background, colour, count and place, a small mean
    difference). The control is the same model with its encoder's weights shuffled (same
    shapes and scales, nothing learnt), which must fail: the check measures the encoder."""
    kept, diffs = light_edits("/dev/null", "shipped")
    shuffled = os.path.join(TMP, "encoder-shuffled.safetensors")
    rng = np.random.default_rng(5)
    enc = load(os.path.join(ROOT, "models", "imgapi-shapes", "encoder.safetensors"))
    from golden import save
    save(shuffled, {k: rng.permutation(v.ravel()).reshape(v.shape).astype(np.float32) for k, v in enc.items()})
    conf = os.path.join(TMP, "shuffled.conf")
    with open(conf, "w") as f:
        f.write("model.shapes-shuffled.checkpoint = builtin:imgapi-shapes/model.safetensors\n"
                "model.shapes-shuffled.tokenizer = builtin:imgapi-shapes\n"
                "model.shapes-shuffled.tiny_decoder = builtin:imgapi-shapes/decoder.safetensors\n"
                f"model.shapes-shuffled.tiny_encoder = {shuffled}\n"
                "default_model = shapes-shuffled\nbuiltin_model = 0\n")
    kept_x, diffs_x = light_edits(conf, "shuffled")
    print(f"     light edits kept the picture {kept}/8 (mean differences {np.round(diffs, 1).tolist()}); "
          f"shuffled encoder {kept_x}/8 ({np.round(diffs_x, 1).tolist()})")
    # measured: 7/8 with differences 1.5-7.8 of 255; shuffled 0/8 with 11-110
    assert kept >= 6 and sorted(diffs)[5] < 12, (kept, diffs)
    assert kept_x <= 3, (kept_x, diffs_x)


@test
def test_serve_with_no_configuration_edits_through_every_route():
    """The seed snippet's route with a JSON edit, the OpenAI edits route and variations, served
    by the production binary with only its built-in model."""
    import requests
    scene, new = one_shape(np.random.default_rng(11), ("left",))
    arr = shapes.render(scene, SIDE, supersample=1)
    png = io.BytesIO()
    Image.fromarray(arr).save(png, "PNG")
    alpha = np.full((SIDE, SIDE), 255, np.uint8)
    alpha[:, : SIDE // 2] = 0
    mask = io.BytesIO()
    Image.fromarray(np.dstack([arr, alpha]), "RGBA").save(mask, "PNG")
    s = Server(args=["--config", "/dev/null"], binary=BIN)
    try:
        s.start()
        key = s.new_key("5")
        models = requests.get(s.url("/v1/models"), headers={"x-api-key": key}, timeout=10).json()["data"]
        caps = {m["id"]: m["capabilities"] for m in models}
        assert caps["imgapi-shapes"] == {"generate": True, "edit": True, "inpaint": True, "max_input_images": 1}, caps
        body = {"prompt": caption_of(scene, new), "image": base64.b64encode(png.getvalue()).decode(),
                "mask": base64.b64encode(mask.getvalue()).decode(), "quality": "low", "seed": 5}
        r = requests.post(s.url("/v1/gpt-image-1-mini"), json=body, headers={"x-api-key": key}, timeout=120)
        assert r.status_code == 200, r.text[:300]
        out = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["data"][0]["b64_json"]))).convert("RGB"))
        assert out.shape == arr.shape and (out[:, SIDE // 2 + SEAM:] == arr[:, SIDE // 2 + SEAM:]).all()
        left = np.asarray(Image.fromarray(out[:, : SIDE // 2 - SEAM]).resize((24, 48), Image.BOX), np.float32)
        got = object_colour(left, scene["bg"])
        h = {"Authorization": f"Bearer {key}"}
        r = requests.post(s.url("/v1/images/edits"), headers=h, timeout=120,
                          files={"image": ("a.png", png.getvalue(), "image/png"),
                                 "mask": ("m.png", mask.getvalue(), "image/png")},
                          data={"prompt": caption_of(scene, new), "quality": "low", "seed": "5"})
        assert r.status_code == 200, r.text[:300]
        same = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["data"][0]["b64_json"]))).convert("RGB"))
        assert (same == out).all(), "the JSON edit and the multipart edit with one seed must be the same image"
        r = requests.post(s.url("/v1/images/variations"), headers=h, timeout=120,
                          files={"image": ("a.png", png.getvalue(), "image/png")},
                          data={"n": "2", "size": "1024x1024", "seed": "5"})  # seeded: one image, every run
        assert r.status_code == 200 and len(r.json()["data"]) == 2, r.text[:300]
        var = sa.analyse(sa.load(io.BytesIO(base64.b64decode(r.json()["data"][0]["b64_json"]))))
        assert check_invariant(s, key)["reserved"] == 0
        print(f"     served edit: {scene['objects'][0]['color']}->{new} gave {got}; variation background "
              f"{var['background']} (input {scene['bg']})")
        assert got == new and var["background"] == scene["bg"], (got, var)
    finally:
        s.cleanup()


if __name__ == "__main__":
    sys.exit(main())
