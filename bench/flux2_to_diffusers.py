#!/usr/bin/env python3
"""Rewrites a FLUX.2 model in Black Forest Labs' layout (the four files imgapi and
stable-diffusion.cpp read: transformer, ae, text_encoder .safetensors, tokenizer.json) as a
diffusers folder (model_index.json, transformer/, vae/, text_encoder/ in two shards, tokenizer/),
the layout antirez/flux2.c reads, so the three engines run the same weights in one benchmark.

The renaming is diffusers' (its conversion script, read for the mapping only): the transformer's
fused q/k/v split into to_q/to_k/to_v (image stream) and add_q/k/v_proj (text stream), shared
modulations' .lin -> .linear, the final adaLN's (shift, scale) halves swapped to (scale, shift),
QK norm .scale -> .weight; the autoencoder's LDM blocks as down_blocks/up_blocks (the decoder's
levels in reverse), mid_block.resnets/attentions, attention convolutions as matrices, quant convs
out of the encoder and decoder. Tensors are copied byte for byte (no dtype change).

  bench/flux2_to_diffusers.py SRC_DIR DST_DIR
"""
import json
import os
import re
import struct
import sys


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h, 8 + n


def write(path, src, items):
    """items: [(new_name, [(old_name, row_lo, row_hi) ...], shape, dtype)] - the rows of old
    tensors concatenated (rows of the first dimension), or a whole tensor when row_lo is None."""
    hdr, base = read_header(src)
    header, off = {}, 0
    for name, parts, shape, dtype in items:
        n = 0
        for old, lo, hi in parts:
            t = hdr[old]
            nbytes = t["data_offsets"][1] - t["data_offsets"][0]
            row = nbytes // t["shape"][0]
            n += nbytes if lo is None else (hi - lo) * row
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(src, "rb") as fi, open(path, "wb") as fo:
        fo.write(struct.pack("<Q", len(h)) + h)
        for name, parts, shape, dtype in items:
            for old, lo, hi in parts:
                t = hdr[old]
                a, b = t["data_offsets"]
                row = (b - a) // t["shape"][0]
                if lo is not None:
                    a, b = a + lo * row, a + hi * row
                fi.seek(base + a)
                left = b - a
                while left:
                    chunk = fi.read(min(left, 1 << 26))
                    fo.write(chunk)
                    left -= len(chunk)


def whole(hdr, old, new, shape=None):
    return (new, [(old, None, None)], shape or hdr[old]["shape"], hdr[old]["dtype"])


def transformer(src, dst):
    hdr, _ = read_header(src)
    out = []
    simple = {"img_in": "x_embedder", "txt_in": "context_embedder",
              "time_in.in_layer": "time_guidance_embed.timestep_embedder.linear_1",
              "time_in.out_layer": "time_guidance_embed.timestep_embedder.linear_2",
              "guidance_in.in_layer": "time_guidance_embed.guidance_embedder.linear_1",
              "guidance_in.out_layer": "time_guidance_embed.guidance_embedder.linear_2",
              "double_stream_modulation_img.lin": "double_stream_modulation_img.linear",
              "double_stream_modulation_txt.lin": "double_stream_modulation_txt.linear",
              "single_stream_modulation.lin": "single_stream_modulation.linear", "final_layer.linear": "proj_out"}
    double = {"img_attn.norm.query_norm": "attn.norm_q", "img_attn.norm.key_norm": "attn.norm_k",
              "img_attn.proj": "attn.to_out.0", "img_mlp.0": "ff.linear_in", "img_mlp.2": "ff.linear_out",
              "txt_attn.norm.query_norm": "attn.norm_added_q", "txt_attn.norm.key_norm": "attn.norm_added_k",
              "txt_attn.proj": "attn.to_add_out", "txt_mlp.0": "ff_context.linear_in",
              "txt_mlp.2": "ff_context.linear_out"}
    single = {"linear1": "attn.to_qkv_mlp_proj", "linear2": "attn.to_out", "norm.query_norm": "attn.norm_q",
              "norm.key_norm": "attn.norm_k"}
    for old in sorted(hdr):
        t = hdr[old]
        param = old.rsplit(".", 1)[1]
        pnew = "weight" if param == "scale" else param
        stem = old.rsplit(".", 1)[0]
        m = re.match(r"double_blocks\.(\d+)\.(.*)", stem)
        s = re.match(r"single_blocks\.(\d+)\.(.*)", stem)
        if stem in simple:
            out.append(whole(hdr, old, f"{simple[stem]}.{pnew}"))
        elif stem == "final_layer.adaLN_modulation.1":  # (shift, scale) -> (scale, shift)
            h = t["shape"][0] // 2
            out.append((f"norm_out.linear.{pnew}", [(old, h, 2 * h), (old, 0, h)], t["shape"], t["dtype"]))
        elif m and m.group(2) in ("img_attn.qkv", "txt_attn.qkv"):
            n = t["shape"][0] // 3
            names = ("to_q", "to_k", "to_v") if m.group(2).startswith("img") else ("add_q_proj", "add_k_proj",
                                                                                 "add_v_proj")
            for i, nm in enumerate(names):
                out.append((f"transformer_blocks.{m.group(1)}.attn.{nm}.{pnew}", [(old, i * n, (i + 1) * n)],
                            [n] + t["shape"][1:], t["dtype"]))
        elif m:
            out.append(whole(hdr, old, f"transformer_blocks.{m.group(1)}.{double[m.group(2)]}.{pnew}"))
        elif s:
            out.append(whole(hdr, old, f"single_transformer_blocks.{s.group(1)}.{single[s.group(2)]}.{pnew}"))
        else:
            raise SystemExit("no diffusers name for " + old)
    write(dst, src, out)


def autoencoder(src, dst):
    hdr, _ = read_header(src)
    ups = 1 + max(int(k.split(".")[2]) for k in hdr if k.startswith("decoder.up."))
    out = []
    for old in sorted(hdr):
        t = hdr[old]
        new = old
        for part in ("encoder", "decoder"):
            new = new.replace(f"{part}.norm_out.", f"{part}.conv_norm_out.")
        new = new.replace("encoder.quant_conv.", "quant_conv.").replace("decoder.post_quant_conv.", "post_quant_conv.")
        new = re.sub(r"encoder\.down\.(\d+)\.block\.", r"encoder.down_blocks.\1.resnets.", new)
        new = re.sub(r"encoder\.down\.(\d+)\.downsample\.", r"encoder.down_blocks.\1.downsamplers.0.", new)
        new = re.sub(r"decoder\.up\.(\d+)\.block\.",
                     lambda g: f"decoder.up_blocks.{ups - 1 - int(g.group(1))}.resnets.", new)
        new = re.sub(r"decoder\.up\.(\d+)\.upsample\.",
                     lambda g: f"decoder.up_blocks.{ups - 1 - int(g.group(1))}.upsamplers.0.", new)
        new = re.sub(r"mid\.block_(\d)\.", lambda g: f"mid_block.resnets.{int(g.group(1)) - 1}.", new)
        new = new.replace("nin_shortcut", "conv_shortcut")
        shape = t["shape"]
        if ".mid.attn_1." in old:
            new = new.replace("mid.attn_1.", "mid_block.attentions.0.")
            new = re.sub(r"\.norm\.", ".group_norm.", new)
            for a, b in (("q", "to_q"), ("k", "to_k"), ("v", "to_v"), ("proj_out", "to_out.0")):
                new = re.sub(rf"\.{a}\.(weight|bias)$", rf".{b}.\1", new)
            shape = shape[:2] if len(shape) == 4 else shape
        out.append(whole(hdr, old, new, shape))
    write(dst, src, out)


def text_encoder(src, folder):
    hdr, _ = read_header(src)
    names = sorted(hdr)
    half = len(names) // 2
    index = {"metadata": {}, "weight_map": {}}
    for i, part in enumerate((names[:half], names[half:])):
        fname = f"model-0000{i + 1}-of-00002.safetensors"
        write(os.path.join(folder, fname), src, [whole(hdr, n, n) for n in part])
        index["weight_map"].update({n: fname for n in part})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    for d in ("transformer", "vae", "text_encoder", "tokenizer"):
        os.makedirs(os.path.join(dst, d), exist_ok=True)
    with open(os.path.join(dst, "model_index.json"), "w") as f:
        json.dump({"_class_name": "Flux2KleinPipeline", "is_distilled": True}, f, indent=1)
    transformer(os.path.join(src, "transformer.safetensors"),
                os.path.join(dst, "transformer", "diffusion_pytorch_model.safetensors"))
    autoencoder(os.path.join(src, "ae.safetensors"), os.path.join(dst, "vae", "diffusion_pytorch_model.safetensors"))
    text_encoder(os.path.join(src, "text_encoder.safetensors"), os.path.join(dst, "text_encoder"))
    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    tok["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in tok["model"]["merges"]]
    with open(os.path.join(dst, "tokenizer", "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    print("wrote", dst)


if __name__ == "__main__":
    main()
