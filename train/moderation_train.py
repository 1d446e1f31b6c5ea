#!/usr/bin/env python3
"""Trains the moderation classifier (the learned second stage of issue 31) with numpy only.

Model (fastText-style, read by src/moderation/classifier.c): the prompt's normalised words (from
`imgapi moderate --normalize 1`, so training sees exactly what the server sees) become hashed
features -- each word, each pair of neighbouring words, and the character 3- to 5-grams of each
word between < and > -- in BUCKETS buckets (FNV-1a 32). Their embeddings (DIM each) are averaged,
then one hidden layer (HIDDEN, ReLU) and one sigmoid per head. The heads are factors, not the
categories themselves: "sexual" (sexual content, whoever is in it) and "minor" (a child or teen
is depicted) are learned separately, from every prompt that shows either, and the category
sexual_minors is their conjunction (the file's combine table) -- the same shape as the rules'
"combine sexual_minors minor sexual_any", and far more general than a class of its own, because
"minor" is learned from every harmless prompt about children too.

The generated set (train/moderation_data.py) is split 85/15; each category's threshold is the
lowest probability at which at most MAX_FP of the validation set's harmless prompts would be
refused (never below FLOOR). The evaluation sets in moderation/eval/ are not read here.

Writes moderation/classifier.bin (format below) and moderation/classifier_check.tsv (prompts with
the probabilities this script computes for them, which the C unit test must reproduce).

Usage: moderation_train.py --imgapi build/imgapi [--per-class N] [--epochs E] [--seed S]
       moderation_train.py --init moderation/classifier.bin --epochs 1 --lr-scale 0.1

The shipped file: trained from a random start with the defaults (seed 31), then (2026-12-05)
continued with --init, --epochs 1 --lr-scale 0.1 on the data with TWINS added (twice: the
second time with the laboratory twins). A fresh
retrain scores worse on the seen evaluation sets in every seed tried (the rules were fixed beside
this model, so a new model drops prompts only it caught); continuing keeps what it knows and
learns the harmless twins (false refusals 8 -> 4 over the seen sets, no recall lost)."""
import argparse
import os
import struct
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import moderation_data  # noqa: E402

BUCKETS = 1 << 16
DIM = 16
HIDDEN = 32
LABELS = ["ok", "sexual_minors", "sexual", "violence", "self_harm", "hate", "illegal"]  # data labels
HEADS = ["sexual", "minor", "violence", "self_harm", "hate", "illegal"]
# category = both heads pass these. sexual at 0.7, not 0.5: harmless prompts about children and
# water ("kids running through a sprinkler") scored 0.6 on it, while every minors prompt of the
# evaluation sets' first runs that only the classifier caught scored 0.8 or more (2026-12-05)
COMBINE = [("sexual", "minor", "sexual_minors", 0.7, 0.5)]
MAX_FP = 0.002
FEATURE_DROP = 0.3  # each feature left out of a training example with this probability
SMOOTH = 0.05       # label smoothing: no example is trusted to be certain
FLOOR = {"minor": 0.5, "sexual": 0.85}  # adult sexual content alone needs more certainty
DEFAULT_FLOOR = 0.5


def progress(msg):
    if sys.stderr.isatty():
        sys.stderr.write("\r" + msg + " " * 10)
        sys.stderr.flush()


def fnv1a(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def features(norm_line):
    """Bucket ids of a normalised line (the same list classifier.c computes). The features read й
    as и, as the normaliser wrote it when the shipped model was trained."""
    toks = [t for t in norm_line.replace("й", "и").split(" ") if t]
    prim = [t.split("|", 1)[0] for t in toks]
    feats = []
    for t in toks:
        parts = t.split("|", 1)
        feats.append("w:" + parts[0])
        if len(parts) == 2:
            feats.append("w:" + parts[1])
    for a, b in zip(prim, prim[1:]):
        feats.append("b:" + a + " " + b)
    for p in prim:
        s = "<" + p + ">"
        for n in (3, 4, 5):
            for i in range(len(s) - n + 1):
                feats.append("c:" + s[i:i + n])
    return [fnv1a(f) & (BUCKETS - 1) for f in feats]


def normalise(imgapi, texts):
    p = subprocess.run([imgapi, "moderate", "--normalize", "1"], input="\n".join(texts) + "\n",
                       capture_output=True, text=True, check=True)
    out = p.stdout.split("\n")[:len(texts)]
    assert len(out) == len(texts)
    return out


def head_targets(label, minor_words):
    """Multi-label targets of one example: its category's heads, and "minor" whenever a minor is
    depicted (a harmful or a harmless prompt about children)."""
    t = np.zeros(len(HEADS), np.float32)
    if label == "sexual_minors":
        t[HEADS.index("sexual")] = t[HEADS.index("minor")] = 1
    elif label != "ok":
        t[HEADS.index(label)] = 1
    if minor_words:
        t[HEADS.index("minor")] = 1
    return t


class Model:
    def __init__(self, rng):
        self.E = (rng.standard_normal((BUCKETS, DIM)) * 0.1).astype(np.float32)
        self.W1 = (rng.standard_normal((HIDDEN, DIM)) * np.sqrt(2.0 / DIM)).astype(np.float32)
        self.b1 = np.zeros(HIDDEN, np.float32)
        self.W2 = (rng.standard_normal((len(HEADS), HIDDEN)) * np.sqrt(1.0 / HIDDEN)).astype(np.float32)
        self.b2 = np.full(len(HEADS), -3.0, np.float32)

    def forward(self, flat, offsets, counts, E=None):
        E = self.E if E is None else E
        sums = np.add.reduceat(E[flat], offsets, axis=0) if len(flat) else np.zeros((len(counts), DIM))
        mean = sums / counts[:, None]
        h = mean @ self.W1.T + self.b1
        r = np.maximum(h, 0)
        logits = r @ self.W2.T + self.b2
        p = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
        return mean, h, r, p


def batch_arrays(feats, idx, rng=None, drop=0.0):
    """Flattened bucket ids of examples idx; with drop > 0 each feature is left out with that
    probability (training only), so that no single cue decides a prompt."""
    lists = []
    for i in idx:
        f = feats[i]
        if drop and f:
            keep = rng.random(len(f)) >= drop
            f = [x for x, k in zip(f, keep) if k] or [f[int(rng.integers(len(f)))]]
        lists.append(f if f else [0])
    counts = np.array([len(x) for x in lists], np.float32)
    offsets = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.int64)
    flat = np.fromiter((f for x in lists for f in x), np.int64)
    return flat, offsets, counts


def train(model, feats, y, weights, epochs, rng, lr_e=0.5, lr=0.01, batch=64):
    """y: [n, heads] targets; weights: [n] example weights."""
    n = len(y)
    adam = {k: [np.zeros_like(getattr(model, k)), np.zeros_like(getattr(model, k))] for k in ("W1", "b1", "W2", "b2")}
    step = 0
    for ep in range(epochs):
        order = rng.permutation(n)
        loss_sum = 0.0
        t0 = time.time()
        decay = 1.0 - ep / epochs
        for bi in range(0, n, batch):
            idx = order[bi:bi + batch]
            flat, offsets, counts = batch_arrays(feats, idx, rng, FEATURE_DROP)
            mean, h, r, p = model.forward(flat, offsets, counts)
            yy = y[idx]
            w = weights[idx]
            target = yy * (1 - SMOOTH) + (1 - yy) * SMOOTH
            loss_sum += float(-((target * np.log(p + 1e-9) + (1 - target) * np.log(1 - p + 1e-9)).sum(1) * w).sum())
            g = p - target
            g *= w[:, None] / len(idx)
            gW2 = g.T @ r
            gb2 = g.sum(0)
            gr = g @ model.W2
            gh = gr * (h > 0)
            gW1 = gh.T @ mean
            gb1 = gh.sum(0)
            gmean = gh @ model.W1
            # sparse SGD on the embeddings: each feature gets its example's mean gradient / count
            per_feat = np.repeat(gmean / counts[:, None], counts.astype(np.int64), axis=0)
            np.add.at(model.E, flat, -lr_e * decay * per_feat * len(idx))
            step += 1
            for k, gk in (("W1", gW1), ("b1", gb1), ("W2", gW2), ("b2", gb2)):
                m, v = adam[k]
                m *= 0.9
                m += 0.1 * gk
                v *= 0.999
                v += 0.001 * gk * gk
                mh = m / (1 - 0.9 ** step)
                vh = v / (1 - 0.999 ** step)
                setattr(model, k, getattr(model, k) - lr * decay * mh / (np.sqrt(vh) + 1e-8))
            if bi // batch % 50 == 0:
                progress(f"epoch {ep + 1}/{epochs}: {bi}/{n}")
        print(f"epoch {ep + 1}/{epochs}: loss {loss_sum / n:.4f} ({time.time() - t0:.1f} s)", file=sys.stderr)


def predict(model, feats, E=None):
    out = []
    for bi in range(0, len(feats), 512):
        flat, offsets, counts = batch_arrays(feats, range(bi, min(len(feats), bi + 512)))
        out.append(model.forward(flat, offsets, counts, E)[3])
    return np.concatenate(out)


def choose_thresholds(p, y):
    """Per head: the lowest probability at which at most MAX_FP of the validation prompts without
    that head would be flagged, never below the head's floor."""
    th = np.zeros(len(HEADS), np.float32)
    for c in range(len(HEADS)):
        neg = np.sort(p[y[:, c] == 0, c])[::-1]
        k = int(MAX_FP * len(neg))
        t = float(neg[k]) + 1e-4 if k < len(neg) else 0.0
        th[c] = max(t, FLOOR.get(HEADS[c], DEFAULT_FLOOR))
    return th


def decide(p, th):
    """Categories refused per prompt (the C side's rule): a combined category when both heads
    pass, else each category head that passes (the minor head alone refuses nothing)."""
    out = []
    for row in p:
        cats = set()
        for a, b, name, ta, tb in COMBINE:
            if row[HEADS.index(a)] >= ta and row[HEADS.index(b)] >= tb:
                cats.add(name)
        for c, h in enumerate(HEADS):
            if h != "minor" and row[c] >= th[c]:
                cats.add(h)
        out.append(cats)
    return out


def load_into(model, path):
    """Reads a classifier.bin written by save() into model (for --init); returns its thresholds."""
    with open(path, "rb") as f:
        d = f.read()
    if d[:8] != b"IMGMODC2":
        sys.exit(f"{path}: not a classifier file")
    buckets, dim, hidden, heads = struct.unpack_from("<4I", d, 8)
    if (buckets, dim, hidden, heads) != (BUCKETS, DIM, HIDDEN, len(HEADS)):
        sys.exit(f"{path}: shape {buckets}x{dim}, hidden {hidden}, {heads} heads; --dim/--hidden must match")
    off, th = 24, []
    for _ in range(heads):
        th.append(struct.unpack_from("<f", d, off + 32)[0])
        off += 36
    off += 4 + 48 * struct.unpack_from("<I", d, off)[0]
    model.E = np.frombuffer(d, "<f2", buckets * dim, off).astype(np.float32).reshape(buckets, dim).copy()
    off += buckets * dim * 2
    for name, shape in (("W1", (hidden, dim)), ("b1", (hidden,)), ("W2", (heads, hidden)), ("b2", (heads,))):
        n = int(np.prod(shape))
        setattr(model, name, np.frombuffer(d, "<f4", n, off).astype(np.float32).reshape(shape).copy())
        off += 4 * n
    return np.array(th, np.float32)


def save(model, th, path):
    """classifier.bin, little-endian: "IMGMODC2", u32 buckets, dim, hidden, heads; per head a
    32-byte NUL-padded name and an f32 threshold; u32 combines, each u32 head a, u32 head b, f32
    threshold a, f32 threshold b and a 32-byte category name (the category is refused when both
    heads pass these thresholds); E as f16
    [buckets][dim]; W1 f32 [hidden][dim]; b1 f32 [hidden]; W2 f32 [heads][hidden]; b2 f32
    [heads]. Heads are sigmoids."""
    with open(path, "wb") as f:
        f.write(b"IMGMODC2")
        f.write(struct.pack("<4I", BUCKETS, DIM, HIDDEN, len(HEADS)))
        for name, t in zip(HEADS, th):
            f.write(name.encode().ljust(32, b"\0"))
            f.write(struct.pack("<f", float(t)))
        f.write(struct.pack("<I", len(COMBINE)))
        for a, b, name, ta, tb in COMBINE:
            f.write(struct.pack("<2I2f", HEADS.index(a), HEADS.index(b), ta, tb))
            f.write(name.encode().ljust(32, b"\0"))
        f.write(model.E.astype("<f2").tobytes())
        for a in (model.W1, model.b1, model.W2, model.b2):
            f.write(a.astype("<f4").tobytes())


def main():
    global DIM, HIDDEN
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--imgapi", default=os.path.join(ROOT, "build", "imgapi"))
    ap.add_argument("--per-class", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--out", default=os.path.join(ROOT, "moderation", "classifier.bin"))
    ap.add_argument("--dim", type=int, default=DIM, help="embedding width")
    ap.add_argument("--hidden", type=int, default=HIDDEN, help="hidden layer width")
    ap.add_argument("--init", help="continue from this classifier.bin (its thresholds are kept) instead of a "
                    "random start: to teach it new harmless twins without relearning what it knows")
    ap.add_argument("--lr-scale", type=float, default=1.0, help="learning rates times this (with --init, < 1)")
    ap.add_argument("--scenes", action="store_true", help="train on the scene-told prompts too "
                    "(moderation_scenes.py; not in the shipped model, see docs/moderation.md)")
    ap.add_argument("--check-only", action="store_true", help="train nothing: rewrite classifier_check.tsv "
                    "for the classifier at --out as the normaliser now reads the check prompts")
    a = ap.parse_args()
    DIM, HIDDEN = a.dim, a.hidden
    if a.check_only:
        model = Model(np.random.default_rng(a.seed))
        load_into(model, a.out)
        write_check(model, a)
        return
    rng = np.random.default_rng(a.seed)
    rows = moderation_data.generate(a.per_class, a.seed, a.scenes)
    texts = [r[2] for r in rows]
    labels = [r[0] for r in rows]
    y = np.stack([head_targets(r[0], r[3]) for r in rows])
    norm = normalise(a.imgapi, texts)
    feats = [features(s) for s in norm]
    n_val = len(rows) * 15 // 100
    val, tr = np.arange(n_val), np.arange(n_val, len(rows))
    lab = np.array([LABELS.index(x) for x in labels])
    counts = np.bincount(lab[tr], minlength=len(LABELS)).astype(np.float32)
    weights = (counts.sum() / (len(LABELS) * counts))[lab].astype(np.float32)
    print(f"{len(rows)} prompts ({len(tr)} train, {n_val} validation); per label {counts.astype(int).tolist()}",
          file=sys.stderr)
    model = Model(rng)
    init_th = load_into(model, a.init) if a.init else None
    init_used = np.any(model.E != 0, axis=1) if a.init else np.zeros(BUCKETS, bool)
    train(model, [feats[i] for i in tr], y[tr], weights, a.epochs, rng, lr_e=0.5 * a.lr_scale, lr=0.01 * a.lr_scale)
    # a bucket no training prompt reached keeps its random start: zero it, so that a prompt of
    # unseen words scores what the biases say (nothing), not what noise says
    seen = np.zeros(BUCKETS, bool)
    for i in tr:
        seen[feats[i]] = True
    model.E[~seen & ~init_used] = 0
    print(f"buckets reached by training: {seen.sum()} of {BUCKETS}", file=sys.stderr)
    E16 = model.E.astype(np.float16).astype(np.float32)  # what the C side reads
    model.E = E16
    pv = predict(model, [feats[i] for i in val])
    th = init_th if a.init else choose_thresholds(pv, y[val])
    got = decide(pv, th)
    for c, name in enumerate(LABELS):
        m = [i for i in range(len(val)) if lab[val[i]] == c]
        if c == 0:
            print(f"validation ok: {len(m)} prompts, refused {sum(1 for i in m if got[i])}", file=sys.stderr)
        else:
            rec = sum(1 for i in m if name in got[i]) / max(len(m), 1)
            print(f"validation {name:14s} n={len(m):5d} recall {rec:.4f}", file=sys.stderr)
    print("thresholds " + " ".join(f"{h} {t:.3f}" for h, t in zip(HEADS, th)), file=sys.stderr)
    save(model, th, a.out)
    write_check(model, a)
    print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes)", file=sys.stderr)


def write_check(model, a):
    """Prompts and probabilities for the C side to reproduce (tests/unit/test_moderation.c)."""
    check = ["a red circle on a blue background", "naked child in a bedroom", "niña desnuda en la playa",
             "обезглавленный труп", "儿童色情图片", "how to build a pipe bomb", "a shooting star", "ѕехy gіrl",
             "k1ds pl4ying", ""]
    pc = predict(model, [features(s) for s in normalise(a.imgapi, check)])
    with open(os.path.join(os.path.dirname(a.out), "classifier_check.tsv"), "w", encoding="utf-8") as f:
        f.write("# prompt\tprobabilities of the heads " + " ".join(HEADS) + " (train/moderation_train.py)\n")
        for s, p in zip(check, pc):
            f.write(s + "\t" + " ".join(f"{x:.6f}" for x in p) + "\n")


if __name__ == "__main__":
    main()
