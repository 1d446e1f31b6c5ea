#!/usr/bin/env python3
"""Captioned shape images for imgapi's built-in model: the data generator.

Every sample is drawn from a seed, so the same seed gives the same image and caption on every
machine. A scene is one background (plain, gradient, stripes, checks or dots) and either a group of
one to three identical shapes, or two different shapes side by side ("a red circle left of a blue
square"). Captions come from a small English grammar with variations.

  python3 train/shapes.py --seed 1 --count 16 --out /tmp/shapes   # writes PNGs and captions.txt

As a module: `scene(rng)` draws a scene description, `render(scene, size)` draws it (uint8 HxWx3)
and `caption(scene, rng)` words it. `render` can also return the object mask (for matte tests).
"""
import argparse
import math
import re
import os

import numpy as np
from PIL import Image, ImageDraw

COLORS = {
    "red": (220, 30, 30), "orange": (245, 140, 20), "yellow": (245, 225, 30),
    "green": (40, 170, 50), "blue": (30, 70, 220), "purple": (130, 40, 180),
    "pink": (245, 130, 190), "brown": (120, 70, 30), "black": (15, 15, 15),
    "white": (245, 245, 245), "gray": (128, 128, 128), "cyan": (40, 210, 230),
}
SHAPES = ["circle", "square", "triangle", "star", "heart", "ring", "diamond"]
PLURAL = {s: s + "s" for s in SHAPES}
SIZES = {"small": 0.22, None: 0.32, "large": 0.46}  # diameter as a share of the image side
POSITIONS = {"left": (0.27, 0.5), "right": (0.73, 0.5), "top": (0.5, 0.27), "bottom": (0.5, 0.73),
             "center": (0.5, 0.5)}
POSITION_WORDS = {"left": ["on the left", "at the left"], "right": ["on the right", "at the right"],
                  "top": ["at the top"], "bottom": ["at the bottom"],
                  "center": ["in the center", "in the middle"]}
# A caption without a position word means the centre: the centre is drawn more often than each
# side, and named less often, so that an unsaid position is common enough to be learnt.
POSITION_WEIGHTS = {"left": 0.16, "right": 0.16, "top": 0.16, "bottom": 0.16, "center": 0.36}
SAY_CENTER = 0.35
BACKGROUNDS = ["plain", "gradient", "stripes", "checks", "dots"]
COUNT_WORDS = {1: ["a", "one"], 2: ["two"], 3: ["three"]}

# (colour, shape) pairs the training set never shows; the held-out caption test uses them.
HELD_OUT = {("red", "star"), ("blue", "heart"), ("green", "ring"), ("yellow", "square"),
            ("purple", "circle"), ("orange", "triangle"), ("pink", "diamond"), ("cyan", "star"),
            ("white", "heart"), ("black", "circle"), ("brown", "square"), ("gray", "triangle")}


def _contrasting(rng, avoid):
    """A colour name far enough from every colour in `avoid`."""
    names = list(COLORS)
    while True:
        c = names[rng.integers(len(names))]
        if all(_dist(COLORS[c], COLORS[a]) > 120 for a in avoid):
            return c


def _dist(a, b):
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def scene(rng, held_out="exclude"):
    """A random scene. held_out: 'exclude' (training), 'only' (every object pair is held out)."""
    while True:
        s = _scene(rng)
        pairs = {(o["color"], o["shape"]) for o in s["objects"]}
        if held_out == "exclude" and pairs & HELD_OUT:
            continue
        if held_out == "only" and not pairs <= HELD_OUT:
            continue
        return s


def _scene(rng):
    bg_kind = BACKGROUNDS[1 + rng.integers(len(BACKGROUNDS) - 1)] if rng.random() < 0.3 else "plain"
    bg = list(COLORS)[rng.integers(len(COLORS))]
    bg2 = _contrasting(rng, [bg]) if bg_kind != "plain" else None
    objects = []
    if rng.random() < 0.2:  # two different shapes side by side or above each other
        rel = ["left of", "right of", "above", "below"][rng.integers(4)]
        c1 = _contrasting(rng, [bg] + ([bg2] if bg2 else []))
        c2 = _contrasting(rng, [bg] + ([bg2] if bg2 else []))
        s1, s2 = rng.choice(SHAPES, 2, replace=False)
        first, second = ("left", "right") if rel in ("left of", "right of") else ("top", "bottom")
        if rel in ("right of", "below"):
            first, second = second, first
        objects = [dict(color=c1, shape=str(s1), size=None, pos=first),
                   dict(color=c2, shape=str(s2), size=None, pos=second)]
        return dict(bg=bg, bg2=bg2, bg_kind=bg_kind, objects=objects, count=1, relation=rel)
    count = 1 if rng.random() < 0.6 else int(rng.integers(2, 4))
    color = _contrasting(rng, [bg] + ([bg2] if bg2 else []))
    shape = SHAPES[rng.integers(len(SHAPES))]
    if count == 1:
        size = [None, "small", "large"][rng.integers(3)]
        pos = str(rng.choice(list(POSITION_WEIGHTS), p=list(POSITION_WEIGHTS.values())))
        if size == "large" and pos != "center" and rng.random() < 0.5:
            size = None
    else:
        size = "small" if count == 3 or rng.random() < 0.5 else None
        pos = str(rng.choice(["center", "top", "bottom"], p=[0.5, 0.25, 0.25]))
    objects = [dict(color=color, shape=shape, size=size, pos=pos)]
    return dict(bg=bg, bg2=bg2, bg_kind=bg_kind, objects=objects, count=count, relation=None)


def caption(s, rng):
    """Words a scene in one of the grammar's variations."""
    bg = _bg_words(s, rng)
    if s["relation"]:
        first, second = _order(s)  # "FIRST left of SECOND": FIRST is the one on the left
        t = f"{_a(first['color'])} {first['shape']} {s['relation']} {_a(second['color'])} {second['shape']}"
        return t + (f" {bg}" if rng.random() < 0.8 else "")
    o = s["objects"][0]
    n = s["count"]
    word = COUNT_WORDS[n][rng.integers(len(COUNT_WORDS[n]))]
    first_word = o["size"] if o["size"] else o["color"]
    if word == "a" and first_word[0] in "aeiou":
        word = "an"
    noun = o["shape"] if n == 1 else PLURAL[o["shape"]]
    size = f"{o['size']} " if o["size"] else ""
    pos = POSITION_WORDS[o["pos"]][rng.integers(len(POSITION_WORDS[o["pos"]]))]
    say_pos = o["pos"] != "center" or rng.random() < SAY_CENTER
    forms = [f"{word} {size}{o['color']} {noun}", f"{word} {o['color']} {size}{noun}"]
    t = forms[rng.integers(2)] if size else forms[0]
    if say_pos:
        t = f"{t} {pos}"
    if rng.random() < 0.9:
        t = f"{t} {bg}" if rng.random() < 0.7 else f"{t}, {re.sub(r'^on an? ', '', bg)}"
    return t


def _a(word):
    """'a red', 'an orange'."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def _order(s):
    a, b = s["objects"]
    rel = s["relation"]
    if rel in ("left of", "above"):
        return (a, b) if a["pos"] in ("left", "top") else (b, a)
    return (a, b) if a["pos"] in ("right", "bottom") else (b, a)


def _bg_words(s, rng):
    k, c, c2 = s["bg_kind"], s["bg"], s["bg2"]
    if k == "plain":
        return f"on {_a(c)} background"
    if k == "gradient":
        return f"on {_a(c)} to {c2} gradient"
    adj = {"stripes": "striped", "checks": "checkered", "dots": "dotted"}[k]
    return f"on a {adj} {c} and {c2} background"


# ---- drawing ----

def _shape_polygon(shape, cx, cy, r):
    if shape == "square":
        r *= 0.86
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.94, cy + r * 0.75), (cx - r * 0.94, cy + r * 0.75)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r * 0.72, cy), (cx, cy + r), (cx - r * 0.72, cy)]
    if shape == "star":
        pts = []
        for i in range(10):
            a = -math.pi / 2 + i * math.pi / 5
            rr = r if i % 2 == 0 else r * 0.45
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a) + r * 0.08))
        return pts
    if shape == "heart":
        pts = []
        for i in range(48):
            t = 2 * math.pi * i / 48
            x = 16 * math.sin(t) ** 3
            y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            pts.append((cx + x * r / 16.5, cy - y * r / 16.5 - r * 0.05))
        return pts
    return None


def _draw_shape(d, shape, cx, cy, r, fill):
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        d.ellipse([cx - r * 0.55, cy - r * 0.55, cx + r * 0.55, cy + r * 0.55], fill=0 if fill == 255 else None)
    else:
        d.polygon(_shape_polygon(shape, cx, cy, r), fill=fill)


def _background(s, n):
    c = np.array(COLORS[s["bg"]], np.float32)
    img = np.empty((n, n, 3), np.float32)
    img[:] = c
    k = s["bg_kind"]
    if k == "plain":
        return img
    c2 = np.array(COLORS[s["bg2"]], np.float32)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    if k == "gradient":
        t = yy[..., None]
        return c * (1 - t) + c2 * t
    if k == "stripes":
        m = (np.floor(xx * 8) % 2 == 1)
    elif k == "checks":
        m = ((np.floor(xx * 6) + np.floor(yy * 6)) % 2 == 1)
    else:
        m = ((xx * 8 % 1 - 0.5) ** 2 + (yy * 8 % 1 - 0.5) ** 2) < 0.06
    img[m] = c2
    return img


def _placements(s):
    """(shape, colour, cx, cy, radius) in [0, 1] units."""
    out = []
    if s["relation"]:
        for o in s["objects"]:
            x, y = POSITIONS[o["pos"]]
            out.append((o["shape"], o["color"], x, y, SIZES[None] / 2))
        return out
    o = s["objects"][0]
    r = SIZES[o["size"]] / 2
    x, y = POSITIONS[o["pos"]]
    n = s["count"]
    if n == 1:
        return [(o["shape"], o["color"], x, y, r)]
    xs = [0.28, 0.72] if n == 2 else [0.2, 0.5, 0.8]
    return [(o["shape"], o["color"], cx, y, r) for cx in xs]


def render(s, size=64, with_mask=False, supersample=4):
    """The scene as uint8 [size, size, 3]; with_mask also returns the object coverage in [0, 1]."""
    n = size * supersample
    img = _background(s, n)
    cover = Image.new("L", (n, n), 0)
    for shape, color, x, y, r in _placements(s):
        m = Image.new("L", (n, n), 0)
        _draw_shape(ImageDraw.Draw(m), shape, x * n, y * n, r * n, 255)
        a = np.asarray(m, np.float32)[..., None] / 255.0
        img = img * (1 - a) + np.array(COLORS[color], np.float32) * a
        cover = Image.fromarray(np.maximum(np.asarray(cover), np.asarray(m)))
    small = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8)).resize((size, size), Image.BOX)
    out = np.asarray(small)
    if with_mask:
        mask = np.asarray(cover.resize((size, size), Image.BOX), np.float32) / 255.0
        return out, mask
    return out


def sample(seed, size=64, held_out="exclude"):
    """(image, caption, scene) of one seed."""
    rng = np.random.default_rng(seed)
    s = scene(rng, held_out)
    return render(s, size), caption(s, rng), s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--held-out", choices=["exclude", "only"], default="exclude")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "captions.txt"), "w") as f:
        for i in range(a.count):
            img, cap, _ = sample(a.seed * 1_000_003 + i, a.size, a.held_out)
            Image.fromarray(img).save(os.path.join(a.out, f"{i:05d}.png"))
            f.write(f"{i:05d}.png\t{cap}\n")


if __name__ == "__main__":
    main()
