#!/usr/bin/env python3
"""Trains imgapi's built-in text-to-image model from scratch and exports it in the layout imgapi
loads for real Stable Diffusion checkpoints.

  /usr/bin/python3 train/train.py --out models/imgapi-shapes --work /tmp/imgapi-train --seed 1

Stages (each one resumes from --work after an interruption: rerun the same command):
  1. tokenizer  BPE vocabulary learnt from the caption grammar (CLIP's vocab.json + merges.txt)
  2. data       rendered images of train/shapes.py (held-out colour/shape pairs excluded)
  3. autoencoder  encoder + TAESD-style decoder, latent 4 channels at 1/8 of the image side
  4. decoder    the decoder alone, refined at the image border on the frozen encoder's latents
  5. diffusion  CLIP-style text encoder and LDM UNet together, epsilon prediction on SD's
                scaled-linear schedule, 10% empty captions for classifier-free guidance, EMA
  6. export     model.safetensors (model.diffusion_model.* + cond_stage_model.transformer.*),
                decoder.safetensors, vocab.json, merges.txt

Everything random derives from --seed (data by sample index, noise and batches by step), so a run
resumed from its last checkpoint ends where an uninterrupted one does. Needs Debian's
python3-torch, python3-numpy and python3-pil; uses a CUDA GPU when there is one (--device).
"""
import argparse
import json
import math
import os
import re
import struct
import sys
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402
from model import Encoder, TextEncoder, TinyDecoder, UNet  # noqa: E402

PRESETS = {
    # the default: about 4 hours on 2 CPU cores (3.2 of them diffusion, 2.0-2.1 s a step)
    "cpu": dict(size=64, images=40000, ae_steps=1600, ae_batch=32, ae_lr=1e-3, dec_steps=600, dec_lr=2e-4,
                steps=5600, batch=64, mc=64, mult=(1, 2, 2), te_width=128, te_layers=3, context=32, lr=4e-4),
    # a larger variant for a GPU
    "gpu": dict(size=64, images=200000, ae_steps=8000, ae_batch=64, ae_lr=1e-3, dec_steps=2000, dec_lr=2e-4,
                steps=40000, batch=256, mc=96, mult=(1, 2, 2), te_width=192, te_layers=4, context=32, lr=3e-4),
}


def log(work, msg):
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    with open(os.path.join(work, "log.txt"), "a") as f:
        f.write(line + "\n")


# ---------------- tokenizer ----------------


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


WORD_RE = re.compile(r"[a-z]+|[0-9]|[^\sa-z0-9]+")


def words_of(text):
    return WORD_RE.findall(re.sub(r"\s+", " ", text.strip().lower()))


def train_bpe(corpus):
    """Merges until every word of the corpus is one token. Returns (vocab list, merges list)."""
    b2u = bytes_to_unicode()
    base = list(b2u.values())
    vocab = base + [v + "</w>" for v in base]
    freq = Counter()
    for text in corpus:
        for w in words_of(text):
            freq[w] += 1
    segs = {w: tuple(b2u[b] for b in w.encode()) for w in freq}
    segs = {w: s[:-1] + (s[-1] + "</w>",) for w, s in segs.items()}
    merges, known = [], set(vocab)
    while True:
        pairs = Counter()
        for w, s in segs.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += freq[w]
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        tok = best[0] + best[1]
        if tok not in known:
            vocab.append(tok)
            known.add(tok)
        for w, s in segs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(tok)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            segs[w] = tuple(out)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.ids = {t: i for i, t in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.b2u = bytes_to_unicode()
        self.sot, self.eot = self.ids["<|startoftext|>"], self.ids["<|endoftext|>"]
        self.cache = {}

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        s = [self.b2u[b] for b in word.encode()]
        s[-1] += "</w>"
        while len(s) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(s, s[1:]))]
            r, i = min(pairs)
            if r == 1 << 30:
                break
            s[i:i + 2] = [s[i] + s[i + 1]]
        ids = [self.ids[t] for t in s]
        self.cache[word] = ids
        return ids

    def encode(self, text, context):
        ids = [i for w in words_of(text) for i in self._bpe(w)][: context - 2]
        ids = [self.sot] + ids + [self.eot]
        return ids + [self.eot] * (context - len(ids))


def stage_tokenizer(a, work):
    path = os.path.join(work, "tokenizer.json")
    if not os.path.exists(path):
        rng = np.random.default_rng([a.seed, 1])
        corpus = []
        for i in range(20000):
            s = shapes.scene(rng, "exclude" if i % 2 else "only")
            corpus.append(shapes.caption(s, rng))
        corpus += [" ".join(shapes.COLORS), " ".join(shapes.SHAPES), " ".join(shapes.PLURAL.values())]
        vocab, merges = train_bpe(corpus)
        with open(path, "w") as f:
            json.dump({"vocab": vocab, "merges": merges}, f)
        log(work, f"tokenizer: {len(vocab)} tokens, {len(merges)} merges")
    with open(path) as f:
        d = json.load(f)
    return d["vocab"], [tuple(m) for m in d["merges"]]


# ---------------- data ----------------


def _render_range(args):
    seed, lo, hi, size = args
    imgs = np.empty((hi - lo, size, size, 3), np.uint8)
    for i in range(lo, hi):
        imgs[i - lo] = shapes.render(shapes.scene(np.random.default_rng([seed, 2, i])), size)
    return imgs


def stage_data(a, work):
    path = os.path.join(work, f"images_{a.size}_{a.images}.npy")
    if not os.path.exists(path):
        import multiprocessing as mp
        chunks = [(a.seed, lo, min(lo + 2000, a.images), a.size) for lo in range(0, a.images, 2000)]
        with mp.Pool(a.threads) as pool:
            imgs = np.concatenate(pool.map(_render_range, chunks))
        np.save(path + ".tmp.npy", imgs)
        os.replace(path + ".tmp.npy", path)
        log(work, f"data: {a.images} images of {a.size}x{a.size}")
    return np.load(path)


def scene_of(seed, i):
    return shapes.scene(np.random.default_rng([seed, 2, i]))


# ---------------- checkpoints ----------------


class Clock:
    """Training time across resumptions."""

    def __init__(self, spent):
        self.spent, self.t0 = spent, time.time()

    def seconds(self):
        return self.spent + time.time() - self.t0


def save_state(work, state, clock):
    state["seconds"] = clock.seconds()
    tmp = os.path.join(work, "state.pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, os.path.join(work, "state.pt"))


class Progress:
    """A stage's loop bookkeeping: logs the loss every 50 steps and checkpoints the stage (under
    key, what snapshot() returns) every --save-every seconds and after its last step."""

    def __init__(self, a, work, clock, name, key, total):
        self.save_every, self.work, self.clock = a.save_every, work, clock
        self.name, self.key, self.total = name, key, total
        self.t0 = self.last_save = time.time()

    def after(self, step, loss, state, snapshot):
        if step % 50 == 0 or step == self.total:
            took = time.time() - self.t0
            log(self.work, f"{self.name} step {step}/{self.total} loss {loss.item():.4f} ({took:.0f} s)")
        if time.time() - self.last_save > self.save_every or step == self.total:
            state[self.key] = snapshot()
            save_state(self.work, state, self.clock)
            self.last_save = time.time()


def load_state(work):
    p = os.path.join(work, "state.pt")
    return torch.load(p, map_location="cpu") if os.path.exists(p) else None


def to_float(img_u8, dev):
    return torch.from_numpy(img_u8).to(dev).permute(0, 3, 1, 2).float() / 255.0


def cosine_lr(step, total, peak, warm=100):
    if step < warm:
        return peak * (step + 1) / warm
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm))))


# ---------------- autoencoder ----------------


def stage_autoencoder(a, work, imgs, state, dev, clock):
    enc, dec = Encoder().to(dev), TinyDecoder().to(dev)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=a.ae_lr)
    step = 0
    if state and "ae" in state:
        enc.load_state_dict(state["ae"]["enc"])
        dec.load_state_dict(state["ae"]["dec"])
        opt.load_state_dict(state["ae"]["opt"])
        step = state["ae"]["step"]
    state = state or {}
    prog = Progress(a, work, clock, "autoencoder", "ae", a.ae_steps)
    enc.train()
    while step < a.ae_steps:
        g = torch.Generator().manual_seed(a.seed * 1_000_003 + step)
        idx = torch.randint(0, len(imgs), (a.ae_batch,), generator=g).numpy()
        x = to_float(imgs[idx], dev)
        for grp in opt.param_groups:
            grp["lr"] = cosine_lr(step, a.ae_steps, a.ae_lr, 100)
        z = enc(x)
        # latent noise makes the decoder tolerant of the imperfect latents diffusion produces
        zn = z + 0.1 * torch.randn(z.shape, generator=g).to(dev)
        y = dec(zn)
        loss = F.l1_loss(y, x) + F.mse_loss(y, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        prog.after(step, loss, state,
                   lambda: dict(enc=enc.state_dict(), dec=dec.state_dict(), opt=opt.state_dict(), step=step))
    return enc, dec, state


def border_weights(n, ring, corner, dev):
    """Per-pixel loss weights (mean 1) that stress the outer 2 pixels of an n x n image and the
    3 x 3 corners most: a decoder made of zero-padded convolutions sees its padding at the border
    from both sides in a corner, and the plain loss, where corners are 36 of 4096 pixels, leaves
    them visibly darker (measured on a white image: corner pixels 198-237 instead of 244)."""
    w = torch.ones(n, n)
    w[:2] += ring
    w[-2:] += ring
    w[2:-2, :2] += ring
    w[2:-2, -2:] += ring
    for ys in (slice(0, 3), slice(n - 3, n)):
        for xs in (slice(0, 3), slice(n - 3, n)):
            w[ys, xs] += corner
    return (w / w.mean()).to(dev)


def stage_decoder(a, work, dec, imgs, lat, state, dev, clock):
    """Refines the decoder alone on the frozen encoder's latents with a loss weighted towards the
    image border (see border_weights). The latents do not change, so diffusion is unaffected."""
    opt = torch.optim.Adam(dec.parameters(), lr=a.dec_lr)
    step = 0
    if state and "dec" in state:
        dec.load_state_dict(state["dec"]["dec"])
        opt.load_state_dict(state["dec"]["opt"])
        step = state["dec"]["step"]
    wmap = border_weights(a.size, 32.0, 128.0, dev)
    lat_t = torch.from_numpy(lat)
    prog = Progress(a, work, clock, "decoder", "dec", a.dec_steps)
    while step < a.dec_steps:
        g = torch.Generator().manual_seed(a.seed * 5_000_011 + step)
        idx = torch.randint(0, len(imgs), (a.ae_batch,), generator=g)
        z = lat_t[idx] + 0.1 * torch.randn((a.ae_batch,) + lat.shape[1:], generator=g)
        x = to_float(imgs[idx.numpy()], dev)
        for grp in opt.param_groups:
            grp["lr"] = cosine_lr(step, a.dec_steps, a.dec_lr, 0)
        d = dec(z.to(dev)) - x
        loss = ((d.abs() + d * d) * wmap).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        prog.after(step, loss, state, lambda: dict(dec=dec.state_dict(), opt=opt.state_dict(), step=step))
    return dec, state


def encode_all(a, work, enc, imgs, dev):
    """Latents of every image, normalised with the data set's own per-channel statistics (which
    then become the encoder's running statistics)."""
    path = os.path.join(work, f"latents_{a.size}_{a.images}.npy")
    if os.path.exists(path):
        return np.load(path)
    enc.eval()
    out = []
    with torch.no_grad():
        for lo in range(0, len(imgs), 512):
            out.append(enc.net(to_float(imgs[lo:lo + 512], dev)).cpu().numpy())
    raw = np.concatenate(out).astype(np.float64)
    mean, var = raw.mean((0, 2, 3)), raw.var((0, 2, 3))
    enc.norm.running_mean.copy_(torch.from_numpy(mean).float())
    enc.norm.running_var.copy_(torch.from_numpy(var).float())
    lat = ((raw - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + enc.norm.eps)).astype(np.float32)
    np.save(path, lat)
    log(work, f"latents: raw mean {mean.round(3).tolist()} std {np.sqrt(var).round(3).tolist()}")
    return lat


# ---------------- diffusion ----------------


def sd_schedule():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def stage_diffusion(a, work, lat, tok, state, dev, clock):
    te = TextEncoder(len(tok.ids), a.te_width, a.te_layers, a.te_width // 64, a.context).to(dev)
    unet = UNet(a.mc, a.mult, a.te_width, 32).to(dev)
    params = list(te.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.99), weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    step = 0
    if state and "dm" in state:
        te.load_state_dict(state["dm"]["te"])
        unet.load_state_dict(state["dm"]["unet"])
        opt.load_state_dict(state["dm"]["opt"])
        ema = [e.to(dev) for e in state["dm"]["ema"]]
        step = state["dm"]["step"]
    ac = sd_schedule().to(dev)
    lat_t = torch.from_numpy(lat)
    prog = Progress(a, work, clock, "diffusion", "dm", a.steps)
    while step < a.steps:
        g = torch.Generator().manual_seed(a.seed * 7_000_003 + step)
        rng = np.random.default_rng([a.seed, 4, step])
        idx = torch.randint(0, len(lat), (a.batch,), generator=g)
        caps = [shapes.caption(scene_of(a.seed, int(i)), rng) if rng.random() >= 0.1 else "" for i in idx]
        tokens = torch.tensor([tok.encode(c, a.context) for c in caps], device=dev)
        x0 = lat_t[idx].to(dev)
        t = torch.randint(0, 1000, (a.batch,), generator=g).to(dev)
        eps = torch.randn(x0.shape, generator=g).to(dev)
        acb = ac[t][:, None, None, None]
        xt = acb.sqrt() * x0 + (1 - acb).sqrt() * eps
        snr = ac[t] / (1 - ac[t])
        w = torch.clamp(snr, max=5.0) / snr  # min-SNR weighting for epsilon prediction
        for grp in opt.param_groups:
            grp["lr"] = cosine_lr(step, a.steps, a.lr)
        pred = unet(xt, t, te(tokens))
        loss = ((pred - eps) ** 2).mean((1, 2, 3)).mul(w).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(0.998, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        prog.after(step, loss, state, lambda: dict(te=te.state_dict(), unet=unet.state_dict(), opt=opt.state_dict(),
                                                   ema=[e.cpu() for e in ema], step=step))
    with torch.no_grad():  # export the EMA weights
        for e, p in zip(ema, params):
            p.copy_(e)
    return te, unet, state


# ---------------- export ----------------


def write_safetensors(path, tensors, metadata, dtype):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().float().numpy()
        if dtype == "F16" and t.ndim > 1:
            arr, dt = t.astype(np.float16), "F16"
        else:
            arr, dt = t.astype(np.float32), "F32"
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def export(a, out, vocab, merges, te, unet, dec, seconds):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
        for x, y in merges:
            f.write(f"{x} {y}\n")
    tensors = {"model.diffusion_model." + k: v for k, v in unet.state_dict().items()}
    tensors.update({"cond_stage_model.transformer.text_model." + k: v for k, v in te.state_dict().items()})
    meta = {"config": json.dumps({"heads": a.te_width // 64, "num_head_channels": 32}),
            "imgapi.model": "imgapi-shapes", "imgapi.preset": a.preset, "imgapi.seed": str(a.seed),
            "imgapi.native": str(a.size), "imgapi.train_seconds": str(int(seconds))}
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, meta, "F16")
    dec_t = {"decoder.layers." + k[len("layers."):]: v for k, v in dec.state_dict().items()}
    write_safetensors(os.path.join(out, "decoder.safetensors"), dec_t, {"imgapi.model": "imgapi-shapes"}, "F32")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder for the exported model")
    ap.add_argument("--work", required=True, help="folder for data and resumable checkpoints")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--preset", choices=list(PRESETS), default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--save-every", type=float, default=300, help="seconds between checkpoints")
    ap.add_argument("--export-only", action="store_true",
                    help="export the EMA weights of the last checkpoint in --work without training")
    for k, v in PRESETS["cpu"].items():
        if not isinstance(v, tuple):
            ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=None)
    a = ap.parse_args()
    for k, v in PRESETS[a.preset].items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    os.makedirs(a.work, exist_ok=True)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    prev = load_state(a.work)
    spent = prev.get("seconds", 0.0) if prev else 0.0
    clock = Clock(spent)
    log(a.work, f"start: preset {a.preset}, seed {a.seed}, device {dev}, {a.threads} threads"
        + (f", resuming after {spent:.0f} s" if prev else ""))
    if a.export_only:
        if not prev or "dm" not in prev:
            sys.exit("no diffusion checkpoint in --work yet")
        a.steps, a.ae_steps, a.save_every = prev["dm"]["step"], prev["ae"]["step"], float("inf")
        a.dec_steps = prev["dec"]["step"] if "dec" in prev else 0
    vocab, merges = stage_tokenizer(a, a.work)
    tok = Tokenizer(vocab, merges)
    imgs = stage_data(a, a.work)
    enc, dec, state = stage_autoencoder(a, a.work, imgs, prev, dev, clock)
    lat = encode_all(a, a.work, enc, imgs, dev)
    dec, state = stage_decoder(a, a.work, dec, imgs, lat, state, dev, clock)
    te, unet, state = stage_diffusion(a, a.work, lat, tok, state, dev, clock)
    if not a.export_only:
        save_state(a.work, state, clock)
    seconds = clock.seconds() if not a.export_only else spent
    export(a, a.out, vocab, merges, te.cpu(), unet.cpu(), dec.cpu(), seconds)
    log(a.work, f"done: exported to {a.out} after {seconds / 60:.1f} min of training")


if __name__ == "__main__":
    main()
