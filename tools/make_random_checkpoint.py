#!/usr/bin/env python3
"""Writes a full-size random-weight checkpoint of a real Stable Diffusion architecture in the
original single-file LDM key layout, so speed and memory can be measured on real shapes without
real weights. Weights are N(0, 1/fan_in) (norm gains 1, biases 0), so activations stay finite.

  tools/make_random_checkpoint.py sd-turbo OUT.safetensors [--dtype f16|f32|bf16] [--seed N]

Architectures: sd15 (SD 1.5: CLIP-L, 320ch UNet, 8 heads), sd-turbo / sd21 (SD 2.1: OpenCLIP-H,
64-channel heads, linear projections), sdxl (CLIP-L + OpenCLIP-bigG, 3 levels, depth 1/2/10),
sdxl-tiny and sd21-tiny (those layouts in miniature, for tests)."""
import argparse
import json
import struct

import numpy as np

ARCH = {
    "sd15": dict(te=[("hf", "cond_stage_model.transformer.text_model.", 768, 12, 3072, 0)], mc=320,
                 mult=[1, 2, 4, 4], attn=[1, 2, 4], depth=[1, 1, 1, 1], ctx=768, heads=8, linear=False, adm=0),
    "sd21": dict(te=[("oc", "cond_stage_model.model.", 1024, 24, 4096, 1024)], mc=320,
                 mult=[1, 2, 4, 4], attn=[1, 2, 4], depth=[1, 1, 1, 1], ctx=1024, head_ch=64, linear=True, adm=0),
    "sdxl": dict(te=[("hf", "conditioner.embedders.0.transformer.text_model.", 768, 12, 3072, 0),
                     ("oc", "conditioner.embedders.1.model.", 1280, 32, 5120, 1280)], mc=320,
                 mult=[1, 2, 4], attn=[2, 4], depth=[0, 2, 10], ctx=2048, head_ch=64, linear=True, adm=2816),
}
ARCH["sd-turbo"] = ARCH["sd21"]
# SDXL's layout in miniature (tests: two text towers, added conditioning, a 4-level VAE), with
# the native size in the metadata: 256
ARCH["sdxl-tiny"] = dict(te=[("hf", "conditioner.embedders.0.transformer.text_model.", 64, 2, 256, 0),
                             ("oc", "conditioner.embedders.1.model.", 64, 2, 256, 32)], mc=32,
                         mult=[1, 2], attn=[2], depth=[0, 1], ctx=128, head_ch=16, linear=True, adm=32 + 6 * 256,
                         vae_ch=32, native=256)
ARCH["sd21-tiny"] = dict(te=[("oc", "cond_stage_model.model.", 64, 2, 256, 32)], mc=32, mult=[1, 2], attn=[2],
                         depth=[1, 1], ctx=64, head_ch=16, linear=True, adm=0, vae_ch=32, native=256)


class Spec:
    """Collects (name, shape, kind) then writes them; kind: w (fan-in scaled), one, zero, emb."""

    def __init__(self):
        self.t = []

    def lin(self, name, n, k, bias=True):
        self.t.append((name + ".weight", (n, k), "w"))
        if bias:
            self.t.append((name + ".bias", (n,), "zero"))

    def conv(self, name, n, k, ks=3, bias=True):
        self.t.append((name + ".weight", (n, k, ks, ks), "w"))
        if bias:
            self.t.append((name + ".bias", (n,), "zero"))

    def norm(self, name, c):
        self.t.append((name + ".weight", (c,), "one"))
        self.t.append((name + ".bias", (c,), "zero"))


def text_encoder(s, kind, p, w, layers, mlp, proj):
    if kind == "hf":
        s.t.append((p + "embeddings.token_embedding.weight", (49408, w), "emb"))
        s.t.append((p + "embeddings.position_embedding.weight", (77, w), "emb"))
        for i in range(layers):
            b = f"{p}encoder.layers.{i}."
            s.norm(b + "layer_norm1", w)
            s.norm(b + "layer_norm2", w)
            for q in ("q_proj", "k_proj", "v_proj", "out_proj"):
                s.lin(b + "self_attn." + q, w, w)
            s.lin(b + "mlp.fc1", mlp, w)
            s.lin(b + "mlp.fc2", w, mlp)
        s.norm(p + "final_layer_norm", w)
    else:
        s.t.append((p + "token_embedding.weight", (49408, w), "emb"))
        s.t.append((p + "positional_embedding", (77, w), "emb"))
        for i in range(layers):
            b = f"{p}transformer.resblocks.{i}."
            s.norm(b + "ln_1", w)
            s.norm(b + "ln_2", w)
            s.t.append((b + "attn.in_proj_weight", (3 * w, w), "w"))
            s.t.append((b + "attn.in_proj_bias", (3 * w,), "zero"))
            s.lin(b + "attn.out_proj", w, w)
            s.lin(b + "mlp.c_fc", mlp, w)
            s.lin(b + "mlp.c_proj", w, mlp)
        s.norm(p + "ln_final", w)
        s.t.append((p + "text_projection", (w, proj), "w"))


def unet(s, a):
    p = "model.diffusion_model."
    mc, emb = a["mc"], a["mc"] * 4
    s.lin(p + "time_embed.0", emb, mc)
    s.lin(p + "time_embed.2", emb, emb)
    if a["adm"]:
        s.lin(p + "label_emb.0.0", emb, a["adm"])
        s.lin(p + "label_emb.0.2", emb, emb)

    def res(b, cin, cout):
        s.norm(b + "in_layers.0", cin)
        s.conv(b + "in_layers.2", cout, cin)
        s.lin(b + "emb_layers.1", cout, emb)
        s.norm(b + "out_layers.0", cout)
        s.conv(b + "out_layers.3", cout, cout)
        if cin != cout:
            s.conv(b + "skip_connection", cout, cin, 1)

    def st(b, c, depth):
        s.norm(b + "norm", c)
        if a["linear"]:
            s.lin(b + "proj_in", c, c)
        else:
            s.conv(b + "proj_in", c, c, 1)
        for d in range(depth):
            t = f"{b}transformer_blocks.{d}."
            for q in ("to_q", "to_k", "to_v"):
                s.lin(t + "attn1." + q, c, c, bias=False)
            s.lin(t + "attn1.to_out.0", c, c)
            s.lin(t + "attn2.to_q", c, c, bias=False)
            s.lin(t + "attn2.to_k", c, a["ctx"], bias=False)
            s.lin(t + "attn2.to_v", c, a["ctx"], bias=False)
            s.lin(t + "attn2.to_out.0", c, c)
            s.lin(t + "ff.net.0.proj", 8 * c, c)
            s.lin(t + "ff.net.2", c, 4 * c)
            for n in ("norm1", "norm2", "norm3"):
                s.norm(t + n, c)
        if a["linear"]:
            s.lin(b + "proj_out", c, c)
        else:
            s.conv(b + "proj_out", c, c, 1)

    s.conv(p + "input_blocks.0.0", mc, 4)
    chans, ch, ds, blk = [mc], mc, 1, 1
    for lvl, m in enumerate(a["mult"]):
        for _ in range(2):
            b = f"{p}input_blocks.{blk}."
            res(b + "0.", ch, m * mc)
            ch = m * mc
            if ds in a["attn"]:
                st(b + "1.", ch, a["depth"][lvl])
            chans.append(ch)
            blk += 1
        if lvl != len(a["mult"]) - 1:
            s.conv(f"{p}input_blocks.{blk}.0.op", ch, ch)
            chans.append(ch)
            blk += 1
            ds *= 2
    res(p + "middle_block.0.", ch, ch)
    st(p + "middle_block.1.", ch, a["depth"][-1])
    res(p + "middle_block.2.", ch, ch)
    blk = 0
    for lvl, m in reversed(list(enumerate(a["mult"]))):
        for i in range(3):
            b = f"{p}output_blocks.{blk}."
            res(b + "0.", ch + chans.pop(), m * mc)
            ch = m * mc
            j = 1
            if ds in a["attn"]:
                st(b + "1.", ch, a["depth"][lvl])
                j = 2
            if lvl and i == 2:
                s.conv(f"{b}{j}.conv", ch, ch)
                ds //= 2
            blk += 1
    s.norm(p + "out.0", mc)
    s.conv(p + "out.2", 4, mc)


def vae(s, ch=128):
    p = "first_stage_model."

    def rb(b, cin, cout):
        s.norm(b + "norm1", cin)
        s.conv(b + "conv1", cout, cin)
        s.norm(b + "norm2", cout)
        s.conv(b + "conv2", cout, cout)
        if cin != cout:
            s.conv(b + "nin_shortcut", cout, cin, 1)

    def mid(b, c):
        rb(b + "mid.block_1.", c, c)
        s.norm(b + "mid.attn_1.norm", c)
        for q in ("q", "k", "v", "proj_out"):
            s.conv(b + "mid.attn_1." + q, c, c, 1)
        rb(b + "mid.block_2.", c, c)

    mult = [1, 2, 4, 4]
    e = p + "encoder."
    s.conv(e + "conv_in", ch, 3)
    cin = ch
    for lvl, m in enumerate(mult):
        for i in range(2):
            rb(f"{e}down.{lvl}.block.{i}.", cin, ch * m)
            cin = ch * m
        if lvl != 3:
            s.conv(f"{e}down.{lvl}.downsample.conv", cin, cin)
    mid(e, cin)
    s.norm(e + "norm_out", cin)
    s.conv(e + "conv_out", 8, cin)
    s.conv(p + "quant_conv", 8, 8, 1)
    s.conv(p + "post_quant_conv", 4, 4, 1)
    d = p + "decoder."
    cin = ch * mult[-1]
    s.conv(d + "conv_in", cin, 4)
    mid(d, cin)
    for lvl in reversed(range(4)):
        for i in range(3):
            rb(f"{d}up.{lvl}.block.{i}.", cin, ch * mult[lvl])
            cin = ch * mult[lvl]
        if lvl:
            s.conv(f"{d}up.{lvl}.upsample.conv", cin, cin)
    s.norm(d + "norm_out", cin)
    s.conv(d + "conv_out", 3, cin)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch", choices=sorted(ARCH))
    ap.add_argument("out")
    ap.add_argument("--dtype", default="f16", choices=["f16", "f32", "bf16"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vae-channels", type=int, help="the VAE's base width (tests of malformed models)")
    o = ap.parse_args()
    a = ARCH[o.arch]
    s = Spec()
    for te in a["te"]:
        text_encoder(s, *te)
    unet(s, a)
    vae(s, o.vae_channels or a.get("vae_ch", 128))
    size = {"f16": 2, "f32": 4, "bf16": 2}[o.dtype]
    header, off = {}, 0
    cfg = {"arch": o.arch, "random_weights": True}
    cfg.update({"num_heads": a["heads"]} if "heads" in a else {"num_head_channels": a["head_ch"]})
    header["__metadata__"] = {"config": json.dumps(cfg)}
    if "native" in a:
        header["__metadata__"]["imgapi.native"] = str(a["native"])
    for name, shape, _ in s.t:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": o.dtype.upper(), "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(o.seed)
    params = 0
    with open(o.out, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape, kind in s.t:
            n = int(np.prod(shape))
            params += n
            if kind == "one":
                x = np.ones(n, np.float32)
            elif kind == "zero":
                x = np.zeros(n, np.float32)
            else:
                fan_in = int(np.prod(shape[1:])) if kind == "w" else 1
                x = rng.standard_normal(n, dtype=np.float32) * np.float32((1.0 / fan_in) ** 0.5 if kind == "w" else 0.02)
            if o.dtype == "f16":
                f.write(x.astype(np.float16).tobytes())
            elif o.dtype == "f32":
                f.write(x.tobytes())
            else:
                u = x.view(np.uint32)
                f.write(((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes())
    print(f"{o.out}: {len(s.t)} tensors, {params / 1e6:.0f}M parameters, {off / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
