#!/usr/bin/env python3
"""Golden tensors for the FLUX.2 autoencoder (issue 33), made with Black Forest Labs' reference
code: `src/flux2/autoencoder.py` of github.com/black-forest-labs/flux2, fetched by whoever runs
this and never committed here. Runs on Debian's python3-torch (1.13) with two shims, both
written here: `einops.rearrange` for the four patterns the module uses, and
`torch.nn.functional.scaled_dot_product_attention` (torch 2.0) as its definition.

A small configuration of the real architecture (ch 32, ch_mult [1, 2], one resnet block per
level, z_channels 32, so 128 channels after the 2x2 patchify) with the seeded weights of
flux2_ae_weights.py (numpy; loaded into the reference module strictly, every name and shape
checked, and written again by the tests rather than committed), computed in float64 from those
float32 values, saved in float32:

  encoder.safetensors   a.image [1, 3, 32, 32], b.image [1, 3, 16, 32] in [-1, 1] -> a.moments / b.moments
                        (encoder output after quant_conv), a.mean / b.mean (its first half),
                        a.latent / b.latent (patchified and normalised: AutoEncoder.encode)
  decoder.safetensors   a.latent, b.latent [1, 128, h, w] (random) -> a.image, b.image
                        (AutoEncoder.decode)

Usage: tools/golden/flux2_ae.py --flux2-src PATH/flux2/src --out tests/engine/data/flux2_ae
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

import flux2_ae_weights  # noqa: E402


def rearrange(x, pattern, **kw):
    """The patterns autoencoder.py uses, by their meaning."""
    p = " ".join(pattern.split())
    if p == "b c h w -> b 1 (h w) c":
        b, c, h, w = x.shape
        return x.reshape(b, c, h * w).permute(0, 2, 1).unsqueeze(1)
    if p == "b 1 (h w) c -> b c h w":
        return x.squeeze(1).permute(0, 2, 1).reshape(kw["b"], kw["c"], kw["h"], kw["w"])
    if p == "... c (i pi) (j pj) -> ... (c pi pj) i j":
        pi, pj = kw["pi"], kw["pj"]
        *lead, c, hh, ww = x.shape
        y = x.reshape(*lead, c, hh // pi, pi, ww // pj, pj)
        n = len(lead)
        y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
        return y.reshape(*lead, c * pi * pj, hh // pi, ww // pj)
    if p == "... (c pi pj) i j -> ... c (i pi) (j pj)":
        pi, pj = kw["pi"], kw["pj"]
        *lead, cpp, i, j = x.shape
        c = cpp // (pi * pj)
        y = x.reshape(*lead, c, pi, pj, i, j)
        n = len(lead)
        y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
        return y.reshape(*lead, c, i * pi, j * pj)
    raise ValueError("pattern not shimmed: " + pattern)


def sdpa(q, k, v):
    s = q @ k.transpose(-1, -2) / np.sqrt(q.shape[-1])
    return torch.softmax(s, dim=-1) @ v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flux2-src", required=True, help="the src directory of a flux2 checkout")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.modules["einops"] = types.SimpleNamespace(rearrange=rearrange)
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        torch.nn.functional.scaled_dot_product_attention = sdpa
    sys.path.insert(0, a.flux2_src)
    from flux2.autoencoder import AutoEncoder, AutoEncoderParams

    torch.manual_seed(33)
    c = flux2_ae_weights.CONFIG
    p = AutoEncoderParams(resolution=32, in_channels=c["in_channels"], ch=c["ch"], out_ch=c["out_ch"],
                          ch_mult=c["ch_mult"], num_res_blocks=c["num_res_blocks"], z_channels=c["z_channels"])
    ae = AutoEncoder(p).double().eval()
    w = flux2_ae_weights.weights()
    state = {k: torch.from_numpy(v.astype(np.float64)) for k, v in w.items()}
    state["bn.num_batches_tracked"] = ae.bn.num_batches_tracked
    ae.load_state_dict(state, strict=True)
    os.makedirs(a.out, exist_ok=True)
    enc, dec = {}, {}
    with torch.no_grad():
        for case, (h, w) in (("a", (32, 32)), ("b", (16, 32))):
            img = torch.rand(1, 3, h, w, dtype=torch.float64) * 2 - 1
            moments = ae.encoder(img)
            enc[case + ".image"] = img
            enc[case + ".moments"] = moments
            enc[case + ".mean"] = torch.chunk(moments, 2, dim=1)[0]
            enc[case + ".latent"] = ae.encode(img)
            z = torch.randn(1, 4 * p.z_channels, h // 4, w // 4, dtype=torch.float64)
            dec[case + ".latent"] = z
            dec[case + ".image"] = ae.decode(z)
    save(os.path.join(a.out, "encoder.safetensors"), {k: v.float().numpy() for k, v in enc.items()})
    save(os.path.join(a.out, "decoder.safetensors"), {k: v.float().numpy() for k, v in dec.items()})
    print("wrote", a.out)


if __name__ == "__main__":
    main()
