"""Edits through the engine, as a user runs them: `imgapi edit` on tiny checkpoints assembled from
the golden random-weight parts (an SD2 UNet with a whole KL autoencoder, and a 9-channel
inpainting UNet). Random weights draw no pictures, so this checks what holds for any weights:
the output's size, that the seed reproduces it, that strength changes it, that the unmasked
pixels of an inpainting result are the input's exactly (outside the 8 px seam), and that bad
input is refused with a clear reason."""
import io
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from harness import main, test  # noqa: E402

BIN = os.environ.get("IMGAPI_PROD_BIN", "build/imgapi")
GOLDEN = os.environ.get("IMGAPI_GOLDEN", os.path.join(HERE, "..", "..", "..", "shared", "golden"))
TMP = tempfile.mkdtemp(prefix="imgapi-edit-")
CONF = os.path.join(TMP, "edit.conf")


def setup():
    tok = os.path.join(GOLDEN, "tokenizer", "bpe_simple_vocab_16e6.txt.gz")
    lines = []
    for fam, mid in (("sd2-edit", "tiny-edit"), ("inpaint", "tiny-inpaint"), ("sd2", "tiny-decode-only")):
        path = os.path.join(TMP, f"{mid}.safetensors")
        subprocess.run([sys.executable, os.path.join(HERE, "make_tiny_checkpoint.py"), GOLDEN, fam, path], check=True)
        lines += [f"model.{mid}.checkpoint = {path}", f"model.{mid}.tokenizer = {tok}", f"model.{mid}.native = 64",
                  f"model.{mid}.profile = turbo"]
    with open(CONF, "w") as f:
        f.write("\n".join(lines) + "\n")


def edit(*args, check=True):
    p = subprocess.run([BIN, "edit", *args, "--config", CONF], capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"edit {args} failed ({p.returncode}): {p.stderr}")
    return p


def picture(w, h, seed=0):
    rng = np.random.default_rng(seed)
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (200, 40, 30)
    a[:, w // 2:] = (30, 60, 190)
    a = np.clip(a.astype(int) + rng.integers(-20, 20, a.shape), 0, 255).astype(np.uint8)
    return a


def save(arr, name, mode=None):
    path = os.path.join(TMP, name)
    Image.fromarray(arr, mode).save(path)
    return path


@test
def test_image_to_image_sized_reproducible_and_steered_by_strength():
    src = save(picture(96, 64), "in.png")
    outs = {}
    for tag, strength, seed in (("a", "0.5", "7"), ("b", "0.5", "7"), ("c", "1.0", "7"), ("d", "0.5", "8")):
        o = os.path.join(TMP, f"i2i-{tag}.png")
        edit(src, "a red and blue flag", "--model", "tiny-edit", "--strength", strength, "--seed", seed, "-o", o)
        outs[tag] = open(o, "rb").read()
    im = Image.open(io.BytesIO(outs["a"]))
    assert im.size == (1536, 1024), im.size  # size auto follows the input's aspect (3:2)
    assert outs["a"] == outs["b"], "the same seed and strength must give the same image"
    assert outs["a"] != outs["c"] and outs["a"] != outs["d"]
    # an RGBA input is edited by its colour channels: the same picture with an alpha channel
    # gives the same image
    rgba = save(np.dstack([picture(96, 64), np.full((64, 96), 255, np.uint8)]), "in-rgba.png", "RGBA")
    o = os.path.join(TMP, "i2i-rgba.png")
    edit(rgba, "a red and blue flag", "--model", "tiny-edit", "--strength", "0.5", "--seed", "7", "-o", o)
    assert open(o, "rb").read() == outs["a"], "an opaque RGBA input must edit like its RGB picture"
    o = os.path.join(TMP, "i2i-sq.png")
    edit(src, "x y", "--model", "tiny-edit", "--size", "1024x1024", "-o", o, "--format", "webp")
    assert Image.open(o).size == (1024, 1024) and Image.open(o).format == "WEBP"


def check_inpaint(model):
    w = h = 1024
    arr = picture(w, h, 3)
    src = save(arr, f"inp-{model}.png")
    alpha = np.full((h, w), 255, np.uint8)
    alpha[300:700, 400:800] = 0  # repaint this rectangle
    rgba = np.dstack([arr, alpha])
    mask = save(rgba, f"mask-{model}.png", "RGBA")
    o = os.path.join(TMP, f"inp-out-{model}.png")
    edit(src, "a green square", "--model", model, "--mask", mask, "--seed", "3", "--size", "1024x1024", "-o", o)
    out = np.asarray(Image.open(o).convert("RGB"))
    keep = np.ones((h, w), bool)
    keep[300 - 9:700 + 9, 400 - 9:800 + 9] = False  # the mask and its seam
    assert (out[keep] == arr[keep]).all(), int((out[keep] != arr[keep]).any(axis=1).sum())
    inside = out[300:700, 400:800].astype(int) - arr[300:700, 400:800].astype(int)
    assert np.abs(inside).mean() > 5, "the masked area was not repainted"
    # the same picture given as RGBA (its alpha the mask's) inpaints to the same image
    o2 = os.path.join(TMP, f"inp-out-rgba-{model}.png")
    edit(mask, "a green square", "--model", model, "--mask", mask, "--seed", "3", "--size", "1024x1024", "-o", o2)
    assert open(o2, "rb").read() == open(o, "rb").read(), "an RGBA input must inpaint like its RGB picture"
    print(f"     {model}: {int(keep.sum())} unmasked pixels equal the input's, masked area mean change "
          f"{np.abs(inside).mean():.1f}")


@test
def test_inpainting_keeps_every_unmasked_pixel_blended_unet():
    check_inpaint("tiny-edit")


@test
def test_inpainting_keeps_every_unmasked_pixel_nine_channel_unet():
    check_inpaint("tiny-inpaint")


@test
def test_bad_edits_are_refused_with_the_reason():
    src = save(picture(64, 64), "small.png")
    noalpha = save(picture(64, 64), "noalpha.png")
    wrong = save(np.dstack([picture(32, 32), np.zeros((32, 32), np.uint8)]), "wrong.png", "RGBA")
    notimg = os.path.join(TMP, "notimg.png")
    open(notimg, "wb").write(b"hello, this is text")
    trunc = os.path.join(TMP, "trunc.png")
    open(trunc, "wb").write(open(src, "rb").read()[:200])
    bomb = os.path.join(TMP, "bomb.png")
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    open(bomb, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) +
                           chunk(b"IEND", b""))
    cases = [((src, "p", "--model", "tiny-edit", "--mask", noalpha), "no alpha"),
             ((src, "p", "--model", "tiny-edit", "--mask", wrong), "must be the image's size"),
             ((notimg, "p", "--model", "tiny-edit"), "not a PNG, JPEG or WebP"),
             ((trunc, "p", "--model", "tiny-edit"), "truncated"),
             ((bomb, "p", "--model", "tiny-edit"), "over the limits"),
             ((src, src, "p", "--model", "tiny-edit"), "takes 1 input image"),
             ((src, "p", "--strength", "0"), "--strength"),
             ((src, "p", "--model", "tiny-decode-only"), "cannot edit")]  # a VAE file without its encoder
    for args, reason in cases:
        p = edit(*args, "-o", os.path.join(TMP, "never.png"), check=False)
        assert p.returncode != 0 and reason in p.stderr, (args, p.returncode, p.stderr)
    assert not os.path.exists(os.path.join(TMP, "never.png"))


if __name__ == "__main__":
    setup()
    sys.exit(main())
