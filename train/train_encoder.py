#!/usr/bin/env python3
"""Trains the encoder of the built-in model's latent space, for edits (image to image, inpainting).

  /usr/bin/python3 train/train_encoder.py --model models/imgapi-shapes --work /tmp/imgapi-enc --seed 1

The shipped model has a decoder and a UNet trained on latents that the autoencoder stage of
train/train.py made; that stage's encoder was not exported, so this script fits a new one to the
shipped decoder, which stays frozen: images drawn by train/shapes.py (the same scene generator,
held-out colour/shape pairs excluded) -> Encoder -> frozen decoder -> the same image. The encoder
ends in a per-channel normalisation without affine terms (train/model.py), which holds its
latents to zero mean and unit variance per channel: the statistics the UNet was trained on.
After training the normalisation uses the statistics of the whole data set and is folded into the
last convolution, so the exported file is a plain TAESD-style encoder (`encoder.layers.N.*`, the
layer indices of the network) that imgapi reads like the tiny decoder; it outputs diffusion-space
latents from RGB in [0, 1].

Deterministic from --seed; needs Debian's python3-torch, python3-numpy and python3-pil.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402
from check_export import read_safetensors as read_arrays  # noqa: E402
from model import Encoder, TinyDecoder  # noqa: E402


def read_safetensors(path):
    """The file's tensors as float32 torch tensors (check_export's reader)."""
    return {k: torch.from_numpy(v.astype(np.float32)) for k, v in read_arrays(path)[0].items()}


def load_decoder(model_dir):
    tensors = read_safetensors(os.path.join(model_dir, "decoder.safetensors"))
    dec = TinyDecoder()
    dec.load_state_dict({"layers." + k[len("decoder.layers."):]: v for k, v in tensors.items()})
    dec.eval()
    for p in dec.parameters():
        p.requires_grad_(False)
    return dec


def psnr(y, x):
    mse = F.mse_loss(y.clamp(0, 1), x).item()
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def export(enc, path, meta):
    """The encoder with its normalisation folded into the last convolution."""
    sd = {k: v.clone() for k, v in enc.net.state_dict().items()}
    last = max(int(k.split(".")[0]) for k in sd)
    mean, var = enc.norm.running_mean, enc.norm.running_var
    inv = 1.0 / torch.sqrt(var + enc.norm.eps)
    sd[f"{last}.weight"] = sd[f"{last}.weight"] * inv[:, None, None, None]
    sd[f"{last}.bias"] = (sd[f"{last}.bias"] - mean) * inv
    train.write_safetensors(path, {"encoder.layers." + k: v for k, v in sd.items()}, meta, "F32")


def write_check(encode, val, path):
    """What PyTorch computes for two held-out scenes side by side (a 64x128 image): the engine's
    test runs `imgapi debug tiny-encoder` on it and compares."""
    with torch.no_grad():
        pair = train.to_float(np.concatenate([val[0], val[1]], axis=1)[None], torch.device("cpu"))
        train.write_safetensors(path, {"image": pair, "latent": encode(pair)},
                                {"imgapi.what": "built-in encoder reference (train/train_encoder.py)"}, "F32")


def exported_encoder(model_dir):
    """The exported encoder (normalisation folded) as a PyTorch module."""
    tensors = read_safetensors(os.path.join(model_dir, "encoder.safetensors"))
    net = Encoder().net
    net.load_state_dict({k[len("encoder.layers."):]: v for k, v in tensors.items()})
    return net.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the model folder: reads decoder.safetensors, writes encoder.safetensors")
    ap.add_argument("--work", required=True, help="folder for the rendered images")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--check", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "engine",
                                                    "data", "shapes_encoder_check.safetensors"),
                    help="where to write the reference the engine's test compares with")
    ap.add_argument("--check-only", action="store_true",
                    help="only write --check from the model's exported encoder.safetensors")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(a.check)), exist_ok=True)
    # the data stage of train.py, with a seed of its own so these images are not the diffusion set's
    d = argparse.Namespace(seed=a.seed + 7919, size=64, images=a.images, threads=a.threads)
    imgs = train.stage_data(d, a.work)
    held = len(imgs) // 20
    fit, val = imgs[held:], imgs[:held]
    if a.check_only:
        write_check(exported_encoder(a.model), val, a.check)
        print(f"wrote {a.check}")
        return
    dec = load_decoder(a.model)
    enc = Encoder()
    opt = torch.optim.Adam(enc.parameters(), lr=a.lr)
    dev = torch.device("cpu")
    t0 = time.time()
    enc.train()
    for step in range(a.steps):
        g = torch.Generator().manual_seed(a.seed * 2_000_029 + step)
        idx = torch.randint(0, len(fit), (a.batch,), generator=g).numpy()
        x = train.to_float(fit[idx], dev)
        for grp in opt.param_groups:
            grp["lr"] = train.cosine_lr(step, a.steps, a.lr, 100)
        y = dec(enc(x))
        loss = F.l1_loss(y, x) + F.mse_loss(y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            print(f"step {step + 1}/{a.steps} loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    # the normalisation's statistics over the whole fitting set, as train.py's encode_all does
    enc.eval()
    with torch.no_grad():
        raw = torch.cat([enc.net(train.to_float(fit[lo:lo + 512], dev)) for lo in range(0, len(fit), 512)]).double()
        enc.norm.running_mean.copy_(raw.mean((0, 2, 3)).float())
        enc.norm.running_var.copy_(raw.var((0, 2, 3), unbiased=False).float())
        xv = train.to_float(val, dev)
        zv = enc(xv)
        score = psnr(dec(zv), xv)
    print(f"held-out reconstruction through the shipped decoder: PSNR {score:.2f} dB on {len(val)} images; "
          f"latent mean {zv.mean((0, 2, 3)).numpy().round(3).tolist()} std {zv.std((0, 2, 3)).numpy().round(3).tolist()}")
    meta = {"imgapi.model": "imgapi-shapes", "imgapi.part": "encoder", "imgapi.seed": str(a.seed),
            "imgapi.steps": str(a.steps), "imgapi.heldout_psnr_db": f"{score:.2f}",
            "imgapi.train_seconds": str(int(time.time() - t0))}
    export(enc, os.path.join(a.model, "encoder.safetensors"), meta)
    write_check(enc, val, a.check)
    print(f"wrote {os.path.join(a.model, 'encoder.safetensors')} after {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
