#!/usr/bin/env python3
"""Checks that imgapi's engine computes what the PyTorch definitions in train/model.py compute, on
an exported model: text encoder, UNet and tiny decoder, through `imgapi debug`.

  /usr/bin/python3 train/check_export.py --model models/imgapi-shapes --imgapi build/imgapi
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import TextEncoder, TinyDecoder, UNet  # noqa: E402
from train import Tokenizer, write_safetensors  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    meta = h.pop("__metadata__", {})
    dt = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64}
    out = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dt[v["dtype"]]).reshape(v["shape"])
           for k, v in h.items()}
    return out, meta


def strip(d, prefix):
    return {k[len(prefix):]: torch.from_numpy(v.astype(np.float32)) for k, v in d.items() if k.startswith(prefix)}


def rel(a, b):
    return float(np.abs(a - b).max() / max(1e-12, np.abs(b).max()))


def run(imgapi, comp, weights, inputs, out):
    subprocess.run([imgapi, "debug", comp, "--weights", weights, "--inputs", inputs, "--out", out], check=True)
    return read_safetensors(out)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--imgapi", default="build/imgapi")
    a = ap.parse_args()
    w, meta = read_safetensors(os.path.join(a.model, "model.safetensors"))
    te_sd = strip(w, "cond_stage_model.transformer.text_model.")
    un_sd = strip(w, "model.diffusion_model.")
    vocab, width = te_sd["embeddings.token_embedding.weight"].shape
    ctx = te_sd["embeddings.position_embedding.weight"].shape[0]
    layers = len({k.split(".")[2] for k in te_sd if k.startswith("encoder.layers.")})
    te = TextEncoder(vocab, width, layers, width // 64, ctx)
    te.load_state_dict(te_sd)
    mc = un_sd["input_blocks.0.0.weight"].shape[0]
    levels = sorted({k.split(".")[1] for k in un_sd if k.startswith("input_blocks.") and ".op." in k})
    mult = [1] + [un_sd[f"input_blocks.{int(i) + 1}.0.in_layers.2.weight"].shape[0] // mc for i in levels]
    unet = UNet(mc, tuple(mult), width, 32)
    unet.load_state_dict(un_sd)
    with open(os.path.join(a.model, "vocab.json")) as f:
        v = json.load(f)
    with open(os.path.join(a.model, "merges.txt")) as f:
        merges = [tuple(l.split()) for l in f.read().splitlines()[1:] if l]
    tok = Tokenizer([t for t, _ in sorted(v.items(), key=lambda kv: kv[1])], merges)
    worst = 0.0
    with tempfile.TemporaryDirectory() as d, torch.no_grad():
        caps = ["a red circle on a blue background", "three small yellow stars at the top", ""]
        tokens = torch.tensor([tok.encode(c, ctx) for c in caps])
        ref_te = te(tokens).numpy()
        write_safetensors(os.path.join(d, "tok.safetensors"), {"tokens": tokens.float()}, {}, "F32")
        # the debug command wants integer tokens: rewrite as I64
        _write_ints(os.path.join(d, "tok.safetensors"), tokens.numpy())
        out = run(a.imgapi, "text-encoder", os.path.join(a.model, "model.safetensors"), os.path.join(d, "tok.safetensors"),
                  os.path.join(d, "te_out.safetensors"))
        got = out.get("last_hidden_state")
        if got is None:
            print("text-encoder outputs:", list(out))
            return 1
        e = rel(got, ref_te)
        print(f"text encoder: {e:.2e}")
        worst = max(worst, e)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(2, 4, 8, 12, generator=g)
        t = torch.tensor([999.0, 250.0])
        c = torch.from_numpy(ref_te)[:2]
        ref_u = unet(x, t, c).numpy()
        write_safetensors(os.path.join(d, "u.safetensors"), {"0.x": x, "0.timesteps": t, "0.context": c}, {}, "F32")
        out = run(a.imgapi, "unet", os.path.join(a.model, "model.safetensors"), os.path.join(d, "u.safetensors"),
                  os.path.join(d, "u_out.safetensors"))
        e = rel(out["0.out"], ref_u)
        print(f"unet: {e:.2e}")
        worst = max(worst, e)
        dw, _ = read_safetensors(os.path.join(a.model, "decoder.safetensors"))
        dec = TinyDecoder(tuple(dw[f"decoder.layers.{i}.weight"].shape[0] for i in (1, 6, 9, 12)))
        dec.layers.load_state_dict(strip(dw, "decoder.layers."))
        z = torch.randn(1, 4, 8, 8, generator=g)
        ref_d = dec(z).numpy()
        write_safetensors(os.path.join(d, "z.safetensors"), {"latent": z}, {}, "F32")
        out = run(a.imgapi, "tiny-decoder", os.path.join(a.model, "decoder.safetensors"), os.path.join(d, "z.safetensors"),
                  os.path.join(d, "z_out.safetensors"))
        e = rel(out["image"], ref_d)
        print(f"tiny decoder: {e:.2e}")
        worst = max(worst, e)
    print("OK" if worst < 1e-4 else "MISMATCH")
    return 0 if worst < 1e-4 else 1


def _write_ints(path, arr):
    arr = arr.astype(np.int64)
    b = arr.tobytes()
    h = json.dumps({"tokens": {"dtype": "I64", "shape": list(arr.shape), "data_offsets": [0, len(b)]}}).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b)


if __name__ == "__main__":
    sys.exit(main())
