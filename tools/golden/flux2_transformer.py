#!/usr/bin/env python3
"""Golden tensors for the FLUX.2 rectified-flow transformer (issue 33), made with Black Forest
Labs' reference code: `src/flux2/model.py` (Flux2, Flux2Params) of
github.com/black-forest-labs/flux2, fetched by whoever runs this and never committed here. Runs
on Debian's python3-torch (1.13) with the shims of flux2_ae.py (einops.rearrange for the
patterns model.py uses, scaled_dot_product_attention) and torch.einsum as it is.

A small configuration (flux2_transformer_weights.CONFIG: hidden 64, 2 heads of 32, RoPE axes
[8, 8, 8, 8], 2 double- and 2 single-stream blocks, 16 latent channels, 48-wide context) with the
seeded weights of flux2_transformer_weights.py, computed in float64, saved in float32:

  io.safetensors   a.x [1, 12, 16] (a 3 x 4 latent's tokens), a.x_ids [1, 12, 4] (t, h, w, l),
                   a.timesteps [1], a.ctx [1, 5, 48], a.ctx_ids [1, 5, 4], a.guidance [1] -> a.out
                   [1, 12, 16]; b. the same with 2 x 6 tokens, 7 text tokens, other times, and
                   a reference image's tokens appended with t = 1 (multi-reference editing)

Usage: tools/golden/flux2_transformer.py --flux2-src PATH/flux2/src --out tests/engine/data/flux2_transformer
"""
import argparse
import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from safetensors_np import save  # noqa: E402

import flux2_ae  # noqa: E402  (its shims)
import flux2_transformer_weights as tw  # noqa: E402


def rearrange(x, pattern, **kw):
    p = " ".join(pattern.split())
    if p == "B L (K H D) -> K B H L D":
        b, n, _ = x.shape
        k, h = kw["K"], kw["H"]
        return x.reshape(b, n, k, h, -1).permute(2, 0, 3, 1, 4)
    if p == "B H L D -> B L (H D)":
        b, h, n, d = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, n, h * d)
    if p == "b n d (i j) -> b n d i j":
        return x.reshape(*x.shape[:-1], kw["i"], kw["j"])
    return flux2_ae.rearrange(x, pattern, **kw)


def ids(t, h, w, lo=0):
    """Position ids (t, h, w, l) of an h x w latent's tokens at time index t, row by row."""
    out = [(t, i, j, 0) for i in range(h) for j in range(w)]
    return torch.tensor(out, dtype=torch.float64)[None]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flux2-src", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.modules["einops"] = types.SimpleNamespace(rearrange=rearrange)
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        torch.nn.functional.scaled_dot_product_attention = flux2_ae.sdpa
    sys.path.insert(0, a.flux2_src)
    from flux2.model import Flux2, Flux2Params

    c = tw.CONFIG
    model = Flux2(Flux2Params(**c)).double().eval()
    state = {k: torch.from_numpy(v.astype(np.float64)) for k, v in tw.weights().items()}
    model.load_state_dict(state, strict=True)
    g = torch.Generator().manual_seed(34)
    io = {}
    with torch.no_grad():
        for case, (h, w, nt, t, gd, refs) in (("a", (3, 4, 5, 0.75, 4.0, False)), ("b", (2, 6, 7, 0.3, 1.0, True))):
            x_ids = ids(0, h, w)
            if refs:  # a reference image's 2 x 3 latent, at time index 1
                x_ids = torch.cat([x_ids, ids(1, 2, 3)], dim=1)
            n = x_ids.shape[1]
            x = torch.randn(1, n, c["in_channels"], generator=g, dtype=torch.float64)
            ctx = torch.randn(1, nt, c["context_in_dim"], generator=g, dtype=torch.float64)
            ctx_ids = torch.tensor([(0, 0, 0, i) for i in range(nt)], dtype=torch.float64)[None]
            ts = torch.tensor([t], dtype=torch.float64)
            guid = torch.tensor([gd], dtype=torch.float64)
            out = model(x, x_ids, ts, ctx, ctx_ids, guid)
            for k, v in (("x", x), ("x_ids", x_ids), ("timesteps", ts), ("ctx", ctx), ("ctx_ids", ctx_ids),
                         ("guidance", guid), ("out", out)):
                io[f"{case}.{k}"] = v.float().numpy()
    os.makedirs(a.out, exist_ok=True)
    save(os.path.join(a.out, "io.safetensors"), io)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
