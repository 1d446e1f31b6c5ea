#!/usr/bin/env python3
"""Writes small adapter files (LoRA, LoCon, LoHa, LoKr, full, DoRA) in each naming scheme for
the shared golden UNet and text encoder, and beside each the weights it must give when merged
at strengths 0, 0.5 and 1, worked out here by an independent route: the math of each format
written out with numpy from its published definition (kohya-ss/sd-scripts and LyCORIS), and the
module names spelled out by hand, not derived by imgapi's code.

    tools/make_lora.py --unet UNET.safetensors --clip CLIP.safetensors --out DIR

DIR/manifest.json lists every case: {"component", "base", "adapters": [[file, strength], ...],
"merged"}. `imgapi debug unet --weights BASE --lora FILE:S ...` must give the outputs of
`imgapi debug unet --weights MERGED`. numpy only (tests use it)."""
import argparse
import json
import os

import numpy as np

from safetensors_np import load, save  # noqa: F401 (the tests use them from here too)


# The modules the UNet adapters change: the checkpoint's (ldm) path and its diffusers name, as
# diffusers' own conversion names them for a UNet with two res blocks per level. Linear layers,
# 1x1 and 3x3 convolutions, a downsampler, an upsampler, a shortcut and the time embedding.
UNET_MODULES = [
    ("input_blocks.1.1.transformer_blocks.0.attn1.to_q", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"),
    ("input_blocks.1.1.transformer_blocks.0.attn2.to_k", "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k"),
    ("input_blocks.1.1.proj_in", "down_blocks.0.attentions.0.proj_in"),
    ("input_blocks.4.1.transformer_blocks.0.ff.net.0.proj",
     "down_blocks.1.attentions.0.transformer_blocks.0.ff.net.0.proj"),
    ("input_blocks.2.0.in_layers.2", "down_blocks.0.resnets.1.conv1"),
    ("input_blocks.3.0.op", "down_blocks.0.downsamplers.0.conv"),
    ("middle_block.1.transformer_blocks.0.attn1.to_out.0", "mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0"),
    ("middle_block.2.emb_layers.1", "mid_block.resnets.1.time_emb_proj"),
    ("output_blocks.2.1.conv", "up_blocks.0.upsamplers.0.conv"),
    ("output_blocks.4.1.proj_out", "up_blocks.1.attentions.1.proj_out"),
    ("output_blocks.3.0.skip_connection", "up_blocks.1.resnets.0.conv_shortcut"),
    ("time_embed.0", "time_embedding.linear_1"),
    ("output_blocks.8.0.out_layers.3", "up_blocks.2.resnets.2.conv2"),
]
UNET_PREFIX = "model.diffusion_model."
CLIP_MODULES = ["text_model.encoder.layers.0.self_attn.q_proj", "text_model.encoder.layers.1.mlp.fc1",
                "text_model.encoder.layers.2.self_attn.out_proj"]
CLIP_PREFIX = "cond_stage_model.transformer."
# OpenCLIP's text tower (SD 2.x; SDXL's second encoder): adapters name its modules in the HF
# layout; q, k and v are the three row blocks of the fused in_proj, as in open_clip's
# MultiheadAttention. (HF path, checkpoint path, block of rows or None)
OPENCLIP_PREFIX = "cond_stage_model.model."
OPENCLIP_MODULES = [
    ("text_model.encoder.layers.0.self_attn.q_proj", "transformer.resblocks.0.attn.in_proj_weight", 0),
    ("text_model.encoder.layers.1.self_attn.v_proj", "transformer.resblocks.1.attn.in_proj_weight", 2),
    ("text_model.encoder.layers.1.self_attn.k_proj", "transformer.resblocks.1.attn.in_proj_weight", 1),
    ("text_model.encoder.layers.2.self_attn.out_proj", "transformer.resblocks.2.attn.out_proj.weight", None),
    ("text_model.encoder.layers.0.mlp.fc2", "transformer.resblocks.0.mlp.c_proj.weight", None),
]


def kohya(path, root):
    return root + path.replace(".", "_")


# --- each format's ΔW (alpha / rank applied, strength not), from its definition ---

def lora_delta(down, up, alpha, shape, mid=None):
    r = down.shape[0]
    if mid is None:
        d = up.reshape(up.shape[0], -1).astype(np.float64) @ down.reshape(r, -1).astype(np.float64)
    else:  # Tucker: ΔW[o, c, h, w] = Σ up[o, a] mid[a, b, h, w] down[b, c]
        d = np.einsum("oa,abhw,bc->ochw", up[:, :, 0, 0], mid, down[:, :, 0, 0])
    return d.reshape(shape) * ((alpha if alpha is not None else r) / r)


def loha_delta(p, alpha, shape):
    if "hada_t1" in p:  # (w·)[o, c, h, w] = Σ t[i, j, h, w] w_b[j, c] w_a[i, o]
        w1 = np.einsum("ijhw,jc,io->ochw", p["hada_t1"], p["hada_w1_b"], p["hada_w1_a"])
        w2 = np.einsum("ijhw,jc,io->ochw", p["hada_t2"], p["hada_w2_b"], p["hada_w2_a"])
    else:
        w1 = p["hada_w1_a"].astype(np.float64) @ p["hada_w1_b"]
        w2 = p["hada_w2_a"].astype(np.float64) @ p["hada_w2_b"]
    r = p["hada_w1_b"].shape[0]
    return (w1 * w2).reshape(shape) * (alpha / r)


def lokr_delta(p, alpha, shape):
    w1 = p["lokr_w1"] if "lokr_w1" in p else p["lokr_w1_a"].astype(np.float64) @ p["lokr_w1_b"]
    if "lokr_w2" in p:
        w2 = p["lokr_w2"].astype(np.float64)
    elif "lokr_t2" in p:
        w2 = np.einsum("ijhw,ib,jd->bdhw", p["lokr_t2"], p["lokr_w2_a"], p["lokr_w2_b"])
    else:
        b_ = p["lokr_w2_b"]
        w2 = (p["lokr_w2_a"].astype(np.float64) @ b_.reshape(b_.shape[0], -1)).reshape(
            (p["lokr_w2_a"].shape[0],) + b_.shape[1:])
    if "lokr_w1_a" in p:
        scale = alpha / p["lokr_w1_b"].shape[0]
    elif "lokr_w2_a" in p:
        scale = alpha / p["lokr_w2_b"].shape[0]
    else:
        scale = 1.0
    w1 = w1.reshape(w1.shape + (1,) * (w2.ndim - 2))
    return np.kron(w1, w2).reshape(shape) * scale


def dora_merge(w, dw, m, s):
    v = w.astype(np.float64) + dw
    if m.shape[0] == w.shape[0] and m.shape[0] != w.shape[1]:  # per output row
        n = np.sqrt((v.reshape(v.shape[0], -1) ** 2).sum(1)).reshape((-1,) + (1,) * (w.ndim - 1))
    else:  # per input column
        n = np.sqrt((np.moveaxis(v, 1, 0).reshape(v.shape[1], -1) ** 2).sum(1)).reshape((1, -1) + (1,) * (w.ndim - 2))
    return w + s * (m.reshape(n.shape) * v / n - w)


# --- adapter files ---

def rnd(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def make_module(rng, kind, w, r=4):
    """The tensors of one module (names without the module prefix) and its ΔW."""
    out, inn = w.shape[0], w.shape[1]
    k = w.shape[2:]
    kk = int(np.prod(k)) if k else 1
    wscale = float(np.abs(w).mean()) + 1e-3
    conv = len(k) == 2
    p = {}
    if kind in ("lora", "peft", "dora", "lora_mid"):
        alpha = None if kind == "peft" else np.float32(r / 2)
        if kind == "lora_mid" and conv and kk > 1:
            down = rnd(rng, r, inn, 1, 1, scale=0.5)
            mid = rnd(rng, r, r, *k, scale=0.5)
            up = rnd(rng, out, r, 1, 1, scale=wscale)
            p = {"lora_down.weight": down, "lora_mid.weight": mid, "lora_up.weight": up}
            dw = lora_delta(down, up, alpha, w.shape, mid)
        else:
            down = rnd(rng, r, inn, *k, scale=0.5)
            up = rnd(rng, out, r, *((1, 1) if conv else ()), scale=wscale)
            if kind == "peft":
                p = {"lora_A.weight": down, "lora_B.weight": up}
            else:
                p = {"lora_down.weight": down, "lora_up.weight": up}
            dw = lora_delta(down, up, alpha, w.shape)
        if alpha is not None:
            p["alpha"] = np.array(alpha, np.float32)
        if kind == "dora":  # the magnitude per input column, near the weight's own
            v = w.astype(np.float64) + dw
            per_col = np.sqrt((np.moveaxis(v, 1, 0).reshape(inn, -1) ** 2).sum(1))
            p["dora_scale"] = (per_col * (1 + 0.2 * rng.standard_normal(inn))).astype(np.float32).reshape(
                (1, inn) + (1,) * len(k))
        return p, dw
    if kind in ("loha", "loha_tucker"):
        alpha = np.float32(r)
        if kind == "loha_tucker" and conv and kk > 1:
            p = {"hada_t1": rnd(rng, r, r, *k, scale=0.5), "hada_w1_a": rnd(rng, r, out, scale=0.5),
                 "hada_w1_b": rnd(rng, r, inn, scale=0.5), "hada_t2": rnd(rng, r, r, *k, scale=0.5),
                 "hada_w2_a": rnd(rng, r, out, scale=wscale), "hada_w2_b": rnd(rng, r, inn, scale=0.5)}
        else:
            p = {"hada_w1_a": rnd(rng, out, r, scale=0.5), "hada_w1_b": rnd(rng, r, inn * kk, scale=0.5),
                 "hada_w2_a": rnd(rng, out, r, scale=wscale), "hada_w2_b": rnd(rng, r, inn * kk, scale=0.5)}
        p["alpha"] = np.array(alpha, np.float32)
        return p, loha_delta(p, float(alpha), w.shape)
    if kind in ("lokr", "lokr_tucker", "lokr_full"):
        a = 2 if out % 2 == 0 else 1
        c = 2 if inn % 2 == 0 else 1
        b, d = out // a, inn // c
        alpha = np.float32(3.0)
        p = {"alpha": np.array(alpha, np.float32)}
        if kind == "lokr_full":
            p["lokr_w1"] = rnd(rng, a, c, scale=1.0)
            p["lokr_w2"] = rnd(rng, b, d, *k, scale=wscale)
        elif kind == "lokr_tucker" and conv and kk > 1:
            p["lokr_w1_a"] = rnd(rng, a, r, scale=0.5)
            p["lokr_w1_b"] = rnd(rng, r, c, scale=0.5)
            p["lokr_t2"] = rnd(rng, r, r, *k, scale=0.5)
            p["lokr_w2_a"] = rnd(rng, r, b, scale=0.5)
            p["lokr_w2_b"] = rnd(rng, r, d, scale=wscale)
        else:
            p["lokr_w1"] = rnd(rng, a, c, scale=1.0)
            p["lokr_w2_a"] = rnd(rng, b, r, scale=0.5)
            p["lokr_w2_b"] = rnd(rng, r, d, *k, scale=wscale)
        return p, lokr_delta(p, float(alpha), w.shape)
    if kind == "full":
        diff = rnd(rng, *w.shape, scale=wscale * 0.3)
        return {"diff": diff}, diff.astype(np.float64)
    raise ValueError(kind)


def build(base, modules, kind, naming, seed):
    """One adapter file's tensors, and per (base tensor name, block of rows) (ΔW, dora_scale or
    None). modules: (checkpoint name, adapter name[, third of the rows or None])."""
    rng = np.random.default_rng(seed)
    tensors, deltas = {}, {}
    for ckpt_name, name, *third in modules:
        w = base[ckpt_name]
        rows = (0, w.shape[0])
        if third and third[0] is not None:
            n = w.shape[0] // 3
            rows = (third[0] * n, third[0] * n + n)
        p, dw = make_module(rng, kind, w[rows[0]:rows[1]])
        for suffix, t in p.items():
            tensors[name + "." + suffix] = t
        deltas[(ckpt_name,) + rows] = (dw, p.get("dora_scale"))
    return tensors, deltas


def merge(base, adapters):
    """base with each (deltas, strength) applied in order."""
    out = {k: v.astype(np.float64) for k, v in base.items()}
    for deltas, s in adapters:
        for (name, r0, r1), (dw, m) in deltas.items():
            w = out[name][r0:r1]
            out[name][r0:r1] = dora_merge(w, dw, m.astype(np.float64), s) if m is not None else w + s * dw
    return {k: out[k].astype(base[k].dtype) for k in base}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--unet", required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--openclip", help="an OpenCLIP-layout text encoder (SD 2.x)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    unet, unet_meta = load(a.unet)  # the metadata holds the structure (heads): merged files keep it
    clip, clip_meta = load(a.clip)
    ocl, ocl_meta = load(a.openclip) if a.openclip else (None, None)
    u_ldm = [(UNET_PREFIX + p + ".weight", kohya(p, "lora_unet_")) for p, _ in UNET_MODULES]
    u_diff = [(UNET_PREFIX + p + ".weight", kohya(d, "lora_unet_")) for p, d in UNET_MODULES]
    u_peft = [(UNET_PREFIX + p + ".weight", "unet." + d) for p, d in UNET_MODULES]
    c_kohya = [(CLIP_PREFIX + p + ".weight", kohya(p, "lora_te_")) for p in CLIP_MODULES]
    c_peft = [(CLIP_PREFIX + p + ".weight", "text_encoder." + p) for p in CLIP_MODULES]
    o_kohya = [(OPENCLIP_PREFIX + c, kohya(h, "lora_te_"), third) for h, c, third in OPENCLIP_MODULES]
    o_peft = [(OPENCLIP_PREFIX + c, "text_encoder." + h, third) for h, c, third in OPENCLIP_MODULES]
    cases = [  # name, component, base, modules, kind
        ("lora_kohya_ldm", "unet", unet, u_ldm, "lora"),
        ("lora_kohya_diffusers", "unet", unet, u_diff, "lora"),
        ("lora_peft", "unet", unet, u_peft, "peft"),
        ("locon_tucker", "unet", unet, u_ldm, "lora_mid"),
        ("loha", "unet", unet, u_diff, "loha"),
        ("loha_tucker", "unet", unet, u_ldm, "loha_tucker"),
        ("lokr", "unet", unet, u_ldm, "lokr"),
        ("lokr_tucker", "unet", unet, u_diff, "lokr_tucker"),
        ("lokr_full", "unet", unet, u_ldm, "lokr_full"),
        ("full", "unet", unet, u_ldm, "full"),
        ("dora", "unet", unet, u_ldm, "dora"),
        ("te_lora_kohya", "text-encoder", clip, c_kohya, "lora"),
        ("te_loha_peft_names", "text-encoder", clip, c_peft, "loha"),
    ]
    if ocl is not None:
        cases += [("openclip_lora_kohya", "text-encoder-openclip", ocl, o_kohya, "lora"),
                  ("openclip_dora_peft_names", "text-encoder-openclip", ocl, o_peft, "dora")]
    manifest, made = [], {}
    for i, (name, comp, base, modules, kind) in enumerate(cases):
        tensors, deltas = build(base, modules, kind, name, 1000 + i)
        path = os.path.join(a.out, name + ".safetensors")
        save(path, tensors, {"ss_network_module": "made by tools/make_lora.py"})
        made[name] = (deltas, path, comp)
        base_path, meta = {"unet": (a.unet, unet_meta), "text-encoder": (a.clip, clip_meta),
                           "text-encoder-openclip": (a.openclip, ocl_meta)}[comp]
        for s in (0.0, 0.5, 1.0):
            merged = os.path.join(a.out, f"{name}@{s}.merged.safetensors")
            save(merged, merge(base, [(deltas, s)]), meta)
            manifest.append({"component": comp, "base": base_path, "adapters": [[path, s]], "merged": merged})
    # two adapters stacked, one of them negative
    d1, p1, _ = made["lora_kohya_diffusers"]
    d2, p2, _ = made["loha"]
    merged = os.path.join(a.out, "stack.merged.safetensors")
    save(merged, merge(unet, [(d1, 0.7), (d2, -0.4)]), unet_meta)
    manifest.append({"component": "unet", "base": a.unet, "adapters": [[p1, 0.7], [p2, -0.4]], "merged": merged})
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
