#!/usr/bin/env python3
"""Writes a full-size random-weight FLUX.2 [klein] 4B model - the four files a FLUX.2 model is
(docs/models.md) - so speed and memory can be measured on the real shapes without real weights:

  OUT/transformer.safetensors   BFL's names: 5 double- and 20 single-stream blocks, hidden 3072,
                                24 heads, 128 latent channels, context 7680, no guidance_in (about
                                3.9 B parameters)
  OUT/ae.safetensors            the FLUX.2 autoencoder: ch 128, ch_mult [1, 2, 4, 4], 2 blocks a
                                level, z 32, BatchNorm statistics of the 128 patchified channels
  OUT/text_encoder.safetensors  Qwen3-4B under Qwen3ForCausalLM's names: 36 layers, hidden 2560,
                                32 query and 8 key/value heads of 128, MLP 9728, vocabulary 151936
  OUT/tokenizer.json            a small byte-level BPE vocabulary (tools/golden/bbpe_ref.py): the
                                real one may not be downloaded; the text is padded to 512 tokens
                                whatever the vocabulary

Names and shapes come from the small goldens' weight scripts (tools/golden/*_weights.py), which
the reference code loaded strictly. Matrices N(0, 1/fan_in), norm gains 1 + N(0, 0.02), other
vectors N(0, 0.02), the embedding N(0, 1), running variances 1: activations stay finite.

  tools/make_random_flux2.py OUT [--dtype bf16|f16|f32] [--seed N] [--size klein-4b|tiny]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "golden"))
sys.path.insert(0, HERE)
import bbpe_ref  # noqa: E402
import flux2_ae_weights  # noqa: E402
import flux2_pipeline_weights  # noqa: E402
import flux2_transformer_weights  # noqa: E402
import qwen3_text_weights  # noqa: E402

SIZES = {
    "klein-4b": dict(
        transformer={"in_channels": 128, "context_in_dim": 7680, "hidden_size": 3072, "num_heads": 24, "depth": 5,
                     "depth_single_blocks": 20, "axes_dim": [32, 32, 32, 32], "theta": 2000, "mlp_ratio": 3.0},
        ae={"ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "z_channels": 32, "in_channels": 3, "out_ch": 3},
        qwen3={"vocab_size": 151936, "hidden_size": 2560, "intermediate_size": 9728, "num_attention_heads": 32,
               "num_key_value_heads": 8, "head_dim": 128, "num_hidden_layers": 36, "rope_theta": 1000000.0,
               "rms_norm_eps": 1e-6}),
    "tiny": dict(transformer=flux2_pipeline_weights.TRANSFORMER, ae=flux2_pipeline_weights.AE,
                 qwen3=flux2_pipeline_weights.QWEN3),
}
CHUNK = 1 << 24  # values generated at a time


def kind_of(name, shape):
    if name.endswith("embed_tokens.weight"):
        return "emb"
    if name == "bn.running_var":
        return "one"
    if name == "bn.running_mean":
        return "small"
    if len(shape) >= 2:
        return "w"
    if name.endswith(".weight") or name.endswith(".scale"):
        return "gain"
    return "small"


def write(path, shapes, dtype, rng):
    size = {"f16": 2, "f32": 4, "bf16": 2}[dtype]
    header, off = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": dtype.upper(), "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"random_weights": "true"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    params = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in shapes.items():
            n, kind = int(np.prod(shape)), kind_of(name, shape)
            params += n
            scale = {"w": (1.0 / max(1, int(np.prod(shape[1:])))) ** 0.5, "emb": 1.0, "small": 0.02, "gain": 0.02,
                     "one": 0.0}[kind]
            for at in range(0, n, CHUNK):
                x = rng.standard_normal(min(CHUNK, n - at), dtype=np.float32) * np.float32(scale)
                if kind in ("gain", "one"):
                    x += np.float32(1)
                if dtype == "f32":
                    f.write(x.tobytes())
                elif dtype == "f16":
                    f.write(x.astype(np.float16).tobytes())
                else:
                    u = x.view(np.uint32)
                    f.write(((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes())
    return params


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f16", "f32"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", default="klein-4b", choices=sorted(SIZES))
    o = ap.parse_args()
    c = SIZES[o.size]
    os.makedirs(o.out, exist_ok=True)
    rng = np.random.default_rng(o.seed)
    dit = {k: v for k, v in flux2_transformer_weights.shapes(c["transformer"]).items()
           if not k.startswith("guidance_in.")}  # [klein] is step-distilled without a guidance embedding
    for fname, shapes in (("transformer", dit), ("ae", flux2_ae_weights.shapes(c["ae"])),
                          ("text_encoder", qwen3_text_weights.shapes(c["qwen3"]))):
        n = write(os.path.join(o.out, fname + ".safetensors"), dict(sorted(shapes.items())), o.dtype, rng)
        print(f"{fname}: {n / 1e9:.2f} B parameters")
    corpus = ("a photograph of an astronaut riding a horse on the moon, highly detailed, soft light. " * 8
              + "user assistant think\n\n")
    vocab, merges, added = bbpe_ref.train(corpus, 200)
    bbpe_ref.write_tokenizer_json(os.path.join(o.out, "tokenizer.json"), vocab, merges, added)
    print("wrote", o.out)


if __name__ == "__main__":
    main()
