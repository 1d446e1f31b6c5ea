#!/usr/bin/env python3
"""Golden tensors for FLUX.2's sampling (issue 33), made with Black Forest Labs' reference code:
`get_schedule` and `denoise` of `src/flux2/sampling.py` (github.com/black-forest-labs/flux2,
fetched by whoever runs this and never committed here), on Debian's python3-torch 1.13 with the
shims of flux2_ae.py / flux2_transformer.py (torchvision, imported there for image loading only,
is a stub).

  io.safetensors
    sN_L.timesteps      get_schedule(N, L) for (N, L) in (1, 16), (4, 256), (4, 4096), (28, 1024),
                        (50, 6000): the shifted flow-matching times, N + 1 of them from 1 to 0
    a.x, a.x_ids        a 3 x 4 latent's noise tokens [1, 12, 16] and ids (0, h, w, 0)
    a.ref, a.ref_ids    one reference image's 2 x 3 latent tokens [1, 6, 16], ids (10, h, w, 0),
                        as encode_image_refs places the first reference
    a.ctx, a.ctx_ids    5 text tokens [1, 5, 48], ids (0, 0, 0, l)
    a.guidance [1], a.timesteps [4] = get_schedule(3, 12)
    a.out               denoise(...) with the small transformer of flux2_transformer_weights.py:
                        three Euler steps over the flow predictions, the reference tokens appended
                        to the sequence and dropped from each prediction

Usage: tools/golden/flux2_sampler.py --flux2-src PATH/flux2/src --out tests/engine/data/flux2_sampler
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

import flux2_ae  # noqa: E402
import flux2_transformer  # noqa: E402
import flux2_transformer_weights as tw  # noqa: E402

SCHEDULES = [(1, 16), (4, 256), (4, 4096), (28, 1024), (50, 6000)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flux2-src", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.modules["einops"] = types.SimpleNamespace(rearrange=flux2_transformer.rearrange)
    sys.modules["torchvision"] = types.SimpleNamespace()
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        torch.nn.functional.scaled_dot_product_attention = flux2_ae.sdpa
    sys.path.insert(0, a.flux2_src)
    from flux2.model import Flux2, Flux2Params
    from flux2.sampling import denoise, get_schedule

    io = {}
    for n, seq in SCHEDULES:
        io[f"s{n}_{seq}.timesteps"] = np.array(get_schedule(n, seq), np.float32)
    c = tw.CONFIG
    model = Flux2(Flux2Params(**c)).double().eval()
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in tw.weights().items()}, strict=True)
    g = torch.Generator().manual_seed(35)
    x_ids = flux2_transformer.ids(0, 3, 4)
    ref_ids = flux2_transformer.ids(10, 2, 3)
    x = torch.randn(1, 12, c["in_channels"], generator=g, dtype=torch.float64)
    ref = torch.randn(1, 6, c["in_channels"], generator=g, dtype=torch.float64)
    ctx = torch.randn(1, 5, c["context_in_dim"], generator=g, dtype=torch.float64)
    ctx_ids = torch.tensor([(0, 0, 0, i) for i in range(5)], dtype=torch.float64)[None]
    ts = get_schedule(3, 12)
    with torch.no_grad():
        out = denoise(model, x, x_ids, ctx, ctx_ids, ts, 4.0, img_cond_seq=ref, img_cond_seq_ids=ref_ids)
    for k, v in (("x", x), ("x_ids", x_ids), ("ref", ref), ("ref_ids", ref_ids), ("ctx", ctx), ("ctx_ids", ctx_ids),
                 ("out", out)):
        io["a." + k] = v.float().numpy()
    io["a.guidance"] = np.array([4.0], np.float32)
    io["a.timesteps"] = np.array(ts, np.float32)
    os.makedirs(a.out, exist_ok=True)
    save(os.path.join(a.out, "io.safetensors"), io)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
