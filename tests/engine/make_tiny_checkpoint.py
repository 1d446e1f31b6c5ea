#!/usr/bin/env python3
"""Assembles a complete tiny single-file checkpoint (text encoder + UNet + VAE, LDM key layout)
from the golden random-weight parts, so the whole pipeline can run end to end in tests:
  sd1: clip_text_hf_layout + unet_sd1_small + vae_decoder_small
  sd2: clip_text_openai_layout + unet_sd2_small + vae_decoder_small
  sd2-edit: clip_text_openai_layout + unet_sd2_small + vae_encoder_small (the whole autoencoder)
  inpaint: clip_text_openai_layout + unet_inpaint_small (9 channels) + vae_encoder_small
Usage: make_tiny_checkpoint.py GOLDEN_DIR sd1|sd2|sd2-edit|inpaint OUT.safetensors"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden import load, save  # noqa: E402


def config_of(path):
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n)).get("__metadata__", {})
    return json.loads(meta.get("config", "{}"))


def main(golden, family, out):
    te = "clip_text_hf_layout" if family == "sd1" else "clip_text_openai_layout"
    unet = {"sd2-edit": "unet_sd2_small", "inpaint": "unet_inpaint_small"}.get(family, f"unet_{family}_small")
    vae = "vae_encoder_small" if family in ("sd2-edit", "inpaint") else "vae_decoder_small"
    parts = [te, unet, vae]
    tensors, config = {}, {}
    for p in parts:
        path = os.path.join(golden, p, "weights.safetensors")
        tensors.update(load(path))
        for k, v in config_of(path).items():
            if k in ("heads", "num_heads", "num_head_channels"):
                config[k] = v
    save(out, tensors, {"config": json.dumps(config)})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
