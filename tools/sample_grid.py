#!/usr/bin/env python3
"""Renders the README's sample grid: one image per prompt from `imgapi generate` (the built-in
model unless --model says otherwise), captioned, in a grid.

  /usr/bin/python3 tools/sample_grid.py --imgapi build/imgapi --out docs/samples.png
"""
import argparse
import os
import subprocess
import tempfile

from PIL import Image, ImageDraw

PROMPTS = [
    "a red circle on a blue background",
    "two yellow stars on a purple background",
    "a large green triangle on a white background",
    "a pink heart at the top on a black background",
    "three small orange squares on a cyan background",
    "a blue ring on the left on a yellow background",
    "a white diamond on a brown background",
    "a black star on the right on a pink background",
    "a purple square left of a green circle on a white background",
    "a cyan heart on a red to yellow gradient",
    "a red star on a green background",
    "a yellow circle on a striped blue and black background",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgapi", default="build/imgapi")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--cell", type=int, default=192)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("extra", nargs="*", help="more imgapi generate arguments (after --)")
    a = ap.parse_args()
    cells = []
    with tempfile.TemporaryDirectory() as d:
        for i, p in enumerate(PROMPTS):
            out = os.path.join(d, f"{i}.png")
            cmd = [a.imgapi, "generate", p, "-o", out, "--seed", str(a.seed), "--compression", "0", *a.extra]
            if a.model:
                cmd += ["--model", a.model]
            subprocess.run(cmd, check=True, capture_output=True)
            cells.append((p, Image.open(out).convert("RGB").resize((a.cell, a.cell), Image.LANCZOS)))
    rows = (len(cells) + a.cols - 1) // a.cols
    label = 30
    grid = Image.new("RGB", (a.cols * (a.cell + 8) + 8, rows * (a.cell + label + 8) + 8), "white")
    draw = ImageDraw.Draw(grid)
    for i, (p, im) in enumerate(cells):
        x = 8 + (i % a.cols) * (a.cell + 8)
        y = 8 + (i // a.cols) * (a.cell + label + 8)
        grid.paste(im, (x, y))
        words, lines = p.split(), [""]
        for w in words:  # wrap the caption to the cell width
            if draw.textlength((lines[-1] + " " + w).strip()) > a.cell:
                lines.append(w)
            else:
                lines[-1] = (lines[-1] + " " + w).strip()
        draw.multiline_text((x, y + a.cell + 2), "\n".join(lines[:2]), fill="black", spacing=1)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    grid.save(a.out, optimize=True)


if __name__ == "__main__":
    main()
