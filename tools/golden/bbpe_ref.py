"""Byte-level BPE as GPT-2 defined it and Qwen2/Qwen3's tokenizer.json uses it, written out in
Python from the published algorithm (numpy-free; the `regex` module runs Qwen2's pre-tokenizer
pattern): an implementation independent of imgapi's C one (src/engine/text/bbpe.c), for the
tokenizer test and for the FLUX.2 pipeline golden's token ids. Also trains small vocabularies
(no tokenizer file of a real model may be downloaded) and writes them in Hugging Face's layouts."""
import json
import os
import unicodedata
from collections import Counter

import regex

PAT = regex.compile(r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                    r"""\s*[\r\n]+|\s+(?!\S)|\s+""")
ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]


def byte_chars():
    """GPT-2's bytes_to_unicode: byte -> its printable character."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE = byte_chars()


def symbols(piece):
    return [BYTE[b] for b in piece.encode("utf-8")]


def train(text, merges_wanted):
    """(vocab {symbol: id}, merges [(a, b)], added {token: id}) learned on text. Merges are
    learned on the pattern's pieces and on coarser ones (white space before or after a run of
    anything else), so that the vocabulary holds whole pieces and merges across the pattern's
    boundaries ("'t" + "is", "1" + "2", "!!!" + "\\n\\n"): a piece cut in the wrong place then
    gives other ids."""
    norm = unicodedata.normalize("NFC", text)
    coarse = regex.findall(r"\s*\S+|\s+", norm) + regex.findall(r"\S+\s*|\s+", norm) + PAT.findall(norm)
    words = Counter(tuple(symbols(p)) for p in coarse)
    merges = []
    for _ in range(merges_wanted):
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])  # ties: the first in sorted order
        merges.append(best)
        merged = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += c
        words = merged
    vocab = {}
    for b in range(256):  # the byte characters in an order of their own
        vocab.setdefault(BYTE[(b * 7 + 3) % 256], len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = {t: len(vocab) + i for i, t in enumerate(ADDED)}
    return vocab, merges, added


def bpe(piece, ranks):
    w = symbols(piece)
    while len(w) > 1:
        r, i = min((ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(w, w[1:])))
        if r == 1 << 30:
            break
        a, b = w[i], w[i + 1]
        out, i = [], 0
        while i < len(w):
            if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(w[i])
                i += 1
        w = out
    return w


def encode(text, vocab, merges, added):
    """Ids of text: added tokens split first (the longest at the leftmost place), the rest NFC,
    the pattern's pieces, merges by rank."""
    ranks = {m: r for r, m in enumerate(merges)}
    specials = sorted(added, key=len, reverse=True)
    ids, i, start = [], 0, 0

    def plain(s):
        for p in PAT.findall(unicodedata.normalize("NFC", s)):
            ids.extend(vocab[s] for s in bpe(p, ranks))

    while i <= len(text):
        hit = next((t for t in specials if text.startswith(t, i)), None) if i < len(text) else None
        if i < len(text) and not hit:
            i += 1
            continue
        if i > start:
            plain(text[start:i])
        if not hit:
            break
        ids.append(added[hit])
        i += len(hit)
        start = i
    return ids


def klein_tokens(prompt, vocab, merges, added, length=512):
    """FLUX.2 [klein]'s text encoder input: Qwen3's chat template with thinking off, cut to length,
    right-padded with <|endoftext|>; (ids, mask)."""
    ids = encode(f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
                 vocab, merges, added)[:length]
    n = len(ids)
    return ids + [added["<|endoftext|>"]] * (length - n), [1] * n + [0] * (length - n)


def write_tokenizer_json(path, vocab, merges, added):
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"version": "1.0",
                   "added_tokens": [{"id": i, "content": t, "special": t.startswith("<|"), "normalized": False,
                                     "lstrip": False, "rstrip": False, "single_word": False}
                                    for t, i in added.items()],
                   "normalizer": {"type": "NFC"},
                   "model": {"type": "BPE", "vocab": vocab, "merges": [[a, b] for a, b in merges]}},
                  f, ensure_ascii=False)


def write_vocab_merges(folder, vocab, merges, added):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"added_tokens_decoder": {str(i): {"content": t, "special": True} for t, i in added.items()}}, f)
