#!/usr/bin/env python3
"""Writes a diffusers folder (model_index.json, unet/, vae/, text_encoder/, text_encoder_2/,
tokenizer/) holding the same weights as an SD 1.x, SD 2.x or SDXL single-file checkpoint in the LDM
layout, named and shaped as diffusers names them (its conversion conventions, written out here
from the two layouts, independently of imgapi's reader). For tests: imgapi must make the same
image from the folder as from the file.

  tools/make_diffusers_folder.py MODEL.safetensors TOKENIZER_DIR OUT_DIR [--head-channels N]
      [--shards N] [--fp16-variant]

--shards N writes the UNet as N shards with diffusion_pytorch_model.safetensors.index.json;
--fp16-variant names the text encoders' files model.fp16.safetensors. numpy only."""
import argparse
import json
import os
import re
import shutil

import numpy as np

from safetensors_np import load, save


RES = [("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("emb_layers.1", "time_emb_proj"),
       ("out_layers.0", "norm2"), ("out_layers.3", "conv2"), ("skip_connection", "conv_shortcut")]


def res(rest):
    for a, b in RES:
        if rest.startswith(a + "."):
            return b + rest[len(a):]
    raise KeyError(rest)


def unet_names(keys):
    """ldm UNet path -> diffusers path."""
    ops = [int(m.group(1)) for k in keys for m in [re.match(r"input_blocks\.(\d+)\.0\.op\.", k)] if m]
    lpb = min(ops) - 1
    whole = {"time_embed.0.": "time_embedding.linear_1.", "time_embed.2.": "time_embedding.linear_2.",
             "label_emb.0.0.": "add_embedding.linear_1.", "label_emb.0.2.": "add_embedding.linear_2.",
             "input_blocks.0.0.": "conv_in.", "out.0.": "conv_norm_out.", "out.2.": "conv_out."}
    out = {}
    for k in keys:
        d = next((v + k[len(w):] for w, v in whole.items() if k.startswith(w)), None)
        m = re.match(r"input_blocks\.(\d+)\.(\d+)\.(.*)", k)
        if d is None and m:
            i, sub, rest = int(m.group(1)), int(m.group(2)), m.group(3)
            lvl, j = (i - 1) // (lpb + 1), (i - 1) % (lpb + 1)
            if j == lpb:
                d = f"down_blocks.{lvl}.downsamplers.0.conv." + rest[len("op."):]
            elif sub == 0:
                d = f"down_blocks.{lvl}.resnets.{j}." + res(rest)
            else:
                d = f"down_blocks.{lvl}.attentions.{j}." + rest
        m = re.match(r"middle_block\.(\d+)\.(.*)", k)
        if d is None and m:
            sub, rest = int(m.group(1)), m.group(2)
            d = "mid_block.attentions.0." + rest if sub == 1 else f"mid_block.resnets.{sub // 2}." + res(rest)
        m = re.match(r"output_blocks\.(\d+)\.(\d+)\.(.*)", k)
        if d is None and m:
            i, sub, rest = int(m.group(1)), int(m.group(2)), m.group(3)
            lvl, j = i // (lpb + 1), i % (lpb + 1)
            if sub == 0:
                d = f"up_blocks.{lvl}.resnets.{j}." + res(rest)
            elif rest.startswith("conv."):
                d = f"up_blocks.{lvl}.upsamplers.0." + rest
            else:
                d = f"up_blocks.{lvl}.attentions.{j}." + rest
        if d is None:
            raise KeyError(k)
        out[k] = d
    return out, lpb


def vae_name(k, nup):
    simple = {"norm_out.": "conv_norm_out.", "conv_in.": "conv_in.", "conv_out.": "conv_out."}
    if k.startswith(("quant_conv.", "post_quant_conv.")):
        return k
    side, r = k[:8], k[8:]
    for a, b in simple.items():
        if r.startswith(a):
            return side + b + r[len(a):]
    rr = lambda x: x.replace("nin_shortcut", "conv_shortcut")
    m = re.match(r"down\.(\d+)\.block\.(\d+)\.(.*)", r)
    if m:
        return f"{side}down_blocks.{m.group(1)}.resnets.{m.group(2)}.{rr(m.group(3))}"
    m = re.match(r"down\.(\d+)\.downsample\.conv\.(.*)", r)
    if m:
        return f"{side}down_blocks.{m.group(1)}.downsamplers.0.conv.{m.group(2)}"
    m = re.match(r"up\.(\d+)\.block\.(\d+)\.(.*)", r)
    if m:
        return f"{side}up_blocks.{nup - 1 - int(m.group(1))}.resnets.{m.group(2)}.{rr(m.group(3))}"
    m = re.match(r"up\.(\d+)\.upsample\.conv\.(.*)", r)
    if m:
        return f"{side}up_blocks.{nup - 1 - int(m.group(1))}.upsamplers.0.conv.{m.group(2)}"
    m = re.match(r"mid\.block_(\d)\.(.*)", r)
    if m:
        return f"{side}mid_block.resnets.{int(m.group(1)) - 1}.{rr(m.group(2))}"
    att = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}
    m = re.match(r"mid\.attn_1\.(norm|q|k|v|proj_out)\.(.*)", r)
    if m:
        return f"{side}mid_block.attentions.0.{att[m.group(1)]}.{m.group(2)}"
    raise KeyError(k)


def openclip_to_hf(t, prefix):
    """OpenCLIP text tower (LDM names) -> HF CLIPTextModelWithProjection names."""
    out = {}
    for k, v in t.items():
        if not k.startswith(prefix):
            continue
        r = k[len(prefix):]
        if r == "token_embedding.weight":
            out["text_model.embeddings.token_embedding.weight"] = v
        elif r == "positional_embedding":
            out["text_model.embeddings.position_embedding.weight"] = v
        elif r.startswith("ln_final."):
            out["text_model.final_layer_norm." + r[9:]] = v
        elif r == "text_projection":
            out["text_projection.weight"] = np.ascontiguousarray(v.T)
        elif r == "logit_scale":
            continue
        else:
            m = re.match(r"transformer\.resblocks\.(\d+)\.(.*)", r)
            b, rest = f"text_model.encoder.layers.{m.group(1)}.", m.group(2)
            if rest.startswith("attn.in_proj_"):
                w = v.shape[0] // 3
                kind = "weight" if rest.endswith("weight") else "bias"
                for q, name in enumerate(("q_proj", "k_proj", "v_proj")):
                    out[f"{b}self_attn.{name}.{kind}"] = np.ascontiguousarray(v[q * w:(q + 1) * w])
                continue
            ren = {"ln_1.": "layer_norm1.", "ln_2.": "layer_norm2.", "attn.out_proj.": "self_attn.out_proj.",
                   "mlp.c_fc.": "mlp.fc1.", "mlp.c_proj.": "mlp.fc2."}
            a = next(x for x in ren if rest.startswith(x))
            out[b + ren[a] + rest[len(a):]] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("tokenizer", help="a folder with vocab.json and merges.txt")
    ap.add_argument("out")
    ap.add_argument("--head-channels", type=int, default=64)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--fp16-variant", action="store_true")
    a = ap.parse_args()
    t, meta = load(a.model)
    sdxl = any(k.startswith("conditioner.embedders.1.") for k in t)
    os.makedirs(a.out, exist_ok=True)
    for part in ("unet", "vae", "text_encoder") + (("text_encoder_2", "tokenizer_2") if sdxl else ()) + ("tokenizer",):
        os.makedirs(os.path.join(a.out, part), exist_ok=True)
    # UNet
    up = "model.diffusion_model."
    ukeys = [k[len(up):] for k in t if k.startswith(up)]
    names, lpb = unet_names(ukeys)
    unet = {names[k]: t[up + k] for k in ukeys}
    levels = len({k.split(".")[1] for k in unet if k.startswith("down_blocks.")})
    boc = [unet[f"down_blocks.{i}.resnets.0.conv1.weight"].shape[0] for i in range(levels)]
    native = int(meta.get("imgapi.native", "1024" if sdxl else "512"))
    ucfg = {"_class_name": "UNet2DConditionModel", "layers_per_block": lpb, "block_out_channels": boc,
            "attention_head_dim": [max(1, c // a.head_channels) for c in boc], "sample_size": native // 8,
            "cross_attention_dim": unet["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"].shape[1]
            if "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight" in unet else None,
            "use_linear_projection": unet[[k for k in unet if k.endswith("proj_in.weight")][0]].ndim == 2}
    if a.shards > 1:
        keys = sorted(unet)
        wm = {}
        for s in range(a.shards):
            fn = f"diffusion_pytorch_model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
            part = {k: unet[k] for k in keys[s::a.shards]}
            save(os.path.join(a.out, "unet", fn), part)
            wm.update({k: fn for k in part})
        with open(os.path.join(a.out, "unet", "diffusion_pytorch_model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": wm}, f)
    else:
        save(os.path.join(a.out, "unet", "diffusion_pytorch_model.safetensors"), unet)
    # VAE
    vp = "first_stage_model."
    nup = len({int(m.group(1)) for k in t for m in [re.match(vp + r"decoder\.up\.(\d+)\.", k)] if m})
    vae = {}
    for k, v in t.items():
        if k.startswith(vp):
            d = vae_name(k[len(vp):], nup)
            vae[d] = v.reshape(v.shape[:2]) if ".mid_block.attentions.0.to_" in d and v.ndim == 4 else v
    save(os.path.join(a.out, "vae", "diffusion_pytorch_model.safetensors"), vae)
    vboc = [vae[f"encoder.down_blocks.{i}.resnets.0.conv1.weight"].shape[0] for i in range(nup)]
    # text encoders
    stem = "model.fp16.safetensors" if a.fp16_variant else "model.safetensors"
    hfp = "conditioner.embedders.0.transformer." if sdxl else "cond_stage_model.transformer."
    openclip = not sdxl and any(k.startswith("cond_stage_model.model.") for k in t)  # SD 2.x
    te = openclip_to_hf(t, "cond_stage_model.model.") if openclip else \
        {k[len(hfp):]: v for k, v in t.items() if k.startswith(hfp)}
    save(os.path.join(a.out, "text_encoder", stem), te)
    w1 = te["text_model.embeddings.token_embedding.weight"].shape[1]
    tcfg = {"hidden_act": "gelu" if openclip else "quick_gelu", "hidden_size": w1,
            "num_attention_heads": max(1, w1 // 64)}
    cfgs = {"unet": ucfg, "vae": {"block_out_channels": vboc, "scaling_factor": 0.13025 if sdxl else 0.18215},
            "text_encoder": tcfg}
    if sdxl:
        te2 = openclip_to_hf(t, "conditioner.embedders.1.model.")
        save(os.path.join(a.out, "text_encoder_2", stem), te2)
        w2 = te2["text_model.embeddings.token_embedding.weight"].shape[1]
        cfgs["text_encoder_2"] = {"hidden_act": "gelu", "hidden_size": w2, "num_attention_heads": max(1, w2 // 64),
                                  "projection_dim": te2["text_projection.weight"].shape[0]}
    for part, c in cfgs.items():
        with open(os.path.join(a.out, part, "config.json"), "w") as f:
            json.dump(c, f, indent=1)
    for tok in ("tokenizer", "tokenizer_2") if sdxl else ("tokenizer",):
        for fn in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(a.tokenizer, fn), os.path.join(a.out, tok, fn))
    index = {"_class_name": "StableDiffusionXLPipeline" if sdxl else "StableDiffusionPipeline",
             "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
             "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"]}
    if sdxl:
        index["text_encoder_2"] = ["transformers", "CLIPTextModelWithProjection"]
        index["tokenizer_2"] = ["transformers", "CLIPTokenizer"]
    with open(os.path.join(a.out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
