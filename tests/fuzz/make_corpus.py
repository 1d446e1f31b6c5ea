#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into OUT/TARGET: safetensors files (valid and broken),
request bodies (valid, invalid, both route kinds), config files, prompts (the moderation
test corpus, obfuscations included; also the tokenizer's seeds, with the golden tokenizer cases
when ../shared/golden is there) and header value pairs (NUL-separated)."""
import json
import os
import struct
import sys


def st(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def gguf_seed():
    """GGUF: one Q8_0 tensor [1, 32] and one F16 [2], 32-byte aligned data."""
    head = b"GGUF" + struct.pack("<IQQ", 3, 2, 1) + struct.pack("<Q", 17) + b"general.alignment" + \
        struct.pack("<II", 4, 32) + struct.pack("<Q", 1) + b"w" + struct.pack("<IQQIQ", 2, 32, 1, 8, 0) + \
        struct.pack("<Q", 1) + b"b" + struct.pack("<IQIQ", 1, 2, 1, 64)
    head += bytes(-len(head) % 32)
    return head + struct.pack("<e", 0.5) + bytes(range(32)) + bytes(30) + struct.pack("<ee", 1.0, -2.0)


def main(root):
    out = os.path.join(root, "safetensors")
    os.makedirs(out, exist_ok=True)
    seeds = {
        "valid": st({"__metadata__": {"config": "{}"}, "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]}}, bytes(22)),
        "bf16": st({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, bytes(8)),
        "ints": st({"i": {"dtype": "I64", "shape": [1, 2], "data_offsets": [0, 16]}}, bytes(16)),
        "empty": st({}, b""),
        "scalar": st({"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}, bytes(4)),
        "overlap": st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
        "truncated": st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(4)),
        "pickle": b"\x80\x02}q\x00.",
        "gguf": gguf_seed(),
    }
    for name, blob in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)


    here = os.path.dirname(os.path.abspath(__file__))
    seed = {"prompt": "a red circle", "size": "1024x1024", "quality": "high", "moderation": "auto",
            "background": "opaque", "output_compression": 100, "output_format": "png"}
    bodies = [b"\x00" + json.dumps(seed).encode(), b"\x01" + json.dumps(dict(seed, model="m", n=2, user="u")).encode(),
              b"\x00" + json.dumps({"prompt": "x", "size": "2x2"}).encode(), b"\x01{\"prompt\": \"\\u00e9\", \"n\": 11}",
              b"\x00{\"prompt\": 5}", b"\x00[]", b"\x01{\"prompt\": \"x\", \"stream\": true, \"partial_images\": 2}",
              b"\x00" + json.dumps(dict(seed, prompt="a <lora:style:0.7> cat <lyco:b>", loras=[{"name": "x", "scale": -1}])).encode(),
              b"\x01{\"prompt\": \"<lora:a:1:2> <lora:\", \"loras\": [{\"name\": \"../a\"}, 3]}"]
    configs = [b"listen = 127.0.0.1:8080\nworkers = 2\n# comment\n",
               b"model.a.checkpoint = /x.safetensors\nmodel.a.tokenizer = /t\nmodel.a.guidance = 3.5\n",
               b"price.high.1024x1024 = 0.04\nrpm = 0\n", b"no equals sign\n", b"model..x = 1\n"]
    prompts = []
    with open(os.path.join(here, "..", "moderation", "corpus.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                prompts.append(line.rstrip("\n").split("\t")[-1].encode())
    texts = list(prompts)
    golden = os.path.join(here, "..", "..", "..", "shared", "golden", "tokenizer", "cases.json")
    if os.path.exists(golden):
        with open(golden, encoding="utf-8") as f:
            texts += [c["prompt"].encode() for c in json.load(f)["cases"]]
    headers = [b"key123\0Bearer abc", b"\0bearer   spaced", b"application/json; charset=utf-8\0localhost:8080",
               b"30\0[::1]:9000", b"99999999999999999999\0evil.com/x?y", b"\0Basic dXNlcjpwYXNz",
               b"idem-" + b"k" * 300 + b"\0h\r\nX: y"]
    for name, items in (("request", bodies), ("config", configs), ("moderation", prompts),
                        ("tokenizer", texts), ("bbpe", texts + [b"<|im_start|>hello\n\n<think></think>"]),
                        ("headers", headers)):
        d = os.path.join(root, name)
        os.makedirs(d, exist_ok=True)
        for i, blob in enumerate(items):
            with open(os.path.join(d, f"seed{i}"), "wb") as f:
                f.write(blob)


if __name__ == "__main__":
    main(sys.argv[1])
