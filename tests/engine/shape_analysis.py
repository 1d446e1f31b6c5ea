"""Deterministic analysis of a generated shapes image: background colour, blobs, their colour,
where they are and roughly what shape they have. Shape prototypes come from the data generator
itself (train/shapes.py), so the analysis and the training data agree on what a shape looks like."""
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "train"))
import shapes  # noqa: E402

N = 64  # analysis resolution (the built-in model's native size)
PALETTE = {k: np.array(v, np.float32) for k, v in shapes.COLORS.items()}


def nearest_color(rgb):
    return min(PALETTE, key=lambda k: float(((PALETTE[k] - rgb) ** 2).sum()))


def load(path):
    im = Image.open(path).convert("RGB").resize((N, N), Image.BOX)
    return np.asarray(im, np.float32)


def components(mask):
    """4-connected components of a boolean mask: list of (ys, xs) arrays."""
    seen = np.zeros_like(mask, bool)
    out = []
    h, w = mask.shape
    for y0 in range(h):
        for x0 in range(w):
            if not mask[y0, x0] or seen[y0, x0]:
                continue
            stack, ys, xs = [(y0, x0)], [], []
            seen[y0, x0] = True
            while stack:
                y, x = stack.pop()
                ys.append(y)
                xs.append(x)
                for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
            out.append((np.array(ys), np.array(xs)))
    return out


def background(img):
    border = np.concatenate([img[:3].reshape(-1, 3), img[-3:].reshape(-1, 3), img[:, :3].reshape(-1, 3),
                             img[:, -3:].reshape(-1, 3)])
    return np.median(border, 0)


def object_mask(img, bg, thresh=70.0):
    return np.sqrt(((img - bg) ** 2).sum(-1)) > thresh


def features(mask_full, ys, xs):
    """Scale-free shape features of one blob: fill of its box, aspect, hole, mass balance."""
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box = mask_full[y0:y1, x0:x1]
    fill = len(ys) / float(box.size)
    aspect = (x1 - x0) / float(y1 - y0)
    # a hole: background pixels inside the box not connected to the box border
    inv = ~box
    holes = 0
    for cy, cx in components(inv):
        if cy.min() > 0 and cx.min() > 0 and cy.max() < box.shape[0] - 1 and cx.max() < box.shape[1] - 1:
            holes += len(cy)
    hole = holes / float(box.size)
    rows = box.sum(1).astype(np.float32)
    top, bottom = rows[: len(rows) // 2].sum(), rows[(len(rows) + 1) // 2:].sum()
    balance = (top - bottom) / max(1.0, top + bottom)
    cols = box.sum(0).astype(np.float32)
    mid_row = rows[len(rows) // 2] / max(1.0, float(box.shape[1]))
    return np.array([fill, aspect, hole * 4, balance, mid_row, cols.max() / max(1.0, float(box.shape[0]))])


def _prototypes():
    protos = []
    for shape in shapes.SHAPES:
        for size in ("large", None):
            s = dict(bg="white", bg2=None, bg_kind="plain", count=1, relation=None,
                     objects=[dict(color="black", shape=shape, size=size, pos="center")])
            img = shapes.render(s, N).astype(np.float32)
            m = object_mask(img, background(img))
            blobs = sorted(components(m), key=lambda c: -len(c[0]))
            protos.append((shape, features(m, *blobs[0])))
    return protos


PROTOS = _prototypes()


def classify(mask_full, ys, xs):
    f = features(mask_full, ys, xs)
    return min(PROTOS, key=lambda p: float(((p[1] - f) ** 2).sum()))[0]


def analyse(img, min_area=10):
    """Everything the checks need, as a dict."""
    bg = background(img)
    m = object_mask(img, bg)
    blobs = [b for b in components(m) if len(b[0]) >= min_area]
    blobs.sort(key=lambda c: -len(c[0]))
    res = {"background": nearest_color(bg), "count": len(blobs)}
    if blobs:
        ys = np.concatenate([b[0] for b in blobs])
        xs = np.concatenate([b[1] for b in blobs])
        # the object's colour from its core (pixels far from the background colour)
        px = img[ys, xs]
        far = np.sqrt(((px - bg) ** 2).sum(-1))
        core = px[far >= np.percentile(far, 50)]
        res["color"] = nearest_color(np.median(core, 0))
        res["cx"], res["cy"] = (xs.mean() + 0.5) / N, (ys.mean() + 0.5) / N
        res["shape"] = classify(m, *blobs[0])
    return res


def checks(spec, res):
    """[(name, passed)] for one caption's spec: bg, color, count, pos (opt), shape (opt)."""
    out = [("background", res["background"] == spec["bg"]), ("count", res["count"] == spec["count"])]
    out.append(("color", res.get("color") == spec["color"]))
    if spec.get("pos"):
        cx, cy = res.get("cx", -1), res.get("cy", -1)
        p = spec["pos"]
        ok = {"left": 0 <= cx < 0.42, "right": cx > 0.58, "top": 0 <= cy < 0.42, "bottom": cy > 0.58,
              "center": 0.35 < cx < 0.65 and 0.35 < cy < 0.65}[p]
        out.append(("position", ok))
    if spec.get("shape_check"):
        out.append(("shape", res.get("shape") == spec["shape"]))
    return out
