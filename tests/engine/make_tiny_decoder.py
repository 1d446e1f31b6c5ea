#!/usr/bin/env python3
"""Writes a TAESD-structured decoder with random weights (tests), and decodes with a numpy
reference of the same architecture: Clamp, conv, ReLU, 3 blocks, (upsample, conv, 3 blocks) x2,
upsample, conv, block, conv -> 3 channels.
Usage: make_tiny_decoder.py OUT.safetensors [--ups N] [--latent IN.safetensors --ref OUT_REF.safetensors]"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import save  # noqa: E402

C = 16


UPS = 3


def layout():
    seq = ["clamp", ("conv", 4, C, True), "relu", "block", "block", "block"]
    for _ in range(UPS - 1):
        seq += ["up", ("conv", C, C, False), "block", "block", "block"]
    seq += ["up", ("conv", C, C, False), "block", ("conv", C, 3, True)]
    return seq


def make(rng):
    w = {}
    for i, l in enumerate(layout()):
        if isinstance(l, tuple):
            _, cin, cout, bias = l
            w[f"{i}.weight"] = (rng.standard_normal((cout, cin, 3, 3)) * (1 / np.sqrt(cin * 9))).astype(np.float32)
            if bias:
                w[f"{i}.bias"] = (rng.standard_normal(cout) * 0.1).astype(np.float32)
        elif l == "block":
            for j in (0, 2, 4):
                w[f"{i}.conv.{j}.weight"] = (rng.standard_normal((C, C, 3, 3)) * (1 / np.sqrt(C * 9))).astype(np.float32)
                w[f"{i}.conv.{j}.bias"] = (rng.standard_normal(C) * 0.1).astype(np.float32)
    return w


def conv(x, wt, b):  # x [c, h, w], 3x3, pad 1
    c, h, wd = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([p[:, i:i + h, j:j + wd] for i in range(3) for j in range(3)], axis=1)  # c,9,h,w
    y = np.tensordot(wt.reshape(wt.shape[0], c * 9), cols.reshape(c * 9, h * wd), 1).reshape(-1, h, wd)
    return y + (b[:, None, None] if b is not None else 0)


def decode(w, z):
    x = z.astype(np.float64)
    for i, l in enumerate(layout()):
        if l == "clamp":
            x = np.tanh(x / 3) * 3
        elif l == "relu":
            x = np.maximum(x, 0)
        elif l == "up":
            x = x.repeat(2, axis=1).repeat(2, axis=2)
        elif l == "block":
            h = np.maximum(conv(x, w[f"{i}.conv.0.weight"], w[f"{i}.conv.0.bias"]), 0)
            h = np.maximum(conv(h, w[f"{i}.conv.2.weight"], w[f"{i}.conv.2.bias"]), 0)
            h = conv(h, w[f"{i}.conv.4.weight"], w[f"{i}.conv.4.bias"])
            x = np.maximum(h + x, 0)
        else:
            x = conv(x, w[f"{i}.weight"], w.get(f"{i}.bias"))
    return x


if __name__ == "__main__":
    if "--ups" in sys.argv:
        UPS = int(sys.argv[sys.argv.index("--ups") + 1])
    rng = np.random.default_rng(7)
    w = make(rng)
    save(sys.argv[1], w)
    if "--latent" in sys.argv:
        z = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
        save(sys.argv[sys.argv.index("--latent") + 1], {"latent": z})
        save(sys.argv[sys.argv.index("--ref") + 1], {"image": decode(w, z[0])[None].astype(np.float32)})
