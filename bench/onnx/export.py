#!/usr/bin/env python3
"""Exports the UNet and the KL VAE decoder of an SD 2.x-shaped single-file checkpoint (SD-Turbo,
SD 2.1: linear transformer projections, 64-channel heads; e.g. the random-weight file of
tools/make_random_checkpoint.py sd-turbo) to ONNX, so that ONNX Runtime can be timed on exactly
the weights imgapi loads (bench/onnx/run.py).

    bench/onnx/export.py CHECKPOINT.safetensors OUTDIR [--size 512]

Writes OUTDIR/unet/unet.onnx (its weights as external data files beside it: the fp32 UNet is
3.5 GB, over protobuf's 2 GB) and OUTDIR/vae_decoder.onnx, opset 17. The modules below are this project's own, written from the
LDM key layout (model.diffusion_model.*, first_stage_model.decoder.*, post_quant_conv); the
checkpoint loads into them strictly, so every weight is used and none is invented. Needs
Debian's python3-torch; the product never does."""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "train"))
import model  # noqa: E402  (the project's own LDM blocks, shared with the built-in model)
from model import Down, ResBlock, Seq, Up, gn, timestep_embedding  # noqa: E402


def load_prefixed(path, prefix):
    """The tensors of a safetensors file whose names start with prefix, as float32, prefix cut."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        dtypes = {"F16": np.float16, "F32": np.float32, "BF16": None}
        for name, d in header.items():
            if name == "__metadata__" or not name.startswith(prefix):
                continue
            a, b = d["data_offsets"]
            f.seek(base + a)
            raw = f.read(b - a)
            if d["dtype"] == "BF16":
                arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(raw, dtypes[d["dtype"]]).astype(np.float32)
            out[name[len(prefix):]] = torch.from_numpy(arr.reshape(d["shape"]).copy())
    return out


class SpatialTransformer(model.SpatialTransformer):
    """SD 2.x: linear proj_in / proj_out (the built-in model's SD 1.x structure has 1x1 convs)."""

    def __init__(self, c, ctx, heads):
        super().__init__(c, ctx, heads)
        self.proj_in = nn.Linear(c, c)
        self.proj_out = nn.Linear(c, c)

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x).flatten(2).transpose(1, 2))
        for blk in self.transformer_blocks:
            h = blk(h, ctx)
        return x + self.proj_out(h).transpose(1, 2).reshape(b, c, hh, ww)


class UNet(nn.Module):
    def __init__(self, mc=320, mult=(1, 2, 4, 4), attn_levels=(0, 1, 2), ctx=1024, head_ch=64, blocks=2):
        super().__init__()
        self.mc = mc
        emb = 4 * mc
        self.time_embed = nn.Sequential(nn.Linear(mc, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList([Seq([nn.Conv2d(4, mc, 3, padding=1)])])
        chans, c = [mc], mc
        for lvl, m in enumerate(mult):
            for _ in range(blocks):
                layers = [ResBlock(c, mc * m, emb)]
                c = mc * m
                if lvl in attn_levels:
                    layers.append(SpatialTransformer(c, ctx, c // head_ch))
                self.input_blocks.append(Seq(layers))
                chans.append(c)
            if lvl != len(mult) - 1:
                self.input_blocks.append(Seq([Down(c)]))
                chans.append(c)
        self.middle_block = Seq([ResBlock(c, c, emb), SpatialTransformer(c, ctx, c // head_ch), ResBlock(c, c, emb)])
        self.output_blocks = nn.ModuleList()
        for lvl, m in list(enumerate(mult))[::-1]:
            for i in range(blocks + 1):
                layers = [ResBlock(c + chans.pop(), mc * m, emb)]
                c = mc * m
                if lvl in attn_levels:
                    layers.append(SpatialTransformer(c, ctx, c // head_ch))
                if lvl and i == blocks:
                    layers.append(Up(c))
                self.output_blocks.append(Seq(layers))
        self.out = nn.Sequential(gn(c, 1e-5), nn.SiLU(), nn.Conv2d(c, 4, 3, padding=1))

    def forward(self, x, t, ctx):
        emb = self.time_embed(timestep_embedding(t, self.mc))
        skips = []
        for blk in self.input_blocks:
            x = blk(x, emb, ctx)
            skips.append(x)
        x = self.middle_block(x, emb, ctx)
        for blk in self.output_blocks:
            x = blk(torch.cat([x, skips.pop()], 1), emb, ctx)
        return self.out(x)


# ------------------------------------------------------------------ KL VAE decoder

class VaeRes(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1, self.conv1 = gn(cin, 1e-6), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = gn(cout, 1e-6), nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class VaeAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = gn(c, 1e-6)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.norm(x)
        q = self.q(h).flatten(2).transpose(1, 2)
        k = self.k(h).flatten(2)
        v = self.v(h).flatten(2).transpose(1, 2)
        att = torch.softmax((q @ k) * (1.0 / math.sqrt(c)), -1)
        return x + self.proj_out((att @ v).transpose(1, 2).reshape(b, c, hh, ww))


class VaeUp(nn.Module):
    def __init__(self, cin, cout, upsample):
        super().__init__()
        self.block = nn.ModuleList([VaeRes(cin if i == 0 else cout, cout) for i in range(3)])
        if upsample:
            self.upsample = Up(cout)


class Decoder(nn.Module):
    def __init__(self, ch=128, mult=(1, 2, 4, 4), z=4):
        super().__init__()
        top = ch * mult[-1]
        self.conv_in = nn.Conv2d(z, top, 3, padding=1)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = VaeRes(top, top), VaeAttn(top), VaeRes(top, top)
        ups, c = [], top
        for lvl in reversed(range(len(mult))):
            ups.insert(0, VaeUp(c, ch * mult[lvl], lvl != 0))
            c = ch * mult[lvl]
        self.up = nn.ModuleList(ups)
        self.norm_out = gn(c, 1e-6)
        self.conv_out = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, z):
        h = self.conv_in(z)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        for up in reversed(self.up):
            for blk in up.block:
                h = blk(h)
            if hasattr(up, "upsample"):
                h = up.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VaeDecode(nn.Module):
    """What a pipeline decodes: latent / 0.18215 -> post_quant_conv -> decoder."""

    def __init__(self):
        super().__init__()
        self.post_quant_conv = nn.Conv2d(4, 4, 1)
        self.decoder = Decoder()

    def forward(self, z):
        return self.decoder(self.post_quant_conv(z * (1.0 / 0.18215)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=512, help="image side (the latent is size / 8)")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    torch.set_grad_enabled(False)
    lat = a.size // 8

    unet = UNet().eval()
    sd = load_prefixed(a.checkpoint, "model.diffusion_model.")
    unet.load_state_dict(sd, strict=True)  # every tensor of the file, no other
    del sd
    x, t, ctx = torch.randn(1, 4, lat, lat), torch.tensor([999], dtype=torch.int64), torch.randn(1, 77, 1024)
    os.makedirs(os.path.join(a.outdir, "unet"), exist_ok=True)
    path = os.path.join(a.outdir, "unet", "unet.onnx")
    torch.onnx.export(unet, (x, t, ctx), path, opset_version=17, input_names=["x", "t", "context"],
                      output_names=["eps"], do_constant_folding=True)
    print(f"wrote {path}", file=sys.stderr)
    del unet

    vae = VaeDecode().eval()
    sd = load_prefixed(a.checkpoint, "first_stage_model.")
    sd = {k: v for k, v in sd.items() if k.startswith(("decoder.", "post_quant_conv."))}
    vae.load_state_dict(sd, strict=True)
    path = os.path.join(a.outdir, "vae_decoder.onnx")
    torch.onnx.export(vae, (torch.randn(1, 4, lat, lat),), path, opset_version=17, input_names=["z"],
                      output_names=["image"], do_constant_folding=True)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
